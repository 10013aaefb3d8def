// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

bool log_debug_enabled;
static bool raw_terminal;

void log_set_raw_terminal(bool raw)
{
	raw_terminal = raw;
}

/* Format the whole line first and emit it with one write(2), so that lines
 * from different threads never interleave. */
static void log_line(const char *tag, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "coho: %s", tag);
	int m;

	if (n < 0)
		return;
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3;
	if (raw_terminal)
		buf[n++] = '\r';
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

#define DEFINE_LOG(name, tag)                                                                      \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_line(tag, fmt, ap);                                                            \
		va_end(ap);                                                                        \
	}

DEFINE_LOG(pr_err, "error: ")
DEFINE_LOG(pr_warn, "warning: ")
DEFINE_LOG(pr_info, "")
DEFINE_LOG(pr_debug_line, "debug: ")
