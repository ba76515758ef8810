/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the drsd.yaml parser. */

#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DrsConfig *c = NULL;
        PolicyError e = {};

        if (drs_config_parse_string("drsd.yaml", (const char *) data, size, &c, &e) >= 0) {
                if (c->mode == DRS_MODE_STANDALONE && c->n_hosts == 0)
                        abort();
                for (size_t i = 0; i < c->n_hosts; i++)
                        if (!c->hosts[i].name || !c->hosts[i].groups)
                                abort();
                drs_config_free(c);
        } else if (!e.message)
                abort();
        policy_error_clear(&e);
        return 0;
}
