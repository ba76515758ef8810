/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Manager: drsd's one owner of state and of the sd-event loop (everything runs on the main
 * thread). It holds the configuration (drsd.yaml), the policy, the persistent host state, the
 * history file and the control socket, and drives:
 *
 *   - signals: SIGTERM/SIGINT exit the loop cleanly; SIGHUP reloads drsd.yaml and the policy
 *     (a file with an error keeps the old configuration and policy, logged as file:line:column);
 *   - sd_notify: READY=1 once serving, STATUS= lines, RELOADING=1/READY=1 around reloads,
 *     STOPPING=1, and WATCHDOG=1 through sd_event_set_watchdog() when WatchdogSec= is set;
 *   - the pass timer: every balance interval of the policy, re-armed by itself, calling
 *     manager_pass() (the leader loop's hook; see there). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "history.h"
#include "macro.h"
#include "policy.h"
#include "state.h"

#define DRSD_DEFAULT_CONFIG "/etc/drs/drsd.yaml"

struct Manager {
        sd_event *event;   /* owned */
        char *config_path; /* owned */
        bool foreground;

        DrsConfig *config; /* owned; the configuration in force */
        Policy *policy;    /* owned; the policy in force */
        gid_t admin_gid;   /* resolved from config->admin_group */
        bool have_admin_gid;

        State *state;     /* owned; from config->state_dir at start (a reload does not move it) */
        History *history; /* owned; same directory */

        ControlServer *control;      /* owned */
        char *socket_path;           /* owned; what the control socket was bound to, NULL when activated */
        sd_event_source *pass_timer; /* owned */
        sd_event_source *sigterm;    /* owned */
        sd_event_source *sigint;     /* owned */
        sd_event_source *sighup;     /* owned */

        uint64_t started_usec;     /* CLOCK_REALTIME */
        uint64_t n_passes;         /* pass timer firings */
        uint64_t last_pass_usec;   /* CLOCK_REALTIME of the last pass; 0 = none yet */
        uint64_t pass_interval_s;  /* the interval the timer is armed with */
        uint64_t n_reloads;        /* successful reloads */
        uint64_t last_reload_usec; /* CLOCK_REALTIME of the last attempt; 0 = none */
        char *last_reload_error; /* owned; file:line:column: … of the last failed reload, NULL after a good
                                    one */
};

int manager_new(const char *config_path, bool foreground, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads drsd.yaml and the policy it names, without touching the state directory (also what
 * --check-config runs). On a bad file returns -EINVAL and *reterr_msg ("file:line:column: …"). */
int manager_load_config(Manager *m, char **reterr_msg);

/* Opens the state directory (host state, history), sets up signals, the watchdog, the pass
 * timer and the control socket (listen_fd >= 0: socket activation, taken over; else bound at
 * the configured path). Logs what fails. */
int manager_start(Manager *m, int listen_fd);

/* Runs the loop until SIGTERM/SIGINT; returns the exit code of the loop. */
int manager_run(Manager *m);

/* Re-reads drsd.yaml and the policy; on error keeps both old ones, sets last_reload_error and
 * returns -EINVAL with *reterr_msg (may be NULL). Logs and records the outcome. */
int manager_reload(Manager *m, char **reterr_msg);

/* One pass of the pass timer. See manager.c: the leader loop (collector snapshot → solver →
 * executor) is not built yet; this only accounts the pass. */
int manager_pass(Manager *m);

/* Records an event in the journal (with its MESSAGE_ID and fields) and in the history file. */
void manager_record(Manager *m, int level, const char *message_id, const HistoryEvent *e);

/* The control methods, for control_server_new(). */
extern const ControlMethodEntry manager_methods[];
extern const size_t manager_n_methods;
