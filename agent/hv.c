/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The libvirt-free half of the hypervisor boundary: sample bookkeeping, the clock, and the
 * domain XML scanner precheck uses. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "hv.h"
#include "macro.h"

void hv_pools_free(HvPool *p, size_t n) {
        for (size_t i = 0; p && i < n; i++) {
                free(p[i].name);
                free(p[i].target);
                strv_free(p[i].markers);
        }
        free(p);
}

int hv_pools_copy(const HvPool *p, size_t n, HvPool **ret) {
        HvPool *c = NULL;

        if (n > 0) {
                c = calloc(n, sizeof(HvPool));
                if (!c)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                c[i].name = p[i].name ? strdup(p[i].name) : NULL;
                c[i].target = p[i].target ? strdup(p[i].target) : NULL;
                if ((p[i].name && !c[i].name) || (p[i].target && !c[i].target) ||
                    strv_copy(p[i].markers, &c[i].markers) < 0) {
                        hv_pools_free(c, n);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

void hv_disk_uses_free(HvDiskUse *d, size_t n) {
        for (size_t i = 0; d && i < n; i++)
                free(d[i].path);
        free(d);
}

int hv_disk_uses_copy(const HvDiskUse *d, size_t n, HvDiskUse **ret) {
        HvDiskUse *c = NULL;

        if (n > 0) {
                c = calloc(n, sizeof(HvDiskUse));
                if (!c)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                c[i] = d[i];
                c[i].path = d[i].path ? strdup(d[i].path) : NULL;
                if (d[i].path && !c[i].path) {
                        hv_disk_uses_free(c, n);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

/* The pool of pools[0..n) whose target holds path, or NULL. */
static const HvPool *pool_of_path(const HvPool *pools, size_t n, const char *path) {
        for (size_t i = 0; i < n; i++) {
                const char *t[1] = {pools[i].target};
                if (pools[i].target && hv_pool_for_path(path, t, 1) == 0)
                        return &pools[i];
        }
        return NULL;
}

static bool sees_pool(const HvPool *pools, size_t n, const HvPool *p) {
        for (size_t i = 0; i < n; i++)
                for (char **m = pools[i].markers; m && *m; m++)
                        if (strv_contains(p->markers, *m))
                                return true;
        return false;
}

uint64_t hv_local_disk_mib(
        const HvDiskUse *disks, size_t n_disks, const HvPool *own, size_t n_own, const HvPool *const *others,
        const size_t *n_others, size_t n_hosts) {
        uint64_t bytes = 0;

        for (size_t i = 0; i < n_disks; i++) {
                const HvPool *p = disks[i].path ? pool_of_path(own, n_own, disks[i].path) : NULL;
                bool everywhere = p != NULL;

                for (size_t h = 0; everywhere && h < n_hosts; h++)
                        everywhere = sees_pool(others[h], n_others[h], p);
                if (!everywhere)
                        bytes += disks[i].allocation_bytes;
        }
        return (bytes + (UINT64_C(1) << 20) - 1) >> 20;
}

void hv_host_stats_done(HvHostStats *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_domains; i++) {
                free(s->domains[i].name);
                hv_disk_uses_free(s->domains[i].disks, s->domains[i].n_disks);
        }
        free(s->domains);
        hv_pools_free(s->pools, s->n_pools);
        *s = (HvHostStats){};
}

int hv_host_stats_copy(const HvHostStats *s, HvHostStats *ret) {
        HvHostStats c = *s;

        c.domains = NULL;
        c.n_domains = 0;
        c.pools = NULL;
        c.n_pools = 0;
        if (s->n_pools > 0) {
                if (hv_pools_copy(s->pools, s->n_pools, &c.pools) < 0)
                        return -ENOMEM;
                c.n_pools = s->n_pools;
        }
        if (s->n_domains > 0) {
                c.domains = calloc(s->n_domains, sizeof(HvDomainStats));
                if (!c.domains) {
                        hv_host_stats_done(&c);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < s->n_domains; i++) {
                c.domains[i] = s->domains[i];
                c.domains[i].name = NULL;
                c.domains[i].disks = NULL;
                c.domains[i].n_disks = 0;
                c.n_domains = i + 1;
                if (s->domains[i].n_disks > 0) {
                        if (hv_disk_uses_copy(
                                    s->domains[i].disks, s->domains[i].n_disks, &c.domains[i].disks) < 0) {
                                hv_host_stats_done(&c);
                                return -ENOMEM;
                        }
                        c.domains[i].n_disks = s->domains[i].n_disks;
                }
                if (s->domains[i].name) {
                        c.domains[i].name = strdup(s->domains[i].name);
                        if (!c.domains[i].name) {
                                hv_host_stats_done(&c);
                                return -ENOMEM;
                        }
                }
        }
        *ret = c;
        return 0;
}

uint64_t hv_now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
}

void hv_storage_prep_done(HvStoragePrep *p) {
        if (!p)
                return;
        strv_free(p->disks);
        strv_free(p->source_paths);
        strv_free(p->created);
        strv_free(p->shared);
        *p = (HvStoragePrep){};
}

void hv_block_copy_result_done(HvBlockCopyResult *r) {
        if (!r)
                return;
        free(r->old_path);
        free(r->new_path);
        free(r->warning);
        *r = (HvBlockCopyResult){};
}

/* The domain XML scanner. */

static void hv_disk_done(HvDisk *d) {
        free(d->target);
        free(d->path);
        free(d->format);
        free(d->device);
        free(d->cache);
        *d = (HvDisk){};
}

bool hv_disk_is_movable(const HvDisk *d) {
        return d && d->path && !d->readonly && !d->shareable && (!d->device || streq(d->device, "disk"));
}

void hv_domain_xml_done(HvDomainXml *x) {
        if (!x)
                return;
        free(x->type);
        free(x->cpu_xml);
        free(x->cpu_mode);
        strv_free(x->networks);
        strv_free(x->file_disks);
        for (size_t i = 0; i < x->n_disks; i++)
                hv_disk_done(&x->disks[i]);
        free(x->disks);
        *x = (HvDomainXml){};
}

#define XML_MAX_DEPTH 64
#define XML_NAME_MAX 64

typedef struct XmlTag {
        const char *name; /* into the document, not terminated */
        size_t name_len;
        const char *attrs; /* the attribute text, up to the closing > or /> */
        size_t attrs_len;
        bool closing;      /* </name> */
        bool self_closing; /* <name … /> */
        const char *start; /* the '<' */
        const char *end;   /* one past the '>' */
} XmlTag;

static bool name_is(const XmlTag *t, const char *name) {
        return t->name_len == strlen(name) && strncmp(t->name, name, t->name_len) == 0;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Reads the next tag at or after *p (skipping text, comments, processing instructions,
 * CDATA and DOCTYPE). Returns 1 with *t, 0 at the end, -EBADMSG on malformed input. */
static int xml_next_tag(const char **p, XmlTag *t) {
        const char *s = *p;

        for (;;) {
                s = strchr(s, '<');
                if (!s) {
                        *p = s;
                        return 0;
                }
                if (strncmp(s, "<!--", 4) == 0) {
                        const char *e = strstr(s + 4, "-->");
                        if (!e)
                                return -EBADMSG;
                        s = e + 3;
                        continue;
                }
                if (strncmp(s, "<![CDATA[", 9) == 0) {
                        const char *e = strstr(s + 9, "]]>");
                        if (!e)
                                return -EBADMSG;
                        s = e + 3;
                        continue;
                }
                if (s[1] == '?' || s[1] == '!') {
                        const char *e = strchr(s, '>');
                        if (!e)
                                return -EBADMSG;
                        s = e + 1;
                        continue;
                }
                break;
        }

        *t = (XmlTag){.start = s};
        s++;
        if (*s == '/') {
                t->closing = true;
                s++;
        }
        t->name = s;
        while (*s && !is_space(*s) && *s != '>' && *s != '/')
                s++;
        t->name_len = (size_t) (s - t->name);
        if (t->name_len == 0 || t->name_len > XML_NAME_MAX)
                return -EBADMSG;
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
                return -EBADMSG;
        t->attrs_len = (size_t) (s - t->attrs);
        if (t->attrs_len > 0 && t->attrs[t->attrs_len - 1] == '/') {
                t->self_closing = true;
                t->attrs_len--;
        }
        if (t->closing && t->self_closing)
                return -EBADMSG;
        t->end = s + 1;
        *p = t->end;
        return 1;
}

/* Decodes the five predefined entities and numeric references (ASCII only) of [s, s+n). */
static int xml_unescape(const char *s, size_t n, char **ret) {
        _cleanup_free_ char *out = malloc(n + 1);
        size_t j = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                static const struct {
                        const char *ent;
                        char c;
                } ents[] = {
                        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
                };
                bool done = false;

                if (s[i] != '&') {
                        out[j++] = s[i++];
                        continue;
                }
                for (size_t k = 0; k < ELEMENTSOF(ents); k++) {
                        size_t l = strlen(ents[k].ent);
                        if (i + l <= n && strncmp(s + i, ents[k].ent, l) == 0) {
                                out[j++] = ents[k].c;
                                i += l;
                                done = true;
                                break;
                        }
                }
                if (done)
                        continue;
                if (i + 3 < n && s[i + 1] == '#') {
                        bool hex = s[i + 2] == 'x';
                        size_t k = i + (hex ? 3 : 2);
                        unsigned long v = 0;
                        size_t digits = 0;

                        for (; k < n && s[k] != ';' && digits < 8; k++, digits++) {
                                char c = s[k];
                                int d;
                                if (c >= '0' && c <= '9')
                                        d = c - '0';
                                else if (hex && c >= 'a' && c <= 'f')
                                        d = c - 'a' + 10;
                                else if (hex && c >= 'A' && c <= 'F')
                                        d = c - 'A' + 10;
                                else
                                        return -EBADMSG;
                                v = v * (hex ? 16 : 10) + (unsigned long) d;
                        }
                        if (k >= n || s[k] != ';' || digits == 0 || v == 0 || v > 0x7f)
                                return -EBADMSG;
                        out[j++] = (char) v;
                        i = k + 1;
                        continue;
                }
                return -EBADMSG;
        }
        out[j] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Finds attribute name in the tag. Returns 1 with *ret (newly allocated), 0 when absent. */
static int xml_attr(const XmlTag *t, const char *name, char **ret) {
        const char *s = t->attrs, *end = t->attrs + t->attrs_len;
        size_t name_len = strlen(name);

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
                if (s >= end || *s != '=')
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
                        int r = xml_unescape(v, (size_t) (s - v), ret);
                        return r < 0 ? r : 1;
                }
                s++;
        }
        return 0;
}

/* Replaces *field with attribute name of t when present. */
static int take_attr(const XmlTag *t, const char *name, char **field) {
        char *v = NULL;
        int r = xml_attr(t, name, &v);

        if (r <= 0)
                return r;
        free(*field);
        *field = v;
        return 1;
}

int hv_domain_xml_parse(const char *xml, HvDomainXml *ret) {
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        _cleanup_(hv_disk_done) HvDisk disk = {}; /* the <disk type='file'> being read */
        /* The open elements; for interface/disk the type attribute matters to children. */
        struct {
                const char *name;
                size_t len;
                bool is_net_interface;
                bool is_file_disk;
        } stack[XML_MAX_DEPTH];
        unsigned depth = 0;
        const char *p = xml, *cpu_start = NULL;
        bool seen_root = false;
        int r;

        if (!xml)
                return -EINVAL;
        x.networks = calloc(1, sizeof(char *));
        x.file_disks = calloc(1, sizeof(char *));
        if (!x.networks || !x.file_disks)
                return -ENOMEM;

        for (;;) {
                XmlTag t;

                r = xml_next_tag(&p, &t);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                if (t.closing) {
                        if (depth == 0 || stack[depth - 1].len != t.name_len ||
                            strncmp(stack[depth - 1].name, t.name, t.name_len) != 0)
                                return -EBADMSG;
                        depth--;
                        if (depth == 2 && stack[2].is_file_disk) {
                                if (disk.path) {
                                        HvDisk *l = realloc(x.disks, sizeof(HvDisk) * (x.n_disks + 1));
                                        if (!l)
                                                return -ENOMEM;
                                        x.disks = l;
                                        x.disks[x.n_disks++] = disk;
                                        disk = (HvDisk){};
                                } else
                                        hv_disk_done(&disk);
                        }
                        if (depth == 1 && cpu_start && name_is(&t, "cpu")) {
                                x.cpu_xml = strndup(cpu_start, (size_t) (t.end - cpu_start));
                                if (!x.cpu_xml)
                                        return -ENOMEM;
                                cpu_start = NULL;
                        }
                        continue;
                }

                if (depth == 0) {
                        if (seen_root || !name_is(&t, "domain"))
                                return -EBADMSG;
                        seen_root = true;
                        r = xml_attr(&t, "type", &x.type);
                        if (r < 0)
                                return r;
                } else if (depth == 1 && name_is(&t, "cpu") && !x.cpu_xml && !cpu_start) {
                        r = xml_attr(&t, "mode", &x.cpu_mode);
                        if (r < 0)
                                return r;
                        if (t.self_closing) {
                                x.cpu_xml = strndup(t.start, (size_t) (t.end - t.start));
                                if (!x.cpu_xml)
                                        return -ENOMEM;
                        } else
                                cpu_start = t.start;
                } else if (
                        depth == 3 && name_is(&t, "source") &&
                        (stack[2].is_net_interface || stack[2].is_file_disk)) {
                        _cleanup_free_ char *v = NULL;

                        r = xml_attr(&t, stack[2].is_net_interface ? "network" : "file", &v);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                char ***l = stack[2].is_net_interface ? &x.networks : &x.file_disks;
                                if (!strv_contains(*l, v) && strv_extend(l, v) < 0)
                                        return -ENOMEM;
                                if (stack[2].is_file_disk && !disk.path)
                                        disk.path = TAKE_PTR(v);
                        }
                } else if (depth == 3 && stack[2].is_file_disk) {
                        r = 0;
                        if (name_is(&t, "target"))
                                r = take_attr(&t, "dev", &disk.target);
                        else if (name_is(&t, "driver")) {
                                r = take_attr(&t, "type", &disk.format);
                                if (r >= 0)
                                        r = take_attr(&t, "cache", &disk.cache);
                        } else if (name_is(&t, "readonly"))
                                disk.readonly = true;
                        else if (name_is(&t, "shareable"))
                                disk.shareable = true;
                        if (r < 0)
                                return r;
                }

                if (t.self_closing)
                        continue;
                if (depth >= XML_MAX_DEPTH)
                        return -EBADMSG;
                stack[depth].name = t.name;
                stack[depth].len = t.name_len;
                stack[depth].is_net_interface = false;
                stack[depth].is_file_disk = false;
                if (depth == 2 && stack[1].len == 7 && strncmp(stack[1].name, "devices", 7) == 0 &&
                    (name_is(&t, "interface") || name_is(&t, "disk"))) {
                        _cleanup_free_ char *type = NULL;

                        r = xml_attr(&t, "type", &type);
                        if (r < 0)
                                return r;
                        if (name_is(&t, "interface"))
                                stack[depth].is_net_interface = streq_ptr(type, "network");
                        else {
                                stack[depth].is_file_disk = streq_ptr(type, "file");
                                hv_disk_done(&disk);
                                if (stack[depth].is_file_disk) {
                                        r = take_attr(&t, "device", &disk.device);
                                        if (r < 0)
                                                return r;
                                }
                        }
                }
                depth++;
        }
        if (!seen_root || depth != 0)
                return -EBADMSG;

        *ret = x;
        x = (HvDomainXml){};
        return 0;
}

int hv_xml_text(const char *xml, const char *path, char **ret) {
        /* Depth-first walk keeping how many leading components of path the open elements
         * match; the text is what lies between the matching start tag and the next tag. */
        char *comps[XML_MAX_DEPTH];
        size_t n_comps = 0, depth = 0, matched = 0;
        _cleanup_free_ char *copy = NULL;
        const char *p = xml;
        int r;

        if (!xml || !path || !ret)
                return -EINVAL;
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *c = copy, *e; c && *c; c = e) {
                e = strchr(c, '/');
                if (e)
                        *e++ = 0;
                if (n_comps >= XML_MAX_DEPTH)
                        return -EINVAL;
                comps[n_comps++] = c;
        }
        if (n_comps == 0)
                return -EINVAL;

        for (;;) {
                XmlTag t;

                r = xml_next_tag(&p, &t);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
                if (t.closing) {
                        if (depth == 0)
                                return -EBADMSG;
                        depth--;
                        if (matched > depth)
                                matched = depth;
                        continue;
                }
                if (matched == depth && depth < n_comps && name_is(&t, comps[depth])) {
                        if (depth + 1 == n_comps) {
                                const char *end;

                                if (t.self_closing) {
                                        *ret = strdup("");
                                        return *ret ? 1 : -ENOMEM;
                                }
                                end = strchr(t.end, '<');
                                if (!end)
                                        return -EBADMSG;
                                r = xml_unescape(t.end, (size_t) (end - t.end), ret);
                                return r < 0 ? r : 1;
                        }
                        if (!t.self_closing)
                                matched = depth + 1;
                }
                if (!t.self_closing) {
                        if (depth >= XML_MAX_DEPTH)
                                return -EBADMSG;
                        depth++;
                }
        }
}

void hv_xml_escape(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '\'':
                        fputs("&apos;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

static bool format_ok(const char *format) {
        if (!format || !*format || strlen(format) > 32)
                return false;
        for (const char *c = format; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
                        return false;
        return true;
}

int hv_volume_xml(const char *name, uint64_t capacity_bytes, const char *format, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!name || !*name || strchr(name, '/') || !ret || (format && !format_ok(format)))
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("<volume>\n  <name>", f);
        hv_xml_escape(f, name);
        fprintf(f,
                "</name>\n  <capacity unit='bytes'>%" PRIu64 "</capacity>\n"
                "  <allocation unit='bytes'>0</allocation>\n"
                "  <target>\n    <format type='%s'/>\n  </target>\n</volume>\n",
                capacity_bytes, format ? format : "raw");
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int hv_copy_dest_xml(const char *path, const char *format, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!path || path[0] != '/' || !ret || (format && !format_ok(format)))
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("<disk type='file'>\n  <source file='", f);
        hv_xml_escape(f, path);
        fprintf(f, "'/>\n  <driver type='%s'/>\n</disk>\n", format ? format : "raw");
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int hv_pool_for_path(const char *path, const char *const *pool_targets, size_t n_pools) {
        const char *slash;
        size_t dir_len;

        if (!path || path[0] != '/')
                return -EINVAL;
        slash = strrchr(path, '/');
        dir_len = (size_t) (slash - path);
        for (size_t i = 0; i < n_pools; i++) {
                const char *t = pool_targets[i];
                size_t l;

                if (!t)
                        continue;
                l = strlen(t);
                while (l > 1 && t[l - 1] == '/')
                        l--;
                if ((l == dir_len && strncmp(t, path, l) == 0) || (dir_len == 0 && l == 1 && t[0] == '/'))
                        return (int) i;
        }
        return -ENOENT;
}
