// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "vfio/pci.h"

static int region_info(struct vfio_dev *v, u32 index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(v->fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0 ? -errno : 0;
}

/*
 * The mmappable areas of region @index (vfio/bar-areas.c decides), in
 * b->area. An error leaves none: the BAR is then trapped.
 */
static void region_areas(struct vfio_dev *v, u32 index, u64 size, struct vfio_pci_bar *b)
{
	struct vfio_region_info *ri = NULL;
	u32 argsz = sizeof(*ri);

	b->nr_areas = 0;
	/* Twice at most: the first answer says how much room the capabilities need. */
	for (int tries = 0; tries < 2; tries++) {
		free(ri);
		ri = calloc(1, argsz);
		if (!ri)
			return;
		ri->argsz = argsz;
		ri->index = index;
		if (ioctl(v->fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
			break;
		if (ri->argsz <= argsz) {
			b->nr_areas = vfio_region_areas(ri, argsz, size, (u64)sysconf(_SC_PAGESIZE),
							b->area, VFIO_BAR_AREAS);
			break;
		}
		if (ri->argsz > 65536)
			break;
		argsz = ri->argsz;
	}
	free(ri);
}

/*
 * A guest access inside BAR @b that is not mapped, offset relative to the
 * BAR. Beyond the device's real size (BARs under 4 KiB are shown as 4 KiB)
 * reads are all-ones and writes are dropped, like an unclaimed address.
 */
static void vfio_bar_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct vfio_pci_bar *b = opaque;
	struct vfio_pci *p = b->p;
	ssize_t n;

	__atomic_fetch_add(&b->trapped, 1, __ATOMIC_RELAXED);
	if (vfio_pci_irq_mmio(p, (int)(b - p->bar), off, data, len, is_write))
		return;
	if (off >= b->size || len > b->size - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		n = pwrite(p->v->fd, data, len, (off_t)(b->region_off + off));
	else
		n = pread(p->v->fd, data, len, (off_t)(b->region_off + off));
	if (n != (ssize_t)len && !is_write)
		memset(data, 0xff, len);
}

/*
 * Memory slots follow the guest's BAR placement and memory decoding: a BAR
 * that moves or stops decoding leaves KVM first, so the guest never
 * reaches the device at a stale address.
 */
static void bars_remap(struct vfio_pci *p)
{
	for (int i = 0; i < 6; i++) {
		struct vfio_pci_bar *b = &p->bar[i];
		u64 addr = 0;
		bool placed;

		if (b->map.how != REGION_MAPPED)
			continue;
		placed = pci_bar_placed(&p->pci, i, &addr);
		for (u32 j = 0; j < b->nr_areas; j++) {
			struct vfio_bar_area *a = &b->area[j];
			int slot;

			if (a->slot && (!placed || a->gpa != addr + a->off)) {
				vm_unmap_device(p->vm, a->slot);
				a->slot = 0;
			}
			if (!placed || a->slot || !a->hva)
				continue;
			slot = vm_map_device(p->vm, addr + a->off, a->size, a->hva);
			if (slot < 0) {
				/* Once per area: the guest chooses how often it moves a BAR. */
				if (a->warned)
					continue;
				a->warned = true;
				pr_warn("--vfio-pci %s: BAR%d at 0x%llx: no memory slot (%s); its "
					"accesses are trapped",
					p->v->bdf, i, (unsigned long long)(addr + a->off),
					strerror(-slot));
				continue;
			}
			a->slot = slot;
			a->gpa = addr + a->off;
			pr_debug(
			    "vfio %s: BAR%d +0x%llx (0x%llx bytes) in the guest at 0x%llx, slot %d",
			    p->v->bdf, i, (unsigned long long)a->off, (unsigned long long)a->size,
			    (unsigned long long)a->gpa, slot);
		}
	}
}

static int cfg_read(struct vfio_pci *p, u32 off, void *buf, u32 len)
{
	return pread(p->v->fd, buf, len, (off_t)(p->cfg_off + off)) == (ssize_t)len ? 0 : -EIO;
}

/* Command bits the device itself acts on; the rest stay virtual. */
#define CMD_PASSED (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

static void vfio_cfg_written(struct pci_dev *d, u32 off, u32 len)
{
	struct vfio_pci *p = d->opaque;
	u16 cmd, want;

	if (off <= PCI_COMMAND + 1 && off + len > PCI_COMMAND &&
	    !cfg_read(p, PCI_COMMAND, &cmd, 2)) {
		want = (u16)(get_le16(&d->cfg[PCI_COMMAND]) & CMD_PASSED);
		cmd = (u16)((cmd & ~CMD_PASSED) | want);
		if (pwrite(p->v->fd, &cmd, 2, (off_t)(p->cfg_off + PCI_COMMAND)) != 2)
			pr_debug("vfio %s: command 0x%x not written", p->v->bdf, cmd);
	}
	if (off <= PCI_COMMAND + 1 ||
	    (off < PCI_BASE_ADDRESS_5 + 4 && off + len > PCI_BASE_ADDRESS_0))
		bars_remap(p);
	vfio_pci_irq_cfg_written(p, off, len);
}

/* Status: the Interrupt Status bit is the device's (uio_pci_generic and others check it). */
static void vfio_cfg_refresh(struct pci_dev *d, u32 off, u32 len)
{
	struct vfio_pci *p = d->opaque;
	u16 st;

	if (off > PCI_STATUS || off + len <= PCI_STATUS || cfg_read(p, PCI_STATUS, &st, 2))
		return;
	if (st & PCI_STATUS_INTERRUPT)
		d->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		d->cfg[PCI_STATUS] &= (u8)~PCI_STATUS_INTERRUPT;
}

/*
 * A machine reset (guest reboot): config space was restored, so decoding
 * and bus mastering are off; the device itself is reset too, its memory
 * slots leave the guest and its interrupts go back to INTx.
 */
static void vfio_machine_reset(struct pci_dev *d)
{
	struct vfio_pci *p = d->opaque;

	if (p->v->can_reset && ioctl(p->v->fd, VFIO_DEVICE_RESET) < 0)
		pr_warn("--vfio-pci %s: reset at guest reboot failed: %s", p->v->bdf,
			strerror(errno));
	vfio_cfg_written(d, PCI_COMMAND, 2);
	vfio_pci_irq_reset(p);
}

static u32 policy_flags(enum bar_attr a, u32 bar_flags)
{
	switch (a) {
	case BAR_ATTR_UC:
		return 0;
	case BAR_ATTR_WC:
		return REGION_MAP_WRITECOMBINE;
	case BAR_ATTR_CACHED:
		return REGION_MAP_CACHED;
	default:
		return bar_flags & PCI_BAR_PREFETCH ? REGION_MAP_WRITECOMBINE : 0;
	}
}

static const char *size_str(u64 size, char buf[32])
{
	if (size >= (1ULL << 20) && !(size & ((1ULL << 20) - 1)))
		snprintf(buf, 32, "%llu MiB", (unsigned long long)(size >> 20));
	else if (size >= 1024 && !(size & 1023))
		snprintf(buf, 32, "%llu KiB", (unsigned long long)(size >> 10));
	else
		snprintf(buf, 32, "%llu bytes", (unsigned long long)size);
	return buf;
}

/* Decide and mmap BAR @i per its policy; say what the guest gets. */
static void bar_map(struct vfio_pci *p, int i, enum bar_attr policy,
		    const struct region_map_caps *caps)
{
	struct vfio_pci_bar *b = &p->bar[i];
	u32 mapped = 0;
	char sz[32];

	region_map_decide(policy_flags(policy, b->flags), caps, b->mmappable && b->nr_areas,
			  &b->map);
	if (!b->mmappable)
		snprintf(b->map.why, sizeof(b->map.why), "VFIO does not let it be mmapped");
	else if (b->msix_only)
		snprintf(b->map.why, sizeof(b->map.why),
			 "it holds only the MSI-X table and PBA, which are emulated");
	else if (!b->nr_areas)
		snprintf(b->map.why, sizeof(b->map.why), "no page-aligned part to map");
	if (b->map.how == REGION_MAPPED) {
		for (u32 j = 0; j < b->nr_areas; j++) {
			struct vfio_bar_area *a = &b->area[j];
			void *hva = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED,
					 p->v->fd, (off_t)(b->region_off + a->off));

			if (hva == MAP_FAILED) {
				pr_warn("--vfio-pci %s: BAR%d +0x%llx: mmap failed (%s); trapped",
					p->v->bdf, i, (unsigned long long)a->off, strerror(errno));
				continue;
			}
			a->hva = hva;
			mapped++;
		}
		if (!mapped) {
			b->map.how = REGION_TRAPPED;
			b->map.guest_max = MEM_DEVICE;
			b->map.exact = b->map.wanted == MEM_DEVICE;
		}
	}
	pr_debug("vfio %s: BAR%d %s%s%s: policy %s, %s%s, guest gets at most %s (%s); VMM "
		 "mapping %s; %s",
		 p->v->bdf, i, size_str(b->size, sz), b->flags & PCI_BAR_MEM64 ? " 64-bit" : "",
		 b->flags & PCI_BAR_PREFETCH ? " prefetchable" : "", mem_type_policy(b->map.wanted),
		 b->map.how == REGION_MAPPED ? "mapped" : "trapped",
		 b->map.how == REGION_MAPPED && b->nr_areas > 1 ? " (sparse)" : "",
		 mem_type_name(b->map.guest_max), b->map.exact ? "exact" : "not as requested",
		 mem_type_name(b->map.vmm), b->map.why);
	if (!b->map.exact)
		pr_warn("--vfio-pci %s: BAR%d: %s requested, the guest gets at most %s (%s): %s",
			p->v->bdf, i, mem_type_policy(b->map.wanted),
			mem_type_policy(b->map.guest_max), mem_type_name(b->map.guest_max),
			b->map.why);
}

static int bars_init(struct vfio_pci *p, const u8 *hdr)
{
	struct vfio_region_info ri;
	int ret;

	for (int i = 0; i < 6; i++) {
		u32 raw = get_le32(hdr + PCI_BASE_ADDRESS_0 + 4 * i), flags = 0;
		struct vfio_pci_bar *b = &p->bar[i];
		u64 size;

		b->p = p;
		if (region_info(p->v, VFIO_PCI_BAR0_REGION_INDEX + (u32)i, &ri) || !ri.size)
			continue;
		if (raw & PCI_BASE_ADDRESS_SPACE_IO) {
			flags = PCI_BAR_IO;
		} else {
			if ((raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
				flags |= PCI_BAR_MEM64;
			if (raw & PCI_BASE_ADDRESS_MEM_PREFETCH)
				flags |= PCI_BAR_PREFETCH;
		}
		/* The guest's BAR: a power of two, at least 4 KiB (the bridge's granule). */
		for (size = 4096; size < ri.size; size <<= 1)
			;
		b->region_off = ri.offset;
		b->size = ri.size;
		b->flags = flags;
		b->mmappable = !(flags & PCI_BAR_IO) && (ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
		if (b->mmappable)
			region_areas(p->v, VFIO_PCI_BAR0_REGION_INDEX + (u32)i, ri.size, b);
		ret = pci_dev_add_bar(&p->pci, i, size, flags,
				      flags & PCI_BAR_IO ? NULL : vfio_bar_access, b);
		if (ret) {
			pr_err("--vfio-pci %s: BAR%d (%llu bytes) cannot be shown to the guest",
			       p->v->bdf, i, (unsigned long long)ri.size);
			return ret;
		}
		if (flags & PCI_BAR_MEM64)
			i++;
	}
	return 0;
}

int vfio_pci_init(struct vfio_pci *p, struct vfio_dev *v, struct vm *vm, struct pci_bridge *bridge,
		  const struct vfio_config *vc, const struct region_map_caps *caps)
{
	struct vfio_region_info ri;
	u8 hdr[256];
	int ret;

	memset(p, 0, sizeof(*p));
	p->v = v;
	p->vm = vm;
	p->intx_efd = p->intx_rfd = -1;
	pthread_mutex_init(&p->irq_lock, NULL);
	ret = region_info(v, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	if (ret)
		return ret;
	p->cfg_off = ri.offset;
	if (cfg_read(p, 0, hdr, sizeof(hdr)) || (hdr[PCI_HEADER_TYPE] & 0x7f) != 0) {
		pr_err("--vfio-pci %s: cannot read a type 0 config header", v->bdf);
		return -EIO;
	}
	p->pci.cfg_written = vfio_cfg_written;
	p->pci.cfg_refresh = vfio_cfg_refresh;
	p->pci.reset = vfio_machine_reset;
	p->pci.opaque = p;
	pci_dev_init(&p->pci, v->bdf, get_le16(hdr + PCI_VENDOR_ID), get_le16(hdr + PCI_DEVICE_ID),
		     get_le32(hdr + PCI_CLASS_REVISION) >> 8, hdr[PCI_REVISION_ID],
		     get_le16(hdr + PCI_SUBSYSTEM_VENDOR_ID), get_le16(hdr + PCI_SUBSYSTEM_ID));
	ret = bars_init(p, hdr);
	if (!ret)
		ret = vfio_pci_irq_init(p, hdr);
	if (ret)
		goto fail;
	for (int i = 0; i < 6; i++) {
		if (!p->bar[i].size || (p->bar[i].flags & PCI_BAR_IO))
			continue;
		/* MSI-X table and PBA stay trapped: the guest programs our copy. */
		if (p->has_msix && p->msix.bar == i && p->bar[i].nr_areas) {
			u64 page = (u64)sysconf(_SC_PAGESIZE);
			struct vfio_pci_bar *b = &p->bar[i];

			b->nr_areas = vfio_areas_punch(
			    b->area, b->nr_areas, VFIO_BAR_AREAS, p->msix.table_off,
			    p->msix.table_off + (u64)p->msix.nvec * 16, page);
			b->nr_areas = vfio_areas_punch(
			    b->area, b->nr_areas, VFIO_BAR_AREAS, p->msix.pba_off,
			    p->msix.pba_off + ((u64)p->msix.nvec + 63) / 64 * 8, page);
			p->bar[i].msix_only = !p->bar[i].nr_areas;
		}
		bar_map(p, i, vc->bar[i], caps);
	}
	ret = pci_bridge_add(bridge, &p->pci);
	if (ret) {
		pr_err("--vfio-pci %s: no room on the passthrough bridge", v->bdf);
		goto fail;
	}
	ret = vfio_pci_irq_start(p);
	if (ret)
		goto fail;
	return 0;
fail:
	vfio_pci_destroy(p);
	return ret;
}

void vfio_pci_destroy(struct vfio_pci *p)
{
	if (!p->v)
		return;
	vfio_pci_irq_destroy(p);
	for (int i = 0; i < 6; i++) {
		struct vfio_pci_bar *b = &p->bar[i];

		if (b->size && !(b->flags & PCI_BAR_IO))
			pr_debug(
			    "vfio %s: BAR%d: %s, %llu guest accesses trapped", p->v->bdf, i,
			    b->map.how == REGION_MAPPED ? "mapped" : "trapped",
			    (unsigned long long)__atomic_load_n(&b->trapped, __ATOMIC_RELAXED));

		for (u32 j = 0; j < b->nr_areas; j++) {
			if (b->area[j].slot)
				vm_unmap_device(p->vm, b->area[j].slot);
			if (b->area[j].hva)
				munmap(b->area[j].hva, b->area[j].size);
			b->area[j].slot = 0;
			b->area[j].hva = NULL;
		}
	}
	pthread_mutex_destroy(&p->irq_lock);
	p->v = NULL;
}
