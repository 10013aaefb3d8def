// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "util/parse.h"

static int parse_u64_digits(const char **sp, u64 *out)
{
	const char *s = *sp;
	u64 v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (u64)(*s - '0'), &v))
			return -ERANGE;
	}
	*sp = s;
	*out = v;
	return 0;
}

int parse_size(const char *s, u64 bare_unit, u64 *out)
{
	static const char suffixes[] = "KMGTP";
	u64 v, unit = bare_unit;
	int ret;

	if (!s)
		return -EINVAL;
	ret = parse_u64_digits(&s, &v);
	if (ret)
		return ret;
	if (*s) {
		const char *p = strchr(suffixes, toupper((unsigned char)*s));
		unsigned i;

		if (!p)
			return -EINVAL;
		unit = 1;
		for (i = 0; i <= (unsigned)(p - suffixes); i++)
			unit <<= 10;
		s++;
		if (!strcasecmp(s, "ib"))
			s += 2;
		else if (!strcasecmp(s, "b"))
			s++;
		if (*s)
			return -EINVAL;
	}
	if (__builtin_mul_overflow(v, unit, &v))
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_u32(const char *s, u32 min, u32 max, u32 *out)
{
	u64 v;
	int ret;

	if (!s)
		return -EINVAL;
	ret = parse_u64_digits(&s, &v);
	if (ret)
		return ret;
	if (*s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = (u32)v;
	return 0;
}
