/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_BLK_H
#define COHO_VIRTIO_BLK_H

#include <pthread.h>

#include "virtio/virtio.h"

#define VIRTIO_BLK_WORKERS 4

struct blk_job;

/*
 * virtio-blk (device id 2) over a raw image file. Requests are taken off
 * the queue on the ioloop thread and served by a few worker threads, so
 * several are in flight at once and a slow disk never blocks the loop.
 */
struct virtio_blk {
	struct virtio_dev vdev;
	int fd;
	u64 size; /* bytes; capacity = size / 512 */
	bool read_only;
	char serial[20]; /* VIRTIO_BLK_ID_BYTES */
	pthread_t workers[VIRTIO_BLK_WORKERS];
	u32 nr_workers;
	pthread_mutex_t qlock; /* the job queue below */
	pthread_cond_t qcond;
	struct blk_job *head, *tail;
	u32 io_active;	     /* jobs a worker is serving (touching guest buffers) */
	pthread_cond_t idle; /* io_active dropped to 0 */
	u32 gen;	     /* bumped by every reset; d->lock */
	bool stopping;
	const char *path;
};

/* Open @path (read-only if @read_only; O_DIRECT if @direct). -errno with one line logged. */
int virtio_blk_init(struct virtio_blk *blk, struct vm *vm, const char *path, bool read_only,
		    bool direct, u32 index);
int virtio_blk_start(struct virtio_blk *blk);
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
