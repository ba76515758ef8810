/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scenario files: YAML in (policy/yaml-tree.h, errors as FILE:LINE:COLUMN), Scenario out. */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "policy-load.h"
#include "sim.h"
#include "yaml-tree.h"

#define SIM_MAX_NAME 64
#define SIM_MAX_COUNT 100000
#define SIM_MAX_LABELS 100

static const char *const sim_pattern_table[_SIM_PATTERN_MAX] = {
        [SIM_PATTERN_STEADY] = "steady",
        [SIM_PATTERN_DIURNAL] = "diurnal",
        [SIM_PATTERN_BURSTY] = "bursty",
        [SIM_PATTERN_GROWING] = "growing",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(sim_pattern, SimPattern, _SIM_PATTERN_MAX)
DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(sim_pattern, SimPattern, _SIM_PATTERN_MAX)

Scenario *scenario_free(Scenario *s) {
        if (!s)
                return NULL;
        free(s->file);
        free(s->name);
        free(s->description);
        policy_free(s->policy);
        for (size_t i = 0; i < s->n_hosts; i++) {
                free(s->hosts[i].name);
                strv_free(s->hosts[i].groups);
        }
        free(s->hosts);
        for (size_t i = 0; i < s->n_vms; i++) {
                free(s->vms[i].name);
                free(s->vms[i].host);
                strv_free(s->vms[i].groups);
        }
        free(s->vms);
        for (size_t i = 0; i < s->n_trace; i++)
                free(s->trace[i].vm);
        free(s->trace);
        for (size_t i = 0; i < s->n_events; i++)
                free(s->events[i].host);
        free(s->events);
        free(s);
        return NULL;
}

static void expect_init(SimExpect *e) {
        *e = (SimExpect){
                .max_migrations = -1,
                .max_moved_twice_within_cooldown = -1,
                .max_returns = -1,
                .max_idle_balance_moves = -1,
                .min_migrations = -1,
                .max_memory_utilization = -1,
                .max_cpu_utilization = -1,
                .max_evacuation_share = -1,
                .min_dpm_savings = -1,
                .max_final_cpu_imbalance = -1,
                .max_maintenance_s = -1,
                .max_power_actions = -1,
                .min_power_ons = -1,
                .min_passes_without_quorum = -1,
                .max_passes_without_quorum = -1,
        };
}

int scenario_new(Scenario **ret) {
        Scenario *s = calloc(1, sizeof(Scenario));
        int r;

        if (!s)
                return -ENOMEM;
        s->seed = 1;
        s->duration_s = 24 * 3600;
        s->interval_s = 10;
        s->link_mib_s = 1170;
        s->setup_ms = 2000;
        s->power_off_s = 30;
        s->power_on_s = 5;
        s->boot_s = 90;
        expect_init(&s->expect);
        r = policy_new(&s->policy);
        if (r < 0) {
                scenario_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int get_labels(YContext *c, const YNode *map, const char *what, char ***ret) {
        const YNode *v = ymap_get(map, "groups");
        if (v)
                return yget_strv(c, v, what, SIM_MAX_LABELS, SIM_MAX_NAME, ret);
        *ret = calloc(1, sizeof(char *));
        return *ret ? 0 : -ENOMEM;
}

static bool name_ok(const char *s) {
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("_.-", *p)))
                        return false;
        return *s != '\0';
}

static int get_name(YContext *c, const YNode *n, const char *what, char **ret) {
        char *s = NULL;
        int r = yget_string(c, n, what, SIM_MAX_NAME, &s);
        if (r < 0)
                return r;
        if (!name_ok(s)) {
                free(s);
                return yerr(c, n, "'%s' must be letters, digits, '_', '.' or '-'", what);
        }
        *ret = s;
        return 0;
}

static int parse_host(YContext *c, const YNode *n, SimHostSpec *h) {
        static const char *const keys[] = {"name",   "count",   "cpus",  "memory_mib",
                                           "groups", "standby", "power", NULL};
        const YNode *v;
        int r = ymap_check(c, n, "hosts", keys);
        if (r < 0)
                return r;
        if (!ymap_get(n, "name") || !ymap_get(n, "cpus") || !ymap_get(n, "memory_mib"))
                return yerr(c, n, "missing key in 'hosts' (name, cpus and memory_mib are required)");
        h->count = 1;
        if ((r = get_name(c, ymap_get(n, "name"), "hosts.name", &h->name)) < 0 ||
            (r = yget_unsigned(c, ymap_get(n, "cpus"), "hosts.cpus", 1, 4096, &h->cpus)) < 0 ||
            (r = yget_size_mib(
                     c, ymap_get(n, "memory_mib"), "hosts.memory_mib", 1024, UINT64_C(1) << 30,
                     &h->memory_mib)) < 0 ||
            (r = get_labels(c, n, "hosts.groups", &h->groups)) < 0)
                return r;
        if ((v = ymap_get(n, "count")) &&
            (r = yget_unsigned(c, v, "hosts.count", 1, SIM_MAX_COUNT, &h->count)) < 0)
                return r;
        if ((v = ymap_get(n, "standby")) && (r = yget_bool(c, v, "hosts.standby", &h->standby)) < 0)
                return r;
        if ((v = ymap_get(n, "power")) && (r = yget_power_model(c, v, "hosts.power", &h->power)) < 0)
                return r;
        return 0;
}

static int parse_load(YContext *c, const YNode *n, const char *what, SimLoad *l) {
        static const char *const keys[] = {"pattern",           "base",  "peak", "peak_at", "noise",
                                           "burst_probability", "burst", NULL};
        const YNode *v;
        char buf[64];
        int r;

        /* A plain number: steady at that fraction. */
        if (n->type == YNODE_SCALAR) {
                r = yget_fraction(c, n, what, 0, 1, &l->base);
                if (r < 0)
                        return r;
                l->peak = l->base;
                l->pattern = SIM_PATTERN_STEADY;
                return 0;
        }
        (void) snprintf(buf, sizeof(buf), "%s", what);
        r = ymap_check(c, n, buf, keys);
        if (r < 0)
                return r;
        if ((v = ymap_get(n, "pattern"))) {
                _cleanup_free_ char *p = NULL;
                r = yget_string(c, v, "pattern", 32, &p);
                if (r < 0)
                        return r;
                l->pattern = sim_pattern_from_string(p);
                if (l->pattern < 0)
                        return yerr(
                                c, v,
                                "unknown pattern '%s' in '%s' (expected one of: steady, diurnal, bursty, growing)",
                                p, what);
        }
        if ((v = ymap_get(n, "base")) && (r = yget_fraction(c, v, "base", 0, 1, &l->base)) < 0)
                return r;
        l->peak = l->base;
        if ((v = ymap_get(n, "peak")) && (r = yget_fraction(c, v, "peak", 0, 1, &l->peak)) < 0)
                return r;
        if ((v = ymap_get(n, "noise")) && (r = yget_fraction(c, v, "noise", 0, 1, &l->noise)) < 0)
                return r;
        if ((v = ymap_get(n, "burst_probability")) &&
            (r = yget_fraction(c, v, "burst_probability", 0, 1, &l->burst_probability)) < 0)
                return r;
        if ((v = ymap_get(n, "burst")) &&
            (r = yget_duration_s(c, v, "burst", 10, 24 * 3600, &l->burst_s)) < 0)
                return r;
        if ((v = ymap_get(n, "peak_at"))) {
                _cleanup_free_ char *t = NULL;
                unsigned hh, mm;
                char end;
                r = yget_string(c, v, "peak_at", 16, &t);
                if (r < 0)
                        return r;
                if (sscanf(t, "%u:%u%c", &hh, &mm, &end) != 2 || hh > 23 || mm > 59)
                        return yerr(c, v, "'peak_at' must be a time of day HH:MM, not '%s'", t);
                l->peak_minute = hh * 60 + mm;
        }
        return 0;
}

static void load_init(SimLoad *l, double base) {
        *l = (SimLoad){
                .pattern = SIM_PATTERN_STEADY,
                .base = base,
                .peak = base,
                .peak_minute = 14 * 60,
                .noise = 0.05,
                .burst_probability = 0.1,
                .burst_s = 600,
        };
}

static int parse_vm(YContext *c, const YNode *n, SimVmSpec *vm) {
        static const char *const keys[] = {"name", "count",  "host",        "vcpus",  "memory_mib",
                                           "cpu",  "memory", "dirty_mib_s", "groups", NULL};
        const YNode *v;
        int r = ymap_check(c, n, "vms", keys);
        if (r < 0)
                return r;
        if (!ymap_get(n, "name") || !ymap_get(n, "vcpus") || !ymap_get(n, "memory_mib"))
                return yerr(c, n, "missing key in 'vms' (name, vcpus and memory_mib are required)");
        vm->count = 1;
        vm->dirty_mib_s = 20;
        load_init(&vm->cpu, 0.3);
        load_init(&vm->memory, 0.5);
        if ((r = get_name(c, ymap_get(n, "name"), "vms.name", &vm->name)) < 0 ||
            (r = yget_unsigned(c, ymap_get(n, "vcpus"), "vms.vcpus", 1, 4096, &vm->vcpus)) < 0 ||
            (r = yget_size_mib(
                     c, ymap_get(n, "memory_mib"), "vms.memory_mib", 1, UINT64_C(1) << 30,
                     &vm->memory_mib)) < 0 ||
            (r = get_labels(c, n, "vms.groups", &vm->groups)) < 0)
                return r;
        if ((v = ymap_get(n, "count")) &&
            (r = yget_unsigned(c, v, "vms.count", 1, SIM_MAX_COUNT, &vm->count)) < 0)
                return r;
        if ((v = ymap_get(n, "host")) && (r = get_name(c, v, "vms.host", &vm->host)) < 0)
                return r;
        if ((v = ymap_get(n, "cpu")) && (r = parse_load(c, v, "vms.cpu", &vm->cpu)) < 0)
                return r;
        if ((v = ymap_get(n, "memory")) && (r = parse_load(c, v, "vms.memory", &vm->memory)) < 0)
                return r;
        if ((v = ymap_get(n, "dirty_mib_s")) &&
            (r = yget_double(c, v, "vms.dirty_mib_s", 0, 100000, &vm->dirty_mib_s)) < 0)
                return r;
        return 0;
}

/* "HH:MM" or "HH:MM:SS" (HH may exceed 23: later days) → seconds. */
static int parse_clock(const char *s, uint64_t *ret) {
        unsigned hh, mm, ss = 0;
        char end;
        int n = sscanf(s, "%u:%u:%u%c", &hh, &mm, &ss, &end);
        if (n == 2 || n == 3) {
                if (hh > 9999 || mm > 59 || ss > 59)
                        return -EINVAL;
                *ret = (uint64_t) hh * 3600 + mm * 60 + ss;
                return 0;
        }
        return -EINVAL;
}

/* One event sentence:
 *   evacuate HOST at T            exit-maintenance HOST at T
 *   kill host HOST at T           revive host HOST at T
 *   fail migrations [to HOST] from T to T
 *   stall migrations from T to T
 *   fail power [HOST] from T to T
 *   leader change at T */
static int parse_event(YContext *c, const YNode *n, SimEvent *e) {
        _cleanup_free_ char *text = NULL;
        char *w[8] = {};
        size_t nw = 0;
        char *save = NULL;
        int r;

        r = yget_string(c, n, "events", 200, &text);
        if (r < 0)
                return r;
        _cleanup_free_ char *copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (nw == ELEMENTSOF(w))
                        goto bad;
                w[nw++] = t;
        }
        e->line = n->line;
        e->column = n->column;
        const char *at = NULL, *from = NULL, *to = NULL, *host = NULL;
        if (nw == 4 && streq(w[0], "evacuate") && streq(w[2], "at")) {
                e->type = SIM_EVENT_EVACUATE;
                host = w[1], at = w[3];
        } else if (nw == 4 && streq(w[0], "exit-maintenance") && streq(w[2], "at")) {
                e->type = SIM_EVENT_EXIT_MAINTENANCE;
                host = w[1], at = w[3];
        } else if (
                nw == 5 && (streq(w[0], "kill") || streq(w[0], "revive")) && streq(w[1], "host") &&
                streq(w[3], "at")) {
                e->type = streq(w[0], "kill") ? SIM_EVENT_KILL_HOST : SIM_EVENT_REVIVE_HOST;
                host = w[2], at = w[4];
        } else if (nw == 4 && streq(w[0], "leader") && streq(w[1], "change") && streq(w[2], "at")) {
                e->type = SIM_EVENT_LEADER_CHANGE;
                at = w[3];
        } else if (nw >= 6 && (streq(w[0], "fail") || streq(w[0], "stall")) && streq(w[1], "migrations")) {
                size_t k = 2;
                e->type = streq(w[0], "fail") ? SIM_EVENT_FAIL_MIGRATIONS : SIM_EVENT_STALL_MIGRATIONS;
                if (e->type == SIM_EVENT_FAIL_MIGRATIONS && nw == 8 && streq(w[2], "to")) {
                        host = w[3];
                        k = 4;
                }
                if (nw != k + 4 || !streq(w[k], "from") || !streq(w[k + 2], "to"))
                        goto bad;
                from = w[k + 1], to = w[k + 3];
        } else if (nw >= 6 && streq(w[0], "fail") && streq(w[1], "power")) {
                size_t k = 2;
                e->type = SIM_EVENT_FAIL_POWER;
                if (nw == 7) {
                        host = w[2];
                        k = 3;
                }
                if (nw != k + 4 || !streq(w[k], "from") || !streq(w[k + 2], "to"))
                        goto bad;
                from = w[k + 1], to = w[k + 3];
        } else
                goto bad;

        if (at) {
                if (parse_clock(at, &e->at_s) < 0)
                        return yerr(c, n, "bad time '%s' in event (expected HH:MM or HH:MM:SS)", at);
                e->until_s = e->at_s;
        } else {
                if (parse_clock(from, &e->at_s) < 0 || parse_clock(to, &e->until_s) < 0)
                        return yerr(
                                c, n, "bad time '%s' in event (expected HH:MM or HH:MM:SS)",
                                parse_clock(from, &e->at_s) < 0 ? from : to);
                if (e->until_s <= e->at_s)
                        return yerr(
                                c, n, "event window ends at or before it starts ('%s' to '%s')", from, to);
        }
        if (host) {
                if (!name_ok(host))
                        return yerr(c, n, "bad host name '%s' in event", host);
                e->host = strdup(host);
                if (!e->host)
                        return -ENOMEM;
        }
        return 0;
bad:
        return yerr(
                c, n,
                "unknown event '%s' (expected: evacuate HOST at T, exit-maintenance HOST at T, kill host HOST "
                "at T, revive host HOST at T, fail migrations [to HOST] from T to T, stall migrations from T to "
                "T, fail power [HOST] from T to T, leader change at T)",
                text);
}

static int parse_expect(YContext *c, const YNode *n, SimExpect *e) {
        static const char *const keys[] = {
                "max_migrations",
                "min_migrations",
                "max_moved_twice_within_cooldown",
                "max_returns",
                "max_idle_balance_moves",
                "max_memory_utilization",
                "max_cpu_utilization",
                "max_evacuation_share",
                "min_dpm_savings",
                "max_final_cpu_imbalance",
                "max_maintenance",
                "max_power_actions",
                "min_power_ons",
                "min_passes_without_quorum",
                "max_passes_without_quorum",
                NULL};
        struct {
                const char *key;
                int64_t *i;
                double *d;
        } map[] = {
                {"max_migrations", &e->max_migrations, NULL},
                {"min_migrations", &e->min_migrations, NULL},
                {"max_power_actions", &e->max_power_actions, NULL},
                {"min_power_ons", &e->min_power_ons, NULL},
                {"min_passes_without_quorum", &e->min_passes_without_quorum, NULL},
                {"max_passes_without_quorum", &e->max_passes_without_quorum, NULL},
                {"max_moved_twice_within_cooldown", &e->max_moved_twice_within_cooldown, NULL},
                {"max_returns", &e->max_returns, NULL},
                {"max_idle_balance_moves", &e->max_idle_balance_moves, NULL},
                {"max_memory_utilization", NULL, &e->max_memory_utilization},
                {"max_cpu_utilization", NULL, &e->max_cpu_utilization},
                {"max_evacuation_share", NULL, &e->max_evacuation_share},
                {"min_dpm_savings", NULL, &e->min_dpm_savings},
                {"max_final_cpu_imbalance", NULL, &e->max_final_cpu_imbalance},
        };
        const YNode *v;
        int r = ymap_check(c, n, "expect", keys);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                if (!(v = ymap_get(n, map[i].key)))
                        continue;
                if (map[i].i)
                        r = yget_int(c, v, map[i].key, 0, INT64_MAX / 2, map[i].i);
                else
                        r = yget_fraction(c, v, map[i].key, 0, 10, map[i].d);
                if (r < 0)
                        return r;
        }
        if ((v = ymap_get(n, "max_maintenance"))) {
                uint64_t s;
                r = yget_duration_s(c, v, "max_maintenance", 0, 366 * 24 * 3600, &s);
                if (r < 0)
                        return r;
                e->max_maintenance_s = (int64_t) s;
        }
        return 0;
}

/* The policy mapping's text, cut out of the document and de-indented, so that the real policy
 * parser reads it; its errors are moved back to the scenario's lines and columns. */
static int
parse_policy(YContext *c, const char *buf, size_t len, const YNode *n, unsigned end_line, Policy *p) {
        _cleanup_free_ char *text = NULL;
        size_t n_text = 0, line = 1, col0 = n->column - 1;
        const char *s = buf, *e = buf + len;
        int r;

        if (n->type != YNODE_MAPPING)
                return yerr(
                        c, n, "'policy' must be a mapping (the policy language), not %s",
                        ynode_type_name(n));
        text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        while (s < e && line < n->line) {
                if (*s++ == '\n')
                        line++;
        }
        for (; s < e && (end_line == 0 || line < end_line); line++) {
                const char *nl = memchr(s, '\n', (size_t) (e - s));
                size_t l = nl ? (size_t) (nl - s) : (size_t) (e - s), skip = 0;
                if (line == n->line)
                        skip = col0 <= l ? col0 : l;
                else
                        while (skip < col0 && skip < l && s[skip] == ' ')
                                skip++;
                memcpy(text + n_text, s + skip, l - skip);
                n_text += l - skip;
                text[n_text++] = '\n';
                s = nl ? nl + 1 : e;
        }
        text[n_text] = '\0';
        PolicyError err = {};
        r = policy_parse_string(p, c->file, text, n_text, &err);
        if (r < 0) {
                if (c->error) {
                        policy_error_clear(c->error);
                        *c->error = err;
                        if (c->error->line > 0) {
                                if (c->error->line == 1)
                                        c->error->column += (unsigned) col0;
                                else
                                        c->error->column += (unsigned) col0;
                                c->error->line += n->line - 1;
                        }
                } else
                        policy_error_clear(&err);
                return r;
        }
        r = policy_validate(p, &err);
        if (r < 0) {
                if (c->error) {
                        policy_error_clear(c->error);
                        *c->error = err;
                        if (c->error->line > 0) {
                                c->error->line += n->line - 1;
                                c->error->column += (unsigned) col0;
                        }
                } else
                        policy_error_clear(&err);
        }
        return r;
}

static int trace_cmp(const void *a, const void *b) {
        const SimTracePoint *x = a, *y = b;
        if (x->t_s != y->t_s)
                return x->t_s < y->t_s ? -1 : 1;
        return strcmp(x->vm, y->vm);
}

/* CSV lines "SECONDS,VM,CPU_CORES,MEMORY_MIB"; '#' starts a comment. */
static int load_trace(YContext *c, const YNode *n, Scenario *s) {
        _cleanup_free_ char *rel = NULL, *path = NULL, *buf = NULL;
        PolicyError err = {};
        size_t len, lineno = 0;
        int r = yget_string(c, n, "trace", 4096, &rel);
        if (r < 0)
                return r;
        if (rel[0] != '/' && c->file && strchr(c->file, '/')) {
                const char *slash = strrchr(c->file, '/');
                if (asprintf(&path, "%.*s/%s", (int) (slash - c->file), c->file, rel) < 0)
                        return -ENOMEM;
        } else if (!(path = strdup(rel)))
                return -ENOMEM;
        r = policy_read_file_bounded(path, 256U << 20, &buf, &len, &err);
        if (r < 0) {
                policy_error_clear(&err);
                return yerr(c, n, "cannot read trace file '%s': %s", path, strerror(-r));
        }
        for (char *line = buf, *next; line && *line; line = next) {
                char vm[SIM_MAX_NAME + 1];
                unsigned long long t, mem;
                double cpu;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
                        continue;
                if (sscanf(line, "%llu,%64[^,],%lf,%llu", &t, vm, &cpu, &mem) != 4 || !name_ok(vm) ||
                    !(cpu >= 0 && cpu < 1e6))
                        return yerr(
                                c, n, "trace file '%s' line %zu: expected SECONDS,VM,CPU_CORES,MEMORY_MIB",
                                path, lineno);
                SimTracePoint *l = reallocarray(s->trace, s->n_trace + 1, sizeof(SimTracePoint));
                if (!l)
                        return -ENOMEM;
                s->trace = l;
                s->trace[s->n_trace] = (SimTracePoint){.t_s = t, .cpu_cores = cpu, .memory_mib = mem};
                if (!(s->trace[s->n_trace].vm = strdup(vm)))
                        return -ENOMEM;
                s->n_trace++;
        }
        if (s->n_trace > 1)
                qsort(s->trace, s->n_trace, sizeof(SimTracePoint), trace_cmp);
        return 0;
}

static int event_cmp(const void *a, const void *b) {
        const SimEvent *x = a, *y = b;
        if (x->at_s != y->at_s)
                return x->at_s < y->at_s ? -1 : 1;
        return x->line < y->line ? -1 : x->line > y->line;
}

/* Every host name an event or a VM names must exist (after expanding counts). */
static bool host_exists(const Scenario *s, const char *name) {
        for (size_t i = 0; i < s->n_hosts; i++) {
                const SimHostSpec *h = &s->hosts[i];
                if (h->count == 1 && streq(h->name, name))
                        return true;
                if (h->count > 1) {
                        size_t l = strlen(h->name);
                        if (strncmp(name, h->name, l) == 0) {
                                char *end;
                                unsigned long k = strtoul(name + l, &end, 10);
                                if (*end == '\0' && name[l] != '\0' && k >= 1 && k <= h->count)
                                        return true;
                        }
                }
        }
        return false;
}

int scenario_parse(const char *file, const char *buf, size_t len, Scenario **ret, PolicyError *reterr) {
        static const char *const keys[] = {
                "name", "description", "seed",  "duration", "interval", "solver", "policy", "hosts",
                "vms",  "migration",   "power", "trace",    "events",   "expect", "quorum", NULL};
        _cleanup_(scenario_freep) Scenario *s = NULL;
        _cleanup_(ynode_freep) YNode *root = NULL;
        YContext ctx = {.file = file, .error = reterr};
        YContext *c = &ctx;
        const YNode *v;
        int r;

        r = ytree_parse_bounded(file, buf, len, YTREE_MAX_NODES, YTREE_MAX_INPUT, &root, reterr);
        if (r < 0)
                return r;
        if (!root)
                return ytree_error(reterr, file, 0, 0, "empty scenario");
        r = ymap_check(c, root, "scenario", keys);
        if (r < 0)
                return r;
        r = scenario_new(&s);
        if (r < 0)
                return r;
        if (file && !(s->file = strdup(file)))
                return -ENOMEM;
        if ((v = ymap_get(root, "name")))
                r = yget_string(c, v, "name", 200, &s->name);
        else
                r = (s->name = strdup("scenario")) ? 0 : -ENOMEM;
        if (r < 0)
                return r;
        if ((v = ymap_get(root, "description")) &&
            (r = yget_string(c, v, "description", 4096, &s->description)) < 0)
                return r;
        if ((v = ymap_get(root, "seed")) && (r = yget_uint(c, v, "seed", 0, UINT64_MAX, &s->seed)) < 0)
                return r;
        if ((v = ymap_get(root, "duration")) &&
            (r = yget_duration_s(c, v, "duration", 60, 31 * 24 * 3600, &s->duration_s)) < 0)
                return r;
        if ((v = ymap_get(root, "interval")) &&
            (r = yget_duration_s(c, v, "interval", 1, 3600, &s->interval_s)) < 0)
                return r;
        if ((v = ymap_get(root, "quorum")) && (r = yget_bool(c, v, "quorum", &s->quorum)) < 0)
                return r;
        if ((v = ymap_get(root, "solver"))) {
                static const char *const skeys[] = {"greedy_only", "effort", NULL};
                const YNode *w;
                if ((r = ymap_check(c, v, "solver", skeys)) < 0)
                        return r;
                if ((w = ymap_get(v, "greedy_only")) &&
                    (r = yget_bool(c, w, "solver.greedy_only", &s->greedy_only)) < 0)
                        return r;
                if ((w = ymap_get(v, "effort")) &&
                    (r = yget_unsigned(c, w, "solver.effort", 0, 1000, &s->effort)) < 0)
                        return r;
        }
        if ((v = ymap_get(root, "migration"))) {
                static const char *const mkeys[] = {"bandwidth", "setup", "failure_rate", NULL};
                const YNode *w;
                if ((r = ymap_check(c, v, "migration", mkeys)) < 0)
                        return r;
                if ((w = ymap_get(v, "bandwidth")) &&
                    (r = yget_size_mib(c, w, "migration.bandwidth", 1, UINT64_C(1) << 20, &s->link_mib_s)) <
                            0)
                        return r;
                if ((w = ymap_get(v, "setup")) &&
                    (r = yget_duration_ms(c, w, "migration.setup", 0, 600000, &s->setup_ms)) < 0)
                        return r;
                if ((w = ymap_get(v, "failure_rate")) &&
                    (r = yget_fraction(c, w, "migration.failure_rate", 0, 1, &s->migration_fail_rate)) < 0)
                        return r;
        }
        if ((v = ymap_get(root, "power"))) {
                static const char *const pkeys[] = {"off", "on", "boot", "failure_rate", NULL};
                const YNode *w;
                if ((r = ymap_check(c, v, "power", pkeys)) < 0)
                        return r;
                if ((w = ymap_get(v, "off")) &&
                    (r = yget_duration_s(c, w, "power.off", 0, 3600, &s->power_off_s)) < 0)
                        return r;
                if ((w = ymap_get(v, "on")) &&
                    (r = yget_duration_s(c, w, "power.on", 0, 3600, &s->power_on_s)) < 0)
                        return r;
                if ((w = ymap_get(v, "boot")) &&
                    (r = yget_duration_s(c, w, "power.boot", 0, 3600, &s->boot_s)) < 0)
                        return r;
                if ((w = ymap_get(v, "failure_rate")) &&
                    (r = yget_fraction(c, w, "power.failure_rate", 0, 1, &s->power_fail_rate)) < 0)
                        return r;
        }

        if (!(v = ymap_get(root, "hosts")))
                return yerr(c, root, "missing key 'hosts' in 'scenario'");
        if ((r = yexpect(c, v, YNODE_SEQUENCE, "hosts")) < 0)
                return r;
        if (v->n_children == 0)
                return yerr(c, v, "'hosts' is empty");
        s->hosts = calloc(v->n_children, sizeof(SimHostSpec));
        if (!s->hosts)
                return -ENOMEM;
        for (size_t i = 0; i < v->n_children; i++) {
                r = parse_host(c, v->children[i], &s->hosts[s->n_hosts++]);
                if (r < 0)
                        return r;
        }
        if ((v = ymap_get(root, "vms"))) {
                if ((r = yexpect(c, v, YNODE_SEQUENCE, "vms")) < 0)
                        return r;
                s->vms = calloc(v->n_children ?: 1, sizeof(SimVmSpec));
                if (!s->vms)
                        return -ENOMEM;
                for (size_t i = 0; i < v->n_children; i++) {
                        r = parse_vm(c, v->children[i], &s->vms[s->n_vms++]);
                        if (r < 0)
                                return r;
                        if (s->vms[i].host && !host_exists(s, s->vms[i].host))
                                return yerr(
                                        c, ymap_get(v->children[i], "host"), "unknown host '%s' in 'vms'",
                                        s->vms[i].host);
                }
        }
        if ((v = ymap_get(root, "policy"))) {
                /* Where the policy's text ends: the next top-level key's line. */
                unsigned end_line = 0;
                for (size_t i = 0; i + 1 < root->n_children; i += 2)
                        if (root->children[i + 1] == v && i + 2 < root->n_children)
                                end_line = root->children[i + 2]->line;
                r = parse_policy(c, buf, len, v, end_line, s->policy);
                if (r < 0)
                        return r;
        }
        if ((v = ymap_get(root, "trace")) && (r = load_trace(c, v, s)) < 0)
                return r;
        if ((v = ymap_get(root, "events"))) {
                if ((r = yexpect(c, v, YNODE_SEQUENCE, "events")) < 0)
                        return r;
                s->events = calloc(v->n_children ?: 1, sizeof(SimEvent));
                if (!s->events)
                        return -ENOMEM;
                for (size_t i = 0; i < v->n_children; i++) {
                        SimEvent *e = &s->events[s->n_events++];
                        r = parse_event(c, v->children[i], e);
                        if (r < 0)
                                return r;
                        if (e->host && !host_exists(s, e->host))
                                return yerr(c, v->children[i], "unknown host '%s' in event", e->host);
                        if (e->at_s > s->duration_s)
                                return yerr(c, v->children[i], "event after the end of the scenario");
                }
                qsort(s->events, s->n_events, sizeof(SimEvent), event_cmp);
        }
        if ((v = ymap_get(root, "expect")) && (r = parse_expect(c, v, &s->expect)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int scenario_load(const char *path, Scenario **ret, PolicyError *reterr) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = policy_read_file(path, &buf, &len, reterr);
        if (r < 0)
                return r;
        return scenario_parse(path, buf, len, ret, reterr);
}
