// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "arm64/board.h"
#include "arm64/fdt.h"
#include "arm64/layout.h"
#include "util/log.h"
#include "vm.h"

static int board_virtio_bridge_fdt(void *fdt, u32 gic_phandle, void *opaque)
{
	struct pci_bridge *br = opaque;
	struct vm *vm = br->vm;

	return pci_bridge_fdt(br, fdt, gic_phandle, FDT_GIC_ADDR_CELLS(vm->arch.gic),
			      vm->arch.its ? FDT_PHANDLE_ITS : 0);
}

static int board_virtio_bridge(struct board *b, struct vm *vm)
{
	/*
	 * The VMM reaches virtqueues through cacheable mappings, so the guest
	 * must map its DMA buffers cacheable too: without dma-coherent a guest
	 * on a host without FWB would read stale data.
	 */
	const struct pci_bridge_config cfg = {
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
	int ret = pci_bridge_init(&b->virtio_bridge, vm, &cfg);

	if (ret) {
		pr_err("cannot create the virtio PCI host bridge: %s", strerror(-ret));
		return ret;
	}
	b->virtio_bridge_ready = true;
	return vm_add_fdt_hook(vm, board_virtio_bridge_fdt, &b->virtio_bridge);
}

static int board_rng(struct board *b, struct vm *vm)
{
	int ret;

	b->rng = calloc(1, sizeof(*b->rng));
	b->rng_pci = calloc(1, sizeof(*b->rng_pci));
	if (!b->rng || !b->rng_pci)
		return -ENOMEM;
	ret = virtio_rng_init(b->rng, vm);
	if (!ret)
		ret = virtio_pci_init(b->rng_pci, &b->rng->vdev, &b->virtio_bridge, &b->loop);
	if (ret)
		pr_err("cannot create virtio-rng: %s", strerror(-ret));
	return ret;
}

static int board_console(struct board *b, struct vm *vm)
{
	int ret;

	b->con = calloc(1, sizeof(*b->con));
	b->con_pci = calloc(1, sizeof(*b->con_pci));
	if (!b->con || !b->con_pci)
		return -ENOMEM;
	ret = virtio_console_init(b->con, vm, STDOUT_FILENO);
	b->con_ready = true;
	if (!ret)
		ret = virtio_pci_init(b->con_pci, &b->con->vdev, &b->virtio_bridge, &b->loop);
	if (ret)
		pr_err("cannot create virtio-console: %s", strerror(-ret));
	return ret;
}

struct console_sink board_console_sink(struct board *b)
{
	if (b->con_ready && b->con)
		return virtio_console_sink(b->con);
	return uart8250_console_sink(&b->uart);
}

static int board_disks(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	u32 i;

	for (i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *dc = &cfg->disks[i];
		int ret;

		b->blk[i] = calloc(1, sizeof(*b->blk[i]));
		b->blk_pci[i] = calloc(1, sizeof(*b->blk_pci[i]));
		if (!b->blk[i] || !b->blk_pci[i])
			return -ENOMEM;
		b->blk[i]->fd = -1;
		b->nr_blk = i + 1;
		ret = virtio_blk_init(b->blk[i], vm, dc->path, dc->read_only, dc->direct, i);
		if (ret)
			return ret;
		ret = virtio_pci_init(b->blk_pci[i], &b->blk[i]->vdev, &b->virtio_bridge, &b->loop);
		if (ret) {
			pr_err("cannot attach disk %s: %s", dc->path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int board_shares(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	struct rlimit rl;
	u32 i;

	/*
	 * Every 9p fid holds one or two descriptors and a guest may hold up to
	 * P9_MAX_FIDS: lift the soft limit to the hard one (usually 1024 -> 4096+).
	 */
	if (cfg->nr_shares && !getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pr_debug("cannot raise the open-file limit: %s", strerror(errno));
	}

	for (i = 0; i < cfg->nr_shares; i++) {
		const struct share_config *sc = &cfg->shares[i];
		int ret;

		b->p9[i] = calloc(1, sizeof(*b->p9[i]));
		b->p9_pci[i] = calloc(1, sizeof(*b->p9_pci[i]));
		if (!b->p9[i] || !b->p9_pci[i])
			return -ENOMEM;
		b->nr_p9 = i + 1;
		ret = virtio_9p_init(b->p9[i], vm, sc->dir, sc->tag, sc->read_only);
		if (ret)
			return ret;
		ret = virtio_pci_init(b->p9_pci[i], &b->p9[i]->vdev, &b->virtio_bridge, &b->loop);
		if (ret) {
			pr_err("cannot attach the 9p share %s: %s", sc->dir, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int board_init(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	int ret;

	memset(b, 0, sizeof(*b));
	b->uart.wake_fd = -1;
	ret =
	    uart8250_init(&b->uart, vm, ARM_UART_BASE, ARM_UART_SIZE, ARM_UART_SPI, STDOUT_FILENO);
	if (!ret)
		ret = pl031_init(&b->rtc, vm, ARM_RTC_BASE);
	if (ret) {
		pr_err("cannot set up devices: %s", strerror(-ret));
		return ret;
	}
	ret = ioloop_init(&b->loop);
	if (ret) {
		pr_err("cannot create the device event loop: %s", strerror(-ret));
		return ret;
	}
	b->loop_ready = true;
	if (!cfg->rng && !cfg->nr_disks && !cfg->nr_shares && cfg->console != CONSOLE_VIRTIO)
		return 0;
	ret = board_virtio_bridge(b, vm);
	if (!ret && cfg->console == CONSOLE_VIRTIO)
		ret = board_console(b, vm);
	if (!ret && cfg->rng)
		ret = board_rng(b, vm);
	if (!ret)
		ret = board_disks(b, vm);
	if (!ret)
		ret = board_shares(b, vm);
	return ret;
}

int board_start(struct board *b)
{
	int ret = 0;
	u32 i;

	for (i = 0; i < b->nr_blk && !ret; i++)
		ret = virtio_blk_start(b->blk[i]);
	if (!ret)
		ret = ioloop_start(&b->loop);

	if (ret)
		pr_err("cannot start the device thread: %s", strerror(-ret));
	return ret;
}

void board_stop(struct board *b)
{
	if (b->loop_ready)
		ioloop_stop(&b->loop);
}

void board_destroy(struct board *b)
{
	board_stop(b);
	/* The bridge first: it drops its pointers to the functions freed below. */
	if (b->virtio_bridge_ready)
		pci_bridge_destroy(&b->virtio_bridge);
	b->virtio_bridge_ready = false;
	if (b->rng_pci)
		virtio_pci_destroy(b->rng_pci);
	if (b->rng)
		virtio_rng_destroy(b->rng);
	if (b->con_pci)
		virtio_pci_destroy(b->con_pci);
	if (b->con_ready)
		virtio_console_destroy(b->con);
	free(b->con_pci);
	free(b->con);
	for (u32 i = 0; i < b->nr_p9; i++) {
		if (b->p9_pci[i])
			virtio_pci_destroy(b->p9_pci[i]);
		if (b->p9[i])
			virtio_9p_destroy(b->p9[i]);
		free(b->p9_pci[i]);
		free(b->p9[i]);
	}
	for (u32 i = 0; i < b->nr_blk; i++) {
		if (b->blk_pci[i])
			virtio_pci_destroy(b->blk_pci[i]);
		if (b->blk[i])
			virtio_blk_destroy(b->blk[i]);
		free(b->blk_pci[i]);
		free(b->blk[i]);
	}
	free(b->rng_pci);
	free(b->rng);
	if (b->loop_ready)
		ioloop_destroy(&b->loop);
	if (b->uart.wake_fd >= 0)
		uart8250_destroy(&b->uart);
}
