/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VFIO_PCI_H
#define COHO_VFIO_PCI_H

#include "hw/pci.h"
#include "vfio/vfio.h"

/*
 * A passed-through function on a passthrough bridge. This slice shows the
 * device's identity and BARs with their host type (I/O, 64-bit,
 * prefetchable) and forwards BAR accesses to the device through VFIO's
 * region file (trapped: no direct mapping yet). The guest's Command
 * register (memory, bus master) reaches the device. No capabilities and
 * no interrupts yet: the capability list is hidden, the interrupt pin is 0.
 */
struct vfio_pci_bar {
	u64 region_off; /* offset of the region in the device fd */
	u64 size;	/* the device's real size (the guest's BAR is >= 4 KiB) */
	struct vfio_pci *p;
};

struct vfio_pci {
	struct vfio_dev *v;
	struct pci_dev pci;
	u64 cfg_off; /* config region offset in the device fd */
	struct vfio_pci_bar bar[6];
};

/* Read the device's header and BARs through VFIO and put it on @bridge. -errno. */
int vfio_pci_init(struct vfio_pci *p, struct vfio_dev *v, struct pci_bridge *bridge);

#endif
