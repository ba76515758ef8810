#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl plan --snapshot within 100 MB of address space (ulimit -v 100000): the snapshot reader
# sizes its buffer from the file and streams hosts and VMs into the Problem, so a small snapshot
# never needs a large allocation up front.
#
#   test-snapshot-lean.sh DRSCTL CONFIG_DIR
set -u
drsctl=$1
config=$2
echo "1..1"
if out=$(ulimit -v 100000 && "$drsctl" plan --snapshot "$config/examples/cluster.yaml" --json 2>&1) &&
        grep -q '"status"' <<<"$out"; then
        echo "ok 1 - plan --snapshot under ulimit -v 100000"
else
        echo "not ok 1 - plan --snapshot under ulimit -v 100000"
        sed 's/^/# /' <<<"$out" | head -5
        exit 1
fi
