// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "net/vhost.h"
#include "util/log.h"

int vhost_net_open(struct vhost_net *v)
{
	int ret;

	v->running = false;
	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return -errno;
	if (ioctl(v->fd, VHOST_SET_OWNER) < 0 ||
	    ioctl(v->fd, VHOST_GET_FEATURES, &v->features) < 0) {
		ret = -errno;
		close(v->fd);
		v->fd = -1;
		return ret;
	}
	return 0;
}

static int vhost_ring_start(struct vhost_net *v, const struct guest_mem *mem, u32 q,
			    const struct vhost_ring *r, int kick, int call)
{
	struct vhost_vring_state num = { .index = q, .num = r->size };
	struct vhost_vring_state base = { .index = q, .num = 0 };
	struct vhost_vring_file kf = { .index = q, .fd = kick };
	struct vhost_vring_file cf = { .index = q, .fd = call };
	/* vq_init checked these ranges: they are in RAM, so the lookups cannot fail. */
	u8 *desc = gpa_to_hva(mem, r->desc, 16ULL * r->size);
	u8 *avail = gpa_to_hva(mem, r->avail, 6 + 2ULL * r->size);
	u8 *used = gpa_to_hva(mem, r->used, 6 + 8ULL * r->size);
	struct vhost_vring_addr addr = {
		.index = q,
		.desc_user_addr = (u64)(uintptr_t)desc,
		.avail_user_addr = (u64)(uintptr_t)avail,
		.used_user_addr = (u64)(uintptr_t)used,
	};

	if (!desc || !avail || !used)
		return -EFAULT;
	/* A driver that reset the device starts again at index 0 (virtio 2.7.13). */
	if (ioctl(v->fd, VHOST_SET_VRING_NUM, &num) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_KICK, &kf) < 0 ||
	    ioctl(v->fd, VHOST_SET_VRING_CALL, &cf) < 0)
		return -errno;
	return 0;
}

int vhost_net_start(struct vhost_net *v, const struct guest_mem *mem, u64 features,
		    const struct vhost_ring ring[VHOST_NET_QUEUES],
		    const int kick[VHOST_NET_QUEUES], const int call[VHOST_NET_QUEUES], int tap_fd)
{
	struct vhost_memory *table;
	u64 acked = features & v->features;
	int ret = 0;
	u32 q;

	table = calloc(1, sizeof(*table) + sizeof(table->regions[0]));
	if (!table)
		return -ENOMEM;
	table->nregions = 1;
	table->regions[0].guest_phys_addr = mem->base;
	table->regions[0].memory_size = mem->size;
	table->regions[0].userspace_addr = (u64)(uintptr_t)mem->host;
	if (ioctl(v->fd, VHOST_SET_FEATURES, &acked) < 0 ||
	    ioctl(v->fd, VHOST_SET_MEM_TABLE, table) < 0)
		ret = -errno;
	free(table);
	for (q = 0; q < VHOST_NET_QUEUES && !ret; q++)
		ret = vhost_ring_start(v, mem, q, &ring[q], kick[q], call[q]);
	for (q = 0; q < VHOST_NET_QUEUES && !ret; q++) {
		struct vhost_vring_file be = { .index = q, .fd = tap_fd };

		if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &be) < 0)
			ret = -errno;
	}
	if (ret) {
		pr_err("vhost-net: cannot start the in-kernel data path: %s", strerror(-ret));
		vhost_net_stop(v);
		return ret;
	}
	v->running = true;
	return 0;
}

void vhost_net_stop(struct vhost_net *v)
{
	for (u32 q = 0; q < VHOST_NET_QUEUES; q++) {
		struct vhost_vring_file be = { .index = q, .fd = -1 };

		ioctl(v->fd, VHOST_NET_SET_BACKEND, &be);
	}
	v->running = false;
}

void vhost_net_close(struct vhost_net *v)
{
	if (v->fd < 0)
		return;
	if (v->running)
		vhost_net_stop(v);
	close(v->fd);
	v->fd = -1;
}
