// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the 9P2000.L server (virtio/p9.c, p9-fs.c) on a small
 * export, fed a sequence of messages cut from the input. Each response must
 * be well formed (size field == returned length <= capacity, the request's
 * tag, type = request + 1 or Rlerror with an errno), no response may carry
 * the secret kept next to the export, nothing may appear in the sentinel
 * directory next to it, and no descriptor may leak.
 *
 * sources: virtio/p9.c virtio/p9-fs.c util/log.c
 *
 * Input format: byte 0 bit 0 = read-only export; then records of
 *   len[2] (bit 15: overwrite the message's size field with its length)
 *   cap[1] (bit 7: response capacity (cap & 0x7f) * 64, else 64 KiB)
 *   len bytes of message.
 * Before the records the harness sends Tversion and attaches fid 0 at the
 * root, so that inputs start inside a session. The export is rebuilt before
 * each input (in /dev/shm when it exists, to keep the disk out of it).
 * LLVMFuzzerInitialize() writes a few well-formed sessions into the first
 * corpus directory as seeds.
 *
 * Built and run by tests/fuzz/run.sh (make check-fuzz); by hand:
 *   ./fuzz_p9 -close_fd_mask=2 CORPUS_DIR
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/p9.h"

#define SECRET	 "COHO-P9-SECRET-4b1d"
#define MSIZE	 65536
#define FULL_CAP 65536

static char base[64], export_dir[96], sentinel[96], secret[96];
static int fds_at_start = -1;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0; /* keep the export root itself */
	return remove(path);
}

static void make_file(const char *rel, const char *text)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", export_dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static void make_link(const char *rel, const char *target)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", export_dir, rel);
	if (symlink(target, p))
		abort();
}

/* The export as every input finds it: files, a directory, symlinks out, a fifo. */
static void export_reset(void)
{
	char p[160];

	chmod(export_dir, 0755);
	if (chown(export_dir, getuid(), getgid()))
		abort();
	nftw(export_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	make_file("a", "alpha");
	snprintf(p, sizeof(p), "%s/d", export_dir);
	if (mkdir(p, 0755))
		abort();
	make_file("d/b", "beta");
	make_link("up", "..");
	make_link("abs", "/");
	make_link("sec", "../secret");
	make_link("d/out", "../../sentinel");
	snprintf(p, sizeof(p), "%s/p", export_dir);
	if (mkfifo(p, 0644))
		abort();
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int rm_all(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	nftw(base, rm_all, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	int fd;

	snprintf(base, sizeof(base), "%s/coho-fuzz-p9-XXXXXX", tmp);
	if (!mkdtemp(base))
		abort();
	snprintf(export_dir, sizeof(export_dir), "%s/export", base);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", base);
	snprintf(secret, sizeof(secret), "%s/secret", base);
	if (mkdir(export_dir, 0755) || mkdir(sentinel, 0755))
		abort();
	fd = open(secret, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, SECRET, strlen(SECRET)) != (ssize_t)strlen(SECRET))
		abort();
	close(fd);
	atexit(cleanup);
}

static void check_outside(void)
{
	char buf[64] = "";
	struct stat st;
	int fd;

	if (count_entries(base) != 5 || count_entries(sentinel) != 2)
		abort(); /* base: . .. export sentinel secret */
	if (lstat(secret, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 ||
	    st.st_nlink != 1 || st.st_uid != getuid())
		abort();
	fd = open(secret, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) != (ssize_t)strlen(SECRET) ||
	    strcmp(buf, SECRET))
		abort();
	close(fd);
}

static void check_response(const u8 *req, size_t req_len, const u8 *resp, size_t len, size_t cap)
{
	if (len == 0)
		return;
	if (len > cap || len < P9_HDR_SIZE || req_len < P9_HDR_SIZE || get_le32(resp) != len ||
	    get_le16(resp + 5) != get_le16(req + 5))
		abort();
	if (resp[4] == P9_RLERROR) {
		if (len != 11 || get_le32(resp + 7) == 0 || get_le32(resp + 7) > 4095)
			abort();
	} else if (resp[4] != (u8)(req[4] + 1)) {
		abort();
	}
	if (memmem(resp, len, SECRET, strlen(SECRET)))
		abort();
}

/* Send one message of @len bytes from @msg (copied so that ASan sees its exact end). */
static void send_msg(struct p9_server *s, const u8 *msg, size_t len, size_t cap)
{
	u8 *req = malloc(len ? len : 1), *resp = malloc(cap ? cap : 1);
	size_t n;

	if (!req || !resp)
		abort();
	memcpy(req, msg, len);
	n = p9_handle(s, req, len, resp, cap);
	check_response(req, len, resp, n, cap);
	free(req);
	free(resp);
}

/* A tiny message builder, for the session prologue and the seeds. */
struct mb {
	u8 b[4096];
	size_t len, start;
};

static void mb_bytes(struct mb *m, const void *p, size_t n)
{
	if (m->len + n > sizeof(m->b))
		abort();
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void mb_u8(struct mb *m, u8 v)
{
	mb_bytes(m, &v, 1);
}

static void mb_u16(struct mb *m, u16 v)
{
	u8 b[2] = { (u8)v, (u8)(v >> 8) };

	mb_bytes(m, b, 2);
}

static void mb_u32(struct mb *m, u32 v)
{
	mb_u16(m, (u16)v);
	mb_u16(m, (u16)(v >> 16));
}

static void mb_u64(struct mb *m, u64 v)
{
	mb_u32(m, (u32)v);
	mb_u32(m, (u32)(v >> 32));
}

static void mb_str(struct mb *m, const char *s)
{
	mb_u16(m, (u16)strlen(s));
	mb_bytes(m, s, strlen(s));
}

/* Start a record (seed framing) or a bare message (@framed false). */
static void mb_begin(struct mb *m, u8 type, bool framed)
{
	if (framed) {
		mb_u16(m, 0x8000); /* length patched by mb_end */
		mb_u8(m, 0);
	}
	m->start = m->len;
	mb_u32(m, 0);
	mb_u8(m, type);
	mb_u16(m, (u16)(m->len + 1));
}

static void mb_end(struct mb *m, bool framed)
{
	size_t n = m->len - m->start;

	m->b[m->start] = (u8)n;
	m->b[m->start + 1] = (u8)(n >> 8);
	if (framed) {
		m->b[m->start - 3] = (u8)n;
		m->b[m->start - 2] = (u8)(0x80 | n >> 8);
	}
}

static void session_start(struct p9_server *s)
{
	struct mb m = { .len = 0 };

	mb_begin(&m, P9_TVERSION, false);
	mb_u32(&m, MSIZE);
	mb_str(&m, "9P2000.L");
	mb_end(&m, false);
	send_msg(s, m.b, m.len, FULL_CAP);
	m.len = 0;
	mb_begin(&m, P9_TATTACH, false);
	mb_u32(&m, 0);
	mb_u32(&m, P9_NOFID);
	mb_str(&m, "root");
	mb_str(&m, "");
	mb_u32(&m, 0);
	mb_end(&m, false);
	send_msg(s, m.b, m.len, FULL_CAP);
}

static int count_fds(void)
{
	return count_entries("/proc/self/fd");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p9_server s;
	size_t off = 1;

	if (!base[0])
		setup();
	export_reset();
	if (fds_at_start < 0)
		fds_at_start = count_fds();
	if (p9_server_init(&s, export_dir, size && (data[0] & 1)))
		abort();
	session_start(&s);
	while (off + 3 <= size) {
		u16 hdr = get_le16(data + off);
		u8 capsel = data[off + 2];
		size_t len = hdr & 0x7fff,
		       cap = (capsel & 0x80) ? (size_t)(capsel & 0x7f) * 64 : FULL_CAP;
		u8 msg[0x8000];

		off += 3;
		if (len > size - off)
			len = size - off;
		memcpy(msg, data + off, len);
		off += len;
		if ((hdr & 0x8000) && len >= 4) {
			msg[0] = (u8)len;
			msg[1] = (u8)(len >> 8);
			msg[2] = msg[3] = 0;
		}
		send_msg(&s, msg, len, cap);
	}
	p9_server_destroy(&s);
	check_outside();
	if (count_fds() != fds_at_start)
		abort();
	return 0;
}

/* Well-formed sessions as seeds: every request type, on files, directories and symlinks. */
static void seed_write(const char *dir, int n, const struct mb *m)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/seed-p9-%d", dir, n);
	if (access(p, F_OK) == 0)
		return;
	f = fopen(p, "w");
	if (!f)
		return;
	fwrite(m->b, 1, m->len, f);
	fclose(f);
}

static void seed_walk(struct mb *m, u32 fid, u32 newfid, const char *a, const char *b)
{
	mb_begin(m, P9_TWALK, true);
	mb_u32(m, fid);
	mb_u32(m, newfid);
	mb_u16(m, (u16)(!!a + !!b));
	if (a)
		mb_str(m, a);
	if (b)
		mb_str(m, b);
	mb_end(m, true);
}

static void seed_fid_u32(struct mb *m, u8 type, u32 fid, u32 v)
{
	mb_begin(m, type, true);
	mb_u32(m, fid);
	mb_u32(m, v);
	mb_end(m, true);
}

static void seed_io(struct mb *m, u8 type, u32 fid, u64 off, u32 count)
{
	mb_begin(m, type, true);
	mb_u32(m, fid);
	mb_u64(m, off);
	mb_u32(m, count);
	if (type == P9_TWRITE)
		mb_bytes(m, "0123456789abcdef", count);
	mb_end(m, true);
}

static void seed_name(struct mb *m, u8 type, u32 fid, const char *name, u32 a, u32 b)
{
	mb_begin(m, type, true);
	mb_u32(m, fid);
	mb_str(m, name);
	mb_u32(m, a);
	mb_u32(m, b);
	mb_end(m, true);
}

static void make_seeds(const char *dir)
{
	struct mb m = { .len = 0 };

	/* Files: open, read, write, getattr, setattr, fsync, locks, clunk. */
	mb_u8(&m, 0);
	seed_walk(&m, 0, 1, "a", NULL);
	seed_fid_u32(&m, P9_TLOPEN, 1, P9_DOTL_RDWR);
	seed_io(&m, P9_TREAD, 1, 0, 100);
	seed_io(&m, P9_TWRITE, 1, 2, 16);
	mb_begin(&m, P9_TGETATTR, true);
	mb_u32(&m, 1);
	mb_u64(&m, 0x3fff);
	mb_end(&m, true);
	mb_begin(&m, P9_TSETATTR, true);
	mb_u32(&m, 1);
	mb_u32(&m, 0x1ff);
	mb_u32(&m, 0100600);
	mb_u32(&m, 0);
	mb_u32(&m, 0);
	mb_u64(&m, 3);
	for (int i = 0; i < 4; i++)
		mb_u64(&m, 1);
	mb_end(&m, true);
	seed_fid_u32(&m, P9_TFSYNC, 1, 1);
	mb_begin(&m, P9_TLOCK, true);
	mb_u32(&m, 1);
	mb_u8(&m, 1);
	mb_u32(&m, 0);
	mb_u64(&m, 0);
	mb_u64(&m, 0);
	mb_u32(&m, 1);
	mb_str(&m, "c");
	mb_end(&m, true);
	mb_begin(&m, P9_TGETLOCK, true);
	mb_u32(&m, 1);
	mb_u8(&m, 1);
	mb_u64(&m, 0);
	mb_u64(&m, 0);
	mb_u32(&m, 1);
	mb_str(&m, "c");
	mb_end(&m, true);
	seed_fid_u32(&m, P9_TCLUNK, 1, 0);
	seed_write(dir, 1, &m);

	/* Directories: readdir, create, mkdir, symlink, link, rename, unlink, remove. */
	m.len = 0;
	mb_u8(&m, 0);
	seed_walk(&m, 0, 2, "d", NULL);
	seed_fid_u32(&m, P9_TLOPEN, 2, P9_DOTL_DIRECTORY);
	seed_io(&m, P9_TREADDIR, 2, 0, 200);
	seed_io(&m, P9_TREADDIR, 2, 2, 4000);
	seed_walk(&m, 0, 3, "d", "..");
	mb_begin(&m, P9_TLCREATE, true);
	mb_u32(&m, 3);
	mb_str(&m, "new");
	mb_u32(&m, P9_DOTL_RDWR);
	mb_u32(&m, 0644);
	mb_u32(&m, 0);
	mb_end(&m, true);
	seed_io(&m, P9_TWRITE, 3, 0, 10);
	seed_name(&m, P9_TMKDIR, 0, "m", 0755, 0);
	mb_begin(&m, P9_TSYMLINK, true);
	mb_u32(&m, 0);
	mb_str(&m, "s");
	mb_str(&m, "../../x");
	mb_u32(&m, 0);
	mb_end(&m, true);
	mb_begin(&m, P9_TLINK, true);
	mb_u32(&m, 0);
	mb_u32(&m, 3);
	mb_str(&m, "h");
	mb_end(&m, true);
	mb_begin(&m, P9_TRENAMEAT, true);
	mb_u32(&m, 0);
	mb_str(&m, "h");
	mb_u32(&m, 2);
	mb_str(&m, "h2");
	mb_end(&m, true);
	mb_begin(&m, P9_TRENAME, true);
	mb_u32(&m, 3);
	mb_u32(&m, 2);
	mb_str(&m, "new2");
	mb_end(&m, true);
	seed_name(&m, P9_TUNLINKAT, 0, "m", P9_DOTL_AT_REMOVEDIR, 0);
	seed_fid_u32(&m, P9_TREMOVE, 3, 0);
	seed_write(dir, 2, &m);

	/* Symlinks and odd corners: readlink, walks through links, statfs, xattrs, mknod. */
	m.len = 0;
	mb_u8(&m, 0);
	seed_walk(&m, 0, 4, "abs", NULL);
	seed_fid_u32(&m, P9_TREADLINK, 4, 0);
	seed_walk(&m, 0, 5, "up", "export");
	seed_walk(&m, 0, 5, "..", "d");
	seed_walk(&m, 5, 6, "out", NULL);
	seed_fid_u32(&m, P9_TSTATFS, 0, 0);
	mb_begin(&m, P9_TXATTRWALK, true);
	mb_u32(&m, 0);
	mb_u32(&m, 7);
	mb_str(&m, "");
	mb_end(&m, true);
	seed_io(&m, P9_TREAD, 7, 0, 10);
	mb_begin(&m, P9_TMKNOD, true);
	mb_u32(&m, 0);
	mb_str(&m, "f");
	mb_u32(&m, 010644);
	mb_u32(&m, 0);
	mb_u32(&m, 0);
	mb_u32(&m, 0);
	mb_end(&m, true);
	mb_begin(&m, P9_TFLUSH, true);
	mb_u16(&m, 1);
	mb_end(&m, true);
	seed_write(dir, 3, &m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;

	for (int i = 1; i < *argc; i++) {
		const char *a = (*argv)[i];

		if (a[0] != '-' && !stat(a, &st) && S_ISDIR(st.st_mode)) {
			make_seeds(a);
			break;
		}
	}
	return 0;
}
