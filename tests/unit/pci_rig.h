/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_TESTS_UNIT_PCI_RIG_H
#define COHO_TESTS_UNIT_PCI_RIG_H

/*
 * A dry VM (no KVM) with the virtio PCI host bridge at its usual place, for
 * tests that put one function on it and drive it through ECAM on vm->mmio.
 */
#include <string.h>

#include "arm64/layout.h"
#include "hw/pci.h"
#include "vm.h"

static inline int pci_rig_init(struct vm *vm, struct pci_bridge *br)
{
	const struct pci_bridge_config c = {
		.name = "virtio",
		.ecam_base = ARM_PCI_ECAM0_BASE,
		.ecam_size = ARM_PCI_ECAM_SIZE,
		.mmio32_base = ARM_PCI_MMIO32_0_BASE,
		.mmio32_size = ARM_PCI_MMIO32_SIZE,
		.mmio64_base = ARM_PCI_MMIO64_0_BASE,
		.mmio64_size = ARM_PCI_MMIO64_SIZE,
		.intx_spi_base = ARM_PCI_INTX_SPI,
	};

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->kvm_fd = -1;
	vm->dry = true;
	return pci_bridge_init(br, vm, &c);
}

#endif
