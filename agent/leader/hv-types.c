/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hypervisor's samples as the leader reads them (pure): copies and frees of HvHostStats,
 * pools and disk uses, and which disks only their own host sees. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-types.h"
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
