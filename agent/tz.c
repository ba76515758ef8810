/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* TZif bytes → a transition table, and UTC → local time over it (see tz.h). Pure: no I/O, no
 * clock, no environment. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "tz.h"

#define SECS_PER_DAY INT64_C(86400)
#define TZ_NAME_MAX 32 /* a time zone abbreviation in the footer's TZ string */

typedef struct TzType {
        int32_t utoff; /* seconds east of UTC */
        bool isdst;
        uint8_t desig; /* index into TzZone.chars */
} TzType;

typedef struct TzLeap {
        int64_t when; /* from this instant on */
        int32_t corr; /* leap seconds so far */
} TzLeap;

/* When a TZ string's DST starts or ends: a day of the year and a local time. */
typedef struct TzRule {
        char kind;    /* 'J': day 1..365, February 29 never counted; 'n': day 0..365; 'M' */
        int day;      /* J, n */
        int month;    /* M: 1..12 */
        int week;     /* M: 1..5 (5: the last) */
        int weekday;  /* M: 0 = Sunday */
        int32_t time; /* seconds after local midnight, -167 h to 167 h */
} TzRule;

/* A POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3"). */
typedef struct TzPosix {
        char std_name[TZ_NAME_MAX + 1];
        char dst_name[TZ_NAME_MAX + 1];
        int32_t std_utoff; /* seconds east of UTC (the string says west) */
        int32_t dst_utoff;
        bool has_dst;
        TzRule start; /* into DST, in local standard time */
        TzRule end;   /* out of DST, in local daylight time */
} TzPosix;

struct TzZone {
        int64_t *times;   /* owned; transition instants, ascending */
        uint8_t *type_of; /* owned; the type in force from each transition on */
        size_t n_times;
        TzType *types; /* owned; at least one */
        size_t n_types;
        char *chars;   /* owned; the abbreviations, NUL-terminated strings, and a NUL more */
        TzLeap *leaps; /* owned */
        size_t n_leaps;
        bool has_footer; /* a TZ string for instants from the last transition on */
        TzPosix footer;
};

TzZone *tz_zone_free(TzZone *z) {
        if (!z)
                return NULL;
        free(z->times);
        free(z->type_of);
        free(z->types);
        free(z->chars);
        free(z->leaps);
        free(z);
        return NULL;
}

/* ---- reading TZif ------------------------------------------------------------------------ */

typedef struct Cursor {
        const uint8_t *p;
        size_t left;
} Cursor;

static const uint8_t *take(Cursor *c, uint64_t n) {
        const uint8_t *p = c->p;

        if (n > c->left)
                return NULL;
        c->p += n;
        c->left -= n;
        return p;
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) {
        return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

typedef struct TzHeader {
        uint8_t version; /* 0, '2', '3', '4' */
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} TzHeader;

static int read_header(Cursor *c, TzHeader *ret) {
        const uint8_t *p = take(c, 44);
        TzHeader h;

        if (!p || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        h = (TzHeader){
                .version = p[4],
                .isutcnt = be32(p + 20),
                .isstdcnt = be32(p + 24),
                .leapcnt = be32(p + 28),
                .timecnt = be32(p + 32),
                .typecnt = be32(p + 36),
                .charcnt = be32(p + 40),
        };
        if ((h.version != 0 && h.version < '2') || h.typecnt == 0 || h.typecnt > 256 || h.charcnt == 0 ||
            (h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt))
                return -EBADMSG;
        *ret = h;
        return 0;
}

static uint64_t block_size(const TzHeader *h, unsigned time_size) {
        return (uint64_t) h->timecnt * (time_size + 1) + (uint64_t) h->typecnt * 6 + h->charcnt +
               (uint64_t) h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

/* The data block after header h, with time_size-byte times, into z. */
static int read_block(Cursor *c, const TzHeader *h, unsigned time_size, TzZone *z) {
        const uint8_t *p = take(c, block_size(h, time_size));

        if (!p)
                return -EBADMSG;
        z->n_times = h->timecnt;
        z->n_types = h->typecnt;
        z->n_leaps = h->leapcnt;
        z->times = calloc(h->timecnt ?: 1, sizeof(int64_t));
        z->type_of = calloc(h->timecnt ?: 1, 1);
        z->types = calloc(h->typecnt, sizeof(TzType));
        z->chars = calloc(h->charcnt + 1, 1);
        z->leaps = calloc(h->leapcnt ?: 1, sizeof(TzLeap));
        if (!z->times || !z->type_of || !z->types || !z->chars || !z->leaps)
                return -ENOMEM;

        for (size_t i = 0; i < h->timecnt; i++, p += time_size) {
                z->times[i] = time_size == 4 ? (int32_t) be32(p) : be64(p);
                if (i > 0 && z->times[i] <= z->times[i - 1])
                        return -EBADMSG;
        }
        for (size_t i = 0; i < h->timecnt; i++, p++) {
                if (*p >= h->typecnt)
                        return -EBADMSG;
                z->type_of[i] = *p;
        }
        for (size_t i = 0; i < h->typecnt; i++, p += 6) {
                z->types[i] = (TzType){.utoff = (int32_t) be32(p), .isdst = p[4] != 0, .desig = p[5]};
                if (z->types[i].utoff == INT32_MIN || p[4] > 1 || p[5] >= h->charcnt)
                        return -EBADMSG;
        }
        memcpy(z->chars, p, h->charcnt);
        p += h->charcnt;
        for (size_t i = 0; i < h->leapcnt; i++, p += time_size + 4) {
                z->leaps[i].when = time_size == 4 ? (int32_t) be32(p) : be64(p);
                z->leaps[i].corr = (int32_t) be32(p + time_size);
                if (i > 0 && z->leaps[i].when <= z->leaps[i - 1].when)
                        return -EBADMSG;
        }
        return 0; /* the standard/wall and UT/local indicators only matter to zic */
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool skip_char(const char **s, char c) {
        if (**s != c)
                return false;
        (*s)++;
        return true;
}

/* A number of at most 3 digits in [min, max]. */
static bool parse_number(const char **s, int min, int max, int *ret) {
        const char *p = *s;
        int v = 0;

        if (!is_digit(*p))
                return false;
        for (int n = 0; is_digit(*p); p++, n++) {
                if (n >= 3)
                        return false;
                v = v * 10 + (*p - '0');
        }
        if (v < min || v > max)
                return false;
        *s = p;
        *ret = v;
        return true;
}

/* An abbreviation: 3 or more letters, or <…> of letters, digits, '+' and '-'. */
static bool parse_name(const char **s, char *ret) {
        const char *p = *s, *start;
        size_t n;

        if (*p == '<') {
                start = ++p;
                while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-')
                        p++;
                if (*p != '>')
                        return false;
                n = (size_t) (p++ - start);
        } else {
                start = p;
                while (is_alpha(*p))
                        p++;
                n = (size_t) (p - start);
        }
        if (n < 3 || n > TZ_NAME_MAX)
                return false;
        memcpy(ret, start, n);
        ret[n] = 0;
        *s = p;
        return true;
}

/* [+-]hh[:mm[:ss]], hh ≤ 167: seconds. */
static bool parse_hms(const char **s, int32_t *ret) {
        const char *p = *s;
        int h, m = 0, sec = 0, sign = 1;

        if (*p == '+' || *p == '-')
                sign = *p++ == '-' ? -1 : 1;
        if (!parse_number(&p, 0, 167, &h))
                return false;
        if (skip_char(&p, ':') &&
            (!parse_number(&p, 0, 59, &m) || (skip_char(&p, ':') && !parse_number(&p, 0, 59, &sec))))
                return false;
        *s = p;
        *ret = sign * (h * 3600 + m * 60 + sec);
        return true;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00). */
static bool parse_rule(const char **s, TzRule *ret) {
        const char *p = *s;
        TzRule r = {.time = 7200};

        if (skip_char(&p, 'J')) {
                r.kind = 'J';
                if (!parse_number(&p, 1, 365, &r.day))
                        return false;
        } else if (skip_char(&p, 'M')) {
                r.kind = 'M';
                if (!parse_number(&p, 1, 12, &r.month) || !skip_char(&p, '.') ||
                    !parse_number(&p, 1, 5, &r.week) || !skip_char(&p, '.') ||
                    !parse_number(&p, 0, 6, &r.weekday))
                        return false;
        } else {
                r.kind = 'n';
                if (!parse_number(&p, 0, 365, &r.day))
                        return false;
        }
        if (skip_char(&p, '/') && !parse_hms(&p, &r.time))
                return false;
        *s = p;
        *ret = r;
        return true;
}

/* std offset [dst [offset] [,start[/time],end[/time]]] */
static bool parse_posix(const char *s, TzPosix *ret) {
        TzPosix z = {};
        int32_t off;

        if (!parse_name(&s, z.std_name) || !parse_hms(&s, &off))
                return false;
        z.std_utoff = -off;
        if (*s) {
                if (!parse_name(&s, z.dst_name))
                        return false;
                z.has_dst = true;
                z.dst_utoff = z.std_utoff + 3600;
                if (*s && *s != ',') {
                        if (!parse_hms(&s, &off))
                                return false;
                        z.dst_utoff = -off;
                }
                if (*s) {
                        if (!skip_char(&s, ',') || !parse_rule(&s, &z.start) || !skip_char(&s, ',') ||
                            !parse_rule(&s, &z.end) || *s)
                                return false;
                } else {
                        /* No rules: glibc's default, the US rules. */
                        z.start = (TzRule){.kind = 'M', .month = 3, .week = 2, .weekday = 0, .time = 7200};
                        z.end = (TzRule){.kind = 'M', .month = 11, .week = 1, .weekday = 0, .time = 7200};
                }
        }
        *ret = z;
        return true;
}

/* The footer: "\n" TZ string "\n" at the end of the data. */
static int read_footer(Cursor *c, TzZone *z) {
        char s[256];
        const uint8_t *p = take(c, 1), *e;
        size_t n;

        if (!p || *p != '\n')
                return -EBADMSG;
        e = memchr(c->p, '\n', c->left);
        if (!e)
                return -EBADMSG;
        n = (size_t) (e - c->p);
        if (n == 0)
                return 0; /* no rule: the last type stays */
        if (n >= sizeof(s) || memchr(c->p, 0, n))
                return -EBADMSG;
        memcpy(s, c->p, n);
        s[n] = 0;
        if (!parse_posix(s, &z->footer))
                return -EBADMSG;
        z->has_footer = true;
        return 0;
}

int tz_zone_parse(const void *data, size_t size, TzZone **ret) {
        _cleanup_(tz_zone_freep) TzZone *z = NULL;
        Cursor c = {.p = data, .left = size};
        TzHeader h;
        int r;

        if (!data && size > 0)
                return -EINVAL;
        z = calloc(1, sizeof(TzZone));
        if (!z)
                return -ENOMEM;
        r = read_header(&c, &h);
        if (r < 0)
                return r;
        if (h.version == 0) {
                r = read_block(&c, &h, 4, z);
                if (r < 0)
                        return r;
        } else {
                /* Skip the 32-bit data for the 64-bit data and the footer. */
                if (!take(&c, block_size(&h, 4)))
                        return -EBADMSG;
                r = read_header(&c, &h);
                if (r < 0)
                        return r;
                r = read_block(&c, &h, 8, z);
                if (r < 0)
                        return r;
                r = read_footer(&c, z);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(z);
        return 0;
}

/* ---- UTC → local --------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static bool is_leap_year(int64_t y) {
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = floor_div(y, 400);
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t days, int64_t *ret_y, int *ret_m, int *ret_d) {
        int64_t z = days + 719468, era = floor_div(z, 146097), doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int m = (int) (mp < 10 ? mp + 3 : mp - 9);

        *ret_d = (int) (doy - (153 * mp + 2) / 5 + 1);
        *ret_m = m;
        *ret_y = yoe + era * 400 + (m <= 2);
}

static int weekday_of(int64_t days) { /* 0 = Sunday; 1970-01-01 was a Thursday */
        return (int) (days - floor_div(days + 4, 7) * 7 + 4);
}

static int days_in_month(int64_t y, int m) {
        static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        return d[m - 1] + (m == 2 && is_leap_year(y));
}

/* The instant (UTC) rule r takes effect in year y, while utoff is in force. */
static int64_t rule_instant(const TzRule *r, int64_t y, int32_t utoff) {
        int64_t day = days_from_civil(y, 1, 1);

        switch (r->kind) {
        case 'J':
                day += r->day - 1 + (is_leap_year(y) && r->day >= 60);
                break;
        case 'n':
                day += r->day;
                break;
        default: {
                int64_t first = days_from_civil(y, r->month, 1);
                int d = (r->weekday - weekday_of(first) + 7) % 7, n = days_in_month(y, r->month);

                for (int w = 1; w < r->week && d + 7 < n; w++)
                        d += 7;
                day = first + d;
        }
        }
        return day * SECS_PER_DAY + r->time - utoff;
}

/* The footer's rule at t: DST between start and end of t's year (UTC), as glibc decides it. */
static bool posix_is_dst(const TzPosix *p, int64_t t) {
        int64_t y, start, end;
        int m, d;

        if (!p->has_dst)
                return false;
        civil_from_days(floor_div(t, SECS_PER_DAY), &y, &m, &d);
        start = rule_instant(&p->start, y, p->std_utoff);
        end = rule_instant(&p->end, y, p->dst_utoff);
        return start > end ? t < end || t >= start : t >= start && t < end;
}

/* The type before the first transition (and with none): the first standard-time type. */
static const TzType *first_type(const TzZone *z) {
        for (size_t i = 0; i < z->n_types; i++)
                if (!z->types[i].isdst)
                        return &z->types[i];
        return &z->types[0];
}

int tz_zone_local_time(const TzZone *z, int64_t t, struct tm *ret) {
        int32_t utoff, corr = 0;
        int64_t local, days, y, secs;
        const char *name;
        bool isdst;
        int m, d, hit = 0;

        if (z->n_times == 0 || t < z->times[0]) {
                const TzType *ty = first_type(z);
                utoff = ty->utoff;
                isdst = ty->isdst;
                name = z->chars + ty->desig;
        } else if (z->has_footer && t >= z->times[z->n_times - 1]) {
                isdst = posix_is_dst(&z->footer, t);
                utoff = isdst ? z->footer.dst_utoff : z->footer.std_utoff;
                name = isdst ? z->footer.dst_name : z->footer.std_name;
        } else {
                /* The last transition at or before t. */
                size_t lo = 0, hi = z->n_times;
                const TzType *ty;

                while (hi - lo > 1) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (z->times[mid] <= t)
                                lo = mid;
                        else
                                hi = mid;
                }
                ty = &z->types[z->type_of[lo]];
                utoff = ty->utoff;
                isdst = ty->isdst;
                name = z->chars + ty->desig;
        }

        /* Leap seconds (right/ zones): t counts them; a second that is one shows as :60. */
        for (size_t i = z->n_leaps; i > 0; i--) {
                const TzLeap *l = &z->leaps[i - 1];
                if (t < l->when)
                        continue;
                corr = l->corr;
                if (t == l->when && (i == 1 ? l->corr > 0 : l->corr > z->leaps[i - 2].corr))
                        hit = 1;
                break;
        }

        local = t + utoff - corr;
        days = floor_div(local, SECS_PER_DAY);
        secs = local - days * SECS_PER_DAY;
        civil_from_days(days, &y, &m, &d);
        if (y - 1900 < INT_MIN || y - 1900 > INT_MAX)
                return -ERANGE;
        *ret = (struct tm){
                .tm_sec = (int) (secs % 60) + hit,
                .tm_min = (int) (secs / 60 % 60),
                .tm_hour = (int) (secs / 3600),
                .tm_mday = d,
                .tm_mon = m - 1,
                .tm_year = (int) (y - 1900),
                .tm_wday = weekday_of(days),
                .tm_yday = (int) (days - days_from_civil(y, 1, 1)),
                .tm_isdst = isdst,
                .tm_gmtoff = utoff,
                .tm_zone = name,
        };
        return 0;
}
