// SPDX-License-Identifier: GPL-2.0
/*
 * arm64 kernel loader: raw Image, Image.gz and EFI zboot (gzip payload).
 *
 * Facts used (Linux Documentation/arch/arm64/booting.rst, arch/arm64/kernel/head.S,
 * drivers/firmware/efi/libstub/zboot-header.S, PE/COFF specification):
 *   - Image header: code0/code1, text_offset @0x08, image_size @0x10, flags @0x18,
 *     magic "ARM\x64" @0x38, PE header offset @0x3c; all little endian.
 *   - image_size == 0 (pre-3.17): text_offset is 0x80000, the size is unknown.
 *   - head.S refuses to build a TEXT_OFFSET that is not 4 KiB aligned or >= 2 MiB.
 *   - With the EFI stub, the Image is a PE file whose sections' raw data all lie
 *     inside the file; BSS is not in the file, so the file is shorter than
 *     image_size. A signed kernel appends an Authenticode blob after the sections.
 *   - zboot: "MZ", "zimg" @4, payload offset @8, payload size @12 (le32), the
 *     NUL-terminated compression type @0x18. For gzip the payload is exactly the
 *     gzip stream, and it inflates to an Image.
 *
 * Every value read from a file is treated as hostile: sizes are checked in u64
 * with overflow checks before they are used, and every byte goes to RAM through
 * guest_write*() so the ranges are recorded for cleaning to PoC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arm64/image.h"
#include "util/log.h"

#define IMAGE_HDR_SIZE	      0x40
#define IMAGE_MAGIC	      0x644d5241 /* "ARM\x64" */
#define IMAGE_OLD_TEXT_OFFSET 0x80000ULL
#define IMAGE_FLAG_BE	      (1ULL << 0)
#define IMAGE_FLAG_PAGE_SHIFT 1
#define IMAGE_FLAG_PAGE_MASK  3ULL

#define PE_SIG_SIZE	4 /* "PE\0\0" */
#define COFF_HDR_SIZE	20
#define PE_SECTION_SIZE 40
/* The PE/COFF specification limits the section count to 96; the kernel uses 2-4. */
#define PE_MAX_SECTIONS 96

#define ZBOOT_TYPE_OFF 0x18
#define ZBOOT_TYPE_MAX (0x38 - ZBOOT_TYPE_OFF) /* LINUX_PE_MAGIC follows at 0x38 */

/* Input buffer of the decompressor and the largest piece inflated per call. */
#define GZ_IN_BUF    (64 * 1024)
#define GZ_OUT_CHUNK (4 * SZ_1M)

const char *kernel_format_name(enum kernel_format f)
{
	switch (f) {
	case KERNEL_FORMAT_IMAGE:
		return "Image";
	case KERNEL_FORMAT_IMAGE_GZ:
		return "Image.gz";
	case KERNEL_FORMAT_ZBOOT:
		return "EFI zboot";
	}
	return "unknown";
}

static u64 mib_round_up(u64 bytes)
{
	return bytes / SZ_1M + (bytes % SZ_1M != 0);
}

/*
 * Check the 64-byte header and fill the header fields of @ki. Shared by the
 * loaders (which must know text_offset before anything is written) and by
 * arm64_image_check().
 */
static int image_header_parse(const u8 *hdr, u64 len, const char *what, struct kernel_info *ki)
{
	u64 text_offset;

	if (len < IMAGE_HDR_SIZE) {
		pr_err("%s: only %llu bytes, too short for an arm64 Image header (%d bytes)", what,
		       (unsigned long long)len, IMAGE_HDR_SIZE);
		return -EINVAL;
	}
	if (get_le32(hdr + 0x38) != IMAGE_MAGIC) {
		pr_err("%s: not an arm64 Image (no \"ARM\\x64\" magic at offset 0x38)", what);
		return -EINVAL;
	}
	ki->image_size = get_le64(hdr + 0x10);
	ki->flags = get_le64(hdr + 0x18);
	/* booting.rst: before v3.17 image_size is 0 and text_offset is 0x80000. */
	text_offset = ki->image_size ? get_le64(hdr + 0x08) : IMAGE_OLD_TEXT_OFFSET;
	if (ki->flags & IMAGE_FLAG_BE) {
		pr_err("%s: big-endian kernel (Image flags bit 0); coho boots little-endian "
		       "kernels only",
		       what);
		return -EINVAL;
	}
	if (text_offset >= SZ_2M || text_offset % SZ_4K) {
		pr_err("%s: invalid text_offset 0x%llx in the Image header (must be 4 KiB aligned "
		       "and below 2 MiB)",
		       what, (unsigned long long)text_offset);
		return -EINVAL;
	}
	ki->text_offset = text_offset;
	return 0;
}

/*
 * With the EFI stub the Image is also a PE file: the raw data of every section
 * must lie inside it. This is the only way to tell a truncated Image, since
 * the file is always shorter than image_size (BSS is not stored).
 */
static int image_check_pe(const u8 *img, u64 len, const char *what)
{
	u64 pe = get_le32(img + 0x3c), sec_tab, need;
	unsigned int nsec, i;

	/*
	 * Kernels without CONFIG_EFI have a branch in code0 and 0 at 0x3c; "MZ"
	 * alone could be a branch offset, so both must be there.
	 */
	if (img[0] != 'M' || img[1] != 'Z' || pe == 0)
		return 0;
	if (pe > len || len - pe < PE_SIG_SIZE + COFF_HDR_SIZE ||
	    memcmp(img + pe, "PE\0\0", PE_SIG_SIZE)) {
		pr_err("%s: corrupt EFI stub: no PE header at offset 0x%llx (file has %llu bytes)",
		       what, (unsigned long long)pe, (unsigned long long)len);
		return -EINVAL;
	}
	nsec = get_le16(img + pe + PE_SIG_SIZE + 2);
	if (nsec == 0 || nsec > PE_MAX_SECTIONS) {
		pr_err("%s: corrupt EFI stub: %u PE sections (expected 1 to %d)", what, nsec,
		       PE_MAX_SECTIONS);
		return -EINVAL;
	}
	/* Every term is below 2^32, so u64 sums cannot overflow. */
	sec_tab = pe + PE_SIG_SIZE + COFF_HDR_SIZE + get_le16(img + pe + PE_SIG_SIZE + 16);
	if (sec_tab > len || (len - sec_tab) / PE_SECTION_SIZE < nsec) {
		pr_err("%s: truncated or corrupt EFI stub: PE section table (%u entries at 0x%llx) "
		       "is past the end of the %llu-byte file",
		       what, nsec, (unsigned long long)sec_tab, (unsigned long long)len);
		return -EINVAL;
	}
	for (i = 0; i < nsec; i++) {
		const u8 *s = img + sec_tab + (u64)i * PE_SECTION_SIZE;
		u64 raw_size = get_le32(s + 16), raw_ptr = get_le32(s + 20);
		char name[9];
		unsigned int j;

		if (!raw_size) /* uninitialised data: nothing in the file */
			continue;
		need = raw_ptr + raw_size;
		if (need <= len)
			continue;
		for (j = 0; j < 8; j++)
			name[j] = s[j] >= 0x20 && s[j] < 0x7f ? (char)s[j] : (s[j] ? '?' : 0);
		name[8] = 0;
		pr_err("%s: truncated Image: PE section %u (%s) ends at byte %llu but the Image "
		       "has only %llu bytes",
		       what, i, name, (unsigned long long)need, (unsigned long long)len);
		return -EINVAL;
	}
	return 0;
}

int arm64_image_check(const u8 *img, u64 len, const char *what, struct kernel_info *ki)
{
	int ret = image_header_parse(img, len, what, ki);

	if (ret)
		return ret;
	ret = image_check_pe(img, len, what);
	if (ret)
		return ret;
	ki->file_size = len;
	return 0;
}

/*
 * Place the Image: load_addr = base + text_offset, and the room it needs.
 * @max_len is the most Image bytes that can follow load_addr in RAM.
 */
static int image_place(const struct guest_mem *m, u64 base, const char *path,
		       struct kernel_info *ki, u64 *max_len)
{
	u64 ram_end = m->base + m->size;

	if (base % SZ_2M || base < m->base || base >= ram_end) {
		pr_err("%s: kernel base 0x%llx is not a 2 MiB aligned address in RAM", path,
		       (unsigned long long)base);
		return -EINVAL;
	}
	ki->load_addr = base + ki->text_offset; /* text_offset < 2 MiB: no overflow */
	if (ki->load_addr >= ram_end) {
		pr_err("%s: kernel load address 0x%llx is beyond the end of RAM (0x%llx)", path,
		       (unsigned long long)ki->load_addr, (unsigned long long)ram_end);
		return -ENOSPC;
	}
	*max_len = ram_end - ki->load_addr;
	return 0;
}

/*
 * Set ki->end and check it fits. An old kernel (image_size 0) does not say how
 * much memory follows its file for BSS and early page tables; booting.rst asks
 * to leave "as much as possible". Assume it needs twice its file size rounded
 * up to 2 MiB: pre-3.17 kernels had BSS well under their file size.
 */
static int image_finish(const struct guest_mem *m, const char *path, struct kernel_info *ki)
{
	u64 ram_end = m->base + m->size, need = ki->image_size;

	if (!need && !align_up_checked(2 * ki->file_size, SZ_2M, &need))
		need = UINT64_MAX;
	if (need < ki->file_size) /* signed kernels: file may run past image_size */
		need = ki->file_size;
	if (need > ram_end - ki->load_addr) {
		pr_err("%s: kernel needs %llu MiB from 0x%llx but RAM is %llu MiB ending at 0x%llx",
		       path, (unsigned long long)mib_round_up(need),
		       (unsigned long long)ki->load_addr, (unsigned long long)(m->size / SZ_1M),
		       (unsigned long long)ram_end);
		return -ENOSPC;
	}
	ki->end = ki->load_addr + need;
	pr_debug("%s: %s, text_offset 0x%llx, image_size 0x%llx, %llu bytes at 0x%llx, "
		 "page size code %llu",
		 path, kernel_format_name(ki->format), (unsigned long long)ki->text_offset,
		 (unsigned long long)ki->image_size, (unsigned long long)ki->file_size,
		 (unsigned long long)ki->load_addr,
		 (unsigned long long)((ki->flags >> IMAGE_FLAG_PAGE_SHIFT) & IMAGE_FLAG_PAGE_MASK));
	return 0;
}

/* Run the whole-Image checks on the copy now in RAM. */
static int image_check_in_ram(struct guest_mem *m, const char *what, struct kernel_info *ki,
			      u64 len)
{
	const u8 *img = gpa_to_hva(m, ki->load_addr, len);

	if (!img) /* cannot happen: the bytes were just written there */
		return -EFAULT;
	return arm64_image_check(img, len, what, ki);
}

static int load_raw(struct guest_mem *m, u64 base, const char *path, int fd, const u8 *hdr,
		    u64 file_size, struct kernel_info *ki)
{
	u64 max_len;
	int ret;

	ret = image_header_parse(hdr, file_size, path, ki);
	if (ret)
		return ret;
	ret = image_place(m, base, path, ki, &max_len);
	if (ret)
		return ret;
	if (file_size > max_len) {
		pr_err("%s: kernel file is %llu MiB but only %llu MiB of RAM follow its load "
		       "address 0x%llx",
		       path, (unsigned long long)mib_round_up(file_size),
		       (unsigned long long)(max_len / SZ_1M), (unsigned long long)ki->load_addr);
		return -ENOSPC;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		ret = -errno;
		pr_err("%s: cannot seek: %s", path, strerror(-ret));
		return ret;
	}
	ret = guest_write_from_fd(m, ki->load_addr, fd, file_size);
	if (ret) {
		pr_err("%s: cannot read the kernel: %s", path,
		       ret == -EIO ? "file shrank while reading" : strerror(-ret));
		return ret;
	}
	ret = image_check_in_ram(m, path, ki, file_size);
	if (ret)
		return ret;
	return image_finish(m, path, ki);
}

/* The compressed input: @left bytes of @fd from @off. */
struct gz_src {
	int fd;
	u64 off;
	u64 left;
	u8 *buf;
};

/* Refill the inflate input; 0 at end of input, <0 on read errors. */
static int gz_refill(struct gz_src *src, z_stream *zs, const char *path)
{
	size_t want = src->left < GZ_IN_BUF ? (size_t)src->left : GZ_IN_BUF;
	ssize_t n;

	if (!want)
		return 0;
	do {
		n = pread(src->fd, src->buf, want, (off_t)src->off);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;

		pr_err("%s: cannot read the kernel: %s", path, strerror(-err));
		return err;
	}
	if (n == 0) {
		pr_err("%s: truncated gzip data (file shrank while reading)", path);
		return -EIO;
	}
	src->off += (u64)n;
	src->left -= (u64)n;
	zs->next_in = src->buf;
	zs->avail_in = (uInt)n;
	return 1;
}

/*
 * One inflate step into [out, out + len): 1 = more to do, 0 = stream end,
 * <0 = error (logged). Input is refilled when zlib has used it all; when
 * zlib can make no progress and there is no input left, the data was cut.
 */
static int gz_step(struct gz_src *src, z_stream *zs, u8 *out, u64 len, const char *path)
{
	int ret;

	if (!zs->avail_in) {
		ret = gz_refill(src, zs, path);
		if (ret < 0)
			return ret;
	}
	zs->next_out = out;
	zs->avail_out = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	ret = inflate(zs, Z_NO_FLUSH);
	switch (ret) {
	case Z_STREAM_END:
		return 0;
	case Z_OK:
		return 1;
	case Z_BUF_ERROR: /* no progress: out of input (callers always give output room) */
		if (!zs->avail_in && !src->left) {
			pr_err("%s: truncated gzip data (stream ends early)", path);
			return -EINVAL;
		}
		return 1;
	case Z_MEM_ERROR:
		pr_err("%s: out of memory while decompressing", path);
		return -ENOMEM;
	default: /* Z_DATA_ERROR (includes CRC and length checks), Z_NEED_DICT, ... */
		pr_err("%s: corrupt gzip data: %s", path, zs->msg ? zs->msg : "inflate failed");
		return -EINVAL;
	}
}

/*
 * After the end of the gzip stream only zero padding may follow: anything
 * else is a second member or garbage, and loading just the first part would
 * boot something other than what gzip -d gives.
 */
static int gz_check_trailer(struct gz_src *src, z_stream *zs, const char *path)
{
	int ret;

	for (;;) {
		for (uInt i = 0; i < zs->avail_in; i++) {
			if (zs->next_in[i]) {
				pr_err("%s: unexpected data after the end of the gzip stream",
				       path);
				return -EINVAL;
			}
		}
		zs->avail_in = 0;
		ret = gz_refill(src, zs, path);
		if (ret <= 0)
			return ret;
	}
}

/*
 * Inflate a gzip'd Image straight into guest RAM. The 64-byte header goes to
 * a host buffer first (text_offset decides where the rest goes); then zlib
 * writes into RAM in pieces. guest_write_ptr() wants the length up front but
 * an inflater only knows afterwards how much it produced, so each piece is
 * translated with the checked gpa_to_hva() and exactly the bytes zlib wrote
 * are then recorded through guest_write_ptr(). Output is bounded by the RAM
 * after the load address: one byte more is a "zip bomb" and fails -ENOSPC.
 */
static int load_gzip(struct guest_mem *m, u64 base, const char *path, int fd, u64 off, u64 len,
		     struct kernel_info *ki)
{
	struct gz_src src = { .fd = fd, .off = off, .left = len };
	u8 hdr[IMAGE_HDR_SIZE], spill;
	u64 done = 0, max_len;
	char what[512];
	z_stream zs;
	int ret, more = 1;

	snprintf(what, sizeof(what), "%s (decompressed)", path);
	src.buf = malloc(GZ_IN_BUF);
	if (!src.buf) {
		pr_err("%s: out of memory", path);
		return -ENOMEM;
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) { /* 16: gzip wrapper only */
		free(src.buf);
		pr_err("%s: cannot initialise zlib", path);
		return -ENOMEM;
	}

	/* The header, into host memory. */
	while (more > 0 && done < IMAGE_HDR_SIZE) {
		more = gz_step(&src, &zs, hdr + done, IMAGE_HDR_SIZE - done, path);
		done = IMAGE_HDR_SIZE - zs.avail_out;
	}
	ret = more;
	if (ret < 0)
		goto out;
	ret = image_header_parse(hdr, done, what, ki);
	if (ret)
		goto out;
	ret = image_place(m, base, path, ki, &max_len);
	if (ret)
		goto out;
	if (max_len < IMAGE_HDR_SIZE || guest_write(m, ki->load_addr, hdr, IMAGE_HDR_SIZE)) {
		ret = -ENOSPC;
		pr_err("%s: no room in RAM for the kernel at 0x%llx", path,
		       (unsigned long long)ki->load_addr);
		goto out;
	}

	/* The rest, straight into RAM (unless the stream ended with the header). */
	ret = more;
	while (ret > 0) {
		u64 gpa = ki->load_addr + done, piece = max_len - done, made;
		u8 *out;

		if (piece > GZ_OUT_CHUNK)
			piece = GZ_OUT_CHUNK;
		/* RAM is full: if zlib can still produce a byte, the Image does not fit. */
		out = piece ? gpa_to_hva(m, gpa, piece) : &spill;
		ret = gz_step(&src, &zs, out, piece ? piece : 1, path);
		made = (piece ? piece : 1) - zs.avail_out;
		/* Record what zlib wrote even when it then failed: it is in RAM. */
		if (piece && made && !guest_write_ptr(m, gpa, made)) {
			pr_err("%s: cannot record kernel bytes at 0x%llx", path,
			       (unsigned long long)gpa);
			ret = -EFAULT;
		}
		if (ret < 0)
			break;
		if (!piece && made) {
			pr_err("%s: decompressed kernel is larger than the %llu MiB of RAM after "
			       "its load address 0x%llx",
			       path, (unsigned long long)(max_len / SZ_1M),
			       (unsigned long long)ki->load_addr);
			ret = -ENOSPC;
			break;
		}
		done += made;
	}
	if (ret < 0)
		goto out;
	ret = gz_check_trailer(&src, &zs, path);
	if (ret < 0)
		goto out;
	ret = image_check_in_ram(m, what, ki, done);
	if (!ret)
		ret = image_finish(m, path, ki);
out:
	inflateEnd(&zs);
	free(src.buf);
	return ret;
}

/* EFI zboot: find the payload and its compression type, then inflate it. */
static int load_zboot(struct guest_mem *m, u64 base, const char *path, int fd, const u8 *hdr,
		      u64 file_size, struct kernel_info *ki)
{
	u64 off = get_le32(hdr + 8), len = get_le32(hdr + 12);
	const char *type = (const char *)hdr + ZBOOT_TYPE_OFF;
	char shown[ZBOOT_TYPE_MAX + 1];
	size_t i, n = strnlen(type, ZBOOT_TYPE_MAX);

	if (n == ZBOOT_TYPE_MAX) {
		pr_err("%s: corrupt EFI zboot header (compression type not terminated)", path);
		return -EINVAL;
	}
	if (strcmp(type, "gzip")) {
		for (i = 0; i < n; i++)
			shown[i] = type[i] >= 0x20 && type[i] < 0x7f ? type[i] : '?';
		shown[n] = 0;
		pr_err("%s: EFI zboot kernel compressed with \"%s\"; only gzip is supported "
		       "(decompress the payload or use the plain Image)",
		       path, shown);
		return -EOPNOTSUPP;
	}
	/* Both are le32, so the u64 sum cannot overflow. */
	if (!len || off + len > file_size) {
		pr_err("%s: truncated or corrupt EFI zboot image: payload [%llu, %llu) is outside "
		       "the %llu-byte file",
		       path, (unsigned long long)off, (unsigned long long)(off + len),
		       (unsigned long long)file_size);
		return -EINVAL;
	}
	return load_gzip(m, base, path, fd, off, len, ki);
}

int kernel_load(struct guest_mem *m, u64 base, const char *path, struct kernel_info *ki)
{
	u8 hdr[IMAGE_HDR_SIZE] = { 0 };
	u64 size, got = 0;
	struct stat st;
	int fd, ret;

	memset(ki, 0, sizeof(*ki));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_err("%s: cannot open kernel: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		pr_err("%s: cannot stat kernel: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		pr_err("%s: kernel is not a regular file", path);
		goto out;
	}
	size = (u64)st.st_size;
	if (!size) {
		ret = -EINVAL;
		pr_err("%s: kernel file is empty", path);
		goto out;
	}
	while (got < sizeof(hdr) && got < size) {
		ssize_t n = pread(fd, hdr + got, sizeof(hdr) - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			pr_err("%s: cannot read kernel header: %s", path,
			       n < 0 ? strerror(-ret) : "file shrank while reading");
			goto out;
		}
		got += (u64)n;
	}

	/* Detect by content. zboot first: it also starts with "MZ", like an Image with EFI stub. */
	if (got >= IMAGE_HDR_SIZE && !memcmp(hdr, "MZ", 2) && !memcmp(hdr + 4, "zimg", 4)) {
		ki->format = KERNEL_FORMAT_ZBOOT;
		ret = load_zboot(m, base, path, fd, hdr, size, ki);
	} else if (got >= IMAGE_HDR_SIZE && get_le32(hdr + 0x38) == IMAGE_MAGIC) {
		ki->format = KERNEL_FORMAT_IMAGE;
		ret = load_raw(m, base, path, fd, hdr, size, ki);
	} else if (got >= 2 && hdr[0] == 0x1f && hdr[1] == 0x8b) {
		ki->format = KERNEL_FORMAT_IMAGE_GZ;
		ret = load_gzip(m, base, path, fd, 0, size, ki);
	} else {
		ret = -EINVAL;
		pr_err("%s: not an arm64 kernel (no Image magic, gzip or EFI zboot header)", path);
	}
out:
	close(fd);
	return ret;
}
