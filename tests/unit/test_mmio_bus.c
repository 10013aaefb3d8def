// SPDX-License-Identifier: GPL-2.0
/*
 * mmio_bus.c: registration (kept sorted whatever the order, overlaps and bad
 * ranges refused) and dispatch (right device, right offset, whole access
 * inside the region; everything else reads as zero and reports false).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmio_bus.h"
#include "tests/unit/test.h"
#include "tests/unit/capture.h"

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

/* ---- stderr capture (pr_err() writes fd 2 directly) ---- */
/* ---- a recording device ---- */
struct dev {
	const char *name;
	unsigned calls;
	u64 offset;
	u32 len;
	bool is_write;
	u8 wdata[8];
};

static struct dev *last_dev;

static void dev_fn(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct dev *d = opaque;

	d->calls++;
	d->offset = offset;
	d->len = len;
	d->is_write = is_write;
	last_dev = d;
	if (is_write) {
		memcpy(d->wdata, data, len);
	} else {
		/* Reads return the offset's low bytes plus the byte index, so they can be told
		 * apart. */
		for (u32 i = 0; i < len; i++)
			data[i] = (u8)(offset + i + 0x10);
	}
}

static void reset_devs(struct dev *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = d[i].name;

		memset(&d[i], 0, sizeof(d[i]));
		d[i].name = name;
	}
	last_dev = NULL;
}

static int reg(struct mmio_bus *bus, u64 base, u64 size, struct dev *d)
{
	return mmio_bus_register(bus, base, size, dev_fn, d, d->name);
}

static void test_sorted_any_order(void)
{
	static const u64 bases[4] = { 0x0, 0x1000, 0x2000, 0x3000 };
	static const u64 sizes[4] = { 0x10, 0x100, 0x100, 0x1000 };
	struct dev devs[4] = {
		{ .name = "d0" }, { .name = "d1" }, { .name = "d2" }, { .name = "d3" }
	};
	int perm[4] = { 0, 1, 2, 3 };
	unsigned done = 0;
	bool ok = true;

	/* Every one of the 24 registration orders gives the same sorted table. */
	for (;;) {
		struct mmio_bus bus = { 0 };

		for (int i = 0; i < 4; i++)
			ok = ok && reg(&bus, bases[perm[i]], sizes[perm[i]], &devs[perm[i]]) == 0;
		ok = ok && bus.nr == 4;
		for (size_t i = 0; i < bus.nr; i++)
			ok = ok && bus.regions[i].base == bases[i] &&
			     bus.regions[i].size == sizes[i] && bus.regions[i].opaque == &devs[i] &&
			     bus.regions[i].fn == dev_fn &&
			     !strcmp(bus.regions[i].name, devs[i].name);
		/* And dispatch finds each one. */
		for (int i = 0; i < 4; i++) {
			u8 v;

			last_dev = NULL;
			ok = ok && mmio_bus_access(&bus, bases[i] + sizes[i] - 1, &v, 1, false) &&
			     last_dev == &devs[i] && devs[i].offset == sizes[i] - 1;
		}
		mmio_bus_free(&bus);
		done++;
		/* Next permutation (lexicographic). */
		{
			int k = 2, j = 3, t;

			while (k >= 0 && perm[k] > perm[k + 1])
				k--;
			if (k < 0)
				break;
			while (perm[j] < perm[k])
				j--;
			t = perm[k], perm[k] = perm[j], perm[j] = t;
			for (int a = k + 1, b = 3; a < b; a++, b--)
				t = perm[a], perm[a] = perm[b], perm[b] = t;
		}
	}
	CHECK_EQ_U64(done, 24);
	CHECK(ok);
}

static void test_register_errors(void)
{
	struct dev a = { .name = "a" }, b = { .name = "b" }, c = { .name = "c" };
	struct mmio_bus bus = { 0 };
	const char *err;

	CHECK_EQ_U64(reg(&bus, 0x1000, 0x100, &a), 0);
	CHECK_EQ_U64(reg(&bus, 0x3000, 0x100, &c), 0);

	/* Overlaps: inside, straddling either end, containing, identical, one byte. */
	static const struct {
		u64 base, size;
	} overlaps[] = {
		{ 0x1080, 0x10 }, { 0x1080, 0x100 }, { 0xff0, 0x20 },	{ 0xfff, 2 },
		{ 0x10ff, 1 },	  { 0x1000, 0x100 }, { 0x1000, 1 },	{ 0, 0x10000 },
		{ 0x2fff, 2 },	  { 0x800, 0x2900 }, { 0, UINT64_MAX },
	};
	for (size_t i = 0; i < ARRAY_SIZE(overlaps); i++) {
		capture_begin();
		CHECK_ERR(reg(&bus, overlaps[i].base, overlaps[i].size, &b), -EBUSY);
		err = capture_end();
		/* One line naming both devices. */
		CHECK(!strncmp(err, "coho: error: ", 13));
		CHECK(strstr(err, "of b overlaps a\n") || strstr(err, "of b overlaps c\n"));
		CHECK(strchr(err, '\n') == err + strlen(err) - 1);
	}
	CHECK_EQ_U64(bus.nr, 2);

	/* Empty and overflowing ranges. */
	CHECK_ERR(reg(&bus, 0x5000, 0, &b), -EINVAL);
	CHECK_ERR(reg(&bus, UINT64_MAX, 1, &b), -EINVAL);
	CHECK_ERR(reg(&bus, UINT64_MAX, 2, &b), -EINVAL);
	CHECK_ERR(reg(&bus, 0x5000, UINT64_MAX, &b), -EINVAL);
	CHECK_ERR(reg(&bus, UINT64_MAX - 0xff, 0x100, &b), -EINVAL); /* ends at 2^64 */
	CHECK_EQ_U64(bus.nr, 2);

	/* Touching is not overlapping, on either side. */
	CHECK_EQ_U64(reg(&bus, 0x1100, 0x100, &b), 0);
	CHECK_EQ_U64(reg(&bus, 0xf00, 0x100, &b), 0);
	CHECK_EQ_U64(reg(&bus, 0x1200, 0x1e00, &b), 0); /* fills the gap up to c exactly */
	CHECK_EQ_U64(bus.nr, 5);
	for (size_t i = 1; i < bus.nr; i++)
		CHECK(bus.regions[i - 1].base + bus.regions[i - 1].size <= bus.regions[i].base);
	/* Up to the last byte of the address space. */
	CHECK_EQ_U64(reg(&bus, UINT64_MAX - 0xff, 0xff, &b), 0);
	CHECK_EQ_U64(bus.nr, 6);
	CHECK(bus.regions[5].base == UINT64_MAX - 0xff);
	mmio_bus_free(&bus);
	CHECK(bus.regions == NULL);
	CHECK_EQ_U64(bus.nr, 0);
}

static void test_dispatch(void)
{
	struct dev devs[3] = { { .name = "uart" }, { .name = "rtc" }, { .name = "top" } };
	struct mmio_bus bus = { 0 };
	u8 data[8];

	CHECK_EQ_U64(reg(&bus, 0x09010000, 0x1000, &devs[1]), 0);
	CHECK_EQ_U64(reg(&bus, 0x09000000, 0x1000, &devs[0]), 0);
	CHECK_EQ_U64(reg(&bus, UINT64_MAX - 0xff, 0xff, &devs[2]), 0);

	/* Reads: the device sees its own offset and fills the data. */
	memset(data, 0xee, sizeof(data));
	CHECK(mmio_bus_access(&bus, 0x09000005, data, 1, false));
	CHECK(last_dev == &devs[0]);
	CHECK_EQ_U64(devs[0].offset, 5);
	CHECK_EQ_U64(devs[0].len, 1);
	CHECK(!devs[0].is_write);
	CHECK_EQ_U64(data[0], 0x15);
	CHECK_EQ_U64(data[1], 0xee); /* only len bytes */

	CHECK(mmio_bus_access(&bus, 0x09010ff8, data, 8, false));
	CHECK(last_dev == &devs[1]);
	CHECK_EQ_U64(devs[1].offset, 0xff8);
	CHECK_EQ_U64(devs[1].len, 8);
	CHECK_EQ_U64(data[7], (u8)(0xff8 + 7 + 0x10));
	CHECK(mmio_bus_access(&bus, 0x09010000, data, 4, false));
	CHECK_EQ_U64(devs[1].offset, 0);
	CHECK_EQ_U64(devs[1].len, 4);

	/* Writes: the device gets the bytes. */
	memcpy(data, "\x11\x22\x33\x44", 4);
	CHECK(mmio_bus_access(&bus, 0x09000ffc, data, 4, true));
	CHECK(last_dev == &devs[0]);
	CHECK(devs[0].is_write);
	CHECK_EQ_U64(devs[0].offset, 0xffc);
	CHECK_EQ_U64(devs[0].len, 4);
	CHECK(!memcmp(devs[0].wdata, "\x11\x22\x33\x44", 4));
	CHECK_EQ_U64(devs[0].calls, 2);
	CHECK_EQ_U64(devs[1].calls, 2);

	/* The region at the top of the address space, last byte. */
	CHECK(mmio_bus_access(&bus, UINT64_MAX - 1, data, 1, false));
	CHECK(last_dev == &devs[2]);
	CHECK_EQ_U64(devs[2].offset, 0xfe);
	/* Straddling its end (and 2^64): not dispatched. */
	last_dev = NULL;
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, UINT64_MAX - 1, data, 2, false));
	CHECK(last_dev == NULL);
	CHECK(!mmio_bus_access(&bus, UINT64_MAX - 3, data, 8, false));
	CHECK(last_dev == NULL);
	CHECK_EQ_U64(get_le64(data), 0);
	mmio_bus_free(&bus);
}

static void test_not_dispatched(void)
{
	struct dev devs[2] = { { .name = "lo" }, { .name = "hi" } };
	struct mmio_bus bus = { 0 };
	u8 data[16];
	unsigned unhandled;

	CHECK_EQ_U64(reg(&bus, 0x5000, 0x10, &devs[0]), 0);
	CHECK_EQ_U64(reg(&bus, 0x5010, 0x10, &devs[1]), 0);
	reset_devs(devs, 2);

	/* Straddling the end of a region (into nothing): read returns zeros, false. */
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x501e, data, 4, false));
	CHECK_EQ_U64(get_le32(data), 0);
	CHECK_EQ_U64(data[4], 0xee);
	/* Straddling two adjacent regions: neither gets it. */
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x500e, data, 4, false));
	CHECK_EQ_U64(get_le32(data), 0);
	/* Starting before a region and ending in it. */
	CHECK(!mmio_bus_access(&bus, 0x4ffe, data, 4, false));
	/* A straddling write is dropped. */
	memset(data, 0x77, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x500c, data, 8, true));
	CHECK_EQ_U64(devs[0].calls + devs[1].calls, 0);

	/* Unclaimed addresses: zeros and false; writes ignored. */
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x1234, data, 8, false));
	CHECK_EQ_U64(get_le64(data), 0);
	CHECK(!mmio_bus_access(&bus, 0x5020, data, 1, false));
	CHECK(!mmio_bus_access(&bus, 0x4fff, data, 1, false));
	CHECK(!mmio_bus_access(&bus, 0, data, 1, true));
	CHECK(!mmio_bus_access(&bus, UINT64_MAX, data, 1, false));
	CHECK(!mmio_bus_access(&bus, UINT64_MAX - 3, data, 8, false));
	/* Bad lengths inside a region are not dispatched either; reads clear at most 8 bytes. */
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x5000, data, 16, false));
	CHECK_EQ_U64(get_le64(data), 0);
	CHECK_EQ_U64(data[8], 0xee);
	CHECK(!mmio_bus_access(&bus, 0x5000, data, 0, false));
	CHECK_EQ_U64(devs[0].calls + devs[1].calls, 0);
	unhandled = bus.unhandled;
	CHECK_EQ_U64(unhandled, 12);

	/* An empty bus. */
	mmio_bus_free(&bus);
	memset(data, 0xee, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x5000, data, 2, false));
	CHECK_EQ_U64(get_le16(data), 0);
}

/* Many regions registered in a scrambled order: the binary search finds each and no gap. */
static void test_many_regions(void)
{
	enum { N = 257 };
	static struct dev devs[N];
	struct mmio_bus bus = { 0 };
	bool ok = true;
	u8 v;

	for (u32 i = 0; i < N; i++) {
		u32 k = (i * 97) % N; /* 97 is coprime with 257: a permutation */

		devs[k].name = "dev";
		ok = ok && reg(&bus, 0x100000 + (u64)k * 0x1000, 0x800, &devs[k]) == 0;
	}
	CHECK(ok);
	CHECK_EQ_U64(bus.nr, N);
	for (u32 i = 0; i < N; i++) {
		u64 base = 0x100000 + (u64)i * 0x1000;

		ok = ok && bus.regions[i].base == base;
		last_dev = NULL;
		ok = ok && mmio_bus_access(&bus, base, &v, 1, false) && last_dev == &devs[i] &&
		     devs[i].offset == 0;
		ok = ok && mmio_bus_access(&bus, base + 0x7ff, &v, 1, false) &&
		     last_dev == &devs[i] && devs[i].offset == 0x7ff;
		last_dev = NULL;
		ok = ok && !mmio_bus_access(&bus, base + 0x800, &v, 1, false) && !last_dev;
		ok = ok && !mmio_bus_access(&bus, base - 1, &v, 1, false) && !last_dev;
	}
	CHECK(ok);
	mmio_bus_free(&bus);
}

TEST_MAIN(test_sorted_any_order, test_register_errors, test_dispatch, test_not_dispatched,
	  test_many_regions)
