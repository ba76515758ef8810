/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drsd.yaml. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "config.h"
#include "macro.h"

static DrsConfig *parse_ok(const char *s) {
        DrsConfig *c = NULL;
        PolicyError e = {};

        if (drs_config_parse_string("drsd.yaml", s, strlen(s), &c, &e) < 0)
                fail_msg("unexpected error %u:%u: %s", e.line, e.column, e.message);
        return c;
}

static void parse_fails(const char *s, unsigned line, unsigned column, const char *message) {
        DrsConfig *c = NULL;
        PolicyError e = {};
        char *got = NULL;

        assert_int_equal(drs_config_parse_string("drsd.yaml", s, strlen(s), &c, &e), -EINVAL);
        assert_null(c);
        assert_int_equal(policy_error_to_string(&e, &got), 0);
        if (e.line != line || e.column != column || !strstr(e.message, message))
                fail_msg("got '%s', expected %u:%u: …%s…", got, line, column, message);
        free(got);
        policy_error_clear(&e);
}

static void test_defaults(void **state) {
        DrsConfig *c = parse_ok("hosts:\n  - {name: h01, uri: \"qemu+tls://h01/system\"}\n");

        assert_int_equal(c->mode, DRS_MODE_STANDALONE);
        assert_true(c->interval_s == 10);
        assert_string_equal(c->socket, "/run/drsd/drsd.sock");
        assert_null(c->admin_group);
        assert_string_equal(c->state_dir, "/var/lib/drsd");
        assert_string_equal(c->migration_tls_dir, "/etc/pki/qemu");
        assert_null(c->metrics_listen);
        assert_string_equal(c->policy, "/etc/drs/policy.yaml");
        assert_string_equal(c->policy_dir, "/etc/drs/policy.d");
        assert_int_equal(c->n_hosts, 1);
        assert_string_equal(c->hosts[0].migration_uri, "qemu+tls://h01/system"); /* defaults to uri */
        assert_null(c->hosts[0].mac);
        assert_non_null(c->hosts[0].groups);
        assert_int_equal(strv_length(c->hosts[0].groups), 0);
        assert_null(drs_config_free(c));
}

static void test_full(void **state) {
        DrsConfig *c = parse_ok("mode: standalone\n"
                                "interval: 30s\n"
                                "socket: /run/x.sock\n"
                                "admin_group: drs\n"
                                "state_dir: /srv/drs\n"
                                "migration_tls_dir: /etc/pki/qemu-migration\n"
                                "metrics_listen: \"[::1]:9477\"\n"
                                "policy: /etc/p.yaml\n"
                                "policy_dir: /etc/p.d\n"
                                "hosts:\n"
                                "  - name: h01\n"
                                "    uri: qemu+ssh://root@h01/system\n"
                                "    migration_uri: qemu+tcp://10.1.0.1/system\n"
                                "    address: 10.0.0.1\n"
                                "    mac: \"52:54:00:aa:bb:cc\"\n"
                                "    bmc: 10.9.0.1\n"
                                "    groups: [rack1, gpu]\n"
                                "  - {name: h02, uri: \"qemu+ssh://root@h02/system\"}\n");

        assert_true(c->interval_s == 30);
        assert_string_equal(c->admin_group, "drs");
        assert_string_equal(c->migration_tls_dir, "/etc/pki/qemu-migration");
        assert_string_equal(c->metrics_listen, "[::1]:9477");
        assert_string_equal(c->hosts[0].migration_uri, "qemu+tcp://10.1.0.1/system");
        assert_string_equal(c->hosts[0].mac, "52:54:00:aa:bb:cc");
        assert_string_equal(c->hosts[0].groups[1], "gpu");
        assert_non_null(drs_config_find_host(c, "h02"));
        assert_null(drs_config_find_host(c, "h03"));
        drs_config_free(c);
}

static void test_corosync(void **state) {
        DrsConfig *c = parse_ok(
                "mode: corosync\nhost: h1\nmetrics_listen: \"\"\nhosts:\n  - {name: h1, migration_uri: "
                "\"qemu+tls://h1/system\", mac: \"52:54:00:00:00:01\"}\n  - {name: h2, uri: \"qemu+tcp://h2/system\"}\n");

        assert_int_equal(c->mode, DRS_MODE_COROSYNC);
        assert_string_equal(c->host, "h1");
        assert_int_equal(c->n_hosts, 2);
        assert_null(c->metrics_listen);
        /* The local URI is optional (the host's own drsd defaults to qemu:///system). */
        assert_null(c->hosts[0].uri);
        assert_string_equal(c->hosts[0].migration_uri, "qemu+tls://h1/system");
        assert_string_equal(c->hosts[1].migration_uri, "qemu+tcp://h2/system");
        drs_config_free(c);
        /* host may be left out: the machine's hostname then. */
        c = parse_ok("mode: corosync\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n");
        assert_null(c->host);
        drs_config_free(c);
        assert_string_equal(drs_mode_to_string(DRS_MODE_COROSYNC), "corosync");
        assert_int_equal(drs_mode_from_string("standalone"), DRS_MODE_STANDALONE);
        assert_int_equal(drs_mode_from_string("cluster"), _DRS_MODE_INVALID);
        parse_fails("mode: corosync\n", 1, 1, "corosync mode needs a non-empty 'hosts' list");
        parse_fails(
                "mode: corosync\nhosts: [{name: h1, mac: \"52:54:00:00:00:01\"}]\n", 2, 9,
                "missing key 'migration_uri' (or 'uri') for host 'h1'");
        parse_fails(
                "mode: corosync\nhost: h9\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n", 2, 7,
                "host 'h9' is not in the 'hosts' list");
        parse_fails("mode: corosync\nhost: \"h 1\"\n", 2, 7, "invalid host name 'h 1'");
        parse_fails(
                "host: h1\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n", 1, 7,
                "'host' is only used in corosync mode");
}

static void test_errors(void **state) {
        parse_fails("", 1, 1, "empty configuration");
        parse_fails(
                "migration_tls_dir: pki/qemu\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n", 1, 20,
                "invalid value for 'migration_tls_dir' (expected an absolute path");
        parse_fails(
                "migration_tls_dir: \"/etc/pki/<q>\"\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n", 1, 20,
                "invalid value for 'migration_tls_dir'");
        parse_fails("mode: standalone\n", 1, 1, "standalone mode needs a non-empty 'hosts' list");
        parse_fails("hosts: []\n", 1, 8, "standalone mode needs a non-empty 'hosts' list");
        parse_fails("mode: cluster\n", 1, 7, "invalid value 'cluster' for 'mode'");
        parse_fails("mode: corosync\nintervall: 5s\n", 2, 1, "unknown key 'intervall' in 'drsd'");
        parse_fails("mode: corosync\ninterval: 0s\n", 2, 11, "invalid value '0s' for 'interval'");
        parse_fails("mode: corosync\nsocket: run/x.sock\n", 2, 9, "expected an absolute path");
        parse_fails("mode: corosync\nmetrics_listen: localhost\n", 2, 17, "ADDRESS:PORT");
        parse_fails("mode: corosync\nmetrics_listen: \"h:99999\"\n", 2, 17, "ADDRESS:PORT");
        parse_fails("mode: corosync\nmetrics_listen: \"localhost:9477\"\n", 2, 17, "ADDRESS:PORT");
        parse_fails("mode: corosync\nmetrics_listen: \"::1:9477\"\n", 2, 17, "ADDRESS:PORT");
        parse_fails("mode: corosync\nmetrics_listen: \"[::1:9477\"\n", 2, 17, "ADDRESS:PORT");
        parse_fails("mode: corosync\nmetrics_listen: \"127.0.0.256:9477\"\n", 2, 17, "ADDRESS:PORT");
        parse_fails("hosts:\n  - {uri: \"qemu:///system\"}\n", 2, 5, "missing key 'name'");
        parse_fails("hosts:\n  - {name: h01}\n", 2, 5, "missing key 'uri' for host 'h01'");
        parse_fails("hosts:\n  - {name: h01, uri: h01}\n", 2, 22, "invalid value for 'hosts.uri'");
        parse_fails(
                "hosts:\n  - {name: h01, uri: \"qemu:///system\"}\n  - {name: h01, uri: \"qemu:///system\"}\n",
                3, 12, "host 'h01' is listed more than once");
        parse_fails("hosts:\n  - {name: \"h 1\", uri: \"qemu:///system\"}\n", 2, 12, "invalid host name");
        parse_fails(
                "hosts:\n  - {name: h1, uri: \"qemu:///system\", mac: \"52:54:00:aa:bb\"}\n", 2, 44,
                "invalid value '52:54:00:aa:bb' for 'hosts.mac'");
        parse_fails(
                "hosts:\n  - {name: h1, uri: \"qemu:///system\", group: [a]}\n", 2, 39,
                "unknown key 'group' in 'hosts'");
        parse_fails("mode: corosync\nhosts: {h1: {}}\n", 2, 8, "expected a list for 'hosts'");
}

/* Power models and measured power per host. */
static void test_power(void **state) {
        DrsConfig *c = parse_ok(
                "power_reading_interval: 2m\n"
                "hosts:\n"
                "  - {name: h1, uri: \"qemu:///system\", bmc: h1-ipmi, power: {idle_watts: 90, max_watts: 250},\n"
                "     power_reading: \"ipmitool -I lanplus -H {bmc} -U drs dcmi power reading\"}\n"
                "  - {name: h2, uri: \"qemu:///system\", power: {watts: [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]}}\n"
                "  - {name: h3, uri: \"qemu:///system\"}\n");
        assert_int_equal(c->power_reading_interval_s, 120);
        assert_true(c->hosts[0].power.known);
        assert_true(c->hosts[0].power.watts[5] > 169.9 && c->hosts[0].power.watts[5] < 170.1);
        assert_string_equal(
                c->hosts[0].power_reading, "ipmitool -I lanplus -H {bmc} -U drs dcmi power reading");
        assert_true(
                power_model_watts(&c->hosts[1].power, 0.55) > 103.9 &&
                power_model_watts(&c->hosts[1].power, 0.55) < 104.1);
        assert_false(c->hosts[2].power.known);
        assert_null(c->hosts[2].power_reading);
        assert_true(power_model_watts(&c->hosts[2].power, 0.5) == 0);
        drs_config_free(c);
        c = parse_ok("hosts: [{name: h1, uri: \"qemu:///system\"}]\n");
        assert_int_equal(c->power_reading_interval_s, 60);
        drs_config_free(c);
        parse_fails(
                "hosts:\n  - {name: h1, uri: \"qemu:///system\", power_reading: \"ipmitool -H {ip}\"}\n", 2,
                54, "placeholder in 'hosts.power_reading'");
        parse_fails(
                "hosts:\n  - {name: h1, uri: \"qemu:///system\", power: {idle_watts: 90}}\n", 2, 46,
                "'hosts.power' needs 'watts' or both 'idle_watts' and 'max_watts'");
        parse_fails(
                "power_reading_interval: 1s\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n", 1, 25,
                "invalid value '1s' for 'power_reading_interval'");

        /* Models per host group: a host's own 'power' wins, else its first group with a model. */
        c = parse_ok(
                "power_models:\n"
                "  g4: {idle_watts: 86, max_watts: 117}\n"
                "  g5: {idle_watts: 93.7, max_watts: 135}\n"
                "hosts:\n"
                "  - {name: h1, uri: \"qemu:///system\", groups: [rack1, g4]}\n"
                "  - {name: h2, uri: \"qemu:///system\", groups: [g5, g4]}\n"
                "  - {name: h3, uri: \"qemu:///system\", groups: [g5], power: {idle_watts: 50, max_watts: 60}}\n"
                "  - {name: h4, uri: \"qemu:///system\", groups: [rack1]}\n");
        assert_true(c->hosts[0].power.known);
        assert_true(c->hosts[0].power.watts[10] > 116.9 && c->hosts[0].power.watts[10] < 117.1);
        assert_true(c->hosts[1].power.watts[0] > 93.6 && c->hosts[1].power.watts[0] < 93.8);
        assert_true(c->hosts[2].power.watts[10] > 59.9 && c->hosts[2].power.watts[10] < 60.1);
        assert_false(c->hosts[3].power.known);
        drs_config_free(c);
        parse_fails(
                "power_models:\n  g6: {idle_watts: 1, max_watts: 2}\nhosts:\n"
                "  - {name: h1, uri: \"qemu:///system\", groups: [g5]}\n",
                2, 3, "'power_models' names group 'g6', which no host in 'hosts' lists in its 'groups'");
        parse_fails(
                "power_models:\n  g5: {max_watts: 2}\nhosts:\n"
                "  - {name: h1, uri: \"qemu:///system\", groups: [g5]}\n",
                2, 7, "'power_models' needs 'watts' or both 'idle_watts' and 'max_watts'");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults), cmocka_unit_test(test_full),
                cmocka_unit_test(test_corosync), cmocka_unit_test(test_errors),
                cmocka_unit_test(test_power),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
