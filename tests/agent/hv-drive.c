/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hv-drive: drives hv_libvirt_ops against real libvirtds (tests/e2e/hv-libvirt.sh). Prints
 * key=value lines for the script to check.
 *
 *   hv-drive stats URI VM [SECONDS]     two host_stats SECONDS apart (default 3), fed to a collector
 *   hv-drive precheck SRC DST VM        exit 0 when the precheck passes, 1 with its message
 *   hv-drive migrate SRC DST DST_MIGRATION_URI VM MEMORY_MIB
 *                                       through the executor; exit 0 on MIGRATION_OK
 *                                       ($HV_DRIVE_BANDWIDTH_MIB_S: the policy's bandwidth); on
 *                                       SIGTERM: executor_free() and exit, as drsd does
 *   hv-drive watch URI SECONDS          open, then report when the connection dies (close
 *                                       callback / keepalive): dead_after_ms=…
 *   hv-drive poll URI SECONDS           a Poller (1 s interval, backoff 1 s → 4 s) on URI for
 *                                       SECONDS: one line per sample or error */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "collector.h"
#include "executor.h"
#include "hv.h"
#include "macro.h"
#include "poller.h"
#include "virt-event.h"

static const HvDomainStats *find(const HvHostStats *s, const char *vm) {
        for (size_t i = 0; i < s->n_domains; i++)
                if (streq(s->domains[i].name, vm))
                        return &s->domains[i];
        return NULL;
}

static int cmd_stats(const char *uri, const char *vm, unsigned seconds) {
        _cleanup_free_ char *msg = NULL;
        HvHostStats a = {}, b = {};
        HvConn *c = NULL;
        Collector *col = NULL;
        int r;

        r = hv_libvirt_ops.open(uri, &c, &msg);
        if (r < 0) {
                fprintf(stderr, "open %s: %s\n", uri, msg ? msg : strerror(-r));
                return 1;
        }
        printf("alive=%s\n", hv_libvirt_ops.is_alive(c) ? "yes" : "no");
        uint64_t t0 = hv_now_usec();
        r = hv_libvirt_ops.host_stats(c, &a, &msg);
        printf("stats_call_ms=%" PRIu64 "\n", (hv_now_usec() - t0) / 1000);
        if (r >= 0) {
                sleep(seconds);
                r = hv_libvirt_ops.host_stats(c, &b, &msg);
        }
        hv_libvirt_ops.close(c);
        if (r < 0) {
                fprintf(stderr, "host_stats: %s\n", msg ? msg : strerror(-r));
                return 1;
        }
        printf("host_cpus=%u\nhost_memory_mib=%" PRIu64 "\nhost_free_mib=%" PRIu64 "\ndomains=%zu\n", b.cpus,
               b.memory_kib / 1024, b.free_kib / 1024, b.n_domains);
        const HvDomainStats *da = find(&a, vm), *db = find(&b, vm);
        if (!da || !db) {
                fprintf(stderr, "'%s' not in both samples\n", vm);
                hv_host_stats_done(&a);
                hv_host_stats_done(&b);
                return 1;
        }
        printf("vm=%s\nuuid=%s\nrunning=%s\nvcpus=%u\nmemory_kib=%" PRIu64 "\n", db->name, db->uuid,
               db->running ? "yes" : "no", db->vcpus, db->memory_kib);
        printf("cpu_time_ns_1=%" PRIu64 "\ncpu_time_ns_2=%" PRIu64 "\n", da->cpu_time_ns, db->cpu_time_ns);
        printf("migrating_1=%s\n", da->migrating ? "yes" : "no");
        printf("balloon=%s\nballoon_current_kib=%" PRIu64 "\nballoon_available_kib=%" PRIu64
               "\nballoon_unused_kib=%" PRIu64 "\nballoon_rss_kib=%" PRIu64 "\nmigrating=%s\n",
               db->have_balloon ? "yes" : "no", db->balloon_current_kib, db->balloon_available_kib,
               db->balloon_unused_kib, db->balloon_rss_kib, db->migrating ? "yes" : "no");

        r = collector_new(0.5, 3, 60 * UINT64_C(1000000), &col);
        if (r >= 0)
                r = collector_feed(col, "h", &a);
        if (r >= 0)
                r = collector_feed(col, "h", &b);
        if (r >= 0) {
                const HostReport *h = collector_get(col, "h");
                for (size_t i = 0; i < h->n_vms; i++)
                        if (streq(h->vms[i].name, vm))
                                printf("cpu_demand=%.4f\nmemory_demand_mib=%" PRIu64 "\n",
                                       h->vms[i].cpu_demand, h->vms[i].memory_demand_mib);
        }
        collector_free(col);
        hv_host_stats_done(&a);
        hv_host_stats_done(&b);
        return r < 0 ? 1 : 0;
}

static int cmd_precheck(const char *src_uri, const char *dst_uri, const char *vm) {
        _cleanup_free_ char *msg = NULL;
        HvConn *src = NULL, *dst = NULL;
        int r;

        r = hv_libvirt_ops.open(src_uri, &src, &msg);
        if (r >= 0)
                r = hv_libvirt_ops.open(dst_uri, &dst, &msg);
        if (r >= 0)
                r = hv_libvirt_ops.precheck(src, dst, vm, &msg);
        if (dst)
                hv_libvirt_ops.close(dst);
        if (src)
                hv_libvirt_ops.close(src);
        if (r < 0) {
                printf("precheck=failed\nprecheck_errno=%d\nprecheck_message=%s\n", -r,
                       msg ? msg : strerror(-r));
                return 1;
        }
        printf("precheck=ok\n");
        return 0;
}

typedef struct MigrateCtx {
        bool done;
        MigrationResult result;
        char *message;
        uint64_t duration_ms, downtime_ms;
        unsigned stall_steps;
} MigrateCtx;

static void on_done(const MigrationRequest *req, const MigrationOutcome *o, void *userdata) {
        MigrateCtx *m = userdata;

        m->done = true;
        m->result = o->result;
        m->message = o->message ? strdup(o->message) : NULL;
        m->duration_ms = o->duration_ms;
        m->downtime_ms = o->downtime_ms;
        m->stall_steps = o->stall_steps;
}

static void on_progress(
        const MigrationRequest *req, MigrationEvent ev, uint64_t value, const char *detail, void *userdata) {
        printf("event=%s value=%" PRIu64 "%s%s\n", migration_event_to_string(ev), value, detail ? " " : "",
               detail ? detail : "");
        fflush(stdout);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        *(bool *) userdata = true;
        return 0;
}

static int cmd_migrate(
        const char *src_uri, const char *dst_uri, const char *dst_mig_uri, const char *vm,
        uint64_t memory_mib) {
        sd_event *e = NULL;
        Policy *p = NULL;
        Executor *x = NULL;
        MigrateCtx m = {};
        int r;

        r = sd_event_new(&e);
        if (r >= 0)
                r = policy_new(&p);
        if (r >= 0)
                r = executor_new(e, &hv_libvirt_ops, p, &x);
        if (r < 0) {
                fprintf(stderr, "setup: %s\n", strerror(-r));
                goto out;
        }
        executor_set_progress(x, on_progress, NULL);
        const char *bw = getenv("HV_DRIVE_BANDWIDTH_MIB_S");
        if (bw) {
                p->migration.bandwidth_mib_s = strtoull(bw, NULL, 10);
                (void) executor_set_policy(x, p);
        }
        MigrationRequest req = {
                .vm = vm,
                .source = "src",
                .target = "dst",
                .source_uri = src_uri,
                .target_uri = dst_uri,
                .target_migration_uri = dst_mig_uri,
                .memory_mib = memory_mib,
                .reason = "manual",
        };
        /* SIGTERM as drsd takes it: leave the loop, executor_free(), exit. */
        bool term = false;
        r = sd_event_add_signal(e, NULL, SIGTERM, on_sigterm, &term);
        uint64_t t0 = hv_now_usec(), deadline = t0 + 300 * UINT64_C(1000000);
        if (r >= 0)
                r = executor_submit(x, &req, on_done, &m);
        while (r >= 0 && !m.done && !term && hv_now_usec() < deadline)
                r = sd_event_run(e, 100000);
        printf("wall_ms=%" PRIu64 "\n", (hv_now_usec() - t0) / 1000);
        if (term && !m.done) {
                uint64_t t1 = hv_now_usec();
                x = executor_free(x);
                printf("sigterm=yes\nexecutor_free_ms=%" PRIu64 "\n", (hv_now_usec() - t1) / 1000);
                r = 0;
                goto out;
        }
        if (r < 0 || !m.done) {
                fprintf(stderr, "migrate: %s\n", r < 0 ? strerror(-r) : "no result in 300 s");
                r = r < 0 ? r : -ETIMEDOUT;
                goto out;
        }
        printf("result=%s\nduration_ms=%" PRIu64 "\ndowntime_ms=%" PRIu64 "\nstall_steps=%u\nmessage=%s\n",
               migration_result_to_string(m.result), m.duration_ms, m.downtime_ms, m.stall_steps,
               m.message ? m.message : "");
        r = m.result == MIGRATION_OK ? 0 : -EIO;
out:
        free(m.message);
        executor_free(x);
        policy_free(p);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}

static int cmd_watch(const char *uri, unsigned seconds) {
        _cleanup_free_ char *msg = NULL;
        HvConn *c = NULL;
        uint64_t t0, deadline;
        int r;

        r = hv_libvirt_ops.open(uri, &c, &msg);
        if (r < 0) {
                fprintf(stderr, "open %s: %s\n", uri, msg ? msg : strerror(-r));
                return 1;
        }
        printf("watching=yes\n");
        t0 = hv_now_usec();
        deadline = t0 + (uint64_t) seconds * 1000000;
        while (hv_libvirt_ops.is_alive(c) && hv_now_usec() < deadline)
                usleep(50000);
        if (!hv_libvirt_ops.is_alive(c))
                printf("dead_after_ms=%" PRIu64 "\n", (hv_now_usec() - t0) / 1000);
        else
                printf("still_alive=yes\n");
        hv_libvirt_ops.close(c);
        return 0;
}

static void on_poll(const char *host, const HvHostStats *s, const char *error, void *userdata) {
        uint64_t t0 = *(const uint64_t *) userdata;

        if (s)
                printf("t_ms=%" PRIu64 " sample domains=%zu\n", (hv_now_usec() - t0) / 1000, s->n_domains);
        else
                printf("t_ms=%" PRIu64 " error %s\n", (hv_now_usec() - t0) / 1000, error);
}

static int cmd_poll(const char *uri, unsigned seconds) {
        sd_event *e = NULL;
        Poller *p = NULL;
        uint64_t t0 = hv_now_usec(), deadline = t0 + (uint64_t) seconds * 1000000;
        int r;

        r = sd_event_new(&e);
        if (r >= 0)
                r = poller_new(e, &hv_libvirt_ops, 1000000, on_poll, &t0, &p);
        if (r >= 0) {
                poller_set_backoff(p, 1000000, 4000000);
                r = poller_add_host(p, "h", uri);
        }
        while (r >= 0 && hv_now_usec() < deadline)
                r = sd_event_run(e, 100000);
        uint64_t t1 = hv_now_usec();
        poller_free(p);
        printf("free_ms=%" PRIu64 "\n", (hv_now_usec() - t1) / 1000);
        sd_event_unref(e);
        if (r < 0)
                fprintf(stderr, "poll: %s\n", strerror(-r));
        return r < 0 ? 1 : 0;
}

int main(int argc, char *argv[]) {
        VirtEvent *v = NULL;
        int r, ret = 2;

        setvbuf(stdout, NULL, _IOLBF, 0);
        /* migrate: SIGTERM blocked in every thread (before any starts), taken by sd-event. */
        if (argc >= 2 && streq(argv[1], "migrate")) {
                sigset_t ss;
                sigemptyset(&ss);
                sigaddset(&ss, SIGTERM);
                pthread_sigmask(SIG_BLOCK, &ss, NULL);
        }
        r = virt_event_start(&v);
        if (r < 0) {
                fprintf(stderr, "virt_event_start: %s\n", strerror(-r));
                return 1;
        }
        if (argc >= 4 && streq(argv[1], "stats"))
                ret = cmd_stats(argv[2], argv[3], argc >= 5 ? (unsigned) strtoul(argv[4], NULL, 10) : 3);
        else if (argc == 5 && streq(argv[1], "precheck"))
                ret = cmd_precheck(argv[2], argv[3], argv[4]);
        else if (argc == 7 && streq(argv[1], "migrate"))
                ret = cmd_migrate(argv[2], argv[3], argv[4], argv[5], strtoull(argv[6], NULL, 10));
        else if (argc == 4 && streq(argv[1], "watch"))
                ret = cmd_watch(argv[2], (unsigned) strtoul(argv[3], NULL, 10));
        else if (argc == 4 && streq(argv[1], "poll"))
                ret = cmd_poll(argv[2], (unsigned) strtoul(argv[3], NULL, 10));
        else
                fprintf(stderr,
                        "usage: hv-drive stats URI VM [S] | precheck SRC DST VM | migrate SRC DST DST_MIG VM "
                        "MIB | watch URI S | poll URI S\n");
        virt_event_stop(v);
        return ret;
}
