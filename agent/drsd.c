/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* drsd: the drs daemon. A thin main: options, logging, then the Manager does the rest. */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager.h"

static const char *arg_config = DRSD_DEFAULT_CONFIG;
static bool arg_foreground = false;
static bool arg_check_config = false;

static void help(void) {
        printf("Usage: drsd [OPTIONS]\n\n"
               "The drs daemon: balances VMs over libvirt hosts and manages host power.\n\n"
               "  -c --config FILE    drsd.yaml to use (default %s)\n"
               "     --foreground     log plain lines to stderr even under systemd\n"
               "     --check-config   load the configuration and the policy, report, exit\n"
               "                      (0 when valid, 2 when not)\n"
               "  -h --help           show this help\n"
               "     --version        show the version\n",
               DRSD_DEFAULT_CONFIG);
}

/* Returns 1 to run, 0 to exit successfully, < 0 on a usage error. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_FOREGROUND = 0x100,
                ARG_CHECK_CONFIG,
                ARG_VERSION,
        };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"foreground", no_argument, NULL, ARG_FOREGROUND},
                {"check-config", no_argument, NULL, ARG_CHECK_CONFIG},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_FOREGROUND:
                        arg_foreground = true;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("drsd %s\n", DRS_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "drsd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *err = NULL;
        int k, listen_fd = -EBADF;

        k = parse_argv(argc, argv);
        if (k <= 0)
                return k < 0 ? 2 : 0;

        log_open(arg_foreground);

        k = manager_new(arg_config, arg_foreground, &m);
        if (k < 0) {
                log_error_errno(k, "Failed to set up: %m");
                return 1;
        }

        k = manager_load_config(m, &err);
        if (arg_check_config) {
                if (k < 0) {
                        fprintf(stderr, "%s\n", err ?: strerror(-k));
                        return 2;
                }
                printf("%s: valid (%zu host(s), policy '%s')\n", arg_config, m->config->n_hosts,
                       m->config->policy);
                return 0;
        }
        if (k < 0) {
                log_error_errno(k, "Failed to load the configuration: %s", err ?: strerror(-k));
                return 1;
        }

        k = sd_listen_fds(true);
        if (k < 0) {
                log_error_errno(k, "Failed to read sockets passed by systemd: %m");
                return 1;
        }
        if (k > 1) {
                log_error("Expected at most one socket from systemd, got %d", k);
                return 1;
        }
        if (k == 1) {
                if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
                        log_error("The socket passed by systemd is not a listening unix stream socket");
                        return 1;
                }
                listen_fd = SD_LISTEN_FDS_START;
        }

        k = manager_start(m, listen_fd);
        if (k < 0)
                return 1;

        k = manager_run(m);
        if (k < 0) {
                log_error_errno(k, "Event loop failed: %m");
                return 1;
        }
        return k;
}
