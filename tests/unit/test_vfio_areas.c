// SPDX-License-Identifier: GPL-2.0
/*
 * vfio/bar-areas.c: which parts of a BAR become KVM memory slots, from what
 * VFIO_DEVICE_GET_REGION_INFO returned (a struct vfio_region_info followed by
 * a chain of capabilities), and the holes (MSI-X table and PBA) punched into
 * them that must stay trapped.
 *
 * Every crafted answer is copied into a buffer malloc'd with exactly argsz
 * bytes, so under ASan (make check-asan) any read past argsz is caught.
 * Capabilities are placed at 8-byte aligned offsets, as the kernel does.
 */
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "util/types.h"
#include "vfio/bar-areas.h"
#include "tests/unit/test.h"

#define PG	 0x1000ULL
#define RI	 ((u32)sizeof(struct vfio_region_info))			/* 32 */
#define HDR	 ((u32)sizeof(struct vfio_info_cap_header))		/* 8 */
#define SPARSE	 ((u32)sizeof(struct vfio_region_info_cap_sparse_mmap)) /* 16 */
#define AREA	 ((u32)sizeof(struct vfio_region_sparse_mmap_area))	/* 16 */
#define OUT_N	 16
#define RANDOM_N 20000

struct span {
	u64 off, size;
};

/* ---- crafted VFIO_DEVICE_GET_REGION_INFO answers ---- */

static u8 img[8192]; /* composed here, then copied into an exact-size buffer */

static void put32(u32 off, u32 v)
{
	memcpy(img + off, &v, sizeof(v));
}

static void put64(u32 off, u64 v)
{
	memcpy(img + off, &v, sizeof(v));
}

static void put_ri(u32 flags, u32 cap_offset, u64 size)
{
	struct vfio_region_info ri = {
		.argsz = 0, /* the parser is told argsz separately */
		.flags = flags,
		.index = 0,
		.cap_offset = cap_offset,
		.size = size,
	};

	memset(img, 0, sizeof(img));
	memcpy(img, &ri, sizeof(ri));
}

static void put_hdr(u32 off, u16 id, u32 next)
{
	struct vfio_info_cap_header h = { .id = id, .version = 1, .next = next };

	memcpy(img + off, &h, sizeof(h));
}

/* A sparse-mmap capability at @off claiming @nr areas, @cnt of them written. */
static void put_sparse(u32 off, u32 next, u32 nr, const struct span *a, u32 cnt)
{
	put_hdr(off, VFIO_REGION_INFO_CAP_SPARSE_MMAP, next);
	put32(off + HDR, nr);
	put32(off + HDR + 4, 0);
	for (u32 i = 0; i < cnt; i++) {
		put64(off + SPARSE + i * AREA, a[i].off);
		put64(off + SPARSE + i * AREA + 8, a[i].size);
	}
}

static void canary(struct vfio_bar_area *out)
{
	memset(out, 0xa5, sizeof(*out) * OUT_N);
}

/* Entries from @from on were not written. */
static bool untouched(const struct vfio_bar_area *out, u32 from)
{
	struct vfio_bar_area c;

	memset(&c, 0xa5, sizeof(c));
	for (u32 i = from; i < OUT_N; i++)
		if (memcmp(&out[i], &c, sizeof(c)))
			return false;
	return true;
}

/* Parse the first @argsz bytes of img from a buffer of exactly that size. */
static u32 parse(u32 argsz, u64 size, u64 page, struct vfio_bar_area *out, u32 max)
{
	u8 *b = malloc(argsz ? argsz : 1);
	u32 n;

	if (!b) {
		CHECK(b != NULL);
		return 0;
	}
	memcpy(b, img, argsz);
	canary(out);
	n = vfio_region_areas((const struct vfio_region_info *)b, argsz, size, page, out, max);
	free(b);
	return n;
}

static int cmp_area(const void *pa, const void *pb)
{
	const struct vfio_bar_area *a = pa, *b = pb;

	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	return a->size < b->size ? -1 : a->size > b->size;
}

static int cmp_span(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;

	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	return a->size < b->size ? -1 : a->size > b->size;
}

/*
 * @a[0..n) are exactly @want (in this order if @ordered, else as a set) and
 * each is fresh: no mapping, no slot.
 */
static bool same(const struct vfio_bar_area *a, u32 n, bool ordered, const struct span *want,
		 u32 nw)
{
	struct vfio_bar_area s[OUT_N];
	struct span w[OUT_N];
	bool ok = n == nw && n <= OUT_N;

	if (ok) {
		memcpy(s, a, sizeof(*a) * n);
		memcpy(w, want, sizeof(*w) * n);
		if (!ordered) {
			qsort(s, n, sizeof(*s), cmp_area);
			qsort(w, n, sizeof(*w), cmp_span);
		}
		for (u32 i = 0; i < n; i++)
			ok = ok && s[i].off == w[i].off && s[i].size == w[i].size;
	}
	if (!ok) {
		fprintf(stderr, "got %u:", n);
		for (u32 i = 0; i < n && i < OUT_N; i++)
			fprintf(stderr, " [0x%llx +0x%llx]", (unsigned long long)a[i].off,
				(unsigned long long)a[i].size);
		fprintf(stderr, "\nwant %u:", nw);
		for (u32 i = 0; i < nw; i++)
			fprintf(stderr, " [0x%llx +0x%llx]", (unsigned long long)want[i].off,
				(unsigned long long)want[i].size);
		fprintf(stderr, "\n");
	}
	return ok;
}

#define SPANS(...)	      ((const struct span[]){ __VA_ARGS__ })
#define NSPANS(...)	      ((u32)(sizeof(SPANS(__VA_ARGS__)) / sizeof(struct span)))
/* The areas are exactly these, in this order. */
#define EXPECT(a, n, ...)     CHECK(same(a, n, true, SPANS(__VA_ARGS__), NSPANS(__VA_ARGS__)))
/* The areas are exactly these, in any order. */
#define EXPECT_SET(a, n, ...) CHECK(same(a, n, false, SPANS(__VA_ARGS__), NSPANS(__VA_ARGS__)))

static bool fresh(const struct vfio_bar_area *a, u32 n)
{
	for (u32 i = 0; i < n; i++)
		if (a[i].hva || a[i].slot || a[i].warned || a[i].gpa)
			return false;
	return true;
}

/* ---- vfio_region_areas: no capabilities ---- */

static void test_areas_whole(void)
{
	struct vfio_bar_area out[OUT_N];
	u32 n;

	put_ri(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP, 0, 0x4000);
	n = parse(RI, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0, 0x4000 });
	CHECK(fresh(out, n));
	CHECK(untouched(out, 1));

	/* A 256-byte BAR has no whole page: trapped. */
	CHECK_EQ_U64(parse(RI, 0x100, PG, out, 8), 0);
	/* Nor does 1.5 pages become one page. */
	CHECK_EQ_U64(parse(RI, 0x1800, PG, out, 8), 0);
	CHECK_EQ_U64(parse(RI, 0x4000, 0x10000, out, 8), 0);
	n = parse(RI, 0x20000, 0x10000, out, 8);
	EXPECT(out, n, { 0, 0x20000 });
	n = parse(RI, 0x1000, PG, out, 1);
	EXPECT(out, n, { 0, 0x1000 });
	CHECK(untouched(out, 1));

	/* The largest page-aligned region there is. */
	n = parse(RI, UINT64_MAX & ~(PG - 1), PG, out, 8);
	EXPECT(out, n, { 0, UINT64_MAX & ~(PG - 1) });
	CHECK_EQ_U64(parse(RI, UINT64_MAX, PG, out, 8), 0);

	/* Without the CAPS flag, whatever follows the header is ignored. */
	put_ri(0, RI, 0x4000);
	put_sparse(RI, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	n = parse(RI + SPARSE + AREA, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0, 0x4000 });
	put_ri(VFIO_REGION_INFO_FLAG_MMAP, 0xffffffffu, 0x4000);
	n = parse(RI, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0, 0x4000 });
	/* The size comes from the caller, not from ri->size. */
	put_ri(0, 0, 0x100000);
	n = parse(RI, 0x2000, PG, out, 8);
	EXPECT(out, n, { 0, 0x2000 });
}

static void test_areas_bad_args(void)
{
	static const u64 bad_pages[] = { 0, 3, 0x1800, 0x1001, UINT64_MAX };
	struct vfio_bar_area out[OUT_N];

	put_ri(0, 0, 0x4000);
	for (size_t i = 0; i < ARRAY_SIZE(bad_pages); i++) {
		CHECK_EQ_U64(parse(RI, 0x4000, bad_pages[i], out, 8), 0);
		CHECK(untouched(out, 0));
	}
	CHECK_EQ_U64(parse(RI, 0, PG, out, 8), 0);
	CHECK(untouched(out, 0));
	CHECK_EQ_U64(parse(RI, 0x4000, PG, out, 0), 0);
	CHECK(untouched(out, 0));
	/* Shorter than a vfio_region_info: not even the flags are read. */
	for (u32 argsz = 0; argsz < RI; argsz += 4) {
		CHECK_EQ_U64(parse(argsz, 0x4000, PG, out, 8), 0);
		CHECK(untouched(out, 0));
	}
	/* page 1 (byte granularity) is a power of two: fine. */
	CHECK_EQ_U64(parse(RI, 0x123, 1, out, 8), 1);
}

/* ---- vfio_region_areas: sparse mmap ---- */

static void test_areas_sparse(void)
{
	const struct span a[] = { { 0, 0x2000 }, { 0x3000, 0x1000 }, { 0x8000, 0x8000 } };
	struct vfio_bar_area out[OUT_N];
	u32 n;

	put_ri(VFIO_REGION_INFO_FLAG_CAPS | VFIO_REGION_INFO_FLAG_MMAP, RI, 0x10000);
	put_sparse(RI, 0, 3, a, 3);
	n = parse(RI + SPARSE + 3 * AREA, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x2000 }, { 0x3000, 0x1000 }, { 0x8000, 0x8000 });
	CHECK(fresh(out, n));
	CHECK(untouched(out, 3));

	/* Exactly max. */
	n = parse(RI + SPARSE + 3 * AREA, 0x10000, PG, out, 3);
	EXPECT(out, n, { 0, 0x2000 }, { 0x3000, 0x1000 }, { 0x8000, 0x8000 });
	CHECK(untouched(out, 3));

	/* Bytes after the last area are fine. */
	n = parse(RI + SPARSE + 3 * AREA + 40, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x2000 }, { 0x3000, 0x1000 }, { 0x8000, 0x8000 });

	/* The sparse capability after a gap. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, 64, 0x10000);
	put_sparse(64, 0, 1, SPANS({ 0x4000, 0x4000 }), 1);
	n = parse(64 + SPARSE + AREA, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0x4000, 0x4000 });
}

static void test_areas_sparse_drops(void)
{
	const u64 big = UINT64_MAX & ~(PG - 1);
	/* Each invalid one is dropped in place; the valid ones keep their order. */
	const struct span a[] = {
		{ 0x1000, 0 },		   /* empty */
		{ 0x1000, 0x1000 },	   /* ok */
		{ 0x10000, 0x1000 },	   /* starts at the end of the region */
		{ 0x20000, 0x1000 },	   /* beyond */
		{ 0xf000, 0x2000 },	   /* crosses the end */
		{ 0x4000, 0x2000 },	   /* ok */
		{ 0x2000, big },	   /* offset + size wraps */
		{ 0x2000, 0 - 0x2000ULL }, /* offset + size is exactly 2^64 */
		{ big, 0x2000 },	   /* wraps, with a huge offset */
		{ 0xf000, 0x1000 },	   /* ok: ends at the end */
		{ 0, 0x10000 },		   /* ok: all of it */
	};
	const struct span b[] = {
		{ 0x800, 0x1000 },  /* offset not page-aligned */
		{ 0x1000, 0x1000 }, /* ok */
		{ 0x2000, 0x800 },  /* size not page-aligned */
		{ 0x3000, 0x1000 }, /* ok */
		{ 0x5000, 0x1001 }, /* size not page-aligned */
		{ 0x8000, 0x4000 }, /* ok */
	};
	struct vfio_bar_area out[OUT_N];
	u32 n;

	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_sparse(RI, 0, ARRAY_SIZE(a), a, ARRAY_SIZE(a));
	n = parse(RI + SPARSE + ARRAY_SIZE(a) * AREA, 0x10000, PG, out, OUT_N);
	EXPECT(out, n, { 0x1000, 0x1000 }, { 0x4000, 0x2000 }, { 0xf000, 0x1000 }, { 0, 0x10000 });
	CHECK(untouched(out, 4));

	/* A region reaching the top of u64: overflow is checked, not assumed away. */
	n = parse(RI + SPARSE + ARRAY_SIZE(a) * AREA, big, PG, out, OUT_N);
	EXPECT_SET(out, n, { 0x1000, 0x1000 }, { 0x10000, 0x1000 }, { 0x20000, 0x1000 },
		   { 0xf000, 0x2000 }, { 0x4000, 0x2000 }, { 0xf000, 0x1000 }, { 0, 0x10000 });

	/* Not page-aligned: dropped (the order of the rest may change). */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_sparse(RI, 0, ARRAY_SIZE(b), b, ARRAY_SIZE(b));
	n = parse(RI + SPARSE + ARRAY_SIZE(b) * AREA, 0x10000, PG, out, OUT_N);
	EXPECT_SET(out, n, { 0x1000, 0x1000 }, { 0x3000, 0x1000 }, { 0x8000, 0x4000 });
	CHECK(untouched(out, ARRAY_SIZE(b)));
	/* With 64 KiB pages none of them is whole pages. */
	CHECK_EQ_U64(parse(RI + SPARSE + ARRAY_SIZE(b) * AREA, 0x10000, 0x10000, out, OUT_N), 0);

	/* Every area invalid: nothing mapped, no fallback to the whole region. */
	put_sparse(RI, 0, 3, SPANS({ 0, 0 }, { 0x10000, 0x1000 }, { 0x800, 0x800 }), 3);
	CHECK_EQ_U64(parse(RI + SPARSE + 3 * AREA, 0x10000, PG, out, OUT_N), 0);
}

static void test_areas_max(void)
{
	const struct span a[] = { { 0, 0x1000 },
				  { 0x2000, 0x1000 },
				  { 0x4000, 0x1000 },
				  { 0x6000, 0x1000 },
				  { 0x8000, 0x1000 } };
	struct vfio_bar_area out[OUT_N];
	u32 n;

	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_sparse(RI, 0, 5, a, 5);
	n = parse(RI + SPARSE + 5 * AREA, 0x10000, PG, out, 3);
	EXPECT(out, n, { 0, 0x1000 }, { 0x2000, 0x1000 }, { 0x4000, 0x1000 });
	CHECK(untouched(out, 3));
	n = parse(RI + SPARSE + 5 * AREA, 0x10000, PG, out, 1);
	EXPECT(out, n, { 0, 0x1000 });
	CHECK(untouched(out, 1));

	/* Invalid areas do not use up the room... */
	put_sparse(RI, 0, 4,
		   SPANS({ 0, 0 }, { 0x20000, 0x1000 }, { 0x2000, 0x1000 }, { 0x4000, 0x1000 }), 4);
	n = parse(RI + SPARSE + 4 * AREA, 0x10000, PG, out, 2);
	EXPECT(out, n, { 0x2000, 0x1000 }, { 0x4000, 0x1000 });
	CHECK(untouched(out, 2));

	/*
	 * ...but one not page-aligned does: it is counted against max before
	 * being dropped, so a valid area after it can be lost (left trapped:
	 * safe, only slower).
	 */
	put_sparse(RI, 0, 3, SPANS({ 0x800, 0x1000 }, { 0x2000, 0x1000 }, { 0x4000, 0x1000 }), 3);
	n = parse(RI + SPARSE + 3 * AREA, 0x10000, PG, out, 2);
	CHECK(n >= 1 && n <= 2);
	CHECK(n >= 1 && out[0].off == 0x2000 && out[0].size == 0x1000);
	CHECK(n < 2 || (out[1].off == 0x4000 && out[1].size == 0x1000));
	CHECK(untouched(out, 2));
}

static void test_areas_truncated(void)
{
	const struct span a[] = {
		{ 0, 0x1000 }, { 0x2000, 0x1000 }, { 0x4000, 0x1000 }, { 0x6000, 0x1000 }
	};
	struct vfio_bar_area out[OUT_N];
	u32 n;

	/* nr_areas says 4, argsz holds 2. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_sparse(RI, 0, 4, a, 4);
	n = parse(RI + SPARSE + 2 * AREA, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x1000 }, { 0x2000, 0x1000 });
	/* Half of the third one: not read. */
	n = parse(RI + SPARSE + 2 * AREA + 8, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x1000 }, { 0x2000, 0x1000 });
	n = parse(RI + SPARSE + 3 * AREA - 1, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x1000 }, { 0x2000, 0x1000 });
	n = parse(RI + SPARSE + 3 * AREA, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x1000 }, { 0x2000, 0x1000 }, { 0x4000, 0x1000 });
	/* Room for none. */
	CHECK_EQ_U64(parse(RI + SPARSE, 0x10000, PG, out, 8), 0);
	CHECK_EQ_U64(parse(RI + SPARSE + AREA - 1, 0x10000, PG, out, 8), 0);

	/* nr_areas as large as it gets. */
	put32(RI + HDR, UINT32_MAX);
	n = parse(RI + SPARSE + 4 * AREA, 0x10000, PG, out, 8);
	EXPECT(out, n, { 0, 0x1000 }, { 0x2000, 0x1000 }, { 0x4000, 0x1000 }, { 0x6000, 0x1000 });
}

static void test_areas_chain(void)
{
	struct vfio_bar_area out[OUT_N];
	u32 n;

	/* A region-type capability (header, type, subtype), then the sparse one. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_hdr(RI, VFIO_REGION_INFO_CAP_TYPE, RI + 16);
	put32(RI + HDR, 1);
	put32(RI + HDR + 4, 1);
	put_sparse(RI + 16, 0, 2, SPANS({ 0x1000, 0x1000 }, { 0x3000, 0x1000 }), 2);
	n = parse(RI + 16 + SPARSE + 2 * AREA, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0x1000, 0x1000 }, { 0x3000, 0x1000 });

	/* The sparse one first, something else after it: the first sparse one counts. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_sparse(RI, RI + SPARSE + AREA, 1, SPANS({ 0x2000, 0x1000 }), 1);
	put_hdr(RI + SPARSE + AREA, VFIO_REGION_INFO_CAP_TYPE, 0);
	n = parse(RI + SPARSE + AREA + 16, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0x2000, 0x1000 });

	/* A chain of eight capabilities; the sparse one last, in a gap. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	for (u32 i = 0; i < 7; i++)
		put_hdr(RI + i * 16, (u16)(100 + i), RI + (i + 1) * 16 + (i == 6 ? 24 : 0));
	put_sparse(RI + 7 * 16 + 24, 0, 1, SPANS({ 0, 0x2000 }), 1);
	n = parse(RI + 7 * 16 + 24 + SPARSE + AREA, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0, 0x2000 });

	/* A chain without a sparse capability: the whole region. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_hdr(RI, VFIO_REGION_INFO_CAP_TYPE, RI + 16);
	put_hdr(RI + 16, 3 /* VFIO_REGION_INFO_CAP_MSIX_MAPPABLE */, 0);
	n = parse(RI + 24, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0, 0x4000 });

	/* next pointing past argsz: the chain is broken, nothing is mapped. */
	put_hdr(RI + 16, 3, RI + 24);
	put_sparse(RI + 24, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	n = parse(RI + 24, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */
	n = parse(RI + 24 + SPARSE + AREA, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0x1000, 0x1000 });
}

static void test_areas_chain_loop(void)
{
	struct vfio_bar_area out[OUT_N];
	u32 n;

	/* next to itself. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_hdr(RI, VFIO_REGION_INFO_CAP_TYPE, RI);
	put_sparse(RI + 16, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	n = parse(RI + 16 + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */

	/* Two capabilities pointing at each other. */
	put_hdr(RI, VFIO_REGION_INFO_CAP_TYPE, RI + 16);
	put_hdr(RI + 16, VFIO_REGION_INFO_CAP_TYPE, RI);
	put_sparse(RI + 32, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	n = parse(RI + 32 + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */

	/* Backwards, into the vfio_region_info header. */
	put_hdr(RI + 16, VFIO_REGION_INFO_CAP_TYPE, 8);
	n = parse(RI + 32 + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */

	/* Backwards to a sparse capability that was skipped: not followed. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI + SPARSE + AREA, 0);
	put_sparse(RI, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	put_hdr(RI + SPARSE + AREA, VFIO_REGION_INFO_CAP_TYPE, RI);
	n = parse(RI + SPARSE + AREA + 16, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */

	/* A long forward chain ends too (8 bytes each, 1000 of them). */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	for (u32 i = 0; i < 1000; i++)
		put_hdr(RI + i * HDR, VFIO_REGION_INFO_CAP_TYPE, i < 999 ? RI + (i + 1) * HDR : 0);
	n = parse(RI + 1000 * HDR, 0x4000, PG, out, 8);
	EXPECT(out, n, { 0, 0x4000 });
}

/*
 * A capability chain that cannot be followed, inside the argsz it was given:
 * nothing is mapped (an unreachable sparse capability would have said which
 * pages must stay trapped), and nothing is read past argsz.
 */
static void test_areas_malformed(void)
{
	static const u32 early[] = { 0, 4, 8, 16, 24, RI - 1 };
	struct vfio_bar_area out[OUT_N];
	u32 n;

	/* cap_offset beyond argsz. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI + 64, 0);
	put_sparse(RI, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	n = parse(RI + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */
	put32(12, UINT32_MAX);
	n = parse(RI + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */
	put32(12, UINT32_MAX & ~7u);
	n = parse(RI + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */
	/* cap_offset == argsz: an empty capability. */
	put32(12, RI + SPARSE + AREA);
	n = parse(RI + SPARSE + AREA, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */

	/* cap_offset inside the vfio_region_info: never read as a capability. */
	for (size_t i = 0; i < ARRAY_SIZE(early); i++) {
		put32(12, early[i] & ~3u);
		n = parse(RI + SPARSE + AREA, 0x4000, PG, out, 8);
		CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */
	}

	/* The header crosses argsz. */
	put32(12, RI);
	for (u32 argsz = RI; argsz < RI + HDR; argsz++) {
		n = parse(argsz, 0x4000, PG, out, 8);
		CHECK_EQ_U64(n, 0); /* a broken chain maps nothing */
	}
	/* A later header crosses argsz. */
	put_hdr(RI, VFIO_REGION_INFO_CAP_TYPE, RI + 16);
	put_hdr(RI + 16, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0);
	n = parse(RI + 20, 0x4000, PG, out, 8);
	CHECK_EQ_U64(n, 0);

	/* A misaligned capability offset (the kernel aligns them to 8): not followed. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI + 4, 0);
	put_sparse(RI + 4, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	CHECK_EQ_U64(parse(RI + 4 + SPARSE + AREA, 0x4000, PG, out, 8), 0);

	/* A sparse header that fits, its nr_areas / reserved do not: nothing. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS, RI, 0);
	put_sparse(RI, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	for (u32 argsz = RI + HDR; argsz < RI + SPARSE; argsz++) {
		CHECK_EQ_U64(parse(argsz, 0x4000, PG, out, 8), 0);
		CHECK(untouched(out, 0));
	}
	/* The same after another capability. */
	put_hdr(RI, VFIO_REGION_INFO_CAP_TYPE, RI + 16);
	put_sparse(RI + 16, 0, 1, SPANS({ 0x1000, 0x1000 }), 1);
	CHECK_EQ_U64(parse(RI + 16 + HDR, 0x4000, PG, out, 8), 0);
	CHECK_EQ_U64(parse(RI + 16 + SPARSE - 1, 0x4000, PG, out, 8), 0);
}

static void test_areas_none(void)
{
	struct vfio_bar_area out[OUT_N];

	/* A sparse capability with no areas: everything stays trapped. */
	put_ri(VFIO_REGION_INFO_FLAG_CAPS | VFIO_REGION_INFO_FLAG_MMAP, RI, 0);
	put_sparse(RI, 0, 0, NULL, 0);
	CHECK_EQ_U64(parse(RI + SPARSE, 0x4000, PG, out, 8), 0);
	CHECK(untouched(out, 0));
	/* Areas present but nr_areas 0: not looked at. */
	put_sparse(RI, 0, 0, SPANS({ 0, 0x4000 }), 1);
	CHECK_EQ_U64(parse(RI + SPARSE + AREA, 0x4000, PG, out, 8), 0);
	CHECK(untouched(out, 0));
}

/* ---- vfio_region_areas: random answers ---- */

static u64 rng = 0x2545f4914f6cdd1dULL;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static u64 below(u64 n)
{
	return n ? rnd() % n : 0;
}

/* A random u64 of the sorts that matter: small, page-ish, huge, anything. */
static u64 rnd_val(u64 size, u64 page)
{
	switch (below(12)) {
	case 0:
		return 0;
	case 1:
		return rnd();
	case 2:
		return UINT64_MAX - below(3 * PG);
	case 3:
		return below(0x20000);
	case 4:
		return size - below(3) * page;
	default:
		return below(24) * page;
	}
}

/* An offset for cap_offset / next: usually aligned and near, sometimes not. */
static u32 rnd_cap_off(void)
{
	switch (below(8)) {
	case 0:
		return (u32)rnd() & ~7u;
	case 1:
		return (u32)below(RI);
	case 2:
		return 0;
	default:
		return (u32)below(260) & ~7u;
	}
}

/* Is [off, off + size) written as an area somewhere in the buffer? */
static bool in_buffer(const u8 *b, u32 argsz, u64 off, u64 size)
{
	for (u32 at = RI + SPARSE; at + AREA <= argsz; at += 8) {
		u64 o, s;

		memcpy(&o, b + at, 8);
		memcpy(&s, b + at + 8, 8);
		if (o == off && s == size)
			return true;
	}
	return false;
}

static void test_areas_random(void)
{
	static const u64 pages[] = { PG, PG, PG, 0x10000, 0x4000, 1, 0, 3, 0x1800 };
	unsigned bad_max = 0, bad_canary = 0, bad_area = 0, bad_origin = 0, bad_whole = 0;
	unsigned sparse_seen = 0, whole_seen = 0;

	for (unsigned it = 0; it < RANDOM_N; it++) {
		struct vfio_bar_area out[OUT_N];
		static const u16 ids[] = { VFIO_REGION_INFO_CAP_SPARSE_MMAP,
					   VFIO_REGION_INFO_CAP_SPARSE_MMAP,
					   VFIO_REGION_INFO_CAP_TYPE,
					   3,
					   0,
					   0xffff };
		u32 argsz = (u32)below(257), max = (u32)below(10), n, cap;
		u64 page = pages[below(ARRAY_SIZE(pages))];
		u64 size = below(4) ? below(64) * PG : rnd_val(rnd(), PG);
		bool caps = below(4) != 0;
		u8 *b = malloc(argsz ? argsz : 1);

		if (!b) {
			CHECK(b != NULL);
			return;
		}
		for (u32 i = 0; i < 512; i++)
			img[i] = (u8)rnd();
		put32(4, caps ? (u32)rnd() | VFIO_REGION_INFO_FLAG_CAPS
			      : (u32)rnd() & ~VFIO_REGION_INFO_FLAG_CAPS);
		/* A chain from cap_offset: mostly forward, sometimes anywhere. */
		cap = below(4) ? RI + 8 * (u32)below(4) : rnd_cap_off();
		put32(12, cap);
		for (u32 k = 0, at = cap; k < 4 && at >= RI && at + SPARSE <= 512; k++) {
			u16 id = ids[below(ARRAY_SIZE(ids))];
			u32 nr = below(4) ? (u32)below(6) : (u32)rnd();
			u32 len = id == VFIO_REGION_INFO_CAP_SPARSE_MMAP ? SPARSE + 6 * AREA : 16;
			u32 next = below(4) ? at + len + 8 * (u32)below(3) : rnd_cap_off();

			put_hdr(at, id, below(8) ? next : 0);
			put32(at + HDR, nr);
			for (u32 i = 0; i < 6 && at + SPARSE + (i + 1) * AREA <= 512; i++) {
				put64(at + SPARSE + i * AREA, rnd_val(size, page ? page : PG));
				put64(at + SPARSE + i * AREA + 8, rnd_val(size, page ? page : PG));
			}
			at = next;
		}
		/*
		 * Any aligned spot may be read as a header: keep a small next
		 * (one that could be followed) 8-byte aligned, as the kernel
		 * does. vfio_region_areas() does not check the alignment, and
		 * an unaligned capability is a misaligned load there (undefined
		 * behaviour, which UBSan stops on).
		 */
		for (u32 at = RI; at + HDR <= 512; at += 8) {
			u32 next;

			memcpy(&next, img + at + 4, 4);
			if (next < 4096)
				put32(at + 4, next & ~7u);
		}
		memcpy(b, img, argsz);
		canary(out);
		n = vfio_region_areas((const struct vfio_region_info *)b, argsz, size, page, out,
				      max);

		if (n > max)
			bad_max++;
		if (!untouched(out, n > max ? n : max))
			bad_canary++;
		for (u32 i = 0; i < n && i < OUT_N; i++) {
			const struct vfio_bar_area *a = &out[i];
			bool ok = page && !(page & (page - 1)) && a->size && a->off < size &&
				  a->size <= size - a->off && !((a->off | a->size) & (page - 1)) &&
				  fresh(a, 1);

			if (!ok)
				bad_area++;
			/* Either the whole region or an area the answer holds. */
			if (a->off == 0 && a->size == size) {
				whole_seen++;
			} else if (in_buffer(b, argsz, a->off, a->size)) {
				sparse_seen++;
			} else {
				bad_origin++;
			}
		}
		/* Without capabilities: the whole region if it is whole pages. */
		if (!caps && argsz >= RI && max && page && !(page & (page - 1)) && size &&
		    n != !(size & (page - 1)))
			bad_whole++;
		free(b);
		if (bad_max | bad_canary | bad_area | bad_origin | bad_whole) {
			fprintf(stderr, "random areas: first failure at iteration %u\n", it);
			break;
		}
	}
	CHECK_EQ_U64(bad_max, 0);
	CHECK_EQ_U64(bad_canary, 0);
	CHECK_EQ_U64(bad_area, 0);
	CHECK_EQ_U64(bad_origin, 0);
	CHECK_EQ_U64(bad_whole, 0);
	/* The generator reaches both outcomes often. */
	CHECK(sparse_seen > RANDOM_N / 40);
	CHECK(whole_seen > RANDOM_N / 20);
}

/* ---- vfio_areas_punch ---- */

/* Punch [hs, he) into the areas @in (room for @max) and return the count. */
static u32 punch(struct vfio_bar_area *a, const struct span *in, u32 n, u32 max, u64 hs, u64 he,
		 u64 page)
{
	canary(a);
	for (u32 i = 0; i < n; i++)
		a[i] = (struct vfio_bar_area){ .off = in[i].off, .size = in[i].size };
	return vfio_areas_punch(a, n, max, hs, he, page);
}

static void test_punch_basic(void)
{
	const struct span one[] = { { 0, 0x10000 } };
	struct vfio_bar_area a[OUT_N];
	u32 n;

	/* In the middle: two areas. */
	n = punch(a, one, 1, 8, 0x3000, 0x4000, PG);
	EXPECT(a, n, { 0, 0x3000 }, { 0x4000, 0xc000 });
	CHECK(fresh(a, n));
	CHECK(untouched(a, 2));
	/* At the start / at the end: trimmed. */
	n = punch(a, one, 1, 8, 0, 0x1000, PG);
	EXPECT(a, n, { 0x1000, 0xf000 });
	n = punch(a, one, 1, 8, 0xf000, 0x10000, PG);
	EXPECT(a, n, { 0, 0xf000 });
	/* Overhanging either end. */
	n = punch(a, SPANS({ 0x4000, 0x4000 }), 1, 8, 0x2000, 0x5000, PG);
	EXPECT(a, n, { 0x5000, 0x3000 });
	n = punch(a, SPANS({ 0x4000, 0x4000 }), 1, 8, 0x7000, 0x20000, PG);
	EXPECT(a, n, { 0x4000, 0x3000 });
	/* Covering it: gone. */
	n = punch(a, one, 1, 8, 0, 0x10000, PG);
	CHECK_EQ_U64(n, 0);
	n = punch(a, SPANS({ 0x4000, 0x4000 }), 1, 8, 0x1000, 0x9000, PG);
	CHECK_EQ_U64(n, 0);
	/* Outside, or only touching: unchanged. */
	n = punch(a, SPANS({ 0x4000, 0x4000 }), 1, 8, 0x8000, 0x9000, PG);
	EXPECT(a, n, { 0x4000, 0x4000 });
	n = punch(a, SPANS({ 0x4000, 0x4000 }), 1, 8, 0x3000, 0x4000, PG);
	EXPECT(a, n, { 0x4000, 0x4000 });
	n = punch(a, SPANS({ 0x4000, 0x4000 }), 1, 8, 0x100000, 0x200000, PG);
	EXPECT(a, n, { 0x4000, 0x4000 });
	/* No areas. */
	CHECK_EQ_U64(punch(a, NULL, 0, 8, 0, 0x1000, PG), 0);
	CHECK(untouched(a, 0));
}

static void test_punch_several(void)
{
	const struct span in[] = {
		{ 0, 0x2000 }, { 0x3000, 0x2000 }, { 0x6000, 0x2000 }, { 0x9000, 0x1000 }
	};
	struct vfio_bar_area a[OUT_N];
	u32 n;

	/* Trims the first and third, removes the second, leaves the fourth. */
	n = punch(a, in, 4, 8, 0x1000, 0x7000, PG);
	EXPECT_SET(a, n, { 0, 0x1000 }, { 0x7000, 0x1000 }, { 0x9000, 0x1000 });
	/* Removes all but the last. */
	n = punch(a, in, 4, 4, 0, 0x8000, PG);
	EXPECT(a, n, { 0x9000, 0x1000 });
	/* All of them. */
	CHECK_EQ_U64(punch(a, in, 4, 4, 0, 0x10000, PG), 0);
	/* Areas in no particular order. */
	n = punch(a, SPANS({ 0x6000, 0x2000 }, { 0, 0x2000 }, { 0x3000, 0x2000 }), 3, 3, 0x3000,
		  0x5000, PG);
	EXPECT_SET(a, n, { 0, 0x2000 }, { 0x6000, 0x2000 });
}

static void test_punch_pages(void)
{
	const struct span one[] = { { 0, 0x4000 } };
	struct vfio_bar_area a[OUT_N];
	u32 n;

	/* An MSI-X table of 16 vectors at 0x800 takes its whole page. */
	n = punch(a, one, 1, 8, 0x800, 0x800 + 16 * 16, PG);
	EXPECT(a, n, { 0x1000, 0x3000 });
	/* In the middle of a page: that page, splitting the area. */
	n = punch(a, one, 1, 8, 0x1800, 0x1810, PG);
	EXPECT(a, n, { 0, 0x1000 }, { 0x2000, 0x2000 });
	/* One byte at the end of a page / the start of the next. */
	n = punch(a, one, 1, 8, 0xfff, 0x1000, PG);
	EXPECT(a, n, { 0x1000, 0x3000 });
	n = punch(a, one, 1, 8, 0x1000, 0x1001, PG);
	EXPECT(a, n, { 0, 0x1000 }, { 0x2000, 0x2000 });
	/* Straddling a page boundary: both pages. */
	n = punch(a, one, 1, 8, 0x1ff8, 0x2008, PG);
	EXPECT(a, n, { 0, 0x1000 }, { 0x3000, 0x1000 });
	/* 64 KiB pages: a small table takes 64 KiB. */
	n = punch(a, SPANS({ 0, 0x40000 }), 1, 8, 0x10800, 0x10900, 0x10000);
	EXPECT(a, n, { 0, 0x10000 }, { 0x20000, 0x20000 });

	/* As vfio/pci.c does: the table, then the PBA. */
	n = punch(a, SPANS({ 0, 0x8000 }), 1, 8, 0x2000, 0x2000 + 64 * 16, PG);
	n = vfio_areas_punch(a, n, 8, 0x5000, 0x5000 + 8, PG);
	EXPECT_SET(a, n, { 0, 0x2000 }, { 0x3000, 0x2000 }, { 0x6000, 0x2000 });
	/* Both in one page. */
	n = punch(a, SPANS({ 0, 0x8000 }), 1, 8, 0, 0x800, PG);
	n = vfio_areas_punch(a, n, 8, 0x800, 0x808, PG);
	EXPECT(a, n, { 0x1000, 0x7000 });
}

static void test_punch_no_room(void)
{
	const struct span in[] = { { 0, 0x4000 }, { 0x8000, 0x4000 } };
	struct vfio_bar_area a[OUT_N];
	u32 n;

	/* n == max: the split keeps only the head; the tail stays trapped. */
	n = punch(a, in, 2, 2, 0x1000, 0x2000, PG);
	EXPECT(a, n, { 0, 0x1000 }, { 0x8000, 0x4000 });
	CHECK(untouched(a, 2));
	n = punch(a, in, 2, 2, 0x9000, 0x9001, PG);
	EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x1000 });
	CHECK(untouched(a, 2));
	/* One spare slot is enough. */
	n = punch(a, in, 2, 3, 0x9000, 0x9001, PG);
	EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x1000 }, { 0xa000, 0x2000 });
	CHECK(untouched(a, 3));
	/* Trims and removals need no room. */
	n = punch(a, in, 2, 2, 0x3000, 0x9000, PG);
	EXPECT(a, n, { 0, 0x3000 }, { 0x9000, 0x3000 });
	n = punch(a, SPANS({ 0, 0x1000 }), 1, 1, 0, 0x1000, PG);
	CHECK_EQ_U64(n, 0);
}

static void test_punch_bad_args(void)
{
	const struct span in[] = { { 0, 0x4000 }, { 0x8000, 0x4000 } };
	static const u64 bad_pages[] = { 0, 3, 0x1800, UINT64_MAX };
	struct vfio_bar_area a[OUT_N];
	u32 n;

	/* An empty or reversed hole. */
	n = punch(a, in, 2, 8, 0x1000, 0x1000, PG);
	EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x4000 });
	n = punch(a, in, 2, 8, 0x2000, 0x1000, PG);
	EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x4000 });
	n = punch(a, in, 2, 8, UINT64_MAX, 0, PG);
	EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x4000 });
	/* Even an empty hole inside a page does not take that page. */
	n = punch(a, in, 2, 8, 0x1800, 0x1800, PG);
	EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x4000 });
	for (size_t i = 0; i < ARRAY_SIZE(bad_pages); i++) {
		n = punch(a, in, 2, 8, 0x1000, 0x2000, bad_pages[i]);
		EXPECT(a, n, { 0, 0x4000 }, { 0x8000, 0x4000 });
		CHECK(untouched(a, 2));
	}
	/* page 1: no widening. */
	n = punch(a, in, 2, 8, 0x1001, 0x1002, 1);
	EXPECT(a, n, { 0, 0x1001 }, { 0x8000, 0x4000 }, { 0x1002, 0x2ffe });
}

static void test_punch_top(void)
{
	const u64 top = 0 - PG; /* the last page starts here */
	const struct span in[] = { { 0, 0x4000 }, { top - 0x4000, 0x4000 } };
	struct vfio_bar_area a[OUT_N];
	u32 n;

	/* he rounds up to 2^64: clamped, no wrap to 0 (which would punch nothing). */
	n = punch(a, in, 2, 8, top - 0x2000 + 5, UINT64_MAX, PG);
	EXPECT(a, n, { 0, 0x4000 }, { top - 0x4000, 0x2000 });
	n = punch(a, in, 2, 8, top - 0x1000, UINT64_MAX - 1, PG);
	EXPECT(a, n, { 0, 0x4000 }, { top - 0x4000, 0x3000 });
	n = punch(a, in, 2, 8, top - 0x1800, top - 0x1000 + 1, PG);
	EXPECT(a, n, { 0, 0x4000 }, { top - 0x4000, 0x2000 });
	/* Everything from a point on. */
	n = punch(a, in, 2, 8, 0x800, UINT64_MAX, PG);
	CHECK_EQ_U64(n, 0);
	n = punch(a, in, 2, 8, 0x1000, UINT64_MAX, PG);
	EXPECT(a, n, { 0, 0x1000 });
	/* Only the last page, which no area can hold: nothing changes. */
	n = punch(a, in, 2, 8, UINT64_MAX - 1, UINT64_MAX, PG);
	EXPECT(a, n, { 0, 0x4000 }, { top - 0x4000, 0x4000 });
	n = punch(a, in, 2, 8, top, UINT64_MAX, PG);
	EXPECT(a, n, { 0, 0x4000 }, { top - 0x4000, 0x4000 });
	/* Near the top with 64 KiB pages. */
	n = punch(a, SPANS({ 0 - 0x40000ULL, 0x30000 }), 1, 8, UINT64_MAX - 0x1ffff,
		  UINT64_MAX - 0x1fff0, 0x10000);
	EXPECT(a, n, { 0 - 0x40000ULL, 0x20000 });
	n = punch(a, SPANS({ 0 - 0x40000ULL, 0x30000 }), 1, 8, UINT64_MAX - 0x2ffff, UINT64_MAX,
		  0x10000);
	EXPECT(a, n, { 0 - 0x40000ULL, 0x10000 });
}

/* ---- vfio_areas_punch: random areas and holes ---- */

static void test_punch_random(void)
{
	static const u64 pages[] = { PG, PG, 0x10000, 0x10, 1 };
	unsigned bad_max = 0, bad_count = 0, bad_canary = 0, bad_area = 0, bad_hole = 0, bad_in = 0,
		 bad_overlap = 0, bad_total = 0, bad_same = 0;
	unsigned splits = 0, no_room = 0, changed = 0;

	for (unsigned it = 0; it < RANDOM_N; it++) {
		struct span in[8];
		struct vfio_bar_area a[OUT_N];
		u64 page = pages[below(ARRAY_SIZE(pages))], unit = page;
		u32 n = 0, max, want_n, got, pos;
		u64 base, hs, he, total = 0, overlap = 0, lost = 0;
		unsigned __int128 ws, we; /* the widened hole, without overflow */
		bool invalid = false;

		if (!below(16)) {
			invalid = true;
			page = below(2) ? 0 : 3 + 2 * below(100);
			unit = PG;
		}
		/*
		 * Disjoint areas in 64 units from base: near 0, or ending at
		 * most one unit below 2^64 (as vfio_region_areas() gives).
		 */
		base = below(4) ? below(4) * unit : 0 - 65 * unit;
		pos = (u32)below(3);
		while (n < 8) {
			u32 len = 1 + (u32)below(8);

			if (pos + len > 64)
				break;
			in[n++] = (struct span){ base + pos * unit, len * unit };
			pos += len + (u32)below(3);
			if (!below(5))
				break;
		}
		/* Shuffled: the order must not matter. */
		for (u32 i = n; i > 1; i--) {
			u32 j = (u32)below(i);
			struct span t = in[i - 1];

			in[i - 1] = in[j];
			in[j] = t;
		}
		max = n + (below(2) ? 0 : (u32)below(3));
		if (max > 8)
			max = 8;
		/* A hole anywhere around them, in bytes. */
		switch (below(6)) {
		case 0:
			hs = rnd();
			he = rnd();
			break;
		case 1:
			hs = base + below(66 * unit);
			he = UINT64_MAX - below(2 * unit);
			break;
		case 2:
			hs = base + below(66 * unit);
			he = hs;
			break;
		default:
			hs = base + below(66 * unit);
			he = hs + 1 + below(below(2) ? 2 * unit : 20 * unit);
			if (he < hs)
				he = UINT64_MAX;
			break;
		}

		/* The expected result, worked out independently. */
		ws = hs & ~(unit - 1);
		we = (((unsigned __int128)he + unit - 1) / unit) * unit;
		want_n = n;
		for (u32 i = 0; i < n; i++) {
			unsigned __int128 as = in[i].off, ae = as + in[i].size;
			unsigned __int128 os = as > ws ? as : ws, oe = ae < we ? ae : we;

			total += in[i].size;
			if (invalid || he <= hs || oe <= os)
				continue;
			overlap += (u64)(oe - os);
			if (as < ws && we < ae) {
				splits++;
				if (want_n < max) {
					want_n++;
				} else {
					lost = (u64)(ae - we);
					no_room++;
				}
			} else if (as >= ws && ae <= we) {
				want_n--;
			}
		}

		got = punch(a, in, n, max, hs, he, page);
		if (got > max)
			bad_max++;
		if (got != want_n)
			bad_count++;
		if (!untouched(a, got > max ? got : max))
			bad_canary++;
		if (invalid || he <= hs) {
			if (got != n)
				bad_same++;
			for (u32 i = 0; i < got && i < n; i++)
				if (a[i].off != in[i].off || a[i].size != in[i].size)
					bad_same++;
			if (bad_same) {
				fprintf(stderr, "random punch: iteration %u changed the areas\n",
					it);
				break;
			}
			continue;
		}
		{
			u64 sum = 0;

			for (u32 i = 0; i < got && i < OUT_N; i++) {
				unsigned __int128 s = a[i].off, e = s + a[i].size;
				u32 owners = 0;

				sum += a[i].size;
				if (!a[i].size || ((a[i].off | a[i].size) & (unit - 1)))
					bad_area++;
				if (s < we && ws < e)
					bad_hole++;
				for (u32 j = 0; j < n; j++)
					owners += in[j].off <= s &&
						  e <= (unsigned __int128)in[j].off + in[j].size;
				if (owners != 1)
					bad_in++;
				for (u32 j = 0; j < i; j++)
					if (a[j].off < e &&
					    s < (unsigned __int128)a[j].off + a[j].size)
						bad_overlap++;
			}
			if (sum != total - overlap - lost)
				bad_total++;
			if (sum != total)
				changed++;
		}
		if (bad_max | bad_count | bad_canary | bad_area | bad_hole | bad_in | bad_overlap |
		    bad_total) {
			fprintf(stderr,
				"random punch: first failure at iteration %u (n %u max %u hole "
				"[0x%llx, 0x%llx) page 0x%llx)\n",
				it, n, max, (unsigned long long)hs, (unsigned long long)he,
				(unsigned long long)page);
			break;
		}
	}
	CHECK_EQ_U64(bad_max, 0);
	CHECK_EQ_U64(bad_count, 0);
	CHECK_EQ_U64(bad_canary, 0);
	CHECK_EQ_U64(bad_area, 0);
	CHECK_EQ_U64(bad_hole, 0);
	CHECK_EQ_U64(bad_in, 0);
	CHECK_EQ_U64(bad_overlap, 0);
	CHECK_EQ_U64(bad_total, 0);
	CHECK_EQ_U64(bad_same, 0);
	/* The generator reaches the interesting cases. */
	CHECK(splits > RANDOM_N / 50);
	CHECK(no_room > RANDOM_N / 200);
	CHECK(changed > RANDOM_N / 10);
}

TEST_MAIN(test_areas_whole, test_areas_bad_args, test_areas_sparse, test_areas_sparse_drops,
	  test_areas_max, test_areas_truncated, test_areas_chain, test_areas_chain_loop,
	  test_areas_malformed, test_areas_none, test_areas_random, test_punch_basic,
	  test_punch_several, test_punch_pages, test_punch_no_room, test_punch_bad_args,
	  test_punch_top, test_punch_random)
