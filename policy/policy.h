/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The drs policy: what the operator asks drs to do, as plain structs.
 *
 * Pure: parsed from bytes (policy_parse_string), never logs, never opens files, never reads
 * the clock. Every field below has a documented default (policy_new() fills them in); a parsed
 * policy is the defaults overlaid with the files, in order (drop-ins in lexical order). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cluster-wide and per-VM automation. Ordered: a lower value is more restrictive. */
typedef enum AutomationLevel {
        AUTOMATION_DISABLED = 0, /* per-VM only: drs never moves this VM, not even for maintenance */
        AUTOMATION_MANUAL,       /* moves are only recommended; `drsctl apply` runs them */
        AUTOMATION_PARTIAL,      /* only mandatory moves (rules, maintenance, DPM evacuations) */
        AUTOMATION_FULL,         /* everything, balancing included */
        _AUTOMATION_MAX,
        _AUTOMATION_INVALID = -1,
} AutomationLevel;

const char *automation_level_to_string(AutomationLevel l);
AutomationLevel automation_level_from_string(const char *s);

/* A host's power draw by CPU utilization: watts at 0, 10, …, 100 % (a SPECpower-style curve),
 * linear in between; {idle_watts, max_watts} is the straight line between the two. */
#define POWER_MODEL_POINTS 11
typedef struct PowerModel {
        bool known; /* false: no model (the solver then ignores power) */
        double watts[POWER_MODEL_POINTS];
} PowerModel;

/* Watts at utilization (clamped to 0..1); 0 when the model is unknown. */
double power_model_watts(const PowerModel *m, double utilization);

typedef struct BalancePolicy {
        bool enabled;         /* default true */
        int aggressiveness;   /* 1..5, default 3; see policy_imbalance_threshold() */
        double weight_cpu;    /* >= 0, default 1.0 */
        double weight_memory; /* >= 0, default 1.0; weights need not sum to 1 */
        double min_gain;      /* minimum gain of a balance move, per up host: a move must cut the weighted
                               * imbalance by at least min_gain / (number of up hosts); default 0.01 */
        uint64_t cooldown_s;  /* a VM moved less than this ago is not moved for balance; default 3600 */
        unsigned max_moves_per_pass; /* 1..10000, default 50 */
        uint64_t interval_s;         /* pass interval, default 300 */
        /* A host whose CPU demand is above this share of its capacity is relieved by balance
         * whatever the cluster's imbalance (and DPM powers a host on when no powered host has
         * room for the excess); 0.1..1, default 1.0 (demand above capacity) */
        double overload;
} BalancePolicy;

typedef struct LimitsPolicy {
        unsigned migrations_out_per_host; /* default 1 */
        unsigned migrations_in_per_host;  /* default 1 */
        unsigned migrations_per_cluster;  /* default 8 */
        uint64_t memory_reserve_mib;      /* per host, kept free for the host itself; default 1024 */
        double memory_overcommit;         /* configured VM memory <= host memory * this - reserve; 1.0..4.0,
                                             default 1.0 */
        double vcpu_per_core;             /* 0 = no cap; else vCPUs on a host <= cpus * this */
} LimitsPolicy;

typedef struct AutomationOverride {
        char *pattern;         /* owned; VM name or fnmatch() glob */
        AutomationLevel level; /* AUTOMATION_MANUAL or AUTOMATION_DISABLED (or PARTIAL/FULL) */
} AutomationOverride;

typedef struct AutomationWindow {
        uint8_t days;          /* bit 0 = Monday … bit 6 = Sunday */
        unsigned start_min;    /* minutes after local midnight, 0..1439 */
        unsigned end_min;      /* exclusive; end < start wraps past midnight; 1..1440 */
        AutomationLevel level; /* the cluster level while inside the window */
} AutomationWindow;

typedef struct AutomationPolicy {
        AutomationLevel level;         /* default AUTOMATION_FULL; DISABLED is not allowed here */
        char *timezone;                /* owned; IANA name the windows are expressed in; default "UTC" */
        AutomationOverride *overrides; /* owned array; first match wins */
        size_t n_overrides;
        AutomationWindow *windows; /* owned array; first match wins */
        size_t n_windows;
} AutomationPolicy;

typedef enum GroupKind {
        GROUP_HOST,
        GROUP_VM,
} GroupKind;

typedef struct Group {
        char *name; /* owned; unique across both kinds */
        GroupKind kind;
        char **members; /* owned strv of names or fnmatch() globs; may be empty (members then
                         * come only from labels in the snapshot / host configuration) */
} Group;

typedef enum RuleType {
        RULE_KEEP_TOGETHER,     /* VMs of vm_group on one host */
        RULE_KEEP_APART,        /* VMs of vm_group on pairwise distinct hosts */
        RULE_MUST_RUN_ON,       /* VMs of vm_group only on hosts of host_group (always hard) */
        RULE_SHOULD_RUN_ON,     /* preference (always soft) */
        RULE_MUST_NOT_RUN_ON,   /* never on hosts of host_group (always hard) */
        RULE_SHOULD_NOT_RUN_ON, /* preference (always soft) */
        _RULE_TYPE_MAX,
        _RULE_TYPE_INVALID = -1,
} RuleType;

const char *rule_type_to_string(RuleType t);
RuleType rule_type_from_string(const char *s);

typedef struct Rule {
        char *name; /* owned; unique */
        RuleType type;
        char *vm_group;   /* owned; name of a GROUP_VM group */
        char *host_group; /* owned; name of a GROUP_HOST group; NULL for keep-together/apart */
        bool hard;        /* keep-*: default true; must-*: true; should-*: false */
        bool enabled;     /* default true */
        char *file; /* owned; where the rule was defined, for policy_validate()'s messages; may be NULL */
        unsigned line, column;
} Rule;

typedef struct PowerCommands {
        char *power_on;  /* owned; template with {host} {address} {mac} {bmc}; NULL = unset */
        char *power_off; /* owned; same */
} PowerCommands;

typedef struct DpmHostOverride {
        char *host; /* owned */
        PowerCommands commands;
} DpmHostOverride;

typedef struct DpmPolicy {
        bool enabled;            /* default false */
        double target_low;       /* fraction 0..1, default 0.45 */
        double target_high;      /* fraction 0..1, default 0.81; low < high */
        unsigned min_hosts_on;   /* default 1 */
        unsigned headroom_hosts; /* keep this many hosts' worth of spare capacity; default 1 */
        /* Cluster mode: a host is put in standby only if the votes of the hosts left powered,
         * less those of this many of them failing, still make votequorum's quorum; default 0 */
        unsigned tolerate_failures;
        /* Hysteresis (applied by the leader, not the solver): demand must stay above the band
         * this long before a host is powered on for it (default 300 s), below it this long
         * before a host is put in standby (default 1800 s). 0 = act in the first pass. */
        uint64_t power_on_delay_s;
        uint64_t standby_delay_s;
        /* Standby is judged on this percentile (fraction 0.5..1, default 0.95) of the cluster's
         * measured demand over the last standby_delay: a burst longer than the rest of the
         * window blocks it. Power-on (and how much capacity must stay on) is judged on each VM's
         * recent peak, as balance packs. */
        double standby_percentile;
        /* A powered-on host's libvirt must answer within this of the command's start, else the
         * host is power-on-failed; default 600 s (servers take minutes to POST and boot). */
        uint64_t power_on_timeout_s;
        PowerCommands commands; /* defaults for every host */
        DpmHostOverride *hosts; /* owned array */
        size_t n_hosts;
        char **exclude; /* owned strv of host names/globs never put in standby */
} DpmPolicy;

/* Compression of migration traffic to hosts outside the cluster. */
typedef enum MigrationCompression {
        COMPRESSION_NONE,
        COMPRESSION_XBZRLE, /* delta compression of re-sent pages */
        COMPRESSION_ZLIB,   /* with parallel connections (libvirt >= 9.1) */
        COMPRESSION_ZSTD,   /* same */
        _COMPRESSION_MAX,
        _COMPRESSION_INVALID = -1,
} MigrationCompression;

const char *migration_compression_to_string(MigrationCompression c);
MigrationCompression migration_compression_from_string(const char *s);

/* Encryption of migration traffic (QEMU's migration stream over TLS, VIR_MIGRATE_TLS). */
typedef enum MigrationTls {
        MIGRATION_TLS_AUTO,  /* TLS when both ends have migration TLS configured, plain otherwise */
        MIGRATION_TLS_TRUE,  /* required: a migration to or from a host without it is refused */
        MIGRATION_TLS_FALSE, /* plain */
        _MIGRATION_TLS_MAX,
        _MIGRATION_TLS_INVALID = -1,
} MigrationTls;

/* "auto", "true", "false" (from_string takes exactly these). */
const char *migration_tls_to_string(MigrationTls t);
MigrationTls migration_tls_from_string(const char *s);

/* Tunables of migrations to a libvirt host outside the cluster (drsctl migrate --to-uri): long
 * distances, where one TCP stream and uncompressed pages are too slow. */
typedef struct RemoteMigrationPolicy {
        unsigned parallel_connections;    /* 1..64, default 1 (= not parallel) */
        MigrationCompression compression; /* default none */
        uint64_t bandwidth_mib_s;         /* 0 = migration.bandwidth */
} RemoteMigrationPolicy;

typedef struct MigrationPolicy {
        uint64_t bandwidth_mib_s;  /* 0 = unlimited */
        uint64_t *max_downtime_ms; /* owned; schedule of steps, ascending; default {300, 1000, 3000} */
        size_t n_max_downtime_ms;
        bool auto_converge; /* default true */
        bool post_copy;     /* default false */
        MigrationTls tls;   /* default auto */
        uint64_t
                timeout_s_per_gib; /* default 120; a migration of M GiB is aborted after max(60, M*this) s */
        RemoteMigrationPolicy remote;
} MigrationPolicy;

/* VMs whose disks only their current host sees (local storage): a move copies them. */
typedef enum LocalDisks {
        LOCAL_DISKS_COPY,    /* may move for balance and DPM; the copy counts in the move's cost */
        LOCAL_DISKS_EXCLUDE, /* not moved for balance or DPM (mandatory moves still copy them) */
        _LOCAL_DISKS_MAX,
        _LOCAL_DISKS_INVALID = -1,
} LocalDisks;

const char *local_disks_to_string(LocalDisks l);
LocalDisks local_disks_from_string(const char *s);

typedef struct StoragePolicy {
        LocalDisks local_disks;        /* default LOCAL_DISKS_COPY */
        uint64_t copy_bandwidth_mib_s; /* what a disk copy is expected to reach; default 100 */
        bool remove_source; /* drs's own moves delete the source's copies afterwards; default false */
} StoragePolicy;

typedef struct Policy {
        BalancePolicy balance;
        LimitsPolicy limits;
        AutomationPolicy automation;
        Group *groups; /* owned array */
        size_t n_groups;
        Rule *rules; /* owned array */
        size_t n_rules;
        DpmPolicy dpm;
        MigrationPolicy migration;
        StoragePolicy storage;
} Policy;

/* Where a parse error is. line and column are 1-based; file is what the caller passed. */
typedef struct PolicyError {
        char *file; /* owned */
        unsigned line;
        unsigned column;
        char *message; /* owned; no trailing full stop, subjects quoted: "unknown key 'foo'…" */
} PolicyError;

void policy_error_clear(PolicyError *e);
/* "FILE:LINE:COLUMN: message" ("FILE: message" when line is 0), newly allocated. */
int policy_error_to_string(const PolicyError *e, char **ret);

/* A policy with every default set. */
int policy_new(Policy **ret);
Policy *policy_free(Policy *p);
int policy_copy(const Policy *p, Policy **ret);

/* Overlays the YAML document in buf onto *p (which must come from policy_new() or an earlier
 * overlay). On error returns -EINVAL (or -ENOMEM), fills *reterr (if not NULL) and leaves *p
 * exactly as it was. Later files replace scalar fields they name, append list entries
 * (groups, rules, overrides, windows, DPM hosts) and may not redefine a group or rule. */
int policy_parse_string(Policy *p, const char *filename, const char *buf, size_t len, PolicyError *reterr);

/* Cross-checks that need the whole policy (rules naming unknown groups, …). Run after the last
 * overlay; policy_load_files() does. */
int policy_validate(const Policy *p, PolicyError *reterr);

/* The imbalance (weighted standard deviation of utilization) above which balancing acts at
 * the given aggressiveness. Level 1 returns INFINITY (only mandatory moves). */
double policy_imbalance_threshold(int aggressiveness);

/* The effective cluster automation level at local weekday (0 = Monday) and minute of day. */
AutomationLevel policy_automation_at(const Policy *p, unsigned weekday, unsigned minute);

/* The automation level of one VM: its first matching override, else cluster_level. */
AutomationLevel policy_vm_automation(const Policy *p, const char *vm, AutomationLevel cluster_level);

/* Expands a power command template: {host} {address} {mac} {bmc} are replaced verbatim by the
 * given values (NULL = empty), "{{" and "}}" by literal braces. -EINVAL on an unknown or
 * unterminated placeholder (policy parsing refuses those already). */
int policy_expand_command(
        const char *template, const char *host, const char *address, const char *mac, const char *bmc,
        char **ret);

/* Serializes the effective policy as YAML (re-parseable) or JSON (json-c is allowed here only
 * in policy-print.c). Return a newly allocated string. */
int policy_to_yaml(const Policy *p, char **ret);
int policy_to_json(const Policy *p, char **ret);
