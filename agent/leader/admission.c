/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "admission.h"

static const char *const result_names[_MIGRATION_RESULT_MAX] = {
        [MIGRATION_OK] = "ok",           [MIGRATION_SKIPPED] = "skipped", [MIGRATION_FAILED] = "failed",
        [MIGRATION_ABORTED] = "aborted", [MIGRATION_LOST] = "lost",
};

const char *migration_result_to_string(MigrationResult r) {
        if ((unsigned) r >= _MIGRATION_RESULT_MAX)
                return NULL;
        return result_names[r];
}

static unsigned at_least_one(unsigned u) {
        return u > 0 ? u : 1;
}

static void entry_done(AdmissionEntry *e) {
        free(e->vm);
        free(e->source);
        free(e->target);
        *e = (AdmissionEntry){};
}

void admission_done(Admission *a) {
        for (size_t i = 0; i < a->n_queued; i++)
                entry_done(&a->queued[i]);
        for (size_t i = 0; i < a->n_running; i++)
                entry_done(&a->running[i]);
        free(a->queued);
        free(a->running);
        strv_free(a->foreign);
        *a = (Admission){};
}

void admission_set_limits(Admission *a, const LimitsPolicy *limits) {
        a->max_cluster = at_least_one(limits->migrations_per_cluster);
        a->max_out = at_least_one(limits->migrations_out_per_host);
        a->max_in = at_least_one(limits->migrations_in_per_host);
}

int admission_set_foreign(Admission *a, char *const *sources) {
        char **l = NULL;
        int r = strv_copy(sources, &l);
        if (r < 0)
                return r;
        strv_free(a->foreign);
        a->foreign = l;
        return 0;
}

unsigned admission_n_running(const Admission *a, const char *source, const char *target) {
        unsigned n = 0;

        if (!source && !target)
                return (unsigned) a->n_running;
        for (size_t i = 0; i < a->n_running; i++)
                if ((source && streq(a->running[i].source, source)) ||
                    (target && streq(a->running[i].target, target)))
                        n++;
        return n;
}

unsigned admission_n_queued(const Admission *a) {
        return (unsigned) a->n_queued;
}

static bool fits(const Admission *a, const AdmissionEntry *e) {
        unsigned n_foreign = 0, foreign_out = 0;

        for (char *const *s = a->foreign; s && *s; s++) {
                n_foreign++;
                foreign_out += streq(*s, e->source);
        }
        return a->n_running + n_foreign < at_least_one(a->max_cluster) &&
               admission_n_running(a, e->source, NULL) + foreign_out < at_least_one(a->max_out) &&
               admission_n_running(a, NULL, e->target) < at_least_one(a->max_in);
}

static const AdmissionEntry *find(const Admission *a, const char *vm) {
        for (size_t i = 0; i < a->n_queued; i++)
                if (streq(a->queued[i].vm, vm))
                        return &a->queued[i];
        for (size_t i = 0; i < a->n_running; i++)
                if (streq(a->running[i].vm, vm))
                        return &a->running[i];
        return NULL;
}

bool admission_vm_busy(const Admission *a, const char *vm) {
        return vm && find(a, vm);
}

const char *admission_vm_target(const Admission *a, const char *vm) {
        const AdmissionEntry *e = vm ? find(a, vm) : NULL;
        return e ? e->target : NULL;
}

int admission_submit(Admission *a, const char *vm, const char *source, const char *target, void *data) {
        AdmissionEntry *l;

        if (!vm || !source || !target || streq(source, target))
                return -EINVAL;
        if (admission_vm_busy(a, vm))
                return -EBUSY;
        l = reallocarray(a->queued, a->n_queued + 1, sizeof(AdmissionEntry));
        if (!l)
                return -ENOMEM;
        a->queued = l;
        AdmissionEntry e = {
                .vm = strdup(vm), .source = strdup(source), .target = strdup(target), .data = data};
        if (!e.vm || !e.source || !e.target) {
                entry_done(&e);
                return -ENOMEM;
        }
        a->queued[a->n_queued++] = e;
        return 0;
}

static AdmissionEntry take(AdmissionEntry *l, size_t *n, size_t i) {
        AdmissionEntry e = l[i];
        memmove(&l[i], &l[i + 1], (*n - i - 1) * sizeof(AdmissionEntry));
        (*n)--;
        return e;
}

bool admission_next(Admission *a, void **ret_data) {
        for (size_t i = 0; i < a->n_queued; i++) {
                if (!fits(a, &a->queued[i]))
                        continue;
                AdmissionEntry *l = reallocarray(a->running, a->n_running + 1, sizeof(AdmissionEntry));
                if (!l)
                        return false;
                a->running = l;
                a->running[a->n_running++] = take(a->queued, &a->n_queued, i);
                *ret_data = a->running[a->n_running - 1].data;
                return true;
        }
        return false;
}

bool admission_finish(Admission *a, void *data) {
        for (size_t i = 0; i < a->n_running; i++)
                if (a->running[i].data == data) {
                        AdmissionEntry e = take(a->running, &a->n_running, i);
                        entry_done(&e);
                        return true;
                }
        return false;
}

bool admission_take_queued(Admission *a, const char *vm, const char *target, void **ret_data) {
        for (size_t i = 0; i < a->n_queued; i++) {
                const AdmissionEntry *q = &a->queued[i];
                if ((vm && !streq(q->vm, vm)) || (target && !streq(q->target, target)))
                        continue;
                AdmissionEntry e = take(a->queued, &a->n_queued, i);
                *ret_data = e.data;
                entry_done(&e);
                return true;
        }
        return false;
}
