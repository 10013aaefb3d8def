// SPDX-License-Identifier: GPL-2.0
/*
 * guest_mem.c: the one gate between guest physical addresses and host
 * pointers (every edge and overflow), and the recording writers that feed
 * cache cleaning (exactly what was written is recorded, nothing else).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_mem.h"
#include "tests/unit/test.h"

#define BASE 0x40000000ULL
#define SIZE (16 * SZ_1M)

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

static bool all_zero(const u8 *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void expect_written(const struct guest_mem *m, size_t idx, u64 start, u64 end)
{
	CHECK(idx < m->written.nr);
	if (idx >= m->written.nr)
		return;
	CHECK_EQ_U64(m->written.r[idx].start, start);
	CHECK_EQ_U64(m->written.r[idx].end, end);
}

static void test_init(void)
{
	static const u64 sizes[] = { 4096, SZ_1M, SZ_2M, 3 * SZ_1M + 4096, SIZE, 64 * SZ_1M };
	struct guest_mem m;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		CHECK_EQ_U64(guest_mem_init(&m, BASE, sizes[i]), 0);
		CHECK(m.host != NULL);
		/* Host RAM is 2 MiB aligned so THP and stage-2 blocks line up. */
		CHECK_EQ_U64((uintptr_t)m.host % GUEST_MEM_ALIGN, 0);
		CHECK_EQ_U64(GUEST_MEM_ALIGN, SZ_2M);
		CHECK_EQ_U64(m.base, BASE);
		CHECK_EQ_U64(m.size, sizes[i]);
		CHECK_EQ_U64(m.written.nr, 0);
		/* Anonymous RAM starts zeroed and is writable end to end. */
		CHECK(m.host[0] == 0 && m.host[sizes[i] - 1] == 0);
		m.host[0] = 1;
		m.host[sizes[i] - 1] = 2;
		CHECK(m.host[0] == 1 && m.host[sizes[i] - 1] == 2);
		guest_mem_destroy(&m);
		CHECK(m.host == NULL);
		CHECK_EQ_U64(m.size, 0);
		CHECK(m.written.r == NULL);
		/* Destroying twice is harmless. */
		guest_mem_destroy(&m);
	}
}

static void test_init_errors(void)
{
	struct guest_mem m;

	memset(&m, 0xaa, sizeof(m));
	CHECK_ERR(guest_mem_init(&m, BASE, 0), -EINVAL);
	CHECK(m.host == NULL);
	CHECK_EQ_U64(m.written.nr, 0);
	/* base + size past the top of the address space. */
	CHECK_ERR(guest_mem_init(&m, UINT64_MAX - SZ_1M + 1, SZ_1M), -EINVAL);
	CHECK_ERR(guest_mem_init(&m, UINT64_MAX, 1), -EINVAL);
	/* size + the alignment slack overflows. */
	CHECK_ERR(guest_mem_init(&m, 0, UINT64_MAX - SZ_1M), -EINVAL);
	CHECK(m.host == NULL);
	/* Far more than any address space: mmap itself fails, with its errno. */
	CHECK(guest_mem_init(&m, 0, 1ULL << 62) < 0);
	CHECK(m.host == NULL);
	guest_mem_destroy(&m);
}

static void test_translation(void)
{
	struct guest_mem m;

	CHECK_EQ_U64(guest_mem_init(&m, BASE, SIZE), 0);
	/* Below RAM, and straddling its start. */
	CHECK(gpa_to_hva(&m, BASE - 1, 1) == NULL);
	CHECK(gpa_to_hva(&m, BASE - 1, 2) == NULL);
	CHECK(gpa_to_hva(&m, 0, 1) == NULL);
	CHECK(gpa_to_hva(&m, 0, BASE + 1) == NULL);
	CHECK(!guest_range_ok(&m, BASE - 1, 0));
	CHECK(!guest_range_ok(&m, 0, 0));
	/* At the base. */
	CHECK(gpa_to_hva(&m, BASE, 1) == m.host);
	CHECK(gpa_to_hva(&m, BASE, SIZE) == m.host);
	CHECK(gpa_to_hva(&m, BASE, SIZE + 1) == NULL);
	CHECK(gpa_to_hva(&m, BASE, 0) == m.host);
	/* Middle. */
	CHECK(gpa_to_hva(&m, BASE + 0x12345, 0x100) == m.host + 0x12345);
	/* Last byte, and one past it. */
	CHECK(gpa_to_hva(&m, BASE + SIZE - 1, 1) == m.host + SIZE - 1);
	CHECK(gpa_to_hva(&m, BASE + SIZE - 1, 2) == NULL);
	CHECK(gpa_to_hva(&m, BASE + SIZE, 1) == NULL);
	CHECK(gpa_to_hva(&m, BASE + SIZE - 8, 8) == m.host + SIZE - 8);
	/* len 0 at the end is an empty range inside RAM; one further is not. */
	CHECK(guest_range_ok(&m, BASE + SIZE, 0));
	CHECK(!guest_range_ok(&m, BASE + SIZE + 1, 0));
	CHECK(gpa_to_hva(&m, BASE + SIZE + 1, 0) == NULL);
	/* gpa + len overflowing u64 and huge lengths. */
	CHECK(gpa_to_hva(&m, UINT64_MAX, 1) == NULL);
	CHECK(gpa_to_hva(&m, UINT64_MAX, 0) == NULL);
	CHECK(gpa_to_hva(&m, BASE, UINT64_MAX) == NULL);
	CHECK(gpa_to_hva(&m, BASE + 1, UINT64_MAX) == NULL);
	CHECK(gpa_to_hva(&m, BASE + SIZE - 1, UINT64_MAX) == NULL);
	CHECK(gpa_to_hva(&m, BASE + 0x1000, UINT64_MAX - BASE - 0x1000 + 1) == NULL);
	CHECK(gpa_to_hva(&m, BASE + 0x1000, (u64)1 << 63) == NULL);
	CHECK(!guest_range_ok(&m, BASE + 0x1000, UINT64_MAX - 0xfff));
	/* guest_range_ok and gpa_to_hva agree. */
	CHECK(guest_range_ok(&m, BASE, SIZE));
	CHECK(!guest_range_ok(&m, BASE, SIZE + 1));
	CHECK(guest_range_ok(&m, BASE + SIZE - 1, 1));
	CHECK(!guest_range_ok(&m, BASE + SIZE, 1));
	/* Translation records nothing. */
	CHECK_EQ_U64(m.written.nr, 0);
	guest_mem_destroy(&m);
	/* No RAM mapped: every lookup fails. */
	CHECK(gpa_to_hva(&m, BASE, 1) == NULL);
}

/* RAM that ends close to the top of the guest physical address space. */
static void test_translation_near_top(void)
{
	const u64 base = UINT64_MAX - 16 * SZ_1M + 1 - SZ_2M; /* ends 2 MiB below 2^64 */
	struct guest_mem m;

	CHECK_EQ_U64(guest_mem_init(&m, base, 16 * SZ_1M), 0);
	CHECK(gpa_to_hva(&m, base + 16 * SZ_1M - 1, 1) == m.host + 16 * SZ_1M - 1);
	CHECK(gpa_to_hva(&m, base + 16 * SZ_1M - 1, 2) == NULL);
	CHECK(gpa_to_hva(&m, base + 16 * SZ_1M - 1, UINT64_MAX) == NULL);
	CHECK(gpa_to_hva(&m, base, UINT64_MAX - base + 1) == NULL); /* gpa + len == 2^64 */
	CHECK(gpa_to_hva(&m, UINT64_MAX, 1) == NULL);
	guest_mem_destroy(&m);

	/* RAM at guest physical 0. */
	CHECK_EQ_U64(guest_mem_init(&m, 0, SZ_1M), 0);
	CHECK(gpa_to_hva(&m, 0, 1) == m.host);
	CHECK(gpa_to_hva(&m, 0, SZ_1M) == m.host);
	CHECK(gpa_to_hva(&m, SZ_1M, 1) == NULL);
	CHECK(gpa_to_hva(&m, UINT64_MAX, 2) == NULL);
	guest_mem_destroy(&m);
}

static void test_guest_write(void)
{
	struct guest_mem m;
	u8 buf[300];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (u8)(i * 7 + 1);
	CHECK_EQ_U64(guest_mem_init(&m, BASE, SIZE), 0);

	CHECK_EQ_U64(guest_write(&m, BASE + 0x1001, buf, 100), 0);
	CHECK(!memcmp(m.host + 0x1001, buf, 100));
	/* Exactly the bytes written: nothing before, nothing after. */
	CHECK(m.host[0x1000] == 0 && m.host[0x1001 + 100] == 0);
	CHECK_EQ_U64(m.written.nr, 1);
	expect_written(&m, 0, BASE + 0x1001, BASE + 0x1001 + 100);

	/* The last bytes of RAM. */
	CHECK_EQ_U64(guest_write(&m, BASE + SIZE - 3, buf, 3), 0);
	CHECK(!memcmp(m.host + SIZE - 3, buf, 3));
	CHECK_EQ_U64(m.written.nr, 2);
	expect_written(&m, 1, BASE + SIZE - 3, BASE + SIZE);

	/* Outside RAM, or straddling its ends: -EFAULT, no byte copied, nothing recorded. */
	CHECK_ERR(guest_write(&m, BASE + SIZE - 10, buf, 20), -EFAULT);
	CHECK(all_zero(m.host + SIZE - 10, 7));
	CHECK_ERR(guest_write(&m, BASE - 10, buf, 20), -EFAULT);
	CHECK(all_zero(m.host, 10));
	CHECK_ERR(guest_write(&m, BASE + SIZE, buf, 1), -EFAULT);
	CHECK_ERR(guest_write(&m, 0, buf, 1), -EFAULT);
	CHECK_ERR(guest_write(&m, BASE + 4, buf, UINT64_MAX), -EFAULT);
	CHECK_EQ_U64(m.written.nr, 2);

	/* len 0: success, nothing recorded. */
	CHECK_EQ_U64(guest_write(&m, BASE + 0x5000, buf, 0), 0);
	CHECK_EQ_U64(m.written.nr, 2);

	/* A write continuing the previous one extends its record. */
	CHECK_EQ_U64(guest_write(&m, BASE + 0x8000, buf, 50), 0);
	CHECK_EQ_U64(guest_write(&m, BASE + 0x8000 + 50, buf + 50, 250), 0);
	CHECK(!memcmp(m.host + 0x8000, buf, 300));
	CHECK_EQ_U64(m.written.nr, 3);
	expect_written(&m, 2, BASE + 0x8000, BASE + 0x8000 + 300);
	CHECK_EQ_U64(range_set_bytes(&m.written), 100 + 3 + 300);
	guest_mem_destroy(&m);
}

static void test_guest_write_ptr(void)
{
	struct guest_mem m;
	u8 *p;

	CHECK_EQ_U64(guest_mem_init(&m, BASE, SIZE), 0);
	p = guest_write_ptr(&m, BASE + 0x2000, 0x800);
	CHECK(p == m.host + 0x2000);
	CHECK_EQ_U64(m.written.nr, 1);
	expect_written(&m, 0, BASE + 0x2000, BASE + 0x2800);

	CHECK(guest_write_ptr(&m, BASE - 1, 2) == NULL);
	CHECK(guest_write_ptr(&m, BASE + SIZE - 1, 2) == NULL);
	CHECK(guest_write_ptr(&m, BASE + SIZE, 1) == NULL);
	CHECK(guest_write_ptr(&m, UINT64_MAX, 1) == NULL);
	CHECK(guest_write_ptr(&m, BASE, UINT64_MAX) == NULL);
	CHECK(guest_write_ptr(&m, BASE, SIZE + 1) == NULL);
	CHECK_EQ_U64(m.written.nr, 1);
	expect_written(&m, 0, BASE + 0x2000, BASE + 0x2800);

	/* All of RAM at once. */
	p = guest_write_ptr(&m, BASE, SIZE);
	CHECK(p == m.host);
	CHECK_EQ_U64(m.written.nr, 2);
	expect_written(&m, 1, BASE, BASE + SIZE);
	guest_mem_destroy(&m);
}

/* A temporary file holding @len bytes of a pattern; returns an fd at offset 0. */
static int pattern_file(size_t len, u8 *copy)
{
	FILE *f = tmpfile();
	int fd;

	if (!f)
		return -1;
	fd = dup(fileno(f));
	fclose(f);
	for (size_t i = 0; i < len; i++)
		copy[i] = (u8)(i * 13 + (i >> 8) + 5);
	if (fd < 0 || write(fd, copy, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_guest_write_from_fd(void)
{
	enum { LEN = 300000 };
	static u8 data[LEN];
	struct guest_mem m;
	int fd, pfd[2], status;
	pid_t child;

	CHECK_EQ_U64(guest_mem_init(&m, BASE, SIZE), 0);
	fd = pattern_file(LEN, data);
	CHECK(fd >= 0);
	if (fd < 0)
		return;

	/* A normal file: contents land exactly, the range is recorded. */
	CHECK_EQ_U64(guest_write_from_fd(&m, BASE + 0x3003, fd, LEN), 0);
	CHECK(!memcmp(m.host + 0x3003, data, LEN));
	CHECK(m.host[0x3002] == 0 && m.host[0x3003 + LEN] == 0);
	CHECK_EQ_U64(m.written.nr, 1);
	expect_written(&m, 0, BASE + 0x3003, BASE + 0x3003 + LEN);
	CHECK_EQ_U64(lseek(fd, 0, SEEK_CUR), LEN);

	/* It reads from the current offset. */
	CHECK_EQ_U64(lseek(fd, 1000, SEEK_SET), 1000);
	CHECK_EQ_U64(guest_write_from_fd(&m, BASE + SZ_2M, fd, 500), 0);
	CHECK(!memcmp(m.host + SZ_2M, data + 1000, 500));
	CHECK(m.host[SZ_2M + 500] == 0);

	/* A short file: -EIO after taking what there was. */
	CHECK_EQ_U64(lseek(fd, LEN - 100, SEEK_SET), LEN - 100);
	CHECK_ERR(guest_write_from_fd(&m, BASE + 4 * SZ_1M, fd, 200), -EIO);
	CHECK(!memcmp(m.host + 4 * SZ_1M, data + LEN - 100, 100));
	/* At end of file. */
	CHECK_ERR(guest_write_from_fd(&m, BASE + 5 * SZ_1M, fd, 1), -EIO);

	/* Outside RAM: -EFAULT before reading anything. */
	CHECK_EQ_U64(lseek(fd, 0, SEEK_SET), 0);
	m.written.nr = 0;
	CHECK_ERR(guest_write_from_fd(&m, BASE + SIZE - 10, fd, 20), -EFAULT);
	CHECK_ERR(guest_write_from_fd(&m, BASE - 1, fd, 20), -EFAULT);
	CHECK_ERR(guest_write_from_fd(&m, BASE, fd, UINT64_MAX), -EFAULT);
	CHECK_EQ_U64(lseek(fd, 0, SEEK_CUR), 0);
	CHECK_EQ_U64(m.written.nr, 0);
	close(fd);

	/* A bad fd: its errno. */
	CHECK_ERR(guest_write_from_fd(&m, BASE, fd, 10), -EBADF);

	/* A pipe fed slowly delivers in pieces; the loop must gather them. */
	CHECK_EQ_U64(pipe(pfd), 0);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		close(pfd[0]);
		for (int i = 0; i < 3; i++) {
			if (write(pfd[1], data + i * 1000, 1000) != 1000)
				_exit(1);
			usleep(20000);
		}
		_exit(0);
	}
	close(pfd[1]);
	CHECK_EQ_U64(guest_write_from_fd(&m, BASE + 6 * SZ_1M, pfd[0], 2500), 0);
	CHECK(!memcmp(m.host + 6 * SZ_1M, data, 2500));
	/* 500 bytes left in the pipe, 1000 asked for: short. */
	CHECK_ERR(guest_write_from_fd(&m, BASE + 7 * SZ_1M, pfd[0], 1000), -EIO);
	CHECK(!memcmp(m.host + 7 * SZ_1M, data + 2500, 500));
	close(pfd[0]);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	guest_mem_destroy(&m);
}

TEST_MAIN(test_init, test_init_errors, test_translation, test_translation_near_top,
	  test_guest_write, test_guest_write_ptr, test_guest_write_from_fd)
