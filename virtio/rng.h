/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_RNG_H
#define COHO_VIRTIO_RNG_H

#include "virtio/virtio.h"

/* virtio-rng (device id 4): one request queue, filled from getrandom(). */
struct virtio_rng {
	struct virtio_dev vdev;
	struct vq_elem *elem;
};

int virtio_rng_init(struct virtio_rng *rng, struct vm *vm);
void virtio_rng_destroy(struct virtio_rng *rng);

#endif
