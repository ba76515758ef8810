/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libyaml events → YNode tree, plus the typed getters. Pure: no I/O, no logging. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <yaml.h>

#include "yaml-tree.h"

YNode *ynode_free(YNode *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_children; i++)
                ynode_free(n->children[i]);
        free(n->children);
        free(n->value);
        free(n);
        return NULL;
}

void policy_error_clear(PolicyError *e) {
        if (!e)
                return;
        free(e->file);
        free(e->message);
        *e = (PolicyError){};
}

_printf_(5, 0) static int error_fillv(
        PolicyError *e, const char *file, unsigned line, unsigned column, const char *fmt, va_list ap) {
        _cleanup_free_ char *f = NULL, *m = NULL;

        if (!e)
                return -EINVAL;
        f = strdup(file ?: "<input>");
        if (!f || vasprintf(&m, fmt, ap) < 0) {
                m = NULL;
                return -ENOMEM;
        }
        policy_error_clear(e);
        e->file = TAKE_PTR(f);
        e->message = TAKE_PTR(m);
        e->line = line;
        e->column = column;
        return -EINVAL;
}

int ytree_error(PolicyError *e, const char *file, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_fillv(e, file, line, column, fmt, ap);
        va_end(ap);
        return r;
}

int yerr(YContext *c, const YNode *n, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_fillv(c->error, c->file, n ? n->line : 0, n ? n->column : 0, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- the reader ---- */

typedef struct Builder {
        const char *file;
        PolicyError *error;
        YNode *root;
        YNode *stack[YTREE_MAX_DEPTH];
        size_t depth;
        size_t n_nodes;
        size_t max_nodes;
        const YStream *stream; /* NULL: keep everything in the tree */
        size_t streamed;       /* items handed to the sink under the current key */
} Builder;

static int node_new(Builder *b, YNodeType type, const yaml_mark_t *mark, YNode **ret) {
        YNode *n;

        if (b->n_nodes >= b->max_nodes)
                return ytree_error(
                        b->error, b->file, mark->line + 1, mark->column + 1,
                        "document has more than %zu nodes", b->max_nodes);
        n = calloc(1, sizeof(YNode));
        if (!n)
                return -ENOMEM;
        n->type = type;
        n->line = (unsigned) mark->line + 1;
        n->column = (unsigned) mark->column + 1;
        b->n_nodes++;
        *ret = n;
        return 0;
}

/* Attaches n (taking ownership, also on failure) to the current container or as the root. */
static int node_attach(Builder *b, YNode *n) {
        YNode *parent;

        if (b->depth == 0) {
                b->root = n;
                return 0;
        }
        parent = b->stack[b->depth - 1];
        if (parent->type == YNODE_MAPPING && parent->n_children % 2 == 0 && n->type != YNODE_SCALAR) {
                int r = ytree_error(
                        b->error, b->file, n->line, n->column, "mapping keys must be plain strings, got %s",
                        ynode_type_name(n));
                ynode_free(n);
                return r;
        }
        if (parent->n_children == parent->n_allocated) {
                size_t na = parent->n_allocated ? parent->n_allocated * 2 : 8;
                YNode **c = reallocarray(parent->children, na, sizeof(YNode *));
                if (!c) {
                        ynode_free(n);
                        return -ENOMEM;
                }
                parent->children = c;
                parent->n_allocated = na;
        }
        parent->children[parent->n_children++] = n;
        return 0;
}

static int
check_anchor_tag(Builder *b, const yaml_event_t *ev, const yaml_char_t *anchor, const yaml_char_t *tag) {
        if (anchor)
                return ytree_error(
                        b->error, b->file, ev->start_mark.line + 1, ev->start_mark.column + 1,
                        "YAML anchors are not supported ('&%.40s')", (const char *) anchor);
        if (tag && strncmp((const char *) tag, "tag:yaml.org,2002:", 18) != 0)
                return ytree_error(
                        b->error, b->file, ev->start_mark.line + 1, ev->start_mark.column + 1,
                        "unsupported YAML tag '%.40s'", (const char *) tag);
        return 0;
}

typedef struct KeyRef {
        const YNode *key;
        size_t index;
} KeyRef;

static int keyref_cmp(const void *a, const void *b) {
        const KeyRef *x = a, *y = b;
        int r = strcmp(x->key->value, y->key->value);
        if (r != 0)
                return r;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int check_duplicate_keys(Builder *b, const YNode *map) {
        size_t n = map->n_children / 2;
        const KeyRef *dup = NULL, *first = NULL;
        _cleanup_free_ KeyRef *refs = NULL;

        if (n < 2)
                return 0;
        refs = calloc(n, sizeof(KeyRef));
        if (!refs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                refs[i] = (KeyRef){map->children[2 * i], i};
        qsort(refs, n, sizeof(KeyRef), keyref_cmp);
        /* Report the duplicate that comes first in the document. */
        for (size_t i = 1; i < n; i++)
                if (streq(refs[i].key->value, refs[i - 1].key->value) &&
                    (!dup || refs[i].index < dup->index)) {
                        dup = &refs[i];
                        first = &refs[i - 1];
                        while (first > refs && streq((first - 1)->key->value, dup->key->value))
                                first--;
                }
        if (dup)
                return ytree_error(
                        b->error, b->file, dup->key->line, dup->key->column,
                        "duplicate key '%.64s' (first defined at line %u column %u)", dup->key->value,
                        first->key->line, first->key->column);
        return 0;
}

/* The top-level key whose sequence holds n when n (complete, the last child of that sequence)
 * is one of the items to stream; NULL otherwise. */
static const char *stream_key(const Builder *b, const YNode *n) {
        if (!b->stream || b->depth != 2)
                return NULL;
        const YNode *root = b->stack[0], *seq = b->stack[1];
        if (root->type != YNODE_MAPPING || seq->type != YNODE_SEQUENCE || root->n_children < 2 ||
            root->children[root->n_children - 1] != seq || seq->n_children == 0 ||
            seq->children[seq->n_children - 1] != n)
                return NULL;
        const YNode *key = root->children[root->n_children - 2];
        for (const char *const *k = b->stream->keys; k && *k; k++)
                if (streq(key->value, *k))
                        return *k;
        return NULL;
}

/* Hands n to the sink if it is a streamed item (detached from its sequence). */
static int stream_item(Builder *b, YNode *n) {
        const char *key = stream_key(b, n);
        if (!key)
                return 0;
        b->stack[1]->n_children--;
        return b->stream->sink(b->stream->userdata, key, b->streamed++, n);
}

static int handle_event(Builder *b, const yaml_event_t *ev, bool *done) {
        const yaml_mark_t *mark = &ev->start_mark;
        YNode *n = NULL;
        int r;

        switch (ev->type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
                return 0;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
                *done = true;
                return 0;
        case YAML_ALIAS_EVENT:
                return ytree_error(
                        b->error, b->file, mark->line + 1, mark->column + 1,
                        "YAML aliases are not supported ('*%.40s')", (const char *) ev->data.alias.anchor);
        case YAML_SCALAR_EVENT:
                r = check_anchor_tag(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
                if (r < 0)
                        return r;
                if (ev->data.scalar.length > YTREE_MAX_SCALAR)
                        return ytree_error(
                                b->error, b->file, mark->line + 1, mark->column + 1,
                                "scalar longer than %d bytes", YTREE_MAX_SCALAR);
                if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
                        return ytree_error(
                                b->error, b->file, mark->line + 1, mark->column + 1,
                                "NUL characters are not allowed in strings");
                r = node_new(b, YNODE_SCALAR, mark, &n);
                if (r < 0)
                        return r;
                n->value = strndup((const char *) ev->data.scalar.value, ev->data.scalar.length);
                if (!n->value) {
                        ynode_free(n);
                        return -ENOMEM;
                }
                n->length = ev->data.scalar.length;
                n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                            (ev->data.scalar.tag && streq((const char *) ev->data.scalar.tag, YAML_STR_TAG));
                r = node_attach(b, n);
                if (r < 0)
                        return r;
                return stream_item(b, n);
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
                r = seq ? check_anchor_tag(
                                  b, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag)
                        : check_anchor_tag(b, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
                if (r < 0)
                        return r;
                if (b->depth >= YTREE_MAX_DEPTH)
                        return ytree_error(
                                b->error, b->file, mark->line + 1, mark->column + 1,
                                "nesting deeper than %d levels", YTREE_MAX_DEPTH);
                r = node_new(b, seq ? YNODE_SEQUENCE : YNODE_MAPPING, mark, &n);
                if (r < 0)
                        return r;
                r = node_attach(b, n);
                if (r < 0)
                        return r;
                if (b->depth == 1)
                        b->streamed = 0; /* a new value of the root: its items count from 0 */
                b->stack[b->depth++] = n;
                return 0;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (b->depth == 0)
                        return -EINVAL; /* libyaml never does this */
                n = b->stack[--b->depth];
                if (n->type == YNODE_MAPPING) {
                        r = check_duplicate_keys(b, n);
                        if (r < 0)
                                return r;
                }
                return stream_item(b, n);
        default:
                return 0;
        }
}

static void
offset_to_position(const char *buf, size_t len, size_t offset, unsigned *line, unsigned *column) {
        unsigned l = 1, c = 1;

        for (size_t i = 0; i < offset && i < len; i++) {
                if (buf[i] == '\n') {
                        l++;
                        c = 1;
                } else if (((unsigned char) buf[i] & 0xC0) != 0x80)
                        c++;
        }
        *line = l;
        *column = c;
}

static int parser_error(Builder *b, yaml_parser_t *parser, const char *buf, size_t len) {
        const char *problem = parser->problem ?: "syntax error";
        unsigned line, column;

        switch (parser->error) {
        case YAML_MEMORY_ERROR:
                return -ENOMEM;
        case YAML_READER_ERROR:
                offset_to_position(buf, len, parser->problem_offset, &line, &column);
                if (parser->problem_value >= 0)
                        return ytree_error(
                                b->error, b->file, line, column, "invalid YAML: %s (byte 0x%02x)", problem,
                                (unsigned) parser->problem_value & 0xFF);
                return ytree_error(b->error, b->file, line, column, "invalid YAML: %s", problem);
        default:
                if (parser->context)
                        return ytree_error(
                                b->error, b->file, parser->problem_mark.line + 1,
                                parser->problem_mark.column + 1,
                                "invalid YAML: %s %s (from line %zu column %zu)", problem, parser->context,
                                parser->context_mark.line + 1, parser->context_mark.column + 1);
                return ytree_error(
                        b->error, b->file, parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                        "invalid YAML: %s", problem);
        }
}

int ytree_parse(const char *file, const char *buf, size_t len, YNode **ret, PolicyError *reterr) {
        return ytree_parse_bounded(file, buf, len, YTREE_MAX_NODES, YTREE_MAX_INPUT, ret, reterr);
}

int ytree_parse_bounded(
        const char *file, const char *buf, size_t len, size_t max_nodes, size_t max_input, YNode **ret,
        PolicyError *reterr) {
        return ytree_parse_streamed(file, buf, len, max_nodes, max_input, NULL, ret, reterr);
}

int ytree_parse_streamed(
        const char *file, const char *buf, size_t len, size_t max_nodes, size_t max_input,
        const YStream *stream, YNode **ret, PolicyError *reterr) {
        Builder b = {.file = file, .error = reterr, .max_nodes = max_nodes, .stream = stream};
        yaml_parser_t parser;
        bool done = false, seen_document = false;
        int r = 0;

        if (len > max_input)
                return ytree_error(reterr, file, 1, 1, "input larger than %zu bytes", max_input);
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);

        for (;;) {
                yaml_event_t ev;

                if (!yaml_parser_parse(&parser, &ev)) {
                        r = parser_error(&b, &parser, buf, len);
                        break;
                }
                if (ev.type == YAML_STREAM_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                if (ev.type == YAML_DOCUMENT_START_EVENT) {
                        if (seen_document) {
                                r = ytree_error(
                                        reterr, file, ev.start_mark.line + 1, ev.start_mark.column + 1,
                                        "multiple YAML documents are not supported");
                                yaml_event_delete(&ev);
                                break;
                        }
                        seen_document = true;
                        done = false;
                }
                if (done && ev.type != YAML_DOCUMENT_END_EVENT) {
                        yaml_event_delete(&ev);
                        continue;
                }
                r = handle_event(&b, &ev, &done);
                yaml_event_delete(&ev);
                if (r < 0)
                        break;
        }
        yaml_parser_delete(&parser);

        if (r < 0) {
                ynode_free(b.root);
                return r;
        }
        if (b.root && ynode_is_null(b.root))
                b.root = ynode_free(b.root);
        *ret = b.root;
        return 0;
}

/* ---- node helpers ---- */

bool ynode_is_null(const YNode *n) {
        if (!n || n->type != YNODE_SCALAR || n->quoted)
                return false;
        return n->length == 0 || streq(n->value, "~") || streq(n->value, "null") ||
               streq(n->value, "Null") || streq(n->value, "NULL");
}

const char *ynode_type_name(const YNode *n) {
        if (!n)
                return "nothing";
        switch (n->type) {
        case YNODE_MAPPING:
                return "a mapping";
        case YNODE_SEQUENCE:
                return "a list";
        case YNODE_SCALAR:
        default:
                if (ynode_is_null(n))
                        return "null";
                return n->quoted ? "a string" : "a single value";
        }
}

/* A printable, bounded copy of a scalar for messages. */
const char *ynode_shown(const YNode *n, char buf[static 48]) {
        size_t j = 0;

        for (size_t i = 0; i < n->length && j < 40; i++) {
                unsigned char ch = (unsigned char) n->value[i];
                buf[j++] = (ch < 0x20 || ch == 0x7F || ch == '\'') ? '?' : (char) ch;
        }
        if (n->length > 40) {
                buf[j++] = '.';
                buf[j++] = '.';
                buf[j++] = '.';
        }
        buf[j] = 0;
        return buf;
}

size_t ymap_size(const YNode *n) {
        return n && n->type == YNODE_MAPPING ? n->n_children / 2 : 0;
}

const YNode *ymap_get(const YNode *map, const char *key) {
        if (!map || map->type != YNODE_MAPPING)
                return NULL;
        for (size_t i = 0; i + 1 < map->n_children; i += 2)
                if (streq(map->children[i]->value, key))
                        return map->children[i + 1];
        return NULL;
}

static const char *type_word(YNodeType t) {
        return t == YNODE_MAPPING ? "a mapping" : t == YNODE_SEQUENCE ? "a list" : "a single value";
}

int yexpect(YContext *c, const YNode *n, YNodeType type, const char *what) {
        if (n->type == type && !(type == YNODE_SCALAR && ynode_is_null(n)))
                return 0;
        if (ynode_is_null(n))
                return yerr(c, n, "missing value for '%s' (expected %s)", what, type_word(type));
        return yerr(c, n, "expected %s for '%s', got %s", type_word(type), what, ynode_type_name(n));
}

int ymap_check(YContext *c, const YNode *n, const char *what, const char *const *keys) {
        int r = yexpect(c, n, YNODE_MAPPING, what);
        if (r < 0)
                return r;
        for (size_t i = 0; i + 1 < n->n_children; i += 2) {
                const YNode *k = n->children[i];
                bool found = false;
                char expected[512] = "", kb[48];
                size_t used = 0;

                for (const char *const *key = keys; *key; key++)
                        if (streq(*key, k->value)) {
                                found = true;
                                break;
                        }
                if (found)
                        continue;
                for (const char *const *key = keys; *key && used < sizeof(expected); key++) {
                        int w = snprintf(
                                expected + used, sizeof(expected) - used, "%s%s", key == keys ? "" : ", ",
                                *key);
                        if (w < 0)
                                break;
                        used += (size_t) w;
                }
                return yerr(
                        c, k, "unknown key '%s' in '%s' (expected one of: %s)", ynode_shown(k, kb), what,
                        expected);
        }
        return 0;
}

/* ---- scalar getters ---- */

/* A scalar with units ("10m", "4GiB", "45%"): quoted is fine too, JSON has no other way. */
static int expect_scalar(YContext *c, const YNode *n, const char *what, const char *kind) {
        if (n->type == YNODE_SCALAR && !ynode_is_null(n))
                return 0;
        if (ynode_is_null(n))
                return yerr(c, n, "missing value for '%s' (expected %s)", what, kind);
        return yerr(c, n, "expected %s for '%s', got %s", kind, what, ynode_type_name(n));
}

static int expect_plain(YContext *c, const YNode *n, const char *what, const char *kind) {
        if (n->type == YNODE_SCALAR && !n->quoted && !ynode_is_null(n))
                return 0;
        if (ynode_is_null(n))
                return yerr(c, n, "missing value for '%s' (expected %s)", what, kind);
        return yerr(c, n, "expected %s for '%s', got %s", kind, what, ynode_type_name(n));
}

int yget_bool(YContext *c, const YNode *n, const char *what, bool *ret) {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
        char b[48];
        int r = expect_plain(c, n, what, "a boolean");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(n->value, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(n->value, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return yerr(c, n, "invalid value '%s' for '%s' (expected true or false)", ynode_shown(n, b), what);
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

/* Decimal digits only, no sign, no blanks. */
static int parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!all_digits(s))
                return -EINVAL;
        for (; *s; s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int yget_uint(YContext *c, const YNode *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;
        char b[48];
        int r = expect_plain(c, n, what, "an integer");
        if (r < 0)
                return r;
        if (parse_u64(n->value, &v) < 0 || v < min || v > max)
                return yerr(
                        c, n,
                        "invalid value '%s' for '%s' (expected an integer from %" PRIu64 " to %" PRIu64 ")",
                        ynode_shown(n, b), what, min, max);
        *ret = v;
        return 0;
}

int yget_unsigned(YContext *c, const YNode *n, const char *what, unsigned min, unsigned max, unsigned *ret) {
        uint64_t v;
        int r = yget_uint(c, n, what, min, max, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

int yget_int(YContext *c, const YNode *n, const char *what, int64_t min, int64_t max, int64_t *ret) {
        const char *s;
        bool neg;
        uint64_t u;
        int64_t v;
        char b[48];
        int r = expect_plain(c, n, what, "an integer");
        if (r < 0)
                return r;
        s = n->value;
        neg = *s == '-';
        if (neg)
                s++;
        r = parse_u64(s, &u);
        if (r >= 0 && neg && u > (uint64_t) INT64_MAX + 1)
                r = -ERANGE;
        if (r >= 0 && !neg && u > (uint64_t) INT64_MAX)
                r = -ERANGE;
        if (r >= 0) {
                v = neg ? (u == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) u) : (int64_t) u;
                if (v >= min && v <= max) {
                        *ret = v;
                        return 0;
                }
        }
        return yerr(
                c, n, "invalid value '%s' for '%s' (expected an integer from %" PRId64 " to %" PRId64 ")",
                ynode_shown(n, b), what, min, max);
}

/* A finite decimal number: [-]digits[.digits][e[+-]digits]; no hex, inf, nan or blanks. */
static int parse_decimal(const char *s, size_t len, double *ret) {
        char buf[64];
        char *end = NULL;
        double v;
        size_t i = 0;
        bool digits = false;

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        if (s[i] == '-' || s[i] == '+')
                i++;
        while (i < len && isdigit((unsigned char) s[i]))
                i++, digits = true;
        if (i < len && s[i] == '.') {
                i++;
                while (i < len && isdigit((unsigned char) s[i]))
                        i++, digits = true;
        }
        if (!digits)
                return -EINVAL;
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < len && (s[i] == '-' || s[i] == '+'))
                        i++;
                if (i >= len || !isdigit((unsigned char) s[i]))
                        return -EINVAL;
                while (i < len && isdigit((unsigned char) s[i]))
                        i++;
        }
        if (i != len)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (errno != 0 || !end || *end || !isfinite(v))
                return -ERANGE;
        *ret = v;
        return 0;
}

int yget_double(YContext *c, const YNode *n, const char *what, double min, double max, double *ret) {
        double v;
        char b[48];
        int r = expect_plain(c, n, what, "a number");
        if (r < 0)
                return r;
        if (parse_decimal(n->value, n->length, &v) < 0 || v < min || v > max)
                return yerr(
                        c, n, "invalid value '%s' for '%s' (expected a number from %g to %g)",
                        ynode_shown(n, b), what, min, max);
        *ret = v;
        return 0;
}

int yget_power_model(YContext *c, const YNode *n, const char *what, PowerModel *ret) {
        static const char *const keys[] = {"idle_watts", "max_watts", "watts", NULL};
        PowerModel m = {.known = true};
        const YNode *idle, *max, *w;
        char f[128];
        int r = ymap_check(c, n, what, keys);
        if (r < 0)
                return r;
        idle = ymap_get(n, "idle_watts");
        max = ymap_get(n, "max_watts");
        w = ymap_get(n, "watts");
        if (w && (idle || max))
                return yerr(
                        c, n, "'%s' takes either 'watts' or 'idle_watts' and 'max_watts', not both", what);
        if (w) {
                if ((r = yexpect(c, w, YNODE_SEQUENCE, what)) < 0)
                        return r;
                if (w->n_children != POWER_MODEL_POINTS)
                        return yerr(
                                c, w, "'%s.watts' needs %d values (watts at 0, 10, …, 100 %% CPU), not %zu",
                                what, POWER_MODEL_POINTS, w->n_children);
                for (size_t i = 0; i < POWER_MODEL_POINTS; i++) {
                        (void) snprintf(f, sizeof(f), "%s.watts[%zu]", what, i);
                        if ((r = yget_double(c, w->children[i], f, 0, 100000, &m.watts[i])) < 0)
                                return r;
                }
        } else {
                double lo, hi;
                if (!idle || !max)
                        return yerr(c, n, "'%s' needs 'watts' or both 'idle_watts' and 'max_watts'", what);
                (void) snprintf(f, sizeof(f), "%s.idle_watts", what);
                if ((r = yget_double(c, idle, f, 0, 100000, &lo)) < 0)
                        return r;
                (void) snprintf(f, sizeof(f), "%s.max_watts", what);
                if ((r = yget_double(c, max, f, 0, 100000, &hi)) < 0)
                        return r;
                if (hi < lo)
                        return yerr(c, max, "'%s.max_watts' (%g) is below 'idle_watts' (%g)", what, hi, lo);
                for (size_t i = 0; i < POWER_MODEL_POINTS; i++)
                        m.watts[i] = lo + (hi - lo) * (double) i / (POWER_MODEL_POINTS - 1);
        }
        *ret = m;
        return 0;
}

int parse_duration_ms(const char *s, uint64_t *ret) {
        static const struct {
                const char *unit;
                uint64_t ms;
        } units[] = {
                {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
        };
        uint64_t total = 0, v;
        int r;

        if (!s || !*s)
                return -EINVAL;
        if (all_digits(s)) {
                r = parse_u64(s, &v);
                if (r < 0)
                        return r;
                if (v > UINT64_MAX / 1000)
                        return -ERANGE;
                *ret = v * 1000;
                return 0;
        }
        while (*s) {
                char digits[24];
                size_t nd = 0, best = 0;
                uint64_t mult = 0;

                while (isdigit((unsigned char) *s)) {
                        if (nd + 1 >= sizeof(digits))
                                return -ERANGE;
                        digits[nd++] = *s++;
                }
                if (nd == 0)
                        return -EINVAL;
                digits[nd] = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        size_t ul = strlen(units[i].unit);
                        if (strncmp(s, units[i].unit, ul) == 0 && !isalpha((unsigned char) s[ul]) &&
                            ul > best) {
                                best = ul;
                                mult = units[i].ms;
                        }
                }
                if (best == 0)
                        return -EINVAL;
                s += best;
                r = parse_u64(digits, &v);
                if (r < 0)
                        return r;
                if (v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
                        return -ERANGE;
                total += v * mult;
        }
        *ret = total;
        return 0;
}

void format_duration_ms(uint64_t ms, char *buf, size_t size) {
        if (ms == 0)
                snprintf(buf, size, "0s");
        else if (ms % (86400 * 1000) == 0)
                snprintf(buf, size, "%" PRIu64 "d", ms / (86400 * 1000));
        else if (ms % (3600 * 1000) == 0)
                snprintf(buf, size, "%" PRIu64 "h", ms / (3600 * 1000));
        else if (ms % (60 * 1000) == 0)
                snprintf(buf, size, "%" PRIu64 "m", ms / (60 * 1000));
        else if (ms % 1000 == 0)
                snprintf(buf, size, "%" PRIu64 "s", ms / 1000);
        else
                snprintf(buf, size, "%" PRIu64 "ms", ms);
}

void format_double(double d, char *buf, size_t size) {
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        return;
        }
}

static int duration_error(YContext *c, const YNode *n, const char *what, uint64_t min_ms, uint64_t max_ms) {
        char b[48], lo[32], hi[32];

        format_duration_ms(min_ms, lo, sizeof(lo));
        format_duration_ms(max_ms, hi, sizeof(hi));
        return yerr(
                c, n,
                "invalid value '%s' for '%s' (expected a duration from %s to %s, e.g. 90s, 10m, 1h, 2d)",
                ynode_shown(n, b), what, lo, hi);
}

int yget_duration_ms(
        YContext *c, const YNode *n, const char *what, uint64_t min_ms, uint64_t max_ms, uint64_t *ret) {
        uint64_t v;
        int r = expect_scalar(c, n, what, "a duration");
        if (r < 0)
                return r;
        if (parse_duration_ms(n->value, &v) < 0 || v < min_ms || v > max_ms)
                return duration_error(c, n, what, min_ms, max_ms);
        *ret = v;
        return 0;
}

int yget_duration_s(
        YContext *c, const YNode *n, const char *what, uint64_t min_s, uint64_t max_s, uint64_t *ret) {
        uint64_t v;
        int r = expect_scalar(c, n, what, "a duration");
        if (r < 0)
                return r;
        if (parse_duration_ms(n->value, &v) < 0 || v % 1000 != 0 || v / 1000 < min_s || v / 1000 > max_s)
                return duration_error(c, n, what, min_s * 1000, max_s * 1000);
        *ret = v / 1000;
        return 0;
}

int parse_size_mib(const char *s, uint64_t *ret) {
        static const struct {
                const char *unit;
                uint64_t mib;
        } units[] = {
                {"", 1},
                {"MiB", 1},
                {"GiB", 1024},
                {"TiB", 1024 * 1024},
        };
        char digits[24];
        size_t nd = 0;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        while (isdigit((unsigned char) *s)) {
                if (nd + 1 >= sizeof(digits))
                        return -ERANGE;
                digits[nd++] = *s++;
        }
        if (nd == 0)
                return -EINVAL;
        digits[nd] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(s, units[i].unit)) {
                        r = parse_u64(digits, &v);
                        if (r < 0)
                                return r;
                        if (v > UINT64_MAX / units[i].mib)
                                return -ERANGE;
                        *ret = v * units[i].mib;
                        return 0;
                }
        return -EINVAL;
}

void format_size_mib(uint64_t mib, char *buf, size_t size) {
        if (mib != 0 && mib % (1024 * 1024) == 0)
                snprintf(buf, size, "%" PRIu64 "TiB", mib / (1024 * 1024));
        else if (mib != 0 && mib % 1024 == 0)
                snprintf(buf, size, "%" PRIu64 "GiB", mib / 1024);
        else
                snprintf(buf, size, "%" PRIu64 "MiB", mib);
}

int yget_size_mib(YContext *c, const YNode *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;
        char b[48], lo[32], hi[32];
        int r = expect_scalar(c, n, what, "a size");
        if (r < 0)
                return r;
        if (parse_size_mib(n->value, &v) >= 0 && v >= min && v <= max) {
                *ret = v;
                return 0;
        }
        format_size_mib(min, lo, sizeof(lo));
        format_size_mib(max, hi, sizeof(hi));
        return yerr(
                c, n,
                "invalid value '%s' for '%s' (expected a size from %s to %s, e.g. 1024 (MiB), 512MiB, 4GiB)",
                ynode_shown(n, b), what, lo, hi);
}

int yget_fraction(YContext *c, const YNode *n, const char *what, double min, double max, double *ret) {
        double v;
        char b[48];
        int r = expect_scalar(c, n, what, "a percentage");
        if (r < 0)
                return r;
        if (n->length > 1 && n->value[n->length - 1] == '%') {
                r = parse_decimal(n->value, n->length - 1, &v);
                v /= 100.0;
        } else
                r = parse_decimal(n->value, n->length, &v);
        if (r >= 0 && v >= min && v <= max) {
                *ret = v;
                return 0;
        }
        /* The example is the middle of the range, written both ways. */
        double mid = (min + max) / 2.0;
        return yerr(
                c, n,
                "invalid value '%s' for '%s' (expected a percentage from %g%% to %g%% such as %g%%, or a fraction such as %g)",
                ynode_shown(n, b), what, min * 100.0, max * 100.0, mid * 100.0, mid);
}

int yget_string(YContext *c, const YNode *n, const char *what, size_t max_len, char **ret) {
        char *s;

        if (n->type != YNODE_SCALAR || ynode_is_null(n))
                return yexpect(c, n, YNODE_SCALAR, what);
        if (n->length == 0)
                return yerr(c, n, "empty value for '%s'", what);
        if (n->length > max_len)
                return yerr(
                        c, n, "value for '%s' is too long (%zu bytes, at most %zu)", what, n->length,
                        max_len);
        s = strdup(n->value);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int yget_strv(YContext *c, const YNode *n, const char *what, size_t max_count, size_t max_len, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r = yexpect(c, n, YNODE_SEQUENCE, what);
        if (r < 0)
                return r;
        if (n->n_children > max_count)
                return yerr(
                        c, n->children[max_count], "too many entries in '%s' (at most %zu)", what,
                        max_count);
        l = calloc(n->n_children + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_children; i++) {
                r = yget_string(c, n->children[i], what, max_len, &l[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
