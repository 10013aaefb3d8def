/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_BOOT_H
#define COHO_ARM64_BOOT_H

#include "util/types.h"

struct vm;

/* Where the DTB and initrd go, given what is already loaded at the RAM base. */
struct boot_plan_req {
	u64 ram_base; /* 2 MiB aligned */
	u64 ram_size;
	u64 payload_end; /* first byte after the kernel (BSS included) or firmware */
	u64 initrd_size; /* 0: no initrd */
};

struct boot_plan {
	u64 dtb_addr;	 /* 2 MiB aligned, so the DTB never straddles a 2 MiB block */
	u64 dtb_max;	 /* bytes reserved for the DTB */
	u64 initrd_addr; /* valid when initrd_size != 0 */
};

/*
 * DTB right after the payload (2 MiB aligned slot of ARM_DTB_MAX_SIZE), the
 * initrd right after it; all inside RAM and inside the first ARM_BOOT_WINDOW
 * of RAM. -ENOSPC (with one line logged) when it does not fit.
 */
int arm64_plan_boot(const struct boot_plan_req *req, struct boot_plan *plan);

/* What arm64_boot_load() put where. */
struct boot_info {
	u64 entry; /* PC of the boot vCPU */
	u64 dtb_addr;
	u64 dtb_size;
	u64 kernel_addr, kernel_end; /* 0 when booting firmware only */
	u64 initrd_addr, initrd_size;
};

/*
 * Load firmware or kernel, initrd and the DTB into guest RAM (through the
 * recording writer) and set the boot vCPU's registers. -errno with one line
 * logged on any problem; nothing has run yet then.
 */
int arm64_boot_load(struct vm *vm, struct boot_info *bi);

#endif
