/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small YAML document tree built from libyaml's event API, and typed getters that report
 * errors in the house format (file:line:column, subject quoted, what was expected).
 *
 * Pure: bytes in, tree out; no I/O, no logging. The reader refuses what drs never needs and
 * what makes YAML dangerous to parse: anchors and aliases, more than one document, tags other
 * than the standard tag:yaml.org,2002 ones, nesting deeper than YTREE_MAX_DEPTH, more than
 * YTREE_MAX_NODES nodes, scalars longer than YTREE_MAX_SCALAR bytes, input larger than
 * YTREE_MAX_INPUT bytes, complex (non-scalar) mapping keys and duplicate keys. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "policy.h"

#define YTREE_MAX_DEPTH 32
#define YTREE_MAX_NODES 100000
#define YTREE_MAX_SCALAR (64 * 1024)
#define YTREE_MAX_INPUT (4 * 1024 * 1024)
/* Snapshots describe whole clusters (1,000 hosts / 30,000 VMs and more): larger bounds. */
#define YTREE_SNAPSHOT_MAX_NODES 4000000
#define YTREE_SNAPSHOT_MAX_INPUT (128 * 1024 * 1024)

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_MAPPING,
        YNODE_SEQUENCE,
} YNodeType;

typedef struct YNode YNode;
struct YNode {
        YNodeType type;
        unsigned line;   /* 1-based */
        unsigned column; /* 1-based */
        /* scalar */
        char *value;   /* owned; NUL-terminated (embedded NULs are refused) */
        size_t length; /* strlen(value) */
        bool quoted;   /* single- or double-quoted, literal or folded: never a null/bool/number */
        /* mapping: children[2i] is a key (always a scalar), children[2i+1] its value;
         * sequence: the items in order */
        YNode **children; /* owned */
        size_t n_children;
        size_t n_allocated; /* private: capacity of children */
};

YNode *ynode_free(YNode *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(YNode *, ynode_free);

/* Parses one YAML document. *ret is NULL when the input holds no document or only a null.
 * On error returns -EINVAL (or -ENOMEM) and fills *reterr when not NULL. */
int ytree_parse(const char *file, const char *buf, size_t len, YNode **ret, PolicyError *reterr);
/* Same with other bounds on the node count and input size. */
int ytree_parse_bounded(
        const char *file, const char *buf, size_t len, size_t max_nodes, size_t max_input, YNode **ret,
        PolicyError *reterr);

/* Streaming: the items of the sequences under the given top-level keys are handed to a sink as
 * each one is complete, instead of being kept in the tree (where those sequences stay, empty),
 * so that a large document (a snapshot of 10,000 VMs) never exists as a whole tree. The sink
 * takes ownership of item; a negative return aborts the parse with that code (-ENOMEM). Every
 * check of ytree_parse_bounded() still applies (the node limit counts streamed nodes too). */
typedef struct YStream {
        const char *const *keys; /* NULL-terminated: top-level keys whose sequence items stream */
        int (*sink)(void *userdata, const char *key, size_t index, YNode *item);
        void *userdata;
} YStream;

int ytree_parse_streamed(
        const char *file, const char *buf, size_t len, size_t max_nodes, size_t max_input,
        const YStream *stream, YNode **ret, PolicyError *reterr);

/* Fills *e (freeing what it held; e must be zero-initialized or filled before) with file, the
 * node's position and the formatted message. Returns -EINVAL, or -ENOMEM when out of memory.
 * A NULL e only returns the code. */
_printf_(5, 6) int ytree_error(
        PolicyError *e, const char *file, unsigned line, unsigned column, const char *fmt, ...);

/* The parse context every getter takes: where errors go. */
typedef struct YContext {
        const char *file;   /* not owned */
        PolicyError *error; /* not owned; may be NULL */
} YContext;

_printf_(3, 4) int yerr(YContext *c, const YNode *n, const char *fmt, ...);

const char *ynode_type_name(const YNode *n); /* "a mapping", "a sequence", "a string", "null" */
bool ynode_is_null(const YNode *n);
/* A printable copy of a scalar for messages: at most 40 bytes, control characters and quotes
 * replaced by '?'. Returns buf. */
const char *ynode_shown(const YNode *n, char buf[static 48]); /* plain "", "~", "null", "Null", "NULL" */

/* Mappings. */
size_t ymap_size(const YNode *n);
const YNode *ymap_get(const YNode *map, const char *key);
/* Type-checks n as a mapping named what and refuses keys not in the NULL-terminated keys:
 * "unknown key 'foo' in 'balance' (expected one of: enabled, aggressiveness, …)". */
int ymap_check(YContext *c, const YNode *n, const char *what, const char *const *keys);
int yexpect(YContext *c, const YNode *n, YNodeType type, const char *what);

/* Typed getters: what names the field in messages ("balance.aggressiveness"). *ret is written
 * only on success. Plain scalars only for booleans and numbers (a quoted "5" is a string). */
int yget_bool(YContext *c, const YNode *n, const char *what, bool *ret);
int yget_uint(YContext *c, const YNode *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret);
int yget_unsigned(YContext *c, const YNode *n, const char *what, unsigned min, unsigned max, unsigned *ret);
int yget_int(YContext *c, const YNode *n, const char *what, int64_t min, int64_t max, int64_t *ret);
int yget_double(YContext *c, const YNode *n, const char *what, double min, double max, double *ret);
/* "90" (seconds), "90s", "300ms", "10m", "1h", "2d", "1h30m"; result in milliseconds. */
int yget_duration_ms(
        YContext *c, const YNode *n, const char *what, uint64_t min_ms, uint64_t max_ms, uint64_t *ret);
/* Same, in whole seconds ("1500ms" is refused). */
int yget_duration_s(
        YContext *c, const YNode *n, const char *what, uint64_t min_s, uint64_t max_s, uint64_t *ret);
/* "1024" (MiB), "512MiB", "4GiB", "1TiB"; result in MiB. */
int yget_size_mib(YContext *c, const YNode *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret);
/* "45%" or "0.45"; result as a fraction. */
int yget_fraction(YContext *c, const YNode *n, const char *what, double min, double max, double *ret);
/* A power model: {idle_watts: W, max_watts: W} (a straight line) or {watts: [W0, W10, …, W100]}
 * (POWER_MODEL_POINTS values, watts at 0, 10, …, 100 % CPU), each 0..100000 W. */
int yget_power_model(YContext *c, const YNode *n, const char *what, PowerModel *ret);
/* A non-null scalar of 1..max_len bytes, returned as a new string. */
int yget_string(YContext *c, const YNode *n, const char *what, size_t max_len, char **ret);
/* A sequence of at most max_count such strings, returned as a new strv (empty: a strv with no
 * entries, never NULL). */
int yget_strv(YContext *c, const YNode *n, const char *what, size_t max_count, size_t max_len, char ***ret);

/* Pure parsers behind the getters, for callers with strings in hand. Return -EINVAL on bad
 * syntax, -ERANGE on overflow. */
int parse_duration_ms(const char *s, uint64_t *ret);
int parse_size_mib(const char *s, uint64_t *ret);

/* Canonical short forms: 3600000 → "1h", 1500 → "1500ms"; 4096 → "4GiB", 1536 → "1536MiB". */
void format_duration_ms(uint64_t ms, char *buf, size_t size);
void format_size_mib(uint64_t mib, char *buf, size_t size);
/* The shortest "%g" form that reads back as the same double. */
void format_double(double d, char *buf, size_t size);
