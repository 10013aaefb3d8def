/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_GUEST_MEM_H
#define COHO_GUEST_MEM_H

#include "util/range.h"
#include "util/types.h"

/*
 * Guest RAM and the one gate through which the VMM touches it.
 *
 * - gpa_to_hva() is the only translation from guest physical to host
 *   virtual addresses; it fails (NULL) on any overflow or any byte outside RAM.
 * - guest_write*() is the only way the VMM writes boot content (kernel,
 *   initrd, DTB, firmware) into RAM; every byte written is recorded in
 *   @written so it can be cleaned to the Point of Coherency before the
 *   guest runs with its MMU off (see arm64/cache.c).
 */
/* Host alignment of RAM, so huge pages line up with guest 2 MiB blocks. */
#define GUEST_MEM_ALIGN SZ_2M

struct guest_mem {
	u64 base;		  /* guest physical address of the first RAM byte */
	u64 size;		  /* bytes of RAM */
	u8 *host;		  /* host mapping of RAM, size bytes */
	struct range_set written; /* guest physical ranges written by the VMM */
};

/* Map @size bytes of anonymous RAM for guest address @base. -errno. */
int guest_mem_init(struct guest_mem *m, u64 base, u64 size);
void guest_mem_destroy(struct guest_mem *m);

/* Host pointer to [gpa, gpa + len) if the whole range is RAM, else NULL. */
void *gpa_to_hva(const struct guest_mem *m, u64 gpa, u64 len);
/* true if [gpa, gpa + len) lies inside RAM (len 0 allowed). */
bool guest_range_ok(const struct guest_mem *m, u64 gpa, u64 len);

/* Copy @len bytes into RAM at @gpa and record the range. -EFAULT if outside RAM. */
int guest_write(struct guest_mem *m, u64 gpa, const void *src, u64 len);

/*
 * Reserve [gpa, gpa + len) for a producer that writes in place (a reader or
 * a decompressor) and record it as written. Returns the host pointer, or
 * NULL if the range is not RAM. The caller must fill exactly @len bytes.
 */
void *guest_write_ptr(struct guest_mem *m, u64 gpa, u64 len);

/*
 * Read exactly @len bytes of @fd (from its current offset) into RAM at @gpa.
 * -EFAULT outside RAM, -EIO on a short file, -errno on read errors.
 */
int guest_write_from_fd(struct guest_mem *m, u64 gpa, int fd, u64 len);

#endif
