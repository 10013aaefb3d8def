// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

bool log_debug_enabled;
static struct timespec log_t0;

/* Debug lines carry seconds since the first one could be logged, for boot profiling. */
__attribute__((constructor)) static void log_start_clock(void)
{
	clock_gettime(CLOCK_MONOTONIC, &log_t0);
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
	/* The terminal keeps output post-processing in raw mode, so \n is enough. */
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
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
void pr_debug_line(const char *fmt, ...)
{
	struct timespec t;
	char tag[48];
	va_list ap;
	long long us;

	clock_gettime(CLOCK_MONOTONIC, &t);
	us = (long long)(t.tv_sec - log_t0.tv_sec) * 1000000 + (t.tv_nsec - log_t0.tv_nsec) / 1000;
	snprintf(tag, sizeof(tag), "debug: [%lld.%06lld] ", us / 1000000, us % 1000000);
	va_start(ap, fmt);
	log_line(tag, fmt, ap);
	va_end(ap);
}
