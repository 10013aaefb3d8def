/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_PCI_H
#define COHO_VIRTIO_PCI_H

#include "hw/pci-msix.h"
#include "hw/pci.h"
#include "virtio/virtio.h"

struct ioloop;

/*
 * virtio-pci, modern interface only (virtio 1.x, 4.1). BAR0 holds the
 * common, ISR, device and notify structures; BAR1 the MSI-X table and PBA
 * (only when KVM can deliver MSIs through the ITS; otherwise INTx).
 * Notifications arrive through ioeventfds on the ioloop thread.
 */
struct virtio_pci {
	struct virtio_dev *vdev;
	struct pci_dev pci;
	struct pci_msix msix;
	bool has_msix;
	struct ioloop *loop;
	u32 dfselect, gfselect;
	u16 queue_select;
	u16 config_vector;
	u16 queue_vector[VIRTIO_MAX_QUEUES];
	u8 isr;
	bool intx_level;
	int kick_fd[VIRTIO_MAX_QUEUES];	   /* ioeventfd per queue */
	u64 kick_addr[VIRTIO_MAX_QUEUES];  /* where it is registered (0: not) */
	int vec_fd[VIRTIO_MAX_QUEUES + 1]; /* irqfd per MSI-X vector */
	int vec_gsi[VIRTIO_MAX_QUEUES + 1];
	bool vec_attached[VIRTIO_MAX_QUEUES + 1];
	int pci_cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
};

/* Create the function for @vdev and put it on @bridge. -errno. */
int virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *vdev, struct pci_bridge *bridge,
		    struct ioloop *loop);
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
