// SPDX-License-Identifier: GPL-2.0
/*
 * util/options.c: every accepted spelling of an option (the git/kvmtool
 * parse-options forms), positionals and "--", and every error path, which
 * must return -1 after exactly one "coho: error: ..." line on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/options.h"
#include "util/parse.h"
#include "tests/unit/test.h"
#include "tests/unit/capture.h"

/* ---- the option table under test ---- */

struct mem_arg {
	unsigned calls;
	u64 size;
	const char *last_arg;
	char last_opt[32]; /* the name is only valid during the call */
};

static bool opt_debug, opt_quiet;
static const char *opt_kernel, *opt_params, *opt_name, *opt_disk;
static struct mem_arg opt_mem;

static int mem_cb(void *value, const char *arg, const char *opt)
{
	struct mem_arg *m = value;
	u64 size;
	int ret;

	m->calls++;
	m->last_arg = arg;
	snprintf(m->last_opt, sizeof(m->last_opt), "%s", opt);
	ret = parse_size(arg, SZ_1M, &size);
	if (ret) {
		pr_err("option %s: invalid size '%s'", opt, arg);
		return ret;
	}
	m->size = size;
	return 0;
}

static const struct option_spec specs[] = {
	{ .type = OPT_GROUP, .help = "Basic options:" },
	{ OPT_STRING, 'k', "kernel", &opt_kernel, "FILE", "kernel image to boot", NULL, NULL },
	{ OPT_STRING, 'p', "params", &opt_params, "PARAMS", "kernel command line", "console=ttyS0",
	  NULL },
	{ OPT_CALLBACK, 'm', "mem", &opt_mem, "SIZE", "guest RAM", "256M", mem_cb },
	{ OPT_STRING, 0, "name", &opt_name, "NAME", "guest name", "guest-PID", NULL },
	{ .type = OPT_GROUP, .help = "Debugging:" },
	{ OPT_FLAG, 'd', "debug", &opt_debug, NULL, "verbose log", "off", NULL },
	{ OPT_FLAG, 'q', "quiet", &opt_quiet, NULL, "quiet", NULL, NULL },
	/* Too wide for the option column: --help may wrap it. */
	{ OPT_STRING, 0, "disk-image-path", &opt_disk, "PATH[,ro][,direct][,id=ID]", "a disk image",
	  "none", NULL },
	{ OPT_UNSUPPORTED, 0, "balloon", NULL, NULL, "virtio balloon", NULL, NULL },
	{ OPT_UNSUPPORTED, 't', "tty", NULL, "TTY", "serial on a pty", NULL, NULL },
	OPT_END_MARKER,
};

static void reset(void)
{
	opt_debug = opt_quiet = false;
	opt_kernel = opt_params = opt_name = opt_disk = NULL;
	memset(&opt_mem, 0, sizeof(opt_mem));
}

/*
 * Parse a NULL-terminated list of arguments with room for @max_pos
 * positionals. Returns options_parse()'s result; stderr output in *err.
 */
#define MAX_ARGS 16
static char *pos[MAX_ARGS];
static char argv_store[MAX_ARGS][64];

static int parse_list(int max_pos, const char **err, const char *const *args)
{
	char *argv[MAX_ARGS];
	int argc = 0, ret;

	reset();
	memset(pos, 0, sizeof(pos));
	for (; args[argc]; argc++) {
		snprintf(argv_store[argc], sizeof(argv_store[argc]), "%s", args[argc]);
		argv[argc] = argv_store[argc];
	}
	argv[argc] = NULL;
	capture_begin();
	ret = options_parse(specs, argc, argv, pos, max_pos);
	*err = capture_end();
	return ret;
}

#define PARSE(max_pos, err, ...)                                                                   \
	parse_list(max_pos, err, (const char *const[]){ __VA_ARGS__, NULL })

/* Success: @want positionals and nothing on stderr. */
#define EXPECT_OK(want, max_pos, ...)                                                              \
	do {                                                                                       \
		const char *_err;                                                                  \
		int _r = PARSE(max_pos, &_err, __VA_ARGS__);                                       \
		CHECK_EQ_U64((u64)(s64)_r, (u64)(s64)(want));                                      \
		CHECK_STR(_err, "");                                                               \
	} while (0)

/* Failure: -1 and exactly one "coho: error:" line (containing @needle). */
static void expect_err_(const char *what, const char *needle, int ret, const char *err)
{
	CHECK_EQ_U64((u64)(s64)ret, (u64)(s64)-1);
	CHECK(!strncmp(err, "coho: error:", 12));
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(err[0] && err[strlen(err) - 1] == '\n');
	CHECK(strstr(err, needle) != NULL);
	if (ret != -1 || strncmp(err, "coho: error:", 12) || count_lines(err) != 1 ||
	    !strstr(err, needle))
		fprintf(stderr, "  (case %s: ret %d, stderr \"%s\")\n", what, ret, err);
}

#define EXPECT_ERR(needle, max_pos, ...)                                                           \
	do {                                                                                       \
		const char *_err;                                                                  \
		int _r = PARSE(max_pos, &_err, __VA_ARGS__);                                       \
		expect_err_(#__VA_ARGS__, needle, _r, _err);                                       \
	} while (0)

static void test_string_forms(void)
{
	EXPECT_OK(0, 1, "-k", "Image");
	CHECK_STR(opt_kernel, "Image");
	EXPECT_OK(0, 1, "-kImage");
	CHECK_STR(opt_kernel, "Image");
	EXPECT_OK(0, 1, "--kernel", "Image");
	CHECK_STR(opt_kernel, "Image");
	EXPECT_OK(0, 1, "--kernel=Image");
	CHECK_STR(opt_kernel, "Image");
	/* Everything after the first '=' is the argument, '=' included. */
	EXPECT_OK(0, 1, "--params=console=ttyS0 root=/dev/vda");
	CHECK_STR(opt_params, "console=ttyS0 root=/dev/vda");
	EXPECT_OK(0, 1, "-pa=b");
	CHECK_STR(opt_params, "a=b");
	/* An explicitly empty argument is an argument. */
	EXPECT_OK(0, 1, "--kernel=");
	CHECK_STR(opt_kernel, "");
	EXPECT_OK(0, 1, "-k", "");
	CHECK_STR(opt_kernel, "");
	EXPECT_OK(0, 1, "--kernel", "");
	CHECK_STR(opt_kernel, "");
	/* The next word is the argument even if it looks like an option (parse-options). */
	EXPECT_OK(0, 1, "-k", "-d");
	CHECK_STR(opt_kernel, "-d");
	CHECK(!opt_debug);
	EXPECT_OK(0, 1, "--kernel", "--");
	CHECK_STR(opt_kernel, "--");
	/* Long-only options. */
	EXPECT_OK(0, 1, "--disk-image-path=a.img,ro");
	CHECK_STR(opt_disk, "a.img,ro");
	EXPECT_OK(0, 1, "--name", "vm0");
	CHECK_STR(opt_name, "vm0");
	EXPECT_OK(0, 1, "--name=vm1");
	CHECK_STR(opt_name, "vm1");
	/* The last occurrence wins. */
	EXPECT_OK(0, 1, "-k", "a", "--kernel=b");
	CHECK_STR(opt_kernel, "b");
	/* The argument is the caller's argv string itself, not a copy. */
	{
		const char *err;

		PARSE(1, &err, "-k", "Image");
		CHECK(opt_kernel == argv_store[1]);
		PARSE(1, &err, "-kImage");
		CHECK(opt_kernel == argv_store[0] + 2);
		PARSE(1, &err, "--kernel=Image");
		CHECK(opt_kernel == argv_store[0] + 9);
	}
}

static void test_flags(void)
{
	EXPECT_OK(0, 1, "-d");
	CHECK(opt_debug);
	CHECK(!opt_quiet);
	EXPECT_OK(0, 1, "--debug");
	CHECK(opt_debug);
	EXPECT_OK(0, 1, "-q");
	CHECK(opt_quiet);
	EXPECT_OK(0, 1, "--quiet");
	CHECK(opt_quiet);
	CHECK(!opt_debug);
	EXPECT_OK(0, 1, "-d", "-q", "-k", "I");
	CHECK(opt_debug);
	CHECK(opt_quiet);
	CHECK_STR(opt_kernel, "I");
	/* A flag does not swallow the next word. */
	EXPECT_OK(1, 1, "--debug", "disk.img");
	CHECK(opt_debug);
	CHECK_STR(pos[0], "disk.img");
	/* Nothing given: nothing set. */
	{
		const char *err;
		char *argv[1] = { NULL };

		reset();
		capture_begin();
		CHECK_EQ_U64(options_parse(specs, 0, argv, pos, 1), 0);
		err = capture_end();
		CHECK_STR(err, "");
		CHECK(!opt_debug && !opt_quiet && !opt_kernel);
	}
}

static void test_callback(void)
{
	EXPECT_OK(0, 1, "-m", "512");
	CHECK_EQ_U64(opt_mem.calls, 1);
	CHECK_EQ_U64(opt_mem.size, 512 * SZ_1M);
	CHECK_STR(opt_mem.last_arg, "512");
	CHECK_STR(opt_mem.last_opt, "-m");
	EXPECT_OK(0, 1, "-m2G");
	CHECK_EQ_U64(opt_mem.size, 2 * SZ_1G);
	CHECK_STR(opt_mem.last_opt, "-m");
	EXPECT_OK(0, 1, "--mem", "1G");
	CHECK_EQ_U64(opt_mem.size, SZ_1G);
	CHECK_STR(opt_mem.last_opt, "--mem");
	EXPECT_OK(0, 1, "--mem=64M");
	CHECK_EQ_U64(opt_mem.size, 64 * SZ_1M);
	CHECK_STR(opt_mem.last_arg, "64M");
	CHECK_STR(opt_mem.last_opt, "--mem");
	/* Called once per occurrence, in order. */
	EXPECT_OK(0, 1, "-m", "1", "--mem=3");
	CHECK_EQ_U64(opt_mem.calls, 2);
	CHECK_EQ_U64(opt_mem.size, 3 * SZ_1M);
	/* The callback's own error: one line (its own), and parsing stops there. */
	EXPECT_ERR("invalid size '12x'", 1, "-m", "12x", "-d");
	CHECK_EQ_U64(opt_mem.calls, 1);
	CHECK(!opt_debug);
	EXPECT_ERR("--mem", 1, "--mem=1.5G");
}

static void test_positionals(void)
{
	EXPECT_OK(2, 2, "a", "b");
	CHECK_STR(pos[0], "a");
	CHECK_STR(pos[1], "b");
	CHECK(pos[2] == NULL);
	EXPECT_OK(1, 2, "a");
	CHECK_STR(pos[0], "a");
	CHECK(pos[1] == NULL);
	/* Options and positionals interleave. */
	EXPECT_OK(2, 3, "a", "-d", "b", "-k", "K");
	CHECK_STR(pos[0], "a");
	CHECK_STR(pos[1], "b");
	CHECK(opt_debug);
	CHECK_STR(opt_kernel, "K");
	/* A lone "-" is a positional (stdin, by convention). */
	EXPECT_OK(1, 1, "-");
	CHECK_STR(pos[0], "-");
	/* "--" ends options: what follows is positional, even "-k" and "--". */
	EXPECT_OK(3, 3, "-d", "--", "-k", "--", "x");
	CHECK(opt_debug);
	CHECK(opt_kernel == NULL);
	CHECK_STR(pos[0], "-k");
	CHECK_STR(pos[1], "--");
	CHECK_STR(pos[2], "x");
	EXPECT_OK(0, 1, "--");
	EXPECT_OK(1, 1, "--", "--debug");
	CHECK(!opt_debug);
	CHECK_STR(pos[0], "--debug");
	/* Too many positionals. */
	EXPECT_ERR("'c'", 2, "a", "b", "c");
	EXPECT_ERR("'a'", 0, "a");
	EXPECT_ERR("'-k'", 1, "x", "--", "-k");
}

static void test_errors(void)
{
	/* Unknown options; the message names the option without its argument. */
	EXPECT_ERR("'--nope'", 1, "--nope");
	EXPECT_ERR("'--nope'", 1, "--nope=3");
	EXPECT_ERR("'-z'", 1, "-z");
	EXPECT_ERR("'-z'", 1, "-zebra");
	/* Long names match exactly: no prefixes, no case folding, no extension. */
	EXPECT_ERR("'--kern'", 1, "--kern", "x");
	EXPECT_ERR("'--Kernel'", 1, "--Kernel", "x");
	EXPECT_ERR("'--kernels'", 1, "--kernels", "x");
	/* A long name is not a short one and vice versa. */
	EXPECT_ERR("'--k'", 1, "--k", "x");
	EXPECT_ERR("'-n'", 1, "-n", "x");
	/* Missing arguments at the end of argv. */
	EXPECT_ERR("-k", 1, "-k");
	EXPECT_ERR("--kernel", 1, "--kernel");
	EXPECT_ERR("--mem", 1, "--mem");
	CHECK_EQ_U64(opt_mem.calls, 0);
	EXPECT_ERR("--name", 1, "-d", "--name");
	/* An argument given to a flag. */
	EXPECT_ERR("--debug", 1, "--debug=x");
	EXPECT_ERR("--debug", 1, "--debug=");
	CHECK(!opt_debug);
	/* Unsupported options: always an error, with or without an argument. */
	EXPECT_ERR("--balloon", 1, "--balloon");
	EXPECT_ERR("not supported", 1, "--balloon");
	EXPECT_ERR("virtio balloon", 1, "--balloon");
	EXPECT_ERR("--tty", 1, "--tty", "0");
	EXPECT_ERR("--tty", 1, "--tty=0");
	EXPECT_ERR("-t", 1, "-t", "0");
	EXPECT_ERR("not supported", 1, "-t0");
	EXPECT_ERR("not supported", 1, "-t");
	/* The first error stops parsing: later options are not applied. */
	EXPECT_ERR("'--nope'", 1, "-d", "--nope", "-k", "x");
	CHECK(opt_debug);
	CHECK(opt_kernel == NULL);
}

/* How @s is spelled at the start of its --help entry. */
static void spelling(const struct option_spec *s, char *buf, size_t len)
{
	if (s->short_name)
		snprintf(buf, len, "-%c, --%s%s%s", s->short_name, s->long_name, s->argh ? " " : "",
			 s->argh ? s->argh : "");
	else
		snprintf(buf, len, "--%s%s%s", s->long_name, s->argh ? " " : "",
			 s->argh ? s->argh : "");
}

static void test_usage(void)
{
	char *text = NULL, want[128];
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	const char *at;

	CHECK(f != NULL);
	if (!f)
		return;
	options_usage(f, "coho run [<options>] [<kernel image>]", specs);
	fclose(f);

	CHECK(!strncmp(text, "usage: coho run [<options>] [<kernel image>]\n", 45));
	CHECK(strstr(text, "\nBasic options:\n") != NULL);
	CHECK(strstr(text, "\nDebugging:\n") != NULL);
	CHECK(text[size - 1] == '\n');

	/*
	 * Every option, in table order, each followed (before the next option)
	 * by its help and its default; the layout itself (columns, wrapping of
	 * long argument names) is free.
	 */
	at = text;
	for (const struct option_spec *s = specs; s->type != OPT_END; s++) {
		const char *entry, *next, *p;
		char seg[512];

		if (s->type == OPT_GROUP) {
			entry = strstr(at, s->help);
			CHECK(entry != NULL);
			if (entry)
				at = entry + strlen(s->help);
			continue;
		}
		spelling(s, want, sizeof(want));
		entry = strstr(at, want);
		CHECK(entry != NULL);
		if (!entry) {
			fprintf(stderr, "  (\"%s\" missing or out of order in:\n%s)\n", want, text);
			continue;
		}
		/* The option's name is the first thing on its line. */
		for (p = entry; p > text && p[-1] == ' '; p--)
			;
		CHECK(p[-1] == '\n');
		/* It ends before the next line that is not a continuation (starts with "-" or
		 * text). */
		for (next = strchr(entry, '\n'); next && next[1]; next = strchr(next + 1, '\n')) {
			for (p = next + 1; *p == ' '; p++)
				;
			if (p == next + 1 || *p == '-' || *p == '\n')
				break;
		}
		if (!next)
			next = entry + strlen(entry);
		snprintf(seg, sizeof(seg), "%.*s", (int)(next - entry), entry);
		CHECK(strstr(seg, s->help) != NULL);
		if (s->def) {
			snprintf(want, sizeof(want), "[default: %s]", s->def);
			CHECK(strstr(seg, want) != NULL);
		} else {
			CHECK(strstr(seg, "[default:") == NULL);
		}
		CHECK((strstr(seg, "(not supported yet)") != NULL) == (s->type == OPT_UNSUPPORTED));
		at = entry + 1;
	}
	free(text);
}

TEST_MAIN(test_string_forms, test_flags, test_callback, test_positionals, test_errors, test_usage)
