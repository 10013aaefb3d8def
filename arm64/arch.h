/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_ARCH_H
#define COHO_ARM64_ARCH_H

#include "arm64/fdt.h"
#include "util/types.h"

struct vm;
struct vcpu;

/* What the VM core asks of the architecture (arm64/kvm/ on arm64 hosts). */
struct arch_vm {
	enum gic_version gic;
	bool its;
	int gic_fd;
	int its_fd;
	u32 psci_version; /* PSCI_VER() KVM implements for the vCPUs */
	bool nisv_abort;  /* undecodable MMIO accesses exit to us; we inject a data abort */
	u32 nisv_reported;
};

/* false where KVM cannot run arm64 guests: the VM is then "dry" (DT dumps only). */
bool arch_kvm_supported(void);
/* KVM_CREATE_VM machine type (IPA size). */
int arch_vm_type(struct vm *vm);
/* Initialise a created vCPU (secondaries start powered off) and read its MPIDR. */
int arch_vcpu_init(struct vm *vm, struct vcpu *v);
/* Create and initialise the in-kernel GIC; after every vCPU exists. */
int arch_irqchip_create(struct vm *vm);
/* A guest reboot: the ITS back to its reset state (the GIC itself is reset by the guest). */
int arch_irqchip_reset(struct vm *vm);
/* Entry state of the boot vCPU: PC, x0 = DTB, x1-x3 = 0, EL1h, DAIF masked. */
int arch_set_boot_regs(struct vm *vm, struct vcpu *v, u64 pc, u64 x0);
/* Drive the level of shared peripheral interrupt @spi. */
int arch_irq_line(struct vm *vm, u32 spi, bool level);
/* Log a one-line description of a vCPU's PC etc. (debug aid after faults). */
void arch_vcpu_dump(struct vcpu *v);
/* Every general-purpose and the main EL1 system registers of a stopped vCPU, as text to @fd. */
void arch_vcpu_dump_regs(struct vcpu *v, int fd);
/*
 * The guest made an MMIO access KVM cannot decode (no valid syndrome: a
 * load/store pair, a writeback addressing mode) at @ipa: give the guest a
 * synchronous external abort, as hardware does for a bad device access.
 * -errno if this KVM cannot inject one (the VM must stop then).
 */
int arch_vcpu_reject_access(struct vcpu *v, u64 ipa);

#endif
