// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "net/netopt.h"
#include "util/log.h"
#include "util/parse.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Six two-digit hex bytes separated by ':'; unicast only (a guest MAC cannot be multicast). */
static int parse_mac(const char *s, u8 mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (lo < 0 || s[2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (u8)(hi << 4 | lo);
		s += 3;
	}
	if (mac[0] & 1)
		return -EINVAL;
	return 0;
}

/* A.B.C.D or A.B.C.D/PREFIX (default /24). */
static int parse_ip(char *s, u32 *ip, u32 *prefix)
{
	char *slash = strchr(s, '/');
	struct in_addr a;

	*prefix = 24;
	if (slash) {
		*slash = '\0';
		if (parse_u32(slash + 1, 0, 32, prefix))
			return -EINVAL;
	}
	if (inet_pton(AF_INET, s, &a) != 1 || !a.s_addr)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

int net_parse(const char *opt, const char *arg, u32 index, struct net_config *nc, bool *none)
{
	char *copy, *p, *save = NULL;

	*none = false;
	memset(nc, 0, sizeof(*nc));
	if (!strcmp(arg, "none")) {
		*none = true;
		return 0;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	nc->guest_mac[0] = 0x02; /* locally administered, unicast */
	nc->guest_mac[1] = 0x43;
	nc->guest_mac[2] = 0x4f;
	nc->guest_mac[3] = 0x48;
	nc->guest_mac[4] = 0x4f;
	nc->guest_mac[5] = (u8)index;
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *val = strchr(p, '=');
		const char *why = NULL;

		if (!val) {
			pr_err("%s: '%s' is not key=value in '%s'", opt, p, arg);
			goto fail;
		}
		*val++ = '\0';
		if (!strcmp(p, "mode")) {
			if (!strcmp(val, "none"))
				*none = true;
			else if (!strcmp(val, "user"))
				why = "mode=user is not supported by coho (tap or none)";
			else if (strcmp(val, "tap"))
				why = "unknown mode (tap or none)";
		} else if (!strcmp(p, "tapif")) {
			if (!*val || strlen(val) >= IFNAMSIZ || strchr(val, '/') ||
			    strchr(val, ' ') || !strcmp(val, ".") || !strcmp(val, ".."))
				why = "not a valid interface name (1 to 15 characters)";
			else
				strcpy(nc->tapif, val);
		} else if (!strcmp(p, "guest_mac")) {
			if (parse_mac(val, nc->guest_mac))
				why = "not a unicast MAC address XX:XX:XX:XX:XX:XX";
		} else if (!strcmp(p, "host_ip")) {
			if (parse_ip(val, &nc->host_ip, &nc->host_prefix))
				why = "not an IPv4 address A.B.C.D[/PREFIX]";
		} else if (!strcmp(p, "script") || !strcmp(p, "downscript")) {
			const char **dst = p[0] == 's' ? &nc->script : &nc->downscript;

			if (!*val)
				why = "empty path (a file, or none)";
			else
				*dst = strcmp(val, "none") ? val : NULL;
		} else if (!strcmp(p, "vhost")) {
			if (!strcmp(val, "1") || !strcmp(val, "on"))
				nc->vhost = true;
			else if (!strcmp(val, "0") || !strcmp(val, "off"))
				nc->vhost = false;
			else
				why = "expected 0 or 1";
		} else {
			pr_err("%s: unknown network option '%s' (mode, tapif, guest_mac, host_ip, "
			       "script, downscript, vhost)",
			       opt, p);
			goto fail;
		}
		if (why) {
			pr_err("%s: %s=%s: %s", opt, p, val, why);
			goto fail;
		}
	}
	if (*none) {
		free(copy);
		memset(nc, 0, sizeof(*nc));
		return 0;
	}
	nc->buf = copy;
	return 0;
fail:
	free(copy);
	memset(nc, 0, sizeof(*nc));
	return -EINVAL;
}
