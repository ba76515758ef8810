/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>

#include "collector.h"
#include "macro.h"

#define PEAK_WINDOW_MAX 1024

/* The time constant of the slow mean behind VmReport.cpu_demand_stable: the horizon over which
 * drsd judges what a move realized (benefit.h, 15 minutes). */
#define STABLE_TAU_S 900.0

/* A smoothed quantity: EWMA plus the max of the last `window` values; for CPU also a slow mean
 * (time constant STABLE_TAU_S, by the samples' timestamps). */
typedef struct Smooth {
        bool have;
        double ewma;
        double slow;
        double *ring; /* owned; window entries */
        unsigned pos, n;
} Smooth;

typedef struct VmSeries {
        char *name;         /* owned */
        char *host;         /* owned; host of the last sample */
        bool have_baseline; /* last_t_usec/last_cpu_ns valid on host */
        uint64_t last_t_usec;
        uint64_t last_cpu_ns;
        uint64_t last_seen_usec;
        Smooth cpu; /* cores */
        Smooth mem; /* MiB */
} VmSeries;

struct Collector {
        double alpha;
        unsigned window;
        uint64_t stale_after_usec;
        HostReport *hosts; /* owned array */
        size_t n_hosts;
        VmSeries **series; /* owned array, sorted by name */
        size_t n_series;
};

static void smooth_add(Smooth *s, double v, double alpha, unsigned window, double dt_s) {
        double slow_alpha = dt_s > 0 ? 1.0 - exp(-dt_s / STABLE_TAU_S) : alpha;
        s->slow = s->have ? slow_alpha * v + (1.0 - slow_alpha) * s->slow : v;
        s->ewma = s->have ? alpha * v + (1.0 - alpha) * s->ewma : v;
        s->have = true;
        if (window > 0 && s->ring) {
                s->ring[s->pos] = v;
                s->pos = (s->pos + 1) % window;
                if (s->n < window)
                        s->n++;
        }
}

static double smooth_value(const Smooth *s) {
        double m;

        if (!s->have)
                return 0;
        m = s->ewma;
        for (unsigned i = 0; i < s->n; i++)
                if (s->ring[i] > m)
                        m = s->ring[i];
        return m;
}

/* What has held: the lowest of the slow mean and the values in the window (the newest when
 * there is no window). A burst that just started or just ended is not in it; one that lasts
 * enters it at the slow mean's pace. Never above smooth_value(). */
static double smooth_stable(const Smooth *s) {
        if (!s->have)
                return 0;
        double m = s->slow;
        if (s->n == 0)
                m = fmin(m, s->ewma);
        for (unsigned i = 0; i < s->n; i++)
                m = fmin(m, s->ring[i]);
        return fmin(m, smooth_value(s));
}

static VmSeries *series_free(VmSeries *v) {
        if (!v)
                return NULL;
        free(v->name);
        free(v->host);
        free(v->cpu.ring);
        free(v->mem.ring);
        free(v);
        return NULL;
}

static void vm_report_done(VmReport *v) {
        free(v->name);
        free(v->migrating_to);
        hv_disk_uses_free(v->disks, v->n_disks);
}

static void host_report_done(HostReport *h) {
        free(h->name);
        for (size_t i = 0; i < h->n_vms; i++)
                vm_report_done(&h->vms[i]);
        free(h->vms);
        free(h->last_error);
        hv_pools_free(h->pools, h->n_pools);
        *h = (HostReport){};
}

int collector_new(double ewma_alpha, unsigned peak_window, uint64_t stale_after_usec, Collector **ret) {
        Collector *c;

        if (!ret || !(ewma_alpha > 0 && ewma_alpha <= 1) || peak_window > PEAK_WINDOW_MAX ||
            stale_after_usec == 0)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->alpha = ewma_alpha;
        c->window = peak_window;
        c->stale_after_usec = stale_after_usec;
        *ret = c;
        return 0;
}

Collector *collector_free(Collector *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_hosts; i++)
                host_report_done(&c->hosts[i]);
        free(c->hosts);
        for (size_t i = 0; i < c->n_series; i++)
                series_free(c->series[i]);
        free(c->series);
        free(c);
        return NULL;
}

/* Binary search of name among n sorted names, name_at(base, i) giving the i-th: its index, or
 * where it would go (*ret_found false). */
static size_t name_index(
        const void *base, size_t n, const char *(*name_at)(const void *base, size_t i), const char *name,
        bool *ret_found) {
        size_t lo = 0, hi = n;

        *ret_found = false;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int k = strcmp(name_at(base, mid), name);
                if (k == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (k < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static const char *host_name_at(const void *base, size_t i) {
        return ((const HostReport *) base)[i].name;
}

static const char *series_name_at(const void *base, size_t i) {
        return ((VmSeries *const *) base)[i]->name;
}

/* Index of host in the hosts (sorted by name: a pass asks for every host, often, and a
 * simulated data centre has hundreds), or where it would go (*ret_found false). */
static size_t host_index(const Collector *c, const char *host, bool *ret_found) {
        return name_index(c->hosts, c->n_hosts, host_name_at, host, ret_found);
}

static HostReport *find_host(const Collector *c, const char *host) {
        bool found;
        size_t i = host_index(c, host, &found);
        return found ? &c->hosts[i] : NULL;
}

static int ensure_host(Collector *c, const char *host, HostReport **ret) {
        HostReport *l;
        bool found;
        size_t i = host_index(c, host, &found);

        if (found) {
                *ret = &c->hosts[i];
                return 0;
        }
        char *name = strdup(host);
        if (!name)
                return -ENOMEM;
        l = realloc(c->hosts, sizeof(HostReport) * (c->n_hosts + 1));
        if (!l) {
                free(name);
                return -ENOMEM;
        }
        c->hosts = l;
        memmove(&c->hosts[i + 1], &c->hosts[i], sizeof(HostReport) * (c->n_hosts - i));
        c->hosts[i] = (HostReport){.name = name};
        c->n_hosts++;
        *ret = &c->hosts[i];
        return 0;
}

/* Index of name in the sorted series, or where it would go (*ret_found false). */
static size_t series_index(const Collector *c, const char *name, bool *ret_found) {
        return name_index(c->series, c->n_series, series_name_at, name, ret_found);
}

static int ensure_series(Collector *c, const char *name, VmSeries **ret) {
        _cleanup_free_ VmSeries *v = NULL;
        VmSeries **l;
        bool found;
        size_t i = series_index(c, name, &found);

        if (found) {
                *ret = c->series[i];
                return 0;
        }
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->name = strdup(name);
        if (c->window > 0) {
                v->cpu.ring = calloc(c->window, sizeof(double));
                v->mem.ring = calloc(c->window, sizeof(double));
        }
        if (!v->name || (c->window > 0 && (!v->cpu.ring || !v->mem.ring))) {
                series_free(TAKE_PTR(v));
                return -ENOMEM;
        }
        l = realloc(c->series, sizeof(VmSeries *) * (c->n_series + 1));
        if (!l) {
                series_free(TAKE_PTR(v));
                return -ENOMEM;
        }
        c->series = l;
        memmove(&c->series[i + 1], &c->series[i], sizeof(VmSeries *) * (c->n_series - i));
        c->series[i] = v;
        c->n_series++;
        *ret = TAKE_PTR(v);
        return 0;
}

static int vm_report_cmp(const void *a, const void *b) {
        return strcmp(((const VmReport *) a)->name, ((const VmReport *) b)->name);
}

/* Memory demand of one sample, in MiB (rounded up). */
static double sample_memory_mib(const HvDomainStats *d) {
        uint64_t kib;

        if (d->have_balloon && d->balloon_available_kib >= d->balloon_unused_kib)
                kib = d->balloon_available_kib - d->balloon_unused_kib;
        else if (d->balloon_rss_kib > 0)
                kib = d->balloon_rss_kib;
        else
                kib = d->memory_kib; /* nothing measured: assume all of it */
        return ceil((double) kib / 1024.0);
}

static void
series_feed(const Collector *c, VmSeries *v, const char *host, const HvDomainStats *d, uint64_t t_usec) {
        bool same_host = v->host && streq(v->host, host);

        if (same_host && v->have_baseline && t_usec <= v->last_t_usec)
                return; /* not newer than what we have */

        if (same_host && v->have_baseline && d->cpu_time_ns >= v->last_cpu_ns) {
                double cores = (double) (d->cpu_time_ns - v->last_cpu_ns) /
                               ((double) (t_usec - v->last_t_usec) * 1000.0);
                smooth_add(&v->cpu, cores, c->alpha, c->window, (double) (t_usec - v->last_t_usec) / 1e6);
        }
        /* Else: first sample, another host (migrated), or the counter went backwards
         * (restarted): a new baseline, no rate from this pair. */
        v->have_baseline = true;
        v->last_t_usec = t_usec;
        v->last_cpu_ns = d->cpu_time_ns;
        v->last_seen_usec = t_usec;
        smooth_add(&v->mem, sample_memory_mib(d), c->alpha, c->window, 0);
}

static void forget_old_series(Collector *c, uint64_t now_usec) {
        uint64_t keep = 3 * c->stale_after_usec;
        size_t j = 0;

        for (size_t i = 0; i < c->n_series; i++) {
                VmSeries *v = c->series[i];
                if (v->last_seen_usec + keep < now_usec)
                        series_free(v);
                else
                        c->series[j++] = v;
        }
        c->n_series = j;
}

int collector_feed(Collector *c, const char *host, const HvHostStats *s) {
        VmReport *vms = NULL;
        size_t n_vms = 0;
        HostReport *h;
        int r;

        if (!c || !host || !s)
                return -EINVAL;
        r = ensure_host(c, host, &h);
        if (r < 0)
                return r;
        if (s->n_domains > 0) {
                vms = calloc(s->n_domains, sizeof(VmReport));
                if (!vms)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_domains; i++) {
                const HvDomainStats *d = &s->domains[i];
                VmSeries *v;
                bool dup = false;

                if (!d->name)
                        continue;
                for (size_t k = 0; k < n_vms; k++)
                        dup = dup || streq(vms[k].name, d->name);
                if (dup)
                        continue;
                r = ensure_series(c, d->name, &v);
                if (r < 0)
                        goto fail;
                if (!v->host || !streq(v->host, host)) {
                        char *nh = strdup(host);
                        if (!nh) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        series_feed(c, v, host, d, s->t_usec);
                        free(v->host);
                        v->host = nh;
                } else
                        series_feed(c, v, host, d, s->t_usec);

                vms[n_vms] = (VmReport){
                        .name = strdup(d->name),
                        .vcpus = d->vcpus,
                        .memory_mib = (d->memory_kib + 1023) / 1024,
                        .cpu_demand = smooth_value(&v->cpu),
                        .cpu_demand_stable = smooth_stable(&v->cpu),
                        .has_cpu_demand_stable = true,
                        .memory_demand_mib = (uint64_t) smooth_value(&v->mem),
                        .migrating = d->migrating,
                };
                if (!vms[n_vms].name) {
                        r = -ENOMEM;
                        goto fail;
                }
                n_vms++;
                if (d->n_disks > 0) {
                        r = hv_disk_uses_copy(d->disks, d->n_disks, &vms[n_vms - 1].disks);
                        if (r < 0)
                                goto fail;
                        vms[n_vms - 1].n_disks = d->n_disks;
                }
        }
        if (n_vms > 1)
                qsort(vms, n_vms, sizeof(VmReport), vm_report_cmp);
        HvPool *pools = NULL;
        if (s->n_pools > 0) {
                r = hv_pools_copy(s->pools, s->n_pools, &pools);
                if (r < 0)
                        goto fail;
        }
        hv_pools_free(h->pools, h->n_pools);
        h->pools = pools;
        h->n_pools = s->n_pools;

        for (size_t i = 0; i < h->n_vms; i++)
                vm_report_done(&h->vms[i]);
        free(h->vms);
        h->vms = vms;
        h->n_vms = n_vms;
        h->t_usec = s->t_usec;
        h->cpus = s->cpus;
        h->memory_mib = s->memory_kib / 1024;
        h->free_mib = s->free_kib / 1024;
        free(h->last_error);
        h->last_error = NULL;

        forget_old_series(c, s->t_usec);
        return 0;

fail:
        for (size_t k = 0; k < n_vms; k++)
                vm_report_done(&vms[k]);
        free(vms);
        return r;
}

int collector_feed_error(Collector *c, const char *host, const char *msg, uint64_t now_usec) {
        HostReport *h;
        char *m;
        int r;

        if (!c || !host)
                return -EINVAL;
        r = ensure_host(c, host, &h);
        if (r < 0)
                return r;
        m = strdup(msg ? msg : "unknown error");
        if (!m)
                return -ENOMEM;
        free(h->last_error);
        h->last_error = m;
        return 0;
}

const HostReport *collector_get(const Collector *c, const char *host) {
        if (!c || !host)
                return NULL;
        return find_host(c, host);
}

int collector_remove_host(Collector *c, const char *host) {
        HostReport *h;

        if (!c || !host)
                return -EINVAL;
        h = find_host(c, host);
        if (!h)
                return -ENOENT;
        host_report_done(h);
        size_t i = (size_t) (h - c->hosts);
        memmove(&c->hosts[i], &c->hosts[i + 1], sizeof(HostReport) * (c->n_hosts - i - 1));
        c->n_hosts--;
        return 0;
}

bool collector_host_is_stale(const Collector *c, const char *host, uint64_t now_usec) {
        const HostReport *h = collector_get(c, host);

        if (!h || h->t_usec == 0)
                return true;
        return now_usec > h->t_usec && now_usec - h->t_usec > c->stale_after_usec;
}
