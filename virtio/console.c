// SPDX-License-Identifier: GPL-2.0
/* virtio console device (virtio 1.x, 5.3), single port. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/console.h"

#define RXQ 0
#define TXQ 1

/* Move FIFO bytes into the guest's posted receive buffers. d->lock held. */
static void con_flush_rx(struct virtio_console *con)
{
	struct virtio_dev *d = &con->vdev;
	struct virtqueue *vq = &d->vq[RXQ];
	bool was_full = con->count == VIRTIO_CONSOLE_FIFO, pushed = false;
	int ret = 0;

	if (!(d->status & VIRTIO_STATUS_DRIVER_OK) || !d->vq_enabled[RXQ] || vq->broken)
		return;
again:
	while (con->count && (ret = vq_pop(vq, con->elem)) > 0) {
		u32 written = 0;

		while (con->count && written < con->elem->in_len) {
			u32 chunk = VIRTIO_CONSOLE_FIFO - con->head;
			size_t n;

			if (chunk > con->count)
				chunk = con->count;
			n = iov_from_buf(con->elem->in, con->elem->nin, written,
					 con->fifo + con->head, chunk);
			if (!n)
				break;
			con->head = (con->head + (u32)n) % VIRTIO_CONSOLE_FIFO;
			con->count -= (u32)n;
			written += (u32)n;
		}
		vq_push(vq, con->elem, written);
		pushed = true;
	}
	if (ret < 0)
		virtio_dev_broken(d);
	else if (virtio_queue_rearm(d, RXQ) && con->count)
		goto again;
	if (pushed)
		virtio_queue_done(d, RXQ);
	if (was_full && con->count < VIRTIO_CONSOLE_FIFO) {
		u64 one = 1;

		if (write(con->wake_fd, &one, sizeof(one)) < 0)
			pr_debug("virtio-console wake: %s", strerror(errno));
	}
}

static void con_write_out(struct virtio_console *con, const struct vq_elem *e)
{
	for (u32 i = 0; i < e->nout; i++)
		console_out_write(con->out, e->out[i].iov_base, e->out[i].iov_len);
}

static u32 con_serve_tx(struct virtio_dev *d, struct vq_elem *e)
{
	con_write_out(d->priv, e);
	return 0;
}

static void con_queue_notify(struct virtio_dev *d, u16 q)
{
	struct virtio_console *con = d->priv;

	if (q == RXQ)
		con_flush_rx(con);
	else
		virtio_queue_serve(d, q, con->elem, con_serve_tx);
}

static const struct virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = 3,
	.class_code = 0x078000,
	.num_queues = 2,
	.queue_max = 256,
	.queue_notify = con_queue_notify,
};

static size_t con_sink_room(void *dev)
{
	struct virtio_console *con = dev;
	size_t room;

	pthread_mutex_lock(&con->vdev.lock);
	room = VIRTIO_CONSOLE_FIFO - con->count;
	pthread_mutex_unlock(&con->vdev.lock);
	return room;
}

static size_t con_sink_receive(void *dev, const u8 *buf, size_t len)
{
	struct virtio_console *con = dev;
	size_t i;

	pthread_mutex_lock(&con->vdev.lock);
	for (i = 0; i < len && con->count < VIRTIO_CONSOLE_FIFO; i++) {
		con->fifo[(con->head + con->count) % VIRTIO_CONSOLE_FIFO] = buf[i];
		con->count++;
	}
	con_flush_rx(con);
	pthread_mutex_unlock(&con->vdev.lock);
	return i;
}

struct console_sink virtio_console_sink(struct virtio_console *con)
{
	return (struct console_sink){ .room = con_sink_room,
				      .receive = con_sink_receive,
				      .wake_fd = con->wake_fd,
				      .dev = con };
}

int virtio_console_init(struct virtio_console *con, struct vm *vm, struct console_out *out)
{
	memset(con, 0, sizeof(*con));
	con->out = out;
	con->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	con->elem = malloc(sizeof(*con->elem));
	if (con->wake_fd < 0 || !con->elem)
		return -ENOMEM;
	virtio_dev_init(&con->vdev, &console_ops, vm, con);
	return 0;
}

void virtio_console_destroy(struct virtio_console *con)
{
	if (con->wake_fd >= 0)
		close(con->wake_fd);
	con->wake_fd = -1;
	free(con->elem);
	con->elem = NULL;
}
