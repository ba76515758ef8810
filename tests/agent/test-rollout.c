/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rolling maintenance (agent/leader/rollout.c) on a fake cluster behind LeaderPassOps: hosts
 * done in order, the gate (never a command on a host that runs a VM), failures that pause with
 * the host left in maintenance and the others untouched, a leader restart while a command runs
 * (unknown, paused; resume does not run it again), the saved form's round trip. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pass.h"
#include "snapshot.h"

#define USEC 1000000ULL
#define N 3

typedef struct Fake {
        HostReport reports[N];
        HostMode modes[N];
        char commands[16][64]; /* "h1" or "health:h1", in order */
        size_t n_commands;
        unsigned vms_at_command[16]; /* the host's VMs when its command started */
        char *saved;                 /* rollout_format() of the last save */
        size_t n_saves;
        bool fail_save;
        uint32_t runner; /* what f_runner picks for h3 */
        bool runner_alive;
        bool command_fails_to_start;
} Fake;

static const char *names[N] = {"h1", "h2", "h3"};

static int idx(const char *h) {
        for (int i = 0; i < N; i++)
                if (streq(names[i], h))
                        return i;
        fail();
        return -1;
}

static const HostReport *f_report(void *u, const char *host) {
        return &((Fake *) u)->reports[idx(host)];
}
static bool f_stale(void *u, const char *host, uint64_t now) {
        return false;
}
static HostMode f_mode(void *u, const char *host) {
        return ((Fake *) u)->modes[idx(host)];
}
static unsigned f_in_flight(void *u) {
        return 0;
}
static int f_set_mode(void *u, const char *host, HostMode mode, const char *reason) {
        ((Fake *) u)->modes[idx(host)] = mode;
        return 1;
}
static int
f_command(void *u, const char *host, const char *tmpl, uint64_t timeout_s, bool health, uint32_t runner) {
        Fake *f = u;
        if (f->command_fails_to_start)
                return -EIO;
        assert_true(f->n_commands < 16);
        f->vms_at_command[f->n_commands] = (unsigned) f->reports[idx(host)].n_vms;
        (void) snprintf(f->commands[f->n_commands++], 64, "%s%s", health ? "health:" : "", host);
        return 0;
}
static int f_save(void *u, const Rollout *r) {
        Fake *f = u;
        if (f->fail_save)
                return -EIO;
        free(f->saved);
        f->saved = NULL;
        f->n_saves++;
        return r ? rollout_format(r, &f->saved) : 0;
}
static void f_request_pass(void *u, const char *why) {
}
static uint32_t f_runner(void *u, const char *host, const Rollout *r) {
        return streq(host, "h3") ? ((Fake *) u)->runner : 0;
}
static bool f_runner_alive(void *u, uint32_t runner) {
        return ((Fake *) u)->runner_alive;
}
static bool f_vm_busy(void *u, const char *vm) {
        return false;
}
static const char *f_vm_target(void *u, const char *vm) {
        return NULL;
}

static const LeaderPassOps ops = {
        .report = f_report,
        .stale = f_stale,
        .mode = f_mode,
        .in_flight = f_in_flight,
        .set_mode = f_set_mode,
        .request_pass = f_request_pass,
        .vm_busy = f_vm_busy,
        .vm_target = f_vm_target,
        .rollout_command = f_command,
        .rollout_save = f_save,
        .rollout_runner = f_runner,
        .rollout_runner_alive = f_runner_alive,
};

typedef struct T {
        Fake f;
        LeaderPass *lp;
        LeaderNow now;
} T;

static void t_init(T *t, unsigned vms_per_host) {
        *t = (T){.now = {.mono_usec = 1000 * USEC, .real_usec = 1700000000ULL * USEC}};
        for (int i = 0; i < N; i++)
                t->f.reports[i] = (HostReport){
                        .name = (char *) names[i], .t_usec = t->now.mono_usec, .n_vms = vms_per_host};
        assert_int_equal(leader_pass_new(&ops, &t->f, &t->lp), 0);
        leader_pass_configure(t->lp, NULL, NULL, 0, 10);
}

static void t_done(T *t) {
        leader_pass_free(t->lp);
        free(t->f.saved);
}

static void advance(T *t, uint64_t s) {
        t->now.mono_usec += s * USEC;
        t->now.real_usec += s * USEC;
}

/* A new report of every host up now (n_vms as it is); what the collector does each interval. */
static void report_all(T *t) {
        for (int i = 0; i < N; i++)
                t->f.reports[i].t_usec = t->now.mono_usec;
}

/* What the normal pass does for an entering-maintenance host: its VMs leave, then maintenance;
 * the rollout sees it, and the next report (a libvirt answer taken after that) arrives. */
static void evacuate(T *t, int h) {
        assert_int_equal(t->f.modes[h], HOST_MODE_ENTERING_MAINTENANCE);
        t->f.reports[h].n_vms = 0;
        report_all(t);
        t->f.modes[h] = HOST_MODE_MAINTENANCE;
        leader_pass_rollout_tick(t->lp, t->now);
        /* Not on the report the maintenance was decided on. */
        assert_true(
                !rollout_find(t->lp->rollout, names[h]) ||
                rollout_find(t->lp->rollout, names[h])->state != ROLLOUT_HOST_COMMAND);
        advance(t, 1);
        report_all(t);
}

static void start(T *t, const char *health, unsigned parallel) {
        char *hosts[] = {(char *) "h1", (char *) "h2", (char *) "h3", NULL};
        Rollout *r = NULL;
        assert_int_equal(
                rollout_new(
                        hosts, N, "reboot {host}", health, 600, parallel, false, "test", t->now.real_usec,
                        &r),
                0);
        assert_int_equal(leader_pass_rollout_start(t->lp, r, t->now), 0);
}

static RolloutHostState hstate(T *t, const char *h) {
        return rollout_find(t->lp->rollout, h)->state;
}

/* One host through every step; the gate holds while it still runs a VM. */
static void one_host(T *t, int h, bool health) {
        const char *name = names[h];
        size_t before = t->f.n_commands;

        leader_pass_rollout_tick(t->lp, t->now);
        assert_int_equal(hstate(t, name), ROLLOUT_HOST_EVACUATING);
        assert_int_equal(t->f.modes[h], HOST_MODE_ENTERING_MAINTENANCE);
        /* Still a VM, even in maintenance (someone started one): no command. */
        t->f.modes[h] = HOST_MODE_MAINTENANCE;
        t->f.reports[h].n_vms = 1;
        advance(t, 10);
        report_all(t);
        leader_pass_rollout_tick(t->lp, t->now);
        assert_int_equal(t->f.n_commands, before);
        t->f.modes[h] = HOST_MODE_ENTERING_MAINTENANCE;
        evacuate(t, h);
        leader_pass_rollout_tick(t->lp, t->now);
        assert_int_equal(hstate(t, name), ROLLOUT_HOST_COMMAND);
        assert_int_equal(t->f.n_commands, before + 1);
        assert_string_equal(t->f.commands[before], name);
        assert_int_equal(t->f.vms_at_command[before], 0);
        /* Saved as "command" before it ran. */
        assert_non_null(strstr(t->f.saved, "\"command\""));

        advance(t, 30);
        assert_int_equal(leader_pass_rollout_command_done(t->lp, name, true, "ok", 30000, t->now), 0);
        assert_int_equal(hstate(t, name), ROLLOUT_HOST_RETURNING);
        /* A report from before the command ended does not count. */
        leader_pass_rollout_tick(t->lp, t->now);
        assert_int_equal(hstate(t, name), ROLLOUT_HOST_RETURNING);
        advance(t, 10);
        report_all(t);
        leader_pass_rollout_tick(t->lp, t->now);
        if (health) {
                assert_int_equal(hstate(t, name), ROLLOUT_HOST_HEALTH);
                assert_int_equal(t->f.modes[h], HOST_MODE_MAINTENANCE);
                assert_int_equal(leader_pass_rollout_command_done(t->lp, name, true, "ok", 100, t->now), 0);
        }
        assert_int_equal(hstate(t, name), ROLLOUT_HOST_DONE);
        assert_int_equal(t->f.modes[h], HOST_MODE_UP);
}

static void test_every_host_once_in_order(void **state) {
        T t;
        t_init(&t, 2);
        start(&t, NULL, 1);
        /* Only h1 is touched first. */
        assert_int_equal(t.f.modes[0], HOST_MODE_ENTERING_MAINTENANCE);
        assert_int_equal(t.f.modes[1], HOST_MODE_UP);
        assert_int_equal(t.f.modes[2], HOST_MODE_UP);
        for (int h = 0; h < N; h++) {
                /* Hosts not reached yet are untouched. */
                for (int o = h + 1; o < N; o++)
                        assert_int_equal(t.f.modes[o], HOST_MODE_UP);
                one_host(&t, h, false);
        }
        assert_int_equal(t.lp->rollout->state, ROLLOUT_DONE);
        assert_int_equal(t.f.n_commands, 3);
        assert_string_equal(t.f.commands[0], "h1");
        assert_string_equal(t.f.commands[1], "h2");
        assert_string_equal(t.f.commands[2], "h3");
        assert_int_equal(rollout_n_done(t.lp->rollout), 3);
        /* Nothing more happens. */
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.f.n_commands, 3);
        t_done(&t);
}

static void test_health_check(void **state) {
        T t;
        t_init(&t, 1);
        start(&t, "check {host}", 1);
        one_host(&t, 0, true);
        assert_string_equal(t.f.commands[1], "health:h1");
        /* h2's health check fails: paused, h2 stays in maintenance, h3 untouched; resume runs
         * the check again (not the command). */
        leader_pass_rollout_tick(t.lp, t.now);
        evacuate(&t, 1);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(leader_pass_rollout_command_done(t.lp, "h2", true, NULL, 1, t.now), 0);
        advance(&t, 5);
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_HEALTH);
        assert_int_equal(
                leader_pass_rollout_command_done(t.lp, "h2", false, "exited with status 1", 1, t.now), 0);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_non_null(strstr(t.lp->rollout->reason, "health check of 'h2' failed"));
        assert_int_equal(t.f.modes[1], HOST_MODE_MAINTENANCE);
        assert_int_equal(t.f.modes[2], HOST_MODE_UP);
        size_t n = t.f.n_commands;
        assert_int_equal(leader_pass_rollout_resume(t.lp, "test", t.now), 0);
        advance(&t, 5);
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.f.n_commands, n + 1);
        assert_string_equal(t.f.commands[n], "health:h2");
        t_done(&t);
}

static void test_parallel_waves(void **state) {
        T t;
        t_init(&t, 1);
        start(&t, NULL, 2);
        assert_int_equal(rollout_n_waves(t.lp->rollout), 2);
        assert_int_equal(t.f.modes[0], HOST_MODE_ENTERING_MAINTENANCE);
        assert_int_equal(t.f.modes[1], HOST_MODE_ENTERING_MAINTENANCE);
        assert_int_equal(t.f.modes[2], HOST_MODE_UP);
        evacuate(&t, 0);
        evacuate(&t, 1);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.f.n_commands, 2);
        assert_int_equal(leader_pass_rollout_command_done(t.lp, "h1", true, NULL, 1, t.now), 0);
        advance(&t, 5);
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_DONE);
        /* Paused for longer than the timeout while h2's command runs: on resume no step has
         * timed out. */
        assert_int_equal(leader_pass_rollout_pause(t.lp, "test", t.now), 0);
        advance(&t, 3600);
        assert_int_equal(leader_pass_rollout_command_done(t.lp, "h2", true, NULL, 1, t.now), 0);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_RETURNING);
        advance(&t, 3600);
        assert_int_equal(leader_pass_rollout_resume(t.lp, "test", t.now), 0);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_RUNNING);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_RETURNING);
        /* h3 waits for the whole first wave. */
        assert_int_equal(t.f.modes[2], HOST_MODE_UP);
        advance(&t, 5);
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.f.modes[2], HOST_MODE_ENTERING_MAINTENANCE);
        t_done(&t);
}

static void test_command_fails(void **state) {
        T t;
        t_init(&t, 1);
        start(&t, NULL, 1);
        evacuate(&t, 0);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(
                leader_pass_rollout_command_done(t.lp, "h1", false, "exited with status 3", 5, t.now), 0);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_non_null(strstr(t.lp->rollout->reason, "exited with status 3"));
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_FAILED);
        assert_int_equal(t.f.modes[0], HOST_MODE_MAINTENANCE);
        /* Paused: nothing else is touched, however long. */
        for (int i = 0; i < 5; i++) {
                advance(&t, 100);
                report_all(&t);
                leader_pass_rollout_tick(t.lp, t.now);
        }
        assert_int_equal(t.f.modes[1], HOST_MODE_UP);
        assert_int_equal(t.f.n_commands, 1);
        /* Resume retries the command (the gate holds: still in maintenance, empty). */
        assert_int_equal(leader_pass_rollout_resume(t.lp, "test", t.now), 0);
        assert_int_equal(t.f.n_commands, 2);
        assert_string_equal(t.f.commands[1], "h1");
        assert_int_equal(leader_pass_rollout_resume(t.lp, "test", t.now), -EALREADY);
        t_done(&t);
}

static void test_command_cannot_start(void **state) {
        T t;
        t_init(&t, 0);
        start(&t, NULL, 1);
        t.f.command_fails_to_start = true;
        evacuate(&t, 0);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_FAILED);
        t_done(&t);
}

static void test_evacuation_blocked(void **state) {
        T t;
        t_init(&t, 2);
        start(&t, NULL, 1);
        /* The pass found a VM of h1 that fits nowhere. */
        t.lp->blockers = calloc(1, sizeof(Blocker));
        t.lp->blockers[0] =
                (Blocker){.host = strdup("h1"), .vm = strdup("big"), .why = strdup("memory: needs 64 GiB")};
        t.lp->n_blockers = 1;
        /* From a pass that ran while something moved: transient, no pause. */
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_RUNNING);
        t.lp->blockers_settled = true;
        advance(&t, 10);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_non_null(strstr(t.lp->rollout->reason, "VM 'big' fits nowhere: memory: needs 64 GiB"));
        assert_int_equal(t.f.n_commands, 0);
        assert_int_equal(t.f.modes[0], HOST_MODE_ENTERING_MAINTENANCE);
        assert_int_equal(t.f.modes[1], HOST_MODE_UP);
        assert_int_equal(leader_pass_rollout_abort(t.lp, "test", t.now), 0);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_ABORTED);
        assert_int_equal(leader_pass_rollout_pause(t.lp, "test", t.now), -ENOENT);
        t_done(&t);
}

static void test_timeouts(void **state) {
        T t;
        t_init(&t, 1);
        start(&t, NULL, 1);
        advance(&t, 601);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_non_null(strstr(t.lp->rollout->reason, "did not complete within 600 s"));
        assert_int_equal(leader_pass_rollout_resume(t.lp, "test", t.now), 0);
        evacuate(&t, 0);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(leader_pass_rollout_command_done(t.lp, "h1", true, NULL, 1, t.now), 0);
        /* The host never reports again. */
        advance(&t, 601);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_non_null(strstr(t.lp->rollout->reason, "did not come back"));
        assert_int_equal(t.f.modes[0], HOST_MODE_MAINTENANCE);
        t_done(&t);
}

/* The leader died while h2's command ran: the next one loads the saved rollout. */
static void test_restart_during_command(void **state) {
        T t;
        _cleanup_free_ char *saved = NULL;
        t_init(&t, 1);
        start(&t, NULL, 1);
        one_host(&t, 0, false);
        leader_pass_rollout_tick(t.lp, t.now);
        evacuate(&t, 1);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_COMMAND);
        saved = strdup(t.f.saved);
        size_t n_commands = t.f.n_commands;

        /* A new leader (or the same drsd restarted). */
        leader_pass_free(t.lp);
        assert_int_equal(leader_pass_new(&ops, &t.f, &t.lp), 0);
        Rollout *r = NULL;
        assert_int_equal(rollout_parse(saved, strlen(saved), &r, NULL), 0);
        advance(&t, 20);
        leader_pass_rollout_load(t.lp, r, t.now);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_UNKNOWN);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_DONE);
        assert_non_null(strstr(t.lp->rollout->reason, "unknown"));
        assert_non_null(strstr(t.f.saved, "\"unknown\""));
        /* Paused: no tick does anything. */
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.f.n_commands, n_commands);
        /* Resume: waits for h2 to come back, without running its command again. */
        assert_int_equal(leader_pass_rollout_resume(t.lp, "test", t.now), 0);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_RETURNING);
        advance(&t, 10);
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_DONE);
        assert_int_equal(t.f.n_commands, n_commands);
        one_host(&t, 2, false);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_DONE);
        assert_int_equal(t.f.n_commands, n_commands + 1);
        t_done(&t);
}

static void test_save_fails_before_command(void **state) {
        T t;
        t_init(&t, 0);
        start(&t, NULL, 1);
        evacuate(&t, 0);
        t.f.fail_save = true;
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(t.f.n_commands, 0);
        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
        t_done(&t);
}

static void test_round_trip(void **state) {
        char *hosts[] = {(char *) "a", (char *) "b", NULL};
        _cleanup_(rollout_freep) Rollout *r = NULL, *back = NULL;
        _cleanup_free_ char *s1 = NULL, *s2 = NULL, *err = NULL;

        assert_int_equal(rollout_new(hosts, 2, "x {host}", "y", 60, 1, true, "me", 5, &r), 0);
        r->hosts[0].state = ROLLOUT_HOST_FAILED;
        r->hosts[0].failed_step = ROLLOUT_HOST_RETURNING;
        assert_int_equal(rollout_host_set_note(&r->hosts[0], "why"), 0);
        assert_int_equal(rollout_set_state(r, ROLLOUT_PAUSED, "because"), 0);
        assert_int_equal(rollout_format(r, &s1), 0);
        assert_int_equal(rollout_parse(s1, strlen(s1), &back, NULL), 0);
        assert_int_equal(rollout_format(back, &s2), 0);
        assert_string_equal(s1, s2);
        assert_int_equal(back->hosts[0].failed_step, ROLLOUT_HOST_RETURNING);
        assert_true(back->parallel_auto);

        Rollout *x = NULL;
        assert_int_equal(rollout_parse("{\"version\": 2}", 14, &x, &err), -EBADMSG);
        assert_non_null(strstr(err, "version"));
        assert_int_equal(rollout_parse("{", 1, &x, NULL), -EBADMSG);
}

/* While h2 evacuates, its VM goes to h1 (done) rather than h3 (still to come), although h3 is
 * emptier: the soft rule of leader_pass_rollout_prefer_done(). A preference: a soft rule's
 * penalty (MODEL_SOFT_PENALTY), weighed against the imbalance a move onto a busier done host
 * makes (light VMs here). */
static void test_prefer_done_hosts(void **state) {
        static const char yaml[] =
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 16GiB}\n"
                "  - {name: h2, cpus: 8, memory_mib: 16GiB, state: maintenance}\n"
                "  - {name: h3, cpus: 8, memory_mib: 16GiB}\n"
                "vms:\n"
                "  - {name: a, host: h1, vcpus: 2, memory_mib: 4GiB, cpu_demand: 0.2, memory_demand_mib: 512}\n"
                "  - {name: b, host: h2, vcpus: 1, memory_mib: 1GiB, cpu_demand: 0.1, memory_demand_mib: 256}\n";
        for (int prefer = 0; prefer <= 1; prefer++) {
                T t;
                Problem *p = NULL;
                Plan *plan = NULL;
                PolicyError e = {};
                t_init(&t, 1);
                start(&t, NULL, 1);
                leader_pass_rollout_tick(t.lp, t.now);
                evacuate(&t, 0);
                leader_pass_rollout_tick(t.lp, t.now);
                assert_int_equal(leader_pass_rollout_command_done(t.lp, "h1", true, NULL, 1, t.now), 0);
                advance(&t, 5);
                report_all(&t);
                leader_pass_rollout_tick(t.lp, t.now);
                assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_EVACUATING);
                assert_int_equal(snapshot_parse_string("t.yaml", yaml, strlen(yaml), &p, &e), 0);
                if (prefer)
                        assert_int_equal(leader_pass_rollout_prefer_done(t.lp, p), 0);
                assert_int_equal(solver_plan(p, &(SolverOptions){.greedy_only = true}, &plan), 0);
                assert_int_equal(plan->n_moves, 1);
                assert_string_equal(p->hosts[plan->moves[0].to].name, prefer ? "h1" : "h3");
                plan_free(plan);
                problem_free(p);
                t_done(&t);
        }
}

/* --in-windows: outside the policy's automation windows (level manual now) no new host starts;
 * a host already in progress goes on. */
static void test_windows(void **state) {
        static const char pol[] =
                "automation:\n"
                "  level: manual\n"
                "  windows: [{days: daily, from: \"01:00\", to: \"02:00\", level: full}]\n";
        Policy *p = NULL;
        PolicyError e = {};
        T t;

        assert_int_equal(policy_new(&p), 0);
        assert_int_equal(policy_parse_string(p, "p.yaml", pol, strlen(pol), &e), 0);
        t_init(&t, 0);
        /* 1700000000 is 22:13 UTC: outside. */
        leader_pass_configure(t.lp, p, NULL, 0, 10);
        char *hosts[] = {(char *) "h1", (char *) "h2", (char *) "h3", NULL};
        Rollout *r = NULL;
        assert_int_equal(rollout_new(hosts, N, "c", NULL, 7200, 1, false, "test", t.now.real_usec, &r), 0);
        r->in_windows = true;
        assert_int_equal(leader_pass_rollout_start(t.lp, r, t.now), 0);
        assert_true(t.lp->rollout->waiting);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_PENDING);
        assert_int_equal(t.f.modes[0], HOST_MODE_UP);
        assert_non_null(strstr(t.f.saved, "\"in_windows\": true"));
        /* 01:13 UTC the next day: inside. */
        advance(&t, 3 * 3600);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_false(t.lp->rollout->waiting);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_EVACUATING);
        /* 02:13: outside again; h1 goes on, h2 waits. */
        advance(&t, 3600);
        evacuate(&t, 0);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_true(t.lp->rollout->waiting);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_COMMAND);
        assert_int_equal(leader_pass_rollout_command_done(t.lp, "h1", true, NULL, 1, t.now), 0);
        advance(&t, 5);
        report_all(&t);
        leader_pass_rollout_tick(t.lp, t.now);
        assert_int_equal(hstate(&t, "h1"), ROLLOUT_HOST_DONE);
        assert_int_equal(hstate(&t, "h2"), ROLLOUT_HOST_PENDING);
        assert_int_equal(t.f.modes[1], HOST_MODE_UP);
        t_done(&t);
        policy_free(p);
}

/* DPM is held while a rollout runs or is paused (its delays are 0 here: nothing else holds it),
 * and free again once it ended. */
static void test_dpm_held(void **state) {
        static const char pol[] = "dpm: {enabled: true, power_on_delay: 0s, standby_delay: 0s}\n";
        static char *no_groups[] = {NULL};
        DrsHostConfig hc[N] = {
                {.name = (char *) "h1", .groups = no_groups},
                {.name = (char *) "h2", .groups = no_groups},
                {.name = (char *) "h3", .groups = no_groups},
        };
        Policy *p = NULL;
        PolicyError e = {};
        T t;

        assert_int_equal(policy_new(&p), 0);
        assert_int_equal(policy_parse_string(p, "p.yaml", pol, strlen(pol), &e), 0);
        t_init(&t, 0);
        for (int i = 0; i < N; i++) {
                t.f.reports[i].cpus = 4;
                t.f.reports[i].memory_mib = 8192;
        }
        leader_pass_configure(t.lp, p, hc, N, 10);
        for (int phase = 0; phase < 4; phase++) {
                if (phase == 1)
                        start(&t, NULL, 1);
                if (phase == 2)
                        assert_int_equal(leader_pass_rollout_pause(t.lp, "test", t.now), 0);
                if (phase == 3)
                        assert_int_equal(leader_pass_rollout_abort(t.lp, "test", t.now), 0);
                Problem *pr = NULL;
                assert_int_equal(leader_pass_build_problem(t.lp, t.now, NULL, &pr), 0);
                bool held = phase == 1 || phase == 2;
                assert_int_equal(pr->dpm_hold_standby, held);
                assert_int_equal(pr->dpm_hold_power_on, held);
                problem_free(pr);
        }
        t_done(&t);
        policy_free(p);
}

/* Cluster mode: h3 is the leader's host; node 7 runs its command. A new leader that loads the
 * rollout while node 7 is still there waits for its result; node 7 leaving makes h3 unknown. */
static void test_runner(void **state) {
        for (int lost = 0; lost <= 1; lost++) {
                T t;
                _cleanup_free_ char *saved = NULL;
                t_init(&t, 0);
                t.f.runner = 7;
                t.f.runner_alive = true;
                start(&t, NULL, 1);
                one_host(&t, 0, false);
                leader_pass_rollout_tick(t.lp, t.now);
                one_host(&t, 1, false);
                leader_pass_rollout_tick(t.lp, t.now);
                evacuate(&t, 2);
                leader_pass_rollout_tick(t.lp, t.now);
                assert_int_equal(hstate(&t, "h3"), ROLLOUT_HOST_COMMAND);
                assert_int_equal(rollout_find(t.lp->rollout, "h3")->runner, 7);
                assert_non_null(strstr(t.f.saved, "\"runner\": 7"));
                saved = strdup(t.f.saved);

                /* The leader's host reboots: the next leader loads the rollout. */
                leader_pass_free(t.lp);
                assert_int_equal(leader_pass_new(&ops, &t.f, &t.lp), 0);
                Rollout *r = NULL;
                assert_int_equal(rollout_parse(saved, strlen(saved), &r, NULL), 0);
                leader_pass_rollout_load(t.lp, r, t.now);
                assert_int_equal(t.lp->rollout->state, ROLLOUT_RUNNING);
                assert_int_equal(hstate(&t, "h3"), ROLLOUT_HOST_COMMAND);
                if (lost) {
                        leader_pass_rollout_runner_left(t.lp, 8, t.now); /* another node */
                        assert_int_equal(hstate(&t, "h3"), ROLLOUT_HOST_COMMAND);
                        leader_pass_rollout_runner_left(t.lp, 7, t.now);
                        assert_int_equal(hstate(&t, "h3"), ROLLOUT_HOST_UNKNOWN);
                        assert_int_equal(t.lp->rollout->state, ROLLOUT_PAUSED);
                } else {
                        advance(&t, 20);
                        assert_int_equal(
                                leader_pass_rollout_command_done(t.lp, "h3", true, NULL, 20000, t.now), 0);
                        advance(&t, 5);
                        report_all(&t);
                        leader_pass_rollout_tick(t.lp, t.now);
                        assert_int_equal(t.lp->rollout->state, ROLLOUT_DONE);
                }
                assert_int_equal(t.f.n_commands, 3);
                t_done(&t);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_host_once_in_order),
                cmocka_unit_test(test_health_check),
                cmocka_unit_test(test_parallel_waves),
                cmocka_unit_test(test_command_fails),
                cmocka_unit_test(test_command_cannot_start),
                cmocka_unit_test(test_evacuation_blocked),
                cmocka_unit_test(test_timeouts),
                cmocka_unit_test(test_restart_during_command),
                cmocka_unit_test(test_save_fails_before_command),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_prefer_done_hosts),
                cmocka_unit_test(test_windows),
                cmocka_unit_test(test_dpm_held),
                cmocka_unit_test(test_runner),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
