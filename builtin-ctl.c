// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "builtin-ctl.h"
#include "control.h"
#include "exit_codes.h"
#include "util/log.h"
#include "util/options.h"

#define REPLY_MAX 16384

struct ctl_opts {
	const char *name;
	const char *sysrq;
	bool all, dump, help;
};

#define OPT_NAME(o)                                                                                \
	{                                                                                          \
		.type = OPT_STRING, .short_name = 'n', .long_name = "name", .value = &(o)->name,   \
		.argh = "NAME", .help = "the guest's name (coho run --name)"                       \
	}
#define OPT_HELP(o)                                                                                \
	{                                                                                          \
		.type = OPT_FLAG, .short_name = 'h', .long_name = "help", .value = &(o)->help,     \
		.help = "show this help"                                                           \
	}

static int ctl_parse(const char *cmd, const char *usage, int argc, char **argv, struct ctl_opts *o,
		     bool allow_all, bool debug)
{
	const struct option_spec one[] = { OPT_NAME(o), OPT_HELP(o), OPT_END_MARKER };
	const struct option_spec all[] = {
		OPT_NAME(o),
		{ .type = OPT_FLAG,
		  .short_name = 'a',
		  .long_name = "all",
		  .value = &o->all,
		  .help = "every running guest of this user" },
		OPT_HELP(o),
		OPT_END_MARKER,
	};
	const struct option_spec dbg[] = {
		OPT_NAME(o),
		{ .type = OPT_FLAG,
		  .short_name = 'd',
		  .long_name = "dump",
		  .value = &o->dump,
		  .help = "print every vCPU's registers (the default without --sysrq)" },
		{ .type = OPT_STRING,
		  .short_name = 's',
		  .long_name = "sysrq",
		  .value = &o->sysrq,
		  .argh = "KEY",
		  .help = "send magic SysRq KEY to the guest's console" },
		OPT_HELP(o),
		OPT_END_MARKER,
	};
	const struct option_spec *specs = debug ? dbg : allow_all ? all : one;

	if (options_parse(specs, argc, argv, NULL, 0) < 0)
		return COHO_EXIT_USAGE;
	if (o->help) {
		options_usage(stdout, usage, specs);
		return -1;
	}
	if (o->all && o->name) {
		pr_err("%s: --name and --all cannot be combined", cmd);
		return COHO_EXIT_USAGE;
	}
	if (!o->all && !o->name) {
		pr_err("%s: which guest? give --name NAME%s", cmd, allow_all ? " or --all" : "");
		return COHO_EXIT_USAGE;
	}
	if (o->name && !control_name_ok(o->name)) {
		pr_err("%s: invalid guest name '%s'", cmd, o->name);
		return COHO_EXIT_USAGE;
	}
	if (o->sysrq && (strlen(o->sysrq) != 1 || o->sysrq[0] <= ' ' || o->sysrq[0] >= 0x7f)) {
		pr_err("%s: --sysrq takes one printable character, not '%s'", cmd, o->sysrq);
		return COHO_EXIT_USAGE;
	}
	if (debug && !o->dump && !o->sysrq)
		o->dump = true; /* kvmtool's `debug` dumps by default */
	return 0;
}

/* Send @req to guest @name and print the reply; 0 if it said ok. */
static int ctl_send(const char *cmd, const char *dir, const char *name, const char *req, bool print)
{
	static char reply[REPLY_MAX];
	int ret = control_request(dir, name, req, reply, sizeof(reply));

	if (ret == -ENOENT) {
		pr_err("%s: no guest named %s is running", cmd, name);
		return COHO_EXIT_USAGE;
	}
	if (ret) {
		pr_err("%s: cannot reach guest %s: %s", cmd, name, strerror(-ret));
		return COHO_EXIT_VMM_ERROR;
	}
	if (strncmp(reply, "ok", 2)) {
		pr_err("%s: guest %s: %.*s", cmd, name, (int)strcspn(reply, "\n"), reply);
		return COHO_EXIT_VMM_ERROR;
	}
	if (print) {
		const char *rest = strchr(reply, '\n');

		if (rest && rest[1])
			fputs(rest + 1, stdout);
	}
	return 0;
}

/* Call @fn for each NAME.sock in @dir. */
static int for_each_guest(const char *dir, int (*fn)(const char *dir, const char *name, void *arg),
			  void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char name[CONTROL_NAME_MAX + 1];
		size_t n = strlen(e->d_name);

		if (n <= 5 || n - 5 > CONTROL_NAME_MAX || strcmp(e->d_name + n - 5, ".sock"))
			continue;
		memcpy(name, e->d_name, n - 5);
		name[n - 5] = '\0';
		if (!control_name_ok(name))
			continue;
		ret |= fn(dir, name, arg);
	}
	closedir(d);
	return ret;
}

static int list_one(const char *dir, const char *name, void *arg)
{
	char reply[256], pid[16] = "?", state[16] = "?";
	const char *p;

	(void)arg;
	/* A stale socket (its coho is gone) is removed by control_request. */
	if (control_request(dir, name, "status", reply, sizeof(reply)) || strncmp(reply, "ok", 2))
		return 0;
	p = strstr(reply, " pid=");
	if (p)
		sscanf(p + 5, "%15[0-9]", pid);
	p = strstr(reply, " state=");
	if (p)
		sscanf(p + 7, "%15[a-z]", state);
	printf("%-24s %-8s %s\n", name, pid, state);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	char dir[108];
	int ret;

	if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
		printf("usage: coho list\n\nList this user's running guests: name, PID, state.\n");
		return 0;
	}
	if (argc > 0) {
		pr_err("list: unexpected argument '%s'", argv[0]);
		return COHO_EXIT_USAGE;
	}
	ret = control_dir(dir, sizeof(dir), false);
	if (ret && ret != -ENOENT)
		return COHO_EXIT_USAGE;
	printf("%-24s %-8s %s\n", "NAME", "PID", "STATE");
	if (ret == -ENOENT)
		return 0;
	return for_each_guest(dir, list_one, NULL) < 0 ? COHO_EXIT_VMM_ERROR : 0;
}

static int stop_one(const char *dir, const char *name, void *arg)
{
	(void)arg;
	return ctl_send("stop", dir, name, "stop", false) == 0 ? 0 : 1;
}

/* One request to one guest (or, for stop --all, to each). */
static int ctl_simple(const char *cmd, const char *usage, const char *req, int argc, char **argv,
		      bool allow_all)
{
	struct ctl_opts o = { 0 };
	char dir[108];
	int ret = ctl_parse(cmd, usage, argc, argv, &o, allow_all, false);

	if (ret)
		return ret < 0 ? 0 : ret;
	ret = control_dir(dir, sizeof(dir), false);
	if (ret == -ENOENT && o.all)
		return 0;
	if (ret == -ENOENT) {
		pr_err("%s: no guest named %s is running", cmd, o.name);
		return COHO_EXIT_USAGE;
	}
	if (ret)
		return COHO_EXIT_USAGE;
	if (o.all)
		return for_each_guest(dir, stop_one, NULL) ? COHO_EXIT_VMM_ERROR : 0;
	return ctl_send(cmd, dir, o.name, req, true);
}

int cmd_stop(int argc, char **argv)
{
	return ctl_simple("stop", "coho stop (--name NAME | --all)", "stop", argc, argv, true);
}

int cmd_pause(int argc, char **argv)
{
	return ctl_simple("pause", "coho pause --name NAME", "pause", argc, argv, false);
}

int cmd_resume(int argc, char **argv)
{
	return ctl_simple("resume", "coho resume --name NAME", "resume", argc, argv, false);
}

int cmd_debug(int argc, char **argv)
{
	struct ctl_opts o = { 0 };
	char dir[108], req[16];
	int ret = ctl_parse("debug", "coho debug --name NAME [--dump] [--sysrq KEY]", argc, argv,
			    &o, false, true);

	if (ret)
		return ret < 0 ? 0 : ret;
	ret = control_dir(dir, sizeof(dir), false);
	if (ret == -ENOENT) {
		pr_err("debug: no guest named %s is running", o.name);
		return COHO_EXIT_USAGE;
	}
	if (ret)
		return COHO_EXIT_USAGE;
	if (o.dump) {
		ret = ctl_send("debug", dir, o.name, "dump", true);
		if (ret)
			return ret;
	}
	if (o.sysrq) {
		snprintf(req, sizeof(req), "sysrq %c", o.sysrq[0]);
		ret = ctl_send("debug", dir, o.name, req, false);
	}
	return ret;
}
