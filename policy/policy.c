/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Policy object: defaults, copy, free, cross-checks and the small queries the solver and
 * the agent ask it. Pure. The YAML language is in policy-parse.c, printing in policy-print.c. */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>

#include "policy-internal.h"

static const char *const automation_level_table[_AUTOMATION_MAX] = {
        [AUTOMATION_DISABLED] = "disabled",
        [AUTOMATION_MANUAL] = "manual",
        [AUTOMATION_PARTIAL] = "partial",
        [AUTOMATION_FULL] = "full",
};

DEFINE_STRING_TABLE_LOOKUP(automation_level, AutomationLevel, _AUTOMATION_MAX);

static const char *const rule_type_table[_RULE_TYPE_MAX] = {
        [RULE_KEEP_TOGETHER] = "keep-together",     [RULE_KEEP_APART] = "keep-apart",
        [RULE_MUST_RUN_ON] = "must-run-on",         [RULE_SHOULD_RUN_ON] = "should-run-on",
        [RULE_MUST_NOT_RUN_ON] = "must-not-run-on", [RULE_SHOULD_NOT_RUN_ON] = "should-not-run-on",
};

DEFINE_STRING_TABLE_LOOKUP(rule_type, RuleType, _RULE_TYPE_MAX);

static const char *const local_disks_table[_LOCAL_DISKS_MAX] = {
        [LOCAL_DISKS_COPY] = "copy",
        [LOCAL_DISKS_EXCLUDE] = "exclude",
};

DEFINE_STRING_TABLE_LOOKUP(local_disks, LocalDisks, _LOCAL_DISKS_MAX);

static const char *const migration_compression_table[_COMPRESSION_MAX] = {
        [COMPRESSION_NONE] = "none",
        [COMPRESSION_XBZRLE] = "xbzrle",
        [COMPRESSION_ZLIB] = "zlib",
        [COMPRESSION_ZSTD] = "zstd",
};

DEFINE_STRING_TABLE_LOOKUP(migration_compression, MigrationCompression, _COMPRESSION_MAX);

static const char *const migration_tls_table[_MIGRATION_TLS_MAX] = {
        [MIGRATION_TLS_AUTO] = "auto",
        [MIGRATION_TLS_TRUE] = "true",
        [MIGRATION_TLS_FALSE] = "false",
};

DEFINE_STRING_TABLE_LOOKUP(migration_tls, MigrationTls, _MIGRATION_TLS_MAX);

int policy_error_to_string(const PolicyError *e, char **ret) {
        char *s;
        int r;

        if (e->line > 0)
                r = asprintf(
                        &s, "%s:%u:%u: %s", e->file ?: "<input>", e->line, e->column, e->message ?: "error");
        else
                r = asprintf(&s, "%s: %s", e->file ?: "<input>", e->message ?: "error");
        if (r < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* ---- lifecycle ---- */

static void power_commands_done(PowerCommands *c) {
        free(c->power_on);
        free(c->power_off);
        *c = (PowerCommands){};
}

void policy_done(Policy *p) {
        if (!p)
                return;
        free(p->automation.timezone);
        for (size_t i = 0; i < p->automation.n_overrides; i++)
                free(p->automation.overrides[i].pattern);
        free(p->automation.overrides);
        free(p->automation.windows);
        for (size_t i = 0; i < p->n_groups; i++) {
                free(p->groups[i].name);
                strv_free(p->groups[i].members);
        }
        free(p->groups);
        for (size_t i = 0; i < p->n_rules; i++) {
                free(p->rules[i].name);
                free(p->rules[i].vm_group);
                free(p->rules[i].host_group);
                free(p->rules[i].file);
        }
        free(p->rules);
        power_commands_done(&p->dpm.commands);
        for (size_t i = 0; i < p->dpm.n_hosts; i++) {
                free(p->dpm.hosts[i].host);
                power_commands_done(&p->dpm.hosts[i].commands);
        }
        free(p->dpm.hosts);
        strv_free(p->dpm.exclude);
        free(p->migration.max_downtime_ms);
        *p = (Policy){};
}

Policy *policy_free(Policy *p) {
        policy_done(p);
        free(p);
        return NULL;
}

int policy_new(Policy **ret) {
        _cleanup_(policy_freep) Policy *p = NULL;
        static const uint64_t downtime[] = {300, 1000, 3000};

        p = calloc(1, sizeof(Policy));
        if (!p)
                return -ENOMEM;
        p->balance = (BalancePolicy){
                .enabled = true,
                .aggressiveness = 3,
                .weight_cpu = 1.0,
                .weight_memory = 1.0,
                .min_gain = 0.01,
                .cooldown_s = 3600,
                .max_moves_per_pass = 50,
                .interval_s = 300,
                .overload = 1.0,
        };
        p->limits = (LimitsPolicy){
                .migrations_out_per_host = 1,
                .migrations_in_per_host = 1,
                .migrations_per_cluster = 8,
                .memory_reserve_mib = 1024,
                .memory_overcommit = 1.0,
                .vcpu_per_core = 0,
        };
        p->automation.level = AUTOMATION_FULL;
        p->automation.timezone = strdup("UTC");
        if (!p->automation.timezone)
                return -ENOMEM;
        p->dpm = (DpmPolicy){
                .enabled = false,
                .target_low = 0.45,
                .target_high = 0.81,
                .min_hosts_on = 1,
                .headroom_hosts = 1,
                .power_on_delay_s = 300,
                .standby_delay_s = 1800,
                .standby_percentile = 0.95,
                .power_on_timeout_s = 600,
        };
        p->dpm.exclude = calloc(1, sizeof(char *));
        if (!p->dpm.exclude)
                return -ENOMEM;
        p->migration = (MigrationPolicy){
                .bandwidth_mib_s = 0,
                .auto_converge = true,
                .post_copy = false,
                .tls = MIGRATION_TLS_AUTO,
                .timeout_s_per_gib = 120,
                .remote = {.parallel_connections = 1, .compression = COMPRESSION_NONE},
        };
        p->storage = (StoragePolicy){
                .local_disks = LOCAL_DISKS_COPY,
                .copy_bandwidth_mib_s = 100,
        };
        p->migration.max_downtime_ms = calloc(ELEMENTSOF(downtime), sizeof(uint64_t));
        if (!p->migration.max_downtime_ms)
                return -ENOMEM;
        memcpy(p->migration.max_downtime_ms, downtime, sizeof(downtime));
        p->migration.n_max_downtime_ms = ELEMENTSOF(downtime);

        *ret = TAKE_PTR(p);
        return 0;
}

static int strdup_ptr(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int power_commands_copy(const PowerCommands *s, PowerCommands *d) {
        if (strdup_ptr(s->power_on, &d->power_on) < 0 || strdup_ptr(s->power_off, &d->power_off) < 0)
                return -ENOMEM;
        return 0;
}

/* Allocates n elements (at least one, so that a copy never has a NULL array by accident). */
static void *alloc_array(size_t n, size_t size) {
        return calloc(n ?: 1, size);
}

int policy_copy(const Policy *p, Policy **ret) {
        _cleanup_(policy_freep) Policy *c = NULL;

        c = calloc(1, sizeof(Policy));
        if (!c)
                return -ENOMEM;
        c->balance = p->balance;
        c->limits = p->limits;
        c->storage = p->storage;
        c->automation.level = p->automation.level;
        if (strdup_ptr(p->automation.timezone, &c->automation.timezone) < 0)
                return -ENOMEM;

        c->automation.overrides = alloc_array(p->automation.n_overrides, sizeof(AutomationOverride));
        if (!c->automation.overrides)
                return -ENOMEM;
        for (size_t i = 0; i < p->automation.n_overrides; i++) {
                c->automation.overrides[i].level = p->automation.overrides[i].level;
                c->automation.n_overrides++;
                if (strdup_ptr(p->automation.overrides[i].pattern, &c->automation.overrides[i].pattern) < 0)
                        return -ENOMEM;
        }
        c->automation.windows = alloc_array(p->automation.n_windows, sizeof(AutomationWindow));
        if (!c->automation.windows)
                return -ENOMEM;
        if (p->automation.n_windows > 0)
                memcpy(c->automation.windows, p->automation.windows,
                       p->automation.n_windows * sizeof(AutomationWindow));
        c->automation.n_windows = p->automation.n_windows;

        c->groups = alloc_array(p->n_groups, sizeof(Group));
        if (!c->groups)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_groups; i++) {
                Group *g = &c->groups[i];
                g->kind = p->groups[i].kind;
                c->n_groups++;
                if (strdup_ptr(p->groups[i].name, &g->name) < 0 ||
                    strv_copy(p->groups[i].members, &g->members) < 0)
                        return -ENOMEM;
        }

        c->rules = alloc_array(p->n_rules, sizeof(Rule));
        if (!c->rules)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_rules; i++) {
                const Rule *s = &p->rules[i];
                Rule *d = &c->rules[i];
                *d = (Rule){
                        .type = s->type,
                        .hard = s->hard,
                        .enabled = s->enabled,
                        .line = s->line,
                        .column = s->column,
                };
                c->n_rules++;
                if (strdup_ptr(s->name, &d->name) < 0 || strdup_ptr(s->vm_group, &d->vm_group) < 0 ||
                    strdup_ptr(s->host_group, &d->host_group) < 0 || strdup_ptr(s->file, &d->file) < 0)
                        return -ENOMEM;
        }

        c->dpm.enabled = p->dpm.enabled;
        c->dpm.target_low = p->dpm.target_low;
        c->dpm.target_high = p->dpm.target_high;
        c->dpm.min_hosts_on = p->dpm.min_hosts_on;
        c->dpm.headroom_hosts = p->dpm.headroom_hosts;
        c->dpm.tolerate_failures = p->dpm.tolerate_failures;
        c->dpm.power_on_delay_s = p->dpm.power_on_delay_s;
        c->dpm.standby_delay_s = p->dpm.standby_delay_s;
        c->dpm.standby_percentile = p->dpm.standby_percentile;
        c->dpm.power_on_timeout_s = p->dpm.power_on_timeout_s;
        if (power_commands_copy(&p->dpm.commands, &c->dpm.commands) < 0)
                return -ENOMEM;
        c->dpm.hosts = alloc_array(p->dpm.n_hosts, sizeof(DpmHostOverride));
        if (!c->dpm.hosts)
                return -ENOMEM;
        for (size_t i = 0; i < p->dpm.n_hosts; i++) {
                c->dpm.n_hosts++;
                if (strdup_ptr(p->dpm.hosts[i].host, &c->dpm.hosts[i].host) < 0 ||
                    power_commands_copy(&p->dpm.hosts[i].commands, &c->dpm.hosts[i].commands) < 0)
                        return -ENOMEM;
        }
        if (p->dpm.exclude) {
                if (strv_copy(p->dpm.exclude, &c->dpm.exclude) < 0)
                        return -ENOMEM;
        } else {
                c->dpm.exclude = calloc(1, sizeof(char *));
                if (!c->dpm.exclude)
                        return -ENOMEM;
        }

        c->migration = p->migration;
        c->migration.max_downtime_ms = alloc_array(p->migration.n_max_downtime_ms, sizeof(uint64_t));
        if (!c->migration.max_downtime_ms) {
                c->migration.n_max_downtime_ms = 0;
                return -ENOMEM;
        }
        if (p->migration.n_max_downtime_ms > 0)
                memcpy(c->migration.max_downtime_ms, p->migration.max_downtime_ms,
                       p->migration.n_max_downtime_ms * sizeof(uint64_t));

        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- queries ---- */

double power_model_watts(const PowerModel *m, double utilization) {
        if (!m || !m->known)
                return 0;
        double x = fmin(fmax(utilization, 0), 1) * (POWER_MODEL_POINTS - 1);
        size_t i = (size_t) x;
        if (i >= POWER_MODEL_POINTS - 1)
                return m->watts[POWER_MODEL_POINTS - 1];
        return m->watts[i] + (m->watts[i + 1] - m->watts[i]) * (x - (double) i);
}

double policy_imbalance_threshold(int aggressiveness) {
        /* Weighted standard deviation of utilization above which a balancing pass acts:
         *   1: conservative   INFINITY (only mandatory moves: rules, maintenance, DPM)
         *   2:                0.20
         *   3: default        0.10
         *   4:                0.05
         *   5: aggressive     0.02 */
        static const double table[] = {INFINITY, 0.20, 0.10, 0.05, 0.02};

        if (aggressiveness < 1)
                aggressiveness = 1;
        if (aggressiveness > 5)
                aggressiveness = 5;
        return table[aggressiveness - 1];
}

AutomationLevel policy_automation_at(const Policy *p, unsigned weekday, unsigned minute) {
        weekday %= 7;
        minute %= 1440;
        for (size_t i = 0; i < p->automation.n_windows; i++) {
                const AutomationWindow *w = &p->automation.windows[i];
                unsigned yesterday = (weekday + 6) % 7;

                if (w->start_min < w->end_min) {
                        if ((w->days & (1u << weekday)) && minute >= w->start_min && minute < w->end_min)
                                return w->level;
                } else {
                        /* Wraps past midnight: the part before midnight belongs to the day it
                         * starts on, the part after to the next day. */
                        if ((w->days & (1u << weekday)) && minute >= w->start_min)
                                return w->level;
                        if ((w->days & (1u << yesterday)) && minute < w->end_min)
                                return w->level;
                }
        }
        return p->automation.level;
}

AutomationLevel policy_vm_automation(const Policy *p, const char *vm, AutomationLevel cluster_level) {
        for (size_t i = 0; i < p->automation.n_overrides; i++)
                if (fnmatch(p->automation.overrides[i].pattern, vm, 0) == 0)
                        return p->automation.overrides[i].level;
        return cluster_level;
}

const Group *policy_lookup_group(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (streq(p->groups[i].name, name))
                        return &p->groups[i];
        return NULL;
}

bool policy_name_is_valid(const char *s) {
        size_t n = 0;

        if (!s || !*s)
                return false;
        for (; *s; s++, n++)
                if (!(isalnum((unsigned char) *s) || strchr("_.:-", *s)))
                        return false;
        return n <= POLICY_MAX_NAME;
}

/* ---- power command templates ---- */

static const char *const placeholders[] = {"host", "address", "mac", "bmc"};

static int placeholder_index(const char *s, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(placeholders); i++)
                if (strlen(placeholders[i]) == len && strncmp(s, placeholders[i], len) == 0)
                        return (int) i;
        return -1;
}

int policy_check_command(const char *t, size_t *ret_bad_offset, size_t *ret_bad_length) {
        for (size_t i = 0; t[i]; i++) {
                const char *close;

                if (t[i] == '{' && t[i + 1] == '{') {
                        i++;
                        continue;
                }
                if (t[i] != '{')
                        continue;
                close = strchr(t + i + 1, '}');
                if (!close || placeholder_index(t + i + 1, (size_t) (close - t - i - 1)) < 0) {
                        size_t len = close ? (size_t) (close - t - i) + 1 : strlen(t + i);
                        if (ret_bad_offset)
                                *ret_bad_offset = i;
                        if (ret_bad_length)
                                *ret_bad_length = len;
                        return -EINVAL;
                }
                i = (size_t) (close - t);
        }
        return 0;
}

int policy_expand_command(
        const char *template, const char *host, const char *address, const char *mac, const char *bmc,
        char **ret) {
        const char *values[] = {host, address, mac, bmc};
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (policy_check_command(template, NULL, NULL) < 0)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (const char *s = template; *s; s++) {
                if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
                        fputc(*s, f);
                        s++;
                } else if (*s == '{') {
                        const char *close = strchr(s, '}');
                        int k = placeholder_index(s + 1, (size_t) (close - s - 1));
                        fputs(values[k] ?: "", f);
                        s = close;
                } else
                        fputc(*s, f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- cross-checks ---- */

_printf_(3, 4) static int rule_error(PolicyError *e, const Rule *r, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return ytree_error(e, r->file ?: "<policy>", r->line, r->column, "%s", m);
}

int policy_validate(const Policy *p, PolicyError *reterr) {
        for (size_t i = 0; i < p->n_groups; i++)
                for (size_t j = 0; j < i; j++)
                        if (streq(p->groups[i].name, p->groups[j].name))
                                return ytree_error(
                                        reterr, "<policy>", 0, 0, "group '%s' is defined more than once",
                                        p->groups[i].name);
        for (size_t i = 0; i < p->n_rules; i++) {
                const Rule *r = &p->rules[i];
                const Group *g;

                for (size_t j = 0; j < i; j++)
                        if (streq(p->rules[j].name, r->name))
                                return rule_error(reterr, r, "rule '%s' is defined more than once", r->name);
                g = policy_lookup_group(p, r->vm_group);
                if (!g)
                        return rule_error(
                                reterr, r, "rule '%s' names unknown VM group '%s'", r->name, r->vm_group);
                if (g->kind != GROUP_VM)
                        return rule_error(
                                reterr, r, "rule '%s' names '%s' in 'vms', but it is a host group", r->name,
                                r->vm_group);
                if (r->type == RULE_KEEP_TOGETHER || r->type == RULE_KEEP_APART) {
                        if (r->host_group)
                                return rule_error(
                                        reterr, r, "rule '%s' of type '%s' takes no host group", r->name,
                                        rule_type_to_string(r->type));
                        continue;
                }
                if (!r->host_group)
                        return rule_error(
                                reterr, r, "rule '%s' of type '%s' needs a host group", r->name,
                                rule_type_to_string(r->type));
                g = policy_lookup_group(p, r->host_group);
                if (!g)
                        return rule_error(
                                reterr, r, "rule '%s' names unknown host group '%s'", r->name,
                                r->host_group);
                if (g->kind != GROUP_HOST)
                        return rule_error(
                                reterr, r, "rule '%s' names '%s' in 'hosts', but it is a VM group", r->name,
                                r->host_group);
        }
        if (!(p->balance.aggressiveness >= 1 && p->balance.aggressiveness <= 5))
                return ytree_error(reterr, "<policy>", 0, 0, "'balance.aggressiveness' must be from 1 to 5");
        if (p->balance.weight_cpu < 0 || p->balance.weight_memory < 0 ||
            p->balance.weight_cpu + p->balance.weight_memory <= 0)
                return ytree_error(
                        reterr, "<policy>", 0, 0,
                        "'balance.weights' must be non-negative and not both zero");
        if (!(p->dpm.target_low < p->dpm.target_high))
                return ytree_error(
                        reterr, "<policy>", 0, 0, "'dpm.target_utilization.low' must be below 'high'");
        if (p->automation.level == AUTOMATION_DISABLED)
                return ytree_error(
                        reterr, "<policy>", 0, 0, "'automation.level' may not be 'disabled' (use 'manual')");
        for (size_t i = 1; i < p->migration.n_max_downtime_ms; i++)
                if (p->migration.max_downtime_ms[i] <= p->migration.max_downtime_ms[i - 1])
                        return ytree_error(
                                reterr, "<policy>", 0, 0, "'migration.max_downtime' must be ascending");
        return 0;
}
