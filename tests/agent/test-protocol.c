/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"

static void feed_str(ProtocolReader *r, const char *s) {
        assert_int_equal(protocol_reader_feed(r, s, strlen(s) + 1), 0);
}

static void test_reader_splits_messages(void **state) {
        ProtocolReader r = {};
        json_object *o = NULL;
        const char *err = NULL;
        const char data[] = "{\"method\":\"drs.Ping\"}\0{\"a\":1}\0{\"b\"";

        /* Byte by byte: messages come out exactly when their NUL arrives. */
        size_t got = 0;
        for (size_t i = 0; i < sizeof(data) - 1; i++) {
                assert_int_equal(protocol_reader_feed(&r, data + i, 1), 0);
                int k = protocol_reader_next(&r, &o, &err);
                assert_true(k >= 0);
                if (k > 0) {
                        got++;
                        assert_true(json_object_is_type(o, json_type_object));
                        json_object_put(o);
                        o = NULL;
                        assert_int_equal(data[i], 0);
                }
        }
        assert_int_equal(got, 2);
        assert_int_equal(protocol_reader_next(&r, &o, &err), 0);
        assert_int_equal(protocol_reader_feed(&r, ":2}", 4), 0);
        assert_int_equal(protocol_reader_next(&r, &o, &err), 1);
        assert_int_equal(json_object_get_int(json_object_object_get(o, "b")), 2);
        json_object_put(o);
        protocol_reader_done(&r);
}

static void expect_bad(const char *msg, const char *expected_err) {
        ProtocolReader r = {};
        json_object *o = NULL;
        const char *err = NULL;

        feed_str(&r, msg);
        feed_str(&r, "{}");
        assert_int_equal(protocol_reader_next(&r, &o, &err), -EBADMSG);
        assert_non_null(err);
        if (expected_err && !strstr(err, expected_err))
                fail_msg("'%s': got '%s', expected '%s'", msg, err, expected_err);
        /* The stream resynchronizes at the next NUL. */
        assert_int_equal(protocol_reader_next(&r, &o, &err), 1);
        json_object_put(o);
        protocol_reader_done(&r);
}

static void test_reader_malformed(void **state) {
        expect_bad("", "empty");
        expect_bad("{", "incomplete");
        expect_bad("nope", "not valid JSON");
        expect_bad("[1,2]", "not a JSON object");
        expect_bad("42", "not a JSON object");
        expect_bad("{} {}", "not valid JSON");
        expect_bad("{\"a\":\"\xff\"}", "not valid JSON");

        char deep[300] = {};
        for (size_t i = 0; i < 100; i++)
                deep[i] = '[';
        char msg[400];
        snprintf(msg, sizeof(msg), "{\"a\":%s", deep);
        expect_bad(msg, NULL);
}

static void test_reader_oversize(void **state) {
        ProtocolReader r = {};
        json_object *o = NULL;
        const char *err = NULL;
        char *big = malloc(PROTOCOL_MAX_MESSAGE);
        assert_non_null(big);
        memset(big, ' ', PROTOCOL_MAX_MESSAGE);

        /* Exactly the maximum without a terminator is still acceptable… */
        assert_int_equal(protocol_reader_feed(&r, big, PROTOCOL_MAX_MESSAGE), 0);
        assert_int_equal(protocol_reader_next(&r, &o, &err), 0);
        /* …one more byte is not, and the reader stays broken. */
        assert_int_equal(protocol_reader_feed(&r, " ", 1), -EMSGSIZE);
        assert_int_equal(protocol_reader_next(&r, &o, &err), -EMSGSIZE);
        assert_non_null(strstr(err, "maximum size"));
        assert_int_equal(protocol_reader_feed(&r, "", 1), -EMSGSIZE);
        protocol_reader_done(&r);
        free(big);
}

static void test_writer(void **state) {
        ProtocolWriter w = {};
        json_object *req = NULL, *params = json_object_new_object();
        const char *data;

        json_object_object_add(params, "host", json_object_new_string("h1"));
        assert_int_equal(protocol_request_new("drs.Status", params, &req), 0);
        assert_int_equal(protocol_writer_append(&w, req), 0);
        assert_int_equal(protocol_writer_append(&w, req), 0);
        size_t n = protocol_writer_pending(&w, &data);
        const char expect[] = "{\"method\":\"drs.Status\",\"parameters\":{\"host\":\"h1\"}}";
        assert_int_equal(n, 2 * sizeof(expect));
        assert_memory_equal(data, expect, sizeof(expect));
        protocol_writer_consume(&w, 10);
        assert_int_equal(protocol_writer_pending(&w, &data), 2 * sizeof(expect) - 10);
        protocol_writer_consume(&w, 1000);
        assert_int_equal(protocol_writer_pending(&w, &data), 0);
        assert_null(data);

        json_object_put(req);
        json_object_put(params);
        protocol_writer_done(&w);
}

static void test_names(void **state) {
        assert_true(protocol_name_is_valid("drs.Status"));
        assert_true(protocol_name_is_valid("org.varlink.service.GetInfo"));
        assert_true(protocol_name_is_valid("drs.No_Such2"));
        assert_false(protocol_name_is_valid("drs"));
        assert_false(protocol_name_is_valid("drs."));
        assert_false(protocol_name_is_valid(".drs"));
        assert_false(protocol_name_is_valid("drs..Status"));
        assert_false(protocol_name_is_valid("drs.1Status"));
        assert_false(protocol_name_is_valid("drs.Sta tus"));
        assert_false(protocol_name_is_valid(""));
        assert_false(protocol_name_is_valid(NULL));
}

static json_object *parse(const char *s) {
        json_object *o = NULL;
        const char *err;
        assert_int_equal(protocol_parse_message(s, strlen(s), &o, &err), 0);
        return o;
}

static void test_request_parse(void **state) {
        json_object *o, *params;
        const char *method, *err = NULL;

        o = parse("{\"method\":\"drs.Ping\"}");
        assert_int_equal(protocol_request_parse(o, &method, &params, &err), 0);
        assert_string_equal(method, "drs.Ping");
        assert_true(json_object_is_type(params, json_type_object));
        json_object_put(o);

        const char *bad[] = {
                "{}",
                "{\"method\":1}",
                "{\"method\":\"ping\"}",
                "{\"method\":\"drs.Ping\",\"parameters\":[]}",
                "{\"method\":\"drs.Ping\",\"oneway\":true}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = parse(bad[i]);
                err = NULL;
                assert_int_equal(protocol_request_parse(o, &method, &params, &err), -EBADMSG);
                assert_non_null(err);
                json_object_put(o);
        }
}

static void test_reply_roundtrip(void **state) {
        json_object *o = NULL, *params, *extra = json_object_new_object();
        const char *error, *message, *err;

        json_object_object_add(extra, "host", json_object_new_string("h9"));
        assert_int_equal(protocol_error_new("drs.NoSuchHost", "no host 'h9'", extra, &o), 0);
        assert_string_equal(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                "{\"error\":\"drs.NoSuchHost\",\"parameters\":{\"host\":\"h9\",\"message\":\"no host 'h9'\"}}");
        assert_int_equal(protocol_reply_parse(o, &params, &error, &message, &err), 0);
        assert_string_equal(error, "drs.NoSuchHost");
        assert_string_equal(message, "no host 'h9'");
        json_object_put(o);
        json_object_put(extra);

        assert_int_equal(protocol_reply_new(NULL, &o), 0);
        assert_int_equal(protocol_reply_parse(o, &params, &error, &message, &err), 0);
        assert_null(error);
        assert_null(message);
        assert_int_equal(json_object_object_length(params), 0);
        json_object_put(o);

        o = parse("{\"parameters\":{},\"extra\":1}");
        assert_int_equal(protocol_reply_parse(o, &params, &error, &message, &err), -EBADMSG);
        json_object_put(o);
        o = parse("{\"error\":\"x\",\"parameters\":{}}");
        assert_int_equal(protocol_reply_parse(o, &params, &error, &message, &err), -EBADMSG);
        json_object_put(o);
}

/* protocol_call() against a peer that answers by hand: framing over a real socket. */
static void test_call_socketpair(void **state) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);

        const char reply[] = "{\"parameters\":{\"pong\":true}}";
        assert_int_equal(write(sv[1], reply, sizeof(reply)), (ssize_t) sizeof(reply));

        json_object *o = NULL, *params;
        const char *error, *message, *err;
        assert_int_equal(protocol_call(NULL, sv[0], "drs.Ping", NULL, 2000000, &o), 0);
        assert_int_equal(protocol_reply_parse(o, &params, &error, &message, &err), 0);
        assert_true(json_object_get_boolean(json_object_object_get(params, "pong")));
        json_object_put(o);

        char buf[256];
        ssize_t l = read(sv[1], buf, sizeof(buf));
        const char expect[] = "{\"method\":\"drs.Ping\",\"parameters\":{}}";
        assert_int_equal(l, (ssize_t) sizeof(expect));
        assert_memory_equal(buf, expect, sizeof(expect));

        /* No answer: bounded wait. */
        assert_int_equal(protocol_call(NULL, sv[0], "drs.Ping", NULL, 50000, &o), -ETIMEDOUT);
        /* Peer gone. */
        close(sv[1]);
        int k = protocol_call(NULL, sv[0], "drs.Ping", NULL, 2000000, &o);
        assert_true(k == -ECONNRESET || k == -EPIPE);
        close(sv[0]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reader_splits_messages),
                cmocka_unit_test(test_reader_malformed),
                cmocka_unit_test(test_reader_oversize),
                cmocka_unit_test(test_writer),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_request_parse),
                cmocka_unit_test(test_reply_roundtrip),
                cmocka_unit_test(test_call_socketpair),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
