/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the control protocol: the stream reader (fed in chunks whose sizes come
 * from the input), the request and reply checks, and the writer round trip. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProtocolReader r = {};
        ProtocolWriter w = {};

        /* First byte: chunk size for feeding (1..256), so message boundaries land anywhere. */
        size_t chunk = size > 0 ? (size_t) data[0] + 1 : 1;
        size_t off = size > 0 ? 1 : 0;

        while (off < size) {
                size_t n = size - off < chunk ? size - off : chunk;
                int k = protocol_reader_feed(&r, data + off, n);
                off += n;

                for (;;) {
                        json_object *msg = NULL, *params = NULL, *copy = NULL;
                        const char *err = NULL, *method = NULL, *error = NULL, *message = NULL;
                        int m = protocol_reader_next(&r, &msg, &err);
                        if (m == 0)
                                break;
                        if (m < 0) {
                                if (!err)
                                        abort();
                                if (m == -EMSGSIZE)
                                        goto done;
                                continue;
                        }
                        if (!json_object_is_type(msg, json_type_object))
                                abort();
                        (void) protocol_reply_parse(msg, &params, &error, &message, &err);
                        if (protocol_request_parse(msg, &method, &params, &err) >= 0) {
                                if (!protocol_name_is_valid(method))
                                        abort();
                                /* What we accept we can write back, and read again identically. */
                                if (protocol_request_new(method, params, &copy) < 0)
                                        abort();
                                if (protocol_writer_append(&w, copy) >= 0) {
                                        const char *d;
                                        size_t l = protocol_writer_pending(&w, &d);
                                        ProtocolReader r2 = {};
                                        json_object *back = NULL;
                                        if (protocol_reader_feed(&r2, d, l) < 0 ||
                                            protocol_reader_next(&r2, &back, &err) != 1 ||
                                            !json_object_equal(back, copy))
                                                abort();
                                        json_object_put(back);
                                        protocol_reader_done(&r2);
                                        protocol_writer_consume(&w, l);
                                }
                                json_object_put(copy);
                        }
                        json_object_put(msg);
                }
                if (k == -EMSGSIZE)
                        break;
        }
done:
        protocol_reader_done(&r);
        protocol_writer_done(&w);
        return 0;
}
