/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_VIRTQUEUE_H
#define COHO_VIRTIO_VIRTQUEUE_H

#include <sys/uio.h>

#include "guest_mem.h"
#include "util/types.h"

/*
 * The device side of a split virtqueue (virtio 1.x, section 2.7). The ring
 * lives in guest RAM and the guest is hostile: every index, address, length
 * and chain is validated before use, descriptors are copied out of guest
 * memory once before they are checked (no double fetch), and a malformed
 * queue marks the queue broken (the transport then sets DEVICE_NEEDS_RESET)
 * instead of crashing or touching memory outside RAM.
 */

#define VIRTQ_MAX_SIZE	32768
/* Longest descriptor chain accepted (direct + indirect together). */
#define VIRTQ_MAX_CHAIN 1024

/* Feature bits the core implements (virtio 1.x numbering). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

struct virtqueue {
	struct guest_mem *mem;
	u16 size;	    /* number of descriptors; 0 = not set up */
	u64 desc_gpa;	    /* 16-byte aligned descriptor table */
	u64 avail_gpa;	    /* 2-byte aligned driver ring */
	u64 used_gpa;	    /* 4-byte aligned device ring */
	bool event_idx;	    /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	    /* VIRTIO_F_INDIRECT_DESC negotiated */
	u16 last_avail;	    /* next avail ring entry to take */
	u16 used_idx;	    /* device's copy of used->idx */
	u16 signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_valid;
	bool broken;	  /* set on the first malformed element; vq_pop then fails */
	const char *name; /* for the one log line when it breaks */
};

/* One request: the chain's buffers as host iovecs, device-readable first. */
struct vq_elem {
	u16 head;    /* head descriptor index, returned in the used ring */
	u32 nout;    /* device-readable (driver -> device) segments */
	u32 nin;     /* device-writable (device -> driver) segments */
	u64 out_len; /* total bytes of out[] */
	u64 in_len;  /* total bytes of in[] */
	struct iovec out[VIRTQ_MAX_CHAIN];
	struct iovec in[VIRTQ_MAX_CHAIN];
};

/*
 * Set the queue up from the transport's registers. Checks size (1..32768),
 * alignment and that all three rings lie inside RAM. -EINVAL on any problem.
 * @features: negotiated feature bits (VIRTIO_F_* above are honoured).
 */
int vq_init(struct virtqueue *vq, struct guest_mem *mem, const char *name, u16 size, u64 desc,
	    u64 avail, u64 used, u64 features);
/* Forget all state (device reset). */
void vq_reset(struct virtqueue *vq);

/*
 * Take the next available chain. Returns 1 with *e filled, 0 if the ring is
 * empty, or -EINVAL if the queue is (or just became) broken: a descriptor
 * out of range, a buffer outside RAM or overflowing, a loop or a chain
 * longer than VIRTQ_MAX_CHAIN or the queue size, a readable descriptor
 * after a writable one, an indirect table that is misaligned, empty, nested
 * or has INDIRECT with NEXT, or an avail index more than size ahead.
 */
int vq_pop(struct virtqueue *vq, struct vq_elem *e);

/* Return a chain to the driver with @written bytes written into its in[] buffers. */
void vq_push(struct virtqueue *vq, const struct vq_elem *e, u32 written);
/*
 * Several chains that the driver must see at once (a merged receive
 * buffer): vq_fill() writes used entry number @nth after the current used
 * index without publishing it, vq_flush() publishes @count of them.
 */
void vq_fill(struct virtqueue *vq, const struct vq_elem *e, u32 written, u16 nth);
void vq_flush(struct virtqueue *vq, u16 count);
/* Give back the last @n popped chains, unused (they stay in the avail ring). */
void vq_unpop(struct virtqueue *vq, u16 n);

/*
 * After one or more vq_push(): must the driver be interrupted? Honours
 * VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX (virtio 2.7.10).
 */
bool vq_should_notify(struct virtqueue *vq);

/*
 * Suppress (false) or request (true) driver notifications: VRING_USED_F_NO_NOTIFY,
 * or avail_event with EVENT_IDX. After enabling, callers re-check the ring
 * (vq_has_work) to close the race with a driver that added work meanwhile.
 */
void vq_set_notify(struct virtqueue *vq, bool enable);
bool vq_has_work(struct virtqueue *vq);

/* Copy helpers over an element's iovecs; they never go past the buffers. */
size_t iov_to_buf(const struct iovec *iov, u32 n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, u32 n, size_t skip, const void *buf, size_t len);

#endif
