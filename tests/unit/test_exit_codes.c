// SPDX-License-Identifier: GPL-2.0
/* The exit-code table scripts rely on, and what a stop turns into (exit_codes.c). */
#include "exit_codes.h"
#include "tests/unit/test.h"

static void test_table(void)
{
	/* README.md's table: stable numbers. */
	CHECK_EQ_U64(COHO_EXIT_POWEROFF, 0);
	CHECK_EQ_U64(COHO_EXIT_VMM_ERROR, 1);
	CHECK_EQ_U64(COHO_EXIT_USAGE, 2);
	CHECK_EQ_U64(COHO_EXIT_RESET, 3);
	CHECK_EQ_U64(COHO_EXIT_PANIC, 4);
	CHECK_EQ_U64(COHO_EXIT_GUEST_FAULT, 5);
	CHECK_EQ_U64(COHO_EXIT_USER_QUIT, 6);
	CHECK_EQ_U64(COHO_EXIT_TIMEOUT, 7);
	CHECK_EQ_U64(COHO_EXIT_SIGNAL_BASE, 128);
	/* A reboot is never an exit code. */
	CHECK(COHO_REBOOT < 0);
}

static void test_outcome(void)
{
	static const int others[] = { COHO_EXIT_POWEROFF,	 COHO_EXIT_VMM_ERROR,
				      COHO_EXIT_PANIC,		 COHO_EXIT_GUEST_FAULT,
				      COHO_EXIT_USER_QUIT,	 COHO_EXIT_TIMEOUT,
				      COHO_EXIT_SIGNAL_BASE + 15 };

	/* Anything but a reset ends the run with its own code, whatever the options. */
	for (unsigned i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK_EQ_U64(coho_outcome(others[i], false, 0, 0), others[i]);
		CHECK_EQ_U64(coho_outcome(others[i], true, 3, 5), others[i]);
	}
	/* A reset reboots by default, without limit. */
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, false, 0, 0), (unsigned long long)COHO_REBOOT);
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, false, 0, 1000000),
		     (unsigned long long)COHO_REBOOT);
	/* --no-reboot: exit 3 at the first one. */
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, true, 0, 0), COHO_EXIT_RESET);
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, true, 5, 0), COHO_EXIT_RESET);
	/* --reboot-limit 2: reboots 1 and 2 happen, the third request ends it. */
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, false, 2, 0), (unsigned long long)COHO_REBOOT);
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, false, 2, 1), (unsigned long long)COHO_REBOOT);
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, false, 2, 2), COHO_EXIT_RESET);
	CHECK_EQ_U64(coho_outcome(COHO_EXIT_RESET, false, 1, 1), COHO_EXIT_RESET);
}

static void test_reset_code(void)
{
	CHECK_EQ_U64(coho_reset_code(false), COHO_EXIT_RESET);
	/* panic=-1: the reset that follows a panic report is the panic. */
	CHECK_EQ_U64(coho_reset_code(true), COHO_EXIT_PANIC);
}

TEST_MAIN(test_table, test_outcome, test_reset_code)
