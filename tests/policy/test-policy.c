/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Policy object: defaults, overlay semantics, copy, validation, queries, printing. */

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "policy-internal.h"

static Policy *parse(const char *s) {
        Policy *p = NULL;
        PolicyError e = {};

        assert_int_equal(policy_new(&p), 0);
        if (policy_parse_string(p, "t.yaml", s, strlen(s), &e) < 0)
                fail_msg("unexpected error %u:%u: %s", e.line, e.column, e.message);
        return p;
}

static void test_defaults(void **state) {
        Policy *p = NULL;

        assert_int_equal(policy_new(&p), 0);
        assert_true(p->balance.enabled);
        assert_int_equal(p->balance.aggressiveness, 3);
        assert_true(p->balance.cooldown_s == 3600);
        assert_int_equal(p->balance.max_moves_per_pass, 50);
        assert_true(p->balance.interval_s == 300);
        assert_int_equal(p->limits.migrations_out_per_host, 1);
        assert_int_equal(p->limits.migrations_in_per_host, 1);
        assert_int_equal(p->limits.migrations_per_cluster, 8);
        assert_true(p->limits.memory_reserve_mib == 1024);
        assert_true(p->limits.memory_overcommit == 1.0);
        assert_int_equal(p->automation.level, AUTOMATION_FULL);
        assert_string_equal(p->automation.timezone, "UTC");
        assert_false(p->dpm.enabled);
        assert_true(p->dpm.target_low == 0.45 && p->dpm.target_high == 0.81);
        assert_int_equal(p->migration.n_max_downtime_ms, 3);
        assert_true(p->migration.max_downtime_ms[2] == 3000);
        assert_true(p->migration.auto_converge);
        assert_false(p->migration.post_copy);
        assert_true(p->migration.timeout_s_per_gib == 120);
        assert_non_null(p->dpm.exclude);
        assert_int_equal(policy_validate(p, NULL), 0);
        assert_null(policy_free(p));
        assert_null(policy_free(NULL));
}

static void test_overlay(void **state) {
        Policy *p = parse("balance: {aggressiveness: 2, cooldown: 10m}\n"
                          "groups: {vms: {web: [\"web*\"]}}\n"
                          "automation: {overrides: [{vm: a, level: manual}]}\n");
        PolicyError e = {};
        const char *second = "balance: {aggressiveness: 4}\n"
                             "groups: {hosts: {rack1: [h01]}}\n"
                             "automation: {overrides: [{vm: b, level: disabled}]}\n";

        assert_int_equal(policy_parse_string(p, "u.yaml", second, strlen(second), &e), 0);
        assert_null(e.message);                         /* untouched on success */
        assert_int_equal(p->balance.aggressiveness, 4); /* replaced */
        assert_true(p->balance.cooldown_s == 600);      /* kept */
        assert_int_equal(p->n_groups, 2);               /* appended */
        assert_int_equal(p->automation.n_overrides, 2);
        assert_string_equal(p->automation.overrides[1].pattern, "b");
        policy_free(p);
}

static void test_failed_overlay_keeps_policy(void **state) {
        Policy *p = parse("balance: {aggressiveness: 2}\ngroups: {vms: {web: []}}\n");
        _cleanup_free_ char *before = NULL, *after = NULL;
        PolicyError e = {};
        /* Valid changes first, then an error: none of it may stick. */
        const char *bad =
                "balance: {aggressiveness: 5}\ngroups: {vms: {db: []}}\nlimits: {memory_overcommit: 9}\n";

        assert_int_equal(policy_to_yaml(p, &before), 0);
        assert_int_equal(policy_parse_string(p, "bad.yaml", bad, strlen(bad), &e), -EINVAL);
        assert_string_equal(e.file, "bad.yaml");
        assert_int_equal(e.line, 3);
        assert_int_equal(e.column, 29);
        assert_int_equal(policy_to_yaml(p, &after), 0);
        assert_string_equal(before, after);
        assert_int_equal(p->balance.aggressiveness, 2);
        assert_int_equal(p->n_groups, 1);
        policy_error_clear(&e);
        policy_free(p);
}

static void test_copy(void **state) {
        Policy *p = parse(
                "groups: {vms: {web: [\"web*\", x]}, hosts: {r: []}}\n"
                "rules: [{name: a, type: keep-apart, vms: web}]\n"
                "dpm: {power_on: \"on {host}\", hosts: {h1: {power_off: off}}, exclude: [h9]}\n"
                "automation: {windows: [{days: sat, from: \"01:00\", to: \"02:00\", level: manual}]}\n");
        Policy *c = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(policy_copy(p, &c), 0);
        assert_int_equal(policy_to_yaml(p, &a), 0);
        assert_int_equal(policy_to_yaml(c, &b), 0);
        assert_string_equal(a, b);
        /* Deep: the copy owns its strings. */
        assert_ptr_not_equal(p->groups[0].members, c->groups[0].members);
        assert_ptr_not_equal(p->rules[0].name, c->rules[0].name);
        assert_string_equal(c->rules[0].file, "t.yaml");
        policy_free(p);
        assert_string_equal(c->dpm.hosts[0].commands.power_off, "off");
        policy_free(c);
}

static void test_validate(void **state) {
        Policy *p = parse("groups: {vms: {web: []}, hosts: {rack: []}}\n"
                          "rules:\n"
                          "  - {name: ok, type: keep-apart, vms: web}\n"
                          "  - {name: bad, type: must-run-on, vms: web, hosts: web}\n");
        PolicyError e = {};

        assert_int_equal(policy_validate(p, &e), -EINVAL);
        assert_string_equal(e.file, "t.yaml");
        assert_int_equal(e.line, 4);
        assert_int_equal(e.column, 5);
        assert_string_equal(e.message, "rule 'bad' names 'web' in 'hosts', but it is a VM group");
        policy_error_clear(&e);

        /* Programmatic policies are checked too. */
        free(p->rules[1].host_group);
        p->rules[1].host_group = strdup("rack");
        assert_int_equal(policy_validate(p, &e), 0);
        p->balance.weight_cpu = p->balance.weight_memory = 0;
        assert_int_equal(policy_validate(p, &e), -EINVAL);
        policy_error_clear(&e);
        p->balance.weight_cpu = 1;
        p->dpm.target_low = 0.9;
        assert_int_equal(policy_validate(p, &e), -EINVAL);
        assert_non_null(strstr(e.message, "below"));
        policy_error_clear(&e);
        policy_free(p);
}

static void test_threshold(void **state) {
        assert_true(isinf(policy_imbalance_threshold(1)));
        assert_true(policy_imbalance_threshold(2) == 0.20);
        assert_true(policy_imbalance_threshold(3) == 0.10);
        assert_true(policy_imbalance_threshold(4) == 0.05);
        assert_true(policy_imbalance_threshold(5) == 0.02);
        /* Strictly decreasing: more aggressive acts on less imbalance. */
        for (int i = 1; i < 5; i++)
                assert_true(policy_imbalance_threshold(i + 1) < policy_imbalance_threshold(i));
        assert_true(isinf(policy_imbalance_threshold(0)));
        assert_true(policy_imbalance_threshold(9) == 0.02);
}

static void test_automation_at(void **state) {
        Policy *p = parse("automation:\n"
                          "  level: manual\n"
                          "  windows:\n"
                          "    - {days: sat, from: \"22:00\", to: \"02:00\", level: full}\n"
                          "    - {days: weekdays, from: \"12:00\", to: \"13:00\", level: partial}\n"
                          "    - {days: sun, from: \"01:00\", to: \"24:00\", level: partial}\n");

        /* weekday 0 = Monday, 5 = Saturday, 6 = Sunday */
        assert_int_equal(policy_automation_at(p, 5, 21 * 60 + 59), AUTOMATION_MANUAL);
        assert_int_equal(policy_automation_at(p, 5, 22 * 60), AUTOMATION_FULL);
        assert_int_equal(policy_automation_at(p, 5, 23 * 60 + 59), AUTOMATION_FULL);
        /* After midnight, the Saturday window still holds on Sunday morning; first match wins. */
        assert_int_equal(policy_automation_at(p, 6, 0), AUTOMATION_FULL);
        assert_int_equal(policy_automation_at(p, 6, 90), AUTOMATION_FULL);
        assert_int_equal(policy_automation_at(p, 6, 120), AUTOMATION_PARTIAL);
        /* But not on Saturday morning (Friday has no window). */
        assert_int_equal(policy_automation_at(p, 5, 60), AUTOMATION_MANUAL);
        assert_int_equal(policy_automation_at(p, 2, 12 * 60 + 30), AUTOMATION_PARTIAL);
        assert_int_equal(policy_automation_at(p, 2, 13 * 60), AUTOMATION_MANUAL);
        assert_int_equal(policy_automation_at(p, 5, 12 * 60 + 30), AUTOMATION_MANUAL);
        policy_free(p);
}

static void test_vm_automation(void **state) {
        Policy *p =
                parse("automation:\n  overrides:\n    - {vm: \"db-*\", level: manual}\n"
                      "    - {vm: db-legacy, level: disabled}\n    - {vm: \"web[0-9]\", level: disabled}\n");

        assert_int_equal(policy_vm_automation(p, "db-01", AUTOMATION_FULL), AUTOMATION_MANUAL);
        /* first match wins */
        assert_int_equal(policy_vm_automation(p, "db-legacy", AUTOMATION_FULL), AUTOMATION_MANUAL);
        assert_int_equal(policy_vm_automation(p, "web7", AUTOMATION_FULL), AUTOMATION_DISABLED);
        assert_int_equal(policy_vm_automation(p, "web77", AUTOMATION_PARTIAL), AUTOMATION_PARTIAL);
        policy_free(p);
}

static void test_enum_strings(void **state) {
        for (int i = 0; i < _AUTOMATION_MAX; i++)
                assert_int_equal(automation_level_from_string(automation_level_to_string(i)), i);
        for (int i = 0; i < _RULE_TYPE_MAX; i++)
                assert_int_equal(rule_type_from_string(rule_type_to_string(i)), i);
        assert_string_equal(rule_type_to_string(RULE_SHOULD_NOT_RUN_ON), "should-not-run-on");
        assert_string_equal(automation_level_to_string(AUTOMATION_PARTIAL), "partial");
        assert_int_equal(automation_level_from_string("Full"), _AUTOMATION_INVALID);
        assert_int_equal(rule_type_from_string(NULL), _RULE_TYPE_INVALID);
        assert_null(automation_level_to_string(_AUTOMATION_MAX));
        assert_null(rule_type_to_string(-1));
}

static void test_expand_command(void **state) {
        char *s = NULL;
        size_t off = 0, len = 0;

        assert_int_equal(
                policy_expand_command(
                        "ipmitool -H {bmc} on # {host} {{x}}", "h1", NULL, NULL, "10.0.0.9", &s),
                0);
        assert_string_equal(s, "ipmitool -H 10.0.0.9 on # h1 {x}");
        free(s);
        assert_int_equal(policy_expand_command("wol {mac}{address}", "h", "a", "m", "b", &s), 0);
        assert_string_equal(s, "wol ma");
        free(s);
        assert_int_equal(policy_expand_command("x {nope}", "h", "a", "m", "b", &s), -EINVAL);
        assert_int_equal(policy_check_command("ab {host} {bad}", &off, &len), -EINVAL);
        assert_int_equal(off, 10);
        assert_int_equal(len, 5);
        assert_int_equal(policy_check_command("ab {host", &off, &len), -EINVAL);
        assert_int_equal(off, 3);
        assert_int_equal(policy_check_command("lone } brace", NULL, NULL), 0);
}

static void test_json(void **state) {
        Policy *p = parse("groups: {vms: {web: [\"web*\"]}}\n"
                          "rules: [{name: a, type: keep-apart, vms: web}]\n"
                          "migration: {max_downtime: [100ms, 2s]}\n");
        _cleanup_free_ char *s = NULL;
        json_object *o, *v;

        assert_int_equal(policy_to_json(p, &s), 0);
        o = json_tokener_parse(s);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "balance", &v));
        assert_true(json_object_object_get_ex(v, "cooldown_s", &v));
        assert_int_equal(json_object_get_int64(v), 3600);
        assert_true(json_object_object_get_ex(o, "migration", &v));
        assert_true(json_object_object_get_ex(v, "max_downtime_ms", &v));
        assert_int_equal(json_object_array_length(v), 2);
        assert_int_equal(json_object_get_int64(json_object_array_get_idx(v, 1)), 2000);
        assert_true(json_object_object_get_ex(o, "rules", &v));
        assert_string_equal(
                json_object_get_string(json_object_object_get(json_object_array_get_idx(v, 0), "type")),
                "keep-apart");
        json_object_put(o);
        policy_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_overlay),
                cmocka_unit_test(test_failed_overlay_keeps_policy),
                cmocka_unit_test(test_copy),
                cmocka_unit_test(test_validate),
                cmocka_unit_test(test_threshold),
                cmocka_unit_test(test_automation_at),
                cmocka_unit_test(test_vm_automation),
                cmocka_unit_test(test_enum_strings),
                cmocka_unit_test(test_expand_command),
                cmocka_unit_test(test_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
