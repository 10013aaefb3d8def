// SPDX-License-Identifier: GPL-2.0
/*
 * MSI capability layout with 64-bit addresses and per-vector masking
 * (PCI Local Bus 3.0, 6.8.1): +2 Message Control, +4 Address, +8 Upper
 * Address, +12 Data, +16 Mask Bits, +20 Pending Bits. Everything the guest
 * may change goes through the function's wmask; values are read back from
 * config space, so there is no copy to keep in sync.
 */
#include <errno.h>
#include <string.h>

#include "hw/pci-msi.h"

#define MSI_CAP_ID	0x05
#define MSI_CAP_LEN	24
#define MSI_CTRL	2
#define MSI_ADDR_LO	4
#define MSI_ADDR_HI	8
#define MSI_DATA	12
#define MSI_MASK	16
#define MSI_PENDING	20
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_MMC	0x000e /* Multiple Message Capable, log2 */
#define MSI_CTRL_MME	0x0070 /* Multiple Message Enable, log2 */
#define MSI_CTRL_64BIT	0x0080
#define MSI_CTRL_PVM	0x0100 /* per-vector masking */

static void put_le32(u8 *p, u32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (u8)(v >> (8 * i));
}

int pci_msi_init(struct pci_msi *m, struct pci_dev *d, u8 nvec)
{
	void (*changed)(struct pci_msi *, void *) = m->changed;
	void *opaque = m->opaque;
	u8 *c, *w;
	u32 log2 = 0;
	int cap;

	if (!nvec || nvec > PCI_MSI_MAX_VECTORS || (nvec & (nvec - 1)))
		return -EINVAL;
	while ((1U << log2) < nvec)
		log2++;
	cap = pci_dev_add_cap(d, MSI_CAP_ID, MSI_CAP_LEN);
	if (cap < 0)
		return cap;
	memset(m, 0, sizeof(*m));
	m->changed = changed;
	m->opaque = opaque;
	m->dev = d;
	m->cap = cap;
	m->nvec_cap = nvec;
	c = &d->cfg[cap];
	w = &d->wmask[cap];
	c[MSI_CTRL] = (u8)(MSI_CTRL_64BIT | log2 << 1);
	c[MSI_CTRL + 1] = MSI_CTRL_PVM >> 8;
	w[MSI_CTRL] = MSI_CTRL_ENABLE | MSI_CTRL_MME;
	put_le32(&w[MSI_ADDR_LO], ~3U); /* DWORD aligned */
	put_le32(&w[MSI_ADDR_HI], ~0U);
	w[MSI_DATA] = w[MSI_DATA + 1] = 0xff;
	/* Only the bits of vectors the function has can be masked. */
	put_le32(&w[MSI_MASK], nvec == 32 ? ~0U : (1U << nvec) - 1);
	return 0;
}

void pci_msi_cfg_written(struct pci_msi *m, u32 off, u32 len)
{
	u32 base = (u32)m->cap;

	/* Only the writable registers: Message Control up to the Mask Bits. */
	if (!m->dev || off >= base + MSI_PENDING || off + len <= base + MSI_CTRL)
		return;
	if (m->changed)
		m->changed(m, m->opaque);
}

u32 pci_msi_enabled_vectors(const struct pci_msi *m)
{
	u16 ctrl;
	u32 n;

	if (!m->dev)
		return 0;
	ctrl = get_le16(&m->dev->cfg[m->cap + MSI_CTRL]);
	if (!(ctrl & MSI_CTRL_ENABLE))
		return 0;
	n = 1U << ((ctrl & MSI_CTRL_MME) >> 4);
	/* An MME above MMC is undefined (6.8.1.3): use what the function has. */
	return n > m->nvec_cap ? m->nvec_cap : n;
}

void pci_msi_vector(const struct pci_msi *m, u32 v, u64 *addr, u32 *data, bool *masked)
{
	const u8 *c = &m->dev->cfg[m->cap];
	u32 n = pci_msi_enabled_vectors(m), d = get_le16(&c[MSI_DATA]);

	*addr = get_le32(&c[MSI_ADDR_LO]) | (u64)get_le32(&c[MSI_ADDR_HI]) << 32;
	/* The function modifies the low log2(n) bits of Data to select the vector. */
	if (n > 1)
		d = (d & ~(n - 1)) | (v & (n - 1));
	*data = d;
	*masked = v < 32 && (get_le32(&c[MSI_MASK]) & (1U << v));
}

void pci_msi_set_pending(struct pci_msi *m, u32 v, bool pending)
{
	u8 *p;

	if (!m->dev || v >= m->nvec_cap)
		return;
	p = &m->dev->cfg[m->cap + MSI_PENDING + v / 8];
	if (pending)
		__atomic_fetch_or(p, (u8)(1U << (v % 8)), __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(p, (u8) ~(1U << (v % 8)), __ATOMIC_RELAXED);
}
