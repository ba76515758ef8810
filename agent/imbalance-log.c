/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "imbalance-log.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

void imbalance_log_add(ImbalanceLog *l, uint64_t time_usec, double cpu, double memory) {
        if (l->n > 0 && l->samples[(l->first + l->n - 1) % IMBALANCE_LOG_SAMPLES].time_usec > time_usec)
                return;
        ImbalanceSample s = {.time_usec = time_usec, .cpu = cpu, .memory = memory};
        if (l->n < IMBALANCE_LOG_SAMPLES)
                l->samples[(l->first + l->n++) % IMBALANCE_LOG_SAMPLES] = s;
        else {
                l->samples[l->first] = s;
                l->first = (l->first + 1) % IMBALANCE_LOG_SAMPLES;
        }
}

/* 4 decimals, trailing zeros dropped ("0.2", "0.1235"): 360 samples stay small. */
static json_object *rounded(double v) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%.4f", isfinite(v) ? v : 0.0);
        if (n <= 0 || (size_t) n >= sizeof(buf))
                return NULL;
        while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.')
                buf[--n] = '\0';
        return json_object_new_double_s(strtod(buf, NULL), buf);
}

static int add(json_object *arr, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(arr, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int imbalance_log_to_json(const ImbalanceLog *l, uint64_t since_usec, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(),
                                                *samples = json_object_new_array();

        if (!o || !samples)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                const ImbalanceSample *s = &l->samples[(l->first + i) % IMBALANCE_LOG_SAMPLES];
                json_object *x;
                if (s->time_usec < since_usec)
                        continue;
                x = json_object_new_array_ext(3);
                if (add(samples, x) < 0 ||
                    add(x, json_object_new_int64((int64_t) (s->time_usec / 1000000))) < 0 ||
                    add(x, rounded(s->cpu)) < 0 || add(x, rounded(s->memory)) < 0)
                        return -ENOMEM;
        }
        json_object *p = json_object_new_int(IMBALANCE_LOG_PERIOD_S);
        if (!p || json_object_object_add(o, "period_s", p) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        if (json_object_object_add(o, "samples", samples) < 0)
                return -ENOMEM;
        samples = NULL; /* owned by o now */
        *ret = TAKE_PTR(o);
        return 0;
}
