/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* tz.c against glibc: every zone here converted by tz_zone_local_time() and by localtime_r()
 * under TZ in a forked child (the test process's own environment is never touched), over
 * centuries, around DST changes by the half hour, and far past the last transition of the
 * file (the footer's TZ string). TZ strings alone (J, n and M rules, odd times) go through a
 * TZif file made here. Zones missing from /usr/share/zoneinfo are skipped. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "macro.h"
#include "tz.h"

typedef struct Result {
        unsigned checked;
        unsigned mismatches;
        char first[512]; /* the first mismatch */
} Result;

static int64_t utc(int y, int mon, int d, int h, int min) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = min};
        return (int64_t) timegm(&tm);
}

static void compare_one(const TzZone *z, int64_t t, Result *res) {
        struct tm want, got;
        time_t tt = (time_t) t;

        assert_non_null(localtime_r(&tt, &want));
        assert_int_equal(tz_zone_local_time(z, t, &got), 0);
        res->checked++;
        if (want.tm_sec == got.tm_sec && want.tm_min == got.tm_min && want.tm_hour == got.tm_hour &&
            want.tm_mday == got.tm_mday && want.tm_mon == got.tm_mon && want.tm_year == got.tm_year &&
            want.tm_wday == got.tm_wday && want.tm_yday == got.tm_yday && want.tm_isdst == got.tm_isdst &&
            want.tm_gmtoff == got.tm_gmtoff && streq_ptr(want.tm_zone, got.tm_zone))
                return;
        if (res->mismatches++ == 0)
                snprintf(
                        res->first, sizeof(res->first),
                        "t=%lld: glibc %04d-%02d-%02d %02d:%02d:%02d wday %d yday %d dst %d %+ld %s, "
                        "tz.c %04d-%02d-%02d %02d:%02d:%02d wday %d yday %d dst %d %+ld %s",
                        (long long) t, want.tm_year + 1900, want.tm_mon + 1, want.tm_mday, want.tm_hour,
                        want.tm_min, want.tm_sec, want.tm_wday, want.tm_yday, want.tm_isdst, want.tm_gmtoff,
                        want.tm_zone, got.tm_year + 1900, got.tm_mon + 1, got.tm_mday, got.tm_hour,
                        got.tm_min, got.tm_sec, got.tm_wday, got.tm_yday, got.tm_isdst, got.tm_gmtoff,
                        got.tm_zone);
}

/* Instants from `from` on: every 1800 s and the second before, through the years listed (DST
 * changes fall on the half hour in every zone here), and a sparse walk over 1850–2200. */
static void compare_all(const TzZone *z, int64_t from, Result *res) {
        static const int years[] = {1916, 1970, 1996, 2007, 2024, 2037, 2038, 2040, 2051, 2099};

        for (size_t i = 0; i < ELEMENTSOF(years); i++)
                for (int64_t t = utc(years[i], 1, 1, 0, 0); t < utc(years[i] + 1, 1, 1, 0, 0); t += 1800)
                        for (int64_t u = t - 1; u <= t; u++)
                                if (u >= from)
                                        compare_one(z, u, res);
        for (int64_t t = utc(1850, 1, 1, 0, 0); t < utc(2200, 1, 1, 0, 0); t += 6 * 86400 + 3637)
                if (t >= from)
                        compare_one(z, t, res);
}

/* Runs the comparison in a child with TZ=tz; the counts come back through shared memory. */
static void
check_against_glibc(const char *what, const void *data, size_t size, const char *tz, int64_t from) {
        _cleanup_(tz_zone_freep) TzZone *z = NULL;
        Result *res;
        pid_t pid;
        int status;

        assert_int_equal(tz_zone_parse(data, size, &z), 0);
        res = mmap(NULL, sizeof(Result), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(res != MAP_FAILED);
        *res = (Result){};
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setenv("TZ", tz, 1) < 0)
                        _exit(2);
                tzset();
                compare_all(z, from, res);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        print_message("%s: %u instants, %u differ from glibc\n", what, res->checked, res->mismatches);
        if (res->mismatches > 0)
                fail_msg("%s: %s", what, res->first);
        assert_true(res->checked > 100000);
        munmap(res, sizeof(Result));
}

static void test_system_zones(void **state) {
        static const char *const zones[] = {
                "Europe/Berlin",       "America/New_York",    "UTC",
                "Australia/Lord_Howe", "Europe/Dublin",       "Asia/Jerusalem",
                "America/Nuuk",        "Antarctica/Troll",    "America/Sao_Paulo",
                "Asia/Kolkata",        "Pacific/Chatham",     "America/St_Johns",
                "Etc/GMT+5",           "right/Europe/Berlin",
        };
        unsigned n = 0;

        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                _cleanup_free_ char *path = NULL, *data = NULL, *tz = NULL;
                size_t size;

                assert_true(asprintf(&path, "/usr/share/zoneinfo/%s", zones[i]) > 0);
                if (read_file_bounded(path, TZ_FILE_MAX, &data, &size) < 0) {
                        print_message("%s: not installed, skipped\n", zones[i]);
                        continue;
                }
                assert_true(asprintf(&tz, ":%s", zones[i]) > 0);
                check_against_glibc(zones[i], data, size, tz, INT64_MIN);
                n++;
        }
        if (n == 0)
                skip();
}

/* ---- TZif made here ------------------------------------------------------------------------ */

typedef struct Buf {
        uint8_t b[512];
        size_t n;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
        assert_true(b->n + n <= sizeof(b->b));
        memcpy(b->b + b->n, p, n);
        b->n += n;
}

static void put32(Buf *b, uint32_t v) {
        uint8_t x[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};
        put(b, x, 4);
}

static void put64(Buf *b, int64_t v) {
        put32(b, (uint32_t) ((uint64_t) v >> 32));
        put32(b, (uint32_t) v);
}

static void header(Buf *b, char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt) {
        put(b, "TZif", 4);
        put(b, &version, 1);
        put(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
        put32(b, 0); /* isutcnt */
        put32(b, 0); /* isstdcnt */
        put32(b, 0); /* leapcnt */
        put32(b, timecnt);
        put32(b, typecnt);
        put32(b, charcnt);
}

/* Version 2: one transition at t0 to a UTC type, then the footer. */
static void make_v2(Buf *b, int64_t t0, const char *footer) {
        *b = (Buf){};
        header(b, '2', 0, 1, 4);
        put(b, "\0\0\0\0\0\0UTC", 10); /* type: utoff 0, std, "UTC"; chars "UTC\0" */
        header(b, '2', 1, 1, 4);
        put64(b, t0);
        put(b, "", 1); /* type index */
        put(b, "\0\0\0\0\0\0UTC", 10);
        put(b, "\n", 1);
        put(b, footer, strlen(footer));
        put(b, "\n", 1);
}

static void test_tz_strings(void **state) {
        /* Compared from the epoch on, where the footer alone decides (glibc reads these TZ
         * values as POSIX strings: no such files). */
        static const char *const strings[] = {
                "CET-1CEST,M3.5.0,M10.5.0/3",
                "EST5EDT,M3.2.0,M11.1.0",
                "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
                "IST-2IDT,M3.4.4/26,M10.5.0",
                "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
                "IST-1GMT0,M10.5.0,M3.5.0/1",
                "NZST-12NZDT,M9.5.0,M4.1.0/3",
                "ABC3:30DEF2,J60/1:30,J300/22:15:30",
                "ABC-5:45XYZ,59,300",
                "<+0545>-5:45",
                "UTC0",
        };

        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                Buf b;

                make_v2(&b, 0, strings[i]);
                check_against_glibc(strings[i], b.b, b.n, strings[i], 0);
        }
}

static void test_footer_values(void **state) {
        _cleanup_(tz_zone_freep) TzZone *z = NULL;
        struct tm tm;
        Buf b;

        /* A DST name without rules: the US rules, as glibc. */
        make_v2(&b, 0, "EST5EDT");
        assert_int_equal(tz_zone_parse(b.b, b.n, &z), 0);
        assert_int_equal(tz_zone_local_time(z, utc(2041, 7, 1, 12, 0), &tm), 0);
        assert_int_equal(tm.tm_hour, 8);
        assert_true(tm.tm_isdst);
        assert_string_equal(tm.tm_zone, "EDT");
        assert_int_equal(tz_zone_local_time(z, utc(2041, 3, 10, 6, 59), &tm), 0); /* 01:59 EST */
        assert_false(tm.tm_isdst);
        assert_int_equal(tz_zone_local_time(z, utc(2041, 3, 10, 7, 0), &tm), 0); /* 03:00 EDT */
        assert_int_equal(tm.tm_hour, 3);
        assert_true(tm.tm_isdst);
        z = tz_zone_free(z);

        /* Before the only transition: the first standard type; an empty footer: the last type. */
        make_v2(&b, 1000, "");
        assert_int_equal(tz_zone_parse(b.b, b.n, &z), 0);
        assert_int_equal(tz_zone_local_time(z, 0, &tm), 0);
        assert_string_equal(tm.tm_zone, "UTC");
        assert_int_equal(tz_zone_local_time(z, INT64_C(4102444800), &tm), 0);
        assert_int_equal(tm.tm_year, 2100 - 1900);
}

static void test_version_1(void **state) {
        _cleanup_(tz_zone_freep) TzZone *z = NULL;
        struct tm tm;
        Buf b = {};

        /* Two types, a transition to +02:00 "XST" (DST) at 1000 and back at 2000. */
        header(&b, 0, 2, 2, 8);
        put32(&b, 1000);
        put32(&b, 2000);
        put(&b, "\1\0", 2);
        put(&b, "\0\0\0\0\0\0", 6);     /* 0: UTC+0, std, chars[0] */
        put(&b, "\0\0\x1c\x20\1\4", 6); /* 1: +7200, dst, chars[4] */
        put(&b, "UTC\0XST\0", 8);
        assert_int_equal(tz_zone_parse(b.b, b.n, &z), 0);
        assert_int_equal(tz_zone_local_time(z, 999, &tm), 0);
        assert_string_equal(tm.tm_zone, "UTC");
        assert_int_equal(tz_zone_local_time(z, 1000, &tm), 0);
        assert_string_equal(tm.tm_zone, "XST");
        assert_int_equal(tm.tm_gmtoff, 7200);
        assert_int_equal(tm.tm_hour, 2);
        assert_true(tm.tm_isdst);
        assert_int_equal(tz_zone_local_time(z, 2000, &tm), 0);
        assert_string_equal(tm.tm_zone, "UTC");
        assert_int_equal(tz_zone_local_time(z, -INT64_C(2208988800), &tm), 0); /* 1900-01-01, a Monday */
        assert_int_equal(tm.tm_year, 0);
        assert_int_equal(tm.tm_wday, 1);
        assert_int_equal(tm.tm_yday, 0);
}

static void test_malformed(void **state) {
        static const char *const footers[] = {
                "CET",
                "CET-1CEST,M3.5.0",
                "CET-1CEST,M13.5.0,M10.5.0",
                "CET-1CEST,M3.6.0,M10.5.0",
                "C-1",
                "CET-1CEST,J0,J10",
                "CET-1CEST,366,0",
                "CET-1CEST,M3.5.0/168,M10.5.0",
                "<CET-1",
                "CET-1CEST,M3.5.0,M10.5.0 ",
                "CET-1:60",
        };
        _cleanup_free_ char *data = NULL;
        TzZone *z = NULL;
        size_t size;
        Buf b;

        assert_int_equal(tz_zone_parse("", 0, &z), -EBADMSG);
        assert_int_equal(tz_zone_parse("TZif2", 5, &z), -EBADMSG);
        assert_int_equal(tz_zone_parse("# not TZif\n", 11, &z), -EBADMSG);
        for (size_t i = 0; i < ELEMENTSOF(footers); i++) {
                make_v2(&b, 0, footers[i]);
                assert_int_equal(tz_zone_parse(b.b, b.n, &z), -EBADMSG);
        }
        make_v2(&b, 0, "UTC0");
        b.b[b.n - 1] = 'x'; /* the footer's closing newline */
        assert_int_equal(tz_zone_parse(b.b, b.n, &z), -EBADMSG);

        /* Every truncation of a real file is refused, never read past. */
        if (read_file_bounded("/usr/share/zoneinfo/Europe/Berlin", TZ_FILE_MAX, &data, &size) < 0)
                skip();
        for (size_t n = 0; n < size; n++)
                assert_int_equal(tz_zone_parse(data, n, &z), -EBADMSG);
        assert_int_equal(tz_zone_parse(data, size, &z), 0);
        tz_zone_free(z);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_system_zones),  cmocka_unit_test(test_tz_strings),
                cmocka_unit_test(test_footer_values), cmocka_unit_test(test_version_1),
                cmocka_unit_test(test_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
