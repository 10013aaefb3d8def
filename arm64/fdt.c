// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 guest device tree, built with libfdt's sequential-write API from
 * the constants of arm64/layout.h. Nodes are emitted in one pass; device
 * hooks (p->add_nodes) append theirs inside the root node. docs/device-tree.md
 * lists what is generated and why.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "arm64/layout.h"
#include "util/log.h"

/* MPIDR_EL1 affinity fields Aff3 (39:32) and Aff2..Aff0 (23:0): what a cpu node's reg holds. */
#define MPIDR_AFF_MASK ((u64)0xff00ffffff)

/* AMBA (PrimeCell) drivers refuse to probe without an "apb_pclk"; the rate is nominal. */
#define APB_PCLK_HZ 24000000

/* Stop a builder step at the first libfdt error (a negative -FDT_ERR_* code). */
#define TRY(call)                                                                                  \
	do {                                                                                       \
		int _r = (call);                                                                   \
		if (_r < 0)                                                                        \
			return _r;                                                                 \
	} while (0)

/* A string-list property from a literal such as "a\0b": sizeof keeps the embedded NULs. */
#define prop_strlist(fdt, name, lit) fdt_property(fdt, name, lit, sizeof(lit))

int fdt_err_to_errno(int fdt_err)
{
	return fdt_err == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
}

/* DT spec 2.2.1: unit address = first reg address, hex, no leading zeros. */
static int begin_node_at(void *fdt, const char *name, u64 addr)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s@%" PRIx64, name, addr);
	return fdt_begin_node(fdt, buf);
}

/* "reg" of (address, size) pairs; the root and the GIC both use 2 + 2 cells. */
static int prop_reg(void *fdt, const u64 *vals, int n)
{
	fdt64_t cells[4];

	for (int i = 0; i < n; i++)
		cells[i] = cpu_to_fdt64(vals[i]);
	return fdt_property(fdt, "reg", cells, n * (int)sizeof(cells[0]));
}

static int prop_irq(void *fdt, u32 type, u32 num, u32 flags)
{
	fdt32_t cells[3] = { cpu_to_fdt32(type), cpu_to_fdt32(num), cpu_to_fdt32(flags) };

	return fdt_property(fdt, "interrupts", cells, sizeof(cells));
}

static int add_cpus(void *fdt, const struct fdt_params *p)
{
	bool wide = false;

	/* Aff3 lives above bit 31: only then does reg need two cells. */
	for (u32 i = 0; i < p->nr_cpus; i++)
		wide |= (p->mpidr[i] & MPIDR_AFF_MASK) >> 32 != 0;

	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", wide ? 2 : 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (u32 i = 0; i < p->nr_cpus; i++) {
		u64 aff = p->mpidr[i] & MPIDR_AFF_MASK;

		TRY(begin_node_at(fdt, "cpu", aff));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		if (wide)
			TRY(fdt_property_u64(fdt, "reg", aff));
		else
			TRY(fdt_property_u32(fdt, "reg", (u32)aff));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

/* PSCI 0.2+ has standard function IDs, so no cpu_on/cpu_off properties are needed. */
static int add_psci(void *fdt, const struct fdt_params *p)
{
	TRY(fdt_begin_node(fdt, "psci"));
	if (p->psci_version >= PSCI_VER(1, 0))
		TRY(prop_strlist(fdt, "compatible", "arm,psci-1.0\0arm,psci-0.2"));
	else
		TRY(fdt_property_string(fdt, "compatible", "arm,psci-0.2"));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	return fdt_end_node(fdt);
}

static int add_memory(void *fdt, const struct fdt_params *p)
{
	const u64 reg[] = { p->ram_base, p->ram_size };

	TRY(begin_node_at(fdt, "memory", p->ram_base));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, reg, ARRAY_SIZE(reg)));
	return fdt_end_node(fdt);
}

static int add_its(void *fdt)
{
	const u64 reg[] = { ARM_GIC_ITS_BASE, ARM_GIC_ITS_SIZE };

	TRY(begin_node_at(fdt, "msi-controller", ARM_GIC_ITS_BASE));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
	TRY(fdt_property(fdt, "msi-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#msi-cells", 1)); /* the DeviceID */
	TRY(prop_reg(fdt, reg, ARRAY_SIZE(reg)));
	TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_ITS));
	return fdt_end_node(fdt);
}

static int add_gic(void *fdt, const struct fdt_params *p)
{
	/* KVM lays the redistributors out back to back, one per vCPU. */
	const u64 v3_reg[] = { ARM_GIC_DIST_BASE, ARM_GIC_DIST_SIZE, ARM_GIC_REDIST_BASE,
			       p->nr_cpus * ARM_GIC_REDIST_STRIDE };
	const u64 v2_reg[] = { ARM_GIC_DIST_BASE, ARM_GIC_DIST_SIZE, ARM_GIC_CPUI_BASE,
			       ARM_GIC_CPUI_SIZE };
	bool v3 = p->gic == GIC_V3;

	TRY(begin_node_at(fdt, "intc", ARM_GIC_DIST_BASE));
	TRY(fdt_property_string(fdt, "compatible", v3 ? "arm,gic-v3" : "arm,cortex-a15-gic"));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(prop_reg(fdt, v3 ? v3_reg : v2_reg, 4));
	TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_GIC));
	/*
	 * GICv3: 2/2 cells and an identity "ranges" so the ITS child's reg is
	 * a CPU address. GICv2: #address-cells 0 so that interrupt-map entries
	 * pointing here carry no parent unit address (FDT_GIC_ADDR_CELLS).
	 */
	TRY(fdt_property_u32(fdt, "#address-cells", FDT_GIC_ADDR_CELLS(p->gic)));
	if (v3) {
		TRY(fdt_property_u32(fdt, "#size-cells", 2));
		TRY(fdt_property(fdt, "ranges", NULL, 0));
		if (p->its)
			TRY(add_its(fdt));
	}
	return fdt_end_node(fdt);
}

static int add_timer(void *fdt, const struct fdt_params *p)
{
	static const u32 ppis[] = { ARM_TIMER_PPI_SEC, ARM_TIMER_PPI_NONSEC, ARM_TIMER_PPI_VIRT,
				    ARM_TIMER_PPI_HYP };
	fdt32_t cells[3 * ARRAY_SIZE(ppis)];
	u32 flags = FDT_IRQ_TYPE_LEVEL_LOW;

	/* The GICv2 binding puts the PPI's target CPU mask in flags bits 15:8. */
	if (p->gic == GIC_V2)
		flags |= ((1U << p->nr_cpus) - 1) << 8;
	for (size_t i = 0; i < ARRAY_SIZE(ppis); i++) {
		cells[3 * i] = cpu_to_fdt32(FDT_GIC_PPI);
		cells[3 * i + 1] = cpu_to_fdt32(ppis[i]);
		cells[3 * i + 2] = cpu_to_fdt32(flags);
	}
	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(fdt_property(fdt, "interrupts", cells, sizeof(cells)));
	/* The virtual timer keeps counting while a vCPU is idle: no broadcast timer needed. */
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	return fdt_end_node(fdt);
}

static int add_clock(void *fdt)
{
	TRY(fdt_begin_node(fdt, "apb-pclk"));
	TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
	TRY(fdt_property_u32(fdt, "#clock-cells", 0));
	TRY(fdt_property_u32(fdt, "clock-frequency", APB_PCLK_HZ));
	TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
	TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_CLK));
	return fdt_end_node(fdt);
}

static int add_uart(void *fdt, const char *name)
{
	const u64 reg[] = { ARM_UART_BASE, ARM_UART_SIZE };

	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(prop_reg(fdt, reg, ARRAY_SIZE(reg)));
	TRY(fdt_property_u32(fdt, "clock-frequency", ARM_UART_CLOCK_HZ));
	TRY(prop_irq(fdt, FDT_GIC_SPI, ARM_UART_SPI, FDT_IRQ_TYPE_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "reg-shift", 0));
	TRY(fdt_property_u32(fdt, "reg-io-width", 1));
	return fdt_end_node(fdt);
}

static int add_rtc(void *fdt)
{
	const u64 reg[] = { ARM_RTC_BASE, ARM_RTC_SIZE };

	TRY(begin_node_at(fdt, "rtc", ARM_RTC_BASE));
	TRY(prop_strlist(fdt, "compatible", "arm,pl031\0arm,primecell"));
	TRY(prop_reg(fdt, reg, ARRAY_SIZE(reg)));
	TRY(prop_irq(fdt, FDT_GIC_SPI, ARM_RTC_SPI, FDT_IRQ_TYPE_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "clocks", FDT_PHANDLE_CLK));
	TRY(fdt_property_string(fdt, "clock-names", "apb_pclk"));
	return fdt_end_node(fdt);
}

static int add_chosen(void *fdt, const struct fdt_params *p, const char *uart)
{
	char path[64];

	TRY(fdt_begin_node(fdt, "chosen"));
	if (p->bootargs && p->bootargs[0])
		TRY(fdt_property_string(fdt, "bootargs", p->bootargs));
	if (p->serial_stdout) {
		snprintf(path, sizeof(path), "/%s", uart);
		TRY(fdt_property_string(fdt, "stdout-path", path));
	}
	/* 64-bit cells: the kernel reads these with of_read_number() of the property length. */
	if (p->initrd_end != p->initrd_start) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", p->initrd_end));
	}
	TRY(fdt_property_u64(fdt, "kaslr-seed", p->kaslr_seed));
	if (p->rng_seed_len)
		TRY(fdt_property(fdt, "rng-seed", p->rng_seed, (int)p->rng_seed_len));
	return fdt_end_node(fdt);
}

static int check_params(const struct fdt_params *p)
{
	u64 end;

	if (!p->nr_cpus || !p->mpidr) {
		pr_err("fdt: no vCPUs to describe");
		return -EINVAL;
	}
	if (p->gic == GIC_V2) {
		if (p->nr_cpus > ARM_GICV2_MAX_CPUS) {
			pr_err("fdt: GICv2 supports at most %d vCPUs, not %u", ARM_GICV2_MAX_CPUS,
			       p->nr_cpus);
			return -EINVAL;
		}
		if (p->its) {
			pr_err("fdt: an ITS needs GICv3");
			return -EINVAL;
		}
	} else if (p->gic == GIC_V3) {
		if (p->nr_cpus > ARM_GICV3_MAX_CPUS) {
			pr_err("fdt: the redistributor region holds %llu vCPUs, not %u",
			       ARM_GICV3_MAX_CPUS, p->nr_cpus);
			return -EINVAL;
		}
	} else {
		pr_err("fdt: unknown GIC version %d", (int)p->gic);
		return -EINVAL;
	}
	/* Two cpu nodes with one reg would be the same node name: the guest keeps one. */
	for (u32 i = 1; i < p->nr_cpus; i++) {
		for (u32 j = 0; j < i; j++) {
			if ((p->mpidr[i] ^ p->mpidr[j]) & MPIDR_AFF_MASK)
				continue;
			pr_err("fdt: vCPUs %u and %u share MPIDR affinity 0x%" PRIx64, j, i,
			       p->mpidr[i] & MPIDR_AFF_MASK);
			return -EINVAL;
		}
	}
	/* PSCI 0.1 would need the function IDs in the DT; KVM offers 0.2 and later. */
	if (p->psci_version < PSCI_VER(0, 2)) {
		pr_err("fdt: PSCI version 0x%x is older than 0.2", p->psci_version);
		return -EINVAL;
	}
	if (!p->ram_size || __builtin_add_overflow(p->ram_base, p->ram_size, &end)) {
		pr_err("fdt: bad RAM range 0x%" PRIx64 "+0x%" PRIx64, p->ram_base, p->ram_size);
		return -EINVAL;
	}
	if (p->initrd_end < p->initrd_start) {
		pr_err("fdt: initrd ends (0x%" PRIx64 ") before it starts (0x%" PRIx64 ")",
		       p->initrd_end, p->initrd_start);
		return -EINVAL;
	}
	if (p->rng_seed_len && (!p->rng_seed || p->rng_seed_len > ARM_DTB_MAX_SIZE)) {
		pr_err("fdt: bad rng-seed (%zu bytes)", p->rng_seed_len);
		return -EINVAL;
	}
	return 0;
}

/* Everything up to and including /chosen, inside the open root node. */
static int add_base_nodes(void *fdt, const struct fdt_params *p, const char *uart)
{
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(fdt, "model", "coho"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "interrupt-parent", FDT_PHANDLE_GIC));
	TRY(add_cpus(fdt, p));
	TRY(add_psci(fdt, p));
	TRY(add_memory(fdt, p));
	TRY(add_gic(fdt, p));
	TRY(add_timer(fdt, p));
	TRY(add_clock(fdt));
	TRY(add_uart(fdt, uart));
	TRY(add_rtc(fdt));
	return add_chosen(fdt, p, uart);
}

/* Log one line for a failed build; @err is -errno, @detail the cause in words. */
static int fdt_fail(int err, size_t size, const char *what, const char *detail)
{
	if (err == -ENOSPC)
		pr_err("fdt: device tree does not fit in %zu bytes", size);
	else
		pr_err("fdt: %s: %s", what, detail);
	return err;
}

int fdt_build(const struct fdt_params *p, void *buf, size_t size)
{
	char uart[32];
	int r;

	if (!p || !buf) {
		pr_err("fdt: no parameters or no buffer");
		return -EINVAL;
	}
	r = check_params(p);
	if (r)
		return r;
	/* booting.rst: the DTB must not exceed 2 MiB, so a larger buffer buys nothing. */
	if (size > ARM_DTB_MAX_SIZE)
		size = ARM_DTB_MAX_SIZE;
	/* One name for the node and for stdout-path, so they cannot disagree. */
	snprintf(uart, sizeof(uart), "serial@%" PRIx64, (u64)ARM_UART_BASE);

	r = fdt_create(buf, (int)size);
	if (!r)
		r = fdt_finish_reservemap(buf);
	if (!r)
		r = fdt_begin_node(buf, "");
	if (!r)
		r = add_base_nodes(buf, p, uart);
	if (r < 0)
		return fdt_fail(fdt_err_to_errno(r), size, "building", fdt_strerror(r));
	if (p->add_nodes) {
		r = p->add_nodes(buf, FDT_PHANDLE_GIC, p->opaque);
		if (r < 0)
			return fdt_fail(r, size, "adding device nodes", strerror(-r));
	}
	r = fdt_end_node(buf);
	if (!r)
		r = fdt_finish(buf);
	if (!r)
		r = fdt_pack(buf);
	if (r < 0)
		return fdt_fail(fdt_err_to_errno(r), size, "finishing", fdt_strerror(r));
	return (int)fdt_totalsize(buf);
}
