/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "state.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static const char *const host_mode_table[_HOST_MODE_MAX] = {
        [HOST_MODE_UP] = "up",
        [HOST_MODE_ENTERING_MAINTENANCE] = "entering-maintenance",
        [HOST_MODE_MAINTENANCE] = "maintenance",
        [HOST_MODE_STANDBY] = "standby",
        [HOST_MODE_POWER_ON_FAILED] = "power-on-failed",
};

DEFINE_STRING_TABLE_LOOKUP(host_mode, HostMode, _HOST_MODE_MAX);

static void state_host_done(StateHost *h) {
        free(h->name);
        free(h->reason);
        *h = (StateHost){};
}

State *state_free(State *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_hosts; i++)
                state_host_done(&s->hosts[i]);
        free(s->hosts);
        free(s->path);
        free(s);
        return NULL;
}

static int cmp_host(const void *a, const void *b) {
        return strcmp(((const StateHost *) a)->name, ((const StateHost *) b)->name);
}

_printf_(2, 3) static int bad(char **reterr_msg, const char *fmt, ...) {
        if (reterr_msg) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(reterr_msg, fmt, ap) < 0)
                        *reterr_msg = NULL;
                va_end(ap);
        }
        return -EBADMSG;
}

static bool host_name_is_valid(const char *s) {
        size_t l = strlen(s);
        if (l == 0 || l > 255)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

int state_parse(const char *buf, size_t len, State **ret, char **reterr_msg) {
        _cleanup_(state_freep) State *s = NULL;
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *v, *hosts;

        if (len > STATE_MAX_FILE_SIZE)
                return bad(reterr_msg, "file is larger than %u bytes", STATE_MAX_FILE_SIZE);
        if (memchr(buf, 0, len))
                return bad(reterr_msg, "file contains a NUL byte");

        json_tokener *tok = json_tokener_new_ex(16);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, buf, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (jerr == json_tokener_continue || (!root && jerr == json_tokener_success))
                return bad(reterr_msg, "truncated or empty JSON document");
        if (!root || jerr != json_tokener_success)
                return bad(
                        reterr_msg, "not valid JSON (%s at byte %zu)",
                        jerr == json_tokener_success ? "empty document" : json_tokener_error_desc(jerr),
                        used);
        for (size_t i = used; i < len; i++)
                if (!strchr(" \t\r\n", buf[i]))
                        return bad(reterr_msg, "data after the JSON document at byte %zu", i);
        if (!json_object_is_type(root, json_type_object))
                return bad(reterr_msg, "top level is not a JSON object");

        if (!json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int))
                return bad(reterr_msg, "'version' missing or not an integer");
        if (json_object_get_int64(v) != STATE_FILE_VERSION)
                return bad(
                        reterr_msg, "unsupported version %" PRId64 " (expected %d)",
                        json_object_get_int64(v), STATE_FILE_VERSION);
        if (!json_object_object_get_ex(root, "hosts", &hosts) ||
            !json_object_is_type(hosts, json_type_object))
                return bad(reterr_msg, "'hosts' missing or not an object");
        json_object_object_foreach(root, rkey, rval) {
                (void) rval;
                if (!streq(rkey, "version") && !streq(rkey, "hosts"))
                        return bad(reterr_msg, "unknown key '%s' (expected version, hosts)", rkey);
        }

        s = calloc(1, sizeof(State));
        if (!s)
                return -ENOMEM;
        size_t n = (size_t) json_object_object_length(hosts);
        if (n > 0) {
                s->hosts = calloc(n, sizeof(StateHost));
                if (!s->hosts)
                        return -ENOMEM;
        }

        json_object_object_foreach(hosts, name, h) {
                json_object *mode = NULL, *since = NULL, *reason = NULL;

                if (!host_name_is_valid(name))
                        return bad(reterr_msg, "invalid host name in 'hosts'");
                if (!json_object_is_type(h, json_type_object))
                        return bad(reterr_msg, "host '%s' is not an object", name);
                json_object_object_foreach(h, key, val) {
                        if (streq(key, "state"))
                                mode = val;
                        else if (streq(key, "since"))
                                since = val;
                        else if (streq(key, "reason"))
                                reason = val;
                        else
                                return bad(
                                        reterr_msg,
                                        "host '%s': unknown key '%s' (expected state, since, reason)", name,
                                        key);
                }
                if (!mode || !json_object_is_type(mode, json_type_string))
                        return bad(reterr_msg, "host '%s': 'state' missing or not a string", name);
                HostMode m = host_mode_from_string(json_object_get_string(mode));
                if (m < 0)
                        return bad(
                                reterr_msg,
                                "host '%s': unknown state '%s' (expected entering-maintenance, maintenance, "
                                "standby, power-on-failed)",
                                name, json_object_get_string(mode));
                if (m == HOST_MODE_UP)
                        continue; /* tolerated, and dropped */
                if (since &&
                    (!json_object_is_type(since, json_type_int) || json_object_get_int64(since) < 0))
                        return bad(reterr_msg, "host '%s': 'since' is not a non-negative integer", name);
                if (reason && !json_object_is_type(reason, json_type_string) &&
                    !json_object_is_type(reason, json_type_null))
                        return bad(reterr_msg, "host '%s': 'reason' is not a string", name);

                StateHost *sh = &s->hosts[s->n_hosts];
                sh->name = strdup(name);
                if (!sh->name)
                        return -ENOMEM;
                s->n_hosts++;
                sh->mode = m;
                sh->since_usec = since ? (uint64_t) json_object_get_int64(since) : 0;
                if (reason && json_object_is_type(reason, json_type_string)) {
                        sh->reason = strdup(json_object_get_string(reason));
                        if (!sh->reason)
                                return -ENOMEM;
                }
        }
        /* json-c keeps the last of duplicate keys, so names are unique here. */
        if (s->n_hosts > 1)
                qsort(s->hosts, s->n_hosts, sizeof(StateHost), cmp_host);

        *ret = TAKE_PTR(s);
        return 0;
}

int state_format(const State *s, char **ret) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *hosts = json_object_new_object();
        int k = -ENOMEM;

        if (!root || !hosts || json_object_object_add(root, "hosts", hosts) < 0) {
                json_object_put(hosts);
                return -ENOMEM;
        }
        if (json_object_object_add(root, "version", json_object_new_int(STATE_FILE_VERSION)) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < s->n_hosts; i++) {
                const StateHost *h = &s->hosts[i];
                json_object *o = json_object_new_object();
                if (!o || json_object_object_add(hosts, h->name, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                if (json_object_object_add(
                            o, "state", json_object_new_string(host_mode_to_string(h->mode))) < 0 ||
                    json_object_object_add(o, "since", json_object_new_int64((int64_t) h->since_usec)) < 0)
                        return -ENOMEM;
                if (h->reason && json_object_object_add(o, "reason", json_object_new_string(h->reason)) < 0)
                        return -ENOMEM;
        }

        const char *str = json_object_to_json_string_ext(
                root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!str)
                return -ENOMEM;
        if (asprintf(ret, "%s\n", str) < 0)
                return k;
        return 0;
}

int state_load(const char *dir, State **ret, char **reterr_msg) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_(state_freep) State *s = NULL;
        size_t len;
        int k;

        if (asprintf(&path, "%s/" STATE_FILE_NAME, dir) < 0)
                return -ENOMEM;

        k = read_file_bounded(path, STATE_MAX_FILE_SIZE, &buf, &len);
        if (k == -ENOENT) {
                s = calloc(1, sizeof(State));
                if (!s)
                        return -ENOMEM;
        } else if (k == -EFBIG)
                return bad(reterr_msg, "file is larger than %u bytes", STATE_MAX_FILE_SIZE);
        else if (k < 0)
                return k;
        else {
                k = state_parse(buf, len, &s, reterr_msg);
                if (k < 0)
                        return k;
        }

        s->path = TAKE_PTR(path);
        *ret = TAKE_PTR(s);
        return 0;
}

int state_save(const State *s) {
        _cleanup_free_ char *text = NULL;
        int k;

        if (!s->path)
                return -EINVAL;
        k = state_format(s, &text);
        if (k < 0)
                return k;
        return write_file_atomic(s->path, text, strlen(text), 0644);
}

const StateHost *state_find(const State *s, const char *host) {
        if (!s || !host || s->n_hosts == 0)
                return NULL;
        StateHost key = {.name = (char *) host};
        return bsearch(&key, s->hosts, s->n_hosts, sizeof(StateHost), cmp_host);
}

HostMode state_get(const State *s, const char *host) {
        const StateHost *h = state_find(s, host);
        return h ? h->mode : HOST_MODE_UP;
}

int state_set(State *s, const char *host, HostMode mode, const char *reason, uint64_t now_usec) {
        _cleanup_free_ char *name_copy = NULL, *reason_copy = NULL;
        StateHost *h = (StateHost *) state_find(s, host);
        int k;

        if (mode < 0 || mode >= _HOST_MODE_MAX || !host || !host_name_is_valid(host))
                return -EINVAL;
        if ((h ? h->mode : HOST_MODE_UP) == mode)
                return 0;

        if (reason) {
                reason_copy = strdup(reason);
                if (!reason_copy)
                        return -ENOMEM;
        }

        if (mode == HOST_MODE_UP) {
                /* Remove; keep the entry aside to roll back. */
                size_t i = (size_t) (h - s->hosts);
                StateHost old = *h;
                memmove(&s->hosts[i], &s->hosts[i + 1], (s->n_hosts - i - 1) * sizeof(StateHost));
                s->n_hosts--;
                if (s->path) {
                        k = state_save(s);
                        if (k < 0) {
                                memmove(&s->hosts[i + 1], &s->hosts[i],
                                        (s->n_hosts - i) * sizeof(StateHost));
                                s->hosts[i] = old;
                                s->n_hosts++;
                                return k;
                        }
                }
                state_host_done(&old);
                return 1;
        }

        if (h) {
                StateHost old = *h;
                h->mode = mode;
                h->since_usec = now_usec;
                h->reason = reason_copy;
                if (s->path) {
                        k = state_save(s);
                        if (k < 0) {
                                *h = old;
                                return k; /* reason_copy still freed by cleanup */
                        }
                }
                TAKE_PTR(reason_copy);
                free(old.reason);
                return 1;
        }

        name_copy = strdup(host);
        if (!name_copy)
                return -ENOMEM;
        StateHost *n = realloc(s->hosts, (s->n_hosts + 1) * sizeof(StateHost));
        if (!n)
                return -ENOMEM;
        s->hosts = n;
        s->hosts[s->n_hosts++] = (StateHost){
                .name = name_copy,
                .mode = mode,
                .since_usec = now_usec,
                .reason = reason_copy,
        };
        qsort(s->hosts, s->n_hosts, sizeof(StateHost), cmp_host);
        if (s->path) {
                k = state_save(s);
                if (k < 0) {
                        /* Roll back: find and drop the new entry; cleanup frees the strings. */
                        StateHost *e = (StateHost *) state_find(s, host);
                        size_t i = (size_t) (e - s->hosts);
                        memmove(&s->hosts[i], &s->hosts[i + 1], (s->n_hosts - i - 1) * sizeof(StateHost));
                        s->n_hosts--;
                        return k;
                }
        }
        TAKE_PTR(name_copy);
        TAKE_PTR(reason_copy);
        return 1;
}
