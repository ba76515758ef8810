/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The migration encryption decision: see migration-tls.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "migration-tls.h"

void migration_tls_decision_done(MigrationTlsDecision *d) {
        if (!d)
                return;
        free(d->message);
        *d = (MigrationTlsDecision){};
}

/* The first end that is not YES (the source first), or NULL. */
static const MigrationTlsEnd *first_without(const MigrationTlsEnd *a, const MigrationTlsEnd *b) {
        if (a->state != MIGRATION_TLS_STATE_YES)
                return a;
        if (b->state != MIGRATION_TLS_STATE_YES)
                return b;
        return NULL;
}

int migration_tls_decide(
        MigrationTls mode, const MigrationTlsEnd *source, const MigrationTlsEnd *target,
        MigrationTlsDecision *ret) {
        MigrationTlsDecision d = {};
        const MigrationTlsEnd *e;
        int k = 0;

        if (!source || !target || !ret)
                return -EINVAL;
        e = first_without(source, target);
        switch (mode) {
        case MIGRATION_TLS_FALSE:
                d.encryption = MIGRATION_ENCRYPTION_PLAIN;
                break;
        case MIGRATION_TLS_TRUE:
                /* A definite NO on either end refuses; UNKNOWN leaves it to libvirt. */
                if (source->state == MIGRATION_TLS_STATE_NO || target->state == MIGRATION_TLS_STATE_NO) {
                        e = source->state == MIGRATION_TLS_STATE_NO ? source : target;
                        d.refuse = true;
                        k = asprintf(
                                &d.message, "migration.tls is true but '%s' has no migration TLS: %s",
                                e->host ?: "?", e->why ?: "not configured");
                        break;
                }
                d.use_tls = true;
                d.encryption = MIGRATION_ENCRYPTION_TLS;
                break;
        case MIGRATION_TLS_AUTO:
        default:
                if (!e) {
                        d.use_tls = true;
                        d.encryption = MIGRATION_ENCRYPTION_TLS;
                        break;
                }
                d.encryption = MIGRATION_ENCRYPTION_PLAIN_FALLBACK;
                if (e->state == MIGRATION_TLS_STATE_NO)
                        k = asprintf(
                                &d.message, "'%s' has no migration TLS: %s", e->host ?: "?",
                                e->why ?: "not configured");
                else
                        k = asprintf(
                                &d.message, "cannot check migration TLS on '%s': %s", e->host ?: "?",
                                e->why ?: "not probed");
                break;
        }
        if (k < 0)
                return -ENOMEM;
        *ret = d;
        return 0;
}
