/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* domxml.c: the libvirt XML scanner drsd (hv.c) and drsctl (place VM.xml) share. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "domxml.h"
#include "hv.h"
#include "macro.h"

/* Reads every token of xml; the kinds (one letter each: S E / C D) and depths into out. */
static int scan(const char *xml, char *out, size_t size, const char **reterr) {
        DomXmlReader r;
        size_t n = 0;
        int k;

        domxml_reader_init(&r, xml);
        for (;;) {
                DomXmlToken t;

                k = domxml_read(&r, &t);
                if (k <= 0)
                        break;
                assert_true(n + 3 < size);
                out[n++] = "S/ECD"[t.kind];
                out[n++] = (char) ('0' + t.depth);
        }
        out[n] = 0;
        *reterr = r.error;
        return k;
}

static void test_tokens(void **state) {
        const char *xml = "<?xml version='1.0'?>\n"
                          "<!-- <not> a tag -->\n"
                          "<domain type='kvm'>text<name>a</name ><devices><disk/></devices>"
                          "<x><![CDATA[<y>]]></x></domain>\n";
        const char *err = NULL;
        char kinds[64];

        assert_int_equal(scan(xml, kinds, sizeof(kinds), &err), 0);
        assert_null(err);
        /* domain(0) name(1) /name devices(1) disk/(2) /devices x(1) CDATA(2) /x /domain */
        assert_string_equal(kinds, "S0S1E1S1/2E1S1C2E1E0");

        assert_int_equal(scan("<!DOCTYPE domain><domain/>", kinds, sizeof(kinds), &err), 0);
        assert_string_equal(kinds, "D0/0");
}

static void test_token_fields(void **state) {
        const char *xml = "<domain type=\"kvm\" id='3'><memory unit='KiB' >1</memory></domain>";
        DomXmlReader r;
        DomXmlToken t;
        char *v = NULL;

        domxml_reader_init(&r, xml);
        assert_int_equal(domxml_read(&r, &t), 1);
        assert_int_equal(t.kind, DOMXML_START);
        assert_true(domxml_name_is(&t, "domain"));
        assert_false(domxml_name_is(&t, "domai"));
        assert_ptr_equal(t.start, xml);
        assert_int_equal(t.end - xml, (ptrdiff_t) strlen("<domain type=\"kvm\" id='3'>"));
        assert_int_equal(domxml_attr(&t, "type", &v), 1);
        assert_string_equal(v, "kvm");
        free(v);
        assert_int_equal(domxml_attr(&t, "id", &v), 1);
        assert_string_equal(v, "3");
        free(v);
        assert_int_equal(domxml_attr(&t, "unit", &v), 0);

        assert_int_equal(domxml_read(&r, &t), 1);
        assert_true(domxml_name_is(&t, "memory"));
        assert_int_equal(t.depth, 1);
        assert_int_equal(domxml_attr(&t, "unit", &v), 1);
        assert_string_equal(v, "KiB");
        free(v);
        assert_int_equal(domxml_read(&r, &t), 1);
        assert_int_equal(t.kind, DOMXML_END);
        assert_int_equal(domxml_read(&r, &t), 1);
        assert_int_equal(domxml_read(&r, &t), 0);
        assert_int_equal(domxml_read(&r, &t), 0); /* stays at the end */
}

static void test_bad_attributes(void **state) {
        static const char *const bad[] = {
                "<a b/>", "<a b=c/>", "<a b='c/>", "<a ='c'/>", "<a b='&bogus;'/>", "<a b='&#0;'/>",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                DomXmlReader r;
                DomXmlToken t;
                char *v = NULL;
                int k;

                domxml_reader_init(&r, bad[i]);
                k = domxml_read(&r, &t);
                if (k < 0) /* the quote never closes: not even a tag */
                        continue;
                assert_int_equal(k, 1);
                assert_int_equal(domxml_attr(&t, "b", &v), -EBADMSG);
                assert_null(v);
        }
}

static void test_malformed(void **state) {
        static const struct {
                const char *xml;
                const char *error;
        } bad[] = {
                {"", "not a complete document"},
                {"just text", "not a complete document"},
                {"<a>", "not a complete document"},
                {"<a></b>", "unbalanced end tag"},
                {"</a>", "unbalanced end tag"},
                {"<a></a x='1'>", "bad end tag"},
                {"<a/><a/>", "a second document element"},
                {"<a><!-- x </a>", "unterminated comment"},
                {"<?xml <a/>", "unterminated <? … ?>"},
                {"<a><![CDATA[x</a>", "unterminated CDATA section"},
                {"<!DOCTYPE a", "unterminated declaration"},
                {"<a", "unterminated tag"},
                {"<a b='>'", "unterminated tag"},
                {"< a/>", "bad element name"},
                {"<>", "bad element name"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *err = NULL;
                char kinds[64];

                assert_int_equal(scan(bad[i].xml, kinds, sizeof(kinds), &err), -EBADMSG);
                assert_non_null(err);
                assert_string_equal(err, bad[i].error);
        }
}

static void test_depth(void **state) {
        char buf[DOMXML_MAX_DEPTH * 7 + 16] = "";
        size_t n = 0;
        const char *err = NULL;
        char kinds[512];

        for (unsigned i = 0; i < DOMXML_MAX_DEPTH; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "<a>");
        for (unsigned i = 0; i < DOMXML_MAX_DEPTH; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "</a>");
        assert_int_equal(scan(buf, kinds, sizeof(kinds), &err), 0);

        n = 0;
        for (unsigned i = 0; i <= DOMXML_MAX_DEPTH; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "<a>");
        assert_int_equal(scan(buf, kinds, sizeof(kinds), &err), -EBADMSG);
        assert_string_equal(err, "elements nested too deep");
}

static void unescapes(const char *in, const char *want) {
        char *out = NULL;

        assert_int_equal(domxml_unescape(in, strlen(in), &out), 0);
        assert_string_equal(out, want);
        free(out);
}

static void test_references(void **state) {
        static const char *const bad[] = {
                "&",     "&amp",     "&bogus;",  "&#;",        "&#x;",   "&#12a;",       "&#0;",   "&#1;",
                "&#xB;", "&#xD800;", "&#xFFFE;", "&#x110000;", "&#xg0;", "&#123456789;", "&#X41;", "&#65",
        };

        unescapes("", "");
        unescapes("plain", "plain");
        unescapes("&amp;&lt;&gt;&quot;&apos;", "&<>\"'");
        unescapes("storage&#45;net", "storage-net");
        unescapes("&#x41;&#x6a;&#x6A;", "Ajj");
        unescapes("caf&#233;", "caf\xc3\xa9");
        unescapes("caf&#xe9;", "caf\xc3\xa9");
        unescapes("caf\xc3\xa9", "caf\xc3\xa9"); /* UTF-8 passes through */
        unescapes("&#x20AC;", "\xe2\x82\xac");
        unescapes("&#x1F600;", "\xf0\x9f\x98\x80");
        unescapes("&#9;&#10;&#13;", "\t\n\r");
        unescapes("&#x10FFFF;", "\xf4\x8f\xbf\xbf");
        unescapes("&#00000065;", "A");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *out = NULL;
                assert_int_equal(domxml_unescape(bad[i], strlen(bad[i]), &out), -EBADMSG);
                assert_null(out);
        }
        /* Only [s, s+n) is read: a reference cut by n is malformed. */
        char *out = NULL;
        assert_int_equal(domxml_unescape("&amp;", 4, &out), -EBADMSG);
        assert_int_equal(domxml_unescape("&#65;", 4, &out), -EBADMSG);
        assert_int_equal(domxml_unescape("a&amp;", 1, &out), 0);
        assert_string_equal(out, "a");
        free(out);
}

static void test_text(void **state) {
        const char *pool = "<pool type='dir'>\n  <name>local</name>\n  <capacity unit='bytes'>5</capacity>\n"
                           "  <source>\n  </source>\n  <target>\n    <path>/var/lib/a&amp;b</path>\n"
                           "    <permissions><mode>0711</mode></permissions>\n  </target>\n</pool>\n";
        char *t = NULL;

        assert_int_equal(domxml_text(pool, "pool/target/path", &t), 1);
        assert_string_equal(t, "/var/lib/a&b");
        free(t);
        assert_int_equal(domxml_text(pool, "pool/name", &t), 1);
        assert_string_equal(t, "local");
        free(t);
        assert_int_equal(domxml_text(pool, "pool/path", &t), 0);
        assert_int_equal(domxml_text(pool, "target/path", &t), 0);
        assert_int_equal(domxml_text("<pool><target><path>x", "pool/target/path", &t), -EBADMSG);
        assert_int_equal(domxml_text(pool, "", &t), -EINVAL);

        assert_int_equal(domxml_text("<a><b/></a>", "a/b", &t), 1);
        assert_string_equal(t, "");
        free(t);
        /* Comments are skipped; a comment inside the text ends it. */
        assert_int_equal(domxml_text("<a><!-- <b>no</b> --><b>x<!-- y -->z</b></a>", "a/b", &t), 1);
        assert_string_equal(t, "x");
        free(t);
        /* The first match in document order, at the right depth only. */
        assert_int_equal(domxml_text("<a><c><b>deep</b></c><b>one</b><b>two</b></a>", "a/b", &t), 1);
        assert_string_equal(t, "one");
        free(t);
        assert_int_equal(domxml_text("<a><b>&bogus;</b></a>", "a/b", &t), -EBADMSG);
}

/* The drift issue 19 was about: drsctl's old scanner refused character references that drsd's
 * decoded. Both now read the same bytes the same way. */
static void test_same_for_drsd_and_drsctl(void **state) {
        const char *xml = "<domain type='kvm'>\n"
                          "  <name>caf&#233;&#x2D;01 &amp; co</name>\n"
                          "  <memory unit='GiB'>2</memory>\n"
                          "  <vcpu>2</vcpu>\n"
                          "  <devices>\n"
                          "    <disk type='file' device='disk'><source file='/img/caf&#xE9;.qcow2'/>"
                          "<target dev='vda'/></disk>\n"
                          "    <interface type='network'><source network='n&#233;t'/></interface>\n"
                          "  </devices>\n"
                          "</domain>\n";
        HvDomainXml x = {};
        char *t = NULL;

        assert_int_equal(domxml_text(xml, "domain/name", &t), 1);
        assert_string_equal(t, "caf\xc3\xa9-01 & co");
        free(t);
        assert_int_equal(hv_domain_xml_parse(xml, &x), 0);
        assert_int_equal(x.n_disks, 1);
        assert_string_equal(x.disks[0].path, "/img/caf\xc3\xa9.qcow2");
        assert_string_equal(x.networks[0], "n\xc3\xa9t");
        hv_domain_xml_done(&x);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tokens),         cmocka_unit_test(test_token_fields),
                cmocka_unit_test(test_bad_attributes), cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_depth),          cmocka_unit_test(test_references),
                cmocka_unit_test(test_text),           cmocka_unit_test(test_same_for_drsd_and_drsctl),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
