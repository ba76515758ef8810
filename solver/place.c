/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* solver_place(): the best host for a new VM.
 *
 * The request joins a copy of the problem as a VM without a host (Model.initial = -1), so the
 * model compiles its rules exactly like any other VM's. Candidates: hosts that accept VMs (up,
 * not frozen), where it fits (configured memory, vCPUs, hard VM–host rules, hard keep-apart),
 * and — when it belongs to a hard keep-together group with placed members — the host of the
 * lowest-index placed member. Among them, the one with the lowest resulting objective
 * (weighted imbalance + soft-rule penalties); ties go to the lowest host index. One pass over
 * the hosts after model_build(). */

#include <errno.h>
#include <math.h>

#include "greedy.h"
#include "solver-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);

/* Host that hard keep-together requires for vm (-1: none), and the rule. */
static int together_host(const Model *m, const Assignment *a, size_t vm, int *ret_rule) {
        for (size_t *k = m->rules_of_vm[vm]; k && *k != SIZE_MAX; k++) {
                const ModelVmRule *rule = &m->vm_rules[*k];
                if (!rule->hard || rule->type != RULE_KEEP_TOGETHER)
                        continue;
                for (size_t i = 0; i < rule->n_vms; i++)
                        if (rule->vms[i] != vm && a->host[rule->vms[i]] >= 0) {
                                *ret_rule = (int) rule->rule;
                                return a->host[rule->vms[i]];
                        }
        }
        *ret_rule = -1;
        return -1;
}

int solver_place(const Problem *p, const SolverVm *vm, const SolverOptions *opts, Plan **ret) {
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(assignment_done) Assignment a = {};
        _cleanup_free_ SolverVm *vms = NULL;
        Problem q = *p;
        size_t x = p->n_vms;
        int r, best = -1, pinned, pinned_rule;
        double best_d = INFINITY;

        r = plan_new(&plan);
        if (r < 0)
                return r;
        plan->solver = "placement";
        plan->placement_vm = strdup(vm->name ?: "");
        if (!plan->placement_vm)
                return -ENOMEM;

        vms = calloc(p->n_vms + 1, sizeof(SolverVm));
        if (!vms)
                return -ENOMEM;
        if (p->n_vms > 0)
                memcpy(vms, p->vms, sizeof(SolverVm) * p->n_vms);
        vms[x] = *vm;
        vms[x].host = -1;
        q.vms = vms;
        q.n_vms = p->n_vms + 1;

        r = model_build(&q, &m);
        if (r < 0)
                return r;
        r = assignment_init(m, &a);
        if (r < 0)
                return r;
        assignment_metrics(m, &a, &plan->before);

        pinned = together_host(m, &a, x, &pinned_rule);
        for (size_t h = 0; h < m->n_hosts; h++) {
                if (!m->target_ok[h] || (pinned >= 0 && (int) h != pinned))
                        continue;
                if (!assignment_fits(m, &a, x, h, NULL))
                        continue;
                double d = assignment_move_delta(m, &a, x, h);
                if (d < best_d) {
                        best_d = d;
                        best = (int) h;
                }
        }

        if (best >= 0) {
                assignment_move(m, &a, x, (size_t) best);
                plan->placement_host = best;
                plan->status = PLAN_FEASIBLE;
        } else {
                char *why;
                if (pinned >= 0) {
                        const char *fit_why = "host state";
                        (void) assignment_fits(m, &a, x, (size_t) pinned, &fit_why);
                        why = solver_strdup_printf(
                                "rule '%s': must join its group on '%s', which cannot take it (%s)",
                                p->policy->rules[pinned_rule].name, p->hosts[pinned].name, fit_why);
                        if (!why)
                                return -ENOMEM;
                } else {
                        r = greedy_explain(m, &a, x, &why);
                        if (r < 0)
                                return r;
                }
                r = plan_add_unplaceable(plan, SIZE_MAX, why);
                if (r < 0)
                        return r;
                plan->status = PLAN_PARTIAL;
        }
        assignment_metrics(m, &a, &plan->after);

        *ret = TAKE_PTR(plan);
        return 0;
}
