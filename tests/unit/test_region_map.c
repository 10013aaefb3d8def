// SPDX-License-Identifier: GPL-2.0
/*
 * region_map.c: what the running kernel offers (release string, KVM
 * capability) and the decision table that turns a uc / wc / cached policy
 * into a mapped or trapped region, with the memory type the guest really
 * gets. The outcome must never be more permissive than the policy.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "region_map.h"
#include "tests/unit/test.h"

#define OLD_REL "6.1.0-56-arm64"
#define NEW_REL "6.12.107+deb13-arm64"

static bool contains(const char *s, const char *sub)
{
	return s && sub && strstr(s, sub);
}

static struct region_map_caps probe(const char *release)
{
	struct region_map_caps c;

	memset(&c, 0xa5, sizeof(c)); /* everything must be overwritten */
	region_map_probe(&c, -1, release);
	return c;
}

/* ---- region_map_probe ---- */

static void check_release(const char *rel, bool nc)
{
	struct region_map_caps c = probe(rel);

	if (c.s2_normal_nc != nc)
		fprintf(stderr, "release \"%s\"\n", rel);
	CHECK(c.s2_normal_nc == nc);
	CHECK_STR(c.release, rel);
	CHECK(!c.s2_cacheable_pfnmap); /* kvm_fd -1: not asked */
	CHECK(!c.vmm_writecombine);    /* no uAPI */
}

static void test_probe_release(void)
{
	/* Stage 2 is Normal-NC for vfio-pci BARs from 6.9 on. */
	static const char *const new_enough[] = {
		"6.9.0", NEW_REL, "7.0", "6.9", "6.10" /* numeric, not lexical */, "10.0",
	};
	/* Older, or not parsable as major.minor. */
	static const char *const not_new[] = {
		OLD_REL,
		"6.8.12",
		"6.8",
		"5.15",
		"5.19.0",
		"",
		"garbage",
		"6",
		"6.",
		"6.x",
		".9",
		"v6.9",
		"6-9",
		"6x10",
		"-1.0",
		"6.-1",
		"+6.9",
		" 6.9",
		"99999999999999999999.0",
		"6.99999999999999999999",
	};

	for (size_t i = 0; i < ARRAY_SIZE(new_enough); i++)
		check_release(new_enough[i], true);
	for (size_t i = 0; i < ARRAY_SIZE(not_new); i++)
		check_release(not_new[i], false);
}

static void test_probe_truncation(void)
{
	char rel[201];
	struct region_map_caps c;

	/* A 200-character release: truncated to 64 characters, still terminated. */
	memset(rel, 'x', sizeof(rel) - 1);
	rel[sizeof(rel) - 1] = '\0';
	memcpy(rel, "6.9.", 4);
	c = probe(rel);
	CHECK_EQ_U64(strlen(c.release), sizeof(c.release) - 1);
	CHECK(!strncmp(c.release, rel, sizeof(c.release) - 1));
	CHECK(c.s2_normal_nc);

	memset(rel, 'a', sizeof(rel) - 1);
	c = probe(rel);
	CHECK_EQ_U64(strlen(c.release), sizeof(c.release) - 1);
	CHECK(!strncmp(c.release, rel, sizeof(c.release) - 1));
	CHECK(!c.s2_normal_nc);

	/* Exactly 64 characters fit whole. */
	rel[64] = '\0';
	memcpy(rel, "7.1-", 4);
	c = probe(rel);
	CHECK_STR(c.release, rel);
	CHECK(c.s2_normal_nc);
}

static void test_probe_uname(void)
{
	struct region_map_caps c = probe(NULL);
	struct utsname u;
	char want[65];

	CHECK_EQ_U64(uname(&u), 0);
	snprintf(want, sizeof(want), "%s", u.release);
	CHECK_STR(c.release, want);
	CHECK(!c.s2_cacheable_pfnmap);
	CHECK(!c.vmm_writecombine);
}

static void test_probe_kvm_fd(void)
{
	struct region_map_caps c;
	int fd = open("/dev/null", O_RDONLY);

	/* Not a KVM fd: KVM_CHECK_EXTENSION fails, so the capability is absent. */
	CHECK(fd >= 0);
	memset(&c, 0xff, sizeof(c));
	region_map_probe(&c, fd, NEW_REL);
	CHECK(!c.s2_cacheable_pfnmap);
	CHECK(c.s2_normal_nc);
	CHECK_STR(c.release, NEW_REL);
	if (fd >= 0)
		close(fd);
	memset(&c, 0xff, sizeof(c));
	region_map_probe(&c, -1, OLD_REL);
	CHECK(!c.s2_cacheable_pfnmap);
	CHECK(!c.s2_normal_nc);
}

/* ---- region_map_decide ---- */

enum { UC, WC, CACHED };

static const u32 policy_flags[] = {
	[UC] = 0,
	[WC] = REGION_MAP_WRITECOMBINE,
	[CACHED] = REGION_MAP_CACHED,
};

static const enum mem_type policy_type[] = {
	[UC] = MEM_DEVICE,
	[WC] = MEM_NORMAL_NC,
	[CACHED] = MEM_NORMAL_WB,
};

/* The full table: every policy x stage-2 Normal-NC x mmappable x cacheable PFNMAP. */
static const struct {
	int policy;
	bool nc, mmappable, pfnmap;
	enum region_map_how how;
	enum mem_type guest_max;
	bool exact;
	bool kernel; /* the decision depended on the kernel: why names its release */
} table[] = {
	/* uc: never more than Device */
	{ UC, false, false, false, REGION_TRAPPED, MEM_DEVICE, true, false },
	{ UC, false, false, true, REGION_TRAPPED, MEM_DEVICE, true, false },
	{ UC, false, true, false, REGION_MAPPED, MEM_DEVICE, true, true },
	{ UC, false, true, true, REGION_MAPPED, MEM_DEVICE, true, true },
	{ UC, true, false, false, REGION_TRAPPED, MEM_DEVICE, true, false },
	{ UC, true, false, true, REGION_TRAPPED, MEM_DEVICE, true, false },
	{ UC, true, true, false, REGION_TRAPPED, MEM_DEVICE, true, true },
	{ UC, true, true, true, REGION_TRAPPED, MEM_DEVICE, true, true },
	/* wc */
	{ WC, false, false, false, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ WC, false, false, true, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ WC, false, true, false, REGION_MAPPED, MEM_DEVICE, false, true },
	{ WC, false, true, true, REGION_MAPPED, MEM_DEVICE, false, true },
	{ WC, true, false, false, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ WC, true, false, true, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ WC, true, true, false, REGION_MAPPED, MEM_NORMAL_NC, true, true },
	{ WC, true, true, true, REGION_MAPPED, MEM_NORMAL_NC, true, true },
	/* cached: vfio-pci BARs are never cacheable in the VMM, so never exact */
	{ CACHED, false, false, false, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ CACHED, false, false, true, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ CACHED, false, true, false, REGION_MAPPED, MEM_DEVICE, false, true },
	{ CACHED, false, true, true, REGION_MAPPED, MEM_DEVICE, false, true },
	{ CACHED, true, false, false, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ CACHED, true, false, true, REGION_TRAPPED, MEM_DEVICE, false, false },
	{ CACHED, true, true, false, REGION_MAPPED, MEM_NORMAL_NC, false, true },
	{ CACHED, true, true, true, REGION_MAPPED, MEM_NORMAL_NC, false, true },
};

/* What holds for every outcome, whatever the inputs. */
static void check_invariants(const struct region_map_outcome *o)
{
	CHECK(o->guest_max <= o->wanted); /* never more permissive than the policy */
	CHECK(o->exact == (o->guest_max == o->wanted));
	if (o->how == REGION_TRAPPED)
		CHECK_EQ_U64(o->guest_max, MEM_DEVICE);
	CHECK(o->how == REGION_MAPPED || o->how == REGION_TRAPPED);
	CHECK(o->why[0] != '\0');
	CHECK(memchr(o->why, '\0', sizeof(o->why)) != NULL);
}

static void test_decide_table(void)
{
	CHECK_EQ_U64(ARRAY_SIZE(table), 3 * 2 * 2 * 2);
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		struct region_map_caps c = probe(table[i].nc ? NEW_REL : OLD_REL);
		const char *rel = table[i].nc ? NEW_REL : OLD_REL;
		struct region_map_outcome o;
		unsigned before = test_failed;

		c.s2_cacheable_pfnmap = table[i].pfnmap;
		CHECK(c.s2_normal_nc == table[i].nc);
		memset(&o, 0xa5, sizeof(o));
		region_map_decide(policy_flags[table[i].policy], &c, table[i].mmappable, &o);
		CHECK_EQ_U64(o.how, table[i].how);
		CHECK_EQ_U64(o.wanted, policy_type[table[i].policy]);
		CHECK_EQ_U64(o.guest_max, table[i].guest_max);
		CHECK(o.exact == table[i].exact);
		CHECK_EQ_U64(o.vmm, MEM_DEVICE);
		check_invariants(&o);
		if (table[i].kernel) {
			CHECK(contains(o.why, rel));
		} else {
			CHECK(contains(o.why, "mmap"));
			CHECK(!contains(o.why, rel));
		}
		/* A mapping names the stage-2 type it got; a trap says so. */
		if (o.how == REGION_MAPPED)
			CHECK(contains(o.why, mem_type_name(o.guest_max)));
		else if (table[i].mmappable)
			CHECK(contains(o.why, "trapped"));
		/* Cached without the capability says what is missing, and only then. */
		if (table[i].policy == CACHED && table[i].mmappable)
			CHECK(contains(o.why, "KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED") ==
			      !table[i].pfnmap);
		if (test_failed != before)
			fprintf(stderr, "  row %zu: %s nc=%d mmappable=%d pfnmap=%d: why \"%s\"\n",
				i, mem_type_policy(policy_type[table[i].policy]), table[i].nc,
				table[i].mmappable, table[i].pfnmap, o.why);
	}
}

/* Every request, kernel and capability: the outcome never exceeds the policy. */
static void test_decide_invariants(void)
{
	static const char *const rels[] = { OLD_REL, NEW_REL, "", "garbage", "7.0" };

	for (size_t r = 0; r < ARRAY_SIZE(rels); r++) {
		for (u32 flags = 0; flags < 8; flags++) {
			for (u32 bits = 0; bits < 8; bits++) {
				struct region_map_caps c = probe(rels[r]);
				struct region_map_outcome o;

				c.s2_cacheable_pfnmap = bits & 1;
				c.vmm_writecombine = bits & 2;
				/* Bit 2 and bit 31 are no flags: ignored. */
				region_map_decide(flags | (flags & 4 ? 1U << 31 : 0), &c, bits & 4,
						  &o);
				check_invariants(&o);
				CHECK(o.vmm <= o.wanted);
				CHECK(o.vmm <= MEM_NORMAL_NC);
			}
		}
	}
}

static void test_decide_flags(void)
{
	struct region_map_caps c = probe(NEW_REL);
	struct region_map_outcome o;

	/* Both flags: the more permissive one is the policy. */
	region_map_decide(REGION_MAP_WRITECOMBINE | REGION_MAP_CACHED, &c, true, &o);
	CHECK_EQ_U64(o.wanted, MEM_NORMAL_WB);
	CHECK_EQ_U64(o.guest_max, MEM_NORMAL_NC);
	CHECK(!o.exact);
	/* Unknown bits are ignored: uc. */
	region_map_decide(1U << 7, &c, true, &o);
	CHECK_EQ_U64(o.wanted, MEM_DEVICE);
	CHECK_EQ_U64(o.how, REGION_TRAPPED);
	CHECK(o.exact);
	/* A (hypothetical) write-combining VMM mapping only changes the VMM side. */
	c.vmm_writecombine = true;
	region_map_decide(REGION_MAP_WRITECOMBINE, &c, true, &o);
	CHECK_EQ_U64(o.vmm, MEM_NORMAL_NC);
	CHECK_EQ_U64(o.how, REGION_MAPPED);
	CHECK_EQ_U64(o.guest_max, MEM_NORMAL_NC);
	region_map_decide(0, &c, true, &o);
	CHECK_EQ_U64(o.vmm, MEM_DEVICE);
	CHECK_EQ_U64(o.how, REGION_TRAPPED);
}

static void test_decide_long_release(void)
{
	struct region_map_caps c;
	struct region_map_outcome o;
	char rel[65];

	/* The longest release and the longest message: why keeps the whole release. */
	memset(rel, 'r', sizeof(rel) - 1);
	rel[sizeof(rel) - 1] = '\0';
	memcpy(rel, "6.1-", 4);
	c = probe(rel);
	CHECK_STR(c.release, rel);
	region_map_decide(REGION_MAP_CACHED, &c, true, &o);
	CHECK(contains(o.why, rel));
	CHECK(contains(o.why, "KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED"));
	CHECK(contains(o.why, "Device-nGnRE"));
	CHECK(strlen(o.why) < sizeof(o.why) - 1); /* not truncated */
	memcpy(rel, "6.9-", 4);
	c = probe(rel);
	region_map_decide(0, &c, true, &o);
	CHECK(contains(o.why, rel));
	CHECK(contains(o.why, "trapped"));
	CHECK(strlen(o.why) < sizeof(o.why) - 1);
}

/* ---- names ---- */

static void test_names(void)
{
	CHECK_STR(mem_type_name(MEM_DEVICE), "Device-nGnRE");
	CHECK_STR(mem_type_name(MEM_NORMAL_NC), "Normal-NC");
	CHECK_STR(mem_type_name(MEM_NORMAL_WB), "Normal-WB");
	CHECK_STR(mem_type_policy(MEM_DEVICE), "uc");
	CHECK_STR(mem_type_policy(MEM_NORMAL_NC), "wc");
	CHECK_STR(mem_type_policy(MEM_NORMAL_WB), "cached");
	/* The strictest type is the order's bottom. */
	CHECK(MEM_DEVICE < MEM_NORMAL_NC && MEM_NORMAL_NC < MEM_NORMAL_WB);
}

TEST_MAIN(test_probe_release, test_probe_truncation, test_probe_uname, test_probe_kvm_fd,
	  test_decide_table, test_decide_invariants, test_decide_flags, test_decide_long_release,
	  test_names)
