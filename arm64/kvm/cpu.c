// SPDX-License-Identifier: GPL-2.0
/* arm64 vCPU set-up through KVM: target, features, registers. */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vm.h"

#define CORE_REG(name)                                                                             \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))
#define MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

/* Reset state of the boot CPU (booting.rst): EL1h with D, A, I, F masked. */
#define BOOT_PSTATE (PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT)

bool arch_kvm_supported(void)
{
	return true;
}

int arch_vm_type(struct vm *vm)
{
	/* 0 = the default 40-bit IPA space, which arm64/layout.h fits in. */
	(void)vm;
	return 0;
}

/*
 * Without this, KVM_RUN fails with ENOSYS when the guest touches emulated
 * MMIO with an instruction that leaves no syndrome (ARM ARM: ESR_ELx.ISV is
 * 0 for load/store pair and writeback forms), and the VMM could only stop:
 * a guest could end itself that way, or a guest process with a mapped BAR.
 */
static void enable_nisv(struct vm *vm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };

	if (vm->arch.nisv_abort ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_NISV_TO_USER) <= 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_INJECT_EXT_DABT) <= 0)
		return;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0)
		vm->arch.nisv_abort = true;
}

int arch_vcpu_reject_access(struct vcpu *v, u64 ipa)
{
	struct kvm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	ev.exception.ext_dabt_pending = 1;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	/* The guest chooses how often; say it a few times, then only count. */
	if (__atomic_fetch_add(&v->vm->arch.nisv_reported, 1, __ATOMIC_RELAXED) < 3)
		pr_warn("vCPU %u: guest MMIO access at 0x%llx that cannot be decoded (e.g. a "
			"load/store "
			"pair): external data abort injected",
			v->id, (unsigned long long)ipa);
	return 0;
}

static int vcpu_get_reg(struct vcpu *v, u64 id, u64 *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)val };

	return ioctl(v->fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

static int vcpu_set_reg(struct vcpu *v, u64 id, u64 val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)&val };

	return ioctl(v->fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *v)
{
	struct kvm_vcpu_init init;
	u64 psci;
	int ret;

	enable_nisv(vm);
	memset(&init, 0, sizeof(init));
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		ret = -errno;
		pr_err("KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		return ret;
	}
	init.features[0] |= 1U << KVM_ARM_VCPU_PSCI_0_2;
	/* Secondaries wait for PSCI CPU_ON, which KVM handles in the kernel. */
	if (v->id)
		init.features[0] |= 1U << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		ret = -errno;
		pr_err("KVM_ARM_VCPU_INIT (vCPU %u): %s", v->id, strerror(errno));
		return ret;
	}
	ret = vcpu_get_reg(v, MPIDR_EL1, &v->mpidr);
	if (ret) {
		pr_err("cannot read MPIDR of vCPU %u: %s", v->id, strerror(-ret));
		return ret;
	}
	if (v->id == 0) {
		/* KVM reports the PSCI version it implements as a firmware register. */
		if (vcpu_get_reg(v, KVM_REG_ARM_PSCI_VERSION, &psci) == 0)
			vm->arch.psci_version = (u32)psci;
		else
			vm->arch.psci_version = PSCI_VER(0, 2);
	}
	return 0;
}

int arch_set_boot_regs(struct vm *vm, struct vcpu *v, u64 pc, u64 x0)
{
	static const u64 zero_regs[] = { CORE_REG(regs.regs[1]), CORE_REG(regs.regs[2]),
					 CORE_REG(regs.regs[3]) };
	int ret;
	size_t i;

	(void)vm;
	ret = vcpu_set_reg(v, CORE_REG(regs.pstate), BOOT_PSTATE);
	if (!ret)
		ret = vcpu_set_reg(v, CORE_REG(regs.regs[0]), x0);
	for (i = 0; !ret && i < ARRAY_SIZE(zero_regs); i++)
		ret = vcpu_set_reg(v, zero_regs[i], 0);
	if (!ret)
		ret = vcpu_set_reg(v, CORE_REG(regs.pc), pc);
	if (ret)
		pr_err("cannot set boot registers of vCPU %u: %s", v->id, strerror(-ret));
	return ret;
}

void arch_vcpu_dump(struct vcpu *v)
{
	u64 pc = 0, pstate = 0, far = 0;

	vcpu_get_reg(v, CORE_REG(regs.pc), &pc);
	vcpu_get_reg(v, CORE_REG(regs.pstate), &pstate);
	vcpu_get_reg(v, ARM64_SYS_REG(3, 0, 6, 0, 0), &far);
	pr_err("vCPU %u: pc=0x%llx pstate=0x%llx far_el1=0x%llx", v->id, (unsigned long long)pc,
	       (unsigned long long)pstate, (unsigned long long)far);
}

void arch_vcpu_dump_regs(struct vcpu *v, int fd)
{
	static const struct {
		const char *name;
		u64 id;
	} sys[] = {
		{ "sp_el1", CORE_REG(sp_el1) },
		{ "elr_el1", CORE_REG(elr_el1) },
		{ "sctlr_el1", ARM64_SYS_REG(3, 0, 1, 0, 0) },
		{ "ttbr0_el1", ARM64_SYS_REG(3, 0, 2, 0, 0) },
		{ "ttbr1_el1", ARM64_SYS_REG(3, 0, 2, 0, 1) },
		{ "tcr_el1", ARM64_SYS_REG(3, 0, 2, 0, 2) },
		{ "esr_el1", ARM64_SYS_REG(3, 0, 5, 2, 0) },
		{ "far_el1", ARM64_SYS_REG(3, 0, 6, 0, 0) },
		{ "vbar_el1", ARM64_SYS_REG(3, 0, 12, 0, 0) },
		{ "mpidr_el1", MPIDR_EL1 },
	};
	u64 val = 0;

	dprintf(fd, "vCPU %u:\n", v->id);
	for (int i = 0; i < 31; i++) {
		val = 0;
		vcpu_get_reg(v, CORE_REG(regs.regs[i]), &val);
		dprintf(fd, "  x%-2d 0x%016llx%s", i, (unsigned long long)val,
			i % 4 == 3 ? "\n" : "");
	}
	vcpu_get_reg(v, CORE_REG(regs.sp), &val);
	dprintf(fd, "  sp  0x%016llx\n", (unsigned long long)val);
	vcpu_get_reg(v, CORE_REG(regs.pc), &val);
	dprintf(fd, "  pc 0x%016llx", (unsigned long long)val);
	vcpu_get_reg(v, CORE_REG(regs.pstate), &val);
	dprintf(fd, "  pstate 0x%016llx\n", (unsigned long long)val);
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		val = 0;
		if (vcpu_get_reg(v, sys[i].id, &val) == 0)
			dprintf(fd, "  %s 0x%016llx\n", sys[i].name, (unsigned long long)val);
	}
}
