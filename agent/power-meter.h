/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Power and energy of the hosts: watts measured by each host's power_reading command (drsd.yaml,
 * e.g. `ipmitool -H {bmc} … dcmi power reading`, run every power_reading_interval) where a
 * reading is fresh, else the host's power model at its CPU utilization; energy integrated every
 * collection interval (hosts in standby count 0 W), and what DPM saved against every host on
 * (a host in standby would draw its model's idle watts).
 *   power_reading_parse()  pure: a command's output → watts ("Instantaneous power reading: 220
 *                          Watts" as ipmitool prints DCMI, "… NUMBER W[atts]", or one number)
 *   PowerMeter             runs the commands on the Manager's sd-event loop (agent/power.h), keeps
 *                          the last reading per host. A failing or garbled reading is logged
 *                          (once until a reading works again) and the model is used meanwhile;
 *                          it never stops drsd. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "macro.h"

/* -EINVAL with *ret_why (static text) when the output holds no usable reading (0..100000 W). */
int power_reading_parse(const char *output, double *ret_watts, const char **ret_why);

typedef struct PowerMeterOps {
        /* The host's model at its CPU utilization now (< 0: no model or no report), and whether
         * it is powered (not in standby). */
        double (*model_watts)(void *u, const DrsHostConfig *host, bool *ret_powered);
        /* Journal (syslog level). */
        void (*log)(void *u, int level, const char *host, const char *message);
} PowerMeterOps;

typedef struct PowerMeter PowerMeter;

/* only_host: cluster mode, this drsd's host only (its own BMC); NULL: every host. */
int power_meter_new(
        sd_event *e, const DrsConfig *cfg, const char *only_host, const PowerMeterOps *ops, void *userdata,
        PowerMeter **ret);
PowerMeter *power_meter_free(PowerMeter *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(PowerMeter *, power_meter_free);

/* The host's watts now: a fresh reading (at most 3 reading intervals old), else its model at its
 * utilization; < 0 when neither is known (0 for a host in standby). */
double power_meter_watts(PowerMeter *m, const char *host, bool *ret_measured);
/* Joules since drsd started: drawn by the hosts, and saved against every host on. */
double power_meter_energy_j(const PowerMeter *m);
double power_meter_saved_j(const PowerMeter *m);
