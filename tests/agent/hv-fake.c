/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "hv-fake.h"
#include "macro.h"

#define MAX_HOSTS 16
#define MAX_DOMAINS 64
#define MIGRATE_SAFETY_USEC (UINT64_C(30) * 1000000)

typedef struct FakeHost {
        char name[32];
        unsigned cpus;
        uint64_t memory_kib;
        bool down;
        unsigned epoch; /* bumped when it goes down: older connections are dead */
        unsigned open_calls;
        unsigned cur_out, cur_in;
        int tls; /* hv_fake_set_tls() */
} FakeHost;

typedef enum JobState { JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } JobState;

typedef struct FakeDomain {
        char name[32];
        int host; /* index; -1 = nowhere */
        uint64_t memory_kib;
        uint64_t cpu_base_ns;
        double cpu_rate;
        uint64_t cpu_since_usec;
        HvFakeMigration script;
        bool scripted;
        char fail_message[128];
        char precheck_error[128];
        char prepare_error[128];
        /* The active migration. */
        bool migrating;
        int mig_dest;
        unsigned polls;
        bool auto_converge;
        JobState state;
        /* The last completed one (job_info completed=true on the destination). */
        bool have_completed;
        uint64_t completed_downtime_ms;
        uint64_t completed_elapsed_ms;
        uint64_t mig_start_usec;
} FakeDomain;

struct HvConn {
        int host;
        unsigned epoch;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static FakeHost hosts[MAX_HOSTS];
static unsigned n_hosts;
static FakeDomain domains[MAX_DOMAINS];
static unsigned n_domains;
static HvFakeCounters counters;
static unsigned cur_total;

static void set_err(char **reterr_msg, const char *fmt, const char *arg) {
        if (!reterr_msg)
                return;
        char *m = NULL;
        if (asprintf(&m, "%s%s", fmt, arg ? arg : "") < 0)
                m = NULL;
        *reterr_msg = m;
}

void hv_fake_reset(void) {
        pthread_mutex_lock(&lock);
        memset(hosts, 0, sizeof(hosts));
        memset(domains, 0, sizeof(domains));
        n_hosts = n_domains = 0;
        counters = (HvFakeCounters){};
        cur_total = 0;
        pthread_mutex_unlock(&lock);
}

static int find_host(const char *name) {
        for (unsigned i = 0; i < n_hosts; i++)
                if (streq(hosts[i].name, name))
                        return (int) i;
        return -1;
}

static FakeDomain *find_domain(const char *vm) {
        for (unsigned i = 0; i < n_domains; i++)
                if (streq(domains[i].name, vm))
                        return &domains[i];
        return NULL;
}

/* Locked. */
static uint64_t cpu_time(const FakeDomain *d, uint64_t now) {
        return d->cpu_base_ns + (uint64_t) (d->cpu_rate * (double) (now - d->cpu_since_usec) * 1000.0);
}

int hv_fake_add_host(const char *host, unsigned cpus, uint64_t memory_kib) {
        pthread_mutex_lock(&lock);
        if (n_hosts >= MAX_HOSTS || find_host(host) >= 0 || strlen(host) >= sizeof(hosts[0].name)) {
                pthread_mutex_unlock(&lock);
                return -EINVAL;
        }
        FakeHost *h = &hosts[n_hosts++];
        *h = (FakeHost){.cpus = cpus, .memory_kib = memory_kib};
        memcpy(h->name, host, strlen(host) + 1);
        pthread_mutex_unlock(&lock);
        return 0;
}

int hv_fake_add_domain(const char *host, const char *vm, uint64_t memory_kib) {
        pthread_mutex_lock(&lock);
        int h = find_host(host);
        if (h < 0 || n_domains >= MAX_DOMAINS || find_domain(vm) || strlen(vm) >= sizeof(domains[0].name)) {
                pthread_mutex_unlock(&lock);
                return -EINVAL;
        }
        FakeDomain *d = &domains[n_domains++];
        *d = (FakeDomain){.host = h, .memory_kib = memory_kib, .cpu_since_usec = hv_now_usec()};
        memcpy(d->name, vm, strlen(vm) + 1);
        pthread_mutex_unlock(&lock);
        return 0;
}

void hv_fake_set_cpu_rate(const char *vm, double cores) {
        pthread_mutex_lock(&lock);
        FakeDomain *d = find_domain(vm);
        if (d) {
                uint64_t now = hv_now_usec();
                d->cpu_base_ns = cpu_time(d, now);
                d->cpu_since_usec = now;
                d->cpu_rate = cores;
        }
        pthread_mutex_unlock(&lock);
}

void hv_fake_set_cpu_time(const char *vm, uint64_t ns) {
        pthread_mutex_lock(&lock);
        FakeDomain *d = find_domain(vm);
        if (d) {
                d->cpu_base_ns = ns;
                d->cpu_since_usec = hv_now_usec();
        }
        pthread_mutex_unlock(&lock);
}

void hv_fake_set_host_down(const char *host, bool down) {
        pthread_mutex_lock(&lock);
        int h = find_host(host);
        if (h >= 0) {
                if (down && !hosts[h].down)
                        hosts[h].epoch++;
                hosts[h].down = down;
        }
        pthread_mutex_unlock(&lock);
}

int hv_fake_script_migration(const char *vm, const HvFakeMigration *m) {
        pthread_mutex_lock(&lock);
        FakeDomain *d = find_domain(vm);
        if (!d) {
                pthread_mutex_unlock(&lock);
                return -ENOENT;
        }
        d->script = *m;
        d->scripted = true;
        d->fail_message[0] = d->precheck_error[0] = d->prepare_error[0] = 0;
        if (m->prepare_error)
                (void) snprintf(d->prepare_error, sizeof(d->prepare_error), "%s", m->prepare_error);
        if (m->fail_message)
                (void) snprintf(d->fail_message, sizeof(d->fail_message), "%s", m->fail_message);
        if (m->precheck_error)
                (void) snprintf(d->precheck_error, sizeof(d->precheck_error), "%s", m->precheck_error);
        d->script.fail_message = d->script.precheck_error = d->script.prepare_error = NULL;
        pthread_mutex_unlock(&lock);
        return 0;
}

void hv_fake_release_all(void) {
        pthread_mutex_lock(&lock);
        for (unsigned i = 0; i < n_domains; i++)
                if (domains[i].migrating && domains[i].state == JOB_RUNNING)
                        domains[i].state = JOB_DONE;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
}

void hv_fake_counters(HvFakeCounters *ret) {
        pthread_mutex_lock(&lock);
        *ret = counters;
        pthread_mutex_unlock(&lock);
}

unsigned hv_fake_n_running(const char *vm, const char **ret_host) {
        unsigned n = 0;

        pthread_mutex_lock(&lock);
        FakeDomain *d = find_domain(vm);
        if (ret_host)
                *ret_host = NULL;
        if (d && d->host >= 0) {
                n = 1;
                if (ret_host)
                        *ret_host = hosts[d->host].name;
        }
        pthread_mutex_unlock(&lock);
        return n;
}

unsigned hv_fake_open_calls(const char *host) {
        unsigned n = 0;

        pthread_mutex_lock(&lock);
        int h = find_host(host);
        if (h >= 0)
                n = hosts[h].open_calls;
        pthread_mutex_unlock(&lock);
        return n;
}

/* The ops. */

static int host_from_uri(const char *uri) {
        const char *name = NULL;

        if (strncmp(uri, "fake://", 7) == 0)
                name = uri + 7;
        else if (strncmp(uri, "fake-mig://", 11) == 0)
                name = uri + 11;
        return name ? find_host(name) : -1;
}

static bool conn_alive_locked(const HvConn *c) {
        return !hosts[c->host].down && hosts[c->host].epoch == c->epoch;
}

static int f_open(const char *uri, HvConn **ret, char **reterr_msg) {
        pthread_mutex_lock(&lock);
        counters.open_calls++;
        int h = host_from_uri(uri);
        if (h >= 0)
                hosts[h].open_calls++;
        if (h < 0 || hosts[h].down) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "unable to connect to server at ", uri);
                return -ECONNREFUSED;
        }
        HvConn *c = calloc(1, sizeof(*c));
        if (!c) {
                pthread_mutex_unlock(&lock);
                return -ENOMEM;
        }
        c->host = h;
        c->epoch = hosts[h].epoch;
        counters.open_conns++;
        pthread_mutex_unlock(&lock);
        *ret = c;
        return 0;
}

static void f_close(HvConn *c) {
        if (!c)
                return;
        pthread_mutex_lock(&lock);
        counters.open_conns--;
        pthread_mutex_unlock(&lock);
        free(c);
}

static bool f_is_alive(HvConn *c) {
        pthread_mutex_lock(&lock);
        bool a = conn_alive_locked(c);
        pthread_mutex_unlock(&lock);
        return a;
}

static int f_host_stats(HvConn *c, HvHostStats *ret, char **reterr_msg) {
        HvHostStats s = {};
        uint64_t now = hv_now_usec();

        pthread_mutex_lock(&lock);
        counters.host_stats_calls++;
        if (!conn_alive_locked(c)) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "Cannot write data: Broken pipe", NULL);
                return -ECOMM;
        }
        s.t_usec = now;
        s.cpus = hosts[c->host].cpus;
        s.memory_kib = hosts[c->host].memory_kib;
        s.free_kib = s.memory_kib;
        s.domains = calloc(MAX_DOMAINS, sizeof(HvDomainStats));
        if (!s.domains) {
                pthread_mutex_unlock(&lock);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < n_domains; i++) {
                FakeDomain *d = &domains[i];
                if (d->host != c->host)
                        continue;
                HvDomainStats *o = &s.domains[s.n_domains++];
                o->name = strdup(d->name);
                o->running = true;
                o->vcpus = 1;
                o->memory_kib = d->memory_kib;
                o->cpu_time_ns = cpu_time(d, now);
                o->have_balloon = true;
                o->balloon_current_kib = d->memory_kib;
                o->balloon_available_kib = d->memory_kib;
                o->balloon_unused_kib = d->memory_kib / 2;
                o->balloon_usable_kib = d->memory_kib / 2;
                o->balloon_rss_kib = d->memory_kib + 65536;
                o->migrating = d->migrating;
                if (s.free_kib >= d->memory_kib)
                        s.free_kib -= d->memory_kib;
        }
        pthread_mutex_unlock(&lock);
        for (size_t i = 0; i < s.n_domains; i++)
                if (!s.domains[i].name) {
                        hv_host_stats_done(&s);
                        return -ENOMEM;
                }
        *ret = s;
        return 0;
}

static int f_precheck(HvConn *src, HvConn *dst, const char *vm, char **reterr_msg) {
        pthread_mutex_lock(&lock);
        counters.precheck_calls++;
        FakeDomain *d = find_domain(vm);
        if (!d || d->host != src->host) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "Domain not found: no domain with matching name ", vm);
                return -ENOENT;
        }
        if (d->precheck_error[0]) {
                char m[128];
                memcpy(m, d->precheck_error, sizeof(m));
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, m, NULL);
                return -EXDEV;
        }
        pthread_mutex_unlock(&lock);
        return 0;
}

static int f_migrate(HvConn *src, const char *vm, const HvMigrateParams *p, char **reterr_msg) {
        uint64_t deadline = hv_now_usec() + MIGRATE_SAFETY_USEC;
        int r = 0;

        pthread_mutex_lock(&lock);
        counters.migrate_calls++;
        if (p->tls)
                counters.tls_migrations++;
        if (p->copy_disks && p->copy_disks[0]) {
                counters.copy_disk_migrations++;
                counters.last_copy_disks = (unsigned) strv_length(p->copy_disks);
        }
        FakeDomain *d = find_domain(vm);
        int dest = host_from_uri(p->dest_uri);
        if (!d || d->host != src->host || dest < 0 || d->migrating) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "Requested operation is not valid: cannot migrate ", vm);
                return -EINVAL;
        }
        int source = d->host;
        d->migrating = true;
        d->mig_dest = dest;
        d->polls = 0;
        d->auto_converge = p->auto_converge;
        d->state = JOB_RUNNING;
        d->mig_start_usec = hv_now_usec();
        if (p->auto_converge)
                counters.auto_converge_migrations++;
        counters.active_migrations++;
        cur_total++;
        hosts[source].cur_out++;
        hosts[dest].cur_in++;
        if (cur_total > counters.max_total)
                counters.max_total = cur_total;
        if (hosts[source].cur_out > counters.max_out_per_host)
                counters.max_out_per_host = hosts[source].cur_out;
        if (hosts[dest].cur_in > counters.max_in_per_host)
                counters.max_in_per_host = hosts[dest].cur_in;

        while (d->state == JOB_RUNNING) {
                uint64_t now = hv_now_usec();
                if (now >= deadline) {
                        d->state = JOB_FAILED;
                        break;
                }
                uint64_t until = now + 100000;
                struct timespec ts = {
                        .tv_sec = (time_t) (until / 1000000), .tv_nsec = (long) (until % 1000000) * 1000};
                (void) pthread_cond_timedwait(&cond, &lock, &ts);
        }

        switch (d->state) {
        case JOB_DONE:
                d->have_completed = true;
                d->completed_downtime_ms =
                        d->scripted && d->script.downtime_ms > 0 ? d->script.downtime_ms : 42;
                d->completed_elapsed_ms = (hv_now_usec() - d->mig_start_usec) / 1000;
                if (d->scripted && d->script.lose)
                        d->host = -1;
                else {
                        d->host = dest;
                        d->cpu_base_ns = 0; /* a new QEMU */
                        d->cpu_since_usec = hv_now_usec();
                }
                break;
        case JOB_CANCELLED:
                r = -ECANCELED;
                set_err(reterr_msg, "operation aborted: migration out job: canceled by client", NULL);
                break;
        default:
                r = -EIO;
                set_err(reterr_msg,
                        d->fail_message[0] ? d->fail_message : "internal error: fake migration failed",
                        NULL);
        }
        d->migrating = false;
        counters.active_migrations--;
        cur_total--;
        hosts[source].cur_out--;
        hosts[dest].cur_in--;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        return r;
}

static int f_job_info(HvConn *c, const char *vm, bool completed, HvJobInfo *ret, char **reterr_msg) {
        const uint64_t total = UINT64_C(128) << 20, page = 4096;
        HvJobInfo j = {};

        pthread_mutex_lock(&lock);
        FakeDomain *d = find_domain(vm);
        if (!d || d->host != c->host) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "Domain not found: no domain with matching name ", vm);
                return -ENOENT;
        }
        if (completed) {
                if (d->have_completed) {
                        j.type = HV_JOB_COMPLETED;
                        j.downtime_ms = d->completed_downtime_ms;
                        j.time_elapsed_ms = d->completed_elapsed_ms;
                        j.memory_total_bytes = total;
                        j.memory_processed_bytes = total;
                }
        } else if (d->migrating && d->state == JOB_RUNNING) {
                const HvFakeMigration *s = &d->script;
                unsigned n = d->scripted && s->polls > 0 ? s->polls : 3;
                bool stalls =
                        d->scripted && (s->stall || (s->stall_unless_auto_converge && !d->auto_converge));

                d->polls++;
                j.type = HV_JOB_RUNNING;
                j.memory_total_bytes = total;
                j.memory_page_size = page;
                j.memory_iteration = d->polls;
                j.memory_bps = UINT64_C(10) << 20;
                j.time_elapsed_ms = (hv_now_usec() - d->mig_start_usec) / 1000;
                if (d->scripted && d->fail_message[0] && d->polls >= s->fail_after_polls) {
                        d->state = JOB_FAILED;
                        pthread_cond_broadcast(&cond);
                } else if (stalls) {
                        j.memory_remaining_bytes = total / 2;
                        j.memory_dirty_rate_pps = (UINT64_C(20) << 20) / page;
                } else if (d->scripted && s->hang) {
                        /* Converging, forever: a new low at every poll. */
                        j.memory_remaining_bytes = total / (d->polls + 1);
                        j.memory_dirty_rate_pps = 1;
                } else if (d->polls >= n) {
                        d->state = JOB_DONE;
                        pthread_cond_broadcast(&cond);
                } else {
                        j.memory_remaining_bytes = total * (n - d->polls) / n;
                        j.memory_dirty_rate_pps = 10;
                }
                j.memory_processed_bytes = total - j.memory_remaining_bytes;
        }
        pthread_mutex_unlock(&lock);
        *ret = j;
        return 0;
}

static int f_set_max_downtime(HvConn *c, const char *vm, uint64_t ms, char **reterr_msg) {
        pthread_mutex_lock(&lock);
        if (counters.n_downtimes < HV_FAKE_MAX_DOWNTIMES)
                counters.downtimes_ms[counters.n_downtimes++] = ms;
        pthread_mutex_unlock(&lock);
        return 0;
}

static int f_abort_job(HvConn *c, const char *vm, char **reterr_msg) {
        pthread_mutex_lock(&lock);
        counters.abort_calls++;
        FakeDomain *d = find_domain(vm);
        if (!d || !d->migrating || d->host != c->host) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "Requested operation is not valid: no job is active on the domain",
                        NULL);
                return -EINVAL;
        }
        d->state = JOB_CANCELLED;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        return 0;
}

static int
f_domain_state(HvConn *c, const char *vm, bool *ret_exists, bool *ret_running, char **reterr_msg) {
        pthread_mutex_lock(&lock);
        FakeDomain *d = find_domain(vm);
        bool here = d && d->host == c->host;
        pthread_mutex_unlock(&lock);
        *ret_exists = here;
        *ret_running = here;
        return 0;
}

static int
f_prepare_storage(HvConn *src, HvConn *dst, const char *vm, HvStoragePrep *ret, char **reterr_msg) {
        _cleanup_(hv_storage_prep_done) HvStoragePrep prep = {};
        unsigned n;

        pthread_mutex_lock(&lock);
        counters.prepare_calls++;
        FakeDomain *d = find_domain(vm);
        if (!d || d->host != src->host) {
                pthread_mutex_unlock(&lock);
                set_err(reterr_msg, "Domain not found: ", vm);
                return -ENOENT;
        }
        if (d->prepare_error[0]) {
                set_err(reterr_msg, "", d->prepare_error);
                pthread_mutex_unlock(&lock);
                return -EEXIST;
        }
        n = d->script.local_disks;
        counters.volumes_created += n;
        pthread_mutex_unlock(&lock);
        prep.disks = calloc(1, sizeof(char *));
        prep.source_paths = calloc(1, sizeof(char *));
        prep.created = calloc(1, sizeof(char *));
        prep.shared = calloc(1, sizeof(char *));
        if (!prep.disks || !prep.source_paths || !prep.created || !prep.shared)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                char target[8], path[64];
                (void) snprintf(target, sizeof(target), "vd%c", 'a' + (char) i);
                (void) snprintf(path, sizeof(path), "/pool/%s-%s.qcow2", vm, target);
                if (strv_extend(&prep.disks, target) < 0 || strv_extend(&prep.source_paths, path) < 0 ||
                    strv_extend(&prep.created, path) < 0)
                        return -ENOMEM;
                prep.bytes += 1 << 20;
        }
        *ret = prep;
        prep = (HvStoragePrep){};
        return 0;
}

static int f_delete_volume(HvConn *c, const char *path, char **reterr_msg) {
        pthread_mutex_lock(&lock);
        if (c->host >= 0 && (size_t) c->host < ELEMENTSOF(counters.volumes_deleted))
                counters.volumes_deleted[c->host]++;
        pthread_mutex_unlock(&lock);
        return 0;
}

void hv_fake_set_tls(const char *host, int tls) {
        pthread_mutex_lock(&lock);
        for (unsigned i = 0; i < n_hosts; i++)
                if (streq(hosts[i].name, host))
                        hosts[i].tls = tls;
        pthread_mutex_unlock(&lock);
}

static int f_tls_probe(HvConn *c, const char *dir, HvTlsProbe *ret, char **reterr_msg) {
        int tls;

        pthread_mutex_lock(&lock);
        counters.tls_probe_calls++;
        tls = c->host >= 0 ? hosts[c->host].tls : -1;
        pthread_mutex_unlock(&lock);
        if (tls < 0) {
                set_err(reterr_msg, "cannot list the directory", NULL);
                return -EIO;
        }
        *ret = (HvTlsProbe){.configured = tls > 0};
        if (tls == 0) {
                if (asprintf(
                            &ret->missing, "missing ca-cert.pem, server-cert.pem in %s",
                            dir ?: HV_MIGRATION_TLS_DIR) < 0)
                        return -ENOMEM;
        }
        return 0;
}

const HvOps hv_fake_ops = {
        .open = f_open,
        .close = f_close,
        .is_alive = f_is_alive,
        .host_stats = f_host_stats,
        .precheck = f_precheck,
        .migrate = f_migrate,
        .job_info = f_job_info,
        .set_max_downtime = f_set_max_downtime,
        .abort_job = f_abort_job,
        .domain_state = f_domain_state,
        .tls_probe = f_tls_probe,
        .prepare_storage = f_prepare_storage,
        .delete_volume = f_delete_volume,
};
