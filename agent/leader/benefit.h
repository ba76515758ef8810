/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Predicted versus realized benefit of drs's own moves. Pure bookkeeping: the pass tells it
 * when a balance or DPM move completed (with the gain its plan predicted) and, at each pass,
 * asks which measurements are due; the realized gain is computed by the caller from the
 * measured demands (solver_move_gains(): the counterfactual of the VM back on its source,
 * everything else as it is now), at 1, 5 and 15 minutes after the move completed. A VM that
 * stopped, moved again or is migrating, or a source that is no longer up (standby,
 * maintenance), ends its measurement early ("superseded"): nothing to compare with. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENEFIT_CHECKPOINTS 3
extern const unsigned benefit_checkpoint_s[BENEFIT_CHECKPOINTS]; /* 60, 300, 900 */

/* The summary covers the moves whose last measurement was taken within this window. */
#define BENEFIT_WINDOW_S (24 * 3600)
#define BENEFIT_SUMMARY_MAX 4096

typedef struct BenefitMove {
        char *vm, *from, *to; /* owned */
        char *reason;         /* owned: "balance" or "dpm" */
        uint64_t plan_id;     /* the plan it was part of (LeaderRun.id; 0 = none) */
        double predicted;     /* PlanMove.gain */
        uint64_t done_usec;   /* monotonic: when the migration completed */
        unsigned next;        /* next checkpoint to take (index into benefit_checkpoint_s) */
        double realized;      /* at the last checkpoint taken */
} BenefitMove;

typedef struct BenefitFinal {
        uint64_t t_usec; /* monotonic: when the last measurement was taken */
        double predicted, realized;
} BenefitFinal;

/* The rolling summary (BENEFIT_WINDOW_S): moves whose last measurement is in the window. */
typedef struct BenefitSummary {
        unsigned moves;     /* measured to the end (the 15-minute checkpoint) */
        double predicted;   /* sum of their predicted gains */
        double realized;    /* sum of their realized gains at 15 minutes */
        unsigned worse;     /* realized < 0: the move made the objective worse */
        unsigned no_effect; /* realized below a tenth of the predicted gain, not worse */
        unsigned superseded;
} BenefitSummary;

/* Feedback (issue 15, item 2): a VM whose last moves realized little of their prediction gets a
 * longer cooldown, ×2 to ×BENEFIT_MAX_FACTOR. Its last BENEFIT_VM_HISTORY measured moves count,
 * at least 2: r = Σ realized / Σ predicted; r ≥ 0.5 → ×1, else ×min(max, 0.5 / max(r, 1/8))
 * rounded to a whole factor. An operator resets a VM (drsctl vms --reset-feedback VM). */
#define BENEFIT_VM_HISTORY 4
#define BENEFIT_MAX_FACTOR 4
#define BENEFIT_VMS_MAX 4096

typedef struct BenefitVm {
        char *name; /* owned */
        double predicted[BENEFIT_VM_HISTORY], realized[BENEFIT_VM_HISTORY];
        unsigned n, next;
} BenefitVm;

/* A plan's moves, summed as they are measured to the end or superseded. */
typedef struct BenefitPlan {
        uint64_t id;
        unsigned measured, worse, superseded;
        double predicted, realized;
} BenefitPlan;

typedef struct BenefitTracker {
        BenefitPlan *plans; /* owned: plans with moves still being measured */
        size_t n_plans;
        BenefitVm *vms; /* owned: per-VM history of measured moves (at most BENEFIT_VMS_MAX) */
        size_t n_vms;
        BenefitMove *moves; /* owned: measurements in progress */
        size_t n_moves;
        BenefitFinal finals[BENEFIT_SUMMARY_MAX]; /* ring */
        size_t n_finals, next_final;
        uint64_t superseded_at[BENEFIT_SUMMARY_MAX]; /* ring: monotonic times */
        size_t n_superseded, next_superseded;
        /* Totals since start (Prometheus). */
        uint64_t total_measured, total_worse, total_superseded;
        double total_predicted, total_realized;
} BenefitTracker;

void benefit_tracker_done(BenefitTracker *t);

/* A move completed. Only moves with a positive predicted gain (a VM's final step) are tracked;
 * a VM tracked already is superseded by its new move. */
int benefit_add(
        BenefitTracker *t, const char *vm, const char *from, const char *to, const char *reason,
        double predicted, uint64_t plan_id, uint64_t now_usec);

/* After benefit_record(): whether plan_id has no move left being measured; then *ret is its
 * summary, and it is forgotten. */
bool benefit_plan_finished(BenefitTracker *t, uint64_t plan_id, BenefitPlan *ret);

/* The index of the first move with a measurement due at now (from index `from`), or -1. */
ssize_t benefit_next_due(const BenefitTracker *t, size_t from, uint64_t now_usec);

/* Records the measurement of move i at its due checkpoint: realized gain, or superseded (VM
 * gone, moved again, migrating, source not up). *ret_checkpoint_s: which checkpoint it was;
 * *ret_final: this was the move's last measurement (it is forgotten: i is then invalid).
 * Returns 0. */
int benefit_record(
        BenefitTracker *t, size_t i, bool superseded, double realized, uint64_t now_usec,
        unsigned *ret_checkpoint_s, bool *ret_final);

void benefit_summary(const BenefitTracker *t, uint64_t now_usec, BenefitSummary *ret);

/* The cooldown factor of vm (1: no penalty); *ret_share (may be NULL): what its last moves
 * realized of their prediction (NAN when fewer than 2 were measured). */
unsigned benefit_vm_factor(const BenefitTracker *t, const char *vm, double *ret_share);
/* Forgets vm's history (its factor is 1 again). 1 when it had one, 0 when not. */
int benefit_vm_reset(BenefitTracker *t, const char *vm);
