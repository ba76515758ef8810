/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The libvirt-free half of the hypervisor boundary: the clock, and what precheck reads from a
 * domain's XML (through domxml.c, the scanner drsctl shares). The samples' bookkeeping is in
 * agent/leader/hv-types.c. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "domxml.h"
#include "hv.h"
#include "macro.h"

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

void hv_tls_probe_done(HvTlsProbe *p) {
        if (!p)
                return;
        free(p->missing);
        *p = (HvTlsProbe){};
}

void hv_block_copy_result_done(HvBlockCopyResult *r) {
        if (!r)
                return;
        free(r->old_path);
        free(r->new_path);
        free(r->warning);
        *r = (HvBlockCopyResult){};
}

/* What precheck reads from the domain XML. */

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

/* Replaces *field with attribute name of t when present. */
static int take_attr(const DomXmlToken *t, const char *name, char **field) {
        char *v = NULL;
        int r = domxml_attr(t, name, &v);

        if (r <= 0)
                return r;
        free(*field);
        *field = v;
        return 1;
}

/* Appends disk to x->disks when it has a source (and clears it either way). */
static int take_disk(HvDomainXml *x, HvDisk *disk) {
        HvDisk *l;

        if (!disk->path) {
                hv_disk_done(disk);
                return 0;
        }
        l = realloc(x->disks, sizeof(HvDisk) * (x->n_disks + 1));
        if (!l)
                return -ENOMEM;
        x->disks = l;
        x->disks[x->n_disks++] = *disk;
        *disk = (HvDisk){};
        return 0;
}

int hv_domain_xml_parse(const char *xml, HvDomainXml *ret) {
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        _cleanup_(hv_disk_done) HvDisk disk = {}; /* the <disk type='file'> being read */
        /* Where the reader is: inside <devices>, and in it an <interface type='network'> or a
         * <disk type='file'> (whose children matter). */
        bool in_devices = false, in_net_interface = false, in_file_disk = false;
        const char *cpu_start = NULL;
        DomXmlReader reader;
        int r;

        if (!xml)
                return -EINVAL;
        x.networks = calloc(1, sizeof(char *));
        x.file_disks = calloc(1, sizeof(char *));
        if (!x.networks || !x.file_disks)
                return -ENOMEM;

        domxml_reader_init(&reader, xml);
        for (;;) {
                DomXmlToken t;

                r = domxml_read(&reader, &t);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                if (t.kind == DOMXML_CDATA || t.kind == DOMXML_DECL)
                        continue;
                if (t.kind == DOMXML_END) {
                        if (t.depth == 2 && in_file_disk) {
                                r = take_disk(&x, &disk);
                                if (r < 0)
                                        return r;
                        }
                        if (t.depth == 2)
                                in_net_interface = in_file_disk = false;
                        if (t.depth == 1)
                                in_devices = false;
                        if (t.depth == 1 && cpu_start && domxml_name_is(&t, "cpu")) {
                                x.cpu_xml = strndup(cpu_start, (size_t) (t.end - cpu_start));
                                if (!x.cpu_xml)
                                        return -ENOMEM;
                                cpu_start = NULL;
                        }
                        continue;
                }

                if (t.depth == 0) {
                        if (!domxml_name_is(&t, "domain"))
                                return -EBADMSG;
                        r = domxml_attr(&t, "type", &x.type);
                        if (r < 0)
                                return r;
                } else if (t.depth == 1 && domxml_name_is(&t, "cpu") && !x.cpu_xml && !cpu_start) {
                        r = domxml_attr(&t, "mode", &x.cpu_mode);
                        if (r < 0)
                                return r;
                        if (t.kind == DOMXML_EMPTY) {
                                x.cpu_xml = strndup(t.start, (size_t) (t.end - t.start));
                                if (!x.cpu_xml)
                                        return -ENOMEM;
                        } else
                                cpu_start = t.start;
                } else if (t.depth == 1 && t.kind == DOMXML_START && domxml_name_is(&t, "devices"))
                        in_devices = true;
                else if (
                        t.depth == 2 && t.kind == DOMXML_START && in_devices &&
                        (domxml_name_is(&t, "interface") || domxml_name_is(&t, "disk"))) {
                        _cleanup_free_ char *type = NULL;

                        r = domxml_attr(&t, "type", &type);
                        if (r < 0)
                                return r;
                        if (domxml_name_is(&t, "interface"))
                                in_net_interface = streq_ptr(type, "network");
                        else {
                                in_file_disk = streq_ptr(type, "file");
                                hv_disk_done(&disk);
                                if (in_file_disk) {
                                        r = take_attr(&t, "device", &disk.device);
                                        if (r < 0)
                                                return r;
                                }
                        }
                } else if (
                        t.depth == 3 && domxml_name_is(&t, "source") && (in_net_interface || in_file_disk)) {
                        _cleanup_free_ char *v = NULL;

                        r = domxml_attr(&t, in_net_interface ? "network" : "file", &v);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                char ***l = in_net_interface ? &x.networks : &x.file_disks;
                                if (!strv_contains(*l, v) && strv_extend(l, v) < 0)
                                        return -ENOMEM;
                                if (in_file_disk && !disk.path)
                                        disk.path = TAKE_PTR(v);
                        }
                } else if (t.depth == 3 && in_file_disk) {
                        r = 0;
                        if (domxml_name_is(&t, "target"))
                                r = take_attr(&t, "dev", &disk.target);
                        else if (domxml_name_is(&t, "driver")) {
                                r = take_attr(&t, "type", &disk.format);
                                if (r >= 0)
                                        r = take_attr(&t, "cache", &disk.cache);
                        } else if (domxml_name_is(&t, "readonly"))
                                disk.readonly = true;
                        else if (domxml_name_is(&t, "shareable"))
                                disk.shareable = true;
                        if (r < 0)
                                return r;
                }
        }

        *ret = x;
        x = (HvDomainXml){};
        return 0;
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
