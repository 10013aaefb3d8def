// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "util/range.h"

void range_set_init(struct range_set *rs)
{
	rs->r = NULL;
	rs->nr = 0;
	rs->cap = 0;
}

void range_set_free(struct range_set *rs)
{
	free(rs->r);
	range_set_init(rs);
}

void range_set_clear(struct range_set *rs)
{
	rs->nr = 0;
}

int range_set_add(struct range_set *rs, u64 start, u64 len)
{
	u64 end;

	if (len == 0)
		return 0;
	if (__builtin_add_overflow(start, len, &end))
		return -EOVERFLOW;
	/* Cheap merge with the last entry: loaders write sequentially. */
	if (rs->nr && rs->r[rs->nr - 1].end == start) {
		rs->r[rs->nr - 1].end = end;
		return 0;
	}
	if (rs->nr == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct range *n = realloc(rs->r, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->nr].start = start;
	rs->r[rs->nr].end = end;
	rs->nr++;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

void range_set_normalize(struct range_set *rs, u64 align)
{
	size_t i, out = 0;

	if (!rs->nr)
		return;
	for (i = 0; i < rs->nr; i++) {
		u64 end;

		rs->r[i].start = ALIGN_DOWN(rs->r[i].start, align);
		/* A range ending in the last line of the address space stays unaligned. */
		if (align_up_checked(rs->r[i].end, align, &end))
			rs->r[i].end = end;
	}
	qsort(rs->r, rs->nr, sizeof(rs->r[0]), range_cmp);
	for (i = 1; i < rs->nr; i++) {
		struct range *cur = &rs->r[out];

		if (rs->r[i].start <= cur->end) {
			if (rs->r[i].end > cur->end)
				cur->end = rs->r[i].end;
		} else {
			rs->r[++out] = rs->r[i];
		}
	}
	rs->nr = out + 1;
}

u64 range_set_bytes(const struct range_set *rs)
{
	u64 total = 0;
	size_t i;

	for (i = 0; i < rs->nr; i++)
		total += rs->r[i].end - rs->r[i].start;
	return total;
}
