/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* virt-event.c: libvirt's loop thread is shared by every VirtEvent of the process. Two owners
 * (two Managers in one process, as test-control has) used to run two threads on libvirt's one
 * loop: the one stopping could lose its wakeup to the other and hang in pthread_join() for
 * ever. A hang here is a failure (the alarm), not a meson timeout. */

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "virt-event.h"

#define ROUNDS 1000

static void on_alarm(int sig) {
        static const char msg[] = "virt_event_stop() hung: the loop thread was never woken\n";
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(1);
}

static void watchdog(unsigned seconds) {
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL);
        alarm(seconds);
}

static void test_start_stop(void **state) {
        VirtEvent *v = NULL;

        assert_false(virt_event_is_running());
        assert_int_equal(virt_event_start(&v), 0);
        assert_true(virt_event_is_running());
        assert_null(virt_event_stop(v));
        assert_false(virt_event_is_running());
        assert_null(virt_event_stop(NULL));
}

/* A second owner comes and goes while the first keeps the loop: the refused second drsd of
 * test-control, in every order. */
static void test_two_owners(void **state) {
        for (unsigned i = 0; i < ROUNDS; i++) {
                VirtEvent *a = NULL, *b = NULL;

                assert_int_equal(virt_event_start(&a), 0);
                assert_int_equal(virt_event_start(&b), 0);
                if (i % 2) {
                        virt_event_stop(b);
                        assert_true(virt_event_is_running());
                        virt_event_stop(a);
                } else {
                        virt_event_stop(a);
                        assert_true(virt_event_is_running());
                        virt_event_stop(b);
                }
                assert_false(virt_event_is_running());
        }
}

static void *owner_thread(void *userdata) {
        for (unsigned i = 0; i < ROUNDS; i++) {
                VirtEvent *v = NULL;
                if (virt_event_start(&v) < 0)
                        return (void *) 1;
                usleep(i % 3 * 100);
                virt_event_stop(v);
        }
        return NULL;
}

/* Owners on several threads at once. */
static void test_concurrent_owners(void **state) {
        pthread_t t[4];
        void *res;

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(pthread_create(&t[i], NULL, owner_thread, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(pthread_join(t[i], &res), 0);
                assert_null(res);
        }
        assert_false(virt_event_is_running());
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_stop),
                cmocka_unit_test(test_two_owners),
                cmocka_unit_test(test_concurrent_owners),
        };
        watchdog(30);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
