/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the policy parser. Beyond "no crash", a policy that parses must print as
 * YAML that parses back to the same policy, and must print as JSON. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "macro.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Policy *p = NULL, *again = NULL;
        PolicyError e = {};
        char *yaml = NULL, *yaml2 = NULL, *json = NULL;

        if (policy_new(&p) < 0)
                abort();
        if (policy_parse_string(p, "fuzz.yaml", (const char *) data, size, &e) < 0) {
                if (!e.message)
                        abort(); /* -EINVAL always comes with a message */
                goto out;
        }
        (void) policy_validate(p, &e);
        if (policy_to_yaml(p, &yaml) < 0 || policy_to_json(p, &json) < 0)
                abort();
        if (policy_new(&again) < 0)
                abort();
        policy_error_clear(&e);
        if (policy_parse_string(again, "roundtrip.yaml", yaml, strlen(yaml), &e) < 0) {
                fprintf(stderr, "printed policy does not parse: %u:%u: %s\n%s", e.line, e.column, e.message,
                        yaml);
                abort();
        }
        if (policy_to_yaml(again, &yaml2) < 0 || !streq(yaml, yaml2)) {
                fprintf(stderr, "round trip differs:\n%s---\n%s", yaml, yaml2 ?: "");
                abort();
        }
out:
        policy_error_clear(&e);
        free(yaml);
        free(yaml2);
        free(json);
        policy_free(p);
        policy_free(again);
        return 0;
}
