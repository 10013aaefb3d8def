/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_UTIL_TERM_H
#define COHO_UTIL_TERM_H

#include <stdbool.h>

/*
 * Put the terminal on @fd in raw mode while the guest owns the console.
 * The saved state is restored by term_restore(), which is idempotent and
 * also runs from atexit() and from fatal-signal handlers, so the user's
 * terminal survives every way coho can end.
 */
bool term_enter_raw(int fd);
void term_restore(void);

#endif
