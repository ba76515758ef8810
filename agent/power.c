/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DPM power commands: fork/exec of `/bin/sh -c`, bounded, output captured. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "power.h"

#define KILL_GRACE_USEC (5ULL * 1000000ULL)

int power_command_for(const Policy *p, const DrsHostConfig *host, PowerAction action, char **ret) {
        const char *tmpl = NULL;

        for (size_t i = 0; i < p->dpm.n_hosts; i++)
                if (streq(p->dpm.hosts[i].host, host->name)) {
                        const PowerCommands *c = &p->dpm.hosts[i].commands;
                        tmpl = action == POWER_ON ? c->power_on : c->power_off;
                        break;
                }
        if (!tmpl)
                tmpl = action == POWER_ON ? p->dpm.commands.power_on : p->dpm.commands.power_off;
        if (!tmpl)
                return -ENOENT;
        return policy_expand_command(tmpl, host->name, host->address, host->mac, host->bmc, ret);
}

struct PowerCommand {
        sd_event *event;        /* ref */
        sd_event_source *child; /* owned */
        sd_event_source *io;    /* owned; the output pipe */
        sd_event_source *timer; /* owned; timeout, then the kill grace */
        int fd;                 /* read end of the output pipe; -EBADF when closed */
        pid_t pid;              /* also the process group */
        bool exited, killed, timed_out;
        int exit_status;
        char *output; /* owned, NUL-terminated */
        size_t n_output;
        uint64_t start_usec;
        PowerCommandDone done;
        void *userdata;
};

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000U;
}

PowerCommand *power_command_free(PowerCommand *c) {
        if (!c)
                return NULL;
        if (c->pid > 0 && !c->exited) {
                /* Our own child, by PID (it leads its own process group). */
                (void) kill(-c->pid, SIGKILL);
                (void) waitpid(c->pid, NULL, 0);
        }
        sd_event_source_disable_unref(c->child);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        sd_event_unref(c->event);
        free(c->output);
        free(c);
        return NULL;
}

pid_t power_command_pid(const PowerCommand *c) {
        return c->pid;
}

bool power_command_running(const PowerCommand *c) {
        return c && !c->exited;
}

static void read_output(PowerCommand *c) {
        char buf[4096];

        /* Bounded: the pipe is non-blocking, so this stops at EAGAIN or EOF. */
        for (;;) {
                ssize_t n = read(c->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n == 0 || errno != EAGAIN) {
                                c->io = sd_event_source_disable_unref(c->io);
                                close(c->fd);
                                c->fd = -EBADF;
                        }
                        return;
                }
                size_t keep = (size_t) n;
                if (c->n_output + keep > POWER_MAX_OUTPUT)
                        keep = POWER_MAX_OUTPUT - c->n_output;
                memcpy(c->output + c->n_output, buf, keep);
                c->n_output += keep;
                c->output[c->n_output] = '\0';
        }
}

static void maybe_finish(PowerCommand *c) {
        if (!c->exited || c->fd >= 0)
                return;
        c->timer = sd_event_source_disable_unref(c->timer);
        PowerCommandResult r = {
                .timed_out = c->timed_out,
                .exit_status = c->exit_status,
                .output = c->output,
                .duration_ms = (now_monotonic_usec() - c->start_usec) / 1000U,
        };
        PowerCommandDone done = TAKE_PTR(c->done);
        if (done)
                done(c, &r, c->userdata);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PowerCommand *c = userdata;
        read_output(c);
        maybe_finish(c);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        PowerCommand *c = userdata;
        c->exited = true;
        c->exit_status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        /* The command is over when its shell exits. What it started in the background stays:
         * a power-on command may well start a daemon (the testbed's starts the host's libvirtd)
         * and killing our process group here would kill it. Only a timeout or
         * power_command_free() of a running command kills the group. */
        if (c->fd >= 0)
                read_output(c);
        /* The output pipe may stay open in a background process: do not wait for it. */
        if (c->fd >= 0) {
                c->io = sd_event_source_disable_unref(c->io);
                close(c->fd);
                c->fd = -EBADF;
        }
        maybe_finish(c);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        PowerCommand *c = userdata;
        if (c->exited)
                return 0;
        if (!c->timed_out) {
                c->timed_out = true;
                (void) kill(-c->pid, SIGTERM);
                (void) sd_event_source_set_time_relative(s, KILL_GRACE_USEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        c->killed = true;
        (void) kill(-c->pid, SIGKILL);
        return 0;
}

int power_command_start(
        sd_event *e, const char *command, uint64_t timeout_usec, PowerCommandDone done, void *userdata,
        PowerCommand **ret) {
        _cleanup_(power_command_freep) PowerCommand *c = NULL;
        int pipefd[2], k;

        c = calloc(1, sizeof(PowerCommand));
        if (!c)
                return -ENOMEM;
        c->fd = -EBADF;
        c->event = sd_event_ref(e);
        c->done = done;
        c->userdata = userdata;
        c->output = calloc(1, POWER_MAX_OUTPUT + 1);
        if (!c->output)
                return -ENOMEM;

        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        c->fd = pipefd[0];
        c->start_usec = now_monotonic_usec();

        pid_t pid = fork();
        if (pid < 0) {
                k = -errno;
                close(pipefd[1]);
                return k;
        }
        if (pid == 0) {
                /* Child: own process group, default signals, stdin /dev/null, output to the pipe. */
                sigset_t all;
                (void) setpgid(0, 0);
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0 ||
                    dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(127);
                execl("/bin/sh", "sh", "-c", command, (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        (void) setpgid(pid, pid); /* both sides, so a kill(-pid) right away cannot miss */
        c->pid = pid;

        k = sd_event_add_child(e, &c->child, pid, WEXITED, on_child, c);
        if (k < 0)
                return k;
        k = sd_event_add_io(e, &c->io, c->fd, EPOLLIN, on_output, c);
        if (k < 0)
                return k;
        k = sd_event_add_time_relative(
                e, &c->timer, CLOCK_MONOTONIC, timeout_usec ?: POWER_DEFAULT_TIMEOUT_USEC, 0, on_timer, c);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(c->child, "power-command");

        *ret = TAKE_PTR(c);
        return 0;
}
