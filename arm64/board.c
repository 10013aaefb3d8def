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

static int board_bridge_fdt(void *fdt, u32 gic_phandle, void *opaque)
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
	return vm_add_fdt_hook(vm, board_bridge_fdt, &b->virtio_bridge);
}

static int board_mmio_fdt(void *fdt, u32 gic_phandle, void *opaque)
{
	struct board *b = opaque;
	int ret = 0;

	/*
	 * The DT is written sequentially, so nodes appear in creation order, and
	 * Linux registers (and virtio_blk names vda, vdb...) in DT order.
	 */
	for (u32 i = 0; i < b->nr_vt && !ret; i++)
		if (b->vt[i].mmio)
			ret = virtio_mmio_fdt(b->vt[i].mmio, fdt, gic_phandle);
	return ret;
}

/*
 * Put @vdev on the configured transport: a function on the virtio PCI host
 * bridge, or a virtio-mmio slot (ARM_VIRTIO_MMIO_BASE + n * slot size,
 * SPI ARM_VIRTIO_MMIO_SPI + n). @what names the device in the error line.
 */
static int board_attach(struct board *b, struct vm *vm, struct virtio_dev *vdev, const char *what)
{
	struct board_virtio *v;
	int ret;

	if (b->nr_vt == BOARD_MAX_VIRTIO)
		return -ENOSPC;
	v = &b->vt[b->nr_vt];
	v->vdev = vdev;
	if (vm->cfg->transport == VIRTIO_TRANSPORT_MMIO) {
		u32 slot = b->nr_mmio;

		v->mmio = calloc(1, sizeof(*v->mmio));
		if (!v->mmio)
			return -ENOMEM;
		b->nr_vt++;
		ret = virtio_mmio_init(v->mmio, vdev, vm,
				       ARM_VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SLOT_SIZE,
				       ARM_VIRTIO_MMIO_SPI + slot, &b->loop);
		if (!ret) {
			b->nr_mmio++;
			if (!b->mmio_fdt_hooked) {
				ret = vm_add_fdt_hook(vm, board_mmio_fdt, b);
				b->mmio_fdt_hooked = !ret;
			}
		} else {
			free(v->mmio);
			v->mmio = NULL;
		}
	} else {
		v->pci = calloc(1, sizeof(*v->pci));
		if (!v->pci)
			return -ENOMEM;
		b->nr_vt++;
		ret = virtio_pci_init(v->pci, vdev, &b->virtio_bridge, &b->loop);
		if (ret) {
			free(v->pci);
			v->pci = NULL;
		}
	}
	if (ret)
		pr_err("cannot attach %s: %s", what, strerror(-ret));
	return ret;
}

static int board_rng(struct board *b, struct vm *vm)
{
	int ret;

	b->rng = calloc(1, sizeof(*b->rng));
	if (!b->rng)
		return -ENOMEM;
	ret = virtio_rng_init(b->rng, vm);
	if (ret) {
		pr_err("cannot create virtio-rng: %s", strerror(-ret));
		free(b->rng);
		b->rng = NULL;
		return ret;
	}
	return board_attach(b, vm, &b->rng->vdev, "virtio-rng");
}

static int board_console(struct board *b, struct vm *vm)
{
	int ret;

	b->con = calloc(1, sizeof(*b->con));
	if (!b->con)
		return -ENOMEM;
	ret = virtio_console_init(b->con, vm, &vm->console);
	b->con_ready = true;
	if (ret) {
		pr_err("cannot create virtio-console: %s", strerror(-ret));
		return ret;
	}
	return board_attach(b, vm, &b->con->vdev, "virtio-console");
}

struct console_sink board_console_sink(struct board *b)
{
	if (b->con_ready && b->con)
		return virtio_console_sink(b->con);
	return uart8250_console_sink(&b->uart);
}

void board_console_from_tty(struct board *b)
{
	uart8250_input_unheld(&b->uart);
}

int board_console_sysrq(struct board *b, u8 key)
{
	/* hvc (virtio console): Ctrl-O then the key; a serial console: a break then the key. */
	if (b->con_ready && b->con) {
		struct console_sink s = virtio_console_sink(b->con);
		const u8 seq[2] = { 0x0f, key };

		if (s.room(s.dev) < sizeof(seq))
			return -ENOSPC;
		return s.receive(s.dev, seq, sizeof(seq)) == sizeof(seq) ? 0 : -ENOSPC;
	}
	return uart8250_sysrq(&b->uart, key);
}

static int board_disks(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	u32 i;

	for (i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *dc = &cfg->disks[i];
		int ret;

		b->blk[i] = calloc(1, sizeof(*b->blk[i]));
		if (!b->blk[i])
			return -ENOMEM;
		b->blk[i]->fd = -1;
		b->nr_blk = i + 1;
		ret = virtio_blk_init(b->blk[i], vm, dc->path, dc->read_only, dc->direct, i);
		if (ret)
			return ret;
		ret = board_attach(b, vm, &b->blk[i]->vdev, dc->path);
		if (ret)
			return ret;
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
		if (!b->p9[i])
			return -ENOMEM;
		b->nr_p9 = i + 1;
		ret = virtio_9p_init(b->p9[i], vm, sc->dir, sc->tag, sc->read_only);
		if (ret)
			return ret;
		ret = board_attach(b, vm, &b->p9[i]->vdev, sc->dir);
		if (ret)
			return ret;
	}
	return 0;
}

static int board_nets(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	for (u32 i = 0; i < cfg->nr_nets; i++) {
		int ret;

		b->net[i] = calloc(1, sizeof(*b->net[i]));
		if (!b->net[i])
			return -ENOMEM;
		b->nr_net = i + 1;
		ret = virtio_net_init(b->net[i], vm, &cfg->nets[i], i, &b->loop);
		if (ret)
			return ret;
		ret = board_attach(b, vm, &b->net[i]->vdev, b->net[i]->tap.name);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Passthrough devices: checked and opened first (a wrong BDF fails before
 * anything else is set up), then put on a bridge whose dma-coherent says
 * what the hardware does: coherent only if the IOMMU enforces coherent DMA
 * (VFIO_DMA_CC_IOMMU) and the host DT marks the device's path dma-coherent,
 * unless coherent=on|off overrides it.
 */
static int board_vfio(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	bool want[ARM_PCI_VFIO_BRIDGES] = { false, false };
	static const char *const names[ARM_PCI_VFIO_BRIDGES] = { "vfio", "vfio-noncoherent" };
	struct region_map_caps caps;

	for (u32 i = 0; i < cfg->nr_vfio; i++) {
		const struct vfio_config *vc = &cfg->vfio[i];
		struct vfio_dev *v;
		int ret;

		v = b->vfio[i] = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->nr_vfio = i + 1;
		ret = vfio_dev_open(v, vc->bdf, &b->vfio_c, &vm->mem);
		if (ret)
			return ret;
		if (vc->coherent >= 0)
			b->vfio_coherent[i] = vc->coherent;
		else
			b->vfio_coherent[i] = b->vfio_c.cc_iommu && v->host_dt_coherent;
		pr_debug("vfio %s: DMA %s: %s; IOMMU %s coherent DMA; %s", vc->bdf,
			 b->vfio_coherent[i] ? "coherent" : "not coherent",
			 vc->coherent >= 0 ? "set by coherent=" : "as the host says",
			 b->vfio_c.cc_iommu ? "enforces" : "does not enforce", v->coherent_why);
		want[b->vfio_coherent[i] ? 0 : 1] = true;
	}
	for (u32 i = 0; i < ARM_PCI_VFIO_BRIDGES; i++) {
		const struct pci_bridge_config bc = {
			.name = names[i],
			.domain = (u16)(1 + i),
			.ecam_base = ARM_PCI_VFIO_ECAM_BASE(i),
			.ecam_size = ARM_PCI_VFIO_ECAM_SIZE,
			.mmio32_base = ARM_PCI_VFIO_MMIO32_BASE(i),
			.mmio32_size = ARM_PCI_VFIO_MMIO32_SIZE,
			.mmio64_base = ARM_PCI_VFIO_MMIO64_BASE(i),
			.mmio64_size = ARM_PCI_VFIO_MMIO64_SIZE,
			.dma_coherent = i == 0,
			.msi_devid_base = ARM_PCI_VFIO_DEVID_BASE(i),
			.intx_spi_base = ARM_PCI_VFIO_INTX_SPI(i),
		};
		int ret;

		if (!want[i])
			continue;
		ret = pci_bridge_init(&b->vfio_bridge[i], vm, &bc);
		if (ret) {
			pr_err("cannot create the %s PCI host bridge: %s", names[i],
			       strerror(-ret));
			return ret;
		}
		b->vfio_bridge_ready[i] = true;
		ret = vm_add_fdt_hook(vm, board_bridge_fdt, &b->vfio_bridge[i]);
		if (ret)
			return ret;
	}
	region_map_probe(&caps, vm->dry ? -1 : vm->kvm_fd, NULL);
	pr_debug("vfio: Linux %s maps vfio-pci BARs %s at stage 2; cacheable PFNMAP at stage 2: "
		 "%s; write-combining VMM mmap of VFIO regions: %s",
		 caps.release, caps.s2_normal_nc ? "Normal-NC" : "Device-nGnRE",
		 caps.s2_cacheable_pfnmap ? "yes" : "no",
		 caps.vmm_writecombine ? "yes" : "no (no uAPI)");
	for (u32 i = 0; i < b->nr_vfio; i++) {
		int ret;

		b->vfio_pci[i] = calloc(1, sizeof(*b->vfio_pci[i]));
		if (!b->vfio_pci[i])
			return -ENOMEM;
		ret = vfio_pci_init(b->vfio_pci[i], b->vfio[i], vm,
				    &b->vfio_bridge[b->vfio_coherent[i] ? 0 : 1], &cfg->vfio[i],
				    &caps);
		if (ret)
			return ret;
		pr_debug("vfio %s: on the %s bridge", cfg->vfio[i].bdf,
			 b->vfio_coherent[i] ? "dma-coherent" : "non-coherent");
	}
	return 0;
}

int board_init(struct board *b, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	int ret;

	memset(b, 0, sizeof(*b));
	b->uart.wake_fd = -1;
	vfio_container_init(&b->vfio_c);
	if (cfg->nr_vfio) {
		ret = board_vfio(b, vm);
		if (ret)
			return ret;
	}
	ret = uart8250_init(&b->uart, vm, ARM_UART_BASE, ARM_UART_SIZE, ARM_UART_SPI, &vm->console);
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
	if (!cfg->rng && !cfg->nr_disks && !cfg->nr_shares && !cfg->nr_nets &&
	    cfg->console != CONSOLE_VIRTIO)
		return 0;
	if (cfg->transport == VIRTIO_TRANSPORT_PCI)
		ret = board_virtio_bridge(b, vm);
	if (!ret && cfg->console == CONSOLE_VIRTIO)
		ret = board_console(b, vm);
	if (!ret && cfg->rng)
		ret = board_rng(b, vm);
	if (!ret)
		ret = board_disks(b, vm);
	if (!ret)
		ret = board_shares(b, vm);
	if (!ret)
		ret = board_nets(b, vm);
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

void board_reset(struct board *b)
{
	for (u32 i = 0; i < b->nr_vt; i++)
		if (b->vt[i].mmio)
			virtio_mmio_reset(b->vt[i].mmio);
	if (b->virtio_bridge_ready)
		pci_bridge_reset(&b->virtio_bridge);
	for (u32 i = 0; i < ARM_PCI_VFIO_BRIDGES; i++)
		if (b->vfio_bridge_ready[i])
			pci_bridge_reset(&b->vfio_bridge[i]);
}

void board_destroy(struct board *b)
{
	board_stop(b);
	/* The bridge first: it drops its pointers to the functions freed below. */
	if (b->virtio_bridge_ready)
		pci_bridge_destroy(&b->virtio_bridge);
	b->virtio_bridge_ready = false;
	for (u32 i = 0; i < ARM_PCI_VFIO_BRIDGES; i++) {
		if (b->vfio_bridge_ready[i])
			pci_bridge_destroy(&b->vfio_bridge[i]);
		b->vfio_bridge_ready[i] = false;
	}
	for (u32 i = 0; i < b->nr_vfio; i++) {
		if (b->vfio_pci[i])
			vfio_pci_destroy(b->vfio_pci[i]);
		free(b->vfio_pci[i]);
		if (b->vfio[i])
			vfio_dev_close(b->vfio[i]);
		free(b->vfio[i]);
	}
	b->nr_vfio = 0;
	vfio_container_close(&b->vfio_c);
	/* Transports before the devices they point to. */
	for (u32 i = 0; i < b->nr_vt; i++) {
		if (b->vt[i].pci)
			virtio_pci_destroy(b->vt[i].pci);
		if (b->vt[i].mmio)
			virtio_mmio_destroy(b->vt[i].mmio);
		free(b->vt[i].pci);
		free(b->vt[i].mmio);
	}
	b->nr_vt = 0;
	if (b->rng)
		virtio_rng_destroy(b->rng);
	if (b->con_ready)
		virtio_console_destroy(b->con);
	free(b->con);
	for (u32 i = 0; i < b->nr_p9; i++) {
		if (b->p9[i])
			virtio_9p_destroy(b->p9[i]);
		free(b->p9[i]);
	}
	for (u32 i = 0; i < b->nr_blk; i++) {
		if (b->blk[i])
			virtio_blk_destroy(b->blk[i]);
		free(b->blk[i]);
	}
	for (u32 i = 0; i < b->nr_net; i++) {
		if (b->net[i])
			virtio_net_destroy(b->net[i]);
		free(b->net[i]);
	}
	free(b->rng);
	if (b->loop_ready)
		ioloop_destroy(&b->loop);
	if (b->uart.wake_fd >= 0)
		uart8250_destroy(&b->uart);
}
