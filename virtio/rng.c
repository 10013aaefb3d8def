// SPDX-License-Identifier: GPL-2.0
/* virtio entropy device (virtio 1.x, 5.4). */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/log.h"
#include "virtio/rng.h"

/* Per request at most this much; the driver asks again for more. */
#define RNG_CHUNK (64 * 1024)

static void rng_fill(const struct vq_elem *e, u32 *written)
{
	u32 i, total = 0;

	for (i = 0; i < e->nin && total < RNG_CHUNK; i++) {
		size_t len = e->in[i].iov_len, done = 0;

		if (len > RNG_CHUNK - total)
			len = RNG_CHUNK - total;
		while (done < len) {
			ssize_t n = getrandom((u8 *)e->in[i].iov_base + done, len - done, 0);

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				goto out;
			}
			done += (size_t)n;
		}
		total += (u32)done;
	}
out:
	*written = total;
}

static u32 rng_serve(struct virtio_dev *d, struct vq_elem *e)
{
	u32 written;

	(void)d;
	rng_fill(e, &written);
	return written;
}

static void rng_queue_notify(struct virtio_dev *d, u16 q)
{
	struct virtio_rng *rng = d->priv;

	virtio_queue_serve(d, q, rng->elem, rng_serve);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = 4,
	.class_code = 0x00ff00,
	.num_queues = 1,
	.queue_max = 256,
	.queue_notify = rng_queue_notify,
};

int virtio_rng_init(struct virtio_rng *rng, struct vm *vm)
{
	rng->elem = malloc(sizeof(*rng->elem));
	if (!rng->elem)
		return -ENOMEM;
	virtio_dev_init(&rng->vdev, &rng_ops, vm, rng);
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	free(rng->elem);
	rng->elem = NULL;
}
