// SPDX-License-Identifier: GPL-2.0
/* net/netopt.c: kvmtool's -n syntax, defaults, and one error line per bad input. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "net/netopt.h"
#include "tests/unit/capture.h"
#include "tests/unit/test.h"

static int parse(const char *arg, u32 index, struct net_config *nc, bool *none)
{
	return net_parse("-n", arg, index, nc, none);
}

static void test_full(void)
{
	struct net_config nc;
	bool none = true;
	const u8 mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e };

	CHECK_EQ_U64(parse("mode=tap,tapif=tap7,guest_mac=02:AA:bb:cc:dd:0e,host_ip=10.1.2.3/16,"
			   "script=/etc/up,downscript=/etc/down,vhost=1",
			   2, &nc, &none),
		     0);
	CHECK(!none);
	CHECK_STR(nc.tapif, "tap7");
	CHECK(!memcmp(nc.guest_mac, mac, 6));
	CHECK_EQ_U64(nc.host_ip, inet_addr("10.1.2.3"));
	CHECK_EQ_U64(nc.host_prefix, 16);
	CHECK_STR(nc.script, "/etc/up");
	CHECK_STR(nc.downscript, "/etc/down");
	CHECK(nc.vhost);
	CHECK(nc.buf != NULL);
	free(nc.buf);
}

static void test_defaults(void)
{
	struct net_config nc;
	bool none = true;
	const u8 mac[6] = { 0x02, 0x43, 0x4f, 0x48, 0x4f, 3 };

	/* mode defaults to tap; the MAC to the locally administered one with the index. */
	CHECK_EQ_U64(parse("tapif=x", 3, &nc, &none), 0);
	CHECK(!none);
	CHECK(!memcmp(nc.guest_mac, mac, 6));
	CHECK_EQ_U64(nc.host_ip, 0);
	CHECK(nc.script == NULL && nc.downscript == NULL && !nc.vhost);
	free(nc.buf);

	CHECK_EQ_U64(parse("host_ip=192.168.33.1,script=none,vhost=0", 0, &nc, &none), 0);
	CHECK_EQ_U64(nc.host_prefix, 24);
	CHECK(nc.script == NULL);
	CHECK_STR(nc.tapif, "");
	free(nc.buf);
}

static void test_none(void)
{
	struct net_config nc;
	bool none = false;

	CHECK_EQ_U64(parse("none", 0, &nc, &none), 0);
	CHECK(none);
	none = false;
	CHECK_EQ_U64(parse("mode=none", 0, &nc, &none), 0);
	CHECK(none);
	CHECK(nc.buf == NULL);
}

static void test_errors(void)
{
	static const char *const bad[] = {
		"mode=user",
		"mode=bridge",
		"tapif=",
		"tapif=0123456789abcdef",
		"tapif=a/b",
		"guest_mac=01:00:00:00:00:01", /* multicast */
		"guest_mac=02:00:00:00:00",
		"guest_mac=02:00:00:00:00:0g",
		"guest_mac=02:00:00:00:00:001",
		"host_ip=10.0.0",
		"host_ip=10.0.0.1/33",
		"host_ip=0.0.0.0",
		"host_ip=10.0.0.1/",
		"vhost=2",
		"script=",
		"trans=mmio",
		"tap",
		"mode=tap,,bogus",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_config nc;
		bool none = true;
		const char *err;
		int ret;

		capture_begin();
		ret = parse(bad[i], 0, &nc, &none);
		err = capture_end();
		if (ret == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(ret < 0);
		CHECK(!none);
		CHECK(nc.buf == NULL);
		CHECK_EQ_U64(count_lines(err), 1);
		CHECK(strstr(err, "-n") != NULL);
	}
}

TEST_MAIN(test_full, test_defaults, test_none, test_errors)
