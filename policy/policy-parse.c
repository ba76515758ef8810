/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy language: a YNode tree → overlay onto a Policy. Pure.
 *
 * Every section is optional; a key that is present replaces the field (scalars, and the
 * max_downtime schedule), lists of named things are appended to (groups, rules, overrides,
 * windows, DPM hosts, DPM exclude). Parsing happens on a copy that replaces the caller's
 * policy only when the whole document was fine. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "policy-internal.h"

#define APPEND(array, n, ret_elem)                                                                          \
        ({                                                                                                  \
                __typeof__(array) _a_ = reallocarray((array), (n) + 1, sizeof(*(array)));                   \
                int _r_ = -ENOMEM;                                                                          \
                if (_a_) {                                                                                  \
                        (array) = _a_;                                                                      \
                        memset(&_a_[(n)], 0, sizeof(*_a_));                                                 \
                        *(ret_elem) = &_a_[(n)++];                                                          \
                        _r_ = 0;                                                                            \
                }                                                                                           \
                _r_;                                                                                        \
        })

/* Runs a getter on an optional key: does nothing when the key is absent. */
#define OPT(r, map, key, expr)                                                                              \
        do {                                                                                                \
                const YNode *v = ymap_get((map), (key));                                                    \
                if (v) {                                                                                    \
                        (r) = (expr);                                                                       \
                        if ((r) < 0)                                                                        \
                                return (r);                                                                 \
                }                                                                                           \
        } while (0)

static int require_key(YContext *c, const YNode *map, const char *key, const char *what, const YNode **ret) {
        const YNode *v = ymap_get(map, key);
        if (!v)
                return yerr(c, map, "missing key '%s' in '%s'", key, what);
        *ret = v;
        return 0;
}

/* ---- balance ---- */

static int parse_weights(YContext *c, const YNode *n, BalancePolicy *b) {
        static const char *const keys[] = {"cpu", "memory", NULL};
        int r = ymap_check(c, n, "balance.weights", keys);
        if (r < 0)
                return r;
        OPT(r, n, "cpu", yget_double(c, v, "balance.weights.cpu", 0, 100, &b->weight_cpu));
        OPT(r, n, "memory", yget_double(c, v, "balance.weights.memory", 0, 100, &b->weight_memory));
        if (b->weight_cpu <= 0 && b->weight_memory <= 0)
                return yerr(c, n, "'balance.weights' are both zero (expected at least one weight above 0)");
        return 0;
}

static int parse_balance(YContext *c, const YNode *n, BalancePolicy *b) {
        static const char *const keys[] = {
                "enabled",  "aggressiveness", "weights", "min_gain", "cooldown", "max_moves_per_pass",
                "interval", "overload",       NULL,
        };
        unsigned u;
        int r = ymap_check(c, n, "balance", keys);
        if (r < 0)
                return r;
        OPT(r, n, "enabled", yget_bool(c, v, "balance.enabled", &b->enabled));
        OPT(r, n, "aggressiveness", yget_unsigned(c, v, "balance.aggressiveness", 1, 5, &u));
        if (ymap_get(n, "aggressiveness"))
                b->aggressiveness = (int) u;
        OPT(r, n, "weights", parse_weights(c, v, b));
        OPT(r, n, "min_gain", yget_double(c, v, "balance.min_gain", 0, 1, &b->min_gain));
        OPT(r, n, "cooldown", yget_duration_s(c, v, "balance.cooldown", 0, 30 * 86400, &b->cooldown_s));
        OPT(r, n, "max_moves_per_pass",
            yget_unsigned(c, v, "balance.max_moves_per_pass", 1, 10000, &b->max_moves_per_pass));
        OPT(r, n, "interval", yget_duration_s(c, v, "balance.interval", 1, 86400, &b->interval_s));
        OPT(r, n, "overload", yget_fraction(c, v, "balance.overload", 0.1, 1, &b->overload));
        return 0;
}

/* ---- limits ---- */

static int parse_limits(YContext *c, const YNode *n, LimitsPolicy *l) {
        static const char *const keys[] = {
                "migrations_per_host", "migrations_per_cluster", "memory_reserve",
                "memory_overcommit",   "vcpu_per_core",          NULL,
        };
        static const char *const host_keys[] = {"outgoing", "incoming", NULL};
        const YNode *h;
        int r = ymap_check(c, n, "limits", keys);
        if (r < 0)
                return r;
        h = ymap_get(n, "migrations_per_host");
        if (h && h->type == YNODE_SCALAR) {
                /* A single number sets both directions. */
                unsigned both;
                r = yget_unsigned(c, h, "limits.migrations_per_host", 1, 64, &both);
                if (r < 0)
                        return r;
                l->migrations_out_per_host = l->migrations_in_per_host = both;
        } else if (h) {
                r = ymap_check(c, h, "limits.migrations_per_host", host_keys);
                if (r < 0)
                        return r;
                OPT(r, h, "outgoing",
                    yget_unsigned(
                            c, v, "limits.migrations_per_host.outgoing", 1, 64,
                            &l->migrations_out_per_host));
                OPT(r, h, "incoming",
                    yget_unsigned(
                            c, v, "limits.migrations_per_host.incoming", 1, 64, &l->migrations_in_per_host));
        }
        OPT(r, n, "migrations_per_cluster",
            yget_unsigned(c, v, "limits.migrations_per_cluster", 1, 1000, &l->migrations_per_cluster));
        OPT(r, n, "memory_reserve",
            yget_size_mib(c, v, "limits.memory_reserve", 0, 1024 * 1024, &l->memory_reserve_mib));
        OPT(r, n, "memory_overcommit",
            yget_double(c, v, "limits.memory_overcommit", 1.0, 4.0, &l->memory_overcommit));
        OPT(r, n, "vcpu_per_core", yget_double(c, v, "limits.vcpu_per_core", 0, 64, &l->vcpu_per_core));
        return 0;
}

/* ---- automation ---- */

static int
get_level(YContext *c, const YNode *n, const char *what, bool allow_disabled, AutomationLevel *ret) {
        AutomationLevel l;
        char b[48];
        int r = yexpect(c, n, YNODE_SCALAR, what);
        if (r < 0)
                return r;
        l = automation_level_from_string(n->value);
        if (l == AUTOMATION_DISABLED && !allow_disabled)
                return yerr(
                        c, n,
                        "invalid value 'disabled' for '%s' (only per-VM overrides may be disabled; expected manual, partial or full)",
                        what);
        if (l < 0) {
                snprintf(b, sizeof(b), "%.40s", n->value);
                for (char *s = b; *s; s++)
                        if ((unsigned char) *s < 0x20 || *s == '\'')
                                *s = '?';
                return yerr(
                        c, n, "invalid value '%s' for '%s' (expected %s)", b, what,
                        allow_disabled ? "disabled, manual, partial or full" : "manual, partial or full");
        }
        *ret = l;
        return 0;
}

static bool timezone_is_valid(const char *s) {
        if (!*s || *s == '/' || strstr(s, ".."))
                return false;
        for (; *s; s++)
                if (!(isalnum((unsigned char) *s) || strchr("_+-/", *s)))
                        return false;
        return true;
}

static int parse_overrides(YContext *c, const YNode *n, AutomationPolicy *a) {
        static const char *const keys[] = {"vm", "level", NULL};
        int r = yexpect(c, n, YNODE_SEQUENCE, "automation.overrides");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n->n_children; i++) {
                const YNode *o = n->children[i], *vm = NULL, *level = NULL;
                _cleanup_free_ char *pattern = NULL;
                AutomationOverride *e;
                AutomationLevel l;

                if (a->n_overrides >= POLICY_MAX_OVERRIDES)
                        return yerr(
                                c, o, "too many entries in 'automation.overrides' (at most %d)",
                                POLICY_MAX_OVERRIDES);
                r = ymap_check(c, o, "automation.overrides", keys);
                if (r < 0)
                        return r;
                r = require_key(c, o, "vm", "automation.overrides", &vm);
                if (r < 0)
                        return r;
                r = require_key(c, o, "level", "automation.overrides", &level);
                if (r < 0)
                        return r;
                r = yget_string(c, vm, "automation.overrides.vm", POLICY_MAX_PATTERN, &pattern);
                if (r < 0)
                        return r;
                r = get_level(c, level, "automation.overrides.level", true, &l);
                if (r < 0)
                        return r;
                r = APPEND(a->overrides, a->n_overrides, &e);
                if (r < 0)
                        return r;
                e->pattern = TAKE_PTR(pattern);
                e->level = l;
        }
        return 0;
}

static const char *const day_names[7][2] = {
        {"mon", "monday"}, {"tue", "tuesday"},  {"wed", "wednesday"}, {"thu", "thursday"},
        {"fri", "friday"}, {"sat", "saturday"}, {"sun", "sunday"},
};

static int day_index(const char *s, size_t len) {
        for (int i = 0; i < 7; i++)
                for (int j = 0; j < 2; j++)
                        if (strlen(day_names[i][j]) == len && strncasecmp(s, day_names[i][j], len) == 0)
                                return i;
        return -1;
}

/* "mon", "monday", "mon-fri" (wrapping ranges like "fri-mon" too), "weekdays", "weekend", "daily". */
static int parse_day_spec(const char *s, uint8_t *days) {
        const char *dash;
        int a, b;

        if (strcasecmp(s, "weekdays") == 0) {
                *days |= 0x1F;
                return 0;
        }
        if (strcasecmp(s, "weekend") == 0) {
                *days |= 0x60;
                return 0;
        }
        if (strcasecmp(s, "daily") == 0 || strcasecmp(s, "everyday") == 0) {
                *days |= 0x7F;
                return 0;
        }
        dash = strchr(s, '-');
        if (!dash) {
                a = day_index(s, strlen(s));
                if (a < 0)
                        return -EINVAL;
                *days |= (uint8_t) (1u << a);
                return 0;
        }
        a = day_index(s, (size_t) (dash - s));
        b = day_index(dash + 1, strlen(dash + 1));
        if (a < 0 || b < 0)
                return -EINVAL;
        for (int d = a;; d = (d + 1) % 7) {
                *days |= (uint8_t) (1u << d);
                if (d == b)
                        break;
        }
        return 0;
}

static int parse_days(YContext *c, const YNode *n, uint8_t *ret) {
        uint8_t days = 0;
        char b[48];

        if (n->type == YNODE_SCALAR && !ynode_is_null(n)) {
                if (parse_day_spec(n->value, &days) < 0)
                        goto bad_scalar;
        } else {
                int r = yexpect(c, n, YNODE_SEQUENCE, "automation.windows.days");
                if (r < 0)
                        return r;
                if (n->n_children == 0)
                        return yerr(
                                c, n,
                                "empty list for 'automation.windows.days' (expected at least one day)");
                for (size_t i = 0; i < n->n_children; i++) {
                        const YNode *d = n->children[i];
                        r = yexpect(c, d, YNODE_SCALAR, "automation.windows.days");
                        if (r < 0)
                                return r;
                        if (parse_day_spec(d->value, &days) < 0) {
                                n = d;
                                goto bad_scalar;
                        }
                }
        }
        *ret = days;
        return 0;

bad_scalar:
        snprintf(b, sizeof(b), "%.40s", n->value);
        for (char *s = b; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == '\'')
                        *s = '?';
        return yerr(
                c, n,
                "invalid value '%s' for 'automation.windows.days' (expected mon … sun, a range such as mon-fri, weekdays, weekend or daily)",
                b);
}

/* "HH:MM"; allow_24 admits "24:00". */
static int parse_hhmm(YContext *c, const YNode *n, const char *what, bool allow_24, unsigned *ret) {
        const char *s;
        unsigned h, m;
        char b[48];
        int r = yexpect(c, n, YNODE_SCALAR, what);
        if (r < 0)
                return r;
        s = n->value;
        if (n->length == 5 && isdigit((unsigned char) s[0]) && isdigit((unsigned char) s[1]) &&
            s[2] == ':' && isdigit((unsigned char) s[3]) && isdigit((unsigned char) s[4])) {
                h = (unsigned) (s[0] - '0') * 10 + (unsigned) (s[1] - '0');
                m = (unsigned) (s[3] - '0') * 10 + (unsigned) (s[4] - '0');
                if ((h < 24 && m < 60) || (allow_24 && h == 24 && m == 0)) {
                        *ret = h * 60 + m;
                        return 0;
                }
        }
        snprintf(b, sizeof(b), "%.40s", s);
        for (char *p = b; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == '\'')
                        *p = '?';
        return yerr(
                c, n, "invalid value '%s' for '%s' (expected a time HH:MM from 00:00 to %s)", b, what,
                allow_24 ? "24:00" : "23:59");
}

static int parse_windows(YContext *c, const YNode *n, AutomationPolicy *a) {
        static const char *const keys[] = {"days", "from", "to", "level", NULL};
        int r = yexpect(c, n, YNODE_SEQUENCE, "automation.windows");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n->n_children; i++) {
                const YNode *w = n->children[i], *from = NULL, *to = NULL, *level = NULL;
                AutomationWindow win = {.days = 0x7F}, *e;

                if (a->n_windows >= POLICY_MAX_WINDOWS)
                        return yerr(
                                c, w, "too many entries in 'automation.windows' (at most %d)",
                                POLICY_MAX_WINDOWS);
                r = ymap_check(c, w, "automation.windows", keys);
                if (r < 0)
                        return r;
                OPT(r, w, "days", parse_days(c, v, &win.days));
                if ((r = require_key(c, w, "from", "automation.windows", &from)) < 0 ||
                    (r = require_key(c, w, "to", "automation.windows", &to)) < 0 ||
                    (r = require_key(c, w, "level", "automation.windows", &level)) < 0)
                        return r;
                r = parse_hhmm(c, from, "automation.windows.from", false, &win.start_min);
                if (r < 0)
                        return r;
                r = parse_hhmm(c, to, "automation.windows.to", true, &win.end_min);
                if (r < 0)
                        return r;
                if (win.end_min == 0)
                        win.end_min = 1440; /* "to: 00:00" is midnight at the end of the day */
                if (win.end_min == win.start_min)
                        return yerr(c, to, "window from '%s' to '%s' is empty", from->value, to->value);
                r = get_level(c, level, "automation.windows.level", false, &win.level);
                if (r < 0)
                        return r;
                r = APPEND(a->windows, a->n_windows, &e);
                if (r < 0)
                        return r;
                *e = win;
        }
        return 0;
}

static int parse_automation(YContext *c, const YNode *n, AutomationPolicy *a) {
        static const char *const keys[] = {"level", "timezone", "overrides", "windows", NULL};
        const YNode *tz;
        int r = ymap_check(c, n, "automation", keys);
        if (r < 0)
                return r;
        OPT(r, n, "level", get_level(c, v, "automation.level", false, &a->level));
        tz = ymap_get(n, "timezone");
        if (tz) {
                _cleanup_free_ char *s = NULL;
                r = yget_string(c, tz, "automation.timezone", POLICY_MAX_TIMEZONE, &s);
                if (r < 0)
                        return r;
                if (!timezone_is_valid(s))
                        return yerr(
                                c, tz,
                                "invalid value for 'automation.timezone' (expected an IANA time zone name such as Europe/Berlin or UTC)");
                free(a->timezone);
                a->timezone = TAKE_PTR(s);
        }
        OPT(r, n, "overrides", parse_overrides(c, v, a));
        OPT(r, n, "windows", parse_windows(c, v, a));
        return 0;
}

/* ---- groups and rules ---- */

static bool policy_has_group(const Policy *p, const char *name) {
        return policy_lookup_group(p, name) != NULL;
}

static int parse_group_kind(YContext *c, const YNode *n, GroupKind kind, Policy *p) {
        const char *what = kind == GROUP_HOST ? "groups.hosts" : "groups.vms";
        int r = yexpect(c, n, YNODE_MAPPING, what);
        if (r < 0)
                return r;
        for (size_t i = 0; i + 1 < n->n_children; i += 2) {
                const YNode *k = n->children[i], *v = n->children[i + 1];
                _cleanup_strv_free_ char **members = NULL;
                _cleanup_free_ char *name = NULL;
                Group *g;

                if (p->n_groups >= POLICY_MAX_GROUPS)
                        return yerr(c, k, "too many groups (at most %d)", POLICY_MAX_GROUPS);
                if (!policy_name_is_valid(k->value))
                        return yerr(
                                c, k,
                                "invalid group name in '%s' (expected 1 to %d letters, digits or _.:-)",
                                what, POLICY_MAX_NAME);
                if (policy_has_group(p, k->value))
                        return yerr(c, k, "group '%s' is already defined", k->value);
                if (ynode_is_null(v)) {
                        /* "name:" alone: a group whose members come only from labels */
                        members = calloc(1, sizeof(char *));
                        if (!members)
                                return -ENOMEM;
                } else {
                        char w[128];
                        snprintf(w, sizeof(w), "%s.%s", what, k->value);
                        r = yget_strv(c, v, w, POLICY_MAX_MEMBERS, POLICY_MAX_PATTERN, &members);
                        if (r < 0)
                                return r;
                }
                name = strdup(k->value);
                if (!name)
                        return -ENOMEM;
                r = APPEND(p->groups, p->n_groups, &g);
                if (r < 0)
                        return r;
                g->name = TAKE_PTR(name);
                g->kind = kind;
                g->members = TAKE_PTR(members);
        }
        return 0;
}

static int parse_groups(YContext *c, const YNode *n, Policy *p) {
        static const char *const keys[] = {"hosts", "vms", NULL};
        int r = ymap_check(c, n, "groups", keys);
        if (r < 0)
                return r;
        /* In document order, so that a redefinition is reported where it is. */
        for (size_t i = 0; i + 1 < n->n_children; i += 2) {
                GroupKind kind = streq(n->children[i]->value, "hosts") ? GROUP_HOST : GROUP_VM;
                r = parse_group_kind(c, n->children[i + 1], kind, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_rule(YContext *c, const YNode *n, Policy *p) {
        static const char *const keys[] = {"name", "type", "vms", "hosts", "hard", "enabled", NULL};
        const YNode *name_node = NULL, *type_node = NULL, *vms_node = NULL, *hosts_node, *hard_node;
        _cleanup_free_ char *name = NULL, *vms = NULL, *hosts = NULL, *file = NULL;
        bool hard, enabled = true;
        RuleType type;
        Rule *rule;
        char b[48];
        int r;

        if (p->n_rules >= POLICY_MAX_RULES)
                return yerr(c, n, "too many rules (at most %d)", POLICY_MAX_RULES);
        r = ymap_check(c, n, "rules", keys);
        if (r < 0)
                return r;
        if ((r = require_key(c, n, "name", "rules", &name_node)) < 0 ||
            (r = require_key(c, n, "type", "rules", &type_node)) < 0 ||
            (r = require_key(c, n, "vms", "rules", &vms_node)) < 0)
                return r;
        r = yget_string(c, name_node, "rules.name", POLICY_MAX_NAME, &name);
        if (r < 0)
                return r;
        if (!policy_name_is_valid(name))
                return yerr(
                        c, name_node, "invalid rule name (expected 1 to %d letters, digits or _.:-)",
                        POLICY_MAX_NAME);
        for (size_t i = 0; i < p->n_rules; i++)
                if (streq(p->rules[i].name, name))
                        return yerr(c, name_node, "rule '%s' is already defined", name);
        r = yexpect(c, type_node, YNODE_SCALAR, "rules.type");
        if (r < 0)
                return r;
        type = rule_type_from_string(type_node->value);
        if (type < 0) {
                snprintf(b, sizeof(b), "%.40s", type_node->value);
                for (char *s = b; *s; s++)
                        if ((unsigned char) *s < 0x20 || *s == '\'')
                                *s = '?';
                return yerr(
                        c, type_node,
                        "invalid value '%s' for 'rules.type' (expected keep-together, keep-apart, must-run-on, should-run-on, must-not-run-on or should-not-run-on)",
                        b);
        }
        r = yget_string(c, vms_node, "rules.vms", POLICY_MAX_NAME, &vms);
        if (r < 0)
                return r;
        hosts_node = ymap_get(n, "hosts");
        if (type == RULE_KEEP_TOGETHER || type == RULE_KEEP_APART) {
                if (hosts_node)
                        return yerr(
                                c, hosts_node, "rule '%s' of type '%s' takes no 'hosts'", name,
                                rule_type_to_string(type));
        } else {
                if (!hosts_node)
                        return yerr(
                                c, n, "rule '%s' of type '%s' needs 'hosts'", name,
                                rule_type_to_string(type));
                r = yget_string(c, hosts_node, "rules.hosts", POLICY_MAX_NAME, &hosts);
                if (r < 0)
                        return r;
        }
        hard = type != RULE_SHOULD_RUN_ON && type != RULE_SHOULD_NOT_RUN_ON;
        hard_node = ymap_get(n, "hard");
        if (hard_node) {
                bool h;
                r = yget_bool(c, hard_node, "rules.hard", &h);
                if (r < 0)
                        return r;
                if ((type == RULE_MUST_RUN_ON || type == RULE_MUST_NOT_RUN_ON) && !h)
                        return yerr(
                                c, hard_node,
                                "rule '%s': '%s' rules are always hard (use '%s' for a preference)", name,
                                rule_type_to_string(type),
                                type == RULE_MUST_RUN_ON ? "should-run-on" : "should-not-run-on");
                if ((type == RULE_SHOULD_RUN_ON || type == RULE_SHOULD_NOT_RUN_ON) && h)
                        return yerr(
                                c, hard_node,
                                "rule '%s': '%s' rules are always soft (use '%s' for a requirement)", name,
                                rule_type_to_string(type),
                                type == RULE_SHOULD_RUN_ON ? "must-run-on" : "must-not-run-on");
                hard = h;
        }
        OPT(r, n, "enabled", yget_bool(c, v, "rules.enabled", &enabled));
        file = strdup(c->file ?: "<input>");
        if (!file)
                return -ENOMEM;
        r = APPEND(p->rules, p->n_rules, &rule);
        if (r < 0)
                return r;
        *rule = (Rule){
                .name = TAKE_PTR(name),
                .type = type,
                .vm_group = TAKE_PTR(vms),
                .host_group = TAKE_PTR(hosts),
                .hard = hard,
                .enabled = enabled,
                .file = TAKE_PTR(file),
                .line = n->line,
                .column = n->column,
        };
        return 0;
}

static int parse_rules(YContext *c, const YNode *n, Policy *p) {
        int r = yexpect(c, n, YNODE_SEQUENCE, "rules");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n->n_children; i++) {
                r = parse_rule(c, n->children[i], p);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- dpm ---- */

static int get_command(YContext *c, const YNode *n, const char *what, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t off = 0, len = 0;
        int r = yget_string(c, n, what, POLICY_MAX_COMMAND, &s);
        if (r < 0)
                return r;
        if (policy_check_command(s, &off, &len) < 0) {
                char b[48];
                size_t shown = len < 40 ? len : 40, j = 0;

                for (size_t i = 0; i < shown; i++)
                        b[j++] =
                                ((unsigned char) s[off + i] < 0x20 || s[off + i] == '\'') ? '?' : s[off + i];
                b[j] = 0;
                if (!strchr(s + off, '}'))
                        return yerr(
                                c, n,
                                "unterminated placeholder '%s' in '%s' (expected {host}, {address}, {mac} or {bmc}; write {{ for a literal brace)",
                                b, what);
                return yerr(
                        c, n,
                        "unknown placeholder '%s' in '%s' (expected {host}, {address}, {mac} or {bmc}; write {{ for a literal brace)",
                        b, what);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int
parse_commands(YContext *c, const YNode *n, const char *what_on, const char *what_off, PowerCommands *pc) {
        const YNode *v;
        char *s;
        int r;

        v = ymap_get(n, "power_on");
        if (v) {
                r = get_command(c, v, what_on, &s);
                if (r < 0)
                        return r;
                free(pc->power_on);
                pc->power_on = s;
        }
        v = ymap_get(n, "power_off");
        if (v) {
                r = get_command(c, v, what_off, &s);
                if (r < 0)
                        return r;
                free(pc->power_off);
                pc->power_off = s;
        }
        return 0;
}

static int parse_dpm_hosts(YContext *c, const YNode *n, DpmPolicy *d) {
        static const char *const keys[] = {"power_on", "power_off", NULL};
        int r = yexpect(c, n, YNODE_MAPPING, "dpm.hosts");
        if (r < 0)
                return r;
        for (size_t i = 0; i + 1 < n->n_children; i += 2) {
                const YNode *k = n->children[i], *v = n->children[i + 1];
                PowerCommands pc = {};
                DpmHostOverride *h;
                _cleanup_free_ char *name = NULL;

                if (d->n_hosts >= POLICY_MAX_DPM_HOSTS)
                        return yerr(
                                c, k, "too many entries in 'dpm.hosts' (at most %d)", POLICY_MAX_DPM_HOSTS);
                if (k->length == 0 || k->length > POLICY_MAX_PATTERN)
                        return yerr(c, k, "invalid host name in 'dpm.hosts'");
                for (size_t j = 0; j < d->n_hosts; j++)
                        if (streq(d->hosts[j].host, k->value))
                                return yerr(c, k, "DPM host '%s' is already configured", k->value);
                r = ymap_check(c, v, "dpm.hosts", keys);
                if (r < 0)
                        return r;
                r = parse_commands(c, v, "dpm.hosts.power_on", "dpm.hosts.power_off", &pc);
                if (r < 0) {
                        free(pc.power_on);
                        free(pc.power_off);
                        return r;
                }
                name = strdup(k->value);
                if (!name || APPEND(d->hosts, d->n_hosts, &h) < 0) {
                        free(pc.power_on);
                        free(pc.power_off);
                        return -ENOMEM;
                }
                h->host = TAKE_PTR(name);
                h->commands = pc;
        }
        return 0;
}

static int parse_dpm(YContext *c, const YNode *n, DpmPolicy *d) {
        static const char *const keys[] = {
                "enabled",
                "target_utilization",
                "min_hosts_on",
                "headroom_hosts",
                "power_on_delay",
                "standby_delay",
                "power_on_timeout",
                "power_on",
                "power_off",
                "hosts",
                "exclude",
                "tolerate_failures",
                "standby_percentile",
                NULL,
        };
        static const char *const band_keys[] = {"low", "high", NULL};
        const YNode *band;
        int r = ymap_check(c, n, "dpm", keys);
        if (r < 0)
                return r;
        OPT(r, n, "enabled", yget_bool(c, v, "dpm.enabled", &d->enabled));
        band = ymap_get(n, "target_utilization");
        if (band) {
                r = ymap_check(c, band, "dpm.target_utilization", band_keys);
                if (r < 0)
                        return r;
                OPT(r, band, "low", yget_fraction(c, v, "dpm.target_utilization.low", 0, 1, &d->target_low));
                OPT(r, band, "high",
                    yget_fraction(c, v, "dpm.target_utilization.high", 0, 1, &d->target_high));
                if (!(d->target_low < d->target_high))
                        return yerr(
                                c, band, "'dpm.target_utilization.low' (%g%%) must be below 'high' (%g%%)",
                                d->target_low * 100.0, d->target_high * 100.0);
        }
        OPT(r, n, "min_hosts_on", yget_unsigned(c, v, "dpm.min_hosts_on", 1, 10000, &d->min_hosts_on));
        OPT(r, n, "headroom_hosts", yget_unsigned(c, v, "dpm.headroom_hosts", 0, 1000, &d->headroom_hosts));
        OPT(r, n, "tolerate_failures",
            yget_unsigned(c, v, "dpm.tolerate_failures", 0, 1000, &d->tolerate_failures));
        OPT(r, n, "power_on_delay",
            yget_duration_s(c, v, "dpm.power_on_delay", 0, 86400, &d->power_on_delay_s));
        OPT(r, n, "standby_delay",
            yget_duration_s(c, v, "dpm.standby_delay", 0, 7 * 86400, &d->standby_delay_s));
        OPT(r, n, "standby_percentile",
            yget_fraction(c, v, "dpm.standby_percentile", 0.5, 1, &d->standby_percentile));
        OPT(r, n, "power_on_timeout",
            yget_duration_s(c, v, "dpm.power_on_timeout", 10, 3600, &d->power_on_timeout_s));
        r = parse_commands(c, n, "dpm.power_on", "dpm.power_off", &d->commands);
        if (r < 0)
                return r;
        OPT(r, n, "hosts", parse_dpm_hosts(c, v, d));
        {
                const YNode *ex = ymap_get(n, "exclude");
                if (ex) {
                        _cleanup_strv_free_ char **l = NULL;
                        size_t have = strv_length(d->exclude);
                        r = yget_strv(c, ex, "dpm.exclude", POLICY_MAX_EXCLUDE, POLICY_MAX_PATTERN, &l);
                        if (r < 0)
                                return r;
                        if (have + strv_length(l) > POLICY_MAX_EXCLUDE)
                                return yerr(
                                        c, ex, "too many entries in 'dpm.exclude' (at most %d)",
                                        POLICY_MAX_EXCLUDE);
                        for (char **s = l; *s; s++)
                                if (!strv_contains(d->exclude, *s)) {
                                        r = strv_extend(&d->exclude, *s);
                                        if (r < 0)
                                                return r;
                                }
                }
        }
        return 0;
}

/* ---- migration ---- */

static int parse_downtime(YContext *c, const YNode *n, MigrationPolicy *m) {
        _cleanup_free_ uint64_t *steps = NULL;
        int r = yexpect(c, n, YNODE_SEQUENCE, "migration.max_downtime");
        if (r < 0)
                return r;
        if (n->n_children == 0)
                return yerr(c, n, "empty list for 'migration.max_downtime' (expected at least one step)");
        if (n->n_children > POLICY_MAX_DOWNTIME_STEPS)
                return yerr(
                        c, n->children[POLICY_MAX_DOWNTIME_STEPS],
                        "too many entries in 'migration.max_downtime' (at most %d)",
                        POLICY_MAX_DOWNTIME_STEPS);
        steps = calloc(n->n_children, sizeof(uint64_t));
        if (!steps)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_children; i++) {
                r = yget_duration_ms(c, n->children[i], "migration.max_downtime", 1, 60000, &steps[i]);
                if (r < 0)
                        return r;
                if (i > 0 && steps[i] <= steps[i - 1])
                        return yerr(
                                c, n->children[i],
                                "'migration.max_downtime' must be ascending ('%s' after '%s')",
                                n->children[i]->value, n->children[i - 1]->value);
        }
        free(m->max_downtime_ms);
        m->max_downtime_ms = TAKE_PTR(steps);
        m->n_max_downtime_ms = n->n_children;
        return 0;
}

static int parse_compression(YContext *c, const YNode *n, MigrationCompression *ret) {
        MigrationCompression x;
        char b[48];
        int r = yexpect(c, n, YNODE_SCALAR, "migration.remote.compression");
        if (r < 0)
                return r;
        x = migration_compression_from_string(n->value);
        if (x < 0) {
                snprintf(b, sizeof(b), "%.40s", n->value);
                for (char *s = b; *s; s++)
                        if ((unsigned char) *s < 0x20 || *s == '\'')
                                *s = '?';
                return yerr(
                        c, n,
                        "invalid value '%s' for 'migration.remote.compression' (expected none, xbzrle, zlib or zstd)",
                        b);
        }
        *ret = x;
        return 0;
}

/* auto (plain or quoted: JSON has no other way) or a boolean (plain, as every boolean). */
static int parse_tls(YContext *c, const YNode *n, MigrationTls *ret) {
        static const char *const words[] = {"true", "yes", "on", "false", "no", "off"};
        bool is_bool = false, v;
        char b[48];
        int r;

        if (n->type == YNODE_SCALAR && !ynode_is_null(n)) {
                if (streq(n->value, "auto")) {
                        *ret = MIGRATION_TLS_AUTO;
                        return 0;
                }
                for (size_t i = 0; i < ELEMENTSOF(words); i++)
                        is_bool = is_bool || strcasecmp(n->value, words[i]) == 0;
                if (!is_bool)
                        return yerr(
                                c, n,
                                "invalid value '%s' for 'migration.tls' (expected auto, true or false)",
                                ynode_shown(n, b));
        }
        r = yget_bool(c, n, "migration.tls", &v);
        if (r < 0)
                return r;
        *ret = v ? MIGRATION_TLS_TRUE : MIGRATION_TLS_FALSE;
        return 0;
}

static int parse_remote(YContext *c, const YNode *n, RemoteMigrationPolicy *m) {
        static const char *const keys[] = {"parallel_connections", "compression", "bandwidth", NULL};
        int r = ymap_check(c, n, "migration.remote", keys);
        if (r < 0)
                return r;
        OPT(r, n, "parallel_connections",
            yget_unsigned(c, v, "migration.remote.parallel_connections", 1, 64, &m->parallel_connections));
        OPT(r, n, "compression", parse_compression(c, v, &m->compression));
        OPT(r, n, "bandwidth",
            yget_size_mib(c, v, "migration.remote.bandwidth", 0, 1024 * 1024, &m->bandwidth_mib_s));
        if ((m->compression == COMPRESSION_ZLIB || m->compression == COMPRESSION_ZSTD) &&
            m->parallel_connections < 2)
                return yerr(
                        c, n, "'migration.remote.compression' %s needs 'parallel_connections' of at least 2",
                        migration_compression_to_string(m->compression));
        return 0;
}

static int parse_migration(YContext *c, const YNode *n, MigrationPolicy *m) {
        static const char *const keys[] = {
                "bandwidth", "max_downtime",    "auto_converge", "post_copy",
                "tls",       "timeout_per_gib", "remote",        NULL,
        };
        int r = ymap_check(c, n, "migration", keys);
        if (r < 0)
                return r;
        OPT(r, n, "bandwidth",
            yget_size_mib(c, v, "migration.bandwidth", 0, 1024 * 1024, &m->bandwidth_mib_s));
        OPT(r, n, "max_downtime", parse_downtime(c, v, m));
        OPT(r, n, "auto_converge", yget_bool(c, v, "migration.auto_converge", &m->auto_converge));
        OPT(r, n, "post_copy", yget_bool(c, v, "migration.post_copy", &m->post_copy));
        OPT(r, n, "tls", parse_tls(c, v, &m->tls));
        OPT(r, n, "timeout_per_gib",
            yget_duration_s(c, v, "migration.timeout_per_gib", 1, 3600, &m->timeout_s_per_gib));
        OPT(r, n, "remote", parse_remote(c, v, &m->remote));
        return 0;
}

/* ---- storage ---- */

static int parse_local_disks(YContext *c, const YNode *n, LocalDisks *ret) {
        LocalDisks l;
        char b[48];
        int r = yexpect(c, n, YNODE_SCALAR, "storage.local_disks");
        if (r < 0)
                return r;
        l = local_disks_from_string(n->value);
        if (l < 0) {
                snprintf(b, sizeof(b), "%.40s", n->value);
                for (char *s = b; *s; s++)
                        if ((unsigned char) *s < 0x20 || *s == '\'')
                                *s = '?';
                return yerr(
                        c, n, "invalid value '%s' for 'storage.local_disks' (expected copy or exclude)", b);
        }
        *ret = l;
        return 0;
}

static int parse_storage(YContext *c, const YNode *n, StoragePolicy *s) {
        static const char *const keys[] = {"local_disks", "copy_bandwidth", "remove_source", NULL};
        int r = ymap_check(c, n, "storage", keys);
        if (r < 0)
                return r;
        OPT(r, n, "local_disks", parse_local_disks(c, v, &s->local_disks));
        OPT(r, n, "copy_bandwidth",
            yget_size_mib(c, v, "storage.copy_bandwidth", 1, 1024 * 1024, &s->copy_bandwidth_mib_s));
        OPT(r, n, "remove_source", yget_bool(c, v, "storage.remove_source", &s->remove_source));
        return 0;
}

/* ---- the document ---- */

static int parse_root(YContext *c, const YNode *n, Policy *p) {
        static const char *const keys[] = {
                "balance", "limits", "automation", "groups", "rules", "dpm", "migration", "storage", NULL,
        };
        int r = ymap_check(c, n, "policy", keys);
        if (r < 0)
                return r;
        /* Sections in document order: the first error in the file is the one reported. */
        for (size_t i = 0; i + 1 < n->n_children; i += 2) {
                const char *k = n->children[i]->value;
                const YNode *v = n->children[i + 1];

                if (streq(k, "balance"))
                        r = parse_balance(c, v, &p->balance);
                else if (streq(k, "limits"))
                        r = parse_limits(c, v, &p->limits);
                else if (streq(k, "automation"))
                        r = parse_automation(c, v, &p->automation);
                else if (streq(k, "groups"))
                        r = parse_groups(c, v, p);
                else if (streq(k, "rules"))
                        r = parse_rules(c, v, p);
                else if (streq(k, "dpm"))
                        r = parse_dpm(c, v, &p->dpm);
                else if (streq(k, "migration"))
                        r = parse_migration(c, v, &p->migration);
                else
                        r = parse_storage(c, v, &p->storage);
                if (r < 0)
                        return r;
        }
        return 0;
}

int policy_parse_node(Policy *p, const char *file, const YNode *root, PolicyError *reterr) {
        _cleanup_(policy_freep) Policy *q = NULL;
        YContext c = {.file = file ?: "<input>", .error = reterr};
        int r;

        r = policy_copy(p, &q);
        if (r < 0)
                return r;
        if (root) {
                r = parse_root(&c, root, q);
                if (r < 0)
                        return r;
        }
        policy_done(p);
        *p = *q;
        *q = (Policy){};
        return 0;
}

int policy_parse_string(Policy *p, const char *filename, const char *buf, size_t len, PolicyError *reterr) {
        _cleanup_(ynode_freep) YNode *root = NULL;
        int r;

        r = ytree_parse(filename ?: "<input>", buf, len, &root, reterr);
        if (r < 0)
                return r;
        return policy_parse_node(p, filename, root, reterr);
}
