/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the solver tests: problems from inline snapshot YAML, lookups by name. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "snapshot.h"
#include "solver.h"

static inline Problem *tp_parse(const char *yaml) {
        Problem *p = NULL;
        PolicyError e = {};

        if (snapshot_parse_string("test.yaml", yaml, strlen(yaml), &p, &e) < 0) {
                fprintf(stderr, "test.yaml:%u:%u: %s\n", e.line, e.column, e.message ?: "?");
                policy_error_clear(&e);
                abort();
        }
        return p;
}

static inline size_t tp_vm(const Problem *p, const char *name) {
        for (size_t i = 0; i < p->n_vms; i++)
                if (streq(p->vms[i].name, name))
                        return i;
        fprintf(stderr, "no VM '%s'\n", name);
        abort();
}

static inline size_t tp_host(const Problem *p, const char *name) {
        for (size_t i = 0; i < p->n_hosts; i++)
                if (streq(p->hosts[i].name, name))
                        return i;
        fprintf(stderr, "no host '%s'\n", name);
        abort();
}

static inline void tp_problem_freep(Problem **p) {
        problem_free(*p);
}
