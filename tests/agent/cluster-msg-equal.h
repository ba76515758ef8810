/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Field-by-field equality of CPG messages (agent/cluster/cluster-msg.h), shared by the codec's
 * unit test and its fuzz target. */

#include <stdbool.h>

#include "cluster-msg.h"

/* Every field, the version included. A pool's markers: NULL and the empty list are equal (a
 * decoded pool's markers are never NULL; a message built in C may have NULL). */
bool cluster_msg_equal(const ClusterMsg *a, const ClusterMsg *b);
bool cluster_storage_equal(const ClusterStorage *a, const ClusterStorage *b);
