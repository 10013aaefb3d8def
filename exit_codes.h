/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_EXIT_CODES_H
#define COHO_EXIT_CODES_H

/*
 * coho's exit status tells a script what happened; README.md documents the
 * table and it stays stable.
 */
enum coho_exit {
	COHO_EXIT_POWEROFF = 0,	     /* guest powered off (PSCI SYSTEM_OFF) */
	COHO_EXIT_VMM_ERROR = 1,     /* VMM failure at run time (KVM, I/O) */
	COHO_EXIT_USAGE = 2,	     /* bad option or input, nothing started */
	COHO_EXIT_RESET = 3,	     /* guest asked for a reset (PSCI SYSTEM_RESET) */
	COHO_EXIT_CRASH = 4,	     /* guest reported a crash (PSCI crash event) */
	COHO_EXIT_GUEST_FAULT = 5,   /* guest did what cannot be emulated */
	COHO_EXIT_USER_QUIT = 6,     /* stopped from the console (Ctrl-A x) */
	COHO_EXIT_SIGNAL_BASE = 128, /* killed by signal N: 128 + N */
};

#endif
