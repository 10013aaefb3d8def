// SPDX-License-Identifier: GPL-2.0
/* The in-kernel GIC: GICv3 (+ ITS) or GICv2, placed per arm64/layout.h. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arm64/layout.h"
#include "util/log.h"
#include "vm.h"

static int gic_create_device(struct vm *vm, u32 type, bool test)
{
	struct kvm_create_device cd = { .type = type, .flags = test ? KVM_CREATE_DEVICE_TEST : 0 };

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
		return -errno;
	return test ? 0 : (int)cd.fd;
}

static int gic_set_attr(int fd, u32 group, u64 attr, const void *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (u64)(uintptr_t)val };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int gic_set_addr(int fd, u64 type, u64 addr)
{
	return gic_set_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, type, &addr);
}

static int gic_ctrl_init(int fd)
{
	return gic_set_attr(fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
}

static int gic_create_v3(struct vm *vm, bool its)
{
	u32 nr_irqs = ARM_GIC_NR_IRQS;
	int fd, ret;

	fd = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3, false);
	if (fd < 0)
		return fd;
	vm->arch.gic_fd = fd;
	ret = gic_set_addr(fd, KVM_VGIC_V3_ADDR_TYPE_DIST, ARM_GIC_DIST_BASE);
	if (!ret)
		ret = gic_set_addr(fd, KVM_VGIC_V3_ADDR_TYPE_REDIST, ARM_GIC_REDIST_BASE);
	if (!ret)
		ret = gic_set_attr(fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (!ret)
		ret = gic_ctrl_init(fd);
	if (ret)
		return ret;
	if (its) {
		fd = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_ITS, false);
		if (fd < 0)
			return fd;
		vm->arch.its_fd = fd;
		ret = gic_set_addr(fd, KVM_VGIC_ITS_ADDR_TYPE, ARM_GIC_ITS_BASE);
		if (!ret)
			ret = gic_ctrl_init(fd);
		if (ret)
			return ret;
	}
	vm->arch.gic = GIC_V3;
	vm->arch.its = its;
	return 0;
}

static int gic_create_v2(struct vm *vm)
{
	u32 nr_irqs = ARM_GIC_NR_IRQS;
	int fd, ret;

	fd = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V2, false);
	if (fd < 0)
		return fd;
	vm->arch.gic_fd = fd;
	ret = gic_set_addr(fd, KVM_VGIC_V2_ADDR_TYPE_DIST, ARM_GIC_DIST_BASE);
	if (!ret)
		ret = gic_set_addr(fd, KVM_VGIC_V2_ADDR_TYPE_CPU, ARM_GIC_CPUI_BASE);
	if (!ret)
		ret = gic_set_attr(fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (!ret)
		ret = gic_ctrl_init(fd);
	if (ret)
		return ret;
	vm->arch.gic = GIC_V2;
	vm->arch.its = false;
	return 0;
}

int arch_irqchip_create(struct vm *vm)
{
	enum irqchip_kind want = vm->cfg->irqchip;
	bool has_v3 = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3, true) == 0;
	bool has_its = has_v3 && gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_ITS, true) == 0;
	bool has_v2 = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V2, true) == 0;
	const char *what;
	int ret;

	if (want == IRQCHIP_AUTO)
		want = has_v3 ? (has_its ? IRQCHIP_GICV3_ITS : IRQCHIP_GICV3) : IRQCHIP_GICV2;
	if ((want == IRQCHIP_GICV3 || want == IRQCHIP_GICV3_ITS) && !has_v3) {
		pr_err("this host's KVM has no GICv3 emulation (try --irqchip gicv2)");
		return -ENODEV;
	}
	if (want == IRQCHIP_GICV3_ITS && !has_its) {
		pr_err("this host's KVM has no GICv3 ITS emulation (try --irqchip gicv3)");
		return -ENODEV;
	}
	if (want == IRQCHIP_GICV2 && !has_v2) {
		pr_err(
		    "this host's KVM cannot emulate a GICv2 (a GICv3 without v2 compatibility?); "
		    "try --irqchip gicv3");
		return -ENODEV;
	}
	if (want == IRQCHIP_GICV2 && vm->nr_vcpus > ARM_GICV2_MAX_CPUS) {
		pr_err("a GICv2 supports at most %d vCPUs, %u requested", ARM_GICV2_MAX_CPUS,
		       vm->nr_vcpus);
		return -EINVAL;
	}
	if (want == IRQCHIP_GICV2) {
		what = "GICv2";
		ret = gic_create_v2(vm);
	} else {
		what = want == IRQCHIP_GICV3_ITS ? "GICv3 with ITS" : "GICv3";
		ret = gic_create_v3(vm, want == IRQCHIP_GICV3_ITS);
	}
	if (ret) {
		pr_err("cannot create the %s: %s", what, strerror(-ret));
		return ret;
	}
	pr_debug("irqchip: %s", what);
	return 0;
}

int arch_irq_line(struct vm *vm, u32 spi, bool level)
{
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (spi + 32),
		.level = level,
	};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		int err = -errno;

		pr_debug("KVM_IRQ_LINE spi %u: %s", spi, strerror(errno));
		return err;
	}
	return 0;
}

int arch_irqchip_reset(struct vm *vm)
{
	int ret;

	if (vm->arch.its_fd < 0)
		return 0;
	/*
	 * Translation tables, collections and GITS_CTLR back to reset values,
	 * as a machine reset does: the next kernel programs the ITS afresh and
	 * must not find the previous kernel's mappings in it.
	 */
	ret = gic_set_attr(vm->arch.its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_CTRL_RESET,
			   NULL);
	if (ret)
		pr_err("cannot reset the ITS: %s", strerror(-ret));
	return ret;
}
