// SPDX-License-Identifier: GPL-2.0
/* virtio 9P transport: config space is le16 tag_len + the mount tag. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/9p.h"

#define VIRTIO_9P_MOUNT_TAG 0 /* feature bit: the config holds a mount tag */

static void p9_config_read(struct virtio_dev *d, u32 off, u8 *data, u32 len)
{
	struct virtio_9p *p9 = d->priv;
	u8 cfg[2 + VIRTIO_9P_TAG_MAX] = { (u8)p9->tag_len, (u8)(p9->tag_len >> 8) };

	memcpy(cfg + 2, p9->tag, p9->tag_len);
	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, cfg + off, len);
}

/* Gather the T-message, let the server answer, scatter the R-message. */
static u32 p9_serve(struct virtio_dev *d, struct vq_elem *e)
{
	struct virtio_9p *p9 = d->priv;
	size_t in = e->out_len < P9_MAX_MSIZE ? (size_t)e->out_len : P9_MAX_MSIZE;
	size_t cap = e->in_len < P9_MAX_MSIZE ? (size_t)e->in_len : P9_MAX_MSIZE;
	size_t n, out = 0;

	n = iov_to_buf(e->out, e->nout, 0, p9->req, in);
	if (n == in)
		out = p9_handle(&p9->srv, p9->req, n, p9->resp, cap);
	if (out)
		iov_from_buf(e->in, e->nin, 0, p9->resp, out);
	return (u32)out;
}

static void p9_queue_notify(struct virtio_dev *d, u16 q)
{
	struct virtio_9p *p9 = d->priv;

	virtio_queue_serve(d, q, p9->elem, p9_serve);
}

int virtio_9p_init(struct virtio_9p *p9, struct vm *vm, const char *dir, const char *tag,
		   bool read_only)
{
	size_t tl = strlen(tag);
	int ret;

	memset(p9, 0, sizeof(*p9));
	if (!tl || tl >= VIRTIO_9P_TAG_MAX) {
		pr_err("9p: mount tag '%s' must be 1 to %d bytes", tag, VIRTIO_9P_TAG_MAX - 1);
		return -EINVAL;
	}
	memcpy(p9->tag, tag, tl);
	p9->tag_len = (u16)tl;
	ret = p9_server_init(&p9->srv, dir, read_only);
	if (ret)
		return ret;
	p9->srv_ready = true;
	p9->req = malloc(P9_MAX_MSIZE);
	p9->resp = malloc(P9_MAX_MSIZE);
	p9->elem = malloc(sizeof(*p9->elem));
	if (!p9->req || !p9->resp || !p9->elem)
		return -ENOMEM;
	p9->ops = (struct virtio_dev_ops){
		.name = "9p",
		.device_id = 9,
		.class_code = 0x000200,
		.num_queues = 1,
		.queue_max = 128,
		.features = 1ULL << VIRTIO_9P_MOUNT_TAG,
		.config_size = (u32)(2 + tl),
		.config_read = p9_config_read,
		.queue_notify = p9_queue_notify,
	};
	virtio_dev_init(&p9->vdev, &p9->ops, vm, p9);
	return 0;
}

void virtio_9p_destroy(struct virtio_9p *p9)
{
	if (p9->srv_ready)
		p9_server_destroy(&p9->srv);
	p9->srv_ready = false;
	free(p9->req);
	free(p9->resp);
	free(p9->elem);
	p9->req = p9->resp = NULL;
	p9->elem = NULL;
}
