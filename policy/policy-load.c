/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File I/O for the policy, drop-in directories and drsd.yaml. The only policy/ file that
 * touches the file system. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy-internal.h"
#include "policy-load.h"

#define MAX_DROPINS 1000

static void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

static int io_error(PolicyError *e, const char *path, int err, const char *what) {
        if (err == 0)
                err = EIO;
        if (e) {
                int r = ytree_error(e, path, 0, 0, "%s: %s", what, strerror(err));
                if (r == -ENOMEM)
                        return r;
        }
        return -err;
}

int policy_read_file(const char *path, char **ret, size_t *ret_len, PolicyError *reterr) {
        return policy_read_file_bounded(path, YTREE_MAX_INPUT, ret, ret_len, reterr);
}

int policy_read_file_bounded(
        const char *path, size_t max, char **ret, size_t *ret_len, PolicyError *reterr) {
        _cleanup_(closep) int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size, len = 0; /* buf holds size bytes and the NUL */
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return io_error(reterr, path, errno, "cannot open");
        if (fstat(fd, &st) < 0)
                return io_error(reterr, path, errno, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return io_error(reterr, path, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "not a regular file");
        /* Room for the file as it is now and one byte more (to see its end in one read); grown
         * if the file grows meanwhile, never past max + 1 bytes (enough to tell it is too large). */
        size = (uintmax_t) st.st_size < max ? (size_t) st.st_size + 1 : max + 1;
        buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (len == size) {
                        size_t grown = size > max / 2 ? max + 1 : size * 2;
                        char *b;

                        if (size > max)
                                break;
                        b = realloc(buf, grown + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        size = grown;
                }
                n = read(fd, buf + len, size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return io_error(reterr, path, errno, "cannot read");
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > max)
                return ytree_error(reterr, path, 0, 0, "file larger than %zu bytes", max);
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int policy_load_file(Policy *p, const char *path, PolicyError *reterr) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = policy_read_file(path, &buf, &len, reterr);
        if (r < 0)
                return r;
        return policy_parse_string(p, path, buf, len, reterr);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_dropin_name(const char *n) {
        size_t l = strlen(n);
        return n[0] != '.' && l > 5 && streq(n + l - 5, ".yaml");
}

/* The drop-in file paths of dir, sorted; an empty list when dir does not exist. */
static int list_dropins(const char *dir, char ***ret, PolicyError *reterr) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        int r = 0;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = TAKE_PTR(l);
                        return 0;
                }
                return io_error(reterr, dir, errno, "cannot open directory");
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (!is_dropin_name(de->d_name))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        break;
                }
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue; /* dangling links, directories named *.yaml */
                if (++n > MAX_DROPINS) {
                        r = ytree_error(reterr, dir, 0, 0, "more than %d drop-in files", MAX_DROPINS);
                        break;
                }
                r = strv_extend(&l, path);
                if (r < 0)
                        break;
        }
        if (r == 0 && errno != 0)
                r = io_error(reterr, dir, errno, "cannot read directory");
        closedir(d);
        if (r < 0)
                return r;
        qsort(l, strv_length(l), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}

int policy_load(const char *path, const char *dropin_dir, Policy **ret, PolicyError *reterr) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        int r;

        r = policy_new(&p);
        if (r < 0)
                return r;
        if (path) {
                r = policy_load_file(p, path, reterr);
                if (r < 0)
                        return r;
        }
        if (dropin_dir) {
                r = list_dropins(dropin_dir, &dropins, reterr);
                if (r < 0)
                        return r;
                for (char **f = dropins; *f; f++) {
                        r = policy_load_file(p, *f, reterr);
                        if (r < 0)
                                return r;
                }
        }
        r = policy_validate(p, reterr);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int policy_overlay_files(Policy *p, char *const *paths, PolicyError *reterr) {
        _cleanup_(policy_freep) Policy *q = NULL;
        int r;

        r = policy_copy(p, &q);
        if (r < 0)
                return r;
        for (char *const *f = paths; f && *f; f++) {
                r = policy_load_file(q, *f, reterr);
                if (r < 0)
                        return r;
        }
        r = policy_validate(q, reterr);
        if (r < 0)
                return r;
        policy_done(p);
        *p = *q;
        *q = (Policy){};
        return 0;
}

int policy_load_files(char *const *paths, Policy **ret, PolicyError *reterr) {
        _cleanup_(policy_freep) Policy *p = NULL;
        int r;

        r = policy_new(&p);
        if (r < 0)
                return r;
        r = policy_overlay_files(p, paths, reterr);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int drs_config_load_file(const char *path, DrsConfig **ret, PolicyError *reterr) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = policy_read_file(path, &buf, &len, reterr);
        if (r < 0)
                return r;
        return drs_config_parse_string(path, buf, len, ret, reterr);
}
