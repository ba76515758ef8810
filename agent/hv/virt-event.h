/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt's event loop in its own thread. libvirt needs an event implementation registered
 * before the first connection is opened, and a thread running it, for connection keepalive
 * (a dead libvirtd is noticed within ~15 s) and for close callbacks (hv_libvirt_ops' is_alive()).
 *
 * virt_event_start() registers libvirt's default implementation (once per process) and starts
 * the thread; virt_event_stop() wakes it (a timer it owns), lets it finish the current
 * iteration and joins it. Start it before the poller or the executor open connections, stop it
 * after they are freed.
 *
 * libvirt's loop is per process, so the thread is too: every VirtEvent shares it (the first
 * start creates it, the last stop joins it), and two Managers in one process never run two
 * threads on the one loop. */

#include <stdbool.h>

#include "macro.h"

typedef struct VirtEvent VirtEvent;

int virt_event_start(VirtEvent **ret);
VirtEvent *virt_event_stop(VirtEvent *v); /* NULL-safe; returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtEvent *, virt_event_stop);

/* Whether a loop thread is running now (hv_libvirt_ops' open() requires it). */
bool virt_event_is_running(void);
