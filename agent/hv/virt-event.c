/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-event.h"

/* libvirt has one event loop per process, so there is one loop thread per process, shared by
 * every VirtEvent (refcounted under lock). Two threads iterating libvirt's loop at once (two
 * Managers in one process, as in the tests) would race for its wakeups: one thread could run
 * the other's wake timer and leave it blocked in poll() for ever, hanging the join. */

struct VirtEvent {
        bool started; /* a handle; the loop is shared */
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_result;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned n_users;    /* under lock */
static pthread_t thread;    /* under lock; valid while n_users > 0 */
static int wake_timer = -1; /* under lock; libvirt timer id */
static atomic_bool stop;
static atomic_bool running;

static void error_ignore(void *userdata, virErrorPtr err) {
        /* libvirt prints every error to stderr by default; callers read the thread's last
         * error instead. */
}

static void register_impl(void) {
        virSetErrorFunc(NULL, error_ignore);
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
                register_result = -EIO;
}

static void wake_timer_cb(int timer, void *opaque) {
        /* Fires only to make virEventRunDefaultImpl() return; disarm again. */
        virEventUpdateTimeout(timer, -1);
}

static void *loop_thread(void *userdata) {
        while (!atomic_load(&stop))
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

int virt_event_start(VirtEvent **ret) {
        VirtEvent *v;
        int r = 0;

        pthread_once(&register_once, register_impl);
        if (register_result < 0)
                return register_result;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;

        pthread_mutex_lock(&lock);
        if (n_users == 0) {
                wake_timer = virEventAddTimeout(-1, wake_timer_cb, NULL, NULL);
                if (wake_timer < 0)
                        r = -EIO;
                else {
                        atomic_store(&stop, false);
                        r = -pthread_create(&thread, NULL, loop_thread, NULL);
                        if (r < 0) {
                                virEventRemoveTimeout(wake_timer);
                                wake_timer = -1;
                        }
                }
        }
        if (r >= 0) {
                n_users++;
                atomic_store(&running, true);
        }
        pthread_mutex_unlock(&lock);
        if (r < 0) {
                free(v);
                return r;
        }
        v->started = true;
        *ret = v;
        return 0;
}

VirtEvent *virt_event_stop(VirtEvent *v) {
        if (!v)
                return NULL;
        pthread_mutex_lock(&lock);
        if (v->started && --n_users == 0) {
                atomic_store(&running, false);
                atomic_store(&stop, true);
                /* Updating a timer wakes the loop; the timer then fires at once. The loop
                 * thread never takes the lock: joining under it is safe. */
                virEventUpdateTimeout(wake_timer, 0);
                pthread_join(thread, NULL);
                virEventRemoveTimeout(wake_timer);
                wake_timer = -1;
        }
        pthread_mutex_unlock(&lock);
        free(v);
        return NULL;
}

bool virt_event_is_running(void) {
        return atomic_load(&running);
}
