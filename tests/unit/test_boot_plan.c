// SPDX-License-Identifier: GPL-2.0
/*
 * arm64_plan_boot(): where the DTB and initrd go after the kernel or firmware.
 * The DTB takes the first 2 MiB boundary at or after the payload (a 2 MiB
 * slot), the initrd follows that slot, and everything stays inside RAM and
 * inside the first ARM_BOOT_WINDOW of it. Failures must not touch the plan.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arm64/boot.h"
#include "arm64/layout.h"
#include "tests/unit/test.h"

#define B      ARM_RAM_BASE
#define POISON 0xdeadbeefdeadbeefULL

/* ---- stderr capture (pr_err() writes fd 2 directly) ---- */
static char cap_buf[2048];

static const char *run_captured(const struct boot_plan_req *req, struct boot_plan *plan, int *ret)
{
	FILE *f = tmpfile();
	int saved;
	size_t n;

	if (!f) {
		perror("tmpfile");
		exit(2);
	}
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(f), STDERR_FILENO);
	*ret = arm64_plan_boot(req, plan);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(cap_buf, 1, sizeof(cap_buf) - 1, f);
	cap_buf[n] = '\0';
	fclose(f);
	return cap_buf;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Must succeed with the DTB at @dtb and the initrd right after its slot. */
static void plan_ok(u64 ram_base, u64 ram_size, u64 payload_end, u64 initrd_size, u64 dtb, int line)
{
	struct boot_plan_req req = { ram_base, ram_size, payload_end, initrd_size };
	struct boot_plan plan = { POISON, POISON, POISON };
	int ret;
	const char *err = run_captured(&req, &plan, &ret);

	CHECK_EQ_U64(ret, 0);
	CHECK_STR(err, "");
	CHECK_EQ_U64(plan.dtb_addr, dtb);
	CHECK_EQ_U64(plan.dtb_max, ARM_DTB_MAX_SIZE);
	if (initrd_size)
		CHECK_EQ_U64(plan.initrd_addr, dtb + ARM_DTB_MAX_SIZE);
	/* The invariants, whatever the numbers. */
	CHECK_EQ_U64(plan.dtb_addr % ARM_KERNEL_ALIGN, 0);
	CHECK(plan.dtb_addr >= payload_end);
	CHECK(plan.dtb_addr - payload_end < ARM_KERNEL_ALIGN);
	CHECK(plan.dtb_addr + plan.dtb_max + initrd_size <= ram_base + ram_size);
	CHECK(plan.dtb_addr + plan.dtb_max + initrd_size <= ram_base + ARM_BOOT_WINDOW);
	if (ret || plan.dtb_addr != dtb)
		fprintf(stderr, "  (case at line %d: ret %d, dtb 0x%llx)\n", line, ret,
			(unsigned long long)plan.dtb_addr);
}

/*
 * Must fail with @want, leave the plan alone, and (for -ENOSPC) log exactly one
 * line, which tells "RAM too small" (-m must grow) from "outside the boot
 * window" (the initrd must shrink) apart.
 */
enum why { ANY, RAM, WINDOW };

static void plan_err_why(u64 ram_base, u64 ram_size, u64 payload_end, u64 initrd_size, int want,
			 enum why why, int line)
{
	struct boot_plan_req req = { ram_base, ram_size, payload_end, initrd_size };
	struct boot_plan plan = { POISON, POISON, POISON };
	int ret;
	const char *err = run_captured(&req, &plan, &ret);

	CHECK_EQ_U64((u64)(s64)ret, (u64)(s64)want);
	CHECK_EQ_U64(plan.dtb_addr, POISON);
	CHECK_EQ_U64(plan.dtb_max, POISON);
	CHECK_EQ_U64(plan.initrd_addr, POISON);
	if (want == -ENOSPC) {
		CHECK(!strncmp(err, "coho: error: ", 13));
		CHECK_EQ_U64(count_lines(err), 1);
		if (why == RAM)
			CHECK(strstr(err, "guest RAM too small") != NULL);
		if (why == WINDOW)
			CHECK(strstr(err, "first 1024 MiB") != NULL);
	}
	if (ret != want)
		fprintf(stderr, "  (case at line %d: ret %d, want %d, stderr \"%s\")\n", line, ret,
			want, err);
}

#define PLAN_OK(...)	     plan_ok(__VA_ARGS__, __LINE__)
#define PLAN_ERR(...)	     plan_err_why(__VA_ARGS__, ANY, __LINE__)
#define PLAN_ERR_RAM(...)    plan_err_why(__VA_ARGS__, -ENOSPC, RAM, __LINE__)
#define PLAN_ERR_WINDOW(...) plan_err_why(__VA_ARGS__, -ENOSPC, WINDOW, __LINE__)

static void test_layout_constants(void)
{
	/* What the rest of this file assumes about layout.h. */
	CHECK_EQ_U64(ARM_KERNEL_ALIGN, 2 * SZ_1M);
	CHECK_EQ_U64(ARM_DTB_MAX_SIZE, 2 * SZ_1M);
	CHECK_EQ_U64(ARM_BOOT_WINDOW, SZ_1G);
	CHECK_EQ_U64(ARM_RAM_BASE % ARM_KERNEL_ALIGN, 0);
}

static void test_typical(void)
{
	/* A kernel ending mid-block: the DTB takes the next 2 MiB boundary. */
	PLAN_OK(B, 256 * SZ_1M, B + 0x1234567, 10 * SZ_1M, B + 0x1400000);
	PLAN_OK(B, 256 * SZ_1M, B + 1, 0, B + SZ_2M);
	PLAN_OK(B, 256 * SZ_1M, B + SZ_2M + 1, SZ_1M, B + 2 * SZ_2M);
	PLAN_OK(B, 256 * SZ_1M, B + 4 * SZ_2M - 1, SZ_1M, B + 4 * SZ_2M);
	/* payload_end exactly on a 2 MiB boundary: the DTB starts right there. */
	PLAN_OK(B, 256 * SZ_1M, B + 32 * SZ_1M, 10 * SZ_1M, B + 32 * SZ_1M);
	PLAN_OK(B, 256 * SZ_1M, B + SZ_2M, 1, B + SZ_2M);
	/* Nothing loaded (firmware-less --dump-dtb): the DTB at the start of RAM. */
	PLAN_OK(B, 256 * SZ_1M, B, 0, B);
	PLAN_OK(B, 256 * SZ_1M, B, 100 * SZ_1M, B);
	/* No initrd. */
	PLAN_OK(B, 256 * SZ_1M, B + 0x2a00000 + 0x10, 0, B + 0x2c00000);
	/* Another RAM base (2 MiB aligned). */
	PLAN_OK(0x80000000ULL, 64 * SZ_1M, 0x80000000ULL + 0x987654, 4096,
		0x80000000ULL + 0xa00000);
	PLAN_OK(0, 64 * SZ_1M, 0, 4096, 0);
}

static void test_exact_fit(void)
{
	/* Kernel to 3 MiB, DTB slot [4, 6) MiB: 6 MiB of RAM is exactly enough without initrd. */
	PLAN_OK(B, 6 * SZ_1M, B + 3 * SZ_1M, 0, B + 4 * SZ_1M);
	PLAN_ERR_RAM(B, 6 * SZ_1M, B + 3 * SZ_1M, 1);
	/* ...and 64 MiB holds an initrd of exactly 64 - 6 MiB. */
	PLAN_OK(B, 64 * SZ_1M, B + 3 * SZ_1M, 58 * SZ_1M, B + 4 * SZ_1M);
	PLAN_ERR_RAM(B, 64 * SZ_1M, B + 3 * SZ_1M, 58 * SZ_1M + 1);
	/* RAM of exactly one DTB slot and nothing else. */
	PLAN_OK(B, ARM_DTB_MAX_SIZE, B, 0, B);
	PLAN_ERR_RAM(B, ARM_DTB_MAX_SIZE, B, 1);
}

static void test_tiny_ram(void)
{
	/* Kernel plus DTB slot do not fit. */
	PLAN_ERR_RAM(B, 4 * SZ_1M, B + 3 * SZ_1M, 0);
	PLAN_ERR_RAM(B, 4 * SZ_1M, B + 3 * SZ_1M, SZ_1M);
	PLAN_ERR_RAM(B, SZ_1M, B, 0);
	PLAN_ERR_RAM(B, ARM_DTB_MAX_SIZE - 1, B, 0);
	/* Payload filling RAM to the last byte: no room for the DTB. */
	PLAN_ERR_RAM(B, 64 * SZ_1M, B + 64 * SZ_1M, 0);
	PLAN_ERR_RAM(B, 64 * SZ_1M, B + 64 * SZ_1M - 1, 0);
}

static void test_initrd_too_big_for_ram(void)
{
	PLAN_ERR_RAM(B, 64 * SZ_1M, B + 20 * SZ_1M, 60 * SZ_1M);
	PLAN_ERR_RAM(B, 64 * SZ_1M, B + 20 * SZ_1M, 64 * SZ_1M);
	PLAN_ERR_RAM(B, 256 * SZ_1M, B + 20 * SZ_1M, SZ_1G);
	/* RAM > 1 GiB whose last bytes would be needed. */
	PLAN_ERR_RAM(B, 2 * SZ_1G, B + 20 * SZ_1M, 2 * SZ_1G - 22 * SZ_1M + 1);
}

static void test_boot_window(void)
{
	/* 2 GiB of RAM, initrd that fits in RAM but not in the first 1 GiB. */
	PLAN_ERR_WINDOW(B, 2 * SZ_1G, B + 20 * SZ_1M, SZ_1G);
	PLAN_ERR_WINDOW(B, 2 * SZ_1G, B + 20 * SZ_1M, SZ_1G - 22 * SZ_1M + 1);
	/* Exactly up to the window's end is fine (DTB slot [20, 22) MiB, initrd after it). */
	PLAN_OK(B, 2 * SZ_1G, B + 20 * SZ_1M, SZ_1G - 22 * SZ_1M, B + 20 * SZ_1M);
	PLAN_OK(B, 2 * SZ_1G, B + 19 * SZ_1M, SZ_1G - 22 * SZ_1M, B + 20 * SZ_1M);
	PLAN_ERR_WINDOW(B, 2 * SZ_1G, B + 19 * SZ_1M, SZ_1G - 22 * SZ_1M + 1);
	/* Huge RAM: the window still applies. */
	PLAN_ERR_WINDOW(B, 64 * SZ_1G, B + 20 * SZ_1M, 2 * SZ_1G);
	PLAN_OK(B, 64 * SZ_1G, B + 20 * SZ_1M, 512 * SZ_1M, B + 20 * SZ_1M);
	/* RAM of exactly 1 GiB: window and RAM coincide. */
	PLAN_OK(B, SZ_1G, B + 20 * SZ_1M, SZ_1G - 22 * SZ_1M, B + 20 * SZ_1M);
	PLAN_ERR_RAM(B, SZ_1G, B + 20 * SZ_1M, SZ_1G - 22 * SZ_1M + 1);
	/* RAM just over 1 GiB: the window, not RAM, is the limit. */
	PLAN_ERR_WINDOW(B, SZ_1G + SZ_2M, B + 20 * SZ_1M, SZ_1G - 22 * SZ_1M + 1);
	/* A payload reaching the end of the window leaves no room for the DTB in it. */
	PLAN_ERR(B, 2 * SZ_1G, B + SZ_1G - SZ_1M, 0, -ENOSPC);
	PLAN_ERR(B, 2 * SZ_1G, B + SZ_1G, 0, -ENOSPC);
	PLAN_OK(B, 2 * SZ_1G, B + SZ_1G - SZ_2M - 1, 0, B + SZ_1G - SZ_2M);
}

static void test_invalid(void)
{
	/* payload_end beyond RAM, or before it. */
	PLAN_ERR(B, 64 * SZ_1M, B + 64 * SZ_1M + 1, 0, -EINVAL);
	PLAN_ERR(B, 64 * SZ_1M, B + SZ_1G, 0, -EINVAL);
	PLAN_ERR(B, 64 * SZ_1M, UINT64_MAX, 0, -EINVAL);
	PLAN_ERR(B, 64 * SZ_1M, B - 1, 0, -EINVAL);
	PLAN_ERR(B, 64 * SZ_1M, 0, 0, -EINVAL);
	/* RAM wrapping the address space. */
	PLAN_ERR(UINT64_MAX - SZ_2M + 1, 4 * SZ_1M, UINT64_MAX - SZ_2M + 1, 0, -EINVAL);
}

static void test_overflow(void)
{
	/* Initrd sizes whose sum with the DTB address overflows u64. */
	PLAN_ERR(B, 256 * SZ_1M, B + 20 * SZ_1M, UINT64_MAX - 10, -ENOSPC);
	PLAN_ERR(B, 256 * SZ_1M, B + 20 * SZ_1M, UINT64_MAX, -ENOSPC);
	PLAN_ERR(B, 256 * SZ_1M, B, UINT64_MAX - B - SZ_2M + 1, -ENOSPC);
	/* Large but not overflowing. */
	PLAN_ERR(B, 256 * SZ_1M, B, UINT64_MAX - B - SZ_2M, -ENOSPC);
	PLAN_ERR(B, 256 * SZ_1M, B + 20 * SZ_1M, 1ULL << 63, -ENOSPC);
	/* RAM at the very top: aligning the payload end up overflows. */
	PLAN_ERR(0 - 8 * SZ_1M, 8 * SZ_1M - 1, UINT64_MAX - 100, 0, -ENOSPC);
}

TEST_MAIN(test_layout_constants, test_typical, test_exact_fit, test_tiny_ram,
	  test_initrd_too_big_for_ram, test_boot_window, test_invalid, test_overflow)
