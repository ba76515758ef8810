/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Cluster snapshots: the YAML (or JSON) files `drsctl plan --snapshot` reads and the golden
 * solver tests are written in. See README.md, "Snapshot format".
 *
 *   hosts:
 *     - {name: h01, cpus: 32, memory_mib: 262144, state: up, groups: [rack1]}
 *   vms:
 *     - {name: web01, host: h01, vcpus: 4, memory_mib: 8192, cpu_demand: 1.7,
 *        memory_demand_mib: 5100, last_moved_s: 7200, groups: [web]}
 *   policy: {...}   # optional, the policy language, overlaid on the defaults and validated
 *
 * Errors (unknown keys, wrong types, duplicate names, a VM on an unknown host, …) come back
 * as PolicyError with file:line:column, like policy errors. The parsers are pure: the caller
 * reads the file (policy_read_file_bounded(path, SNAPSHOT_MAX_INPUT, …) for a snapshot,
 * policy_read_file() for a VM) and passes its name for the messages. */

#include <stddef.h>

#include "policy.h"
#include "solver.h"

/* The largest snapshot snapshot_parse_string() takes, in bytes. */
#define SNAPSHOT_MAX_INPUT (128 * 1024 * 1024)

/* Problem.automation is set from the policy's automation.level. To overlay further policy
 * files (drsctl --policy), use policy_overlay_files(problem->policy, …) and set
 * problem->automation again. */
int snapshot_parse_string(
        const char *filename, const char *buf, size_t len, Problem **ret, PolicyError *reterr);

/* A single VM for placement (`drsctl place VM.yaml`): a mapping with name, vcpus, memory_mib
 * and optionally cpu_demand (default: vcpus), memory_demand_mib (default: memory_mib) and
 * groups. *ret gets host = -1 and last_moved_s = -1; the caller frees name and groups. */
int snapshot_parse_vm_string(
        const char *filename, const char *buf, size_t len, SolverVm *ret, PolicyError *reterr);
