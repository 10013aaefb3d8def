/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_BUILTIN_CTL_H
#define COHO_BUILTIN_CTL_H

/* The commands that drive running guests through their control sockets (control.h). */
int cmd_list(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_debug(int argc, char **argv);

#endif
