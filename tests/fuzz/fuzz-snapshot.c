/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the snapshot parser (and the placement VM parser on the same bytes). */

#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "macro.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Problem *p = NULL;
        SolverVm vm = {};
        PolicyError e = {};

        if (snapshot_parse_string("snapshot.yaml", (const char *) data, size, &p, &e) >= 0) {
                /* Every VM refers to a host that exists. */
                for (size_t i = 0; i < p->n_vms; i++)
                        if (p->vms[i].host < 0 || (size_t) p->vms[i].host >= p->n_hosts)
                                abort();
                if (!p->policy)
                        abort();
                problem_free(p);
        } else if (!e.message)
                abort();
        policy_error_clear(&e);

        if (snapshot_parse_vm_string("vm.yaml", (const char *) data, size, &vm, &e) >= 0) {
                if (!vm.name || vm.host != -1)
                        abort();
                free(vm.name);
                strv_free(vm.groups);
        }
        policy_error_clear(&e);
        return 0;
}
