/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one policy file that does I/O: reading policy files, drop-in directories, drsd.yaml and
 * raw files (snapshots, for the solver's parser, which takes bytes). Never logs; errors come
 * back through PolicyError with the file name (and line:column when the content is at fault). */

#include <stddef.h>

#include "config.h"
#include "policy.h"

/* Reads a regular file of at most 4 MiB into a NUL-terminated buffer (sized from the file:
 * the bound is not allocated up front). */
int policy_read_file(const char *path, char **ret, size_t *ret_len, PolicyError *reterr);
/* Same with another size bound (snapshots: SNAPSHOT_MAX_INPUT). */
int policy_read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len, PolicyError *reterr);

/* Overlays one file onto *p (on error *p is unchanged). Does not validate. */
int policy_load_file(Policy *p, const char *path, PolicyError *reterr);

/* The daemon's effective policy: defaults, then path (skipped when NULL; an error when
 * missing), then every dropin_dir/\*.yaml in lexical (strcmp) order (skipped when NULL or
 * missing; names starting with '.' are ignored), then policy_validate(). */
int policy_load(const char *path, const char *dropin_dir, Policy **ret, PolicyError *reterr);

/* Defaults, then each file of the NULL-terminated paths in order, then policy_validate()
 * (`drsctl policy check FILE…`). */
int policy_load_files(char *const *paths, Policy **ret, PolicyError *reterr);

/* Overlays each file of paths onto *p in order and validates the result; on error *p is
 * unchanged (`drsctl plan --policy FILE`). */
int policy_overlay_files(Policy *p, char *const *paths, PolicyError *reterr);

/* Reads and parses drsd.yaml. */
int drs_config_load_file(const char *path, DrsConfig **ret, PolicyError *reterr);
