/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_CONSOLE_IN_H
#define COHO_CONSOLE_IN_H

#include "util/types.h"

struct vm;

/*
 * Where console input goes: the 8250 UART or a virtio console. @room says
 * how many bytes it takes now; when it had none, @wake_fd becomes readable
 * once it has room again.
 */
struct console_sink {
	size_t (*room)(void *dev);
	size_t (*receive)(void *dev, const u8 *buf, size_t len);
	int wake_fd;
	void *dev;
};

/*
 * Console input from the user's terminal to the guest's console device. On a
 * terminal, Ctrl-A is an escape as in kvmtool and QEMU: Ctrl-A x stops the
 * VM (exit code COHO_EXIT_USER_QUIT), Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A
 * followed by anything else sends both. Input that is not a terminal passes
 * through byte for byte.
 */
struct console_in {
	struct vm *vm;
	struct console_sink sink;
	bool tty;
	bool escape;
	bool eof;
};

/*
 * Feed @len bytes of input; the caller reads no more than the sink's free
 * room, so nothing is dropped. Returns the number of bytes consumed (all of
 * them unless Ctrl-A x stopped the VM).
 */
size_t console_feed(struct console_in *c, const u8 *buf, size_t len);

#endif
