// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: kernel_load() on arbitrary bytes (raw Image, gzip and
 * zboot paths), into a small guest RAM. Every outcome but a crash or a
 * sanitizer report is fine; what is loaded must stay inside RAM and be
 * recorded for cleaning.
 *
 * sources: arm64/image.c guest_mem.c util/range.c util/log.c
 *
 * Built and run by tests/fuzz/run.sh (make check-fuzz), which links the
 * "sources:" above; by hand: ./fuzz_kernel_load -close_fd_mask=2 CORPUS_DIR
 * (the loader logs one line per rejected input).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arm64/image.h"
#include "guest_mem.h"
#include "util/log.h"

#define RAM_BASE 0x40000000ULL
#define RAM_SIZE (8 * SZ_1M)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem m;
	static int fd = -1;
	static char path[64];
	struct kernel_info ki;
	size_t i;

	if (fd < 0) {
		fd = memfd_create("kernel", 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (guest_mem_init(&m, RAM_BASE, RAM_SIZE))
			abort();
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	range_set_clear(&m.written);
	if (kernel_load(&m, RAM_BASE, path, &ki) == 0) {
		if (ki.load_addr < RAM_BASE || ki.end > RAM_BASE + RAM_SIZE ||
		    ki.end < ki.load_addr)
			abort();
	}
	range_set_normalize(&m.written, 1);
	for (i = 0; i < m.written.nr; i++)
		if (m.written.r[i].start < RAM_BASE || m.written.r[i].end > RAM_BASE + RAM_SIZE)
			abort();
	return 0;
}
