/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The simulation loop. What is real and what is the simulator's own:
 *
 *   real (linked from policy/, solver/, agent/): the policy, the collector (collector_feed() on
 *   HvHostStats samples), host modes (State), drsd's leader pass itself (agent/leader/pass.c:
 *   stale hosts, entering-maintenance → maintenance, DPM draining → power-off → standby,
 *   power-on waits, the DPM hysteresis, plan replacement, wave submission with its target
 *   checks, the Problem, LeaderRun, MoveLog), the executor's admission rule (queue and limits,
 *   agent/leader/admission.c), the stall ladder (agent/leader/migration-watch.c).
 *
 *   the simulator's own: the cluster (hosts, VMs, demand over time, migrations progressing by
 *   bandwidth and dirty rate, power commands and boots, faults), when passes run (the timer and
 *   the requests), the agents' refusal of orders of an old term, the invariant checker and the
 *   statistics. The pass reads the simulated cluster and acts on it through LeaderPassOps.
 *
 * One step = the virtual clock advanced to the next thing that happens: a collection round, a
 * pass, a migration's job-stats poll, a power command or boot finishing, a scheduled event. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "executor.h"
#include "config.h"
#include "history.h"
#include "leader.h"
#include "pass.h"
#include "migration-watch.h"
#include "model.h"
#include "sim.h"
#include "state.h"

#define USEC UINT64_C(1000000)
#define T0 (UINT64_C(1000) * USEC)
/* 2024-01-01 00:00:00 UTC, a Monday: the virtual wall clock starts there (automation windows). */
#define SIM_EPOCH_S UINT64_C(1704067200)
/* As manager-pass.c. */
#define COLLECTOR_EWMA_ALPHA 0.5
#define COLLECTOR_PEAK_WINDOW 3
#define POLL_USEC USEC
#define MIN_TIMEOUT_USEC (60 * USEC)
/* "Nearly idle": every up host below this CPU utilization. */
#define IDLE_CPU 0.20
#define STALL_DIRTY_FACTOR 1.5
#define SERIES_MAX_POINTS 720

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

/* ---- the simulated cluster --------------------------------------------------------------- */

typedef struct SimHost {
        char *name; /* owned */
        unsigned cpus;
        uint64_t memory_mib;
        bool powered;     /* on and libvirt answering */
        bool booting;     /* powered on, libvirt not answering yet */
        bool dead;        /* killed by an event */
        bool was_powered; /* before it was killed: a revive restores it */
        uint64_t boot_done_usec;
        /* Per sample. */
        double cpu_util, mem_util;
        unsigned n_vms;
} SimHost;

typedef struct SimVm {
        char *name; /* owned */
        const SimVmSpec *spec;
        uint64_t key; /* for the load hashes */
        unsigned vcpus;
        uint64_t memory_mib;
        int host;
        double cpu, mem; /* demand now: cores, MiB */
        uint64_t cpu_time_ns;
        bool traced;
        double trace_cpu;
        uint64_t trace_mem;
        int job; /* running migration (index into jobs) or -1 */
        /* Statistics. */
        uint64_t n_moves;
        uint64_t last_move_usec; /* 0 = never */
        int last_from;
        MoveReason last_reason;
        /* Its last balance or DPM move as planned (SimOptions.moves). */
        struct {
                bool set;
                uint64_t t_s;
                char solver[24];
                double gain, min_gain, demand, stable, truth, src_u, dst_u, plan_imbalance;
                bool swap;
                unsigned plan_moves;
                double realized[3];
        } planned;
} SimVm;

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_DONE,
} JobState;

typedef struct SimJob {
        JobState state;
        size_t vm;
        int src, dst;
        MoveReason reason;
        uint64_t term;
        uint64_t memory_mib;
        uint64_t started_usec, attempt_usec, setup_end_usec, next_poll_usec, last_update_usec;
        uint64_t timeout_usec, fail_at_usec;
        unsigned attempt;
        bool auto_converge, stalled_counted, fault_counted;
        double throttle;
        double total, remaining, processed; /* bytes */
        uint64_t max_downtime_ms;
        MigrationWatch watch;
        unsigned stall_steps;
        bool ok;
        uint64_t done_usec;
} SimJob;

/* A power command running (the pass's LeaderPass.power says what it is waiting for). */
typedef struct PowerOp {
        size_t host;
        PowerAction action;
        bool fail;
        bool ended; /* the command ended and the pass was told */
        uint64_t started_usec, done_usec;
} PowerOp;

typedef struct VmIndex {
        const char *name;
        size_t index;
} VmIndex;

typedef struct Sim {
        const Scenario *sc;
        SimResult *res;
        bool keep_series;
        FILE *series; /* SimOptions.series */
        FILE *moves;  /* SimOptions.moves */
        uint64_t now; /* µs since the start: also the collector's monotonic clock */
        uint64_t rng;

        SimHost *hosts;
        size_t n_hosts;
        SimVm *vms;
        size_t n_vms;
        VmIndex *vm_index;      /* sorted by name */
        DrsHostConfig *configs; /* owned array: name and groups per host (leader_build_problem) */

        SimJob *jobs; /* every job ever, in order; queued/running ones are live */
        size_t n_jobs, n_alloc_jobs;
        size_t *live; /* indexes of queued and running jobs, FIFO */
        size_t n_live;
        Admission admission; /* the executor's queue and limits; data = job index */

        PowerOp *power; /* owned array */
        size_t n_power;

        /* The leader. */
        Collector *collector;
        State *state;
        LeaderPass *lp;        /* drsd's pass */
        HistoryEvent *history; /* completed migrations, for move_log_load() on a leader change */
        size_t n_history;
        bool pass_requested;
        uint64_t term;
        uint64_t next_sample, next_pass;
        bool passed_once;

        /* Invariants. */
        Problem *rule_problem; /* owned: the initial placement, for model */
        Model *model;          /* the hard rules, compiled once on the initial placement */
        bool *rule_bad;
        bool *rule_moved;

        /* Statistics. */
        double *imb_cpu, *imb_mem;
        size_t n_imb, n_alloc_imb;
        unsigned migrations_since_point;
        size_t event_next;
        size_t trace_pos;
        unsigned **evac_to; /* per maintenance record: VMs received per host */
        size_t n_evac;
} Sim;

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static double rand01(Sim *s) {
        return (double) (splitmix64(&s->rng) >> 11) / 9007199254740992.0;
}

/* A uniform [0, 1) from a key: the same for the same inputs whatever else happened. */
static double hash01(uint64_t a, uint64_t b, uint64_t c) {
        uint64_t x = a * UINT64_C(0x9E3779B97F4A7C15) ^ b * UINT64_C(0xC2B2AE3D27D4EB4F) ^ c;
        return (double) (splitmix64(&x) >> 11) / 9007199254740992.0;
}

/* The virtual monotonic clock starts at T0, not 0: a report stamped 0 means "never". */
static uint64_t elapsed_s(const Sim *s) {
        return (s->now - T0) / USEC;
}

static uint64_t realtime_usec(const Sim *s) {
        return SIM_EPOCH_S * USEC + (s->now - T0);
}

/* A new string, NULL when out of memory. */
static char *format_va(const char *fmt, va_list ap) {
        char *m;
        return vasprintf(&m, fmt, ap) < 0 ? NULL : m;
}

static _printf_(2, 3) void violation(Sim *s, const char *fmt, ...) {
        SimResult *r = s->res;
        r->n_violations++;
        if (r->n_violations_kept >= SIM_MAX_VIOLATIONS_KEPT)
                return;
        va_list ap;
        va_start(ap, fmt);
        char *m = format_va(fmt, ap);
        va_end(ap);
        r->violations[r->n_violations_kept++] = (SimMark){.t_s = elapsed_s(s), .label = m};
}

static void mark(Sim *s, const char *fmt, ...) _printf_(2, 3);
static void mark(Sim *s, const char *fmt, ...) {
        SimResult *r = s->res;
        SimMark *l = reallocarray(r->marks, r->n_marks + 1, sizeof(SimMark));
        va_list ap;

        if (!l)
                return;
        r->marks = l;
        va_start(ap, fmt);
        char *m = format_va(fmt, ap);
        va_end(ap);
        r->marks[r->n_marks++] = (SimMark){.t_s = elapsed_s(s), .label = m};
}

static int host_find(const Sim *s, const char *name) {
        for (size_t i = 0; i < s->n_hosts; i++)
                if (streq(s->hosts[i].name, name))
                        return (int) i;
        return -1;
}

static int vm_index_cmp(const void *a, const void *b) {
        return strcmp(((const VmIndex *) a)->name, ((const VmIndex *) b)->name);
}

static int vm_find(const Sim *s, const char *name) {
        VmIndex key = {.name = name};
        const VmIndex *f = bsearch(&key, s->vm_index, s->n_vms, sizeof(VmIndex), vm_index_cmp);
        return f ? (int) f->index : -1;
}

static HostMode mode_of(const Sim *s, size_t h) {
        return state_get(s->state, s->hosts[h].name);
}

static double mem_limit(const Sim *s, size_t h) {
        const LimitsPolicy *l = &s->sc->policy->limits;
        return (double) s->hosts[h].memory_mib * l->memory_overcommit - (double) l->memory_reserve_mib;
}

static bool in_window(const Sim *s, SimEventType type, const char *host) {
        uint64_t t = elapsed_s(s);
        for (size_t i = 0; i < s->sc->n_events; i++) {
                const SimEvent *e = &s->sc->events[i];
                if (e->type == type && t >= e->at_s && t < e->until_s &&
                    (!e->host || (host && streq(e->host, host))))
                        return true;
        }
        return false;
}

/* ---- building the cluster -------------------------------------------------------------- */

static int expand_name(const char *prefix, unsigned count, unsigned k, char **ret) {
        if (count == 1)
                return (*ret = strdup(prefix)) ? 0 : -ENOMEM;
        int width = count >= 1000 ? 4 : count >= 100 ? 3 : 2;
        return asprintf(ret, "%s%0*u", prefix, width, k + 1) < 0 ? -ENOMEM : 0;
}

static int build_cluster(Sim *s) {
        const Scenario *sc = s->sc;
        size_t nh = 0, nv = 0;
        int r;

        for (size_t i = 0; i < sc->n_hosts; i++)
                nh += sc->hosts[i].count;
        for (size_t i = 0; i < sc->n_vms; i++)
                nv += sc->vms[i].count;
        s->hosts = calloc(nh ?: 1, sizeof(SimHost));
        s->configs = calloc(nh ?: 1, sizeof(DrsHostConfig));
        s->vms = calloc(nv ?: 1, sizeof(SimVm));
        s->vm_index = calloc(nv ?: 1, sizeof(VmIndex));
        if (!s->hosts || !s->configs || !s->vms || !s->vm_index)
                return -ENOMEM;
        for (size_t i = 0; i < sc->n_hosts; i++) {
                const SimHostSpec *hs = &sc->hosts[i];
                for (unsigned k = 0; k < hs->count; k++) {
                        SimHost *h = &s->hosts[s->n_hosts];
                        r = expand_name(hs->name, hs->count, k, &h->name);
                        if (r < 0)
                                return r;
                        h->cpus = hs->cpus;
                        h->memory_mib = hs->memory_mib;
                        h->powered = !hs->standby;
                        s->configs[s->n_hosts].name = h->name;
                        s->configs[s->n_hosts].power = hs->power;
                        r = strv_copy(hs->groups, &s->configs[s->n_hosts].groups);
                        if (r < 0)
                                return r;
                        s->n_hosts++;
                        if (host_find(s, h->name) != (int) s->n_hosts - 1)
                                return -EEXIST;
                        if (hs->standby) {
                                r = state_set(
                                        s->state, h->name, HOST_MODE_STANDBY, "scenario", realtime_usec(s));
                                if (r < 0)
                                        return r;
                        }
                }
        }

        /* VMs: a named host, else round robin over powered hosts where the configured memory fits. */
        double *fill = calloc(s->n_hosts, sizeof(double));
        size_t rr = 0;
        if (!fill)
                return -ENOMEM;
        for (size_t i = 0; i < sc->n_vms; i++) {
                const SimVmSpec *vs = &sc->vms[i];
                for (unsigned k = 0; k < vs->count; k++) {
                        SimVm *v = &s->vms[s->n_vms];
                        r = expand_name(vs->name, vs->count, k, &v->name);
                        if (r < 0) {
                                free(fill);
                                return r;
                        }
                        v->spec = vs;
                        v->key = s->n_vms + 1;
                        v->vcpus = vs->vcpus;
                        v->memory_mib = vs->memory_mib;
                        v->job = -1;
                        v->last_from = -1;
                        v->host = -1;
                        if (vs->host)
                                v->host = host_find(s, vs->host);
                        if (v->host < 0 || !s->hosts[v->host].powered) {
                                int best = -1;
                                for (size_t t = 0; t < s->n_hosts; t++) {
                                        size_t h = (rr + t) % s->n_hosts;
                                        if (!s->hosts[h].powered)
                                                continue;
                                        if (fill[h] + (double) v->memory_mib <= mem_limit(s, h)) {
                                                best = (int) h;
                                                break;
                                        }
                                        if (best < 0 || fill[h] < fill[best])
                                                best = (int) h;
                                }
                                if (best < 0) {
                                        free(fill);
                                        return -ENOSPC; /* no powered host */
                                }
                                v->host = best;
                                rr = (size_t) best + 1;
                        }
                        fill[v->host] += (double) v->memory_mib;
                        s->vm_index[s->n_vms] = (VmIndex){.name = v->name, .index = s->n_vms};
                        s->n_vms++;
                }
        }
        free(fill);
        qsort(s->vm_index, s->n_vms, sizeof(VmIndex), vm_index_cmp);
        for (size_t i = 1; i < s->n_vms; i++)
                if (streq(s->vm_index[i].name, s->vm_index[i - 1].name))
                        return -EEXIST;
        for (size_t i = 0; i < s->sc->n_trace; i++) {
                int v = vm_find(s, s->sc->trace[i].vm);
                if (v >= 0)
                        s->vms[v].traced = true;
        }
        return 0;
}

/* The hard rules, compiled by the solver's model on the initial placement: which VMs each rule
 * holds and where each VM may run. The checks themselves are the simulator's. */
static int build_rule_model(Sim *s) {
        _cleanup_(problem_freep) Problem *p = NULL;
        int r = problem_new(&p);
        if (r < 0)
                return r;
        policy_free(p->policy);
        p->policy = NULL;
        r = policy_copy(s->sc->policy, &p->policy);
        if (r < 0)
                return r;
        p->hosts = calloc(s->n_hosts ?: 1, sizeof(SolverHost));
        p->vms = calloc(s->n_vms ?: 1, sizeof(SolverVm));
        if (!p->hosts || !p->vms)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_hosts; i++) {
                SolverHost *h = &p->hosts[p->n_hosts++];
                h->name = strdup(s->hosts[i].name);
                h->cpus = s->hosts[i].cpus;
                h->memory_mib = s->hosts[i].memory_mib;
                if (!h->name || strv_copy(s->configs[i].groups, &h->groups) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_vms; i++) {
                SolverVm *v = &p->vms[p->n_vms++];
                v->name = strdup(s->vms[i].name);
                v->host = s->vms[i].host;
                v->vcpus = s->vms[i].vcpus;
                v->memory_mib = s->vms[i].memory_mib;
                v->last_moved_s = -1;
                if (!v->name || strv_copy(s->vms[i].spec->groups, &v->groups) < 0)
                        return -ENOMEM;
        }
        r = model_build(p, &s->model);
        if (r < 0)
                return r;
        s->rule_problem = TAKE_PTR(p);
        s->rule_bad = calloc(s->model->n_vm_rules ?: 1, sizeof(bool));
        s->rule_moved = calloc(s->model->n_vm_rules ?: 1, sizeof(bool));
        return s->rule_bad && s->rule_moved ? 0 : -ENOMEM;
}

/* ---- demand ---------------------------------------------------------------------------------- */

static double
load_at(const Sim *s, const SimVm *v, const SimLoad *l, uint64_t t_s, uint64_t sample, uint64_t salt) {
        double x = l->base;
        switch (l->pattern) {
        case SIM_PATTERN_DIURNAL: {
                double minute = (double) (t_s % 86400) / 60.0;
                double phase = 2.0 * M_PI * (minute - (double) l->peak_minute) / 1440.0;
                x = l->base + (l->peak - l->base) * 0.5 * (1.0 + cos(phase));
                break;
        }
        case SIM_PATTERN_BURSTY: {
                uint64_t slot = t_s / (l->burst_s ?: 600);
                if (hash01(s->sc->seed ^ salt, v->key, slot + 0x5151) < l->burst_probability)
                        x = l->peak;
                break;
        }
        case SIM_PATTERN_GROWING:
                x = l->base + (l->peak - l->base) * (double) t_s / (double) (s->sc->duration_s ?: 1);
                break;
        default:
                break;
        }
        if (l->noise > 0)
                x *= 1.0 + l->noise * (2.0 * hash01(s->sc->seed ^ salt, v->key, sample) - 1.0);
        return x < 0 ? 0 : x > 1 ? 1 : x;
}

static void update_demand(Sim *s, uint64_t dt_usec) {
        uint64_t t_s = elapsed_s(s), k = s->res->samples;

        while (s->trace_pos < s->sc->n_trace && s->sc->trace[s->trace_pos].t_s <= t_s) {
                const SimTracePoint *tp = &s->sc->trace[s->trace_pos++];
                int v = vm_find(s, tp->vm);
                if (v < 0)
                        continue;
                s->vms[v].trace_cpu = tp->cpu_cores;
                s->vms[v].trace_mem = tp->memory_mib;
        }
        for (size_t i = 0; i < s->n_vms; i++) {
                SimVm *v = &s->vms[i];
                v->cpu_time_ns += (uint64_t) (v->cpu * (double) dt_usec * 1000.0);
                if (v->traced) {
                        v->cpu = v->trace_cpu < v->vcpus ? v->trace_cpu : v->vcpus;
                        v->mem = (double) (v->trace_mem < v->memory_mib ? v->trace_mem : v->memory_mib);
                } else {
                        v->cpu = load_at(s, v, &v->spec->cpu, t_s, k, 0xC0) * v->vcpus;
                        v->mem = load_at(s, v, &v->spec->memory, t_s, k, 0x3E) * (double) v->memory_mib;
                }
        }
}

/* ---- samples: what libvirt would report --------------------------------------------------- */

static bool host_answers(const SimHost *h) {
        return h->powered && !h->booting && !h->dead;
}

/* Scenario.quorum: the votes present (hosts that answer: corosync runs where libvirt does) and
 * the majority of every host's vote that votequorum needs. */
static unsigned votes_present(const Sim *s) {
        unsigned n = 0;
        for (size_t h = 0; h < s->n_hosts; h++)
                n += host_answers(&s->hosts[h]);
        return n;
}

static unsigned votes_needed(const Sim *s) {
        return (unsigned) s->n_hosts / 2 + 1;
}

static bool quorate(const Sim *s) {
        return !s->sc->quorum || votes_present(s) >= votes_needed(s);
}

static int feed_host(Sim *s, size_t h, HvDomainStats *doms) {
        SimHost *host = &s->hosts[h];
        size_t n = 0;
        double used_kib = 2.0 * 1024 * 1024; /* the host's own */

        for (size_t i = 0; i < s->n_vms; i++) {
                const SimVm *v = &s->vms[i];
                if (v->host != (int) h)
                        continue;
                uint64_t mem_kib = v->memory_mib * 1024, dem_kib = (uint64_t) (v->mem * 1024.0);
                doms[n++] = (HvDomainStats){
                        .name = v->name,
                        .running = true,
                        .vcpus = v->vcpus,
                        .memory_kib = mem_kib,
                        .cpu_time_ns = v->cpu_time_ns,
                        .have_balloon = true,
                        .balloon_current_kib = mem_kib,
                        .balloon_rss_kib = dem_kib,
                        .balloon_available_kib = mem_kib,
                        .balloon_unused_kib = mem_kib > dem_kib ? mem_kib - dem_kib : 0,
                        .balloon_usable_kib = mem_kib > dem_kib ? mem_kib - dem_kib : 0,
                        .migrating = v->job >= 0 && s->jobs[v->job].src == (int) h,
                };
                used_kib += (double) dem_kib;
        }
        for (size_t j = 0; j < s->n_live; j++) {
                const SimJob *jb = &s->jobs[s->live[j]];
                if (jb->state == JOB_RUNNING && jb->dst == (int) h)
                        used_kib += (double) jb->memory_mib * 1024.0;
        }
        double total_kib = (double) host->memory_mib * 1024.0;
        HvHostStats st = {
                .t_usec = s->now,
                .cpus = host->cpus,
                .memory_kib = host->memory_mib * 1024,
                .free_kib = used_kib < total_kib ? (uint64_t) (total_kib - used_kib) : 0,
                .domains = doms,
                .n_domains = n,
        };
        return collector_feed(s->collector, host->name, &st); /* copies what it keeps */
}

/* ---- the leader: drsd's pass (agent/leader/pass.c) on the simulated cluster -------------------- */

static LeaderNow leader_now(const Sim *s) {
        return (LeaderNow){.mono_usec = s->now, .real_usec = realtime_usec(s)};
}

static void job_done(Sim *s, size_t job, MigrationResult result);

/* The agent's executor: migrations queued to a host that stops being a valid target are
 * cancelled (skipped). */
static void cancel_queued_to(Sim *s, size_t h) {
        void *d;
        while (admission_take_queued(&s->admission, NULL, s->hosts[h].name, &d))
                job_done(s, (size_t) (uintptr_t) d, MIGRATION_SKIPPED);
}

/* A host's mode: the pass's orders and drsctl's (events). */
static int set_mode(Sim *s, size_t h, HostMode mode, const char *why) {
        int r = state_set(s->state, s->hosts[h].name, mode, why, realtime_usec(s));
        if (r > 0 && mode != HOST_MODE_UP)
                cancel_queued_to(s, h);
        if (mode == HOST_MODE_MAINTENANCE)
                for (size_t i = 0; i < s->res->n_maintenance; i++) {
                        SimMaintenance *m = &s->res->maintenance[i];
                        if (streq(m->host, s->hosts[h].name) && m->done_s < 0)
                                m->done_s = (int64_t) (elapsed_s(s));
                }
        return r;
}

static PowerOp *power_find(Sim *s, size_t h) {
        for (size_t i = 0; i < s->n_power; i++)
                if (s->power[i].host == h)
                        return &s->power[i];
        return NULL;
}

static void power_remove(Sim *s, PowerOp *op) {
        size_t i = (size_t) (op - s->power);
        memmove(&s->power[i], &s->power[i + 1], (s->n_power - i - 1) * sizeof(PowerOp));
        s->n_power--;
}

/* LeaderPassOps over the simulated cluster. */

static const HostReport *op_report(void *u, const char *host) {
        const Sim *s = u;
        return collector_get(s->collector, host);
}

static bool op_stale(void *u, const char *host, uint64_t now_mono) {
        const Sim *s = u;
        return collector_host_is_stale(s->collector, host, now_mono);
}

static HostMode op_mode(void *u, const char *host) {
        const Sim *s = u;
        return state_get(s->state, host);
}

static unsigned op_in_flight(void *u) {
        const Sim *s = u;
        return admission_n_running(&s->admission, NULL, NULL) + admission_n_queued(&s->admission);
}

static bool op_vm_busy(void *u, const char *vm) {
        const Sim *s = u;
        return admission_vm_busy(&s->admission, vm);
}

static const char *op_vm_target(void *u, const char *vm) {
        const Sim *s = u;
        return admission_vm_target(&s->admission, vm);
}

/* SimOptions.moves: what each balance or DPM move was planned on, until it is measured. */
static void note_plan(Sim *s, const Problem *p, const Plan *plan) {
        size_t up = 0;
        _cleanup_free_ double *ucpu = calloc(p->n_hosts ?: 1, sizeof(double));
        if (!ucpu)
                return;
        for (size_t h = 0; h < p->n_hosts; h++) {
                up += p->hosts[h].state == HOST_UP;
                ucpu[h] = 0;
        }
        for (size_t v = 0; v < p->n_vms; v++)
                if (p->vms[v].host >= 0)
                        ucpu[p->vms[v].host] += p->vms[v].cpu_demand / p->hosts[p->vms[v].host].cpus;
        for (size_t i = 0; i < plan->n_moves; i++) {
                const PlanMove *pm = &plan->moves[i];
                if ((pm->reason != REASON_BALANCE && pm->reason != REASON_DPM) || !(pm->gain > 0))
                        continue;
                int v = vm_find(s, p->vms[pm->vm].name);
                if (v < 0)
                        continue;
                bool swap = false;
                for (size_t k = 0; k < plan->n_moves; k++)
                        swap = swap ||
                               (k != i && plan->moves[k].from == pm->to && plan->moves[k].to == pm->from);
                SimVm *sv = &s->vms[v];
                sv->planned.set = true;
                sv->planned.t_s = elapsed_s(s);
                snprintf(sv->planned.solver, sizeof(sv->planned.solver), "%s", plan->solver ?: "?");
                sv->planned.gain = pm->gain;
                sv->planned.min_gain = p->policy->balance.min_gain / (double) (up ?: 1);
                sv->planned.demand = p->vms[pm->vm].cpu_demand;
                sv->planned.stable = p->vms[pm->vm].has_cpu_demand_stable ? p->vms[pm->vm].cpu_demand_stable
                                                                          : p->vms[pm->vm].cpu_demand;
                sv->planned.truth = sv->cpu;
                sv->planned.src_u = ucpu[pm->from];
                sv->planned.dst_u = ucpu[pm->to];
                sv->planned.plan_imbalance = plan->before.cpu_imbalance;
                sv->planned.swap = swap;
                sv->planned.plan_moves = (unsigned) plan->n_moves;
                sv->planned.realized[0] = sv->planned.realized[1] = sv->planned.realized[2] = NAN;
        }
}

static int op_solve(void *u, const Problem *p, Plan **ret) {
        Sim *s = u;
        SolverOptions opts = {
                .time_limit_s = 1e9, /* no wall-clock limit: deterministic effort only */
                .greedy_only = s->sc->greedy_only,
                .effort = s->sc->effort,
        };
        int r = solver_plan(p, &opts, ret);
        if (r >= 0 && s->moves)
                note_plan(s, p, *ret);
        return r;
}

static int op_set_mode(void *u, const char *host, HostMode mode, const char *reason) {
        Sim *s = u;
        int h = host_find(s, host);
        return h < 0 ? -ENXIO : set_mode(s, (size_t) h, mode, reason);
}

/* The order to the source's agent: queued in its executor (the term goes with it). */
static int op_start_migration(void *u, const Problem *p, const PlanMove *mv, const char *reason) {
        Sim *s = u;
        int v = vm_find(s, p->vms[mv->vm].name);
        int src = host_find(s, p->hosts[mv->from].name), dst = host_find(s, p->hosts[mv->to].name);
        int r;

        if (v < 0 || src < 0 || dst < 0)
                return -ENXIO;
        if (!quorate(s))
                return -ENOTCONN; /* a leader without quorum orders nothing */
        if (s->n_jobs == s->n_alloc_jobs) {
                size_t n = s->n_alloc_jobs ? s->n_alloc_jobs * 2 : 256;
                SimJob *l = reallocarray(s->jobs, n, sizeof(SimJob));
                size_t *lv = reallocarray(s->live, n, sizeof(size_t));
                if (l)
                        s->jobs = l;
                if (lv)
                        s->live = lv;
                if (!l || !lv)
                        return -ENOMEM;
                s->n_alloc_jobs = n;
        }
        r = admission_submit(
                &s->admission, s->vms[v].name, s->hosts[src].name, s->hosts[dst].name,
                (void *) (uintptr_t) s->n_jobs);
        if (r < 0)
                return r;
        s->jobs[s->n_jobs] = (SimJob){
                .state = JOB_QUEUED,
                .vm = (size_t) v,
                .src = src,
                .dst = dst,
                .reason = mv->reason,
                .term = s->term,
                .memory_mib = s->vms[v].memory_mib,
        };
        s->live[s->n_live++] = s->n_jobs++;
        return 0;
}

static void op_cancel_queued_to(void *u, const char *host, const char *why) {
        Sim *s = u;
        int h = host_find(s, host);
        if (h >= 0)
                cancel_queued_to(s, (size_t) h);
}

/* The power command starts; power_step() tells the pass when it ends. */
static int op_power_command(void *u, const char *host, PowerAction a) {
        Sim *s = u;
        int h = host_find(s, host);
        if (h < 0)
                return -ENOENT;
        if (power_find(s, (size_t) h))
                return -EBUSY;
        if (a == POWER_STANDBY && s->sc->quorum) {
                /* Invariant: what stays powered keeps quorum with tolerate_failures hosts down. */
                unsigned left = votes_present(s);
                for (size_t i = 0; i < s->n_power; i++)
                        left -= s->power[i].action == POWER_STANDBY &&
                                host_answers(&s->hosts[s->power[i].host]);
                left -= host_answers(&s->hosts[h]);
                if (left < votes_needed(s) + s->sc->policy->dpm.tolerate_failures)
                        violation(
                                s,
                                "DPM powers off %s leaving %u votes powered (quorum %u, tolerate_failures %u)",
                                host, left, votes_needed(s), s->sc->policy->dpm.tolerate_failures);
        }
        PowerOp *l = reallocarray(s->power, s->n_power + 1, sizeof(PowerOp));
        if (!l)
                return -ENOMEM;
        s->power = l;
        bool fail = in_window(s, SIM_EVENT_FAIL_POWER, host) || rand01(s) < s->sc->power_fail_rate;
        if (fail)
                s->res->faults_power_failed++;
        s->power[s->n_power++] = (PowerOp){
                .host = (size_t) h,
                .action = a,
                .fail = fail,
                .started_usec = s->now,
                .done_usec = s->now + (a == POWER_ON ? s->sc->power_on_s : s->sc->power_off_s) * USEC,
        };
        return 0;
}

static void op_power_forget(void *u, const char *host) {
        Sim *s = u;
        int h = host_find(s, host);
        PowerOp *op = h >= 0 ? power_find(s, (size_t) h) : NULL;
        if (op)
                power_remove(s, op);
}

/* Scenario.quorum: one vote per host that answers, every host expected. */
static void op_quorum(void *u, LeaderHost *hosts, size_t n_hosts, ProblemQuorum *ret) {
        const Sim *s = u;
        if (!s->sc->quorum)
                return;
        for (size_t h = 0; h < n_hosts && h < s->n_hosts; h++)
                hosts[h].votes = host_answers(&s->hosts[h]);
        *ret = (ProblemQuorum){.enabled = true, .quorum = votes_needed(s), .total_votes = votes_present(s)};
}

static void op_request_pass(void *u, const char *why) {
        Sim *s = u;
        s->pass_requested = true;
}

/* The power actions' results, as drsd records them. */
static void op_record(void *u, int level, LeaderRecordKind kind, const HistoryEvent *e) {
        Sim *s = u;
        bool completed = streq_ptr(e->result, "completed"), failed = streq_ptr(e->result, "failed");

        if (kind == LEADER_RECORD_BENEFIT && s->moves && e->vm && e->has_gain) {
                int v = vm_find(s, e->vm);
                SimVm *sv = v >= 0 ? &s->vms[v] : NULL;
                if (sv && sv->planned.set) {
                        unsigned k = e->after_s <= 60 ? 0 : e->after_s <= 300 ? 1 : 2;
                        sv->planned.realized[k] = e->realized_gain;
                        if (streq_ptr(e->result, "final")) {
                                fprintf(s->moves,
                                        "%" PRIu64
                                        ",%s,%s,%s,%s,%s,%u,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n",
                                        sv->planned.t_s, e->vm, e->source ?: "", e->target ?: "",
                                        e->reason ?: "", sv->planned.solver, sv->planned.plan_moves,
                                        sv->planned.swap, e->predicted_gain, sv->planned.min_gain,
                                        sv->planned.realized[0], sv->planned.realized[1], e->realized_gain,
                                        sv->planned.demand, sv->planned.stable, sv->planned.truth,
                                        sv->planned.src_u, sv->planned.dst_u, sv->planned.plan_imbalance);
                                sv->planned.set = false;
                        }
                }
        }
        if (kind == LEADER_RECORD_BENEFIT) {
                if (streq_ptr(e->result, "superseded"))
                        s->res->benefit_superseded++;
                else if (streq_ptr(e->result, "final")) {
                        s->res->benefit_measured++;
                        s->res->benefit_predicted += e->predicted_gain;
                        s->res->benefit_realized += e->realized_gain;
                        s->res->benefit_worse += e->realized_gain < 0;
                        s->res->benefit_little +=
                                e->realized_gain >= 0 && e->realized_gain < 0.1 * e->predicted_gain;
                }
        } else if (kind == LEADER_RECORD_POWER_STANDBY) {
                s->res->standby_ok += completed;
                s->res->standby_failed += failed;
        } else if (kind == LEADER_RECORD_POWER_ON) {
                s->res->power_on_ok += completed;
                s->res->power_on_failed += failed;
        }
}

static const LeaderPassOps sim_pass_ops = {
        .report = op_report,
        .stale = op_stale,
        .mode = op_mode,
        .in_flight = op_in_flight,
        .vm_busy = op_vm_busy,
        .vm_target = op_vm_target,
        .quorum = op_quorum,
        .solve = op_solve,
        .set_mode = op_set_mode,
        .start_migration = op_start_migration,
        .cancel_queued_to = op_cancel_queued_to,
        .power_command = op_power_command,
        .power_forget = op_power_forget,
        .request_pass = op_request_pass,
        .record = op_record,
};

static void dispatch(Sim *s);

static int pass(Sim *s) {
        if (!quorate(s)) {
                /* No majority: the partition's drsds elect no leader; nothing is decided. */
                s->res->passes_without_quorum++;
                return 0;
        }
        s->res->passes++;
        s->passed_once = true;
        int r = leader_pass_run(s->lp, leader_now(s));
        dispatch(s);
        return r;
}

/* ---- the executor: migrations the admission rule started ---------------------------------- */

static void record_history(Sim *s, const SimJob *jb) {
        HistoryEvent *l = reallocarray(s->history, s->n_history + 1, sizeof(HistoryEvent));
        if (!l)
                return;
        s->history = l;
        s->history[s->n_history++] = (HistoryEvent){
                .time_usec = realtime_usec(s),
                .type = (char *) "migration",
                .vm = s->vms[jb->vm].name,
                .result = (char *) "completed",
        };
}

static void live_remove(Sim *s, size_t job) {
        for (size_t j = 0; j < s->n_live; j++)
                if (s->live[j] == job) {
                        memmove(&s->live[j], &s->live[j + 1], (s->n_live - j - 1) * sizeof(size_t));
                        s->n_live--;
                        return;
                }
}

static void evac_count(Sim *s, const SimJob *jb) {
        for (size_t i = 0; i < s->res->n_maintenance && i < s->n_evac; i++) {
                SimMaintenance *m = &s->res->maintenance[i];
                if (m->done_s >= 0 || !streq(m->host, s->hosts[jb->src].name) || !s->evac_to[i])
                        continue;
                unsigned n = ++s->evac_to[i][jb->dst];
                if (n > m->max_to_one)
                        m->max_to_one = n;
        }
}

static void job_done(Sim *s, size_t job, MigrationResult result) {
        SimJob *jb = &s->jobs[job];
        SimVm *v = &s->vms[jb->vm];
        SimResult *r = s->res;
        bool ok = result == MIGRATION_OK;

        jb->state = JOB_DONE;
        jb->ok = result == MIGRATION_OK;
        jb->done_usec = s->now;
        live_remove(s, job);
        (void) admission_finish(&s->admission, (void *) (uintptr_t) job);
        if (v->job == (int) job)
                v->job = -1;
        switch (result) {
        case MIGRATION_OK: {
                uint64_t cooldown = s->sc->policy->balance.cooldown_s * USEC;
                r->migrations_ok++;
                if (v->last_move_usec > 0 && s->now - v->last_move_usec < cooldown) {
                        r->moved_twice_within_cooldown++;
                        if (jb->reason == REASON_BALANCE && v->last_reason == REASON_BALANCE)
                                r->balance_moved_twice_within_cooldown++;
                        if (v->last_from == jb->dst)
                                r->returns++;
                }
                v->host = jb->dst;
                v->cpu_time_ns = 0; /* a new QEMU process */
                v->n_moves++;
                v->last_move_usec = s->now;
                v->last_from = jb->src;
                v->last_reason = jb->reason;
                if (s->model)
                        for (size_t *k = s->model->rules_of_vm[jb->vm]; k && *k != SIZE_MAX; k++)
                                s->rule_moved[*k] = true;
                (void) move_log_set(&s->lp->moves, v->name, realtime_usec(s));
                leader_pass_moved(
                        s->lp, v->name, s->hosts[jb->src].name, s->hosts[jb->dst].name, leader_now(s));
                record_history(s, jb);
                evac_count(s, jb);
                break;
        }
        case MIGRATION_SKIPPED:
                r->migrations_skipped++;
                break;
        case MIGRATION_ABORTED:
                r->migrations_aborted++;
                (void) move_log_set(&s->lp->moves, v->name, realtime_usec(s));
                break;
        default:
                r->migrations_failed++;
                (void) move_log_set(&s->lp->moves, v->name, realtime_usec(s));
                break;
        }
        r->stall_steps += jb->stall_steps;
        leader_pass_move_done(s->lp, v->name, ok, leader_now(s));
        dispatch(s);
}

static void attempt_start(Sim *s, SimJob *jb, size_t step) {
        const MigrationPolicy *mp = &s->sc->policy->migration;
        jb->attempt++;
        jb->attempt_usec = s->now;
        jb->setup_end_usec = s->now + s->sc->setup_ms * 1000;
        jb->last_update_usec = jb->setup_end_usec;
        jb->total = (double) jb->memory_mib * 1048576.0;
        jb->remaining = jb->total;
        jb->processed = 0;
        jb->max_downtime_ms = 300; /* QEMU's default until the watcher sets one */
        migration_watch_init(
                &jb->watch, mp->max_downtime_ms, mp->n_max_downtime_ms, step,
                mp->auto_converge && jb->attempt == 1, s->now, jb->timeout_usec);
        jb->next_poll_usec = s->now + migration_watch_poll_interval(&jb->watch, POLL_USEC);
}

/* The invariants of starting a migration: checked independently of how the leader chose it. */
static void check_start(Sim *s, const SimJob *jb) {
        const LimitsPolicy *l = &s->sc->policy->limits;
        const SimVm *v = &s->vms[jb->vm];
        unsigned nc = 0, no = 0, ni = 0;
        double cfg = 0;

        if (jb->term != s->term)
                violation(
                        s, "order of term %" PRIu64 " executed in term %" PRIu64 " ('%s')", jb->term,
                        s->term, v->name);
        if (v->job >= 0)
                violation(s, "two migrations of '%s' at once", v->name);
        for (size_t j = 0; j < s->n_live; j++) {
                const SimJob *o = &s->jobs[s->live[j]];
                if (o->state != JOB_RUNNING)
                        continue;
                nc++;
                no += o->src == jb->src;
                ni += o->dst == jb->dst;
        }
        if (nc > (l->migrations_per_cluster ?: 1) || no > (l->migrations_out_per_host ?: 1) ||
            ni > (l->migrations_in_per_host ?: 1))
                violation(
                        s,
                        "migration limits exceeded starting '%s': %u in the cluster, %u out of '%s', %u into '%s'",
                        v->name, nc, no, s->hosts[jb->src].name, ni, s->hosts[jb->dst].name);
        HostMode m = mode_of(s, (size_t) jb->dst);
        bool draining = strv_contains(s->lp->draining, s->hosts[jb->dst].name);
        if (m != HOST_MODE_UP || draining)
                violation(
                        s, "'%s' sent to '%s' in mode %s%s", v->name, s->hosts[jb->dst].name,
                        host_mode_to_string(m), draining ? " (draining)" : "");
        for (size_t i = 0; i < s->n_vms; i++)
                if (s->vms[i].host == jb->dst)
                        cfg += (double) s->vms[i].memory_mib;
        for (size_t j = 0; j < s->n_live; j++) {
                const SimJob *o = &s->jobs[s->live[j]];
                if (o->state == JOB_RUNNING && o->dst == jb->dst)
                        cfg += (double) o->memory_mib; /* this job included */
        }
        if (cfg > mem_limit(s, (size_t) jb->dst) + 1e-6)
                violation(
                        s,
                        "'%s' to '%s' overfills it: %.0f MiB configured (with incoming) > %.0f MiB allowed",
                        v->name, s->hosts[jb->dst].name, cfg, mem_limit(s, (size_t) jb->dst));
        if (s->model && !model_allowed(s->model, jb->vm, (size_t) jb->dst))
                violation(
                        s, "'%s' moved to '%s' against a hard VM-host rule", v->name,
                        s->hosts[jb->dst].name);
}

static void job_start(Sim *s, size_t job) {
        SimJob *jb = &s->jobs[job];
        SimVm *v = &s->vms[jb->vm];
        const SimHost *dst = &s->hosts[jb->dst];
        const MigrationPolicy *mp = &s->sc->policy->migration;

        if (jb->term != s->term) {
                /* The agent refuses an order of an older term (cluster mode's rule). */
                s->res->stale_orders_refused++;
                job_done(s, job, MIGRATION_SKIPPED);
                return;
        }
        /* Precheck: the target answers and has the memory free (free ≥ the VM's size). */
        if (!host_answers(dst) || !host_answers(&s->hosts[jb->src]) || v->host != jb->src) {
                job_done(s, job, MIGRATION_SKIPPED);
                return;
        }
        double used = 2048;
        for (size_t i = 0; i < s->n_vms; i++)
                if (s->vms[i].host == jb->dst)
                        used += s->vms[i].mem;
        for (size_t j = 0; j < s->n_live; j++) {
                const SimJob *o = &s->jobs[s->live[j]];
                if (o->state == JOB_RUNNING && o->dst == jb->dst)
                        used += (double) o->memory_mib;
        }
        if ((double) dst->memory_mib - used < (double) jb->memory_mib) {
                job_done(s, job, MIGRATION_SKIPPED);
                return;
        }
        jb->state = JOB_RUNNING;
        check_start(s, jb);
        v->job = (int) job;
        jb->started_usec = s->now;
        uint64_t gib =
                (uint64_t) ceil((double) jb->memory_mib / 1024.0 * (double) mp->timeout_s_per_gib * 1e6);
        jb->timeout_usec = gib > MIN_TIMEOUT_USEC ? gib : MIN_TIMEOUT_USEC;
        attempt_start(s, jb, 0);
        s->res->migrations_started++;
        if (jb->reason < ELEMENTSOF(s->res->migrations_by_reason))
                s->res->migrations_by_reason[jb->reason]++;
        s->migrations_since_point++;
        if (jb->reason == REASON_BALANCE) {
                bool idle = true;
                for (size_t h = 0; h < s->n_hosts && idle; h++)
                        if (mode_of(s, h) == HOST_MODE_UP && host_answers(&s->hosts[h]))
                                idle = s->hosts[h].cpu_util < IDLE_CPU;
                s->res->idle_balance_moves += idle;
        }
        /* Faults decided at the start. */
        double bw = (double) s->sc->link_mib_s * 1048576.0;
        if (in_window(s, SIM_EVENT_FAIL_MIGRATIONS, dst->name) || rand01(s) < s->sc->migration_fail_rate)
                jb->fail_at_usec = jb->setup_end_usec + (uint64_t) (rand01(s) * jb->total / bw * 1e6);
}

/* The agents' executors: what the admission rule (agent/leader/admission.c) lets start. */
static void dispatch(Sim *s) {
        void *d;
        while (admission_next(&s->admission, &d))
                job_start(s, (size_t) (uintptr_t) d);
}

static double migration_bw(const Sim *s) {
        double bw = (double) s->sc->link_mib_s;
        uint64_t cap = s->sc->policy->migration.bandwidth_mib_s;
        if (cap > 0 && (double) cap < bw)
                bw = (double) cap;
        return bw * 1048576.0;
}

/* One job-stats poll of a running migration: progress since the last one, then what libvirt
 * and the watcher do. */
static void job_poll(Sim *s, size_t job) {
        SimJob *jb = &s->jobs[job];
        SimVm *v = &s->vms[jb->vm];
        double bw = migration_bw(s);
        HvJobInfo ji = {.type = HV_JOB_RUNNING, .time_elapsed_ms = (s->now - jb->attempt_usec) / 1000};

        if (jb->fail_at_usec > 0 && s->now >= jb->fail_at_usec) {
                s->res->faults_migration_failed++;
                job_done(s, job, MIGRATION_FAILED);
                return;
        }
        if (s->now > jb->setup_end_usec) {
                double dt = (double) (s->now - jb->last_update_usec) / 1e6;
                double dirty = v->spec->dirty_mib_s * 1048576.0;
                if (in_window(s, SIM_EVENT_STALL_MIGRATIONS, NULL)) {
                        if (dirty < STALL_DIRTY_FACTOR * bw)
                                dirty = STALL_DIRTY_FACTOR * bw;
                        if (!jb->stalled_counted) {
                                jb->stalled_counted = true;
                                s->res->faults_stalled++;
                        }
                }
                if (jb->auto_converge) {
                        dirty *= 1.0 - jb->throttle;
                        jb->throttle = jb->throttle + 0.1 < 0.99 ? jb->throttle + 0.1 : 0.99;
                }
                double sent = bw * dt;
                jb->processed += sent;
                jb->remaining -= sent;
                if (jb->remaining < 0)
                        jb->remaining = 0;
                double re = dirty * dt;
                jb->remaining = jb->remaining + re > jb->total ? jb->total : jb->remaining + re;
                jb->last_update_usec = s->now;
                /* Switch-over when the rest fits in the max downtime. */
                if (jb->remaining <= bw * (double) jb->max_downtime_ms / 1000.0) {
                        job_done(s, job, MIGRATION_OK);
                        return;
                }
                ji.memory_total_bytes = (uint64_t) jb->total;
                ji.memory_remaining_bytes = (uint64_t) jb->remaining;
                ji.memory_processed_bytes = (uint64_t) jb->processed;
                ji.memory_page_size = 4096;
                ji.memory_bps = (uint64_t) bw;
                ji.memory_dirty_rate_pps = (uint64_t) (dirty / 4096.0);
                ji.memory_iteration = 1 + (uint64_t) (jb->processed / jb->total);
        }

        /* The watcher (agent/leader/migration-watch.c). */
        if (migration_watch_expired(&jb->watch, s->now)) {
                job_done(s, job, MIGRATION_ABORTED);
                return;
        }
        uint64_t set_ms, value_ms;
        MigrationWatchAction a = migration_watch_poll(&jb->watch, &ji, &set_ms, &value_ms);
        if (set_ms > 0)
                jb->max_downtime_ms = set_ms;
        switch (a) {
        case MIGRATION_WATCH_RAISE_DOWNTIME:
                jb->max_downtime_ms = value_ms;
                break;
        case MIGRATION_WATCH_RETRY: {
                const MigrationPolicy *mp = &s->sc->policy->migration;
                jb->stall_steps += jb->watch.stall_steps;
                s->res->retries++;
                jb->auto_converge = true;
                jb->throttle = 0.2;
                attempt_start(s, jb, mp->n_max_downtime_ms > 0 ? mp->n_max_downtime_ms - 1 : 0);
                return;
        }
        case MIGRATION_WATCH_ABORT_STALL:
        case MIGRATION_WATCH_ABORT_TIMEOUT:
                jb->stall_steps += jb->watch.stall_steps;
                job_done(s, job, MIGRATION_ABORTED);
                return;
        default:
                break;
        }
        jb->next_poll_usec = s->now + migration_watch_poll_interval(&jb->watch, POLL_USEC);
}

/* ---- power ---------------------------------------------------------------------------------- */

/* Power commands ending (the pass decides what it means), and power-ons given up. */
static void power_step(Sim *s) {
        for (size_t i = 0; i < s->n_power; i++) {
                PowerOp *op = &s->power[i];
                SimHost *h = &s->hosts[op->host];
                if (op->ended || s->now < op->done_usec)
                        continue;
                op->ended = true;
                bool ok = !op->fail;
                if (op->action == POWER_STANDBY && ok) {
                        h->powered = false;
                        for (size_t v = 0; v < s->n_vms; v++)
                                if (s->vms[v].host == (int) op->host)
                                        violation(
                                                s, "'%s' was running on '%s' when it was powered off",
                                                s->vms[v].name, h->name);
                } else if (op->action == POWER_ON && ok && !h->dead && !h->powered) {
                        h->powered = true;
                        h->booting = true;
                        h->boot_done_usec = s->now + s->sc->boot_s * USEC;
                }
                /* May forget (remove) this op or others: start over (bounded: each ends once). */
                (void) leader_pass_power_done(s->lp, h->name, ok, NULL, 0, leader_now(s));
                i = (size_t) -1;
        }
        leader_pass_power_expire(s->lp, leader_now(s));
}

/* ---- events ----------------------------------------------------------------------------------- */

static void leader_change(Sim *s) {
        /* A new leader: the plan in flight is dropped (its queued orders carry the old term and
         * are refused by the agents), the cooldowns come from the history, the reports and host
         * modes are what every agent holds. */
        void *d;

        s->term++;
        s->res->faults_leader_changes++;
        leader_pass_drop_plan(s->lp);
        s->lp->stale_hosts = strv_free(s->lp->stale_hosts);
        move_log_done(&s->lp->moves);
        (void) move_log_load(&s->lp->moves, s->history, s->n_history);
        while (admission_take_queued(&s->admission, NULL, NULL, &d)) {
                /* The agent refuses an order of an older term (cluster mode's rule). */
                s->res->stale_orders_refused++;
                job_done(s, (size_t) (uintptr_t) d, MIGRATION_SKIPPED);
        }
        s->pass_requested = true;
        dispatch(s);
}

static void kill_host(Sim *s, size_t h) {
        SimHost *host = &s->hosts[h];
        if (host->dead)
                return;
        host->dead = true;
        host->was_powered = host->powered;
        host->powered = false;
        host->booting = false;
        s->res->faults_host_killed++;
        for (size_t j = 0; j < s->n_live;) {
                size_t job = s->live[j];
                const SimJob *jb = &s->jobs[job];
                if (jb->state == JOB_RUNNING && (jb->src == (int) h || jb->dst == (int) h)) {
                        s->res->faults_migration_failed++;
                        job_done(s, job, MIGRATION_FAILED);
                        j = 0;
                        continue;
                }
                j++;
        }
}

static void apply_event(Sim *s, const SimEvent *e) {
        int h = e->host ? host_find(s, e->host) : -1;

        switch (e->type) {
        case SIM_EVENT_EVACUATE:
                if (h < 0 || mode_of(s, (size_t) h) != HOST_MODE_UP)
                        break;
                (void) set_mode(s, (size_t) h, HOST_MODE_ENTERING_MAINTENANCE, "drsctl evacuate");
                SimMaintenance *l =
                        reallocarray(s->res->maintenance, s->res->n_maintenance + 1, sizeof(SimMaintenance));
                unsigned **t = reallocarray(s->evac_to, s->n_evac + 1, sizeof(unsigned *));
                if (t) {
                        s->evac_to = t;
                        s->evac_to[s->n_evac++] = calloc(s->n_hosts, sizeof(unsigned));
                }
                if (l && t) {
                        unsigned n = 0;
                        for (size_t v = 0; v < s->n_vms; v++)
                                n += s->vms[v].host == h;
                        s->res->maintenance = l;
                        s->res->maintenance[s->res->n_maintenance++] = (SimMaintenance){
                                .host = strdup(e->host), .start_s = elapsed_s(s), .done_s = -1, .n_vms = n};
                }
                s->pass_requested = true;
                break;
        case SIM_EVENT_EXIT_MAINTENANCE:
                if (h < 0)
                        break;
                if (mode_of(s, (size_t) h) != HOST_MODE_STANDBY && mode_of(s, (size_t) h) != HOST_MODE_UP)
                        (void) set_mode(s, (size_t) h, HOST_MODE_UP, "drsctl exit-maintenance");
                s->pass_requested = true;
                break;
        case SIM_EVENT_KILL_HOST:
                if (h >= 0)
                        kill_host(s, (size_t) h);
                break;
        case SIM_EVENT_REVIVE_HOST:
                if (h >= 0 && s->hosts[h].dead) {
                        s->hosts[h].dead = false;
                        if (!s->hosts[h].was_powered)
                                break; /* it was off (standby): it stays off */
                        s->hosts[h].powered = true;
                        s->hosts[h].booting = true;
                        s->hosts[h].boot_done_usec = s->now + s->sc->boot_s * USEC;
                        for (size_t v = 0; v < s->n_vms; v++)
                                if (s->vms[v].host == h)
                                        s->vms[v].cpu_time_ns = 0;
                }
                break;
        case SIM_EVENT_LEADER_CHANGE:
                leader_change(s);
                break;
        default: /* windows: looked up when needed */
                break;
        }
        if (e->until_s > e->at_s)
                mark(s, "%s %s%s",
                     e->type == SIM_EVENT_FAIL_MIGRATIONS    ? "fail migrations"
                     : e->type == SIM_EVENT_STALL_MIGRATIONS ? "stall migrations"
                                                             : "fail power",
                     e->host ? "" : "(all)", e->host ?: "");
        else
                mark(s, "%s%s%s",
                     (const char *[]){
                             "evacuate", "exit-maintenance", "kill", "revive", "", "", "",
                             "leader change"}[e->type],
                     e->host ? " " : "", e->host ?: "");
}

/* ---- invariants every step ---------------------------------------------------------------- */

static void check_step(Sim *s) {
        size_t n = 0;
        for (size_t i = 0; i < s->n_vms; i++) {
                const SimVm *v = &s->vms[i];
                if (v->host < 0 || (size_t) v->host >= s->n_hosts) {
                        violation(s, "'%s' is on no host", v->name);
                        continue;
                }
                n++;
                const SimHost *h = &s->hosts[v->host];
                if (!h->powered && !h->dead)
                        violation(s, "'%s' is on '%s', which is powered off", v->name, h->name);
                if (mode_of(s, (size_t) v->host) == HOST_MODE_MAINTENANCE)
                        violation(s, "'%s' is on '%s', which is in maintenance", v->name, h->name);
                if (v->job >= 0 && (s->jobs[v->job].state != JOB_RUNNING || s->jobs[v->job].vm != i))
                        violation(s, "'%s' has a stale migration", v->name);
        }
        if (n != s->n_vms)
                violation(s, "%zu VMs placed, %zu exist", n, s->n_vms);

        /* Hard VM–VM rules, when nothing moves: broken now, not before, and a member moved. */
        if (!s->model || s->lp->run || s->n_live > 0)
                return;
        for (size_t k = 0; k < s->model->n_vm_rules; k++) {
                const ModelVmRule *rule = &s->model->vm_rules[k];
                bool bad = false;
                if (!rule->hard || rule->n_vms < 2)
                        continue;
                for (size_t a = 0; a < rule->n_vms && !bad; a++)
                        for (size_t b = a + 1; b < rule->n_vms && !bad; b++) {
                                bool same = s->vms[rule->vms[a]].host == s->vms[rule->vms[b]].host;
                                bad = rule->type == RULE_KEEP_APART ? same : !same;
                        }
                if (bad && !s->rule_bad[k] && s->rule_moved[k])
                        violation(
                                s, "hard rule '%s' broken by drs moves",
                                s->sc->policy->rules[rule->rule].name);
                s->rule_bad[k] = bad;
                s->rule_moved[k] = false;
        }
}

/* ---- statistics per sample ---------------------------------------------------------------- */

static int push_imbalance(Sim *s, double c, double m) {
        if (s->n_imb == s->n_alloc_imb) {
                size_t n = s->n_alloc_imb ? s->n_alloc_imb * 2 : 1024;
                double *a = reallocarray(s->imb_cpu, n, sizeof(double));
                if (a)
                        s->imb_cpu = a;
                double *b = reallocarray(s->imb_mem, n, sizeof(double));
                if (b)
                        s->imb_mem = b;
                if (!a || !b)
                        return -ENOMEM;
                s->n_alloc_imb = n;
        }
        s->imb_cpu[s->n_imb] = c;
        s->imb_mem[s->n_imb++] = m;
        return 0;
}

static void sample_stats(Sim *s) {
        SimResult *r = s->res;
        double sc = 0, sc2 = 0, sm = 0, sm2 = 0;
        size_t n = 0;

        for (size_t h = 0; h < s->n_hosts; h++) {
                s->hosts[h].cpu_util = s->hosts[h].mem_util = 0;
                s->hosts[h].n_vms = 0;
        }
        for (size_t i = 0; i < s->n_vms; i++) {
                SimHost *h = &s->hosts[s->vms[i].host];
                h->cpu_util += s->vms[i].cpu;
                h->mem_util += s->vms[i].mem;
                h->n_vms++;
        }
        for (size_t h = 0; h < s->n_hosts; h++) {
                SimHost *host = &s->hosts[h];
                host->cpu_util /= host->cpus;
                host->mem_util /= (double) host->memory_mib;
                if (mode_of(s, h) != HOST_MODE_UP || !host_answers(host))
                        continue;
                n++;
                sc += host->cpu_util;
                sc2 += host->cpu_util * host->cpu_util;
                sm += host->mem_util;
                sm2 += host->mem_util * host->mem_util;
                if (s->passed_once && host->cpu_util > r->max_cpu_utilization)
                        r->max_cpu_utilization = host->cpu_util;
                if (host->mem_util > r->max_memory_utilization)
                        r->max_memory_utilization = host->mem_util;
        }
        if (n > 0 && s->passed_once) {
                double mc = sc / (double) n, mm = sm / (double) n;
                double vc = sc2 / (double) n - mc * mc, vm = sm2 / (double) n - mm * mm;
                (void) push_imbalance(s, sqrt(vc > 0 ? vc : 0), sqrt(vm > 0 ? vm : 0));
        }

        if (s->keep_series) {
                uint64_t every = s->sc->duration_s / s->sc->interval_s / SERIES_MAX_POINTS + 1;
                if (r->samples % every == 0) {
                        SimSeriesPoint *l = reallocarray(r->series, r->n_series + 1, sizeof(SimSeriesPoint));
                        if (!l)
                                return;
                        r->series = l;
                        SimSeriesPoint *p = &r->series[r->n_series];
                        *p = (SimSeriesPoint){.t_s = elapsed_s(s), .migrations = s->migrations_since_point};
                        p->cpu = calloc(s->n_hosts, sizeof(float));
                        p->mem = calloc(s->n_hosts, sizeof(float));
                        if (!p->cpu || !p->mem) {
                                free(p->cpu);
                                free(p->mem);
                                return;
                        }
                        r->n_series++;
                        s->migrations_since_point = 0;
                        for (size_t h = 0; h < s->n_hosts; h++) {
                                bool on = s->hosts[h].powered && !s->hosts[h].dead;
                                p->hosts_on += on;
                                p->cpu[h] = on ? (float) s->hosts[h].cpu_util : -1.0f;
                                p->mem[h] = on ? (float) s->hosts[h].mem_util : -1.0f;
                        }
                }
        }
}

static int dbl_cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static SimStats stats_of(double *v, size_t n) {
        if (n == 0)
                return (SimStats){};
        qsort(v, n, sizeof(double), dbl_cmp);
        return (SimStats){.min = v[0], .median = v[n / 2], .max = v[n - 1]};
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void sample(Sim *s, HvDomainStats *doms) {
        uint64_t dt = s->res->samples > 0 ? s->sc->interval_s * USEC : 0;
        update_demand(s, dt);
        for (size_t h = 0; h < s->n_hosts; h++)
                if (host_answers(&s->hosts[h]))
                        (void) feed_host(s, h, doms);
        s->res->samples++;
        /* Power-ons waiting for a report, and stale hosts (as drsd's on_sample, per host). */
        for (size_t h = 0; h < s->n_hosts; h++)
                if (host_answers(&s->hosts[h]))
                        leader_pass_host_reported(s->lp, s->hosts[h].name, leader_now(s));
        leader_pass_check_stale(s->lp, leader_now(s));
        leader_pass_power_expire(s->lp, leader_now(s));
        sample_stats(s);
        for (size_t h = 0; s->series && h < s->n_hosts; h++) {
                const SimHost *sh = &s->hosts[h];
                bool on = sh->powered && !sh->dead;
                fprintf(s->series, "%" PRIu64 ",%s,%s,%.3f,%u,%.1f\n", elapsed_s(s), sh->name,
                        !on           ? "0"
                        : sh->booting ? "b"
                                      : "1",
                        on ? sh->cpu_util * sh->cpus : 0.0, sh->cpus,
                        on ? power_model_watts(&s->configs[h].power, sh->booting ? 1.0 : sh->cpu_util)
                           : 0.0);
        }
}

static void sim_free(Sim *s) {
        for (size_t i = 0; i < s->n_hosts; i++) {
                free(s->hosts[i].name);
                strv_free(s->configs[i].groups);
        }
        free(s->hosts);
        free(s->configs);
        for (size_t i = 0; i < s->n_vms; i++)
                free(s->vms[i].name);
        free(s->vms);
        free(s->vm_index);
        free(s->jobs);
        free(s->live);
        admission_done(&s->admission);
        free(s->power);
        collector_free(s->collector);
        state_free(s->state);
        leader_pass_free(s->lp);
        free(s->history);
        model_free(s->model);
        problem_free(s->rule_problem);
        for (size_t i = 0; i < s->n_evac; i++)
                free(s->evac_to[i]);
        free(s->evac_to);
        free(s->rule_bad);
        free(s->rule_moved);
        free(s->imb_cpu);
        free(s->imb_mem);
}

static void check_expectations(const Scenario *sc, SimResult *r) {
        const SimExpect *e = &sc->expect;
        uint64_t migrations = r->migrations_ok;
        char buf[200];
#define FAIL(...)                                                                                           \
        do {                                                                                                \
                (void) snprintf(buf, sizeof(buf), __VA_ARGS__);                                             \
                (void) strv_extend(&r->expect_failures, buf);                                               \
        } while (0)

        if (e->max_migrations >= 0 && migrations > (uint64_t) e->max_migrations)
                FAIL("migrations: %" PRIu64 " > %" PRId64, migrations, e->max_migrations);
        if (e->min_migrations >= 0 && migrations < (uint64_t) e->min_migrations)
                FAIL("migrations: %" PRIu64 " < %" PRId64, migrations, e->min_migrations);
        if (e->max_moved_twice_within_cooldown >= 0 &&
            r->moved_twice_within_cooldown > (uint64_t) e->max_moved_twice_within_cooldown)
                FAIL("moved twice within the cooldown: %" PRIu64 " > %" PRId64,
                     r->moved_twice_within_cooldown, e->max_moved_twice_within_cooldown);
        if (e->max_returns >= 0 && r->returns > (uint64_t) e->max_returns)
                FAIL("returns: %" PRIu64 " > %" PRId64, r->returns, e->max_returns);
        if (e->max_idle_balance_moves >= 0 && r->idle_balance_moves > (uint64_t) e->max_idle_balance_moves)
                FAIL("balance moves while idle: %" PRIu64 " > %" PRId64, r->idle_balance_moves,
                     e->max_idle_balance_moves);
        if (e->max_memory_utilization >= 0 && r->max_memory_utilization > e->max_memory_utilization)
                FAIL("max memory utilization %.3f > %.3f", r->max_memory_utilization,
                     e->max_memory_utilization);
        if (e->max_cpu_utilization >= 0 && r->max_cpu_utilization > e->max_cpu_utilization)
                FAIL("max CPU utilization %.3f > %.3f", r->max_cpu_utilization, e->max_cpu_utilization);
        if (e->max_final_cpu_imbalance >= 0 && r->final_cpu_imbalance > e->max_final_cpu_imbalance)
                FAIL("final CPU imbalance %.4f > %.4f", r->final_cpu_imbalance, e->max_final_cpu_imbalance);
        if (e->max_power_actions >= 0) {
                uint64_t n = r->standby_ok + r->standby_failed + r->power_on_ok + r->power_on_failed;
                if (n > (uint64_t) e->max_power_actions)
                        FAIL("power actions: %" PRIu64 " > %" PRId64, n, e->max_power_actions);
        }
        if (e->min_power_ons >= 0 && r->power_on_ok < (uint64_t) e->min_power_ons)
                FAIL("power-ons: %" PRIu64 " < %" PRId64, r->power_on_ok, e->min_power_ons);
        if (e->min_passes_without_quorum >= 0 &&
            r->passes_without_quorum < (uint64_t) e->min_passes_without_quorum)
                FAIL("passes without quorum: %" PRIu64 " < %" PRId64, r->passes_without_quorum,
                     e->min_passes_without_quorum);
        if (e->max_passes_without_quorum >= 0 &&
            r->passes_without_quorum > (uint64_t) e->max_passes_without_quorum)
                FAIL("passes without quorum: %" PRIu64 " > %" PRId64, r->passes_without_quorum,
                     e->max_passes_without_quorum);
        if (e->min_dpm_savings >= 0) {
                double sav =
                        r->host_hours_always_on > 0 ? 1.0 - r->host_hours_on / r->host_hours_always_on : 0;
                if (sav < e->min_dpm_savings)
                        FAIL("DPM savings %.3f < %.3f", sav, e->min_dpm_savings);
        }
        for (size_t i = 0; i < r->n_maintenance; i++) {
                const SimMaintenance *m = &r->maintenance[i];
                if (e->max_maintenance_s >= 0 &&
                    (m->done_s < 0 || m->done_s - (int64_t) m->start_s > e->max_maintenance_s))
                        FAIL("evacuation of '%s' not done within %" PRId64 " s", m->host,
                             e->max_maintenance_s);
                if (e->max_evacuation_share >= 0 && m->n_vms > 0 &&
                    (double) m->max_to_one / m->n_vms > e->max_evacuation_share)
                        FAIL("evacuation of '%s': %u of %u VMs to one host", m->host, m->max_to_one,
                             m->n_vms);
        }
#undef FAIL
}

int sim_run(const Scenario *sc, const SimOptions *opts, SimResult **ret) {
        _cleanup_(sim_result_freep) SimResult *r = calloc(1, sizeof(SimResult));
        Sim s = {
                .sc = sc,
                .res = r,
                .keep_series = opts && opts->keep_series,
                .series = opts ? opts->series : NULL,
                .moves = opts ? opts->moves : NULL,
                .term = 1};
        if (s.series)
                fputs("time_s,host,powered,cpu_demand,cpu_capacity,watts\n", s.series);
        HvDomainStats *doms = NULL;
        uint64_t end, last_now;
        int k;

        if (!r)
                return -ENOMEM;
        s.rng = sc->seed ^ UINT64_C(0x5deece66d);
        r->seed = sc->seed;
        r->duration_s = sc->duration_s;
        if (!(r->name = strdup(sc->name ?: "scenario")))
                return -ENOMEM;
        k = state_parse("{\"version\":1,\"hosts\":{}}", 24, &s.state, NULL);
        if (k < 0)
                goto out;
        k = build_cluster(&s);
        if (k < 0)
                goto out;
        k = build_rule_model(&s);
        if (k < 0)
                goto out;
        k = collector_new(
                COLLECTOR_EWMA_ALPHA, COLLECTOR_PEAK_WINDOW, LEADER_STALE_INTERVALS * sc->interval_s * USEC,
                &s.collector);
        if (k < 0)
                goto out;
        k = leader_pass_new(&sim_pass_ops, &s, &s.lp);
        if (k < 0)
                goto out;
        leader_pass_configure(s.lp, sc->policy, s.configs, s.n_hosts, sc->interval_s);
        admission_set_limits(&s.admission, &sc->policy->limits);
        doms = calloc(s.n_vms ?: 1, sizeof(HvDomainStats));
        if (!doms) {
                k = -ENOMEM;
                goto out;
        }
        r->n_hosts = s.n_hosts;
        r->n_vms = s.n_vms;
        for (size_t h = 0; h < s.n_hosts; h++)
                if (strv_extend(&r->host_names, s.hosts[h].name) < 0) {
                        k = -ENOMEM;
                        goto out;
                }

        s.now = last_now = T0;
        end = T0 + sc->duration_s * USEC;
        s.next_sample = T0;
        /* The first pass once two samples give rates (drsd: the pass timer's first tick). */
        s.next_pass = T0 + 2 * sc->interval_s * USEC;
        for (;;) {
                r->steps++;
                r->host_hours_always_on += (double) s.n_hosts * (double) (s.now - last_now) / 3.6e9;
                for (size_t h = 0; h < s.n_hosts; h++) {
                        const SimHost *sh = &s.hosts[h];
                        double dt_h = (double) (s.now - last_now) / 3.6e9;
                        if (!sh->powered || sh->dead)
                                continue;
                        r->host_hours_on += dt_h;
                        r->energy_j +=
                                power_model_watts(&s.configs[h].power, sh->booting ? 1.0 : sh->cpu_util) *
                                dt_h * 3600.0;
                        if (!host_answers(sh))
                                continue;
                        r->host_hours_serving += dt_h;
                        if (sh->cpu_util >= 1.0)
                                r->host_hours_overloaded += dt_h;
                }
                last_now = s.now;

                while (s.event_next < sc->n_events && (T0 + sc->events[s.event_next].at_s * USEC) <= s.now)
                        apply_event(&s, &sc->events[s.event_next++]);
                for (size_t h = 0; h < s.n_hosts; h++)
                        if (s.hosts[h].booting && s.now >= s.hosts[h].boot_done_usec)
                                s.hosts[h].booting = false;
                for (size_t j = 0; j < s.n_live; j++) {
                        size_t job = s.live[j];
                        if (s.jobs[job].state == JOB_RUNNING && s.jobs[job].next_poll_usec <= s.now) {
                                job_poll(&s, job);
                                j = (size_t) -1; /* the list changed: rescan (each job polls once per time)
                                                  */
                        }
                }
                power_step(&s);
                if (s.now >= s.next_sample) {
                        sample(&s, doms);
                        s.next_sample += sc->interval_s * USEC;
                }
                if (s.now >= s.next_pass || (s.pass_requested && s.res->samples >= 2)) {
                        s.pass_requested = false;
                        k = pass(&s);
                        if (k < 0)
                                goto out;
                        if (s.now >= s.next_pass)
                                s.next_pass += sc->policy->balance.interval_s * USEC;
                }
                dispatch(&s);
                check_step(&s);
                if (s.now >= end)
                        break;

                /* The next thing that happens. */
                uint64_t next = s.next_sample < s.next_pass ? s.next_sample : s.next_pass;
                if (s.pass_requested && s.res->samples >= 2)
                        next = s.now;
                for (size_t j = 0; j < s.n_live; j++)
                        if (s.jobs[s.live[j]].state == JOB_RUNNING &&
                            s.jobs[s.live[j]].next_poll_usec < next)
                                next = s.jobs[s.live[j]].next_poll_usec;
                for (size_t i = 0; i < s.n_power; i++)
                        if (!s.power[i].ended && s.power[i].done_usec < next)
                                next = s.power[i].done_usec;
                for (size_t i = 0; i < s.lp->n_power; i++) {
                        const LeaderPowerOp *op = &s.lp->power[i];
                        uint64_t t = op->started_usec + op->wait_s * USEC;
                        if (op->action == POWER_ON && t < next)
                                next = t;
                }
                for (size_t h = 0; h < s.n_hosts; h++)
                        if (s.hosts[h].booting && s.hosts[h].boot_done_usec < next)
                                next = s.hosts[h].boot_done_usec;
                if (s.event_next < sc->n_events && (T0 + sc->events[s.event_next].at_s * USEC) < next)
                        next = (T0 + sc->events[s.event_next].at_s * USEC);
                if (next > end)
                        next = end;
                if (next <= s.now) {
                        if (s.pass_requested)
                                continue; /* a pass requested by this step runs at the same time */
                        next = s.now + 1;
                }
                s.now = next;
        }

        r->cpu_imbalance = stats_of(s.imb_cpu, s.n_imb);
        r->memory_imbalance = stats_of(s.imb_mem, s.n_imb);
        {
                /* The last sample's values (imb arrays were sorted by stats_of: recompute). */
                double sc1 = 0, sc2 = 0, sm1 = 0, sm2 = 0;
                size_t n = 0;
                for (size_t h = 0; h < s.n_hosts; h++) {
                        if (mode_of(&s, h) != HOST_MODE_UP || !host_answers(&s.hosts[h]))
                                continue;
                        n++;
                        sc1 += s.hosts[h].cpu_util;
                        sc2 += s.hosts[h].cpu_util * s.hosts[h].cpu_util;
                        sm1 += s.hosts[h].mem_util;
                        sm2 += s.hosts[h].mem_util * s.hosts[h].mem_util;
                }
                if (n > 0) {
                        double vc = sc2 / n - (sc1 / n) * (sc1 / n), vm = sm2 / n - (sm1 / n) * (sm1 / n);
                        r->final_cpu_imbalance = sqrt(vc > 0 ? vc : 0);
                        r->final_memory_imbalance = sqrt(vm > 0 ? vm : 0);
                }
        }
        for (size_t i = 0; i < s.n_vms; i++) {
                r->vms_moved += s.vms[i].n_moves > 0;
                if (s.vms[i].n_moves > r->max_moves_one_vm)
                        r->max_moves_one_vm = s.vms[i].n_moves;
        }
        r->plans_started = s.lp->n_runs;
        r->plans_replaced = s.lp->n_replaced;
        check_expectations(sc, r);
        *ret = TAKE_PTR(r);
        k = 0;
out:
        free(doms);
        sim_free(&s);
        return k;
}

SimResult *sim_result_free(SimResult *r) {
        if (!r)
                return NULL;
        free(r->name);
        strv_free(r->host_names);
        for (size_t i = 0; i < r->n_maintenance; i++)
                free(r->maintenance[i].host);
        free(r->maintenance);
        for (size_t i = 0; i < r->n_violations_kept; i++)
                free(r->violations[i].label);
        strv_free(r->expect_failures);
        for (size_t i = 0; i < r->n_series; i++) {
                free(r->series[i].cpu);
                free(r->series[i].mem);
        }
        free(r->series);
        for (size_t i = 0; i < r->n_marks; i++)
                free(r->marks[i].label);
        free(r->marks);
        free(r);
        return NULL;
}

bool sim_result_ok(const SimResult *r) {
        return r->n_violations == 0 && strv_length(r->expect_failures) == 0;
}
