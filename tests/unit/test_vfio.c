// SPDX-License-Identifier: GPL-2.0
/*
 * vfio/vfio.c, the parts that need no VFIO: PCI address parsing, the
 * reserved-region check, and the sysfs checks of vfio_dev_open() against a
 * fake sysfs tree (no such device, wrong driver, no IOMMU group, guest RAM
 * over a reserved region), each one error line naming the device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/capture.h"
#include "tests/unit/test.h"
#include "vfio/vfio.h"

static void test_parse_bdf(void)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "00:02.0", "0000:00:02.0" },	 { "0000:00:02.0", "0000:00:02.0" },
		{ "1:ff:1f.7", "0001:ff:1f.7" }, { "ffff:AB:0c.3", "ffff:ab:0c.3" },
		{ "0:0:0.0", "0000:00:00.0" },
	};
	static const char *const bad[] = { "",	       "00",	    "00:02",	     "00:02.8",
					   "00:20.0",  "100:02.0",  "00:02.0.1",     "g0:02.0",
					   ":02.0",    "00:.0",	    "10000:00:00.0", "00:02.",
					   "00:02.0 ", "-1:00:00.0" };
	char out[16];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ_U64(vfio_parse_bdf(good[i].in, out), 0);
		CHECK_STR(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!vfio_parse_bdf(bad[i], out))
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		CHECK(vfio_parse_bdf(bad[i], out) < 0);
	}
}

static void test_reserved(void)
{
	const char *text = "0x0000000008000000 0x00000000080fffff msi\n"
			   "0x00000000fee00000 0x00000000feefffff reserved\n";
	u64 rs = 0, re = 0;
	char type[16];

	CHECK(!vfio_reserved_overlap(text, 0x40000000, 0x10000000, &rs, &re, type));
	CHECK(!vfio_reserved_overlap(text, 0x08100000, 0x1000, &rs, &re, type));
	CHECK(!vfio_reserved_overlap(text, 0x07000000, 0x01000000, &rs, &re, type));
	CHECK(vfio_reserved_overlap(text, 0x07000000, 0x01000001, &rs, &re, type));
	CHECK_EQ_U64(rs, 0x08000000);
	CHECK_EQ_U64(re, 0x080fffff);
	CHECK_STR(type, "msi");
	CHECK(vfio_reserved_overlap(text, 0xc0000000, 0x40000000, &rs, &re, type));
	CHECK_STR(type, "reserved");
	CHECK(vfio_reserved_overlap(text, 0x080fffff, 1, &rs, &re, type));
	CHECK(!vfio_reserved_overlap("", 0, ~0ULL, &rs, &re, type));
	CHECK(!vfio_reserved_overlap("garbage\n\n", 0, ~0ULL, &rs, &re, type));
}

static char root[64];

static void mk(const char *dir, const char *name)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s/%s'", root, dir, name);
	CHECK_EQ_U64(system(cmd), 0);
}

static void ln(const char *target, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	unlink(path);
	CHECK_EQ_U64(symlink(target, path), 0);
}

static int open_dev(const char *bdf, const char **err, struct guest_mem *mem)
{
	struct vfio_container c;
	struct vfio_dev v;
	int ret;

	vfio_container_init(&c);
	capture_begin();
	ret = vfio_dev_open(&v, bdf, &c, mem);
	*err = capture_end();
	vfio_dev_close(&v);
	vfio_container_close(&c);
	return ret;
}

static void test_sysfs_checks(void)
{
	struct guest_mem mem = { .base = 0x40000000, .size = 0x10000000 };
	const char *err;
	char path[256];
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/coho-vfio-test.%d", (int)getpid());
	vfio_sysfs_root = root;
	mk("bus/pci/drivers", "e1000e");
	mk("bus/pci/drivers", "vfio-pci");
	mk("bus/pci/devices", "0000:00:03.0");
	mk("bus/pci/devices", "0000:00:04.0");
	mk("kernel/iommu_groups/7", "devices");

	CHECK(open_dev("0000:00:09.0", &err, &mem) < 0);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "0000:00:09.0: no such PCI device") != NULL);

	/* No driver, then another driver: both named, with how to bind. */
	CHECK(open_dev("0000:00:03.0", &err, &mem) < 0);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "0000:00:03.0: the device is bound to no driver, not vfio-pci") != NULL);
	CHECK(strstr(err, "driver_override") != NULL);
	ln("../../drivers/e1000e", "bus/pci/devices/0000:00:03.0/driver");
	CHECK(open_dev("0000:00:03.0", &err, &mem) < 0);
	CHECK(strstr(err, "bound to e1000e, not vfio-pci") != NULL);

	/* Bound, but in no IOMMU group. */
	ln("../../drivers/vfio-pci", "bus/pci/devices/0000:00:04.0/driver");
	CHECK(open_dev("0000:00:04.0", &err, &mem) < 0);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "0000:00:04.0: the device is in no IOMMU group") != NULL);

	/* Guest RAM over the group's MSI window. */
	ln("../../../kernel/iommu_groups/7", "bus/pci/devices/0000:00:04.0/iommu_group");
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/7/reserved_regions", root);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("0x0000000048000000 0x00000000480fffff msi\n", f);
		fclose(f);
	}
	CHECK(open_dev("0000:00:04.0", &err, &mem) < 0);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err,
		     "overlaps the msi region 0x48000000-0x480fffff reserved by IOMMU group 7") !=
	      NULL);

	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	CHECK_EQ_U64(system(path), 0);
}

TEST_MAIN(test_parse_bdf, test_reserved, test_sysfs_checks)
