/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the CPG message codec: whatever the decoder accepts must encode again and
 * decode to the same message, field by field, and the encoding is canonical (the same bytes). */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-msg-equal.h"
#include "cluster-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded pools' markers are never NULL (cluster_msg_equal() takes NULL as the empty list). */
static bool markers_decoded(const ClusterMsg *m) {
        if (m->type != CLUSTER_MSG_STORAGE)
                return true;
        for (size_t i = 0; i < m->storage.n_pools; i++)
                if (!m->storage.pools[i].markers)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(cluster_msg_done) ClusterMsg m = {}, again = {};
        _cleanup_free_ void *buf = NULL;
        const char *err = NULL;
        size_t buf_size = 0;
        int k;

        k = cluster_msg_decode(data, size, &m, &err);
        if (k < 0) {
                /* Refusals say why and leave nothing behind. */
                if (k != -EBADMSG || !err || m.type != 0)
                        abort();
                return 0;
        }
        if (m.type <= 0 || m.type >= _CLUSTER_MSG_TYPE_MAX || m.sender == 0 ||
            !cluster_msg_type_to_string(m.type))
                abort();
        /* A version this decoder takes, that can hold what was decoded. */
        if (m.version < CLUSTER_MSG_VERSION_MIN || m.version > CLUSTER_MSG_VERSION ||
            m.version < cluster_msg_version_needed(&m))
                abort();

        k = cluster_msg_encode(&m, &buf, &buf_size);
        if (k == -EMSGSIZE || k == -EINVAL)
                return 0;
        if (k < 0)
                abort();

        /* The encoding is canonical: what decoded re-encodes to the very same bytes. */
        if (buf_size != size || memcmp(buf, data, size) != 0)
                abort();

        if (cluster_msg_decode(buf, buf_size, &again, &err) < 0)
                abort();
        if (!markers_decoded(&m) || !markers_decoded(&again) || !cluster_msg_equal(&m, &again))
                abort();
        return 0;
}
