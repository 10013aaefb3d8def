/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_HW_PCI_H
#define COHO_HW_PCI_H

#include <pthread.h>

#include "mmio_bus.h"
#include "util/types.h"

/*
 * A generic ECAM PCI host bridge ("pci-host-ecam-generic") and the devices
 * on its bus 0. Several bridges can exist side by side (virtio devices on
 * one, VFIO passthrough on another), each with its own ECAM and MMIO
 * windows, ITS device-ID range, INTx lines and its own dma-coherent flag.
 * Everything the guest writes (config space, BAR addresses) is validated.
 */

#define PCI_ECAM_FN_SIZE 4096 /* ECAM: 4 KiB per function */
#define PCI_MAX_SLOTS	 32

/* BAR flags */
#define PCI_BAR_MEM64	 (1U << 0)
#define PCI_BAR_PREFETCH (1U << 1)
/* An I/O BAR: shown to the guest, never decoded (arm64 has no port I/O). */
#define PCI_BAR_IO	 (1U << 2)

struct pci_dev;
struct pci_bridge;
struct vm;

struct pci_bar {
	u64 size;  /* a power of two >= 4 KiB (I/O BARs: >= 4 bytes); 0: BAR unused */
	u32 flags; /* PCI_BAR_* */
	u64 addr;  /* guest address as currently programmed */
	/*
	 * Accesses inside the BAR, offset relative to the BAR (the whole access
	 * lies inside it); runs with the bridge's lock held for reading. NULL:
	 * the BAR is shown but reads as all-ones.
	 */
	mmio_fn fn;
	void *opaque;
};

struct pci_dev {
	const char *name;
	u8 cfg[PCI_ECAM_FN_SIZE];   /* config space as the guest reads it */
	u8 wmask[PCI_ECAM_FN_SIZE]; /* bits the guest may change */
	struct pci_bar bars[6];	    /* a 64-bit BAR n uses slots n and n+1 */
	u8 devfn;		    /* slot << 3 | function, set by pci_bridge_add() */
	struct pci_bridge *bridge;
	u32 msi_devid; /* ITS device ID of this function's MSIs */
	u32 intx_spi;  /* SPI its INTx pin raises (after swizzling) */
	u16 cap_end;   /* end of the last capability (0: none yet) */
	/*
	 * The function drives its INTx SPI itself (VFIO: an irqfd with resample),
	 * so the bridge never raises or lowers that line for it.
	 */
	bool intx_external;
	/*
	 * Called after the guest wrote [off, off + len) of config space (wmask
	 * applied), with the bridge's lock held for writing: d->cfg and the BAR
	 * addresses are stable, and the guest sees the result only afterwards.
	 */
	void (*cfg_written)(struct pci_dev *d, u32 off, u32 len);
	/*
	 * Optional: refresh bytes [off, off + len) of d->cfg before the guest
	 * reads them (bridge lock held for writing, as for cfg_written).
	 */
	void (*cfg_refresh)(struct pci_dev *d, u32 off, u32 len);
	/*
	 * Optional: a machine reset (guest reboot) restored config space to
	 * what it was when the function was added; reset the rest of the
	 * function's state. Bridge lock held for writing.
	 */
	void (*reset)(struct pci_dev *d);
	void *opaque;
	u8 cfg_reset[PCI_ECAM_FN_SIZE]; /* config space at pci_bridge_add() */
};

struct pci_bridge_config {
	const char *name; /* "virtio", "vfio": logs and the DT */
	u16 domain;	  /* linux,pci-domain */
	u64 ecam_base;
	u64 ecam_size; /* 1 MiB per bus; bus-range is 0 .. size/1MiB - 1 */
	u64 mmio32_base, mmio32_size;
	u64 mmio64_base, mmio64_size;
	bool dma_coherent; /* "dma-coherent" on the bridge node */
	/*
	 * msi-map: requester ID r -> ITS device ID base + r, for the bus-range's
	 * (size / 1 MiB) * 256 IDs. KVM's ITS has 16-bit device IDs, so two
	 * bridges split 0..0xffff (bridge 0 from 0, bridge 1 after it).
	 */
	u32 msi_devid_base;
	u32 intx_spi_base; /* INTA..INTD = SPI base + 0..3, swizzled by slot */
};

struct pci_bridge {
	struct pci_bridge_config cfg;
	struct vm *vm;
	struct pci_dev *slots[PCI_MAX_SLOTS];
	pthread_rwlock_t lock; /* config space and BAR placement vs. accesses */
	u64 next32, next64;    /* BAR allocation cursors */
	/*
	 * INTx: several functions share each of the 4 SPIs, so the line is the
	 * OR of its functions: intx_count[i] counts the functions asserting SPI
	 * intx_spi_base + i (pending and not disabled by Command.Interrupt
	 * Disable), intx_asserted holds their slots.
	 */
	pthread_mutex_t intx_lock;
	u32 intx_asserted;
	u32 intx_count[4];
};

/*
 * Fill the standard header of a type 0 function. Everything else is reset
 * too, except cfg_written, cfg_refresh and opaque (set them before or after).
 */
void pci_dev_init(struct pci_dev *d, const char *name, u16 vendor, u16 device, u32 class_code,
		  u8 revision, u16 subsys_vendor, u16 subsys_id);
/* Declare BAR @bar (0-5). -EINVAL on a bad size/index/overlap with a 64-bit BAR. */
int pci_dev_add_bar(struct pci_dev *d, int bar, u64 size, u32 flags, mmio_fn fn, void *opaque);
/*
 * Append a capability of @len bytes (id at +0, next at +1 filled in) to the
 * list in standard config space; returns its offset (>= 0x40) or -ENOSPC.
 */
int pci_dev_add_cap(struct pci_dev *d, u8 id, u8 len);
/* Use INTA (interrupt pin 1); the line is known after pci_bridge_add(). */
void pci_dev_use_intx(struct pci_dev *d);

/* Register the bridge's ECAM and MMIO windows on the VM's MMIO bus. */
int pci_bridge_init(struct pci_bridge *b, struct vm *vm, const struct pci_bridge_config *cfg);
/* Put @d in the first free slot and allocate its BARs (naturally aligned). -ENOSPC. */
int pci_bridge_add(struct pci_bridge *b, struct pci_dev *d);
void pci_bridge_destroy(struct pci_bridge *b);
/*
 * A machine reset: every function's config space back to its state when it
 * was added (BARs unassigned, decoding and bus mastering off, MSI/MSI-X
 * disabled, INTx deasserted), then its reset hook.
 */
void pci_bridge_reset(struct pci_bridge *b);

/*
 * true if BAR @bar of @d is a memory BAR the guest has placed (memory
 * decoding on) wholly inside one of the bridge's windows, with its address
 * in *@addr. Call from cfg_written (bridge lock held).
 */
bool pci_bar_placed(const struct pci_dev *d, int bar, u64 *addr);

/*
 * Drive a function's INTx level (level-triggered SPI); shown in Status bit 3
 * and masked by Command bit 10. Takes only the bridge's intx_lock, so BAR
 * handlers may call it.
 */
void pci_intx_set(struct pci_dev *d, bool level);

/*
 * Write the bridge's DT node into @fdt (sequential-write API, inside the
 * root node; see fdt.h's add_nodes hook): reg, ranges, bus-range,
 * linux,pci-domain, dma-coherent when configured, msi-map to @its_phandle
 * (0: no ITS), and an interrupt-map for INTx to @gic_phandle whose parent
 * unit-address width is @gic_addr_cells.
 */
int pci_bridge_fdt(const struct pci_bridge *b, void *fdt, u32 gic_phandle, u32 gic_addr_cells,
		   u32 its_phandle);

#endif
