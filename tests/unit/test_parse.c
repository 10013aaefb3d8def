// SPDX-License-Identifier: GPL-2.0
/*
 * util/parse.c: sizes as kvmtool's -m takes them (bare number in the caller's
 * unit, K/M/G/T/P suffixes of any case with optional B or iB, powers of 1024)
 * and bounded decimal u32s. Every reject path is checked with its errno.
 */
#include <errno.h>
#include <stdint.h>

#include "util/parse.h"
#include "tests/unit/test.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

/* parse_size() that must succeed with exactly @want. */
static void size_ok(const char *s, u64 bare_unit, u64 want)
{
	u64 v = SENTINEL;
	int ret = parse_size(s, bare_unit, &v);

	CHECK_EQ_U64(ret, 0);
	CHECK_EQ_U64(v, want);
	if (ret || v != want)
		fprintf(stderr, "  (input \"%s\", bare unit %llu)\n", s,
			(unsigned long long)bare_unit);
}

/* parse_size() that must fail with @err. */
static void size_err(const char *s, u64 bare_unit, int err)
{
	u64 v = SENTINEL;
	int ret = parse_size(s, bare_unit, &v);

	CHECK_EQ_U64((u64)(s64)ret, (u64)(s64)err);
	if (ret != err)
		fprintf(stderr, "  (input \"%s\" gave %d, value 0x%llx)\n", s ? s : "(null)", ret,
			(unsigned long long)v);
}

static void test_size_bare_number(void)
{
	size_ok("0", SZ_1M, 0);
	size_ok("1", SZ_1M, SZ_1M);
	size_ok("256", SZ_1M, 256 * SZ_1M);
	size_ok("007", SZ_1M, 7 * SZ_1M);
	size_ok("4096", 1, 4096);
	size_ok("3", SZ_4K, 3 * SZ_4K);
	/* Largest value that fits u64 with a bare unit of 1 byte. */
	size_ok("18446744073709551615", 1, UINT64_MAX);
	/* 2^44 - 1 MiB is the last number of MiB below 2^64 bytes. */
	size_ok("17592186044415", SZ_1M, (17592186044416ULL - 1) * SZ_1M);
}

static void test_size_suffixes(void)
{
	static const struct {
		const char *s;
		u64 want;
	} cases[] = {
		{ "1K", 1ULL << 10 },
		{ "1k", 1ULL << 10 },
		{ "1KB", 1ULL << 10 },
		{ "1kb", 1ULL << 10 },
		{ "1Kb", 1ULL << 10 },
		{ "1kB", 1ULL << 10 },
		{ "1KiB", 1ULL << 10 },
		{ "1kib", 1ULL << 10 },
		{ "1KIB", 1ULL << 10 },
		{ "1kIb", 1ULL << 10 },
		{ "2M", 2ULL << 20 },
		{ "2m", 2ULL << 20 },
		{ "2MB", 2ULL << 20 },
		{ "2MiB", 2ULL << 20 },
		{ "3G", 3ULL << 30 },
		{ "3g", 3ULL << 30 },
		{ "3GB", 3ULL << 30 },
		{ "3gib", 3ULL << 30 },
		{ "5T", 5ULL << 40 },
		{ "5t", 5ULL << 40 },
		{ "5TiB", 5ULL << 40 },
		{ "7P", 7ULL << 50 },
		{ "7p", 7ULL << 50 },
		{ "7PB", 7ULL << 50 },
		{ "0G", 0 },
		{ "1536M", 1536ULL << 20 },
		{ "1024K", 1ULL << 20 },
		{ "16383P", 16383ULL << 50 },
		{ "17179869183G", 17179869183ULL << 30 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* The suffix overrides the bare unit: the same answer whatever it is. */
		size_ok(cases[i].s, SZ_1M, cases[i].want);
		size_ok(cases[i].s, 1, cases[i].want);
	}
}

static void test_size_rejects_junk(void)
{
	static const char *const bad[] = {
		"",	"-1",	"+1",  "1.5G", "1.5",  "12x", "G",     "KiB",  " 12", "12 ",
		"12\n", "0x10", "1e3", "1 G",  "1G ",  "1GG", "1GiBx", "1GBB", "1Gi", "1GiBB",
		"1Bi",	"1iB",	"1E",  "1Z",   "1KiK", "--1", "1,5G",  "\t1",  "1\t", "one",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		size_err(bad[i], SZ_1M, -EINVAL);
	size_err(NULL, SZ_1M, -EINVAL);
}

static void test_size_overflow(void)
{
	/* Too many digits for u64 at all. */
	size_err("99999999999999999999", SZ_1M, -ERANGE);
	size_err("99999999999999999999", 1, -ERANGE);
	size_err("18446744073709551616", 1, -ERANGE);
	size_err("99999999999999999999G", SZ_1M, -ERANGE);
	/* Digits fit, the multiplication does not: exactly 2^64 bytes. */
	size_err("17179869184G", SZ_1M, -ERANGE);
	size_err("16384P", SZ_1M, -ERANGE);
	size_err("16777216T", SZ_1M, -ERANGE);
	size_err("17592186044416M", SZ_1M, -ERANGE);
	size_err("17592186044416", SZ_1M, -ERANGE);
	size_err("18446744073709551615", 2, -ERANGE);
	size_err("18446744073709551615K", SZ_1M, -ERANGE);
	/* Junk after an overflowing number: either error is fine, success is not. */
	{
		u64 v;
		int ret = parse_size("99999999999999999999x", SZ_1M, &v);

		CHECK(ret == -ERANGE || ret == -EINVAL);
	}
}

static void u32_ok(const char *s, u32 min, u32 max, u32 want)
{
	u32 v = 0xdeadbeef;
	int ret = parse_u32(s, min, max, &v);

	CHECK_EQ_U64(ret, 0);
	CHECK_EQ_U64(v, want);
	if (ret || v != want)
		fprintf(stderr, "  (input \"%s\" in [%u, %u])\n", s, min, max);
}

static void u32_err(const char *s, u32 min, u32 max, int err)
{
	u32 v = 0xdeadbeef;
	int ret = parse_u32(s, min, max, &v);

	CHECK_EQ_U64((u64)(s64)ret, (u64)(s64)err);
	/* On failure the output is left alone. */
	CHECK_EQ_U64(v, 0xdeadbeef);
	if (ret != err)
		fprintf(stderr, "  (input \"%s\" in [%u, %u] gave %d)\n", s ? s : "(null)", min,
			max, ret);
}

static void test_u32_bounds(void)
{
	u32_ok("1", 1, 512, 1);
	u32_ok("512", 1, 512, 512);
	u32_ok("42", 1, 512, 42);
	u32_ok("0", 0, 10, 0);
	u32_ok("0010", 0, 10, 10);
	u32_ok("4294967295", 0, UINT32_MAX, UINT32_MAX);
	u32_ok("7", 7, 7, 7);

	u32_err("0", 1, 512, -ERANGE);
	u32_err("513", 1, 512, -ERANGE);
	u32_err("6", 7, 7, -ERANGE);
	u32_err("8", 7, 7, -ERANGE);
	/* Above u32 but inside u64: the bound check must not truncate first. */
	u32_err("4294967296", 0, UINT32_MAX, -ERANGE);
	u32_err("4294967297", 0, 10, -ERANGE);
	u32_err("8589934593", 0, UINT32_MAX, -ERANGE);
	/* Above u64. */
	u32_err("99999999999999999999", 0, UINT32_MAX, -ERANGE);
}

static void test_u32_junk(void)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.0", "1e2", "one", "4K", "\n", "1\n",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		u32_err(bad[i], 0, UINT32_MAX, -EINVAL);
	u32_err(NULL, 0, UINT32_MAX, -EINVAL);
}

TEST_MAIN(test_size_bare_number, test_size_suffixes, test_size_rejects_junk, test_size_overflow,
	  test_u32_bounds, test_u32_junk)
