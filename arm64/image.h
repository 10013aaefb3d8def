/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_IMAGE_H
#define COHO_ARM64_IMAGE_H

#include "guest_mem.h"
#include "util/types.h"

/* Kernel formats, detected by content (never by file name). */
enum kernel_format {
	KERNEL_FORMAT_IMAGE,	/* raw arm64 Image: "ARM\x64" at 0x38 */
	KERNEL_FORMAT_IMAGE_GZ, /* gzip'd Image (Image.gz) */
	KERNEL_FORMAT_ZBOOT,	/* EFI zboot PE: "MZ", "zimg" at 4, gzip payload */
};

struct kernel_info {
	enum kernel_format format;
	u64 text_offset; /* from the header; 0x80000 when image_size is 0 */
	u64 image_size;	 /* bytes from load_addr the kernel needs, BSS included */
	u64 file_size;	 /* bytes of Image data written to RAM (after decompression) */
	u64 flags;	 /* header flags field */
	u64 load_addr;	 /* guest physical address of the first Image byte */
	u64 end;	 /* load_addr + max(image_size, file_size): first free byte */
};

const char *kernel_format_name(enum kernel_format f);

/*
 * Validate a complete, decompressed Image of @len bytes (header, magic,
 * endianness, PE/COFF section table when the EFI stub is present: the file
 * must be at least as long as the last section's raw data) and fill the
 * header fields of @ki (text_offset, image_size, flags, file_size).
 * Returns 0 or -EINVAL, logging one line that starts with @what.
 */
int arm64_image_check(const u8 *img, u64 len, const char *what, struct kernel_info *ki);

/*
 * Load the kernel in @path into guest RAM at the 2 MiB aligned @base +
 * text_offset, whatever its format, writing only through guest_write*().
 * Fills @ki. On any error (missing, unreadable, truncated, corrupt, does not
 * fit below m->base + m->size) logs one line naming @path and the problem
 * and returns -errno (-ENOENT, -EINVAL, -ENOSPC, ...).
 */
int kernel_load(struct guest_mem *m, u64 base, const char *path, struct kernel_info *ki);

#endif
