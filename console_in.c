// SPDX-License-Identifier: GPL-2.0
#include "console_in.h"
#include "exit_codes.h"
#include "vm.h"

#define CTRL_A 0x01

size_t console_feed(struct console_in *c, const u8 *buf, size_t len)
{
	static const u8 ctrl_a = CTRL_A;
	size_t i;

	for (i = 0; i < len; i++) {
		u8 ch = buf[i];

		if (c->escape) {
			c->escape = false;
			if (ch == 'x' || ch == 'X') {
				vm_request_stop(c->vm, COHO_EXIT_USER_QUIT);
				return i + 1;
			}
			if (ch != CTRL_A)
				c->sink.receive(c->sink.dev, &ctrl_a, 1);
		} else if (c->tty && ch == CTRL_A) {
			c->escape = true;
			continue;
		}
		c->sink.receive(c->sink.dev, &ch, 1);
	}
	return len;
}
