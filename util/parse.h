/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_UTIL_PARSE_H
#define COHO_UTIL_PARSE_H

#include "util/types.h"

/*
 * Parse a size as kvmtool does: a number with an optional suffix K, M, G, T
 * or P (any case, optionally followed by "B" or "iB"; powers of 1024). A
 * bare number is in units of @bare_unit bytes (1 MiB for -m). -EINVAL for
 * anything else (empty, sign, fraction, junk), -ERANGE on overflow.
 */
int parse_size(const char *s, u64 bare_unit, u64 *out);

/* A decimal unsigned integer in [min, max]. -EINVAL or -ERANGE. */
int parse_u32(const char *s, u32 min, u32 max, u32 *out);

#endif
