/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The effective policy as YAML (re-parseable by policy_parse_string) and as JSON. Pure. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "policy-internal.h"

/* ---- YAML ---- */

static void put_quoted(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;
                if (ch == '"' || ch == '\\')
                        fprintf(f, "\\%c", ch);
                else if (ch == '\n')
                        fputs("\\n", f);
                else if (ch == '\t')
                        fputs("\\t", f);
                else if (ch < 0x20 || ch == 0x7F)
                        fprintf(f, "\\x%02x", ch);
                else
                        fputc(ch, f);
        }
        fputc('"', f);
}

static void put_double(FILE *f, const char *indent, const char *key, double d) {
        char b[64];
        format_double(d, b, sizeof(b));
        fprintf(f, "%s%s: %s\n", indent, key, b);
}

static void put_duration_s(FILE *f, const char *indent, const char *key, uint64_t s) {
        char b[64];
        format_duration_ms(s * 1000, b, sizeof(b));
        fprintf(f, "%s%s: %s\n", indent, key, b);
}

static void put_bool(FILE *f, const char *indent, const char *key, bool b) {
        fprintf(f, "%s%s: %s\n", indent, key, b ? "true" : "false");
}

static void put_strv_flow(FILE *f, char *const *l) {
        fputc('[', f);
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        fputs(", ", f);
                put_quoted(f, l[i]);
        }
        fputc(']', f);
}

static void put_commands(FILE *f, const char *indent, const PowerCommands *c) {
        if (c->power_on) {
                fprintf(f, "%spower_on: ", indent);
                put_quoted(f, c->power_on);
                fputc('\n', f);
        }
        if (c->power_off) {
                fprintf(f, "%spower_off: ", indent);
                put_quoted(f, c->power_off);
                fputc('\n', f);
        }
}

static void put_hhmm(FILE *f, const char *key, unsigned min) {
        fprintf(f, "      %s: \"%02u:%02u\"\n", key, min / 60, min % 60);
}

static const char *const day_short[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static void put_groups(FILE *f, const Policy *p, GroupKind kind) {
        bool any = false;

        fprintf(f, "  %s:", kind == GROUP_HOST ? "hosts" : "vms");
        for (size_t i = 0; i < p->n_groups; i++) {
                if (p->groups[i].kind != kind)
                        continue;
                fputs("\n    ", f);
                put_quoted(f, p->groups[i].name);
                fputs(": ", f);
                put_strv_flow(f, p->groups[i].members);
                any = true;
        }
        fputs(any ? "\n" : " {}\n", f);
}

int policy_to_yaml(const Policy *p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        char b[64];
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fputs("balance:\n", f);
        put_bool(f, "  ", "enabled", p->balance.enabled);
        fprintf(f, "  aggressiveness: %d\n", p->balance.aggressiveness);
        fputs("  weights:\n", f);
        put_double(f, "    ", "cpu", p->balance.weight_cpu);
        put_double(f, "    ", "memory", p->balance.weight_memory);
        put_double(f, "  ", "min_gain", p->balance.min_gain);
        put_duration_s(f, "  ", "cooldown", p->balance.cooldown_s);
        fprintf(f, "  max_moves_per_pass: %u\n", p->balance.max_moves_per_pass);
        put_duration_s(f, "  ", "interval", p->balance.interval_s);
        put_double(f, "  ", "overload", p->balance.overload);

        fputs("limits:\n", f);
        fprintf(f, "  migrations_per_host:\n    outgoing: %u\n    incoming: %u\n",
                p->limits.migrations_out_per_host, p->limits.migrations_in_per_host);
        fprintf(f, "  migrations_per_cluster: %u\n", p->limits.migrations_per_cluster);
        format_size_mib(p->limits.memory_reserve_mib, b, sizeof(b));
        fprintf(f, "  memory_reserve: %s\n", b);
        put_double(f, "  ", "memory_overcommit", p->limits.memory_overcommit);
        put_double(f, "  ", "vcpu_per_core", p->limits.vcpu_per_core);

        fputs("automation:\n", f);
        fprintf(f, "  level: %s\n", automation_level_to_string(p->automation.level) ?: "full");
        fputs("  timezone: ", f);
        put_quoted(f, p->automation.timezone ?: "UTC");
        fputc('\n', f);
        fprintf(f, "  overrides:%s\n", p->automation.n_overrides ? "" : " []");
        for (size_t i = 0; i < p->automation.n_overrides; i++) {
                fputs("    - vm: ", f);
                put_quoted(f, p->automation.overrides[i].pattern);
                fprintf(f, "\n      level: %s\n",
                        automation_level_to_string(p->automation.overrides[i].level));
        }
        fprintf(f, "  windows:%s\n", p->automation.n_windows ? "" : " []");
        for (size_t i = 0; i < p->automation.n_windows; i++) {
                const AutomationWindow *w = &p->automation.windows[i];
                bool first = true;

                fputs("    - days: [", f);
                for (unsigned d = 0; d < 7; d++)
                        if (w->days & (1u << d)) {
                                fprintf(f, "%s%s", first ? "" : ", ", day_short[d]);
                                first = false;
                        }
                fputs("]\n", f);
                put_hhmm(f, "from", w->start_min);
                put_hhmm(f, "to", w->end_min);
                fprintf(f, "      level: %s\n", automation_level_to_string(w->level));
        }

        fputs("groups:\n", f);
        put_groups(f, p, GROUP_HOST);
        put_groups(f, p, GROUP_VM);

        fprintf(f, "rules:%s\n", p->n_rules ? "" : " []");
        for (size_t i = 0; i < p->n_rules; i++) {
                const Rule *r = &p->rules[i];
                fputs("  - name: ", f);
                put_quoted(f, r->name);
                fprintf(f, "\n    type: %s\n    vms: ", rule_type_to_string(r->type));
                put_quoted(f, r->vm_group);
                fputc('\n', f);
                if (r->host_group) {
                        fputs("    hosts: ", f);
                        put_quoted(f, r->host_group);
                        fputc('\n', f);
                }
                put_bool(f, "    ", "hard", r->hard);
                put_bool(f, "    ", "enabled", r->enabled);
        }

        fputs("dpm:\n", f);
        put_bool(f, "  ", "enabled", p->dpm.enabled);
        fputs("  target_utilization:\n", f);
        put_double(f, "    ", "low", p->dpm.target_low);
        put_double(f, "    ", "high", p->dpm.target_high);
        fprintf(f, "  min_hosts_on: %u\n  headroom_hosts: %u\n", p->dpm.min_hosts_on, p->dpm.headroom_hosts);
        fprintf(f, "  tolerate_failures: %u\n", p->dpm.tolerate_failures);
        put_duration_s(f, "  ", "power_on_delay", p->dpm.power_on_delay_s);
        put_duration_s(f, "  ", "standby_delay", p->dpm.standby_delay_s);
        put_double(f, "  ", "standby_percentile", p->dpm.standby_percentile);
        put_duration_s(f, "  ", "power_on_timeout", p->dpm.power_on_timeout_s);
        put_commands(f, "  ", &p->dpm.commands);
        fprintf(f, "  hosts:%s\n", p->dpm.n_hosts ? "" : " {}");
        for (size_t i = 0; i < p->dpm.n_hosts; i++) {
                fputs("    ", f);
                put_quoted(f, p->dpm.hosts[i].host);
                if (p->dpm.hosts[i].commands.power_on || p->dpm.hosts[i].commands.power_off) {
                        fputs(":\n", f);
                        put_commands(f, "      ", &p->dpm.hosts[i].commands);
                } else
                        fputs(": {}\n", f);
        }
        fputs("  exclude: ", f);
        put_strv_flow(f, p->dpm.exclude);
        fputc('\n', f);

        fputs("migration:\n", f);
        format_size_mib(p->migration.bandwidth_mib_s, b, sizeof(b));
        fprintf(f, "  bandwidth: %s\n", b);
        fputs("  max_downtime: [", f);
        for (size_t i = 0; i < p->migration.n_max_downtime_ms; i++) {
                format_duration_ms(p->migration.max_downtime_ms[i], b, sizeof(b));
                fprintf(f, "%s%s", i > 0 ? ", " : "", b);
        }
        fputs("]\n", f);
        put_bool(f, "  ", "auto_converge", p->migration.auto_converge);
        put_bool(f, "  ", "post_copy", p->migration.post_copy);
        fprintf(f, "  tls: %s\n", migration_tls_to_string(p->migration.tls));
        put_duration_s(f, "  ", "timeout_per_gib", p->migration.timeout_s_per_gib);
        fputs("  remote:\n", f);
        fprintf(f, "    parallel_connections: %u\n", p->migration.remote.parallel_connections);
        fprintf(f, "    compression: %s\n",
                migration_compression_to_string(p->migration.remote.compression));
        format_size_mib(p->migration.remote.bandwidth_mib_s, b, sizeof(b));
        fprintf(f, "    bandwidth: %s\n", b);

        fputs("storage:\n", f);
        fprintf(f, "  local_disks: %s\n", local_disks_to_string(p->storage.local_disks));
        format_size_mib(p->storage.copy_bandwidth_mib_s, b, sizeof(b));
        fprintf(f, "  copy_bandwidth: %s\n", b);
        put_bool(f, "  ", "remove_source", p->storage.remove_source);

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- JSON ---- */

static void jadd(json_object *o, const char *key, json_object *v) {
        json_object_object_add(o, key, v);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static json_object *jdouble(double d) {
        char b[64];
        format_double(d, b, sizeof(b));
        return json_object_new_double_s(d, b);
}

static json_object *jstr(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *jstrv(char *const *l) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && l && l[i]; i++)
                json_object_array_add(a, json_object_new_string(l[i]));
        return a;
}

static json_object *jcommands(const PowerCommands *c) {
        json_object *o = json_object_new_object();
        jadd(o, "power_on", jstr(c->power_on));
        jadd(o, "power_off", jstr(c->power_off));
        return o;
}

int policy_to_json(const Policy *p, char **ret) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *o, *a, *x;
        const char *s;
        char *copy;

        root = json_object_new_object();
        if (!root)
                return -ENOMEM;

        o = json_object_new_object();
        jadd(o, "enabled", json_object_new_boolean(p->balance.enabled));
        jadd(o, "aggressiveness", json_object_new_int(p->balance.aggressiveness));
        jadd(o, "imbalance_threshold",
             p->balance.aggressiveness <= 1
                     ? NULL
                     : jdouble(policy_imbalance_threshold(p->balance.aggressiveness)));
        x = json_object_new_object();
        jadd(x, "cpu", jdouble(p->balance.weight_cpu));
        jadd(x, "memory", jdouble(p->balance.weight_memory));
        jadd(o, "weights", x);
        jadd(o, "min_gain", jdouble(p->balance.min_gain));
        jadd(o, "cooldown_s", json_object_new_uint64(p->balance.cooldown_s));
        jadd(o, "max_moves_per_pass", json_object_new_uint64(p->balance.max_moves_per_pass));
        jadd(o, "interval_s", json_object_new_uint64(p->balance.interval_s));
        jadd(o, "overload", jdouble(p->balance.overload));
        jadd(root, "balance", o);

        o = json_object_new_object();
        x = json_object_new_object();
        jadd(x, "outgoing", json_object_new_uint64(p->limits.migrations_out_per_host));
        jadd(x, "incoming", json_object_new_uint64(p->limits.migrations_in_per_host));
        jadd(o, "migrations_per_host", x);
        jadd(o, "migrations_per_cluster", json_object_new_uint64(p->limits.migrations_per_cluster));
        jadd(o, "memory_reserve_mib", json_object_new_uint64(p->limits.memory_reserve_mib));
        jadd(o, "memory_overcommit", jdouble(p->limits.memory_overcommit));
        jadd(o, "vcpu_per_core", jdouble(p->limits.vcpu_per_core));
        jadd(root, "limits", o);

        o = json_object_new_object();
        jadd(o, "level", jstr(automation_level_to_string(p->automation.level)));
        jadd(o, "timezone", jstr(p->automation.timezone));
        a = json_object_new_array();
        for (size_t i = 0; i < p->automation.n_overrides; i++) {
                x = json_object_new_object();
                jadd(x, "vm", jstr(p->automation.overrides[i].pattern));
                jadd(x, "level", jstr(automation_level_to_string(p->automation.overrides[i].level)));
                json_object_array_add(a, x);
        }
        jadd(o, "overrides", a);
        a = json_object_new_array();
        for (size_t i = 0; i < p->automation.n_windows; i++) {
                const AutomationWindow *w = &p->automation.windows[i];
                json_object *days = json_object_new_array();
                char t[8];

                x = json_object_new_object();
                for (unsigned d = 0; d < 7; d++)
                        if (w->days & (1u << d))
                                json_object_array_add(days, json_object_new_string(day_short[d]));
                jadd(x, "days", days);
                snprintf(t, sizeof(t), "%02u:%02u", w->start_min / 60 % 100, w->start_min % 60);
                jadd(x, "from", json_object_new_string(t));
                snprintf(t, sizeof(t), "%02u:%02u", w->end_min / 60 % 100, w->end_min % 60);
                jadd(x, "to", json_object_new_string(t));
                jadd(x, "level", jstr(automation_level_to_string(w->level)));
                json_object_array_add(a, x);
        }
        jadd(o, "windows", a);
        jadd(root, "automation", o);

        o = json_object_new_object();
        for (int kind = GROUP_HOST; kind <= GROUP_VM; kind++) {
                x = json_object_new_object();
                for (size_t i = 0; i < p->n_groups; i++)
                        if ((int) p->groups[i].kind == kind)
                                jadd(x, p->groups[i].name, jstrv(p->groups[i].members));
                jadd(o, kind == GROUP_HOST ? "hosts" : "vms", x);
        }
        jadd(root, "groups", o);

        a = json_object_new_array();
        for (size_t i = 0; i < p->n_rules; i++) {
                const Rule *r = &p->rules[i];
                x = json_object_new_object();
                jadd(x, "name", jstr(r->name));
                jadd(x, "type", jstr(rule_type_to_string(r->type)));
                jadd(x, "vms", jstr(r->vm_group));
                jadd(x, "hosts", jstr(r->host_group));
                jadd(x, "hard", json_object_new_boolean(r->hard));
                jadd(x, "enabled", json_object_new_boolean(r->enabled));
                json_object_array_add(a, x);
        }
        jadd(root, "rules", a);

        o = json_object_new_object();
        jadd(o, "enabled", json_object_new_boolean(p->dpm.enabled));
        x = json_object_new_object();
        jadd(x, "low", jdouble(p->dpm.target_low));
        jadd(x, "high", jdouble(p->dpm.target_high));
        jadd(o, "target_utilization", x);
        jadd(o, "min_hosts_on", json_object_new_uint64(p->dpm.min_hosts_on));
        jadd(o, "headroom_hosts", json_object_new_uint64(p->dpm.headroom_hosts));
        jadd(o, "tolerate_failures", json_object_new_uint64(p->dpm.tolerate_failures));
        jadd(o, "power_on_delay_s", json_object_new_uint64(p->dpm.power_on_delay_s));
        jadd(o, "standby_delay_s", json_object_new_uint64(p->dpm.standby_delay_s));
        jadd(o, "standby_percentile", jdouble(p->dpm.standby_percentile));
        jadd(o, "power_on_timeout_s", json_object_new_uint64(p->dpm.power_on_timeout_s));
        jadd(o, "power_on", jstr(p->dpm.commands.power_on));
        jadd(o, "power_off", jstr(p->dpm.commands.power_off));
        x = json_object_new_object();
        for (size_t i = 0; i < p->dpm.n_hosts; i++)
                jadd(x, p->dpm.hosts[i].host, jcommands(&p->dpm.hosts[i].commands));
        jadd(o, "hosts", x);
        jadd(o, "exclude", jstrv(p->dpm.exclude));
        jadd(root, "dpm", o);

        o = json_object_new_object();
        jadd(o, "bandwidth_mib_s", json_object_new_uint64(p->migration.bandwidth_mib_s));
        a = json_object_new_array();
        for (size_t i = 0; i < p->migration.n_max_downtime_ms; i++)
                json_object_array_add(a, json_object_new_uint64(p->migration.max_downtime_ms[i]));
        jadd(o, "max_downtime_ms", a);
        jadd(o, "auto_converge", json_object_new_boolean(p->migration.auto_converge));
        jadd(o, "post_copy", json_object_new_boolean(p->migration.post_copy));
        jadd(o, "tls", json_object_new_string(migration_tls_to_string(p->migration.tls)));
        jadd(o, "timeout_per_gib_s", json_object_new_uint64(p->migration.timeout_s_per_gib));
        x = json_object_new_object();
        jadd(x, "parallel_connections", json_object_new_uint64(p->migration.remote.parallel_connections));
        jadd(x, "compression",
             json_object_new_string(migration_compression_to_string(p->migration.remote.compression)));
        jadd(x, "bandwidth_mib_s", json_object_new_uint64(p->migration.remote.bandwidth_mib_s));
        jadd(o, "remote", x);
        jadd(root, "migration", o);

        o = json_object_new_object();
        jadd(o, "local_disks", json_object_new_string(local_disks_to_string(p->storage.local_disks)));
        jadd(o, "copy_bandwidth_mib_s", json_object_new_uint64(p->storage.copy_bandwidth_mib_s));
        jadd(o, "remove_source", json_object_new_boolean(p->storage.remove_source));
        jadd(root, "storage", o);

        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}
