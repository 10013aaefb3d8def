/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_NET_VHOST_H
#define COHO_NET_VHOST_H

#include "guest_mem.h"
#include "util/types.h"

#define VHOST_NET_QUEUES 2 /* receive, transmit */

/* One split ring as the driver set it up. */
struct vhost_ring {
	u16 size;
	u64 desc, avail, used; /* guest physical */
};

/*
 * The host kernel's virtio-net data path (/dev/vhost-net): it reads the
 * guest's rings through the VMM's mapping of guest RAM, moves frames
 * to and from the tap itself, is woken by the queues' kick eventfds and
 * signals the call eventfds when the driver wants an interrupt.
 */
struct vhost_net {
	int fd;
	u64 features; /* what the kernel's vhost-net supports */
	bool running;
};

/* Open /dev/vhost-net and become its owner. -errno (nothing logged). */
int vhost_net_open(struct vhost_net *v);
/*
 * Hand both rings to the kernel: @features as negotiated (only the ring
 * and header bits vhost knows are passed), @kick/@call eventfds per queue,
 * @tap_fd the backend. -errno with one line logged.
 */
int vhost_net_start(struct vhost_net *v, const struct guest_mem *mem, u64 features,
		    const struct vhost_ring ring[VHOST_NET_QUEUES],
		    const int kick[VHOST_NET_QUEUES], const int call[VHOST_NET_QUEUES], int tap_fd);
/* Detach the backend: the kernel stops touching the rings. */
void vhost_net_stop(struct vhost_net *v);
void vhost_net_close(struct vhost_net *v);

#endif
