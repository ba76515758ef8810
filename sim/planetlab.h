/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PlanetLab/CoMon trace importer (drs-sim --import-planetlab): a day of VM CPU traces as
 * CloudSim ships them — a directory of files, one per VM, each up to 288 CPU utilizations in
 * percent at 5-minute steps — into a drs-sim scenario (YAML) and its trace file (CSV
 * SECONDS,VM,CPU_CORES,MEMORY_MIB), with CloudSim's data centre of the Beloglazov & Buyya
 * experiments: hosts alternating HP ProLiant ML110 G4 (2 × 1860 MIPS) and G5 (2 × 2660 MIPS)
 * with their SPECpower curves, VM types of 2500/2000/1000/500 MIPS and 870/1740/1740/613 MB.
 * Units: 1 drs core = 10 MIPS (G4 = 372 cores, G5 = 532); a VM's demand at step k is its MIPS ×
 * utilization / 100; its memory demand half its RAM. */

#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "policy.h"

typedef struct PlanetlabOptions {
        const char *dir;          /* the trace directory */
        const char *order;        /* CSV index,type,file (CloudSim's order); NULL: files by name */
        const char *placement;    /* CSV vm,host (initial placement); NULL: VM i on host i mod n */
        unsigned n_hosts;         /* CloudSim: 800 */
        uint64_t host_memory_mib; /* CloudSim: 4096 (it ignores RAM after placement) */
        unsigned interval_s;      /* the scenario's collection interval */
        const char *name;         /* the scenario's name */
        const char *trace_name;   /* the trace file as the scenario names it (relative to it) */
        const char *policy;       /* YAML text of the scenario's policy (indented), or NULL */
} PlanetlabOptions;

/* Writes the scenario and its trace. On a bad input returns -EINVAL with *reterr a newly
 * allocated message naming the file (and line); -ENOMEM, -EIO otherwise. */
int planetlab_import(const PlanetlabOptions *o, FILE *scenario, FILE *trace, char **reterr);
