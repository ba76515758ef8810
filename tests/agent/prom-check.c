/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "prom-check.h"

typedef enum FamilyType {
        TYPE_NONE,
        TYPE_COUNTER,
        TYPE_GAUGE,
        TYPE_HISTOGRAM,
} FamilyType;

typedef struct Family {
        char *name;
        bool help, type_seen, has_samples, closed;
        FamilyType type;
} Family;

/* One histogram series (label set without le) being checked. */
typedef struct HistSeries {
        char *family;
        char *labels;
        double last_le;
        double last_count;
        bool any_bucket, inf_seen, sum_seen, count_seen;
        double inf_count, count;
} HistSeries;

typedef struct Checker {
        const char *prefix;
        Family **families; /* each allocated on its own: current stays valid across growth */
        size_t n_families;
        Family *current;
        HistSeries *hists;
        size_t n_hists;
        PromText *out;
        unsigned line;
        char **reterr;
} Checker;

_printf_(2, 3) static int fail(Checker *c, const char *fmt, ...) {
        char *msg = NULL, *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (asprintf(&full, "line %u: %s", c->line, msg ?: "?") < 0)
                full = NULL;
        free(msg);
        if (c->reterr)
                *c->reterr = full;
        else
                free(full);
        return -EBADMSG;
}

static bool is_name_start(char ch, bool colon) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (colon && ch == ':');
}

static bool is_name_char(char ch, bool colon) {
        return is_name_start(ch, colon) || (ch >= '0' && ch <= '9');
}

/* Reads a name at *p; returns its length (0 = none). */
static size_t scan_name(const char *p, bool colon) {
        size_t n = 0;
        if (!is_name_start(p[0], colon))
                return 0;
        while (is_name_char(p[n], colon))
                n++;
        return n;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

static bool parse_value(const char *s, double *ret) {
        char *end;
        if (streq(s, "NaN")) {
                *ret = NAN;
                return true;
        }
        if (streq(s, "+Inf")) {
                *ret = INFINITY;
                return true;
        }
        if (streq(s, "-Inf")) {
                *ret = -INFINITY;
                return true;
        }
        /* Digits, sign, point and exponent only: no "inf", "nan", hex or spaces. */
        if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
                return false;
        errno = 0;
        *ret = strtod(s, &end);
        return *end == 0 && errno == 0;
}

static Family *family_find(Checker *c, const char *name) {
        for (size_t i = 0; i < c->n_families; i++)
                if (streq(c->families[i]->name, name))
                        return c->families[i];
        return NULL;
}

static int family_get(Checker *c, const char *name, Family **ret) {
        Family *f = family_find(c, name);
        if (f) {
                *ret = f;
                return 0;
        }
        Family **n = reallocarray(c->families, c->n_families + 1, sizeof(Family *));
        if (!n)
                return -ENOMEM;
        c->families = n;
        f = calloc(1, sizeof(Family));
        if (!f)
                return -ENOMEM;
        f->name = strdup(name);
        if (!f->name) {
                free(f);
                return -ENOMEM;
        }
        c->families[c->n_families++] = f;
        *ret = f;
        return 0;
}

static const char *const bad_units[] = {
        "_ms",  "_milliseconds", "_microseconds", "_us",  "_minutes", "_hours", "_percent",
        "_pct", "_kib",          "_mib",          "_gib", "_kb",      "_mb",    "_gb",
};

static int check_family_name(Checker *c, const char *name) {
        if (c->prefix && strncmp(name, c->prefix, strlen(c->prefix)) != 0)
                return fail(c, "metric '%s' does not start with '%s'", name, c->prefix);
        for (size_t i = 0; i < ELEMENTSOF(bad_units); i++) {
                char infix[32];
                (void) snprintf(infix, sizeof(infix), "%s_", bad_units[i]);
                if (ends_with(name, bad_units[i]) || strstr(name, infix))
                        return fail(c, "metric '%s' is not in base units ('%s')", name, bad_units[i]);
        }
        return 0;
}

static int comment_line(Checker *c, const char *line) {
        const char *p;
        bool help;
        if (strncmp(line, "# HELP ", 7) == 0) {
                help = true;
                p = line + 7;
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
                help = false;
                p = line + 7;
        } else
                return fail(c, "comment that is neither HELP nor TYPE: '%s'", line);

        size_t n = scan_name(p, true);
        if (n == 0 || p[n] != ' ' || !p[n + 1])
                return fail(c, "malformed %s line", help ? "HELP" : "TYPE");
        _cleanup_free_ char *name = strndup(p, n);
        if (!name)
                return -ENOMEM;
        const char *rest = p + n + 1;
        int k = check_family_name(c, name);
        if (k < 0)
                return k;
        Family *f;
        k = family_get(c, name, &f);
        if (k < 0)
                return k;
        if (f->has_samples)
                return fail(c, "%s of '%s' after its samples", help ? "HELP" : "TYPE", name);
        if (c->current && c->current != f)
                c->current->closed = true;
        if (f->closed)
                return fail(c, "family '%s' appears twice", name);
        c->current = f;
        if (help) {
                if (f->help)
                        return fail(c, "second HELP for '%s'", name);
                f->help = true;
                return 0;
        }
        if (f->type_seen)
                return fail(c, "second TYPE for '%s'", name);
        if (!f->help)
                return fail(c, "TYPE of '%s' before its HELP", name);
        f->type_seen = true;
        if (streq(rest, "counter"))
                f->type = TYPE_COUNTER;
        else if (streq(rest, "gauge"))
                f->type = TYPE_GAUGE;
        else if (streq(rest, "histogram"))
                f->type = TYPE_HISTOGRAM;
        else
                return fail(c, "unexpected type '%s' for '%s'", rest, name);
        if (f->type == TYPE_COUNTER && !ends_with(name, "_total"))
                return fail(c, "counter '%s' does not end in _total", name);
        if (f->type != TYPE_COUNTER && ends_with(name, "_total"))
                return fail(c, "'%s' ends in _total but is not a counter", name);
        return 0;
}

static HistSeries *hist_get(Checker *c, const char *family, const char *labels) {
        for (size_t i = 0; i < c->n_hists; i++)
                if (streq(c->hists[i].family, family) && streq(c->hists[i].labels, labels))
                        return &c->hists[i];
        HistSeries *n = reallocarray(c->hists, c->n_hists + 1, sizeof(HistSeries));
        if (!n)
                return NULL;
        c->hists = n;
        HistSeries *h = &c->hists[c->n_hists++];
        *h = (HistSeries){.family = strdup(family), .labels = strdup(labels), .last_le = -INFINITY};
        if (!h->family || !h->labels)
                return NULL;
        return h;
}

/* name{labels} value */
static int sample_line(Checker *c, const char *line) {
        _cleanup_free_ char *name = NULL, *canon = NULL, *canon_no_le = NULL, *le = NULL;
        char *labels[64];
        size_t n_labels = 0, clen = 0, nlen = 0;
        const char *p = line;
        double v;
        int k;

        size_t n = scan_name(p, true);
        if (n == 0)
                return fail(c, "no metric name");
        name = strndup(p, n);
        canon = calloc(strlen(line) + 1, 1);
        canon_no_le = calloc(strlen(line) + 1, 1);
        if (!name || !canon || !canon_no_le)
                return -ENOMEM;
        p += n;
        if (*p == '{') {
                p++;
                while (*p != '}') {
                        size_t ln = scan_name(p, false);
                        if (ln == 0)
                                return fail(c, "bad label name in '%s'", line);
                        if (ln >= 2 && p[0] == '_' && p[1] == '_')
                                return fail(c, "reserved label name in '%s'", line);
                        if (n_labels >= ELEMENTSOF(labels))
                                return fail(c, "too many labels");
                        labels[n_labels] = strndup(p, ln);
                        if (!labels[n_labels])
                                return -ENOMEM;
                        for (size_t i = 0; i < n_labels; i++)
                                if (streq(labels[i], labels[n_labels])) {
                                        for (size_t j = 0; j <= n_labels; j++)
                                                free(labels[j]);
                                        return fail(c, "label '%.*s' twice", (int) ln, p);
                                }
                        n_labels++;
                        bool is_le = ln == 2 && strncmp(p, "le", 2) == 0;
                        const char *start = p;
                        p += ln;
                        if (p[0] != '=' || p[1] != '"')
                                goto bad_label;
                        p += 2;
                        _cleanup_free_ char *val = calloc(strlen(p) + 1, 1);
                        size_t vl = 0;
                        if (!val)
                                goto oom;
                        while (*p != '"') {
                                if (!*p)
                                        goto bad_label;
                                if (*p == '\\') {
                                        if (p[1] == '\\' || p[1] == '"')
                                                val[vl++] = p[1];
                                        else if (p[1] == 'n')
                                                val[vl++] = '\n';
                                        else
                                                goto bad_label;
                                        p += 2;
                                        continue;
                                }
                                val[vl++] = *p++;
                        }
                        p++;
                        /* The raw text of k="v" goes to the canonical form as written. */
                        size_t raw = (size_t) (p - start);
                        if (clen > 0)
                                canon[clen++] = ',';
                        memcpy(canon + clen, start, raw);
                        clen += raw;
                        if (is_le) {
                                free(le);
                                le = strdup(val);
                                if (!le)
                                        goto oom;
                        } else {
                                if (nlen > 0)
                                        canon_no_le[nlen++] = ',';
                                memcpy(canon_no_le + nlen, start, raw);
                                nlen += raw;
                        }
                        if (*p == ',') {
                                p++;
                                if (*p == '}')
                                        goto bad_label;
                        } else if (*p != '}')
                                goto bad_label;
                }
                p++;
        }
        for (size_t i = 0; i < n_labels; i++)
                free(labels[i]);
        n_labels = 0;
        if (*p != ' ')
                return fail(c, "expected one space before the value in '%s'", line);
        p++;
        if (strchr(p, ' '))
                return fail(c, "timestamp or trailing text in '%s'", line);
        if (!parse_value(p, &v))
                return fail(c, "bad value '%s'", p);

        /* The family: the name, or for histograms the name without its suffix. */
        Family *f = family_find(c, name);
        const char *suffix = NULL;
        if (!f)
                for (const char *const *s = (const char *const[]){"_bucket", "_sum", "_count", NULL}; *s;
                     s++)
                        if (ends_with(name, *s)) {
                                _cleanup_free_ char *base = strndup(name, strlen(name) - strlen(*s));
                                if (!base)
                                        return -ENOMEM;
                                Family *g = family_find(c, base);
                                if (g && g->type == TYPE_HISTOGRAM) {
                                        f = g;
                                        suffix = *s;
                                }
                        }
        if (!f || !f->type_seen)
                return fail(c, "sample '%s' without HELP and TYPE before it", name);
        if (f->type == TYPE_HISTOGRAM && !suffix)
                return fail(c, "histogram sample '%s' without _bucket/_sum/_count", name);
        if (c->current != f) {
                if (c->current)
                        c->current->closed = true;
                if (f->closed)
                        return fail(c, "samples of '%s' are not contiguous", f->name);
                c->current = f;
        }
        f->has_samples = true;

        if (f->type == TYPE_COUNTER && (!isfinite(v) || v < 0))
                return fail(c, "counter '%s' has value %g", name, v);
        if (le && !(f->type == TYPE_HISTOGRAM && streq(suffix, "_bucket")))
                return fail(c, "label le on '%s', which is not a histogram bucket", name);
        if (f->type == TYPE_HISTOGRAM) {
                HistSeries *h = hist_get(c, f->name, canon_no_le);
                if (!h)
                        return -ENOMEM;
                if (!isfinite(v) || v < 0)
                        return fail(c, "histogram sample '%s' has value %g", name, v);
                if (streq(suffix, "_bucket")) {
                        double b;
                        if (!le)
                                return fail(c, "bucket without le");
                        if (!parse_value(le, &b) || isnan(b))
                                return fail(c, "bad le '%s'", le);
                        if (h->inf_seen)
                                return fail(c, "bucket after le=\"+Inf\"");
                        if (h->any_bucket && !(b > h->last_le))
                                return fail(c, "le %s not above the previous bound", le);
                        if (h->any_bucket && v < h->last_count)
                                return fail(c, "bucket count %g below the previous %g", v, h->last_count);
                        if (h->sum_seen || h->count_seen)
                                return fail(c, "bucket after _sum/_count");
                        h->any_bucket = true;
                        h->last_le = b;
                        h->last_count = v;
                        if (isinf(b)) {
                                h->inf_seen = true;
                                h->inf_count = v;
                        }
                } else if (streq(suffix, "_sum")) {
                        if (h->sum_seen)
                                return fail(c, "second _sum");
                        h->sum_seen = true;
                } else {
                        if (h->count_seen)
                                return fail(c, "second _count");
                        if (!h->inf_seen)
                                return fail(c, "_count before le=\"+Inf\"");
                        if (v != h->inf_count)
                                return fail(c, "_count %g differs from the +Inf bucket %g", v, h->inf_count);
                        h->count_seen = true;
                }
        }

        canon[clen] = 0;
        if (prom_find(c->out, name, canon))
                return fail(c, "series %s{%s} twice", name, canon);
        PromSample *ns = reallocarray(c->out->samples, c->out->n_samples + 1, sizeof(PromSample));
        if (!ns)
                return -ENOMEM;
        c->out->samples = ns;
        ns[c->out->n_samples++] =
                (PromSample){.name = TAKE_PTR(name), .labels = TAKE_PTR(canon), .value = v};
        return 0;

bad_label:
        k = fail(c, "malformed labels in '%s'", line);
        for (size_t i = 0; i < n_labels; i++)
                free(labels[i]);
        return k;
oom:
        for (size_t i = 0; i < n_labels; i++)
                free(labels[i]);
        return -ENOMEM;
}

int prom_check(const char *text, const char *prefix, PromText *ret, char **reterr) {
        Checker c = {.prefix = prefix, .out = ret, .reterr = reterr};
        const char *p = text;
        int k = 0;

        *ret = (PromText){};
        if (reterr)
                *reterr = NULL;
        if (!*text) {
                k = fail(&c, "empty");
                goto finish;
        }
        while (*p) {
                const char *nl = strchr(p, '\n');
                c.line++;
                if (!nl) {
                        k = fail(&c, "last line without a newline");
                        break;
                }
                _cleanup_free_ char *line = strndup(p, (size_t) (nl - p));
                if (!line) {
                        k = -ENOMEM;
                        break;
                }
                p = nl + 1;
                if (!*line)
                        k = fail(&c, "blank line");
                else if (strchr(line, '\r') || strchr(line, '\t'))
                        k = fail(&c, "carriage return or tab");
                else if (line[0] == '#')
                        k = comment_line(&c, line);
                else
                        k = sample_line(&c, line);
                if (k < 0)
                        break;
        }
        for (size_t i = 0; k >= 0 && i < c.n_families; i++)
                if (!c.families[i]->type_seen)
                        k = fail(&c, "family '%s' without TYPE", c.families[i]->name);
        for (size_t i = 0; k >= 0 && i < c.n_hists; i++)
                if (!c.hists[i].inf_seen || !c.hists[i].sum_seen || !c.hists[i].count_seen)
                        k =
                                fail(&c, "histogram '%s' lacks its +Inf bucket, _sum or _count",
                                     c.hists[i].family);
        ret->n_families = c.n_families;
finish:
        for (size_t i = 0; i < c.n_families; i++) {
                free(c.families[i]->name);
                free(c.families[i]);
        }
        free(c.families);
        for (size_t i = 0; i < c.n_hists; i++) {
                free(c.hists[i].family);
                free(c.hists[i].labels);
        }
        free(c.hists);
        if (k < 0)
                prom_text_done(ret);
        return k;
}

void prom_text_done(PromText *t) {
        for (size_t i = 0; i < t->n_samples; i++) {
                free(t->samples[i].name);
                free(t->samples[i].labels);
        }
        free(t->samples);
        *t = (PromText){};
}

const PromSample *prom_find(const PromText *t, const char *name, const char *labels) {
        for (size_t i = 0; i < t->n_samples; i++)
                if (streq(t->samples[i].name, name) && streq(t->samples[i].labels, labels))
                        return &t->samples[i];
        return NULL;
}

int prom_http(
        const char *address, uint16_t port, const char *method, const char *path, int *ret_status,
        char **ret_content_type, char **ret_body, size_t *ret_len) {
        struct sockaddr_storage sa = {};
        socklen_t salen;
        char req[512];
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        int fd, k;

        if (inet_pton(AF_INET, address, &((struct sockaddr_in *) &sa)->sin_addr) == 1) {
                sa.ss_family = AF_INET;
                ((struct sockaddr_in *) &sa)->sin_port = htons(port);
                salen = sizeof(struct sockaddr_in);
        } else if (inet_pton(AF_INET6, address, &((struct sockaddr_in6 *) &sa)->sin6_addr) == 1) {
                sa.ss_family = AF_INET6;
                ((struct sockaddr_in6 *) &sa)->sin6_port = htons(port);
                salen = sizeof(struct sockaddr_in6);
        } else
                return -EINVAL;
        fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, salen) < 0) {
                k = -errno;
                close(fd);
                return k;
        }
        int n = snprintf(
                req, sizeof(req), "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method, path);
        if (n < 0 || (size_t) n >= sizeof(req) || send(fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
                close(fd);
                return -EIO;
        }
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                k = poll(&pfd, 1, 5000);
                if (k <= 0) {
                        close(fd);
                        return k == 0 ? -ETIMEDOUT : -errno;
                }
                if (size - len < 4096) {
                        char *nb = realloc(buf, size + 65536);
                        if (!nb) {
                                close(fd);
                                return -ENOMEM;
                        }
                        buf = nb;
                        size += 65536;
                }
                ssize_t r = recv(fd, buf + len, size - len - 1, 0);
                if (r < 0) {
                        k = -errno;
                        close(fd);
                        return k;
                }
                if (r == 0)
                        break;
                len += (size_t) r;
                if (len > (16U << 20)) {
                        close(fd);
                        return -EFBIG;
                }
        }
        close(fd);
        if (!buf)
                return -EBADMSG;
        buf[len] = 0;

        int status = 0;
        if (sscanf(buf, "HTTP/1.%*1[01] %3d ", &status) != 1)
                return -EBADMSG;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
                return -EBADMSG;
        *end = 0;
        const char *body = end + 4;
        *ret_status = status;
        if (ret_content_type) {
                *ret_content_type = NULL;
                for (char *l = strstr(buf, "\r\n"); l; l = strstr(l + 2, "\r\n"))
                        if (strncasecmp(l + 2, "Content-Type: ", 14) == 0) {
                                char *e = strstr(l + 2, "\r\n");
                                *ret_content_type =
                                        strndup(l + 16, e ? (size_t) (e - (l + 16)) : strlen(l + 16));
                                if (!*ret_content_type)
                                        return -ENOMEM;
                                break;
                        }
        }
        if (ret_body) {
                *ret_len = len - (size_t) (body - buf);
                *ret_body = malloc(*ret_len + 1);
                if (!*ret_body)
                        return -ENOMEM;
                memcpy(*ret_body, body, *ret_len + 1);
        }
        return 0;
}
