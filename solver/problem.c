/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Problem container: allocation, freeing, host state names. */

#include <errno.h>

#include "macro.h"
#include "solver.h"

static const char *const host_state_table[_HOST_STATE_MAX] = {
        [HOST_UP] = "up",
        [HOST_MAINTENANCE] = "maintenance",
        [HOST_STANDBY] = "standby",
};

DEFINE_STRING_TABLE_LOOKUP(host_state, HostState, _HOST_STATE_MAX);

int problem_new(Problem **ret) {
        Problem *p;
        int r;

        p = calloc(1, sizeof(Problem));
        if (!p)
                return -ENOMEM;
        r = policy_new(&p->policy);
        if (r < 0) {
                free(p);
                return r;
        }
        p->automation = p->policy->automation.level;
        *ret = p;
        return 0;
}

Problem *problem_free(Problem *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_hosts; i++) {
                free(p->hosts[i].name);
                strv_free(p->hosts[i].groups);
        }
        free(p->hosts);
        for (size_t i = 0; i < p->n_vms; i++) {
                free(p->vms[i].name);
                strv_free(p->vms[i].groups);
        }
        free(p->vms);
        strv_free(p->notes);
        policy_free(p->policy);
        free(p);
        return NULL;
}

static int unsigned_desc(const void *x, const void *y) {
        unsigned a = *(const unsigned *) x, b = *(const unsigned *) y;
        return a > b ? -1 : a < b;
}

unsigned quorum_votes_left(
        unsigned total_votes, const unsigned *votes, const bool *off, size_t n, unsigned tolerate,
        unsigned *scratch) {
        unsigned left = total_votes;
        size_t k = 0;

        for (size_t h = 0; h < n; h++) {
                if (off[h])
                        left -= votes[h] < left ? votes[h] : left;
                else if (votes[h] > 0)
                        scratch[k++] = votes[h];
        }
        qsort(scratch, k, sizeof(unsigned), unsigned_desc);
        for (size_t i = 0; i < k && i < tolerate; i++)
                left -= scratch[i] < left ? scratch[i] : left;
        return left;
}
