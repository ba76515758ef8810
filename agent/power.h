/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* DPM power commands: the configured power-on / power-off command of a host, run as
 * `/bin/sh -c COMMAND` in its own process group with stdin from /dev/null and stdout+stderr
 * captured (at most POWER_MAX_OUTPUT bytes kept), bounded in time (SIGTERM to its process
 * group at the timeout, SIGKILL 5 s later). The command has ended when its shell exits: what it
 * left running in the background (a daemon it started) is not killed, and the output it writes
 * after that is not read. Runs on the Manager's sd-event loop (a child
 * source; SIGCHLD must be blocked before any thread starts) and reports through a callback.
 * Library code: never logs; the caller journals the outcome and the output. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "macro.h"
#include "policy.h"
#include "solver.h"

#define POWER_MAX_OUTPUT (16U * 1024U)
#define POWER_DEFAULT_TIMEOUT_USEC (120ULL * 1000000ULL)

/* The command template for a host: its DPM host override, else the policy's default, expanded
 * with the host's configuration. -ENOENT when none is configured. */
int power_command_for(const Policy *p, const DrsHostConfig *host, PowerAction action, char **ret);

typedef struct PowerCommandResult {
        bool timed_out;
        int exit_status;    /* exit code, or 128 + signal; -1 when it could not start */
        const char *output; /* captured stdout+stderr (NUL-terminated; may be truncated) */
        uint64_t duration_ms;
} PowerCommandResult;

typedef struct PowerCommand PowerCommand;
typedef void (*PowerCommandDone)(PowerCommand *c, const PowerCommandResult *r, void *userdata);

/* Starts the command. The callback runs once, on the loop; the PowerCommand stays valid until
 * power_command_free() (which kills a command still running). */
int power_command_start(
        sd_event *e, const char *command, uint64_t timeout_usec, PowerCommandDone done, void *userdata,
        PowerCommand **ret);
PowerCommand *power_command_free(PowerCommand *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(PowerCommand *, power_command_free);
pid_t power_command_pid(const PowerCommand *c);
bool power_command_running(const PowerCommand *c);
