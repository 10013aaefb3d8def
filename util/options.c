// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "util/log.h"
#include "util/options.h"

static const struct option_spec *find_long(const struct option_spec *s, const char *name,
					   size_t len)
{
	for (; s->type != OPT_END; s++)
		if (s->type != OPT_GROUP && s->long_name && strlen(s->long_name) == len &&
		    !strncmp(s->long_name, name, len))
			return s;
	return NULL;
}

static const struct option_spec *find_short(const struct option_spec *s, char c)
{
	for (; s->type != OPT_END; s++)
		if (s->type != OPT_GROUP && s->short_name && s->short_name == c)
			return s;
	return NULL;
}

static void opt_name(const struct option_spec *o, char *buf, size_t len, bool as_long)
{
	if (as_long || !o->short_name)
		snprintf(buf, len, "--%s", o->long_name);
	else
		snprintf(buf, len, "-%c", o->short_name);
}

/* Apply one option; @arg is NULL for options without an argument. */
static int apply(const struct option_spec *o, const char *arg, const char *name)
{
	switch (o->type) {
	case OPT_FLAG:
		*(bool *)o->value = true;
		return 0;
	case OPT_STRING:
		*(const char **)o->value = arg;
		return 0;
	case OPT_CALLBACK:
		return o->cb(o->value, arg, name) ? -1 : 0;
	case OPT_UNSUPPORTED:
		pr_err("option %s is not supported by coho yet%s%s", name, o->help ? ": " : "",
		       o->help ? o->help : "");
		return -1;
	default:
		return -1;
	}
}

int options_parse(const struct option_spec *specs, int argc, char **argv, char **pos, int max_pos)
{
	int npos = 0, i;
	bool only_pos = false;

	for (i = 0; i < argc; i++) {
		char *a = argv[i];
		const struct option_spec *o;
		const char *arg = NULL;
		char name[64];

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (npos >= max_pos) {
				pr_err("unexpected argument '%s'", a);
				return -1;
			}
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

			o = find_long(specs, a + 2, len);
			if (!o) {
				pr_err("unknown option '%.*s' (see --help)", (int)len + 2, a);
				return -1;
			}
			opt_name(o, name, sizeof(name), true);
			if (o->argh) {
				if (eq)
					arg = eq + 1;
				else if (i + 1 < argc)
					arg = argv[++i];
			} else if (eq) {
				pr_err("option %s takes no argument", name);
				return -1;
			}
		} else {
			o = find_short(specs, a[1]);
			if (!o) {
				pr_err("unknown option '-%c' (see --help)", a[1]);
				return -1;
			}
			opt_name(o, name, sizeof(name), false);
			if (o->argh) {
				if (a[2])
					arg = a + 2;
				else if (i + 1 < argc)
					arg = argv[++i];
			} else if (a[2]) {
				pr_err("option %s takes no argument (got '%s')", name, a);
				return -1;
			}
		}
		if (o->argh && !arg && o->type != OPT_UNSUPPORTED) {
			pr_err("option %s needs an argument (%s)", name, o->argh);
			return -1;
		}
		if (apply(o, arg, name))
			return -1;
	}
	return npos;
}

void options_usage(FILE *f, const char *usage, const struct option_spec *s)
{
	enum { COL = 30 };

	fprintf(f, "usage: %s\n", usage);
	for (; s->type != OPT_END; s++) {
		char left[96];
		int n;

		if (s->type == OPT_GROUP) {
			fprintf(f, "\n%s\n", s->help);
			continue;
		}
		if (s->short_name && !s->long_name)
			n = snprintf(left, sizeof(left), "-%c%s%s", s->short_name,
				     s->argh ? " " : "", s->argh ? s->argh : "");
		else if (s->short_name)
			n = snprintf(left, sizeof(left), "-%c, --%s%s%s", s->short_name,
				     s->long_name, s->argh ? " " : "", s->argh ? s->argh : "");
		else
			n = snprintf(left, sizeof(left), "    --%s%s%s", s->long_name,
				     s->argh ? " " : "", s->argh ? s->argh : "");
		/* An argument list too wide for the column gets a line of its own. */
		if (n >= COL)
			fprintf(f, "    %s\n    %-*s ", left, COL, "");
		else
			fprintf(f, "    %-*s ", COL, left);
		fprintf(f, "%s%s%s%s%s\n", s->type == OPT_UNSUPPORTED ? "(not supported yet) " : "",
			s->help ? s->help : "", s->def ? " [default: " : "", s->def ? s->def : "",
			s->def ? "]" : "");
	}
}
