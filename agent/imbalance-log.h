/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The cluster's imbalance over the last hour: a fixed ring of samples (time, CPU and memory
 * imbalance) that the Manager adds to every IMBALANCE_LOG_PERIOD_S (manager-metrics.c) and that
 * drs.Status returns as cluster.imbalance_history (drsctl status --json; the Cockpit page draws
 * it). Pure: the caller gives the time; no allocation but the JSON. Library code: never logs. */

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define IMBALANCE_LOG_PERIOD_S 10
#define IMBALANCE_LOG_SAMPLES 360 /* one hour at IMBALANCE_LOG_PERIOD_S */

typedef struct ImbalanceSample {
        uint64_t time_usec; /* CLOCK_REALTIME */
        double cpu, memory; /* population standard deviation of utilization over up hosts */
} ImbalanceSample;

typedef struct ImbalanceLog {
        ImbalanceSample samples[IMBALANCE_LOG_SAMPLES];
        size_t first; /* index of the oldest sample */
        size_t n;     /* samples held, <= IMBALANCE_LOG_SAMPLES */
} ImbalanceLog;

/* Adds a sample, dropping the oldest when full. A sample older than the newest one (the
 * realtime clock stepped back) replaces nothing and is ignored. */
void imbalance_log_add(ImbalanceLog *l, uint64_t time_usec, double cpu, double memory);

/* {"period_s": N, "samples": [[TIME_S, CPU, MEMORY], …]}: the samples with time >= since_usec,
 * oldest first; TIME_S in epoch seconds, the imbalances with 4 decimals. -ENOMEM. */
int imbalance_log_to_json(const ImbalanceLog *l, uint64_t since_usec, json_object **ret);
