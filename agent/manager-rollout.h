/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Rolling maintenance's control methods (manager-rollout.c): drs.RolloutStart, drs.RolloutStatus,
 * drs.RolloutPause, drs.RolloutResume, drs.RolloutAbort. Cluster mode forwards them to the
 * leader. */

#include <json-c/json.h>

#include "manager.h"

int manager_method_rollout_start(Manager *m, json_object *params, json_object **reply, char **reterr_error);
int manager_method_rollout_status(Manager *m, json_object *params, json_object **reply, char **reterr_error);
int manager_method_rollout_pause(Manager *m, json_object *params, json_object **reply, char **reterr_error);
int manager_method_rollout_resume(Manager *m, json_object *params, json_object **reply, char **reterr_error);
int manager_method_rollout_abort(Manager *m, json_object *params, json_object **reply, char **reterr_error);
