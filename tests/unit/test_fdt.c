// SPDX-License-Identifier: GPL-2.0
/*
 * arm64/fdt.c: build DTBs for several machine shapes, read them back with
 * libfdt against arm64/layout.h, and have dtc decompile each one: dtc's
 * default checks encode the DT conventions, so any stderr output is a bug.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "arm64/layout.h"
#include "tests/unit/test.h"

#define AFF_MASK      ((u64)0xff00ffffff)
#define MAX_TEST_CPUS 600

static u64 mpidrs[MAX_TEST_CPUS];
static const u8 seed[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/*
 * MPIDR_EL1 as KVM resets it (reset_mpidr(), arch/arm64/kvm/sys_regs.c):
 * Aff0 = vcpu_id[3:0] (GICv3 SGIs target at most 16 CPUs per Aff0 group),
 * Aff1 = vcpu_id[11:4], Aff2 = vcpu_id[19:12], and bit 31 is RES1.
 */
static u64 kvm_mpidr(u32 id)
{
	return (u64)(id & 0xf) | (u64)((id >> 4) & 0xff) << 8 | (u64)((id >> 12) & 0xff) << 16 |
	       1ULL << 31;
}

static struct fdt_params params(u32 nr_cpus, enum gic_version gic, bool its)
{
	struct fdt_params p = {
		.nr_cpus = nr_cpus,
		.mpidr = mpidrs,
		.gic = gic,
		.its = its,
		.psci_version = PSCI_VER(1, 0),
		.ram_base = ARM_RAM_BASE,
		.ram_size = 256 * SZ_1M,
		.kaslr_seed = 0x0123456789abcdefULL,
		.serial_stdout = true,
	};

	for (u32 i = 0; i < MAX_TEST_CPUS; i++)
		mpidrs[i] = kvm_mpidr(i);
	return p;
}

/* Builds into a 2 MiB heap buffer (malloc: 8-byte aligned, as libfdt wants). */
static void *build(const struct fdt_params *p, int *size)
{
	void *buf = calloc(1, ARM_DTB_MAX_SIZE);

	*size = fdt_build(p, buf, ARM_DTB_MAX_SIZE);
	return buf;
}

static void path_at(char *buf, size_t len, const char *prefix, u64 addr)
{
	snprintf(buf, len, "%s@%" PRIx64, prefix, addr);
}

static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	int off = fdt_path_offset(fdt, path);

	*len = -1;
	return off < 0 ? NULL : fdt_getprop(fdt, off, name, len);
}

static bool has(const void *fdt, const char *path, const char *name)
{
	int len;

	return prop(fdt, path, name, &len) != NULL;
}

/* Missing or wrongly sized properties read as a marker value that no check expects. */
static u32 get_u32(const void *fdt, const char *path, const char *name)
{
	int len;
	const fdt32_t *v = prop(fdt, path, name, &len);

	return v && len == 4 ? fdt32_ld(v) : 0xdeadbeef;
}

static u64 cells64(const fdt32_t *v, int i)
{
	return (u64)fdt32_ld(&v[2 * i]) << 32 | fdt32_ld(&v[2 * i + 1]);
}

static u64 get_u64(const void *fdt, const char *path, const char *name)
{
	int len;
	const fdt32_t *v = prop(fdt, path, name, &len);

	return v && len == 8 ? cells64(v, 0) : 0xdeadbeefdeadbeefULL;
}

static const char *get_str(const void *fdt, const char *path, const char *name)
{
	int len;
	const char *s = prop(fdt, path, name, &len);

	return s && len > 0 && s[len - 1] == '\0' ? s : NULL;
}

/* The @idx-th string of a string-list property, or NULL. */
static const char *get_strlist(const void *fdt, const char *path, const char *name, int idx)
{
	int off = fdt_path_offset(fdt, path);

	return off < 0 ? NULL : fdt_stringlist_get(fdt, off, name, idx, NULL);
}

static int count_strings(const void *fdt, const char *path, const char *name)
{
	int off = fdt_path_offset(fdt, path);

	return off < 0 ? off : fdt_stringlist_count(fdt, off, name);
}

/* "reg" of (2-cell address, 2-cell size) pairs must equal @want. */
static void check_reg(const void *fdt, const char *path, const u64 *want, int n)
{
	int len;
	const fdt32_t *v = prop(fdt, path, "reg", &len);

	CHECK_EQ_U64(len, n * 8);
	if (!v || len != n * 8)
		return;
	for (int i = 0; i < n; i++)
		CHECK_EQ_U64(cells64(v, i), want[i]);
}

static void check_irq(const void *fdt, const char *path, u32 type, u32 num, u32 flags)
{
	int len;
	const fdt32_t *v = prop(fdt, path, "interrupts", &len);

	CHECK_EQ_U64(len, 12);
	if (!v || len != 12)
		return;
	CHECK_EQ_U64(fdt32_ld(&v[0]), type);
	CHECK_EQ_U64(fdt32_ld(&v[1]), num);
	CHECK_EQ_U64(fdt32_ld(&v[2]), flags);
}

/*
 * Every node@addr: addr is the node's first reg address (in its parent's
 * #address-cells) in lowercase hex without leading zeros; nodes without a
 * unit address have no reg. dtc only checks that both are present.
 */
static void check_unit_addresses(const void *fdt)
{
	for (int off = 0; off >= 0; off = fdt_next_node(fdt, off, NULL)) {
		const char *name = fdt_get_name(fdt, off, NULL);
		const char *at = name ? strchr(name, '@') : NULL;
		int len, ac;
		const fdt32_t *reg = fdt_getprop(fdt, off, "reg", &len);
		char want[32];
		u64 addr = 0;

		if (!at) {
			CHECK(reg == NULL);
			continue;
		}
		ac = fdt_address_cells(fdt, fdt_parent_offset(fdt, off));
		CHECK(reg && ac > 0 && len >= ac * 4);
		if (!reg || ac <= 0 || len < ac * 4)
			continue;
		for (int i = 0; i < ac; i++)
			addr = addr << 32 | fdt32_ld(&reg[i]);
		snprintf(want, sizeof(want), "%" PRIx64, addr);
		CHECK_STR(at + 1, want);
	}
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
	char dtb[] = "/tmp/coho-test-fdt-XXXXXX", err[64], cmd[256], out[512];
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

static void check_cpus(const void *fdt, const struct fdt_params *p)
{
	bool wide = false;
	int cpus = fdt_path_offset(fdt, "/cpus"), off, n = 0;

	for (u32 i = 0; i < p->nr_cpus; i++)
		wide |= (p->mpidr[i] & AFF_MASK) >> 32 != 0;
	CHECK(cpus >= 0);
	CHECK_EQ_U64(get_u32(fdt, "/cpus", "#address-cells"), wide ? 2 : 1);
	CHECK_EQ_U64(get_u32(fdt, "/cpus", "#size-cells"), 0);
	/* Linux numbers CPUs in DT order, so the nodes follow the vCPU order. */
	fdt_for_each_subnode(off, fdt, cpus)
	{
		u64 aff = p->mpidr[n] & AFF_MASK;
		char name[32];
		int len;
		const fdt32_t *reg = fdt_getprop(fdt, off, "reg", &len);

		path_at(name, sizeof(name), "cpu", aff);
		CHECK_STR(fdt_get_name(fdt, off, NULL), name);
		CHECK_STR(fdt_getprop(fdt, off, "device_type", NULL), "cpu");
		CHECK_STR(fdt_getprop(fdt, off, "compatible", NULL), "arm,arm-v8");
		CHECK_STR(fdt_getprop(fdt, off, "enable-method", NULL), "psci");
		CHECK(reg && len == (wide ? 8 : 4));
		if (reg && len == 8)
			CHECK_EQ_U64(cells64(reg, 0), aff);
		else if (reg && len == 4)
			CHECK_EQ_U64(fdt32_ld(reg), aff);
		if (++n == (int)p->nr_cpus)
			break;
	}
	CHECK_EQ_U64(n, p->nr_cpus);
	/* ...and nothing follows the last one. */
	CHECK(off < 0 || fdt_next_subnode(fdt, off) < 0);
}

static void check_gic(const void *fdt, const struct fdt_params *p)
{
	const u64 v3[] = { ARM_GIC_DIST_BASE, ARM_GIC_DIST_SIZE, ARM_GIC_REDIST_BASE,
			   p->nr_cpus * ARM_GIC_REDIST_STRIDE };
	const u64 v2[] = { ARM_GIC_DIST_BASE, ARM_GIC_DIST_SIZE, ARM_GIC_CPUI_BASE,
			   ARM_GIC_CPUI_SIZE };
	const u64 its_reg[] = { ARM_GIC_ITS_BASE, ARM_GIC_ITS_SIZE };
	char gic[64], its[128];
	int len;

	path_at(gic, sizeof(gic), "/intc", ARM_GIC_DIST_BASE);
	snprintf(its, sizeof(its), "%s/msi-controller@%" PRIx64, gic, (u64)ARM_GIC_ITS_BASE);
	CHECK_EQ_U64(fdt_path_offset(fdt, gic), fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_GIC));
	CHECK_EQ_U64(get_u32(fdt, gic, "phandle"), FDT_PHANDLE_GIC);
	CHECK_EQ_U64(get_u32(fdt, gic, "#interrupt-cells"), 3);
	CHECK(prop(fdt, gic, "interrupt-controller", &len) && len == 0);
	CHECK_EQ_U64(get_u32(fdt, gic, "#address-cells"), FDT_GIC_ADDR_CELLS(p->gic));
	if (p->gic == GIC_V3) {
		CHECK_STR(get_str(fdt, gic, "compatible"), "arm,gic-v3");
		check_reg(fdt, gic, v3, 4);
		CHECK_EQ_U64(get_u32(fdt, gic, "#size-cells"), 2);
		CHECK(prop(fdt, gic, "ranges", &len) && len == 0);
	} else {
		CHECK_STR(get_str(fdt, gic, "compatible"), "arm,cortex-a15-gic");
		check_reg(fdt, gic, v2, 4);
		CHECK(!has(fdt, gic, "ranges"));
	}
	CHECK_EQ_U64(fdt_path_offset(fdt, its) >= 0, p->its);
	CHECK_EQ_U64(fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_ITS) >= 0, p->its);
	if (!p->its)
		return;
	CHECK_EQ_U64(fdt_path_offset(fdt, its), fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_ITS));
	CHECK_STR(get_str(fdt, its, "compatible"), "arm,gic-v3-its");
	CHECK(prop(fdt, its, "msi-controller", &len) && len == 0);
	CHECK_EQ_U64(get_u32(fdt, its, "#msi-cells"), 1);
	check_reg(fdt, its, its_reg, 2);
}

static void check_timer(const void *fdt, const struct fdt_params *p)
{
	const u32 ppis[] = { ARM_TIMER_PPI_SEC, ARM_TIMER_PPI_NONSEC, ARM_TIMER_PPI_VIRT,
			     ARM_TIMER_PPI_HYP };
	u32 flags = FDT_IRQ_TYPE_LEVEL_LOW;
	int len;
	const fdt32_t *v = prop(fdt, "/timer", "interrupts", &len);

	if (p->gic == GIC_V2)
		flags |= ((1U << p->nr_cpus) - 1) << 8;
	CHECK_STR(get_str(fdt, "/timer", "compatible"), "arm,armv8-timer");
	CHECK(has(fdt, "/timer", "always-on"));
	CHECK_EQ_U64(len, 4 * 12);
	if (!v || len != 4 * 12)
		return;
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_U64(fdt32_ld(&v[3 * i]), FDT_GIC_PPI);
		CHECK_EQ_U64(fdt32_ld(&v[3 * i + 1]), ppis[i]);
		CHECK_EQ_U64(fdt32_ld(&v[3 * i + 2]), flags);
	}
}

static void check_devices(const void *fdt)
{
	const u64 uart_reg[] = { ARM_UART_BASE, ARM_UART_SIZE };
	const u64 rtc_reg[] = { ARM_RTC_BASE, ARM_RTC_SIZE };
	char uart[32], rtc[32];

	CHECK_EQ_U64(fdt_path_offset(fdt, "/apb-pclk"),
		     fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_CLK));
	CHECK_STR(get_str(fdt, "/apb-pclk", "compatible"), "fixed-clock");
	CHECK_EQ_U64(get_u32(fdt, "/apb-pclk", "#clock-cells"), 0);
	CHECK_EQ_U64(get_u32(fdt, "/apb-pclk", "clock-frequency"), 24000000);
	CHECK_STR(get_str(fdt, "/apb-pclk", "clock-output-names"), "clk24mhz");

	path_at(uart, sizeof(uart), "/serial", ARM_UART_BASE);
	CHECK_STR(get_str(fdt, uart, "compatible"), "ns16550a");
	check_reg(fdt, uart, uart_reg, 2);
	CHECK_EQ_U64(get_u32(fdt, uart, "clock-frequency"), ARM_UART_CLOCK_HZ);
	check_irq(fdt, uart, FDT_GIC_SPI, ARM_UART_SPI, FDT_IRQ_TYPE_LEVEL_HIGH);
	CHECK_EQ_U64(get_u32(fdt, uart, "reg-shift"), 0);
	CHECK_EQ_U64(get_u32(fdt, uart, "reg-io-width"), 1);

	path_at(rtc, sizeof(rtc), "/rtc", ARM_RTC_BASE);
	CHECK_EQ_U64(count_strings(fdt, rtc, "compatible"), 2);
	CHECK_STR(get_strlist(fdt, rtc, "compatible", 0), "arm,pl031");
	CHECK_STR(get_strlist(fdt, rtc, "compatible", 1), "arm,primecell");
	check_reg(fdt, rtc, rtc_reg, 2);
	check_irq(fdt, rtc, FDT_GIC_SPI, ARM_RTC_SPI, FDT_IRQ_TYPE_LEVEL_HIGH);
	CHECK_EQ_U64(get_u32(fdt, rtc, "clocks"), FDT_PHANDLE_CLK);
	CHECK_STR(get_str(fdt, rtc, "clock-names"), "apb_pclk");
}

static void check_chosen(const void *fdt, const struct fdt_params *p)
{
	const char *stdout_path = get_str(fdt, "/chosen", "stdout-path");
	char uart[32];
	int len;
	const void *rng = prop(fdt, "/chosen", "rng-seed", &len);

	if (p->bootargs && p->bootargs[0])
		CHECK_STR(get_str(fdt, "/chosen", "bootargs"), p->bootargs);
	else
		CHECK(!has(fdt, "/chosen", "bootargs"));
	path_at(uart, sizeof(uart), "/serial", ARM_UART_BASE);
	if (p->serial_stdout) {
		CHECK_STR(stdout_path, uart);
		/* It must name the real node, or the kernel picks no console. */
		CHECK(stdout_path && fdt_path_offset(fdt, stdout_path) >= 0);
	} else {
		CHECK(stdout_path == NULL);
	}
	if (p->initrd_end != p->initrd_start) {
		CHECK_EQ_U64(get_u64(fdt, "/chosen", "linux,initrd-start"), p->initrd_start);
		CHECK_EQ_U64(get_u64(fdt, "/chosen", "linux,initrd-end"), p->initrd_end);
	} else {
		CHECK(!has(fdt, "/chosen", "linux,initrd-start"));
		CHECK(!has(fdt, "/chosen", "linux,initrd-end"));
	}
	CHECK_EQ_U64(get_u64(fdt, "/chosen", "kaslr-seed"), p->kaslr_seed);
	if (p->rng_seed_len) {
		CHECK(rng && len == (int)p->rng_seed_len);
		CHECK(rng && len == (int)p->rng_seed_len && !memcmp(rng, p->rng_seed, (size_t)len));
	} else {
		CHECK(rng == NULL);
	}
}

/* Everything @p determines, plus dtc's verdict. */
static void check_all(const void *fdt, int size, const struct fdt_params *p)
{
	const u64 mem_reg[] = { p->ram_base, p->ram_size };
	char mem[32];

	CHECK(size > 0);
	if (size <= 0)
		return;
	CHECK_EQ_U64(fdt_check_header(fdt), 0);
	CHECK_EQ_U64(fdt_totalsize(fdt), size);
	CHECK_STR(get_str(fdt, "/", "compatible"), "linux,dummy-virt");
	CHECK_STR(get_str(fdt, "/", "model"), "coho");
	CHECK_EQ_U64(get_u32(fdt, "/", "#address-cells"), 2);
	CHECK_EQ_U64(get_u32(fdt, "/", "#size-cells"), 2);
	CHECK_EQ_U64(get_u32(fdt, "/", "interrupt-parent"), FDT_PHANDLE_GIC);

	check_cpus(fdt, p);
	if (p->psci_version >= PSCI_VER(1, 0)) {
		CHECK_EQ_U64(count_strings(fdt, "/psci", "compatible"), 2);
		CHECK_STR(get_strlist(fdt, "/psci", "compatible", 0), "arm,psci-1.0");
		CHECK_STR(get_strlist(fdt, "/psci", "compatible", 1), "arm,psci-0.2");
	} else {
		CHECK_EQ_U64(count_strings(fdt, "/psci", "compatible"), 1);
		CHECK_STR(get_strlist(fdt, "/psci", "compatible", 0), "arm,psci-0.2");
	}
	CHECK_STR(get_str(fdt, "/psci", "method"), "hvc");

	path_at(mem, sizeof(mem), "/memory", p->ram_base);
	CHECK_STR(get_str(fdt, mem, "device_type"), "memory");
	check_reg(fdt, mem, mem_reg, 2);

	check_gic(fdt, p);
	check_timer(fdt, p);
	check_devices(fdt);
	check_chosen(fdt, p);
	check_unit_addresses(fdt);
	check_dtc(fdt, size);
}

static void test_gicv3_its_4cpus_everything(void)
{
	struct fdt_params p = params(4, GIC_V3, true);
	int size;
	void *fdt;

	p.bootargs = "console=ttyS0 quiet panic=-1";
	p.initrd_start = ARM_RAM_BASE + 0x8000000;
	p.initrd_end = p.initrd_start + 0x123456;
	p.rng_seed = seed;
	p.rng_seed_len = sizeof(seed);
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	/* Spelled out once, independent of the helpers above. */
	CHECK(fdt_path_offset(fdt, "/cpus/cpu@3") >= 0);
	CHECK(fdt_path_offset(fdt, "/intc@8000000/msi-controller@8020000") >= 0);
	CHECK_STR(get_str(fdt, "/chosen", "stdout-path"), "/serial@9000000");
	free(fdt);
}

static void test_gicv3_1cpu_minimal(void)
{
	struct fdt_params p = params(1, GIC_V3, false);
	int size;
	void *fdt;

	p.psci_version = PSCI_VER(0, 2);
	p.serial_stdout = false;
	p.kaslr_seed = 0;
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	free(fdt);
}

static void test_gicv3_no_its_psci11(void)
{
	struct fdt_params p = params(4, GIC_V3, false);
	int size;
	void *fdt;

	p.psci_version = PSCI_VER(1, 1);
	p.bootargs = "";
	p.initrd_start = p.initrd_end = ARM_RAM_BASE + SZ_1M; /* empty: no initrd */
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	CHECK(!has(fdt, "/chosen", "bootargs"));
	free(fdt);
}

static void test_gicv2_1cpu(void)
{
	struct fdt_params p = params(1, GIC_V2, false);
	int size;
	void *fdt;

	p.psci_version = PSCI_VER(0, 2);
	p.bootargs = "console=ttyS0";
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	free(fdt);
}

static void test_gicv2_4cpus(void)
{
	struct fdt_params p = params(4, GIC_V2, false);
	int size, len;
	void *fdt;
	const fdt32_t *v;

	p.initrd_start = ARM_RAM_BASE + 0x4000000;
	p.initrd_end = p.initrd_start + SZ_4K;
	p.rng_seed = seed;
	p.rng_seed_len = 1;
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	/* GICv2 PPI flags: CPU mask 0xf in bits 15:8 over level-low (8). */
	v = prop(fdt, "/timer", "interrupts", &len);
	CHECK(v && len == 48 && fdt32_ld(&v[2]) == 0xf08);
	free(fdt);
}

static void test_gicv2_8cpus(void)
{
	struct fdt_params p = params(ARM_GICV2_MAX_CPUS, GIC_V2, false);
	int size, len;
	void *fdt;
	const fdt32_t *v;

	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	v = prop(fdt, "/timer", "interrupts", &len);
	CHECK(v && len == 48 && fdt32_ld(&v[11]) == 0xff08);
	free(fdt);
}

/* KVM's layout puts vCPU 16 at Aff1 = 1: cpu@100. */
static void test_kvm_mpidr_clusters(void)
{
	struct fdt_params p = params(20, GIC_V3, true);
	int size;
	void *fdt;

	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	CHECK_EQ_U64(get_u32(fdt, "/cpus/cpu@f", "reg"), 0xf);
	CHECK_EQ_U64(get_u32(fdt, "/cpus/cpu@100", "reg"), 0x100);
	CHECK_EQ_U64(get_u32(fdt, "/cpus/cpu@103", "reg"), 0x103);
	free(fdt);
}

/* reg keeps Aff3..Aff0 only: RES1 bit 31, U (30) and MT (24) are stripped. */
static void test_mpidr_strips_non_affinity(void)
{
	struct fdt_params p = params(2, GIC_V3, false);
	int size;
	void *fdt;

	mpidrs[0] = 1ULL << 31 | 1ULL << 30 | 1ULL << 24 | 0x020100;
	mpidrs[1] = 0xffffffff00000000ULL | 1ULL << 31 | 0x7;
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	/* Aff3 of vCPU 1 is 0xff, so the cells widen to 2. */
	CHECK_EQ_U64(get_u32(fdt, "/cpus", "#address-cells"), 2);
	CHECK_EQ_U64(get_u64(fdt, "/cpus/cpu@20100", "reg"), 0x020100);
	CHECK_EQ_U64(get_u64(fdt, "/cpus/cpu@ff00000007", "reg"), 0xff00000007ULL);
	free(fdt);
}

static void test_mpidr_aff3(void)
{
	struct fdt_params p = params(2, GIC_V3, false);
	int size;
	void *fdt;

	mpidrs[1] = 1ULL << 32 | 1ULL << 31;
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	CHECK_EQ_U64(get_u64(fdt, "/cpus/cpu@0", "reg"), 0);
	CHECK_EQ_U64(get_u64(fdt, "/cpus/cpu@100000000", "reg"), 1ULL << 32);
	free(fdt);
}

/* The redistributor region holds exactly ARM_GICV3_MAX_CPUS frames. */
static void test_gicv3_max_cpus(void)
{
	struct fdt_params p = params(ARM_GICV3_MAX_CPUS, GIC_V3, true);
	const u64 gic_reg[] = { ARM_GIC_DIST_BASE, ARM_GIC_DIST_SIZE, ARM_GIC_REDIST_BASE,
				ARM_GIC_REDIST_SIZE };
	char gic[32];
	int size;
	void *fdt;

	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	path_at(gic, sizeof(gic), "/intc", ARM_GIC_DIST_BASE);
	check_reg(fdt, gic, gic_reg, 4);
	free(fdt);

	p.nr_cpus = ARM_GICV3_MAX_CPUS + 1;
	fdt = build(&p, &size);
	CHECK_EQ_U64(size, -EINVAL);
	free(fdt);
}

/*
 * libfdt's sequential writer needs a few bytes beyond the packed size while it
 * works; the smallest buffer that succeeds stays within 64 bytes of the result
 * and produces the same blob, and anything smaller is -ENOSPC.
 */
static void test_buffer_size(void)
{
	struct fdt_params p = params(4, GIC_V3, true);
	int size, min = -1;
	void *fdt = build(&p, &size), *small;

	CHECK(size > 0);
	if (size <= 0) {
		free(fdt);
		return;
	}
	small = malloc((size_t)size + 64);
	for (int n = size; n <= size + 64 && min < 0; n++)
		if (fdt_build(&p, small, (size_t)n) == size)
			min = n;
	CHECK(min >= size);
	CHECK(min >= size && !memcmp(small, fdt, (size_t)size));
	CHECK_EQ_U64(fdt_build(&p, small, (size_t)min - 1), -ENOSPC);
	CHECK_EQ_U64(fdt_build(&p, small, (size_t)size / 2), -ENOSPC);
	CHECK_EQ_U64(fdt_build(&p, small, 16), -ENOSPC);
	CHECK_EQ_U64(fdt_build(&p, small, 0), -ENOSPC);
	free(small);
	free(fdt);

	/* A buffer larger than the 2 MiB DTB limit is fine (only 2 MiB is used). */
	fdt = malloc(2 * ARM_DTB_MAX_SIZE);
	CHECK_EQ_U64(fdt_build(&p, fdt, 2 * ARM_DTB_MAX_SIZE), size);
	free(fdt);
}

static int expect_einval(struct fdt_params *p)
{
	int size;
	void *fdt = build(p, &size);

	free(fdt);
	return size;
}

static void test_bad_params(void)
{
	struct fdt_params p;
	char buf[64];

	p = params(0, GIC_V3, false);
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(ARM_GICV2_MAX_CPUS + 1, GIC_V2, false);
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V2, true); /* ITS with GICv2 */
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, (enum gic_version)4, false);
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	p.mpidr = NULL;
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(2, GIC_V3, false);
	mpidrs[1] = mpidrs[0] | 1ULL << 30; /* same affinity as vCPU 0 */
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	p.psci_version = PSCI_VER(0, 1);
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	p.ram_size = 0;
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	p.ram_base = ~0ULL - SZ_4K;
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	p.initrd_start = ARM_RAM_BASE + SZ_2M;
	p.initrd_end = ARM_RAM_BASE + SZ_1M;
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	p.rng_seed_len = 8; /* with no bytes */
	CHECK_EQ_U64(expect_einval(&p), -EINVAL);
	p = params(1, GIC_V3, false);
	CHECK_EQ_U64(fdt_build(NULL, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_U64(fdt_build(&p, NULL, 4096), -EINVAL);
}

struct hook_ctx {
	int calls;
	u32 gic_phandle;
	int ret;
	bool flood;
};

/* A device node as #3/#4 would add one, referencing the GIC explicitly. */
static int hook(void *fdt, u32 gic_phandle, void *opaque)
{
	struct hook_ctx *ctx = opaque;
	fdt32_t reg[4] = { 0, cpu_to_fdt32(ARM_VIRTIO_MMIO_BASE), 0, cpu_to_fdt32(0x200) };
	fdt32_t irq[3] = { cpu_to_fdt32(FDT_GIC_SPI), cpu_to_fdt32(ARM_VIRTIO_MMIO_SPI),
			   cpu_to_fdt32(FDT_IRQ_TYPE_EDGE_RISING) };
	char name[32];
	void *val;
	int r;

	ctx->calls++;
	ctx->gic_phandle = gic_phandle;
	if (ctx->ret)
		return ctx->ret;
	path_at(name, sizeof(name), "virtio", ARM_VIRTIO_MMIO_BASE);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property_string(fdt, "compatible", "virtio,mmio");
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property_u32(fdt, "interrupt-parent", gic_phandle);
	r = r ?: fdt_property(fdt, "interrupts", irq, sizeof(irq));
	r = r ?: fdt_property(fdt, "dma-coherent", NULL, 0);
	/* A property too large for any DTB: the buffer runs out inside the hook. */
	if (!r && ctx->flood)
		r = fdt_property_placeholder(fdt, "flood", (int)ARM_DTB_MAX_SIZE, &val);
	r = r ?: fdt_end_node(fdt);
	return r < 0 ? fdt_err_to_errno(r) : 0;
}

static void test_add_nodes_hook(void)
{
	struct fdt_params p = params(2, GIC_V3, true);
	struct hook_ctx ctx = { 0 };
	char path[32];
	int size;
	void *fdt;

	p.add_nodes = hook;
	p.opaque = &ctx;
	fdt = build(&p, &size);
	check_all(fdt, size, &p);
	CHECK_EQ_U64(ctx.calls, 1);
	CHECK_EQ_U64(ctx.gic_phandle, FDT_PHANDLE_GIC);
	path_at(path, sizeof(path), "/virtio", ARM_VIRTIO_MMIO_BASE);
	CHECK_STR(get_str(fdt, path, "compatible"), "virtio,mmio");
	check_irq(fdt, path, FDT_GIC_SPI, ARM_VIRTIO_MMIO_SPI, FDT_IRQ_TYPE_EDGE_RISING);
	free(fdt);

	ctx.ret = -EIO;
	fdt = build(&p, &size);
	CHECK_EQ_U64(size, -EIO);
	free(fdt);

	ctx.ret = 0;
	ctx.flood = true;
	fdt = build(&p, &size);
	CHECK_EQ_U64(size, -ENOSPC);
	free(fdt);
}

static void test_err_to_errno(void)
{
	CHECK_EQ_U64(fdt_err_to_errno(-FDT_ERR_NOSPACE), -ENOSPC);
	CHECK_EQ_U64(fdt_err_to_errno(-FDT_ERR_BADSTRUCTURE), -EINVAL);
}

TEST_MAIN(test_gicv3_its_4cpus_everything, test_gicv3_1cpu_minimal, test_gicv3_no_its_psci11,
	  test_gicv2_1cpu, test_gicv2_4cpus, test_gicv2_8cpus, test_kvm_mpidr_clusters,
	  test_mpidr_strips_non_affinity, test_mpidr_aff3, test_gicv3_max_cpus, test_buffer_size,
	  test_bad_params, test_add_nodes_hook, test_err_to_errno)
