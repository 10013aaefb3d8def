/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_CACHE_H
#define COHO_ARM64_CACHE_H

#include "guest_mem.h"
#include "util/types.h"

struct clean_stats {
	u32 line_size; /* bytes per D-cache line (CTR_EL0.DminLine) */
	size_t ranges; /* merged, line-aligned ranges cleaned */
	u64 bytes;     /* bytes covered by those ranges */
	u64 lines;     /* DC CVAC instructions issued */
	u64 usecs;     /* wall time of the clean, DSB included */
	bool real;     /* false where DC CVAC does not exist (non-arm64 builds) */
};

/* Smallest D-cache line of this CPU (4 << CTR_EL0.DminLine); 64 off arm64. */
u32 cache_line_size(void);

/*
 * Clean [start, start + len) of host memory to the Point of Coherency by
 * virtual address, one DC CVAC per line (no barrier). Returns the number of
 * lines visited. @line must be cache_line_size() or a multiple of it.
 */
u64 cache_clean_poc_range(const void *start, u64 len, u32 line);

/*
 * Clean every range the VMM wrote into guest RAM (m->written, recorded by
 * guest_write*()) to the PoC, then DSB SY. m->written is left merged and
 * line-aligned (for cache_log_stats()); clear it before the next load. Needed
 * because the guest's first instructions run with the MMU off, i.e. with
 * non-cacheable accesses that do not see dirty lines in the caches (DDI0487
 * B2.4: data in caches is not coherent with non-cacheable accesses). Ranges
 * are expanded to whole lines and merged, so each line is cleaned once.
 * Never cleans all of RAM: only what was written. Fills @st (may be NULL).
 */
void cache_clean_guest_writes(struct guest_mem *m, struct clean_stats *st);

/* One --debug line per range and a summary line. */
void cache_log_stats(const struct guest_mem *m, const struct range_set *ranges,
		     const struct clean_stats *st, const char *pass);

#endif
