// SPDX-License-Identifier: GPL-2.0
/* virtio network device (virtio 1.x, 5.1) with a tap backend. */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"
#include "util/log.h"
#include "virtio/net.h"
#include "vm.h"

/* Feature bits (virtio 1.x, 5.1.3). */
#define NET_F_CSUM	 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC	 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_GUEST_ECN	 9
#define NET_F_HOST_TSO4	 11
#define NET_F_HOST_TSO6	 12
#define NET_F_HOST_ECN	 13
#define NET_F_MRG_RXBUF	 15
#define NET_F_STATUS	 16

#define NET_S_LINK_UP 1

#define RXQ 0
#define TXQ 1

/* struct virtio_net_hdr with num_buffers: always this size with VERSION_1. */
#define NET_HDR_LEN	    12
#define NET_HDR_NUM_BUFFERS 10
/* The largest frame a tap hands over: a 64 KiB GSO frame plus headers. */
#define NET_RX_BUF_SIZE	    (NET_HDR_LEN + 65536 + 256)
/* Interrupt the driver at least this often while a burst is being received. */
#define NET_RX_BATCH	    64

#define BIT(n) (1ULL << (n))

static bool net_has(const struct virtio_net *n, unsigned int bit)
{
	return n->vdev.driver_features & BIT(bit);
}

/* What the guest accepts on receive, in tap terms (TUNSETOFFLOAD). */
static void net_set_offload(struct virtio_net *n)
{
	unsigned int f = 0;

	if (net_has(n, NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (net_has(n, NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (net_has(n, NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && net_has(n, NET_F_GUEST_ECN))
			f |= TUN_F_TSO_ECN;
	}
	if (tap_set_offload(&n->tap, f))
		pr_debug("virtio-net %s: TUNSETOFFLOAD 0x%x failed", n->tap.name, f);
	n->offload_set = true;
}

static void net_rx_pause(struct virtio_net *n, bool pause)
{
	if (n->rx_paused == pause || !n->tap_watched)
		return;
	n->rx_paused = pause;
	ioloop_mod(n->loop, n->tap.fd, pause ? 0 : EPOLLIN);
}

/*
 * Copy the pending frame into receive buffers. With MRG_RXBUF a frame may
 * span several chains, published together with num_buffers set in the
 * first one's header; otherwise it must fit one chain or is dropped.
 * Returns 1 when delivered (or dropped), 0 when the driver has not posted
 * enough buffers, -EINVAL when the queue is broken.
 */
static int net_rx_deliver(struct virtio_net *n)
{
	struct virtqueue *vq = &n->vdev.vq[RXQ];
	struct vq_elem *e = n->elem;
	bool merge = net_has(n, NET_F_MRG_RXBUF);
	u8 *nb[2] = { NULL, NULL };
	u32 off = 0;
	u16 used = 0;
	int ret;

	while (off < n->rx_len) {
		size_t len;

		ret = vq_pop(vq, e);
		/*
		 * Out of buffers: re-arm now, while the chains taken stay taken, so
		 * the driver kicks for a buffer past them; retry if one came meanwhile.
		 */
		if (!ret && virtio_queue_rearm(&n->vdev, RXQ))
			continue;
		if (!ret && used == vq->size) {
			/* Every buffer the ring can hold is not enough: it can never fit. */
			vq_unpop(vq, used);
			n->rx_dropped++;
			return 1;
		}
		if (ret <= 0) {
			vq_unpop(vq, used);
			return ret;
		}
		if (e->in_len < (used ? 1 : NET_HDR_LEN)) {
			/* Receive buffers hold at least the header (5.1.6.3). */
			pr_err("virtio-net %s: receive buffer of %llu bytes", n->tap.name,
			       (unsigned long long)e->in_len);
			vq_unpop(vq, (u16)(used + 1));
			return -EINVAL;
		}
		if (!merge && e->in_len < n->rx_len) {
			/* Too big for the driver's buffers: drop the frame, keep the buffer. */
			vq_unpop(vq, 1);
			n->rx_dropped++;
			return 1;
		}
		len = iov_from_buf(e->in, e->nin, 0, n->rx_buf + off, n->rx_len - off);
		if (!used) {
			/* Where num_buffers lives: bytes 10 and 11, maybe in different iovecs. */
			u64 pos = 0;

			for (u32 i = 0; i < e->nin && pos <= NET_HDR_NUM_BUFFERS + 1;
			     pos += e->in[i].iov_len, i++) {
				for (u32 k = 0; k < 2; k++) {
					u32 at = NET_HDR_NUM_BUFFERS + k;

					if (at >= pos && at - pos < e->in[i].iov_len)
						nb[k] = (u8 *)e->in[i].iov_base + (at - pos);
				}
			}
		}
		vq_fill(vq, e, (u32)len, used);
		used++;
		off += (u32)len;
		if (!merge)
			break;
	}
	if (nb[0] && nb[1]) {
		nb[0][0] = (u8)used;
		nb[1][0] = (u8)(used >> 8);
	}
	vq_flush(vq, used);
	return 1;
}

/* Move frames from the tap to the guest until either side runs dry. d->lock held. */
static void net_rx(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	u32 pushed = 0;

	if (!(d->status & VIRTIO_STATUS_DRIVER_OK) || !d->vq_enabled[RXQ] ||
	    (d->status & VIRTIO_STATUS_NEEDS_RESET)) {
		net_rx_pause(n, true);
		return;
	}
	if (!n->offload_set)
		net_set_offload(n);
	for (;;) {
		int ret;

		if (!n->rx_len) {
			ssize_t r = read(n->tap.fd, n->rx_buf, NET_RX_BUF_SIZE);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break; /* EAGAIN: the tap is empty */
			if (r <= NET_HDR_LEN)
				continue;
			n->rx_len = (u32)r;
			/* The tap leaves num_buffers alone: set below, never stale bytes. */
			n->rx_buf[NET_HDR_NUM_BUFFERS] = n->rx_buf[NET_HDR_NUM_BUFFERS + 1] = 0;
		}
		ret = net_rx_deliver(n);
		if (ret < 0) {
			virtio_dev_broken(d);
			net_rx_pause(n, true);
			break;
		}
		if (ret == 0) {
			/* Out of buffers, kicks re-armed: sleep until the driver posts more. */
			net_rx_pause(n, true);
			break;
		}
		n->rx_len = 0;
		if (++pushed % NET_RX_BATCH == 0)
			virtio_queue_done(d, RXQ);
	}
	if (pushed)
		virtio_queue_done(d, RXQ);
}

static void net_tap_readable(void *opaque, u32 events)
{
	struct virtio_net *n = opaque;

	(void)events;
	pthread_mutex_lock(&n->vdev.lock);
	net_rx(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

static u32 net_tx_serve(struct virtio_dev *d, struct vq_elem *e)
{
	struct virtio_net *n = d->priv;
	ssize_t r;

	/* The header goes to the tap as it is: the kernel validates its offload fields. */
	if (e->out_len < NET_HDR_LEN || e->out_len > NET_RX_BUF_SIZE) {
		n->tx_dropped++;
		return 0;
	}
	do {
		r = writev(n->tap.fd, e->out, (int)e->nout);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		n->tx_dropped++;
	return 0;
}

static void net_queue_notify(struct virtio_dev *d, u16 q)
{
	struct virtio_net *n = d->priv;

	if (n->vhost.running)
		return; /* the kernel was woken by the same eventfd */
	if (q == TXQ) {
		virtio_queue_serve(d, q, n->elem, net_tx_serve);
	} else if (q == RXQ) {
		/* New receive buffers: resume polling the tap and deliver what waits. */
		net_rx_pause(n, false);
		net_rx(n);
	}
}

static void net_config_read(struct virtio_dev *d, u32 off, u8 *data, u32 len)
{
	struct virtio_net *n = d->priv;

	memcpy(data, n->config + off, len);
}

/* --- vhost-net ------------------------------------------------------------ */

static void net_vhost_close(struct virtio_net *n)
{
	for (u16 q = 0; q < VHOST_NET_QUEUES; q++) {
		if (n->call_watched[q])
			ioloop_del(n->loop, n->call_fd[q]);
		n->call_watched[q] = false;
		if (n->call_fd[q] >= 0)
			close(n->call_fd[q]);
		n->call_fd[q] = -1;
	}
	vhost_net_close(&n->vhost);
	n->use_vhost = false;
}

/* vhost wants the driver interrupted for queue @q: the transport knows how. */
static void net_vhost_call(void *opaque, u32 events)
{
	struct virtio_net_call *c = opaque;
	struct virtio_net *n = c->n;
	u64 count;

	(void)events;
	if (read(n->call_fd[c->q], &count, sizeof(count)) != sizeof(count))
		return;
	pthread_mutex_lock(&n->vdev.lock);
	if (n->vhost.running)
		n->vdev.transport->notify_queue(&n->vdev, c->q);
	pthread_mutex_unlock(&n->vdev.lock);
}

/*
 * vhost=1: open /dev/vhost-net and offer only the ring features it
 * implements. Without it the userspace data path serves the device, and
 * the user is told once.
 */
static void net_vhost_open(struct virtio_net *n)
{
	const u64 ring_bits =
	    BIT(VIRTIO_F_INDIRECT_DESC) | BIT(VIRTIO_F_EVENT_IDX) | BIT(NET_F_MRG_RXBUF);
	int ret = vhost_net_open(&n->vhost);

	if (!ret && !(n->vhost.features & BIT(VIRTIO_F_VERSION_1)))
		ret = -EOPNOTSUPP;
	for (u16 q = 0; q < VHOST_NET_QUEUES && !ret; q++) {
		n->call[q] = (struct virtio_net_call){ .n = n, .q = q };
		n->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->call_fd[q] < 0)
			ret = -errno;
		else
			ret = ioloop_add(n->loop, n->call_fd[q], EPOLLIN, net_vhost_call,
					 &n->call[q]);
		n->call_watched[q] = !ret;
	}
	if (ret) {
		pr_warn("virtio-net %s: vhost=1 but /dev/vhost-net is not usable (%s): userspace "
			"data path",
			n->tap.name, strerror(-ret));
		net_vhost_close(n);
		return;
	}
	n->use_vhost = true;
	n->vdev.device_features &= ~(ring_bits & ~n->vhost.features);
}

static void net_driver_ok(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;
	struct vhost_ring ring[VHOST_NET_QUEUES];
	int kick[VHOST_NET_QUEUES];
	u16 q;

	if (!n->use_vhost)
		return;
	for (q = 0; q < VHOST_NET_QUEUES; q++) {
		if (!d->vq_enabled[q] || !d->transport->kick_fd) {
			pr_warn(
			    "virtio-net %s: queue %u not set up at DRIVER_OK: userspace data path",
			    n->tap.name, q);
			return;
		}
		ring[q] = (struct vhost_ring){ .size = d->vq[q].size,
					       .desc = d->vq[q].desc_gpa,
					       .avail = d->vq[q].avail_gpa,
					       .used = d->vq[q].used_gpa };
		kick[q] = d->transport->kick_fd(d, q);
	}
	net_set_offload(n);
	if (vhost_net_start(&n->vhost, &d->vm->mem, d->driver_features, ring, kick, n->call_fd,
			    n->tap.fd)) {
		pr_warn("virtio-net %s: falling back to the userspace data path", n->tap.name);
		n->use_vhost = false;
		return;
	}
	/* The kernel serves the kicks now; the transport stops reading them. */
	for (q = 0; q < VHOST_NET_QUEUES; q++)
		d->transport->kick_watch(d, q, false);
	pr_debug("virtio-net %s: vhost-net data path started", n->tap.name);
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (n->vhost.running) {
		vhost_net_stop(&n->vhost);
		for (u16 q = 0; q < VHOST_NET_QUEUES; q++)
			d->transport->kick_watch(d, q, true);
	}
	net_rx_pause(n, true);
	n->rx_len = 0;
	n->offload_set = false;
	if (n->rx_dropped || n->tx_dropped)
		pr_debug("virtio-net %s: dropped %llu received and %llu sent frames", n->tap.name,
			 (unsigned long long)n->rx_dropped, (unsigned long long)n->tx_dropped);
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = 1,
	.class_code = 0x020000,
	.num_queues = 2,
	.queue_max = 256,
	.features = BIT(NET_F_CSUM) | BIT(NET_F_GUEST_CSUM) | BIT(NET_F_MAC) |
		    BIT(NET_F_GUEST_TSO4) | BIT(NET_F_GUEST_TSO6) | BIT(NET_F_GUEST_ECN) |
		    BIT(NET_F_HOST_TSO4) | BIT(NET_F_HOST_TSO6) | BIT(NET_F_HOST_ECN) |
		    BIT(NET_F_MRG_RXBUF) | BIT(NET_F_STATUS),
	.config_size = 8,
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.driver_ok = net_driver_ok,
};

/* Nothing owned but @tap_fd: virtio_net_destroy() is safe from here on. */
static void net_clear(struct virtio_net *n, int tap_fd)
{
	memset(n, 0, sizeof(*n));
	n->tap.fd = tap_fd;
	n->vhost.fd = -1;
	n->call_fd[0] = n->call_fd[1] = -1;
}

int virtio_net_init_fd(struct virtio_net *n, struct vm *vm, int fd, const u8 mac[6],
		       struct ioloop *loop)
{
	int ret;

	net_clear(n, fd);
	snprintf(n->tap.name, sizeof(n->tap.name), "fd%d", fd);
	n->loop = loop;
	n->rx_buf = calloc(1, NET_RX_BUF_SIZE);
	n->elem = malloc(sizeof(*n->elem));
	if (!n->rx_buf || !n->elem)
		return -ENOMEM;
	memcpy(n->config, mac, 6);
	n->config[6] = NET_S_LINK_UP;
	/* Registered now (watches are fixed while the loop runs), polled once the driver is up. */
	ret = ioloop_add(loop, fd, 0, net_tap_readable, n);
	if (ret) {
		pr_err("virtio-net %s: cannot watch the tap: %s", n->tap.name, strerror(-ret));
		return ret;
	}
	n->tap_watched = true;
	n->rx_paused = true;
	virtio_dev_init(&n->vdev, &net_ops, vm, n);
	return 0;
}

int virtio_net_init(struct virtio_net *n, struct vm *vm, const struct net_config *nc, u32 index,
		    struct ioloop *loop)
{
	const struct tap_config tc = {
		.name = nc->tapif,
		.script = nc->script,
		.downscript = nc->downscript,
		.host_ip = nc->host_ip,
		.host_prefix = nc->host_prefix,
	};
	struct tap tap;
	int ret;

	ret = tap_open(&tap, &tc);
	if (ret) {
		net_clear(n, -1);
		return ret;
	}
	ret = virtio_net_init_fd(n, vm, tap.fd, nc->guest_mac, loop);
	n->tap = tap; /* its name and downscript, for the log and virtio_net_destroy() */
	if (ret)
		return ret;
	if (nc->vhost)
		net_vhost_open(n);
	pr_debug("virtio-net %u: tap %s, %s data path, mac %02x:%02x:%02x:%02x:%02x:%02x", index,
		 n->tap.name, n->use_vhost ? "vhost-net" : "userspace", nc->guest_mac[0],
		 nc->guest_mac[1], nc->guest_mac[2], nc->guest_mac[3], nc->guest_mac[4],
		 nc->guest_mac[5]);
	return 0;
}

void virtio_net_destroy(struct virtio_net *n)
{
	net_vhost_close(n);
	if (n->tap_watched)
		ioloop_del(n->loop, n->tap.fd);
	n->tap_watched = false;
	tap_close(&n->tap);
	free(n->rx_buf);
	free(n->elem);
	n->rx_buf = NULL;
	n->elem = NULL;
}
