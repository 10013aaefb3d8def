/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_BUILTIN_RUN_H
#define COHO_BUILTIN_RUN_H

#include <stdio.h>

int cmd_run(int argc, char **argv);
void run_usage(FILE *f);

#endif
