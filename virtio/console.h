/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_CONSOLE_H
#define COHO_VIRTIO_CONSOLE_H

#include "console_in.h"
#include "console_out.h"
#include "virtio/virtio.h"

#define VIRTIO_CONSOLE_FIFO 4096

/*
 * virtio-console (device id 3), one port: the guest's hvc0. Output from the
 * transmit queue goes to @out; input waits in a FIFO until the guest
 * posts receive buffers.
 */
struct virtio_console {
	struct virtio_dev vdev;
	struct console_out *out;
	int wake_fd; /* written when a full FIFO gains room */
	u8 fifo[VIRTIO_CONSOLE_FIFO];
	u32 head, count;
	struct vq_elem *elem;
};

int virtio_console_init(struct virtio_console *con, struct vm *vm, struct console_out *out);
void virtio_console_destroy(struct virtio_console *con);
struct console_sink virtio_console_sink(struct virtio_console *con);

#endif
