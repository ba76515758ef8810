/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host's storage facts over CPG: cluster_storage_split() cuts them into parts that each encode
 * within CLUSTER_MSG_MAX, the wire carries them, and ClusterStorageAssembly puts them back
 * together — the whole must equal what was sent, whatever its size; a lost or repeated part must
 * not yield a whole made of two generations. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster-msg-equal.h"
#include "cluster-msg.h"

/* n_vms VMs of n_disks disks each, paths of path_len bytes, 3 pools with markers. */
static ClusterStorage *make_storage(size_t n_vms, size_t n_disks, size_t path_len) {
        ClusterStorage *s = calloc(1, sizeof(ClusterStorage));
        assert_non_null(s);
        s->host = strdup("h07");
        s->n_parts = 1;
        s->n_pools = 3;
        s->pools = calloc(3, sizeof(ClusterPool));
        for (size_t i = 0; i < 3; i++) {
                char name[32];
                snprintf(name, sizeof(name), "pool-%zu", i);
                s->pools[i].name = strdup(name);
                s->pools[i].target = i == 2 ? NULL : strdup("/var/lib/libvirt/images");
                s->pools[i].markers = calloc(i + 1, sizeof(char *));
                for (size_t j = 0; j < i; j++) {
                        snprintf(name, sizeof(name), ".drs-pool-%zu-%zu", i, j);
                        s->pools[i].markers[j] = strdup(name);
                }
        }
        s->n_vms = n_vms;
        s->vms = calloc(n_vms ?: 1, sizeof(ClusterVmDisks));
        for (size_t i = 0; i < n_vms; i++) {
                char name[32];
                snprintf(name, sizeof(name), "vm-%05zu", i);
                s->vms[i].name = strdup(name);
                s->vms[i].n_disks = n_disks;
                s->vms[i].disks = calloc(n_disks ?: 1, sizeof(ClusterDisk));
                for (size_t j = 0; j < n_disks; j++) {
                        char *p = malloc(path_len + 1);
                        assert_non_null(p);
                        int w = snprintf(p, path_len + 1, "/srv/pool/%s-disk%zu-", name, j);
                        for (size_t k = (size_t) w; k < path_len; k++)
                                p[k] = (char) ('a' + (k % 26));
                        p[path_len] = 0;
                        s->vms[i].disks[j] = (ClusterDisk){.path = p, .allocation_bytes = (i << 20) + j};
                }
        }
        return s;
}

static void free_storage(ClusterStorage *s) {
        cluster_storage_done(s);
        free(s);
}

/* The whole assembled equals what was split, field by field (its generation is the parts'). */
static void assert_storage_equal(const ClusterStorage *sent, const ClusterStorage *whole) {
        ClusterStorage e = *sent; /* shallow */
        e.generation = whole->generation;
        assert_true(cluster_storage_equal(&e, whole));
}

/* Splits s, encodes every part (checking the size), decodes it and feeds the assembly in order
 * (skip: a part index not delivered, or -1). Returns the number of parts; *ret the whole when the
 * assembly completed (ret->host NULL when it did not). */
static int send_through(
        const ClusterStorage *s, uint32_t generation, int skip, ClusterStorageAssembly *a,
        ClusterStorage *ret) {
        size_t ends[CLUSTER_STORAGE_MAX_PARTS];
        int n = cluster_storage_split(s, ends, CLUSTER_STORAGE_MAX_PARTS);
        assert_true(n >= 1);
        *ret = (ClusterStorage){};
        for (int i = 0; i < n; i++) {
                size_t from = i == 0 ? 0 : ends[i - 1];
                ClusterMsg m = {
                        .type = CLUSTER_MSG_STORAGE,
                        .sender = 7,
                        .storage =
                                {
                                        .host = s->host,
                                        .generation = generation,
                                        .part = (uint16_t) i,
                                        .n_parts = (uint16_t) n,
                                        .pools = i == 0 ? s->pools : NULL,
                                        .n_pools = i == 0 ? s->n_pools : 0,
                                        .vms = s->vms + from,
                                        .n_vms = ends[i] - from,
                                },
                };
                void *buf = NULL;
                size_t size = 0;
                assert_int_equal(cluster_msg_encode(&m, &buf, &size), 0);
                assert_true(size <= CLUSTER_MSG_MAX);
                assert_int_equal(((uint8_t *) buf)[5], 2); /* version 2 */
                ClusterMsg d = {};
                const char *err = NULL;
                assert_int_equal(cluster_msg_decode(buf, size, &d, &err), 0);
                free(buf);
                assert_int_equal(d.version, 2);
                if (i != skip) {
                        int k = cluster_storage_assembly_add(a, &d.storage, ret);
                        assert_true(k >= 0);
                        assert_int_equal(k == 1, i == n - 1 && skip < 0);
                }
                cluster_msg_done(&d);
        }
        return n;
}

static void test_one_part(void **state) {
        ClusterStorage *s = make_storage(20, 2, 60), whole;
        ClusterStorageAssembly a = {};

        assert_int_equal(send_through(s, 1, -1, &a, &whole), 1);
        assert_storage_equal(s, &whole);
        cluster_storage_done(&whole);
        cluster_storage_assembly_done(&a);
        free_storage(s);
}

static void test_many_parts(void **state) {
        /* 1,024 VMs × 4 disks × 200-byte paths: about 870 KiB. */
        ClusterStorage *s = make_storage(1024, 4, 200), whole;
        ClusterStorageAssembly a = {};

        int n = send_through(s, 5, -1, &a, &whole);
        print_message("1,024 VMs x 4 disks x 200-byte paths: %d parts\n", n);
        assert_true(n >= 14 && n <= 16);
        assert_storage_equal(s, &whole);
        cluster_storage_done(&whole);

        /* The next generation, with a part lost: no whole (not a mix of two generations). */
        assert_int_equal(send_through(s, 6, 3, &a, &whole), n);
        assert_null(whole.host);
        /* And the one after that completes again from its part 0. */
        send_through(s, 7, -1, &a, &whole);
        assert_storage_equal(s, &whole);
        cluster_storage_done(&whole);
        cluster_storage_assembly_done(&a);
        free_storage(s);
}

static void test_repeated_part_starts_over(void **state) {
        ClusterStorage *s = make_storage(600, 4, 200), whole = {};
        ClusterStorageAssembly a = {};
        size_t ends[CLUSTER_STORAGE_MAX_PARTS];
        int n = cluster_storage_split(s, ends, CLUSTER_STORAGE_MAX_PARTS);
        assert_true(n >= 3);
        ClusterStorage p0 = {
                .host = s->host,
                .generation = 9,
                .part = 0,
                .n_parts = (uint16_t) n,
                .pools = s->pools,
                .n_pools = s->n_pools,
                .vms = s->vms,
                .n_vms = ends[0]};
        ClusterStorage p1 = {
                .host = s->host,
                .generation = 9,
                .part = 1,
                .n_parts = (uint16_t) n,
                .vms = s->vms + ends[0],
                .n_vms = ends[1] - ends[0]};
        assert_int_equal(cluster_storage_assembly_add(&a, &p0, &whole), 0);
        assert_int_equal(cluster_storage_assembly_add(&a, &p1, &whole), 0);
        /* p1 again: starts over; with its predecessor missing, nothing is kept. */
        assert_int_equal(cluster_storage_assembly_add(&a, &p1, &whole), 0);
        assert_int_equal(a.seen, 0);
        assert_null(whole.host);
        /* Another generation's part 2 after part 0: starts over, nothing kept. */
        assert_int_equal(cluster_storage_assembly_add(&a, &p0, &whole), 0);
        ClusterStorage p2 = {
                .host = s->host,
                .generation = 10,
                .part = 2,
                .n_parts = (uint16_t) n,
                .vms = s->vms + ends[1],
                .n_vms = ends[2] - ends[1]};
        assert_int_equal(cluster_storage_assembly_add(&a, &p2, &whole), 0);
        assert_int_equal(a.seen, 0);
        /* Bad parts are refused. */
        ClusterStorage bad = {.host = s->host, .part = 3, .n_parts = 3};
        assert_int_equal(cluster_storage_assembly_add(&a, &bad, &whole), -EINVAL);
        cluster_storage_assembly_done(&a);
        free_storage(s);
}

static void test_split_limits(void **state) {
        size_t ends[CLUSTER_STORAGE_MAX_PARTS];
        /* One VM whose disks alone exceed a message. */
        ClusterStorage *s = make_storage(1, CLUSTER_STORAGE_MAX_DISKS, 4000);
        assert_int_equal(cluster_storage_split(s, ends, CLUSTER_STORAGE_MAX_PARTS), -EMSGSIZE);
        free_storage(s);
        /* More parts than allowed. */
        s = make_storage(1024, 4, 200);
        assert_int_equal(cluster_storage_split(s, ends, 4), -EMSGSIZE);
        free_storage(s);
        /* No VM at all: one part with the pools. */
        s = make_storage(0, 0, 0);
        assert_int_equal(cluster_storage_split(s, ends, CLUSTER_STORAGE_MAX_PARTS), 1);
        assert_int_equal(ends[0], 0);
        free_storage(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_part),
                cmocka_unit_test(test_many_parts),
                cmocka_unit_test(test_repeated_part_starts_over),
                cmocka_unit_test(test_split_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
