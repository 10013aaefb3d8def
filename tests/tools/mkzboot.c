// SPDX-License-Identifier: GPL-2.0
/*
 * mkzboot: wrap a gzip'd arm64 Image in an EFI zboot header, the layout of
 * the kernel's drivers/firmware/efi/libstub/zboot-header.S, for the e2e tests:
 *
 *   0x00  "MZ\0\0"       DOS magic
 *   0x04  "zimg"         zboot image type
 *   0x08  le32           payload offset (from the start of the file)
 *   0x0c  le32           payload size
 *   0x10  8 zero bytes   reserved
 *   0x18  "gzip\0"       compression type
 *   0x38  le32           LINUX_PE_MAGIC 0x818223cd
 *   0x3c  le32           PE header offset -> "PE\0\0" at 0x40
 *
 * The real file carries an EFI stub (PE/COFF sections) in front of the
 * payload; a VMM booting it directly uses only the fields above.
 *
 * Usage: mkzboot PAYLOAD.gz OUTPUT        (host tool; built by tests/e2e/run.sh)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_OFFSET 0x1000u
#define LINUX_PE_MAGIC 0x818223cdu
#define PE_OFFSET      0x40u

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

int main(int argc, char **argv)
{
	static unsigned char hdr[PAYLOAD_OFFSET];
	unsigned char buf[65536];
	FILE *in, *out;
	long size;
	size_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PAYLOAD.gz OUTPUT\n", argv[0]);
		return 2;
	}
	in = fopen(argv[1], "rb");
	if (!in || fseek(in, 0, SEEK_END) || (size = ftell(in)) < 0 || fseek(in, 0, SEEK_SET)) {
		fprintf(stderr, "mkzboot: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (size < 2 || size > 0x7fffffffL - PAYLOAD_OFFSET) {
		fprintf(stderr, "mkzboot: %s: bad payload size %ld\n", argv[1], size);
		return 1;
	}

	memcpy(hdr, "MZ\0\0zimg", 8);
	put_le32(hdr + 0x08, PAYLOAD_OFFSET);
	put_le32(hdr + 0x0c, (uint32_t)size);
	memcpy(hdr + 0x18, "gzip", 5);
	put_le32(hdr + 0x38, LINUX_PE_MAGIC);
	put_le32(hdr + 0x3c, PE_OFFSET);
	memcpy(hdr + PE_OFFSET, "PE\0\0", 4);

	out = fopen(argv[2], "wb");
	if (!out || fwrite(hdr, sizeof(hdr), 1, out) != 1) {
		fprintf(stderr, "mkzboot: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (fwrite(buf, 1, n, out) != n) {
			fprintf(stderr, "mkzboot: %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
	}
	if (ferror(in) || fclose(out)) {
		fprintf(stderr, "mkzboot: write failed: %s\n", strerror(errno));
		return 1;
	}
	fclose(in);
	return 0;
}
