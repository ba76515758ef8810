/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The leader pass's pure parts on synthetic host reports: Problem building (host modes, stale
 * hosts, migrating VMs, cooldown times), automation windows in a timezone, plan runs wave by
 * wave, the move log from history, and power commands. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "leader.h"
#include "power.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

#define USEC 1000000ULL

static char *empty_groups[] = {NULL};

static DrsHostConfig host_cfg[3] = {
        {.name = (char *) "h1", .uri = (char *) "test:///h1", .groups = empty_groups},
        {.name = (char *) "h2",
         .uri = (char *) "test:///h2",
         .groups = empty_groups,
         .address = (char *) "10.0.0.2"},
        {.name = (char *) "h3", .uri = (char *) "test:///h3", .groups = empty_groups},
};

/* h1: four VMs, two burning; h2, h3 empty. 2 cores, 4 GiB each. */
static VmReport h1_vms[4] = {
        {.name = (char *) "b1", .vcpus = 1, .memory_mib = 128, .cpu_demand = 1.0, .memory_demand_mib = 100},
        {.name = (char *) "b2", .vcpus = 1, .memory_mib = 128, .cpu_demand = 1.0, .memory_demand_mib = 100},
        {.name = (char *) "i1", .vcpus = 1, .memory_mib = 128, .cpu_demand = 0.02, .memory_demand_mib = 60},
        {.name = (char *) "i2", .vcpus = 1, .memory_mib = 128, .cpu_demand = 0.02, .memory_demand_mib = 60},
};
static VmReport h2_vms[1] = {
        {.name = (char *) "b2", .vcpus = 1, .memory_mib = 128, .cpu_demand = 0, .memory_demand_mib = 10},
};

static HostReport reports[3] = {
        {.name = (char *) "h1", .t_usec = 1, .cpus = 2, .memory_mib = 4096, .vms = h1_vms, .n_vms = 4},
        {.name = (char *) "h2", .t_usec = 1, .cpus = 2, .memory_mib = 4096},
        {.name = (char *) "h3", .t_usec = 1, .cpus = 2, .memory_mib = 4096},
};

static bool busy_i1(const char *vm, void *userdata) {
        return streq(vm, "i1");
}

static void setup_input(LeaderHost hosts[3], LeaderInput *in, const Policy *p, const MoveLog *log) {
        for (size_t i = 0; i < 3; i++)
                hosts[i] = (LeaderHost){.config = &host_cfg[i], .report = &reports[i], .mode = HOST_MODE_UP};
        *in = (LeaderInput){
                .policy = p,
                .hosts = hosts,
                .n_hosts = 3,
                .moves = log,
                .now_usec = 10000 * USEC,
                .automation = AUTOMATION_FULL,
        };
}

static void test_build_problem(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        _cleanup_(problem_freep) Problem *p = NULL;
        MoveLog log = {};
        LeaderHost hosts[3];
        LeaderInput in;

        assert_int_equal(policy_new(&pol), 0);
        assert_int_equal(move_log_set(&log, "b2", 9000 * USEC), 0);
        assert_int_equal(move_log_set(&log, "b2", 8000 * USEC), 0); /* never goes back */
        setup_input(hosts, &in, pol, &log);
        hosts[1].stale = true;
        hosts[2].mode = HOST_MODE_ENTERING_MAINTENANCE;
        in.vm_busy = busy_i1;

        assert_int_equal(leader_build_problem(&in, &p), 0);
        assert_int_equal(p->n_hosts, 3);
        assert_int_equal(p->hosts[0].state, HOST_UP);
        assert_false(p->hosts[0].frozen);
        assert_true(p->hosts[1].frozen);
        assert_int_equal(p->hosts[2].state, HOST_MAINTENANCE);
        assert_int_equal(p->n_vms, 4);
        assert_string_equal(p->vms[1].name, "b2");
        assert_int_equal(p->vms[1].last_moved_s, 1000);
        assert_int_equal(p->vms[0].last_moved_s, -1);
        assert_true(p->vms[2].migrating);
        assert_false(p->vms[3].migrating);
        assert_true(p->hosts[0].cpus == 2);
        move_log_done(&log);
}

static const char *target_i1(const char *vm, void *userdata) {
        return streq(vm, "i1") ? "h3" : NULL;
}

/* Migrations in flight hold their memory on their targets: this drsd's own (vm_target), or one
 * the source reports (migrating_to, cluster mode); not for a VM that is not migrating. */
static void test_build_incoming(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        LeaderHost hosts[3];
        LeaderInput in;

        assert_int_equal(policy_new(&pol), 0);
        setup_input(hosts, &in, pol, NULL);
        in.vm_busy = busy_i1;
        in.vm_target = target_i1;
        h1_vms[0].migrating = true;
        h1_vms[0].migrating_to = (char *) "h2";
        h1_vms[3].migrating_to = (char *) "h2"; /* i2 is not migrating: ignored */
        {
                _cleanup_(problem_freep) Problem *p = NULL;
                assert_int_equal(leader_build_problem(&in, &p), 0);
                assert_int_equal(p->hosts[0].incoming_mib, 0);
                assert_int_equal(p->hosts[1].incoming_mib, 128); /* b1, from the report */
                assert_int_equal(p->hosts[2].incoming_mib, 128); /* i1, this drsd's job */
        }
        /* b1's target unknown (no job here, no migrating_to: a migration another leader
         * started): its memory is held on every other host (drs-sim seed 351 overfilled one). */
        h1_vms[0].migrating_to = NULL;
        {
                _cleanup_(problem_freep) Problem *p = NULL;
                assert_int_equal(leader_build_problem(&in, &p), 0);
                assert_int_equal(p->hosts[0].incoming_mib, 0);
                assert_int_equal(p->hosts[1].incoming_mib, 128);       /* b1 */
                assert_int_equal(p->hosts[2].incoming_mib, 128 + 128); /* i1, and b1 */
        }
        h1_vms[0].migrating = false;
        h1_vms[0].migrating_to = NULL;
        h1_vms[3].migrating_to = NULL;
}

/* Disks only the VM's host sees: local_disk_mib from the pools of the other up hosts. */
static void test_build_local_disks(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        _cleanup_(problem_freep) Problem *p = NULL;
        char *m1[] = {(char *) ".drs-pool-1", NULL}, *m2[] = {(char *) ".drs-pool-2", NULL},
             *ms[] = {(char *) ".drs-pool-s", NULL};
        HvPool p1[] = {
                {.name = (char *) "local", .target = (char *) "/l", .markers = m1},
                {.name = (char *) "shared", .target = (char *) "/s", .markers = ms}};
        HvPool p2[] = {
                {.name = (char *) "local", .target = (char *) "/l", .markers = m2},
                {.name = (char *) "shared", .target = (char *) "/s", .markers = ms}};
        HvPool p3[] = {{.name = (char *) "local", .target = (char *) "/l", .markers = m2}};
        HvDiskUse d_local = {.path = (char *) "/l/b1.qcow2", .allocation_bytes = 10 << 20};
        HvDiskUse d_shared = {.path = (char *) "/s/b2.qcow2", .allocation_bytes = 20 << 20};
        VmReport vms[2] = {
                {.name = (char *) "b1", .vcpus = 1, .memory_mib = 128, .disks = &d_local, .n_disks = 1},
                {.name = (char *) "b2", .vcpus = 1, .memory_mib = 128, .disks = &d_shared, .n_disks = 1},
        };
        HostReport r[3] = {
                {.name = (char *) "h1",
                 .t_usec = 1,
                 .cpus = 2,
                 .memory_mib = 4096,
                 .vms = vms,
                 .n_vms = 2,
                 .pools = p1,
                 .n_pools = 2},
                {.name = (char *) "h2",
                 .t_usec = 1,
                 .cpus = 2,
                 .memory_mib = 4096,
                 .pools = p2,
                 .n_pools = 2},
                {.name = (char *) "h3",
                 .t_usec = 1,
                 .cpus = 2,
                 .memory_mib = 4096,
                 .pools = p3,
                 .n_pools = 1},
        };
        LeaderHost hosts[3];
        LeaderInput in;

        assert_int_equal(policy_new(&pol), 0);
        setup_input(hosts, &in, pol, NULL);
        for (size_t i = 0; i < 3; i++)
                hosts[i].report = &r[i];
        /* h3 does not see the shared pool: while it is up, b2's disk counts too. */
        assert_int_equal(leader_build_problem(&in, &p), 0);
        assert_int_equal(p->vms[0].local_disk_mib, 10);
        assert_int_equal(p->vms[1].local_disk_mib, 20);
        p = problem_free(p);
        /* h3 in maintenance: only h2 counts, and it shares b2's pool. */
        hosts[2].mode = HOST_MODE_MAINTENANCE;
        assert_int_equal(leader_build_problem(&in, &p), 0);
        assert_int_equal(p->vms[0].local_disk_mib, 10);
        assert_int_equal(p->vms[1].local_disk_mib, 0);
}

static void test_build_modes(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        LeaderHost hosts[3];
        LeaderInput in;

        assert_int_equal(leader_host_state(HOST_MODE_MAINTENANCE), HOST_MAINTENANCE);
        assert_int_equal(leader_host_state(HOST_MODE_STANDBY), HOST_STANDBY);
        assert_int_equal(leader_host_state(HOST_MODE_POWER_ON_FAILED), HOST_STANDBY);
        assert_int_equal(leader_host_state(HOST_MODE_UP), HOST_UP);

        assert_int_equal(policy_new(&pol), 0);
        setup_input(hosts, &in, pol, NULL);
        /* h2 in standby (its libvirtd is off, reports stale): not frozen, so DPM may power it
         * on; h3 power-on failed: frozen; b2 shows up on h2's old report and is ignored there. */
        hosts[1].mode = HOST_MODE_STANDBY;
        hosts[1].stale = true;
        reports[1].vms = h2_vms;
        reports[1].n_vms = 1;
        hosts[2].mode = HOST_MODE_POWER_ON_FAILED;
        in.force_maintenance = "h1";
        {
                _cleanup_(problem_freep) Problem *p = NULL;
                assert_int_equal(leader_build_problem(&in, &p), 0);
                assert_int_equal(p->hosts[0].state, HOST_MAINTENANCE);
                assert_int_equal(p->hosts[1].state, HOST_STANDBY);
                assert_false(p->hosts[1].frozen);
                assert_true(p->hosts[2].frozen);
                assert_int_equal(p->n_vms, 4);
                assert_false(p->vms[1].migrating);
        }
        /* The same VM on two fresh hosts: kept once, migrating. */
        hosts[1].mode = HOST_MODE_UP;
        hosts[1].stale = false;
        {
                _cleanup_(problem_freep) Problem *p = NULL;
                assert_int_equal(leader_build_problem(&in, &p), 0);
                assert_int_equal(p->n_vms, 4);
                assert_int_equal(p->vms[1].host, 0);
                assert_true(p->vms[1].migrating);
        }
        reports[1].vms = NULL;
        reports[1].n_vms = 0;
        /* Never reported: frozen. */
        hosts[1].report = NULL;
        {
                _cleanup_(problem_freep) Problem *p = NULL;
                assert_int_equal(leader_build_problem(&in, &p), 0);
                assert_true(p->hosts[1].frozen);
        }
}

/* The balance pass on the synthetic cluster actually moves the burners apart, and the run hands
 * out wave by wave. */
static int n_submitted;
static const char *submitted[16];
static bool refuse_b1;

static int fake_submit(const Problem *p, const PlanMove *mv, void *userdata) {
        if (refuse_b1 && streq(p->vms[mv->vm].name, "b1"))
                return -EBUSY;
        if (n_submitted < 16)
                submitted[n_submitted] = p->vms[mv->vm].name;
        n_submitted++;
        return 0;
}

/* The balance plan of setup_input()'s cluster (aggressive, no memory reserve), greedy only. */
static void plan_balance(Policy **ret_pol, Problem **ret_p, Plan **ret_plan) {
        LeaderHost hosts[3];
        LeaderInput in;
        SolverOptions opts = {.greedy_only = true};

        assert_int_equal(policy_new(ret_pol), 0);
        (*ret_pol)->balance.aggressiveness = 5;
        (*ret_pol)->limits.memory_reserve_mib = 0;
        setup_input(hosts, &in, *ret_pol, NULL);
        assert_int_equal(leader_build_problem(&in, ret_p), 0);
        assert_int_equal(solver_plan(*ret_p, &opts, ret_plan), 0);
}

static void test_plan_and_run(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        _cleanup_(leader_run_freep) LeaderRun *run = NULL;
        Problem *p = NULL;
        Plan *plan = NULL;

        plan_balance(&pol, &p, &plan);
        assert_true(plan->n_moves >= 1);
        assert_false(leader_plan_is_mandatory(plan));

        size_t n_moves = plan->n_moves;
        assert_int_equal(leader_run_new(p, plan, false, 1, &run), 0);
        n_submitted = 0;
        /* Bounded by the number of moves. */
        for (size_t i = 0; i <= n_moves; i++) {
                int k = leader_run_advance(run, fake_submit, NULL);
                if (k == 0)
                        break;
                assert_true(run->n_running > 0);
                assert_false(leader_run_wave_finished(run, run->wave));
                for (size_t j = 0; j < run->plan->n_moves; j++)
                        if (run->moves[j] == LEADER_MOVE_RUNNING) {
                                assert_int_equal(run->plan->moves[j].wave, run->wave);
                                assert_true(
                                        leader_run_move_done(
                                                run, run->problem->vms[run->plan->moves[j].vm].name, true) >=
                                        0);
                        }
                assert_true(leader_run_wave_finished(run, run->wave));
        }
        assert_true(leader_run_finished(run));
        assert_int_equal((size_t) n_submitted, n_moves);
        assert_int_equal(run->n_done, n_moves);
        assert_int_equal(leader_run_n_left(run), 0);
        assert_int_equal(leader_run_move_done(run, "nope", true), -ENOENT);
}

static void test_run_skips(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        _cleanup_(leader_run_freep) LeaderRun *run = NULL;
        Problem *p = NULL;
        Plan *plan = NULL;
        LeaderHost hosts[3];
        LeaderInput in;
        SolverOptions opts = {.greedy_only = true};

        assert_int_equal(policy_new(&pol), 0);
        pol->limits.memory_reserve_mib = 0;
        setup_input(hosts, &in, pol, NULL);
        in.automation = AUTOMATION_MANUAL;
        hosts[0].mode = HOST_MODE_ENTERING_MAINTENANCE;
        assert_int_equal(leader_build_problem(&in, &p), 0);
        assert_int_equal(solver_plan(p, &opts, &plan), 0);
        assert_int_equal(plan->n_moves, 4);
        assert_true(leader_plan_is_mandatory(plan));
        for (size_t i = 0; i < plan->n_moves; i++)
                assert_true(plan->moves[i].recommendation);

        /* Manual: not applied, nothing submitted. */
        assert_int_equal(leader_run_new(p, plan, false, 2, &run), 0);
        n_submitted = 0;
        assert_int_equal(leader_run_advance(run, fake_submit, NULL), 0);
        assert_int_equal(n_submitted, 0);
        assert_true(leader_run_finished(run));
        run = leader_run_free(run);

        /* drsctl apply: recommendations run; a refused move is skipped, the others go on. */
        p = NULL;
        plan = NULL;
        assert_int_equal(leader_build_problem(&in, &p), 0);
        assert_int_equal(solver_plan(p, &opts, &plan), 0);
        assert_int_equal(leader_run_new(p, plan, true, 3, &run), 0);
        n_submitted = 0;
        refuse_b1 = true;
        for (unsigned i = 0; i < 10 && leader_run_advance(run, fake_submit, NULL) > 0; i++)
                for (size_t j = 0; j < run->plan->n_moves; j++)
                        if (run->moves[j] == LEADER_MOVE_RUNNING)
                                assert_true(
                                        leader_run_move_done(
                                                run, run->problem->vms[run->plan->moves[j].vm].name,
                                                j % 2 == 0) >= 0);
        refuse_b1 = false;
        assert_true(leader_run_finished(run));
        assert_int_equal(n_submitted, 3);
        assert_int_equal(run->n_done + run->n_failed, 3);
}

static void test_move_log_history(void **state) {
        MoveLog log = {};
        HistoryEvent ev[] = {
                {.time_usec = 5,
                 .type = (char *) "migration",
                 .vm = (char *) "a",
                 .result = (char *) "completed"},
                {.time_usec = 6,
                 .type = (char *) "migration",
                 .vm = (char *) "b",
                 .result = (char *) "failed"},
                {.time_usec = 7,
                 .type = (char *) "power",
                 .vm = (char *) "c",
                 .result = (char *) "completed"},
                {.time_usec = 9,
                 .type = (char *) "migration",
                 .vm = (char *) "a",
                 .result = (char *) "completed"},
        };
        assert_int_equal(move_log_load(&log, ev, ELEMENTSOF(ev)), 0);
        assert_int_equal(log.n, 1);
        assert_int_equal(move_log_get(&log, "a"), 9);
        assert_int_equal(move_log_get(&log, "b"), 0);
        move_log_done(&log);
}

/* Adopted migrations: a migration this drsd did not start is tracked from the reports and its
 * outcome returned once; this drsd's own are not adopted. */
static bool own_mine(const char *vm, void *userdata) {
        return streq(vm, "mine");
}

static void test_adopt(void **state) {
        AdoptTracker t = {};
        AdoptOutcome *out = NULL;
        size_t n = 0;
        MoveLog log = {};

        VmReport src_vms[3] = {
                {.name = (char *) "a", .vcpus = 1, .memory_mib = 128, .migrating = true},
                {.name = (char *) "b", .vcpus = 1, .memory_mib = 128, .migrating = true},
                {.name = (char *) "mine", .vcpus = 1, .memory_mib = 128, .migrating = true},
        };
        HostReport src = {
                .name = (char *) "h1",
                .t_usec = 1,
                .cpus = 2,
                .memory_mib = 4096,
                .vms = src_vms,
                .n_vms = 3};
        VmReport dst_vms[1] = {{.name = (char *) "a", .vcpus = 1, .memory_mib = 128}};
        HostReport dst = {
                .name = (char *) "h2",
                .t_usec = 1,
                .cpus = 2,
                .memory_mib = 4096,
                .vms = dst_vms,
                .n_vms = 0};

        /* Seen migrating: a and b adopted, mine is this drsd's. */
        assert_int_equal(adopt_tracker_feed(&t, &src, own_mine, NULL, 10 * USEC, &out, &n), 0);
        assert_int_equal(n, 0);
        assert_null(out);
        assert_int_equal(t.n, 2);
        assert_true(adopt_tracker_has(&t, "a"));
        assert_true(adopt_tracker_has(&t, "b"));
        assert_false(adopt_tracker_has(&t, "mine"));

        /* Still migrating, and another host without them: nothing yet, nothing adopted twice. */
        assert_int_equal(adopt_tracker_feed(&t, &src, own_mine, NULL, 11 * USEC, &out, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(adopt_tracker_feed(&t, &dst, own_mine, NULL, 11 * USEC, &out, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(t.n, 2);

        /* a leaves the source (not yet seen elsewhere): still waiting. b stops migrating on the
         * source: not completed. */
        src_vms[0] = src_vms[1];
        src_vms[0].migrating = false;
        src_vms[1] = src_vms[2];
        src.n_vms = 2;
        assert_int_equal(adopt_tracker_feed(&t, &src, own_mine, NULL, 12 * USEC, &out, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(out[0].vm, "b");
        assert_string_equal(out[0].source, "h1");
        assert_null(out[0].target);
        assert_false(out[0].completed);
        assert_int_equal(out[0].observed_ms, 2000);
        assert_int_equal(move_log_set(&log, out[0].vm, 12 * USEC), 0);
        adopt_outcomes_free(out, n);
        assert_int_equal(t.n, 1);

        /* a shows up on h2: completed, once. */
        dst.n_vms = 1;
        assert_int_equal(adopt_tracker_feed(&t, &dst, own_mine, NULL, 13 * USEC, &out, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(out[0].vm, "a");
        assert_string_equal(out[0].source, "h1");
        assert_string_equal(out[0].target, "h2");
        assert_true(out[0].completed);
        assert_int_equal(out[0].observed_ms, 3000);
        assert_int_equal(move_log_set(&log, out[0].vm, 13 * USEC), 0);
        adopt_outcomes_free(out, n);
        assert_int_equal(t.n, 0);
        assert_int_equal(adopt_tracker_feed(&t, &dst, own_mine, NULL, 14 * USEC, &out, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(adopt_tracker_feed(&t, &src, own_mine, NULL, 14 * USEC, &out, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(t.n, 0);

        /* The cooldown applies: both have a last-move time in the Problem. */
        Policy *p = NULL;
        assert_int_equal(policy_new(&p), 0);
        LeaderHost hosts[3];
        LeaderInput in;
        setup_input(hosts, &in, p, &log);
        hosts[0].report = &src;
        hosts[1].report = &dst;
        in.now_usec = 20 * USEC;
        in.vm_busy = NULL;
        Problem *pr = NULL;
        assert_int_equal(leader_build_problem(&in, &pr), 0);
        size_t seen = 0;
        for (size_t i = 0; i < pr->n_vms; i++) {
                if (streq(pr->vms[i].name, "a")) {
                        assert_int_equal(pr->vms[i].last_moved_s, 7);
                        seen++;
                } else if (streq(pr->vms[i].name, "b")) {
                        assert_int_equal(pr->vms[i].last_moved_s, 8);
                        seen++;
                }
        }
        assert_int_equal(seen, 2);
        problem_free(pr);
        policy_free(p);
        move_log_done(&log);
        adopt_tracker_done(&t);
}

static void test_automation_at(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        AutomationLevel l;
        /* 2024-01-01 was a Monday; 12:30 UTC. */
        time_t monday_1230 = 1704112200;

        assert_int_equal(policy_new(&pol), 0);
        pol->automation.windows = calloc(1, sizeof(AutomationWindow));
        assert_non_null(pol->automation.windows);
        pol->automation.n_windows = 1;
        /* Monday 13:00–14:00 local: manual. */
        pol->automation.windows[0] = (AutomationWindow){
                .days = 1, .start_min = 13 * 60, .end_min = 14 * 60, .level = AUTOMATION_MANUAL};

        assert_int_equal(leader_automation_at(pol, monday_1230, &l), 0);
        assert_int_equal(l, AUTOMATION_FULL);

        /* In Berlin (UTC+1 in January) it is 13:30: inside the window. */
        free(pol->automation.timezone);
        pol->automation.timezone = strdup("Europe/Berlin");
        assert_non_null(pol->automation.timezone);
        if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0) {
                const char *before = getenv("TZ");
                assert_int_equal(leader_automation_at(pol, monday_1230, &l), 0);
                assert_int_equal(l, AUTOMATION_MANUAL);
                assert_true(streq_ptr(getenv("TZ"), before)); /* restored */
        }

        free(pol->automation.timezone);
        pol->automation.timezone = strdup("No/Such_Zone");
        assert_non_null(pol->automation.timezone);
        assert_int_equal(leader_automation_at(pol, monday_1230, &l), -EINVAL);
        assert_int_equal(l, AUTOMATION_FULL); /* UTC used */
        free(pol->automation.timezone);
        pol->automation.timezone = strdup("../etc/passwd");
        assert_non_null(pol->automation.timezone);
        assert_int_equal(leader_automation_at(pol, monday_1230, &l), -EINVAL);
}

static void test_utilization(void **state) {
        double cpu, mem;
        leader_host_utilization(&reports[0], &cpu, &mem);
        assert_true(cpu > 1.01 && cpu < 1.03);
        assert_true(mem > 320.0 / 4096 - 1e-9 && mem < 320.0 / 4096 + 1e-9);
        leader_host_utilization(NULL, &cpu, &mem);
        assert_true(cpu == 0 && mem == 0);
}

/* ---- power commands ---- */

static void test_power_command_for(void **state) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        _cleanup_free_ char *on = NULL, *off = NULL;

        assert_int_equal(policy_new(&pol), 0);
        assert_int_equal(power_command_for(pol, &host_cfg[1], POWER_ON, &on), -ENOENT);
        pol->dpm.commands.power_on = strdup("wake {host} {address}");
        pol->dpm.hosts = calloc(1, sizeof(DpmHostOverride));
        assert_non_null(pol->dpm.hosts);
        pol->dpm.n_hosts = 1;
        pol->dpm.hosts[0].host = strdup("h2");
        pol->dpm.hosts[0].commands.power_off = strdup("off {host}");
        assert_int_equal(power_command_for(pol, &host_cfg[1], POWER_ON, &on), 0);
        assert_string_equal(on, "wake h2 10.0.0.2");
        assert_int_equal(power_command_for(pol, &host_cfg[1], POWER_STANDBY, &off), 0);
        assert_string_equal(off, "off h2");
}

typedef struct Done {
        bool called;
        PowerCommandResult r;
        char output[256];
} Done;

static void on_done(PowerCommand *c, const PowerCommandResult *r, void *userdata) {
        Done *d = userdata;
        d->called = true;
        d->r = *r;
        snprintf(d->output, sizeof(d->output), "%s", r->output);
        d->r.output = d->output;
}

static int run_command(const char *cmd, uint64_t timeout_usec, Done *d) {
        sd_event *e = NULL;
        PowerCommand *c = NULL;
        int k;

        assert_int_equal(sd_event_new(&e), 0);
        k = power_command_start(e, cmd, timeout_usec, on_done, d, &c);
        assert_int_equal(k, 0);
        assert_true(power_command_pid(c) > 0);
        /* Bounded: at most 20 s of loop iterations of 100 ms. */
        for (unsigned i = 0; i < 200 && !d->called; i++)
                assert_true(sd_event_run(e, 100000) >= 0);
        assert_true(d->called);
        assert_false(power_command_running(c));
        power_command_free(c);
        sd_event_unref(e);
        return 0;
}

/* Alive and not a zombie (an orphan's reaper may be slow). */
static bool process_running(pid_t pid) {
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void test_power_command_run(void **state) {
        Done d = {};
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);

        run_command("echo out; echo err >&2; exit 3", 0, &d);
        assert_int_equal(d.r.exit_status, 3);
        assert_false(d.r.timed_out);
        assert_non_null(strstr(d.output, "out\n"));
        assert_non_null(strstr(d.output, "err\n"));

        d = (Done){};
        run_command("true", 0, &d);
        assert_int_equal(d.r.exit_status, 0);

        /* What a command starts in the background outlives it (a power-on that starts a daemon):
         * the command's process group is not killed when its shell exits. */
        d = (Done){};
        run_command("sleep 30 </dev/null >/dev/null 2>&1 & echo \"bg=$!\"", 0, &d);
        assert_int_equal(d.r.exit_status, 0);
        const char *bg = strstr(d.output, "bg=");
        assert_non_null(bg);
        pid_t pid = (pid_t) atoi(bg + 3);
        assert_true(pid > 1);
        usleep(100000);
        assert_true(process_running(pid));
        assert_int_equal(kill(pid, SIGKILL), 0);

        /* Still bounded when the background process keeps the output pipe open. */
        d = (Done){};
        run_command("sleep 30 & echo \"bg=$!\"", 0, &d);
        assert_int_equal(d.r.exit_status, 0);
        bg = strstr(d.output, "bg=");
        assert_non_null(bg);
        pid = (pid_t) atoi(bg + 3);
        assert_true(pid > 1);
        assert_int_equal(kill(pid, SIGKILL), 0);

        d = (Done){};
        run_command("sleep 30", 300000, &d);
        assert_true(d.r.timed_out);
        assert_int_equal(d.r.exit_status, 128 + SIGTERM);
        assert_true(d.r.duration_ms < 5000);

        /* A command that ignores SIGTERM is killed after the grace period... bounded well below 30 s. */
        d = (Done){};
        run_command("trap '' TERM; sleep 8 & wait; sleep 8", 200000, &d);
        assert_true(d.r.timed_out);
}

/* Two passes over the same reports plan the same moves; another placement does not. */
static void test_plans_same_actions(void **state) {
        _cleanup_(policy_freep) Policy *pol1 = NULL;
        _cleanup_(policy_freep) Policy *pol2 = NULL;
        Problem *p1 = NULL, *p2 = NULL;
        Plan *a = NULL, *b = NULL;

        plan_balance(&pol1, &p1, &a);
        plan_balance(&pol2, &p2, &b);
        assert_true(a->n_moves >= 1);
        assert_true(leader_plans_same_actions(p1, a, p2, b));

        /* Another target for the first move: different. */
        size_t to = b->moves[0].to;
        b->moves[0].to =
                (to + 1) % p2->n_hosts == b->moves[0].from ? (to + 2) % p2->n_hosts : (to + 1) % p2->n_hosts;
        assert_false(leader_plans_same_actions(p1, a, p2, b));
        b->moves[0].to = to;
        assert_true(leader_plans_same_actions(p1, a, p2, b));

        /* One move fewer: different. */
        b->n_moves--;
        assert_false(leader_plans_same_actions(p1, a, p2, b));
        b->n_moves++;

        /* A power action more: different. */
        PlanPower pw = {.host = 0, .action = POWER_ON, .wave = 1};
        PlanPower *saved = b->power;
        size_t saved_n = b->n_power;
        b->power = &pw;
        b->n_power = 1;
        assert_false(leader_plans_same_actions(p1, a, p2, b));
        b->power = saved;
        b->n_power = saved_n;

        plan_free(a);
        plan_free(b);
        problem_free(p1);
        problem_free(p2);
}

/* DPM hysteresis: a direction is held until demand has been outside the band that long, as
 * seen by earlier passes; back inside resets it; carried-out power actions restart both. */
static void test_dpm_hysteresis(void **state) {
        Policy *pol = NULL;
        Problem p = {};
        Plan plan = {};
        DpmHysteresis h = {};
        const uint64_t S = 1000000ULL, t0 = 50 * S;

        assert_int_equal(policy_new(&pol), 0);
        pol->dpm.power_on_delay_s = 60;
        pol->dpm.standby_delay_s = 600;

        /* The first pass above the band is held, and starts the clock. */
        leader_dpm_hold(&h, pol, t0, &p);
        assert_true(p.dpm_hold_power_on);
        assert_true(p.dpm_hold_standby);
        plan.dpm_wants_power_on = true;
        leader_dpm_note(&h, &plan, false, t0);
        assert_int_equal(h.above_since_usec, t0);
        assert_int_equal(h.below_since_usec, 0);

        /* 59 s later still held; 60 s later not. A later pass does not move the start. */
        leader_dpm_hold(&h, pol, t0 + 59 * S, &p);
        assert_true(p.dpm_hold_power_on);
        leader_dpm_note(&h, &plan, false, t0 + 59 * S);
        assert_int_equal(h.above_since_usec, t0);
        leader_dpm_hold(&h, pol, t0 + 60 * S, &p);
        assert_false(p.dpm_hold_power_on);
        assert_true(p.dpm_hold_standby);

        /* One pass back inside the band: the clock starts over. */
        plan.dpm_wants_power_on = false;
        leader_dpm_note(&h, &plan, false, t0 + 61 * S);
        assert_int_equal(h.above_since_usec, 0);
        leader_dpm_hold(&h, pol, t0 + 200 * S, &p);
        assert_true(p.dpm_hold_power_on);

        /* Standby: held until demand has been sampled for standby_delay since the first pass. */
        leader_dpm_sample(&h, t0 + 100 * S, 1.0, 100);
        leader_dpm_hold(&h, pol, t0 + 100 * S, &p);
        assert_true(p.dpm_hold_standby);
        leader_dpm_sample(&h, t0 + 699 * S, 1.0, 100);
        leader_dpm_hold(&h, pol, t0 + 699 * S, &p);
        assert_true(p.dpm_hold_standby);
        leader_dpm_sample(&h, t0 + 700 * S, 1.0, 100);
        leader_dpm_hold(&h, pol, t0 + 700 * S, &p);
        assert_false(p.dpm_hold_standby);

        /* A plan with a power action: noted but not carried out changes nothing. A standby
         * carried out restarts the power-on clock and keeps the standby window (the
         * consolidation episode goes on); a power-on restarts the window too. */
        plan.dpm_wants_standby = true;
        PlanPower pw = {.host = 0, .action = POWER_STANDBY, .wave = 1};
        plan.power = &pw;
        plan.n_power = 1;
        leader_dpm_note(&h, &plan, false, t0 + 700 * S);
        assert_int_equal(h.below_since_usec, t0 + 700 * S);
        h.above_since_usec = t0 + 650 * S;
        leader_dpm_note(&h, &plan, true, t0 + 700 * S);
        assert_int_equal(h.above_since_usec, 0);
        assert_int_equal(h.n_samples, 3);
        leader_dpm_sample(&h, t0 + 710 * S, 1.0, 100);
        leader_dpm_hold(&h, pol, t0 + 710 * S, &p);
        assert_false(p.dpm_hold_standby);
        pw.action = POWER_ON;
        h.above_since_usec = t0 + 705 * S;
        leader_dpm_note(&h, &plan, true, t0 + 740 * S);
        assert_int_equal(h.below_since_usec, 0);
        assert_int_equal(h.above_since_usec, 0);
        assert_int_equal(h.n_samples, 0);
        leader_dpm_sample(&h, t0 + 750 * S, 1.0, 100);
        leader_dpm_hold(&h, pol, t0 + 750 * S, &p);
        assert_true(p.dpm_hold_standby);
        leader_dpm_sample(&h, t0 + 1340 * S, 1.0, 100);
        leader_dpm_hold(&h, pol, t0 + 1340 * S, &p);
        assert_false(p.dpm_hold_standby);
        plan.power = NULL;
        plan.n_power = 0;

        /* A delay of 0 never holds, even on the first pass. */
        pol->dpm.power_on_delay_s = 0;
        pol->dpm.standby_delay_s = 0;
        h = (DpmHysteresis){};
        leader_dpm_hold(&h, pol, t0, &p);
        assert_false(p.dpm_hold_power_on);
        assert_false(p.dpm_hold_standby);
        policy_free(pol);
}

/* DPM's standby statistic: the dpm.standby_percentile of the demand sampled over the last
 * standby_delay — a short blip does not count, a burst longer than the rest of the window does;
 * older samples leave the window; a full ring counts as covered. */
static void test_dpm_standby_statistic(void **state) {
        Policy *pol = NULL;
        Problem p = {};
        DpmHysteresis *h = calloc(1, sizeof(DpmHysteresis));
        const uint64_t S = 1000000ULL, t0 = 1000 * S;

        assert_non_null(h);
        assert_int_equal(policy_new(&pol), 0);
        pol->dpm.standby_delay_s = 600;
        pol->dpm.standby_percentile = 0.9;

        /* No sample yet: held, no statistic. */
        leader_dpm_hold(h, pol, t0, &p);
        assert_true(p.dpm_hold_standby);
        assert_false(p.dpm_standby_demand.set);

        /* 61 passes 10 s apart at 2 cores; one pass (a blip) at 10 cores. */
        for (unsigned i = 0; i <= 60; i++)
                leader_dpm_sample(h, t0 + i * 10 * S, i == 30 ? 10.0 : 2.0, 1000 + i);
        leader_dpm_hold(h, pol, t0 + 600 * S, &p);
        assert_false(p.dpm_hold_standby);
        assert_true(p.dpm_standby_demand.set);
        assert_int_equal(p.dpm_standby_demand.samples, 61);
        assert_int_equal(p.dpm_standby_demand.window_s, 600);
        assert_float_equal(p.dpm_standby_demand.cpu, 2.0, 1e-9);
        /* memory: nearest rank ceil(0.9 × 61) = 55th smallest of 1000..1060 */
        assert_float_equal(p.dpm_standby_demand.memory_mib, 1054, 1e-9);

        /* A burst of 8 passes (more than 10 % of the window): the statistic is the burst. */
        for (unsigned i = 61; i <= 68; i++)
                leader_dpm_sample(h, t0 + i * 10 * S, 10.0, 1000);
        leader_dpm_hold(h, pol, t0 + 680 * S, &p);
        assert_float_equal(p.dpm_standby_demand.cpu, 10.0, 1e-9);
        /* It leaves the window standby_delay later. */
        for (unsigned i = 69; i <= 130; i++)
                leader_dpm_sample(h, t0 + i * 10 * S, 2.0, 1000);
        leader_dpm_hold(h, pol, t0 + 1300 * S, &p);
        assert_float_equal(p.dpm_standby_demand.cpu, 2.0, 1e-9);
        assert_int_equal(p.dpm_standby_demand.samples, 61);

        /* Percentile 100 %: any pass counts. */
        pol->dpm.standby_percentile = 1.0;
        leader_dpm_sample(h, t0 + 1310 * S, 3.0, 1000);
        leader_dpm_hold(h, pol, t0 + 1310 * S, &p);
        assert_float_equal(p.dpm_standby_demand.cpu, 3.0, 1e-9);

        /* A ring full of passes closer together than the delay counts as covered. */
        *h = (DpmHysteresis){};
        pol->dpm.standby_delay_s = 7 * 86400;
        for (unsigned i = 0; i < DPM_SAMPLES_MAX + 5; i++)
                leader_dpm_sample(h, t0 + i * S, 1.0, 10);
        leader_dpm_hold(h, pol, t0 + (DPM_SAMPLES_MAX + 4) * S, &p);
        assert_false(p.dpm_hold_standby);
        assert_int_equal(p.dpm_standby_demand.samples, DPM_SAMPLES_MAX);

        /* Delay 0: this pass's demand, never held. */
        *h = (DpmHysteresis){};
        pol->dpm.standby_delay_s = 0;
        leader_dpm_sample(h, t0, 5.0, 10);
        leader_dpm_sample(h, t0 + S, 4.0, 10);
        leader_dpm_hold(h, pol, t0 + S, &p);
        assert_false(p.dpm_hold_standby);
        assert_float_equal(p.dpm_standby_demand.cpu, 4.0, 1e-9);
        assert_int_equal(p.dpm_standby_demand.samples, 1);

        free(h);
        policy_free(pol);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dpm_hysteresis),
                cmocka_unit_test(test_dpm_standby_statistic),
                cmocka_unit_test(test_plans_same_actions),
                cmocka_unit_test(test_build_problem),
                cmocka_unit_test(test_build_incoming),
                cmocka_unit_test(test_build_modes),
                cmocka_unit_test(test_build_local_disks),
                cmocka_unit_test(test_plan_and_run),
                cmocka_unit_test(test_run_skips),
                cmocka_unit_test(test_move_log_history),
                cmocka_unit_test(test_automation_at),
                cmocka_unit_test(test_utilization),
                cmocka_unit_test(test_power_command_for),
                cmocka_unit_test(test_power_command_run),
                cmocka_unit_test(test_adopt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
