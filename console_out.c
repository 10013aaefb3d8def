// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "console_out.h"

/* Both lines are printed at KERN_EMERG by panic(), whatever the loglevel. */
#define PANIC_START "Kernel panic - not syncing"
#define PANIC_END   "---[ end Kernel panic - not syncing"

void console_out_init(struct console_out *c, int out_fd, int log_fd)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = out_fd;
	c->log_fd = log_fd;
	pthread_mutex_init(&c->lock, NULL);
}

void console_out_destroy(struct console_out *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* All of @buf to @fd; false once @fd cannot take more (the text is dropped). */
static bool write_all(struct console_out *c, int fd, const u8 *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		/*
		 * A reader that stopped reading blocks us; the stop kick
		 * interrupts the write, and then the output is given up so
		 * the vCPU can leave.
		 */
		if (n < 0 && errno == EINTR && !(c->stopping && c->stopping(c->opaque)))
			continue;
		/* An inherited non-blocking stdout: wait for room, as a blocking one would. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, -1) >= 0 || errno == EINTR) {
				if (!(c->stopping && c->stopping(c->opaque)))
					continue;
			}
		}
		return false;
	}
	return true;
}

static void watch_line(struct console_out *c)
{
	enum console_panic next = c->panic;

	c->line[c->line_len] = '\0';
	if (c->panic < CONSOLE_PANIC_STARTED && strstr(c->line, PANIC_START))
		next = CONSOLE_PANIC_STARTED;
	if (strstr(c->line, PANIC_END))
		next = CONSOLE_PANIC_COMPLETE;
	c->line_len = 0;
	if (next != c->panic) {
		c->panic = next;
		if (c->panic_cb)
			c->panic_cb(c->opaque, next);
	}
}

void console_out_write(struct console_out *c, const u8 *buf, size_t len)
{
	pthread_mutex_lock(&c->lock);
	if (c->out_fd >= 0 && !c->out_broken && !write_all(c, c->out_fd, buf, len))
		c->out_broken = true;
	if (c->log_fd >= 0 && !c->log_broken && !write_all(c, c->log_fd, buf, len))
		c->log_broken = true;
	for (size_t i = 0; i < len; i++) {
		u8 ch = buf[i];

		if (ch == '\n') {
			watch_line(c);
			continue;
		}
		/* A NUL would end the line early for strstr; keep the text searchable. */
		if (c->line_len < CONSOLE_LINE_MAX - 1)
			c->line[c->line_len++] = ch ? (char)ch : ' ';
	}
	/* A line that fills the buffer is checked without waiting for its end. */
	if (c->line_len == CONSOLE_LINE_MAX - 1)
		watch_line(c);
	pthread_mutex_unlock(&c->lock);
}
