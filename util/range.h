/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_UTIL_RANGE_H
#define COHO_UTIL_RANGE_H

#include "util/types.h"

/* Half-open interval [start, end). */
struct range {
	u64 start;
	u64 end;
};

/* An unordered log of ranges; range_set_normalize() sorts and merges it. */
struct range_set {
	struct range *r;
	size_t nr;
	size_t cap;
};

void range_set_init(struct range_set *rs);
void range_set_free(struct range_set *rs);
void range_set_clear(struct range_set *rs);
/* Record [start, start + len). len 0 is ignored. -ENOMEM or -EOVERFLOW. */
int range_set_add(struct range_set *rs, u64 start, u64 len);
/*
 * Expand every range outward to multiples of @align (a power of two), then
 * sort and merge overlapping or touching ranges. align 1 merges only.
 */
void range_set_normalize(struct range_set *rs, u64 align);
u64 range_set_bytes(const struct range_set *rs);

#endif
