/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_CONSOLE_OUT_H
#define COHO_CONSOLE_OUT_H

#include <pthread.h>

#include "util/types.h"

/*
 * Everything the guest prints on its console (8250 UART or virtio console)
 * passes through here: to the terminal (stdout), to --console-log if given
 * (written straight through, so it is complete at any exit), and past a
 * watcher that recognises the kernel's panic report. Writers are vCPU and
 * device threads; a lock keeps their text and the watcher's line whole.
 */
#define CONSOLE_LINE_MAX 256

enum console_panic {
	CONSOLE_PANIC_NONE,
	CONSOLE_PANIC_STARTED,	/* "Kernel panic - not syncing" seen */
	CONSOLE_PANIC_COMPLETE, /* its "---[ end Kernel panic" line too */
};

struct console_out {
	int out_fd; /* the terminal side (stdout), -1: none */
	int log_fd; /* --console-log, -1: none */
	bool out_broken, log_broken;
	/* Called (lock held) when the panic state advances. */
	void (*panic_cb)(void *opaque, enum console_panic state);
	void *opaque;
	/* Stops a write blocked on a reader that went away (the VM is stopping). */
	bool (*stopping)(void *opaque);
	pthread_mutex_t lock;
	enum console_panic panic;
	char line[CONSOLE_LINE_MAX];
	u32 line_len;
};

void console_out_init(struct console_out *c, int out_fd, int log_fd);
void console_out_destroy(struct console_out *c);
/* Print @len bytes of guest console output. */
void console_out_write(struct console_out *c, const u8 *buf, size_t len);

#endif
