// SPDX-License-Identifier: GPL-2.0
/*
 * Cleaning the VMM's writes to the Point of Coherency, from userspace.
 *
 * DC CVAC is usable at EL0 because Linux sets SCTLR_EL1.UCI, and CTR_EL0 is
 * readable at EL0 because it sets SCTLR_EL1.UCT (or traps and emulates it).
 */
#include <time.h>

#include "arm64/cache.h"
#include "util/log.h"

#define NOMINAL_LINE 64

u32 cache_line_size(void)
{
#ifdef __aarch64__
	u64 ctr;

	asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
	/* DminLine, bits [19:16]: log2 of the number of 4-byte words. */
	return 4U << ((ctr >> 16) & 0xf);
#else
	return NOMINAL_LINE;
#endif
}

u64 cache_clean_poc_range(const void *start, u64 len, u32 line)
{
	uintptr_t p = (uintptr_t)start & ~((uintptr_t)line - 1);
	uintptr_t end = (uintptr_t)start + len;
	u64 n = 0;

	if (!len)
		return 0;
	for (; p < end; p += line, n++) {
#ifdef __aarch64__
		asm volatile("dc cvac, %0" : : "r"(p) : "memory");
#endif
	}
	return n;
}

static u64 now_usecs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000 + (u64)ts.tv_nsec / 1000;
}

void cache_log_stats(const struct guest_mem *m, const struct range_set *ranges,
		     const struct clean_stats *st, const char *pass)
{
	size_t i;

	if (!log_debug_enabled)
		return;
	for (i = 0; ranges && i < ranges->nr; i++)
		pr_debug("clean %s: range %zu: 0x%llx-0x%llx (%llu bytes)", pass, i,
			 (unsigned long long)ranges->r[i].start,
			 (unsigned long long)ranges->r[i].end - 1,
			 (unsigned long long)(ranges->r[i].end - ranges->r[i].start));
	pr_debug("clean %s: %zu ranges, %llu bytes, %llu lines of %u bytes, %llu us%s "
		 "(RAM %llu MiB, %.2f%% of it cleaned)",
		 pass, st->ranges, (unsigned long long)st->bytes, (unsigned long long)st->lines,
		 st->line_size, (unsigned long long)st->usecs,
		 st->real ? "" : " (no-op: not arm64)", (unsigned long long)(m->size >> 20),
		 m->size ? 100.0 * (double)st->bytes / (double)m->size : 0.0);
}

void cache_clean_guest_writes(struct guest_mem *m, struct clean_stats *st)
{
	struct clean_stats s = { .line_size = cache_line_size() };
	u64 t0 = now_usecs();
	size_t i;

	range_set_normalize(&m->written, s.line_size);
	for (i = 0; i < m->written.nr; i++) {
		const struct range *r = &m->written.r[i];
		u64 start = r->start, end = r->end;
		void *hva;

		/* Line alignment may reach past RAM when RAM is not line aligned: clip. */
		if (start < m->base)
			start = m->base;
		if (end > m->base + m->size)
			end = m->base + m->size;
		if (end <= start)
			continue;
		hva = gpa_to_hva(m, start, end - start);
		if (!hva)
			continue;
		s.lines += cache_clean_poc_range(hva, end - start, s.line_size);
		s.bytes += end - start;
		s.ranges++;
	}
#ifdef __aarch64__
	/* Complete the cleans before any vCPU can observe memory. */
	asm volatile("dsb sy" : : : "memory");
	s.real = true;
#endif
	s.usecs = now_usecs() - t0;
	if (st)
		*st = s;
}
