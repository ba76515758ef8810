/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feeds every file of the given directories (or the given files) to LLVMFuzzerTestOneInput
 * once: the committed corpora and past crashes run in every `meson test`, sanitizers or not. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"

static int replay_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        for (;;) {
                ssize_t n;
                if (len == size) {
                        char *nb = realloc(buf, size ? size * 2 : 4096);
                        if (!nb) {
                                close(fd);
                                return -ENOMEM;
                        }
                        buf = nb;
                        size = size ? size * 2 : 4096;
                }
                n = read(fd, buf + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "%s: %m\n", path);
                        close(fd);
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        /* A copy of exactly len bytes, so ASan sees reads past the end. */
        {
                _cleanup_free_ char *exact = malloc(len ?: 1);
                if (!exact)
                        return -ENOMEM;
                memcpy(exact, buf, len);
                LLVMFuzzerTestOneInput((const uint8_t *) exact, len);
        }
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int main(int argc, char *argv[]) {
        unsigned n = 0;

        for (int i = 1; i < argc; i++) {
                _cleanup_strv_free_ char **files = NULL;
                struct stat st;
                DIR *d;
                struct dirent *de;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (replay_file(argv[i]) < 0)
                                return EXIT_FAILURE;
                        n++;
                        continue;
                }
                d = opendir(argv[i]);
                if (!d)
                        return EXIT_FAILURE;
                while ((de = readdir(d))) {
                        char *p;
                        if (de->d_name[0] == '.')
                                continue;
                        if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0 || strv_extend(&files, p) < 0)
                                return EXIT_FAILURE;
                        free(p);
                }
                closedir(d);
                qsort(files, strv_length(files), sizeof(char *), cmp_str);
                for (char **f = files; f && *f; f++) {
                        if (replay_file(*f) < 0)
                                return EXIT_FAILURE;
                        n++;
                }
        }
        printf("replayed %u inputs\n", n);
        return n > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
