// SPDX-License-Identifier: GPL-2.0
/* virtio-pci modern transport (virtio 1.x, section 4.1). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"
#include "irq.h"
#include "util/log.h"
#include "virtio/pci.h"
#include "vm.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + device id: modern devices */
#define VIRTIO_MSI_NO_VECTOR   0xffff

/* BAR0 layout */
#define BAR0_SIZE      0x4000
#define COMMON_OFF     0x0000
#define COMMON_LEN     0x40
#define ISR_OFF	       0x1000
#define ISR_LEN	       0x4
#define DEVCFG_OFF     0x2000
#define DEVCFG_MAX     0x1000
#define NOTIFY_OFF     0x3000
#define NOTIFY_MULT    4
/* BAR1: MSI-X */
#define BAR1_SIZE      0x1000
#define MSIX_TABLE_OFF 0x000
#define MSIX_PBA_OFF   0x800

/* virtio_pci_cap cfg_type */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_PCI_CFG = 5 };

static void put_le(u8 *p, u64 v, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++)
		p[i] = (u8)(v >> (8 * i));
}

static u64 get_le(const u8 *p, u32 len)
{
	u64 v = 0;
	u32 i;

	for (i = 0; i < len; i++)
		v |= (u64)p[i] << (8 * i);
	return v;
}

/* --- interrupts ---------------------------------------------------------- */

static void vp_intx_update(struct virtio_pci *vp)
{
	bool level = vp->isr != 0;

	if (level != vp->intx_level) {
		vp->intx_level = level;
		pci_intx_set(&vp->pci, level);
	}
}

static void vp_signal_vector(struct virtio_pci *vp, u16 vec, u8 isr_bit)
{
	u64 one = 1;

	if (vp->has_msix && vp->msix.enabled) {
		if (vec == VIRTIO_MSI_NO_VECTOR || vec >= vp->msix.nvec)
			return;
		/* A masked vector keeps the count in its eventfd; KVM delivers it on re-attach. */
		if (write(vp->vec_fd[vec], &one, sizeof(one)) < 0)
			pr_debug("virtio-pci irqfd: %s", strerror(errno));
		return;
	}
	vp->isr |= isr_bit;
	vp_intx_update(vp);
}

static void vp_notify_queue(struct virtio_dev *d, u16 q)
{
	struct virtio_pci *vp = d->transport_priv;

	vp_signal_vector(vp, vp->queue_vector[q], 1);
}

static void vp_notify_config(struct virtio_dev *d)
{
	struct virtio_pci *vp = d->transport_priv;

	d->config_generation++;
	vp_signal_vector(vp, vp->config_vector, 2);
}

static int vp_kick_fd(struct virtio_dev *d, u16 q)
{
	struct virtio_pci *vp = d->transport_priv;

	return q < d->ops->num_queues ? vp->kick_fd[q] : -1;
}

static void vp_kick_watch(struct virtio_dev *d, u16 q, bool on)
{
	struct virtio_pci *vp = d->transport_priv;

	if (q < d->ops->num_queues && vp->kick_fd[q] >= 0)
		ioloop_mod(vp->loop, vp->kick_fd[q], on ? EPOLLIN : 0);
}

static const struct virtio_transport vp_transport = {
	.notify_queue = vp_notify_queue,
	.notify_config = vp_notify_config,
	.kick_fd = vp_kick_fd,
	.kick_watch = vp_kick_watch,
};

/* The guest changed MSI-X state: attach irqfds to active vectors, detach masked ones. */
static void vp_msix_changed(struct pci_msix *m, u16 v, void *opaque)
{
	struct virtio_pci *vp = opaque;
	u16 first = v == 0xffff ? 0 : v, last = v == 0xffff ? m->nvec - 1 : v, i;

	for (i = first; i <= last && i < m->nvec; i++) {
		u64 addr;
		u32 data;
		bool active = pci_msix_vector_active(m, i, &addr, &data);

		pr_debug("virtio-%s: MSI-X vector %u %s (addr 0x%llx data 0x%x devid 0x%x)",
			 vp->vdev->ops->name, i, active ? "active" : "inactive",
			 (unsigned long long)addr, data, vp->pci.msi_devid);
		if (active) {
			if (vm_msi_route_set(vp->vdev->vm, (u32)vp->vec_gsi[i], addr, data,
					     vp->pci.msi_devid))
				continue;
			if (!vp->vec_attached[i] &&
			    !vm_irqfd(vp->vdev->vm, vp->vec_fd[i], (u32)vp->vec_gsi[i], true))
				vp->vec_attached[i] = true;
		} else if (vp->vec_attached[i]) {
			vm_irqfd(vp->vdev->vm, vp->vec_fd[i], (u32)vp->vec_gsi[i], false);
			vp->vec_attached[i] = false;
		}
	}
}

/* --- notifications --------------------------------------------------------- */

static void vp_kick(void *opaque, u32 events)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *d = vp->vdev;
	u16 q;

	(void)events;
	for (q = 0; q < d->ops->num_queues; q++) {
		u64 n;

		if (read(vp->kick_fd[q], &n, sizeof(n)) != sizeof(n))
			continue;
		pthread_mutex_lock(&d->lock);
		if (d->vq_enabled[q] && (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->vq[q].broken &&
		    !(d->status & VIRTIO_STATUS_NEEDS_RESET))
			d->ops->queue_notify(d, q);
		pthread_mutex_unlock(&d->lock);
	}
}

static void vp_kick_unregister(struct virtio_pci *vp)
{
	u16 q;

	for (q = 0; q < vp->vdev->ops->num_queues; q++) {
		if (vp->kick_addr[q])
			vm_ioeventfd(vp->vdev->vm, vp->kick_fd[q], vp->kick_addr[q], 2, false);
		vp->kick_addr[q] = 0;
	}
}

/* Notify writes land in the kernel: one ioeventfd per queue at its notify address. */
static void vp_kick_register(struct virtio_pci *vp)
{
	u64 base = vp->pci.bars[0].addr;
	u16 q;

	vp_kick_unregister(vp);
	for (q = 0; q < vp->vdev->ops->num_queues; q++) {
		u64 addr = base + NOTIFY_OFF + (u64)q * NOTIFY_MULT;

		if (!vm_ioeventfd(vp->vdev->vm, vp->kick_fd[q], addr, 2, true))
			vp->kick_addr[q] = addr;
		pr_debug("virtio-%s: queue %u notify at 0x%llx%s", vp->vdev->ops->name, q,
			 (unsigned long long)addr, vp->kick_addr[q] ? " (ioeventfd)" : "");
	}
}

/* --- BAR0 -------------------------------------------------------------------- */

static void vp_common_read(struct virtio_pci *vp, u32 off, u8 *data, u32 len)
{
	struct virtio_dev *d = vp->vdev;
	u16 q = vp->queue_select;
	bool qok = q < d->ops->num_queues;
	u8 regs[COMMON_LEN] = { 0 };

	put_le(regs + 0x00, vp->dfselect, 4);
	put_le(regs + 0x04, vp->dfselect < 2 ? (u32)(d->device_features >> (32 * vp->dfselect)) : 0,
	       4);
	put_le(regs + 0x08, vp->gfselect, 4);
	put_le(regs + 0x0c, vp->gfselect < 2 ? (u32)(d->driver_features >> (32 * vp->gfselect)) : 0,
	       4);
	put_le(regs + 0x10, vp->config_vector, 2);
	put_le(regs + 0x12, d->ops->num_queues, 2);
	regs[0x14] = d->status;
	regs[0x15] = d->config_generation;
	put_le(regs + 0x16, q, 2);
	put_le(regs + 0x18, qok ? (d->vq_size[q] ? d->vq_size[q] : d->ops->queue_max) : 0, 2);
	put_le(regs + 0x1a, qok ? vp->queue_vector[q] : VIRTIO_MSI_NO_VECTOR, 2);
	put_le(regs + 0x1c, qok ? d->vq_enabled[q] : 0, 2);
	put_le(regs + 0x1e, qok ? q : 0, 2);
	put_le(regs + 0x20, qok ? d->vq_desc[q] : 0, 8);
	put_le(regs + 0x28, qok ? d->vq_avail[q] : 0, 8);
	put_le(regs + 0x30, qok ? d->vq_used[q] : 0, 8);
	memcpy(data, regs + off, len);
}

/* Replace bytes [off, off+len) of the little-endian field at @fo of width @fw in *@v. */
static bool field_write(u32 off, u32 len, const u8 *data, u32 fo, u32 fw, u64 *v)
{
	u8 b[8];
	u32 i;

	if (off + len <= fo || off >= fo + fw)
		return false;
	put_le(b, *v, fw);
	for (i = 0; i < len; i++)
		if (off + i >= fo && off + i < fo + fw)
			b[off + i - fo] = data[i];
	*v = get_le(b, fw);
	return true;
}

/* The transport's side of a device reset (status 0). d->lock held. */
static void vp_transport_reset(struct virtio_pci *vp)
{
	vp_kick_unregister(vp);
	vp->isr = 0;
	vp_intx_update(vp);
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (u16 q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
}

static void vp_common_write(struct virtio_pci *vp, u32 off, const u8 *data, u32 len)
{
	struct virtio_dev *d = vp->vdev;
	u16 q = vp->queue_select;
	bool qok = q < d->ops->num_queues;
	bool live = qok && d->vq_enabled[q];
	u64 v;

	v = vp->dfselect;
	if (field_write(off, len, data, 0x00, 4, &v))
		vp->dfselect = (u32)v;
	v = vp->gfselect;
	if (field_write(off, len, data, 0x08, 4, &v))
		vp->gfselect = (u32)v;
	v = vp->gfselect < 2 ? (u32)(d->driver_features >> (32 * vp->gfselect)) : 0;
	if (field_write(off, len, data, 0x0c, 4, &v) && vp->gfselect < 2 &&
	    !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		u32 sh = 32 * vp->gfselect;

		d->driver_features = (d->driver_features & ~(0xffffffffULL << sh)) | v << sh;
	}
	v = vp->config_vector;
	if (field_write(off, len, data, 0x10, 2, &v))
		vp->config_vector = (u16)v;
	v = d->status;
	if (field_write(off, len, data, 0x14, 1, &v)) {
		u8 old = d->status;

		virtio_set_status(d, (u8)v);
		if (!(old & VIRTIO_STATUS_DRIVER_OK) && (d->status & VIRTIO_STATUS_DRIVER_OK)) {
			vp_kick_register(vp);
			/*
			 * Drivers may post buffers (and kick) before DRIVER_OK, e.g.
			 * virtio-console's receive buffers; those kicks were not served.
			 */
			for (q = 0; q < d->ops->num_queues; q++) {
				u64 one = 1;

				if (write(vp->kick_fd[q], &one, sizeof(one)) < 0)
					pr_debug("virtio-pci kick: %s", strerror(errno));
			}
			q = vp->queue_select;
		}
		if (d->status == 0) {
			vp_transport_reset(vp);
			q = vp->queue_select;
		}
	}
	v = vp->queue_select;
	if (field_write(off, len, data, 0x16, 2, &v))
		vp->queue_select = (u16)v;
	if (!qok)
		return;
	/* A live queue's size and addresses are fixed until reset (virtio 4.1.4.3.2). */
	v = d->vq_size[q];
	if (field_write(off, len, data, 0x18, 2, &v) && !live)
		d->vq_size[q] = v <= d->ops->queue_max ? (u16)v : d->ops->queue_max;
	v = vp->queue_vector[q];
	if (field_write(off, len, data, 0x1a, 2, &v))
		vp->queue_vector[q] = (u16)v;
	v = d->vq_desc[q];
	if (field_write(off, len, data, 0x20, 8, &v) && !live)
		d->vq_desc[q] = v;
	v = d->vq_avail[q];
	if (field_write(off, len, data, 0x28, 8, &v) && !live)
		d->vq_avail[q] = v;
	v = d->vq_used[q];
	if (field_write(off, len, data, 0x30, 8, &v) && !live)
		d->vq_used[q] = v;
	v = 0;
	if (field_write(off, len, data, 0x1c, 2, &v) && v == 1 && !live)
		virtio_queue_enable(d, q);
}

static void vp_bar0(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *d = vp->vdev;

	if (!is_write)
		memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	/* COMMON_OFF is 0. */
	if (off + len <= COMMON_OFF + COMMON_LEN) {
		if (is_write)
			vp_common_write(vp, (u32)(off - COMMON_OFF), data, len);
		else
			vp_common_read(vp, (u32)(off - COMMON_OFF), data, len);
	} else if (off >= ISR_OFF && off + len <= ISR_OFF + ISR_LEN) {
		if (!is_write && off == ISR_OFF) {
			/* Reading the ISR acknowledges it and deasserts INTx (4.1.4.5). */
			data[0] = vp->isr;
			vp->isr = 0;
			vp_intx_update(vp);
		}
	} else if (off >= DEVCFG_OFF && off + len <= DEVCFG_OFF + d->ops->config_size) {
		u32 o = (u32)(off - DEVCFG_OFF);

		if (is_write && d->ops->config_write)
			d->ops->config_write(d, o, data, len);
		else if (!is_write && d->ops->config_read)
			d->ops->config_read(d, o, data, len);
	} else if (off >= NOTIFY_OFF && off < NOTIFY_OFF + (u64)d->ops->num_queues * NOTIFY_MULT &&
		   is_write) {
		/* Without an ioeventfd (or before DRIVER_OK) the kick exits here: forward it. */
		u16 q = (u16)((off - NOTIFY_OFF) / NOTIFY_MULT);
		u64 one = 1;

		if (write(vp->kick_fd[q], &one, sizeof(one)) < 0)
			pr_debug("virtio-pci kick: %s", strerror(errno));
	}
	pthread_mutex_unlock(&d->lock);
}

static void vp_bar1(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_pci *vp = opaque;

	if (!pci_msix_mmio(&vp->msix, off, data, len, is_write) && !is_write)
		memset(data, 0, len);
}

/* --- config space ------------------------------------------------------------ */

static int vp_add_cap(struct virtio_pci *vp, u8 type, u8 bar, u32 off, u32 len, u8 cap_len)
{
	int c = pci_dev_add_cap(&vp->pci, 0x09, cap_len);

	if (c < 0)
		return c;
	vp->pci.cfg[c + 2] = cap_len;
	vp->pci.cfg[c + 3] = type;
	vp->pci.cfg[c + 4] = bar;
	put_le(&vp->pci.cfg[c + 8], off, 4);
	put_le(&vp->pci.cfg[c + 12], len, 4);
	return c;
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG: a window into the BARs through config space
 * (4.1.4.7), for drivers that cannot map BARs. The guest picks bar, offset
 * and length in the capability, then reads or writes pci_cfg_data.
 */
static void vp_cfg_written(struct pci_dev *pd, u32 off, u32 len)
{
	struct virtio_pci *vp = pd->opaque;
	u32 c = (u32)vp->pci_cfg_cap;

	if (vp->has_msix)
		pci_msix_cfg_written(&vp->msix, off, len);
	if (off + len > c + 16 && off < c + 20) {
		u8 bar = pd->cfg[c + 4];
		u32 boff = (u32)get_le(&pd->cfg[c + 8], 4), blen = (u32)get_le(&pd->cfg[c + 12], 4);

		if (bar == 0 && (blen == 1 || blen == 2 || blen == 4) && boff <= BAR0_SIZE - blen)
			vp_bar0(vp, boff, &pd->cfg[c + 16], blen, true);
	}
}

static void vp_cfg_refresh(struct pci_dev *pd, u32 off, u32 len)
{
	struct virtio_pci *vp = pd->opaque;
	u32 c = (u32)vp->pci_cfg_cap;

	if (off + len > c + 16 && off < c + 20) {
		u8 bar = pd->cfg[c + 4];
		u32 boff = (u32)get_le(&pd->cfg[c + 8], 4), blen = (u32)get_le(&pd->cfg[c + 12], 4);

		if (bar == 0 && (blen == 1 || blen == 2 || blen == 4) && boff <= BAR0_SIZE - blen)
			vp_bar0(vp, boff, &pd->cfg[c + 16], blen, false);
	}
}

/* A machine reset: the device as after power-on (bridge lock held for writing). */
static void vp_machine_reset(struct pci_dev *pd)
{
	struct virtio_pci *vp = pd->opaque;
	struct virtio_dev *d = vp->vdev;

	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	vp_transport_reset(vp);
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	pthread_mutex_unlock(&d->lock);
	if (vp->has_msix)
		pci_msix_reset(&vp->msix);
}

int virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *vdev, struct pci_bridge *bridge,
		    struct ioloop *loop)
{
	const struct virtio_dev_ops *ops = vdev->ops;
	struct pci_dev *pd = &vp->pci;
	u16 q, nvec = ops->num_queues + 1;
	int c, ret;

	memset(vp, 0, sizeof(*vp));
	vp->vdev = vdev;
	vp->loop = loop;
	vdev->transport = &vp_transport;
	vdev->transport_priv = vp;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
		vp->kick_fd[q] = -1;
	}
	for (q = 0; q <= VIRTIO_MAX_QUEUES; q++)
		vp->vec_fd[q] = -1;
	if (ops->num_queues > VIRTIO_MAX_QUEUES || ops->config_size > DEVCFG_MAX)
		return -EINVAL;

	pci_dev_init(pd, ops->name, VIRTIO_PCI_VENDOR,
		     (u16)(VIRTIO_PCI_DEVICE_BASE + ops->device_id), ops->class_code, 1,
		     VIRTIO_PCI_VENDOR, (u16)ops->device_id);
	pd->opaque = vp;
	pd->cfg_written = vp_cfg_written;
	pd->reset = vp_machine_reset;
	pd->cfg_refresh = vp_cfg_refresh;
	ret = pci_dev_add_bar(pd, 0, BAR0_SIZE, 0, vp_bar0, vp);
	if (ret)
		return ret;
	if (vp_add_cap(vp, CAP_COMMON, 0, COMMON_OFF, COMMON_LEN, 16) < 0 ||
	    vp_add_cap(vp, CAP_ISR, 0, ISR_OFF, ISR_LEN, 16) < 0 ||
	    (ops->config_size &&
	     vp_add_cap(vp, CAP_DEVICE, 0, DEVCFG_OFF, ops->config_size, 16) < 0))
		return -ENOSPC;
	c = vp_add_cap(vp, CAP_NOTIFY, 0, NOTIFY_OFF, (u32)ops->num_queues * NOTIFY_MULT, 20);
	if (c < 0)
		return c;
	put_le(&pd->cfg[c + 16], NOTIFY_MULT, 4);
	c = vp_add_cap(vp, CAP_PCI_CFG, 0, 0, 0, 20);
	if (c < 0)
		return c;
	vp->pci_cfg_cap = c;
	/* The guest picks bar, offset, length and data of the window. */
	pd->wmask[c + 4] = 0xff;
	memset(&pd->wmask[c + 8], 0xff, 8);
	memset(&pd->wmask[c + 16], 0xff, 4);

	vp->has_msix = vm_has_msi(vdev->vm) || vdev->vm->dry;
	if (vp->has_msix) {
		ret = pci_dev_add_bar(pd, 1, BAR1_SIZE, 0, vp_bar1, vp);
		if (!ret)
			ret = pci_msix_init(&vp->msix, pd, nvec, 1, MSIX_TABLE_OFF, MSIX_PBA_OFF);
		if (ret)
			return ret;
		vp->msix.changed = vp_msix_changed;
		vp->msix.opaque = vp;
		for (q = 0; q < nvec; q++) {
			vp->vec_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			vp->vec_gsi[q] = vm_msi_gsi_alloc(vdev->vm);
			if (vp->vec_fd[q] < 0 || vp->vec_gsi[q] < 0)
				return -ENOSPC;
		}
	}
	pci_dev_use_intx(pd);
	for (q = 0; q < ops->num_queues; q++) {
		vp->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->kick_fd[q] < 0)
			return -errno;
		ret = ioloop_add(loop, vp->kick_fd[q], EPOLLIN, vp_kick, vp);
		if (ret)
			return ret;
	}
	return pci_bridge_add(bridge, pd);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	u16 q;

	if (!vp->vdev)
		return;
	vp_kick_unregister(vp);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vp->kick_fd[q] >= 0) {
			ioloop_del(vp->loop, vp->kick_fd[q]);
			close(vp->kick_fd[q]);
		}
	}
	for (q = 0; q <= VIRTIO_MAX_QUEUES; q++) {
		if (vp->vec_attached[q])
			vm_irqfd(vp->vdev->vm, vp->vec_fd[q], (u32)vp->vec_gsi[q], false);
		if (vp->vec_fd[q] >= 0)
			close(vp->vec_fd[q]);
	}
	if (vp->has_msix)
		pci_msix_free(&vp->msix);
}
