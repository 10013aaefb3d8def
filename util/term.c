// SPDX-License-Identifier: GPL-2.0
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util/term.h"

/*
 * The one piece of process-wide state besides the command table: a signal
 * handler has nothing else to find the terminal's saved state with.
 */
static struct termios saved_termios;
static int saved_fd = -1;

void term_restore(void)
{
	if (saved_fd >= 0) {
		tcsetattr(saved_fd, TCSAFLUSH, &saved_termios);
		saved_fd = -1;
	}
}

static void term_fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

bool term_enter_raw(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct termios raw;
	size_t i;

	if (!isatty(fd) || tcgetattr(fd, &saved_termios) < 0)
		return false;
	raw = saved_termios;
	cfmakeraw(&raw);
	/* Keep output post-processing: coho's own messages end in \n. */
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		return false;
	saved_fd = fd;
	atexit(term_restore);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], term_fatal_signal);
	return true;
}
