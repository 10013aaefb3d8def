// SPDX-License-Identifier: GPL-2.0
/*
 * Stand-in for arm64/kvm/ on hosts whose KVM cannot run arm64 guests. The VM
 * is "dry": RAM, loaders and the device tree work (--dump-dtb, unit tests),
 * running vCPUs does not. MPIDRs follow KVM's default assignment
 * (arch/arm64/kvm/sys_regs.c: Aff0 = id & 0xf, Aff1 = id >> 4 & 0xff,
 * Aff2 = id >> 12 & 0xff; bit 31 is RES1).
 */
#include <errno.h>
#include <stdio.h>

#include "arm64/layout.h"
#include "util/log.h"
#include "vm.h"

bool arch_kvm_supported(void)
{
	return false;
}

int arch_vm_type(struct vm *vm)
{
	(void)vm;
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *v)
{
	u64 id = v->id;

	v->mpidr = (1ULL << 31) | (id & 0xf) | ((id >> 4) & 0xff) << 8 | ((id >> 12) & 0xff) << 16;
	vm->arch.psci_version = PSCI_VER(1, 0);
	return 0;
}

int arch_irqchip_create(struct vm *vm)
{
	switch (vm->cfg->irqchip) {
	case IRQCHIP_GICV2:
		if (vm->nr_vcpus > ARM_GICV2_MAX_CPUS) {
			pr_err("a GICv2 supports at most %d vCPUs, %u requested",
			       ARM_GICV2_MAX_CPUS, vm->nr_vcpus);
			return -EINVAL;
		}
		vm->arch.gic = GIC_V2;
		vm->arch.its = false;
		break;
	case IRQCHIP_GICV3:
		vm->arch.gic = GIC_V3;
		vm->arch.its = false;
		break;
	case IRQCHIP_AUTO:
	case IRQCHIP_GICV3_ITS:
		vm->arch.gic = GIC_V3;
		vm->arch.its = true;
		break;
	}
	return 0;
}

int arch_set_boot_regs(struct vm *vm, struct vcpu *v, u64 pc, u64 x0)
{
	(void)vm, (void)v, (void)pc, (void)x0;
	return 0;
}

int arch_irq_line(struct vm *vm, u32 spi, bool level)
{
	(void)vm, (void)spi, (void)level;
	return 0;
}

void arch_vcpu_dump(struct vcpu *v)
{
	(void)v;
}

int arch_vcpu_reject_access(struct vcpu *v, u64 ipa)
{
	(void)v;
	(void)ipa;
	return -ENOSYS;
}

int arch_irqchip_reset(struct vm *vm)
{
	(void)vm;
	return 0;
}

void arch_vcpu_dump_regs(struct vcpu *v, int fd)
{
	dprintf(fd, "vCPU %u: no registers without KVM\n", v->id);
}
