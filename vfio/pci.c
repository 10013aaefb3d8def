// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/ioctl.h>
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

static int cfg_read(struct vfio_pci *p, u32 off, void *buf, u32 len)
{
	return pread(p->v->fd, buf, len, (off_t)(p->cfg_off + off)) == (ssize_t)len ? 0 : -EIO;
}

/*
 * A guest access inside BAR @b, offset relative to the BAR. Beyond the
 * device's real size (BARs under 4 KiB are shown as 4 KiB) reads are
 * all-ones and writes are dropped, like an unclaimed address.
 */
static void vfio_bar_access(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct vfio_pci_bar *b = opaque;
	int fd = b->p->v->fd;
	ssize_t n;

	if (off >= b->size || len > b->size - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		n = pwrite(fd, data, len, (off_t)(b->region_off + off));
	else
		n = pread(fd, data, len, (off_t)(b->region_off + off));
	if (n != (ssize_t)len && !is_write)
		memset(data, 0xff, len);
}

/* The guest changed the Command register: memory decoding and bus mastering reach the device. */
static void vfio_cfg_written(struct pci_dev *d, u32 off, u32 len)
{
	struct vfio_pci *p = d->opaque;
	u16 cmd, want;

	if (off > PCI_COMMAND + 1 || off + len <= PCI_COMMAND)
		return;
	if (cfg_read(p, PCI_COMMAND, &cmd, 2))
		return;
	want = (u16)((d->cfg[PCI_COMMAND] | d->cfg[PCI_COMMAND + 1] << 8) &
		     (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	cmd = (u16)((cmd & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) | want);
	if (pwrite(p->v->fd, &cmd, 2, (off_t)(p->cfg_off + PCI_COMMAND)) != 2)
		pr_debug("vfio %s: command 0x%x not written", p->v->bdf, cmd);
}

int vfio_pci_init(struct vfio_pci *p, struct vfio_dev *v, struct pci_bridge *bridge)
{
	struct vfio_region_info ri;
	u8 hdr[64];
	int ret, i;

	memset(p, 0, sizeof(*p));
	p->v = v;
	ret = region_info(v, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	if (ret)
		return ret;
	p->cfg_off = ri.offset;
	if (cfg_read(p, 0, hdr, sizeof(hdr)) || (hdr[PCI_HEADER_TYPE] & 0x7f) != 0) {
		pr_err("--vfio-pci %s: cannot read a type 0 config header", v->bdf);
		return -EIO;
	}
	p->pci.cfg_written = vfio_cfg_written;
	p->pci.opaque = p;
	pci_dev_init(&p->pci, v->bdf, get_le16(hdr + PCI_VENDOR_ID), get_le16(hdr + PCI_DEVICE_ID),
		     get_le32(hdr + PCI_CLASS_REVISION) >> 8, hdr[PCI_REVISION_ID],
		     get_le16(hdr + PCI_SUBSYSTEM_VENDOR_ID), get_le16(hdr + PCI_SUBSYSTEM_ID));
	for (i = 0; i < 6; i++) {
		u32 raw = get_le32(hdr + PCI_BASE_ADDRESS_0 + 4 * i), flags = 0;
		u64 size;

		if (region_info(v, VFIO_PCI_BAR0_REGION_INDEX + (u32)i, &ri) || !ri.size)
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
		p->bar[i] =
		    (struct vfio_pci_bar){ .region_off = ri.offset, .size = ri.size, .p = p };
		ret = pci_dev_add_bar(&p->pci, i, size, flags,
				      flags & PCI_BAR_IO ? NULL : vfio_bar_access, &p->bar[i]);
		if (ret) {
			pr_err("--vfio-pci %s: BAR%d (%llu bytes) cannot be shown to the guest",
			       v->bdf, i, (unsigned long long)ri.size);
			return ret;
		}
		pr_debug("vfio %s: BAR%d %llu bytes%s%s%s, trapped", v->bdf, i,
			 (unsigned long long)ri.size, flags & PCI_BAR_IO ? " I/O" : "",
			 flags & PCI_BAR_MEM64 ? " 64-bit" : "",
			 flags & PCI_BAR_PREFETCH ? " prefetchable" : "");
		if (flags & PCI_BAR_MEM64)
			i++;
	}
	ret = pci_bridge_add(bridge, &p->pci);
	if (ret)
		pr_err("--vfio-pci %s: no room on the passthrough bridge", v->bdf);
	return ret;
}
