/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The leader pass's pure parts: Problem building, automation at a time, plan runs. */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "leader.h"
#include "macro.h"
#include "tz.h"

#define USEC_PER_SEC 1000000ULL

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

/* ---- MoveLog ------------------------------------------------------------------------------ */

void move_log_done(MoveLog *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i].vm);
        free(l->entries);
        *l = (MoveLog){};
}

static MoveLogEntry *move_log_find(const MoveLog *l, const char *vm) {
        for (size_t i = 0; l && i < l->n; i++)
                if (streq(l->entries[i].vm, vm))
                        return &l->entries[i];
        return NULL;
}

int move_log_set(MoveLog *l, const char *vm, uint64_t time_usec) {
        MoveLogEntry *e = move_log_find(l, vm);
        if (e) {
                if (time_usec > e->time_usec)
                        e->time_usec = time_usec;
                return 0;
        }
        _cleanup_free_ char *copy = strdup(vm);
        if (!copy)
                return -ENOMEM;
        MoveLogEntry *n = reallocarray(l->entries, l->n + 1, sizeof(MoveLogEntry));
        if (!n)
                return -ENOMEM;
        l->entries = n;
        l->entries[l->n++] = (MoveLogEntry){.vm = TAKE_PTR(copy), .time_usec = time_usec};
        return 0;
}

uint64_t move_log_get(const MoveLog *l, const char *vm) {
        const MoveLogEntry *e = move_log_find(l, vm);
        return e ? e->time_usec : 0;
}

int move_log_load(MoveLog *l, const HistoryEvent *events, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const HistoryEvent *e = &events[i];
                if (!streq_ptr(e->type, "migration") || !streq_ptr(e->result, "completed") || !e->vm)
                        continue;
                int k = move_log_set(l, e->vm, e->time_usec);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* ---- adopted migrations ----------------------------------------------------------------- */

static void adopted_done(AdoptedMigration *a) {
        free(a->vm);
        free(a->source);
}

void adopt_tracker_done(AdoptTracker *t) {
        for (size_t i = 0; i < t->n; i++)
                adopted_done(&t->entries[i]);
        free(t->entries);
        *t = (AdoptTracker){};
}

void adopt_outcomes_free(AdoptOutcome *o, size_t n) {
        for (size_t i = 0; o && i < n; i++) {
                free(o[i].vm);
                free(o[i].source);
                free(o[i].target);
        }
        free(o);
}

bool adopt_tracker_has(const AdoptTracker *t, const char *vm) {
        for (size_t i = 0; i < t->n; i++)
                if (streq(t->entries[i].vm, vm))
                        return true;
        return false;
}

static const VmReport *report_find_vm(const HostReport *r, const char *vm) {
        for (size_t i = 0; i < r->n_vms; i++)
                if (streq(r->vms[i].name, vm))
                        return &r->vms[i];
        return NULL;
}

int adopt_tracker_feed(
        AdoptTracker *t, const HostReport *r, bool (*own)(const char *vm, void *userdata), void *userdata,
        uint64_t now_usec, AdoptOutcome **ret, size_t *ret_n) {
        AdoptOutcome *out = NULL;
        size_t n_out = 0;
        int k = -ENOMEM;

        /* Resolve. */
        for (size_t i = 0; i < t->n;) {
                AdoptedMigration *a = &t->entries[i];
                const VmReport *vr = report_find_vm(r, a->vm);
                bool on_source = streq(r->name, a->source);

                if (!vr || (on_source && vr->migrating)) {
                        i++;
                        continue;
                }
                AdoptOutcome *n = reallocarray(out, n_out + 1, sizeof(AdoptOutcome));
                if (!n)
                        goto fail;
                out = n;
                out[n_out] = (AdoptOutcome){
                        .completed = !on_source,
                        .observed_ms = now_usec > a->since_usec ? (now_usec - a->since_usec) / 1000 : 0,
                };
                if (!on_source) {
                        out[n_out].target = strdup(r->name);
                        if (!out[n_out].target)
                                goto fail;
                }
                out[n_out].vm = TAKE_PTR(a->vm);
                out[n_out].source = TAKE_PTR(a->source);
                n_out++;
                t->entries[i] = t->entries[--t->n];
        }

        /* Adopt. */
        for (size_t i = 0; i < r->n_vms; i++) {
                const VmReport *vr = &r->vms[i];
                if (!vr->migrating || adopt_tracker_has(t, vr->name) || (own && own(vr->name, userdata)))
                        continue;
                AdoptedMigration *n = reallocarray(t->entries, t->n + 1, sizeof(AdoptedMigration));
                if (!n)
                        goto fail;
                t->entries = n;
                AdoptedMigration a = {
                        .vm = strdup(vr->name), .source = strdup(r->name), .since_usec = now_usec};
                if (!a.vm || !a.source) {
                        adopted_done(&a);
                        goto fail;
                }
                t->entries[t->n++] = a;
        }

        *ret = out;
        *ret_n = n_out;
        return 0;

fail:
        adopt_outcomes_free(out, n_out);
        return k;
}

/* ---- the Problem ----------------------------------------------------------------------- */

HostState leader_host_state(HostMode mode) {
        switch (mode) {
        case HOST_MODE_ENTERING_MAINTENANCE:
        case HOST_MODE_MAINTENANCE:
                return HOST_MAINTENANCE;
        case HOST_MODE_STANDBY:
        case HOST_MODE_POWER_ON_FAILED:
                return HOST_STANDBY;
        default:
                return HOST_UP;
        }
}

static int find_vm(const Problem *p, const char *name) {
        for (size_t i = 0; i < p->n_vms; i++)
                if (streq(p->vms[i].name, name))
                        return (int) i;
        return -1;
}

/* A migration of vm out of host h completed after the report of h was taken. */
static const LeaderMovedVm *
moved_from(const LeaderInput *in, const char *vm, size_t h, uint64_t report_usec) {
        for (size_t i = 0; in->moved && i < in->n_moved; i++) {
                const LeaderMovedVm *m = &in->moved[i];
                if (m->from == h && m->to < in->n_hosts && m->done_usec > report_usec && streq(m->vm, vm))
                        return m;
        }
        return NULL;
}

/* How much of vr's disks (on host self) the other hosts that report and are up cannot see. */
static int local_disk_mib(const LeaderInput *in, size_t self, const VmReport *vr, uint64_t *ret) {
        _cleanup_free_ const HvPool **others = calloc(in->n_hosts ?: 1, sizeof(HvPool *));
        _cleanup_free_ size_t *n_others = calloc(in->n_hosts ?: 1, sizeof(size_t));
        const HostReport *own = in->hosts[self].report;
        size_t n = 0;

        if (!others || !n_others)
                return -ENOMEM;
        for (size_t h = 0; h < in->n_hosts; h++) {
                const LeaderHost *lh = &in->hosts[h];
                if (h == self || !lh->report || lh->stale || leader_host_state(lh->mode) != HOST_UP)
                        continue;
                others[n] = lh->report->pools;
                n_others[n] = lh->report->n_pools;
                n++;
        }
        *ret = hv_local_disk_mib(vr->disks, vr->n_disks, own->pools, own->n_pools, others, n_others, n);
        return 0;
}

int leader_build_problem(const LeaderInput *in, Problem **ret) {
        _cleanup_(problem_freep) Problem *p = NULL;
        size_t n_vms = 0;
        int k;

        k = problem_new(&p);
        if (k < 0)
                return k;
        policy_free(p->policy);
        p->policy = NULL;
        k = policy_copy(in->policy, &p->policy);
        if (k < 0)
                return k;
        p->automation = in->automation;
        p->quorum = in->quorum;

        p->hosts = calloc(in->n_hosts ?: 1, sizeof(SolverHost));
        if (!p->hosts)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_hosts; i++) {
                const LeaderHost *lh = &in->hosts[i];
                SolverHost *sh = &p->hosts[p->n_hosts];

                sh->name = strdup(lh->config->name);
                if (!sh->name)
                        return -ENOMEM;
                p->n_hosts++;
                k = strv_copy(lh->config->groups, &sh->groups);
                if (k < 0)
                        return k;
                sh->state = leader_host_state(lh->mode);
                sh->votes = lh->votes;
                sh->power = lh->config->power;
                if (lh->draining ||
                    (in->force_maintenance && streq(in->force_maintenance, lh->config->name)))
                        sh->state = HOST_MAINTENANCE;
                sh->frozen = lh->mode == HOST_MODE_POWER_ON_FAILED ||
                             (lh->stale && sh->state != HOST_STANDBY) ||
                             (!lh->report && sh->state == HOST_UP);
                if (lh->report) {
                        sh->cpus = lh->report->cpus;
                        sh->memory_mib = lh->report->memory_mib;
                        n_vms += lh->report->n_vms;
                }
        }

        p->vms = calloc(n_vms ?: 1, sizeof(SolverVm));
        if (!p->vms)
                return -ENOMEM;
        for (size_t h = 0; h < in->n_hosts; h++) {
                const HostReport *r = in->hosts[h].report;
                if (!r)
                        continue;
                /* A standby host reports nothing true any more: its last report predates the
                 * power-off. */
                if (leader_host_state(in->hosts[h].mode) == HOST_STANDBY && in->hosts[h].stale)
                        continue;
                for (size_t j = 0; j < r->n_vms; j++) {
                        const VmReport *vr = &r->vms[j];
                        size_t host = h;
                        const LeaderMovedVm *mv = moved_from(in, vr->name, h, r->t_usec);
                        if (mv) {
                                const HostReport *tr = in->hosts[mv->to].report;
                                /* The target's report has it: added from there. */
                                if (tr && tr->t_usec >= mv->done_usec && report_find_vm(tr, vr->name))
                                        continue;
                                host = mv->to;
                        }
                        int dup = find_vm(p, vr->name);
                        if (dup >= 0) {
                                p->vms[dup].migrating = true;
                                continue;
                        }
                        SolverVm *v = &p->vms[p->n_vms];
                        v->name = strdup(vr->name);
                        if (!v->name)
                                return -ENOMEM;
                        p->n_vms++;
                        v->host = (int) host;
                        v->vcpus = vr->vcpus;
                        v->memory_mib = vr->memory_mib;
                        v->cpu_demand = vr->cpu_demand;
                        v->cpu_demand_stable = vr->cpu_demand_stable;
                        v->has_cpu_demand_stable = vr->has_cpu_demand_stable;
                        v->memory_demand_mib = vr->memory_demand_mib;
                        v->migrating = vr->migrating || (in->vm_busy && in->vm_busy(vr->name, in->userdata));
                        if (vr->n_disks > 0) {
                                k = local_disk_mib(in, h, vr, &v->local_disk_mib);
                                if (k < 0)
                                        return k;
                        }
                        uint64_t t = move_log_get(in->moves, vr->name);
                        if (t == 0)
                                v->last_moved_s = -1;
                        else
                                v->last_moved_s = t >= in->now_usec
                                                          ? 0
                                                          : (int64_t) ((in->now_usec - t) / USEC_PER_SEC);
                }
        }

        /* Migrations in flight hold memory on their targets until they arrive: a plan made
         * meanwhile (a new pass, a mandatory plan, a new leader) must not fill that room. The
         * target comes from this drsd's own job, else from the source's report; when neither
         * knows it (a migration this leader did not start, e.g. after a leader change or a
         * restart, and a report without migrating_to), the memory is held on every other host:
         * the randomized sweep's seed 351 overfilled a host that a VM was arriving at. */
        for (size_t i = 0; i < p->n_vms; i++) {
                const SolverVm *v = &p->vms[i];
                if (!v->migrating)
                        continue;
                const char *target = in->vm_target ? in->vm_target(v->name, in->userdata) : NULL;
                if (!target && v->host >= 0 && in->hosts[v->host].report) {
                        const HostReport *r = in->hosts[v->host].report;
                        for (size_t j = 0; j < r->n_vms && !target; j++)
                                if (streq(r->vms[j].name, v->name))
                                        target = r->vms[j].migrating_to;
                }
                if (!target) {
                        for (size_t h = 0; h < p->n_hosts; h++)
                                if ((int) h != v->host)
                                        p->hosts[h].incoming_mib += v->memory_mib;
                        continue;
                }
                for (size_t h = 0; h < p->n_hosts; h++)
                        if ((int) h != v->host && streq(p->hosts[h].name, target)) {
                                p->hosts[h].incoming_mib += v->memory_mib;
                                break;
                        }
        }

        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- automation at a time ---------------------------------------------------------------- */

static void weekday_minute(const struct tm *tm, unsigned *ret_weekday, unsigned *ret_minute) {
        /* struct tm: 0 = Sunday; the policy: 0 = Monday. */
        *ret_weekday = (unsigned) ((tm->tm_wday + 6) % 7);
        *ret_minute = (unsigned) (tm->tm_hour * 60 + tm->tm_min);
}

static bool zone_is_utc(const char *tz) {
        return !tz || streq(tz, "UTC") || streq(tz, "Etc/UTC") || streq(tz, "Z") || streq(tz, "GMT");
}

static bool zone_name_ok(const char *tz) {
        /* An IANA name: no leading '/', no "..", a file under /usr/share/zoneinfo. */
        if (tz[0] == '\0' || tz[0] == '/' || strstr(tz, ".."))
                return false;
        for (const char *c = tz; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                      strchr("/_-+", *c)))
                        return false;
        return true;
}

/* The zone's file read here, converted by tz.c: neither TZ nor the process's zone changes. */
static int local_time_in(const char *tz, time_t now, struct tm *ret) {
        _cleanup_(tz_zone_freep) TzZone *zone = NULL;
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        int k;

        if (!zone_name_ok(tz))
                return -EINVAL;
        if (asprintf(&path, "/usr/share/zoneinfo/%s", tz) < 0)
                return -ENOMEM;
        k = read_file_bounded(path, TZ_FILE_MAX, &data, &size);
        if (k < 0)
                return k == -ENOMEM ? k : -EINVAL;
        k = tz_zone_parse(data, size, &zone);
        if (k < 0)
                return k == -ENOMEM ? k : -EINVAL;
        return tz_zone_local_time(zone, now, ret) < 0 ? -EINVAL : 0;
}

int leader_automation_at(const Policy *p, time_t now, AutomationLevel *ret) {
        struct tm tm;
        unsigned weekday, minute;
        int k = 0;

        if (zone_is_utc(p->automation.timezone) || local_time_in(p->automation.timezone, now, &tm) < 0) {
                if (!zone_is_utc(p->automation.timezone))
                        k = -EINVAL;
                if (!gmtime_r(&now, &tm))
                        return -EINVAL;
        }
        weekday_minute(&tm, &weekday, &minute);
        *ret = policy_automation_at(p, weekday, minute);
        return k;
}

void leader_host_utilization(const HostReport *r, double *ret_cpu, double *ret_memory) {
        double cpu = 0, mem = 0;
        for (size_t i = 0; r && i < r->n_vms; i++) {
                cpu += r->vms[i].cpu_demand;
                mem += (double) r->vms[i].memory_demand_mib;
        }
        *ret_cpu = r && r->cpus > 0 ? cpu / r->cpus : 0;
        *ret_memory = r && r->memory_mib > 0 ? mem / (double) r->memory_mib : 0;
}

bool leader_plan_is_mandatory(const Plan *plan) {
        for (size_t i = 0; plan && i < plan->n_moves; i++)
                if (plan->moves[i].reason == REASON_MAINTENANCE || plan->moves[i].reason == REASON_RULE)
                        return true;
        return false;
}

/* ---- LeaderRun ------------------------------------------------------------------------------ */

int leader_run_new(Problem *problem, Plan *plan, bool include_recommended, uint64_t id, LeaderRun **ret) {
        _cleanup_(problem_freep) Problem *p = problem;
        _cleanup_(plan_freep) Plan *pl = plan;
        LeaderRun *r;

        r = calloc(1, sizeof(LeaderRun));
        if (!r)
                return -ENOMEM;
        r->moves = calloc(pl->n_moves ?: 1, sizeof(LeaderMoveState));
        if (!r->moves) {
                free(r);
                return -ENOMEM;
        }
        for (size_t i = 0; i < pl->n_moves; i++)
                if (pl->moves[i].wave > r->n_waves)
                        r->n_waves = pl->moves[i].wave;
        r->mandatory = leader_plan_is_mandatory(pl);
        r->include_recommended = include_recommended;
        r->id = id;
        r->problem = TAKE_PTR(p);
        r->plan = TAKE_PTR(pl);
        *ret = r;
        return 0;
}

LeaderRun *leader_run_free(LeaderRun *r) {
        if (!r)
                return NULL;
        plan_free(r->plan);
        problem_free(r->problem);
        free(r->moves);
        free(r);
        return NULL;
}

/* A move that did not happen (failed, refused, a recommendation not run) leaves its VM on its
 * source, but the plan's later waves assume it left: a move into that host in a later wave may
 * need the room it would have freed (memory, a keep-apart partner gone; in the same wave: a
 * swap of keep-apart partners). Such moves are skipped, transitively; the next pass plans again
 * from fresh reports. */
static void skip_dependent(LeaderRun *r) {
        bool changed = true;

        /* Bounded: each round skips at least one more move. */
        while (changed) {
                changed = false;
                for (size_t i = 0; i < r->plan->n_moves; i++) {
                        const PlanMove *mv = &r->plan->moves[i];
                        if (r->moves[i] != LEADER_MOVE_PENDING)
                                continue;
                        for (size_t j = 0; j < r->plan->n_moves; j++) {
                                const PlanMove *o = &r->plan->moves[j];
                                if ((r->moves[j] == LEADER_MOVE_FAILED ||
                                     r->moves[j] == LEADER_MOVE_SKIPPED) &&
                                    o->wave <= mv->wave && o->from == mv->to) {
                                        r->moves[i] = LEADER_MOVE_SKIPPED;
                                        changed = true;
                                        break;
                                }
                        }
                }
        }
}

int leader_run_advance(LeaderRun *r, LeaderSubmit submit, void *userdata) {
        /* Bounded: at most one iteration per wave. */
        while (r->n_running == 0 && r->wave < r->n_waves) {
                r->wave++;
                for (size_t i = 0; i < r->plan->n_moves; i++) {
                        const PlanMove *mv = &r->plan->moves[i];
                        if (mv->wave != r->wave || r->moves[i] != LEADER_MOVE_PENDING)
                                continue;
                        if (mv->recommendation && !r->include_recommended) {
                                r->moves[i] = LEADER_MOVE_SKIPPED;
                                skip_dependent(r);
                                continue;
                        }
                        if (submit(r->problem, mv, userdata) < 0) {
                                r->moves[i] = LEADER_MOVE_SKIPPED;
                                skip_dependent(r);
                                continue;
                        }
                        r->moves[i] = LEADER_MOVE_RUNNING;
                        r->n_running++;
                }
                skip_dependent(r);
        }
        return r->n_running > 0;
}

int leader_run_move_done(LeaderRun *r, const char *vm, bool success) {
        for (size_t i = 0; i < r->plan->n_moves; i++) {
                if (r->moves[i] != LEADER_MOVE_RUNNING ||
                    !streq(r->problem->vms[r->plan->moves[i].vm].name, vm))
                        continue;
                r->moves[i] = success ? LEADER_MOVE_DONE : LEADER_MOVE_FAILED;
                r->n_running--;
                if (success)
                        r->n_done++;
                else {
                        r->n_failed++;
                        skip_dependent(r);
                }
                return (int) i;
        }
        return -ENOENT;
}

bool leader_run_finished(const LeaderRun *r) {
        return r->n_running == 0 && r->wave >= r->n_waves;
}

size_t leader_run_n_left(const LeaderRun *r) {
        size_t n = 0;
        for (size_t i = 0; i < r->plan->n_moves; i++)
                n += r->moves[i] == LEADER_MOVE_PENDING || r->moves[i] == LEADER_MOVE_RUNNING;
        return n;
}

bool leader_run_wave_finished(const LeaderRun *r, unsigned wave) {
        for (size_t i = 0; i < r->plan->n_moves; i++)
                if (r->plan->moves[i].wave <= wave &&
                    (r->moves[i] == LEADER_MOVE_PENDING || r->moves[i] == LEADER_MOVE_RUNNING))
                        return false;
        return true;
}

/* ---- DPM hysteresis ---------------------------------------------------------------------- */

static bool dpm_held(uint64_t since, uint64_t delay_s, uint64_t now) {
        if (delay_s == 0)
                return false;
        return since == 0 || now < since || now - since < delay_s * USEC_PER_SEC;
}

void leader_demand_now(const Problem *p, double *ret_cpu, double *ret_memory_mib) {
        double cpu = 0, mem = 0;
        assert(p && ret_cpu && ret_memory_mib);
        for (size_t i = 0; i < p->n_vms; i++) {
                const SolverVm *v = &p->vms[i];
                if (v->host < 0)
                        continue;
                cpu += v->cpu_demand;
                mem += (double) v->memory_demand_mib;
        }
        *ret_cpu = cpu;
        *ret_memory_mib = mem;
}

void leader_dpm_sample(DpmHysteresis *h, uint64_t now_usec, double cpu, double memory_mib) {
        assert(h);
        now_usec = now_usec ?: 1;
        if (h->samples_from_usec == 0)
                h->samples_from_usec = now_usec;
        h->samples[h->next_sample] = (DpmSample){.t_usec = now_usec, .cpu = cpu, .memory_mib = memory_mib};
        h->next_sample = (h->next_sample + 1) % DPM_SAMPLES_MAX;
        if (h->n_samples < DPM_SAMPLES_MAX)
                h->n_samples++;
}

static int double_cmp(const void *x, const void *y) {
        double a = *(const double *) x, b = *(const double *) y;
        return a < b ? -1 : a > b;
}

/* The q-quantile (0.5..1) of v[0..n), n > 0: the smallest value with at least q·n values at or
 * below it (nearest rank). Sorts v. */
static double quantile(double *v, size_t n, double q) {
        qsort(v, n, sizeof(double), double_cmp);
        double rank = ceil(q * (double) n - 1e-9);
        size_t k = rank < 1 ? 0 : (size_t) rank - 1;
        return v[k < n ? k : n - 1];
}

void leader_dpm_hold(const DpmHysteresis *h, const Policy *policy, uint64_t now_usec, Problem *p) {
        double cpu[DPM_SAMPLES_MAX], mem[DPM_SAMPLES_MAX];
        uint64_t delay = policy->dpm.standby_delay_s * USEC_PER_SEC, oldest = UINT64_MAX;
        size_t n = 0;

        assert(h && policy && p);
        p->dpm_hold_power_on = dpm_held(h->above_since_usec, policy->dpm.power_on_delay_s, now_usec);

        /* The window: the newest sample always, the others within standby_delay of now. */
        for (size_t i = 0; i < h->n_samples; i++) {
                const DpmSample *s =
                        &h->samples[(h->next_sample + DPM_SAMPLES_MAX - 1 - i) % DPM_SAMPLES_MAX];
                if (i > 0 && (s->t_usec > now_usec || now_usec - s->t_usec > delay))
                        break;
                cpu[n] = s->cpu;
                mem[n] = s->memory_mib;
                oldest = s->t_usec;
                n++;
        }
        if (n == 0) {
                p->dpm_standby_demand = (ProblemDemand){};
                p->dpm_hold_standby = delay > 0;
                return;
        }
        p->dpm_standby_demand = (ProblemDemand){
                .set = true,
                .cpu = quantile(cpu, n, policy->dpm.standby_percentile),
                .memory_mib = quantile(mem, n, policy->dpm.standby_percentile),
                .samples = (unsigned) n,
                .window_s = now_usec > oldest ? (now_usec - oldest) / USEC_PER_SEC : 0,
        };
        /* Covered: measured for the whole delay since the first pass or the last power-on. */
        bool covered = h->n_samples == DPM_SAMPLES_MAX ||
                       (h->samples_from_usec > 0 && now_usec >= h->samples_from_usec &&
                        now_usec - h->samples_from_usec >= delay);
        p->dpm_hold_standby = delay > 0 && !covered;
}

void leader_dpm_note(DpmHysteresis *h, const Plan *plan, bool started, uint64_t now_usec) {
        assert(h && plan);
        now_usec = now_usec ?: 1;
        if (started && plan->n_power > 0) {
                bool power_on = false;
                for (size_t i = 0; i < plan->n_power; i++)
                        power_on |= plan->power[i].action == POWER_ON;
                h->above_since_usec = 0;
                if (power_on) {
                        /* A power-on ends any consolidation: standby waits for a full window of
                         * demand measured after it. */
                        h->below_since_usec = 0;
                        h->n_samples = h->next_sample = 0;
                        h->samples_from_usec = now_usec;
                } else if (!plan->dpm_wants_standby)
                        h->below_since_usec = 0;
                else if (h->below_since_usec == 0)
                        h->below_since_usec = now_usec;
                return;
        }
        if (!plan->dpm_wants_power_on)
                h->above_since_usec = 0;
        else if (h->above_since_usec == 0)
                h->above_since_usec = now_usec;
        if (!plan->dpm_wants_standby)
                h->below_since_usec = 0;
        else if (h->below_since_usec == 0)
                h->below_since_usec = now_usec;
}

bool leader_plans_same_actions(const Problem *pa, const Plan *a, const Problem *pb, const Plan *b) {
        if (a->n_moves != b->n_moves || a->n_power != b->n_power)
                return false;
        for (size_t i = 0; i < a->n_moves; i++) {
                const PlanMove *x = &a->moves[i], *y = &b->moves[i];
                if (!streq(pa->vms[x->vm].name, pb->vms[y->vm].name) ||
                    !streq(pa->hosts[x->from].name, pb->hosts[y->from].name) ||
                    !streq(pa->hosts[x->to].name, pb->hosts[y->to].name))
                        return false;
        }
        for (size_t i = 0; i < a->n_power; i++)
                if (a->power[i].action != b->power[i].action ||
                    !streq(pa->hosts[a->power[i].host].name, pb->hosts[b->power[i].host].name))
                        return false;
        return true;
}

bool leader_host_accepts(HostMode mode, bool draining) {
        return mode == HOST_MODE_UP && !draining;
}
