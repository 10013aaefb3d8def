// SPDX-License-Identifier: GPL-2.0
#include "exit_codes.h"

int coho_outcome(int code, bool no_reboot, unsigned reboot_limit, unsigned reboots)
{
	if (code != COHO_EXIT_RESET || no_reboot)
		return code;
	if (reboot_limit && reboots >= reboot_limit)
		return COHO_EXIT_RESET;
	return COHO_REBOOT;
}

int coho_reset_code(bool panic_reported)
{
	/* panic=-1 makes the kernel reset right after its report: that is a panic. */
	return panic_reported ? COHO_EXIT_PANIC : COHO_EXIT_RESET;
}
