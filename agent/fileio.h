/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small file helpers for the agent modules. Library code: returns -errno, never logs. */

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole regular file of at most max bytes into a NUL-terminated buffer.
 * -EFBIG when it is larger, -errno from open/read. */
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len);

/* Replaces path with data: writes a temporary file in the same directory (O_CLOEXEC), fsyncs
 * it, renames it over path and fsyncs the directory. The temporary is removed on failure. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Writes all of len bytes, retrying on EINTR and short writes. */
int write_all(int fd, const void *data, size_t len);

/* Creates each missing directory of path (mode for the ones it creates). */
int mkdir_parents_and_self(const char *path, mode_t mode);
