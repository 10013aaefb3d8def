// SPDX-License-Identifier: GPL-2.0
/*
 * The device side of a split virtqueue (virtio 1.x, section 2.7 "Split
 * Virtqueues"). The guest writes the rings from another CPU while we read
 * them, and may be hostile: every index, chain, address and length is
 * checked, each descriptor is copied out of guest memory once before it is
 * checked, and the first malformed chain marks the queue broken with one log
 * line. A queue is driven by one device thread at a time.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "virtio/virtqueue.h"

/* Descriptor flags (virtio 1.x "The Virtqueue Descriptor Table"). */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
/* The driver's (avail) and the device's (used) notification suppression flags. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

#define DESC_SIZE      16
#define USED_ELEM_SIZE 8
/* flags, idx, ring[size], used_event / avail_event: the spec's split ring size table. */
#define AVAIL_BYTES(n) (6 + 2 * (u64)(n))
#define USED_BYTES(n)  (6 + (u64)USED_ELEM_SIZE * (n))
/* Offsets inside the avail and used rings. */
#define RING_IDX       2
#define RING_ENTRY     4

/* "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total." */
#define VIRTQ_MAX_CHAIN_BYTES (1ULL << 32)

/* A descriptor after it has been copied out of guest memory: never read twice. */
struct desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

/* Progress through one chain, across the direct table and an indirect one. */
struct chain {
	u32 bufs;	 /* buffer descriptors so far (direct + indirect) */
	bool seen_write; /* a device-writable descriptor was seen */
	u64 bytes;	 /* out_len + in_len */
};

/*
 * Guest-shared ring fields. Naturally aligned (vq_init checks the ring
 * alignment), accessed atomically so the compiler neither tears nor
 * re-reads them; virtio 1.x rings are little endian.
 */
static inline u16 ring_load16(const u8 *p, int order)
{
	return le16toh(__atomic_load_n((const u16 *)p, order));
}

static inline void ring_store16(u8 *p, u16 v, int order)
{
	__atomic_store_n((u16 *)p, htole16(v), order);
}

static inline void ring_store32(u8 *p, u32 v)
{
	__atomic_store_n((u32 *)p, htole32(v), __ATOMIC_RELAXED);
}

/*
 * Mark the queue broken and log why, once: a hostile guest must not be able
 * to flood the log. Returns -EINVAL for the caller to pass on.
 */
static int __attribute__((format(printf, 2, 3))) vq_fail(struct virtqueue *vq, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (vq->broken)
		return -EINVAL;
	vq->broken = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_err("virtqueue %s: %s; queue marked broken", vq->name ? vq->name : "?", why);
	return -EINVAL;
}

/* The rings were checked by vq_init(); NULL only if RAM went away. */
static u8 *vq_avail(const struct virtqueue *vq)
{
	return gpa_to_hva(vq->mem, vq->avail_gpa, AVAIL_BYTES(vq->size));
}

static u8 *vq_used(const struct virtqueue *vq)
{
	return gpa_to_hva(vq->mem, vq->used_gpa, USED_BYTES(vq->size));
}

/*
 * The spec's alignment, which the atomic ring accesses also need on the host
 * side (RAM's host mapping is 2 MiB aligned, but do not rely on the base).
 */
static bool ring_aligned(const struct guest_mem *mem, u64 gpa, u64 align)
{
	return gpa % align == 0 && (uintptr_t)gpa_to_hva(mem, gpa, 0) % align == 0;
}

int vq_init(struct virtqueue *vq, struct guest_mem *mem, const char *name, u16 size, u64 desc,
	    u64 avail, u64 used, u64 features)
{
	const char *why = NULL;

	memset(vq, 0, sizeof(*vq));
	vq->name = name;
	if (!mem)
		why = "no guest memory";
	else if (size == 0 || size > VIRTQ_MAX_SIZE)
		why = "size out of range 1..32768";
	else if (!ring_aligned(mem, desc, 16) || !ring_aligned(mem, avail, 2) ||
		 !ring_aligned(mem, used, 4))
		/* Split ring alignment: descriptor table 16, available ring 2, used ring 4. */
		why = "ring misaligned";
	else if (!guest_range_ok(mem, desc, (u64)DESC_SIZE * size))
		why = "descriptor table outside RAM";
	else if (!guest_range_ok(mem, avail, AVAIL_BYTES(size)))
		why = "available ring outside RAM";
	else if (!guest_range_ok(mem, used, USED_BYTES(size)))
		why = "used ring outside RAM";
	if (why) {
		pr_err("virtqueue %s: %s (size %u, desc 0x%llx, avail 0x%llx, used 0x%llx)",
		       name ? name : "?", why, size, (unsigned long long)desc,
		       (unsigned long long)avail, (unsigned long long)used);
		return -EINVAL;
	}
	vq->mem = mem;
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	return 0;
}

void vq_reset(struct virtqueue *vq)
{
	struct guest_mem *mem = vq->mem;
	const char *name = vq->name;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->name = name;
}

/*
 * Copy descriptor @i of @table out of guest memory. The table may be
 * unaligned (an indirect table is wherever the driver's allocator put it),
 * hence memcpy; the compiler barrier keeps the compiler from replacing later
 * uses of the copy by new loads from guest memory (no double fetch).
 */
static void desc_read(const u8 *table, u32 i, struct desc *d)
{
	u8 raw[DESC_SIZE];

	memcpy(raw, table + (size_t)i * DESC_SIZE, DESC_SIZE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	d->addr = get_le64(raw);
	d->len = get_le32(raw + 8);
	d->flags = get_le16(raw + 12);
	d->next = get_le16(raw + 14);
}

/* Append the buffer of descriptor @d (not INDIRECT) to @e. */
static int chain_add(struct virtqueue *vq, struct vq_elem *e, struct chain *c, const struct desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *hva;

	if (++c->bufs > VIRTQ_MAX_CHAIN)
		return vq_fail(vq, "chain at head %u has more than %u descriptors", e->head,
			       VIRTQ_MAX_CHAIN);
	/* A buffer is device-readable elements followed by device-writable ones (spec). */
	if (!write && c->seen_write)
		return vq_fail(vq,
			       "chain at head %u: device-readable descriptor after a writable one",
			       e->head);
	c->seen_write |= write;
	/* Zero-length buffers carry nothing: no iovec, and their address is never used. */
	if (!d->len)
		return 0;
	c->bytes += d->len;
	if (c->bytes > VIRTQ_MAX_CHAIN_BYTES)
		return vq_fail(vq, "chain at head %u is longer than 2^32 bytes", e->head);
	hva = gpa_to_hva(vq->mem, d->addr, d->len);
	if (!hva)
		return vq_fail(vq, "chain at head %u: buffer 0x%llx+0x%x is outside RAM", e->head,
			       (unsigned long long)d->addr, d->len);
	if (write) {
		e->in[e->nin].iov_base = hva;
		e->in[e->nin++].iov_len = d->len;
		e->in_len += d->len;
	} else {
		e->out[e->nout].iov_base = hva;
		e->out[e->nout++].iov_len = d->len;
		e->out_len += d->len;
	}
	return 0;
}

/* Walk the indirect table that @ind (already copied and checked for NEXT) refers to. */
static int chain_add_indirect(struct virtqueue *vq, struct vq_elem *e, struct chain *c,
			      const struct desc *ind)
{
	const u8 *table;
	u32 n, i = 0, walked = 0;
	struct desc d;
	int r;

	if (!vq->indirect)
		return vq_fail(vq, "chain at head %u: indirect descriptor not negotiated", e->head);
	if (!ind->len || ind->len % DESC_SIZE)
		return vq_fail(vq,
			       "chain at head %u: indirect table length %u not a multiple of 16",
			       e->head, ind->len);
	n = ind->len / DESC_SIZE;
	if (n > VIRTQ_MAX_CHAIN)
		return vq_fail(vq, "chain at head %u: indirect table of %u entries (at most %u)",
			       e->head, n, VIRTQ_MAX_CHAIN);
	table = gpa_to_hva(vq->mem, ind->addr, ind->len);
	if (!table)
		return vq_fail(vq, "chain at head %u: indirect table 0x%llx+0x%x is outside RAM",
			       e->head, (unsigned long long)ind->addr, ind->len);
	/* The table starts at entry 0 and is chained by next inside the table. */
	for (;;) {
		/* More steps than entries can only be a loop. */
		if (++walked > n)
			return vq_fail(vq, "chain at head %u: indirect chain loops", e->head);
		desc_read(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return vq_fail(vq, "chain at head %u: nested indirect table", e->head);
		r = chain_add(vq, e, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return vq_fail(
			    vq, "chain at head %u: indirect next %u out of range (%u entries)",
			    e->head, d.next, n);
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_elem *e)
{
	const u8 *avail, *table;
	u16 avail_idx, pending, head, max_direct, walked = 0;
	struct chain c = { 0 };
	struct desc d;
	u32 i;
	int r;

	if (vq->broken || !vq->size)
		return -EINVAL;
	avail = vq_avail(vq);
	table = gpa_to_hva(vq->mem, vq->desc_gpa, (u64)DESC_SIZE * vq->size);
	if (!avail || !table)
		return vq_fail(vq, "rings no longer in RAM");
	/* Acquire: ring entries and descriptors are read after the index that exposed them. */
	avail_idx = ring_load16(avail + RING_IDX, __ATOMIC_ACQUIRE);
	pending = (u16)(avail_idx - vq->last_avail);
	if (!pending)
		return 0;
	if (pending > vq->size)
		return vq_fail(vq, "available index %u is %u entries ahead of %u (size %u)",
			       avail_idx, pending, vq->last_avail, vq->size);
	head = ring_load16(avail + RING_ENTRY + 2 * (vq->last_avail % vq->size), __ATOMIC_RELAXED);
	if (head >= vq->size)
		return vq_fail(vq, "head descriptor %u out of range (size %u)", head, vq->size);

	e->head = head;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	/* A driver MUST NOT create a chain longer than the queue size: beyond that it loops. */
	max_direct = vq->size < VIRTQ_MAX_CHAIN ? vq->size : VIRTQ_MAX_CHAIN;
	i = head;
	for (;;) {
		if (++walked > max_direct)
			return vq_fail(vq, "chain at head %u longer than %u descriptors (a loop?)",
				       head, max_direct);
		desc_read(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* Direct descriptors may end in one indirect one (spec); none after. */
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return vq_fail(vq, "chain at head %u: INDIRECT and NEXT on %u",
					       head, i);
			r = chain_add_indirect(vq, e, &c, &d);
			if (r)
				return r;
			break;
		}
		r = chain_add(vq, e, &c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->size)
			return vq_fail(vq, "chain at head %u: next %u out of range (size %u)", head,
				       d.next, vq->size);
		i = d.next;
	}
	vq->last_avail++;
	return 1;
}

void vq_fill(struct virtqueue *vq, const struct vq_elem *e, u32 written, u16 nth)
{
	u8 *used, *elem;

	if (!vq->size)
		return;
	used = vq_used(vq);
	if (!used)
		return;
	/* Never claim more than the chain's writable bytes: the driver trusts len. */
	if (written > e->in_len)
		written = (u32)e->in_len;
	elem = used + RING_ENTRY + USED_ELEM_SIZE * ((u16)(vq->used_idx + nth) % vq->size);
	ring_store32(elem, e->head);
	ring_store32(elem + 4, written);
}

void vq_flush(struct virtqueue *vq, u16 count)
{
	u8 *used;

	if (!vq->size)
		return;
	used = vq_used(vq);
	if (!used)
		return;
	vq->used_idx += count;
	/* Release: the elements and the data written to the buffers before the index. */
	ring_store16(used + RING_IDX, vq->used_idx, __ATOMIC_RELEASE);
}

void vq_push(struct virtqueue *vq, const struct vq_elem *e, u32 written)
{
	vq_fill(vq, e, written, 0);
	vq_flush(vq, 1);
}

void vq_unpop(struct virtqueue *vq, u16 n)
{
	vq->last_avail -= n;
}

/* Did moving used idx from @old to @new pass @event? (the spec's vring_need_event) */
static bool need_event(u16 event, u16 new, u16 old)
{
	return (u16)(new - event - 1) < (u16)(new - old);
}

bool vq_should_notify(struct virtqueue *vq)
{
	u16 old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;
	const u8 *avail;

	if (!vq->size)
		return false;
	avail = vq_avail(vq);
	if (!avail)
		return false;
	/*
	 * The used idx store must be visible before we read the driver's
	 * suppression state, or a driver that just re-enabled interrupts and
	 * saw an old used idx would wait forever (store -> load: a full fence).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (valid && old == new)
		return false; /* nothing used since the last call */
	if (!vq->event_idx)
		return !(ring_load16(avail, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* With EVENT_IDX the device MUST ignore the driver's flags. */
	if (!valid)
		return true;
	return need_event(ring_load16(avail + RING_ENTRY + 2 * vq->size, __ATOMIC_RELAXED), new,
			  old);
}

void vq_set_notify(struct virtqueue *vq, bool enable)
{
	u8 *used;

	if (!vq->size)
		return;
	used = vq_used(vq);
	if (!used)
		return;
	if (vq->event_idx) {
		/*
		 * With EVENT_IDX the device MUST keep flags 0. Enabling asks for a
		 * kick when the driver fills entry last_avail; disabling leaves
		 * avail_event behind, so the driver kicks at most once more.
		 */
		if (enable)
			ring_store16(used + RING_ENTRY + USED_ELEM_SIZE * vq->size, vq->last_avail,
				     __ATOMIC_RELAXED);
	} else {
		ring_store16(used, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	}
	/* The caller re-reads avail idx next: order that load after this store. */
	if (enable)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vq_has_work(struct virtqueue *vq)
{
	const u8 *avail;

	if (vq->broken || !vq->size)
		return false;
	avail = vq_avail(vq);
	if (!avail)
		return false;
	return ring_load16(avail + RING_IDX, __ATOMIC_ACQUIRE) != vq->last_avail;
}

size_t iov_to_buf(const struct iovec *iov, u32 n, size_t skip, void *buf, size_t len)
{
	size_t done = 0;

	for (u32 i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, chunk;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		chunk = l - skip < len - done ? l - skip : len - done;
		memcpy((u8 *)buf + done, (const u8 *)iov[i].iov_base + skip, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, u32 n, size_t skip, const void *buf, size_t len)
{
	size_t done = 0;

	for (u32 i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, chunk;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		chunk = l - skip < len - done ? l - skip : len - done;
		memcpy((u8 *)iov[i].iov_base + skip, (const u8 *)buf + done, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}
