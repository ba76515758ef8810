/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Each fuzz-*.c defines this; libFuzzer calls it, and so does fuzz-replay.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
