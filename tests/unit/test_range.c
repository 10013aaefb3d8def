// SPDX-License-Identifier: GPL-2.0
/*
 * util/range.c: the log of guest writes that cache cleaning walks. After
 * range_set_normalize() it must be sorted, disjoint, non-touching, aligned
 * outward, and cover exactly the union of what was added.
 */
#include <errno.h>
#include <stdint.h>

#include "util/range.h"
#include "tests/unit/test.h"

/* rs must hold exactly @n ranges equal to @want, in order. */
static void expect_ranges(const struct range_set *rs, const struct range *want, size_t n, int line)
{
	bool ok = rs->nr == n;

	CHECK_EQ_U64(rs->nr, n);
	for (size_t i = 0; i < n && i < rs->nr; i++) {
		CHECK_EQ_U64(rs->r[i].start, want[i].start);
		CHECK_EQ_U64(rs->r[i].end, want[i].end);
		ok = ok && rs->r[i].start == want[i].start && rs->r[i].end == want[i].end;
	}
	if (!ok) {
		fprintf(stderr, "  (from line %d) got:", line);
		for (size_t i = 0; i < rs->nr; i++)
			fprintf(stderr, " [0x%llx,0x%llx)", (unsigned long long)rs->r[i].start,
				(unsigned long long)rs->r[i].end);
		fprintf(stderr, "\n");
	}
}

#define EXPECT(rs, ...)                                                                            \
	do {                                                                                       \
		static const struct range _w[] = { __VA_ARGS__ };                                  \
		expect_ranges(rs, _w, ARRAY_SIZE(_w), __LINE__);                                   \
	} while (0)

#define ADD(rs, start, len) CHECK_EQ_U64(range_set_add(rs, start, len), 0)

static void test_empty(void)
{
	struct range_set rs;

	range_set_init(&rs);
	CHECK_EQ_U64(rs.nr, 0);
	CHECK_EQ_U64(range_set_bytes(&rs), 0);
	range_set_normalize(&rs, 64);
	CHECK_EQ_U64(rs.nr, 0);
	CHECK_EQ_U64(range_set_bytes(&rs), 0);
	/* len 0 is ignored wherever it points, even at the very top. */
	CHECK_EQ_U64(range_set_add(&rs, 5, 0), 0);
	CHECK_EQ_U64(range_set_add(&rs, UINT64_MAX, 0), 0);
	CHECK_EQ_U64(rs.nr, 0);
	range_set_free(&rs);
	CHECK(rs.r == NULL);
	CHECK_EQ_U64(rs.nr, 0);
	CHECK_EQ_U64(rs.cap, 0);
}

static void test_unsorted(void)
{
	struct range_set rs;

	range_set_init(&rs);
	ADD(&rs, 300, 100);
	ADD(&rs, 100, 100);
	ADD(&rs, 0, 50);
	ADD(&rs, 1000, 1);
	CHECK_EQ_U64(rs.nr, 4);
	CHECK_EQ_U64(range_set_bytes(&rs), 100 + 100 + 50 + 1);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0, 50 }, { 100, 200 }, { 300, 400 }, { 1000, 1001 });
	CHECK_EQ_U64(range_set_bytes(&rs), 251);
	/* Normalizing again changes nothing. */
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0, 50 }, { 100, 200 }, { 300, 400 }, { 1000, 1001 });
	range_set_free(&rs);
}

static void test_overlap_touch_contain_dup(void)
{
	struct range_set rs;

	range_set_init(&rs);
	/* Overlapping, in both orders. */
	ADD(&rs, 50, 100); /* [50,150) */
	ADD(&rs, 0, 100);  /* [0,100) */
	ADD(&rs, 140, 20); /* [140,160) */
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0, 160 });
	CHECK_EQ_U64(range_set_bytes(&rs), 160);

	/* Touching, added out of order (so the append fast path cannot merge them). */
	range_set_clear(&rs);
	CHECK_EQ_U64(rs.nr, 0);
	ADD(&rs, 200, 100);
	ADD(&rs, 100, 100);
	ADD(&rs, 0, 100);
	CHECK_EQ_U64(rs.nr, 3);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0, 300 });

	/* Contained, including one with the same start and a shorter end. */
	range_set_clear(&rs);
	ADD(&rs, 1000, 1000);
	ADD(&rs, 1100, 100);
	ADD(&rs, 1000, 10);
	ADD(&rs, 1990, 10);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 1000, 2000 });
	CHECK_EQ_U64(range_set_bytes(&rs), 1000);

	/* Same start, the longer one first and last. */
	range_set_clear(&rs);
	ADD(&rs, 0, 10);
	ADD(&rs, 0, 30);
	ADD(&rs, 0, 20);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0, 30 });

	/* Duplicates. */
	range_set_clear(&rs);
	ADD(&rs, 10, 10);
	ADD(&rs, 500, 5);
	ADD(&rs, 10, 10);
	ADD(&rs, 10, 10);
	ADD(&rs, 500, 5);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 10, 20 }, { 500, 505 });
	CHECK_EQ_U64(range_set_bytes(&rs), 15);

	/* A one-byte gap keeps ranges apart. */
	range_set_clear(&rs);
	ADD(&rs, 11, 9);
	ADD(&rs, 0, 10);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0, 10 }, { 11, 20 });
	range_set_free(&rs);
}

static void test_append_fast_path(void)
{
	struct range_set rs;

	/* Sequential writes (a loader reading a file in chunks) stay one entry. */
	range_set_init(&rs);
	ADD(&rs, 0x1000, 0x100);
	ADD(&rs, 0x1100, 0x100);
	ADD(&rs, 0x1200, 0x1);
	CHECK_EQ_U64(rs.nr, 1);
	EXPECT(&rs, { 0x1000, 0x1201 });
	/* Not touching: a new entry. */
	ADD(&rs, 0x1202, 1);
	CHECK_EQ_U64(rs.nr, 2);
	/* Touching an older entry but not the last: a new entry, merged later. */
	ADD(&rs, 0xf00, 0x100);
	CHECK_EQ_U64(rs.nr, 3);
	range_set_normalize(&rs, 1);
	EXPECT(&rs, { 0xf00, 0x1201 }, { 0x1202, 0x1203 });
	range_set_free(&rs);
}

static void test_alignment(void)
{
	struct range_set rs;

	range_set_init(&rs);
	ADD(&rs, 100, 1);
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 64, 128 });
	CHECK_EQ_U64(range_set_bytes(&rs), 64);

	range_set_clear(&rs);
	ADD(&rs, 100, 1);
	range_set_normalize(&rs, 128);
	EXPECT(&rs, { 0, 128 });

	/* Already aligned: unchanged. */
	range_set_clear(&rs);
	ADD(&rs, 128, 128);
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 128, 256 });
	range_set_normalize(&rs, 128);
	EXPECT(&rs, { 128, 256 });

	/* Unaligned at both ends, spanning several lines. */
	range_set_clear(&rs);
	ADD(&rs, 63, 66); /* [63,129) */
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 0, 192 });

	/* Disjoint before alignment, touching after it: merged. */
	range_set_clear(&rs);
	ADD(&rs, 70, 10); /* [70,80)  -> [64,128) */
	ADD(&rs, 10, 10); /* [10,20)  -> [0,64) */
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 0, 128 });

	/* Disjoint before alignment, overlapping (same line) after it: merged. */
	range_set_clear(&rs);
	ADD(&rs, 200, 1);
	ADD(&rs, 250, 1);
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 192, 256 });

	/* A line-sized gap survives 64-byte alignment but not 128-byte alignment. */
	range_set_clear(&rs);
	ADD(&rs, 10, 10);  /* -> [0,64) */
	ADD(&rs, 130, 10); /* -> [128,192) */
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 0, 64 }, { 128, 192 });
	CHECK_EQ_U64(range_set_bytes(&rs), 128);
	range_set_normalize(&rs, 128);
	EXPECT(&rs, { 0, 256 });
	CHECK_EQ_U64(range_set_bytes(&rs), 256);

	/* Large, unaligned addresses. */
	range_set_clear(&rs);
	ADD(&rs, 0x40001234ULL, 0x10);
	ADD(&rs, 0x40000001ULL, 0x3f);
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 0x40000000ULL, 0x40000040ULL }, { 0x40001200ULL, 0x40001280ULL });
	range_set_free(&rs);
}

static void test_overflow_and_top(void)
{
	struct range_set rs;

	range_set_init(&rs);
	ADD(&rs, 0x1000, 0x10);
	CHECK_EQ_U64((u64)(s64)range_set_add(&rs, UINT64_MAX, 1), (u64)(s64)-EOVERFLOW);
	CHECK_EQ_U64((u64)(s64)range_set_add(&rs, UINT64_MAX - 5, 10), (u64)(s64)-EOVERFLOW);
	CHECK_EQ_U64((u64)(s64)range_set_add(&rs, 1, UINT64_MAX), (u64)(s64)-EOVERFLOW);
	CHECK_EQ_U64((u64)(s64)range_set_add(&rs, UINT64_MAX, UINT64_MAX), (u64)(s64)-EOVERFLOW);
	/* A failed add leaves the set alone, even when it would extend the last entry. */
	CHECK_EQ_U64((u64)(s64)range_set_add(&rs, 0x1010, UINT64_MAX - 0x100),
		     (u64)(s64)-EOVERFLOW);
	EXPECT(&rs, { 0x1000, 0x1010 });

	/* Ending exactly at the top of the address space is fine. */
	range_set_clear(&rs);
	ADD(&rs, UINT64_MAX - 100, 100);
	EXPECT(&rs, { UINT64_MAX - 100, UINT64_MAX });
	CHECK_EQ_U64(range_set_bytes(&rs), 100);
	/* Aligning the end up would overflow: the end stays, the start aligns down. */
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { (UINT64_MAX - 100) & ~63ULL, UINT64_MAX });
	CHECK_EQ_U64(range_set_bytes(&rs), UINT64_MAX - ((UINT64_MAX - 100) & ~63ULL));

	/* ...and still merges with a range just below it. */
	range_set_clear(&rs);
	ADD(&rs, UINT64_MAX - 10, 10);
	ADD(&rs, UINT64_MAX - 200, 10); /* [0xff..37, 0xff..41) -> [0xff..00, 0xff..80) */
	range_set_normalize(&rs, 128);
	EXPECT(&rs, { UINT64_MAX & ~255ULL, UINT64_MAX });

	/* All of the address space but the last byte. */
	range_set_clear(&rs);
	ADD(&rs, 0, UINT64_MAX);
	ADD(&rs, 12345, 678);
	range_set_normalize(&rs, 64);
	EXPECT(&rs, { 0, UINT64_MAX });
	CHECK_EQ_U64(range_set_bytes(&rs), UINT64_MAX);
	range_set_free(&rs);
}

static void test_many(void)
{
	enum { N = 1000 };
	struct range_set rs;
	bool ok = true;

	/* Reverse order with gaps: no append merge, several reallocs. */
	range_set_init(&rs);
	for (int i = N - 1; i >= 0; i--)
		ADD(&rs, (u64)i * 256 + 3, 100);
	CHECK_EQ_U64(rs.nr, N);
	CHECK(rs.cap >= N);
	CHECK_EQ_U64(range_set_bytes(&rs), (u64)N * 100);
	range_set_normalize(&rs, 1);
	CHECK_EQ_U64(rs.nr, N);
	for (size_t i = 0; i < rs.nr; i++)
		ok = ok && rs.r[i].start == i * 256 + 3 && rs.r[i].end == i * 256 + 103;
	CHECK(ok);
	/* 64-byte lines: [i*256, i*256+128) each; still separate. */
	range_set_normalize(&rs, 64);
	CHECK_EQ_U64(rs.nr, N);
	ok = true;
	for (size_t i = 0; i < rs.nr; i++)
		ok = ok && rs.r[i].start == i * 256 && rs.r[i].end == i * 256 + 128;
	CHECK(ok);
	CHECK_EQ_U64(range_set_bytes(&rs), (u64)N * 128);
	/* 256-byte alignment closes every gap: one range. */
	range_set_normalize(&rs, 256);
	EXPECT(&rs, { 0, N * 256 });

	/* Interleaved duplicates from two passes over the same region. */
	range_set_clear(&rs);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < N; i += 2)
			ADD(&rs, (u64)i * 10, 10);
	CHECK_EQ_U64(rs.nr, N);
	range_set_normalize(&rs, 1);
	CHECK_EQ_U64(rs.nr, N / 2);
	CHECK_EQ_U64(range_set_bytes(&rs), (u64)N / 2 * 10);
	range_set_normalize(&rs, 32); /* [i*10, i*10+10) with i even: 20-byte period */
	CHECK_EQ_U64(rs.nr, 1);
	CHECK_EQ_U64(rs.r[0].start, 0);
	CHECK_EQ_U64(rs.r[0].end, ((u64)(N - 2) * 10 + 10 + 31) & ~31ULL);
	range_set_free(&rs);
}

TEST_MAIN(test_empty, test_unsorted, test_overlap_touch_contain_dup, test_append_fast_path,
	  test_alignment, test_overflow_and_top, test_many)
