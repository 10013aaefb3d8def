/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_BOARD_H
#define COHO_ARM64_BOARD_H

#include "hw/pci.h"
#include "hw/pl031.h"
#include "hw/uart8250.h"
#include "ioloop.h"
#include "virtio/9p.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

#include "vm.h"

/* The machine's devices, created from the VM's config (arm64/layout.h places them). */
struct board {
	struct uart8250 uart;
	struct pl031 rtc;
	struct ioloop loop;
	bool loop_ready;
	/* Emulated virtio devices sit on their own host bridge, always dma-coherent. */
	struct pci_bridge virtio_bridge;
	bool virtio_bridge_ready;
	struct virtio_rng *rng;
	struct virtio_pci *rng_pci;
	struct virtio_console *con;
	struct virtio_pci *con_pci;
	bool con_ready;
	struct virtio_blk *blk[VM_MAX_DISKS];
	struct virtio_pci *blk_pci[VM_MAX_DISKS];
	u32 nr_blk;
	struct virtio_9p *p9[VM_MAX_SHARES];
	struct virtio_pci *p9_pci[VM_MAX_SHARES];
	u32 nr_p9;
};

/* Create every device; -errno with one line logged. */
int board_init(struct board *b, struct vm *vm);
/* Where console input goes: the UART, or virtio-console with --console virtio. */
struct console_sink board_console_sink(struct board *b);
/* Start device threads (before the vCPUs) / stop them (after). */
int board_start(struct board *b);
void board_stop(struct board *b);
void board_destroy(struct board *b);

#endif
