// SPDX-License-Identifier: GPL-2.0
/*
 * arm64/cache.c: cleaning the VMM's writes to the PoC. The expected set of
 * cleaned lines is computed here from a per-line bitmap (an independent
 * model, not range.c), and m->written after the clean must equal its runs.
 * Built for aarch64 and run under qemu-aarch64-static, the DC CVAC loop and
 * the CTR_EL0 read really execute.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arm64/cache.h"
#include "guest_mem.h"
#include "tests/unit/test.h"

#define BASE 0x40000000ULL
#define SIZE (16 * SZ_1M)

/* Lines of @line bytes that [p, p + len) touches. */
static u64 lines_spanned(uintptr_t p, u64 len, u32 line)
{
	if (!len)
		return 0;
	return ((p + len + line - 1) / line) - (p / line);
}

static void test_line_size(void)
{
	u32 l = cache_line_size();

	CHECK(l >= 16);
	CHECK((l & (l - 1)) == 0);
	/* Stable across calls. */
	CHECK_EQ_U64(cache_line_size(), l);
#ifndef __aarch64__
	CHECK_EQ_U64(l, 64);
#endif
}

static void test_clean_range_direct(void)
{
	const u32 l = cache_line_size();
	u8 *buf = malloc(16 * l + 64); /* malloc: unaligned for lines > 16 bytes */
	u8 *aligned;

	CHECK(buf != NULL);
	if (!buf)
		return;
	memset(buf, 0x5a, 16 * l + 64);
	CHECK_EQ_U64(cache_clean_poc_range(buf, 0, l), 0);
	CHECK_EQ_U64(cache_clean_poc_range(buf + 3, 0, l), 0);
	/* Unaligned start and end. */
	CHECK_EQ_U64(cache_clean_poc_range(buf + 3, 500, l),
		     lines_spanned((uintptr_t)buf + 3, 500, l));
	CHECK_EQ_U64(cache_clean_poc_range(buf + 1, 1, l), 1);

	aligned = (u8 *)(((uintptr_t)buf + l - 1) & ~(uintptr_t)(l - 1));
	/* Exactly whole lines. */
	CHECK_EQ_U64(cache_clean_poc_range(aligned, 4 * l, l), 4);
	CHECK_EQ_U64(cache_clean_poc_range(aligned, 1, l), 1);
	CHECK_EQ_U64(cache_clean_poc_range(aligned, l, l), 1);
	CHECK_EQ_U64(cache_clean_poc_range(aligned, l + 1, l), 2);
	/* Two bytes straddling a line boundary: two lines. */
	CHECK_EQ_U64(cache_clean_poc_range(aligned + l - 1, 2, l), 2);
	/* Last byte of a line only. */
	CHECK_EQ_U64(cache_clean_poc_range(aligned + l - 1, 1, l), 1);
	/* A stride of a multiple of the line size visits fewer "lines" (of that stride). */
	aligned = (u8 *)(((uintptr_t)buf + 2 * l - 1) & ~(uintptr_t)(2 * l - 1));
	CHECK_EQ_U64(cache_clean_poc_range(aligned, 8 * l, 2 * l), 4);
	CHECK_EQ_U64(cache_clean_poc_range(aligned + l, 2 * l, 2 * l), 2);
	CHECK_EQ_U64(cache_clean_poc_range(aligned + l, l, 2 * l), 1);
	/* Cleaning does not change data. */
	for (u32 i = 0; i < 16 * l + 64; i++)
		if (buf[i] != 0x5a) {
			CHECK(buf[i] == 0x5a);
			break;
		}
	free(buf);
}

struct wr {
	u64 off, len;
};

/* Mark every line of [off, off + len) in @bm. */
static void mark(u8 *bm, u64 off, u64 len, u32 l)
{
	for (u64 i = off / l; i <= (off + len - 1) / l; i++)
		bm[i] = 1;
}

static void test_clean_guest_writes(void)
{
	const u32 l = cache_line_size();
	const struct wr writes[] = {
		{ 0x1000 + 3, 10 },   /* one line */
		{ 0x1000 + 14, 1 },   /* same line as the previous (l >= 16) */
		{ 0x2000, 3ULL * l }, /* overlapping pair */
		{ 0x2000 + l + 5, 3ULL * l },
		{ 0x5100, 0x100 }, /* adjacent pair, added in reverse order */
		{ 0x5000, 0x100 },
		{ 0x9003, 5ULL * l + 7 }, /* unaligned at both ends */
		{ 0x20000 - 1, 2 },	  /* straddles a line (and page) boundary */
		{ 0, 1 },		  /* first byte of RAM */
		{ SIZE - 5, 5 },	  /* last bytes of RAM */
		{ 0x40000, 64 * 1024 },	  /* a larger aligned blob */
		{ 0x1000 + 2 * l, 1 },	  /* one line after a gap of one line */
	};
	const u64 nlines = SIZE / l;
	u8 *bm = calloc(nlines, 1), *src = malloc(SZ_1M), *copy;
	struct guest_mem m;
	struct clean_stats st;
	u64 want_bytes = 0, want_ranges = 0;
	size_t idx = 0;
	bool ok = true;

	CHECK(bm && src);
	if (!bm || !src)
		return;
	for (u32 i = 0; i < SZ_1M; i++)
		src[i] = (u8)(i * 31 + 7);
	CHECK_EQ_U64(guest_mem_init(&m, BASE, SIZE), 0);
	for (size_t i = 0; i < ARRAY_SIZE(writes); i++) {
		CHECK_EQ_U64(guest_write(&m, BASE + writes[i].off, src, writes[i].len), 0);
		mark(bm, writes[i].off, writes[i].len, l);
	}
	copy = malloc(SIZE);
	CHECK(copy != NULL);
	if (!copy)
		return;
	memcpy(copy, m.host, SIZE);

	memset(&st, 0xff, sizeof(st));
	cache_clean_guest_writes(&m, &st);

	/* m->written now holds exactly the runs of written lines, in order. */
	for (u64 i = 0; i < nlines;) {
		u64 j = i;

		if (!bm[i]) {
			i++;
			continue;
		}
		while (j < nlines && bm[j])
			j++;
		want_ranges++;
		want_bytes += (j - i) * l;
		if (idx < m.written.nr) {
			ok = ok && m.written.r[idx].start == BASE + i * l &&
			     m.written.r[idx].end == BASE + j * l;
		}
		idx++;
		i = j;
	}
	CHECK_EQ_U64(m.written.nr, want_ranges);
	CHECK(ok);
	if (!ok || m.written.nr != want_ranges) {
		fprintf(stderr, "  line %u, written:", l);
		for (size_t i = 0; i < m.written.nr; i++)
			fprintf(stderr, " [0x%llx,0x%llx)",
				(unsigned long long)m.written.r[i].start,
				(unsigned long long)m.written.r[i].end);
		fprintf(stderr, "\n");
	}
	/*
	 * Concretely, for the nominal 64-byte line (non-arm64 builds, Cortex-A53/A72)
	 * and for the 32-byte line qemu-aarch64's default CPU reports: a check on the
	 * bitmap model above.
	 */
	{
		static const struct range want64[] = {
			{ 0, 0x40 },	      { 0x1000, 0x1040 },   { 0x1080, 0x10c0 },
			{ 0x2000, 0x2140 },   { 0x5000, 0x5200 },   { 0x9000, 0x9180 },
			{ 0x1ffc0, 0x20040 }, { 0x40000, 0x50000 }, { SIZE - 0x40, SIZE },
		};
		static const struct range want32[] = {
			{ 0, 0x20 },	      { 0x1000, 0x1020 },   { 0x1040, 0x1060 },
			{ 0x2000, 0x20a0 },   { 0x5000, 0x5200 },   { 0x9000, 0x90c0 },
			{ 0x1ffe0, 0x20020 }, { 0x40000, 0x50000 }, { SIZE - 0x20, SIZE },
		};
		const struct range *want = l == 64 ? want64 : l == 32 ? want32 : NULL;

		if (want) {
			CHECK_EQ_U64(want_ranges, 9);
			CHECK_EQ_U64(m.written.nr, 9);
			for (size_t i = 0; i < 9 && i < m.written.nr; i++) {
				CHECK_EQ_U64(m.written.r[i].start, BASE + want[i].start);
				CHECK_EQ_U64(m.written.r[i].end, BASE + want[i].end);
			}
		} else {
			fprintf(stderr,
				"note: %u-byte cache lines: checked against the model only\n", l);
		}
	}
	/* Every recorded range is line aligned and inside RAM. */
	for (size_t i = 0; i < m.written.nr; i++) {
		CHECK_EQ_U64(m.written.r[i].start % l, 0);
		CHECK_EQ_U64(m.written.r[i].end % l, 0);
		CHECK(m.written.r[i].start >= BASE && m.written.r[i].end <= BASE + SIZE);
	}
	CHECK_EQ_U64(st.line_size, l);
	CHECK_EQ_U64(st.ranges, want_ranges);
	CHECK_EQ_U64(st.bytes, want_bytes);
	CHECK_EQ_U64(st.lines, want_bytes / l);
	CHECK_EQ_U64(st.bytes, range_set_bytes(&m.written));
	CHECK(st.usecs < 10 * 1000 * 1000);
#ifdef __aarch64__
	CHECK(st.real);
#else
	CHECK(!st.real);
#endif
	/* Cleaning never changes what the guest will read. */
	CHECK(!memcmp(copy, m.host, SIZE));

	/* A second clean of the same (now normalized) set gives the same numbers. */
	{
		struct clean_stats st2;

		cache_clean_guest_writes(&m, &st2);
		CHECK_EQ_U64(st2.ranges, st.ranges);
		CHECK_EQ_U64(st2.bytes, st.bytes);
		CHECK_EQ_U64(st2.lines, st.lines);
		CHECK_EQ_U64(m.written.nr, want_ranges);
	}
	/* Stats are optional. */
	cache_clean_guest_writes(&m, NULL);
	CHECK_EQ_U64(m.written.nr, want_ranges);

	/* Nothing written: nothing cleaned. */
	range_set_clear(&m.written);
	cache_clean_guest_writes(&m, &st);
	CHECK_EQ_U64(st.ranges, 0);
	CHECK_EQ_U64(st.bytes, 0);
	CHECK_EQ_U64(st.lines, 0);
	CHECK_EQ_U64(st.line_size, l);
	CHECK_EQ_U64(m.written.nr, 0);

	free(copy);
	free(bm);
	free(src);
	guest_mem_destroy(&m);
}

/*
 * RAM that was never written is never touched: on arm64 a DC CVAC to an
 * unpopulated page faults it in, so a clean that strayed over all of RAM
 * would make the untouched middle resident.
 */
static void test_unwritten_ram_untouched(void)
{
	const long page = sysconf(_SC_PAGESIZE);
	const u64 lo = 6 * SZ_1M, hi = 12 * SZ_1M; /* 2 MiB away from any write */
	unsigned char *vec = calloc((hi - lo) / (u64)page, 1);
	struct guest_mem m;
	struct clean_stats st;
	u8 b[4096];
	size_t resident = 0;

	CHECK(vec != NULL);
	if (!vec)
		return;
	memset(b, 0xa5, sizeof(b));
	CHECK_EQ_U64(guest_mem_init(&m, BASE, SIZE), 0);
	CHECK_EQ_U64(guest_write(&m, BASE + 0x100, b, sizeof(b)), 0);
	CHECK_EQ_U64(guest_write(&m, BASE + SIZE - 100, b, 100), 0);
	cache_clean_guest_writes(&m, &st);
	CHECK_EQ_U64(st.bytes, range_set_bytes(&m.written));
	/* The cleaned set is a few lines, not RAM. */
	CHECK(st.bytes <= sizeof(b) + 100 + 4 * (u64)st.line_size);
	CHECK(st.bytes >= sizeof(b) + 100);
	for (size_t i = 0; i < m.written.nr; i++)
		CHECK(m.written.r[i].end <= BASE + 2 * SZ_1M ||
		      m.written.r[i].start >= BASE + SIZE - 2 * SZ_1M);
	CHECK_EQ_U64(mincore(m.host + lo, hi - lo, vec), 0);
	for (u64 i = 0; i < (hi - lo) / (u64)page; i++)
		resident += vec[i] & 1;
	CHECK_EQ_U64(resident, 0);
	free(vec);
	guest_mem_destroy(&m);
}

/* RAM whose edges are not line aligned: the expanded lines are clipped to RAM. */
static void test_unaligned_ram_edges(void)
{
	const u32 l = cache_line_size();
	const u64 base = BASE + 8, size = SZ_1M + 8, end = base + size;
	struct guest_mem m;
	struct clean_stats st;
	u8 b[2] = { 1, 2 };
	u64 tail_start = end & ~(u64)(l - 1);

	CHECK_EQ_U64(guest_mem_init(&m, base, size), 0);
	CHECK_EQ_U64(guest_write(&m, base, b, 1), 0);
	CHECK_EQ_U64(guest_write(&m, end - 1, b, 1), 0);
	cache_clean_guest_writes(&m, &st);
	/* m->written keeps the full lines (for logging)... */
	CHECK_EQ_U64(m.written.nr, 2);
	CHECK_EQ_U64(m.written.r[0].start, BASE);
	CHECK_EQ_U64(m.written.r[0].end, BASE + l);
	CHECK_EQ_U64(m.written.r[1].start, tail_start);
	CHECK_EQ_U64(m.written.r[1].end, tail_start + l);
	/* ...but only bytes inside RAM are cleaned. */
	CHECK_EQ_U64(st.ranges, 2);
	CHECK_EQ_U64(st.bytes, (BASE + l - base) + (end - tail_start));
	CHECK_EQ_U64(st.lines, lines_spanned((uintptr_t)m.host, BASE + l - base, l) +
				   lines_spanned((uintptr_t)m.host + (tail_start - base),
						 end - tail_start, l));
	guest_mem_destroy(&m);
}

TEST_MAIN(test_line_size, test_clean_range_direct, test_clean_guest_writes,
	  test_unwritten_ram_untouched, test_unaligned_ram_edges)
