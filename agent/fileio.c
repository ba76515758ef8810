/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size = 0, allocated = 0;
        int fd, k = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                k = -errno;
                goto finish;
        }
        if (!S_ISREG(st.st_mode)) {
                k = S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
                goto finish;
        }

        for (;;) {
                if (size + 1 >= allocated) {
                        size_t n = allocated ? allocated * 2 : 4096;
                        if (n > max + 2)
                                n = max + 2;
                        if (n <= size + 1) {
                                k = -EFBIG;
                                goto finish;
                        }
                        char *p = realloc(buf, n);
                        if (!p) {
                                k = -ENOMEM;
                                goto finish;
                        }
                        buf = p;
                        allocated = n;
                }
                ssize_t l = read(fd, buf + size, allocated - size - 1);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        k = -errno;
                        goto finish;
                }
                if (l == 0)
                        break;
                size += (size_t) l;
                if (size > max) {
                        k = -EFBIG;
                        goto finish;
                }
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf) {
                        k = -ENOMEM;
                        goto finish;
                }
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = size;
finish:
        close(fd);
        return k;
}

int write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t l = write(fd, p, len);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += l;
                len -= (size_t) l;
        }
        return 0;
}

static int fsync_directory_of(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash)
                dir[0] = '.', dir[1] = 0;
        else if (slash == dir)
                dir[1] = 0;
        else
                *slash = 0;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int k = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return k;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        int fd, k;

        if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        k = write_all(fd, data, len);
        if (k >= 0 && fchmod(fd, mode) < 0)
                k = -errno;
        if (k >= 0 && fsync(fd) < 0)
                k = -errno;
        if (close(fd) < 0 && k >= 0)
                k = -errno;
        if (k >= 0 && rename(tmp, path) < 0)
                k = -errno;
        if (k < 0) {
                (void) unlink(tmp);
                return k;
        }
        return fsync_directory_of(path);
}

int mkdir_parents_and_self(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != 0)
                        continue;
                char c = *s;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = c;
                if (c == 0)
                        break;
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}
