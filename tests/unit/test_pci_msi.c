// SPDX-License-Identifier: GPL-2.0
/*
 * hw/pci-msi.c behind a real function on the ECAM bridge: the MSI
 * capability (PCI Local Bus 3.0, 6.8.1; 64-bit, per-vector masking) as
 * config space shows it, what the guest may change, the messages it
 * programs, the changed callback, the device-supplied Pending Bits and the
 * hostile writes a guest may make, all through a dry VM's MMIO bus.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm64/layout.h"
#include "hw/pci-msi.h"
#include "hw/pci.h"
#include "vm.h"
#include "tests/unit/pci_rig.h"
#include "tests/unit/test.h"

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

#define ECAM	 ARM_PCI_ECAM0_BASE
#define CAP	 0x50 /* after a 16-byte capability at 0x40 */
#define CTRL	 (CAP + 2)
#define ADDR_LO	 (CAP + 4)
#define ADDR_HI	 (CAP + 8)
#define DATA	 (CAP + 12)
#define MASK	 (CAP + 16)
#define PENDING	 (CAP + 20)
#define CAP_END	 (CAP + 24)
#define C_ENABLE 0x0001
#define C_64BIT	 0x0080
#define C_PVM	 0x0100

static struct vm vm;
static struct pci_bridge br;

struct tdev {
	struct pci_dev pci;
	struct pci_msi msi;
	unsigned written; /* cfg_written calls: the bridge saw a write */
	unsigned changed; /* changed callbacks */
	unsigned bad_args;
	u32 last_enabled; /* pci_msi_enabled_vectors() as the callback saw it */
};

static struct tdev td;

static void tdev_written(struct pci_dev *d, u32 off, u32 len)
{
	struct tdev *t = d->opaque;

	t->written++;
	pci_msi_cfg_written(&t->msi, off, len);
}

static void tdev_changed(struct pci_msi *m, void *opaque)
{
	struct tdev *t = opaque;

	if (m != &t->msi)
		t->bad_args++;
	t->changed++;
	t->last_enabled = pci_msi_enabled_vectors(m);
}

static u32 log2u(u32 n)
{
	u32 l = 0;

	while ((1U << l) < n)
		l++;
	return l;
}

static void setup(u8 nvec)
{
	CHECK_EQ_U64(pci_rig_init(&vm, &br), 0);
	memset(&td, 0, sizeof(td));
	td.pci.opaque = &td;
	td.pci.cfg_written = tdev_written;
	pci_dev_init(&td.pci, "msi", 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2);
	CHECK_EQ_U64(pci_dev_add_cap(&td.pci, 0x09, 16), 0x40); /* something before MSI */
	td.msi.changed = tdev_changed;				/* set before init: kept */
	td.msi.opaque = &td;
	CHECK_EQ_U64(pci_msi_init(&td.msi, &td.pci, nvec), 0);
	CHECK(td.msi.changed == tdev_changed);
	CHECK(td.msi.opaque == &td);
	CHECK(td.msi.dev == &td.pci);
	CHECK_EQ_U64(td.msi.cap, CAP);
	CHECK_EQ_U64(td.msi.nvec_cap, nvec);
	CHECK_EQ_U64(pci_bridge_add(&br, &td.pci), 0);
}

static void teardown(void)
{
	CHECK_EQ_U64(td.bad_args, 0);
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

/* Message Control as the function shows it: MMC, 64-bit, per-vector masking. */
static u32 ctrl_ro(u8 nvec)
{
	return C_PVM | C_64BIT | log2u(nvec) << 1;
}

static u32 mask_valid(u8 nvec)
{
	return nvec == 32 ? 0xffffffffU : (1U << nvec) - 1;
}

static u32 min_u32(u32 a, u32 b)
{
	return a < b ? a : b;
}

/* ---- tests ---- */

static void test_capability(void)
{
	static const u8 nvecs[] = { 1, 2, 4, 8, 16, 32 };

	for (size_t i = 0; i < ARRAY_SIZE(nvecs); i++) {
		u8 nvec = nvecs[i];
		u32 ptr, cap = 0, n = 0;

		setup(nvec);
		CHECK(cfg_rd(0x06, 2) & 0x10); /* Status: Capabilities List */
		CHECK_EQ_U64(cfg_rd(0x34, 1), 0x40);
		/* Walk the list as a guest does. */
		for (ptr = cfg_rd(0x34, 1); ptr && n < 48; ptr = cfg_rd(ptr + 1, 1), n++) {
			if (cfg_rd(ptr, 1) == 0x05)
				cap = ptr;
		}
		CHECK_EQ_U64(n, 2);
		CHECK_EQ_U64(cap, CAP);
		CHECK_EQ_U64(cfg_rd(CAP, 1), 0x05);
		CHECK_EQ_U64(cfg_rd(CAP + 1, 1), 0); /* last in the list */
		/* 64-bit, per-vector masking, MMC = log2(nvec), MME 0, disabled. */
		CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec));
		CHECK_EQ_U64(cfg_rd(CAP, 4), ctrl_ro(nvec) << 16 | 0x05);
		CHECK_EQ_U64((cfg_rd(CTRL, 2) >> 1) & 7, log2u(nvec));
		CHECK_EQ_U64(1U << ((cfg_rd(CTRL, 2) >> 1) & 7), nvec);
		/* Everything else starts at 0. */
		for (u32 off = ADDR_LO; off < CAP_END; off += 4)
			CHECK_EQ_U64(cfg_rd(off, 4), 0);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
		/* Nothing after it. */
		CHECK_EQ_U64(cfg_rd(CAP_END, 4), 0);
		CHECK_EQ_U64(td.changed, 0);
		teardown();
	}
}

static void test_init_errors(void)
{
	static const u8 bad[] = { 0, 3, 5, 6, 7, 12, 33, 48, 64, 128, 255 };
	static struct pci_dev d;
	struct pci_msi m;

	pci_dev_init(&d, "bad", 0x1af4, 1, 0, 0, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&m, 0, sizeof(m));
		m.changed = tdev_changed;
		CHECK_ERR(pci_msi_init(&m, &d, bad[i]), -EINVAL);
		CHECK(m.dev == NULL);
		CHECK(m.changed == tdev_changed);
	}
	CHECK_EQ_U64(d.cfg[0x34], 0); /* no capability was left behind */
	CHECK_EQ_U64(d.cfg[0x06] & 0x10, 0);
	/* The capability does not fit any more: -ENOSPC, nothing set up. */
	CHECK_EQ_U64(pci_dev_add_cap(&d, 0x09, 0xb0), 0x40);
	memset(&m, 0, sizeof(m));
	CHECK_ERR(pci_msi_init(&m, &d, 4), -ENOSPC);
	CHECK(m.dev == NULL);
	CHECK_EQ_U64(pci_msi_enabled_vectors(&m), 0);
	/* Neither calls the callback nor sets pending bits on an uninitialised MSI. */
	m.changed = tdev_changed;
	m.opaque = &td;
	memset(&td, 0, sizeof(td));
	pci_msi_cfg_written(&m, 0, 0x100);
	pci_msi_set_pending(&m, 0, true);
	CHECK_EQ_U64(td.changed, 0);
	/* A capability that just fits: 0xf0 + 24 = 0x108 does not, 0xe8 + 24 = 0x100 does. */
	pci_dev_init(&d, "fit", 0x1af4, 1, 0, 0, 0, 0);
	CHECK_EQ_U64(pci_dev_add_cap(&d, 0x09, 0xa8), 0x40);
	memset(&m, 0, sizeof(m));
	CHECK_EQ_U64(pci_msi_init(&m, &d, 32), 0);
	CHECK_EQ_U64(m.cap, 0xe8);
	CHECK_EQ_U64(d.cfg[0x41], 0xe8);
}

static void test_enable(void)
{
	static const u8 nvecs[] = { 1, 2, 4, 8, 16, 32 };

	for (size_t i = 0; i < ARRAY_SIZE(nvecs); i++) {
		u8 nvec = nvecs[i];

		setup(nvec);
		for (u32 mme = 0; mme < 8; mme++) {
			u32 want = min_u32(1U << mme, nvec);

			/* Multiple Message Enable first, then Enable: disabled until then. */
			cfg_wr(CTRL, mme << 4, 2);
			CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
			CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec) | mme << 4);
			cfg_wr(CTRL, mme << 4 | C_ENABLE, 2);
			CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), want);
			CHECK_EQ_U64(td.last_enabled, want); /* the callback sees the new state */
			CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec) | mme << 4 | C_ENABLE);
			/* Disabling gives 0 whatever MME says. */
			cfg_wr(CTRL, mme << 4, 2);
			CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
			CHECK_EQ_U64(td.last_enabled, 0);
		}
		/* A byte write to the low half of Message Control works the same. */
		cfg_wr(CTRL, 0x51, 1);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), min_u32(32, nvec));
		cfg_wr(CTRL, 0x00, 1);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
		/* Read-only bits: MMC, 64-bit, PVM and the reserved upper bits. */
		cfg_wr(CTRL, 0xffff, 2);
		CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec) | 0x70 | C_ENABLE);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), nvec);
		cfg_wr(CTRL, 0, 2);
		CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec));
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
		teardown();
	}
}

static void test_message(void)
{
	static const u8 nvecs[] = { 1, 4, 8, 16, 32 };

	setup(2);
	/* Address: the low 2 bits are read-only zero; the upper half is all writable. */
	cfg_wr(ADDR_LO, 0xfee01003, 4);
	CHECK_EQ_U64(cfg_rd(ADDR_LO, 4), 0xfee01000);
	cfg_wr(ADDR_LO, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(ADDR_LO, 4), 0xfffffffc);
	cfg_wr(ADDR_LO, 0x03, 1);
	CHECK_EQ_U64(cfg_rd(ADDR_LO, 4), 0xffffff00);
	cfg_wr(ADDR_LO, 0x08030040, 4);
	cfg_wr(ADDR_HI, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(ADDR_HI, 4), 0xffffffff);
	cfg_wr(ADDR_HI, 0x12345678, 4);
	CHECK_EQ_U64(cfg_rd(ADDR_HI, 4), 0x12345678);
	/* Data is 16 bits: the upper half of its dword is reserved, read-only zero. */
	cfg_wr(DATA, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(DATA, 4), 0x0000ffff);
	cfg_wr(DATA + 2, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(DATA + 2, 2), 0);
	cfg_wr(DATA, 0xabcd, 2);
	CHECK_EQ_U64(cfg_rd(DATA, 4), 0xabcd);
	/* Mask bits only for the vectors the function has. */
	cfg_wr(MASK, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(MASK, 4), 0x3);
	cfg_wr(MASK, 0xfffffffe, 4);
	CHECK_EQ_U64(cfg_rd(MASK, 4), 0x2);
	teardown();

	for (size_t i = 0; i < ARRAY_SIZE(nvecs); i++) {
		setup(nvecs[i]);
		cfg_wr(MASK, 0xffffffff, 4);
		CHECK_EQ_U64(cfg_rd(MASK, 4), mask_valid(nvecs[i]));
		cfg_wr(MASK + 3, 0xff, 1);
		cfg_wr(MASK, 0, 2);
		CHECK_EQ_U64(cfg_rd(MASK, 4), mask_valid(nvecs[i]) & 0xffff0000);
		teardown();
	}
}

static void test_vector(void)
{
	u64 addr;
	u32 data;
	bool masked;

	setup(32);
	cfg_wr(ADDR_LO, 0x08030040, 4);
	cfg_wr(ADDR_HI, 0x00000001, 4);
	cfg_wr(DATA, 0x4321, 2);
	cfg_wr(MASK, 1U << 3 | 1U << 31, 4);

	/* One vector: the data as programmed. */
	cfg_wr(CTRL, C_ENABLE, 2);
	CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 1);
	pci_msi_vector(&td.msi, 0, &addr, &data, &masked);
	CHECK_EQ_U64(addr, 0x108030040ULL);
	CHECK_EQ_U64(data, 0x4321);
	CHECK(!masked);

	/* Four vectors: the low two data bits select the vector. */
	cfg_wr(CTRL, 2 << 4 | C_ENABLE, 2);
	CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 4);
	for (u32 v = 0; v < 4; v++) {
		pci_msi_vector(&td.msi, v, &addr, &data, &masked);
		CHECK_EQ_U64(addr, 0x108030040ULL);
		CHECK_EQ_U64(data, 0x4320 | v);
		CHECK(masked == (v == 3));
	}

	/* Thirty-two vectors: the low five bits. */
	cfg_wr(CTRL, 5 << 4 | C_ENABLE, 2);
	CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 32);
	for (u32 v = 0; v < 32; v++) {
		pci_msi_vector(&td.msi, v, &addr, &data, &masked);
		CHECK_EQ_U64(addr, 0x108030040ULL);
		CHECK_EQ_U64(data, 0x4320 | v);
		CHECK(masked == (v == 3 || v == 31));
	}
	/* Only the data register changes it, the config space is untouched. */
	CHECK_EQ_U64(cfg_rd(DATA, 2), 0x4321);

	/* The whole 64-bit address and 16-bit data. */
	cfg_wr(ADDR_LO, 0xfffffffc, 4);
	cfg_wr(ADDR_HI, 0xffffffff, 4);
	cfg_wr(DATA, 0xffff, 2);
	cfg_wr(MASK, 0, 4);
	cfg_wr(CTRL, 1 << 4 | C_ENABLE, 2);
	pci_msi_vector(&td.msi, 0, &addr, &data, &masked);
	CHECK_EQ_U64(addr, 0xfffffffffffffffcULL);
	CHECK_EQ_U64(data, 0xfffe);
	CHECK(!masked);
	pci_msi_vector(&td.msi, 1, &addr, &data, &masked);
	CHECK_EQ_U64(data, 0xffff);
	teardown();

	/* An MME above MMC uses the function's vectors: 2 here, one data bit. */
	setup(2);
	cfg_wr(DATA, 0x0040, 2);
	cfg_wr(CTRL, 5 << 4 | C_ENABLE, 2);
	CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 2);
	pci_msi_vector(&td.msi, 1, &addr, &data, &masked);
	CHECK_EQ_U64(data, 0x0041);
	pci_msi_vector(&td.msi, 0, &addr, &data, &masked);
	CHECK_EQ_U64(data, 0x0040);
	teardown();
}

static void test_changed(void)
{
	unsigned n, w;

	setup(4);
	/* Inside the capability: Message Control, Address, Upper Address, Data, Mask. */
	cfg_wr(CTRL, 0x0001, 2);
	CHECK_EQ_U64(td.changed, 1);
	CHECK_EQ_U64(td.last_enabled, 1);
	cfg_wr(CTRL + 1, 0x00, 1);
	CHECK_EQ_U64(td.changed, 2);
	cfg_wr(ADDR_LO, 0x08030040, 4);
	CHECK_EQ_U64(td.changed, 3);
	cfg_wr(ADDR_HI, 0x1, 4);
	CHECK_EQ_U64(td.changed, 4);
	cfg_wr(DATA, 0x20, 2);
	CHECK_EQ_U64(td.changed, 5);
	cfg_wr(DATA + 2, 0x1, 2); /* reserved half of the Data dword */
	CHECK_EQ_U64(td.changed, 6);
	cfg_wr(MASK, 0x1, 4);
	CHECK_EQ_U64(td.changed, 7);
	cfg_wr(MASK + 3, 0xff, 1);
	CHECK_EQ_U64(td.changed, 8);
	cfg_wr(CAP, 0x0001ffff, 4); /* a dword over id, next and control */
	CHECK_EQ_U64(td.changed, 9);
	CHECK_EQ_U64(td.last_enabled, 1);
	CHECK_EQ_U64(cfg_rd(CAP, 2), 0x0005);

	/* Outside it, or the read-only Pending Bits: the bridge calls, MSI does not. */
	n = td.changed;
	w = td.written;
	cfg_wr(PENDING, 0xffffffff, 4);
	cfg_wr(PENDING + 3, 0xff, 1);
	cfg_wr(PENDING + 2, 0xffff, 2);
	cfg_wr(CAP_END, 0xffffffff, 4);
	cfg_wr(CAP - 4, 0xffffffff, 4); /* the end of the capability before it */
	cfg_wr(CAP - 1, 0xff, 1);
	cfg_wr(0x04, 0x0006, 2);
	cfg_wr(0x3c, 0x20, 1);
	cfg_wr(0x100, 0xffffffff, 4);
	cfg_wr(0xffc, 0xffffffff, 4);
	CHECK_EQ_U64(td.written, w + 10);
	CHECK_EQ_U64(td.changed, n);
	/* Reads never call it. */
	for (u32 off = 0; off < 0x100; off += 4)
		(void)cfg_rd(off, 4);
	CHECK_EQ_U64(td.changed, n);

	/* The hook's range check on its own: anything overlapping [CTRL, PENDING). */
	pci_msi_cfg_written(&td.msi, PENDING - 1, 1);
	CHECK_EQ_U64(td.changed, n + 1);
	pci_msi_cfg_written(&td.msi, PENDING - 2, 4);
	CHECK_EQ_U64(td.changed, n + 2);
	pci_msi_cfg_written(&td.msi, CAP, 4);
	CHECK_EQ_U64(td.changed, n + 3);
	pci_msi_cfg_written(&td.msi, 0, 0x100);
	CHECK_EQ_U64(td.changed, n + 4);
	pci_msi_cfg_written(&td.msi, PENDING, 4);
	pci_msi_cfg_written(&td.msi, CAP - 4, 4);
	pci_msi_cfg_written(&td.msi, CAP, 0);
	/* The ID and Next bytes are read-only: writing only them changes nothing. */
	pci_msi_cfg_written(&td.msi, CAP - 2, 4);
	pci_msi_cfg_written(&td.msi, CAP, 2);
	pci_msi_cfg_written(&td.msi, CAP + 1, 1);
	CHECK_EQ_U64(td.changed, n + 4);
	/* No callback set: nothing to call, nothing breaks. */
	td.msi.changed = NULL;
	cfg_wr(CTRL, 0, 2);
	CHECK_EQ_U64(td.changed, n + 4);
	CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
	teardown();
}

static void test_pending(void)
{
	setup(8);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0);
	pci_msi_set_pending(&td.msi, 0, true);
	pci_msi_set_pending(&td.msi, 5, true);
	pci_msi_set_pending(&td.msi, 7, true);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0xa1);
	CHECK_EQ_U64(cfg_rd(PENDING, 1), 0xa1);
	/* Read-only for the guest, whatever the size. */
	cfg_wr(PENDING, 0, 4);
	cfg_wr(PENDING, 0xffffffff, 4);
	cfg_wr(PENDING, 0, 1);
	cfg_wr(PENDING + 2, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0xa1);
	/* Clearing; vectors beyond the function's are ignored. */
	pci_msi_set_pending(&td.msi, 5, false);
	pci_msi_set_pending(&td.msi, 8, true);
	pci_msi_set_pending(&td.msi, 31, true);
	pci_msi_set_pending(&td.msi, 32, true);
	pci_msi_set_pending(&td.msi, 0xffffffff, true);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0x81);
	CHECK_EQ_U64(cfg_rd(CAP_END, 4), 0); /* nothing written past the capability */
	/* Independent of the mask and of enabling. */
	cfg_wr(MASK, 0xff, 4);
	cfg_wr(CTRL, 0x31, 2);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0x81);
	CHECK_EQ_U64(cfg_rd(MASK, 4), 0xff);
	teardown();

	/* All 32. */
	setup(32);
	for (u32 v = 0; v < 32; v += 3)
		pci_msi_set_pending(&td.msi, v, true);
	pci_msi_set_pending(&td.msi, 31, true);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0x49249249U | 1U << 31); /* bits 0, 3, .., 30 and 31 */
	CHECK_EQ_U64(cfg_rd(PENDING + 3, 1), 0xc9);
	for (u32 v = 0; v < 32; v++)
		pci_msi_set_pending(&td.msi, v, false);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 0);
	teardown();
}

/* What a guest can never break, whatever it wrote. */
static void check_sane(u8 nvec)
{
	u32 n = pci_msi_enabled_vectors(&td.msi), ctrl = cfg_rd(CTRL, 2);

	CHECK(n <= nvec);
	CHECK(n == 0 || (n & (n - 1)) == 0);
	CHECK((ctrl & ~0x71U) == ctrl_ro(nvec));
	CHECK_EQ_U64(cfg_rd(CAP, 2), 0x0005);
	CHECK_EQ_U64(cfg_rd(0x34, 1), 0x40);
	CHECK_EQ_U64(cfg_rd(0x41, 1), CAP);
	CHECK_EQ_U64(cfg_rd(ADDR_LO, 1) & 3, 0);
	CHECK_EQ_U64(cfg_rd(DATA + 2, 2), 0);
	CHECK_EQ_U64(cfg_rd(MASK, 4) & ~mask_valid(nvec), 0);
	CHECK_EQ_U64(cfg_rd(PENDING, 4), 1U << (nvec - 1)); /* set by the device below */
	CHECK_EQ_U64(cfg_rd(CAP_END, 4), 0);
}

static void test_hostile(void)
{
	static const u8 nvecs[] = { 1, 2, 4, 8, 16, 32 };

	for (size_t i = 0; i < ARRAY_SIZE(nvecs); i++) {
		u8 nvec = nvecs[i];
		u32 seed = 12345 + nvec;

		setup(nvec);
		pci_msi_set_pending(&td.msi, nvec - 1, true);
		/* All-ones over the whole capability, in dwords, words and bytes. */
		for (u32 off = CAP - 4; off < CAP_END + 4; off += 4)
			cfg_wr(off, 0xffffffff, 4);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), nvec);
		CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec) | 0x71);
		CHECK_EQ_U64(cfg_rd(ADDR_LO, 4), 0xfffffffc);
		CHECK_EQ_U64(cfg_rd(DATA, 4), 0xffff);
		CHECK_EQ_U64(cfg_rd(MASK, 4), mask_valid(nvec));
		check_sane(nvec);
		for (u32 off = CAP; off < CAP_END; off += 2)
			cfg_wr(off, 0, 2);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
		CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec));
		check_sane(nvec);
		for (u32 off = CAP; off < CAP_END; off++)
			cfg_wr(off, 0xff, 1);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), nvec);
		check_sane(nvec);
		/* Misaligned: ECAM drops them (reads as all-ones), nothing changes. */
		cfg_wr(CTRL, 0, 2);
		CHECK(mmio_bus_access(&vm.mmio, ECAM + CTRL - 1, (u8 *)&(u32){ 0xffffffff }, 4,
				      true));
		CHECK(mmio_bus_access(&vm.mmio, ECAM + CTRL + 1, (u8 *)&(u16){ 0xffff }, 2, true));
		CHECK(mmio_bus_access(&vm.mmio, ECAM + CAP + 1, (u8 *)&(u64){ ~0ULL }, 8, true));
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
		CHECK_EQ_U64(cfg_rd(CTRL, 2), ctrl_ro(nvec));
		check_sane(nvec);
		/* Random sizes, values and aligned offsets around the capability. */
		for (int k = 0; k < 1000; k++) {
			u32 len, off, v;

			seed = seed * 1103515245U + 12345U;
			len = 1U << ((seed >> 16) % 3);
			off = (CAP - 8 + ((seed >> 8) % 40)) & ~(len - 1);
			seed = seed * 1103515245U + 12345U;
			v = seed ^ (seed << 7);
			cfg_wr(off, v, len);
			if (k % 50 == 0)
				check_sane(nvec);
			CHECK(pci_msi_enabled_vectors(&td.msi) <= nvec);
		}
		check_sane(nvec);
		/* Disabling always gives 0. */
		cfg_wr(CTRL, 0x70, 2);
		CHECK_EQ_U64(pci_msi_enabled_vectors(&td.msi), 0);
		teardown();
	}
}

TEST_MAIN(test_capability, test_init_errors, test_enable, test_message, test_vector, test_changed,
	  test_pending, test_hostile)
