// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio transport, version 2 (virtio 1.x, section 4.2): one 4 KiB
 * register slot per device on the MMIO bus, device config at 0x100, one
 * level-triggered SPI driven by InterruptStatus.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "ioloop.h"
#include "irq.h"
#include "util/log.h"
#include "virtio/mmio.h"
#include "vm.h"

#define MMIO_MAGIC  0x74726976 /* "virt" */
#define MMIO_VENDOR 0x434f484f /* "COHO" */

/* Register offsets (virtio 1.x, 4.2.2). */
#define REG_MAGIC_VALUE		0x000
#define REG_VERSION		0x004
#define REG_DEVICE_ID		0x008
#define REG_VENDOR_ID		0x00c
#define REG_DEVICE_FEATURES	0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES	0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL		0x030
#define REG_QUEUE_NUM_MAX	0x034
#define REG_QUEUE_NUM		0x038
#define REG_QUEUE_READY		0x044
#define REG_QUEUE_NOTIFY	0x050
#define REG_INTERRUPT_STATUS	0x060
#define REG_INTERRUPT_ACK	0x064
#define REG_STATUS		0x070
#define REG_QUEUE_DESC_LOW	0x080
#define REG_QUEUE_DESC_HIGH	0x084
#define REG_QUEUE_DRIVER_LOW	0x090
#define REG_QUEUE_DRIVER_HIGH	0x094
#define REG_QUEUE_DEVICE_LOW	0x0a0
#define REG_QUEUE_DEVICE_HIGH	0x0a4
#define REG_SHM_SEL		0x0ac
#define REG_SHM_LEN_LOW		0x0b0
#define REG_SHM_LEN_HIGH	0x0b4
#define REG_SHM_BASE_LOW	0x0b8
#define REG_SHM_BASE_HIGH	0x0bc
#define REG_CONFIG_GENERATION	0x0fc
#define REG_CONFIG		0x100

#define INT_USED_BUFFER	  1
#define INT_CONFIG_CHANGE 2

static void put_le32(u8 *p, u32 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
	p[2] = (u8)(v >> 16);
	p[3] = (u8)(v >> 24);
}

/* --- interrupts ------------------------------------------------------------ */

/* The SPI follows InterruptStatus (level-triggered). d->lock held. */
static void mmio_irq_update(struct virtio_mmio *m)
{
	bool level = m->int_status != 0;
	int r;

	if (level == m->irq_level)
		return;
	m->irq_level = level;
	if (m->vm->dry)
		return;
	r = arch_irq_line(m->vm, m->spi, level);
	if (r)
		pr_debug("%s: SPI %u: %s", m->name, m->spi, strerror(-r));
}

static void mmio_notify_queue(struct virtio_dev *d, u16 q)
{
	struct virtio_mmio *m = d->transport_priv;

	(void)q;
	m->int_status |= INT_USED_BUFFER;
	mmio_irq_update(m);
}

static void mmio_notify_config(struct virtio_dev *d)
{
	struct virtio_mmio *m = d->transport_priv;

	d->config_generation++;
	m->int_status |= INT_CONFIG_CHANGE;
	mmio_irq_update(m);
}

static int mmio_kick_fd(struct virtio_dev *d, u16 q)
{
	struct virtio_mmio *m = d->transport_priv;

	return q < d->ops->num_queues ? m->kick_fd[q] : -1;
}

static void mmio_kick_watch(struct virtio_dev *d, u16 q, bool on)
{
	struct virtio_mmio *m = d->transport_priv;

	if (q < d->ops->num_queues && m->kick_watched[q])
		ioloop_mod(m->loop, m->kick_fd[q], on ? EPOLLIN : 0);
}

static const struct virtio_transport mmio_transport = {
	.notify_queue = mmio_notify_queue,
	.notify_config = mmio_notify_config,
	.kick_fd = mmio_kick_fd,
	.kick_watch = mmio_kick_watch,
};

/* --- notifications ----------------------------------------------------------- */

/* A kick eventfd fired: on the ioloop thread, as the device ops expect. */
static void mmio_kick(void *opaque, u32 events)
{
	struct virtio_mmio_kick *k = opaque;
	struct virtio_mmio *m = k->m;
	struct virtio_dev *d = m->vdev;
	u16 q = k->q;
	u64 n;

	(void)events;
	if (read(m->kick_fd[q], &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&d->lock);
	/* Kicks before DRIVER_OK are dropped here and replayed when it is set. */
	if (d->vq_enabled[q] && (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->vq[q].broken &&
	    !(d->status & VIRTIO_STATUS_NEEDS_RESET))
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void mmio_kick_post(struct virtio_mmio *m, u16 q)
{
	u64 one = 1;

	if (m->kick_fd[q] >= 0 && write(m->kick_fd[q], &one, sizeof(one)) < 0)
		pr_debug("%s: kick of queue %u: %s", m->name, q, strerror(errno));
}

/* --- registers ----------------------------------------------------------------- */

static u32 mmio_reg_read(struct virtio_mmio *m, u32 off)
{
	struct virtio_dev *d = m->vdev;
	u32 q = m->queue_sel;
	bool qok = q < d->ops->num_queues;

	switch (off) {
	case REG_MAGIC_VALUE:
		return MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return d->ops->device_id;
	case REG_VENDOR_ID:
		return MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return m->dfselect < 2 ? (u32)(d->device_features >> (32 * m->dfselect)) : 0;
	case REG_QUEUE_NUM_MAX:
		/* 0: the queue is not available (4.2.2). */
		return qok ? d->ops->queue_max : 0;
	case REG_QUEUE_READY:
		return qok && d->vq_enabled[q];
	case REG_INTERRUPT_STATUS:
		return m->int_status;
	case REG_STATUS:
		return d->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
	case REG_SHM_BASE_LOW:
	case REG_SHM_BASE_HIGH:
		/* No shared memory regions: a length of -1 says "no such region". */
		return 0xffffffff;
	case REG_CONFIG_GENERATION:
		return d->config_generation;
	default:
		/* Write-only and reserved registers read as 0. */
		return 0;
	}
}

static void set_half(u64 *field, bool high, u32 v)
{
	if (high)
		*field = (*field & 0xffffffffULL) | (u64)v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

static void mmio_set_status(struct virtio_mmio *m, u32 v)
{
	struct virtio_dev *d = m->vdev;
	u8 old = d->status;
	u16 q;

	virtio_set_status(d, (u8)v);
	if (d->status == 0) {
		/* Reset: the transport's registers return to their initial values too. */
		m->int_status = 0;
		mmio_irq_update(m);
		m->dfselect = m->gfselect = m->queue_sel = 0;
	} else if (!(old & VIRTIO_STATUS_DRIVER_OK) && (d->status & VIRTIO_STATUS_DRIVER_OK)) {
		/*
		 * Drivers may post buffers (and kick) before DRIVER_OK, e.g.
		 * virtio-console's receive buffers; those kicks were dropped.
		 */
		for (q = 0; q < d->ops->num_queues; q++)
			mmio_kick_post(m, q);
	}
}

static void mmio_reg_write(struct virtio_mmio *m, u32 off, u32 v)
{
	struct virtio_dev *d = m->vdev;
	u32 q = m->queue_sel;
	bool qok = q < d->ops->num_queues;
	/* A ready queue's size and addresses are fixed until it is disabled or reset. */
	bool setup = qok && !d->vq_enabled[q];

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		m->dfselect = v;
		break;
	case REG_DRIVER_FEATURES_SEL:
		m->gfselect = v;
		break;
	case REG_DRIVER_FEATURES:
		if (m->gfselect < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			u32 sh = 32 * m->gfselect;

			d->driver_features =
			    (d->driver_features & ~(0xffffffffULL << sh)) | (u64)v << sh;
		}
		break;
	case REG_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (setup && v && v <= d->ops->queue_max)
			d->vq_size[q] = (u16)v;
		break;
	case REG_QUEUE_READY:
		if (!qok)
			break;
		if (v == 1 && setup) {
			virtio_queue_enable(d, (u16)q);
		} else if (v == 0 && d->vq_enabled[q]) {
			/* The driver stops using the queue (4.2.3.2, Linux's del_vq). */
			d->vq_enabled[q] = false;
			vq_reset(&d->vq[q]);
		}
		break;
	case REG_QUEUE_NOTIFY:
		/* No ioeventfd caught this write: hand it to the ioloop like one. */
		if (v < d->ops->num_queues)
			mmio_kick_post(m, (u16)v);
		break;
	case REG_INTERRUPT_ACK:
		m->int_status &= ~v;
		mmio_irq_update(m);
		break;
	case REG_STATUS:
		mmio_set_status(m, v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (setup)
			set_half(&d->vq_desc[q], off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (setup)
			set_half(&d->vq_avail[q], off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (setup)
			set_half(&d->vq_used[q], off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	default:
		/* Read-only and reserved registers, SHMSel (no region exists). */
		break;
	}
}

static void mmio_config_access(struct virtio_mmio *m, u32 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_dev *d = m->vdev;
	const struct virtio_dev_ops *ops = d->ops;

	/* The config area takes 8, 16, 32 and 64-bit accesses inside config_size. */
	if ((len != 1 && len != 2 && len != 4 && len != 8) || off > ops->config_size ||
	    len > ops->config_size - off)
		return;
	pthread_mutex_lock(&d->lock);
	if (is_write && ops->config_write)
		ops->config_write(d, off, data, len);
	else if (!is_write && ops->config_read)
		ops->config_read(d, off, data, len);
	pthread_mutex_unlock(&d->lock);
}

static void mmio_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *d = m->vdev;

	if (!is_write)
		memset(data, 0, len);
	if (off >= VIRTIO_MMIO_SLOT_SIZE)
		return;
	if (off >= REG_CONFIG) {
		mmio_config_access(m, (u32)(off - REG_CONFIG), data, len, is_write);
		return;
	}
	/* Registers are 32 bits wide; other accesses are ignored (4.2.2.2). */
	if (len != 4 || (off & 3))
		return;
	pthread_mutex_lock(&d->lock);
	if (is_write)
		mmio_reg_write(m, (u32)off, get_le32(data));
	else
		put_le32(data, mmio_reg_read(m, (u32)off));
	pthread_mutex_unlock(&d->lock);
}

/* --- set-up ---------------------------------------------------------------------- */

/* Undo everything but the bus registration (the bus cannot remove a region). */
static void mmio_teardown(struct virtio_mmio *m)
{
	u16 q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (m->kick_assigned[q])
			vm_ioeventfd_match(m->vm, m->kick_fd[q], m->base + REG_QUEUE_NOTIFY, 4, q,
					   false);
		m->kick_assigned[q] = false;
		if (m->kick_watched[q])
			ioloop_del(m->loop, m->kick_fd[q]);
		m->kick_watched[q] = false;
		if (m->kick_fd[q] >= 0)
			close(m->kick_fd[q]);
		m->kick_fd[q] = -1;
	}
}

void virtio_mmio_reset(struct virtio_mmio *m)
{
	pthread_mutex_lock(&m->vdev->lock);
	mmio_set_status(m, 0);
	pthread_mutex_unlock(&m->vdev->lock);
}

int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vdev, struct vm *vm, u64 base,
		     u32 spi, struct ioloop *loop)
{
	const struct virtio_dev_ops *ops = vdev->ops;
	u16 q;
	int ret;

	memset(m, 0, sizeof(*m));
	m->vdev = vdev;
	m->vm = vm;
	m->loop = loop;
	m->base = base;
	m->spi = spi;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->kick_fd[q] = -1;
	snprintf(m->name, sizeof(m->name), "virtio-mmio-%s", ops->name);
	if (ops->num_queues > VIRTIO_MAX_QUEUES || !ops->queue_notify ||
	    ops->config_size > VIRTIO_MMIO_SLOT_SIZE - REG_CONFIG)
		return -EINVAL;
	vdev->transport = &mmio_transport;
	vdev->transport_priv = m;

	for (q = 0; q < ops->num_queues; q++) {
		m->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->kick_fd[q] < 0) {
			ret = -errno;
			goto fail;
		}
		m->kick[q] = (struct virtio_mmio_kick){ m, q };
		ret = ioloop_add(loop, m->kick_fd[q], EPOLLIN, mmio_kick, &m->kick[q]);
		if (ret)
			goto fail;
		m->kick_watched[q] = true;
		/*
		 * The notify address never moves, so the ioeventfds live as long
		 * as the device; without one the write traps and is forwarded.
		 */
		m->kick_assigned[q] =
		    !vm_ioeventfd_match(vm, m->kick_fd[q], base + REG_QUEUE_NOTIFY, 4, q, true);
		pr_debug("%s: queue %u notify at 0x%" PRIx64 "%s", m->name, q,
			 base + REG_QUEUE_NOTIFY, m->kick_assigned[q] ? " (ioeventfd)" : "");
	}
	/* Last: a region on the bus cannot be taken off again. */
	ret = mmio_bus_register(&vm->mmio, base, VIRTIO_MMIO_SLOT_SIZE, mmio_access, m, m->name);
	if (ret)
		goto fail;
	m->on_bus = true;
	pr_debug("%s: slot 0x%" PRIx64 ", SPI %u", m->name, base, spi);
	return 0;
fail:
	mmio_teardown(m);
	return ret;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (!m->vdev)
		return;
	/*
	 * The MMIO bus has no way to drop a region, so the slot stays
	 * registered: the vCPUs must be gone before @m is freed. The handler
	 * stays memory-safe on a destroyed transport (kicks go nowhere).
	 */
	pthread_mutex_lock(&m->vdev->lock);
	mmio_teardown(m);
	pthread_mutex_unlock(&m->vdev->lock);
}

/* --- device tree ------------------------------------------------------------------ */

#define TRY(call)                                                                                  \
	do {                                                                                       \
		int _r = (call);                                                                   \
		if (_r < 0)                                                                        \
			return _r;                                                                 \
	} while (0)

static int mmio_fdt_node(const struct virtio_mmio *m, void *fdt, u32 gic_phandle)
{
	const fdt64_t reg[2] = { cpu_to_fdt64(m->base), cpu_to_fdt64(VIRTIO_MMIO_SLOT_SIZE) };
	const fdt32_t irq[3] = { cpu_to_fdt32(FDT_GIC_SPI), cpu_to_fdt32(m->spi),
				 cpu_to_fdt32(FDT_IRQ_TYPE_LEVEL_HIGH) };
	char name[40];

	snprintf(name, sizeof(name), "virtio_mmio@%" PRIx64, m->base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
	/* The root's #address-cells and #size-cells are both 2. */
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	TRY(fdt_property_u32(fdt, "interrupt-parent", gic_phandle));
	TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
	/* The VMM reaches the rings through cacheable mappings. */
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	return fdt_end_node(fdt);
}

int virtio_mmio_fdt(struct virtio_mmio *m, void *fdt, u32 gic_phandle)
{
	int r;

	if (!gic_phandle) {
		pr_err("%s: no interrupt parent for the DT", m->name);
		return -EINVAL;
	}
	r = mmio_fdt_node(m, fdt, gic_phandle);
	return r < 0 ? fdt_err_to_errno(r) : 0;
}
