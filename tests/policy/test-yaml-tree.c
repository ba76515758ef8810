/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The YAML tree reader and the typed getters. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "yaml-tree.h"

static YNode *parse_ok(const char *s) {
        YNode *n = NULL;
        PolicyError e = {};
        int r = ytree_parse("t.yaml", s, strlen(s), &n, &e);
        if (r < 0)
                fail_msg("unexpected error %u:%u: %s", e.line, e.column, e.message);
        return n;
}

/* Parses s, expects an error at line:column whose message contains needle. */
static void parse_fails(const char *s, size_t len, unsigned line, unsigned column, const char *needle) {
        YNode *n = NULL;
        PolicyError e = {};
        int r = ytree_parse("t.yaml", s, len, &n, &e);
        assert_int_equal(r, -EINVAL);
        assert_null(n);
        assert_string_equal(e.file, "t.yaml");
        if (!strstr(e.message, needle))
                fail_msg("message '%s' lacks '%s'", e.message, needle);
        assert_int_equal(e.line, line);
        assert_int_equal(e.column, column);
        policy_error_clear(&e);
        assert_null(e.message);
}

static void test_tree_shape(void **state) {
        YNode *n = parse_ok("a: 1\nb:\n  - x\n  - 'y'\n  - {c: d}\ne: \"q\"\n");
        const YNode *b, *e;

        assert_non_null(n);
        assert_int_equal(n->type, YNODE_MAPPING);
        assert_int_equal(ymap_size(n), 3);
        assert_int_equal(n->line, 1);
        assert_int_equal(n->column, 1);
        b = ymap_get(n, "b");
        assert_non_null(b);
        assert_int_equal(b->type, YNODE_SEQUENCE);
        assert_int_equal(b->n_children, 3);
        assert_int_equal(b->line, 3);
        assert_int_equal(b->column, 3);
        assert_string_equal(b->children[0]->value, "x");
        assert_false(b->children[0]->quoted);
        assert_true(b->children[1]->quoted);
        assert_int_equal(b->children[1]->column, 5);
        assert_int_equal(b->children[2]->type, YNODE_MAPPING);
        assert_string_equal(ymap_get(b->children[2], "c")->value, "d");
        e = ymap_get(n, "e");
        assert_true(e->quoted);
        assert_null(ymap_get(n, "zzz"));
        ynode_free(n);
}

static void test_empty_documents(void **state) {
        assert_null(parse_ok(""));
        assert_null(parse_ok("# just a comment\n"));
        assert_null(parse_ok("---\n...\n"));
        assert_null(parse_ok("~\n"));
        /* A quoted empty string is a value, not nothing. */
        YNode *n = parse_ok("''\n");
        assert_non_null(n);
        assert_false(ynode_is_null(n));
        ynode_free(n);
}

static void test_refusals(void **state) {
        parse_fails("a: &x 1\n", 8, 1, 4, "anchors");
        parse_fails("a: *x\n", 6, 1, 4, "aliases");
        parse_fails("a: 1\n---\nb: 2\n", 14, 2, 1, "multiple YAML documents");
        parse_fails("a: !foo 1\n", 10, 1, 4, "unsupported YAML tag '!foo'");
        parse_fails("a: 1\nb: 2\na: 3\n", 15, 3, 1, "duplicate key 'a' (first defined at line 1 column 1)");
        parse_fails("? [x]\n: 1\n", 10, 1, 3, "mapping keys must be plain strings");
        parse_fails("a: \"x\\0y\"\n", 10, 1, 4, "NUL");
        parse_fails("a: [1, 2\n", 9, 2, 1, "invalid YAML");
}

static void test_limits(void **state) {
        char *deep = NULL, *big = NULL, *many = NULL, *huge = NULL;
        size_t n = 0;
        FILE *f;
        YNode *t;

        /* 32 levels are fine, 33 are not. */
        assert_true(
                asprintf(
                        &deep, "%.*s%.*s", 32, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 32,
                        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]") > 0);
        t = parse_ok(deep);
        assert_non_null(t);
        ynode_free(t);
        free(deep);
        assert_true(
                asprintf(
                        &deep, "%.*s%.*s", 33, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 33,
                        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]") > 0);
        parse_fails(deep, strlen(deep), 1, 33, "nesting deeper than 32 levels");
        free(deep);

        /* Scalars up to 64 KiB. */
        big = malloc(YTREE_MAX_SCALAR + 16);
        assert_non_null(big);
        memset(big, 'x', YTREE_MAX_SCALAR + 1);
        big[YTREE_MAX_SCALAR + 1] = 0;
        parse_fails(big, strlen(big), 1, 1, "scalar longer than 65536 bytes");
        big[YTREE_MAX_SCALAR] = 0;
        t = parse_ok(big);
        assert_int_equal(t->length, YTREE_MAX_SCALAR);
        ynode_free(t);
        free(big);

        /* Node count. */
        f = open_memstream(&many, &n);
        fputc('[', f);
        for (int i = 0; i < YTREE_MAX_NODES; i++)
                fputs("1,", f);
        fputs("1]", f);
        fclose(f);
        parse_fails(many, n, 1, 200000, "more than 100000 nodes");
        free(many);

        /* Input size: refused before parsing. */
        huge = calloc(YTREE_MAX_INPUT + 2, 1);
        memset(huge, '#', YTREE_MAX_INPUT + 1);
        parse_fails(huge, YTREE_MAX_INPUT + 1, 1, 1, "input larger than");
        free(huge);
}

/* Runs one getter on the value of "v: TEXT". */
#define GET(text, call)                                                                                     \
        ({                                                                                                  \
                YNode *_t = parse_ok("v: " text "\n");                                                      \
                const YNode *n = ymap_get(_t, "v");                                                         \
                PolicyError _e = {};                                                                        \
                YContext c = {.file = "t.yaml", .error = &_e};                                              \
                int _r = (call);                                                                            \
                if (_r < 0)                                                                                 \
                        assert_non_null(_e.message);                                                        \
                policy_error_clear(&_e);                                                                    \
                ynode_free(_t);                                                                             \
                _r;                                                                                         \
        })

static void test_bool(void **state) {
        bool b = false;
        assert_int_equal(GET("yes", yget_bool(&c, n, "x", &b)), 0);
        assert_true(b);
        assert_int_equal(GET("Off", yget_bool(&c, n, "x", &b)), 0);
        assert_false(b);
        assert_int_equal(GET("TRUE", yget_bool(&c, n, "x", &b)), 0);
        assert_true(b);
        b = true;
        assert_int_equal(GET("\"false\"", yget_bool(&c, n, "x", &b)), -EINVAL);
        assert_int_equal(GET("1", yget_bool(&c, n, "x", &b)), -EINVAL);
        assert_int_equal(GET("", yget_bool(&c, n, "x", &b)), -EINVAL);
        assert_true(b); /* unchanged on error */
}

static void test_numbers(void **state) {
        uint64_t u = 7;
        int64_t i = 7;
        unsigned v = 0;
        double d = 0;

        assert_int_equal(GET("18446744073709551615", yget_uint(&c, n, "x", 0, UINT64_MAX, &u)), 0);
        assert_true(u == UINT64_MAX);
        assert_int_equal(GET("18446744073709551616", yget_uint(&c, n, "x", 0, UINT64_MAX, &u)), -EINVAL);
        assert_int_equal(GET("+5", yget_uint(&c, n, "x", 0, 10, &u)), -EINVAL);
        assert_int_equal(GET("5 ", yget_uint(&c, n, "x", 0, 10, &u)), 0); /* YAML strips blanks */
        assert_int_equal(GET("11", yget_unsigned(&c, n, "x", 0, 10, &v)), -EINVAL);
        assert_int_equal(GET("10", yget_unsigned(&c, n, "x", 0, 10, &v)), 0);
        assert_int_equal(v, 10);
        assert_int_equal(GET("-9223372036854775808", yget_int(&c, n, "x", INT64_MIN, INT64_MAX, &i)), 0);
        assert_true(i == INT64_MIN);
        assert_int_equal(GET("-2", yget_int(&c, n, "x", -1, 5, &i)), -EINVAL);
        assert_int_equal(GET("-1", yget_int(&c, n, "x", -1, 5, &i)), 0);
        assert_int_equal(i, -1);
        assert_int_equal(GET("2.5e-1", yget_double(&c, n, "x", 0, 1, &d)), 0);
        assert_true(d == 0.25);
        assert_int_equal(GET(".5", yget_double(&c, n, "x", 0, 1, &d)), 0);
        assert_true(d == 0.5);
        assert_int_equal(GET("inf", yget_double(&c, n, "x", 0, INFINITY, &d)), -EINVAL);
        assert_int_equal(GET("1e999", yget_double(&c, n, "x", 0, INFINITY, &d)), -EINVAL);
        assert_int_equal(GET("0x1p3", yget_double(&c, n, "x", 0, 100, &d)), -EINVAL);
        assert_int_equal(GET("1.", yget_double(&c, n, "x", 0, 100, &d)), 0);
        assert_int_equal(GET("'3'", yget_double(&c, n, "x", 0, 100, &d)), -EINVAL);
        assert_true(d == 1.0);
}

static void test_durations(void **state) {
        uint64_t ms = 0, s = 0;
        static const struct {
                const char *in;
                uint64_t ms;
        } ok[] = {
                {"90", 90000},  {"90s", 90000},     {"10m", 600000}, {"1h", 3600000},    {"2d", 172800000},
                {"300ms", 300}, {"1h30m", 5400000}, {"0", 0},        {"1m1s1ms", 61001},
        };
        static const char *const bad[] = {
                "", "s", "10x", "10 m", "-1s", "1.5h", "m10", "10mm", "99999999999999999999d"};

        for (size_t k = 0; k < ELEMENTSOF(ok); k++) {
                assert_int_equal(parse_duration_ms(ok[k].in, &ms), 0);
                assert_true(ms == ok[k].ms);
        }
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                assert_true(parse_duration_ms(bad[k], &ms) < 0);

        assert_int_equal(GET("10m", yget_duration_s(&c, n, "x", 0, 3600, &s)), 0);
        assert_true(s == 600);
        assert_int_equal(GET("\"10m\"", yget_duration_s(&c, n, "x", 0, 3600, &s)), 0); /* JSON style */
        assert_int_equal(GET("1500ms", yget_duration_s(&c, n, "x", 0, 3600, &s)), -EINVAL);
        assert_int_equal(GET("2h", yget_duration_s(&c, n, "x", 0, 3600, &s)), -EINVAL);
        assert_int_equal(GET("1500ms", yget_duration_ms(&c, n, "x", 1, 60000, &ms)), 0);
        assert_true(ms == 1500);
}

static void test_sizes(void **state) {
        uint64_t m = 0;

        assert_int_equal(parse_size_mib("1024", &m), 0);
        assert_true(m == 1024);
        assert_int_equal(parse_size_mib("512MiB", &m), 0);
        assert_true(m == 512);
        assert_int_equal(parse_size_mib("4GiB", &m), 0);
        assert_true(m == 4096);
        assert_int_equal(parse_size_mib("1TiB", &m), 0);
        assert_true(m == 1048576);
        assert_true(parse_size_mib("1GB", &m) < 0);
        assert_true(parse_size_mib("1.5GiB", &m) < 0);
        assert_true(parse_size_mib("GiB", &m) < 0);
        assert_true(parse_size_mib("4 GiB", &m) < 0);
        assert_true(parse_size_mib("18446744073709551615TiB", &m) == -ERANGE);
        assert_int_equal(GET("2GiB", yget_size_mib(&c, n, "x", 0, 1024, &m)), -EINVAL);
        assert_int_equal(GET("1GiB", yget_size_mib(&c, n, "x", 0, 1024, &m)), 0);
        assert_true(m == 1024);
}

static void test_fractions(void **state) {
        double f = 0;

        assert_int_equal(GET("45%", yget_fraction(&c, n, "x", 0, 1, &f)), 0);
        assert_true(fabs(f - 0.45) < 1e-12);
        assert_int_equal(GET("0.81", yget_fraction(&c, n, "x", 0, 1, &f)), 0);
        assert_true(f == 0.81);
        assert_int_equal(GET("\"12.5%\"", yget_fraction(&c, n, "x", 0, 1, &f)), 0);
        assert_true(f == 0.125);
        assert_int_equal(GET("45", yget_fraction(&c, n, "x", 0, 1, &f)), -EINVAL);
        assert_int_equal(GET("101%", yget_fraction(&c, n, "x", 0, 1, &f)), -EINVAL);
        assert_int_equal(GET("\"%\"", yget_fraction(&c, n, "x", 0, 1, &f)), -EINVAL);
        assert_int_equal(GET("-5%", yget_fraction(&c, n, "x", 0, 1, &f)), -EINVAL);
}

static void test_strings(void **state) {
        char *s = NULL, **l = NULL;

        assert_int_equal(GET("hello", yget_string(&c, n, "x", 5, &s)), 0);
        assert_string_equal(s, "hello");
        free(s);
        assert_int_equal(GET("hello!", yget_string(&c, n, "x", 5, &s)), -EINVAL);
        assert_int_equal(GET("''", yget_string(&c, n, "x", 5, &s)), -EINVAL);
        assert_int_equal(GET("~", yget_string(&c, n, "x", 5, &s)), -EINVAL);
        assert_int_equal(GET("[a]", yget_string(&c, n, "x", 5, &s)), -EINVAL);
        assert_int_equal(GET("[a, 'b c', 3]", yget_strv(&c, n, "x", 3, 10, &l)), 0);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[1], "b c");
        assert_string_equal(l[2], "3");
        strv_free(l);
        assert_int_equal(GET("[]", yget_strv(&c, n, "x", 3, 10, &l)), 0);
        assert_non_null(l);
        assert_int_equal(strv_length(l), 0);
        strv_free(l);
        assert_int_equal(GET("[a, b, c, d]", yget_strv(&c, n, "x", 3, 10, &l)), -EINVAL);
        assert_int_equal(GET("[a, [b]]", yget_strv(&c, n, "x", 3, 10, &l)), -EINVAL);
        assert_int_equal(GET("a", yget_strv(&c, n, "x", 3, 10, &l)), -EINVAL);
}

static void test_key_table(void **state) {
        static const char *const keys[] = {"alpha", "beta", NULL};
        YNode *t = parse_ok("sec:\n  alpha: 1\n  gamma: 2\n");
        PolicyError e = {};
        YContext c = {.file = "t.yaml", .error = &e};

        assert_int_equal(ymap_check(&c, ymap_get(t, "sec"), "sec", keys), -EINVAL);
        assert_string_equal(e.message, "unknown key 'gamma' in 'sec' (expected one of: alpha, beta)");
        assert_int_equal(e.line, 3);
        assert_int_equal(e.column, 3);
        policy_error_clear(&e);
        ynode_free(t);

        t = parse_ok("sec: [1]\n");
        assert_int_equal(ymap_check(&c, ymap_get(t, "sec"), "sec", keys), -EINVAL);
        assert_string_equal(e.message, "expected a mapping for 'sec', got a list");
        policy_error_clear(&e);
        ynode_free(t);
}

static void test_error_format(void **state) {
        PolicyError e = {};
        char *s = NULL;

        assert_int_equal(ytree_error(&e, "f.yaml", 3, 7, "bad '%s'", "x"), -EINVAL);
        assert_int_equal(policy_error_to_string(&e, &s), 0);
        assert_string_equal(s, "f.yaml:3:7: bad 'x'");
        free(s);
        assert_int_equal(ytree_error(&e, "f.yaml", 0, 0, "cannot open"), -EINVAL);
        assert_int_equal(policy_error_to_string(&e, &s), 0);
        assert_string_equal(s, "f.yaml: cannot open");
        free(s);
        policy_error_clear(&e);
        assert_int_equal(ytree_error(NULL, "f.yaml", 1, 1, "x"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree_shape), cmocka_unit_test(test_empty_documents),
                cmocka_unit_test(test_refusals),   cmocka_unit_test(test_limits),
                cmocka_unit_test(test_bool),       cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_durations),  cmocka_unit_test(test_sizes),
                cmocka_unit_test(test_fractions),  cmocka_unit_test(test_strings),
                cmocka_unit_test(test_key_table),  cmocka_unit_test(test_error_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
