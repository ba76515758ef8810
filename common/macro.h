/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by every module, in the style of systemd's macro.h:
 * scope-based cleanup, pointer hand-over, string vectors. Header-only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Arguments are evaluated twice: no side effects. (<sys/param.h> defines the same.) */
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* Take ownership of a pointer: returns it and sets the variable to NULL. */
#define TAKE_PTR(p)                                                                                         \
        ({                                                                                                  \
                __typeof__(p) *_pp_ = &(p);                                                                 \
                __typeof__(p) _p_ = *_pp_;                                                                  \
                *_pp_ = NULL;                                                                               \
                _p_;                                                                                        \
        })

/* Defines funcp(type *p) that calls func(*p) when *p is not NULL, for _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                             \
        static inline void func##p(type *p) {                                                               \
                if (*p)                                                                                     \
                        func(*p);                                                                           \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

/* name##_to_string() and name##_from_string() over `static const char *const name##_table[max]`
 * indexed by the enum (systemd's string tables). from_string returns (type) -1, the enum's
 * _INVALID value, for NULL or an unknown string. */
#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, max)                                               \
        const char *name##_to_string(type i) {                                                              \
                return (int) i >= 0 && (int) i < (max) ? name##_table[i] : NULL;                            \
        }
#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, max)                                             \
        type name##_from_string(const char *s) {                                                            \
                if (s)                                                                                      \
                        for (int i = 0; i < (max); i++)                                                     \
                                if (streq_ptr(name##_table[i], s))                                          \
                                        return (type) i;                                                    \
                return (type) -1;                                                                           \
        }
#define DEFINE_STRING_TABLE_LOOKUP(name, type, max)                                                         \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, max)                                               \
        DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, max)

/* NULL-terminated string vectors. */
static inline char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

static inline bool strv_contains(char *const *l, const char *s) {
        if (l)
                for (char *const *i = l; *i; i++)
                        if (streq(*i, s))
                                return true;
        return false;
}

/* Appends a copy of s. Returns 0 or -ENOMEM; *l is unchanged on failure. */
int strv_extend(char ***l, const char *s);
/* Deep copy; NULL in, NULL out (returns -ENOMEM only when allocation fails). */
int strv_copy(char *const *l, char ***ret);
/* Removes (and frees) every entry equal to s; 1 when one was there, 0 when none. */
int strv_remove(char **l, const char *s);
