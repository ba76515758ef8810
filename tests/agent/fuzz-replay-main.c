/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs LLVMFuzzerTestOneInput once on every file of the given directories: the committed corpus
 * is replayed by every `meson test`, with or without sanitizers. */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fileio.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char *argv[]) {
        size_t n = 0;

        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                if (!d) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return 1;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        _cleanup_free_ char *path = NULL, *buf = NULL;
                        size_t len;
                        if (de->d_name[0] == '.')
                                continue;
                        if (asprintf(&path, "%s/%s", argv[i], de->d_name) < 0)
                                return 1;
                        int k = read_file_bounded(path, 16U * 1024U * 1024U, &buf, &len);
                        if (k < 0) {
                                fprintf(stderr, "%s: %s\n", path, strerror(-k));
                                closedir(d);
                                return 1;
                        }
                        LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
                        n++;
                }
                closedir(d);
        }
        printf("replayed %zu input(s)\n", n);
        return n > 0 ? 0 : 1;
}
