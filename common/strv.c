/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "macro.h"

int strv_extend(char ***l, const char *s) {
        size_t n = strv_length(*l);
        _cleanup_free_ char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        char **nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl)
                return -ENOMEM;
        nl[n] = TAKE_PTR(copy);
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_copy(char *const *l, char ***ret) {
        _cleanup_strv_free_ char **c = NULL;
        if (!l) {
                *ret = NULL;
                return 0;
        }
        c = calloc(strv_length(l) + 1, sizeof(char *));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; l[i]; i++) {
                c[i] = strdup(l[i]);
                if (!c[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int strv_remove(char **l, const char *s) {
        size_t j = 0;
        int found = 0;
        for (size_t i = 0; l && l[i]; i++) {
                if (streq(l[i], s)) {
                        free(l[i]);
                        found = 1;
                        continue;
                }
                l[j++] = l[i];
        }
        if (l)
                l[j] = NULL;
        return found;
}
