// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "util/log.h"

int guest_mem_init(struct guest_mem *m, u64 base, u64 size)
{
	u8 *p, *aligned;
	u64 end, span;

	memset(m, 0, sizeof(*m));
	range_set_init(&m->written);
	if (!size || __builtin_add_overflow(base, size, &end) ||
	    __builtin_add_overflow(size, GUEST_MEM_ALIGN, &span) || span > SIZE_MAX)
		return -EINVAL;
	/* MAP_NORESERVE: the guest touches what it uses; untouched RAM costs nothing. */
	p = mmap(NULL, (size_t)span, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/*
	 * Align the host mapping to 2 MiB and ask for transparent huge pages:
	 * loading a kernel then faults 2 MiB at a time instead of 4 KiB, and
	 * KVM can map guest RAM with stage-2 block mappings.
	 */
	aligned = (u8 *)(((uintptr_t)p + GUEST_MEM_ALIGN - 1) & ~(uintptr_t)(GUEST_MEM_ALIGN - 1));
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	if (aligned + size < p + span)
		munmap(aligned + size, (size_t)(p + span - (aligned + size)));
	madvise(aligned, (size_t)size, MADV_HUGEPAGE);
	m->base = base;
	m->size = size;
	m->host = aligned;
	return 0;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, (size_t)m->size);
	range_set_free(&m->written);
	m->host = NULL;
	m->size = 0;
}

bool guest_range_ok(const struct guest_mem *m, u64 gpa, u64 len)
{
	u64 off, end;

	if (gpa < m->base)
		return false;
	off = gpa - m->base;
	if (__builtin_add_overflow(off, len, &end))
		return false;
	return end <= m->size;
}

void *gpa_to_hva(const struct guest_mem *m, u64 gpa, u64 len)
{
	if (!m->host || !guest_range_ok(m, gpa, len))
		return NULL;
	return m->host + (gpa - m->base);
}

void *guest_write_ptr(struct guest_mem *m, u64 gpa, u64 len)
{
	void *p = gpa_to_hva(m, gpa, len);

	if (!p)
		return NULL;
	if (range_set_add(&m->written, gpa, len) < 0)
		return NULL;
	return p;
}

int guest_write(struct guest_mem *m, u64 gpa, const void *src, u64 len)
{
	void *p = guest_write_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, (size_t)len);
	return 0;
}

int guest_write_from_fd(struct guest_mem *m, u64 gpa, int fd, u64 len)
{
	u8 *p = guest_write_ptr(m, gpa, len);
	u64 done = 0;

	if (!p)
		return -EFAULT;
	while (done < len) {
		size_t chunk = len - done > (1U << 30) ? (1U << 30) : (size_t)(len - done);
		ssize_t n = read(fd, p + done, chunk);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (u64)n;
	}
	return 0;
}
