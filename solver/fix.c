/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The smallest fix for a host that cannot be emptied: which hard rules to relax, which standby
 * hosts to power on, how much configured memory to free where, which VMs to move by hand — as
 * a small MIP (mip.h, GLPK):
 *
 *   x[v,h] ∈ {0,1}  VM v of the host goes to h          Σ_h x[v,h] + s[v] = 1
 *   s[v]   ∈ {0,1}  v only by hand (moved elsewhere or shut down)
 *   z[r]   ∈ {0,1}  hard rule r relaxed                 x[v,h] ≤ z[r] where r forbids v on h
 *   y[h]   ∈ {0,1}  standby host h powered on           Σ_v mem[v]·x[v,h] ≤ limit[h]·y[h]
 *   f[h]   ≥ 0      MiB of configured memory freed on h Σ_v mem[v]·x[v,h] − f[h] ≤ free[h]
 *   keep-apart r on h: Σ_{v∈r} x[v,h] − n·z[r] ≤ (a member stays on h ? 0 : 1)
 *
 * minimizing 1000·(Σz + Σy) + 100·Σf/GiB + 100000·Σs: a rule relaxed or a host powered on
 * weighs as much as 10 GiB of configured memory freed (moving or shutting down VMs by hand), a
 * VM by hand only when nothing else does. Up to
 * SOLVER_FIX_OPTIONS alternatives, each excluding the previous ones' rules and hosts (or, after
 * a memory-only fix, freeing memory). VMs whose automation is disabled cannot be moved by drs:
 * every option starts with them. Keep-together rules and vCPU caps are kept as they are. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "macro.h"
#include "mip.h"
#include "model.h"
#include "solver.h"

#define W_DISCRETE 1000.0
#define W_GIB 100.0
#define W_HAND 100000.0

DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Mip *, mip_free);

void solver_fix_free(SolverFix *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n_options; i++)
                free(f->options[i].steps);
        free(f->options);
        free(f);
}

static int option_add(FixOption *o, FixStep s) {
        FixStep *n = reallocarray(o->steps, o->n_steps + 1, sizeof(FixStep));
        if (!n)
                return -ENOMEM;
        o->steps = n;
        o->steps[o->n_steps++] = s;
        return 0;
}

typedef struct Cols {
        int *x;     /* n_place × n_hosts, 0 = no column */
        int *s;     /* n_place */
        int *z;     /* n_rules, 0 = rule not involved */
        int *y;     /* n_hosts, 0 = not a standby target */
        int *f;     /* n_hosts, 0 = not an up target */
        int *apart; /* n_rules × n_hosts: keep-apart rows, 0 = none */
} Cols;

int solver_smallest_fix(const Problem *p, size_t host, int tm_lim_ms, SolverFix **ret) {
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(mip_freep) Mip *mip = NULL;
        Assignment a = {};
        const Policy *pol = p->policy;
        size_t H = p->n_hosts, R = pol->n_rules, n_place = 0;
        int r;

        if (!p || host >= p->n_hosts || !ret)
                return -EINVAL;
        _cleanup_free_ size_t *place = calloc(p->n_vms ?: 1, sizeof(size_t));
        _cleanup_free_ size_t *pinned = calloc(p->n_vms ?: 1, sizeof(size_t));
        size_t n_pinned = 0;
        if (!place || !pinned)
                return -ENOMEM;
        r = model_build(p, &m);
        if (r < 0)
                return r;
        r = assignment_init(m, &a);
        if (r < 0)
                return r;

        for (size_t v = 0; v < p->n_vms; v++) {
                if (p->vms[v].host != (int) host || p->vms[v].migrating)
                        continue;
                if (m->automation[v] == AUTOMATION_DISABLED)
                        pinned[n_pinned++] = v;
                else
                        place[n_place++] = v;
        }

        _cleanup_free_ int *xs = calloc(n_place * H + 1, sizeof(int)),
                           *ss = calloc(n_place + 1, sizeof(int)), *zs = calloc(R + 1, sizeof(int)),
                           *ys = calloc(H + 1, sizeof(int)), *fs = calloc(H + 1, sizeof(int));
        _cleanup_free_ bool *target = calloc(H + 1, sizeof(bool)), *standby = calloc(H + 1, sizeof(bool));
        if (!xs || !ss || !zs || !ys || !fs || !target || !standby) {
                assignment_done(&a);
                return -ENOMEM;
        }
        r = mip_new(&mip);
        if (r < 0)
                goto out;

        for (size_t h = 0; h < H; h++) {
                const SolverHost *sh = &p->hosts[h];
                if (h == host || sh->frozen)
                        continue;
                if (sh->state == HOST_UP)
                        target[h] = true;
                else if (sh->state == HOST_STANDBY) {
                        target[h] = standby[h] = true;
                        if ((r = ys[h] = mip_col(mip, 0, 1, W_DISCRETE, true)) < 0)
                                goto out;
                }
                if (sh->state == HOST_UP &&
                    (r = fs[h] = mip_col(mip, 0, fmax(0, a.mem_cfg[h]), W_GIB / 1024.0, false)) < 0)
                        goto out;
        }
        for (size_t i = 0; i < n_place; i++) {
                if ((r = ss[i] = mip_col(mip, 0, 1, W_HAND, true)) < 0)
                        goto out;
                int row = mip_row(mip, 1, 1);
                if ((r = row) < 0 || (r = mip_coef(mip, row, ss[i], 1)) < 0)
                        goto out;
                for (size_t h = 0; h < H; h++) {
                        if (!target[h])
                                continue;
                        int c = xs[i * H + h] = mip_col(mip, 0, 1, 0, true);
                        if ((r = c) < 0 || (r = mip_coef(mip, row, c, 1)) < 0)
                                goto out;
                }
        }

        /* Capacity: configured memory, and the vCPU cap where the policy sets one (kept). */
        for (size_t h = 0; h < H; h++) {
                if (!target[h])
                        continue;
                double free_mib = standby[h] ? 0 : fmax(0, m->mem_limit[h] - a.mem_cfg[h]);
                int row = mip_row(mip, -INFINITY, free_mib);
                if ((r = row) < 0)
                        goto out;
                for (size_t i = 0; i < n_place; i++)
                        if ((r = mip_coef(mip, row, xs[i * H + h], m->mem_cfg[place[i]])) < 0)
                                goto out;
                if (standby[h] && (r = mip_coef(mip, row, ys[h], -fmax(0, m->mem_limit[h]))) < 0)
                        goto out;
                if (fs[h] && (r = mip_coef(mip, row, fs[h], -1)) < 0)
                        goto out;
                if (isfinite(m->vcpu_limit[h])) {
                        double vfree = fmax(0, m->vcpu_limit[h] - (standby[h] ? 0 : a.vcpu_load[h]));
                        int vrow = mip_row(mip, -INFINITY, standby[h] ? 0 : vfree);
                        if ((r = vrow) < 0)
                                goto out;
                        for (size_t i = 0; i < n_place; i++)
                                if ((r = mip_coef(mip, vrow, xs[i * H + h], m->vcpus[place[i]])) < 0)
                                        goto out;
                        if (standby[h] && (r = mip_coef(mip, vrow, ys[h], -vfree)) < 0)
                                goto out;
                }
        }

        /* Hard rules. */
        for (size_t k = 0; k < R; k++) {
                const Rule *rule = &pol->rules[k];
                if (!rule->enabled || !rule->hard)
                        continue;
                const Group *vg = policy_find_group(pol, rule->vm_group, GROUP_VM);
                if (!vg)
                        continue;
                if (rule->type == RULE_MUST_RUN_ON || rule->type == RULE_MUST_NOT_RUN_ON) {
                        const Group *hg = policy_find_group(pol, rule->host_group, GROUP_HOST);
                        if (!hg)
                                continue;
                        for (size_t i = 0; i < n_place; i++) {
                                const SolverVm *sv = &p->vms[place[i]];
                                if (!group_matches(vg, sv->name, sv->groups))
                                        continue;
                                for (size_t h = 0; h < H; h++) {
                                        if (!target[h])
                                                continue;
                                        bool in = group_matches(hg, p->hosts[h].name, p->hosts[h].groups);
                                        if (in == (rule->type == RULE_MUST_RUN_ON))
                                                continue; /* allowed */
                                        if (!zs[k] && (r = zs[k] = mip_col(mip, 0, 1, W_DISCRETE, true)) < 0)
                                                goto out;
                                        int row = mip_row(mip, -INFINITY, 0);
                                        if ((r = row) < 0 ||
                                            (r = mip_coef(mip, row, xs[i * H + h], 1)) < 0 ||
                                            (r = mip_coef(mip, row, zs[k], -1)) < 0)
                                                goto out;
                                }
                        }
                } else if (rule->type == RULE_KEEP_APART) {
                        size_t n = 0;
                        for (size_t i = 0; i < n_place; i++)
                                n += group_matches(vg, p->vms[place[i]].name, p->vms[place[i]].groups);
                        if (n == 0)
                                continue;
                        for (size_t h = 0; h < H; h++) {
                                if (!target[h])
                                        continue;
                                bool occupied = false;
                                for (size_t v = 0; v < p->n_vms && !occupied; v++)
                                        occupied = a.host[v] == (int) h &&
                                                   group_matches(vg, p->vms[v].name, p->vms[v].groups);
                                if (!zs[k] && (r = zs[k] = mip_col(mip, 0, 1, W_DISCRETE, true)) < 0)
                                        goto out;
                                int row = mip_row(mip, -INFINITY, occupied ? 0 : 1);
                                if ((r = row) < 0 || (r = mip_coef(mip, row, zs[k], -(double) n)) < 0)
                                        goto out;
                                for (size_t i = 0; i < n_place; i++)
                                        if (group_matches(
                                                    vg, p->vms[place[i]].name, p->vms[place[i]].groups) &&
                                            (r = mip_coef(mip, row, xs[i * H + h], 1)) < 0)
                                                goto out;
                        }
                }
        }

        SolverFix *fix = calloc(1, sizeof(SolverFix));
        if (!fix) {
                r = -ENOMEM;
                goto out;
        }
        fix->host = (int) host;
        fix->proven = true;
        for (unsigned round = 0; round < SOLVER_FIX_OPTIONS; round++) {
                bool optimal = false;
                r = mip_solve(mip, tm_lim_ms, &optimal);
                if (r == -ENOENT)
                        break;
                if (r < 0) {
                        solver_fix_free(fix);
                        goto out;
                }
                if (round == 0)
                        fix->proven = optimal;
                FixOption o = {};
                bool hand = false;
                for (size_t i = 0; i < n_pinned && r >= 0; i++)
                        r = option_add(
                                &o,
                                (FixStep){
                                        .kind = FIX_PINNED, .vm = (int) pinned[i], .host = -1, .rule = -1});
                for (size_t k = 0; k < R && r >= 0; k++)
                        if (zs[k] && mip_value(mip, zs[k]) > 0.5)
                                r = option_add(
                                        &o, (FixStep){
                                                    .kind = FIX_RELAX_RULE,
                                                    .rule = (int) k,
                                                    .host = -1,
                                                    .vm = -1});
                for (size_t h = 0; h < H && r >= 0; h++)
                        if (ys[h] && mip_value(mip, ys[h]) > 0.5)
                                r = option_add(
                                        &o, (FixStep){
                                                    .kind = FIX_POWER_ON,
                                                    .host = (int) h,
                                                    .rule = -1,
                                                    .vm = -1});
                for (size_t h = 0; h < H && r >= 0; h++)
                        if (fs[h] && mip_value(mip, fs[h]) > 0.5)
                                r = option_add(
                                        &o, (FixStep){
                                                    .kind = FIX_FREE_MEMORY,
                                                    .host = (int) h,
                                                    .mib = (uint64_t) ceil(mip_value(mip, fs[h]) - 1e-6),
                                                    .rule = -1,
                                                    .vm = -1});
                for (size_t i = 0; i < n_place && r >= 0; i++)
                        if (mip_value(mip, ss[i]) > 0.5) {
                                hand = true;
                                r = option_add(
                                        &o, (FixStep){
                                                    .kind = FIX_BY_HAND,
                                                    .vm = (int) place[i],
                                                    .host = -1,
                                                    .rule = -1});
                        }
                FixOption *no =
                        r >= 0 ? reallocarray(fix->options, fix->n_options + 1, sizeof(FixOption)) : NULL;
                if (!no) {
                        free(o.steps);
                        solver_fix_free(fix);
                        r = -ENOMEM;
                        goto out;
                }
                fix->options = no;
                fix->options[fix->n_options++] = o;
                bool freed = false;
                for (size_t h = 0; h < H; h++)
                        freed = freed || (fs[h] && mip_value(mip, fs[h]) > 0.5);
                bool disc = false;
                for (size_t k = 0; k < R; k++)
                        disc = disc || (zs[k] && mip_value(mip, zs[k]) > 0.5);
                for (size_t h = 0; h < H; h++)
                        disc = disc || (ys[h] && mip_value(mip, ys[h]) > 0.5);
                if (hand || (!freed && !disc))
                        break; /* moving VMs by hand is the last resort; or nothing was needed */

                /* The next option: not this one's rules and hosts (after a memory-only fix: not
                 * by freeing memory). */
                size_t n_disc = 0;
                int row = mip_row(mip, -INFINITY, 0);
                if ((r = row) < 0) {
                        solver_fix_free(fix);
                        goto out;
                }
                for (size_t k = 0; k < R && r >= 0; k++)
                        if (zs[k] && mip_value(mip, zs[k]) > 0.5) {
                                n_disc++;
                                r = mip_coef(mip, row, zs[k], 1);
                        }
                for (size_t h = 0; h < H && r >= 0; h++)
                        if (ys[h] && mip_value(mip, ys[h]) > 0.5) {
                                n_disc++;
                                r = mip_coef(mip, row, ys[h], 1);
                        }
                if (n_disc == 0)
                        for (size_t h = 0; h < H && r >= 0; h++)
                                if (fs[h])
                                        r = mip_coef(mip, row, fs[h], 1);
                if (r < 0) {
                        solver_fix_free(fix);
                        goto out;
                }
                /* Σ chosen ≤ n − 1: the row's bound is 0, the constant comes in through a column
                 * fixed at 1. */
                if (n_disc > 0) {
                        int one = mip_col(mip, 1, 1, 0, false);
                        if ((r = one) < 0 || (r = mip_coef(mip, row, one, -(double) (n_disc - 1))) < 0) {
                                solver_fix_free(fix);
                                goto out;
                        }
                }
        }
        *ret = fix;
        r = 0;
out:
        assignment_done(&a);
        return r;
}

/* ---- words ---------------------------------------------------------------------------------- */

static void step_text(const Problem *p, const FixStep *s, FILE *f) {
        switch (s->kind) {
        case FIX_PINNED:
                fprintf(f, "move '%s' by hand or change its automation (disabled: drs never moves it)",
                        p->vms[s->vm].name);
                break;
        case FIX_RELAX_RULE:
                fprintf(f, "disable rule '%s'", p->policy->rules[s->rule].name);
                break;
        case FIX_POWER_ON:
                fprintf(f, "power on '%s' (standby)", p->hosts[s->host].name);
                break;
        case FIX_FREE_MEMORY:
                fprintf(f, "free %" PRIu64 " MiB of configured memory on '%s'", s->mib,
                        p->hosts[s->host].name);
                break;
        case FIX_BY_HAND:
                fprintf(f, "move '%s' elsewhere by hand or shut it down", p->vms[s->vm].name);
                break;
        }
}

int solver_fix_to_text(const Problem *p, const SolverFix *fix, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        if (fix->n_options == 0)
                fprintf(f, "no fix found within the time limit\n");
        else {
                fprintf(f, "smallest fix%s to empty '%s': ", fix->proven ? "" : " (not proven minimal)",
                        p->hosts[fix->host].name);
                for (size_t i = 0; i < fix->n_options; i++) {
                        const FixOption *o = &fix->options[i];
                        if (i > 0)
                                fputs("; or ", f);
                        for (size_t k = 0; k < o->n_steps; k++) {
                                if (k > 0)
                                        fputs(k + 1 == o->n_steps ? " and " : ", ", f);
                                step_text(p, &o->steps[k], f);
                        }
                        if (o->n_steps == 0)
                                fputs("nothing (it fits now)", f);
                }
                fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static const char *const fix_kind_names[] = {
        [FIX_PINNED] = "pinned",           [FIX_RELAX_RULE] = "relax_rule", [FIX_POWER_ON] = "power_on",
        [FIX_FREE_MEMORY] = "free_memory", [FIX_BY_HAND] = "by_hand",
};

int solver_fix_to_json(const Problem *p, const SolverFix *fix, char **ret) {
        json_object *o = json_object_new_object(), *opts = json_object_new_array();
        int r = -ENOMEM;
        if (!o || !opts ||
            json_object_object_add(o, "host", json_object_new_string(p->hosts[fix->host].name)) < 0 ||
            json_object_object_add(o, "proven", json_object_new_boolean(fix->proven)) < 0 ||
            json_object_object_add(o, "options", opts) < 0)
                goto out;
        for (size_t i = 0; i < fix->n_options; i++) {
                const FixOption *op = &fix->options[i];
                json_object *steps = json_object_new_array();
                if (!steps || json_object_array_add(opts, steps) < 0)
                        goto out;
                for (size_t k = 0; k < op->n_steps; k++) {
                        const FixStep *s = &op->steps[k];
                        json_object *x = json_object_new_object();
                        if (!x || json_object_array_add(steps, x) < 0 ||
                            json_object_object_add(
                                    x, "kind", json_object_new_string(fix_kind_names[s->kind])) < 0 ||
                            (s->rule >= 0 &&
                             json_object_object_add(
                                     x, "rule", json_object_new_string(p->policy->rules[s->rule].name)) <
                                     0) ||
                            (s->host >= 0 &&
                             json_object_object_add(
                                     x, "host", json_object_new_string(p->hosts[s->host].name)) < 0) ||
                            (s->vm >= 0 &&
                             json_object_object_add(x, "vm", json_object_new_string(p->vms[s->vm].name)) <
                                     0) ||
                            (s->kind == FIX_FREE_MEMORY &&
                             json_object_object_add(x, "mib", json_object_new_uint64(s->mib)) < 0))
                                goto out;
                }
        }
        *ret = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        r = *ret ? 0 : -ENOMEM;
out:
        if (o)
                json_object_put(o);
        else
                json_object_put(opts);
        return r;
}
