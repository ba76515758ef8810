/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* drsctl: the drs command line. A thin main over libpolicy and libsolver.
 *
 * Verbs come from a table (name, argument counts, function), as in systemctl. For now every verb
 * is offline: it reads files, never talks to a daemon. Verbs return the process exit status
 * (see ExitStatus); helpers return negative errno. Errors go to stderr as
 * "drsctl: FILE:LINE:COLUMN: message". */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "policy.h"
#include "policy-load.h"
#include "snapshot.h"
#include "solver.h"

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
               "Commands (offline: they read files, no daemon needed):\n"
               "  policy check FILE…          Load policy files in order (later ones overlay earlier\n"
               "                              ones), validate, print the effective policy\n"
               "  plan --snapshot FILE        Run the solver on a cluster snapshot, print the plan\n"
               "  place --snapshot FILE (VM.yaml | --vm SPEC)\n"
               "                              Choose a host for a new VM\n"
               "\n"
               "Options:\n"
               "  -h --help                   Show this help\n"
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
               "  1  partial: mandatory work cannot be done (a VM fits nowhere; place found no host)\n"
               "  2  bad input: wrong usage, unreadable or invalid file (errors as FILE:LINE:COLUMN)\n"
               "  3  internal error: out of memory, solver failure, output not written\n");
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

/* Loads the snapshot and overlays the --policy files on its policy. */
static int load_problem(Problem **ret) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(policy_error_clearp) PolicyError e = {};
        int r;

        if (!arg_snapshot) {
                fprintf(stderr, "drsctl: --snapshot FILE is required\n");
                return EXIT_BAD_INPUT;
        }

        r = snapshot_load(arg_snapshot, &p, &e);
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

static int verb_plan(int argc, char *argv[]) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        SolverOptions opts;
        uint64_t start;
        int r;

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

                r = snapshot_load_vm(argv[1], &vm, &e);
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

static const Verb verbs[] = {
        {"policy", 1, ARGS_ANY, verb_policy},
        {"plan", 0, 0, verb_plan},
        {"place", 0, 1, verb_place},
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
                case '?':
                        return -EXIT_BAD_INPUT; /* getopt printed the message */
                default:
                        abort();
                }

        return 1;
}

/* Options that only some verbs take. */
static int check_options(const char *verb) {
        bool solver_verb = streq(verb, "plan") || streq(verb, "place");

        if (!solver_verb && (arg_snapshot || arg_policies || arg_greedy_only || arg_time_limit_s > 0)) {
                fprintf(stderr, "drsctl: --snapshot, --policy, --greedy-only and --time-limit are only for "
                                "plan and place\n");
                return EXIT_BAD_INPUT;
        }
        if (arg_vm && !streq(verb, "place")) {
                fprintf(stderr, "drsctl: --vm is only for place\n");
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
