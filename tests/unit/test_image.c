// SPDX-License-Identifier: GPL-2.0
/*
 * arm64 kernel loader: raw Image, Image.gz, EFI zboot, and every broken or
 * hostile variant we could think of. All fixtures are built here in memory and
 * written to temporary files that are removed again.
 *
 * COHO_TEST_KERNEL=/path/to/vmlinuz (optional) also loads a real kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arm64/image.h"
#include "guest_mem.h"
#include "util/types.h"
#include "tests/unit/test.h"

#define RAM_BASE 0x40000000ULL
#define RAM_SIZE (64 * SZ_1M)

/* Fixture layout: PE header at 0x40, optional header 0xa0 bytes, 2 sections. */
#define PE_OFF	 0x40
#define OPT_SIZE 0xa0
#define SEC_TAB	 (PE_OFF + 24 + OPT_SIZE)
#define TEXT_RAW 0x1000

struct img_spec {
	size_t len; /* bytes covered by the sections */
	size_t sig; /* bytes appended after them, like a signature */
	bool efi;   /* "MZ" and a PE header */
	u64 text_offset;
	u64 image_size;
	u64 flags;
};

static void put_le16(u8 *p, u16 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
}

static void put_le32(u8 *p, u32 v)
{
	put_le16(p, (u16)v);
	put_le16(p + 2, (u16)(v >> 16));
}

static void put_le64(u8 *p, u64 v)
{
	put_le32(p, (u32)v);
	put_le32(p + 4, (u32)(v >> 32));
}

static u32 rng = 0x12345678;

static u8 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (u8)rng;
}

/* A real-looking Image: random "code" with a header and, optionally, the EFI stub's PE header. */
static u8 *make_image(const struct img_spec *s, size_t *out_len)
{
	size_t len = s->len + s->sig, i;
	u8 *p = malloc(len);

	for (i = 0; i < len; i++) /* half random, half text-like: compressible a bit */
		p[i] = (i & 1) ? rnd() : (u8)(i >> 9);
	memset(p, 0, len < SEC_TAB + 2 * 40 ? len : SEC_TAB + 2 * 40);
	if (s->efi) {
		memcpy(p, "MZ\x40\xfa", 4); /* ccmp x18, #0, #0xd, pl: the stub's "MZ" */
		put_le32(p + 0x3c, PE_OFF);
		memcpy(p + PE_OFF, "PE\0\0", 4);
		put_le16(p + PE_OFF + 4, 0xaa64);
		put_le16(p + PE_OFF + 6, 2);
		put_le16(p + PE_OFF + 20, OPT_SIZE);
		put_le16(p + PE_OFF + 24, 0x20b);
		memcpy(p + SEC_TAB, ".text", 5);
		put_le32(p + SEC_TAB + 8, (u32)(s->len / 2));
		put_le32(p + SEC_TAB + 12, TEXT_RAW);
		put_le32(p + SEC_TAB + 16, (u32)(s->len / 2 - TEXT_RAW));
		put_le32(p + SEC_TAB + 20, TEXT_RAW);
		memcpy(p + SEC_TAB + 40, ".data", 5);
		put_le32(p + SEC_TAB + 40 + 8, (u32)(s->len - s->len / 2 + SZ_1M));
		put_le32(p + SEC_TAB + 40 + 12, (u32)(s->len / 2));
		put_le32(p + SEC_TAB + 40 + 16, (u32)(s->len - s->len / 2));
		put_le32(p + SEC_TAB + 40 + 20, (u32)(s->len / 2));
	} else {
		put_le32(p, 0x14000000 | 0x400); /* b stext */
	}
	put_le64(p + 0x08, s->text_offset);
	put_le64(p + 0x10, s->image_size);
	put_le64(p + 0x18, s->flags);
	memcpy(p + 0x38, "ARM\x64", 4);
	*out_len = len;
	return p;
}

static const struct img_spec std_spec = {
	.len = 0x201234,
	.efi = true,
	.image_size = 4 * SZ_1M,
	.flags = 0xa,
};

/* gzip (RFC 1952) @len bytes of @in, followed by @zeros zero bytes. */
static u8 *gzip_data(const u8 *in, size_t len, u64 zeros, int level, size_t *out_len)
{
	static const u8 zbuf[65536];
	size_t cap = deflateBound(&(z_stream){ 0 }, len) + 4096, used = 0;
	u8 *out = malloc(cap);
	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (u8 *)in;
	zs.avail_in = (uInt)len;
	do {
		int flush = Z_NO_FLUSH;

		if (!zs.avail_in && zeros) {
			size_t n = zeros < sizeof(zbuf) ? (size_t)zeros : sizeof(zbuf);

			zs.next_in = (u8 *)zbuf;
			zs.avail_in = (uInt)n;
			zeros -= n;
		}
		if (!zs.avail_in && !zeros)
			flush = Z_FINISH;
		if (cap - used < 65536) {
			cap *= 2;
			out = realloc(out, cap);
		}
		zs.next_out = out + used;
		zs.avail_out = (uInt)(cap - used);
		ret = deflate(&zs, flush);
		used = cap - zs.avail_out;
	} while (ret != Z_STREAM_END);
	deflateEnd(&zs);
	*out_len = used;
	return out;
}

/* An EFI zboot file: header, a little PE, the payload at 0x1000, junk after it. */
static u8 *make_zboot(const u8 *payload, size_t plen, const char *type, size_t *out_len)
{
	size_t len = 0x1000 + plen + 0x300;
	u8 *p = calloc(1, len);

	memcpy(p, "MZ\0\0zimg", 8);
	put_le32(p + 8, 0x1000);
	put_le32(p + 12, (u32)plen);
	memcpy(p + 0x18, type, strlen(type));
	put_le32(p + 0x38, 0x818223cd); /* LINUX_PE_MAGIC */
	put_le32(p + 0x3c, 0x40);
	memcpy(p + 0x40, "PE\0\0", 4);
	memcpy(p + 0x1000, payload, plen);
	memset(p + 0x1000 + plen, 0xcc, 0x300); /* the stub's other sections */
	*out_len = len;
	return p;
}

static char *write_tmp(const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(4096);
	int fd;

	snprintf(path, 4096, "%s/coho-test-image-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
	return path;
}

static void remove_tmp(char *path)
{
	unlink(path);
	free(path);
}

/* The result of one kernel_load(): return value, info and what it logged. */
struct load {
	struct guest_mem m;
	struct kernel_info ki;
	int ret;
	char err[2048];
};

/* Send stderr (where pr_err writes) to a temporary file until stderr_end(). */
static FILE *stderr_begin(int *saved)
{
	FILE *cap = tmpfile();

	*saved = dup(STDERR_FILENO);
	if (!cap || *saved < 0)
		abort();
	fflush(stderr);
	dup2(fileno(cap), STDERR_FILENO);
	return cap;
}

static void stderr_end(FILE *cap, int saved, char *buf, size_t size)
{
	size_t n;

	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(cap);
	n = fread(buf, 1, size - 1, cap);
	buf[n] = 0;
	fclose(cap);
}

/* Run kernel_load on @path with stderr captured into l->err. */
static void load_path(struct load *l, u64 ram_size, u64 base, const char *path)
{
	int saved;
	FILE *cap;

	if (guest_mem_init(&l->m, RAM_BASE, ram_size))
		abort();
	cap = stderr_begin(&saved);
	l->ret = kernel_load(&l->m, base, path, &l->ki);
	stderr_end(cap, saved, l->err, sizeof(l->err));
}

/* arm64_image_check() on a buffer, quietly; the message must start with @what. */
static int check_quiet(const u8 *img, u64 len, struct kernel_info *ki)
{
	char err[1024];
	int saved, ret;
	FILE *cap = stderr_begin(&saved);

	ret = arm64_image_check(img, len, "WHAT", ki);
	stderr_end(cap, saved, err, sizeof(err));
	CHECK(ret ? !strncmp(err, "coho: error: WHAT: ", 19) : !err[0]);
	return ret;
}

static void load_bytes(struct load *l, const void *data, size_t len)
{
	char *path = write_tmp(data, len);

	load_path(l, RAM_SIZE, RAM_BASE, path);
	remove_tmp(path);
}

static void load_done(struct load *l)
{
	guest_mem_destroy(&l->m);
}

/* A failed load logged exactly one line containing @word. */
static void check_error(struct load *l, int ret, const char *word)
{
	const char *nl = strchr(l->err, '\n');

	CHECK_EQ_U64(l->ret, ret);
	CHECK(!strncmp(l->err, "coho: error: ", 13));
	CHECK(nl && nl[1] == 0);
	if (!strstr(l->err, word)) {
		CHECK(strstr(l->err, word));
		fprintf(stderr, "  message was: %s", l->err);
	}
}

/* RAM holds @img at load_addr, and exactly those bytes were recorded as written. */
static void check_loaded(struct load *l, const u8 *img, size_t len)
{
	const u8 *ram = gpa_to_hva(&l->m, l->ki.load_addr, len);

	CHECK_EQ_U64(l->ret, 0);
	CHECK_STR(l->err, "");
	CHECK(ram && !memcmp(ram, img, len));
	CHECK_EQ_U64(l->ki.file_size, len);
	range_set_normalize(&l->m.written, 1);
	CHECK_EQ_U64(l->m.written.nr, 1);
	if (l->m.written.nr == 1) {
		CHECK_EQ_U64(l->m.written.r[0].start, l->ki.load_addr);
		CHECK_EQ_U64(l->m.written.r[0].end, l->ki.load_addr + len);
	}
}

static void test_format_names(void)
{
	CHECK_STR(kernel_format_name(KERNEL_FORMAT_IMAGE), "Image");
	CHECK_STR(kernel_format_name(KERNEL_FORMAT_IMAGE_GZ), "Image.gz");
	CHECK_STR(kernel_format_name(KERNEL_FORMAT_ZBOOT), "EFI zboot");
}

static void test_raw_efi(void)
{
	struct load l;
	size_t len;
	u8 *img = make_image(&std_spec, &len);

	load_bytes(&l, img, len);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.format, KERNEL_FORMAT_IMAGE);
	CHECK_EQ_U64(l.ki.text_offset, 0);
	CHECK_EQ_U64(l.ki.image_size, 4 * SZ_1M);
	CHECK_EQ_U64(l.ki.flags, 0xa);
	CHECK_EQ_U64(l.ki.load_addr, RAM_BASE);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + 4 * SZ_1M);
	load_done(&l);
	free(img);
}

static void test_raw_text_offset(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len;
	u8 *img;
	char *path;

	s.text_offset = 0x80000;
	img = make_image(&s, &len);
	path = write_tmp(img, len);
	load_path(&l, RAM_SIZE, RAM_BASE + SZ_2M, path);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.text_offset, 0x80000);
	CHECK_EQ_U64(l.ki.load_addr, RAM_BASE + SZ_2M + 0x80000);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + SZ_2M + 0x80000 + 4 * SZ_1M);
	load_done(&l);

	/* The base must be 2 MiB aligned and in RAM. */
	load_path(&l, RAM_SIZE, RAM_BASE + SZ_1M, path);
	check_error(&l, -EINVAL, "2 MiB aligned");
	load_done(&l);
	load_path(&l, RAM_SIZE, RAM_BASE + RAM_SIZE, path);
	check_error(&l, -EINVAL, path);
	CHECK_EQ_U64(l.m.written.nr, 0);
	load_done(&l);
	load_path(&l, RAM_SIZE, RAM_BASE - SZ_2M, path);
	check_error(&l, -EINVAL, "in RAM");
	load_done(&l);
	remove_tmp(path);
	free(img);
}

static void test_raw_no_efi(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len;
	u8 *img;

	s.efi = false;
	s.len = 0x123457;
	img = make_image(&s, &len);
	load_bytes(&l, img, len);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.format, KERNEL_FORMAT_IMAGE);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + 4 * SZ_1M);
	load_done(&l);

	/* Without the stub a cut Image cannot be told from a whole one: it loads. */
	load_bytes(&l, img, len - 0x1000);
	check_loaded(&l, img, len - 0x1000);
	load_done(&l);
	free(img);
}

/* A signed kernel has data after its sections; image_size may even be below the file size. */
static void test_raw_signed(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len;
	u8 *img;

	s.sig = 0x5c0;
	s.image_size = s.len + 0x100;
	img = make_image(&s, &len);
	load_bytes(&l, img, len);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.image_size, s.len + 0x100);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + len);
	load_done(&l);
	free(img);
}

/* Pre-3.17: image_size 0 means text_offset 0x80000 whatever the field says. */
static void test_old_image(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len;
	u8 *img;

	s.efi = false;
	s.image_size = 0;
	s.text_offset = 0x12345; /* "endianness unspecified": ignored */
	s.flags = 0;
	img = make_image(&s, &len);
	load_bytes(&l, img, len);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.text_offset, 0x80000);
	CHECK_EQ_U64(l.ki.image_size, 0);
	CHECK_EQ_U64(l.ki.load_addr, RAM_BASE + 0x80000);
	/* Documented estimate: twice the file size, rounded up to 2 MiB. */
	CHECK_EQ_U64(l.ki.end, RAM_BASE + 0x80000 + 6 * SZ_1M);
	load_done(&l);
	free(img);
}

static void test_header_errors(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len;
	u8 *img = make_image(&s, &len);

	img[0x38] = 'X';
	load_bytes(&l, img, len);
	check_error(&l, -EINVAL, "not an arm64 kernel");
	load_done(&l);
	img[0x38] = 'A';

	put_le64(img + 0x18, 0xb); /* big endian */
	load_bytes(&l, img, len);
	check_error(&l, -EINVAL, "big-endian");
	CHECK_EQ_U64(l.m.written.nr, 0);
	load_done(&l);
	put_le64(img + 0x18, 0xa);

	put_le64(img + 0x08, SZ_2M);
	load_bytes(&l, img, len);
	check_error(&l, -EINVAL, "text_offset");
	load_done(&l);
	put_le64(img + 0x08, 0x80008);
	load_bytes(&l, img, len);
	check_error(&l, -EINVAL, "text_offset");
	load_done(&l);
	put_le64(img + 0x08, ~0ULL);
	load_bytes(&l, img, len);
	check_error(&l, -EINVAL, "text_offset");
	load_done(&l);
	put_le64(img + 0x08, 0);

	/* Shorter than a header: nothing can be recognised. */
	load_bytes(&l, img, 0x3c);
	check_error(&l, -EINVAL, "not an arm64 kernel");
	load_done(&l);
	free(img);
}

static void test_raw_truncated(void)
{
	struct load l;
	size_t len;
	u8 *img = make_image(&std_spec, &len);
	char *path;

	/* Inside the last section. */
	path = write_tmp(img, len - 1);
	load_path(&l, RAM_SIZE, RAM_BASE, path);
	check_error(&l, -EINVAL, "truncated");
	CHECK(strstr(l.err, path) != NULL);
	CHECK(strstr(l.err, ".data") != NULL);
	load_done(&l);
	remove_tmp(path);

	/* Inside the first section. */
	load_bytes(&l, img, 0x2000);
	check_error(&l, -EINVAL, ".text");
	load_done(&l);

	/* Inside the section table, and right after the header. */
	load_bytes(&l, img, SEC_TAB + 40);
	check_error(&l, -EINVAL, "section table");
	load_done(&l);
	load_bytes(&l, img, 0x40);
	check_error(&l, -EINVAL, "PE header");
	load_done(&l);
	free(img);
}

/* PE header fields are hostile: each must fail cleanly, never read out of bounds. */
static void test_hostile_pe(void)
{
	static const struct {
		u32 off;
		u8 size; /* 2 or 4 */
		u32 val;
		const char *word;
	} cases[] = {
		{ 0x3c, 4, 0xfffffff0, "no PE header" },
		{ 0x3c, 4, 0x201234 - 2, "no PE header" },
		{ 0x3c, 4, 0x201234 - 24, "no PE header" }, /* PE sig fits, COFF does not */
		{ 0x3c, 4, 0x80, "no PE header" },
		{ PE_OFF + 6, 2, 0xffff, "PE sections" },
		{ PE_OFF + 6, 2, 97, "PE sections" },
		{ PE_OFF + 6, 2, 0, "PE sections" },
		{ SEC_TAB + 40 + 20, 4, 0xffffff00, "truncated" }, /* ptr + size > 2^32 */
		{ SEC_TAB + 40 + 16, 4, 0xffffffff, "truncated" },
		{ SEC_TAB + 20, 4, 0xffffffff, "truncated" },
	};
	struct kernel_info ki;
	struct load l;
	size_t len, i;
	u8 *img = make_image(&std_spec, &len);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		u8 *bad = malloc(len); /* exact size: ASan sees any overread */

		memcpy(bad, img, len);
		if (cases[i].size == 2)
			put_le16(bad + cases[i].off, (u16)cases[i].val);
		else
			put_le32(bad + cases[i].off, cases[i].val);
		if (cases[i].off == SEC_TAB + 40 + 16) /* both huge: the sum overflows u32 */
			put_le32(bad + SEC_TAB + 40 + 20, 0xffffffff);
		load_bytes(&l, bad, len);
		check_error(&l, -EINVAL, cases[i].word);
		load_done(&l);
		CHECK_EQ_U64(check_quiet(bad, len, &ki), -EINVAL);
		free(bad);
	}

	/* An optional header so big that the section table starts past the end. */
	{
		struct img_spec sm = std_spec;
		size_t slen;
		u8 *b;

		sm.len = 0x4000;
		b = make_image(&sm, &slen);
		put_le16(b + PE_OFF + 20, 0xffff);
		load_bytes(&l, b, slen);
		check_error(&l, -EINVAL, "section table");
		load_done(&l);
		free(b);
	}

	/* 96 sections whose table fits is fine when they are all empty. */
	{
		size_t blen = SEC_TAB + 96 * 40 + 16;
		u8 *b = calloc(1, blen);

		memcpy(b, img, SEC_TAB);
		put_le16(b + PE_OFF + 6, 96);
		CHECK_EQ_U64(check_quiet(b, blen, &ki), 0);
		CHECK_EQ_U64(ki.file_size, blen);
		CHECK_EQ_U64(check_quiet(b, blen - 17, &ki), -EINVAL);
		free(b);
	}
	free(img);
}

static void test_check_direct(void)
{
	struct kernel_info ki;
	size_t len;
	u8 *img = make_image(&std_spec, &len);

	memset(&ki, 0, sizeof(ki));
	CHECK_EQ_U64(check_quiet(img, len, &ki), 0);
	CHECK_EQ_U64(ki.file_size, len);
	CHECK_EQ_U64(ki.image_size, 4 * SZ_1M);
	CHECK_EQ_U64(ki.flags, 0xa);
	CHECK_EQ_U64(check_quiet(img, len - 1, &ki), -EINVAL);
	CHECK_EQ_U64(check_quiet(img, 63, &ki), -EINVAL);
	CHECK_EQ_U64(check_quiet(img, 0, &ki), -EINVAL);
	/* "MZ" with a zero PE offset is a non-EFI kernel whose branch happens to spell MZ. */
	put_le32(img + 0x3c, 0);
	CHECK_EQ_U64(check_quiet(img, 64, &ki), 0);
	free(img);
}

static void test_gzip(void)
{
	int levels[] = { 1, 9 };
	size_t len, i;
	u8 *img = make_image(&std_spec, &len);

	for (i = 0; i < ARRAY_SIZE(levels); i++) {
		struct load l;
		size_t glen;
		u8 *gz = gzip_data(img, len, 0, levels[i], &glen);

		load_bytes(&l, gz, glen);
		check_loaded(&l, img, len);
		CHECK_EQ_U64(l.ki.format, KERNEL_FORMAT_IMAGE_GZ);
		CHECK_EQ_U64(l.ki.load_addr, RAM_BASE);
		CHECK_EQ_U64(l.ki.end, RAM_BASE + 4 * SZ_1M);
		CHECK_EQ_U64(l.ki.flags, 0xa);
		load_done(&l);
		free(gz);
	}
	free(img);
}

static void test_gzip_text_offset_and_old(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len, glen;
	u8 *img, *gz;

	s.efi = false;
	s.image_size = 0;
	s.len = 0x1000;
	img = make_image(&s, &len);
	gz = gzip_data(img, len, 0, 6, &glen);
	load_bytes(&l, gz, glen);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.load_addr, RAM_BASE + 0x80000);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + 0x80000 + SZ_2M);
	load_done(&l);
	free(gz);
	free(img);

	/* Exactly a header: the stream ends with it. */
	s.len = 64;
	s.image_size = SZ_1M;
	img = make_image(&s, &len);
	gz = gzip_data(img, len, 0, 6, &glen);
	load_bytes(&l, gz, glen);
	check_loaded(&l, img, len);
	load_done(&l);
	free(gz);
	free(img);
}

static void test_gzip_trailing(void)
{
	struct load l;
	size_t len, glen;
	u8 *img = make_image(&std_spec, &len), *gz = gzip_data(img, len, 0, 6, &glen);
	u8 *big = calloc(1, 2 * glen + 4096);

	/* Zero padding after the stream is accepted. */
	memcpy(big, gz, glen);
	load_bytes(&l, big, glen + 4096);
	check_loaded(&l, img, len);
	load_done(&l);

	/* Anything else is not. */
	big[glen + 100] = 1;
	load_bytes(&l, big, glen + 4096);
	check_error(&l, -EINVAL, "after the end of the gzip stream");
	load_done(&l);

	/* Concatenated members (cat a.gz b.gz) are not loaded halfway. */
	memcpy(big + glen, gz, glen);
	load_bytes(&l, big, 2 * glen);
	check_error(&l, -EINVAL, "after the end of the gzip stream");
	load_done(&l);
	free(big);
	free(gz);
	free(img);
}

static void test_gzip_broken(void)
{
	struct load l;
	size_t len, glen;
	u8 *img = make_image(&std_spec, &len), *gz = gzip_data(img, len, 0, 6, &glen);
	u8 *bad = malloc(glen);
	size_t cuts[] = { 2, 10, 30, glen / 2, glen - 8, glen - 1 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cuts); i++) {
		load_bytes(&l, gz, cuts[i]);
		check_error(&l, -EINVAL, "gzip");
		load_done(&l);
	}

	/* CRC32 and ISIZE of the trailer. */
	memcpy(bad, gz, glen);
	bad[glen - 6] ^= 0x40;
	load_bytes(&l, bad, glen);
	check_error(&l, -EINVAL, "incorrect data check");
	load_done(&l);
	memcpy(bad, gz, glen);
	bad[glen - 2] ^= 0x01;
	load_bytes(&l, bad, glen);
	check_error(&l, -EINVAL, "incorrect length check");
	load_done(&l);

	/* Damage in the middle of the deflate data. */
	memcpy(bad, gz, glen);
	for (i = glen / 3; i < glen / 3 + 16; i++)
		bad[i] ^= 0x5a;
	load_bytes(&l, bad, glen);
	check_error(&l, -EINVAL, "corrupt gzip data");
	/* What zlib wrote before it noticed is recorded for cleaning all the same. */
	range_set_normalize(&l.m.written, 1);
	CHECK_EQ_U64(l.m.written.nr, 1);
	CHECK_EQ_U64(l.m.written.r[0].start, RAM_BASE);
	CHECK(l.m.written.r[0].end > RAM_BASE + 64 && l.m.written.r[0].end <= RAM_BASE + RAM_SIZE);
	load_done(&l);
	free(bad);
	free(gz);

	/* A gzip'd Image that was cut before compression. */
	gz = gzip_data(img, len - 0x100, 0, 6, &glen);
	load_bytes(&l, gz, glen);
	check_error(&l, -EINVAL, "truncated Image");
	CHECK(strstr(l.err, "(decompressed)") != NULL);
	load_done(&l);
	free(gz);

	/* gzip of something else, and of too little. */
	gz = gzip_data(img + 0x1000, 0x1000, 0, 6, &glen);
	load_bytes(&l, gz, glen);
	check_error(&l, -EINVAL, "not an arm64 Image");
	CHECK_EQ_U64(l.m.written.nr, 0);
	load_done(&l);
	free(gz);
	gz = gzip_data(img, 10, 0, 6, &glen);
	load_bytes(&l, gz, glen);
	check_error(&l, -EINVAL, "too short");
	load_done(&l);
	free(gz);
	free(img);
}

/* A gzip stream that inflates to more than RAM fails -ENOSPC without writing past RAM. */
static void test_zip_bomb(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len, glen;
	u8 *img, *gz;
	char *path;

	s.efi = false;
	s.len = 0x1000;
	img = make_image(&s, &len);
	gz = gzip_data(img, len, 24 * SZ_1M, 1, &glen);
	path = write_tmp(gz, glen);
	load_path(&l, 16 * SZ_1M, RAM_BASE, path);
	check_error(&l, -ENOSPC, "larger than");
	range_set_normalize(&l.m.written, 1);
	CHECK_EQ_U64(l.m.written.nr, 1);
	CHECK_EQ_U64(l.m.written.r[0].start, RAM_BASE);
	CHECK_EQ_U64(l.m.written.r[0].end, RAM_BASE + 16 * SZ_1M);
	load_done(&l);

	/* Exactly filling RAM is fine; one byte more is not. */
	free(gz);
	gz = gzip_data(img, len, 16 * SZ_1M - len, 1, &glen);
	remove_tmp(path);
	path = write_tmp(gz, glen);
	load_path(&l, 16 * SZ_1M, RAM_BASE, path);
	CHECK_EQ_U64(l.ret, 0);
	CHECK_EQ_U64(l.ki.file_size, 16 * SZ_1M);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + 16 * SZ_1M);
	CHECK_EQ_U64(range_set_bytes(&l.m.written), 16 * SZ_1M);
	load_done(&l);
	free(gz);
	gz = gzip_data(img, len, 16 * SZ_1M - len + 1, 1, &glen);
	remove_tmp(path);
	path = write_tmp(gz, glen);
	load_path(&l, 16 * SZ_1M, RAM_BASE, path);
	check_error(&l, -ENOSPC, "larger than the 16 MiB");
	load_done(&l);
	remove_tmp(path);
	free(gz);
	free(img);
}

static void test_zboot(void)
{
	struct load l;
	size_t len, glen, zlen;
	u8 *img = make_image(&std_spec, &len), *gz = gzip_data(img, len, 0, 9, &glen);
	u8 *zb = make_zboot(gz, glen, "gzip", &zlen);

	load_bytes(&l, zb, zlen);
	check_loaded(&l, img, len);
	CHECK_EQ_U64(l.ki.format, KERNEL_FORMAT_ZBOOT);
	CHECK_EQ_U64(l.ki.load_addr, RAM_BASE);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + 4 * SZ_1M);
	load_done(&l);

	/* Payload size past the end of the file. */
	load_bytes(&l, zb, zlen - 0x400);
	check_error(&l, -EINVAL, "outside");
	load_done(&l);
	put_le32(zb + 12, 0xffffffff);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "outside");
	load_done(&l);
	put_le32(zb + 8, 0xffffffff);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "outside");
	load_done(&l);
	put_le32(zb + 12, 0);
	put_le32(zb + 8, 0x1000);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "outside");
	load_done(&l);

	/* Payload size cuts the gzip stream; payload not gzip. */
	put_le32(zb + 12, (u32)(glen - 100));
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "truncated gzip");
	load_done(&l);
	put_le32(zb + 12, (u32)glen);
	put_le32(zb + 8, 0x40);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "corrupt gzip data");
	load_done(&l);
	put_le32(zb + 8, 0x1000);

	/* Other compressors are named in the error. */
	memcpy(zb + 0x18, "zstd", 5);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EOPNOTSUPP, "\"zstd\"");
	load_done(&l);
	memcpy(zb + 0x18, "lzma\x01", 5);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EOPNOTSUPP, "\"lzma?\"");
	load_done(&l);
	memset(zb + 0x18, 'g', 0x20); /* no terminating NUL before 0x38 */
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "not terminated");
	load_done(&l);
	free(zb);

	/* zboot whose payload is a cut Image. */
	free(gz);
	gz = gzip_data(img, len / 2, 0, 6, &glen);
	zb = make_zboot(gz, glen, "gzip", &zlen);
	load_bytes(&l, zb, zlen);
	check_error(&l, -EINVAL, "truncated Image");
	load_done(&l);
	free(zb);
	free(gz);
	free(img);
}

static void test_too_big(void)
{
	struct img_spec s = std_spec;
	struct load l;
	size_t len;
	u8 *img;
	char *path;
	int fd;

	/* A sparse 100 MiB Image is refused before anything is read. */
	img = make_image(&s, &len);
	path = write_tmp(img, len);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && ftruncate(fd, 100 * SZ_1M) == 0);
	close(fd);
	load_path(&l, RAM_SIZE, RAM_BASE, path);
	check_error(&l, -ENOSPC, "100 MiB");
	CHECK_EQ_U64(l.m.written.nr, 0);
	load_done(&l);
	remove_tmp(path);

	/* image_size beyond RAM. */
	put_le64(img + 0x10, 128 * SZ_1M);
	load_bytes(&l, img, len);
	check_error(&l, -ENOSPC, "needs 128 MiB");
	load_done(&l);
	put_le64(img + 0x10, ~0ULL);
	load_bytes(&l, img, len);
	check_error(&l, -ENOSPC, "kernel needs");
	load_done(&l);
	put_le64(img + 0x10, 4 * SZ_1M);

	/* Base near the end of RAM. */
	path = write_tmp(img, len);
	load_path(&l, RAM_SIZE, RAM_BASE + RAM_SIZE - SZ_2M, path);
	check_error(&l, -ENOSPC, path);
	load_done(&l);
	load_path(&l, RAM_SIZE, RAM_BASE + RAM_SIZE - 4 * SZ_1M, path);
	CHECK_EQ_U64(l.ret, 0);
	CHECK_EQ_U64(l.ki.end, RAM_BASE + RAM_SIZE);
	load_done(&l);
	remove_tmp(path);
	free(img);
}

static void test_bad_files(void)
{
	struct load l;
	char *path = write_tmp("", 0);
	char dir[] = "/tmp/coho-test-dir-XXXXXX";

	load_path(&l, RAM_SIZE, RAM_BASE, path);
	check_error(&l, -EINVAL, "empty");
	load_done(&l);
	unlink(path);
	load_path(&l, RAM_SIZE, RAM_BASE, path);
	check_error(&l, -ENOENT, path);
	CHECK(strstr(l.err, "No such file") != NULL);
	load_done(&l);
	free(path);

	CHECK(mkdtemp(dir) != NULL);
	load_path(&l, RAM_SIZE, RAM_BASE, dir);
	check_error(&l, -EINVAL, "regular file");
	load_done(&l);
	rmdir(dir);

	load_bytes(&l,
		   "\x7f"
		   "ELF\x02\x01\x01",
		   7);
	check_error(&l, -EINVAL, "not an arm64 kernel (no Image magic, gzip or EFI zboot header)");
	load_done(&l);
	load_bytes(&l, "\x1f", 1);
	check_error(&l, -EINVAL, "not an arm64 kernel");
	load_done(&l);
}

/* COHO_TEST_KERNEL: a real kernel (plain, gzip'd or zboot) must load. */
static void test_real_kernel(void)
{
	const char *path = getenv("COHO_TEST_KERNEL");
	struct load l;
	const u8 *ram;

	if (!path || !*path)
		return;
	load_path(&l, 512 * SZ_1M, RAM_BASE, path);
	CHECK_EQ_U64(l.ret, 0);
	if (l.ret)
		fprintf(stderr, "%s", l.err);
	CHECK_EQ_U64(l.ki.load_addr, RAM_BASE + l.ki.text_offset);
	CHECK(l.ki.end >= l.ki.load_addr + l.ki.file_size);
	ram = gpa_to_hva(&l.m, l.ki.load_addr, 64);
	CHECK(ram && !memcmp(ram + 0x38, "ARM\x64", 4));
	range_set_normalize(&l.m.written, 1);
	CHECK_EQ_U64(l.m.written.nr, 1);
	CHECK_EQ_U64(range_set_bytes(&l.m.written), l.ki.file_size);
	if (l.ki.format == KERNEL_FORMAT_IMAGE) {
		int fd = open(path, O_RDONLY);
		u8 *file = malloc(l.ki.file_size);

		CHECK(fd >= 0 && read(fd, file, l.ki.file_size) == (ssize_t)l.ki.file_size);
		CHECK(!memcmp(gpa_to_hva(&l.m, l.ki.load_addr, l.ki.file_size), file,
			      l.ki.file_size));
		free(file);
		close(fd);
	}
	printf("%s: %s, text_offset 0x%" PRIx64 ", image_size 0x%" PRIx64 ", %" PRIu64 " bytes\n",
	       path, kernel_format_name(l.ki.format), l.ki.text_offset, l.ki.image_size,
	       l.ki.file_size);
	load_done(&l);
}

TEST_MAIN(test_format_names, test_raw_efi, test_raw_text_offset, test_raw_no_efi, test_raw_signed,
	  test_old_image, test_header_errors, test_raw_truncated, test_hostile_pe,
	  test_check_direct, test_gzip, test_gzip_text_offset_and_old, test_gzip_trailing,
	  test_gzip_broken, test_zip_bomb, test_zboot, test_too_big, test_bad_files,
	  test_real_kernel)
