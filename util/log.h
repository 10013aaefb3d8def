/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_UTIL_LOG_H
#define COHO_UTIL_LOG_H

#include <stdbool.h>

/*
 * One line per message on stderr, prefixed "coho: ". Library code logs the
 * failure with its context and returns -errno; only the top level exits.
 */
extern bool log_debug_enabled;

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define pr_debug(...)                                                                              \
	do {                                                                                       \
		if (log_debug_enabled)                                                             \
			pr_debug_line(__VA_ARGS__);                                                \
	} while (0)

#endif
