/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VFIO_PCI_H
#define COHO_VFIO_PCI_H

#include <pthread.h>

#include "hw/pci-msi.h"
#include "hw/pci-msix.h"
#include "hw/pci.h"
#include "region_map.h"
#include "vfio/bar-areas.h"
#include "vfio/vfio.h"
#include "vm.h"

/*
 * A passed-through function on a passthrough bridge.
 *
 * Config space is virtual: the device's IDs and class, its BARs with the
 * host's type (I/O, 64-bit, prefetchable), MSI and MSI-X capabilities
 * emulated here and backed by VFIO eventfds + KVM irqfds, vendor-specific
 * capabilities as read-only copies, every other capability hidden. Command
 * (memory, bus master, INTx disable) reaches the device; Status shows the
 * device's real interrupt bit.
 *
 * BARs: the mmappable parts of each memory BAR are KVM memory slots at the
 * address the guest programs, with the memory-type policy of the BAR
 * (region_map.h); MSI-X table and PBA pages, sparse-mmap holes, and BARs
 * the policy or the kernel keep from being mapped are trapped and forwarded.
 */

#define VFIO_BAR_AREAS 8

struct vfio_pci_bar {
	u64 region_off; /* offset of the region in the device fd */
	u64 size;	/* the device's real size (the guest's BAR is >= 4 KiB) */
	u32 flags;	/* PCI_BAR_* */
	bool mmappable; /* VFIO_REGION_INFO_FLAG_MMAP */
	bool msix_only; /* nothing left to map once the MSI-X pages are trapped */
	struct region_map_outcome map;
	struct vfio_bar_area area[VFIO_BAR_AREAS];
	u32 nr_areas;
	u64 trapped; /* guest accesses that exited to the VMM (atomic) */
	struct vfio_pci *p;
};

enum vfio_irq_mode { VFIO_IRQ_NONE, VFIO_IRQ_INTX, VFIO_IRQ_MSI, VFIO_IRQ_MSIX };

struct vfio_irq_vec {
	int efd; /* VFIO signals it; KVM's irqfd injects it */
	int gsi; /* its MSI route, -1 until first needed */
	bool irqfd;
};

struct vfio_pci {
	struct vfio_dev *v;
	struct vm *vm;
	struct pci_dev pci;
	u64 cfg_off; /* config region offset in the device fd */
	struct vfio_pci_bar bar[6];

	pthread_mutex_t irq_lock; /* everything below */
	enum vfio_irq_mode mode;
	bool has_intx, has_msi, has_msix;
	struct pci_msi msi;
	struct pci_msix msix;
	int intx_efd, intx_rfd; /* trigger and resample (unmask) eventfds */
	bool intx_wired;	/* the irqfd on the SPI is assigned */
	struct vfio_irq_vec *vec;
	u32 nvec;      /* vec[] entries: max(MSI, MSI-X) vectors */
	u32 vfio_nvec; /* vectors enabled at VFIO in the current mode */
};

/*
 * Read the device's config through VFIO, build the virtual function, map
 * its BARs per @vc's policies and what @caps says the kernel can do, and
 * put it on @bridge with its interrupts wired. -errno; on error everything
 * is undone.
 */
int vfio_pci_init(struct vfio_pci *p, struct vfio_dev *v, struct vm *vm, struct pci_bridge *bridge,
		  const struct vfio_config *vc, const struct region_map_caps *caps);
/* Disable interrupts, remove memory slots, unmap (after the vCPUs stopped). */
void vfio_pci_destroy(struct vfio_pci *p);

/* vfio/pci-irq.c: interrupts. */
/* Build the capability list from the device's (before the bridge). */
int vfio_pci_irq_init(struct vfio_pci *p, const u8 *cfg);
/* Wire INTx once the function has its SPI (after the bridge). */
int vfio_pci_irq_start(struct vfio_pci *p);
void vfio_pci_irq_cfg_written(struct vfio_pci *p, u32 off, u32 len);
/* A machine reset restored config space: MSI/MSI-X off, back to INTx. */
void vfio_pci_irq_reset(struct vfio_pci *p);
bool vfio_pci_irq_mmio(struct vfio_pci *p, int bar, u64 off, u8 *data, u32 len, bool is_write);
void vfio_pci_irq_destroy(struct vfio_pci *p);

#endif
