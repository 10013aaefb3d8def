// SPDX-License-Identifier: GPL-2.0
/*
 * hw/pci-msix.c behind a real function on the ECAM bridge: the capability
 * as config space shows it, table and PBA through the BAR (PCI Local Bus
 * 3.0, 6.8.2), the changed callback, and the hostile accesses a guest may
 * make (misaligned, straddling, out of range), all through a dry VM's MMIO
 * bus.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm64/layout.h"
#include "hw/pci-msix.h"
#include "hw/pci.h"
#include "vm.h"
#include "tests/unit/pci_rig.h"
#include "tests/unit/test.h"

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

#define ECAM	  ARM_PCI_ECAM0_BASE
#define NVEC	  70 /* two PBA qwords */
#define MSIX_BAR  2
#define TABLE_OFF 0x0000
#define PBA_OFF	  0x2000
#define BAR_SIZE  (4 * SZ_4K)
#define UNCLAIMED 0xee

static struct vm vm;
static struct pci_bridge br;

struct tdev {
	struct pci_dev pci;
	struct pci_msix msix;
	unsigned changed, lock_held;
	u16 last_v;
};

static struct tdev td;
static u64 bar_addr;

static void tdev_bar(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct tdev *t = opaque;

	if (!pci_msix_mmio(&t->msix, off, data, len, is_write) && !is_write)
		memset(data, UNCLAIMED, len);
}

static void tdev_written(struct pci_dev *d, u32 off, u32 len)
{
	struct tdev *t = d->opaque;

	pci_msix_cfg_written(&t->msix, off, len);
}

static void tdev_changed(struct pci_msix *m, u16 v, void *opaque)
{
	struct tdev *t = opaque;

	/* The callback runs with the MSI-X lock released: it may look at the vectors. */
	if (pthread_mutex_trylock(&m->lock))
		__atomic_fetch_add(&t->lock_held, 1, __ATOMIC_RELAXED);
	else
		pthread_mutex_unlock(&m->lock);
	__atomic_fetch_add(&t->changed, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&t->last_v, v, __ATOMIC_RELAXED);
}

static void setup(void)
{
	CHECK_EQ_U64(pci_rig_init(&vm, &br), 0);
	memset(&td, 0, sizeof(td));
	td.pci.opaque = &td;
	td.pci.cfg_written = tdev_written;
	pci_dev_init(&td.pci, "msix", 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2);
	CHECK(td.pci.cfg_written == tdev_written);		/* kept by pci_dev_init */
	CHECK_EQ_U64(pci_dev_add_cap(&td.pci, 0x09, 16), 0x40); /* something before MSI-X */
	CHECK_EQ_U64(pci_dev_add_bar(&td.pci, MSIX_BAR, BAR_SIZE, PCI_BAR_MEM64, tdev_bar, &td), 0);
	td.msix.changed = tdev_changed; /* set before init: kept */
	td.msix.opaque = &td;
	CHECK_EQ_U64(pci_msix_init(&td.msix, &td.pci, NVEC, MSIX_BAR, TABLE_OFF, PBA_OFF), 0);
	CHECK(td.msix.changed == tdev_changed);
	CHECK_EQ_U64(pci_bridge_add(&br, &td.pci), 0);
	bar_addr = td.pci.bars[MSIX_BAR].addr;
}

static void teardown(void)
{
	pci_msix_free(&td.msix);
	pci_bridge_destroy(&br);
	mmio_bus_free(&vm.mmio);
}

static u32 cfg_rd(u32 reg, u32 len)
{
	u32 v = 0;

	CHECK(mmio_bus_access(&vm.mmio, ECAM + reg, (u8 *)&v, len, false));
	return v;
}

static void cfg_wr(u32 reg, u32 v, u32 len)
{
	CHECK(mmio_bus_access(&vm.mmio, ECAM + reg, (u8 *)&v, len, true));
}

static u64 bar_rd(u64 off, u32 len)
{
	u64 v = 0;

	mmio_bus_access(&vm.mmio, bar_addr + off, (u8 *)&v, len, false);
	return v;
}

static void bar_wr(u64 off, u64 v, u32 len)
{
	mmio_bus_access(&vm.mmio, bar_addr + off, (u8 *)&v, len, true);
}

static u64 entry(u16 v, u32 field)
{
	return TABLE_OFF + (u64)v * 16 + field;
}

static void enable(bool on, bool func_mask)
{
	u32 cap = (u32)td.msix.cap;

	cfg_wr(cap + 2, (on ? 0x8000 : 0) | (func_mask ? 0x4000 : 0), 2);
}

/* ---- tests ---- */

static void test_capability(void)
{
	u32 ptr, cap = 0;

	setup();
	cfg_wr(0x04, 0x0002, 2); /* memory decoding on */
	/* Find it by walking the list as a guest does. */
	for (ptr = cfg_rd(0x34, 1); ptr; ptr = cfg_rd(ptr + 1, 1)) {
		if (cfg_rd(ptr, 1) == 0x11)
			cap = ptr;
	}
	CHECK_EQ_U64(cap, 0x50);
	CHECK_EQ_U64(td.msix.cap, cap);
	CHECK_EQ_U64(td.msix.nvec, NVEC);
	CHECK_EQ_U64(cfg_rd(cap + 2, 2), NVEC - 1);		/* Table Size N-1, disabled */
	CHECK_EQ_U64(cfg_rd(cap + 4, 4), TABLE_OFF | MSIX_BAR); /* offset | BIR */
	CHECK_EQ_U64(cfg_rd(cap + 8, 4), PBA_OFF | MSIX_BAR);
	/* Only Enable and Function Mask are writable. */
	cfg_wr(cap + 2, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(cap + 2, 2), 0xc000 | (NVEC - 1));
	CHECK(td.msix.enabled);
	CHECK(td.msix.func_masked);
	cfg_wr(cap, 0, 4); /* dword write over id, next and control */
	CHECK_EQ_U64(cfg_rd(cap, 4), (u32)(NVEC - 1) << 16 | 0x11);
	CHECK(!td.msix.enabled);
	CHECK(!td.msix.func_masked);
	cfg_wr(cap + 4, 0xffffffff, 4);
	cfg_wr(cap + 8, 0, 4);
	CHECK_EQ_U64(cfg_rd(cap + 4, 4), TABLE_OFF | MSIX_BAR);
	CHECK_EQ_U64(cfg_rd(cap + 8, 4), PBA_OFF | MSIX_BAR);
	teardown();
}

static void test_table(void)
{
	setup();
	cfg_wr(0x04, 0x0002, 2);
	/* Reset state: address and data 0, every vector masked. */
	for (u16 v = 0; v < NVEC; v++) {
		CHECK_EQ_U64(bar_rd(entry(v, 0), 8), 0);
		CHECK_EQ_U64(bar_rd(entry(v, 8), 4), 0);
		CHECK_EQ_U64(bar_rd(entry(v, 12), 4), 1);
	}
	/* Dword writes. */
	bar_wr(entry(3, 0), 0x08030040, 4);
	bar_wr(entry(3, 4), 0x00000001, 4);
	bar_wr(entry(3, 8), 0x00000023, 4);
	CHECK_EQ_U64(bar_rd(entry(3, 0), 4), 0x08030040);
	CHECK_EQ_U64(bar_rd(entry(3, 4), 4), 1);
	CHECK_EQ_U64(bar_rd(entry(3, 0), 8), 0x108030040ULL);
	CHECK_EQ_U64(bar_rd(entry(3, 8), 8), 0x100000023ULL); /* data | masked << 32 */
	CHECK_EQ_U64(td.msix.vec[3].addr, 0x108030040ULL);
	CHECK_EQ_U64(td.msix.vec[3].data, 0x23);
	CHECK(td.msix.vec[3].masked);
	/* Qword writes, the second unmasking. */
	bar_wr(entry(NVEC - 1, 0), 0x0000000208030040ULL, 8);
	bar_wr(entry(NVEC - 1, 8), 0x0000000000000045ULL, 8);
	CHECK_EQ_U64(bar_rd(entry(NVEC - 1, 0), 4), 0x08030040);
	CHECK_EQ_U64(bar_rd(entry(NVEC - 1, 4), 4), 2);
	CHECK_EQ_U64(bar_rd(entry(NVEC - 1, 8), 4), 0x45);
	CHECK_EQ_U64(bar_rd(entry(NVEC - 1, 12), 4), 0);
	CHECK(!td.msix.vec[NVEC - 1].masked);
	/* Reserved Vector Control bits read as 0. */
	bar_wr(entry(4, 12), 0xffffffff, 4);
	CHECK_EQ_U64(bar_rd(entry(4, 12), 4), 1);
	bar_wr(entry(4, 12), 0xfffffffe, 4);
	CHECK_EQ_U64(bar_rd(entry(4, 12), 4), 0);
	/* Neighbours untouched. */
	CHECK_EQ_U64(bar_rd(entry(2, 0), 8), 0);
	CHECK_EQ_U64(bar_rd(entry(5, 12), 4), 1);
	/* The same through pci_msix_mmio directly. */
	{
		u8 buf[8];

		CHECK(pci_msix_mmio(&td.msix, entry(3, 8), buf, 4, false));
		CHECK_EQ_U64(get_le32(buf), 0x23);
	}
	teardown();
}

static void test_changed(void)
{
	u64 addr;
	u32 data;

	setup();
	cfg_wr(0x04, 0x0002, 2);
	bar_wr(entry(1, 0), 0x08030040, 4);
	CHECK_EQ_U64(td.changed, 1);
	CHECK_EQ_U64(td.last_v, 1);
	bar_wr(entry(1, 0), 0x08030040, 4); /* no change: no call */
	CHECK_EQ_U64(td.changed, 1);
	bar_wr(entry(1, 8), 7, 4);
	CHECK_EQ_U64(td.changed, 2);
	bar_wr(entry(2, 8), 0x0000000000000009ULL, 8); /* data and unmask in one access */
	CHECK_EQ_U64(td.changed, 3);
	CHECK_EQ_U64(td.last_v, 2);
	bar_wr(entry(2, 12), 1, 4); /* mask */
	CHECK_EQ_U64(td.changed, 4);
	bar_wr(entry(2, 12), 1, 4); /* still masked */
	CHECK_EQ_U64(td.changed, 4);
	bar_wr(entry(2, 12), 0, 4); /* unmask */
	CHECK_EQ_U64(td.changed, 5);
	CHECK_EQ_U64(td.last_v, 2);
	/* PBA writes and reads never call it. */
	bar_wr(PBA_OFF, ~0ULL, 8);
	(void)bar_rd(entry(1, 0), 8);
	CHECK_EQ_U64(td.changed, 5);

	/* Enable and Function Mask: one call for all vectors (0xffff). */
	enable(true, false);
	CHECK_EQ_U64(td.changed, 6);
	CHECK_EQ_U64(td.last_v, 0xffff);
	enable(true, false);
	CHECK_EQ_U64(td.changed, 6);
	enable(true, true);
	CHECK_EQ_U64(td.changed, 7);
	CHECK_EQ_U64(td.last_v, 0xffff);
	/* Writes elsewhere in config space do not count. */
	cfg_wr(0x04, 0x0006, 2);
	cfg_wr((u32)td.msix.cap + 4, 0, 4);
	cfg_wr((u32)td.msix.cap, 0x11, 1);
	CHECK_EQ_U64(td.changed, 7);
	/* A byte write to the upper half of Message Control counts. */
	cfg_wr((u32)td.msix.cap + 3, 0x00, 1);
	CHECK_EQ_U64(td.changed, 8);
	CHECK(!td.msix.enabled);
	CHECK_EQ_U64(td.lock_held, 0);

	/* pci_msix_vector_active follows enable, function mask and the entry mask. */
	bar_wr(entry(1, 12), 0, 4);
	CHECK(!pci_msix_vector_active(&td.msix, 1, &addr, &data)); /* disabled */
	enable(true, true);
	CHECK(!pci_msix_vector_active(&td.msix, 1, &addr, &data)); /* function masked */
	enable(true, false);
	addr = 0;
	data = 0;
	CHECK(pci_msix_vector_active(&td.msix, 1, &addr, &data));
	CHECK_EQ_U64(addr, 0x08030040);
	CHECK_EQ_U64(data, 7);
	CHECK(!pci_msix_vector_active(&td.msix, 0, &addr, &data)); /* entry masked */
	CHECK(pci_msix_vector_active(&td.msix, 2, &addr, &data));
	CHECK_EQ_U64(data, 9);
	CHECK(!pci_msix_vector_active(&td.msix, NVEC, &addr, &data));
	CHECK(!pci_msix_vector_active(&td.msix, 0xffff, &addr, &data));
	bar_wr(entry(1, 12), 1, 4);
	CHECK(!pci_msix_vector_active(&td.msix, 1, &addr, &data));
	CHECK_EQ_U64(td.lock_held, 0);
	teardown();
}

static void test_pba(void)
{
	setup();
	cfg_wr(0x04, 0x0002, 2);
	CHECK_EQ_U64(bar_rd(PBA_OFF, 8), 0);
	pci_msix_set_pending(&td.msix, 1, true);
	pci_msix_set_pending(&td.msix, 33, true);
	pci_msix_set_pending(&td.msix, 65, true);
	CHECK_EQ_U64(bar_rd(PBA_OFF, 8), 1ULL << 33 | 2);
	CHECK_EQ_U64(bar_rd(PBA_OFF, 4), 2);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 4, 4), 2);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 8, 8), 2);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 12, 4), 0);
	/* Read-only. */
	bar_wr(PBA_OFF, 0, 8);
	bar_wr(PBA_OFF + 8, ~0ULL, 8);
	CHECK_EQ_U64(bar_rd(PBA_OFF, 8), 1ULL << 33 | 2);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 8, 8), 2);
	pci_msix_set_pending(&td.msix, 33, false);
	CHECK_EQ_U64(bar_rd(PBA_OFF, 8), 2);
	/* Vectors past the table are ignored (bits 70..127 stay 0). */
	pci_msix_set_pending(&td.msix, NVEC, true);
	pci_msix_set_pending(&td.msix, 127, true);
	pci_msix_set_pending(&td.msix, 0xffff, true);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 8, 8), 2);
	teardown();
}

static void test_hostile(void)
{
	u8 buf[8];

	setup();
	cfg_wr(0x04, 0x0002, 2);
	bar_wr(entry(0, 0), 0x11223344, 4);
	td.changed = 0;

	/* Misaligned and odd-sized table accesses: handled, read as 0, written nowhere. */
	CHECK_EQ_U64(bar_rd(entry(0, 2), 4), 0);
	CHECK_EQ_U64(bar_rd(entry(0, 4), 8), 0);
	CHECK_EQ_U64(bar_rd(entry(0, 0), 2), 0);
	CHECK_EQ_U64(bar_rd(entry(0, 0), 1), 0);
	bar_wr(entry(0, 2), 0xffffffff, 4);
	bar_wr(entry(0, 4), ~0ULL, 8);
	bar_wr(entry(0, 12), 0, 2);
	bar_wr(entry(0, 12), 0, 1);
	CHECK_EQ_U64(bar_rd(entry(0, 0), 8), 0x11223344);
	CHECK_EQ_U64(bar_rd(entry(0, 12), 4), 1);
	CHECK_EQ_U64(td.changed, 0);
	/* Straddling the end of the table. */
	CHECK_EQ_U64(bar_rd(entry(NVEC, 0) - 4, 8), 0);
	bar_wr(entry(NVEC, 0) - 4, 0, 8);
	CHECK_EQ_U64(bar_rd(entry(NVEC - 1, 12), 4), 1);
	CHECK(pci_msix_mmio(&td.msix, entry(NVEC, 0) - 4, buf, 8, false));
	/* Past the table and outside the PBA: not MSI-X's, the device's own. */
	CHECK_EQ_U64(bar_rd(entry(NVEC, 0), 4), 0xeeeeeeee);
	CHECK_EQ_U64(bar_rd(PBA_OFF - 8, 8), 0xeeeeeeeeeeeeeeeeULL);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 16, 4), 0xeeeeeeee);
	CHECK(!pci_msix_mmio(&td.msix, PBA_OFF + 16, buf, 4, false));
	CHECK(!pci_msix_mmio(&td.msix, UINT64_MAX - 3, buf, 8, false));
	CHECK(!pci_msix_mmio(&td.msix, UINT64_MAX, buf, 1, true));
	/* PBA: straddling its end or misaligned reads 0. */
	pci_msix_set_pending(&td.msix, 64, true);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 12, 8), 0);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 8, 2), 0);
	CHECK_EQ_U64(bar_rd(PBA_OFF + 8, 4), 1);
	CHECK_EQ_U64(td.changed, 0);
	teardown();
}

static void test_init_errors(void)
{
	static struct pci_dev d;
	static struct pci_msix m;

	pci_dev_init(&d, "bad", 0x1af4, 1, 0, 0, 0, 0);
	CHECK_EQ_U64(pci_dev_add_bar(&d, 0, SZ_4K, 0, NULL, NULL), 0);
	CHECK_EQ_U64(pci_dev_add_bar(&d, 1, 256, PCI_BAR_IO, NULL, NULL), 0);
	CHECK_ERR(pci_msix_init(&m, &d, 0, 0, 0, 0x800), -EINVAL);
	CHECK_ERR(pci_msix_init(&m, &d, PCI_MSIX_MAX_VECTORS + 1, 0, 0, 0x800), -EINVAL);
	CHECK_ERR(pci_msix_init(&m, &d, 4, -1, 0, 0x800), -EINVAL);
	CHECK_ERR(pci_msix_init(&m, &d, 4, 6, 0, 0x800), -EINVAL);
	CHECK_ERR(pci_msix_init(&m, &d, 4, 2, 0, 0x800), -EINVAL);     /* no such BAR */
	CHECK_ERR(pci_msix_init(&m, &d, 4, 1, 0, 0x80), -EINVAL);      /* an I/O BAR */
	CHECK_ERR(pci_msix_init(&m, &d, 4, 0, 4, 0x800), -EINVAL);     /* table misaligned */
	CHECK_ERR(pci_msix_init(&m, &d, 4, 0, 0, 0x804), -EINVAL);     /* PBA misaligned */
	CHECK_ERR(pci_msix_init(&m, &d, 4, 0, 0xfc8, 0x800), -EINVAL); /* table past the BAR */
	CHECK_ERR(pci_msix_init(&m, &d, 4, 0, 0, 0x1000), -EINVAL);    /* PBA past the BAR */
	CHECK_ERR(pci_msix_init(&m, &d, 4, 0, 0, 0x38), -EINVAL);      /* PBA inside the table */
	CHECK_ERR(pci_msix_init(&m, &d, 256, 0, 0, 0x800), -EINVAL);   /* table over the PBA */
	CHECK_ERR(pci_msix_init(&m, &d, 0xffff, 0, 0, 0x800), -EINVAL);
	CHECK_EQ_U64(d.cfg[0x34], 0); /* no capability was left behind */
	/* The capability does not fit any more: -ENOSPC. */
	CHECK_EQ_U64(pci_dev_add_cap(&d, 0x09, 0xb8), 0x40);
	CHECK_ERR(pci_msix_init(&m, &d, 4, 0, 0, 0x800), -ENOSPC);
	CHECK(m.vec == NULL);
	pci_msix_free(&m); /* harmless on a failed init */
	/* Table and PBA may share a BAR page in either order; freeing twice is fine. */
	pci_dev_init(&d, "ok", 0x1af4, 1, 0, 0, 0, 0);
	CHECK_EQ_U64(pci_dev_add_bar(&d, 0, SZ_4K, 0, NULL, NULL), 0);
	CHECK_EQ_U64(pci_msix_init(&m, &d, 64, 0, 0x400, 0x3f8), 0);
	CHECK_EQ_U64(m.cap, 0x40);
	pci_msix_free(&m);
	pci_msix_free(&m);
	/* The largest table: 2048 vectors, 32 KiB, and a 256-byte PBA. */
	pci_dev_init(&d, "max", 0x1af4, 1, 0, 0, 0, 0);
	CHECK_EQ_U64(pci_dev_add_bar(&d, 0, SZ_64K, 0, NULL, NULL), 0);
	CHECK_EQ_U64(pci_msix_init(&m, &d, PCI_MSIX_MAX_VECTORS, 0, 0, 0x8000), 0);
	CHECK_EQ_U64(get_le16(&d.cfg[m.cap + 2]), PCI_MSIX_MAX_VECTORS - 1);
	pci_msix_set_pending(&m, PCI_MSIX_MAX_VECTORS - 1, true);
	{
		u8 buf[8];

		CHECK(pci_msix_mmio(&m, 0x8000 + 248, buf, 8, false));
		CHECK_EQ_U64(get_le64(buf), 1ULL << 63);
		CHECK(!pci_msix_mmio(&m, 0x8000 + 256, buf, 8, false));
	}
	pci_msix_free(&m);
}

struct race {
	bool stop; /* atomic */
};

static void *race_guest(void *arg)
{
	struct race *r = arg;
	u64 addr;
	u32 data;

	for (u32 i = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		u16 v = (u16)(i % NVEC);

		bar_wr(entry(v, 0), i, 4);
		bar_wr(entry(v, 8), (u64)(i & 1) << 32 | i, 8);
		(void)bar_rd(entry(v, 0), 8);
		(void)bar_rd(PBA_OFF + 8 * (i & 1), 8);
		pci_msix_set_pending(&td.msix, v, i & 1);
		(void)pci_msix_vector_active(&td.msix, v, &addr, &data);
	}
	return NULL;
}

/* vCPUs program vectors while another one toggles Enable / Function Mask. */
static void test_concurrent(void)
{
	struct race r = { false };
	pthread_t th[3];

	setup();
	cfg_wr(0x04, 0x0002, 2);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, race_guest, &r);
	for (int i = 0; i < 20000; i++) {
		u16 ctl = (u16)((i & 1 ? 0x8000 : 0) | (i & 2 ? 0x4000 : 0));

		mmio_bus_access(&vm.mmio, ECAM + (u32)td.msix.cap + 2, (u8 *)&ctl, 2, true);
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	/* Other threads hold the MSI-X lock here, so lock_held says nothing. */
	CHECK(td.changed > 0);
	teardown();
}

TEST_MAIN(test_capability, test_table, test_changed, test_pba, test_hostile, test_init_errors,
	  test_concurrent)
