/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_HW_PCI_MSIX_H
#define COHO_HW_PCI_MSIX_H

#include <pthread.h>

#include "hw/pci.h"
#include "util/types.h"

/*
 * MSI-X (PCI Local Bus 3.0, section 6.8.2): the capability in config space,
 * the vector table and the pending-bit array inside a BAR. This file keeps
 * the state the guest programs and tells the device when a vector's route
 * (address, data, masked) may have changed; delivery (irqfd, KVM routing)
 * is the device's business.
 */

#define PCI_MSIX_MAX_VECTORS 2048

struct pci_msix_vector {
	u64 addr;
	u32 data;
	bool masked; /* the entry's own mask bit */
};

struct pci_msix {
	struct pci_dev *dev;
	u16 nvec;
	int cap;       /* offset of the capability in config space */
	int bar;       /* BAR holding table and PBA */
	u32 table_off; /* 8-byte aligned offset of the table in the BAR */
	u32 pba_off;   /* 8-byte aligned offset of the PBA in the BAR */
	struct pci_msix_vector *vec;
	u64 *pba;	      /* pending bits, nvec bits */
	bool enabled;	      /* MSI-X Enable in Message Control */
	bool func_masked;     /* Function Mask in Message Control */
	pthread_mutex_t lock; /* vec, pba, enabled, func_masked */
	/*
	 * Called (with no locks of this file held) after the guest changed
	 * vector @v's address/data/mask, or (v == 0xffff) the enable or
	 * function-mask bits that affect every vector.
	 */
	void (*changed)(struct pci_msix *m, u16 v, void *opaque);
	void *opaque;
};

/*
 * Add the capability to @d and set up @nvec vectors whose table and PBA
 * live in BAR @bar at the given offsets (the BAR must be large enough).
 * Every vector starts masked. changed and opaque are left as they are (set
 * them before or after). -EINVAL / -ENOSPC / -ENOMEM.
 */
int pci_msix_init(struct pci_msix *m, struct pci_dev *d, u16 nvec, int bar, u32 table_off,
		  u32 pba_off);
void pci_msix_free(struct pci_msix *m);
/*
 * Back to the reset state (Message Control already restored by the caller):
 * disabled, every vector masked with address and data 0, nothing pending.
 * Calls changed (0xffff).
 */
void pci_msix_reset(struct pci_msix *m);
/* Handle a BAR access if it falls in the table or the PBA; true if it did. */
bool pci_msix_mmio(struct pci_msix *m, u64 off, u8 *data, u32 len, bool is_write);
/* Config-space write hook: call from the device's cfg_written for the capability. */
void pci_msix_cfg_written(struct pci_msix *m, u32 off, u32 len);
/* true, with the message, if vector @v may be delivered now (enabled, unmasked). */
bool pci_msix_vector_active(struct pci_msix *m, u16 v, u64 *addr, u32 *data);
/* Record that @v fired while masked (shown in the PBA) / clear it. */
void pci_msix_set_pending(struct pci_msix *m, u16 v, bool pending);

#endif
