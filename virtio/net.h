/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_NET_H
#define COHO_VIRTIO_NET_H

#include "net/tap.h"
#include "net/vhost.h"
#include "virtio/virtio.h"

struct ioloop;
struct net_config;

/*
 * virtio-net (device id 1) on a host tap: one receive and one transmit
 * queue, served on the ioloop thread. Receive copies each frame from the
 * tap once into the guest's buffers, merging buffers (MRG_RXBUF) for
 * large frames; transmit hands the guest's buffers to writev() as they
 * are. Checksum and segmentation offloads pass through the virtio-net
 * header in both directions.
 */
struct virtio_net {
	struct virtio_dev vdev;
	struct tap tap;
	struct ioloop *loop;
	bool tap_watched; /* the tap fd is in the ioloop */
	bool rx_paused;	  /* no receive buffers: tap not polled until a kick */
	bool offload_set; /* TUNSETOFFLOAD done for this driver */
	u8 config[8];	  /* mac[6], status */
	u8 *rx_buf;	  /* one frame read from the tap, not yet delivered */
	u32 rx_len;
	struct vq_elem *elem;
	u64 rx_dropped, tx_dropped;
	/* vhost=1: the kernel moves the frames; coho only relays its interrupts. */
	bool use_vhost;
	struct vhost_net vhost;
	int call_fd[VHOST_NET_QUEUES];
	bool call_watched[VHOST_NET_QUEUES];
	struct virtio_net_call {
		struct virtio_net *n;
		u16 q;
	} call[VHOST_NET_QUEUES];
};

/* Open the tap for @nc (index @index) and create the device. -errno with one line logged. */
int virtio_net_init(struct virtio_net *n, struct vm *vm, const struct net_config *nc, u32 index,
		    struct ioloop *loop);
/*
 * For tests and pre-opened taps: create the device on @fd, a tap opened with
 * IFF_VNET_HDR (or anything that reads and writes whole frames, each led by
 * the 12-byte virtio-net header), which the device now owns and
 * virtio_net_destroy() closes, even if this fails. No vhost. -errno.
 */
int virtio_net_init_fd(struct virtio_net *n, struct vm *vm, int fd, const u8 mac[6],
		       struct ioloop *loop);
void virtio_net_destroy(struct virtio_net *n);

#endif
