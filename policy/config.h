/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* drsd.yaml, the daemon's own configuration. Pure: bytes in, DrsConfig out (the file loader is
 * drs_config_load_file() in policy-load.h). Same YAML rules and error format as the policy. */

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

typedef enum DrsMode {
        DRS_MODE_STANDALONE, /* one drsd manages the listed hosts by libvirt URI */
        DRS_MODE_COROSYNC,   /* one drsd per host, coordinated over corosync CPG */
        _DRS_MODE_MAX,
        _DRS_MODE_INVALID = -1,
} DrsMode;

const char *drs_mode_to_string(DrsMode m);
DrsMode drs_mode_from_string(const char *s);

typedef struct DrsHostConfig {
        char *name;          /* owned; unique */
        char *uri;           /* owned; libvirt URI, e.g. qemu+tls://h01.example.com/system */
        char *migration_uri; /* owned; destination URI for migrations to this host; default = uri */
        char *address;       /* owned; NULL = unset; the {address} placeholder */
        char *mac;           /* owned; NULL = unset; the {mac} placeholder (xx:xx:xx:xx:xx:xx) */
        char *bmc;           /* owned; NULL = unset; the {bmc} placeholder */
        char **groups;       /* owned strv, never NULL: labels matched by policy host groups */
        PowerModel power;    /* unknown unless 'power:' is set: watts by CPU utilization (DPM) */
        char *power_reading; /* owned; NULL = none: a command template whose output gives the host's
                                measured watts (e.g. ipmitool … dcmi power reading) */
} DrsHostConfig;

typedef struct DrsConfig {
        DrsMode mode;                      /* default standalone */
        uint64_t interval_s;               /* collection interval; default 10, 1..3600 */
        uint64_t power_reading_interval_s; /* hosts' power_reading commands; default 60, 10..3600 */
        char *socket;                      /* owned; default /run/drsd/drsd.sock */
        char *admin_group;                 /* owned; NULL = root only */
        char *state_dir;                   /* owned; default /var/lib/drsd */
        char *migration_tls_dir;           /* owned; default /etc/pki/qemu: where every host keeps QEMU's
                                              migration TLS files (what drsd's TLS probe lists) */
        char *metrics_listen;              /* owned; NULL = metrics endpoint off; else "ADDRESS:PORT" */
        char *policy;                      /* owned; default /etc/drs/policy.yaml */
        char *policy_dir;                  /* owned; default /etc/drs/policy.d */
        char *host; /* owned; corosync mode: this drsd's host (NULL = the machine's short hostname) */
        DrsHostConfig
                *hosts; /* owned array; required and non-empty in both modes (corosync: every host of the
                           cluster; its uri is used by that host's own drsd only, default qemu:///system;
                           migration_uri, or uri, is required: other hosts' libvirtd dial it) */
        size_t n_hosts;
} DrsConfig;

int drs_config_new(DrsConfig **ret); /* the defaults, no hosts */
DrsConfig *drs_config_free(DrsConfig *c);
const DrsHostConfig *drs_config_find_host(const DrsConfig *c, const char *name);

/* Parses a whole drsd.yaml document over the defaults and checks it (mode-dependent
 * requirements included). On error returns -EINVAL (or -ENOMEM) and fills *reterr. */
int drs_config_parse_string(
        const char *filename, const char *buf, size_t len, DrsConfig **ret, PolicyError *reterr);
