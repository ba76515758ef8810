/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PlanetLab/CoMon importer: a day of VM CPU traces as CloudSim ships them (a directory of
 * files, one per VM, each 288 CPU-utilization percentages at 5-minute steps) into a drs-sim
 * scenario and its trace file, with CloudSim's data centre (planetlab.h). */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planetlab.h"
#include "policy-load.h"

#define PLANETLAB_MAX_VMS 100000
#define PLANETLAB_MAX_STEPS 288

/* CloudSim's four VM types: MIPS and RAM (MB). 1 drs core = 10 MIPS. */
static const struct {
        unsigned mips, ram_mb;
} vm_types[4] = {{2500, 870}, {2000, 1740}, {1000, 1740}, {500, 613}};

/* Its two host models, alternating by host index (even: G4, odd: G5): MIPS and SPECpower watts
 * at 0, 10, …, 100 % CPU. */
static const struct {
        const char *model;
        unsigned mips;
        double watts[POWER_MODEL_POINTS];
} host_types[2] = {
        {"HP ProLiant ML110 G4", 2 * 1860, {86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117}},
        {"HP ProLiant ML110 G5", 2 * 2660, {93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135}},
};

typedef struct PlVm {
        char *file; /* owned */
        unsigned type;
        long host;
        unsigned n_steps;
        unsigned util[PLANETLAB_MAX_STEPS];
} PlVm;

static void vms_free(PlVm *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].file);
        free(v);
}

static int err(char **reterr, const char *fmt, ...) _printf_(2, 3);
static int err(char **reterr, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(reterr, fmt, ap) < 0)
                *reterr = NULL;
        va_end(ap);
        return -EINVAL;
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The VMs in CloudSim's order: from the order CSV (index,type,file), or the directory's files
 * sorted by name with type = i ÷ ⌈n/4⌉ as CloudSim assigns them. */
static int load_order(const PlanetlabOptions *o, PlVm **ret, size_t *ret_n, char **reterr) {
        PlVm *v = NULL;
        size_t n = 0;

        if (o->order) {
                _cleanup_free_ char *buf = NULL;
                PolicyError e = {};
                size_t len, lineno = 0;
                int r = policy_read_file_bounded(o->order, 64U << 20, &buf, &len, &e);
                policy_error_clear(&e);
                if (r < 0)
                        return err(reterr, "cannot read '%s': %s", o->order, strerror(-r));
                for (char *line = buf, *next; line && *line; line = next) {
                        unsigned long idx, type;
                        char file[256];
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        lineno++;
                        if (lineno == 1 && strncmp(line, "index", 5) == 0)
                                continue;
                        if (line[strspn(line, " \t\r")] == '\0')
                                continue;
                        if (sscanf(line, "%lu,%lu,%255[^,\r\n]", &idx, &type, file) != 3 || type > 3 ||
                            idx != n || n >= PLANETLAB_MAX_VMS || strchr(file, '/')) {
                                vms_free(v, n);
                                return err(
                                        reterr, "%s:%zu: expected INDEX,TYPE,FILE (index %zu, type 0-3)",
                                        o->order, lineno, n);
                        }
                        PlVm *l = reallocarray(v, n + 1, sizeof(PlVm));
                        if (!l) {
                                vms_free(v, n);
                                return -ENOMEM;
                        }
                        v = l;
                        v[n] = (PlVm){.file = strdup(file), .type = (unsigned) type, .host = -1};
                        if (!v[n++].file) {
                                vms_free(v, n);
                                return -ENOMEM;
                        }
                }
        } else {
                DIR *d = opendir(o->dir);
                if (!d)
                        return err(reterr, "cannot open '%s': %m", o->dir);
                char **names = NULL;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char **l = reallocarray(names, n + 1, sizeof(char *));
                        if (!l || !(l[n] = strdup(de->d_name))) {
                                names = l ?: names;
                                for (size_t i = 0; i < n; i++)
                                        free(names[i]);
                                free(names);
                                closedir(d);
                                return -ENOMEM;
                        }
                        names = l;
                        n++;
                }
                closedir(d);
                if (n > 0)
                        qsort(names, n, sizeof(char *), str_cmp);
                v = calloc(n ?: 1, sizeof(PlVm));
                if (!v) {
                        for (size_t i = 0; i < n; i++)
                                free(names[i]);
                        free(names);
                        return -ENOMEM;
                }
                size_t per_type = (n + 3) / 4;
                for (size_t i = 0; i < n; i++)
                        v[i] = (PlVm){
                                .file = names[i], .type = (unsigned) (i / (per_type ?: 1)), .host = -1};
                free(names);
        }
        if (n == 0) {
                vms_free(v, n);
                return err(reterr, "no VM trace files in '%s'", o->dir);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int load_placement(const PlanetlabOptions *o, PlVm *v, size_t n, char **reterr) {
        _cleanup_free_ char *buf = NULL;
        PolicyError e = {};
        size_t len, lineno = 0;

        for (size_t i = 0; i < n; i++)
                v[i].host = (long) (i % o->n_hosts);
        if (!o->placement)
                return 0;
        int r = policy_read_file_bounded(o->placement, 64U << 20, &buf, &len, &e);
        policy_error_clear(&e);
        if (r < 0)
                return err(reterr, "cannot read '%s': %s", o->placement, strerror(-r));
        for (char *line = buf, *next; line && *line; line = next) {
                unsigned long vm, host;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                if ((lineno == 1 && strncmp(line, "vm", 2) == 0) || line[strspn(line, " \t\r")] == '\0')
                        continue;
                if (sscanf(line, "%lu,%lu", &vm, &host) != 2 || vm >= n || host >= o->n_hosts)
                        return err(
                                reterr, "%s:%zu: expected VM,HOST (VM < %zu, HOST < %u)", o->placement,
                                lineno, n, o->n_hosts);
                v[vm].host = (long) host;
        }
        return 0;
}

static int load_trace(const PlanetlabOptions *o, PlVm *vm, char **reterr) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        PolicyError e = {};
        size_t len;

        if (asprintf(&path, "%s/%s", o->dir, vm->file) < 0)
                return -ENOMEM;
        int r = policy_read_file_bounded(path, 1U << 20, &buf, &len, &e);
        policy_error_clear(&e);
        if (r < 0)
                return err(reterr, "cannot read '%s': %s", path, strerror(-r));
        for (char *p = buf, *end; *p;) {
                p += strspn(p, " \t\r\n");
                if (!*p)
                        break;
                errno = 0;
                unsigned long u = strtoul(p, &end, 10);
                if (end == p || errno || u > 100 || vm->n_steps >= PLANETLAB_MAX_STEPS)
                        return err(
                                reterr, "%s: expected at most %d CPU utilizations in percent (0-100)", path,
                                PLANETLAB_MAX_STEPS);
                vm->util[vm->n_steps++] = (unsigned) u;
                p = end;
        }
        if (vm->n_steps == 0)
                return err(reterr, "%s: no utilization values", path);
        return 0;
}

int planetlab_import(const PlanetlabOptions *o, FILE *scenario, FILE *trace, char **reterr) {
        PlVm *v = NULL;
        size_t n = 0;
        unsigned steps = 0;
        int r;

        *reterr = NULL;
        if (o->n_hosts == 0)
                return err(reterr, "no hosts");
        r = load_order(o, &v, &n, reterr);
        if (r < 0)
                return r;
        r = load_placement(o, v, n, reterr);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = load_trace(o, &v[i], reterr);
                if (v[i].n_steps > steps)
                        steps = v[i].n_steps;
        }
        if (r < 0) {
                vms_free(v, n);
                return r;
        }

        fprintf(scenario,
                "# Generated by drs-sim --import-planetlab from '%s': %zu VMs over %u hosts, %u steps of 5 min.\n"
                "# CloudSim's data centre: hosts alternate %s (even) and %s (odd), SPECpower curves;\n"
                "# VM types %u/%u/%u/%u MIPS; 1 drs core = 10 MIPS. Host memory: %" PRIu64 " MiB.\n",
                o->dir, n, o->n_hosts, steps, host_types[0].model, host_types[1].model, vm_types[0].mips,
                vm_types[1].mips, vm_types[2].mips, vm_types[3].mips, o->host_memory_mib);
        fprintf(scenario,
                "name: %s\ndescription: PlanetLab day from %s (%zu VMs, %u hosts)\nseed: 1\nduration: %us\n"
                "interval: %us\nquorum: false\n",
                o->name, o->dir, n, o->n_hosts, steps * 300, o->interval_s);
        fputs("hosts:\n", scenario);
        for (unsigned h = 0; h < o->n_hosts; h++) {
                const typeof(host_types[0]) *t = &host_types[h % 2];
                fprintf(scenario, "  - {name: h%03u, cpus: %u, memory_mib: %" PRIu64 ", power: {watts: [", h,
                        t->mips / 10, o->host_memory_mib);
                for (size_t i = 0; i < POWER_MODEL_POINTS; i++)
                        fprintf(scenario, "%s%g", i ? ", " : "", t->watts[i]);
                fputs("]}}\n", scenario);
        }
        fputs("vms:\n", scenario);
        for (size_t i = 0; i < n; i++)
                fprintf(scenario,
                        "  - {name: vm%03zu, host: h%03ld, vcpus: %u, memory_mib: %u, cpu: 0, memory: 0.5}\n",
                        i, v[i].host, vm_types[v[i].type].mips / 10, vm_types[v[i].type].ram_mb);
        fprintf(scenario, "trace: %s\n", o->trace_name);
        if (o->policy)
                fprintf(scenario, "policy:\n%s", o->policy);

        fputs("# SECONDS,VM,CPU_CORES,MEMORY_MIB\n", trace);
        for (unsigned k = 0; k < steps; k++)
                for (size_t i = 0; i < n; i++) {
                        unsigned u = v[i].util[k < v[i].n_steps ? k : v[i].n_steps - 1];
                        fprintf(trace, "%u,vm%03zu,%g,%u\n", k * 300, i,
                                (double) vm_types[v[i].type].mips * u / 100.0 / 10.0,
                                vm_types[v[i].type].ram_mb / 2);
                }
        vms_free(v, n);
        if (ferror(scenario) || ferror(trace))
                return -EIO;
        return 0;
}
