// SPDX-License-Identifier: GPL-2.0
/*
 * MSI-X state (PCI Local Bus 3.0, 6.8.2): the capability in config space,
 * the vector table and the pending-bit array inside a BAR. Every offset and
 * length comes from the guest and is checked; the table accepts aligned
 * 4- and 8-byte accesses (6.8.2: "aligned full DWORD or aligned full QWORD"),
 * anything else inside it is ignored, and the PBA is read-only.
 *
 * m->lock protects the vectors, the PBA and the enable/mask bits. The
 * changed callback runs after it is released, so it may call back into this
 * file. BAR accesses arrive with the bridge's lock held for reading,
 * Message Control writes (through the device's cfg_written) with it held
 * for writing: the order is bridge lock, then m->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/pci-msix.h"

#define MSIX_CAP_ID	   0x11
#define MSIX_CAP_LEN	   12
#define MSIX_CTRL	   2 /* Message Control, in the capability */
#define MSIX_TABLE	   4 /* Table Offset / BIR */
#define MSIX_PBA	   8 /* PBA Offset / BIR */
#define MSIX_CTRL_ENABLE   0x8000
#define MSIX_CTRL_FUNCMASK 0x4000
#define MSIX_ENTRY_SIZE	   16
#define MSIX_ENTRY_MASKED  1U /* Vector Control bit 0; the rest is reserved */
#define MSIX_ALL_VECTORS   0xffff

static u64 table_size(const struct pci_msix *m)
{
	return (u64)m->nvec * MSIX_ENTRY_SIZE;
}

static u64 pba_size(const struct pci_msix *m)
{
	return ((u64)m->nvec + 63) / 64 * 8;
}

/* [off, off + len) shares a byte with [base, base + size); false if it wraps. */
static bool overlaps(u64 off, u64 len, u64 base, u64 size)
{
	u64 end;

	if (__builtin_add_overflow(off, len, &end))
		return false;
	return off < base + size && base < end;
}

/* [off, off + len) lies inside [base, base + size). */
static bool inside(u64 off, u64 len, u64 base, u64 size)
{
	return off >= base && len <= size && off - base <= size - len;
}

static void put_le32(u8 *p, u32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (u8)(v >> (8 * i));
}

int pci_msix_init(struct pci_msix *m, struct pci_dev *d, u16 nvec, int bar, u32 table_off,
		  u32 pba_off)
{
	void (*changed)(struct pci_msix *, u16, void *) = m->changed;
	void *opaque = m->opaque;
	const struct pci_bar *b;
	u64 tsize = (u64)nvec * MSIX_ENTRY_SIZE, psize = ((u64)nvec + 63) / 64 * 8;
	int cap;

	if (!nvec || nvec > PCI_MSIX_MAX_VECTORS || bar < 0 || bar >= (int)ARRAY_SIZE(d->bars))
		return -EINVAL;
	b = &d->bars[bar];
	if (!b->size || (b->flags & PCI_BAR_IO) || (table_off & 7) || (pba_off & 7) ||
	    !inside(table_off, tsize, 0, b->size) || !inside(pba_off, psize, 0, b->size) ||
	    overlaps(table_off, tsize, pba_off, psize))
		return -EINVAL;

	memset(m, 0, sizeof(*m));
	m->changed = changed;
	m->opaque = opaque;
	m->dev = d;
	m->nvec = nvec;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->vec = calloc(nvec, sizeof(*m->vec));
	m->pba = calloc(psize / 8, sizeof(*m->pba));
	if (!m->vec || !m->pba) {
		free(m->vec);
		free(m->pba);
		m->vec = NULL;
		m->pba = NULL;
		return -ENOMEM;
	}
	cap = pci_dev_add_cap(d, MSIX_CAP_ID, MSIX_CAP_LEN);
	if (cap < 0) {
		free(m->vec);
		free(m->pba);
		m->vec = NULL;
		m->pba = NULL;
		return cap;
	}
	m->cap = cap;
	/* Table Size is N - 1; only Enable and Function Mask are writable. */
	d->cfg[cap + MSIX_CTRL] = (u8)(nvec - 1);
	d->cfg[cap + MSIX_CTRL + 1] = (u8)((nvec - 1) >> 8);
	d->wmask[cap + MSIX_CTRL + 1] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FUNCMASK) >> 8;
	put_le32(&d->cfg[cap + MSIX_TABLE], table_off | (u32)bar);
	put_le32(&d->cfg[cap + MSIX_PBA], pba_off | (u32)bar);
	for (u16 v = 0; v < nvec; v++)
		m->vec[v].masked = true; /* 6.8.2.9: every entry's Mask bit is set at reset */
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void pci_msix_free(struct pci_msix *m)
{
	if (!m->vec)
		return;
	free(m->vec);
	free(m->pba);
	m->vec = NULL;
	m->pba = NULL;
	pthread_mutex_destroy(&m->lock);
}

/* The 16 bytes of an entry as the guest sees them. */
static void entry_get(const struct pci_msix_vector *e, u8 *b)
{
	put_le32(b, (u32)e->addr);
	put_le32(b + 4, (u32)(e->addr >> 32));
	put_le32(b + 8, e->data);
	put_le32(b + 12, e->masked ? MSIX_ENTRY_MASKED : 0);
}

static void table_access(struct pci_msix *m, u64 off, u8 *data, u32 len, bool is_write)
{
	u64 rel = off - m->table_off;
	u16 v = (u16)(rel / MSIX_ENTRY_SIZE);
	u32 at = (u32)(rel % MSIX_ENTRY_SIZE);
	struct pci_msix_vector *e, old;
	u8 raw[MSIX_ENTRY_SIZE];
	bool changed;

	pthread_mutex_lock(&m->lock);
	e = &m->vec[v];
	entry_get(e, raw);
	if (!is_write) {
		memcpy(data, raw + at, len);
		pthread_mutex_unlock(&m->lock);
		return;
	}
	old = *e;
	memcpy(raw + at, data, len);
	e->addr = get_le64(raw);
	e->data = get_le32(raw + 8);
	e->masked = get_le32(raw + 12) & MSIX_ENTRY_MASKED;
	changed = e->addr != old.addr || e->data != old.data || e->masked != old.masked;
	pthread_mutex_unlock(&m->lock);
	if (changed && m->changed)
		m->changed(m, v, m->opaque);
}

static void pba_read(struct pci_msix *m, u64 off, u8 *data, u32 len)
{
	u64 rel = off - m->pba_off;

	pthread_mutex_lock(&m->lock);
	for (u32 i = 0; i < len; i++, rel++)
		data[i] = (u8)(m->pba[rel / 8] >> (8 * (rel % 8)));
	pthread_mutex_unlock(&m->lock);
}

bool pci_msix_mmio(struct pci_msix *m, u64 off, u8 *data, u32 len, bool is_write)
{
	bool aligned = (len == 4 || len == 8) && !(off & (len - 1));

	if (!m->vec)
		return false;
	if (overlaps(off, len, m->table_off, table_size(m))) {
		if (aligned && inside(off, len, m->table_off, table_size(m)))
			table_access(m, off, data, len, is_write);
		else if (!is_write)
			memset(data, 0, len);
		return true;
	}
	if (overlaps(off, len, m->pba_off, pba_size(m))) {
		if (is_write)
			return true; /* read-only */
		if (aligned && inside(off, len, m->pba_off, pba_size(m)))
			pba_read(m, off, data, len);
		else
			memset(data, 0, len);
		return true;
	}
	return false;
}

void pci_msix_reset(struct pci_msix *m)
{
	if (!m->vec)
		return;
	pthread_mutex_lock(&m->lock);
	m->enabled = false;
	m->func_masked = false;
	for (u32 i = 0; i < m->nvec; i++)
		m->vec[i] = (struct pci_msix_vector){ .masked = true };
	memset(m->pba, 0, pba_size(m));
	pthread_mutex_unlock(&m->lock);
	if (m->changed)
		m->changed(m, MSIX_ALL_VECTORS, m->opaque);
}

void pci_msix_cfg_written(struct pci_msix *m, u32 off, u32 len)
{
	const u8 *ctrl;
	bool enabled, func_masked, changed;

	if (!m->vec || !overlaps(off, len, (u64)m->cap + MSIX_CTRL, 2))
		return;
	ctrl = &m->dev->cfg[m->cap + MSIX_CTRL];
	enabled = get_le16(ctrl) & MSIX_CTRL_ENABLE;
	func_masked = get_le16(ctrl) & MSIX_CTRL_FUNCMASK;
	pthread_mutex_lock(&m->lock);
	changed = enabled != m->enabled || func_masked != m->func_masked;
	m->enabled = enabled;
	m->func_masked = func_masked;
	pthread_mutex_unlock(&m->lock);
	if (changed && m->changed)
		m->changed(m, MSIX_ALL_VECTORS, m->opaque);
}

bool pci_msix_vector_active(struct pci_msix *m, u16 v, u64 *addr, u32 *data)
{
	bool active;

	if (!m->vec || v >= m->nvec)
		return false;
	pthread_mutex_lock(&m->lock);
	active = m->enabled && !m->func_masked && !m->vec[v].masked;
	if (active) {
		*addr = m->vec[v].addr;
		*data = m->vec[v].data;
	}
	pthread_mutex_unlock(&m->lock);
	return active;
}

void pci_msix_set_pending(struct pci_msix *m, u16 v, bool pending)
{
	u64 bit = 1ULL << (v % 64);

	if (!m->vec || v >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	if (pending)
		m->pba[v / 64] |= bit;
	else
		m->pba[v / 64] &= ~bit;
	pthread_mutex_unlock(&m->lock);
}
