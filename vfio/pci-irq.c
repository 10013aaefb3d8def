// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts of a passed-through function.
 *
 * - INTx: VFIO signals an eventfd that is a level-triggered KVM irqfd on the
 *   function's SPI, with a resample eventfd that is VFIO's unmask: VFIO masks
 *   the host line when it fires, KVM lowers the guest line and signals the
 *   resample fd when the guest EOIs, VFIO unmasks, and a device still
 *   asserting fires again. One interrupt per assertion, no storm.
 * - MSI and MSI-X: the capabilities are emulated (hw/pci-msi.c,
 *   hw/pci-msix.c); each enabled vector is a VFIO eventfd attached as an
 *   irqfd to a KVM MSI route carrying the function's ITS device ID. A masked
 *   vector has no irqfd: VFIO's signals accumulate in the eventfd, shown as
 *   pending, and KVM injects them when the irqfd is attached again on unmask.
 *   Without an ITS neither capability is shown and the guest uses INTx.
 * - VFIO allows one interrupt type at a time, so switching between INTx,
 *   MSI and MSI-X disables the old type first.
 *
 * Lock order: bridge lock (held by our callers), then p->irq_lock.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "irq.h"
#include "util/log.h"
#include "vfio/pci.h"

static const char *const mode_name[] = { "none", "INTx", "MSI", "MSI-X" };

static u32 irq_count(struct vfio_pci *p, u32 index)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };

	if (index >= p->v->num_irqs || ioctl(p->v->fd, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0)
		return 0;
	return info.flags & VFIO_IRQ_INFO_EVENTFD ? info.count : 0;
}

static int set_irqs(struct vfio_pci *p, u32 index, u32 flags, u32 count, const int *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + (size_t)count * sizeof(int);
	struct vfio_irq_set *s = calloc(1, sz);
	int ret = 0;

	if (!s)
		return -ENOMEM;
	s->argsz = (u32)sz;
	s->flags = flags;
	s->index = index;
	s->count = count;
	if (count)
		memcpy(s->data, fds, (size_t)count * sizeof(int));
	if (ioctl(p->v->fd, VFIO_DEVICE_SET_IRQS, s) < 0)
		ret = -errno;
	free(s);
	return ret;
}

/* true if VFIO signalled @fd and nobody consumed it yet. */
static bool efd_pending(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void vector_detach(struct vfio_pci *p, struct vfio_irq_vec *v)
{
	if (v->irqfd)
		vm_irqfd(p->vm, v->efd, (u32)v->gsi, false);
	v->irqfd = false;
}

/* Route vector @i to (addr, data) and attach it, or detach it if !active. */
static void vector_update(struct vfio_pci *p, u32 i, bool active, u64 addr, u32 data)
{
	struct vfio_irq_vec *v = &p->vec[i];

	if (!active || v->efd < 0) {
		vector_detach(p, v);
		return;
	}
	if (v->gsi < 0) {
		v->gsi = vm_msi_gsi_alloc(p->vm);
		if (v->gsi < 0) {
			pr_warn("--vfio-pci %s: no GSI left for vector %u", p->v->bdf, i);
			return;
		}
	}
	if (vm_msi_route_set(p->vm, (u32)v->gsi, addr, data, p->pci.msi_devid))
		return;
	if (!v->irqfd && !vm_irqfd(p->vm, v->efd, (u32)v->gsi, true))
		v->irqfd = true;
}

static void mode_off(struct vfio_pci *p)
{
	static const u32 index[] = { 0, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX,
				     VFIO_PCI_MSIX_IRQ_INDEX };

	if (p->mode == VFIO_IRQ_NONE)
		return;
	if (set_irqs(p, index[p->mode], VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0,
		     NULL))
		pr_debug("vfio %s: disabling %s failed", p->v->bdf, mode_name[p->mode]);
	for (u32 i = 0; i < p->nvec; i++)
		vector_detach(p, &p->vec[i]);
	p->mode = VFIO_IRQ_NONE;
	p->vfio_nvec = 0;
}

static int intx_on(struct vfio_pci *p)
{
	int ret =
	    set_irqs(p, VFIO_PCI_INTX_IRQ_INDEX,
		     VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, &p->intx_efd);

	if (!ret)
		ret = set_irqs(p, VFIO_PCI_INTX_IRQ_INDEX,
			       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 1,
			       &p->intx_rfd);
	return ret;
}

/* Switch VFIO to @mode with @n vectors (MSI/MSI-X); falls back to INTx on failure. */
static void mode_set(struct vfio_pci *p, enum vfio_irq_mode mode, u32 n)
{
	int ret = 0, *fds;

	if (mode == VFIO_IRQ_INTX && !p->has_intx)
		mode = VFIO_IRQ_NONE;
	if (p->mode == mode && (mode < VFIO_IRQ_MSI || p->vfio_nvec == n))
		return;
	mode_off(p);
	if (mode == VFIO_IRQ_NONE)
		return;
	if (mode == VFIO_IRQ_INTX) {
		ret = intx_on(p);
	} else {
		fds = calloc(n, sizeof(*fds));
		if (!fds)
			return;
		for (u32 i = 0; i < n; i++) {
			if (p->vec[i].efd < 0)
				p->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			fds[i] = p->vec[i].efd;
		}
		ret = set_irqs(
		    p, mode == VFIO_IRQ_MSI ? VFIO_PCI_MSI_IRQ_INDEX : VFIO_PCI_MSIX_IRQ_INDEX,
		    VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, n, fds);
		free(fds);
	}
	if (ret) {
		pr_warn("--vfio-pci %s: cannot enable %s (%u vectors) at VFIO: %s", p->v->bdf,
			mode_name[mode], n, strerror(-ret));
		if (mode != VFIO_IRQ_INTX)
			mode_set(p, VFIO_IRQ_INTX, 0);
		return;
	}
	p->mode = mode;
	p->vfio_nvec = mode == VFIO_IRQ_INTX ? 0 : n;
	pr_debug("vfio %s: interrupts: %s%s", p->v->bdf, mode_name[mode],
		 mode >= VFIO_IRQ_MSI ? (n > 1 ? " (several vectors)" : " (1 vector)") : "");
}

/* The guest's MSI/MSI-X state decides the mode, then each vector's route. Under irq_lock. */
static void irq_sync(struct vfio_pci *p)
{
	u32 n;

	if (p->has_msix && p->msix.enabled) {
		mode_set(p, VFIO_IRQ_MSIX, p->msix.nvec);
		for (u32 i = 0; p->mode == VFIO_IRQ_MSIX && i < p->msix.nvec; i++) {
			u64 addr = 0;
			u32 data = 0;
			bool on = pci_msix_vector_active(&p->msix, (u16)i, &addr, &data);

			vector_update(p, i, on, addr, data);
		}
		return;
	}
	n = p->has_msi ? pci_msi_enabled_vectors(&p->msi) : 0;
	if (n) {
		mode_set(p, VFIO_IRQ_MSI, n);
		for (u32 i = 0; p->mode == VFIO_IRQ_MSI && i < n; i++) {
			u64 addr;
			u32 data;
			bool masked;

			pci_msi_vector(&p->msi, i, &addr, &data, &masked);
			vector_update(p, i, !masked, addr, data);
		}
		return;
	}
	mode_set(p, VFIO_IRQ_INTX, 0);
}

static void msix_changed(struct pci_msix *m, u16 v, void *opaque)
{
	struct vfio_pci *p = opaque;

	pthread_mutex_lock(&p->irq_lock);
	if (v == 0xffff || p->mode != VFIO_IRQ_MSIX) {
		irq_sync(p);
	} else if (v < p->nvec) {
		u64 addr = 0;
		u32 data = 0;
		bool on = pci_msix_vector_active(m, v, &addr, &data);

		vector_update(p, v, on, addr, data);
	}
	pthread_mutex_unlock(&p->irq_lock);
}

static void msi_changed(struct pci_msi *m, void *opaque)
{
	struct vfio_pci *p = opaque;

	pthread_mutex_lock(&p->irq_lock);
	irq_sync(p);
	pthread_mutex_unlock(&p->irq_lock);
}

void vfio_pci_irq_reset(struct vfio_pci *p)
{
	if (p->has_msix)
		pci_msix_reset(&p->msix); /* calls msix_changed, which syncs */
	pthread_mutex_lock(&p->irq_lock);
	irq_sync(p);
	pthread_mutex_unlock(&p->irq_lock);
}

void vfio_pci_irq_cfg_written(struct vfio_pci *p, u32 off, u32 len)
{
	if (p->has_msi)
		pci_msi_cfg_written(&p->msi, off, len);
	if (p->has_msix)
		pci_msix_cfg_written(&p->msix, off, len);
}

bool vfio_pci_irq_mmio(struct vfio_pci *p, int bar, u64 off, u8 *data, u32 len, bool is_write)
{
	if (!p->has_msix || bar != p->msix.bar)
		return false;
	/* Masked vectors VFIO signalled are pending: show them in the PBA. */
	if (!is_write && off >= p->msix.pba_off) {
		pthread_mutex_lock(&p->irq_lock);
		for (u32 i = 0; p->mode == VFIO_IRQ_MSIX && i < p->msix.nvec; i++)
			pci_msix_set_pending(&p->msix, (u16)i,
					     !p->vec[i].irqfd && efd_pending(p->vec[i].efd));
		pthread_mutex_unlock(&p->irq_lock);
	}
	return pci_msix_mmio(&p->msix, off, data, len, is_write);
}

/* Copy a vendor-specific capability (read-only): drivers find their structures through it. */
static void cap_copy(struct vfio_pci *p, const u8 *cfg, u32 off)
{
	u32 len = cfg[off + 2];
	int at;

	if (len < 3 || off + len > 256)
		return;
	at = pci_dev_add_cap(&p->pci, cfg[off], (u8)len);
	if (at >= 0)
		memcpy(&p->pci.cfg[at + 2], &cfg[off + 2], len - 2);
}

static void cap_msi(struct vfio_pci *p, const u8 *cfg, u32 off)
{
	u32 nvec = 1U << ((cfg[off + PCI_MSI_FLAGS] & PCI_MSI_FLAGS_QMASK) >> 1);
	u32 have = irq_count(p, VFIO_PCI_MSI_IRQ_INDEX);

	while (nvec > have && nvec > 1)
		nvec >>= 1;
	if (!have || nvec > PCI_MSI_MAX_VECTORS)
		return;
	p->msi.changed = msi_changed;
	p->msi.opaque = p;
	if (!pci_msi_init(&p->msi, &p->pci, (u8)nvec))
		p->has_msi = true;
}

static void cap_msix(struct vfio_pci *p, const u8 *cfg, u32 off)
{
	u16 ctrl = get_le16(&cfg[off + PCI_MSIX_FLAGS]);
	u32 table = get_le32(&cfg[off + PCI_MSIX_TABLE]), pba = get_le32(&cfg[off + PCI_MSIX_PBA]);
	u32 nvec = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1U;
	int bir = (int)(table & PCI_MSIX_TABLE_BIR);

	if (irq_count(p, VFIO_PCI_MSIX_IRQ_INDEX) < nvec)
		return;
	if ((int)(pba & PCI_MSIX_PBA_BIR) != bir) {
		pr_warn("--vfio-pci %s: MSI-X table and PBA in different BARs; MSI-X hidden",
			p->v->bdf);
		return;
	}
	p->msix.changed = msix_changed;
	p->msix.opaque = p;
	if (pci_msix_init(&p->msix, &p->pci, (u16)nvec, bir, table & PCI_MSIX_TABLE_OFFSET,
			  pba & PCI_MSIX_PBA_OFFSET)) {
		pr_warn("--vfio-pci %s: MSI-X table outside BAR%d; MSI-X hidden", p->v->bdf, bir);
		return;
	}
	p->has_msix = true;
}

int vfio_pci_irq_init(struct vfio_pci *p, const u8 *cfg)
{
	bool msi_ok = vm_has_msi(p->vm);
	u32 off, seen = 0;

	if (cfg[PCI_INTERRUPT_PIN] && irq_count(p, VFIO_PCI_INTX_IRQ_INDEX)) {
		pci_dev_use_intx(&p->pci);
		p->pci.intx_external = true;
		p->has_intx = true;
	}
	off = get_le16(&cfg[PCI_STATUS]) & PCI_STATUS_CAP_LIST ? cfg[PCI_CAPABILITY_LIST] & ~3U : 0;
	/* At most 48 capabilities fit in 0x40..0xff; a loop ends there too. */
	for (int n = 0; n < 48 && off >= 0x40 && off <= 0xfc; n++) {
		u8 id = cfg[off];

		if (id == PCI_CAP_ID_MSI && msi_ok && !p->has_msi)
			cap_msi(p, cfg, off);
		else if (id == PCI_CAP_ID_MSIX && msi_ok && !p->has_msix)
			cap_msix(p, cfg, off);
		else if (id == PCI_CAP_ID_VNDR)
			cap_copy(p, cfg, off);
		else
			seen |= 1U << (id < 32 ? id : 0);
		off = cfg[off + 1] & ~3U;
	}
	p->nvec = p->has_msix ? p->msix.nvec : 0;
	if (p->has_msi && p->msi.nvec_cap > p->nvec)
		p->nvec = p->msi.nvec_cap;
	if (p->nvec) {
		p->vec = calloc(p->nvec, sizeof(*p->vec));
		if (!p->vec)
			return -ENOMEM;
		for (u32 i = 0; i < p->nvec; i++)
			p->vec[i] = (struct vfio_irq_vec){ .efd = -1, .gsi = -1 };
	}
	pr_debug("vfio %s: INTx %s, MSI %s, MSI-X %s%s; other capabilities hidden (mask 0x%x)",
		 p->v->bdf, p->has_intx ? "yes" : "no", p->has_msi ? "yes" : "no",
		 p->has_msix ? "yes" : "no", msi_ok ? "" : " (no ITS: MSI and MSI-X hidden)", seen);
	return 0;
}

int vfio_pci_irq_start(struct vfio_pci *p)
{
	int ret;

	if (!p->has_intx)
		return 0;
	p->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->intx_rfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->intx_efd < 0 || p->intx_rfd < 0)
		return -errno;
	ret = vm_spi_irqfd(p->vm, p->intx_efd, p->intx_rfd, p->pci.intx_spi, true);
	if (ret)
		return ret;
	p->intx_wired = true;
	pthread_mutex_lock(&p->irq_lock);
	mode_set(p, VFIO_IRQ_INTX, 0);
	pthread_mutex_unlock(&p->irq_lock);
	return p->mode == VFIO_IRQ_INTX ? 0 : -EIO;
}

void vfio_pci_irq_destroy(struct vfio_pci *p)
{
	pthread_mutex_lock(&p->irq_lock);
	mode_off(p);
	pthread_mutex_unlock(&p->irq_lock);
	if (p->intx_wired)
		vm_spi_irqfd(p->vm, p->intx_efd, p->intx_rfd, p->pci.intx_spi, false);
	p->intx_wired = false;
	if (p->intx_efd >= 0)
		close(p->intx_efd);
	if (p->intx_rfd >= 0)
		close(p->intx_rfd);
	p->intx_efd = p->intx_rfd = -1;
	for (u32 i = 0; p->vec && i < p->nvec; i++)
		if (p->vec[i].efd >= 0)
			close(p->vec[i].efd);
	free(p->vec);
	p->vec = NULL;
	p->nvec = 0;
	if (p->has_msix)
		pci_msix_free(&p->msix);
	p->has_msix = p->has_msi = false;
}
