/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Plans: destructor, enum names, and the two renderings — JSON (`drsctl plan --json`, golden
 * files) and a human table. Numbers in JSON carry fixed precision (4 decimals; solve_ms 1) so
 * that the output is byte-stable. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "greedy.h"
#include "solver-internal.h"

static const char *const move_reason_table[_REASON_MAX] = {
        [REASON_BALANCE] = "balance", [REASON_MAINTENANCE] = "maintenance", [REASON_RULE] = "rule",
        [REASON_DPM] = "dpm",         [REASON_PLACEMENT] = "placement",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(move_reason, MoveReason, _REASON_MAX);

static const char *const plan_status_table[_PLAN_STATUS_MAX] = {
        [PLAN_OPTIMAL] = "optimal",
        [PLAN_FEASIBLE] = "feasible",
        [PLAN_NO_ACTION] = "no_action",
        [PLAN_PARTIAL] = "partial",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(plan_status, PlanStatus, _PLAN_STATUS_MAX);

static const char *const power_action_table[_POWER_ACTION_MAX] = {
        [POWER_STANDBY] = "standby",
        [POWER_ON] = "power_on",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(power_action, PowerAction, _POWER_ACTION_MAX);

int plan_new(Plan **ret) {
        Plan *p = calloc(1, sizeof(Plan));
        if (!p)
                return -ENOMEM;
        p->status = PLAN_NO_ACTION;
        p->solver = "greedy";
        p->placement_host = -1;
        *ret = p;
        return 0;
}

int plan_add_unplaceable(Plan *plan, size_t vm, char *why) {
        PlanUnplaceable *n;

        if (!why)
                return -ENOMEM;
        n = reallocarray(plan->unplaceable, plan->n_unplaceable + 1, sizeof(PlanUnplaceable));
        if (!n) {
                free(why);
                return -ENOMEM;
        }
        plan->unplaceable = n;
        plan->unplaceable[plan->n_unplaceable++] = (PlanUnplaceable){.vm = vm, .why = why};
        return 0;
}

Plan *plan_free(Plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_moves; i++)
                free(p->moves[i].rule);
        free(p->moves);
        free(p->power);
        for (size_t i = 0; i < p->n_unplaceable; i++)
                free(p->unplaceable[i].why);
        free(p->unplaceable);
        free(p->placement_vm);
        free(p);
        return NULL;
}

static const char *vm_name(const Problem *p, const Plan *plan, size_t vm) {
        if (vm < p->n_vms)
                return p->vms[vm].name;
        return plan->placement_vm ? plan->placement_vm : "?";
}

static const char *host_name(const Problem *p, size_t h) {
        return h < p->n_hosts ? p->hosts[h].name : "?";
}

/* "rule:<name>" or the reason's name; a new string. */
static char *move_reason_label(const PlanMove *m) {
        if (m->reason == REASON_RULE)
                return solver_strdup_printf("rule:%s", m->rule ? m->rule : "?");
        return strdup(move_reason_to_string(m->reason) ?: "?");
}

/* ---- JSON ---- */

static void json_object_unrefp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* A double printed with a fixed number of decimals; never "-0.0000". */
static json_object *json_fixed(double x, int decimals) {
        char buf[64];

        if (!isfinite(x))
                x = 0;
        snprintf(buf, sizeof(buf), "%.*f", decimals, x);
        if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))
                memmove(buf, buf + 1, strlen(buf));
        return json_object_new_double_s(x, buf);
}

/* Adds val under key, consuming val; -ENOMEM when val is NULL or adding fails. */
static int json_add(json_object *obj, const char *key, json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static int json_push(json_object *arr, json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_array_add(arr, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static json_object *metrics_to_json(const PlanMetrics *x) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (json_add(o, "cpu_imbalance", json_fixed(x->cpu_imbalance, 4)) < 0 ||
            json_add(o, "memory_imbalance", json_fixed(x->memory_imbalance, 4)) < 0 ||
            json_add(o, "max_cpu_utilization", json_fixed(x->max_cpu_utilization, 4)) < 0 ||
            json_add(o, "max_memory_utilization", json_fixed(x->max_memory_utilization, 4)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* Expected time of a move's disk copy at the policy's copy bandwidth. */
static double disk_copy_s(const Problem *p, const PlanMove *mv) {
        uint64_t bw = p->policy ? p->policy->storage.copy_bandwidth_mib_s : 0;
        return (double) mv->disk_copy_mib / (double) (bw > 0 ? bw : 1);
}

static json_object *move_to_json(const Problem *p, const Plan *plan, const PlanMove *mv) {
        _cleanup_(json_object_unrefp) json_object *o = json_object_new_object();
        _cleanup_free_ char *reason = move_reason_label(mv);

        if (!o || !reason)
                return NULL;
        if (json_add(o, "wave", json_object_new_int64(mv->wave)) < 0 ||
            json_add(o, "vm", json_object_new_string(vm_name(p, plan, mv->vm))) < 0 ||
            json_add(o, "from", json_object_new_string(host_name(p, mv->from))) < 0 ||
            json_add(o, "to", json_object_new_string(host_name(p, mv->to))) < 0 ||
            json_add(o, "reason", json_object_new_string(reason)) < 0 ||
            json_add(o, "memory_mib", json_object_new_int64((int64_t) mv->memory_mib)) < 0 ||
            json_add(o, "gain", json_fixed(mv->gain, 4)) < 0 ||
            json_add(o, "recommendation", json_object_new_boolean(mv->recommendation)) < 0)
                return NULL;
        /* Only for moves that copy disks: plans without local disks keep their shape. */
        if (mv->disk_copy_mib > 0 &&
            (json_add(o, "disk_copy_mib", json_object_new_int64((int64_t) mv->disk_copy_mib)) < 0 ||
             json_add(o, "disk_copy_s", json_fixed(disk_copy_s(p, mv), 1)) < 0))
                return NULL;
        return TAKE_PTR(o);
}

int plan_to_json(const Problem *p, const Plan *plan, char **ret) {
        _cleanup_(json_object_unrefp) json_object *root = json_object_new_object();
        json_object *arr;
        int r;

        if (!root)
                return -ENOMEM;
        if ((r = json_add(
                     root, "status", json_object_new_string(plan_status_to_string(plan->status) ?: "?"))) <
                    0 ||
            (r = json_add(root, "solver", json_object_new_string(plan->solver ?: "?"))) < 0 ||
            (r = json_add(root, "solve_ms", json_fixed(plan->solve_ms, 1))) < 0 ||
            (r = json_add(root, "gap", json_fixed(plan->gap, 4))) < 0 ||
            (r = json_add(root, "before", metrics_to_json(&plan->before))) < 0 ||
            (r = json_add(root, "after", metrics_to_json(&plan->after))) < 0)
                return r;

        arr = json_object_new_array();
        if ((r = json_add(root, "moves", arr)) < 0)
                return r;
        for (size_t i = 0; i < plan->n_moves; i++)
                if ((r = json_push(arr, move_to_json(p, plan, &plan->moves[i]))) < 0)
                        return r;

        arr = json_object_new_array();
        if ((r = json_add(root, "power", arr)) < 0)
                return r;
        for (size_t i = 0; i < plan->n_power; i++) {
                const PlanPower *pw = &plan->power[i];
                json_object *o = json_object_new_object();
                if ((r = json_push(arr, o)) < 0 ||
                    (r = json_add(o, "host", json_object_new_string(host_name(p, pw->host)))) < 0 ||
                    (r = json_add(
                             o, "action",
                             json_object_new_string(power_action_to_string(pw->action) ?: "?"))) < 0 ||
                    (r = json_add(o, "wave", json_object_new_int64(pw->wave))) < 0)
                        return r;
        }

        if (p->notes && p->notes[0]) {
                json_object *na = json_object_new_array();
                if ((r = json_add(root, "notes", na)) < 0)
                        return r;
                for (char **n = p->notes; *n; n++)
                        if ((r = json_push(na, json_object_new_string(*n))) < 0)
                                return r;
        }
        if (plan->n_need_in_flight > 0 &&
            (r = json_add(root, "need_in_flight", json_object_new_uint64(plan->n_need_in_flight))) < 0)
                return r;
        arr = json_object_new_array();
        if ((r = json_add(root, "unplaceable", arr)) < 0)
                return r;
        for (size_t i = 0; i < plan->n_unplaceable; i++) {
                const PlanUnplaceable *u = &plan->unplaceable[i];
                json_object *o = json_object_new_object();
                if ((r = json_push(arr, o)) < 0 ||
                    (r = json_add(o, "vm", json_object_new_string(vm_name(p, plan, u->vm)))) < 0 ||
                    (r = json_add(o, "why", json_object_new_string(u->why ?: ""))) < 0)
                        return r;
        }

        /* Only when the caller held DPM back (never for snapshots): the goldens stay as they are. */
        if (plan->dpm_standby_held || plan->dpm_power_on_held) {
                arr = json_object_new_array();
                if ((r = json_add(root, "dpm_held", arr)) < 0 ||
                    (plan->dpm_power_on_held &&
                     (r = json_push(arr, json_object_new_string("power_on"))) < 0) ||
                    (plan->dpm_standby_held && (r = json_push(arr, json_object_new_string("standby"))) < 0))
                        return r;
        }

        /* Only in cluster mode (never for snapshots): the goldens stay as they are. */
        if (p->quorum.enabled) {
                json_object *o = json_object_new_object();
                if ((r = json_add(root, "quorum", o)) < 0 ||
                    (r = json_add(o, "quorum", json_object_new_uint64(p->quorum.quorum))) < 0 ||
                    (r = json_add(o, "total_votes", json_object_new_uint64(p->quorum.total_votes))) < 0 ||
                    (r = json_add(o, "votes_after", json_object_new_uint64(plan->dpm_votes_after))) < 0 ||
                    (r = json_add(
                             o, "tolerate_failures",
                             json_object_new_uint64(p->policy->dpm.tolerate_failures))) < 0 ||
                    (r = json_add(o, "dpm_limited", json_object_new_boolean(plan->dpm_quorum_limited))) < 0)
                        return r;
        }

        if (plan->placement_vm) {
                json_object *o = json_object_new_object();
                if ((r = json_add(root, "placement", o)) < 0 ||
                    (r = json_add(o, "vm", json_object_new_string(plan->placement_vm))) < 0)
                        return r;
                if (plan->placement_host >= 0)
                        r = json_add(
                                o, "host",
                                json_object_new_string(host_name(p, (size_t) plan->placement_host)));
                else
                        r = json_object_object_add(o, "host", NULL) < 0 ? -ENOMEM : 0;
                if (r < 0)
                        return r;
        }

        const char *s = json_object_to_json_string_ext(
                root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        char *out = solver_strdup_printf("%s\n", s);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

/* ---- text ---- */

typedef struct Buf {
        char *s;
        size_t n;
        bool oom;
} Buf;

_printf_(2, 3) static void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        char *x;
        int k;

        if (b->oom)
                return;
        va_start(ap, fmt);
        k = vasprintf(&x, fmt, ap);
        va_end(ap);
        if (k < 0) {
                b->oom = true;
                return;
        }
        char *n = realloc(b->s, b->n + (size_t) k + 1);
        if (!n) {
                free(x);
                b->oom = true;
                return;
        }
        memcpy(n + b->n, x, (size_t) k + 1);
        b->s = n;
        b->n += (size_t) k;
        free(x);
}

static int width_max(int w, const char *s) {
        int n = (int) strlen(s);
        return n > w ? n : w;
}

int plan_to_text(const Problem *p, const Plan *plan, char **ret) {
        Buf b = {};
        int wv = 2, wf = 4, wt = 2, wr = 6;

        buf_printf(&b, "status: %s (%s", plan_status_to_string(plan->status) ?: "?", plan->solver ?: "?");
        if (plan->solve_ms > 0)
                buf_printf(&b, ", %.1f ms", plan->solve_ms);
        if (plan->gap > 0)
                buf_printf(&b, ", gap %.4f", plan->gap);
        buf_printf(&b, ")\n");
        buf_printf(
                &b, "imbalance: cpu %.4f -> %.4f, memory %.4f -> %.4f\n", plan->before.cpu_imbalance,
                plan->after.cpu_imbalance, plan->before.memory_imbalance, plan->after.memory_imbalance);
        buf_printf(
                &b, "max utilization: cpu %.2f -> %.2f, memory %.2f -> %.2f\n",
                plan->before.max_cpu_utilization, plan->after.max_cpu_utilization,
                plan->before.max_memory_utilization, plan->after.max_memory_utilization);

        if (plan->dpm_power_on_held)
                buf_printf(
                        &b, "dpm: power-on held (demand above the band for less than dpm.power_on_delay)\n");
        if (plan->dpm_standby_held)
                buf_printf(
                        &b,
                        "dpm: standby held (demand measured for less than dpm.standby_delay since the leader started or the last power-on)\n");
        for (char **n = p->notes; n && *n; n++)
                buf_printf(&b, "note: %s\n", *n);
        if (p->policy->dpm.enabled && p->dpm_standby_demand.set)
                buf_printf(
                        &b,
                        "dpm: standby judged on demand at the %gth percentile of %u pass(es) over %" PRIu64
                        " s: cpu %.2f cores, memory %.0f MiB\n",
                        p->policy->dpm.standby_percentile * 100.0, p->dpm_standby_demand.samples,
                        p->dpm_standby_demand.window_s, p->dpm_standby_demand.cpu,
                        p->dpm_standby_demand.memory_mib);
        if (plan->dpm_quorum_limited)
                buf_printf(
                        &b,
                        "dpm: standby limited by quorum (%u of %u votes stay powered; votequorum needs %u, "
                        "with dpm.tolerate_failures %u)\n",
                        plan->dpm_votes_after, p->quorum.total_votes, p->quorum.quorum,
                        p->policy->dpm.tolerate_failures);

        if (plan->placement_vm) {
                if (plan->placement_host >= 0)
                        buf_printf(
                                &b, "placement: %s -> %s\n", plan->placement_vm,
                                host_name(p, (size_t) plan->placement_host));
                else
                        buf_printf(&b, "placement: %s fits on no host\n", plan->placement_vm);
        }

        if (plan->n_moves > 0) {
                for (size_t i = 0; i < plan->n_moves; i++) {
                        const PlanMove *mv = &plan->moves[i];
                        _cleanup_free_ char *reason = move_reason_label(mv);
                        wv = width_max(wv, vm_name(p, plan, mv->vm));
                        wf = width_max(wf, host_name(p, mv->from));
                        wt = width_max(wt, host_name(p, mv->to));
                        wr = width_max(wr, reason ?: "?");
                }
                buf_printf(&b, "\nmoves (%zu):\n", plan->n_moves);
                buf_printf(
                        &b, "  %4s  %-*s  %-*s  %-*s  %-*s  %10s  %8s\n", "WAVE", wv, "VM", wf, "FROM", wt,
                        "TO", wr, "REASON", "MEMORY", "GAIN");
                for (size_t i = 0; i < plan->n_moves; i++) {
                        const PlanMove *mv = &plan->moves[i];
                        _cleanup_free_ char *reason = move_reason_label(mv);
                        buf_printf(
                                &b, "  %4u  %-*s  %-*s  %-*s  %-*s  %6" PRIu64 " MiB  %8.4f%s\n", mv->wave,
                                wv, vm_name(p, plan, mv->vm), wf, host_name(p, mv->from), wt,
                                host_name(p, mv->to), wr, reason ?: "?", mv->memory_mib, mv->gain,
                                mv->recommendation ? "  (recommendation)" : "");
                        if (mv->disk_copy_mib > 0)
                                buf_printf(
                                        &b, "  %4s  %-*s  + disk copy %" PRIu64 " MiB (~%.1f s)\n", "", wv,
                                        "", mv->disk_copy_mib, disk_copy_s(p, mv));
                }
        }

        if (plan->n_power > 0) {
                buf_printf(&b, "\npower:\n");
                for (size_t i = 0; i < plan->n_power; i++) {
                        const PlanPower *pw = &plan->power[i];
                        buf_printf(
                                &b, "  wave %u: %s %s\n", pw->wave,
                                pw->action == POWER_ON ? "power on" : "standby", host_name(p, pw->host));
                }
        }

        if (plan->n_need_in_flight > 0)
                buf_printf(
                        &b, "\nin flight: %zu VM(s) that must move are being migrated already\n",
                        plan->n_need_in_flight);
        if (plan->n_unplaceable > 0) {
                buf_printf(&b, "\nunplaceable (%zu):\n", plan->n_unplaceable);
                for (size_t i = 0; i < plan->n_unplaceable; i++)
                        buf_printf(
                                &b, "  %s: %s\n", vm_name(p, plan, plan->unplaceable[i].vm),
                                plan->unplaceable[i].why ?: "");
        }

        if (plan->n_moves == 0 && plan->n_power == 0 && plan->n_unplaceable == 0 && !plan->placement_vm)
                buf_printf(&b, "\nnothing to do\n");

        if (b.oom) {
                free(b.s);
                return -ENOMEM;
        }
        *ret = b.s;
        return 0;
}
