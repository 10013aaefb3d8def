/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_9P_H
#define COHO_VIRTIO_9P_H

#include "virtio/p9.h"
#include "virtio/virtio.h"

#define VIRTIO_9P_TAG_MAX 64

/*
 * virtio-9p (device id 9): one export of a host directory under a mount
 * tag. Requests are served one at a time on the device thread by the
 * 9P2000.L server in virtio/p9.c.
 */
struct virtio_9p {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops; /* per instance: the config size depends on the tag */
	struct p9_server srv;
	bool srv_ready;
	char tag[VIRTIO_9P_TAG_MAX];
	u16 tag_len;
	u8 *req, *resp; /* P9_MAX_MSIZE each */
	struct vq_elem *elem;
};

/* Export @dir as @tag (read-only if @read_only). -errno with one line logged. */
int virtio_9p_init(struct virtio_9p *p9, struct vm *vm, const char *dir, const char *tag,
		   bool read_only);
void virtio_9p_destroy(struct virtio_9p *p9);

#endif
