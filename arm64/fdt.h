/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_FDT_H
#define COHO_ARM64_FDT_H

#include "util/types.h"

enum gic_version {
	GIC_V2 = 2,
	GIC_V3 = 3,
};

/*
 * Fixed phandles: the nodes fdt_build() emits always carry these values, so
 * device hooks reference them without looking anything up (the ITS exists only
 * when p->its). Hooks that need phandles of their own take them from
 * FDT_PHANDLE_FIRST_FREE upwards.
 */
#define FDT_PHANDLE_GIC	       1 /* the GIC: root interrupt-parent */
#define FDT_PHANDLE_ITS	       2 /* GICv3 ITS (if p->its): msi-parent / msi-map */
#define FDT_PHANDLE_CLK	       3 /* 24 MHz apb_pclk for AMBA (PrimeCell) devices */
#define FDT_PHANDLE_FIRST_FREE 16

/* GIC interrupt specifier cells (include/dt-bindings/interrupt-controller/). */
#define FDT_GIC_SPI		 0
#define FDT_GIC_PPI		 1
#define FDT_IRQ_TYPE_EDGE_RISING 1
#define FDT_IRQ_TYPE_LEVEL_HIGH	 4
#define FDT_IRQ_TYPE_LEVEL_LOW	 8

/*
 * #address-cells of the GIC node: the parent unit-address cells an
 * interrupt-map entry carries before the GIC's 3 interrupt cells. GICv3 has 2
 * (it parents the ITS node), GICv2 0.
 */
#define FDT_GIC_ADDR_CELLS(gic) ((gic) == GIC_V3 ? 2 : 0)

/* KVM's PSCI version encoding: major << 16 | minor (0.2 = 0x2, 1.0 = 0x10000). */
#define PSCI_VER(maj, min) ((u32)(maj) << 16 | (u32)(min))

struct fdt_params {
	u32 nr_cpus;
	const u64 *mpidr; /* nr_cpus MPIDR_EL1 values, read from the vCPUs */
	enum gic_version gic;
	bool its;	  /* GICv3 ITS present (GICv3 only) */
	u32 psci_version; /* PSCI_VER(): selects arm,psci-1.0 vs arm,psci-0.2 */
	u64 ram_base;
	u64 ram_size;
	const char *bootargs; /* may be NULL or "" */
	u64 initrd_start;     /* initrd_end == initrd_start: no initrd */
	u64 initrd_end;
	u64 kaslr_seed;
	const u8 *rng_seed; /* rng_seed_len bytes; none if 0 */
	size_t rng_seed_len;
	bool serial_stdout; /* stdout-path points at the 8250 UART */
	/*
	 * Devices added later (#3, #4) append their own nodes through this
	 * hook. It runs inside the open root node of a libfdt sequential-write
	 * tree (after /chosen), so it must emit whole nodes with
	 * fdt_begin_node()/fdt_property*()/fdt_end_node(). It returns 0 or
	 * -errno (fdt_err_to_errno() converts libfdt's codes; -ENOSPC means the
	 * buffer is full); fdt_build() logs the failure.
	 */
	int (*add_nodes)(void *fdt, u32 gic_phandle, void *opaque);
	void *opaque;
};

/*
 * Build the guest device tree into @buf (@size bytes, at most
 * ARM_DTB_MAX_SIZE is ever needed). Returns the packed DTB size or -errno,
 * logging one line on failure.
 */
int fdt_build(const struct fdt_params *p, void *buf, size_t size);

/* A negative libfdt error (-FDT_ERR_*) as -errno: NOSPACE is -ENOSPC, the rest -EINVAL. */
int fdt_err_to_errno(int fdt_err);

#endif
