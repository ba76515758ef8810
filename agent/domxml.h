/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small scanner for the XML libvirt writes (domain, pool and volume descriptions), shared by
 * drsd (hv.c: what precheck needs) and drsctl (place VM.xml). Pure: a NUL-terminated document
 * in, tokens and decoded values out; no libvirt, no libxml2, no I/O, never logs.
 *
 * The reader walks the markup: start, empty and end tags, CDATA sections and <!…>
 * declarations (reported, for the caller to skip or refuse); it skips text, comments and
 * <?…?>. It checks that end tags match, that there is one document element and that it is
 * closed, at most DOMXML_MAX_DEPTH deep. Text and attribute values are decoded on request:
 * the five predefined entities and numeric character references (to UTF-8, XML 1.0 characters
 * only). */

#include <stdbool.h>
#include <stddef.h>

#define DOMXML_MAX_DEPTH 64
#define DOMXML_NAME_MAX 64

typedef enum DomXmlKind {
        DOMXML_START, /* <name …> */
        DOMXML_EMPTY, /* <name …/> */
        DOMXML_END,   /* </name> */
        DOMXML_CDATA, /* <![CDATA[…]]> */
        DOMXML_DECL,  /* <!DOCTYPE …> and any other <!…> but comments */
} DomXmlKind;

typedef struct DomXmlToken {
        DomXmlKind kind;
        unsigned depth;   /* elements open around it (the document element: 0) */
        const char *name; /* into the document, not terminated; NULL for CDATA and DECL */
        size_t name_len;
        const char *attrs; /* the attribute text, up to the closing > or /> */
        size_t attrs_len;
        const char *start; /* the '<' */
        const char *end;   /* one past the '>' */
} DomXmlToken;

typedef struct DomXmlReader {
        const char *p; /* the next byte to read; not owned */
        unsigned depth;
        bool seen_root;
        const char *error; /* static; what was wrong once domxml_read() returned -EBADMSG */
        struct {
                const char *name; /* into the document */
                size_t len;
        } open[DOMXML_MAX_DEPTH];
} DomXmlReader;

void domxml_reader_init(DomXmlReader *r, const char *xml);
/* The next token: 1 with *ret, 0 at the end of a complete document, -EBADMSG with r->error. */
int domxml_read(DomXmlReader *r, DomXmlToken *ret);

bool domxml_name_is(const DomXmlToken *t, const char *name);
/* Attribute name of a start or empty tag, decoded: 1 with *ret (newly allocated), 0 when
 * absent, -EBADMSG, -ENOMEM. */
int domxml_attr(const DomXmlToken *t, const char *name, char **ret);
/* Decodes the entities and character references of [s, s+n): -EBADMSG on an unknown entity,
 * a malformed reference or one to a character XML does not allow. */
int domxml_unescape(const char *s, size_t n, char **ret);

/* The text of the element at a '/'-separated path from the root ("pool/target/path"), from the
 * end of its start tag to the next markup (a comment or child inside ends it), decoded: 1 with
 * *ret (newly allocated; "" for an empty element), 0 when absent, -EBADMSG, -EINVAL on an empty
 * path. */
int domxml_text(const char *xml, const char *path, char **ret);
