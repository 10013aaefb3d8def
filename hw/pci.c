// SPDX-License-Identifier: GPL-2.0
/*
 * A generic ECAM PCI host bridge ("pci-host-ecam-generic", the kernel's
 * Documentation/devicetree/bindings/pci/host-generic-pci.yaml) and the type 0
 * functions on its bus 0. Register layouts follow the PCI Local Bus
 * Specification 3.0 (section 6), ECAM the PCI Firmware Specification 3.0.
 *
 * Locking: b->lock protects config space, the slots and BAR placement.
 * Config writes (and reads of functions with a cfg_refresh hook) take it for
 * writing; accesses to the MMIO windows take it for reading while they look
 * up the BAR and run its handler, so a BAR never moves under a running
 * handler. INTx state has its own mutex (b->intx_lock, taken after b->lock)
 * so BAR handlers may change their interrupt level.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "arm64/arch.h"
#include "arm64/fdt.h"
#include "arm64/layout.h"
#include "hw/pci.h"
#include "util/log.h"
#include "vm.h"

/* Type 0 configuration space header (PCI 3.0, 6.1). */
enum {
	CFG_VENDOR_ID = 0x00,
	CFG_DEVICE_ID = 0x02,
	CFG_COMMAND = 0x04,
	CFG_STATUS = 0x06,
	CFG_REVISION = 0x08,
	CFG_CLASS = 0x09, /* 3 bytes: programming interface, subclass, base class */
	CFG_CACHE_LINE = 0x0c,
	CFG_HEADER_TYPE = 0x0e,
	CFG_BAR0 = 0x10,
	CFG_BARS_END = 0x28,
	CFG_SUBSYS_VENDOR = 0x2c,
	CFG_SUBSYS_ID = 0x2e,
	CFG_CAP_PTR = 0x34,
	CFG_INT_LINE = 0x3c,
	CFG_INT_PIN = 0x3d,
	CFG_CAP_FIRST = 0x40, /* capabilities live after the header... */
	CFG_STD_END = 0x100,  /* ...and before the extended space */
};

#define CMD_IO		 (1U << 0)
#define CMD_MEM		 (1U << 1)
#define CMD_MASTER	 (1U << 2)
#define CMD_PARITY	 (1U << 6)
#define CMD_SERR	 (1U << 8)
#define CMD_INTX_DISABLE (1U << 10)

#define STATUS_INTX	(1U << 3)
#define STATUS_CAP_LIST (1U << 4)
/* Error bits the guest clears by writing 1 (RW1C): 8, 11, 12, 13, 14, 15. */
#define STATUS_RW1C	0xf900U

#define BAR_IO_SPACE	0x1U
#define BAR_MEM_64	0x4U
#define BAR_MEM_PREF	0x8U
#define BAR_IO_ADDR	(~0x3U)
#define BAR_MEM_ADDR	(~0xfU)
#define BAR_MEM32_MAX	(1ULL << 31) /* bit 31 is the highest address bit of a 32-bit BAR */
#define BAR_IO_MAX	(1ULL << 31)
#define BAR_MEM_MIN	SZ_4K /* one page: BARs can then be mapped on their own */
#define BAR_IO_MIN	4ULL
#define ECAM_BUS_SHIFT	20
#define ECAM_BUS_MAX	256
/* KVM's vITS implements 16 device ID bits (arch/arm64/kvm/vgic/vgic-its.c: VITS_TYPER_DEVBITS). */
#define ITS_DEVID_LIMIT 0x10000ULL

static void put_le16(u8 *p, u16 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
}

static void put_le32(u8 *p, u32 v)
{
	put_le16(p, (u16)v);
	put_le16(p + 2, (u16)(v >> 16));
}

/*
 * Config bytes are read and stored one at a time with atomics: pci_intx_set()
 * flips Status.Interrupt Status under intx_lock only, concurrently with
 * config accesses that hold b->lock.
 */
static u8 cfg_load(const struct pci_dev *d, u32 off)
{
	return __atomic_load_n(&d->cfg[off], __ATOMIC_RELAXED);
}

static u16 cfg_load16(const struct pci_dev *d, u32 off)
{
	return (u16)(cfg_load(d, off) | cfg_load(d, off + 1) << 8);
}

/* [a, a + alen) and [b, b + blen) share a byte; lengths are small, no overflow. */
static bool overlaps(u32 a, u32 alen, u32 b, u32 blen)
{
	return a < b + blen && b < a + alen;
}

/* [addr, addr + size) lies inside [base, base + wsize). */
static bool range_inside(u64 addr, u64 size, u64 base, u64 wsize)
{
	return wsize && size <= wsize && addr >= base && addr - base <= wsize - size;
}

/* ---- functions ---------------------------------------------------------- */

void pci_dev_init(struct pci_dev *d, const char *name, u16 vendor, u16 device, u32 class_code,
		  u8 revision, u16 subsys_vendor, u16 subsys_id)
{
	void (*written)(struct pci_dev *, u32, u32) = d->cfg_written;
	void (*refresh)(struct pci_dev *, u32, u32) = d->cfg_refresh;
	void (*reset)(struct pci_dev *) = d->reset;
	void *opaque = d->opaque;

	memset(d, 0, sizeof(*d));
	d->cfg_written = written;
	d->cfg_refresh = refresh;
	d->reset = reset;
	d->opaque = opaque;
	d->name = name;

	put_le16(&d->cfg[CFG_VENDOR_ID], vendor);
	put_le16(&d->cfg[CFG_DEVICE_ID], device);
	d->cfg[CFG_REVISION] = revision;
	d->cfg[CFG_CLASS] = (u8)class_code;
	d->cfg[CFG_CLASS + 1] = (u8)(class_code >> 8);
	d->cfg[CFG_CLASS + 2] = (u8)(class_code >> 16);
	d->cfg[CFG_HEADER_TYPE] = 0; /* type 0, single function */
	put_le16(&d->cfg[CFG_SUBSYS_VENDOR], subsys_vendor);
	put_le16(&d->cfg[CFG_SUBSYS_ID], subsys_id);

	/* Command: I/O space enable only once an I/O BAR exists (pci_dev_add_bar). */
	put_le16(&d->wmask[CFG_COMMAND],
		 CMD_MEM | CMD_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE);
	d->wmask[CFG_CACHE_LINE] = 0xff;
	d->wmask[CFG_INT_LINE] = 0xff; /* scratch for the OS; the pin is read-only */
}

int pci_dev_add_bar(struct pci_dev *d, int bar, u64 size, u32 flags, mmio_fn fn, void *opaque)
{
	bool io = flags & PCI_BAR_IO, mem64 = flags & PCI_BAR_MEM64;
	u32 reg = CFG_BAR0 + 4 * (u32)bar, lo_flags, lo_mask;
	u64 mask = ~(size - 1);

	if (bar < 0 || bar >= (int)ARRAY_SIZE(d->bars) || d->bridge)
		return -EINVAL;
	if (flags & ~(PCI_BAR_MEM64 | PCI_BAR_PREFETCH | PCI_BAR_IO))
		return -EINVAL;
	if (!size || (size & (size - 1)))
		return -EINVAL;
	if (io) {
		if (flags & (PCI_BAR_MEM64 | PCI_BAR_PREFETCH) || size < BAR_IO_MIN ||
		    size > BAR_IO_MAX)
			return -EINVAL;
	} else if (size < BAR_MEM_MIN || (!mem64 && size > BAR_MEM32_MAX)) {
		return -EINVAL;
	}
	if (mem64 && bar + 1 >= (int)ARRAY_SIZE(d->bars))
		return -EINVAL;
	/* The slot (or the next, for a 64-bit BAR) is taken or a 64-bit BAR's upper half. */
	if (d->bars[bar].size || (mem64 && d->bars[bar + 1].size))
		return -EINVAL;
	if (bar > 0 && d->bars[bar - 1].size && (d->bars[bar - 1].flags & PCI_BAR_MEM64))
		return -EINVAL;

	d->bars[bar] = (struct pci_bar){ .size = size, .flags = flags, .fn = fn, .opaque = opaque };
	if (io) {
		lo_flags = BAR_IO_SPACE;
		lo_mask = (u32)mask & BAR_IO_ADDR;
		d->wmask[CFG_COMMAND] |= CMD_IO;
	} else {
		lo_flags = (mem64 ? BAR_MEM_64 : 0) | (flags & PCI_BAR_PREFETCH ? BAR_MEM_PREF : 0);
		lo_mask = (u32)mask & BAR_MEM_ADDR;
	}
	/* Sizing: the guest writes all-ones and reads back the address bits it may set. */
	put_le32(&d->cfg[reg], lo_flags);
	put_le32(&d->wmask[reg], lo_mask);
	if (mem64) {
		put_le32(&d->cfg[reg + 4], 0);
		put_le32(&d->wmask[reg + 4], (u32)(mask >> 32));
	}
	return 0;
}

int pci_dev_add_cap(struct pci_dev *d, u8 id, u8 len)
{
	u32 off = d->cap_end ? (d->cap_end + 3U) & ~3U : CFG_CAP_FIRST;
	u32 link = CFG_CAP_PTR;

	if (len < 2)
		return -EINVAL;
	if (off + len > CFG_STD_END)
		return -ENOSPC;
	/* Walk to the end of the list (bounded: at most 48 capabilities fit). */
	if (d->cfg[CFG_STATUS] & STATUS_CAP_LIST) {
		u32 next = d->cfg[CFG_CAP_PTR] & ~3U;

		for (int i = 0; i < 48 && next >= CFG_CAP_FIRST && next < CFG_STD_END; i++) {
			link = next + 1;
			next = d->cfg[next + 1] & ~3U;
		}
	}
	memset(&d->cfg[off], 0, len);
	memset(&d->wmask[off], 0, len);
	d->cfg[off] = id;
	d->cfg[link] = (u8)off;
	d->cfg[CFG_STATUS] |= STATUS_CAP_LIST;
	d->cap_end = (u16)(off + len);
	return (int)off;
}

/* Interrupt Line: informational on arm64; holds the GIC INTID (SPI + 32). */
static void intx_route(struct pci_dev *d)
{
	struct pci_bridge *b = d->bridge;
	u32 slot = d->devfn >> 3, pin = d->cfg[CFG_INT_PIN];

	if (!b || !pin)
		return;
	/* The conventional swizzle (PCI-to-PCI Bridge Architecture 1.2, 9.1). */
	d->intx_spi = b->cfg.intx_spi_base + (slot + pin - 1) % 4;
	d->cfg[CFG_INT_LINE] = (u8)(d->intx_spi + 32);
}

void pci_dev_use_intx(struct pci_dev *d)
{
	d->cfg[CFG_INT_PIN] = 1; /* INTA */
	intx_route(d);
}

/* Recompute the function's INTx contribution. Called with b->intx_lock held. */
static void intx_update_locked(struct pci_bridge *b, struct pci_dev *d)
{
	u32 bit = 1U << (d->devfn >> 3), idx = d->intx_spi - b->cfg.intx_spi_base;
	bool want = (cfg_load(d, CFG_STATUS) & STATUS_INTX) &&
		    !(cfg_load16(d, CFG_COMMAND) & CMD_INTX_DISABLE);
	bool have = b->intx_asserted & bit;
	int r = 0;

	if (d->intx_external)
		return;
	if (want == have || idx >= ARRAY_SIZE(b->intx_count))
		return;
	if (want) {
		b->intx_asserted |= bit;
		if (b->intx_count[idx]++ == 0)
			r = arch_irq_line(b->vm, d->intx_spi, true);
	} else {
		b->intx_asserted &= ~bit;
		if (--b->intx_count[idx] == 0)
			r = arch_irq_line(b->vm, d->intx_spi, false);
	}
	if (r)
		pr_debug("pci %s: INTx of %s on SPI %u: %s", b->cfg.name, d->name, d->intx_spi,
			 strerror(-r));
}

void pci_intx_set(struct pci_dev *d, bool level)
{
	struct pci_bridge *b = d->bridge;

	if (!b || !d->cfg[CFG_INT_PIN])
		return;
	pthread_mutex_lock(&b->intx_lock);
	if (level)
		__atomic_fetch_or(&d->cfg[CFG_STATUS], (u8)STATUS_INTX, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&d->cfg[CFG_STATUS], (u8)~STATUS_INTX, __ATOMIC_RELAXED);
	intx_update_locked(b, d);
	pthread_mutex_unlock(&b->intx_lock);
}

/* ---- config space ------------------------------------------------------- */

/* BAR addresses as the guest programmed them. Called with b->lock held for writing. */
static void bars_update(struct pci_dev *d)
{
	for (u32 i = 0; i < ARRAY_SIZE(d->bars); i++) {
		struct pci_bar *bar = &d->bars[i];
		u32 reg = CFG_BAR0 + 4 * i;
		u64 addr;

		if (!bar->size)
			continue;
		addr = get_le32(&d->cfg[reg]);
		addr &= bar->flags & PCI_BAR_IO ? BAR_IO_ADDR : BAR_MEM_ADDR;
		if (bar->flags & PCI_BAR_MEM64)
			addr |= (u64)get_le32(&d->cfg[reg + 4]) << 32;
		bar->addr = addr;
	}
}

/* A guest write of @len bytes at @reg, through wmask. Called with b->lock held for writing. */
static void cfg_write(struct pci_bridge *b, struct pci_dev *d, u32 reg, const u8 *data, u32 len)
{
	u16 old_cmd = cfg_load16(d, CFG_COMMAND);

	for (u32 i = 0; i < len; i++) {
		u32 off = reg + i;
		u8 w1c = 0, wm, cur, v = data[i];

		if (off == CFG_STATUS || off == CFG_STATUS + 1)
			w1c = (u8)(STATUS_RW1C >> (8 * (off - CFG_STATUS)));
		wm = d->wmask[off] & (u8)~w1c; /* RW1C bits can never be set by the guest */
		if (!wm && !(v & w1c))
			continue; /* unchanged: leave it (and pci_intx_set()'s Status bit) alone */
		cur = cfg_load(d, off);
		cur = (u8)((cur & ~wm) | (v & wm));
		cur = (u8)(cur & ~(v & w1c));
		__atomic_store_n(&d->cfg[off], cur, __ATOMIC_RELAXED);
	}
	if (overlaps(reg, len, CFG_BAR0, CFG_BARS_END - CFG_BAR0))
		bars_update(d);
	if (overlaps(reg, len, CFG_COMMAND, 2) &&
	    ((old_cmd ^ cfg_load16(d, CFG_COMMAND)) & CMD_INTX_DISABLE)) {
		pthread_mutex_lock(&b->intx_lock);
		intx_update_locked(b, d);
		pthread_mutex_unlock(&b->intx_lock);
	}
	if (d->cfg_written)
		d->cfg_written(d, reg, len);
}

/*
 * The ECAM window: offset = bus << 20 | device << 15 | function << 12 | register.
 * Only bus 0, function 0 has functions; everything else reads as all-ones
 * (a master abort), as do accesses that are not 1, 2 or 4 bytes naturally
 * aligned.
 */
static void ecam_mmio(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct pci_bridge *b = opaque;
	u32 bus = (u32)(offset >> ECAM_BUS_SHIFT), slot = (offset >> 15) & 0x1f;
	u32 fn = (offset >> 12) & 0x7, reg = offset & 0xfff;
	struct pci_dev *d;
	bool wr_locked;

	if ((len != 1 && len != 2 && len != 4) || (reg & (len - 1)) || bus || fn)
		goto absent;
	if (is_write) {
		pthread_rwlock_wrlock(&b->lock);
		d = b->slots[slot];
		if (d)
			cfg_write(b, d, reg, data, len);
		pthread_rwlock_unlock(&b->lock);
		return;
	}
	pthread_rwlock_rdlock(&b->lock);
	d = b->slots[slot];
	wr_locked = d && d->cfg_refresh;
	if (wr_locked) {
		/* The refresh hook writes d->cfg. Slots are never emptied while the VM runs. */
		pthread_rwlock_unlock(&b->lock);
		pthread_rwlock_wrlock(&b->lock);
		d->cfg_refresh(d, reg, len);
	}
	if (d) {
		for (u32 i = 0; i < len; i++)
			data[i] = cfg_load(d, reg + i);
	}
	pthread_rwlock_unlock(&b->lock);
	if (d)
		return;
absent:
	if (!is_write)
		memset(data, 0xff, len);
}

/* ---- BAR decoding --------------------------------------------------------- */

/* The BAR claims guest addresses: memory space, decoding enabled, no wrap-around. */
static bool bar_active(const struct pci_dev *d, const struct pci_bar *bar)
{
	return bar->size && !(bar->flags & PCI_BAR_IO) && (cfg_load16(d, CFG_COMMAND) & CMD_MEM) &&
	       bar->addr <= UINT64_MAX - (bar->size - 1);
}

static bool bar_in_windows(const struct pci_bridge *b, const struct pci_bar *bar)
{
	return range_inside(bar->addr, bar->size, b->cfg.mmio32_base, b->cfg.mmio32_size) ||
	       range_inside(bar->addr, bar->size, b->cfg.mmio64_base, b->cfg.mmio64_size);
}

bool pci_bar_placed(const struct pci_dev *d, int bar, u64 *addr)
{
	const struct pci_bar *b;

	if (bar < 0 || bar >= (int)ARRAY_SIZE(d->bars) || !d->bridge)
		return false;
	b = &d->bars[bar];
	if (!bar_active(d, b) || !bar_in_windows(d->bridge, b))
		return false;
	*addr = b->addr;
	return true;
}

/*
 * The BAR that decodes [addr, addr + len), or NULL: the access must lie
 * inside one active BAR that sits inside a window and overlaps no other
 * active BAR (the guest may program any value; conflicts decode nothing).
 * Called with b->lock held.
 */
static struct pci_bar *bar_find(struct pci_bridge *b, u64 addr, u32 len)
{
	struct pci_bar *hit = NULL;
	u64 last;

	for (u32 s = 0; s < PCI_MAX_SLOTS && !hit; s++) {
		struct pci_dev *d = b->slots[s];

		for (u32 i = 0; d && i < ARRAY_SIZE(d->bars); i++) {
			struct pci_bar *bar = &d->bars[i];

			if (bar_active(d, bar) && addr >= bar->addr &&
			    addr - bar->addr < bar->size) {
				hit = bar;
				break;
			}
		}
	}
	if (!hit || len > hit->size - (addr - hit->addr) || !bar_in_windows(b, hit))
		return NULL;
	last = hit->addr + (hit->size - 1);
	for (u32 s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_dev *d = b->slots[s];

		for (u32 i = 0; d && i < ARRAY_SIZE(d->bars); i++) {
			struct pci_bar *bar = &d->bars[i];

			if (bar != hit && bar_active(d, bar) && bar->addr <= last &&
			    hit->addr <= bar->addr + (bar->size - 1))
				return NULL;
		}
	}
	return hit;
}

static void window_access(struct pci_bridge *b, u64 addr, u8 *data, u32 len, bool is_write)
{
	struct pci_bar *bar;

	pthread_rwlock_rdlock(&b->lock);
	bar = bar_find(b, addr, len);
	if (bar && bar->fn)
		bar->fn(bar->opaque, addr - bar->addr, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
	pthread_rwlock_unlock(&b->lock);
}

static void mmio32_window(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct pci_bridge *b = opaque;

	window_access(b, b->cfg.mmio32_base + offset, data, len, is_write);
}

static void mmio64_window(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct pci_bridge *b = opaque;

	window_access(b, b->cfg.mmio64_base + offset, data, len, is_write);
}

/* ---- the bridge ----------------------------------------------------------- */

static int bridge_check(const struct pci_bridge_config *c)
{
	u64 nbus = c->ecam_size >> ECAM_BUS_SHIFT, end;
	const char *why = NULL;

	if (!c->ecam_size || c->ecam_size & (SZ_1M - 1) || nbus > ECAM_BUS_MAX)
		why = "ECAM size must be 1 to 256 MiB in whole MiB";
	else if (c->ecam_base & (SZ_1M - 1) ||
		 __builtin_add_overflow(c->ecam_base, c->ecam_size, &end))
		why = "ECAM base must be 1 MiB aligned";
	else if (!c->mmio32_size || c->mmio32_base > 0xffffffffULL ||
		 c->mmio32_size > 0x100000000ULL - c->mmio32_base)
		why = "the 32-bit MMIO window must be non-empty and below 4 GiB";
	else if (c->mmio64_size && __builtin_add_overflow(c->mmio64_base, c->mmio64_size, &end))
		why = "the 64-bit MMIO window wraps around";
	else if (range_inside(c->ecam_base, 1, c->mmio32_base, c->mmio32_size) ||
		 range_inside(c->mmio32_base, 1, c->ecam_base, c->ecam_size) ||
		 (c->mmio64_size &&
		  (range_inside(c->mmio64_base, 1, c->ecam_base, c->ecam_size) ||
		   range_inside(c->ecam_base, 1, c->mmio64_base, c->mmio64_size) ||
		   range_inside(c->mmio64_base, 1, c->mmio32_base, c->mmio32_size) ||
		   range_inside(c->mmio32_base, 1, c->mmio64_base, c->mmio64_size))))
		why = "ECAM and MMIO windows overlap";
	else if (c->msi_devid_base + (nbus << 8) > ITS_DEVID_LIMIT)
		why = "ITS device IDs would exceed 16 bits";
	else if (c->intx_spi_base > ARM_GIC_NR_IRQS - 32 - 4)
		why = "INTx SPIs beyond the GIC";
	if (why) {
		pr_err("pci %s: %s", c->name, why);
		return -EINVAL;
	}
	return 0;
}

int pci_bridge_init(struct pci_bridge *b, struct vm *vm, const struct pci_bridge_config *cfg)
{
	pthread_rwlockattr_t attr;
	int r;

	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	if (!b->cfg.name)
		b->cfg.name = "pci";
	r = bridge_check(&b->cfg);
	if (r)
		return r;
	b->vm = vm;
	b->next32 = cfg->mmio32_base;
	b->next64 = cfg->mmio64_base;
	/*
	 * Writers first: vCPUs hammering a BAR must not starve a config write.
	 * Nothing takes the read side recursively (handlers never re-enter).
	 */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&b->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&b->intx_lock, NULL);
	/* mmio_bus has no unregistration: on failure the VM is torn down anyway. */
	r = mmio_bus_register(&vm->mmio, cfg->ecam_base, cfg->ecam_size, ecam_mmio, b, "pci-ecam");
	if (!r)
		r = mmio_bus_register(&vm->mmio, cfg->mmio32_base, cfg->mmio32_size, mmio32_window,
				      b, "pci-mmio32");
	if (!r && cfg->mmio64_size)
		r = mmio_bus_register(&vm->mmio, cfg->mmio64_base, cfg->mmio64_size, mmio64_window,
				      b, "pci-mmio64");
	if (r) {
		b->vm = NULL;
		pr_err("pci %s: cannot register its windows: %s", b->cfg.name, strerror(-r));
		pthread_rwlock_destroy(&b->lock);
		pthread_mutex_destroy(&b->intx_lock);
		return r;
	}
	return 0;
}

/* Natural alignment in [base, base + size): cursor moved past; false when full. */
static bool window_alloc(u64 *cursor, u64 base, u64 wsize, u64 size, u64 *addr)
{
	u64 a;

	if (!align_up_checked(*cursor, size, &a) || !range_inside(a, size, base, wsize))
		return false;
	*addr = a;
	*cursor = a + size;
	return true;
}

/* Place every memory BAR, largest first (less alignment padding). Under b->lock. */
static int bars_alloc(struct pci_bridge *b, struct pci_dev *d)
{
	u64 next32 = b->next32, next64 = b->next64, addr[ARRAY_SIZE(d->bars)] = { 0 };
	bool done[ARRAY_SIZE(d->bars)] = { false };
	const struct pci_bridge_config *c = &b->cfg;

	for (;;) {
		int best = -1;
		struct pci_bar *bar;
		bool ok;

		for (u32 i = 0; i < ARRAY_SIZE(d->bars); i++) {
			const struct pci_bar *x = &d->bars[i];

			if (x->size && !(x->flags & PCI_BAR_IO) && !done[i] &&
			    (best < 0 || x->size > d->bars[best].size))
				best = (int)i;
		}
		if (best < 0)
			break;
		bar = &d->bars[best];
		done[best] = true;
		/* Linux puts non-prefetchable BARs only in non-prefetchable windows. */
		if ((bar->flags & PCI_BAR_MEM64) && (bar->flags & PCI_BAR_PREFETCH) &&
		    c->mmio64_size)
			ok = window_alloc(&next64, c->mmio64_base, c->mmio64_size, bar->size,
					  &addr[best]);
		else
			ok = window_alloc(&next32, c->mmio32_base, c->mmio32_size, bar->size,
					  &addr[best]);
		if (!ok) {
			pr_err("pci %s: no room for %s's BAR %d (%" PRIu64 " KiB)", c->name,
			       d->name, best, bar->size >> 10);
			return -ENOSPC;
		}
	}
	for (u32 i = 0; i < ARRAY_SIZE(d->bars); i++) {
		struct pci_bar *bar = &d->bars[i];
		u32 reg = CFG_BAR0 + 4 * i;

		if (!done[i])
			continue;
		put_le32(&d->cfg[reg], (get_le32(&d->cfg[reg]) & 0xf) | (u32)addr[i]);
		if (bar->flags & PCI_BAR_MEM64)
			put_le32(&d->cfg[reg + 4], (u32)(addr[i] >> 32));
		bar->addr = addr[i];
	}
	b->next32 = next32;
	b->next64 = next64;
	return 0;
}

int pci_bridge_add(struct pci_bridge *b, struct pci_dev *d)
{
	int slot = -1, r;

	if (d->bridge)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	for (int s = 0; s < PCI_MAX_SLOTS && slot < 0; s++) {
		if (!b->slots[s])
			slot = s;
	}
	if (slot < 0) {
		pr_err("pci %s: no free slot for %s", b->cfg.name, d->name);
		r = -ENOSPC;
	} else {
		r = bars_alloc(b, d);
	}
	if (!r) {
		d->devfn = (u8)(slot << 3);
		d->bridge = b;
		d->msi_devid = b->cfg.msi_devid_base + d->devfn; /* bus 0: requester ID = devfn */
		intx_route(d);
		b->slots[slot] = d;
		/* What a machine reset returns to: BARs as placed here, everything off. */
		memcpy(d->cfg_reset, d->cfg, sizeof(d->cfg));
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void pci_bridge_reset(struct pci_bridge *b)
{
	pthread_rwlock_wrlock(&b->lock);
	for (u32 s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_dev *d = b->slots[s];

		if (!d)
			continue;
		memcpy(d->cfg, d->cfg_reset, sizeof(d->cfg));
		bars_update(d);
		pthread_mutex_lock(&b->intx_lock);
		intx_update_locked(b, d);
		pthread_mutex_unlock(&b->intx_lock);
		if (d->reset)
			d->reset(d);
	}
	pthread_rwlock_unlock(&b->lock);
}

void pci_bridge_destroy(struct pci_bridge *b)
{
	if (!b->vm)
		return;
	/* The windows stay on vm->mmio (no unregistration): destroy the VM's bus first. */
	for (u32 s = 0; s < PCI_MAX_SLOTS; s++) {
		if (b->slots[s])
			b->slots[s]->bridge = NULL;
		b->slots[s] = NULL;
	}
	pthread_rwlock_destroy(&b->lock);
	pthread_mutex_destroy(&b->intx_lock);
	b->vm = NULL;
}

/* ---- device tree ---------------------------------------------------------- */

/* PCI bus binding: phys.hi of a 32-bit memory space and a 64-bit prefetchable one. */
#define DT_PCI_MEM32	  0x02000000U
#define DT_PCI_MEM64_PREF 0x43000000U

static void cells_put64(fdt32_t *c, u64 v)
{
	c[0] = cpu_to_fdt32((u32)(v >> 32));
	c[1] = cpu_to_fdt32((u32)v);
}

/* One ranges entry: phys.hi, child address, CPU address (identity), size. */
static fdt32_t *range_put(fdt32_t *c, u32 space, u64 addr, u64 size)
{
	c[0] = cpu_to_fdt32(space);
	cells_put64(&c[1], addr);
	cells_put64(&c[3], addr);
	cells_put64(&c[5], size);
	return c + 7;
}

/*
 * interrupt-map: for every slot and pin, <devfn << 8 0 0 pin> -> the GIC's
 * <SPI spi level-high> after @gic_addr_cells zero parent address cells.
 */
static int prop_interrupt_map(const struct pci_bridge *b, void *fdt, u32 gic_phandle,
			      u32 gic_addr_cells)
{
	u32 entry = 4 + 1 + gic_addr_cells + 3, n = PCI_MAX_SLOTS * 4;
	fdt32_t *c;
	void *p;
	int r;

	r = fdt_property_placeholder(fdt, "interrupt-map", (int)(n * entry * 4), &p);
	if (r < 0)
		return r;
	c = p;
	for (u32 slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		for (u32 pin = 1; pin <= 4; pin++) {
			*c++ = cpu_to_fdt32(slot << 11); /* devfn << 8, function 0 */
			*c++ = 0;
			*c++ = 0;
			*c++ = cpu_to_fdt32(pin);
			*c++ = cpu_to_fdt32(gic_phandle);
			for (u32 i = 0; i < gic_addr_cells; i++)
				*c++ = 0;
			*c++ = cpu_to_fdt32(FDT_GIC_SPI);
			*c++ = cpu_to_fdt32(b->cfg.intx_spi_base + (slot + pin - 1) % 4);
			*c++ = cpu_to_fdt32(FDT_IRQ_TYPE_LEVEL_HIGH);
		}
	}
	return 0;
}

#define TRY(call)                                                                                  \
	do {                                                                                       \
		int _r = (call);                                                                   \
		if (_r < 0)                                                                        \
			return _r;                                                                 \
	} while (0)

static int bridge_fdt(const struct pci_bridge *b, void *fdt, u32 gic_phandle, u32 gic_addr_cells,
		      u32 its_phandle)
{
	const struct pci_bridge_config *c = &b->cfg;
	u32 nbus = (u32)(c->ecam_size >> ECAM_BUS_SHIFT);
	fdt32_t reg[4], ranges[14], *e = ranges;
	const fdt32_t bus_range[2] = { 0, cpu_to_fdt32(nbus - 1) };
	const fdt32_t map_mask[4] = { cpu_to_fdt32(0xf800), 0, 0, cpu_to_fdt32(7) };
	char name[32];

	snprintf(name, sizeof(name), "pci@%" PRIx64, c->ecam_base);
	cells_put64(&reg[0], c->ecam_base);
	cells_put64(&reg[2], c->ecam_size);
	e = range_put(e, DT_PCI_MEM32, c->mmio32_base, c->mmio32_size);
	if (c->mmio64_size)
		e = range_put(e, DT_PCI_MEM64_PREF, c->mmio64_base, c->mmio64_size);

	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));
	TRY(fdt_property_u32(fdt, "linux,pci-domain", c->domain));
	TRY(fdt_property(fdt, "ranges", ranges, (int)((e - ranges) * sizeof(*e))));
	if (c->dma_coherent)
		TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	if (its_phandle) {
		/* Requester ID (bus << 8 | devfn) r -> ITS device ID base + r, for every bus. */
		const fdt32_t msi_map[4] = { 0, cpu_to_fdt32(its_phandle),
					     cpu_to_fdt32(c->msi_devid_base),
					     cpu_to_fdt32(nbus << 8) };

		TRY(fdt_property(fdt, "msi-map", msi_map, sizeof(msi_map)));
	}
	TRY(fdt_property(fdt, "interrupt-map-mask", map_mask, sizeof(map_mask)));
	TRY(prop_interrupt_map(b, fdt, gic_phandle, gic_addr_cells));
	return fdt_end_node(fdt);
}

int pci_bridge_fdt(const struct pci_bridge *b, void *fdt, u32 gic_phandle, u32 gic_addr_cells,
		   u32 its_phandle)
{
	int r;

	if (!gic_phandle || gic_addr_cells > 4) {
		pr_err("pci %s: bad interrupt parent for the DT", b->cfg.name);
		return -EINVAL;
	}
	r = bridge_fdt(b, fdt, gic_phandle, gic_addr_cells, its_phandle);
	return r < 0 ? fdt_err_to_errno(r) : 0;
}
