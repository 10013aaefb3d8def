/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_TESTS_UNIT_TEST_H
#define COHO_TESTS_UNIT_TEST_H

/*
 * A tiny unit-test harness. Each tests/unit/test_*.c is its own program:
 *
 *	static void test_something(void) { CHECK(x == 1); CHECK_EQ_U64(a, b); }
 *	TEST_MAIN(test_something, test_other)
 *
 * Every CHECK counts; the program prints "N passed, N failed" (counting
 * checks) and exits non-zero if any check failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned test_passed, test_failed;
static const char *test_current;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			test_passed++;                                                             \
		} else {                                                                           \
			test_failed++;                                                             \
			fprintf(stderr, "FAIL %s:%d %s: %s\n", __FILE__, __LINE__, test_current,   \
				#cond);                                                            \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
	do {                                                                                       \
		uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);                                   \
		if (_a == _b) {                                                                    \
			test_passed++;                                                             \
		} else {                                                                           \
			test_failed++;                                                             \
			fprintf(stderr,                                                            \
				"FAIL %s:%d %s: %s == %s (0x%" PRIx64 " != 0x%" PRIx64 ")\n",      \
				__FILE__, __LINE__, test_current, #a, #b, _a, _b);                 \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (_a && _b && !strcmp(_a, _b)) {                                                 \
			test_passed++;                                                             \
		} else {                                                                           \
			test_failed++;                                                             \
			fprintf(stderr, "FAIL %s:%d %s: %s == %s (\"%s\" != \"%s\")\n", __FILE__,  \
				__LINE__, test_current, #a, #b, _a ? _a : "(null)",                \
				_b ? _b : "(null)");                                               \
		}                                                                                  \
	} while (0)

typedef void (*test_fn)(void);

static inline int test_run(const char *prog, const test_fn *fns, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		test_current = names[i];
		fns[i]();
	}
	printf("%s: %u passed, %u failed\n", prog, test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#define TEST_STR_(...) #__VA_ARGS__
#define TEST_MAIN(...)                                                                             \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static const test_fn fns[] = { __VA_ARGS__ };                                      \
		char names_buf[] = TEST_STR_(__VA_ARGS__);                                         \
		const char *names[ARRAY_SIZE_T(fns)];                                              \
		char *save = NULL, *tok = strtok_r(names_buf, ", ", &save);                        \
		for (size_t i = 0; i < ARRAY_SIZE_T(fns); i++) {                                   \
			names[i] = tok ? tok : "?";                                                \
			tok = strtok_r(NULL, ", ", &save);                                         \
		}                                                                                  \
		(void)argc;                                                                        \
		return test_run(argv[0], fns, names, ARRAY_SIZE_T(fns));                           \
	}
#define ARRAY_SIZE_T(a) (sizeof(a) / sizeof((a)[0]))

#endif
