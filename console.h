/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_CONSOLE_H
#define COHO_CONSOLE_H

#include "util/types.h"

struct vm;
struct uart8250;

/*
 * Console input from the user's terminal to the guest's UART. On a
 * terminal, Ctrl-A is an escape as in kvmtool and QEMU: Ctrl-A x stops the
 * VM (exit code COHO_EXIT_USER_QUIT), Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A
 * followed by anything else sends both. Input that is not a terminal passes
 * through byte for byte.
 */
struct console_in {
	struct vm *vm;
	struct uart8250 *uart;
	bool tty;
	bool escape;
	bool eof;
};

/*
 * Feed @len bytes of input; the caller reads no more than the UART's free
 * room, so nothing is dropped. Returns the number of bytes consumed (all of
 * them unless Ctrl-A x stopped the VM).
 */
size_t console_feed(struct console_in *c, const u8 *buf, size_t len);

#endif
