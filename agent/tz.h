/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Time zones from TZif data (tzfile(5), RFC 8536), without touching TZ or the process's time
 * zone: the caller reads /usr/share/zoneinfo/ZONE and passes the bytes; the conversion is
 * pure. Versions 1 to 4: the 64-bit data when present, the POSIX TZ string of the footer
 * ("CET-1CEST,M3.5.0,M10.5.0/3": J, n and M rules, times of -167 to 167 hours) for instants
 * from the last transition on, leap-second records (the right/ zones). Follows glibc's
 * localtime_r() where the format leaves a choice: before the first transition, the first
 * standard-time type; a DST name without rules, the US rules (M3.2.0,M11.1.0). */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "macro.h"

/* Larger than any zoneinfo file (the biggest are a few KiB). */
#define TZ_FILE_MAX (1024 * 1024)

typedef struct TzZone TzZone;

/* -EBADMSG when data is not TZif (or its footer not a TZ string this reads), -ENOMEM. */
int tz_zone_parse(const void *data, size_t size, TzZone **ret);
TzZone *tz_zone_free(TzZone *z);
DEFINE_TRIVIAL_CLEANUP_FUNC(TzZone *, tz_zone_free);

/* The local time at t (seconds since the epoch, UTC), as localtime_r() under TZ=":ZONE" gives
 * it: every field, with tm_gmtoff and tm_zone (pointing into z: valid while z is). -ERANGE
 * when the year does not fit in tm_year. */
int tz_zone_local_time(const TzZone *z, int64_t t, struct tm *ret);
