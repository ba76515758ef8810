/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Migration encryption, the decision (pure: no libvirt, no clock): policy migration.tls and
 * what the probe found on each end in, libvirt's TLS flag, the encryption and the reason out.
 *
 *   mode  | both ends YES | an end NO                        | an end UNKNOWN (probe failed)
 *   false | plain         | plain                            | plain
 *   auto  | tls           | plain-fallback ("… has no …")    | plain-fallback ("cannot check …")
 *   true  | tls           | refused (the pre-check says why) | tls: libvirt is the judge
 *
 * With true an end that cannot be checked is not refused: the migration asks for TLS and libvirt
 * (QEMU) fails it if that end cannot do TLS; the VM stays on the source. */

#include <stdbool.h>

#include "executor.h"
#include "policy.h"

typedef struct MigrationTlsEnd {
        const char *host;
        MigrationTlsState state;
        const char *why; /* NO: what is missing; UNKNOWN: why it could not be checked; may be NULL */
} MigrationTlsEnd;

typedef struct MigrationTlsDecision {
        bool refuse;  /* do not migrate: message says why */
        bool use_tls; /* VIR_MIGRATE_TLS */
        MigrationEncryption encryption;
        char *message; /* owned; refuse and plain-fallback: the reason; NULL otherwise */
} MigrationTlsDecision;

void migration_tls_decision_done(MigrationTlsDecision *d);

/* -ENOMEM, or 0 with *ret filled. */
int migration_tls_decide(
        MigrationTls mode, const MigrationTlsEnd *source, const MigrationTlsEnd *target,
        MigrationTlsDecision *ret);
