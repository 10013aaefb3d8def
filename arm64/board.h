/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_BOARD_H
#define COHO_ARM64_BOARD_H

#include "arm64/layout.h"
#include "hw/pci.h"
#include "hw/pl031.h"
#include "hw/uart8250.h"
#include "ioloop.h"
#include "virtio/9p.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "vfio/pci.h"
#include "vfio/vfio.h"

#include "vm.h"

/* Upper bound of virtio devices: disks, shares, rng, console and nets. */
#define BOARD_MAX_VIRTIO (VM_MAX_DISKS + VM_MAX_SHARES + 2 + VM_MAX_NETS)

/* One virtio device and the transport that carries it. */
struct board_virtio {
	struct virtio_dev *vdev;
	struct virtio_pci *pci;
	struct virtio_mmio *mmio;
};

/* The machine's devices, created from the VM's config (arm64/layout.h places them). */
struct board {
	struct uart8250 uart;
	struct pl031 rtc;
	struct ioloop loop;
	bool loop_ready;
	/* Emulated virtio devices sit on their own host bridge, always dma-coherent. */
	struct pci_bridge virtio_bridge;
	bool virtio_bridge_ready;
	/* Every virtio device's transport, in creation order. */
	struct board_virtio vt[BOARD_MAX_VIRTIO];
	u32 nr_vt;
	u32 nr_mmio;
	bool mmio_fdt_hooked;
	struct virtio_rng *rng;
	struct virtio_console *con;
	bool con_ready;
	struct virtio_blk *blk[VM_MAX_DISKS];
	u32 nr_blk;
	struct virtio_9p *p9[VM_MAX_SHARES];
	u32 nr_p9;
	struct virtio_net *net[VM_MAX_NETS];
	u32 nr_net;
	/* Passthrough: one container; bridge 0 for coherent DMA, bridge 1 for the rest. */
	struct vfio_container vfio_c;
	struct vfio_dev *vfio[VM_MAX_VFIO];
	bool vfio_coherent[VM_MAX_VFIO];
	struct vfio_pci *vfio_pci[VM_MAX_VFIO];
	u32 nr_vfio;
	struct pci_bridge vfio_bridge[ARM_PCI_VFIO_BRIDGES];
	bool vfio_bridge_ready[ARM_PCI_VFIO_BRIDGES];
};

/* Create every device; -errno with one line logged. */
int board_init(struct board *b, struct vm *vm);
/* Where console input goes: the UART, or virtio-console with --console virtio. */
struct console_sink board_console_sink(struct board *b);
/* Start device threads (before the vCPUs) / stop them (after). */
int board_start(struct board *b);
void board_stop(struct board *b);
/*
 * A guest reboot (vCPUs stopped, device threads running): every device back
 * to its power-on state, so none keeps using the previous kernel's memory.
 */
void board_reset(struct board *b);
/* Console input comes from a terminal: the 8250 takes it before a driver is ready. */
void board_console_from_tty(struct board *b);
/* Send magic SysRq @key to the guest's console. -ENOSPC if its input is full. */
int board_console_sysrq(struct board *b, u8 key);
void board_destroy(struct board *b);

#endif
