// SPDX-License-Identifier: GPL-2.0
/*
 * hw/pci.c driven as a guest drives it: config space through the ECAM
 * window and BARs through the MMIO windows, all via the VM's MMIO bus of a
 * dry struct vm. Covers the header (PCI Local Bus 3.0, 6.1-6.2), BAR sizing,
 * allocation and relocation, decoding rules for hostile BAR values, the
 * capability list, INTx routing and the DT node (checked with libfdt and
 * dtc, as tests/unit/test_fdt.c does for the whole tree).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "arm64/layout.h"
#include "hw/pci.h"
#include "vm.h"
#include "tests/unit/test.h"

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

#define ECAM   ARM_PCI_ECAM0_BASE
#define M32    ARM_PCI_MMIO32_0_BASE
#define M64    ARM_PCI_MMIO64_0_BASE
#define M32_SZ ARM_PCI_MMIO32_SIZE
#define M64_SZ ARM_PCI_MMIO64_SIZE

static struct vm vm;
static struct pci_bridge br;

/* A test function: records what its BAR handlers saw. */
struct tdev {
	struct pci_dev pci;
	unsigned calls, bad; /* bad: offset/len outside the BAR */
	u64 last_off;
	u32 last_len;
	bool last_write;
	u64 last_val;
	int last_bar;
	unsigned written, refreshed;
	u32 written_off, written_len;
};

struct bar_ctx {
	struct tdev *t;
	int bar;
};

static struct bar_ctx ctx[8][6];

static void bar_fn(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct bar_ctx *c = opaque;
	struct tdev *t = c->t;
	u64 v = 0;

	__atomic_fetch_add(&t->calls, 1, __ATOMIC_RELAXED);
	if (len > t->pci.bars[c->bar].size || off > t->pci.bars[c->bar].size - len)
		__atomic_fetch_add(&t->bad, 1, __ATOMIC_RELAXED);
	/* Atomic: the concurrency test calls this from several threads at once. */
	__atomic_store_n(&t->last_off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&t->last_len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&t->last_write, is_write, __ATOMIC_RELAXED);
	__atomic_store_n(&t->last_bar, c->bar, __ATOMIC_RELAXED);
	if (is_write) {
		memcpy(&v, data, len);
		__atomic_store_n(&t->last_val, v, __ATOMIC_RELAXED);
	} else {
		/* Reads return the offset with the BAR number in the top byte. */
		v = off | (u64)c->bar << 56;
		memcpy(data, &v, len);
	}
}

static void tdev_written(struct pci_dev *d, u32 off, u32 len)
{
	struct tdev *t = d->opaque;

	t->written++;
	t->written_off = off;
	t->written_len = len;
}

static void tdev_refresh(struct pci_dev *d, u32 off, u32 len)
{
	struct tdev *t = d->opaque;

	t->refreshed++;
	/* Subsystem ID shows a live value, as a device register would. */
	d->cfg[0x2e] = (u8)t->refreshed;
}

static void tdev_init(struct tdev *t, int idx, u16 device)
{
	memset(t, 0, sizeof(*t));
	pci_dev_init(&t->pci, "test", 0x1af4, device, 0x018000, 0x02, 0x1234, 0x5678);
	t->pci.opaque = t;
	t->pci.cfg_written = tdev_written;
	for (int i = 0; i < 6; i++)
		ctx[idx][i] = (struct bar_ctx){ t, i };
}

static int tdev_bar(struct tdev *t, int idx, int bar, u64 size, u32 flags)
{
	return pci_dev_add_bar(&t->pci, bar, size, flags, bar_fn, &ctx[idx][bar]);
}

static struct pci_bridge_config bridge0_cfg(void)
{
	return (struct pci_bridge_config){
		.name = "virtio",
		.domain = 0,
		.ecam_base = ARM_PCI_ECAM0_BASE,
		.ecam_size = ARM_PCI_ECAM_SIZE,
		.mmio32_base = ARM_PCI_MMIO32_0_BASE,
		.mmio32_size = ARM_PCI_MMIO32_SIZE,
		.mmio64_base = ARM_PCI_MMIO64_0_BASE,
		.mmio64_size = ARM_PCI_MMIO64_SIZE,
		.dma_coherent = true,
		.msi_devid_base = 0,
		.intx_spi_base = ARM_PCI_INTX_SPI,
	};
}

static struct pci_bridge_config bridge1_cfg(void)
{
	return (struct pci_bridge_config){
		.name = "vfio",
		.domain = 1,
		.ecam_base = ARM_PCI_ECAM1_BASE,
		.ecam_size = ARM_PCI_ECAM_SIZE,
		.mmio32_base = ARM_PCI_MMIO32_1_BASE,
		.mmio32_size = ARM_PCI_MMIO32_SIZE,
		.mmio64_base = ARM_PCI_MMIO64_1_BASE,
		.mmio64_size = ARM_PCI_MMIO64_SIZE,
		.dma_coherent = false,
		.msi_devid_base = 0x1000,
		.intx_spi_base = ARM_PCI_INTX_SPI + 4,
	};
}

static void vm_setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	vm.kvm_fd = -1;
	vm.dry = true;
}

static void setup(void)
{
	struct pci_bridge_config c = bridge0_cfg();

	vm_setup();
	CHECK_EQ_U64(pci_bridge_init(&br, &vm, &c), 0);
}

static void teardown(void)
{
	pci_bridge_destroy(&br);
	mmio_bus_free(&vm.mmio);
}

/* ---- guest-side accessors ---- */

static u64 ecam_addr(u64 ecam, u32 bus, u32 slot, u32 fn, u32 reg)
{
	return ecam + ((u64)bus << 20 | slot << 15 | fn << 12 | reg);
}

static u64 cfg_rd_at(u64 ecam, u32 bus, u32 slot, u32 fn, u32 reg, u32 len)
{
	u64 v = 0;

	CHECK(mmio_bus_access(&vm.mmio, ecam_addr(ecam, bus, slot, fn, reg), (u8 *)&v, len, false));
	return v;
}

static void cfg_wr_at(u64 ecam, u32 bus, u32 slot, u32 fn, u32 reg, u64 v, u32 len)
{
	CHECK(mmio_bus_access(&vm.mmio, ecam_addr(ecam, bus, slot, fn, reg), (u8 *)&v, len, true));
}

static u32 cfg_rd(u32 slot, u32 reg, u32 len)
{
	return (u32)cfg_rd_at(ECAM, 0, slot, 0, reg, len);
}

static void cfg_wr(u32 slot, u32 reg, u32 v, u32 len)
{
	cfg_wr_at(ECAM, 0, slot, 0, reg, v, len);
}

static u64 mem_rd(u64 addr, u32 len)
{
	u64 v = 0;

	mmio_bus_access(&vm.mmio, addr, (u8 *)&v, len, false);
	return v;
}

static void mem_wr(u64 addr, u64 v, u32 len)
{
	mmio_bus_access(&vm.mmio, addr, (u8 *)&v, len, true);
}

/* ---- tests ---- */

static void test_ecam_decode(void)
{
	static struct tdev t;

	setup();
	tdev_init(&t, 0, 0x1041);
	CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);
	CHECK_EQ_U64(t.pci.devfn, 0);
	CHECK(t.pci.bridge == &br);

	CHECK_EQ_U64(cfg_rd(0, 0x00, 2), 0x1af4);
	CHECK_EQ_U64(cfg_rd(0, 0x02, 2), 0x1041);
	CHECK_EQ_U64(cfg_rd(0, 0x00, 4), 0x10411af4);
	CHECK_EQ_U64(cfg_rd(0, 0x01, 1), 0x1a);
	CHECK_EQ_U64(cfg_rd(0, 0x08, 4), 0x01800002); /* class << 8 | revision */
	CHECK_EQ_U64(cfg_rd(0, 0x0b, 1), 0x01);
	CHECK_EQ_U64(cfg_rd(0, 0x0e, 1), 0x00); /* type 0, single function */
	CHECK_EQ_U64(cfg_rd(0, 0x2c, 4), 0x56781234);
	CHECK_EQ_U64(cfg_rd(0, 0x04, 2), 0);  /* command: all decoding off at reset */
	CHECK_EQ_U64(cfg_rd(0, 0x34, 1), 0);  /* no capabilities */
	CHECK_EQ_U64(cfg_rd(0, 0x800, 4), 0); /* extended space exists, empty */

	/* Absent slots, other functions and other buses: all-ones. */
	CHECK_EQ_U64(cfg_rd(1, 0x00, 4), 0xffffffff);
	CHECK_EQ_U64(cfg_rd(31, 0x00, 2), 0xffff);
	CHECK_EQ_U64(cfg_rd_at(ECAM, 0, 0, 1, 0x00, 4), 0xffffffff);
	CHECK_EQ_U64(cfg_rd_at(ECAM, 0, 0, 7, 0x00, 4), 0xffffffff);
	CHECK_EQ_U64(cfg_rd_at(ECAM, 1, 0, 0, 0x00, 4), 0xffffffff);
	CHECK_EQ_U64(cfg_rd_at(ECAM, 15, 31, 7, 0xffc, 4), 0xffffffff);
	/* Misaligned or 8-byte accesses: all-ones, writes ignored. */
	CHECK_EQ_U64(cfg_rd(0, 0x01, 2), 0xffff);
	CHECK_EQ_U64(cfg_rd(0, 0x02, 4), 0xffffffff);
	CHECK_EQ_U64(cfg_rd_at(ECAM, 0, 0, 0, 0x00, 8), ~0ULL);
	CHECK_EQ_U64(cfg_rd(0, 0x3e, 4), 0xffffffff);
	cfg_wr(0, 0x0b, 0x12345678, 4); /* misaligned, covers cache line size */
	cfg_wr(0, 0x0c, 0xff, 8);
	CHECK_EQ_U64(cfg_rd(0, 0x0c, 1), 0);
	CHECK_EQ_U64(t.written, 0);
	cfg_wr(3, 0x04, 0xffff, 2); /* absent: ignored */
	cfg_wr_at(ECAM, 2, 0, 0, 0x04, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x04, 2), 0);
	CHECK_EQ_U64(t.written, 0);
	teardown();
}

static void test_wmask(void)
{
	static struct tdev t;

	setup();
	tdev_init(&t, 0, 0x1041);
	t.pci.cfg_refresh = tdev_refresh;
	CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);

	/* IDs, class, header type are read-only. */
	cfg_wr(0, 0x00, 0, 4);
	cfg_wr(0, 0x08, 0, 4);
	cfg_wr(0, 0x0e, 0xff, 1);
	cfg_wr(0, 0x2c, 0, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x00, 4), 0x10411af4);
	CHECK_EQ_U64(cfg_rd(0, 0x08, 4), 0x01800002);
	CHECK_EQ_U64(cfg_rd(0, 0x0e, 1), 0);
	CHECK_EQ_U64(cfg_rd(0, 0x2c, 2), 0x1234);
	/* The hook ran after every write, with the access's offset and length. */
	CHECK_EQ_U64(t.written, 4);
	CHECK_EQ_U64(t.written_off, 0x2c);
	CHECK_EQ_U64(t.written_len, 2);
	/* ...and the refresh hook before every read (it changes the subsystem ID byte). */
	t.refreshed = 0;
	CHECK_EQ_U64(cfg_rd(0, 0x2c, 4) >> 16, 0x5601);
	CHECK_EQ_U64(cfg_rd(0, 0x2c, 4) >> 16, 0x5602);
	CHECK_EQ_U64(t.refreshed, 2);

	/* Command: memory, master, parity, SERR, INTx disable; no I/O (no I/O BAR). */
	cfg_wr(0, 0x04, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x04, 2), 0x0546);
	cfg_wr(0, 0x04, 0, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x04, 2), 0);
	/* Byte writes reach the upper half of command only. */
	cfg_wr(0, 0x05, 0xff, 1);
	CHECK_EQ_U64(cfg_rd(0, 0x04, 2), 0x0500);
	cfg_wr(0, 0x04, 0, 2);

	/* Status: the guest cannot set anything, RW1C bits clear on 1 only. */
	cfg_wr(0, 0x06, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x06, 2), 0);
	t.pci.cfg[0x07] = 0x20 | 0x80; /* received master abort, detected parity error */
	cfg_wr(0, 0x06, 0x2000, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x06, 2), 0x8000);
	cfg_wr(0, 0x06, 0x0000, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x06, 2), 0x8000);
	cfg_wr(0, 0x04, 0x80000000, 4); /* dword write: command 0, clears bit 15 */
	CHECK_EQ_U64(cfg_rd(0, 0x06, 2), 0);
	/* A device that marks RW1C bits writable still cannot have them set. */
	t.pci.wmask[0x07] = 0xff;
	cfg_wr(0, 0x06, 0xf900, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x06, 2) & 0xf900, 0);
	t.pci.wmask[0x07] = 0;

	/* Cache line size and interrupt line are scratch; pin, ROM, cap pointer are not. */
	cfg_wr(0, 0x0c, 0x10, 1);
	CHECK_EQ_U64(cfg_rd(0, 0x0c, 1), 0x10);
	cfg_wr(0, 0x3c, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x3c, 2), 0x00ff);
	cfg_wr(0, 0x30, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x30, 4), 0); /* no expansion ROM */
	cfg_wr(0, 0x34, 0xff, 1);
	CHECK_EQ_U64(cfg_rd(0, 0x34, 1), 0);
	/* Nothing in the extended space is writable by default. */
	cfg_wr(0, 0x100, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x100, 4), 0);
	teardown();
}

static void test_bar_sizing(void)
{
	static struct tdev t, big;

	setup();
	tdev_init(&t, 0, 1);
	CHECK_EQ_U64(tdev_bar(&t, 0, 0, 16 * SZ_4K, 0), 0);
	CHECK_EQ_U64(tdev_bar(&t, 0, 1, 256, PCI_BAR_IO), 0);
	CHECK_EQ_U64(tdev_bar(&t, 0, 2, SZ_1M, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(tdev_bar(&t, 0, 4, SZ_64K, PCI_BAR_MEM64), 0);
	/* Bad declarations. */
	CHECK_ERR(tdev_bar(&t, 0, 3, SZ_4K, 0), -EINVAL); /* upper half of BAR 2 */
	CHECK_ERR(tdev_bar(&t, 0, 5, SZ_4K, 0), -EINVAL); /* upper half of BAR 4 */
	CHECK_ERR(tdev_bar(&t, 0, 0, SZ_4K, 0), -EINVAL); /* taken */
	CHECK_ERR(pci_dev_add_bar(&big.pci, 6, SZ_4K, 0, NULL, NULL), -EINVAL);
	CHECK_ERR(pci_dev_add_bar(&big.pci, -1, SZ_4K, 0, NULL, NULL), -EINVAL);
	tdev_init(&big, 1, 2);
	CHECK_ERR(tdev_bar(&big, 1, 0, 3 * SZ_4K, 0), -EINVAL); /* not a power of two */
	CHECK_ERR(tdev_bar(&big, 1, 0, 0, 0), -EINVAL);
	CHECK_ERR(tdev_bar(&big, 1, 0, 2048, 0), -EINVAL);	 /* memory BARs >= 4 KiB */
	CHECK_ERR(tdev_bar(&big, 1, 0, 2, PCI_BAR_IO), -EINVAL); /* I/O BARs >= 4 bytes */
	CHECK_ERR(tdev_bar(&big, 1, 0, 256, PCI_BAR_IO | PCI_BAR_MEM64), -EINVAL);
	CHECK_ERR(tdev_bar(&big, 1, 5, SZ_4K, PCI_BAR_MEM64), -EINVAL); /* no room for upper half */
	CHECK_ERR(tdev_bar(&big, 1, 0, 4 * SZ_1G, 0), -EINVAL);		/* too big for 32 bits */
	CHECK_ERR(tdev_bar(&big, 1, 0, SZ_4K, 0x80), -EINVAL);		/* unknown flag */
	CHECK_EQ_U64(tdev_bar(&big, 1, 0, SZ_4K, 0), 0);
	CHECK_ERR(tdev_bar(&big, 1, 1, SZ_4K, PCI_BAR_MEM64), 0);
	CHECK_ERR(tdev_bar(&big, 1, 2, SZ_4K, 0), -EINVAL); /* BAR 1's upper half */
	tdev_init(&big, 1, 2); /* start over with one huge 64-bit BAR at 0 */
	CHECK_EQ_U64(tdev_bar(&big, 1, 0, 8 * SZ_1G, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);

	CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &big.pci), 0);
	CHECK_ERR(tdev_bar(&t, 0, 5, SZ_4K, 0), -EINVAL); /* already on the bridge */
	CHECK_ERR(pci_bridge_add(&br, &t.pci), -EINVAL);  /* twice */

	/* I/O space enable became writable with the I/O BAR. */
	cfg_wr(0, 0x04, 0xffff, 2);
	CHECK_EQ_U64(cfg_rd(0, 0x04, 2), 0x0547);
	cfg_wr(0, 0x04, 0, 2);

	/* 32-bit memory BAR: size mask | type bits. */
	cfg_wr(0, 0x10, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x10, 4), 0xffff0000);
	/* I/O BAR: bit 0 set, 256 bytes. */
	cfg_wr(0, 0x14, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x14, 4), 0xffffff01);
	/* 64-bit prefetchable: type 10b, prefetch bit, size in both dwords. */
	cfg_wr(0, 0x18, 0xffffffff, 4);
	cfg_wr(0, 0x1c, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x18, 4), 0xfff0000c);
	CHECK_EQ_U64(cfg_rd(0, 0x1c, 4), 0xffffffff);
	/* 64-bit non-prefetchable. */
	cfg_wr(0, 0x20, 0xffffffff, 4);
	cfg_wr(0, 0x24, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x20, 4), 0xffff0004);
	CHECK_EQ_U64(cfg_rd(0, 0x24, 4), 0xffffffff);
	/* The unused BAR stays 0. */
	cfg_wr(1, 0x24, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(1, 0x24, 4), 0);
	/* 8 GiB: no address bits in the low dword. */
	cfg_wr(1, 0x10, 0xffffffff, 4);
	cfg_wr(1, 0x14, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(1, 0x10, 4), 0x0000000c);
	CHECK_EQ_U64(cfg_rd(1, 0x14, 4), 0xfffffffe);
	/* Byte-wise sizing works too. */
	cfg_wr(0, 0x10, 0, 4);
	for (u32 i = 0; i < 4; i++)
		cfg_wr(0, 0x10 + i, 0xff, 1);
	CHECK_EQ_U64(cfg_rd(0, 0x10, 4), 0xffff0000);
	/* Sizing moved the BAR addresses out of the windows: nothing decodes. */
	CHECK_EQ_U64(t.pci.bars[0].addr, 0xffff0000);
	CHECK_EQ_U64(t.pci.bars[2].addr, 0xfffffffffff00000ULL);
	cfg_wr(0, 0x04, 0x0002, 2);
	CHECK_EQ_U64(mem_rd(M32, 4), 0xffffffff);
	CHECK_EQ_U64(t.calls, 0);
	teardown();
}

static void test_alloc(void)
{
	static struct tdev t[4];
	struct pci_bridge_config c = bridge0_cfg();
	static struct pci_dev many[PCI_MAX_SLOTS + 1];
	u64 used32;

	setup();
	tdev_init(&t[0], 0, 1);
	CHECK_EQ_U64(tdev_bar(&t[0], 0, 0, SZ_4K, 0), 0);
	CHECK_EQ_U64(tdev_bar(&t[0], 0, 1, SZ_1M, 0), 0);
	CHECK_EQ_U64(tdev_bar(&t[0], 0, 2, 2 * SZ_1G, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(tdev_bar(&t[0], 0, 4, SZ_64K, PCI_BAR_MEM64), 0);
	tdev_init(&t[1], 1, 2);
	CHECK_EQ_U64(tdev_bar(&t[1], 1, 0, 32 * SZ_4K, PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(tdev_bar(&t[1], 1, 1, SZ_4K, 0), 0);
	CHECK_EQ_U64(tdev_bar(&t[1], 1, 2, SZ_4K, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &t[0].pci), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &t[1].pci), 0);
	CHECK_EQ_U64(t[1].pci.devfn, 1 << 3);
	for (int d = 0; d < 2; d++) {
		for (int i = 0; i < 6; i++) {
			const struct pci_bar *bar = &t[d].pci.bars[i];
			bool in64;

			if (!bar->size)
				continue;
			CHECK_EQ_U64(bar->addr & (bar->size - 1), 0);
			in64 = (bar->flags & PCI_BAR_MEM64) && (bar->flags & PCI_BAR_PREFETCH);
			if (in64)
				CHECK(bar->addr >= M64 && bar->addr + bar->size <= M64 + M64_SZ);
			else
				CHECK(bar->addr >= M32 && bar->addr + bar->size <= M32 + M32_SZ);
			/* The register shows the same address (plus flag bits). */
			CHECK_EQ_U64(cfg_rd(d, 0x10 + 4 * i, 4) & ~0xfU, (u32)bar->addr);
			if (bar->flags & PCI_BAR_MEM64)
				CHECK_EQ_U64(cfg_rd(d, 0x14 + 4 * i, 4), bar->addr >> 32);
			/* No overlap with any other BAR. */
			for (int e = 0; e < 2; e++) {
				for (int j = 0; j < 6; j++) {
					const struct pci_bar *o = &t[e].pci.bars[j];

					if (o == bar || !o->size)
						continue;
					CHECK(o->addr + o->size <= bar->addr ||
					      bar->addr + bar->size <= o->addr);
				}
			}
		}
	}
	CHECK_EQ_U64(cfg_rd(0, 0x18, 4) & 0xf, 0xc);
	CHECK_EQ_U64(cfg_rd(1, 0x10, 4) & 0xf, 0x8);
	teardown();

	/* A small 32-bit window: 1 MiB holds two 512 KiB BARs, not three. */
	vm_setup();
	c.mmio32_size = SZ_1M;
	CHECK_EQ_U64(pci_bridge_init(&br, &vm, &c), 0);
	for (int i = 0; i < 3; i++) {
		tdev_init(&t[i], i, 1);
		CHECK_EQ_U64(tdev_bar(&t[i], i, 0, SZ_1M / 2, 0), 0);
	}
	CHECK_EQ_U64(pci_bridge_add(&br, &t[0].pci), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &t[1].pci), 0);
	used32 = br.next32;
	CHECK_ERR(pci_bridge_add(&br, &t[2].pci), -ENOSPC);
	CHECK(t[2].pci.bridge == NULL);
	CHECK(br.slots[2] == NULL);
	CHECK_EQ_U64(br.next32, used32); /* nothing leaked */
	/* A 64-bit prefetchable BAR still fits, in the 64-bit window. */
	tdev_init(&t[3], 3, 1);
	CHECK_EQ_U64(tdev_bar(&t[3], 3, 0, SZ_1G, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &t[3].pci), 0);
	CHECK_EQ_U64(t[3].pci.devfn, 2 << 3); /* the failed add left slot 2 free */
	CHECK_EQ_U64(t[3].pci.bars[0].addr, M64);
	/* A device with a prefetchable 64-bit and a 32-bit BAR fails as a whole. */
	tdev_init(&t[2], 2, 1);
	CHECK_EQ_U64(tdev_bar(&t[2], 2, 0, SZ_1G, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(tdev_bar(&t[2], 2, 2, SZ_4K, 0), 0);
	used32 = br.next64;
	CHECK_ERR(pci_bridge_add(&br, &t[2].pci), -ENOSPC);
	CHECK_EQ_U64(br.next64, used32);
	teardown();

	/* 32 slots; the 33rd function has nowhere to go. */
	setup();
	for (int i = 0; i <= PCI_MAX_SLOTS; i++) {
		pci_dev_init(&many[i], "many", 0x1af4, (u16)i, 0, 0, 0, 0);
		CHECK_ERR(pci_bridge_add(&br, &many[i]), i < PCI_MAX_SLOTS ? 0 : -ENOSPC);
	}
	CHECK_EQ_U64(cfg_rd(31, 0x02, 2), 31);
	CHECK_EQ_U64(many[31].devfn, 31 << 3);
	teardown();
}

static void test_relocation(void)
{
	static struct tdev t;
	u64 a0, a2;

	setup();
	tdev_init(&t, 0, 1);
	CHECK_EQ_U64(tdev_bar(&t, 0, 0, SZ_64K, 0), 0);
	CHECK_EQ_U64(tdev_bar(&t, 0, 2, SZ_1M, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);
	a0 = t.pci.bars[0].addr;
	a2 = t.pci.bars[2].addr;

	/* Decoding is off at reset. */
	CHECK_EQ_U64(mem_rd(a0 + 0x10, 4), 0xffffffff);
	mem_wr(a0 + 0x10, 1, 4);
	CHECK_EQ_U64(t.calls, 0);
	cfg_wr(0, 0x04, 0x0002, 2);

	CHECK_EQ_U64(mem_rd(a0 + 0x10, 4), 0x10);
	CHECK_EQ_U64(t.last_len, 4);
	CHECK_EQ_U64(t.last_bar, 0);
	CHECK_EQ_U64(mem_rd(a2 + 0x88, 8), 0x88 | 2ULL << 56);
	CHECK_EQ_U64(t.last_bar, 2);
	mem_wr(a2 + 0xfff8, 0x1122334455667788ULL, 8);
	CHECK(t.last_write);
	CHECK_EQ_U64(t.last_off, 0xfff8);
	CHECK_EQ_U64(t.last_val, 0x1122334455667788ULL);
	CHECK_EQ_U64(mem_rd(a0 + SZ_64K - 1, 1), 0xff); /* last byte: offset 0xffff */
	CHECK_EQ_U64(t.last_off, 0xffff);

	/* The guest moves BAR 0 up by 16 MiB: the old place is empty. */
	cfg_wr(0, 0x10, (u32)(a0 + 16 * SZ_1M), 4);
	CHECK_EQ_U64(t.pci.bars[0].addr, a0 + 16 * SZ_1M);
	t.calls = 0;
	CHECK_EQ_U64(mem_rd(a0 + 0x10, 4), 0xffffffff);
	CHECK_EQ_U64(t.calls, 0);
	CHECK_EQ_U64(mem_rd(a0 + 16 * SZ_1M + 0x20, 2), 0x20);
	CHECK_EQ_U64(t.calls, 1);

	/* And the 64-bit BAR to the top of the 64-bit window, dword by dword. */
	{
		u64 top = M64 + M64_SZ - SZ_1M;

		cfg_wr(0, 0x18, (u32)top, 4);
		cfg_wr(0, 0x1c, (u32)(top >> 32), 4);
		CHECK_EQ_U64(t.pci.bars[2].addr, top);
		CHECK_EQ_U64(mem_rd(top + 0x40, 4), 0x40);
		CHECK_EQ_U64(mem_rd(a2 + 0x40, 4), 0xffffffff);
		/* The BAR keeps its flag bits whatever the guest writes. */
		CHECK_EQ_U64(cfg_rd(0, 0x18, 4) & 0xf, 0xc);
	}

	/* A 64-bit BAR may also be placed in the 32-bit window. */
	cfg_wr(0, 0x18, (u32)(M32 + 128 * SZ_1M), 4);
	cfg_wr(0, 0x1c, 0, 4);
	CHECK_EQ_U64(mem_rd(M32 + 128 * SZ_1M + 8, 4), 8);
	CHECK_EQ_U64(t.last_bar, 2);

	/* Memory decoding off: nothing reaches the device. */
	cfg_wr(0, 0x04, 0x0000, 2);
	t.calls = 0;
	CHECK_EQ_U64(mem_rd(a0 + 16 * SZ_1M + 0x20, 4), 0xffffffff);
	mem_wr(a0 + 16 * SZ_1M + 0x20, 5, 4);
	CHECK_EQ_U64(t.calls, 0);
	CHECK_EQ_U64(t.bad, 0);
	teardown();
}

static void test_hostile_bars(void)
{
	static struct tdev a, b;
	u64 aa, ba;

	setup();
	tdev_init(&a, 0, 1);
	tdev_init(&b, 1, 2);
	CHECK_EQ_U64(tdev_bar(&a, 0, 0, SZ_64K, 0), 0);
	CHECK_EQ_U64(tdev_bar(&b, 1, 0, SZ_64K, 0), 0);
	CHECK_EQ_U64(tdev_bar(&b, 1, 1, SZ_4K, PCI_BAR_IO), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &a.pci), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &b.pci), 0);
	aa = a.pci.bars[0].addr;
	ba = b.pci.bars[0].addr;
	cfg_wr(0, 0x04, 0x0002, 2);
	cfg_wr(1, 0x04, 0x0003, 2);
	CHECK_EQ_U64(mem_rd(aa + 4, 4), 4);
	CHECK_EQ_U64(mem_rd(ba + 4, 4), 4);

	/* An access straddling the end of a BAR reaches no handler. */
	a.calls = b.calls = 0;
	CHECK_EQ_U64(mem_rd(aa + SZ_64K - 4, 8), ~0ULL);
	mem_wr(aa + SZ_64K - 2, 0, 4);
	CHECK_EQ_U64(a.calls + b.calls, 0);

	/* B moved onto A: both conflict, neither decodes. */
	cfg_wr(1, 0x10, (u32)aa, 4);
	CHECK_EQ_U64(mem_rd(aa + 4, 4), 0xffffffff);
	CHECK_EQ_U64(mem_rd(ba + 4, 4), 0xffffffff);
	CHECK_EQ_U64(a.calls + b.calls, 0);
	/* Moved back: both decode again. */
	cfg_wr(1, 0x10, (u32)ba, 4);
	CHECK_EQ_U64(mem_rd(aa + 4, 4), 4);
	CHECK_EQ_U64(mem_rd(ba + 4, 4), 4);
	/* B's decoding off: A may sit where B is programmed. */
	cfg_wr(1, 0x04, 0x0000, 2);
	a.calls = b.calls = 0;
	cfg_wr(0, 0x10, (u32)ba, 4);
	CHECK_EQ_U64(mem_rd(ba + 8, 4), 8);
	CHECK_EQ_U64(a.last_off, 8);
	CHECK_EQ_U64(b.calls, 0);
	cfg_wr(0, 0x10, (u32)aa, 4);
	cfg_wr(1, 0x04, 0x0002, 2);

	/* BARs outside every window decode nothing, wherever they point. */
	a.calls = 0;
	cfg_wr(0, 0x10, (u32)ARM_PCI_ECAM0_BASE, 4); /* onto the ECAM window */
	CHECK_EQ_U64(cfg_rd(0, 0x00, 2), 0x1af4);    /* config space unaffected */
	cfg_wr(0, 0x10, 0x00000000, 4);
	cfg_wr(0, 0x10, (u32)ARM_RAM_BASE, 4);
	cfg_wr(0, 0x10, (u32)(M32 + M32_SZ), 4); /* right after the window */
	cfg_wr(0, 0x10, 0xffff0000, 4);
	CHECK_EQ_U64(mem_rd(aa + 4, 4), 0xffffffff);
	/* A 32-bit BAR cannot reach the second bridge's window either: it is not ours. */
	cfg_wr(0, 0x10, (u32)ARM_PCI_MMIO32_1_BASE, 4);
	CHECK_EQ_U64(mem_rd(ARM_PCI_MMIO32_1_BASE, 4), 0); /* unclaimed bus address */
	CHECK_EQ_U64(a.calls, 0);
	/* A 64-bit BAR pointed at the end of the address space does not wrap. */
	{
		static struct tdev c;

		tdev_init(&c, 2, 3);
		CHECK_EQ_U64(tdev_bar(&c, 2, 0, SZ_1M, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
		CHECK_EQ_U64(pci_bridge_add(&br, &c.pci), 0);
		cfg_wr(2, 0x04, 0x0002, 2);
		cfg_wr(2, 0x10, 0xfff00000, 4);
		cfg_wr(2, 0x14, 0xffffffff, 4);
		CHECK_EQ_U64(c.pci.bars[0].addr, 0xfffffffffff00000ULL);
		CHECK_EQ_U64(mem_rd(M64, 4), 0xffffffff);
		CHECK_EQ_U64(mem_rd(M64 + M64_SZ - 8, 8), ~0ULL);
		CHECK_EQ_U64(c.calls, 0);
	}
	/* B still works throughout. I/O BARs are never decoded (no port I/O on arm64). */
	CHECK_EQ_U64(mem_rd(ba + 0x30, 4), 0x30);
	CHECK_EQ_U64(b.last_bar, 0);
	cfg_wr(1, 0x14, (u32)(M32 + 0x0f000000), 4);
	CHECK_EQ_U64(mem_rd(M32 + 0x0f000000, 4), 0xffffffff);
	CHECK_EQ_U64(b.last_bar, 0);
	CHECK_EQ_U64(a.bad + b.bad, 0);
	teardown();
}

struct race {
	struct tdev *t;
	u64 base;
	bool stop; /* atomic */
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	unsigned n = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		for (u64 off = 0; off < 2 * SZ_64K; off += 0x3ffc)
			(void)mem_rd(r->base + off, (n++ & 1) ? 8 : 4);
	}
	return NULL;
}

/* vCPUs access BARs while another one moves them and toggles decoding. */
static void test_concurrent_relocation(void)
{
	static struct tdev t;
	struct race r = { &t, 0, false };
	pthread_t th[3];
	u64 a;

	setup();
	tdev_init(&t, 0, 1);
	CHECK_EQ_U64(tdev_bar(&t, 0, 0, SZ_64K, 0), 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);
	a = t.pci.bars[0].addr;
	r.base = a;
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, race_reader, &r);
	/* Until the readers got through often enough (bounded, in case they never do). */
	for (int i = 0;
	     i < 5000000 && (i < 20000 || __atomic_load_n(&t.calls, __ATOMIC_RELAXED) < 2000);
	     i++) {
		u32 bar = (u32)(a + (i & 1 ? SZ_64K : 0));
		u16 cmd = i & 2 ? 0x0002 : 0;

		mmio_bus_access(&vm.mmio, ecam_addr(ECAM, 0, 0, 0, 0x10), (u8 *)&bar, 4, true);
		mmio_bus_access(&vm.mmio, ecam_addr(ECAM, 0, 0, 0, 0x04), (u8 *)&cmd, 2, true);
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK(t.calls > 0);
	CHECK_EQ_U64(t.bad, 0);
	teardown();
}

static void test_caps(void)
{
	static struct tdev t;
	u32 ptr, ids[8], offs[8], n = 0;

	setup();
	tdev_init(&t, 0, 1);
	CHECK_EQ_U64(pci_dev_add_cap(&t.pci, 0x09, 5), 0x40);
	CHECK_EQ_U64(pci_dev_add_cap(&t.pci, 0x05, 16), 0x48); /* 4-byte aligned */
	CHECK_EQ_U64(pci_dev_add_cap(&t.pci, 0x11, 12), 0x58);
	CHECK_ERR(pci_dev_add_cap(&t.pci, 0x09, 1), -EINVAL);
	CHECK_ERR(pci_dev_add_cap(&t.pci, 0x09, 0xa5), -ENOSPC); /* 0x64 + 0xa5 > 0x100 */
	CHECK_EQ_U64(pci_dev_add_cap(&t.pci, 0x09, 0x9c), 0x64); /* exactly up to 0x100 */
	CHECK_ERR(pci_dev_add_cap(&t.pci, 0x09, 2), -ENOSPC);
	t.pci.cfg[0x41 + 1] = 0xaa; /* a device fills its capability body */
	t.pci.wmask[0x4c] = 0xff;   /* ...and makes a register writable */
	CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);

	CHECK(cfg_rd(0, 0x06, 2) & 0x10);
	CHECK_EQ_U64(cfg_rd(0, 0x34, 1), 0x40);
	for (ptr = cfg_rd(0, 0x34, 1); ptr && n < 8; ptr = cfg_rd(0, ptr + 1, 1)) {
		offs[n] = ptr;
		ids[n++] = cfg_rd(0, ptr, 1);
	}
	CHECK_EQ_U64(n, 4);
	CHECK_EQ_U64(offs[0], 0x40);
	CHECK_EQ_U64(ids[0], 0x09);
	CHECK_EQ_U64(offs[1], 0x48);
	CHECK_EQ_U64(ids[1], 0x05);
	CHECK_EQ_U64(offs[2], 0x58);
	CHECK_EQ_U64(ids[2], 0x11);
	CHECK_EQ_U64(offs[3], 0x64);
	CHECK_EQ_U64(cfg_rd(0, 0x42, 1), 0xaa);
	/* Cap IDs and next pointers are read-only; device-chosen bits are writable. */
	cfg_wr(0, 0x48, 0xffffffff, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x48, 2), 0x5805);
	cfg_wr(0, 0x4c, 0x12345678, 4);
	CHECK_EQ_U64(cfg_rd(0, 0x4c, 4), 0x78);
	teardown();
}

static void test_intx(void)
{
	static struct pci_dev d[8], quiet;
	u32 base = ARM_PCI_INTX_SPI;

	setup();
	for (int i = 0; i < 8; i++) {
		pci_dev_init(&d[i], "intx", 0x1af4, (u16)i, 0, 0, 0, 0);
		pci_dev_use_intx(&d[i]);
		CHECK_EQ_U64(pci_bridge_add(&br, &d[i]), 0);
		/* INTA of slot s: SPI base + s % 4; MSIs: devid base + devfn. */
		CHECK_EQ_U64(d[i].intx_spi, base + i % 4);
		CHECK_EQ_U64(d[i].msi_devid, (u32)i << 3);
		CHECK_EQ_U64(cfg_rd(i, 0x3d, 1), 1);
		CHECK_EQ_U64(cfg_rd(i, 0x3c, 1), base + i % 4 + 32);
	}
	pci_dev_init(&quiet, "quiet", 0x1af4, 8, 0, 0, 0, 0);
	CHECK_EQ_U64(pci_bridge_add(&br, &quiet), 0);
	CHECK_EQ_U64(cfg_rd(8, 0x3d, 1), 0);
	pci_intx_set(&quiet, true); /* no pin: ignored */
	CHECK_EQ_U64(br.intx_asserted, 0);
	CHECK_EQ_U64(cfg_rd(8, 0x06, 2), 0);

	/* Slots 0 and 4 share SPI base + 0: the line is their OR. */
	pci_intx_set(&d[0], true);
	CHECK_EQ_U64(br.intx_count[0], 1);
	CHECK(cfg_rd(0, 0x06, 2) & 0x08); /* Interrupt Status */
	CHECK(!(cfg_rd(4, 0x06, 2) & 0x08));
	pci_intx_set(&d[0], true); /* level, not edge: no double count */
	CHECK_EQ_U64(br.intx_count[0], 1);
	pci_intx_set(&d[4], true);
	CHECK_EQ_U64(br.intx_count[0], 2);
	pci_intx_set(&d[1], true);
	CHECK_EQ_U64(br.intx_count[1], 1);
	CHECK_EQ_U64(br.intx_asserted, 0x13);
	pci_intx_set(&d[0], false);
	CHECK_EQ_U64(br.intx_count[0], 1); /* still high: slot 4 holds it */
	pci_intx_set(&d[4], false);
	CHECK_EQ_U64(br.intx_count[0], 0);
	pci_intx_set(&d[4], false);
	CHECK_EQ_U64(br.intx_count[0], 0);
	CHECK(!(cfg_rd(4, 0x06, 2) & 0x08));

	/* Command.Interrupt Disable masks the pin; Interrupt Status still shows it. */
	cfg_wr(1, 0x04, 0x0400, 2);
	CHECK_EQ_U64(br.intx_count[1], 0);
	CHECK(cfg_rd(1, 0x06, 2) & 0x08);
	pci_intx_set(&d[5], true);
	cfg_wr(5, 0x04, 0x0400, 2);
	CHECK_EQ_U64(br.intx_count[1], 0);
	cfg_wr(1, 0x04, 0x0000, 2);
	CHECK_EQ_U64(br.intx_count[1], 1);
	pci_intx_set(&d[1], false);
	CHECK_EQ_U64(br.intx_count[1], 0);
	pci_intx_set(&d[5], false);
	cfg_wr(5, 0x04, 0x0000, 2);
	CHECK_EQ_U64(br.intx_count[1], 0);
	/* Guest writes to Status cannot set or clear Interrupt Status. */
	pci_intx_set(&d[2], true);
	cfg_wr(2, 0x06, 0xffff, 2);
	CHECK(cfg_rd(2, 0x06, 2) & 0x08);
	cfg_wr(2, 0x04, 0xffff0000, 4);
	CHECK_EQ_U64(br.intx_count[2], 1);
	pci_intx_set(&d[2], false);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_U64(br.intx_count[i], 0);
	CHECK_EQ_U64(br.intx_asserted, 0);

	/* A pin chosen after the function is on the bridge is routed too. */
	{
		static struct pci_dev late;

		pci_dev_init(&late, "late", 0x1af4, 9, 0, 0, 0, 0);
		CHECK_EQ_U64(pci_bridge_add(&br, &late), 0);
		pci_dev_use_intx(&late);
		CHECK_EQ_U64(late.intx_spi, base + 9 % 4);
	}
	teardown();

	/* The second bridge: its own SPIs and device IDs. */
	{
		struct pci_bridge_config c = bridge1_cfg();
		static struct pci_dev e;

		vm_setup();
		CHECK_EQ_U64(pci_bridge_init(&br, &vm, &c), 0);
		pci_dev_init(&e, "e", 0x1b36, 0x10, 0, 0, 0, 0);
		pci_dev_use_intx(&e);
		CHECK_EQ_U64(pci_bridge_add(&br, &e), 0);
		CHECK_EQ_U64(e.intx_spi, ARM_PCI_INTX_SPI + 4);
		CHECK_EQ_U64(e.msi_devid, 0x1000);
		CHECK_EQ_U64(cfg_rd_at(ARM_PCI_ECAM1_BASE, 0, 0, 0, 0, 4), 0x00101b36);
		teardown();
	}
}

struct intx_race {
	struct pci_dev *d;
	int n;
};

static void *intx_toggler(void *arg)
{
	struct intx_race *r = arg;

	for (int i = 0; i < 20000; i++)
		pci_intx_set(&r->d[i % r->n], i & 1);
	for (int i = 0; i < r->n; i++)
		pci_intx_set(&r->d[i], false);
	return NULL;
}

/* Devices raise and lower INTx while the guest flips Interrupt Disable. */
static void test_intx_concurrent(void)
{
	static struct pci_dev d[8];
	struct intx_race r[2] = { { &d[0], 4 }, { &d[4], 4 } };
	pthread_t th[2];

	setup();
	for (int i = 0; i < 8; i++) {
		pci_dev_init(&d[i], "intx", 0x1af4, (u16)i, 0, 0, 0, 0);
		pci_dev_use_intx(&d[i]);
		CHECK_EQ_U64(pci_bridge_add(&br, &d[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, intx_toggler, &r[i]);
	for (int i = 0; i < 20000; i++) {
		u16 cmd = i & 1 ? 0x0400 : 0;

		mmio_bus_access(&vm.mmio, ecam_addr(ECAM, 0, (u32)i % 8, 0, 0x04), (u8 *)&cmd, 2,
				true);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 8; i++)
		cfg_wr((u32)i, 0x04, 0, 2);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_U64(br.intx_count[i], 0);
	CHECK_EQ_U64(br.intx_asserted, 0);
	/* And the counters still work afterwards. */
	pci_intx_set(&d[3], true);
	pci_intx_set(&d[7], true);
	CHECK_EQ_U64(br.intx_count[3], 2);
	CHECK_EQ_U64(br.intx_asserted, 0x88);
	teardown();
}

static void test_bridge_init_errors(void)
{
	struct pci_bridge_config c;

	vm_setup();
	c = bridge0_cfg();
	c.ecam_size = 0;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.ecam_size = SZ_1M + SZ_4K;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c.ecam_size = 512 * SZ_1M;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.ecam_base += SZ_4K;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.mmio32_base = 0xf0000000;
	c.mmio32_size = SZ_1G;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.mmio32_size = 0;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.mmio64_base = ~0ULL - SZ_1M;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.mmio32_base = c.ecam_base + SZ_1M;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.mmio64_base = c.mmio32_base;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.msi_devid_base = 0x10000 - 0x800; /* 16 buses need 0x1000 IDs */
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	c = bridge0_cfg();
	c.intx_spi_base = ARM_GIC_NR_IRQS - 32 - 3;
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EINVAL);
	CHECK_EQ_U64(vm.mmio.nr, 0);
	pci_bridge_destroy(&br); /* harmless after a failed init */

	/* Windows already taken on the bus: -EBUSY. */
	c = bridge0_cfg();
	CHECK_EQ_U64(mmio_bus_register(&vm.mmio, c.ecam_base, SZ_4K, NULL, NULL, "other"), 0);
	CHECK_ERR(pci_bridge_init(&br, &vm, &c), -EBUSY);
	mmio_bus_free(&vm.mmio);

	/* No 64-bit window: prefetchable 64-bit BARs go to the 32-bit one. */
	{
		static struct tdev t;

		vm_setup();
		c = bridge0_cfg();
		c.mmio64_size = 0;
		CHECK_EQ_U64(pci_bridge_init(&br, &vm, &c), 0);
		CHECK_EQ_U64(vm.mmio.nr, 2);
		tdev_init(&t, 0, 1);
		CHECK_EQ_U64(tdev_bar(&t, 0, 0, SZ_1M, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
		CHECK_EQ_U64(pci_bridge_add(&br, &t.pci), 0);
		CHECK_EQ_U64(t.pci.bars[0].addr, M32);
		teardown();
	}
}

/* ---- device tree ---- */

struct dt_ctx {
	struct pci_bridge *b[2];
	u32 gic_addr_cells;
	u32 its;
};

static int add_bridges(void *fdt, u32 gic_phandle, void *opaque)
{
	struct dt_ctx *c = opaque;

	for (int i = 0; i < 2; i++) {
		int r = pci_bridge_fdt(c->b[i], fdt, gic_phandle, c->gic_addr_cells, c->its);

		if (r)
			return r;
	}
	return 0;
}

static bool dtc_available(void)
{
	static int avail = -1;

	if (avail < 0) {
		avail = system("dtc --version >/dev/null 2>&1") == 0;
		if (!avail)
			printf("note: dtc not found, skipping the dtc checks\n");
	}
	return avail;
}

/* dtc -I dtb -O dts must accept the blob with exit 0 and not one warning. */
static void check_dtc(const void *fdt, int size)
{
	char dtb[] = "/tmp/coho-test-pci-XXXXXX", err[64], cmd[256], out[1024];
	int fd, rc;
	FILE *f;
	size_t n;

	if (!dtc_available())
		return;
	fd = mkstemp(dtb);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, fdt, (size_t)size) == size);
	close(fd);
	snprintf(err, sizeof(err), "%s.err", dtb);
	snprintf(cmd, sizeof(cmd), "dtc -I dtb -O dts -o /dev/null %s 2>%s", dtb, err);
	rc = system(cmd);
	CHECK(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	f = fopen(err, "r");
	CHECK(f != NULL);
	if (f) {
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		CHECK_EQ_U64(n, 0);
		if (n)
			fprintf(stderr, "dtc said:\n%s", out);
		fclose(f);
	}
	unlink(err);
	unlink(dtb);
}

static const fdt32_t *getprop(const void *fdt, int node, const char *name, int *len)
{
	return fdt_getprop(fdt, node, name, len);
}

static u64 cell64(const fdt32_t *v, int i)
{
	return (u64)fdt32_ld(&v[i]) << 32 | fdt32_ld(&v[i + 1]);
}

static void check_bridge_node(const void *fdt, const struct pci_bridge_config *c,
			      u32 gic_addr_cells, u32 its)
{
	char path[64];
	int node, len;
	const fdt32_t *v;
	u32 entry = 8 + gic_addr_cells;

	snprintf(path, sizeof(path), "/pci@%" PRIx64, c->ecam_base);
	node = fdt_path_offset(fdt, path);
	CHECK(node >= 0);
	if (node < 0)
		return;
	CHECK_STR(fdt_getprop(fdt, node, "compatible", NULL), "pci-host-ecam-generic");
	CHECK_STR(fdt_getprop(fdt, node, "device_type", NULL), "pci");
	CHECK_EQ_U64(fdt_address_cells(fdt, node), 3);
	CHECK_EQ_U64(fdt_size_cells(fdt, node), 2);
	v = getprop(fdt, node, "#interrupt-cells", &len);
	CHECK(v && len == 4 && fdt32_ld(v) == 1);

	v = getprop(fdt, node, "reg", &len);
	CHECK(v && len == 16);
	if (v && len == 16) {
		CHECK_EQ_U64(cell64(v, 0), c->ecam_base);
		CHECK_EQ_U64(cell64(v, 2), c->ecam_size);
	}
	v = getprop(fdt, node, "bus-range", &len);
	CHECK(v && len == 8);
	if (v && len == 8) {
		CHECK_EQ_U64(fdt32_ld(&v[0]), 0);
		CHECK_EQ_U64(fdt32_ld(&v[1]), c->ecam_size / SZ_1M - 1);
	}
	v = getprop(fdt, node, "linux,pci-domain", &len);
	CHECK(v && len == 4 && fdt32_ld(v) == c->domain);

	v = getprop(fdt, node, "ranges", &len);
	CHECK(v && len == 2 * 7 * 4);
	if (v && len == 2 * 7 * 4) {
		CHECK_EQ_U64(fdt32_ld(&v[0]), 0x02000000);
		CHECK_EQ_U64(cell64(v, 1), c->mmio32_base);
		CHECK_EQ_U64(cell64(v, 3), c->mmio32_base);
		CHECK_EQ_U64(cell64(v, 5), c->mmio32_size);
		CHECK_EQ_U64(fdt32_ld(&v[7]), 0x43000000);
		CHECK_EQ_U64(cell64(v, 8), c->mmio64_base);
		CHECK_EQ_U64(cell64(v, 10), c->mmio64_base);
		CHECK_EQ_U64(cell64(v, 12), c->mmio64_size);
	}
	CHECK_EQ_U64(fdt_getprop(fdt, node, "dma-coherent", &len) != NULL, c->dma_coherent);

	v = getprop(fdt, node, "msi-map", &len);
	if (its) {
		CHECK(v && len == 16);
		if (v && len == 16) {
			CHECK_EQ_U64(fdt32_ld(&v[0]), 0);
			CHECK_EQ_U64(fdt32_ld(&v[1]), its);
			CHECK_EQ_U64(fdt32_ld(&v[2]), c->msi_devid_base);
			CHECK_EQ_U64(fdt32_ld(&v[3]), (c->ecam_size / SZ_1M) << 8);
		}
	} else {
		CHECK(v == NULL);
	}

	v = getprop(fdt, node, "interrupt-map-mask", &len);
	CHECK(v && len == 16);
	if (v && len == 16) {
		CHECK_EQ_U64(fdt32_ld(&v[0]), 0xf800);
		CHECK_EQ_U64(fdt32_ld(&v[1]), 0);
		CHECK_EQ_U64(fdt32_ld(&v[2]), 0);
		CHECK_EQ_U64(fdt32_ld(&v[3]), 7);
	}
	v = getprop(fdt, node, "interrupt-map", &len);
	CHECK(v && len == (int)(32 * 4 * entry * 4));
	if (v && len == (int)(32 * 4 * entry * 4)) {
		unsigned bad = 0;

		for (u32 slot = 0; slot < 32; slot++) {
			for (u32 pin = 1; pin <= 4; pin++) {
				const fdt32_t *e = v + ((slot * 4 + pin - 1) * entry);
				const fdt32_t *irq = e + 5 + gic_addr_cells;

				bad += fdt32_ld(&e[0]) != slot << 11 || fdt32_ld(&e[1]) ||
				       fdt32_ld(&e[2]) || fdt32_ld(&e[3]) != pin ||
				       fdt32_ld(&e[4]) != FDT_PHANDLE_GIC;
				for (u32 i = 0; i < gic_addr_cells; i++)
					bad += fdt32_ld(&e[5 + i]) != 0;
				bad +=
				    fdt32_ld(&irq[0]) != FDT_GIC_SPI ||
				    fdt32_ld(&irq[1]) != c->intx_spi_base + (slot + pin - 1) % 4 ||
				    fdt32_ld(&irq[2]) != FDT_IRQ_TYPE_LEVEL_HIGH;
			}
		}
		CHECK_EQ_U64(bad, 0);
		/* Spot checks: slot 0 INTA -> SPI base, slot 1 INTA -> base + 1, slot 3 INTB ->
		 * base. */
		CHECK_EQ_U64(fdt32_ld(&v[5 + gic_addr_cells + 1]), c->intx_spi_base);
		CHECK_EQ_U64(fdt32_ld(&v[4 * entry + 5 + gic_addr_cells + 1]),
			     c->intx_spi_base + 1);
		CHECK_EQ_U64(fdt32_ld(&v[13 * entry + 5 + gic_addr_cells + 1]), c->intx_spi_base);
	}
}

static void dt_case(enum gic_version gic, bool its)
{
	static u64 mpidr[2] = { 1ULL << 31, 1ULL << 31 | 1 };
	static struct pci_bridge b0, b1;
	struct pci_bridge_config c0 = bridge0_cfg(), c1 = bridge1_cfg();
	struct dt_ctx ctx_dt = { { &b0, &b1 }, FDT_GIC_ADDR_CELLS(gic), its ? FDT_PHANDLE_ITS : 0 };
	struct fdt_params p = {
		.nr_cpus = 2,
		.mpidr = mpidr,
		.gic = gic,
		.its = its,
		.psci_version = PSCI_VER(1, 0),
		.ram_base = ARM_RAM_BASE,
		.ram_size = 256 * SZ_1M,
		.serial_stdout = true,
		.add_nodes = add_bridges,
		.opaque = &ctx_dt,
	};
	void *buf = calloc(1, ARM_DTB_MAX_SIZE);
	int size;

	vm_setup();
	CHECK_EQ_U64(pci_bridge_init(&b0, &vm, &c0), 0);
	CHECK_EQ_U64(pci_bridge_init(&b1, &vm, &c1), 0);
	size = fdt_build(&p, buf, ARM_DTB_MAX_SIZE);
	CHECK(size > 0);
	if (size > 0) {
		CHECK_EQ_U64(fdt_check_full(buf, (size_t)size), 0);
		check_bridge_node(buf, &c0, FDT_GIC_ADDR_CELLS(gic), ctx_dt.its);
		check_bridge_node(buf, &c1, FDT_GIC_ADDR_CELLS(gic), ctx_dt.its);
		/* The GIC we point at carries the parent address cells we emitted. */
		{
			int gic_node = fdt_node_offset_by_phandle(buf, FDT_PHANDLE_GIC), len;
			const fdt32_t *ac = getprop(buf, gic_node, "#address-cells", &len);

			CHECK(ac && len == 4);
			if (ac && len == 4)
				CHECK_EQ_U64(fdt32_ld(ac), FDT_GIC_ADDR_CELLS(gic));
		}
		check_dtc(buf, size);
	}
	free(buf);
	pci_bridge_destroy(&b0);
	pci_bridge_destroy(&b1);
	mmio_bus_free(&vm.mmio);
}

static void test_dt(void)
{
	dt_case(GIC_V3, true);
	dt_case(GIC_V3, false);
	dt_case(GIC_V2, false);
}

static void test_dt_errors(void)
{
	struct pci_bridge_config c = bridge0_cfg();
	u64 small[64];

	setup();
	/* A buffer too small for the interrupt-map: -ENOSPC, not a crash. */
	CHECK_EQ_U64(fdt_create(small, sizeof(small)), 0);
	CHECK_EQ_U64(fdt_finish_reservemap(small), 0);
	CHECK_EQ_U64(fdt_begin_node(small, ""), 0);
	CHECK_ERR(pci_bridge_fdt(&br, small, FDT_PHANDLE_GIC, 2, FDT_PHANDLE_ITS), -ENOSPC);
	CHECK_ERR(pci_bridge_fdt(&br, small, 0, 2, 0), -EINVAL);
	teardown();

	/* Without a 64-bit window, ranges has the 32-bit entry only. */
	{
		char *buf = calloc(1, 64 * 1024);
		int node, len;

		vm_setup();
		c.mmio64_size = 0;
		CHECK_EQ_U64(pci_bridge_init(&br, &vm, &c), 0);
		CHECK_EQ_U64(fdt_create(buf, 64 * 1024), 0);
		CHECK_EQ_U64(fdt_finish_reservemap(buf), 0);
		CHECK_EQ_U64(fdt_begin_node(buf, ""), 0);
		CHECK_EQ_U64(pci_bridge_fdt(&br, buf, FDT_PHANDLE_GIC, 0, 0), 0);
		CHECK_EQ_U64(fdt_end_node(buf), 0);
		CHECK_EQ_U64(fdt_finish(buf), 0);
		node = fdt_path_offset(buf, "/pci@10000000");
		CHECK(node >= 0);
		CHECK(fdt_getprop(buf, node, "ranges", &len) != NULL);
		CHECK_EQ_U64(len, 7 * 4);
		free(buf);
		teardown();
	}
}

TEST_MAIN(test_ecam_decode, test_wmask, test_bar_sizing, test_alloc, test_relocation,
	  test_hostile_bars, test_concurrent_relocation, test_caps, test_intx, test_intx_concurrent,
	  test_bridge_init_errors, test_dt, test_dt_errors)
