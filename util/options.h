/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_UTIL_OPTIONS_H
#define COHO_UTIL_OPTIONS_H

#include <stdio.h>

#include "util/types.h"

/*
 * A table-driven command-line parser accepting the forms kvmtool (git's
 * parse-options) accepts: -k FILE, -kFILE, --kernel FILE, --kernel=FILE,
 * and "--" to end options.
 */
enum opt_type {
	OPT_END,
	OPT_GROUP,	 /* a heading in --help */
	OPT_FLAG,	 /* bool *, no argument */
	OPT_STRING,	 /* const char **, the argument itself */
	OPT_CALLBACK,	 /* parsed by cb(value, arg); returns 0 or -errno (message already given) */
	OPT_UNSUPPORTED, /* a kvmtool option coho does not implement yet: always an error */
};

struct option_spec {
	enum opt_type type;
	char short_name;
	const char *long_name;
	void *value;
	const char *argh; /* argument name in --help; NULL: no argument */
	const char *help;
	const char *def; /* default shown in --help, or NULL */
	int (*cb)(void *value, const char *arg, const char *opt);
};

#define OPT_END_MARKER                                                                             \
	{                                                                                          \
		.type = OPT_END                                                                    \
	}

/*
 * Parse @argv (without the command name). Positional arguments are stored
 * in @pos (up to @max_pos). Returns the number of positionals, or -1 after
 * printing one "coho: error: ..." line.
 */
int options_parse(const struct option_spec *specs, int argc, char **argv, char **pos, int max_pos);

/* Print every option with its argument, help and default. */
void options_usage(FILE *f, const char *usage, const struct option_spec *specs);

#endif
