/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The libvirt XML scanner (see domxml.h): a pull reader over tags, and decoding of text and
 * attribute values on request. */

#include <errno.h>
#include <stdint.h>

#include "domxml.h"
#include "macro.h"

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void domxml_reader_init(DomXmlReader *r, const char *xml) {
        *r = (DomXmlReader){.p = xml};
}

static int fail(DomXmlReader *r, const char *error) {
        r->error = error;
        return -EBADMSG;
}

/* Reads the tag at s ('<' not followed by '!' or '?') into *t. */
static int read_tag(DomXmlReader *r, const char *s, DomXmlToken *t) {
        bool closing = false, self_closing = false;

        *t = (DomXmlToken){.start = s};
        s++;
        if (*s == '/') {
                closing = true;
                s++;
        }
        t->name = s;
        while (*s && !is_space(*s) && *s != '>' && *s != '/')
                s++;
        t->name_len = (size_t) (s - t->name);
        if (t->name_len == 0 || t->name_len > DOMXML_NAME_MAX)
                return fail(r, "bad element name");
        t->attrs = s;
        /* Up to the '>' outside quotes. */
        for (char q = 0; *s; s++) {
                if (q) {
                        if (*s == q)
                                q = 0;
                } else if (*s == '"' || *s == '\'')
                        q = *s;
                else if (*s == '>')
                        break;
        }
        if (*s != '>')
                return fail(r, "unterminated tag");
        t->attrs_len = (size_t) (s - t->attrs);
        if (t->attrs_len > 0 && t->attrs[t->attrs_len - 1] == '/') {
                self_closing = true;
                t->attrs_len--;
        }
        if (closing) {
                for (size_t i = 0; i < t->attrs_len; i++)
                        if (!is_space(t->attrs[i]))
                                return fail(r, "bad end tag");
                if (self_closing)
                        return fail(r, "bad end tag");
        }
        t->kind = closing ? DOMXML_END : self_closing ? DOMXML_EMPTY : DOMXML_START;
        t->end = s + 1;
        return 0;
}

int domxml_read(DomXmlReader *r, DomXmlToken *ret) {
        const char *s = r->p;
        DomXmlToken t;
        int k;

        for (;;) {
                s = strchr(s, '<');
                if (!s) {
                        r->p = strchr(r->p, 0);
                        if (!r->seen_root || r->depth > 0)
                                return fail(r, "not a complete document");
                        return 0;
                }
                if (strncmp(s, "<!--", 4) == 0) {
                        const char *e = strstr(s + 4, "-->");
                        if (!e)
                                return fail(r, "unterminated comment");
                        s = e + 3;
                        continue;
                }
                if (s[1] == '?') {
                        const char *e = strstr(s + 2, "?>");
                        if (!e)
                                return fail(r, "unterminated <? … ?>");
                        s = e + 2;
                        continue;
                }
                break;
        }

        if (strncmp(s, "<![CDATA[", 9) == 0) {
                const char *e = strstr(s + 9, "]]>");
                if (!e)
                        return fail(r, "unterminated CDATA section");
                t = (DomXmlToken){.kind = DOMXML_CDATA, .depth = r->depth, .start = s, .end = e + 3};
        } else if (s[1] == '!') {
                const char *e = strchr(s, '>');
                if (!e)
                        return fail(r, "unterminated declaration");
                t = (DomXmlToken){.kind = DOMXML_DECL, .depth = r->depth, .start = s, .end = e + 1};
        } else {
                k = read_tag(r, s, &t);
                if (k < 0)
                        return k;
                if (t.kind == DOMXML_END) {
                        if (r->depth == 0 || r->open[r->depth - 1].len != t.name_len ||
                            strncmp(r->open[r->depth - 1].name, t.name, t.name_len) != 0)
                                return fail(r, "unbalanced end tag");
                        r->depth--;
                } else if (r->depth == 0 && r->seen_root)
                        return fail(r, "a second document element");
                t.depth = r->depth;
                r->seen_root = true;
                if (t.kind == DOMXML_START) {
                        if (r->depth >= DOMXML_MAX_DEPTH)
                                return fail(r, "elements nested too deep");
                        r->open[r->depth].name = t.name;
                        r->open[r->depth].len = t.name_len;
                        r->depth++;
                }
        }
        r->p = t.end;
        *ret = t;
        return 1;
}

bool domxml_name_is(const DomXmlToken *t, const char *name) {
        return t->name && t->name_len == strlen(name) && strncmp(t->name, name, t->name_len) == 0;
}

/* XML 1.0's Char production. */
static bool is_xml_char(uint32_t c) {
        return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
               (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

static size_t utf8_encode(uint32_t c, char *out) {
        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xc0 | (c >> 6));
                out[1] = (char) (0x80 | (c & 0x3f));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char) (0xe0 | (c >> 12));
                out[1] = (char) (0x80 | ((c >> 6) & 0x3f));
                out[2] = (char) (0x80 | (c & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (c >> 18));
        out[1] = (char) (0x80 | ((c >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((c >> 6) & 0x3f));
        out[3] = (char) (0x80 | (c & 0x3f));
        return 4;
}

/* The character reference at s ("&#…;" or "&#x…;", within n bytes): its length, or 0 when
 * malformed or not an XML character. */
static size_t char_ref(const char *s, size_t n, uint32_t *ret) {
        bool hex = n > 2 && s[2] == 'x';
        size_t k = hex ? 3 : 2, digits = 0;
        uint32_t v = 0;

        for (; k < n && s[k] != ';'; k++, digits++) {
                char c = s[k];
                uint32_t d;

                if (digits >= 8)
                        return 0;
                if (c >= '0' && c <= '9')
                        d = (uint32_t) (c - '0');
                else if (hex && c >= 'a' && c <= 'f')
                        d = (uint32_t) (c - 'a' + 10);
                else if (hex && c >= 'A' && c <= 'F')
                        d = (uint32_t) (c - 'A' + 10);
                else
                        return 0;
                v = v * (hex ? 16 : 10) + d;
        }
        if (k >= n || digits == 0 || !is_xml_char(v))
                return 0;
        *ret = v;
        return k + 1;
}

int domxml_unescape(const char *s, size_t n, char **ret) {
        static const struct {
                const char *ent;
                char c;
        } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
        };
        /* No reference is shorter than the UTF-8 it decodes to. */
        _cleanup_free_ char *out = malloc(n + 1);
        size_t j = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                size_t l = 0;

                if (s[i] != '&') {
                        out[j++] = s[i++];
                        continue;
                }
                if (i + 1 < n && s[i + 1] == '#') {
                        uint32_t c;

                        l = char_ref(s + i, n - i, &c);
                        if (l > 0)
                                j += utf8_encode(c, out + j);
                } else
                        for (size_t k = 0; k < ELEMENTSOF(ents); k++) {
                                size_t el = strlen(ents[k].ent);
                                if (el <= n - i && strncmp(s + i, ents[k].ent, el) == 0) {
                                        out[j++] = ents[k].c;
                                        l = el;
                                        break;
                                }
                        }
                if (l == 0)
                        return -EBADMSG;
                i += l;
        }
        out[j] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int domxml_attr(const DomXmlToken *t, const char *name, char **ret) {
        const char *s = t->attrs, *end = t->attrs + t->attrs_len;
        size_t name_len = strlen(name);

        if (!t->attrs)
                return 0;
        while (s < end) {
                const char *an, *v;
                size_t an_len;
                char q;

                while (s < end && is_space(*s))
                        s++;
                if (s >= end)
                        break;
                an = s;
                while (s < end && *s != '=' && !is_space(*s))
                        s++;
                an_len = (size_t) (s - an);
                while (s < end && is_space(*s))
                        s++;
                if (an_len == 0 || s >= end || *s != '=')
                        return -EBADMSG;
                s++;
                while (s < end && is_space(*s))
                        s++;
                if (s >= end || (*s != '"' && *s != '\''))
                        return -EBADMSG;
                q = *s++;
                v = s;
                while (s < end && *s != q)
                        s++;
                if (s >= end)
                        return -EBADMSG;
                if (an_len == name_len && strncmp(an, name, name_len) == 0) {
                        int k = domxml_unescape(v, (size_t) (s - v), ret);
                        return k < 0 ? k : 1;
                }
                s++;
        }
        return 0;
}

/* The text of the element t starts, up to the next markup, decoded. */
static int text_of(const DomXmlToken *t, char **ret) {
        const char *next;

        if (t->kind == DOMXML_EMPTY) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        next = strchr(t->end, '<');
        if (!next)
                return -EBADMSG;
        return domxml_unescape(t->end, (size_t) (next - t->end), ret);
}

int domxml_text(const char *xml, const char *path, char **ret) {
        /* Walks the document keeping how many leading components of path the open elements
         * match. */
        char *comps[DOMXML_MAX_DEPTH];
        size_t n_comps = 0, matched = 0;
        _cleanup_free_ char *copy = NULL;
        DomXmlReader r;
        int k;

        if (!xml || !path || !ret)
                return -EINVAL;
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *c = copy, *e; c && *c; c = e) {
                e = strchr(c, '/');
                if (e)
                        *e++ = 0;
                if (n_comps >= DOMXML_MAX_DEPTH)
                        return -EINVAL;
                comps[n_comps++] = c;
        }
        if (n_comps == 0)
                return -EINVAL;

        domxml_reader_init(&r, xml);
        for (;;) {
                DomXmlToken t;

                k = domxml_read(&r, &t);
                if (k <= 0)
                        return k;
                if (t.kind == DOMXML_END) {
                        if (matched > t.depth)
                                matched = t.depth;
                        continue;
                }
                if ((t.kind != DOMXML_START && t.kind != DOMXML_EMPTY) || matched != t.depth ||
                    t.depth >= n_comps || !domxml_name_is(&t, comps[t.depth]))
                        continue;
                if (t.depth + 1 == n_comps) {
                        k = text_of(&t, ret);
                        return k < 0 ? k : 1;
                }
                if (t.kind == DOMXML_START)
                        matched = t.depth + 1;
        }
}
