/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_HW_PCI_MSI_H
#define COHO_HW_PCI_MSI_H

#include "hw/pci.h"
#include "util/types.h"

/*
 * An MSI capability (PCI Local Bus 3.0, section 6.8.1) in a function's
 * config space: 64-bit addresses and per-vector masking, 1-32 vectors. This
 * file keeps what the guest programs and says when it changed; delivery is
 * the device's business. The Pending Bits are read-only and supplied by
 * the device (pci_msi_set_pending).
 */
#define PCI_MSI_MAX_VECTORS 32

struct pci_msi {
	struct pci_dev *dev;
	int cap;     /* offset of the capability */
	u8 nvec_cap; /* vectors the function can use (a power of two) */
	/* Called after the guest changed anything that affects delivery. */
	void (*changed)(struct pci_msi *m, void *opaque);
	void *opaque;
};

/* Add the capability for @nvec (1, 2, 4, 8, 16 or 32) vectors. -EINVAL / -ENOSPC. */
int pci_msi_init(struct pci_msi *m, struct pci_dev *d, u8 nvec);
/* Config-space write hook: call from the device's cfg_written. */
void pci_msi_cfg_written(struct pci_msi *m, u32 off, u32 len);
/* Vectors enabled by the guest (0: MSI disabled). */
u32 pci_msi_enabled_vectors(const struct pci_msi *m);
/*
 * The message of vector @v (< pci_msi_enabled_vectors()): the address, and
 * the data with its low bits replaced by @v (6.8.1.5). *@masked: its mask bit.
 */
void pci_msi_vector(const struct pci_msi *m, u32 v, u64 *addr, u32 *data, bool *masked);
/* Show vector @v pending (or not) in the Pending Bits. */
void pci_msi_set_pending(struct pci_msi *m, u32 v, bool pending);

#endif
