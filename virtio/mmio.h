/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_MMIO_H
#define COHO_VIRTIO_MMIO_H

#include "virtio/virtio.h"

struct ioloop;
struct vm;

/* Each device gets a 4 KiB slot: registers at 0x000, device config at 0x100. */
#define VIRTIO_MMIO_SLOT_SIZE 0x1000ULL

/*
 * virtio-mmio, version 2 (virtio 1.x, 4.2), with a level-triggered SPI.
 * Queue notifications arrive through one ioeventfd per queue on QueueNotify
 * (matching the queue index) and are served on the ioloop thread, as with
 * virtio-pci. Registers are serialised by vdev->lock.
 */
struct virtio_mmio;

/* What the ioloop callback of one queue's kick eventfd needs. */
struct virtio_mmio_kick {
	struct virtio_mmio *m;
	u16 q;
};

struct virtio_mmio {
	struct virtio_dev *vdev;
	struct vm *vm;
	struct ioloop *loop;
	u64 base;
	u32 spi;
	u32 dfselect, gfselect; /* DeviceFeaturesSel, DriverFeaturesSel */
	u32 queue_sel;
	u32 int_status; /* InterruptStatus: bit 0 used buffer, bit 1 config change */
	bool irq_level; /* what the SPI was last set to */
	/* Per queue: the kick eventfd (-1: none), whether KVM signals it on QueueNotify. */
	int kick_fd[VIRTIO_MAX_QUEUES];
	bool kick_assigned[VIRTIO_MAX_QUEUES];
	bool kick_watched[VIRTIO_MAX_QUEUES]; /* on the ioloop */
	struct virtio_mmio_kick kick[VIRTIO_MAX_QUEUES];
	bool on_bus; /* the slot is registered on vm->mmio */
	char name[32];
};

/*
 * Register the slot at @base with interrupt @spi for @vdev. -errno, and then
 * nothing is left behind: @m may be freed without virtio_mmio_destroy().
 */
int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vdev, struct vm *vm, u64 base,
		     u32 spi, struct ioloop *loop);
/* Write the device's "virtio,mmio" node (dma-coherent) under the root. */
int virtio_mmio_fdt(struct virtio_mmio *m, void *fdt, u32 gic_phandle);
/*
 * Drop the ioeventfds, ioloop watches and eventfds (the ioloop must be
 * stopped). The bus cannot remove the slot: free @m only once no vCPU runs.
 */
void virtio_mmio_destroy(struct virtio_mmio *m);
/* A machine reset: the device and its registers as after power-on. */
void virtio_mmio_reset(struct virtio_mmio *m);

#endif
