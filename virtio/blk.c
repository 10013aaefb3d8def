// SPDX-License-Identifier: GPL-2.0
/* virtio block device (virtio 1.x, 5.2) over a raw image. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/blk.h"

#define SECTOR 512ULL

/* Feature bits (5.2.3) */
#define BLK_F_SEG_MAX	   2
#define BLK_F_RO	   5
#define BLK_F_BLK_SIZE	   6
#define BLK_F_FLUSH	   9
#define BLK_F_DISCARD	   13
#define BLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6) */
#define BLK_T_IN	   0
#define BLK_T_OUT	   1
#define BLK_T_FLUSH	   4
#define BLK_T_GET_ID	   8
#define BLK_T_DISCARD	   11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK	   0
#define BLK_S_IOERR	   1
#define BLK_S_UNSUPP	   2

#define BLK_SEG_MAX		126
#define BLK_QUEUE_SIZE		256
#define BLK_MAX_DISCARD_SECTORS (1U << 21) /* 1 GiB per range */

struct blk_job {
	struct vq_elem elem;
	u32 gen; /* the device's reset generation when the job was taken */
	struct blk_job *next;
};

/* Config space (5.2.4), as the driver sees it. */
static void blk_config_read(struct virtio_dev *d, u32 off, u8 *data, u32 len)
{
	struct virtio_blk *blk = d->priv;
	u8 cfg[64] = { 0 };
	u64 cap = blk->size / SECTOR;
	u32 i;

	for (i = 0; i < 8; i++)
		cfg[i] = (u8)(cap >> (8 * i));
	cfg[12] = BLK_SEG_MAX;				   /* seg_max @12 */
	cfg[20] = (u8)SECTOR, cfg[21] = (u8)(SECTOR >> 8); /* blk_size @20 */
	cfg[34] = 1;					   /* num_queues @34 */
	cfg[36] = (u8)BLK_MAX_DISCARD_SECTORS, cfg[37] = (u8)(BLK_MAX_DISCARD_SECTORS >> 8);
	cfg[38] = (u8)(BLK_MAX_DISCARD_SECTORS >> 16);		 /* max_discard_sectors @36 */
	cfg[40] = 1;						 /* max_discard_seg @40 */
	cfg[44] = 1;						 /* discard_sector_alignment @44 */
	cfg[48] = cfg[36], cfg[49] = cfg[37], cfg[50] = cfg[38]; /* max_write_zeroes_sectors @48 */
	cfg[52] = 1;						 /* max_write_zeroes_seg @52 */
	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, cfg + off, len);
}

/* [sector, sector + len) must be inside the image; overflow-safe. */
static bool blk_range_ok(struct virtio_blk *blk, u64 sector, u64 len)
{
	u64 off, end;

	if (__builtin_mul_overflow(sector, SECTOR, &off) || __builtin_add_overflow(off, len, &end))
		return false;
	return end <= blk->size;
}

/*
 * Reads fill in[] except its last byte (the status); writes take out[] after
 * the 16-byte header. Any descriptor layout works (virtio 2.7.4: devices
 * must not assume one), e.g. header and data in one buffer.
 */
static u8 blk_rw(struct virtio_blk *blk, struct vq_elem *e, bool write, u64 sector, u32 *written)
{
	const struct iovec *iov = write ? e->out : e->in;
	u32 n = write ? e->nout : e->nin, i;
	u64 skip = write ? 16 : 0;
	u64 len = write ? e->out_len - 16 : e->in_len - 1;
	u64 off = sector * SECTOR, left = len;

	if (write && blk->read_only)
		return BLK_S_IOERR;
	if (!blk_range_ok(blk, sector, len))
		return BLK_S_IOERR;
	for (i = 0; i < n && left; i++) {
		u8 *base = iov[i].iov_base;
		u64 ilen = iov[i].iov_len, done;

		if (skip >= ilen) {
			skip -= ilen;
			continue;
		}
		base += skip;
		ilen -= skip;
		skip = 0;
		if (ilen > left)
			ilen = left;
		for (done = 0; done < ilen;) {
			ssize_t r = write ? pwrite(blk->fd, base + done, ilen - done, (off_t)off)
					  : pread(blk->fd, base + done, ilen - done, (off_t)off);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return BLK_S_IOERR;
			done += (u64)r;
			off += (u64)r;
		}
		left -= ilen;
	}
	if (!write)
		*written += (u32)len;
	return BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES carry {le64 sector, le32 num_sectors, le32 flags} segments. */
static u8 blk_discard(struct virtio_blk *blk, struct vq_elem *e, bool zeroes)
{
	u8 seg[16];
	u64 sector, len;
	u32 n;
	int mode;

	if (blk->read_only)
		return BLK_S_IOERR;
	if (iov_to_buf(e->out, e->nout, 16, seg, sizeof(seg)) != sizeof(seg))
		return BLK_S_IOERR;
	sector = get_le64(seg);
	n = get_le32(seg + 8);
	len = (u64)n * SECTOR;
	if (n > BLK_MAX_DISCARD_SECTORS || !blk_range_ok(blk, sector, len))
		return BLK_S_IOERR;
	mode = zeroes ? FALLOC_FL_ZERO_RANGE : (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	if (fallocate(blk->fd, mode, (off_t)(sector * SECTOR), (off_t)len) == 0)
		return BLK_S_OK;
	if (!zeroes)
		return BLK_S_OK; /* discard is a hint */
	{
		/* No ZERO_RANGE on this file system: write zeroes. */
		static const u8 zero[65536];
		u64 off = sector * SECTOR, left = len;

		while (left) {
			size_t c = left > sizeof(zero) ? sizeof(zero) : (size_t)left;
			ssize_t r = pwrite(blk->fd, zero, c, (off_t)off);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return BLK_S_IOERR;
			off += (u64)r;
			left -= (u64)r;
		}
	}
	return BLK_S_OK;
}

/* Serve one request: the bytes written into its buffers, or -1 if it is malformed. */
static s64 blk_serve(struct virtio_blk *blk, struct vq_elem *e)
{
	u8 hdr[16], status = BLK_S_OK;
	u32 written = 0;
	u64 sector;

	/* Header first (16 bytes readable), status last (1 byte writable). */
	if (e->in_len < 1 || e->in_len > UINT32_MAX ||
	    iov_to_buf(e->out, e->nout, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return -1;
	sector = get_le64(hdr + 8);
	switch (get_le32(hdr)) {
	case BLK_T_IN:
		status = blk_rw(blk, e, false, sector, &written);
		break;
	case BLK_T_OUT:
		status = blk_rw(blk, e, true, sector, &written);
		break;
	case BLK_T_FLUSH:
		status = fdatasync(blk->fd) ? BLK_S_IOERR : BLK_S_OK;
		break;
	case BLK_T_GET_ID:
		written = (u32)iov_from_buf(
		    e->in, e->nin, 0, blk->serial,
		    e->in_len - 1 < sizeof(blk->serial) ? e->in_len - 1 : sizeof(blk->serial));
		break;
	case BLK_T_DISCARD:
		status = blk_discard(blk, e, false);
		break;
	case BLK_T_WRITE_ZEROES:
		status = blk_discard(blk, e, true);
		break;
	default:
		status = BLK_S_UNSUPP;
		break;
	}
	/* The status byte is the last byte of the writable buffers. */
	iov_from_buf(e->in, e->nin, e->in_len - 1, &status, 1);
	return (e->in_len - 1 < written ? (u32)e->in_len - 1 : written) + 1;
}

/* Return a served job to the driver, unless the device was reset since it was taken. */
static void blk_complete(struct virtio_blk *blk, struct blk_job *j, s64 written)
{
	struct virtio_dev *d = &blk->vdev;

	pthread_mutex_lock(&d->lock);
	/* After a reset the head index means nothing in the (possibly new) ring. */
	if (j->gen == blk->gen && d->vq_enabled[0]) {
		if (written < 0) {
			if (!(d->status & VIRTIO_STATUS_NEEDS_RESET))
				pr_err("virtio-blk %s: malformed request; the device needs a reset",
				       blk->path);
			vq_push(&d->vq[0], &j->elem, 0);
			virtio_dev_broken(d);
		} else {
			vq_push(&d->vq[0], &j->elem, (u32)written);
			virtio_queue_done(d, 0);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static void *blk_worker(void *arg)
{
	struct virtio_blk *blk = arg;

	for (;;) {
		struct blk_job *j;
		s64 written;

		pthread_mutex_lock(&blk->qlock);
		while (!blk->head && !blk->stopping)
			pthread_cond_wait(&blk->qcond, &blk->qlock);
		if (!blk->head) {
			pthread_mutex_unlock(&blk->qlock);
			return NULL;
		}
		j = blk->head;
		blk->head = j->next;
		if (!blk->head)
			blk->tail = NULL;
		blk->io_active++;
		pthread_mutex_unlock(&blk->qlock);
		written = blk_serve(blk, &j->elem);
		pthread_mutex_lock(&blk->qlock);
		if (!--blk->io_active)
			pthread_cond_broadcast(&blk->idle);
		pthread_mutex_unlock(&blk->qlock);
		blk_complete(blk, j, written);
		free(j);
	}
}

/* On the ioloop thread with d->lock held: move every available request to the workers. */
static void blk_queue_notify(struct virtio_dev *d, u16 q)
{
	struct virtio_blk *blk = d->priv;

	do {
		for (;;) {
			struct blk_job *j = malloc(sizeof(*j));
			int ret;

			if (!j)
				return;
			ret = vq_pop(&d->vq[q], &j->elem);
			if (ret <= 0) {
				free(j);
				if (ret < 0) {
					virtio_dev_broken(d);
					return;
				}
				break;
			}
			j->next = NULL;
			j->gen = blk->gen;
			pthread_mutex_lock(&blk->qlock);
			if (blk->tail)
				blk->tail->next = j;
			else
				blk->head = j;
			blk->tail = j;
			pthread_cond_signal(&blk->qcond);
			pthread_mutex_unlock(&blk->qlock);
		}
	} while (virtio_queue_rearm(d, q));
}

/*
 * Reset (d->lock held): forget queued requests and wait until no worker is
 * still reading or writing guest buffers, so the device is quiet when the
 * driver sees status 0 (virtio 2.4); results of requests already served are
 * dropped by blk_complete() through the generation number.
 */
static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *blk = d->priv;

	pthread_mutex_lock(&blk->qlock);
	while (blk->head) {
		struct blk_job *j = blk->head;

		blk->head = j->next;
		free(j);
	}
	blk->tail = NULL;
	while (blk->io_active)
		pthread_cond_wait(&blk->idle, &blk->qlock);
	pthread_mutex_unlock(&blk->qlock);
	blk->gen++;
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = 2,
	.class_code = 0x018000,
	.num_queues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.features = 1ULL << BLK_F_SEG_MAX | 1ULL << BLK_F_BLK_SIZE | 1ULL << BLK_F_FLUSH |
		    1ULL << BLK_F_DISCARD | 1ULL << BLK_F_WRITE_ZEROES,
	.config_size = 60,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
};

int virtio_blk_init(struct virtio_blk *blk, struct vm *vm, const char *path, bool read_only,
		    bool direct, u32 index)
{
	struct stat st;
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);

	memset(blk, 0, sizeof(*blk));
	pthread_mutex_init(&blk->qlock, NULL);
	pthread_cond_init(&blk->qcond, NULL);
	pthread_cond_init(&blk->idle, NULL);
	blk->path = path;
	blk->read_only = read_only;
	blk->fd = open(path, flags);
	if (blk->fd < 0 || fstat(blk->fd, &st) < 0) {
		int err = -errno;

		pr_err("disk %s: %s", path, strerror(errno));
		return err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		pr_err("disk %s: not a regular file or block device", path);
		return -EINVAL;
	}
	blk->size = S_ISBLK(st.st_mode) ? (u64)lseek(blk->fd, 0, SEEK_END) : (u64)st.st_size;
	if (blk->size < SECTOR) {
		pr_err("disk %s: smaller than one 512-byte sector", path);
		return -EINVAL;
	}
	if (blk->size % SECTOR)
		pr_warn("disk %s: the last %llu bytes (not a whole sector) are not visible", path,
			(unsigned long long)(blk->size % SECTOR));
	snprintf(blk->serial, sizeof(blk->serial), "coho-disk%u", index);
	virtio_dev_init(&blk->vdev, &blk_ops, vm, blk);
	if (read_only)
		blk->vdev.device_features |= 1ULL << BLK_F_RO;
	return 0;
}

int virtio_blk_start(struct virtio_blk *blk)
{
	pthread_attr_t attr;
	u32 i;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < VIRTIO_BLK_WORKERS; i++) {
		if (pthread_create(&blk->workers[i], &attr, blk_worker, blk))
			break;
		blk->nr_workers++;
	}
	pthread_attr_destroy(&attr);
	return blk->nr_workers ? 0 : -EAGAIN;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	u32 i;

	pthread_mutex_lock(&blk->qlock);
	blk->stopping = true;
	pthread_cond_broadcast(&blk->qcond);
	pthread_mutex_unlock(&blk->qlock);
	for (i = 0; i < blk->nr_workers; i++)
		pthread_join(blk->workers[i], NULL);
	blk->nr_workers = 0;
	while (blk->head) {
		struct blk_job *j = blk->head;

		blk->head = j->next;
		free(j);
	}
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
}
