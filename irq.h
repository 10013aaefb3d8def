/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_IRQ_H
#define COHO_IRQ_H

#include <pthread.h>

#include "util/types.h"

struct vm;

/*
 * Interrupts from devices into the guest without a vCPU thread: MSIs routed
 * through KVM's GSI routing (with the ITS device ID, so the GICv3 ITS can
 * translate them) and raised through irqfds; guest notifications received
 * through ioeventfds. KVM_SET_GSI_ROUTING replaces the whole table, so the
 * table lives here and is pushed again on every change.
 */
struct irq_routes {
	pthread_mutex_t lock;
	struct kvm_irq_routing *table; /* MSI routes and the SPIs used by irqfds */
	u32 next_gsi;
};

void irq_routes_init(struct irq_routes *r);
void irq_routes_free(struct irq_routes *r);

/* A GSI for an MSI route, not yet pointing anywhere. -ENOSPC. */
int vm_msi_gsi_alloc(struct vm *vm);
/* Point @gsi at the MSI (@addr, @data) from ITS device @devid. -errno. */
int vm_msi_route_set(struct vm *vm, u32 gsi, u64 addr, u32 data, u32 devid);
/* Attach (or detach) eventfd @efd to @gsi: a write to @efd raises the interrupt. */
int vm_irqfd(struct vm *vm, int efd, u32 gsi, bool assign);
/*
 * A level-triggered SPI (0-based, INTID - 32) raised by eventfd @efd: KVM
 * asserts it on a write to @efd and, when the guest completes (EOIs) it,
 * deasserts it and signals @resample_fd so the source can re-check its line
 * (VFIO's INTx unmask). Deassign with assign = false.
 */
int vm_spi_irqfd(struct vm *vm, int efd, int resample_fd, u32 spi, bool assign);
/* A guest write of @len bytes to @addr signals @efd in the kernel, without an exit. */
int vm_ioeventfd(struct vm *vm, int efd, u64 addr, u32 len, bool assign);
/* Same, but only for writes of the value @datamatch (several fds may share @addr). */
int vm_ioeventfd_match(struct vm *vm, int efd, u64 addr, u32 len, u64 datamatch, bool assign);
/* KVM can route MSIs with device IDs (GICv3 ITS) and use irqfds. */
bool vm_has_msi(struct vm *vm);

#endif
