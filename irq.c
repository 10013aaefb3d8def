// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "irq.h"
#include "util/log.h"
#include "vm.h"

/* Above the GSIs KVM gives SPIs by default (arm64: one per SPI of the vGIC). */
#define MSI_GSI_BASE 1024
#define MSI_GSI_MAX  4096 /* KVM_MAX_IRQ_ROUTES */

void irq_routes_init(struct irq_routes *r)
{
	pthread_mutex_init(&r->lock, NULL);
	r->table = NULL;
	r->next_gsi = MSI_GSI_BASE;
}

void irq_routes_free(struct irq_routes *r)
{
	free(r->table);
	r->table = NULL;
	pthread_mutex_destroy(&r->lock);
}

bool vm_has_msi(struct vm *vm)
{
	return !vm->dry && vm->arch.its;
}

int vm_msi_gsi_alloc(struct vm *vm)
{
	struct irq_routes *r = &vm->irq;
	int gsi;

	pthread_mutex_lock(&r->lock);
	gsi = r->next_gsi < MSI_GSI_MAX ? (int)r->next_gsi++ : -ENOSPC;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

/* Insert or replace the entry for e->gsi and give KVM the whole table. Called with r->lock. */
static int routes_upsert(struct vm *vm, const struct kvm_irq_routing_entry *ne)
{
	struct irq_routes *r = &vm->irq;
	struct kvm_irq_routing_entry *e = NULL;
	u32 i, nr = r->table ? r->table->nr : 0;

	for (i = 0; i < nr; i++)
		if (r->table->entries[i].gsi == ne->gsi)
			e = &r->table->entries[i];
	if (!e) {
		struct kvm_irq_routing *t = realloc(r->table, sizeof(*t) + (nr + 1) * sizeof(*e));

		if (!t)
			return -ENOMEM;
		if (!r->table)
			t->flags = 0;
		r->table = t;
		t->nr = nr + 1;
		e = &t->entries[nr];
	}
	*e = *ne;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r->table) < 0) {
		int err = -errno;

		pr_err("KVM_SET_GSI_ROUTING (gsi %u): %s", ne->gsi, strerror(errno));
		return err;
	}
	return 0;
}

int vm_msi_route_set(struct vm *vm, u32 gsi, u64 addr, u32 data, u32 devid)
{
	struct kvm_irq_routing_entry e = {
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_MSI,
		.flags = KVM_MSI_VALID_DEVID,
	};
	int ret;

	if (vm->dry)
		return 0;
	e.u.msi.address_lo = (u32)addr;
	e.u.msi.address_hi = (u32)(addr >> 32);
	e.u.msi.data = data;
	e.u.msi.devid = devid;
	pthread_mutex_lock(&vm->irq.lock);
	ret = routes_upsert(vm, &e);
	pthread_mutex_unlock(&vm->irq.lock);
	return ret;
}

/*
 * KVM starts with GSI n -> SPI n, but KVM_SET_GSI_ROUTING replaces the whole
 * table, so an SPI used through an irqfd is kept in our table explicitly.
 */
static int spi_route(struct vm *vm, u32 spi)
{
	struct kvm_irq_routing_entry e = {
		.gsi = spi,
		.type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = 0, .pin = spi },
	};
	int ret;

	if (spi >= MSI_GSI_BASE)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq.lock);
	ret = routes_upsert(vm, &e);
	pthread_mutex_unlock(&vm->irq.lock);
	return ret;
}

int vm_spi_irqfd(struct vm *vm, int efd, int resample_fd, u32 spi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (u32)efd,
		.gsi = spi,
		.flags = assign ? KVM_IRQFD_FLAG_RESAMPLE : KVM_IRQFD_FLAG_DEASSIGN,
		.resamplefd = assign ? (u32)resample_fd : 0,
	};
	int ret;

	if (vm->dry)
		return 0;
	if (assign) {
		ret = spi_route(vm, spi);
		if (ret)
			return ret;
	}
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		ret = -errno;
		pr_err("KVM_IRQFD %s (SPI %u, level): %s", assign ? "assign" : "deassign", spi,
		       strerror(errno));
		return ret;
	}
	return 0;
}

int vm_irqfd(struct vm *vm, int efd, u32 gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (u32)efd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (vm->dry)
		return 0;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int err = -errno;

		pr_err("KVM_IRQFD %s (gsi %u): %s", assign ? "assign" : "deassign", gsi,
		       strerror(errno));
		return err;
	}
	return 0;
}

int vm_ioeventfd(struct vm *vm, int efd, u64 addr, u32 len, bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (vm->dry)
		return 0;
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int err = -errno;

		pr_debug("KVM_IOEVENTFD %s at 0x%llx: %s", assign ? "assign" : "deassign",
			 (unsigned long long)addr, strerror(errno));
		return err;
	}
	return 0;
}

int vm_ioeventfd_match(struct vm *vm, int efd, u64 addr, u32 len, u64 datamatch, bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (vm->dry)
		return 0;
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int err = -errno;

		pr_debug("KVM_IOEVENTFD %s at 0x%llx (data 0x%llx): %s",
			 assign ? "assign" : "deassign", (unsigned long long)addr,
			 (unsigned long long)datamatch, strerror(errno));
		return err;
	}
	return 0;
}
