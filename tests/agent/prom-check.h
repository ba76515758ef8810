/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A strict checker of the Prometheus text exposition format 0.0.4, for drsd's /metrics (Debian
 * has promtool only in the 96 MB prometheus package; the tests run `promtool check metrics`
 * too when it is installed). Stricter than Prometheus where drsd's output should be:
 *
 *   - every line ends in \n, no blank lines, no timestamps;
 *   - metric names [a-zA-Z_:][a-zA-Z0-9_:]* with the given prefix, label names
 *     [a-zA-Z_][a-zA-Z0-9_]* not starting with __, label values quoted with only \\ \" \n as
 *     escapes, no label twice in a sample, no series twice;
 *   - each family: exactly one HELP (non-empty) and one TYPE line, both before its first sample,
 *     its samples contiguous, no family twice; type counter, gauge or histogram;
 *   - counters end in _total, their values are finite and >= 0; no non-base units (_ms,
 *     _milliseconds, _percent, _mib, ...);
 *   - histograms: only NAME_bucket (with le), NAME_sum and NAME_count; per label set the le
 *     bounds strictly ascending and ending in +Inf, the counts non-decreasing, the +Inf count
 *     equal to NAME_count, and _sum present.
 *
 * On a violation returns -EBADMSG and *reterr ("line N: what"); a parsed sample can be looked
 * up with prom_find(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PromSample {
        char *name;   /* owned */
        char *labels; /* owned; canonical: k="v",k2="v2" in the order given ("" when none) */
        double value;
} PromSample;

typedef struct PromText {
        PromSample *samples; /* owned */
        size_t n_samples;
        size_t n_families;
} PromText;

int prom_check(const char *text, const char *prefix, PromText *ret, char **reterr);
void prom_text_done(PromText *t);
/* The sample named name with exactly these labels (canonical form, "" = none); NULL if none. */
const PromSample *prom_find(const PromText *t, const char *name, const char *labels);

/* One HTTP/1.1 request (Connection: close) to an IPv4 or IPv6 address literal; reads the answer
 * to EOF (5 s per read). *ret_content_type may be NULL when there is none; the body is
 * NUL-terminated. Any of the out-parameters but ret_status may be NULL. */
int prom_http(
        const char *address, uint16_t port, const char *method, const char *path, int *ret_status,
        char **ret_content_type, char **ret_body, size_t *ret_len);
