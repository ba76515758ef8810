/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "benefit.h"
#include "macro.h"

#define USEC_PER_SEC 1000000ULL

const unsigned benefit_checkpoint_s[BENEFIT_CHECKPOINTS] = {60, 300, 900};

static void move_done(BenefitMove *m) {
        free(m->vm);
        free(m->from);
        free(m->to);
        free(m->reason);
}

void benefit_tracker_done(BenefitTracker *t) {
        for (size_t i = 0; i < t->n_moves; i++)
                move_done(&t->moves[i]);
        free(t->moves);
        t->moves = NULL;
        t->n_moves = 0;
        for (size_t i = 0; i < t->n_vms; i++)
                free(t->vms[i].name);
        free(t->vms);
        t->vms = NULL;
        t->n_vms = 0;
        free(t->plans);
        t->plans = NULL;
        t->n_plans = 0;
}

static BenefitPlan *plan_find(BenefitTracker *t, uint64_t id) {
        for (size_t i = 0; i < t->n_plans; i++)
                if (t->plans[i].id == id)
                        return &t->plans[i];
        return NULL;
}

bool benefit_plan_finished(BenefitTracker *t, uint64_t plan_id, BenefitPlan *ret) {
        BenefitPlan *pl = plan_find(t, plan_id);
        if (!pl)
                return false;
        for (size_t i = 0; i < t->n_moves; i++)
                if (t->moves[i].plan_id == plan_id)
                        return false;
        *ret = *pl;
        *pl = t->plans[--t->n_plans];
        return true;
}

static BenefitVm *vm_find(const BenefitTracker *t, const char *vm) {
        for (size_t i = 0; i < t->n_vms; i++)
                if (streq(t->vms[i].name, vm))
                        return &t->vms[i];
        return NULL;
}

/* Adds a measured move to vm's history (best effort: out of memory or a full table skips). */
static void vm_note(BenefitTracker *t, const char *vm, double predicted, double realized) {
        BenefitVm *v = vm_find(t, vm);
        if (!v) {
                if (t->n_vms >= BENEFIT_VMS_MAX)
                        return;
                BenefitVm *n = reallocarray(t->vms, t->n_vms + 1, sizeof(BenefitVm));
                if (!n)
                        return;
                t->vms = n;
                v = &t->vms[t->n_vms];
                *v = (BenefitVm){.name = strdup(vm)};
                if (!v->name)
                        return;
                t->n_vms++;
        }
        v->predicted[v->next] = predicted;
        v->realized[v->next] = realized;
        v->next = (v->next + 1) % BENEFIT_VM_HISTORY;
        if (v->n < BENEFIT_VM_HISTORY)
                v->n++;
}

unsigned benefit_vm_factor(const BenefitTracker *t, const char *vm, double *ret_share) {
        const BenefitVm *v = vm_find(t, vm);
        double p = 0, r = 0;
        if (ret_share)
                *ret_share = NAN;
        if (!v || v->n < 2)
                return 1;
        for (unsigned i = 0; i < v->n; i++) {
                p += v->predicted[i];
                r += v->realized[i];
        }
        double share = p > 0 ? r / p : 0;
        if (ret_share)
                *ret_share = share;
        if (share >= 0.5)
                return 1;
        double f = 0.5 / fmax(share, 1.0 / 8);
        return (unsigned) fmin(BENEFIT_MAX_FACTOR, fmax(2, round(f)));
}

int benefit_vm_reset(BenefitTracker *t, const char *vm) {
        BenefitVm *v = vm_find(t, vm);
        if (!v)
                return 0;
        free(v->name);
        *v = t->vms[--t->n_vms];
        return 1;
}

int benefit_add(
        BenefitTracker *t, const char *vm, const char *from, const char *to, const char *reason,
        double predicted, uint64_t plan_id, uint64_t now_usec) {
        if (!t || !vm || !from || !to || !reason)
                return -EINVAL;
        if (!(predicted > 0) || !isfinite(predicted))
                return 0; /* an intermediate hop, or no balance gain predicted (a DPM move made
                             for energy may cost balance) */
        /* A VM moved again before its measurement ended: the old one is superseded. */
        for (size_t i = 0; i < t->n_moves; i++)
                if (streq(t->moves[i].vm, vm)) {
                        unsigned cp;
                        bool fin;
                        (void) benefit_record(t, i, true, 0, now_usec, &cp, &fin);
                        break;
                }
        if (plan_id > 0 && !plan_find(t, plan_id)) {
                BenefitPlan *np = reallocarray(t->plans, t->n_plans + 1, sizeof(BenefitPlan));
                if (!np)
                        return -ENOMEM;
                t->plans = np;
                t->plans[t->n_plans++] = (BenefitPlan){.id = plan_id};
        }
        BenefitMove *n = reallocarray(t->moves, t->n_moves + 1, sizeof(BenefitMove));
        if (!n)
                return -ENOMEM;
        t->moves = n;
        BenefitMove m = {
                .vm = strdup(vm),
                .from = strdup(from),
                .to = strdup(to),
                .reason = strdup(reason),
                .predicted = predicted,
                .plan_id = plan_id,
                .done_usec = now_usec,
        };
        if (!m.vm || !m.from || !m.to || !m.reason) {
                move_done(&m);
                return -ENOMEM;
        }
        t->moves[t->n_moves++] = m;
        return 0;
}

ssize_t benefit_next_due(const BenefitTracker *t, size_t from, uint64_t now_usec) {
        for (size_t i = from; i < t->n_moves; i++) {
                const BenefitMove *m = &t->moves[i];
                if (now_usec >= m->done_usec &&
                    now_usec - m->done_usec >= benefit_checkpoint_s[m->next] * USEC_PER_SEC)
                        return (ssize_t) i;
        }
        return -1;
}

static void forget(BenefitTracker *t, size_t i) {
        move_done(&t->moves[i]);
        memmove(&t->moves[i], &t->moves[i + 1], (t->n_moves - i - 1) * sizeof(BenefitMove));
        t->n_moves--;
}

int benefit_record(
        BenefitTracker *t, size_t i, bool superseded, double realized, uint64_t now_usec,
        unsigned *ret_checkpoint_s, bool *ret_final) {
        if (!t || i >= t->n_moves)
                return -EINVAL;
        BenefitMove *m = &t->moves[i];
        *ret_checkpoint_s = benefit_checkpoint_s[m->next];
        BenefitPlan *pl = m->plan_id > 0 ? plan_find(t, m->plan_id) : NULL;
        if (superseded) {
                if (pl)
                        pl->superseded++;
                t->superseded_at[t->next_superseded] = now_usec;
                t->next_superseded = (t->next_superseded + 1) % BENEFIT_SUMMARY_MAX;
                if (t->n_superseded < BENEFIT_SUMMARY_MAX)
                        t->n_superseded++;
                t->total_superseded++;
                *ret_final = true;
                forget(t, i);
                return 0;
        }
        m->realized = realized;
        if (++m->next < BENEFIT_CHECKPOINTS) {
                *ret_final = false;
                return 0;
        }
        t->finals[t->next_final] =
                (BenefitFinal){.t_usec = now_usec, .predicted = m->predicted, .realized = realized};
        t->next_final = (t->next_final + 1) % BENEFIT_SUMMARY_MAX;
        if (t->n_finals < BENEFIT_SUMMARY_MAX)
                t->n_finals++;
        t->total_measured++;
        t->total_predicted += m->predicted;
        t->total_realized += realized;
        t->total_worse += realized < 0;
        if (pl) {
                pl->measured++;
                pl->worse += realized < 0;
                pl->predicted += m->predicted;
                pl->realized += realized;
        }
        vm_note(t, m->vm, m->predicted, realized);
        *ret_final = true;
        forget(t, i);
        return 0;
}

static bool in_window(uint64_t t, uint64_t now) {
        return t <= now && now - t <= (uint64_t) BENEFIT_WINDOW_S * USEC_PER_SEC;
}

void benefit_summary(const BenefitTracker *t, uint64_t now_usec, BenefitSummary *ret) {
        BenefitSummary s = {};
        for (size_t i = 0; i < t->n_finals; i++) {
                const BenefitFinal *f = &t->finals[i];
                if (!in_window(f->t_usec, now_usec))
                        continue;
                s.moves++;
                s.predicted += f->predicted;
                s.realized += f->realized;
                if (f->realized < 0)
                        s.worse++;
                else if (f->realized < 0.1 * f->predicted)
                        s.no_effect++;
        }
        for (size_t i = 0; i < t->n_superseded; i++)
                s.superseded += in_window(t->superseded_at[i], now_usec);
        *ret = s;
}
