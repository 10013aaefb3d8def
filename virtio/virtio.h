/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_VIRTIO_H
#define COHO_VIRTIO_VIRTIO_H

#include <pthread.h>

#include "virtio/virtqueue.h"

struct vm;
struct virtio_dev;

/* Device status bits (virtio 1.x, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

#define VIRTIO_MAX_QUEUES 8

/* What a device type provides; the transport does the rest. */
struct virtio_dev_ops {
	const char *name;
	u32 device_id;	/* 2 blk, 1 net, 3 console, 4 rng, 9 9p */
	u32 class_code; /* PCI class for the virtio-pci function */
	u16 num_queues;
	u16 queue_max;	 /* largest queue size offered */
	u64 features;	 /* device feature bits besides VERSION_1 etc. */
	u32 config_size; /* bytes of device-specific config */
	/* Device config space; off/len are within config_size. May be NULL. */
	void (*config_read)(struct virtio_dev *d, u32 off, u8 *data, u32 len);
	void (*config_write)(struct virtio_dev *d, u32 off, const u8 *data, u32 len);
	/* The driver notified queue @q: called on the ioloop thread, d->lock held. */
	void (*queue_notify)(struct virtio_dev *d, u16 q);
	/* Device reset by the driver (status 0) or by the VMM: d->lock held. */
	void (*reset)(struct virtio_dev *d);
	/* The driver set DRIVER_OK (queues are set up): d->lock held. May be NULL. */
	void (*driver_ok)(struct virtio_dev *d);
};

/* What a transport provides to the generic code. */
struct virtio_transport {
	/* Interrupt the driver for queue @q (used buffers) or a config change. */
	void (*notify_queue)(struct virtio_dev *d, u16 q);
	void (*notify_config)(struct virtio_dev *d);
	/*
	 * For an in-kernel data path (vhost): the eventfd the guest's
	 * notifications of queue @q signal, and whether the transport serves
	 * it on the ioloop (on) or leaves it to someone else (off).
	 */
	int (*kick_fd)(struct virtio_dev *d, u16 q);
	void (*kick_watch)(struct virtio_dev *d, u16 q, bool on);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct virtio_transport *transport;
	void *transport_priv;
	void *priv; /* the device type's state */
	struct vm *vm;
	pthread_mutex_t lock; /* queues and status vs. the transport registers */
	u64 device_features;  /* everything offered */
	u64 driver_features;  /* what the driver accepted */
	u8 status;
	u8 config_generation;
	struct virtqueue vq[VIRTIO_MAX_QUEUES];
	u16 vq_size[VIRTIO_MAX_QUEUES]; /* as programmed by the driver */
	u64 vq_desc[VIRTIO_MAX_QUEUES], vq_avail[VIRTIO_MAX_QUEUES], vq_used[VIRTIO_MAX_QUEUES];
	bool vq_enabled[VIRTIO_MAX_QUEUES];
};

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, struct vm *vm,
		     void *priv);
/* Driver wrote the status register: handles FEATURES_OK checks and reset (0). d->lock held. */
void virtio_set_status(struct virtio_dev *d, u8 status);
/* Driver enabled queue @q: set the virtqueue up from the programmed addresses. d->lock held. */
int virtio_queue_enable(struct virtio_dev *d, u16 q);
/*
 * A device drained queue @q: ask the driver to notify again (with EVENT_IDX
 * the driver kicks only when its index passes avail_event, so this must be
 * published after every drain) and return true if work arrived meanwhile,
 * in which case the device drains again. d->lock held.
 */
bool virtio_queue_rearm(struct virtio_dev *d, u16 q);
/*
 * Serve every request on @q synchronously: pop each chain into @e, call
 * @serve (returns the bytes written into the chain's writable buffers),
 * push it, re-arm notifications and loop while work arrives, then interrupt
 * the driver once. A malformed queue marks the device broken. d->lock held.
 */
void virtio_queue_serve(struct virtio_dev *d, u16 q, struct vq_elem *e,
			u32 (*serve)(struct virtio_dev *d, struct vq_elem *e));
/* After pushing used buffers on @q: interrupt the driver if it wants one. d->lock held. */
void virtio_queue_done(struct virtio_dev *d, u16 q);
/*
 * A queue turned out malformed: the device needs a reset (DEVICE_NEEDS_RESET
 * and a config interrupt, virtio 2.1.2), and the VMM keeps running.
 */
void virtio_dev_broken(struct virtio_dev *d);

#endif
