/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drsd.yaml: the daemon configuration. Pure. */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "policy-internal.h"

#define CONFIG_MAX_HOSTS 10000
#define CONFIG_MAX_PATH 4096
#define CONFIG_MAX_SOCKET 107 /* sizeof(sun_path) - 1 */

static const char *const drs_mode_table[_DRS_MODE_MAX] = {
        [DRS_MODE_STANDALONE] = "standalone",
        [DRS_MODE_COROSYNC] = "corosync",
};

DEFINE_STRING_TABLE_LOOKUP(drs_mode, DrsMode, _DRS_MODE_MAX);

static void host_done(DrsHostConfig *h) {
        free(h->name);
        free(h->uri);
        free(h->migration_uri);
        free(h->address);
        free(h->mac);
        free(h->bmc);
        free(h->power_reading);
        strv_free(h->groups);
        *h = (DrsHostConfig){};
}

DrsConfig *drs_config_free(DrsConfig *c) {
        if (!c)
                return NULL;
        free(c->socket);
        free(c->admin_group);
        free(c->state_dir);
        free(c->migration_tls_dir);
        free(c->metrics_listen);
        free(c->policy);
        free(c->policy_dir);
        free(c->host);
        for (size_t i = 0; i < c->n_hosts; i++)
                host_done(&c->hosts[i]);
        free(c->hosts);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(DrsConfig *, drs_config_free);

int drs_config_new(DrsConfig **ret) {
        _cleanup_(drs_config_freep) DrsConfig *c = NULL;

        c = calloc(1, sizeof(DrsConfig));
        if (!c)
                return -ENOMEM;
        c->mode = DRS_MODE_STANDALONE;
        c->interval_s = 10;
        c->power_reading_interval_s = 60;
        c->socket = strdup("/run/drsd/drsd.sock");
        c->state_dir = strdup("/var/lib/drsd");
        c->migration_tls_dir = strdup("/etc/pki/qemu");
        c->policy = strdup("/etc/drs/policy.yaml");
        c->policy_dir = strdup("/etc/drs/policy.d");
        if (!c->socket || !c->state_dir || !c->migration_tls_dir || !c->policy || !c->policy_dir)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

const DrsHostConfig *drs_config_find_host(const DrsConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_hosts; i++)
                if (streq(c->hosts[i].name, name))
                        return &c->hosts[i];
        return NULL;
}

/* Replaces *field with the string value of n. */
static int set_string(YContext *c, const YNode *n, const char *what, size_t max, char **field) {
        char *s;
        int r = yget_string(c, n, what, max, &s);
        if (r < 0)
                return r;
        free(*field);
        *field = s;
        return 0;
}

/* Same, but null or "" unsets the field. */
static int set_optional_string(YContext *c, const YNode *n, const char *what, size_t max, char **field) {
        if (ynode_is_null(n) || (n->type == YNODE_SCALAR && n->length == 0)) {
                free(*field);
                *field = NULL;
                return 0;
        }
        return set_string(c, n, what, max, field);
}

static bool host_name_is_valid(const char *s) {
        size_t n = 0;
        if (!*s)
                return false;
        for (; *s; s++, n++)
                if (!(isalnum((unsigned char) *s) || strchr("_.-", *s)))
                        return false;
        return n <= 253;
}

static bool mac_is_valid(const char *s) {
        if (strlen(s) != 17)
                return false;
        for (size_t i = 0; i < 17; i++)
                if (i % 3 == 2 ? s[i] != ':' && s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/* ADDRESS:PORT with ADDRESS an IPv4 literal or a bracketed IPv6 literal (drsd binds it
 * without name resolution), PORT 1..65535. */
static bool listen_is_valid(const char *s) {
        const char *colon = strrchr(s, ':');
        unsigned long port = 0;
        char host[INET6_ADDRSTRLEN + 2];
        unsigned char addr[sizeof(struct in6_addr)];
        size_t n;

        if (!colon || !colon[1] || strlen(colon + 1) > 5)
                return false;
        for (const char *p = colon + 1; *p; p++) {
                if (!isdigit((unsigned char) *p))
                        return false;
                port = port * 10 + (unsigned long) (*p - '0');
        }
        if (port < 1 || port > 65535)
                return false;
        n = (size_t) (colon - s);
        if (n == 0 || n >= sizeof(host))
                return false;
        memcpy(host, s, n);
        host[n] = 0;
        if (host[0] == '[') {
                if (n < 3 || host[n - 1] != ']')
                        return false;
                host[n - 1] = 0;
                return inet_pton(AF_INET6, host + 1, addr) == 1;
        }
        return inet_pton(AF_INET, host, addr) == 1;
}

static int parse_host(YContext *c, const YNode *n, DrsConfig *cfg, DrsHostConfig *h) {
        static const char *const keys[] = {"name", "uri",    "migration_uri", "address",       "mac",
                                           "bmc",  "groups", "power",         "power_reading", NULL};
        const YNode *v;
        int r = ymap_check(c, n, "hosts", keys);
        if (r < 0)
                return r;
        v = ymap_get(n, "name");
        if (!v)
                return yerr(c, n, "missing key 'name' in 'hosts'");
        r = set_string(c, v, "hosts.name", 253, &h->name);
        if (r < 0)
                return r;
        if (!host_name_is_valid(h->name))
                return yerr(c, v, "invalid host name '%s' (expected letters, digits and _.-)", h->name);
        if (drs_config_find_host(cfg, h->name))
                return yerr(c, v, "host '%s' is listed more than once", h->name);
        v = ymap_get(n, "uri");
        if (v) {
                r = set_string(c, v, "hosts.uri", CONFIG_MAX_PATH, &h->uri);
                if (r < 0)
                        return r;
                if (!strstr(h->uri, ":/"))
                        return yerr(
                                c, v,
                                "invalid value for 'hosts.uri' (expected a libvirt URI such as qemu+tls://%s/system)",
                                h->name);
        } else if (cfg->mode == DRS_MODE_STANDALONE)
                return yerr(
                        c, n,
                        "missing key 'uri' for host '%s' (standalone mode connects to each host by URI)",
                        h->name);
        v = ymap_get(n, "migration_uri");
        if (v) {
                r = set_string(c, v, "hosts.migration_uri", CONFIG_MAX_PATH, &h->migration_uri);
                if (r < 0)
                        return r;
                if (!strstr(h->migration_uri, ":/"))
                        return yerr(
                                c, v, "invalid value for 'hosts.migration_uri' (expected a libvirt URI)");
        } else if (h->uri) {
                h->migration_uri = strdup(h->uri);
                if (!h->migration_uri)
                        return -ENOMEM;
        }
        v = ymap_get(n, "power");
        if (v) {
                r = yget_power_model(c, v, "hosts.power", &h->power);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "power_reading");
        if (v) {
                size_t off = 0, len = 0;
                r = set_string(c, v, "hosts.power_reading", POLICY_MAX_COMMAND, &h->power_reading);
                if (r < 0)
                        return r;
                if (policy_check_command(h->power_reading, &off, &len) < 0)
                        return yerr(
                                c, v,
                                "unknown or unterminated placeholder in 'hosts.power_reading' (expected {host}, {address}, {mac} or {bmc}; write {{ for a literal brace)");
        }
        v = ymap_get(n, "address");
        if (v) {
                r = set_string(c, v, "hosts.address", 253, &h->address);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "mac");
        if (v) {
                r = set_string(c, v, "hosts.mac", 17, &h->mac);
                if (r < 0)
                        return r;
                if (!mac_is_valid(h->mac))
                        return yerr(
                                c, v, "invalid value '%s' for 'hosts.mac' (expected xx:xx:xx:xx:xx:xx)",
                                h->mac);
        }
        v = ymap_get(n, "bmc");
        if (v) {
                r = set_string(c, v, "hosts.bmc", 253, &h->bmc);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "groups");
        if (v) {
                r = yget_strv(c, v, "hosts.groups", POLICY_MAX_GROUPS, POLICY_MAX_NAME, &h->groups);
                if (r < 0)
                        return r;
        } else {
                h->groups = calloc(1, sizeof(char *));
                if (!h->groups)
                        return -ENOMEM;
        }
        return 0;
}

/* power_models: {GROUP: MODEL, …}: a host without its own 'power' takes the model of the first
 * of its 'groups' that has one. A group no host carries is an error (a typo would otherwise
 * leave hosts without a model, silently). */
static int apply_power_models(YContext *c, const YNode *n, DrsConfig *cfg) {
        int r = yexpect(c, n, YNODE_MAPPING, "power_models");
        if (r < 0)
                return r;
        if (n->n_children / 2 > CONFIG_MAX_HOSTS)
                return yerr(c, n, "too many entries in 'power_models' (at most %d)", CONFIG_MAX_HOSTS);
        PowerModel *models = calloc(n->n_children / 2 + 1, sizeof(PowerModel));
        if (!models)
                return -ENOMEM;
        for (size_t i = 0; i + 1 < n->n_children; i += 2) {
                const YNode *k = n->children[i];
                bool used = false;
                r = yget_power_model(c, n->children[i + 1], "power_models", &models[i / 2]);
                if (r < 0)
                        goto done;
                for (size_t h = 0; h < cfg->n_hosts && !used; h++)
                        used = strv_contains(cfg->hosts[h].groups, k->value);
                if (!used) {
                        r = yerr(
                                c, k,
                                "'power_models' names group '%s', which no host in 'hosts' lists in its 'groups'",
                                k->value);
                        goto done;
                }
        }
        for (size_t h = 0; h < cfg->n_hosts; h++) {
                DrsHostConfig *hc = &cfg->hosts[h];
                for (char **g = hc->groups; !hc->power.known && g && *g; g++)
                        for (size_t i = 0; i + 1 < n->n_children; i += 2)
                                if (streq(n->children[i]->value, *g)) {
                                        hc->power = models[i / 2];
                                        break;
                                }
        }
        r = 0;
done:
        free(models);
        return r;
}

static int parse_config(YContext *c, const YNode *root, DrsConfig *cfg) {
        static const char *const keys[] = {
                "mode",           "interval",  "socket",
                "admin_group",    "state_dir", "migration_tls_dir",
                "metrics_listen", "policy",    "policy_dir",
                "hosts",          "host",      "power_reading_interval",
                "power_models",   NULL,
        };
        const YNode *v, *hosts;
        int r = ymap_check(c, root, "drsd", keys);
        if (r < 0)
                return r;

        v = ymap_get(root, "mode");
        if (v) {
                DrsMode m;
                r = yexpect(c, v, YNODE_SCALAR, "mode");
                if (r < 0)
                        return r;
                m = drs_mode_from_string(v->value);
                if (m < 0) {
                        char b[48];
                        return yerr(
                                c, v, "invalid value '%s' for 'mode' (expected standalone or corosync)",
                                ynode_shown(v, b));
                }
                cfg->mode = m;
        }
        v = ymap_get(root, "interval");
        if (v) {
                r = yget_duration_s(c, v, "interval", 1, 3600, &cfg->interval_s);
                if (r < 0)
                        return r;
        }
        v = ymap_get(root, "power_reading_interval");
        if (v) {
                r = yget_duration_s(
                        c, v, "power_reading_interval", 10, 3600, &cfg->power_reading_interval_s);
                if (r < 0)
                        return r;
        }
        v = ymap_get(root, "socket");
        if (v) {
                r = set_string(c, v, "socket", CONFIG_MAX_SOCKET, &cfg->socket);
                if (r < 0)
                        return r;
                if (cfg->socket[0] != '/')
                        return yerr(c, v, "invalid value for 'socket' (expected an absolute path)");
        }
        v = ymap_get(root, "admin_group");
        if (v) {
                r = set_optional_string(c, v, "admin_group", 32, &cfg->admin_group);
                if (r < 0)
                        return r;
        }
        v = ymap_get(root, "state_dir");
        if (v) {
                r = set_string(c, v, "state_dir", CONFIG_MAX_PATH, &cfg->state_dir);
                if (r < 0)
                        return r;
        }
        v = ymap_get(root, "migration_tls_dir");
        if (v) {
                r = set_string(c, v, "migration_tls_dir", CONFIG_MAX_PATH, &cfg->migration_tls_dir);
                if (r < 0)
                        return r;
                /* It goes into libvirt XML (the probe's pool): a plain absolute path. */
                if (cfg->migration_tls_dir[0] != '/' ||
                    cfg->migration_tls_dir[strspn(
                            cfg->migration_tls_dir,
                            "/._-+0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")] != '\0')
                        return yerr(
                                c, v,
                                "invalid value for 'migration_tls_dir' (expected an absolute path of letters, digits and /._-+)");
        }
        v = ymap_get(root, "metrics_listen");
        if (v) {
                r = set_optional_string(c, v, "metrics_listen", 256, &cfg->metrics_listen);
                if (r < 0)
                        return r;
                if (cfg->metrics_listen && !listen_is_valid(cfg->metrics_listen))
                        return yerr(
                                c, v,
                                "invalid value for 'metrics_listen' (expected ADDRESS:PORT with an IPv4 or [IPv6] literal, such as 127.0.0.1:9477 or [::1]:9477, or empty for off)");
        }
        v = ymap_get(root, "policy");
        if (v) {
                r = set_string(c, v, "policy", CONFIG_MAX_PATH, &cfg->policy);
                if (r < 0)
                        return r;
        }
        v = ymap_get(root, "policy_dir");
        if (v) {
                r = set_string(c, v, "policy_dir", CONFIG_MAX_PATH, &cfg->policy_dir);
                if (r < 0)
                        return r;
        }

        v = ymap_get(root, "host");
        if (v) {
                r = set_string(c, v, "host", 64, &cfg->host);
                if (r < 0)
                        return r;
                if (!host_name_is_valid(cfg->host))
                        return yerr(
                                c, v, "invalid host name '%s' (expected letters, digits and _.-)",
                                cfg->host);
        }

        hosts = ymap_get(root, "hosts");
        if (hosts) {
                r = yexpect(c, hosts, YNODE_SEQUENCE, "hosts");
                if (r < 0)
                        return r;
                if (hosts->n_children > CONFIG_MAX_HOSTS)
                        return yerr(
                                c, hosts->children[CONFIG_MAX_HOSTS],
                                "too many entries in 'hosts' (at most %d)", CONFIG_MAX_HOSTS);
                cfg->hosts = calloc(hosts->n_children ?: 1, sizeof(DrsHostConfig));
                if (!cfg->hosts)
                        return -ENOMEM;
                for (size_t i = 0; i < hosts->n_children; i++) {
                        DrsHostConfig h = {};
                        r = parse_host(c, hosts->children[i], cfg, &h);
                        if (r < 0) {
                                host_done(&h);
                                return r;
                        }
                        cfg->hosts[cfg->n_hosts++] = h;
                }
        }
        v = ymap_get(root, "power_models");
        if (v) {
                r = apply_power_models(c, v, cfg);
                if (r < 0)
                        return r;
        }
        if (cfg->mode == DRS_MODE_STANDALONE && cfg->n_hosts == 0)
                return yerr(
                        c, hosts ?: root,
                        "standalone mode needs a non-empty 'hosts' list (name and libvirt uri of each host)");
        if (cfg->mode == DRS_MODE_COROSYNC) {
                if (cfg->n_hosts == 0)
                        return yerr(
                                c, hosts ?: root,
                                "corosync mode needs a non-empty 'hosts' list (every host of the cluster, with the URI other hosts migrate to)");
                for (size_t i = 0; i < cfg->n_hosts; i++)
                        if (!cfg->hosts[i].migration_uri)
                                return yerr(
                                        c, hosts->children[i],
                                        "missing key 'migration_uri' (or 'uri') for host '%s' (the URI other hosts' libvirtd dial to migrate to it)",
                                        cfg->hosts[i].name);
                v = ymap_get(root, "host");
                if (cfg->host && !drs_config_find_host(cfg, cfg->host))
                        return yerr(c, v, "host '%s' is not in the 'hosts' list", cfg->host);
        } else if (cfg->host)
                return yerr(c, ymap_get(root, "host"), "'host' is only used in corosync mode");
        return 0;
}

int drs_config_parse_string(
        const char *filename, const char *buf, size_t len, DrsConfig **ret, PolicyError *reterr) {
        _cleanup_(drs_config_freep) DrsConfig *cfg = NULL;
        _cleanup_(ynode_freep) YNode *root = NULL;
        YContext c = {.file = filename ?: "<input>", .error = reterr};
        int r;

        r = ytree_parse(c.file, buf, len, &root, reterr);
        if (r < 0)
                return r;
        r = drs_config_new(&cfg);
        if (r < 0)
                return r;
        if (!root)
                return ytree_error(
                        reterr, c.file, 1, 1,
                        "empty configuration (standalone mode needs a non-empty 'hosts' list)");
        r = parse_config(&c, root, cfg);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(cfg);
        return 0;
}
