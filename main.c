// SPDX-License-Identifier: GPL-2.0
/* coho: the command table. Also answers to the name lkvm, like kvmtool. */
#include <stdio.h>
#include <string.h>

#include "builtin-ctl.h"
#include "builtin-run.h"
#include "exit_codes.h"
#include "util/log.h"
#include "util/types.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "run", cmd_run, "start a virtual machine" },
	{ "list", cmd_list, "list this user's running guests" },
	{ "stop", cmd_stop, "stop a running guest (or all of them)" },
	{ "pause", cmd_pause, "pause a running guest's vCPUs" },
	{ "resume", cmd_resume, "resume a paused guest" },
	{ "debug", cmd_debug, "dump a guest's vCPU registers, or send it a magic SysRq key" },
	{ "version", cmd_version, "print the version of coho" },
	{ "help", cmd_help, "show help for coho or one of its commands" },
};

/* kvmtool commands that coho does not have yet: named so the error is clear. */
static const char *const later_commands[] = { "balloon", "setup", "sandbox", "stat" };

static int cmd_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("coho version %s\n", COHO_VERSION);
	return 0;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: coho COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "    %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nSee 'coho help COMMAND' for the options of a command.\n");
}

/* `coho help COMMAND` for the commands other than run (whose options have a table). */
static const struct {
	const char *name;
	const char *usage;
} command_usage[] = {
	{ "list", "coho list\n\nList this user's running guests: NAME, PID and STATE "
		  "(running or paused).\n" },
	{ "stop", "coho stop --name NAME | --all\n\nStop the guest NAME, or every guest of this "
		  "user, cleanly.\n" },
	{ "pause", "coho pause --name NAME\n\nStop the vCPUs of the guest NAME.\n" },
	{ "resume", "coho resume --name NAME\n\nRestart the vCPUs of the paused guest NAME.\n" },
	{ "debug", "coho debug --name NAME [--dump] [--sysrq KEY]\n\n"
		   "    --dump           print the registers of every vCPU of the guest NAME\n"
		   "    --sysrq KEY      send the magic SysRq KEY to the guest's console\n" },
	{ "version", "coho version\n\nPrint the version of coho (also: coho --version).\n" },
	{ "help", "coho help [COMMAND]\n\nList the commands, or show how to use COMMAND.\n" },
};

/* Commands get their arguments without their own name: argv[0] is the first one. */
static int cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc == 0) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[0], "run")) {
		run_usage(stdout);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(command_usage); i++) {
		if (!strcmp(argv[0], command_usage[i].name)) {
			printf("usage: %s", command_usage[i].usage);
			return 0;
		}
	}
	pr_err("no help for unknown command '%s' (see coho help)", argv[0]);
	return COHO_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return COHO_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(0, NULL);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 2, argv + 2) & 0xff;
	for (i = 0; i < ARRAY_SIZE(later_commands); i++) {
		if (!strcmp(argv[1], later_commands[i])) {
			pr_err("command '%s' is not supported by coho yet", argv[1]);
			return COHO_EXIT_USAGE;
		}
	}
	pr_err("unknown command '%s' (see coho help)", argv[1]);
	return COHO_EXIT_USAGE;
}
