/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "power-meter.h"
#include "power.h"

#define USEC_PER_SEC 1000000ULL
#define POWER_READING_MAX_WATTS 100000.0
#define POWER_READING_TIMEOUT_USEC (30ULL * USEC_PER_SEC)
#define POWER_READING_FRESH_INTERVALS 3

/* ---- parsing -------------------------------------------------------------------------------- */

/* The first number in [s, end) followed (after blanks) by "W" or "Watts" (any case). */
static bool watts_in(const char *s, const char *end, double *ret) {
        for (const char *p = s; p < end; p++) {
                if (!isdigit((unsigned char) *p) ||
                    (p > s && (isalnum((unsigned char) p[-1]) || p[-1] == '.')))
                        continue;
                char *q;
                double v = strtod(p, &q);
                if (q > end || q == p)
                        continue;
                const char *u = q;
                while (u < end && (*u == ' ' || *u == '\t'))
                        u++;
                if (u < end && (*u == 'W' || *u == 'w') &&
                    (u + 1 == end || !isalpha((unsigned char) u[1]) || strncasecmp(u, "watts", 5) == 0)) {
                        *ret = v;
                        return true;
                }
                p = q - 1;
        }
        return false;
}

int power_reading_parse(const char *output, double *ret_watts, const char **ret_why) {
        double v = NAN;

        if (!output || !*output) {
                *ret_why = "the command printed nothing";
                return -EINVAL;
        }
        if (strcasestr(output, "reading state is:") && strcasestr(output, "deactivated")) {
                *ret_why = "the BMC says its power reading is deactivated";
                return -EINVAL;
        }
        /* DCMI's instantaneous reading first, then any line with watts, then a bare number. */
        const char *dcmi = strcasestr(output, "Instantaneous power reading");
        if (dcmi) {
                const char *eol = strchr(dcmi, '\n') ?: dcmi + strlen(dcmi);
                if (!watts_in(dcmi, eol, &v))
                        v = NAN;
        }
        for (const char *line = output; isnan(v) && line && *line;) {
                const char *eol = strchr(line, '\n') ?: line + strlen(line);
                double w;
                if (watts_in(line, eol, &w))
                        v = w;
                line = *eol ? eol + 1 : NULL;
        }
        if (isnan(v)) {
                const char *p = output + strspn(output, " \t\r\n");
                char *q;
                double w = strtod(p, &q);
                if (q != p && q[strspn(q, " \t\r\n")] == '\0')
                        v = w;
        }
        if (isnan(v)) {
                *ret_why =
                        "no reading in the output (expected e.g. 'Instantaneous power reading: 220 Watts')";
                return -EINVAL;
        }
        if (!(v >= 0 && v <= POWER_READING_MAX_WATTS)) {
                *ret_why = "the reading is out of range (0-100000 W)";
                return -EINVAL;
        }
        *ret_watts = v;
        return 0;
}

/* ---- the meter ------------------------------------------------------------------------------ */

typedef struct MeterHost {
        PowerMeter *meter;
        const DrsHostConfig *config; /* borrowed from the DrsConfig */
        PowerCommand *command;       /* owned; the reading running now */
        double watts;                /* the last good reading */
        uint64_t read_usec;          /* when (monotonic); 0 = never */
        bool failing;                /* the last reading failed (logged once) */
} MeterHost;

struct PowerMeter {
        sd_event *event; /* ref */
        const PowerMeterOps *ops;
        void *userdata;
        MeterHost *hosts; /* owned array */
        size_t n_hosts;
        uint64_t reading_interval_usec, interval_usec;
        sd_event_source *read_timer, *energy_timer; /* owned */
        uint64_t last_energy_usec;
        double energy_j, saved_j;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000U;
}

static void meter_log(PowerMeter *m, int level, const char *host, const char *fmt, ...) _printf_(4, 5);
static void meter_log(PowerMeter *m, int level, const char *host, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (k >= 0 && m->ops->log)
                m->ops->log(m->userdata, level, host, s);
}

static void on_reading(PowerCommand *c, const PowerCommandResult *r, void *userdata) {
        MeterHost *h = userdata;
        PowerMeter *m = h->meter;
        const char *why = NULL;
        double w;

        if (r->timed_out)
                why = "the command timed out";
        else if (r->exit_status != 0)
                why = "the command failed";
        else if (power_reading_parse(r->output, &w, &why) >= 0) {
                if (h->failing)
                        meter_log(
                                m, LOG_NOTICE, h->config->name, "Power reading of '%s' works again: %.0f W",
                                h->config->name, w);
                h->watts = w;
                h->read_usec = now_usec();
                h->failing = false;
        }
        if (why && !h->failing) {
                char out[128];
                size_t n = 0;
                for (const char *p = r->output ?: ""; *p && n < sizeof(out) - 1; p++)
                        out[n++] = (unsigned char) *p < 0x20 ? ' ' : *p;
                out[n] = 0;
                meter_log(
                        m, LOG_WARNING, h->config->name,
                        "Power reading of '%s' failed (%s; exit status %d, output '%s'): watts come from its power model, if it has one",
                        h->config->name, why, r->exit_status, out);
                h->failing = true;
        }
        h->command = power_command_free(h->command);
}

static int on_read_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        PowerMeter *m = userdata;
        for (size_t i = 0; i < m->n_hosts; i++) {
                MeterHost *h = &m->hosts[i];
                _cleanup_free_ char *cmd = NULL;
                if (!h->config->power_reading || h->command)
                        continue;
                int k = policy_expand_command(
                        h->config->power_reading, h->config->name, h->config->address, h->config->mac,
                        h->config->bmc, &cmd);
                if (k >= 0)
                        k = power_command_start(
                                m->event, cmd, POWER_READING_TIMEOUT_USEC, on_reading, h, &h->command);
                if (k < 0 && !h->failing) {
                        meter_log(
                                m, LOG_WARNING, h->config->name,
                                "Power reading of '%s' could not start (%s): watts come from its power model, if it has one",
                                h->config->name, strerror(-k));
                        h->failing = true;
                }
        }
        (void) sd_event_source_set_time(s, usec + m->reading_interval_usec);
        return 0;
}

static int on_energy_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        PowerMeter *m = userdata;
        uint64_t now = now_usec();
        double dt = m->last_energy_usec ? (double) (now - m->last_energy_usec) / USEC_PER_SEC : 0;

        m->last_energy_usec = now;
        for (size_t i = 0; dt > 0 && i < m->n_hosts; i++) {
                bool powered = true, measured;
                double w = power_meter_watts(m, m->hosts[i].config->name, &measured);
                (void) m->ops->model_watts(m->userdata, m->hosts[i].config, &powered);
                if (w > 0)
                        m->energy_j += w * dt;
                if (!powered)
                        m->saved_j += power_model_watts(&m->hosts[i].config->power, 0) * dt;
        }
        (void) sd_event_source_set_time(s, usec + m->interval_usec);
        return 0;
}

int power_meter_new(
        sd_event *e, const DrsConfig *cfg, const char *only_host, const PowerMeterOps *ops, void *userdata,
        PowerMeter **ret) {
        _cleanup_(power_meter_freep) PowerMeter *m = calloc(1, sizeof(PowerMeter));
        bool any_reading = false;
        int k;

        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->ops = ops;
        m->userdata = userdata;
        m->reading_interval_usec = cfg->power_reading_interval_s * USEC_PER_SEC;
        m->interval_usec = cfg->interval_s * USEC_PER_SEC;
        m->hosts = calloc(cfg->n_hosts ?: 1, sizeof(MeterHost));
        if (!m->hosts)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_hosts; i++) {
                if (only_host && !streq(cfg->hosts[i].name, only_host))
                        continue;
                m->hosts[m->n_hosts++] = (MeterHost){.meter = m, .config = &cfg->hosts[i]};
                any_reading |= cfg->hosts[i].power_reading != NULL;
        }
        uint64_t now = now_usec();
        k = sd_event_add_time(
                e, &m->energy_timer, CLOCK_MONOTONIC, now + m->interval_usec, 0, on_energy_timer, m);
        if (k >= 0)
                k = sd_event_source_set_enabled(m->energy_timer, SD_EVENT_ON);
        if (k >= 0 && any_reading) {
                /* The first reading soon after start, then every interval. */
                k = sd_event_add_time(
                        e, &m->read_timer, CLOCK_MONOTONIC, now + USEC_PER_SEC, 0, on_read_timer, m);
                if (k >= 0)
                        k = sd_event_source_set_enabled(m->read_timer, SD_EVENT_ON);
        }
        if (k < 0)
                return k;
        m->last_energy_usec = now;
        *ret = TAKE_PTR(m);
        return 0;
}

PowerMeter *power_meter_free(PowerMeter *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_hosts; i++)
                power_command_free(m->hosts[i].command);
        free(m->hosts);
        sd_event_source_disable_unref(m->read_timer);
        sd_event_source_disable_unref(m->energy_timer);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

double power_meter_watts(PowerMeter *m, const char *host, bool *ret_measured) {
        for (size_t i = 0; m && i < m->n_hosts; i++) {
                MeterHost *h = &m->hosts[i];
                if (!streq(h->config->name, host))
                        continue;
                bool powered = true;
                double model = m->ops->model_watts(m->userdata, h->config, &powered);
                bool fresh =
                        h->read_usec > 0 && now_usec() - h->read_usec <=
                                                    POWER_READING_FRESH_INTERVALS * m->reading_interval_usec;
                if (ret_measured)
                        *ret_measured = powered && fresh;
                if (!powered)
                        return 0;
                return fresh ? h->watts : model;
        }
        if (ret_measured)
                *ret_measured = false;
        return -1;
}

double power_meter_energy_j(const PowerMeter *m) {
        return m ? m->energy_j : 0;
}

double power_meter_saved_j(const PowerMeter *m) {
        return m ? m->saved_j : 0;
}
