/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-event.h"

struct VirtEvent {
        pthread_t thread;
        int wake_timer; /* libvirt timer id */
        atomic_bool stop;
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_result;
static atomic_int n_running;

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
        VirtEvent *v = userdata;

        while (!atomic_load(&v->stop))
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

int virt_event_start(VirtEvent **ret) {
        VirtEvent *v;
        int r;

        pthread_once(&register_once, register_impl);
        if (register_result < 0)
                return register_result;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->wake_timer = virEventAddTimeout(-1, wake_timer_cb, NULL, NULL);
        if (v->wake_timer < 0) {
                free(v);
                return -EIO;
        }
        r = -pthread_create(&v->thread, NULL, loop_thread, v);
        if (r < 0) {
                virEventRemoveTimeout(v->wake_timer);
                free(v);
                return r;
        }
        atomic_fetch_add(&n_running, 1);
        *ret = v;
        return 0;
}

VirtEvent *virt_event_stop(VirtEvent *v) {
        if (!v)
                return NULL;
        atomic_store(&v->stop, true);
        /* Updating a timer wakes the loop; the timer then fires at once. */
        virEventUpdateTimeout(v->wake_timer, 0);
        pthread_join(v->thread, NULL);
        virEventRemoveTimeout(v->wake_timer);
        atomic_fetch_sub(&n_running, 1);
        free(v);
        return NULL;
}

bool virt_event_is_running(void) {
        return atomic_load(&n_running) > 0;
}
