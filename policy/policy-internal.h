/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the policy files and the snapshot parser; not a public API. */

#include "macro.h"
#include "policy.h"
#include "yaml-tree.h"

#define POLICY_MAX_GROUPS 1000
#define POLICY_MAX_RULES 1000
#define POLICY_MAX_OVERRIDES 1000
#define POLICY_MAX_WINDOWS 1000
#define POLICY_MAX_DPM_HOSTS 1000
#define POLICY_MAX_MEMBERS 10000
#define POLICY_MAX_EXCLUDE 10000
#define POLICY_MAX_DOWNTIME_STEPS 16
#define POLICY_MAX_NAME 64
#define POLICY_MAX_PATTERN 255
#define POLICY_MAX_COMMAND 4096
#define POLICY_MAX_TIMEZONE 64

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

/* Frees what p owns and zeroes it (p itself stays). */
void policy_done(Policy *p);

/* Overlays an already parsed document (a mapping, or NULL for an empty one) onto *p with the
 * semantics of policy_parse_string(): on error *p is unchanged. */
int policy_parse_node(Policy *p, const char *file, const YNode *root, PolicyError *reterr);

/* Checks a power command template; on error returns -EINVAL and sets *ret_bad to the offending
 * placeholder's offset into t. */
int policy_check_command(const char *t, size_t *ret_bad_offset, size_t *ret_bad_length);

const Group *policy_lookup_group(const Policy *p, const char *name);

/* Names allowed for groups and rules: 1..POLICY_MAX_NAME of [A-Za-z0-9_.:-]. */
bool policy_name_is_valid(const char *s);
