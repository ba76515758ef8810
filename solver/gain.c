/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a move contributes now: the counterfactual of a VM back where it came from. */

#include <errno.h>

#include "macro.h"
#include "model.h"
#include "solver.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);

int solver_move_gains(const Problem *p, const size_t *vms, const size_t *hosts, size_t n, double *ret) {
        _cleanup_(model_freep) Model *m = NULL;
        Assignment a = {};
        int r;

        if (!p || (n > 0 && (!vms || !hosts || !ret)))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (vms[i] >= p->n_vms || hosts[i] >= p->n_hosts || p->vms[vms[i]].host < 0)
                        return -EINVAL;
        if (n == 0)
                return 0;
        r = model_build(p, &m);
        if (r < 0)
                return r;
        r = assignment_init(m, &a);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                ret[i] = (size_t) p->vms[vms[i]].host == hosts[i]
                                 ? 0
                                 : assignment_move_delta(m, &a, vms[i], hosts[i]);
        assignment_done(&a);
        return 0;
}
