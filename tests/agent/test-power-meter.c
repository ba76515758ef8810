/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* power_reading_parse(): DCMI output as ipmitool prints it, other readings, garbage. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "power-meter.h"

static double ok(const char *s) {
        double w = -1;
        const char *why = NULL;
        if (power_reading_parse(s, &w, &why) < 0)
                fail_msg("'%s' refused: %s", s, why);
        return w;
}

static void refused(const char *s, const char *why_part) {
        double w = -1;
        const char *why = NULL;
        assert_int_equal(power_reading_parse(s, &w, &why), -EINVAL);
        assert_non_null(why);
        if (!strstr(why, why_part))
                fail_msg("'%s': '%s' does not say '%s'", s ?: "(null)", why, why_part);
        assert_true(w == -1);
}

static void test_dcmi(void **state) {
        /* ipmitool 1.8.19 `dcmi power reading`. */
        const char *dcmi = "\n"
                           "    Instantaneous power reading:                   187 Watts\n"
                           "    Minimum during sampling period:                 78 Watts\n"
                           "    Maximum during sampling period:                320 Watts\n"
                           "    Average power reading over sample period:      201 Watts\n"
                           "    IPMI timestamp:                           Mon Dec  7 12:00:00 2026\n"
                           "    Sampling period:                          00000001 Seconds.\n"
                           "    Power reading state is:                   activated\n\n";
        assert_true(ok(dcmi) == 187);
        refused("    Instantaneous power reading:                   0 Watts\n"
                "    Power reading state is:                   deactivated\n",
                "deactivated");
}

static void test_other_forms(void **state) {
        assert_true(ok("215\n") == 215);
        assert_true(ok("  98.5  ") == 98.5);
        assert_true(ok("PSU1: 140 W\n") == 140);
        assert_true(ok("host G5 draws 133.5 watts\n") == 133.5);
        assert_true(ok("Power Consumption: 0 Watts\n") == 0);
}

static void test_garbage(void **state) {
        refused(NULL, "printed nothing");
        refused("", "printed nothing");
        refused("hello\n", "no reading");
        refused("Error: Unable to establish IPMI v2 / RMCP+ session\n", "no reading");
        refused("12 34\n", "no reading");
        refused("-5\n", "out of range");
        refused("Instantaneous power reading: 2000000 Watts\n", "out of range");
        refused("G5 Wattage unknown\n", "no reading");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dcmi),
                cmocka_unit_test(test_other_forms),
                cmocka_unit_test(test_garbage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
