/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A simulation's result as text, JSON (json-c) and an SVG chart. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "hv.h"
#include "sim.h"

static const char *const reason_names[5] = {"balance", "maintenance", "rule", "dpm", "placement"};

static double savings(const SimResult *r) {
        return r->host_hours_always_on > 0 ? 1.0 - r->host_hours_on / r->host_hours_always_on : 0;
}

static void clock_str(uint64_t t_s, char *buf, size_t size) {
        (void) snprintf(
                buf, size, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, t_s / 3600, t_s / 60 % 60, t_s % 60);
}

int sim_result_to_text(const SimResult *r, FILE *f) {
        char t[32];

        fprintf(f, "scenario %s (seed %" PRIu64 "): %zu hosts, %zu VMs, %.1f h simulated\n", r->name,
                r->seed, r->n_hosts, r->n_vms, (double) r->duration_s / 3600.0);
        fprintf(f,
                "  steps %" PRIu64 ", samples %" PRIu64 ", passes %" PRIu64 ", plans started %" PRIu64
                " (%" PRIu64 " replaced by a mandatory one)\n",
                r->steps, r->samples, r->passes, r->plans_started, r->plans_replaced);
        if (r->passes_without_quorum > 0)
                fprintf(f, "  passes skipped without quorum (no majority of votes answering) %" PRIu64 "\n",
                        r->passes_without_quorum);
        fprintf(f, "  CPU imbalance     min %.4f  median %.4f  max %.4f  final %.4f\n", r->cpu_imbalance.min,
                r->cpu_imbalance.median, r->cpu_imbalance.max, r->final_cpu_imbalance);
        fprintf(f, "  memory imbalance  min %.4f  median %.4f  max %.4f  final %.4f\n",
                r->memory_imbalance.min, r->memory_imbalance.median, r->memory_imbalance.max,
                r->final_memory_imbalance);
        fprintf(f, "  max utilization   CPU %.3f  memory %.3f (demand / capacity, any up host)\n",
                r->max_cpu_utilization, r->max_memory_utilization);
        fprintf(f,
                "  migrations        %" PRIu64 " started: %" PRIu64 " completed, %" PRIu64
                " failed, %" PRIu64 " aborted, %" PRIu64 " skipped; %" PRIu64 " stall steps, %" PRIu64
                " auto-converge retries\n",
                r->migrations_started, r->migrations_ok, r->migrations_failed, r->migrations_aborted,
                r->migrations_skipped, r->stall_steps, r->retries);
        fprintf(f, "                    by reason:");
        for (size_t i = 0; i < 4; i++)
                fprintf(f, " %s %" PRIu64, reason_names[i], r->migrations_by_reason[i]);
        fprintf(f,
                "\n                    %" PRIu64 " VMs moved, at most %" PRIu64
                " moves of one VM; moved twice "
                "within the cooldown %" PRIu64 " (balance both times %" PRIu64
                "), back to the previous host %" PRIu64
                "; balance moves while every host < 20%% CPU %" PRIu64 "\n",
                r->vms_moved, r->max_moves_one_vm, r->moved_twice_within_cooldown,
                r->balance_moved_twice_within_cooldown, r->returns, r->idle_balance_moves);
        for (size_t i = 0; i < r->n_maintenance; i++) {
                const SimMaintenance *m = &r->maintenance[i];
                clock_str(m->start_s, t, sizeof(t));
                if (m->done_s >= 0)
                        fprintf(f,
                                "  maintenance       %s from %s: %u VMs, in maintenance after %" PRId64
                                " s, at most %u VMs to one host\n",
                                m->host, t, m->n_vms, m->done_s - (int64_t) m->start_s, m->max_to_one);
                else
                        fprintf(f,
                                "  maintenance       %s from %s: %u VMs, not in maintenance by the end, at most %u "
                                "VMs to one host\n",
                                m->host, t, m->n_vms, m->max_to_one);
        }
        fprintf(f,
                "  power             standby %" PRIu64 " ok / %" PRIu64 " failed, power-on %" PRIu64
                " ok / %" PRIu64 " failed; host-hours %.1f of %.1f always-on (DPM saved %.1f%%)\n",
                r->standby_ok, r->standby_failed, r->power_on_ok, r->power_on_failed, r->host_hours_on,
                r->host_hours_always_on, 100.0 * savings(r));
        if (r->benefit_measured + r->benefit_superseded > 0)
                fprintf(f,
                        "  benefit           %" PRIu64
                        " moves measured to 15 min: %.0f%% of the predicted gain "
                        "realized, %" PRIu64 " made it worse, %" PRIu64 " realized < 10%%; %" PRIu64
                        " ended early (moved again, stopped, source left)\n",
                        r->benefit_measured,
                        r->benefit_predicted > 0 ? 100.0 * r->benefit_realized / r->benefit_predicted : 0,
                        r->benefit_worse, r->benefit_little, r->benefit_superseded);
        if (r->energy_j > 0)
                fprintf(f,
                        "  energy            %.2f kWh; serving host time with CPU demand >= capacity %.2f%%\n",
                        r->energy_j / 3.6e6,
                        r->host_hours_serving > 0 ? 100.0 * r->host_hours_overloaded / r->host_hours_serving
                                                  : 0);
        fprintf(f,
                "  faults            %" PRIu64 " migrations failed, %" PRIu64 " stalled, %" PRIu64
                " hosts killed, %" PRIu64 " power commands failed, %" PRIu64 " leader changes (%" PRIu64
                " stale orders refused)\n",
                r->faults_migration_failed, r->faults_stalled, r->faults_host_killed, r->faults_power_failed,
                r->faults_leader_changes, r->stale_orders_refused);
        fprintf(f, "  invariants        %" PRIu64 " violation(s)\n", r->n_violations);
        for (size_t i = 0; i < r->n_violations_kept; i++) {
                clock_str(r->violations[i].t_s, t, sizeof(t));
                fprintf(f, "    %s %s\n", t, r->violations[i].label ?: "?");
        }
        for (size_t i = 0; r->expect_failures && r->expect_failures[i]; i++)
                fprintf(f, "  expectation not met: %s\n", r->expect_failures[i]);
        fprintf(f, "  result            %s\n", sim_result_ok(r) ? "ok" : "FAILED");
        return 0;
}

static json_object *stats_json(const SimStats *s) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "min", json_object_new_double(s->min));
        json_object_object_add(o, "median", json_object_new_double(s->median));
        json_object_object_add(o, "max", json_object_new_double(s->max));
        return o;
}

#define ADD_U(o, k, v) json_object_object_add((o), (k), json_object_new_uint64(v))
#define ADD_D(o, k, v) json_object_object_add((o), (k), json_object_new_double(v))

int sim_result_to_json(const SimResult *r, char **ret) {
        json_object *o = json_object_new_object(), *m, *a;
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "scenario", json_object_new_string(r->name));
        ADD_U(o, "seed", r->seed);
        ADD_U(o, "hosts", r->n_hosts);
        ADD_U(o, "vms", r->n_vms);
        ADD_U(o, "duration_s", r->duration_s);
        ADD_U(o, "steps", r->steps);
        ADD_U(o, "samples", r->samples);
        ADD_U(o, "passes", r->passes);
        if (r->passes_without_quorum > 0)
                ADD_U(o, "passes_without_quorum", r->passes_without_quorum);
        ADD_U(o, "plans_started", r->plans_started);
        ADD_U(o, "plans_replaced", r->plans_replaced);
        m = json_object_new_object();
        json_object_object_add(m, "cpu", stats_json(&r->cpu_imbalance));
        json_object_object_add(m, "memory", stats_json(&r->memory_imbalance));
        ADD_D(m, "final_cpu", r->final_cpu_imbalance);
        ADD_D(m, "final_memory", r->final_memory_imbalance);
        json_object_object_add(o, "imbalance", m);
        ADD_D(o, "max_cpu_utilization", r->max_cpu_utilization);
        ADD_D(o, "max_memory_utilization", r->max_memory_utilization);
        m = json_object_new_object();
        ADD_U(m, "started", r->migrations_started);
        ADD_U(m, "completed", r->migrations_ok);
        ADD_U(m, "failed", r->migrations_failed);
        ADD_U(m, "aborted", r->migrations_aborted);
        ADD_U(m, "skipped", r->migrations_skipped);
        json_object *br = json_object_new_object();
        for (size_t i = 0; i < 4; i++)
                ADD_U(br, reason_names[i], r->migrations_by_reason[i]);
        json_object_object_add(m, "by_reason", br);
        ADD_U(m, "stall_steps", r->stall_steps);
        ADD_U(m, "auto_converge_retries", r->retries);
        ADD_U(m, "vms_moved", r->vms_moved);
        ADD_U(m, "max_moves_one_vm", r->max_moves_one_vm);
        ADD_U(m, "moved_twice_within_cooldown", r->moved_twice_within_cooldown);
        ADD_U(m, "balance_moved_twice_within_cooldown", r->balance_moved_twice_within_cooldown);
        ADD_U(m, "returns", r->returns);
        ADD_U(m, "idle_balance_moves", r->idle_balance_moves);
        json_object_object_add(o, "migrations", m);
        a = json_object_new_array();
        for (size_t i = 0; i < r->n_maintenance; i++) {
                const SimMaintenance *x = &r->maintenance[i];
                json_object *e = json_object_new_object();
                json_object_object_add(e, "host", json_object_new_string(x->host));
                ADD_U(e, "start_s", x->start_s);
                json_object_object_add(
                        e, "seconds",
                        x->done_s >= 0 ? json_object_new_int64(x->done_s - (int64_t) x->start_s) : NULL);
                ADD_U(e, "vms", x->n_vms);
                ADD_U(e, "max_to_one_host", x->max_to_one);
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "maintenance", a);
        m = json_object_new_object();
        ADD_U(m, "standby_ok", r->standby_ok);
        ADD_U(m, "standby_failed", r->standby_failed);
        ADD_U(m, "power_on_ok", r->power_on_ok);
        ADD_U(m, "power_on_failed", r->power_on_failed);
        ADD_D(m, "host_hours_on", r->host_hours_on);
        ADD_D(m, "energy_kwh", r->energy_j / 3.6e6);
        ADD_D(m, "overloaded_share",
              r->host_hours_serving > 0 ? r->host_hours_overloaded / r->host_hours_serving : 0);
        ADD_D(m, "host_hours_always_on", r->host_hours_always_on);
        ADD_D(m, "savings", savings(r));
        json_object_object_add(o, "power", m);
        m = json_object_new_object();
        ADD_U(m, "measured", r->benefit_measured);
        ADD_U(m, "worse", r->benefit_worse);
        ADD_U(m, "little", r->benefit_little);
        ADD_U(m, "superseded", r->benefit_superseded);
        ADD_D(m, "predicted", r->benefit_predicted);
        ADD_D(m, "realized", r->benefit_realized);
        json_object_object_add(o, "benefit", m);
        m = json_object_new_object();
        ADD_U(m, "migrations_failed", r->faults_migration_failed);
        ADD_U(m, "migrations_stalled", r->faults_stalled);
        ADD_U(m, "hosts_killed", r->faults_host_killed);
        ADD_U(m, "power_failed", r->faults_power_failed);
        ADD_U(m, "leader_changes", r->faults_leader_changes);
        ADD_U(m, "stale_orders_refused", r->stale_orders_refused);
        json_object_object_add(o, "faults", m);
        m = json_object_new_object();
        ADD_U(m, "count", r->n_violations);
        a = json_object_new_array();
        for (size_t i = 0; i < r->n_violations_kept; i++) {
                json_object *e = json_object_new_object();
                ADD_U(e, "t_s", r->violations[i].t_s);
                json_object_object_add(e, "what", json_object_new_string(r->violations[i].label ?: ""));
                json_object_array_add(a, e);
        }
        json_object_object_add(m, "first", a);
        json_object_object_add(o, "violations", m);
        a = json_object_new_array();
        for (size_t i = 0; r->expect_failures && r->expect_failures[i]; i++)
                json_object_array_add(a, json_object_new_string(r->expect_failures[i]));
        json_object_object_add(o, "expectations_failed", a);
        json_object_object_add(o, "ok", json_object_new_boolean(sim_result_ok(r)));

        const char *s =
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *c = s ? strdup(s) : NULL;
        json_object_put(o);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

/* ---- SVG -------------------------------------------------------------------------------------- */

#define W 1000.0
#define LEFT 60.0
#define PLOT_W (W - LEFT - 20.0)
#define PANEL_H 180.0
#define GAP 40.0

static double xpos(const SimResult *r, uint64_t t) {
        return LEFT + PLOT_W * (double) t / (double) (r->duration_s ?: 1);
}

static void axes(FILE *f, const SimResult *r, double top, const char *title, double ymax, const char *unit) {
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"13\" font-weight=\"bold\">", LEFT, top - 8);
        hv_xml_escape(f, title);
        fprintf(f,
                "</text>\n<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
                LEFT, top, PLOT_W, PANEL_H);
        for (int i = 0; i <= 4; i++) {
                double y = top + PANEL_H - PANEL_H * i / 4.0;
                fprintf(f,
                        "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"#eee\"/>"
                        "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"end\">%g%s</text>\n",
                        LEFT, LEFT + PLOT_W, y, y, LEFT - 4, y + 3, ymax * i / 4.0, unit);
        }
        for (uint64_t h = 0; h <= r->duration_s / 3600; h += r->duration_s > 48 * 3600   ? 24
                                                             : r->duration_s > 12 * 3600 ? 3
                                                                                         : 1)
                fprintf(f,
                        "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"middle\">%02" PRIu64
                        ":00</text>\n",
                        xpos(r, h * 3600), top + PANEL_H + 12, h);
}

static void host_lines(FILE *f, const SimResult *r, double top, bool cpu) {
        for (size_t h = 0; h < r->n_hosts; h++) {
                bool open = false;
                double hue = 360.0 * (double) h / (double) (r->n_hosts ?: 1);
                for (size_t i = 0; i < r->n_series; i++) {
                        float v = cpu ? r->series[i].cpu[h] : r->series[i].mem[h];
                        if (v < 0) {
                                if (open)
                                        fputs("\"/>\n", f);
                                open = false;
                                continue;
                        }
                        if (v > 1.2f)
                                v = 1.2f;
                        double x = xpos(r, r->series[i].t_s), y = top + PANEL_H - PANEL_H * v / 1.2;
                        if (!open)
                                fprintf(f,
                                        "<polyline fill=\"none\" stroke=\"hsl(%.0f,60%%,45%%)\" stroke-width=\"0.8\" "
                                        "stroke-opacity=\"0.7\" points=\"",
                                        hue);
                        fprintf(f, "%.1f,%.1f ", x, y);
                        open = true;
                }
                if (open)
                        fputs("\"/>\n", f);
        }
}

int sim_result_to_svg(const SimResult *r, FILE *f) {
        double h_total = 3 * (PANEL_H + GAP) + 70;
        unsigned max_mig = 1;

        fprintf(f,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                W, h_total);
        fprintf(f, "<text x=\"%g\" y=\"20\" font-size=\"15\" font-weight=\"bold\">drs-sim: ", LEFT);
        hv_xml_escape(f, r->name);
        fprintf(f,
                " — %zu hosts, %zu VMs, %" PRIu64 " migrations, %" PRIu64 " invariant violations</text>\n",
                r->n_hosts, r->n_vms, r->migrations_ok, r->n_violations);

        double top = 50;
        axes(f, r, top, "CPU utilization per host (demand / cores)", 120, "%");
        host_lines(f, r, top, true);
        top += PANEL_H + GAP;
        axes(f, r, top, "memory utilization per host (demand / memory)", 120, "%");
        host_lines(f, r, top, false);
        top += PANEL_H + GAP;
        for (size_t i = 0; i < r->n_series; i++)
                if (r->series[i].migrations > max_mig)
                        max_mig = r->series[i].migrations;
        axes(f, r, top, "migrations started (bars) and hosts powered on (line)", (double) max_mig, "");
        double bw = r->n_series > 0 ? PLOT_W / (double) r->n_series : 1;
        for (size_t i = 0; i < r->n_series; i++)
                if (r->series[i].migrations > 0) {
                        double hgt = PANEL_H * r->series[i].migrations / max_mig;
                        fprintf(f,
                                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"#d62\"/>\n",
                                xpos(r, r->series[i].t_s), top + PANEL_H - hgt, bw > 1 ? bw : 1, hgt);
                }
        fputs("<polyline fill=\"none\" stroke=\"#26a\" stroke-width=\"1.5\" points=\"", f);
        for (size_t i = 0; i < r->n_series; i++)
                fprintf(f, "%.1f,%.1f ", xpos(r, r->series[i].t_s),
                        top + PANEL_H - PANEL_H * r->series[i].hosts_on / (double) (r->n_hosts ?: 1));
        fputs("\"/>\n", f);
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"10\" fill=\"#26a\">hosts on (top = %zu)</text>\n",
                LEFT + PLOT_W - 110, top + 12, r->n_hosts);

        /* Scheduled events across every panel. */
        for (size_t i = 0; i < r->n_marks; i++) {
                double x = xpos(r, r->marks[i].t_s);
                fprintf(f,
                        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"50\" y2=\"%g\" stroke=\"#555\" stroke-dasharray=\"3,3\"/>\n"
                        "<text x=\"%.1f\" y=\"%g\" font-size=\"10\" transform=\"rotate(-90 %.1f %g)\">",
                        x, x, top + PANEL_H, x + 3, top + PANEL_H - 4, x + 3, top + PANEL_H - 4);
                hv_xml_escape(f, r->marks[i].label);
                fputs("</text>\n", f);
        }
        fputs("</svg>\n", f);
        return ferror(f) ? -EIO : 0;
}
