// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/net.c's userspace data path. A fake driver writes rings into the
 * RAM of a dry struct vm and a fake transport counts interrupts; the tap is
 * one end of a SOCK_SEQPACKET socket pair, which keeps frame boundaries as
 * a tap does, and the test plays the host on the other end.
 *
 * Transmit: a chain leaves as one frame however it is split, a chain shorter
 * than the header is dropped but still returned. Receive: one buffer per
 * frame without MRG_RXBUF (a frame too big is dropped and the buffer kept),
 * merged buffers published together with num_buffers set even when it
 * straddles descriptors, a frame kept while the driver has posted too few
 * buffers, hostile buffers turned into DEVICE_NEEDS_RESET, a reset dropping
 * the pending frame, and the tap polled by the ioloop thread once the driver
 * kicks. Header layout and feature bits are written out here from the spec
 * (virtio 1.x, 5.1) rather than taken from the implementation.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guest_mem.h"
#include "ioloop.h"
#include "virtio/net.h"
#include "vm.h"
#include "tests/unit/guest_ram.h"
#include "tests/unit/test.h"
#include "tests/unit/capture.h"

#define BASE 0x40000000ULL
#define RAM  (4 * SZ_1M)

/* Guest physical layout of the fake driver. */
#define RX_DESC	 (BASE + 0x1000)
#define RX_AVAIL (BASE + 0x2000)
#define RX_USED	 (BASE + 0x3000)
#define TX_DESC	 (BASE + 0x4000)
#define TX_AVAIL (BASE + 0x5000)
#define TX_USED	 (BASE + 0x6000)
#define DATA	 (BASE + 0x100000) /* buffers, up to the end of RAM */
#define DATA_END (BASE + RAM - 0x10000)
#define HOSTILE	 (BASE + RAM - 0x10000) /* test_rx_hostile's buffers */

#define QSIZE 32
#define RXQ   0
#define TXQ   1

/* Split ring descriptor and avail flags (virtio 1.x, 2.7). */
#define F_NEXT	     1
#define F_WRITE	     2
#define NO_INTERRUPT 1
/* Untouched guest memory: the device must never write over it. */
#define POISON	     0xa5

/* virtio-net feature bits (5.1.3) and the ring ones (6). */
#define F_CSUM	     (1ULL << 0)
#define F_GUEST_CSUM (1ULL << 1)
#define F_MAC	     (1ULL << 5)
#define F_MRG_RXBUF  (1ULL << 15)
#define F_STATUS     (1ULL << 16)
#define F_EVENT_IDX  (1ULL << 29)
#define F_VERSION_1  (1ULL << 32)
#define F_BASE	     (F_CSUM | F_GUEST_CSUM | F_MAC | F_STATUS)

/* struct virtio_net_hdr with num_buffers (5.1.6): 12 bytes with VERSION_1. */
#define HDR	     12
#define HDR_NUM_BUFS 10
#define HDR_F_CSUM   1 /* flags: VIRTIO_NET_HDR_F_NEEDS_CSUM */

#define STATUS_UP                                                                                  \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |            \
	 VIRTIO_STATUS_DRIVER_OK)

static const u8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static struct vm vm;
static struct ioloop loop;
static struct virtio_net net;
static int peer = -1; /* the host's end of the "tap" */
static u64 data_next;
static u8 frame[8192], frame2[8192], got[8192];

/* ---- the fake transport ---- */

static unsigned notified[2], config_notified, bad_notify; /* atomic: the ioloop thread too */

static void tr_notify_queue(struct virtio_dev *d, u16 q)
{
	__atomic_fetch_add(q < 2 ? &notified[q] : &bad_notify, 1, __ATOMIC_RELAXED);
}

static void tr_notify_config(struct virtio_dev *d)
{
	__atomic_fetch_add(&config_notified, 1, __ATOMIC_RELAXED);
}

static int tr_kick_fd(struct virtio_dev *d, u16 q)
{
	return -1;
}

static void tr_kick_watch(struct virtio_dev *d, u16 q, bool on)
{
}

static const struct virtio_transport fake_transport = {
	.notify_queue = tr_notify_queue,
	.notify_config = tr_notify_config,
	.kick_fd = tr_kick_fd,
	.kick_watch = tr_kick_watch,
};

static unsigned nr_notified(u16 q)
{
	return __atomic_load_n(&notified[q], __ATOMIC_RELAXED);
}

/* The driver notified queue @q: passed on as the transports do (ioloop side). */
static void kick(u16 q)
{
	struct virtio_dev *d = &net.vdev;

	pthread_mutex_lock(&d->lock);
	if (d->vq_enabled[q] && (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->vq[q].broken)
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static u8 dev_status(void)
{
	u8 s;

	pthread_mutex_lock(&net.vdev.lock);
	s = net.vdev.status;
	pthread_mutex_unlock(&net.vdev.lock);
	return s;
}

static u32 dev_rx_len(void)
{
	u32 len;

	pthread_mutex_lock(&net.vdev.lock);
	len = net.rx_len;
	pthread_mutex_unlock(&net.vdev.lock);
	return len;
}

/* ---- the fake driver: little-endian stores into guest RAM ---- */

struct drvq {
	u64 desc, avail, used;
	u16 avail_idx; /* the driver's avail idx */
	u16 next_desc; /* descriptors are not reused within one set-up */
};

static struct drvq rxq = { .desc = RX_DESC, .avail = RX_AVAIL, .used = RX_USED };
static struct drvq txq = { .desc = TX_DESC, .avail = TX_AVAIL, .used = TX_USED };

/* One buffer of a chain. */
struct seg {
	u64 gpa;
	u32 len;
	bool write;
};

/* A fresh @len-byte buffer, poisoned, with poison after it too. */
static u64 buf_alloc(u32 len)
{
	u64 gpa = data_next;

	data_next += (len + 64 + 63) & ~63ULL;
	if (data_next > DATA_END) {
		fprintf(stderr, "test bug: out of buffer space\n");
		exit(2);
	}
	memset(hva(gpa, len + 64), POISON, len + 64);
	return gpa;
}

/* Offer the chain @s[0..n) on @q; returns its head. */
static u16 drv_post(struct drvq *q, const struct seg *s, u32 n)
{
	u16 head = q->next_desc;

	if (head + n > QSIZE) {
		fprintf(stderr, "test bug: out of descriptors\n");
		exit(2);
	}
	for (u32 i = 0; i < n; i++) {
		u64 d = q->desc + 16ULL * (head + i);

		put64(d, s[i].gpa);
		put32(d + 8, s[i].len);
		put16(d + 12, (u16)((s[i].write ? F_WRITE : 0) | (i + 1 < n ? F_NEXT : 0)));
		put16(d + 14, (u16)(head + i + 1));
	}
	q->next_desc += (u16)n;
	put16(q->avail + 4 + 2ULL * (q->avail_idx % QSIZE), head);
	__atomic_store_n((u16 *)hva(q->avail + 2, 2), htole16(++q->avail_idx), __ATOMIC_RELEASE);
	return head;
}

/* A receive buffer of @len bytes in one descriptor; *@gpa is where. */
static u16 rx_post(u32 len, u64 *gpa)
{
	struct seg s = { buf_alloc(len), len, true };

	*gpa = s.gpa;
	return drv_post(&rxq, &s, 1);
}

static u16 used_idx(const struct drvq *q)
{
	return le16toh(__atomic_load_n((u16 *)hva(q->used + 2, 2), __ATOMIC_ACQUIRE));
}

static u32 used_id(const struct drvq *q, u16 i)
{
	return get32(q->used + 4 + 8ULL * (i % QSIZE));
}

static u32 used_len(const struct drvq *q, u16 i)
{
	return get32(q->used + 8 + 8ULL * (i % QSIZE));
}

static u16 avail_event(const struct drvq *q)
{
	return get16(q->used + 4 + 8ULL * QSIZE);
}

/* Reset the driver's view and negotiate, set both queues up, DRIVER_OK. */
static void drv_start(u64 features)
{
	struct virtio_dev *d = &net.vdev;
	struct drvq *q[2] = { &rxq, &txq };

	memset(hva(RX_DESC, DATA - RX_DESC), 0, DATA - RX_DESC);
	data_next = DATA;
	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	d->driver_features = features | F_VERSION_1;
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				 VIRTIO_STATUS_FEATURES_OK);
	CHECK(d->status & VIRTIO_STATUS_FEATURES_OK);
	for (u16 i = 0; i < 2; i++) {
		q[i]->avail_idx = q[i]->next_desc = 0;
		d->vq_size[i] = QSIZE;
		d->vq_desc[i] = q[i]->desc;
		d->vq_avail[i] = q[i]->avail;
		d->vq_used[i] = q[i]->used;
		CHECK_EQ_U64(virtio_queue_enable(d, i), 0);
	}
	virtio_set_status(d, STATUS_UP);
	CHECK_EQ_U64(d->status, STATUS_UP);
	pthread_mutex_unlock(&d->lock);
}

/* A device that loops (with its lock held) fails the test instead of hanging it. */
static void watchdog(int sig)
{
	static const char msg[] = "FAIL test_virtio_net: timed out in ";
	const char *t = test_current ? test_current : "?";

	ssize_t r;

	(void)sig;
	r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	r += write(STDERR_FILENO, t, strlen(t));
	r += write(STDERR_FILENO, "\n", 1);
	(void)r;
	_exit(1);
}

/* A device on a fresh socket pair and loop, driven up with @features. */
static void dev_up(u64 features)
{
	int sv[2];

	alarm(20);
	if (ioloop_init(&loop) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
		fprintf(stderr, "test set-up failed\n");
		exit(2);
	}
	CHECK_EQ_U64(virtio_net_init_fd(&net, &vm, sv[0], mac, &loop), 0);
	CHECK_EQ_U64(net.tap.fd, sv[0]);
	peer = sv[1];
	net.vdev.transport = &fake_transport;
	notified[0] = notified[1] = config_notified = bad_notify = 0;
	drv_start(features);
}

static void dev_down(void)
{
	ssize_t r;

	ioloop_stop(&loop);
	CHECK_EQ_U64(bad_notify, 0);
	virtio_net_destroy(&net);
	CHECK_EQ_U64((u64)(s64)net.tap.fd, (u64)-1);
	/*
	 * The device's end is closed: after whatever it sent, the host sees end
	 * of file, or a reset if frames it never read were left behind.
	 */
	do {
		r = recv(peer, got, sizeof(got), MSG_DONTWAIT);
	} while (r > 0);
	CHECK(r == 0 || errno == ECONNRESET);
	close(peer);
	peer = -1;
	pthread_mutex_destroy(&net.vdev.lock);
	ioloop_destroy(&loop);
	alarm(0);
}

/* ---- the host side of the tap ---- */

/* A frame of header + @payload bytes (pattern @seed) in @buf; returns its length. */
static u32 frame_make(u8 *buf, u32 payload, u8 seed)
{
	memset(buf, 0, HDR);
	buf[0] = HDR_F_CSUM;
	buf[6] = 34; /* csum_start */
	buf[8] = 16; /* csum_offset */
	/* num_buffers: whatever the tap left there, the device must overwrite it. */
	buf[HDR_NUM_BUFS] = 0xee;
	buf[HDR_NUM_BUFS + 1] = 0xee;
	for (u32 i = 0; i < payload; i++)
		buf[HDR + i] = (u8)(seed + i * 7 + (i >> 8));
	return HDR + payload;
}

static void host_send(const u8 *buf, u32 len)
{
	CHECK_EQ_U64((u64)(s64)send(peer, buf, len, MSG_NOSIGNAL), len);
}

/* The next frame the device sent, -1 if none. */
static ssize_t host_recv(void)
{
	return recv(peer, got, sizeof(got), MSG_DONTWAIT);
}

/* Did the driver get frame @f (@len bytes) with num_buffers @nb in @out? */
static bool rx_matches(const u8 *out, const u8 *f, u32 len, u16 nb)
{
	return !memcmp(out, f, HDR_NUM_BUFS) && get_le16(out + HDR_NUM_BUFS) == nb &&
	       !memcmp(out + HDR, f + HDR, len - HDR);
}

/* ---- tests ---- */

static void test_config(void)
{
	u8 cfg[8];

	dev_up(F_BASE);
	CHECK_EQ_U64(net.vdev.ops->device_id, 1);
	CHECK_EQ_U64(net.vdev.ops->num_queues, 2);
	CHECK(net.vdev.device_features & F_MRG_RXBUF);
	CHECK(net.vdev.device_features & F_MAC);
	CHECK(net.vdev.device_features & F_STATUS);
	CHECK(net.vdev.device_features & F_VERSION_1);
	CHECK(net.vdev.device_features & F_EVENT_IDX);
	memset(cfg, 0, sizeof(cfg));
	net.vdev.ops->config_read(&net.vdev, 0, cfg, 8);
	CHECK(!memcmp(cfg, mac, 6));
	CHECK_EQ_U64(get_le16(cfg + 6), 1); /* VIRTIO_NET_S_LINK_UP */
	dev_down();
}

/* Case 1: a chain leaves as exactly one frame, however it is split. */
static void test_tx(void)
{
	u64 a = 0, b = 0, c = 0, e = 0;
	u32 l1, l2;
	u16 h1, h2, h3;
	const char *out;
	ssize_t r;

	dev_up(F_BASE);
	/* Header alone, then the payload; then a split inside the payload. */
	l1 = frame_make(frame, 300, 1);
	a = buf_alloc(HDR);
	b = buf_alloc(300);
	memcpy(hva(a, HDR), frame, HDR);
	memcpy(hva(b, 300), frame + HDR, 300);
	h1 = drv_post(&txq, (const struct seg[]){ { a, HDR, false }, { b, 300, false } }, 2);
	l2 = frame_make(frame2, 1400, 2);
	c = buf_alloc(62);
	e = buf_alloc(l2 - 62);
	memcpy(hva(c, 62), frame2, 62);
	memcpy(hva(e, l2 - 62), frame2 + 62, l2 - 62);
	h2 = drv_post(&txq, (const struct seg[]){ { c, 62, false }, { e, l2 - 62, false } }, 2);

	capture_begin();
	kick(TXQ);
	out = capture_end();
	CHECK_STR(out, "");
	r = host_recv();
	CHECK_EQ_U64((u64)(s64)r, l1);
	CHECK(r == (ssize_t)l1 && !memcmp(got, frame, l1));
	r = host_recv();
	CHECK_EQ_U64((u64)(s64)r, l2);
	CHECK(r == (ssize_t)l2 && !memcmp(got, frame2, l2));
	CHECK(host_recv() < 0 && errno == EAGAIN);
	CHECK_EQ_U64(used_idx(&txq), 2);
	CHECK_EQ_U64(used_id(&txq, 0), h1);
	CHECK_EQ_U64(used_len(&txq, 0), 0);
	CHECK_EQ_U64(used_id(&txq, 1), h2);
	CHECK_EQ_U64(used_len(&txq, 1), 0);
	/* One interrupt for the batch, on the transmit queue only. */
	CHECK_EQ_U64(nr_notified(TXQ), 1);
	CHECK_EQ_U64(nr_notified(RXQ), 0);
	CHECK_EQ_U64(config_notified, 0);
	CHECK_EQ_U64(net.tx_dropped, 0);

	/* The driver suppresses interrupts: the frame goes, no interrupt. */
	put16(txq.avail, NO_INTERRUPT);
	h3 = drv_post(&txq, (const struct seg[]){ { a, HDR, false }, { b, 300, false } }, 2);
	kick(TXQ);
	CHECK_EQ_U64((u64)(s64)host_recv(), l1);
	CHECK_EQ_U64(used_idx(&txq), 3);
	CHECK_EQ_U64(used_id(&txq, 2), h3);
	CHECK_EQ_U64(nr_notified(TXQ), 1);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/* Case 2: shorter than the header: dropped, but the chain is returned. */
static void test_tx_short(void)
{
	u64 a, w;
	u32 l;
	u16 h1, h2, h3;

	dev_up(F_BASE);
	l = frame_make(frame, 100, 3);
	a = buf_alloc(l);
	memcpy(hva(a, l), frame, l);
	w = buf_alloc(64);
	/* 11 bytes over two descriptors, then no readable bytes at all, then a good one. */
	h1 = drv_post(&txq, (const struct seg[]){ { a, 5, false }, { a + 5, 6, false } }, 2);
	h2 = drv_post(&txq, (const struct seg[]){ { w, 64, true } }, 1);
	kick(TXQ);
	CHECK(host_recv() < 0 && errno == EAGAIN);
	CHECK_EQ_U64(used_idx(&txq), 2);
	CHECK_EQ_U64(used_id(&txq, 0), h1);
	CHECK_EQ_U64(used_len(&txq, 0), 0);
	CHECK_EQ_U64(used_id(&txq, 1), h2);
	CHECK_EQ_U64(used_len(&txq, 1), 0);
	CHECK_EQ_U64(hva(w, 1)[0], POISON);
	CHECK_EQ_U64(net.tx_dropped, 2);
	CHECK_EQ_U64(nr_notified(TXQ), 1);

	/* The queue still works: the next good chain goes out. */
	h3 = drv_post(&txq, (const struct seg[]){ { a, l, false } }, 1);
	kick(TXQ);
	CHECK_EQ_U64((u64)(s64)host_recv(), l);
	CHECK(!memcmp(got, frame, l));
	CHECK(host_recv() < 0);
	CHECK_EQ_U64(used_idx(&txq), 3);
	CHECK_EQ_U64(used_id(&txq, 2), h3);
	CHECK_EQ_U64(net.tx_dropped, 2);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/* Case 3: without MRG_RXBUF one frame fills one buffer, num_buffers 1. */
static void test_rx_one(void)
{
	u64 g1, g2, a, b;
	u16 h1, h2, h3;
	u32 l;
	const char *out;

	dev_up(F_BASE);
	h1 = rx_post(1500, &g1);
	l = frame_make(frame, 1000, 4);
	host_send(frame, l);
	capture_begin();
	kick(RXQ); /* TUNSETOFFLOAD fails on a socket: not worth a line */
	out = capture_end();
	CHECK_STR(out, "");
	CHECK_EQ_U64(used_idx(&rxq), 1);
	CHECK_EQ_U64(used_id(&rxq, 0), h1);
	CHECK_EQ_U64(used_len(&rxq, 0), l);
	CHECK(rx_matches(hva(g1, l), frame, l, 1));
	CHECK_EQ_U64(hva(g1, l + 1)[l], POISON);
	CHECK_EQ_U64(nr_notified(RXQ), 1);
	CHECK_EQ_U64(nr_notified(TXQ), 0);
	CHECK_EQ_U64(dev_rx_len(), 0);

	/* A frame exactly the buffer's size fits. */
	h2 = rx_post(HDR + 100, &g2);
	l = frame_make(frame, 100, 5);
	host_send(frame, l);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 2);
	CHECK_EQ_U64(used_id(&rxq, 1), h2);
	CHECK_EQ_U64(used_len(&rxq, 1), l);
	CHECK(rx_matches(hva(g2, l), frame, l, 1));

	/* num_buffers straddling two descriptors is still set. */
	a = buf_alloc(11);
	b = buf_alloc(2000);
	h3 = drv_post(&rxq, (const struct seg[]){ { a, 11, true }, { b, 2000, true } }, 2);
	l = frame_make(frame, 1500, 6);
	host_send(frame, l);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 3);
	CHECK_EQ_U64(used_id(&rxq, 2), h3);
	CHECK_EQ_U64(used_len(&rxq, 2), l);
	CHECK(!memcmp(hva(a, 10), frame, 10));
	CHECK_EQ_U64(hva(a, 11)[10], 1);
	CHECK_EQ_U64(hva(b, 1)[0], 0);
	CHECK(!memcmp(hva(b + 1, l - 12), frame + HDR, l - 12));
	CHECK_EQ_U64(hva(a, 12)[11], POISON);
	CHECK_EQ_U64(hva(b, l)[l - 11], POISON);
	CHECK_EQ_U64(net.rx_dropped, 0);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/* Case 4: without MRG_RXBUF a frame bigger than the buffer is dropped, the buffer kept. */
static void test_rx_too_big(void)
{
	u64 g1, g2;
	u16 h1, h2;
	u32 l1, l2, l3, l4;

	dev_up(F_BASE);
	h1 = rx_post(1000, &g1);
	l1 = frame_make(frame, 1500, 7);
	host_send(frame, l1);
	l2 = frame_make(frame2, 500, 8);
	host_send(frame2, l2);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 1);
	CHECK_EQ_U64(used_id(&rxq, 0), h1);
	CHECK_EQ_U64(used_len(&rxq, 0), l2);
	CHECK(rx_matches(hva(g1, l2), frame2, l2, 1));
	CHECK_EQ_U64(hva(g1, l2 + 1)[l2], POISON);
	CHECK_EQ_U64(net.rx_dropped, 1);
	CHECK_EQ_U64(dev_rx_len(), 0);

	/* One byte too many is too many. */
	h2 = rx_post(HDR + 99, &g2);
	l3 = frame_make(frame, 100, 9);
	host_send(frame, l3);
	l4 = frame_make(frame2, 99, 10);
	host_send(frame2, l4);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 2);
	CHECK_EQ_U64(used_id(&rxq, 1), h2);
	CHECK_EQ_U64(used_len(&rxq, 1), l4);
	CHECK(rx_matches(hva(g2, l4), frame2, l4, 1));
	CHECK_EQ_U64(hva(g2, l4 + 1)[l4], POISON);
	CHECK_EQ_U64(net.rx_dropped, 2);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/* Concatenate the first @len bytes of buffers @g[] (lengths @bl[]) into got[]. */
static void gather(const u64 *g, const u32 *bl, u32 n, u32 len)
{
	u32 off = 0;

	for (u32 i = 0; i < n && off < len; i++) {
		u32 c = len - off < bl[i] ? len - off : bl[i];

		memcpy(got + off, hva(g[i], c), c);
		off += c;
	}
}

/* Case 5: MRG_RXBUF: a frame over several buffers, published together. */
static void test_rx_merge(void)
{
	u64 g[4];
	u32 bl[4] = { 2048, 2048, 2048, 2048 };
	u16 h[4];
	u32 l, l2;

	dev_up(F_BASE | F_MRG_RXBUF);
	for (u32 i = 0; i < 4; i++)
		h[i] = rx_post(2048, &g[i]);
	l = frame_make(frame, 5000, 10);
	host_send(frame, l);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 3);
	for (u16 i = 0; i < 3; i++)
		CHECK_EQ_U64(used_id(&rxq, i), h[i]);
	CHECK_EQ_U64(used_len(&rxq, 0), 2048);
	CHECK_EQ_U64(used_len(&rxq, 1), 2048);
	CHECK_EQ_U64(used_len(&rxq, 2), l - 4096);
	gather(g, bl, 3, l);
	CHECK(rx_matches(got, frame, l, 3));
	CHECK_EQ_U64(hva(g[2], 2048)[l - 4096], POISON);
	CHECK_EQ_U64(hva(g[3], 1)[0], POISON);
	CHECK_EQ_U64(nr_notified(RXQ), 1);

	/* The next frame starts in the fourth buffer, alone. */
	l2 = frame_make(frame2, 100, 11);
	host_send(frame2, l2);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 4);
	CHECK_EQ_U64(used_id(&rxq, 3), h[3]);
	CHECK_EQ_U64(used_len(&rxq, 3), l2);
	CHECK(rx_matches(hva(g[3], l2), frame2, l2, 1));

	/* A header-only first buffer, then one byte per buffer. */
	for (u32 i = 0; i < 4; i++)
		rx_post(i ? 1 : HDR, &g[i]);
	l2 = frame_make(frame2, 3, 12);
	host_send(frame2, l2);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 8);
	CHECK_EQ_U64(used_len(&rxq, 4), HDR);
	CHECK_EQ_U64(used_len(&rxq, 7), 1);
	bl[0] = HDR;
	bl[1] = bl[2] = bl[3] = 1;
	gather(g, bl, 4, l2);
	CHECK(rx_matches(got, frame2, l2, 4));
	CHECK_EQ_U64(net.rx_dropped, 0);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/* Case 5b: MRG_RXBUF with num_buffers straddling the first chain's descriptors. */
static void test_rx_merge_split_header(void)
{
	u64 a, b, c;
	u16 h1, h2;
	u32 l;

	dev_up(F_BASE | F_MRG_RXBUF);
	a = buf_alloc(11);
	b = buf_alloc(2000);
	h1 = drv_post(&rxq, (const struct seg[]){ { a, 11, true }, { b, 2000, true } }, 2);
	h2 = rx_post(2048, &c);
	l = frame_make(frame, 3000, 13);
	host_send(frame, l);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 2);
	CHECK_EQ_U64(used_id(&rxq, 0), h1);
	CHECK_EQ_U64(used_len(&rxq, 0), 2011);
	CHECK_EQ_U64(used_id(&rxq, 1), h2);
	CHECK_EQ_U64(used_len(&rxq, 1), l - 2011);
	memcpy(got, hva(a, 11), 11);
	memcpy(got + 11, hva(b, 2000), 2000);
	memcpy(got + 2011, hva(c, l - 2011), l - 2011);
	CHECK(rx_matches(got, frame, l, 2));
	CHECK_EQ_U64(hva(a, 11)[10], 2);
	CHECK_EQ_U64(hva(b, 1)[0], 0);
	CHECK_EQ_U64(hva(a, 12)[11], POISON);
	CHECK_EQ_U64(hva(c, 2048)[l - 2011], POISON);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/*
 * MRG_RXBUF and too few buffers for the frame: it waits (no spinning with
 * the lock held), the driver is asked to kick for the next buffer it adds
 * (EVENT_IDX), and the frame goes once that buffer comes.
 */
static void test_rx_merge_wait(void)
{
	u64 g[3];
	u32 bl[3] = { 2048, 2048, 2048 };
	u16 h[3];
	u32 l;

	dev_up(F_BASE | F_MRG_RXBUF | F_EVENT_IDX);
	h[0] = rx_post(2048, &g[0]);
	h[1] = rx_post(2048, &g[1]);
	l = frame_make(frame, 5000, 14);
	host_send(frame, l);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 0);
	CHECK_EQ_U64(dev_rx_len(), l);
	CHECK_EQ_U64(avail_event(&rxq), 2);
	CHECK_EQ_U64(nr_notified(RXQ), 0);
	CHECK_EQ_U64(dev_status(), STATUS_UP);

	h[2] = rx_post(2048, &g[2]);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 3);
	for (u16 i = 0; i < 3; i++)
		CHECK_EQ_U64(used_id(&rxq, i), h[i]);
	CHECK_EQ_U64(used_len(&rxq, 2), l - 4096);
	gather(g, bl, 3, l);
	CHECK(rx_matches(got, frame, l, 3));
	CHECK_EQ_U64(dev_rx_len(), 0);
	CHECK_EQ_U64(nr_notified(RXQ), 1);
	CHECK_EQ_U64(net.rx_dropped, 0);
	dev_down();
}

/*
 * A frame larger than the whole receive ring (QSIZE one-descriptor buffers)
 * could wait forever: it is dropped, the buffers stay with the driver, and
 * the next frame is delivered.
 */
static void test_rx_larger_than_ring(void)
{
	u64 g[QSIZE];
	u32 l;

	dev_up(F_BASE | F_MRG_RXBUF);
	for (u16 i = 0; i < QSIZE; i++)
		rx_post(64, &g[i]);
	l = frame_make(frame, 64 * QSIZE, 17); /* header + 2 KiB > 32 x 64 bytes */
	host_send(frame, l);
	l = frame_make(frame2, 100, 18);
	host_send(frame2, l);
	kick(RXQ);
	CHECK_EQ_U64(net.rx_dropped, 1);
	CHECK_EQ_U64(used_idx(&rxq), 2); /* 112 bytes over two 64-byte buffers */
	CHECK_EQ_U64(used_len(&rxq, 0) + used_len(&rxq, 1), l);
	CHECK_EQ_U64(dev_rx_len(), 0);
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

/* Case 6: no buffers: frames wait, in order, until the driver posts some. */
static void test_rx_no_buffers(void)
{
	u64 g1, g2;
	u16 h1, h2;
	u32 l1, l2;

	dev_up(F_BASE);
	l1 = frame_make(frame, 200, 15);
	l2 = frame_make(frame2, 300, 16);
	host_send(frame, l1);
	host_send(frame2, l2);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 0);
	CHECK_EQ_U64(dev_rx_len(), l1);
	CHECK(net.rx_paused);
	CHECK_EQ_U64(nr_notified(RXQ), 0);

	h1 = rx_post(1500, &g1);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 1);
	CHECK_EQ_U64(used_id(&rxq, 0), h1);
	CHECK_EQ_U64(used_len(&rxq, 0), l1);
	CHECK(rx_matches(hva(g1, l1), frame, l1, 1));
	CHECK_EQ_U64(dev_rx_len(), l2);

	h2 = rx_post(1500, &g2);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 2);
	CHECK_EQ_U64(used_id(&rxq, 1), h2);
	CHECK_EQ_U64(used_len(&rxq, 1), l2);
	CHECK(rx_matches(hva(g2, l2), frame2, l2, 1));
	CHECK_EQ_U64(dev_rx_len(), 0);
	CHECK_EQ_U64(net.rx_dropped, 0);
	CHECK_EQ_U64(nr_notified(RXQ), 2);
	dev_down();
}

/* Reset, set up again, and a frame gets through: the device recovered. */
static void reset_and_rx(u64 features)
{
	u64 g;
	u16 h;
	u32 l;

	pthread_mutex_lock(&net.vdev.lock);
	virtio_set_status(&net.vdev, 0);
	pthread_mutex_unlock(&net.vdev.lock);
	CHECK_EQ_U64(dev_status(), 0);
	CHECK_EQ_U64(dev_rx_len(), 0);
	drv_start(features);
	h = rx_post(2048, &g);
	kick(RXQ);
	/* Whatever was pending before the reset is gone. */
	CHECK_EQ_U64(used_idx(&rxq), 0);
	l = frame_make(frame2, 700, 17);
	host_send(frame2, l);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 1);
	CHECK_EQ_U64(used_id(&rxq, 0), h);
	CHECK_EQ_U64(used_len(&rxq, 0), l);
	CHECK(rx_matches(hva(g, l), frame2, l, 1));
	CHECK_EQ_U64(dev_status(), STATUS_UP);
}

/* Post the chain @s[0..n) (after @good 2048-byte buffers) and expect a broken device. */
static void hostile(u64 features, u32 good, const struct seg *s, u32 n)
{
	const char *out;
	u32 l;
	u64 g;

	dev_up(features);
	memset(hva(HOSTILE, 0x2000), POISON, 0x2000);
	for (u32 i = 0; i < good; i++)
		rx_post(2048, &g);
	drv_post(&rxq, s, n);
	l = frame_make(frame, 3000, 18);
	host_send(frame, l);
	capture_begin();
	kick(RXQ);
	kick(RXQ); /* ignored now, and not logged again */
	out = capture_end();
	CHECK(dev_status() & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ_U64(config_notified, 1);
	CHECK_EQ_U64(used_idx(&rxq), 0);
	CHECK_EQ_U64(nr_notified(RXQ), 0);
	CHECK_EQ_U64(count_lines(out), 1);
	CHECK(strstr(out, "receive buffer") != NULL);
	for (u32 i = 0; i < n; i++) {
		if (s[i].len)
			CHECK_EQ_U64(hva(s[i].gpa, s[i].len + 1)[s[i].len], POISON);
	}
	reset_and_rx(features);
	dev_down();
}

/* Case 7: receive buffers too small for the header, or not writable at all. */
static void test_rx_hostile(void)
{
	const u64 a = HOSTILE;

	hostile(F_BASE, 0, (const struct seg[]){ { a, 0, true } }, 1);
	hostile(F_BASE, 0, (const struct seg[]){ { a, 64, false } }, 1);
	hostile(F_BASE, 0, (const struct seg[]){ { a, 11, true } }, 1);
	hostile(F_BASE, 0, (const struct seg[]){ { a, 5, true }, { a + 8, 6, true } }, 2);
	hostile(F_BASE | F_MRG_RXBUF, 0, (const struct seg[]){ { a, 11, true } }, 1);
	/* The second buffer of a merged frame holds nothing. */
	hostile(F_BASE | F_MRG_RXBUF, 1, (const struct seg[]){ { a + 0x1000, 0, true } }, 1);
	hostile(F_BASE | F_MRG_RXBUF, 1,
		(const struct seg[]){ { a + 0x1000, 16, false }, { a + 0x1100, 0, true } }, 2);
}

/* Case 8: a reset drops the pending frame; set up again, the device works. */
static void test_reset(void)
{
	u32 l;

	dev_up(F_BASE | F_MRG_RXBUF | F_EVENT_IDX);
	l = frame_make(frame, 400, 19);
	host_send(frame, l);
	kick(RXQ);
	CHECK_EQ_U64(dev_rx_len(), l);
	reset_and_rx(F_BASE);
	reset_and_rx(F_BASE | F_MRG_RXBUF | F_EVENT_IDX);
	/* Reset with nothing pending, and kicks while reset are ignored. */
	pthread_mutex_lock(&net.vdev.lock);
	virtio_set_status(&net.vdev, 0);
	pthread_mutex_unlock(&net.vdev.lock);
	host_send(frame, l);
	kick(RXQ);
	kick(TXQ);
	CHECK_EQ_U64(dev_rx_len(), 0);
	CHECK(net.rx_paused);
	dev_down();
}

static bool wait_for(u16 (*fn)(const struct drvq *q), const struct drvq *q, u16 want)
{
	for (int i = 0; i < 5000; i++) {
		if (fn(q) == want)
			return true;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return false;
}

static bool wait_rx_len(u32 want)
{
	for (int i = 0; i < 5000; i++) {
		if (dev_rx_len() == want)
			return true;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return false;
}

/* The ioloop thread polls the tap once the driver has kicked, and stops when out of buffers. */
static void test_rx_loop(void)
{
	u64 g1, g2, g3;
	u16 h1, h2, h3;
	u32 l1, l2;

	dev_up(F_BASE | F_EVENT_IDX);
	CHECK_EQ_U64(ioloop_start(&loop), 0);
	h1 = rx_post(1500, &g1);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 0);
	l1 = frame_make(frame, 1200, 20);
	host_send(frame, l1);
	CHECK(wait_for(used_idx, &rxq, 1));
	CHECK_EQ_U64(used_id(&rxq, 0), h1);
	CHECK_EQ_U64(used_len(&rxq, 0), l1);
	CHECK(rx_matches(hva(g1, l1), frame, l1, 1));
	/* The ioloop publishes used idx, then interrupts, both under the lock: wait for it. */
	pthread_mutex_lock(&net.vdev.lock);
	pthread_mutex_unlock(&net.vdev.lock);
	CHECK_EQ_U64(nr_notified(RXQ), 1);

	/* Out of buffers: the frame waits and the tap is no longer polled. */
	l2 = frame_make(frame2, 600, 21);
	host_send(frame2, l2);
	CHECK(wait_rx_len(l2));
	pthread_mutex_lock(&net.vdev.lock);
	CHECK(net.rx_paused);
	pthread_mutex_unlock(&net.vdev.lock);
	CHECK_EQ_U64(avail_event(&rxq), 1);
	h2 = rx_post(1500, &g2);
	kick(RXQ);
	CHECK_EQ_U64(used_idx(&rxq), 2);
	CHECK_EQ_U64(used_id(&rxq, 1), h2);
	CHECK(rx_matches(hva(g2, l2), frame2, l2, 1));

	/* Polling again after that kick. */
	h3 = rx_post(1500, &g3);
	host_send(frame, l1);
	CHECK(wait_for(used_idx, &rxq, 3));
	CHECK_EQ_U64(used_id(&rxq, 2), h3);
	CHECK(rx_matches(hva(g3, l1), frame, l1, 1));
	CHECK_EQ_U64(dev_status(), STATUS_UP);
	dev_down();
}

static void test_setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	vm.kvm_fd = -1;
	vm.dry = true;
	CHECK_EQ_U64(guest_mem_init(&vm.mem, BASE, RAM), 0);
	test_ram = &vm.mem;
	if (!vm.mem.host)
		exit(1);
	signal(SIGALRM, watchdog);
}

static void test_teardown(void)
{
	guest_mem_destroy(&vm.mem);
}

TEST_MAIN(test_setup, test_config, test_tx, test_tx_short, test_rx_one, test_rx_too_big,
	  test_rx_merge, test_rx_merge_split_header, test_rx_merge_wait, test_rx_larger_than_ring,
	  test_rx_no_buffers, test_rx_hostile, test_reset, test_rx_loop, test_teardown)
