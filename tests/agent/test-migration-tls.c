/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Migration encryption: the decision (agent/hv/migration-tls.c) for every mode and every pair
 * of probe results, and the names the journal, history and cluster messages use. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "executor.h"
#include "macro.h"
#include "migration-tls.h"

static const MigrationTlsEnd yes1 = {.host = "h1", .state = MIGRATION_TLS_STATE_YES};
static const MigrationTlsEnd yes2 = {.host = "h2", .state = MIGRATION_TLS_STATE_YES};
static const MigrationTlsEnd no3 = {
        .host = "h3", .state = MIGRATION_TLS_STATE_NO, .why = "no directory /etc/pki/qemu"};
static const MigrationTlsEnd no1 = {
        .host = "h1", .state = MIGRATION_TLS_STATE_NO, .why = "missing server-key.pem in /etc/pki/qemu"};
static const MigrationTlsEnd unknown3 = {
        .host = "h3", .state = MIGRATION_TLS_STATE_UNKNOWN, .why = "the probe failed: denied"};

static void
check(MigrationTls mode, const MigrationTlsEnd *s, const MigrationTlsEnd *t, bool refuse, bool use_tls,
      MigrationEncryption enc, const char *message) {
        MigrationTlsDecision d = {};

        assert_int_equal(migration_tls_decide(mode, s, t, &d), 0);
        assert_int_equal(d.refuse, refuse);
        assert_int_equal(d.use_tls, use_tls);
        assert_int_equal(d.encryption, enc);
        if (message)
                assert_string_equal(d.message, message);
        else
                assert_null(d.message);
        migration_tls_decision_done(&d);
        assert_null(d.message);
}

static void test_false(void **state) {
        check(MIGRATION_TLS_FALSE, &yes1, &yes2, false, false, MIGRATION_ENCRYPTION_PLAIN, NULL);
        check(MIGRATION_TLS_FALSE, &yes1, &no3, false, false, MIGRATION_ENCRYPTION_PLAIN, NULL);
        check(MIGRATION_TLS_FALSE, &(MigrationTlsEnd){.host = "h1"}, &(MigrationTlsEnd){.host = "h2"}, false,
              false, MIGRATION_ENCRYPTION_PLAIN, NULL);
}

static void test_auto(void **state) {
        check(MIGRATION_TLS_AUTO, &yes1, &yes2, false, true, MIGRATION_ENCRYPTION_TLS, NULL);
        check(MIGRATION_TLS_AUTO, &yes1, &no3, false, false, MIGRATION_ENCRYPTION_PLAIN_FALLBACK,
              "'h3' has no migration TLS: no directory /etc/pki/qemu");
        /* The source is named first when both lack it. */
        check(MIGRATION_TLS_AUTO, &no1, &no3, false, false, MIGRATION_ENCRYPTION_PLAIN_FALLBACK,
              "'h1' has no migration TLS: missing server-key.pem in /etc/pki/qemu");
        check(MIGRATION_TLS_AUTO, &no1, &yes2, false, false, MIGRATION_ENCRYPTION_PLAIN_FALLBACK,
              "'h1' has no migration TLS: missing server-key.pem in /etc/pki/qemu");
        check(MIGRATION_TLS_AUTO, &yes1, &unknown3, false, false, MIGRATION_ENCRYPTION_PLAIN_FALLBACK,
              "cannot check migration TLS on 'h3': the probe failed: denied");
        check(MIGRATION_TLS_AUTO, &yes1, &(MigrationTlsEnd){.host = "h3", .state = MIGRATION_TLS_STATE_NO},
              false, false, MIGRATION_ENCRYPTION_PLAIN_FALLBACK,
              "'h3' has no migration TLS: not configured");
}

static void test_true(void **state) {
        check(MIGRATION_TLS_TRUE, &yes1, &yes2, false, true, MIGRATION_ENCRYPTION_TLS, NULL);
        check(MIGRATION_TLS_TRUE, &yes1, &no3, true, false, MIGRATION_ENCRYPTION_UNKNOWN,
              "migration.tls is true but 'h3' has no migration TLS: no directory /etc/pki/qemu");
        check(MIGRATION_TLS_TRUE, &no1, &yes2, true, false, MIGRATION_ENCRYPTION_UNKNOWN,
              "migration.tls is true but 'h1' has no migration TLS: missing server-key.pem in /etc/pki/qemu");
        /* Cannot tell: libvirt judges (the flag is set). */
        check(MIGRATION_TLS_TRUE, &yes1, &unknown3, false, true, MIGRATION_ENCRYPTION_TLS, NULL);
        /* A definite no wins over an unknown on the other end. */
        check(MIGRATION_TLS_TRUE, &unknown3, &no1, true, false, MIGRATION_ENCRYPTION_UNKNOWN,
              "migration.tls is true but 'h1' has no migration TLS: missing server-key.pem in /etc/pki/qemu");
}

static void test_invalid(void **state) {
        MigrationTlsDecision d = {};
        assert_int_equal(migration_tls_decide(MIGRATION_TLS_AUTO, NULL, &yes2, &d), -EINVAL);
        assert_int_equal(migration_tls_decide(MIGRATION_TLS_AUTO, &yes1, &yes2, NULL), -EINVAL);
        migration_tls_decision_done(NULL);
}

static void test_names(void **state) {
        assert_string_equal(migration_encryption_to_string(MIGRATION_ENCRYPTION_UNKNOWN), "unknown");
        assert_string_equal(migration_encryption_to_string(MIGRATION_ENCRYPTION_PLAIN), "plain");
        assert_string_equal(migration_encryption_to_string(MIGRATION_ENCRYPTION_TLS), "tls");
        assert_string_equal(
                migration_encryption_to_string(MIGRATION_ENCRYPTION_PLAIN_FALLBACK), "plain-fallback");
        assert_null(migration_encryption_to_string(_MIGRATION_ENCRYPTION_MAX));
        assert_int_equal(MIGRATION_ENCRYPTION_UNKNOWN, 0); /* a zeroed outcome says unknown */
        assert_string_equal(migration_tls_to_string(MIGRATION_TLS_AUTO), "auto");
        assert_int_equal(migration_tls_from_string("true"), MIGRATION_TLS_TRUE);
        assert_int_equal(migration_tls_from_string("false"), MIGRATION_TLS_FALSE);
        assert_int_equal(migration_tls_from_string("yes"), _MIGRATION_TLS_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_false),   cmocka_unit_test(test_auto),  cmocka_unit_test(test_true),
                cmocka_unit_test(test_invalid), cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
