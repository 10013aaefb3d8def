// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the device side of a split virtqueue against arbitrary
 * ring contents. The input is a few parameters and then the first bytes of a
 * small guest RAM, which hold the descriptor table, the available and used
 * rings (at fixed places) and whatever buffers and indirect tables the input
 * points at. The device pops, copies to and from the buffers and pushes
 * until the ring is empty or broken. Every iovec must lie inside RAM (abort
 * otherwise); anything else but a crash or sanitizer report is fine.
 *
 * sources: virtio/virtqueue.c guest_mem.c util/range.c util/log.c
 *
 * Built and run by tests/fuzz/run.sh (make check-fuzz), which links the
 * "sources:" above; by hand: ./fuzz_virtqueue -close_fd_mask=2 CORPUS_DIR
 * (a broken queue logs one line).
 *
 * Input layout (little endian); the available ring comes first so that its
 * idx is at a fixed input offset and the fuzzer reaches the walker at once:
 *   0  u8  queue size - 1
 *   1  u8  features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   2  u8  rounds of notification calls to mix in
 *   3  u8  unused
 *   4  u16 the device's starting last_avail and used idx (a queue mid-life)
 *   6  u16 bytes to skip when copying out of / into the buffers
 *   8  ... RAM contents from its first byte: the available ring at offset 0,
 *          the descriptor table at the next 16-byte boundary, the used ring
 *          right after it; the rest is buffers and indirect tables.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest_mem.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define RAM_BASE 0x40000000ULL
#define RAM_SIZE (64 * 1024ULL)
#define HDR	 8

static bool iov_inside(const struct guest_mem *m, const struct iovec *iov, u32 n, u64 *total)
{
	*total = 0;
	for (u32 i = 0; i < n; i++) {
		const u8 *p = iov[i].iov_base;

		if (!iov[i].iov_len || p < m->host || p > m->host + m->size ||
		    iov[i].iov_len > (size_t)(m->host + m->size - p))
			return false;
		*total += iov[i].iov_len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem m;
	static struct vq_elem *e;
	static u8 scratch[8192];
	struct virtqueue vq;
	u64 desc, avail, used, features = 0, total;
	u16 qsize, start, rounds;
	size_t skip;
	int r;

	if (!e) {
		e = malloc(sizeof(*e));
		if (!e || guest_mem_init(&m, RAM_BASE, RAM_SIZE))
			abort();
	}
	if (size < HDR)
		return 0;
	qsize = (u16)(data[0] + 1);
	if (data[1] & 1)
		features |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ULL << VIRTIO_F_EVENT_IDX;
	rounds = data[2];
	start = get_le16(data + 4);
	skip = get_le16(data + 6);

	memset(m.host, 0, RAM_SIZE);
	memcpy(m.host, data + HDR, size - HDR < RAM_SIZE ? size - HDR : RAM_SIZE);
	avail = RAM_BASE;
	desc = (avail + 6 + 2ULL * qsize + 15) & ~15ULL;
	used = desc + 16ULL * qsize;
	if (vq_init(&vq, &m, "fuzz", qsize, desc, avail, used, features))
		abort(); /* the layout is always valid */
	vq.last_avail = vq.used_idx = start;

	/* At most one pass over the ring plus change: the device never blocks. */
	for (u32 n = 0; n < 2u * qsize + 2; n++) {
		if (n < rounds) {
			vq_set_notify(&vq, n & 1);
			(void)vq_has_work(&vq);
		}
		r = vq_pop(&vq, e);
		if (r <= 0) {
			if (r < 0 && (!vq.broken || vq_pop(&vq, e) != -EINVAL || vq_has_work(&vq)))
				abort();
			break;
		}
		if (e->head >= qsize || e->nout + e->nin > VIRTQ_MAX_CHAIN ||
		    e->out_len + e->in_len > (1ULL << 32))
			abort();
		if (!iov_inside(&m, e->out, e->nout, &total) || total != e->out_len)
			abort();
		if (!iov_inside(&m, e->in, e->nin, &total) || total != e->in_len)
			abort();
		/* Copies stay inside the buffers (ASan checks the host side). */
		iov_to_buf(e->out, e->nout, skip, scratch, sizeof(scratch));
		iov_from_buf(e->in, e->nin, skip, scratch, sizeof(scratch));
		vq_push(&vq, e, (u32)(e->in_len + skip));
		if (n < rounds)
			(void)vq_should_notify(&vq);
	}
	return 0;
}
