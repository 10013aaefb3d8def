// SPDX-License-Identifier: GPL-2.0
/* Transport-independent virtio device state: status, features, queues. */
#include <string.h>

#include "util/log.h"
#include "virtio/virtio.h"
#include "vm.h"

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, struct vm *vm,
		     void *priv)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->ops = ops;
	d->vm = vm;
	d->priv = priv;
	/* VERSION_1 is mandatory for modern devices; the core does indirect and event_idx. */
	d->device_features = ops->features | 1ULL << VIRTIO_F_VERSION_1 |
			     1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX;
}

static void virtio_reset(struct virtio_dev *d)
{
	u16 q;

	if (d->ops->reset)
		d->ops->reset(d);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vq_reset(&d->vq[q]);
		d->vq_size[q] = 0;
		d->vq_desc[q] = d->vq_avail[q] = d->vq_used[q] = 0;
		d->vq_enabled[q] = false;
	}
	d->driver_features = 0;
	d->status = 0;
}

void virtio_set_status(struct virtio_dev *d, u8 status)
{
	u8 old;

	if (status == 0) {
		virtio_reset(d);
		return;
	}
	/* FEATURES_OK only sticks if the driver accepted nothing we did not offer. */
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		if ((d->driver_features & ~d->device_features) ||
		    !(d->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			status &= (u8)~VIRTIO_STATUS_FEATURES_OK;
	}
	old = d->status;
	d->status = status | (d->status & VIRTIO_STATUS_NEEDS_RESET);
	if (!(old & VIRTIO_STATUS_DRIVER_OK) && (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	    d->ops->driver_ok)
		d->ops->driver_ok(d);
}

int virtio_queue_enable(struct virtio_dev *d, u16 q)
{
	int ret;

	if (q >= d->ops->num_queues)
		return -1;
	ret = vq_init(&d->vq[q], &d->vm->mem, d->ops->name, d->vq_size[q], d->vq_desc[q],
		      d->vq_avail[q], d->vq_used[q], d->driver_features);
	if (ret) {
		pr_err("virtio-%s: queue %u set up outside guest RAM or misaligned", d->ops->name,
		       q);
		virtio_dev_broken(d);
		return ret;
	}
	d->vq_enabled[q] = true;
	return 0;
}

bool virtio_queue_rearm(struct virtio_dev *d, u16 q)
{
	vq_set_notify(&d->vq[q], true);
	return !d->vq[q].broken && vq_has_work(&d->vq[q]);
}

void virtio_queue_serve(struct virtio_dev *d, u16 q, struct vq_elem *e,
			u32 (*serve)(struct virtio_dev *d, struct vq_elem *e))
{
	struct virtqueue *vq = &d->vq[q];
	bool pushed = false;
	int ret;

	do {
		while ((ret = vq_pop(vq, e)) > 0) {
			vq_push(vq, e, serve(d, e));
			pushed = true;
		}
		if (ret < 0) {
			virtio_dev_broken(d);
			break;
		}
	} while (virtio_queue_rearm(d, q));
	if (pushed)
		virtio_queue_done(d, q);
}

void virtio_queue_done(struct virtio_dev *d, u16 q)
{
	if (vq_should_notify(&d->vq[q]))
		d->transport->notify_queue(d, q);
}

void virtio_dev_broken(struct virtio_dev *d)
{
	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		d->transport->notify_config(d);
}
