// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/virtqueue.c: a fake driver writes descriptor tables and rings into
 * guest RAM the way a guest would, and the device side must return exactly
 * the right iovecs and used entries, suppress and send notifications as the
 * spec says (with and without EVENT_IDX, across the 16-bit wrap), and turn
 * every malformed ring (loops, long chains, bad indexes, buffers outside RAM,
 * overflowing lengths, bad indirect tables, readable-after-writable, an avail
 * index too far ahead) into a broken queue with exactly one log line.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_mem.h"
#include "virtio/virtqueue.h"
#include "tests/unit/guest_ram.h"
#include "tests/unit/test.h"
#include "tests/unit/capture.h"

#define BASE 0x40000000ULL
#define RAM  (16 * SZ_1M)

/* Guest physical layout of the fake driver's queue. */
#define DESC  (BASE + 0x100000) /* up to 32768 * 16 = 512 KiB */
#define AVAIL (BASE + 0x200000)
#define USED  (BASE + 0x300000)
#define IND   (BASE + 0x400000) /* indirect tables */
#define DATA  (BASE + 0x800000) /* buffers */

#define F_NEXT	   1
#define F_WRITE	   2
#define F_INDIRECT 4

#define FEAT_INDIRECT (1ULL << VIRTIO_F_INDIRECT_DESC)
#define FEAT_EVENT    (1ULL << VIRTIO_F_EVENT_IDX)
#define FEAT_V1	      (1ULL << VIRTIO_F_VERSION_1)

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

static struct guest_mem mem;
static struct virtqueue vq;
static struct vq_elem *el; /* ~32 KiB: on the heap */
static u16 qsize;
static u16 drv_avail; /* the driver's avail idx */

/* ---- the fake driver: little-endian stores into guest RAM ---- */

/* Descriptor @i of the table at @table. */
static void desc(u64 table, u32 i, u64 addr, u32 len, u16 flags, u16 next)
{
	u64 d = table + 16ULL * i;

	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void avail_publish(u16 idx)
{
	u16 *p = (u16 *)hva(AVAIL + 2, 2);

	__atomic_store_n(p, htole16(idx), __ATOMIC_RELEASE);
}

/* Offer the chain at @head. */
static void drv_add(u16 head)
{
	put16(AVAIL + 4 + 2ULL * (drv_avail % qsize), head);
	avail_publish(++drv_avail);
}

static u16 used_idx(void)
{
	return get16(USED + 2);
}

static u32 used_id(u16 i)
{
	return get32(USED + 4 + 8ULL * (i % qsize));
}

static u32 used_len(u16 i)
{
	return get32(USED + 8 + 8ULL * (i % qsize));
}

static void set_avail_flags(u16 f)
{
	put16(AVAIL, f);
}

static void set_used_event(u16 v)
{
	put16(AVAIL + 4 + 2ULL * qsize, v);
}

static u16 avail_event(void)
{
	return get16(USED + 4 + 8ULL * qsize);
}

/* A fresh queue of @size over zeroed rings. */
static void setup(u16 size, u64 features)
{
	u32 n = size ? size : 1;

	memset(hva(DESC, 16ULL * n), 0, 16ULL * n);
	memset(hva(AVAIL, 6 + 2ULL * n), 0, 6 + 2ULL * n);
	memset(hva(USED, 6 + 8ULL * n), 0, 6 + 8ULL * n);
	memset(hva(IND, 0x20000), 0, 0x20000);
	qsize = size;
	drv_avail = 0;
	CHECK_EQ_U64(vq_init(&vq, &mem, "test-vq", size, DESC, AVAIL, USED, features), 0);
	memset(el, 0x5a, sizeof(*el));
}

/* The iovec @iov is exactly guest [gpa, gpa + len). */
static bool iov_is(const struct iovec *iov, u64 gpa, u64 len)
{
	return iov->iov_base == gpa_to_hva(&mem, gpa, len) && iov->iov_len == len;
}

/* The next vq_pop() must break the queue with one line mentioning @needle. */
static void expect_broken(const char *needle)
{
	u16 last = vq.last_avail;
	const char *out;
	int r1, r2;
	bool work;

	capture_begin();
	r1 = vq_pop(&vq, el);
	r2 = vq_pop(&vq, el);
	work = vq_has_work(&vq);
	out = capture_end();
	CHECK_ERR(r1, -EINVAL);
	CHECK_ERR(r2, -EINVAL);
	CHECK(vq.broken);
	CHECK(!work);
	CHECK_EQ_U64(vq.last_avail, last);
	CHECK_EQ_U64(count_lines(out), 1);
	CHECK(strstr(out, "test-vq") != NULL);
	CHECK(strstr(out, needle) != NULL);
	if (!strstr(out, needle))
		fprintf(stderr, "  (%s) log was: %s", test_current, out);
	/* More valid work does not revive it, and logs nothing more. */
	desc(DESC, 0, DATA, 16, 0, 0);
	drv_add(0);
	capture_begin();
	r1 = vq_pop(&vq, el);
	out = capture_end();
	CHECK_ERR(r1, -EINVAL);
	CHECK_EQ_U64(strlen(out), 0);
}

/* ---- vq_init / vq_reset ---- */

static void test_init(void)
{
	static const u16 sizes[] = { 1, 2, 3, 256, 1000, 32768 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		setup(sizes[i], FEAT_V1);
		CHECK_EQ_U64(vq.size, sizes[i]);
		CHECK(vq.mem == &mem);
		CHECK_EQ_U64(vq.desc_gpa, DESC);
		CHECK_EQ_U64(vq.avail_gpa, AVAIL);
		CHECK_EQ_U64(vq.used_gpa, USED);
		CHECK(!vq.event_idx && !vq.indirect && !vq.broken);
		CHECK_EQ_U64(vq.last_avail, 0);
		CHECK_EQ_U64(vq.used_idx, 0);
		CHECK_STR(vq.name, "test-vq");
		CHECK_EQ_U64(vq_pop(&vq, el), 0);
		CHECK(!vq_has_work(&vq));
	}
	setup(8, FEAT_V1 | FEAT_EVENT | FEAT_INDIRECT);
	CHECK(vq.event_idx && vq.indirect);
	setup(8, FEAT_EVENT);
	CHECK(vq.event_idx && !vq.indirect);

	/* Rings that end exactly at the end of RAM (used_event / avail_event included). */
	CHECK_EQ_U64(
	    vq_init(&vq, &mem, "q", 4, BASE + RAM - 64, BASE + RAM - 14, BASE + RAM - 40, 0), 0);
	/* RAM's first bytes. */
	CHECK_EQ_U64(vq_init(&vq, &mem, "q", 4, BASE, BASE + 64, BASE + 80, 0), 0);
}

static void expect_init_fails(u16 size, u64 d, u64 a, u64 u, const char *needle)
{
	const char *out;
	int r;

	memset(&vq, 0x77, sizeof(vq));
	capture_begin();
	r = vq_init(&vq, &mem, "bad-vq", size, d, a, u, FEAT_EVENT);
	out = capture_end();
	CHECK_ERR(r, -EINVAL);
	CHECK_EQ_U64(vq.size, 0);
	CHECK_EQ_U64(count_lines(out), 1);
	CHECK(strstr(out, "bad-vq") != NULL);
	CHECK(strstr(out, needle) != NULL);
	if (!strstr(out, needle))
		fprintf(stderr, "  (%s) log was: %s", test_current, out);
	/* A queue that is not set up does nothing and touches no memory. */
	capture_begin();
	CHECK_ERR(vq_pop(&vq, el), -EINVAL);
	CHECK(!vq_has_work(&vq));
	CHECK(!vq_should_notify(&vq));
	vq_set_notify(&vq, true);
	el->head = 0;
	el->in_len = 0;
	vq_push(&vq, el, 0);
	out = capture_end();
	CHECK_EQ_U64(strlen(out), 0);
}

static void test_init_errors(void)
{
	const u64 end = BASE + RAM;
	struct guest_mem odd;
	const char *out;
	int r;

	expect_init_fails(0, DESC, AVAIL, USED, "size");
	expect_init_fails(32769, DESC, AVAIL, USED, "size");
	expect_init_fails(65535, DESC, AVAIL, USED, "size");
	/* Alignment: 16, 2, 4. */
	expect_init_fails(8, DESC + 8, AVAIL, USED, "misaligned");
	expect_init_fails(8, DESC + 1, AVAIL, USED, "misaligned");
	expect_init_fails(8, DESC, AVAIL + 1, USED, "misaligned");
	expect_init_fails(8, DESC, AVAIL, USED + 2, "misaligned");
	expect_init_fails(8, DESC, AVAIL, USED + 1, "misaligned");
	/* Descriptor table: one entry past the end, below RAM, wrapping around 2^64. */
	expect_init_fails(4, end - 48, AVAIL, USED, "descriptor table");
	expect_init_fails(4, BASE - 16, AVAIL, USED, "descriptor table");
	expect_init_fails(4, 0, AVAIL, USED, "descriptor table");
	expect_init_fails(4, 0xfffffffffffffff0ULL, AVAIL, USED, "descriptor table");
	expect_init_fails(32768, end - 0x40000, AVAIL, USED, "descriptor table");
	/* Available ring: its used_event (the last 2 bytes) must be in RAM too. */
	expect_init_fails(4, DESC, end - 12, USED, "available ring");
	expect_init_fails(4, DESC, BASE - 2, USED, "available ring");
	expect_init_fails(4, DESC, 0xfffffffffffffffeULL, USED, "available ring");
	/* Used ring: likewise its avail_event. */
	expect_init_fails(4, DESC, AVAIL, end - 36, "used ring");
	expect_init_fails(4, DESC, AVAIL, BASE - 4, "used ring");
	expect_init_fails(4, DESC, AVAIL, 0xfffffffffffffffcULL, "used ring");
	expect_init_fails(32768, DESC, AVAIL, end - 0x40000, "used ring");

	/*
	 * RAM whose guest base is not 16-byte aligned: a 16-aligned guest
	 * address is then misaligned on the host, where the ring is accessed.
	 */
	CHECK_EQ_U64(guest_mem_init(&odd, BASE + 8, SZ_1M), 0);
	capture_begin();
	r = vq_init(&vq, &odd, "bad-vq", 8, BASE + 16, BASE + 0x1000, BASE + 0x2000, 0);
	out = capture_end();
	CHECK_ERR(r, -EINVAL);
	CHECK(strstr(out, "misaligned") != NULL);
	guest_mem_destroy(&odd);

	/* No guest memory at all. */
	capture_begin();
	r = vq_init(&vq, NULL, "bad-vq", 8, DESC, AVAIL, USED, 0);
	out = capture_end();
	CHECK_ERR(r, -EINVAL);
	CHECK_EQ_U64(count_lines(out), 1);
	CHECK_EQ_U64(vq.size, 0);
	CHECK_ERR(vq_pop(&vq, el), -EINVAL);
	CHECK(!vq_should_notify(&vq));
}

static void test_reset(void)
{
	setup(4, FEAT_EVENT);
	desc(DESC, 1, DATA, 8, 0, 0);
	drv_add(1);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	vq_push(&vq, el, 0);
	drv_add(7); /* out of range: breaks */
	capture_begin();
	CHECK_ERR(vq_pop(&vq, el), -EINVAL);
	capture_end();
	CHECK(vq.broken);

	vq_reset(&vq);
	CHECK_EQ_U64(vq.size, 0);
	CHECK(!vq.broken && !vq.event_idx);
	CHECK_EQ_U64(vq.last_avail, 0);
	CHECK_EQ_U64(vq.used_idx, 0);
	CHECK_STR(vq.name, "test-vq");
	CHECK_ERR(vq_pop(&vq, el), -EINVAL);
	CHECK(!vq_has_work(&vq));

	/* The driver sets the queue up again: it works from index 0. */
	setup(4, 0);
	desc(DESC, 3, DATA, 8, 0, 0);
	drv_add(3);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 3);
}

/* ---- well-formed chains ---- */

static void test_pop_push(void)
{
	setup(8, FEAT_V1);
	/* Two device-readable buffers, then two writable ones, not in table order. */
	desc(DESC, 5, DATA + 0x100, 16, F_NEXT, 2);
	desc(DESC, 2, DATA + 0x1000, 4096, F_NEXT, 7);
	desc(DESC, 7, DATA + 0x3000, 100, F_NEXT | F_WRITE, 0);
	desc(DESC, 0, DATA + 0x5000, 1, F_WRITE, 6); /* next ignored without NEXT */
	CHECK(!vq_has_work(&vq));
	drv_add(5);
	CHECK(vq_has_work(&vq));
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 5);
	CHECK_EQ_U64(el->nout, 2);
	CHECK_EQ_U64(el->nin, 2);
	CHECK(iov_is(&el->out[0], DATA + 0x100, 16));
	CHECK(iov_is(&el->out[1], DATA + 0x1000, 4096));
	CHECK(iov_is(&el->in[0], DATA + 0x3000, 100));
	CHECK(iov_is(&el->in[1], DATA + 0x5000, 1));
	CHECK_EQ_U64(el->out_len, 16 + 4096);
	CHECK_EQ_U64(el->in_len, 101);
	CHECK_EQ_U64(vq.last_avail, 1);
	CHECK(!vq_has_work(&vq));
	CHECK_EQ_U64(vq_pop(&vq, el), 0);

	/* Nothing is used until pushed. */
	CHECK_EQ_U64(used_idx(), 0);
	vq_push(&vq, el, 77);
	CHECK_EQ_U64(used_idx(), 1);
	CHECK_EQ_U64(used_id(0), 5);
	CHECK_EQ_U64(used_len(0), 77);
	CHECK_EQ_U64(vq.used_idx, 1);

	/* A single readable descriptor; a single writable one. */
	desc(DESC, 1, DATA, 512, 0, 0);
	desc(DESC, 3, DATA + 0x8000, 64, F_WRITE, 0);
	drv_add(1);
	drv_add(3);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 1);
	CHECK(el->nout == 1 && el->nin == 0 && el->out_len == 512 && el->in_len == 0);
	CHECK(iov_is(&el->out[0], DATA, 512));
	vq_push(&vq, el, 0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 3);
	CHECK(el->nout == 0 && el->nin == 1 && el->in_len == 64);
	CHECK(iov_is(&el->in[0], DATA + 0x8000, 64));
	/* @written is clamped to the writable bytes: the driver trusts used.len. */
	vq_push(&vq, el, 1000);
	CHECK_EQ_U64(used_idx(), 3);
	CHECK_EQ_U64(used_id(1), 1);
	CHECK_EQ_U64(used_len(1), 0);
	CHECK_EQ_U64(used_id(2), 3);
	CHECK_EQ_U64(used_len(2), 64);
	CHECK_EQ_U64(vq_pop(&vq, el), 0);
	CHECK(!vq.broken);

	/* Buffers at the very edges of RAM. */
	desc(DESC, 4, BASE, 1, F_NEXT, 6);
	desc(DESC, 6, BASE + RAM - 3, 3, F_WRITE, 0);
	drv_add(4);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(iov_is(&el->out[0], BASE, 1));
	CHECK(iov_is(&el->in[0], BASE + RAM - 3, 3));
	/* One buffer covering all of RAM. */
	desc(DESC, 4, BASE, (u32)RAM, 0, 0);
	drv_add(4);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(iov_is(&el->out[0], BASE, RAM));
}

/* Fill the ring completely (avail exactly size ahead), out of order completion. */
static void test_full_ring(void)
{
	const u16 n = 16;

	setup(n, 0);
	for (u16 i = 0; i < n; i++) {
		desc(DESC, i, DATA + 0x100ULL * i, 0x10 + i, F_WRITE, 0);
		drv_add((u16)(n - 1 - i));
	}
	for (u16 i = 0; i < n; i++) {
		CHECK_EQ_U64(vq_pop(&vq, el), 1);
		CHECK_EQ_U64(el->head, n - 1 - i);
		CHECK(iov_is(&el->in[0], DATA + 0x100ULL * (n - 1 - i), 0x10 + n - 1 - i));
	}
	CHECK_EQ_U64(vq_pop(&vq, el), 0);
	CHECK(!vq.broken);
}

/*
 * A merged receive: several chains filled, invisible to the driver until one
 * flush publishes them together; unpop hands chains back untouched.
 */
static void test_fill_flush_unpop(void)
{
	const u16 n = 6; /* not a power of two: slots wrap by % size */

	setup(n, 0);
	for (u16 i = 0; i < n; i++)
		desc(DESC, i, DATA + 0x100ULL * i, 0x80, F_WRITE, 0);
	/* Move the used index near the ring's end first. */
	for (u16 i = 0; i < 4; i++) {
		drv_add(i);
		CHECK_EQ_U64(vq_pop(&vq, el), 1);
		vq_push(&vq, el, 1);
	}
	CHECK_EQ_U64(used_idx(), 4);
	for (u16 i = 0; i < 3; i++)
		drv_add((u16)(5 - i));
	for (u16 i = 0; i < 3; i++) {
		CHECK_EQ_U64(vq_pop(&vq, el), 1);
		CHECK_EQ_U64(el->head, 5 - i);
		vq_fill(&vq, el, 0x10u + i, i);
		/* Filled, not published. */
		CHECK_EQ_U64(used_idx(), 4);
	}
	vq_flush(&vq, 3);
	CHECK_EQ_U64(used_idx(), 7);
	CHECK_EQ_U64(used_id(4), 5);
	CHECK_EQ_U64(used_len(4), 0x10);
	CHECK_EQ_U64(used_id(5), 4);
	CHECK_EQ_U64(used_id(6 % n), 3);
	CHECK_EQ_U64(used_len(6 % n), 0x12);
	/* Clamped like vq_push: never more than the chain's writable bytes. */
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	vq_fill(&vq, el, 0x1000, 0);
	vq_flush(&vq, 1);
	CHECK_EQ_U64(used_len(7 % n), 0x80);

	/* Unpop: the same chains come back in the same order. */
	drv_add(1);
	drv_add(2);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(vq_pop(&vq, el), 0);
	vq_unpop(&vq, 2);
	CHECK(vq_has_work(&vq));
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 1);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 2);
	CHECK_EQ_U64(used_idx(), 8);
	CHECK(!vq.broken);
}

/*
 * Many requests through small rings (one a power of two, one not) so both
 * 16-bit indexes wrap: ring slots are idx % size on both sides.
 */
static void run_wrap(u16 size, u32 rounds)
{
	u32 bad = 0;

	setup(size, 0);
	for (u16 i = 0; i < size; i++)
		desc(DESC, i, DATA + 0x40ULL * i, 0x20, F_WRITE, 0);
	for (u32 r = 0; r < rounds; r++) {
		u16 head = (u16)(r % size);
		u16 before = used_idx();

		drv_add(head);
		if (vq_pop(&vq, el) != 1 || el->head != head ||
		    !iov_is(&el->in[0], DATA + 0x40ULL * head, 0x20))
			bad++;
		vq_push(&vq, el, r & 0x1f);
		if (used_idx() != (u16)(before + 1) || used_id(before) != head ||
		    used_len(before) != (r & 0x1f))
			bad++;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(vq.last_avail, (u16)rounds);
	CHECK_EQ_U64(used_idx(), (u16)rounds);
	CHECK(!vq.broken);
}

static void test_index_wrap(void)
{
	run_wrap(4, 70000);
	run_wrap(5, 70000);
	run_wrap(1, 66000);
}

/* Zero-length descriptors are allowed and produce no iovec; their address is never used. */
static void test_zero_length(void)
{
	setup(8, 0);
	desc(DESC, 0, 0, 0, F_NEXT, 1);
	desc(DESC, 1, DATA, 8, F_NEXT, 2);
	desc(DESC, 2, 0xffffffffffffffffULL, 0, F_WRITE | F_NEXT, 3);
	desc(DESC, 3, DATA + 0x100, 16, F_WRITE, 0);
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->nout, 1);
	CHECK_EQ_U64(el->nin, 1);
	CHECK(iov_is(&el->out[0], DATA, 8));
	CHECK(iov_is(&el->in[0], DATA + 0x100, 16));
	/* A chain of nothing but an empty buffer. */
	desc(DESC, 4, 0, 0, 0, 0);
	drv_add(4);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(el->nout == 0 && el->nin == 0 && el->out_len == 0 && el->in_len == 0);
	vq_push(&vq, el, 5);
	CHECK_EQ_U64(used_len(0), 0);
	CHECK(!vq.broken);
}

/* The longest chains accepted: VIRTQ_MAX_CHAIN descriptors, 2^32 bytes. */
static void test_chain_limits(void)
{
	setup(2048, FEAT_INDIRECT);
	for (u32 i = 0; i < VIRTQ_MAX_CHAIN; i++)
		desc(DESC, i, DATA + i, 1, i + 1 < VIRTQ_MAX_CHAIN ? F_NEXT : 0, (u16)(i + 1));
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->nout, VIRTQ_MAX_CHAIN);
	CHECK_EQ_U64(el->out_len, VIRTQ_MAX_CHAIN);
	CHECK(iov_is(&el->out[VIRTQ_MAX_CHAIN - 1], DATA + VIRTQ_MAX_CHAIN - 1, 1));

	/* Half readable, half writable: both arrays fill as expected. */
	for (u32 i = 0; i < VIRTQ_MAX_CHAIN; i++)
		desc(DESC, i, DATA + i, 1,
		     (i + 1 < VIRTQ_MAX_CHAIN ? F_NEXT : 0) | (i >= 512 ? F_WRITE : 0),
		     (u16)(i + 1));
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(el->nout == 512 && el->nin == 512);

	/* The whole of a 1024-entry indirect table. */
	for (u32 i = 0; i < VIRTQ_MAX_CHAIN; i++)
		desc(IND, i, DATA + 2 * i, 2, i + 1 < VIRTQ_MAX_CHAIN ? F_NEXT : 0, (u16)(i + 1));
	desc(DESC, 9, IND, 16 * VIRTQ_MAX_CHAIN, F_INDIRECT, 0);
	drv_add(9);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->nout, VIRTQ_MAX_CHAIN);
	CHECK_EQ_U64(el->out_len, 2 * VIRTQ_MAX_CHAIN);

	/* 10 direct + 1014 indirect = 1024 in total. */
	for (u32 i = 0; i < 10; i++)
		desc(DESC, 100 + i, DATA, 4, F_NEXT, (u16)(101 + i));
	desc(DESC, 110, IND + 0x8000, 16 * 1014, F_INDIRECT, 0);
	for (u32 i = 0; i < 1014; i++)
		desc(IND + 0x8000, i, DATA, 2, i + 1 < 1014 ? F_NEXT : 0, (u16)(i + 1));
	drv_add(100);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->nout, VIRTQ_MAX_CHAIN);

	/* 256 buffers of all 16 MiB of RAM: exactly 2^32 bytes is still allowed. */
	for (u32 i = 0; i < 256; i++)
		desc(DESC, i, BASE, (u32)RAM, (i < 255 ? F_NEXT : 0) | (i >= 128 ? F_WRITE : 0),
		     (u16)(i + 1));
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->out_len + el->in_len, 1ULL << 32);
	CHECK_EQ_U64(el->in_len, 1ULL << 31);
	vq_push(&vq, el, 0xffffffff); /* clamped to the 2^31 writable bytes */
	CHECK_EQ_U64(used_len((u16)(vq.used_idx - 1)), 1ULL << 31);
	/* All writable: 2^32 bytes, the largest used.len fits. */
	for (u32 i = 0; i < 256; i++)
		desc(DESC, i, BASE, (u32)RAM, (i < 255 ? F_NEXT : 0) | F_WRITE, (u16)(i + 1));
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->in_len, 1ULL << 32);
	CHECK_EQ_U64(el->nin, 256);
	vq_push(&vq, el, 0xffffffff);
	CHECK_EQ_U64(used_len((u16)(vq.used_idx - 1)), 0xffffffff);
	CHECK(!vq.broken);
}

/* ---- indirect descriptors ---- */

static void test_indirect(void)
{
	setup(8, FEAT_INDIRECT | FEAT_V1);
	/* Table entries chained 0 -> 2 -> 1; WRITE on the referring descriptor is ignored. */
	desc(IND, 0, DATA, 100, F_NEXT, 2);
	desc(IND, 2, DATA + 0x1000, 50, F_NEXT, 1);
	desc(IND, 1, DATA + 0x2000, 200, F_WRITE, 0);
	desc(DESC, 3, IND, 48, F_INDIRECT | F_WRITE, 0);
	drv_add(3);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(el->head, 3);
	CHECK(el->nout == 2 && el->nin == 1);
	CHECK(iov_is(&el->out[0], DATA, 100));
	CHECK(iov_is(&el->out[1], DATA + 0x1000, 50));
	CHECK(iov_is(&el->in[0], DATA + 0x2000, 200));
	CHECK(el->out_len == 150 && el->in_len == 200);
	vq_push(&vq, el, 200);
	CHECK_EQ_U64(used_id(0), 3);
	CHECK_EQ_U64(used_len(0), 200);

	/* Entries after the end of the chain are never looked at. */
	desc(IND, 0, DATA, 8, F_WRITE, 0);
	desc(IND, 1, 0, 0xffffffff, F_INDIRECT | F_NEXT, 9999);
	desc(DESC, 0, IND, 32, F_INDIRECT, 0);
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(el->nout == 0 && el->nin == 1 && iov_is(&el->in[0], DATA, 8));

	/*
	 * An indirect table only 8-byte (or not at all) aligned: the driver's
	 * allocator decides, the spec asks for no alignment.
	 */
	desc(IND + 0x1008, 0, DATA + 0x10, 10, F_NEXT, 1);
	desc(IND + 0x1008, 1, DATA + 0x20, 20, F_WRITE, 0);
	desc(DESC, 1, IND + 0x1008, 32, F_INDIRECT, 0);
	drv_add(1);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(iov_is(&el->out[0], DATA + 0x10, 10) && iov_is(&el->in[0], DATA + 0x20, 20));
	desc(IND + 0x2003, 0, DATA + 0x30, 30, 0, 0);
	desc(DESC, 1, IND + 0x2003, 16, F_INDIRECT, 0);
	drv_add(1);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(el->nout == 1 && iov_is(&el->out[0], DATA + 0x30, 30));

	/* Direct descriptors followed by one indirect (the spec requires handling it). */
	desc(IND + 0x3000, 0, DATA + 0x300, 3, F_NEXT, 1);
	desc(IND + 0x3000, 1, DATA + 0x400, 4, F_WRITE, 0);
	desc(DESC, 4, DATA + 0x100, 1, F_NEXT, 6);
	desc(DESC, 6, DATA + 0x200, 2, F_NEXT, 5);
	desc(DESC, 5, IND + 0x3000, 32, F_INDIRECT, 0);
	drv_add(4);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(el->nout == 3 && el->nin == 1);
	CHECK(iov_is(&el->out[0], DATA + 0x100, 1));
	CHECK(iov_is(&el->out[1], DATA + 0x200, 2));
	CHECK(iov_is(&el->out[2], DATA + 0x300, 3));
	CHECK(iov_is(&el->in[0], DATA + 0x400, 4));
	CHECK(!vq.broken);
}

/* ---- notifications ---- */

/* Offer, take and return one 8-byte writable buffer; failures are counted, not CHECKed. */
static u32 push_fails;

static void push_one(u16 head)
{
	desc(DESC, head, DATA, 8, F_WRITE, 0);
	drv_add(head);
	if (vq_pop(&vq, el) != 1 || el->head != head) {
		push_fails++;
		return;
	}
	vq_push(&vq, el, 8);
}

static void test_notify_flags(void)
{
	setup(8, 0);
	/* Driver-side suppression: avail flags. */
	push_one(0);
	CHECK(vq_should_notify(&vq));
	CHECK(!vq_should_notify(&vq)); /* nothing new since */
	push_one(1);
	push_one(2);
	CHECK(vq_should_notify(&vq));
	set_avail_flags(1); /* NO_INTERRUPT */
	push_one(3);
	CHECK(!vq_should_notify(&vq));
	set_avail_flags(0);
	push_one(4);
	CHECK(vq_should_notify(&vq));
	/* used_event is ignored without EVENT_IDX. */
	set_used_event(100);
	push_one(5);
	CHECK(vq_should_notify(&vq));

	/* Device-side suppression: used flags; avail_event is not touched. */
	put16(USED + 4 + 8ULL * qsize, 0x1234);
	vq_set_notify(&vq, false);
	CHECK_EQ_U64(get16(USED), 1);
	vq_set_notify(&vq, true);
	CHECK_EQ_U64(get16(USED), 0);
	CHECK_EQ_U64(avail_event(), 0x1234);
	CHECK(!vq_has_work(&vq));
	drv_add(0);
	CHECK(vq_has_work(&vq));
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK(!vq_has_work(&vq));
	CHECK_EQ_U64(push_fails, 0);
}

static void test_notify_event_idx(void)
{
	u32 notified = 0, expected = 0;

	setup(8, FEAT_EVENT);
	/* The first decision after set-up always notifies. */
	set_used_event(50);
	push_one(0);
	CHECK(vq_should_notify(&vq));
	/* used_event = 5: notify exactly when used idx passes 5 -> 6. */
	set_used_event(5);
	for (u16 i = 1; i < 10; i++) {
		push_one(i % 8);
		CHECK_EQ_U64(vq_should_notify(&vq), vq.used_idx == 6);
	}
	/* A batch crossing used_event notifies once. */
	set_used_event(11);
	push_one(0);
	push_one(1);
	push_one(2); /* 10 -> 13 */
	CHECK(vq_should_notify(&vq));
	CHECK(!vq_should_notify(&vq));
	/* A batch that ended before used_event does not. */
	set_used_event(20);
	push_one(3);
	push_one(4);
	CHECK(!vq_should_notify(&vq));
	/* NO_INTERRUPT is ignored with EVENT_IDX (the spec: device MUST ignore it). */
	set_avail_flags(1);
	set_used_event(vq.used_idx);
	push_one(5);
	CHECK(vq_should_notify(&vq));
	set_avail_flags(0);

	/* Run past the 16-bit wrap, asking for an interrupt every 7th buffer. */
	for (u32 r = 0; r < 70000; r++) {
		u16 before = vq.used_idx;

		if (r % 7 == 0)
			set_used_event(before);
		push_one((u16)(r % 8));
		if (r % 7 == 0)
			expected++;
		notified += vq_should_notify(&vq);
	}
	CHECK_EQ_U64(notified, expected);

	/* used_event 0xffff: notify exactly on the wrap from 0xffff to 0. */
	while (vq.used_idx != 0xfffd)
		push_one(0);
	vq_should_notify(&vq);
	set_used_event(0xffff);
	push_one(0); /* -> 0xfffe */
	CHECK(!vq_should_notify(&vq));
	push_one(0); /* -> 0xffff */
	CHECK(!vq_should_notify(&vq));
	push_one(0); /* -> 0: entry 0xffff written */
	CHECK(vq_should_notify(&vq));
	CHECK_EQ_U64(vq.used_idx, 0);
	/* A batch across the wrap passing used_event = 0. */
	while (vq.used_idx != 0xfffe)
		push_one(0);
	vq_should_notify(&vq);
	set_used_event(0);
	push_one(0);
	push_one(0);
	CHECK(!vq_should_notify(&vq)); /* at 0: entry 0 not yet written */
	push_one(0);
	push_one(0);
	CHECK(vq_should_notify(&vq)); /* 0 -> 2 */

	/* Device side: avail_event = last_avail on enable; flags always 0. */
	CHECK_EQ_U64(used_idx(), vq.used_idx);
	vq_set_notify(&vq, true);
	CHECK_EQ_U64(avail_event(), vq.last_avail);
	CHECK_EQ_U64(get16(USED), 0);
	vq_set_notify(&vq, false);
	CHECK_EQ_U64(get16(USED), 0);
	CHECK_EQ_U64(avail_event(), vq.last_avail);
	push_one(1);
	push_one(2);
	CHECK_EQ_U64(avail_event(), (u16)(vq.last_avail - 2)); /* disabled: left behind */
	vq_set_notify(&vq, true);
	CHECK_EQ_U64(avail_event(), vq.last_avail);
	CHECK(!vq_has_work(&vq));
	drv_add(1);
	CHECK(vq_has_work(&vq));
	CHECK_EQ_U64(push_fails, 0);
}

/* ---- hostile rings ---- */

static void test_bad_index(void)
{
	/* Head out of range. */
	setup(8, 0);
	drv_add(8);
	expect_broken("head descriptor 8");
	setup(8, 0);
	drv_add(0xffff);
	expect_broken("out of range");

	/* next out of range. */
	setup(8, 0);
	desc(DESC, 0, DATA, 8, F_NEXT, 8);
	drv_add(0);
	expect_broken("next 8");

	/* avail idx more than size ahead; exactly size ahead is fine (test_full_ring). */
	setup(8, 0);
	avail_publish(9);
	expect_broken("ahead");
	setup(8, 0);
	avail_publish(0x8000);
	expect_broken("ahead");
	/* ... also after some entries were taken (idx moved backwards = far ahead). */
	setup(8, 0);
	push_one(1);
	push_one(2);
	avail_publish(1);
	expect_broken("ahead");
	CHECK_EQ_U64(push_fails, 0);
}

static void test_loops(void)
{
	/* a -> b -> a */
	setup(8, 0);
	desc(DESC, 2, DATA, 8, F_NEXT, 5);
	desc(DESC, 5, DATA, 8, F_NEXT, 2);
	drv_add(2);
	expect_broken("longer than 8");
	/* A descriptor pointing at itself, in a one-entry queue. */
	setup(1, 0);
	desc(DESC, 0, DATA, 8, F_NEXT, 0);
	drv_add(0);
	expect_broken("longer than 1");
	/* A loop of zero-length descriptors is still a loop. */
	setup(16, 0);
	desc(DESC, 3, 0, 0, F_NEXT, 3);
	drv_add(3);
	expect_broken("longer than 16");
	/* 1025 distinct descriptors in a large queue. */
	setup(2048, 0);
	for (u32 i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		desc(DESC, i, DATA, 1, F_NEXT, (u16)(i + 1));
	drv_add(0);
	expect_broken("longer than 1024");
}

static void test_bad_buffers(void)
{
	static const struct {
		u64 addr;
		u32 len;
	} bad[] = {
		{ BASE + RAM - 8, 16 },		  /* straddles the end */
		{ BASE + RAM, 1 },		  /* just past */
		{ BASE - 4, 8 },		  /* straddles the start */
		{ 0, 1 },			  /* far below */
		{ 0xffffffffffffff00ULL, 0x200 }, /* addr + len overflows u64 */
		{ 0xffffffffffffffffULL, 1 },
		{ BASE + 1, 0xffffffff }, /* huge */
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		/* 1 + 0xffffffff is exactly 2^32 bytes: only the address can be wrong. */
		setup(8, 0);
		desc(DESC, 0, DATA, 1, F_NEXT, 1);
		desc(DESC, 1, bad[i].addr, bad[i].len, F_WRITE, 0);
		drv_add(0);
		expect_broken("outside RAM");
	}
	/* Lengths whose sum passes 2^32: 257 buffers of all of RAM. */
	setup(512, 0);
	for (u32 i = 0; i < 257; i++)
		desc(DESC, i, BASE, (u32)RAM, F_NEXT, (u16)(i + 1));
	desc(DESC, 256, BASE, (u32)RAM, 0, 0);
	drv_add(0);
	expect_broken("2^32");
	/* The same with 0xffffffff-byte descriptors that would also be outside RAM. */
	setup(8, 0);
	desc(DESC, 0, BASE, (u32)RAM, F_NEXT, 1);
	desc(DESC, 1, BASE, 0xffffffff, 0, 0);
	drv_add(0);
	expect_broken("2^32");
}

static void test_write_then_read(void)
{
	setup(8, FEAT_INDIRECT);
	desc(DESC, 0, DATA, 8, F_NEXT, 1);
	desc(DESC, 1, DATA + 8, 8, F_WRITE | F_NEXT, 2);
	desc(DESC, 2, DATA + 16, 8, 0, 0);
	drv_add(0);
	expect_broken("readable descriptor after a writable");
	/* A zero-length writable one counts too. */
	setup(8, 0);
	desc(DESC, 0, 0, 0, F_WRITE | F_NEXT, 1);
	desc(DESC, 1, DATA, 8, 0, 0);
	drv_add(0);
	expect_broken("after a writable");
	/* Writable direct, then a readable one inside the indirect table. */
	setup(8, FEAT_INDIRECT);
	desc(IND, 0, DATA, 8, 0, 0);
	desc(DESC, 0, DATA, 8, F_WRITE | F_NEXT, 1);
	desc(DESC, 1, IND, 16, F_INDIRECT, 0);
	drv_add(0);
	expect_broken("after a writable");
	/* Inside the table. */
	setup(8, FEAT_INDIRECT);
	desc(IND, 0, DATA, 8, F_WRITE | F_NEXT, 1);
	desc(IND, 1, DATA, 8, 0, 0);
	desc(DESC, 0, IND, 32, F_INDIRECT, 0);
	drv_add(0);
	expect_broken("after a writable");
}

/* Point descriptor 0 at an indirect table @addr/@len and expect breakage. */
static void bad_indirect(u64 features, u64 addr, u32 len, u16 flags, const char *needle)
{
	setup(8, features);
	desc(DESC, 0, addr, len, F_INDIRECT | flags, 1);
	desc(DESC, 1, DATA, 8, 0, 0);
	drv_add(0);
	expect_broken(needle);
}

static void test_bad_indirect(void)
{
	desc(IND, 0, DATA, 8, 0, 0);
	bad_indirect(0, IND, 16, 0, "indirect descriptor not negotiated");
	bad_indirect(FEAT_EVENT, IND, 16, 0, "not negotiated");
	bad_indirect(FEAT_INDIRECT, IND, 16, F_NEXT, "INDIRECT and NEXT");
	bad_indirect(FEAT_INDIRECT, IND, 0, 0, "multiple of 16");
	bad_indirect(FEAT_INDIRECT, IND, 20, 0, "multiple of 16");
	bad_indirect(FEAT_INDIRECT, IND, 8, 0, "multiple of 16");
	bad_indirect(FEAT_INDIRECT, IND, 16 * (VIRTQ_MAX_CHAIN + 1), 0, "1025 entries");
	bad_indirect(FEAT_INDIRECT, IND, 0xfffffff0, 0, "entries");
	bad_indirect(FEAT_INDIRECT, BASE + RAM - 16, 32, 0, "indirect table");
	bad_indirect(FEAT_INDIRECT, 0xfffffffffffffff0ULL, 32, 0, "outside RAM");
	bad_indirect(FEAT_INDIRECT, 0, 16, 0, "outside RAM");

	/* Nested: an indirect entry that is itself indirect. */
	setup(8, FEAT_INDIRECT);
	desc(IND, 0, DATA, 8, F_NEXT, 1);
	desc(IND, 1, IND + 0x100, 16, F_INDIRECT, 0);
	desc(DESC, 0, IND, 32, F_INDIRECT, 0);
	drv_add(0);
	expect_broken("nested");
	/* A loop inside the table. */
	setup(8, FEAT_INDIRECT);
	desc(IND, 0, DATA, 8, F_NEXT, 1);
	desc(IND, 1, DATA, 8, F_NEXT, 0);
	desc(DESC, 0, IND, 32, F_INDIRECT, 0);
	drv_add(0);
	expect_broken("loops");
	/* next out of the table's range (though in the queue's). */
	setup(8, FEAT_INDIRECT);
	desc(IND, 0, DATA, 8, F_NEXT, 2);
	desc(DESC, 0, IND, 32, F_INDIRECT, 0);
	drv_add(0);
	expect_broken("indirect next 2");
	/* A buffer inside the table outside RAM. */
	setup(8, FEAT_INDIRECT);
	desc(IND, 0, BASE + RAM - 1, 2, 0, 0);
	desc(DESC, 0, IND, 16, F_INDIRECT, 0);
	drv_add(0);
	expect_broken("outside RAM");
	/* More than 1024 in direct + indirect together. */
	setup(2048, FEAT_INDIRECT);
	for (u32 i = 0; i < 10; i++)
		desc(DESC, i, DATA, 4, F_NEXT, (u16)(i + 1));
	desc(DESC, 10, IND, 16 * 1015, F_INDIRECT, 0);
	for (u32 i = 0; i < 1015; i++)
		desc(IND, i, DATA, 2, i < 1014 ? F_NEXT : 0, (u16)(i + 1));
	drv_add(0);
	expect_broken("more than 1024");
}

/* ---- iovec copies ---- */

static void test_iov_copy(void)
{
	u8 a[3], c[5], d[4], out[32], src[16];
	struct iovec iov[4] = {
		{ a, sizeof(a) },
		{ NULL, 0 },
		{ c, sizeof(c) },
		{ d, sizeof(d) },
	};

	for (u8 i = 0; i < 3; i++)
		a[i] = (u8)(1 + i);
	for (u8 i = 0; i < 5; i++)
		c[i] = (u8)(4 + i);
	for (u8 i = 0; i < 4; i++)
		d[i] = (u8)(9 + i);

	memset(out, 0xee, sizeof(out));
	CHECK_EQ_U64(iov_to_buf(iov, 4, 0, out, sizeof(out)), 12);
	for (u8 i = 0; i < 12; i++)
		CHECK_EQ_U64(out[i], i + 1);
	CHECK_EQ_U64(out[12], 0xee);
	memset(out, 0xee, sizeof(out));
	CHECK_EQ_U64(iov_to_buf(iov, 4, 2, out, 4), 4); /* across the empty iovec */
	CHECK(out[0] == 3 && out[1] == 4 && out[2] == 5 && out[3] == 6 && out[4] == 0xee);
	CHECK_EQ_U64(iov_to_buf(iov, 4, 3, out, 5), 5); /* starts exactly at c */
	CHECK(out[0] == 4 && out[4] == 8);
	CHECK_EQ_U64(iov_to_buf(iov, 4, 11, out, 5), 1);
	CHECK_EQ_U64(out[0], 12);
	CHECK_EQ_U64(iov_to_buf(iov, 4, 12, out, 5), 0);
	CHECK_EQ_U64(iov_to_buf(iov, 4, (size_t)-1, out, 5), 0);
	CHECK_EQ_U64(iov_to_buf(iov, 4, 0, out, 0), 0);
	CHECK_EQ_U64(iov_to_buf(iov, 4, 0, NULL, 0), 0);
	CHECK_EQ_U64(iov_to_buf(iov, 0, 0, out, 5), 0);
	CHECK_EQ_U64(iov_to_buf(iov, 2, 0, out, 32), 3); /* only the first n iovecs */

	for (u8 i = 0; i < 16; i++)
		src[i] = (u8)(0x80 + i);
	memset(a, 0, 3);
	memset(c, 0, 5);
	memset(d, 0, 4);
	CHECK_EQ_U64(iov_from_buf(iov, 4, 1, src, 5), 5);
	CHECK(a[0] == 0 && a[1] == 0x80 && a[2] == 0x81);
	CHECK(c[0] == 0x82 && c[2] == 0x84 && c[3] == 0);
	CHECK_EQ_U64(iov_from_buf(iov, 4, 5, src, 16), 7); /* bounded by the buffers */
	CHECK(c[2] == 0x80 && c[4] == 0x82 && d[0] == 0x83 && d[3] == 0x86);
	CHECK_EQ_U64(iov_from_buf(iov, 4, 12, src, 16), 0);
	CHECK_EQ_U64(iov_from_buf(iov, 4, 0, src, 0), 0);
	CHECK_EQ_U64(iov_from_buf(iov, 3, 0, src, 16), 8);

	/* Through a popped element, into guest RAM. */
	setup(8, 0);
	desc(DESC, 0, DATA, 4, F_NEXT, 1);
	desc(DESC, 1, DATA + 0x100, 6, F_NEXT | F_WRITE, 2);
	desc(DESC, 2, DATA + 0x200, 6, F_WRITE, 0);
	memcpy(hva(DATA, 4), "abcd", 4);
	memset(hva(DATA + 0x100, 0x200), 0, 0x200);
	drv_add(0);
	CHECK_EQ_U64(vq_pop(&vq, el), 1);
	CHECK_EQ_U64(iov_to_buf(el->out, el->nout, 1, out, sizeof(out)), 3);
	CHECK(!memcmp(out, "bcd", 3));
	CHECK_EQ_U64(iov_from_buf(el->in, el->nin, 0, "hello, world!", 13), 12);
	CHECK(!memcmp(hva(DATA + 0x100, 6), "hello,", 6));
	CHECK(!memcmp(hva(DATA + 0x200, 6), " world", 6));
	CHECK_EQ_U64(*hva(DATA + 0x206, 1), 0);
}

/* ---- a driver on another thread ---- */

#define CONC_SIZE 64
#define CONC_REQS 40000

struct conc {
	u32 errors;
	u32 completed;
};

/* Each slot k owns descriptors 2k (readable: a u64) and 2k+1 (writable: a u64). */
static void *conc_driver(void *arg)
{
	struct conc *c = arg;
	u64 seq_of[CONC_SIZE / 2];
	u32 free_slots[CONC_SIZE / 2], nfree = CONC_SIZE / 2;
	u64 next_seq = 0;
	u16 avail = 0, used_seen = 0;
	u16 *avail_idx = (u16 *)hva(AVAIL + 2, 2), *used_ptr = (u16 *)hva(USED + 2, 2);

	for (u32 k = 0; k < CONC_SIZE / 2; k++)
		free_slots[k] = k;
	while (__atomic_load_n(&c->completed, __ATOMIC_RELAXED) < CONC_REQS) {
		bool progress = false;

		while (nfree && next_seq < CONC_REQS) {
			u32 k = free_slots[--nfree];
			u64 v = next_seq * 3 + 1;

			memcpy(hva(DATA + 16ULL * k, 8), &v, 8);
			desc(DESC, 2 * k, DATA + 16ULL * k, 8, F_NEXT, (u16)(2 * k + 1));
			desc(DESC, 2 * k + 1, DATA + 0x10000 + 16ULL * k, 8, F_WRITE, 0);
			seq_of[k] = next_seq++;
			put16(AVAIL + 4 + 2ULL * (avail % CONC_SIZE), (u16)(2 * k));
			__atomic_store_n(avail_idx, htole16(++avail), __ATOMIC_RELEASE);
			progress = true;
		}
		while (used_seen != le16toh(__atomic_load_n(used_ptr, __ATOMIC_ACQUIRE))) {
			u32 id = used_id(used_seen), len = used_len(used_seen);
			u32 k = id / 2;
			u64 v;

			used_seen++;
			if (id % 2 || k >= CONC_SIZE / 2 || len != 8) {
				c->errors++;
				continue;
			}
			memcpy(&v, hva(DATA + 0x10000 + 16ULL * k, 8), 8);
			if (v != ~(seq_of[k] * 3 + 1))
				c->errors++;
			free_slots[nfree++] = k;
			__atomic_store_n(&c->completed, c->completed + 1, __ATOMIC_RELAXED);
			progress = true;
		}
		if (!progress)
			sched_yield();
	}
	return NULL;
}

static void test_concurrent_driver(void)
{
	struct conc c = { 0 };
	pthread_t t;
	u32 served = 0, bad = 0;

	setup(CONC_SIZE, FEAT_EVENT);
	CHECK_EQ_U64(pthread_create(&t, NULL, conc_driver, &c), 0);
	while (served < CONC_REQS) {
		int r = vq_pop(&vq, el);
		u64 v;

		if (r < 0) {
			bad++;
			break;
		}
		if (r == 0) {
			vq_set_notify(&vq, true);
			if (!vq_has_work(&vq))
				sched_yield();
			vq_set_notify(&vq, false);
			continue;
		}
		if (el->nout != 1 || el->nin != 1 ||
		    iov_to_buf(el->out, el->nout, 0, &v, sizeof(v)) != 8) {
			bad++;
			v = 0;
		}
		v = ~v;
		iov_from_buf(el->in, el->nin, 0, &v, sizeof(v));
		vq_push(&vq, el, 8);
		vq_should_notify(&vq);
		served++;
	}
	if (bad)
		__atomic_store_n(&c.completed, CONC_REQS, __ATOMIC_RELAXED); /* let it stop */
	pthread_join(t, NULL);
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(c.errors, 0);
	CHECK_EQ_U64(served, CONC_REQS);
	CHECK_EQ_U64(c.completed, CONC_REQS);
	CHECK(!vq.broken);
}

static void test_setup(void)
{
	CHECK_EQ_U64(guest_mem_init(&mem, BASE, RAM), 0);
	test_ram = &mem;
	el = calloc(1, sizeof(*el));
	CHECK(el != NULL);
	if (!mem.host || !el)
		exit(1);
}

static void test_teardown(void)
{
	free(el);
	guest_mem_destroy(&mem);
}

TEST_MAIN(test_setup, test_init, test_init_errors, test_reset, test_pop_push, test_full_ring,
	  test_fill_flush_unpop, test_index_wrap, test_zero_length, test_chain_limits,
	  test_indirect, test_notify_flags, test_notify_event_idx, test_bad_index, test_loops,
	  test_bad_buffers, test_write_then_read, test_bad_indirect, test_iov_copy,
	  test_concurrent_driver, test_teardown)
