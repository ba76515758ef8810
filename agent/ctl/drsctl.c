/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* drsctl: the drs command line. A thin main over libpolicy and libsolver.
 *
 * Verbs come from a table (name, argument counts, function), as in systemctl. Most talk to drsd
 * over its control socket (protocol_call); `policy check`, `plan --snapshot` and
 * `place --snapshot` are offline: they read files, never talk to a daemon. Verbs return the process exit
 * status (see ExitStatus); helpers return negative errno. Errors go to stderr as "drsctl: FILE:LINE:COLUMN:
 * message". */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "domxml.h"
#include "macro.h"
#include "policy-load.h"
#include "policy.h"
#include "protocol.h"
#include "snapshot.h"
#include "solver.h"
#include "waves.h"

#ifndef DRS_VERSION
#define DRS_VERSION "unknown"
#endif

typedef enum ExitStatus {
        EXIT_OK = 0,        /* done; a plan with nothing to do is fine too */
        EXIT_PARTIAL = 1,   /* a plan was made, but mandatory work is left: unplaceable VMs */
        EXIT_BAD_INPUT = 2, /* bad command line, unreadable or invalid file */
        EXIT_INTERNAL = 3,  /* out of memory, solver failure, cannot write the output */
} ExitStatus;

#define ARGS_ANY UINT_MAX

typedef struct Verb {
        const char *name;
        unsigned min_args;                  /* positional arguments after the verb name */
        unsigned max_args;                  /* ARGS_ANY = no limit */
        int (*run)(int argc, char *argv[]); /* argv[0] is the verb name; returns an ExitStatus */
} Verb;

/* Global options. Option strings point into argv, which outlives everything. */
static bool arg_json = false;
static const char *arg_snapshot = NULL;
static char **arg_policies = NULL; /* owned strv, in command-line order */
static bool arg_greedy_only = false;
static double arg_time_limit_s = 0; /* 0 = the solver's default */
static const char *arg_vm = NULL;
static const char *arg_socket = NULL; /* NULL = $DRS_SOCKET or DEFAULT_SOCKET */
static bool arg_dry_run = false;
static const char *arg_since = NULL;
static const char *arg_to = NULL; /* migrate --to HOST */
static const char *arg_to_uri = NULL,
                  *arg_to_muri = NULL;  /* migrate --to-uri URI [--to-management-uri URI] */
static bool arg_all = false;            /* rollout start --all */
static const char *arg_group = NULL;    /* rollout start --group G */
static const char *arg_command = NULL;  /* rollout start --command CMD */
static const char *arg_health = NULL;   /* rollout start --health CMD */
static const char *arg_timeout = NULL;  /* rollout start --timeout DURATION */
static const char *arg_parallel = NULL; /* rollout start --parallel N|auto */
static bool arg_in_windows = false;     /* rollout start --in-windows */
static const char *arg_pool = NULL;     /* move-storage --pool POOL */
static const char *arg_disk = NULL;     /* move-storage --disk TARGET */
static bool arg_copy_storage = false, arg_remove_source = false, arg_force = false, arg_no_wait = false;

#define DEFAULT_SOCKET "/run/drsd/drsd.sock"
#define CALL_TIMEOUT_USEC (60ULL * 1000000ULL)

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

static void policy_error_clearp(PolicyError *e) {
        policy_error_clear(e);
}

static int help(void) {
        printf("drsctl [OPTIONS…] COMMAND …\n"
               "\n"
               "Query and control drs, the load balancer and power manager for libvirt/KVM clusters.\n"
               "\n"
               "Commands (talk to drsd over its socket):\n"
               "  status                      Hosts (state, CPU and memory bars, VMs), imbalance, the plan\n"
               "                              and migrations in flight, what blocks a maintenance\n"
               "  hosts                       The hosts\n"
               "  vms                         The running VMs with their measured demand\n"
               "  plan                        What drsd would do now, with reasons (a dry run)\n"
               "  apply                       Run the last recommendations (automation manual)\n"
               "  evacuate HOST [--dry-run]   Empty HOST for maintenance (dry run: only show the plan)\n"
               "  exit-maintenance HOST       Return HOST to service\n"
               "  power-clear HOST            Clear power-on-failed (DPM may choose HOST again)\n"
               "  reset-feedback VM           Forget what VM's moves realized (its cooldown factor is 1 again)\n"
               "  place VM.xml                Best host for a new VM (libvirt domain XML)\n"
               "  history [--since TIME]      What drs decided and did (TIME: epoch seconds, -1h, -30m)\n"
               "  reload                      Re-read drsd.yaml and the policy\n"
               "  migrate VM --to HOST [--copy-storage [--remove-source]] [--dry-run]\n"
               "                              Live-migrate VM to HOST now (copying the disks HOST cannot\n"
               "                              see with --copy-storage) and wait for the outcome\n"
               "  migrate VM --to-uri URI [--to-management-uri URI] [--copy-storage …]\n"
               "                              The same to a libvirt host outside the cluster, with the\n"
               "                              policy's migration.remote tunables\n"
               "  move-storage VM --pool POOL [--disk TARGET] [--remove-source] [--force]\n"
               "                              Move VM's disks (or one) live to another pool of its host\n"
               "  rollout start (HOST… | --all | --group GROUP) --command CMD [--health CMD]\n"
               "                [--timeout DURATION] [--parallel N|auto] [--in-windows] [--dry-run]\n"
               "                              Rolling maintenance: evacuate each host, run CMD on it once\n"
               "                              it runs no VM, wait for it to come back, next host(s)\n"
               "  rollout status | watch | pause | resume | abort\n"
               "                              The rollout's progress (watch: until it ends or pauses)\n"
               "\n"
               "Commands (offline: they read files, no daemon needed):\n"
               "  policy check FILE…          Load policy files in order (later ones overlay earlier\n"
               "                              ones), validate, print the effective policy\n"
               "  plan --snapshot FILE        Run the solver on a cluster snapshot, print the plan\n"
               "  place --snapshot FILE (VM.yaml | --vm SPEC)\n"
               "                              Choose a host for a new VM\n"
               "  rollout start --dry-run --snapshot FILE (HOST… | --all | --group G) [--parallel N|auto]\n"
               "                              The rollout's waves on a snapshot, each checked\n"
               "\n"
               "Options:\n"
               "  -h --help                   Show this help\n"
               "     --socket PATH            drsd's control socket (default $DRS_SOCKET or " DEFAULT_SOCKET
               ")\n"
               "     --dry-run                evacuate: show the plan, change nothing\n"
               "     --since TIME             history: events since TIME\n"
               "     --to HOST                migrate: the destination host\n"
               "     --to-uri URI             migrate: a libvirt host outside the cluster (what the\n"
               "                              source's libvirtd dials, e.g. qemu+tls://dr1/system)\n"
               "     --to-management-uri URI  migrate --to-uri: how drsd reaches it (default: URI)\n"
               "     --copy-storage           migrate: copy the disks the destination cannot see\n"
               "     --remove-source          migrate, move-storage: remove the old volumes afterwards\n"
               "     --pool POOL              move-storage: the destination pool\n"
               "     --disk TARGET            move-storage: only this disk (vda, …)\n"
               "     --force                  move-storage: skip the free-space check\n"
               "     --no-wait                migrate, move-storage: do not wait for the outcome\n"
               "     --all, --group GROUP     rollout start: every host, or a host group's\n"
               "     --command CMD            rollout start: the command per host ({host} {address} {mac} {bmc})\n"
               "     --health CMD             rollout start: a check that must pass once the host is back\n"
               "     --timeout DURATION       rollout start: per host and step (default 30m)\n"
               "     --parallel N|auto        rollout start: hosts per wave (auto: as many as fit)\n"
               "     --in-windows             rollout start: new hosts only inside the automation windows\n"
               "     --version                Show the version\n"
               "     --json                   Print JSON instead of a human table\n"
               "     --snapshot FILE          Cluster snapshot (YAML; JSON is accepted)\n"
               "     --policy FILE            Overlay a policy file on the snapshot's policy (repeatable)\n"
               "     --greedy-only            Use the greedy heuristic only, skip the optimizer\n"
               "     --time-limit SECONDS     Safety limit on the optimizer's wall time\n"
               "     --vm SPEC                The new VM: name=N,vcpus=N,memory_mib=N[,cpu_demand=CORES]\n"
               "                              [,memory_demand_mib=N][,groups=G1+G2]\n"
               "\n"
               "Exit status:\n"
               "  0  success (for plan: a plan was made, possibly with nothing to do)\n"
               "  1  partial or refused: mandatory work cannot be done (a VM fits nowhere; place found\n"
               "     no host; evacuate leaves VMs behind), or drsd refused (nothing to apply, wrong host\n"
               "     state, permission denied)\n"
               "  2  bad input: wrong usage, unreadable or invalid file (errors as FILE:LINE:COLUMN),\n"
               "     unknown host\n"
               "  3  internal error, or drsd unreachable: out of memory, solver failure, no socket\n");
        return EXIT_OK;
}

/* What a failed helper means for the exit status: errors about the input (its content, or a file
 * that cannot be read) are bad input; anything else is internal. */
static int exit_status_from_errno(int r) {
        switch (-r) {
        case EINVAL:
        case EBADMSG:
        case ERANGE:
        case E2BIG:
        case EFBIG:
        case ENOENT:
        case ENOTDIR:
        case EISDIR:
        case ELOOP:
        case ENAMETOOLONG:
        case EACCES:
        case EPERM:
                return EXIT_BAD_INPUT;
        default:
                return EXIT_INTERNAL;
        }
}

/* Reports a loader error (or, when the loader did not fill one in, errno) for file. Returns the
 * exit status that goes with it. */
static int report_error(int r, const char *file, const PolicyError *e) {
        if (e && e->message) {
                const char *f = e->file ?: file;
                if (f && e->line > 0)
                        fprintf(stderr, "drsctl: %s:%u:%u: %s\n", f, e->line, e->column, e->message);
                else if (f)
                        fprintf(stderr, "drsctl: %s: %s\n", f, e->message);
                else
                        fprintf(stderr, "drsctl: %s\n", e->message);
        } else if (file)
                fprintf(stderr, "drsctl: %s: %s\n", file, strerror(-r));
        else
                fprintf(stderr, "drsctl: %s\n", strerror(-r));

        return exit_status_from_errno(r);
}

/* Writes s to stdout, adding a final newline if it lacks one. */
static int print_output(const char *s) {
        size_t n = strlen(s);

        if (fputs(s, stdout) == EOF)
                return EXIT_INTERNAL;
        if (n > 0 && s[n - 1] != '\n' && fputc('\n', stdout) == EOF)
                return EXIT_INTERNAL;
        if (fflush(stdout) != 0) {
                fprintf(stderr, "drsctl: cannot write output: %m\n");
                return EXIT_INTERNAL;
        }
        return EXIT_OK;
}

static uint64_t clock_monotonic_us(void *userdata) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
}

static int verb_policy_check(int argc, char *argv[]) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(policy_error_clearp) PolicyError e = {};
        _cleanup_free_ char *out = NULL;
        int r;

        /* argv[0] is "check"; the files follow. */
        r = policy_load_files(&argv[1], &p, &e);
        if (r < 0)
                return report_error(r, argc == 2 ? argv[1] : NULL, &e);

        r = arg_json ? policy_to_json(p, &out) : policy_to_yaml(p, &out);
        if (r < 0)
                return report_error(r, NULL, NULL);

        return print_output(out);
}

static const Verb policy_verbs[] = {
        {"check", 1, ARGS_ANY, verb_policy_check},
};

static int dispatch(const Verb *verbs, size_t n_verbs, const char *what, int argc, char *argv[]);

static int verb_policy(int argc, char *argv[]) {
        return dispatch(policy_verbs, ELEMENTSOF(policy_verbs), "policy", argc - 1, argv + 1);
}

/* The solver takes bytes: the offline commands read the files here. */
static int load_snapshot_file(const char *path, Problem **ret, PolicyError *reterr) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = policy_read_file_bounded(path, SNAPSHOT_MAX_INPUT, &buf, &len, reterr);
        if (r < 0)
                return r;
        return snapshot_parse_string(path, buf, len, ret, reterr);
}

static int load_vm_file(const char *path, SolverVm *ret, PolicyError *reterr) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = policy_read_file(path, &buf, &len, reterr);
        if (r < 0)
                return r;
        return snapshot_parse_vm_string(path, buf, len, ret, reterr);
}

/* Loads the snapshot and overlays the --policy files on its policy. */
static int load_problem(Problem **ret) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(policy_error_clearp) PolicyError e = {};
        int r;

        if (!arg_snapshot) {
                fprintf(stderr, "drsctl: --snapshot FILE is required\n");
                return EXIT_BAD_INPUT;
        }

        r = load_snapshot_file(arg_snapshot, &p, &e);
        if (r < 0)
                return report_error(r, arg_snapshot, &e);

        if (arg_policies) {
                r = policy_overlay_files(p->policy, arg_policies, &e);
                if (r < 0)
                        return report_error(r, NULL, &e);
                p->automation = p->policy->automation.level;
        }

        *ret = TAKE_PTR(p);
        return EXIT_OK;
}

static void solver_options_init(SolverOptions *o) {
        *o = (SolverOptions){
                .time_limit_s = arg_time_limit_s,
                .clock_us = clock_monotonic_us,
                .greedy_only = arg_greedy_only,
        };
}

static int print_plan(const Problem *p, const Plan *plan) {
        _cleanup_free_ char *out = NULL;
        int r;

        r = arg_json ? plan_to_json(p, plan, &out) : plan_to_text(p, plan, &out);
        if (r < 0)
                return report_error(r, NULL, NULL);
        return print_output(out);
}

static int verb_plan_online(void);
static int verb_place_online(const char *file);

static int verb_plan(int argc, char *argv[]) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        SolverOptions opts;
        uint64_t start;
        int r;

        if (!arg_snapshot)
                return verb_plan_online();

        r = load_problem(&p);
        if (r != EXIT_OK)
                return r;

        solver_options_init(&opts);
        start = clock_monotonic_us(NULL);
        r = solver_plan(p, &opts, &plan);
        if (r < 0) {
                fprintf(stderr, "drsctl: solver failed: %s\n", strerror(-r));
                return EXIT_INTERNAL;
        }
        plan->solve_ms = (double) (clock_monotonic_us(NULL) - start) / 1000.0;

        r = print_plan(p, plan);
        if (r != EXIT_OK)
                return r;
        return plan->status == PLAN_PARTIAL ? EXIT_PARTIAL : EXIT_OK;
}

/* --vm SPEC parsing: "name=web09,vcpus=4,memory_mib=8192,cpu_demand=1.5,groups=web+db". */

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_nonneg_double(const char *s, double *ret) {
        char *end;
        double v;

        if (!s || *s == '\0' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void solver_vm_done(SolverVm *vm) {
        free(vm->name);
        strv_free(vm->groups);
        *vm = (SolverVm){};
}

static int parse_vm_spec(const char *spec, SolverVm *ret) {
        _cleanup_(solver_vm_done) SolverVm vm = {.host = -1, .last_moved_s = -1};
        _cleanup_free_ char *copy = NULL;
        bool have_vcpus = false, have_memory = false, have_memory_demand = false, have_cpu_demand = false;
        char *rest;

        copy = strdup(spec);
        if (!copy)
                return -ENOMEM;

        rest = copy;
        for (char *item; (item = strsep(&rest, ","));) {
                char *value = strchr(item, '=');
                uint64_t u;
                int r;

                if (!value) {
                        fprintf(stderr, "drsctl: --vm: expected KEY=VALUE, got '%s'\n", item);
                        return -EINVAL;
                }
                *value++ = '\0';

                if (streq(item, "name")) {
                        if (*value == '\0') {
                                fprintf(stderr, "drsctl: --vm: empty name\n");
                                return -EINVAL;
                        }
                        free(vm.name);
                        vm.name = strdup(value);
                        if (!vm.name)
                                return -ENOMEM;
                } else if (streq(item, "vcpus")) {
                        if (parse_u64(value, &u) < 0 || u == 0 || u > 4096) {
                                fprintf(stderr, "drsctl: --vm: vcpus '%s' is not a number in 1..4096\n",
                                        value);
                                return -EINVAL;
                        }
                        vm.vcpus = (unsigned) u;
                        have_vcpus = true;
                } else if (streq(item, "memory_mib") || streq(item, "memory_demand_mib")) {
                        if (parse_u64(value, &u) < 0 || u == 0 || u > (UINT64_C(1) << 40)) {
                                fprintf(stderr, "drsctl: --vm: %s '%s' is not a positive number of MiB\n",
                                        item, value);
                                return -EINVAL;
                        }
                        if (streq(item, "memory_mib")) {
                                vm.memory_mib = u;
                                have_memory = true;
                        } else {
                                vm.memory_demand_mib = u;
                                have_memory_demand = true;
                        }
                } else if (streq(item, "cpu_demand")) {
                        if (parse_nonneg_double(value, &vm.cpu_demand) < 0) {
                                fprintf(stderr,
                                        "drsctl: --vm: cpu_demand '%s' is not a number of cores >= 0\n",
                                        value);
                                return -EINVAL;
                        }
                        have_cpu_demand = true;
                } else if (streq(item, "groups")) {
                        for (char *g; (g = strsep(&value, "+"));) {
                                if (*g == '\0')
                                        continue;
                                r = strv_extend(&vm.groups, g);
                                if (r < 0)
                                        return r;
                        }
                } else {
                        fprintf(stderr,
                                "drsctl: --vm: unknown key '%s', expected name, vcpus, memory_mib, cpu_demand, "
                                "memory_demand_mib or groups\n",
                                item);
                        return -EINVAL;
                }
        }

        if (!vm.name || !have_vcpus || !have_memory) {
                fprintf(stderr, "drsctl: --vm: name, vcpus and memory_mib are required\n");
                return -EINVAL;
        }
        /* Without measurements, assume the VM uses what it is configured with. */
        if (!have_cpu_demand)
                vm.cpu_demand = vm.vcpus;
        if (!have_memory_demand)
                vm.memory_demand_mib = vm.memory_mib;

        *ret = vm;
        vm = (SolverVm){};
        return 0;
}

static int verb_place(int argc, char *argv[]) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_(solver_vm_done) SolverVm vm = {};
        SolverOptions opts;
        uint64_t start;
        int r;

        if (!arg_snapshot && !arg_vm) {
                if (argc != 2) {
                        fprintf(stderr,
                                "drsctl: place needs VM.xml (or --snapshot FILE with VM.yaml or --vm SPEC)\n");
                        return EXIT_BAD_INPUT;
                }
                return verb_place_online(argv[1]);
        }
        if ((argc > 1) == !!arg_vm) {
                fprintf(stderr, "drsctl: place needs exactly one of VM.yaml and --vm SPEC\n");
                return EXIT_BAD_INPUT;
        }

        r = load_problem(&p);
        if (r != EXIT_OK)
                return r;

        if (arg_vm) {
                r = parse_vm_spec(arg_vm, &vm);
                if (r < 0)
                        return exit_status_from_errno(r);
        } else {
                _cleanup_(policy_error_clearp) PolicyError e = {};

                r = load_vm_file(argv[1], &vm, &e);
                if (r < 0)
                        return report_error(r, argv[1], &e);
        }

        solver_options_init(&opts);
        start = clock_monotonic_us(NULL);
        r = solver_place(p, &vm, &opts, &plan);
        if (r < 0) {
                fprintf(stderr, "drsctl: solver failed: %s\n", strerror(-r));
                return EXIT_INTERNAL;
        }
        plan->solve_ms = (double) (clock_monotonic_us(NULL) - start) / 1000.0;

        r = print_plan(p, plan);
        if (r != EXIT_OK)
                return r;
        return plan->placement_host >= 0 ? EXIT_OK : EXIT_PARTIAL;
}

/* ---- talking to drsd ------------------------------------------------------------------------ */

static const char *socket_path(void) {
        const char *e = getenv("DRS_SOCKET");
        return arg_socket ?: (e && *e ? e : DEFAULT_SOCKET);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Calls method; on success *ret gets the reply parameters (a new reference). On an error reply
 * prints it and returns its exit status; transport failures are EXIT_INTERNAL. */
static int call(const char *method, json_object *params, json_object **ret) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        json_object *rp = NULL;
        const char *error = NULL, *message = NULL, *err = NULL;
        int r;

        r = protocol_call(socket_path(), -1, method, params, CALL_TIMEOUT_USEC, &msg);
        if (r < 0) {
                fprintf(stderr, "drsctl: cannot talk to drsd at '%s': %s\n", socket_path(), strerror(-r));
                return EXIT_INTERNAL;
        }
        r = protocol_reply_parse(msg, &rp, &error, &message, &err);
        if (r < 0) {
                fprintf(stderr, "drsctl: malformed reply from drsd: %s\n", err ?: "unknown");
                return EXIT_INTERNAL;
        }
        if (error) {
                if (arg_json) {
                        const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PRETTY);
                        fprintf(stderr, "%s\n", s ? s : "");
                }
                fprintf(stderr, "drsctl: %s: %s\n", error, message ?: "(no message)");
                if (streq(error, PROTOCOL_ERROR_INVALID_PARAMETER) ||
                    streq(error, PROTOCOL_ERROR_NO_SUCH_HOST) ||
                    streq(error, PROTOCOL_ERROR_INVALID_REQUEST) ||
                    streq(error, PROTOCOL_ERROR_POLICY_INVALID) ||
                    streq(error, PROTOCOL_ERROR_CONFIG_INVALID) ||
                    streq(error, PROTOCOL_ERROR_METHOD_NOT_FOUND))
                        return EXIT_BAD_INPUT;
                if (streq(error, PROTOCOL_ERROR_INTERNAL))
                        return EXIT_INTERNAL;
                return EXIT_PARTIAL; /* refused: permission, state, nothing to apply, busy */
        }
        *ret = json_object_get(rp);
        return EXIT_OK;
}

static int print_json(json_object *o) {
        const char *s =
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        return print_output(s ? s : "null");
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v))
                return 0;
        return json_object_get_int64(v);
}

static double jdouble(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v))
                return 0;
        return json_object_get_double(v);
}

static bool jbool(json_object *o, const char *key) {
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static json_object *jget(json_object *o, const char *key) {
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

#define BAR_WIDTH 20

/* "[#######-------------]  35%" */
static void bar(char buf[static BAR_WIDTH + 8], double u) {
        double c = u < 0 ? 0 : u > 1 ? 1 : u;
        int n = (int) lround(c * BAR_WIDTH);
        buf[0] = '[';
        for (int i = 0; i < BAR_WIDTH; i++)
                buf[1 + i] = i < n ? '#' : '-';
        (void) snprintf(buf + 1 + BAR_WIDTH, 7, "]%4.0f%%", u * 100.0);
}

static void print_hosts_table(json_object *hosts) {
        printf("%-10s %-21s %-28s %-28s %4s\n", "HOST", "STATE", "CPU", "MEMORY", "VMS");
        for (size_t i = 0; i < json_object_array_length(hosts); i++) {
                json_object *h = json_object_array_get_idx(hosts, i);
                char cb[BAR_WIDTH + 8], mb[BAR_WIDTH + 8], state[64];
                const char *st = jstr(h, "state") ?: "?";
                bar(cb, jdouble(h, "cpu_utilization"));
                bar(mb, jdouble(h, "memory_utilization"));
                (void) snprintf(
                        state, sizeof(state), "%s%s%s", st,
                        jbool(h, "stale") && streq(st, "up") ? " (stale)" : "",
                        jbool(h, "draining") ? " (draining)" : "");
                printf("%-10s %-21s %-28s %-28s %4" PRId64 "\n", jstr(h, "name") ?: "?", state,
                       jbool(h, "reported") ? cb : "-", jbool(h, "reported") ? mb : "-", jint(h, "vms"));
                if (jstr(h, "power_action"))
                        printf("           power action in progress: %s\n", jstr(h, "power_action"));
                if (jbool(h, "stale") && jstr(h, "last_error") && streq(st, "up"))
                        printf("           last error: %s\n", jstr(h, "last_error"));
                json_object *bl = jget(h, "blockers");
                for (size_t j = 0; bl && j < json_object_array_length(bl); j++) {
                        json_object *b = json_object_array_get_idx(bl, j);
                        printf("           blocked: VM '%s' cannot leave: %s\n", jstr(b, "vm") ?: "?",
                               jstr(b, "why") ?: "?");
                }
        }
}

static void print_run(const char *title, json_object *run) {
        if (!run)
                return;
        json_object *moves = jget(run, "moves");
        printf("%s %" PRId64 ": wave %" PRId64 "/%" PRId64 ", %" PRId64 " running, %" PRId64
               " done, %" PRId64 " failed%s\n",
               title, jint(run, "id"), jint(run, "wave"), jint(run, "waves"), jint(run, "running"),
               jint(run, "done"), jint(run, "failed"), jbool(run, "mandatory") ? " (mandatory)" : "");
        for (size_t i = 0; moves && i < json_object_array_length(moves); i++) {
                json_object *mv = json_object_array_get_idx(moves, i);
                printf("  %-16s %-8s -> %-8s wave %-2" PRId64 " %-12s gain %7.4f  %s\n",
                       jstr(mv, "vm") ?: "?", jstr(mv, "from") ?: "?", jstr(mv, "to") ?: "?",
                       jint(mv, "wave"), jstr(mv, "reason") ?: "?", jdouble(mv, "gain"),
                       jstr(mv, "state") ?: "?");
        }
}

static int verb_status(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call("drs.Status", NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        json_object *pol = jget(o, "policy"), *passes = jget(o, "passes"), *cl = jget(o, "cluster");
        printf("drsd %s (%s), pid %" PRId64 "; automation %s; balance every %" PRId64 " s (%" PRId64
               " pass%s so far)\n\n",
               jstr(o, "version") ?: "?", jstr(o, "mode") ?: "?", jint(o, "pid"),
               jstr(cl, "automation") ?: jstr(pol, "automation") ?: "?", jint(passes, "interval_s"),
               jint(passes, "count"), jint(passes, "count") == 1 ? "" : "es");
        json_object *cs = jget(o, "corosync");
        if (cs) {
                json_object *mem = jget(cs, "members");
                printf("Cluster: this is host %s (node %" PRId64 "), %s; ", jstr(cs, "host") ?: "?",
                       jint(cs, "nodeid"),
                       !jbool(cs, "connected") ? "NOT connected to corosync"
                       : jbool(cs, "quorate")  ? "quorate"
                                               : "NOT quorate");
                if (jint(cs, "leader") > 0)
                        printf("leader %s (node %" PRId64 "), term %" PRId64 "%s\n",
                               jstr(cs, "leader_host") ?: "?", jint(cs, "leader"), jint(cs, "term"),
                               jbool(cs, "is_leader") ? " — this drsd" : "");
                else
                        printf("no leader (%s)\n", jstr(cs, "waiting_for") ?: "election in progress");
                printf("Members:");
                for (size_t i = 0; mem && i < json_object_array_length(mem); i++) {
                        json_object *x = json_object_array_get_idx(mem, i);
                        printf(" %s(node %" PRId64 ")", jstr(x, "host") ?: "?", jint(x, "nodeid"));
                }
                for (size_t i = 0; mem && i < json_object_array_length(mem); i++) {
                        json_object *x = json_object_array_get_idx(mem, i);
                        if (jstr(x, "older"))
                                printf("\nWarning: %s runs %s", jstr(x, "host") ?: "?", jstr(x, "older"));
                }
                json_object *vq = jget(cs, "votequorum"), *fl = jget(vq, "flags");
                if (vq) {
                        printf("\nQuorum: %" PRId64 " of %" PRId64
                               " expected votes present, votequorum needs %" PRId64,
                               jint(vq, "total_votes"), jint(vq, "expected_votes"), jint(vq, "quorum"));
                        for (size_t i = 0; fl && i < json_object_array_length(fl); i++)
                                printf("%s%s", i == 0 ? " (" : ", ",
                                       json_object_get_string(json_object_array_get_idx(fl, i)));
                        printf("%s; DPM keeps it with %" PRId64 " host failure(s) tolerated",
                               fl && json_object_array_length(fl) > 0 ? ")" : "",
                               jint(vq, "tolerate_failures"));
                        if (jbool(vq, "dpm_limited"))
                                printf("\nDPM: standby held back by quorum (%" PRId64
                                       " votes stay powered; dpm.tolerate_failures)",
                                       jint(vq, "votes_after_plan"));
                }
                printf("\n\n");
        }
        print_hosts_table(jget(o, "hosts"));
        double th = jdouble(cl, "threshold");
        printf("\nCluster imbalance: CPU %.4f, memory %.4f", jdouble(cl, "cpu_imbalance"),
               jdouble(cl, "memory_imbalance"));
        if (th >= 0)
                printf(" (balance acts above %.4f, aggressiveness %" PRId64 ")", th,
                       jint(pol, "aggressiveness"));
        printf("\nMigrations: %" PRId64 " running, %" PRId64 " queued; %" PRId64 " completed, %" PRId64
               " failed since start\n",
               jint(cl, "migrations_running"), jint(cl, "migrations_queued"),
               jint(cl, "migrations_completed"), jint(cl, "migrations_failed"));
        json_object *pw = jget(o, "power");
        if (pw && jint(pw, "hosts_known") > 0)
                printf("Power: %.0f W now (%" PRId64 " of %zu hosts known, %" PRId64
                       " measured); %.2f kWh since drsd started, %.2f kWh saved by DPM\n",
                       jdouble(pw, "watts"), jint(pw, "hosts_known"),
                       jget(o, "hosts") ? json_object_array_length(jget(o, "hosts")) : (size_t) 0,
                       jint(pw, "hosts_measured"), jdouble(pw, "energy_kwh"), jdouble(pw, "saved_kwh"));
        json_object *bf = jget(cl, "benefit");
        if (bf && (jint(bf, "moves") > 0 || jint(bf, "measuring") > 0))
                printf("Benefit (last 24 h): %" PRId64 " move(s) measured, %.0f %% of the predicted benefit "
                       "realized, %" PRId64 " made it worse, %" PRId64 " did little; %" PRId64
                       " being measured\n",
                       jint(bf, "moves"), 100.0 * jdouble(bf, "realized_share"), jint(bf, "worse"),
                       jint(bf, "no_effect"), jint(bf, "measuring"));
        json_object *sd = jget(cl, "dpm_standby_demand");
        if (sd)
                printf("DPM: standby judged on demand at the %.0fth percentile of %" PRId64
                       " pass(es) over %" PRId64 " s: CPU %.2f cores, memory %" PRId64 " MiB\n",
                       jdouble(sd, "percentile") * 100.0, jint(sd, "samples"), jint(sd, "window_s"),
                       jdouble(sd, "cpu"), jint(sd, "memory_mib"));
        if (jstr(passes, "last_plan"))
                printf("Last pass: %s\n", jstr(passes, "last_plan"));
        if (jget(cl, "plan"))
                print_run("Plan", jget(cl, "plan"));
        else
                printf("No plan running.\n");
        if (jget(cl, "recommendations"))
                print_run("Recommendations (run them with 'drsctl apply')", jget(cl, "recommendations"));
        json_object *rl = jget(o, "reload");
        if (jstr(rl, "error"))
                printf("Last reload failed: %s\n", jstr(rl, "error"));
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
}

static int verb_hosts(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call("drs.Hosts", NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        print_hosts_table(jget(o, "hosts"));
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
}

static int verb_vms(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call("drs.Vms", NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        json_object *vms = jget(o, "vms");
        printf("%-20s %-10s %5s %8s %8s %9s %-10s %s\n", "VM", "HOST", "VCPUS", "MEM_MIB", "CPU", "MEM_USED",
               "AUTOMATION", "LAST MOVED");
        for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
                json_object *v = json_object_array_get_idx(vms, i);
                char moved[32] = "-";
                if (jget(v, "last_moved_s"))
                        (void) snprintf(moved, sizeof(moved), "%" PRId64 " s ago", jint(v, "last_moved_s"));
                char fb[96] = "";
                if (jint(v, "cooldown_factor") > 1)
                        (void) snprintf(
                                fb, sizeof(fb),
                                "  (moves realized %.0f %% of prediction: cooldown ×%" PRId64 ")",
                                100.0 * jdouble(v, "moves_realized_share"), jint(v, "cooldown_factor"));
                printf("%-20s %-10s %5" PRId64 " %8" PRId64 " %8.2f %9" PRId64 " %-10s %s%s%s\n",
                       jstr(v, "name") ?: "?", jstr(v, "host") ?: "?", jint(v, "vcpus"),
                       jint(v, "memory_mib"), jdouble(v, "cpu_demand"), jint(v, "memory_demand_mib"),
                       jstr(v, "automation") ?: "?", moved, jbool(v, "migrating") ? "  (migrating)" : "",
                       fb);
        }
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
}

static int plan_exit_status(json_object *plan) {
        const char *st = jstr(plan, "status");
        return st && streq(st, "partial") ? EXIT_PARTIAL : EXIT_OK;
}

static int verb_plan_online(void) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call("drs.Plan", NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                r = print_json(o);
        else {
                printf("Automation %s%s\n", jstr(o, "automation") ?: "?",
                       jbool(o, "plan_running") ? "; a plan is running now (a new one starts when it ends, "
                                                  "or at once if mandatory)"
                                                : "");
                r = print_output(jstr(o, "text") ?: "");
        }
        return r != EXIT_OK ? r : plan_exit_status(jget(o, "plan"));
}

static int verb_apply(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call("drs.Apply", NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        printf("Applying %" PRId64 " recommended move(s); follow them with 'drsctl status'\n",
               jint(o, "moves"));
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
}

static int host_verb(const char *method, const char *host, json_object *extra, json_object **ret) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();
        if (!params || json_object_object_add(params, "host", json_object_new_string(host)) < 0)
                return EXIT_INTERNAL;
        if (extra && json_object_object_add(params, "dry_run", json_object_get(extra)) < 0)
                return EXIT_INTERNAL;
        return call(method, params, ret);
}

static int verb_evacuate(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL, *dry = json_object_new_boolean(arg_dry_run);
        int r = host_verb("drs.Evacuate", argv[1], dry, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                r = print_json(o);
        else {
                r = print_output(jstr(o, "text") ?: "");
                if (arg_dry_run)
                        printf("Dry run: nothing changed.\n");
                else
                        printf("Host '%s' is %s; follow the evacuation with 'drsctl status'.\n", argv[1],
                               jstr(o, "state") ?: "?");
                if (jint(o, "unplaceable") > 0)
                        printf("%" PRId64
                               " VM(s) cannot leave '%s' (see above): it stays entering-maintenance "
                               "until they can.\n",
                               jint(o, "unplaceable"), argv[1]);
                if (jstr(o, "fix_text")) {
                        const char *t = jstr(o, "fix_text");
                        printf("%c%s", toupper((unsigned char) t[0]), t + 1);
                }
        }
        return r != EXIT_OK ? r : jint(o, "unplaceable") > 0 ? EXIT_PARTIAL : EXIT_OK;
}

/* ---- migrate, move-storage: started by drsd, their outcome read from the history ------------- */

#define WAIT_OUTCOME_MAX_S (6 * 3600)

/* Polls drs.History for the first event of type for vm after since whose result is not
 * "started"; prints its message. EXIT_OK when it is "completed", EXIT_PARTIAL otherwise. */
static int wait_outcome(const char *type, const char *vm, uint64_t since) {
        for (unsigned i = 0; i < WAIT_OUTCOME_MAX_S; i++) {
                _cleanup_(json_object_putp) json_object *o = NULL, *params = json_object_new_object();
                json_object *ev;
                int r;

                if (!params ||
                    json_object_object_add(params, "since", json_object_new_int64((int64_t) since)) < 0)
                        return EXIT_INTERNAL;
                r = call("drs.History", params, &o);
                if (r != EXIT_OK)
                        return r;
                ev = jget(o, "events");
                for (size_t k = 0; ev && k < json_object_array_length(ev); k++) {
                        json_object *e = json_object_array_get_idx(ev, k);
                        const char *result = jstr(e, "result");

                        if (!streq_ptr(jstr(e, "type"), type) || !streq_ptr(jstr(e, "vm"), vm) || !result ||
                            streq(result, "started"))
                                continue;
                        if (arg_json)
                                r = print_json(e);
                        else {
                                printf("%s\n", jstr(e, "message") ?: result);
                                r = fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
                        }
                        return r != EXIT_OK ? r : streq(result, "completed") ? EXIT_OK : EXIT_PARTIAL;
                }
                (void) usleep(1000000);
        }
        fprintf(stderr, "drsctl: no outcome for '%s' after %u s: see 'drsctl history'\n", vm,
                WAIT_OUTCOME_MAX_S);
        return EXIT_PARTIAL;
}

static int add_bool_param(json_object *params, const char *key, bool v) {
        return json_object_object_add(params, key, json_object_new_boolean(v)) < 0 ? -ENOMEM : 0;
}

static int verb_migrate(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL, *params = json_object_new_object();
        int r;

        if (!arg_to == !arg_to_uri) {
                fprintf(stderr, "drsctl: migrate: one of --to HOST and --to-uri URI is required\n");
                return EXIT_BAD_INPUT;
        }
        if (arg_to_muri && !arg_to_uri) {
                fprintf(stderr, "drsctl: migrate: --to-management-uri needs --to-uri\n");
                return EXIT_BAD_INPUT;
        }
        if (!params || json_object_object_add(params, "vm", json_object_new_string(argv[1])) < 0 ||
            (arg_to && json_object_object_add(params, "to", json_object_new_string(arg_to)) < 0) ||
            (arg_to_uri &&
             json_object_object_add(params, "to_uri", json_object_new_string(arg_to_uri)) < 0) ||
            (arg_to_muri &&
             json_object_object_add(params, "to_management_uri", json_object_new_string(arg_to_muri)) < 0) ||
            add_bool_param(params, "copy_storage", arg_copy_storage) < 0 ||
            add_bool_param(params, "remove_source", arg_remove_source) < 0 ||
            add_bool_param(params, "dry_run", arg_dry_run) < 0)
                return EXIT_INTERNAL;
        r = call("drs.Migrate", params, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_dry_run || arg_no_wait) {
                if (arg_json)
                        return print_json(o);
                printf("%s '%s' from '%s' to '%s'%s.\n", arg_dry_run ? "Would migrate" : "Migrating",
                       argv[1], jstr(o, "source") ?: "?", jstr(o, "target") ?: "?",
                       arg_copy_storage ? ", copying the disks the destination cannot see" : "");
                if (arg_dry_run)
                        printf("Dry run: nothing changed (libvirt's pre-checks run when the migration starts).\n");
                return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
        }
        if (!arg_json) {
                printf("Migrating '%s' from '%s' to '%s'%s…\n", argv[1], jstr(o, "source") ?: "?",
                       jstr(o, "target") ?: "?", arg_copy_storage ? " with its disks" : "");
                (void) fflush(stdout);
        }
        return wait_outcome("migration", argv[1], (uint64_t) jint(o, "since"));
}

static int verb_move_storage(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL, *params = json_object_new_object();
        int r;

        if (!arg_pool) {
                fprintf(stderr, "drsctl: move-storage: --pool POOL is required\n");
                return EXIT_BAD_INPUT;
        }
        if (!params || json_object_object_add(params, "vm", json_object_new_string(argv[1])) < 0 ||
            json_object_object_add(params, "pool", json_object_new_string(arg_pool)) < 0 ||
            (arg_disk && json_object_object_add(params, "disk", json_object_new_string(arg_disk)) < 0) ||
            add_bool_param(params, "remove_source", arg_remove_source) < 0 ||
            add_bool_param(params, "force", arg_force) < 0)
                return EXIT_INTERNAL;
        r = call("drs.MoveStorage", params, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_no_wait) {
                if (arg_json)
                        return print_json(o);
                printf("Moving the storage of '%s' on '%s' to pool '%s'.\n", argv[1], jstr(o, "host") ?: "?",
                       arg_pool);
                return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
        }
        if (!arg_json) {
                printf("Moving the storage of '%s' on '%s' to pool '%s'…\n", argv[1], jstr(o, "host") ?: "?",
                       arg_pool);
                (void) fflush(stdout);
        }
        return wait_outcome("storage", argv[1], (uint64_t) jint(o, "since"));
}

static int verb_host_mode(const char *method, const char *host) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = host_verb(method, host, NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        printf("Host '%s' is %s%s\n", host, jstr(o, "state") ?: "?",
               jbool(o, "changed") ? "" : " (unchanged)");
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
}

static int verb_exit_maintenance(int argc, char *argv[]) {
        return verb_host_mode("drs.ExitMaintenance", argv[1]);
}

static int verb_power_clear(int argc, char *argv[]) {
        return verb_host_mode("drs.PowerClear", argv[1]);
}

static int verb_reset_feedback(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL, *params = json_object_new_object();
        if (!params || json_object_object_add(params, "vm", json_object_new_string(argv[1])) < 0)
                return EXIT_INTERNAL;
        int r = call("drs.ResetFeedback", params, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        if (jbool(o, "changed"))
                printf("%s: move feedback reset (cooldown ×%" PRId64 " → ×1).\n", argv[1],
                       jint(o, "factor_was"));
        else
                printf("%s: no move feedback recorded; nothing to reset.\n", argv[1]);
        return EXIT_OK;
}

static int verb_reload(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call("drs.Reload", NULL, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        printf("Reloaded.\n");
        return EXIT_OK;
}

/* --since TIME: epoch seconds, or -N[smhd] relative to now. */
/* "N" seconds, or N with a suffix s, m, h or d. */
static int parse_duration_s(const char *s, uint64_t *ret) {
        _cleanup_free_ char *num = strdup(s);
        uint64_t n, mult = 1;
        size_t l;

        if (!num || (l = strlen(num)) == 0)
                return -EINVAL;
        const char *suffix = strchr("smhd", num[l - 1]);
        if (suffix && num[l - 1]) {
                static const uint64_t mults[] = {1, 60, 3600, 86400};
                mult = mults[suffix - "smhd"];
                num[l - 1] = '\0';
        }
        if (parse_u64(num, &n) < 0 || n > UINT64_C(1) << 32)
                return -EINVAL;
        *ret = n * mult;
        return 0;
}

static int parse_since(const char *s, uint64_t *ret_usec) {
        uint64_t n;
        if (s[0] == '-') {
                if (parse_duration_s(s + 1, &n) < 0)
                        return -EINVAL;
                uint64_t now = (uint64_t) time(NULL);
                *ret_usec = (now > n ? now - n : 0) * UINT64_C(1000000);
                return 0;
        }
        if (parse_u64(s, &n) < 0 || n > UINT64_C(1) << 40)
                return -EINVAL;
        *ret_usec = n * UINT64_C(1000000);
        return 0;
}

static int verb_history(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *o = NULL, *params = json_object_new_object();
        uint64_t since = 0;
        if (!params)
                return EXIT_INTERNAL;
        if (arg_since) {
                if (parse_since(arg_since, &since) < 0) {
                        fprintf(stderr, "drsctl: --since: '%s' is not epoch seconds or -N[smhd]\n",
                                arg_since);
                        return EXIT_BAD_INPUT;
                }
                if (json_object_object_add(params, "since", json_object_new_int64((int64_t) since)) < 0)
                        return EXIT_INTERNAL;
        }
        int r = call("drs.History", params, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                return print_json(o);
        json_object *ev = jget(o, "events");
        for (size_t i = 0; ev && i < json_object_array_length(ev); i++) {
                json_object *e = json_object_array_get_idx(ev, i);
                time_t t = (time_t) (jint(e, "time") / 1000000);
                struct tm tm;
                char ts[32] = "?";
                if (localtime_r(&t, &tm))
                        (void) strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
                printf("%s %-9s %-12s %s\n", ts, jstr(e, "type") ?: "?", jstr(e, "result") ?: "",
                       jstr(e, "message") ?: "");
        }
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
}

/* ---- place VM.xml: <domain>'s direct children <name>, <vcpu> and <memory unit=…> ----------------
 *
 * Read with domxml.h's scanner (drsd's precheck reads domain XML with it too). DOCTYPE and
 * CDATA, which libvirt never writes, are refused. */

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                s++;
        size_t l = strlen(s);
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
                s[--l] = '\0';
        return s;
}

typedef struct DomainInfo {
        char *name;
        uint64_t vcpus;
        uint64_t memory_mib;
} DomainInfo;

static int memory_to_mib(const char *value, const char *unit, uint64_t *ret) {
        static const struct {
                const char *unit;
                uint64_t num, den; /* bytes = value * num / den … expressed per MiB below */
        } units[] = {
                {"b", 1, 1},
                {"bytes", 1, 1},
                {"KB", 1000, 1},
                {"k", 1024, 1},
                {"KiB", 1024, 1},
                {"MB", 1000000, 1},
                {"M", 1048576, 1},
                {"MiB", 1048576, 1},
                {"GB", 1000000000, 1},
                {"G", 1073741824, 1},
                {"GiB", 1073741824, 1},
                {"TB", 1000000000000, 1},
                {"T", 1099511627776, 1},
                {"TiB", 1099511627776, 1},
        };
        uint64_t v, f = 0;
        if (parse_u64(value, &v) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(units[i].unit, unit ?: "KiB"))
                        f = units[i].num;
        if (f == 0)
                return -EINVAL;
        /* bytes = v * f; MiB rounded up. Guard the product. */
        if (v > UINT64_MAX / f)
                return -ERANGE;
        uint64_t bytes = v * f;
        *ret = bytes / 1048576 + (bytes % 1048576 != 0);
        return 0;
}

static int parse_domain_xml(const char *xml, DomainInfo *ret, char **reterr) {
        _cleanup_free_ char *name = NULL, *vcpu = NULL, *mem = NULL, *unit = NULL;
        DomXmlReader reader;
        int r;

#define XML_FAIL(msg)                                                                                       \
        do {                                                                                                \
                *reterr = strdup(msg);                                                                      \
                return -EBADMSG;                                                                            \
        } while (0)

        domxml_reader_init(&reader, xml);
        for (;;) {
                DomXmlToken t;
                char **target = NULL;

                r = domxml_read(&reader, &t);
                if (r < 0)
                        XML_FAIL(reader.error);
                if (r == 0)
                        break;
                if (t.kind == DOMXML_CDATA || t.kind == DOMXML_DECL)
                        XML_FAIL("DOCTYPE and CDATA are not supported");
                if (t.kind == DOMXML_END)
                        continue;
                if (t.depth == 0 && !domxml_name_is(&t, "domain"))
                        XML_FAIL("the document element is not <domain>");
                if (t.depth != 1 || t.kind != DOMXML_START)
                        continue;
                if (domxml_name_is(&t, "name"))
                        target = &name;
                else if (domxml_name_is(&t, "vcpu"))
                        target = &vcpu;
                else if (domxml_name_is(&t, "memory")) {
                        target = &mem;
                        free(unit);
                        unit = NULL;
                        r = domxml_attr(&t, "unit", &unit);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                XML_FAIL("bad attribute in <memory>");
                }
                if (target) {
                        const char *close = strchr(t.end, '<');
                        if (!close || close[1] != '/')
                                XML_FAIL("expected text only inside <name>, <vcpu> and <memory>");
                        free(*target);
                        *target = NULL;
                        r = domxml_unescape(t.end, (size_t) (close - t.end), target);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                XML_FAIL("bad entity in text");
                }
        }
        if (!name || !*strip(name))
                XML_FAIL("<name> is missing");
        if (!vcpu || parse_u64(strip(vcpu), &ret->vcpus) < 0 || ret->vcpus == 0 || ret->vcpus > 4096)
                XML_FAIL("<vcpu> is missing or not a number in 1..4096");
        if (!mem || memory_to_mib(strip(mem), unit, &ret->memory_mib) < 0 || ret->memory_mib == 0)
                XML_FAIL("<memory> is missing, not a number, or has an unknown unit");
#undef XML_FAIL
        ret->name = strdup(strip(name));
        return ret->name ? 0 : -ENOMEM;
}

static int verb_place_online(const char *file) {
        _cleanup_(json_object_putp) json_object *o = NULL, *params = NULL;
        _cleanup_free_ char *xml = NULL, *err = NULL;
        DomainInfo d = {};
        size_t size;
        int r;

        {
                _cleanup_(policy_error_clearp) PolicyError e = {};
                r = policy_read_file(file, &xml, &size, &e);
                if (r < 0)
                        return report_error(r, file, &e);
        }
        if (strlen(xml) != size) {
                fprintf(stderr, "drsctl: %s: contains a NUL byte\n", file);
                return EXIT_BAD_INPUT;
        }
        r = parse_domain_xml(xml, &d, &err);
        if (r < 0) {
                fprintf(stderr, "drsctl: %s: %s\n", file, err ?: strerror(-r));
                return r == -ENOMEM ? EXIT_INTERNAL : EXIT_BAD_INPUT;
        }
        params = json_object_new_object();
        if (!params || json_object_object_add(params, "name", json_object_new_string(d.name)) < 0 ||
            json_object_object_add(params, "vcpus", json_object_new_int64((int64_t) d.vcpus)) < 0 ||
            json_object_object_add(params, "memory_mib", json_object_new_int64((int64_t) d.memory_mib)) <
                    0) {
                free(d.name);
                return EXIT_INTERNAL;
        }
        free(d.name);
        r = call("drs.Place", params, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_json)
                r = print_json(o);
        else
                r = print_output(jstr(o, "text") ?: "");
        return r != EXIT_OK ? r : jstr(o, "host") ? EXIT_OK : EXIT_PARTIAL;
}

/* ---- rollout: rolling maintenance ------------------------------------------------------------ */

/* --parallel: *ret_n >= 1, or *ret_auto. */
static int parse_parallel(unsigned *ret_n, bool *ret_auto) {
        uint64_t n = 1;
        *ret_auto = false;
        if (arg_parallel && streq(arg_parallel, "auto"))
                *ret_auto = true;
        else if (arg_parallel && (parse_u64(arg_parallel, &n) < 0 || n == 0 || n > 10000)) {
                fprintf(stderr, "drsctl: --parallel: '%s' is not a number in 1..10000 or 'auto'\n",
                        arg_parallel);
                return EXIT_BAD_INPUT;
        }
        *ret_n = (unsigned) n;
        return EXIT_OK;
}

static int check_host_selection(int n_hosts) {
        if ((n_hosts > 0) + arg_all + (arg_group != NULL) != 1) {
                fprintf(stderr, "drsctl: rollout start: give HOST…, --all or --group GROUP (one of them)\n");
                return EXIT_BAD_INPUT;
        }
        return EXIT_OK;
}

/* The dry run's table: the waves, each with the check's verdict. EXIT_PARTIAL when one fails. */
static int print_waves(json_object *o) {
        json_object *waves = jget(o, "waves");
        bool all_ok = true;
        size_t n = waves ? json_object_array_length(waves) : 0;

        for (size_t i = 0; i < n; i++)
                all_ok = all_ok && jbool(json_object_array_get_idx(waves, i), "ok");
        if (arg_json) {
                int r = print_json(o);
                return r != EXIT_OK ? r : all_ok ? EXIT_OK : EXIT_PARTIAL;
        }
        printf("%zu wave(s) of at most %" PRId64 " host(s)%s:\n", n, jint(o, "parallel"),
               jbool(o, "parallel_auto") ? " (--parallel auto)" : "");
        printf("%-5s %-30s %s\n", "WAVE", "HOSTS", "CHECK");
        for (size_t i = 0; i < n; i++) {
                json_object *w = json_object_array_get_idx(waves, i), *hosts = jget(w, "hosts");
                _cleanup_free_ char *list = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&list, &len);
                if (!f)
                        return EXIT_INTERNAL;
                for (size_t j = 0; hosts && j < json_object_array_length(hosts); j++)
                        fprintf(f, "%s%s", j ? ", " : "",
                                json_object_get_string(json_object_array_get_idx(hosts, j)));
                if (fclose(f) != 0)
                        return EXIT_INTERNAL;
                printf("%-5" PRId64 " %-30s %s\n", jint(w, "wave"), list,
                       jbool(w, "ok") ? "ok: every VM fits elsewhere" : jstr(w, "why") ?: "fails");
        }
        return all_ok ? EXIT_OK : EXIT_PARTIAL;
}

/* rollout start --dry-run --snapshot FILE: the same waves computed offline. */
static int rollout_dry_run_offline(int argc, char *argv[], unsigned parallel, bool parallel_auto) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(),
                                                *waves = json_object_new_array();
        _cleanup_free_ size_t *order = NULL;
        SolverOptions opts;
        size_t n = 0;
        int r;

        if (!o || !waves)
                return EXIT_INTERNAL;
        r = load_problem(&p);
        if (r != EXIT_OK)
                return r;
        solver_options_init(&opts);
        if (arg_group) {
                r = rollout_group_hosts(p, arg_group, &order, &n);
                if (r == -ENOENT) {
                        fprintf(stderr, "drsctl: no host group '%s' in the snapshot's policy\n", arg_group);
                        return EXIT_BAD_INPUT;
                }
                if (r < 0)
                        return EXIT_INTERNAL;
        } else {
                order = calloc(p->n_hosts + (size_t) argc, sizeof(size_t));
                if (!order)
                        return EXIT_INTERNAL;
                for (size_t i = 0; arg_all && i < p->n_hosts; i++)
                        order[n++] = i;
                for (int a = 1; !arg_all && a < argc; a++) {
                        size_t j = 0;
                        while (j < p->n_hosts && !streq(p->hosts[j].name, argv[a]))
                                j++;
                        if (j == p->n_hosts) {
                                fprintf(stderr, "drsctl: no host '%s' in '%s'\n", argv[a], arg_snapshot);
                                return EXIT_BAD_INPUT;
                        }
                        order[n++] = j;
                }
        }
        if (n == 0) {
                fprintf(stderr, "drsctl: no hosts to roll out\n");
                return EXIT_BAD_INPUT;
        }
        unsigned headroom = parallel_auto ? p->policy->dpm.headroom_hosts : 0;
        if (parallel_auto) {
                _cleanup_free_ char *why = NULL;
                r = rollout_auto_parallel(p, order, n, headroom, 0, &opts, &parallel, &why);
                if (r < 0)
                        return EXIT_INTERNAL;
                if (parallel == 0) {
                        fprintf(stderr,
                                "drsctl: --parallel auto: not even one host at a time can be emptied: %s\n",
                                why ?: "?");
                        return EXIT_PARTIAL;
                }
        }
        if (parallel > n)
                parallel = (unsigned) n;
        for (size_t i = 0, w = 1; i < n; i += parallel, w++) {
                size_t len = n - i < parallel ? n - i : parallel;
                _cleanup_free_ char *why = NULL;
                json_object *wo = json_object_new_object(), *hosts = json_object_new_array();
                r = rollout_wave_check(p, order + i, len, headroom, &opts, &why);
                if (r < 0 || !wo || !hosts || json_object_array_add(waves, wo) < 0) {
                        json_object_put(wo);
                        json_object_put(hosts);
                        return EXIT_INTERNAL;
                }
                for (size_t j = 0; j < len; j++)
                        json_object_array_add(hosts, json_object_new_string(p->hosts[order[i + j]].name));
                json_object_object_add(wo, "wave", json_object_new_uint64(w));
                json_object_object_add(wo, "hosts", hosts);
                json_object_object_add(wo, "ok", json_object_new_boolean(r > 0));
                if (why)
                        json_object_object_add(wo, "why", json_object_new_string(why));
        }
        json_object_object_add(o, "dry_run", json_object_new_boolean(true));
        json_object_object_add(o, "parallel", json_object_new_uint64(parallel));
        json_object_object_add(o, "parallel_auto", json_object_new_boolean(parallel_auto));
        json_object_object_add(o, "waves", TAKE_PTR(waves));
        return print_waves(o);
}

static const char *rollout_progress(json_object *h, char *buf, size_t size) {
        const char *state = jstr(h, "state") ?: "?";
        int64_t step = jint(h, "step_s");

        if (streq(state, "evacuating")) {
                int64_t start = jint(h, "vms_at_start"), left = jget(h, "vms") ? jint(h, "vms") : start;
                (void) snprintf(
                        buf, size, "evacuating %" PRId64 "/%" PRId64 " VMs moved (%" PRId64 " s)",
                        start > left ? start - left : 0, start, step);
        } else if (streq(state, "command"))
                (void) snprintf(buf, size, "command running %" PRId64 " s", step);
        else if (streq(state, "returning"))
                (void) snprintf(buf, size, "waiting for libvirt (%" PRId64 " s)", step);
        else if (streq(state, "health"))
                (void) snprintf(buf, size, "health check running %" PRId64 " s", step);
        else if (streq(state, "done"))
                (void) snprintf(buf, size, "done (command %" PRId64 " s)", jint(h, "command_ms") / 1000);
        else if (streq(state, "unknown"))
                (void) snprintf(buf, size, "unknown — check it: %s", jstr(h, "note") ?: "");
        else if (streq(state, "failed") || streq(state, "skipped"))
                (void) snprintf(buf, size, "%s", jstr(h, "note") ?: "");
        else
                buf[0] = 0;
        return buf;
}

static void print_rollout(json_object *r) {
        json_object *hosts = jget(r, "hosts");
        char buf[512];

        printf("Rollout %s: %" PRId64 " of %zu host(s) done; wave %" PRId64 " of %" PRId64 ", %" PRId64
               " host(s) at a time%s, timeout %" PRId64 " s per step\n",
               jstr(r, "state") ?: "?", jint(r, "hosts_done"), hosts ? json_object_array_length(hosts) : 0,
               jint(r, "wave"), jint(r, "waves"), jint(r, "parallel"),
               jbool(r, "parallel_auto") ? " (auto)" : "", jint(r, "timeout_s"));
        printf("Command: %s\n", jstr(r, "command") ?: "?");
        if (jstr(r, "health"))
                printf("Health check: %s\n", jstr(r, "health"));
        if (jstr(r, "reason"))
                printf("Reason: %s\n", jstr(r, "reason"));
        if (jbool(r, "waiting_for_window"))
                printf("Waiting: outside the policy's automation windows, no new host starts\n");
        printf("%-12s %-4s %-11s %-21s %s\n", "HOST", "WAVE", "STEP", "MODE", "PROGRESS");
        for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
                json_object *h = json_object_array_get_idx(hosts, i);
                printf("%-12s %-4" PRId64 " %-11s %-21s %s\n", jstr(h, "name") ?: "?", jint(h, "wave"),
                       jstr(h, "state") ?: "?", jstr(h, "mode") ?: "?",
                       rollout_progress(h, buf, sizeof(buf)));
        }
}

static int rollout_print_status(json_object *o) {
        json_object *r = jget(o, "rollout");
        if (arg_json)
                return print_json(o);
        if (!r || json_object_is_type(r, json_type_null))
                printf("No rollout.\n");
        else
                print_rollout(r);
        return EXIT_OK;
}

static int verb_rollout_start(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object(), *o = NULL;
        unsigned parallel;
        bool parallel_auto;
        uint64_t timeout_s = 0;
        int r;

        r = check_host_selection(argc - 1);
        if (r != EXIT_OK)
                return r;
        r = parse_parallel(&parallel, &parallel_auto);
        if (r != EXIT_OK)
                return r;
        if (arg_timeout && (parse_duration_s(arg_timeout, &timeout_s) < 0 || timeout_s == 0)) {
                fprintf(stderr, "drsctl: --timeout: '%s' is not a duration (N, Ns, Nm, Nh)\n", arg_timeout);
                return EXIT_BAD_INPUT;
        }
        if (!arg_command && !arg_dry_run) {
                fprintf(stderr, "drsctl: rollout start: --command CMD is required\n");
                return EXIT_BAD_INPUT;
        }
        if (arg_snapshot) {
                if (!arg_dry_run) {
                        fprintf(stderr, "drsctl: rollout start --snapshot needs --dry-run\n");
                        return EXIT_BAD_INPUT;
                }
                return rollout_dry_run_offline(argc, argv, parallel, parallel_auto);
        }
        if (!params)
                return EXIT_INTERNAL;
        if (arg_all)
                json_object_object_add(params, "all", json_object_new_boolean(true));
        else if (arg_group)
                json_object_object_add(params, "group", json_object_new_string(arg_group));
        else {
                json_object *hosts = json_object_new_array();
                for (int a = 1; hosts && a < argc; a++)
                        json_object_array_add(hosts, json_object_new_string(argv[a]));
                json_object_object_add(params, "hosts", hosts);
        }
        if (arg_command)
                json_object_object_add(params, "command", json_object_new_string(arg_command));
        if (arg_health)
                json_object_object_add(params, "health", json_object_new_string(arg_health));
        if (timeout_s > 0)
                json_object_object_add(params, "timeout_s", json_object_new_uint64(timeout_s));
        json_object_object_add(
                params, "parallel",
                parallel_auto ? json_object_new_string("auto") : json_object_new_uint64(parallel));
        json_object_object_add(params, "dry_run", json_object_new_boolean(arg_dry_run));
        if (arg_in_windows)
                json_object_object_add(params, "in_windows", json_object_new_boolean(true));
        r = call("drs.RolloutStart", params, &o);
        if (r != EXIT_OK)
                return r;
        if (arg_dry_run)
                return print_waves(o);
        if (arg_json)
                return print_json(o);
        (void) print_waves(o);
        printf("Rollout started; follow it with 'drsctl rollout status' or 'drsctl rollout watch'.\n");
        return EXIT_OK;
}

static int rollout_simple(const char *method) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = call(method, NULL, &o);
        return r != EXIT_OK ? r : rollout_print_status(o);
}

static int verb_rollout_status(int argc, char *argv[]) {
        return rollout_simple("drs.RolloutStatus");
}

static int verb_rollout_pause(int argc, char *argv[]) {
        return rollout_simple("drs.RolloutPause");
}

static int verb_rollout_resume(int argc, char *argv[]) {
        return rollout_simple("drs.RolloutResume");
}

static int verb_rollout_abort(int argc, char *argv[]) {
        return rollout_simple("drs.RolloutAbort");
}

#define WATCH_INTERVAL_USEC (2 * 1000000)
#define WATCH_MAX_FAILURES 30 /* in a row: a minute */

/* Prints the progress whenever it changes, until the rollout is done (0), paused or aborted
 * (1), or there is none (1). drsd not answering (or no leader) for a minute ends it too. */
static int verb_rollout_watch(int argc, char *argv[]) {
        _cleanup_free_ char *last = NULL;
        unsigned failures = 0;

        for (;;) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                int r = call("drs.RolloutStatus", NULL, &o);
                /* Cluster mode: no leader for a moment while the members change (a host that
                 * rebooted rejoins), or a restarting drsd: keep watching for a while. */
                if (r != EXIT_OK && r != EXIT_BAD_INPUT && ++failures < WATCH_MAX_FAILURES) {
                        (void) usleep(WATCH_INTERVAL_USEC);
                        continue;
                }
                if (r != EXIT_OK)
                        return r;
                failures = 0;
                json_object *ro = jget(o, "rollout");
                if (!ro || json_object_is_type(ro, json_type_null)) {
                        printf("No rollout.\n");
                        return EXIT_PARTIAL;
                }
                /* What changed: the state and each host's step (not the seconds). */
                _cleanup_free_ char *now = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&now, &len);
                if (!f)
                        return EXIT_INTERNAL;
                fprintf(f, "%s", jstr(ro, "state") ?: "");
                json_object *hosts = jget(ro, "hosts");
                for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
                        json_object *h = json_object_array_get_idx(hosts, i);
                        fprintf(f, " %s:%s:%" PRId64, jstr(h, "name") ?: "", jstr(h, "state") ?: "",
                                jget(h, "vms") ? jint(h, "vms") : -1);
                }
                if (fclose(f) != 0)
                        return EXIT_INTERNAL;
                if (!last || !streq(last, now)) {
                        if (arg_json)
                                (void) print_json(o);
                        else {
                                print_rollout(ro);
                                printf("\n");
                        }
                        fflush(stdout);
                        free(last);
                        last = TAKE_PTR(now);
                }
                const char *st = jstr(ro, "state") ?: "";
                if (!streq(st, "running"))
                        return streq(st, "done") ? EXIT_OK : EXIT_PARTIAL;
                (void) usleep(WATCH_INTERVAL_USEC);
        }
}

static const Verb rollout_verbs[] = {
        {"start", 0, ARGS_ANY, verb_rollout_start}, {"status", 0, 0, verb_rollout_status},
        {"watch", 0, 0, verb_rollout_watch},        {"pause", 0, 0, verb_rollout_pause},
        {"resume", 0, 0, verb_rollout_resume},      {"abort", 0, 0, verb_rollout_abort},
};

static int verb_rollout(int argc, char *argv[]) {
        return dispatch(rollout_verbs, ELEMENTSOF(rollout_verbs), "rollout", argc - 1, argv + 1);
}

static const Verb verbs[] = {
        {"status", 0, 0, verb_status},
        {"hosts", 0, 0, verb_hosts},
        {"vms", 0, 0, verb_vms},
        {"plan", 0, 0, verb_plan},
        {"apply", 0, 0, verb_apply},
        {"evacuate", 1, 1, verb_evacuate},
        {"exit-maintenance", 1, 1, verb_exit_maintenance},
        {"power-clear", 1, 1, verb_power_clear},
        {"reset-feedback", 1, 1, verb_reset_feedback},
        {"place", 0, 1, verb_place},
        {"history", 0, 0, verb_history},
        {"reload", 0, 0, verb_reload},
        {"policy", 1, ARGS_ANY, verb_policy},
        {"migrate", 1, 1, verb_migrate},
        {"move-storage", 1, 1, verb_move_storage},
        {"rollout", 1, ARGS_ANY, verb_rollout},
};

static int dispatch(const Verb *table, size_t n, const char *what, int argc, char *argv[]) {
        if (argc < 1) {
                fprintf(stderr, "drsctl: %s: a command is required, see 'drsctl --help'\n", what);
                return EXIT_BAD_INPUT;
        }

        for (size_t i = 0; i < n; i++) {
                const Verb *v = &table[i];
                unsigned nargs = (unsigned) argc - 1;

                if (!streq(v->name, argv[0]))
                        continue;

                if (nargs < v->min_args) {
                        fprintf(stderr, "drsctl: %s: too few arguments, see 'drsctl --help'\n", v->name);
                        return EXIT_BAD_INPUT;
                }
                if (v->max_args != ARGS_ANY && nargs > v->max_args) {
                        fprintf(stderr, "drsctl: %s: too many arguments, see 'drsctl --help'\n", v->name);
                        return EXIT_BAD_INPUT;
                }
                return v->run(argc, argv);
        }

        fprintf(stderr, "drsctl: %s: unknown command '%s', see 'drsctl --help'\n", what, argv[0]);
        return EXIT_BAD_INPUT;
}

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_SNAPSHOT,
        ARG_POLICY,
        ARG_GREEDY_ONLY,
        ARG_TIME_LIMIT,
        ARG_VM,
        ARG_SOCKET,
        ARG_DRY_RUN,
        ARG_SINCE,
        ARG_TO,
        ARG_COPY_STORAGE,
        ARG_REMOVE_SOURCE,
        ARG_POOL,
        ARG_DISK,
        ARG_FORCE,
        ARG_NO_WAIT,
        ARG_TO_URI,
        ARG_TO_MURI,
        ARG_ALL,
        ARG_GROUP,
        ARG_COMMAND,
        ARG_HEALTH,
        ARG_TIMEOUT,
        ARG_PARALLEL,
        ARG_IN_WINDOWS,
};

/* Returns 1 to go on, 0 to exit successfully (--help, --version), or -ExitStatus on error. */
static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {"snapshot", required_argument, NULL, ARG_SNAPSHOT},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"greedy-only", no_argument, NULL, ARG_GREEDY_ONLY},
                {"time-limit", required_argument, NULL, ARG_TIME_LIMIT},
                {"vm", required_argument, NULL, ARG_VM},
                {"socket", required_argument, NULL, ARG_SOCKET},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"since", required_argument, NULL, ARG_SINCE},
                {"to", required_argument, NULL, ARG_TO},
                {"copy-storage", no_argument, NULL, ARG_COPY_STORAGE},
                {"remove-source", no_argument, NULL, ARG_REMOVE_SOURCE},
                {"pool", required_argument, NULL, ARG_POOL},
                {"disk", required_argument, NULL, ARG_DISK},
                {"force", no_argument, NULL, ARG_FORCE},
                {"no-wait", no_argument, NULL, ARG_NO_WAIT},
                {"to-uri", required_argument, NULL, ARG_TO_URI},
                {"to-management-uri", required_argument, NULL, ARG_TO_MURI},
                {"all", no_argument, NULL, ARG_ALL},
                {"group", required_argument, NULL, ARG_GROUP},
                {"command", required_argument, NULL, ARG_COMMAND},
                {"health", required_argument, NULL, ARG_HEALTH},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"parallel", required_argument, NULL, ARG_PARALLEL},
                {"in-windows", no_argument, NULL, ARG_IN_WINDOWS},
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("drsctl %s\n", DRS_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_SNAPSHOT:
                        arg_snapshot = optarg;
                        break;
                case ARG_POLICY:
                        r = strv_extend(&arg_policies, optarg);
                        if (r < 0) {
                                fprintf(stderr, "drsctl: out of memory\n");
                                return -EXIT_INTERNAL;
                        }
                        break;
                case ARG_GREEDY_ONLY:
                        arg_greedy_only = true;
                        break;
                case ARG_TIME_LIMIT:
                        if (parse_nonneg_double(optarg, &arg_time_limit_s) < 0 || arg_time_limit_s <= 0 ||
                            arg_time_limit_s > 3600) {
                                fprintf(stderr,
                                        "drsctl: --time-limit: '%s' is not a number of seconds in (0, 3600]\n",
                                        optarg);
                                return -EXIT_BAD_INPUT;
                        }
                        break;
                case ARG_VM:
                        arg_vm = optarg;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_SINCE:
                        arg_since = optarg;
                        break;
                case ARG_TO:
                        arg_to = optarg;
                        break;
                case ARG_COPY_STORAGE:
                        arg_copy_storage = true;
                        break;
                case ARG_REMOVE_SOURCE:
                        arg_remove_source = true;
                        break;
                case ARG_POOL:
                        arg_pool = optarg;
                        break;
                case ARG_DISK:
                        arg_disk = optarg;
                        break;
                case ARG_FORCE:
                        arg_force = true;
                        break;
                case ARG_NO_WAIT:
                        arg_no_wait = true;
                        break;
                case ARG_TO_URI:
                        arg_to_uri = optarg;
                        break;
                case ARG_TO_MURI:
                        arg_to_muri = optarg;
                        break;
                case ARG_ALL:
                        arg_all = true;
                        break;
                case ARG_GROUP:
                        arg_group = optarg;
                        break;
                case ARG_COMMAND:
                        arg_command = optarg;
                        break;
                case ARG_HEALTH:
                        arg_health = optarg;
                        break;
                case ARG_TIMEOUT:
                        arg_timeout = optarg;
                        break;
                case ARG_PARALLEL:
                        arg_parallel = optarg;
                        break;
                case ARG_IN_WINDOWS:
                        arg_in_windows = true;
                        break;
                case '?':
                        return -EXIT_BAD_INPUT; /* getopt printed the message */
                default:
                        abort();
                }

        return 1;
}

/* Options that only some verbs take. */
static int check_options(const char *verb) {
        bool solver_verb = streq(verb, "plan") || streq(verb, "place") || streq(verb, "rollout");

        if (!solver_verb && (arg_snapshot || arg_policies || arg_greedy_only || arg_time_limit_s > 0)) {
                fprintf(stderr, "drsctl: --snapshot, --policy, --greedy-only and --time-limit are only for "
                                "plan and place\n");
                return EXIT_BAD_INPUT;
        }
        if (arg_vm && !streq(verb, "place")) {
                fprintf(stderr, "drsctl: --vm is only for place\n");
                return EXIT_BAD_INPUT;
        }
        if (arg_dry_run && !streq(verb, "evacuate") && !streq(verb, "migrate") && !streq(verb, "rollout")) {
                fprintf(stderr, "drsctl: --dry-run is only for evacuate, migrate and rollout start\n");
                return EXIT_BAD_INPUT;
        }
        if ((arg_to || arg_to_uri || arg_to_muri || arg_copy_storage) && !streq(verb, "migrate")) {
                fprintf(stderr,
                        "drsctl: --to, --to-uri, --to-management-uri and --copy-storage are only for migrate\n");
                return EXIT_BAD_INPUT;
        }
        if ((arg_pool || arg_disk || arg_force) && !streq(verb, "move-storage")) {
                fprintf(stderr, "drsctl: --pool, --disk and --force are only for move-storage\n");
                return EXIT_BAD_INPUT;
        }
        if ((arg_remove_source || arg_no_wait) && !streq(verb, "migrate") && !streq(verb, "move-storage")) {
                fprintf(stderr,
                        "drsctl: --remove-source and --no-wait are only for migrate and move-storage\n");
                return EXIT_BAD_INPUT;
        }
        if ((arg_all || arg_group || arg_command || arg_health || arg_timeout || arg_parallel ||
             arg_in_windows) &&
            !streq(verb, "rollout")) {
                fprintf(stderr,
                        "drsctl: --all, --group, --command, --health, --timeout, --parallel and --in-windows are only for "
                        "rollout start\n");
                return EXIT_BAD_INPUT;
        }
        if (arg_since && !streq(verb, "history")) {
                fprintf(stderr, "drsctl: --since is only for history\n");
                return EXIT_BAD_INPUT;
        }
        return EXIT_OK;
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0) {
                strv_free(arg_policies);
                return -r;
        }

        if (optind >= argc) {
                fprintf(stderr, "drsctl: a command is required, see 'drsctl --help'\n");
                r = EXIT_BAD_INPUT;
        } else {
                r = check_options(argv[optind]);
                if (r == EXIT_OK)
                        r = dispatch(verbs, ELEMENTSOF(verbs), "drsctl", argc - optind, argv + optind);
        }

        arg_policies = strv_free(arg_policies);
        return r;
}
