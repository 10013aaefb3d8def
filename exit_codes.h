/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_EXIT_CODES_H
#define COHO_EXIT_CODES_H

#include <stdbool.h>

/*
 * coho's exit status tells a script what happened; README.md documents the
 * table and it stays stable.
 */
enum coho_exit {
	COHO_EXIT_POWEROFF = 0,	     /* guest powered off (PSCI SYSTEM_OFF), or `coho stop` */
	COHO_EXIT_VMM_ERROR = 1,     /* VMM failure at run time (KVM, I/O) */
	COHO_EXIT_USAGE = 2,	     /* bad option or input, nothing started */
	COHO_EXIT_RESET = 3,	     /* guest reboot with --no-reboot, or past --reboot-limit */
	COHO_EXIT_PANIC = 4,	     /* guest kernel panicked (or reported a crash) */
	COHO_EXIT_GUEST_FAULT = 5,   /* guest did what cannot be emulated */
	COHO_EXIT_USER_QUIT = 6,     /* stopped from the console (Ctrl-A x) */
	COHO_EXIT_TIMEOUT = 7,	     /* --timeout expired */
	COHO_EXIT_SIGNAL_BASE = 128, /* killed by signal N: 128 + N */
};

/* coho_outcome(): the guest is to be booted again. */
#define COHO_REBOOT (-1)

/*
 * What a VM stop with exit code @code means after @reboots reboots: the
 * code to exit with, or COHO_REBOOT when a guest reboot (COHO_EXIT_RESET)
 * is allowed (no --no-reboot, and within --reboot-limit, 0 = no limit).
 */
int coho_outcome(int code, bool no_reboot, unsigned reboot_limit, unsigned reboots);

/* The code for a guest's PSCI SYSTEM_RESET: a panic if its panic report came first. */
int coho_reset_code(bool panic_reported);

#endif
