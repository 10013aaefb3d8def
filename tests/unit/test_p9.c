// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/p9.c + p9-fs.c: a 9P2000.L session against a temporary export
 * (every common request and its effect on the host files), escape attempts
 * (".." from the root and below, symlinks to "/" and "../..", names with '/',
 * operations on symlink fids), a read-only export, and malformed messages
 * (size mismatches, truncated strings, huge counts, unknown and duplicate
 * fids), with no descriptor leaked at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "virtio/p9.h"

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

#define ROOT 1 /* the fid every test attaches */

/* A T-message under construction. */
struct req {
	u8 b[70000];
	size_t len;
};

/* One export, its server and the last response. */
struct sess {
	char base[64];	  /* temp dir holding export/ and outside/ */
	char export[96];  /* the export root */
	char outside[96]; /* a sibling of the export the guest must never reach */
	struct p9_server s;
	u8 *resp;
	size_t resp_len, roff;
	u16 tag;
	struct req r;
};

static void r_begin(struct sess *se, u8 type)
{
	se->r.len = P9_HDR_SIZE;
	se->r.b[4] = type;
	se->tag++;
	se->r.b[5] = (u8)se->tag;
	se->r.b[6] = (u8)(se->tag >> 8);
}

static void r_bytes(struct sess *se, const void *p, size_t n)
{
	memcpy(se->r.b + se->r.len, p, n);
	se->r.len += n;
}

static void r_u8(struct sess *se, u8 v)
{
	r_bytes(se, &v, 1);
}

static void r_u16(struct sess *se, u16 v)
{
	u8 b[2] = { (u8)v, (u8)(v >> 8) };

	r_bytes(se, b, 2);
}

static void r_u32(struct sess *se, u32 v)
{
	r_u16(se, (u16)v);
	r_u16(se, (u16)(v >> 16));
}

static void r_u64(struct sess *se, u64 v)
{
	r_u32(se, (u32)v);
	r_u32(se, (u32)(v >> 32));
}

static void r_str(struct sess *se, const char *s)
{
	r_u16(se, (u16)strlen(s));
	r_bytes(se, s, strlen(s));
}

static u8 a_u8(struct sess *se)
{
	if (se->roff + 1 > se->resp_len)
		return 0;
	return se->resp[se->roff++];
}

static u16 a_u16(struct sess *se)
{
	u16 v = a_u8(se);

	return (u16)(v | a_u8(se) << 8);
}

static u32 a_u32(struct sess *se)
{
	u32 v = a_u16(se);

	return v | (u32)a_u16(se) << 16;
}

static u64 a_u64(struct sess *se)
{
	u64 v = a_u32(se);

	return v | (u64)a_u32(se) << 32;
}

/* Handle @len bytes of the request (its size field as built unless @raw) with a @cap buffer. */
static int send_raw(struct sess *se, size_t len, size_t cap, bool raw)
{
	u8 type = se->r.b[4];

	if (!raw) {
		se->r.b[0] = (u8)len;
		se->r.b[1] = (u8)(len >> 8);
		se->r.b[2] = (u8)(len >> 16);
		se->r.b[3] = (u8)(len >> 24);
	}
	se->resp_len = p9_handle(&se->s, se->r.b, len, se->resp, cap);
	se->roff = 0;
	if (se->resp_len == 0)
		return -1000;
	/* Every response is well formed: size, tag, and type = request + 1 or Rlerror. */
	CHECK(se->resp_len <= cap);
	CHECK_EQ_U64(a_u32(se), se->resp_len);
	{
		u8 rtype = a_u8(se);
		u16 rtag = a_u16(se);

		CHECK_EQ_U64(rtag, get_le16(se->r.b + 5));
		if (rtype == P9_RLERROR) {
			u32 err = a_u32(se);

			CHECK_EQ_U64(se->resp_len, 11);
			return -(int)err;
		}
		CHECK_EQ_U64(rtype, type + 1);
	}
	return 0;
}

static int send_req(struct sess *se)
{
	return send_raw(se, se->r.len, P9_MAX_MSIZE, false);
}

static int t_version(struct sess *se, u32 msize, const char *version, char *got, size_t got_size)
{
	int ret;

	r_begin(se, P9_TVERSION);
	r_u32(se, msize);
	r_str(se, version);
	ret = send_req(se);
	if (!ret) {
		u32 m = a_u32(se);
		u16 len = a_u16(se);

		CHECK(len < got_size);
		memcpy(got, se->resp + se->roff, len < got_size ? len : 0);
		got[len < got_size ? len : 0] = '\0';
		return (int)m;
	}
	return ret;
}

static int t_attach(struct sess *se, u32 fid, u32 uid)
{
	r_begin(se, P9_TATTACH);
	r_u32(se, fid);
	r_u32(se, P9_NOFID);
	r_str(se, "root");
	r_str(se, "");
	r_u32(se, uid);
	return send_req(se);
}

/* Walk fid -> newfid over the NULL-terminated names; >= 0: qids returned, the last in *qtype. */
static int t_walkv(struct sess *se, u32 fid, u32 newfid, u8 *qtype, u64 *qpath, va_list ap)
{
	size_t count_at;
	u16 n = 0;
	const char *name;
	int ret;

	r_begin(se, P9_TWALK);
	r_u32(se, fid);
	r_u32(se, newfid);
	count_at = se->r.len;
	r_u16(se, 0);
	while ((name = va_arg(ap, const char *))) {
		r_str(se, name);
		n++;
	}
	se->r.b[count_at] = (u8)n;
	se->r.b[count_at + 1] = (u8)(n >> 8);
	ret = send_req(se);
	if (ret)
		return ret;
	n = a_u16(se);
	for (u16 i = 0; i < n; i++) {
		u8 t = a_u8(se);
		u64 p;

		a_u32(se);
		p = a_u64(se);
		if (qtype)
			*qtype = t;
		if (qpath)
			*qpath = p;
	}
	CHECK_EQ_U64(se->roff, se->resp_len);
	return n;
}

static int t_walk(struct sess *se, u32 fid, u32 newfid, ...)
{
	va_list ap;
	int ret;

	va_start(ap, newfid);
	ret = t_walkv(se, fid, newfid, NULL, NULL, ap);
	va_end(ap);
	return ret;
}

static int t_walk_qid(struct sess *se, u32 fid, u32 newfid, u8 *qtype, u64 *qpath, ...)
{
	va_list ap;
	int ret;

	va_start(ap, qpath);
	ret = t_walkv(se, fid, newfid, qtype, qpath, ap);
	va_end(ap);
	return ret;
}

static int t_fid_op(struct sess *se, u8 type, u32 fid)
{
	r_begin(se, type);
	r_u32(se, fid);
	return send_req(se);
}

static int t_clunk(struct sess *se, u32 fid)
{
	return t_fid_op(se, P9_TCLUNK, fid);
}

static int t_lopen(struct sess *se, u32 fid, u32 flags)
{
	r_begin(se, P9_TLOPEN);
	r_u32(se, fid);
	r_u32(se, flags);
	return send_req(se);
}

static int t_lcreate(struct sess *se, u32 fid, const char *name, u32 flags, u32 mode, u32 gid)
{
	r_begin(se, P9_TLCREATE);
	r_u32(se, fid);
	r_str(se, name);
	r_u32(se, flags);
	r_u32(se, mode);
	r_u32(se, gid);
	return send_req(se);
}

/* Read into @buf; returns the byte count or -errno. */
static int t_read(struct sess *se, u32 fid, u64 off, u32 count, void *buf, size_t size)
{
	int ret;
	u32 n;

	r_begin(se, P9_TREAD);
	r_u32(se, fid);
	r_u64(se, off);
	r_u32(se, count);
	ret = send_req(se);
	if (ret)
		return ret;
	n = a_u32(se);
	CHECK_EQ_U64(se->resp_len, 11 + (size_t)n);
	if (buf)
		memcpy(buf, se->resp + 11, n < size ? n : size);
	return (int)n;
}

static int t_write(struct sess *se, u32 fid, u64 off, const void *data, u32 count)
{
	int ret;

	r_begin(se, P9_TWRITE);
	r_u32(se, fid);
	r_u64(se, off);
	r_u32(se, count);
	r_bytes(se, data, count);
	ret = send_req(se);
	return ret ? ret : (int)a_u32(se);
}

struct attr {
	u8 qtype;
	u64 qpath;
	u32 mode, uid, gid;
	u64 nlink, size, atime, mtime, mtime_nsec;
};

static int t_getattr(struct sess *se, u32 fid, struct attr *a)
{
	int ret;

	r_begin(se, P9_TGETATTR);
	r_u32(se, fid);
	r_u64(se, 0x3fff);
	ret = send_req(se);
	if (ret)
		return ret;
	CHECK_EQ_U64(a_u64(se), 0x7ff);
	a->qtype = a_u8(se);
	a_u32(se);
	a->qpath = a_u64(se);
	a->mode = a_u32(se);
	a->uid = a_u32(se);
	a->gid = a_u32(se);
	a->nlink = a_u64(se);
	a_u64(se); /* rdev */
	a->size = a_u64(se);
	a_u64(se); /* blksize */
	a_u64(se); /* blocks */
	a->atime = a_u64(se);
	a_u64(se);
	a->mtime = a_u64(se);
	a->mtime_nsec = a_u64(se);
	for (int i = 0; i < 6; i++)
		a_u64(se);
	CHECK_EQ_U64(se->roff, se->resp_len);
	return 0;
}

static int t_setattr(struct sess *se, u32 fid, u32 valid, u32 mode, u32 uid, u32 gid, u64 size,
		     u64 atime, u64 mtime)
{
	r_begin(se, P9_TSETATTR);
	r_u32(se, fid);
	r_u32(se, valid);
	r_u32(se, mode);
	r_u32(se, uid);
	r_u32(se, gid);
	r_u64(se, size);
	r_u64(se, atime);
	r_u64(se, 5);
	r_u64(se, mtime);
	r_u64(se, 7);
	return send_req(se);
}

static int t_mkdir(struct sess *se, u32 fid, const char *name, u32 mode)
{
	r_begin(se, P9_TMKDIR);
	r_u32(se, fid);
	r_str(se, name);
	r_u32(se, mode);
	r_u32(se, 0);
	return send_req(se);
}

static int t_symlink(struct sess *se, u32 fid, const char *name, const char *target)
{
	r_begin(se, P9_TSYMLINK);
	r_u32(se, fid);
	r_str(se, name);
	r_str(se, target);
	r_u32(se, 0);
	return send_req(se);
}

static int t_mknod(struct sess *se, u32 fid, const char *name, u32 mode)
{
	r_begin(se, P9_TMKNOD);
	r_u32(se, fid);
	r_str(se, name);
	r_u32(se, mode);
	r_u32(se, 1);
	r_u32(se, 3);
	r_u32(se, 0);
	return send_req(se);
}

static int t_readlink(struct sess *se, u32 fid, char *buf, size_t size)
{
	int ret = t_fid_op(se, P9_TREADLINK, fid);
	u16 len;

	if (ret)
		return ret;
	len = a_u16(se);
	CHECK(len < size);
	if (len >= size)
		return -1;
	memcpy(buf, se->resp + se->roff, len);
	buf[len] = '\0';
	return len;
}

static int t_renameat(struct sess *se, u32 ofid, const char *oname, u32 nfid, const char *nname)
{
	r_begin(se, P9_TRENAMEAT);
	r_u32(se, ofid);
	r_str(se, oname);
	r_u32(se, nfid);
	r_str(se, nname);
	return send_req(se);
}

static int t_rename(struct sess *se, u32 fid, u32 dfid, const char *name)
{
	r_begin(se, P9_TRENAME);
	r_u32(se, fid);
	r_u32(se, dfid);
	r_str(se, name);
	return send_req(se);
}

static int t_link(struct sess *se, u32 dfid, u32 fid, const char *name)
{
	r_begin(se, P9_TLINK);
	r_u32(se, dfid);
	r_u32(se, fid);
	r_str(se, name);
	return send_req(se);
}

static int t_unlinkat(struct sess *se, u32 fid, const char *name, u32 flags)
{
	r_begin(se, P9_TUNLINKAT);
	r_u32(se, fid);
	r_str(se, name);
	r_u32(se, flags);
	return send_req(se);
}

/* Read a whole directory @count bytes at a time; names joined by ' ' (sorted by the caller). */
static int t_readdir_all(struct sess *se, u32 fid, u32 count, char *names, size_t size,
			 u64 *dotdot_ino, int *calls)
{
	u64 off = 0;
	size_t used = 0;

	names[0] = '\0';
	*calls = 0;
	for (;;) {
		int ret;
		u32 n;
		size_t end;

		r_begin(se, P9_TREADDIR);
		r_u32(se, fid);
		r_u64(se, off);
		r_u32(se, count);
		ret = send_req(se);
		if (ret)
			return ret;
		(*calls)++;
		n = a_u32(se);
		CHECK(n <= count);
		if (n == 0)
			return 0;
		end = se->roff + n;
		CHECK_EQ_U64(end, se->resp_len);
		while (se->roff < end) {
			u64 ino;
			u16 len;

			a_u8(se);
			a_u32(se);
			ino = a_u64(se);
			off = a_u64(se);
			a_u8(se);
			len = a_u16(se);
			if (len == 2 && !memcmp(se->resp + se->roff, "..", 2))
				*dotdot_ino = ino;
			CHECK(used + len + 2 < size);
			if (used + len + 2 >= size)
				return -1;
			memcpy(names + used, se->resp + se->roff, len);
			used += len;
			names[used++] = ' ';
			names[used] = '\0';
			se->roff += len;
		}
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool file_has(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return !strcmp(buf, text);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A fresh export: hello.txt, sub/inner.txt, and outside/secret next to it. */
static void sess_open(struct sess *se, bool read_only)
{
	char p[160];

	memset(se, 0, sizeof(*se));
	snprintf(se->base, sizeof(se->base), "/tmp/coho-p9-XXXXXX");
	CHECK(mkdtemp(se->base) != NULL);
	snprintf(se->export, sizeof(se->export), "%s/export", se->base);
	snprintf(se->outside, sizeof(se->outside), "%s/outside", se->base);
	CHECK(mkdir(se->export, 0755) == 0);
	CHECK(mkdir(se->outside, 0755) == 0);
	snprintf(p, sizeof(p), "%s/secret", se->outside);
	write_file(p, "secret");
	snprintf(p, sizeof(p), "%s/hello.txt", se->export);
	write_file(p, "hello, 9p\n");
	snprintf(p, sizeof(p), "%s/sub", se->export);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/sub/inner.txt", se->export);
	write_file(p, "inner");
	se->resp = malloc(P9_MAX_MSIZE);
	CHECK(se->resp != NULL);
	CHECK(p9_server_init(&se->s, se->export, read_only) == 0);
}

static void sess_attach(struct sess *se)
{
	char v[32];

	CHECK_EQ_U64(t_version(se, 65536, "9P2000.L", v, sizeof(v)), 65536);
	CHECK_STR(v, "9P2000.L");
	CHECK_EQ_U64(t_attach(se, ROOT, 0), 0);
}

static void sess_close(struct sess *se)
{
	char p[160];

	p9_server_destroy(&se->s);
	/* Nothing appeared or changed next to the export. */
	snprintf(p, sizeof(p), "%s/secret", se->outside);
	CHECK(file_has(p, "secret"));
	{
		DIR *d = opendir(se->outside);
		int n = 0;

		while (d && readdir(d))
			n++;
		if (d)
			closedir(d);
		CHECK_EQ_U64(n, 3); /* ".", "..", "secret" */
		d = opendir(se->base);
		n = 0;
		while (d && readdir(d))
			n++;
		if (d)
			closedir(d);
		CHECK_EQ_U64(n, 4); /* ".", "..", export, outside */
	}
	free(se->resp);
	nftw(se->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in(const struct sess *se, char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", se->export, rel);
}

static void test_version_and_attach(void)
{
	static struct sess se;
	char v[32];
	struct attr a;
	struct stat st;

	sess_open(&se, false);
	/* msize is capped by the server; an unknown version is answered "unknown". */
	CHECK_EQ_U64(t_version(&se, 1 << 30, "9P2000.L", v, sizeof(v)), P9_MAX_MSIZE);
	CHECK_STR(v, "9P2000.L");
	CHECK_EQ_U64(t_version(&se, 8192, "9P2000.u", v, sizeof(v)), 8192);
	CHECK_STR(v, "unknown");
	CHECK_ERR(t_version(&se, 100, "9P2000.L", v, sizeof(v)), -EINVAL);
	CHECK_EQ_U64(t_version(&se, 65536, "9P2000.L", v, sizeof(v)), 65536);
	CHECK_EQ_U64(t_attach(&se, ROOT, 0), 0);
	CHECK_ERR(t_attach(&se, ROOT, 0), -EEXIST);
	CHECK_ERR(t_attach(&se, P9_NOFID, 0), -EINVAL);
	CHECK_EQ_U64(t_getattr(&se, ROOT, &a), 0);
	CHECK(stat(se.export, &st) == 0);
	CHECK_EQ_U64(a.qtype, P9_QTDIR);
	CHECK_EQ_U64(a.qpath, st.st_ino);
	CHECK(S_ISDIR(a.mode));
	/* Tversion starts a new session: old fids are gone. */
	CHECK_EQ_U64(t_version(&se, 65536, "9P2000.L", v, sizeof(v)), 65536);
	CHECK_ERR(t_getattr(&se, ROOT, &a), -EBADF);
	sess_close(&se);
}

static void test_walk_open_read(void)
{
	static struct sess se;
	char buf[64], p[160];
	struct attr a;
	struct stat st;
	u8 qt;
	u64 qp;

	sess_open(&se, false);
	sess_attach(&se);
	CHECK_EQ_U64(t_walk_qid(&se, ROOT, 2, &qt, &qp, "hello.txt", NULL), 1);
	path_in(&se, p, sizeof(p), "hello.txt");
	CHECK(stat(p, &st) == 0);
	CHECK_EQ_U64(qt, P9_QTFILE);
	CHECK_EQ_U64(qp, st.st_ino);
	CHECK_EQ_U64(t_getattr(&se, 2, &a), 0);
	CHECK_EQ_U64(a.size, 10);
	CHECK_EQ_U64(a.mode, st.st_mode);
	CHECK_EQ_U64(a.mtime, st.st_mtim.tv_sec);
	/* Reading needs Tlopen first; then offsets and counts behave like pread. */
	CHECK_ERR(t_read(&se, 2, 0, 10, buf, sizeof(buf)), -EBADF);
	CHECK_EQ_U64(t_lopen(&se, 2, P9_DOTL_RDONLY), 0);
	CHECK_ERR(t_lopen(&se, 2, P9_DOTL_RDONLY), -EBUSY);
	CHECK_EQ_U64(t_read(&se, 2, 0, 64, buf, sizeof(buf)), 10);
	CHECK(!memcmp(buf, "hello, 9p\n", 10));
	CHECK_EQ_U64(t_read(&se, 2, 7, 2, buf, sizeof(buf)), 2);
	CHECK(!memcmp(buf, "9p", 2));
	CHECK_EQ_U64(t_read(&se, 2, 100, 10, buf, sizeof(buf)), 0);
	CHECK_ERR(t_read(&se, 2, ~0ULL, 10, buf, sizeof(buf)), -EINVAL);
	/* Writing through a read-only open fails like write(2) does. */
	CHECK_ERR(t_write(&se, 2, 0, "x", 1), -EBADF);
	/* Multi-step walk, walk to the same fid, clone with no names. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, "sub", "inner.txt", NULL), 2);
	CHECK_EQ_U64(t_lopen(&se, 3, P9_DOTL_RDWR), 0);
	CHECK_EQ_U64(t_read(&se, 3, 0, 64, buf, sizeof(buf)), 5);
	CHECK_EQ_U64(t_walk(&se, ROOT, 4, NULL), 0);
	CHECK_EQ_U64(t_walk(&se, 4, 4, "sub", NULL), 1);
	CHECK_EQ_U64(t_getattr(&se, 4, &a), 0);
	CHECK(S_ISDIR(a.mode));
	/* A missing first name is an error; a missing later one ends the walk short. */
	CHECK_ERR(t_walk(&se, ROOT, 5, "nope", NULL), -ENOENT);
	CHECK_EQ_U64(t_walk(&se, ROOT, 5, "sub", "nope", NULL), 1);
	CHECK_ERR(t_getattr(&se, 5, &a), -EBADF);
	CHECK_ERR(t_walk(&se, ROOT, 5, "hello.txt", "x", NULL), 1);
	/* Walking from a file, or opening a directory for writing, fails. */
	CHECK_ERR(t_walk(&se, 2, 5, "x", NULL), -ENOTDIR);
	CHECK_ERR(t_lopen(&se, 4, P9_DOTL_WRONLY), -EISDIR);
	CHECK_EQ_U64(t_clunk(&se, 2), 0);
	CHECK_ERR(t_clunk(&se, 2), -EBADF);
	sess_close(&se);
}

static void test_create_write_setattr(void)
{
	static struct sess se;
	char buf[64], p[160];
	struct attr a;
	struct stat st;
	mode_t old = umask(022);

	sess_open(&se, false);
	sess_attach(&se);
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, NULL), 0);
	CHECK_EQ_U64(t_lcreate(&se, 2, "new.txt", P9_DOTL_RDWR, 0666, 0), 0);
	CHECK_EQ_U64(t_write(&se, 2, 0, "abcdef", 6), 6);
	CHECK_EQ_U64(t_write(&se, 2, 3, "XY", 2), 2);
	CHECK_EQ_U64(t_read(&se, 2, 0, 64, buf, sizeof(buf)), 6);
	CHECK(!memcmp(buf, "abcXYf", 6));
	CHECK_EQ_U64(t_fid_op(&se, P9_TCLUNK, 2), 0);
	path_in(&se, p, sizeof(p), "new.txt");
	CHECK(file_has(p, "abcXYf"));
	/* The guest's mode is applied exactly, whatever the host's umask. */
	CHECK(stat(p, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 07777, 0666);
	/* Creating an existing name fails; the fid is unchanged and can retry. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, NULL), 0);
	CHECK_ERR(t_lcreate(&se, 2, "new.txt", P9_DOTL_RDWR, 0644, 0), -EEXIST);
	CHECK_EQ_U64(t_lcreate(&se, 2, "app.txt", P9_DOTL_WRONLY | P9_DOTL_APPEND, 0600, 0), 0);
	CHECK_EQ_U64(t_write(&se, 2, 0, "one", 3), 3);
	CHECK_EQ_U64(t_write(&se, 2, 0, "two", 3), 3);
	path_in(&se, p, sizeof(p), "app.txt");
	CHECK(file_has(p, "onetwo"));
	/* Tsetattr: chmod, chown, truncate (through an unopened fid), times. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, "new.txt", NULL), 1);
	CHECK_EQ_U64(t_setattr(&se, 3, 0x1, 0100751, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_U64(t_setattr(&se, 3, 0x8, 0, 0, 0, 2, 0, 0), 0);
	CHECK_EQ_U64(t_setattr(&se, 3, 0x10 | 0x20 | 0x80 | 0x100, 0, 0, 0, 0, 1000000, 2000000),
		     0);
	if (geteuid() == 0)
		CHECK_EQ_U64(t_setattr(&se, 3, 0x2 | 0x4, 0, 1234, 5678, 0, 0, 0), 0);
	CHECK_EQ_U64(t_getattr(&se, 3, &a), 0);
	CHECK_EQ_U64(a.mode & 07777, 0751);
	CHECK_EQ_U64(a.size, 2);
	CHECK_EQ_U64(a.atime, 1000000);
	CHECK_EQ_U64(a.mtime, 2000000);
	CHECK_EQ_U64(a.mtime_nsec, 7);
	if (geteuid() == 0) {
		CHECK_EQ_U64(a.uid, 1234);
		CHECK_EQ_U64(a.gid, 5678);
	}
	path_in(&se, p, sizeof(p), "new.txt");
	CHECK(file_has(p, "ab"));
	/* "touch": times without _SET mean now. */
	CHECK_EQ_U64(t_setattr(&se, 3, 0x10 | 0x20, 0, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_U64(t_getattr(&se, 3, &a), 0);
	CHECK(a.mtime > 2000000);
	/* Bad nanoseconds and huge sizes are refused. */
	{
		r_begin(&se, P9_TSETATTR);
		r_u32(&se, 3);
		r_u32(&se, 0x20 | 0x100);
		for (int i = 0; i < 3; i++)
			r_u32(&se, 0);
		r_u64(&se, 0);
		r_u64(&se, 0);
		r_u64(&se, 0);
		r_u64(&se, 1);
		r_u64(&se, 2000000000);
		CHECK_ERR(send_req(&se), -EINVAL);
	}
	CHECK_ERR(t_setattr(&se, 3, 0x8, 0, 0, 0, ~0ULL, 0, 0), -EFBIG);
	/* Tfsync on open and unopened fids. */
	r_begin(&se, P9_TFSYNC);
	r_u32(&se, 2);
	r_u32(&se, 1);
	CHECK_EQ_U64(send_req(&se), 0);
	r_begin(&se, P9_TFSYNC);
	r_u32(&se, 3);
	r_u32(&se, 0);
	CHECK_EQ_U64(send_req(&se), 0);
	sess_close(&se);
	umask(old);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the space-separated names in place (for comparing directory listings). */
static void sort_names(char *names)
{
	char *v[64], *save = NULL, out[1024] = "";
	size_t n = 0;

	for (char *t = strtok_r(names, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
		v[n++] = t;
	qsort(v, n, sizeof(v[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, " ");
	}
	strcpy(names, out);
}

static void test_mkdir_readdir(void)
{
	static struct sess se;
	char names[1024], p[160];
	struct stat st;
	u64 dotdot = 0;
	int calls;

	sess_open(&se, false);
	sess_attach(&se);
	CHECK_EQ_U64(t_mkdir(&se, ROOT, "d", 0750), 0);
	path_in(&se, p, sizeof(p), "d");
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0750);
	CHECK_ERR(t_mkdir(&se, ROOT, "d", 0750), -EEXIST);
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, "d", NULL), 1);
	for (int i = 0; i < 20; i++) {
		char name[32];

		snprintf(name, sizeof(name), "file-with-a-longish-name-%02d", i);
		CHECK_EQ_U64(t_walk(&se, 2, 3, NULL), 0);
		CHECK_EQ_U64(t_lcreate(&se, 3, name, P9_DOTL_WRONLY, 0644, 0), 0);
		CHECK_EQ_U64(t_clunk(&se, 3), 0);
	}
	/* Readdir needs an open directory. */
	CHECK_ERR(t_readdir_all(&se, 2, 4000, names, sizeof(names), &dotdot, &calls), -EBADF);
	CHECK_EQ_U64(t_lopen(&se, 2, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY), 0);
	/* Small counts: many calls, each continuing from the last entry's offset. */
	CHECK_EQ_U64(t_readdir_all(&se, 2, 150, names, sizeof(names), &dotdot, &calls), 0);
	CHECK(calls > 10);
	sort_names(names);
	{
		char want[1024] = ". .. ";

		for (int i = 0; i < 20; i++)
			sprintf(want + strlen(want), "file-with-a-longish-name-%02d ", i);
		CHECK_STR(names, want);
	}
	/* Offset 0 again restarts; a big count returns everything in one go. */
	CHECK_EQ_U64(t_readdir_all(&se, 2, 8000, names, sizeof(names), &dotdot, &calls), 0);
	CHECK_EQ_U64(calls, 2);
	/* A count too small for one entry returns nothing, a huge one is capped. */
	{
		r_begin(&se, P9_TREADDIR);
		r_u32(&se, 2);
		r_u64(&se, 0);
		r_u32(&se, 10);
		CHECK_EQ_U64(send_req(&se), 0);
		CHECK_EQ_U64(a_u32(&se), 0);
		r_begin(&se, P9_TREADDIR);
		r_u32(&se, 2);
		r_u64(&se, 5);
		r_u32(&se, 0xffffffff);
		CHECK_EQ_U64(send_req(&se), 0);
		CHECK(a_u32(&se) > 0);
		/* An offset past the end is just the end. */
		r_begin(&se, P9_TREADDIR);
		r_u32(&se, 2);
		r_u64(&se, 1ULL << 60);
		r_u32(&se, 4000);
		CHECK_EQ_U64(send_req(&se), 0);
		CHECK_EQ_U64(a_u32(&se), 0);
	}
	/* At the root, ".." is reported as the root itself. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 5, NULL), 0);
	CHECK_EQ_U64(t_lopen(&se, 5, P9_DOTL_RDONLY), 0);
	CHECK_EQ_U64(t_readdir_all(&se, 5, 8000, names, sizeof(names), &dotdot, &calls), 0);
	CHECK(stat(se.export, &st) == 0);
	CHECK_EQ_U64(dotdot, st.st_ino);
	/* Reading a directory as a file, or listing a file, fails. */
	CHECK(t_read(&se, 5, 0, 100, NULL, 0) < 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 6, "hello.txt", NULL), 1);
	CHECK_EQ_U64(t_lopen(&se, 6, P9_DOTL_RDONLY), 0);
	CHECK_ERR(t_readdir_all(&se, 6, 8000, names, sizeof(names), &dotdot, &calls), -ENOTDIR);
	sess_close(&se);
}

static void test_links_rename_remove(void)
{
	static struct sess se;
	char p[160], buf[256];
	struct attr a;
	struct stat st;

	sess_open(&se, false);
	sess_attach(&se);
	/* Symlinks are created verbatim, read back, and walked to as themselves. */
	CHECK_EQ_U64(t_symlink(&se, ROOT, "ln", "hello.txt"), 0);
	path_in(&se, p, sizeof(p), "ln");
	CHECK(readlink(p, buf, sizeof(buf)) == 9);
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, "ln", NULL), 1);
	CHECK_EQ_U64(t_getattr(&se, 2, &a), 0);
	CHECK(S_ISLNK(a.mode));
	CHECK_EQ_U64(a.qtype, P9_QTSYMLINK);
	CHECK_EQ_U64(t_readlink(&se, 2, buf, sizeof(buf)), 9);
	CHECK_STR(buf, "hello.txt");
	CHECK_ERR(t_readlink(&se, ROOT, buf, sizeof(buf)), -EINVAL);
	CHECK_ERR(t_lopen(&se, 2, P9_DOTL_RDONLY), -ELOOP);
	/* Hard link. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, "hello.txt", NULL), 1);
	CHECK_EQ_U64(t_link(&se, ROOT, 3, "hard"), 0);
	CHECK_EQ_U64(t_getattr(&se, 3, &a), 0);
	CHECK_EQ_U64(a.nlink, 2);
	CHECK_ERR(t_link(&se, ROOT, ROOT, "dirlink"), -EPERM);
	/* Trenameat and Trename (the fid follows its file). */
	CHECK_EQ_U64(t_walk(&se, ROOT, 4, "sub", NULL), 1);
	CHECK_EQ_U64(t_renameat(&se, ROOT, "hard", 4, "moved"), 0);
	path_in(&se, p, sizeof(p), "sub/moved");
	CHECK(file_has(p, "hello, 9p\n"));
	CHECK_EQ_U64(t_walk(&se, 4, 5, "moved", NULL), 1);
	CHECK_EQ_U64(t_rename(&se, 5, ROOT, "back"), 0);
	path_in(&se, p, sizeof(p), "back");
	CHECK(file_has(p, "hello, 9p\n"));
	CHECK_EQ_U64(t_getattr(&se, 5, &a), 0);
	CHECK_ERR(t_rename(&se, ROOT, 4, "root"), -EBUSY);
	/* Directory rename keeps fids below it usable; Trename of a directory fid. */
	CHECK_EQ_U64(t_walk(&se, 4, 6, "inner.txt", NULL), 1);
	CHECK_EQ_U64(t_rename(&se, 4, ROOT, "sub2"), 0);
	path_in(&se, p, sizeof(p), "sub2/inner.txt");
	CHECK(stat(p, &st) == 0);
	CHECK_EQ_U64(t_lopen(&se, 6, P9_DOTL_RDONLY), 0);
	CHECK_EQ_U64(t_read(&se, 6, 0, 5, buf, sizeof(buf)), 5);
	/* Tunlinkat of a file, of a non-empty and an empty directory. */
	CHECK_EQ_U64(t_unlinkat(&se, ROOT, "back", 0), 0);
	CHECK_ERR(t_unlinkat(&se, ROOT, "back", 0), -ENOENT);
	CHECK_ERR(t_unlinkat(&se, ROOT, "sub2", P9_DOTL_AT_REMOVEDIR), -ENOTEMPTY);
	CHECK_ERR(t_unlinkat(&se, ROOT, "sub2", 0), -EISDIR);
	CHECK_ERR(t_unlinkat(&se, ROOT, "ln", 0x1), -EINVAL);
	CHECK_EQ_U64(t_mkdir(&se, ROOT, "empty", 0755), 0);
	CHECK_EQ_U64(t_unlinkat(&se, ROOT, "empty", P9_DOTL_AT_REMOVEDIR), 0);
	/* Tremove removes and always clunks, even the root (which it refuses to remove). */
	CHECK_EQ_U64(t_fid_op(&se, P9_TREMOVE, 6), 0);
	path_in(&se, p, sizeof(p), "sub2/inner.txt");
	CHECK(stat(p, &st) != 0);
	CHECK_ERR(t_clunk(&se, 6), -EBADF);
	CHECK_EQ_U64(t_fid_op(&se, P9_TREMOVE, 4), 0);
	path_in(&se, p, sizeof(p), "sub2");
	CHECK(stat(p, &st) != 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 7, NULL), 0);
	CHECK_ERR(t_fid_op(&se, P9_TREMOVE, 7), -EBUSY);
	CHECK_ERR(t_clunk(&se, 7), -EBADF);
	CHECK(stat(se.export, &st) == 0);
	/* Mknod: regular files and fifos yes (a fifo is never opened), devices no. */
	CHECK_EQ_U64(t_mknod(&se, ROOT, "fifo", S_IFIFO | 0600), 0);
	path_in(&se, p, sizeof(p), "fifo");
	CHECK(stat(p, &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK_EQ_U64(t_walk(&se, ROOT, 8, "fifo", NULL), 1);
	CHECK_ERR(t_lopen(&se, 8, P9_DOTL_RDONLY), -ENXIO);
	CHECK_EQ_U64(t_mknod(&se, ROOT, "plain", S_IFREG | 0640), 0);
	CHECK_ERR(t_mknod(&se, ROOT, "blk", S_IFBLK | 0600), -EPERM);
	CHECK_ERR(t_mknod(&se, ROOT, "chr", S_IFCHR | 0600), -EPERM);
	/* Statfs matches the host's. */
	{
		struct statfs sf;

		CHECK(statfs(se.export, &sf) == 0);
		CHECK_EQ_U64(t_fid_op(&se, P9_TSTATFS, ROOT), 0);
		CHECK_EQ_U64(a_u32(&se), (u32)sf.f_type);
		CHECK_EQ_U64(a_u32(&se), (u32)sf.f_bsize);
		CHECK_EQ_U64(a_u64(&se), sf.f_blocks);
		CHECK_EQ_U64(se.resp_len, 7 + 4 + 4 + 6 * 8 + 4);
	}
	sess_close(&se);
}

static void test_xattr_lock_flush(void)
{
	static struct sess se;
	char v[32];

	sess_open(&se, false);
	sess_attach(&se);
	/* The attribute list is empty; any one attribute is missing. */
	r_begin(&se, P9_TXATTRWALK);
	r_u32(&se, ROOT);
	r_u32(&se, 2);
	r_str(&se, "");
	CHECK_EQ_U64(send_req(&se), 0);
	CHECK_EQ_U64(a_u64(&se), 0);
	CHECK_EQ_U64(t_read(&se, 2, 0, 100, NULL, 0), 0);
	CHECK_ERR(t_getattr(&se, 2, &(struct attr){ 0 }), -EBADF);
	CHECK_EQ_U64(t_clunk(&se, 2), 0);
	r_begin(&se, P9_TXATTRWALK);
	r_u32(&se, ROOT);
	r_u32(&se, 2);
	r_str(&se, "security.capability");
	CHECK_ERR(send_req(&se), -ENODATA);
	CHECK_ERR(t_clunk(&se, 2), -EBADF);
	r_begin(&se, P9_TXATTRCREATE);
	r_u32(&se, ROOT);
	r_str(&se, "user.x");
	r_u64(&se, 1);
	r_u32(&se, 0);
	CHECK_ERR(send_req(&se), -EOPNOTSUPP);
	/* Locks are granted; Tgetlock says nothing conflicts. */
	r_begin(&se, P9_TLOCK);
	r_u32(&se, ROOT);
	r_u8(&se, 1);
	r_u32(&se, 0);
	r_u64(&se, 0);
	r_u64(&se, 0);
	r_u32(&se, 42);
	r_str(&se, "guest");
	CHECK_EQ_U64(send_req(&se), 0);
	CHECK_EQ_U64(a_u8(&se), P9_LOCK_SUCCESS);
	r_begin(&se, P9_TGETLOCK);
	r_u32(&se, ROOT);
	r_u8(&se, 1);
	r_u64(&se, 10);
	r_u64(&se, 20);
	r_u32(&se, 42);
	r_str(&se, "guest");
	CHECK_EQ_U64(send_req(&se), 0);
	CHECK_EQ_U64(a_u8(&se), P9_LOCK_TYPE_UNLCK);
	CHECK_EQ_U64(a_u64(&se), 10);
	CHECK_EQ_U64(a_u64(&se), 20);
	CHECK_EQ_U64(a_u32(&se), 42);
	CHECK_EQ_U64(a_u16(&se), 5);
	r_begin(&se, P9_TFLUSH);
	r_u16(&se, 3);
	CHECK_EQ_U64(send_req(&se), 0);
	CHECK_EQ_U64(se.resp_len, 7);
	/* Not implemented: Tauth, legacy 9P2000 messages, nonsense types. */
	r_begin(&se, P9_TAUTH);
	r_u32(&se, 9);
	r_str(&se, "u");
	r_str(&se, "");
	r_u32(&se, 0);
	CHECK_ERR(send_req(&se), -EOPNOTSUPP);
	r_begin(&se, 112); /* Topen */
	r_u32(&se, ROOT);
	r_u8(&se, 0);
	CHECK_ERR(send_req(&se), -EOPNOTSUPP);
	r_begin(&se, 255);
	CHECK_ERR(send_req(&se), -EOPNOTSUPP);
	CHECK_EQ_U64(t_version(&se, 8192, "9P2000.L", v, sizeof(v)), 8192);
	sess_close(&se);
}

static void test_escape_attempts(void)
{
	static struct sess se;
	char p[160], buf[160];
	struct attr a;
	struct stat root_st, secret_st, st;
	u8 qt;
	u64 qp;

	sess_open(&se, false);
	CHECK(stat(se.export, &root_st) == 0);
	snprintf(p, sizeof(p), "%s/secret", se.outside);
	CHECK(stat(p, &secret_st) == 0);
	/* Symlinks planted inside the export pointing out of it. */
	path_in(&se, p, sizeof(p), "up");
	CHECK(symlink("../..", p) == 0);
	path_in(&se, p, sizeof(p), "abs");
	CHECK(symlink("/", p) == 0);
	path_in(&se, p, sizeof(p), "sec");
	snprintf(buf, sizeof(buf), "%s/secret", se.outside);
	CHECK(symlink(buf, p) == 0);
	path_in(&se, p, sizeof(p), "sub/out");
	CHECK(symlink("../../outside", p) == 0);
	sess_attach(&se);
	/* ".." from the root stays at the root, however often. */
	CHECK_EQ_U64(t_walk_qid(&se, ROOT, 2, &qt, &qp, "..", NULL), 1);
	CHECK_EQ_U64(qp, root_st.st_ino);
	CHECK_EQ_U64(t_walk_qid(&se, ROOT, 3, &qt, &qp, "..", "..", "..", "..", NULL), 4);
	CHECK_EQ_U64(qp, root_st.st_ino);
	CHECK_ERR(t_walk(&se, 3, 4, "outside", NULL), -ENOENT);
	CHECK_EQ_U64(t_walk_qid(&se, ROOT, 4, &qt, &qp, "sub", "..", "..", "..", NULL), 4);
	CHECK_EQ_U64(qp, root_st.st_ino);
	CHECK_EQ_U64(t_walk(&se, ROOT, 5, "sub", "..", "..", "hello.txt", NULL), 4);
	CHECK_EQ_U64(t_walk(&se, 2, 6, "..", "sub", "inner.txt", NULL), 3);
	CHECK_EQ_U64(t_clunk(&se, 6), 0);
	/* Through symlinks: never followed. */
	CHECK_ERR(t_walk(&se, ROOT, 6, "up", "outside", NULL), 1);
	CHECK_ERR(t_getattr(&se, 6, &a), -EBADF);
	CHECK_ERR(t_walk(&se, ROOT, 6, "abs", "etc", "passwd", NULL), 1);
	CHECK_ERR(t_walk(&se, ROOT, 6, "sub", "out", "secret", NULL), 2);
	CHECK_EQ_U64(t_walk(&se, ROOT, 6, "abs", NULL), 1);
	CHECK_ERR(t_walk(&se, 6, 7, "..", NULL), -ENOTDIR);
	CHECK_ERR(t_walk(&se, 6, 7, "etc", NULL), -ENOTDIR);
	CHECK_ERR(t_lopen(&se, 6, P9_DOTL_RDONLY), -ELOOP);
	CHECK_ERR(t_lcreate(&se, 6, "x", P9_DOTL_RDWR, 0644, 0), -ENOTDIR);
	CHECK_ERR(t_mkdir(&se, 6, "x", 0755), -ENOTDIR);
	CHECK_ERR(t_readdir_all(&se, 6, 100, (char[64]){ 0 }, 64, &qp, &(int){ 0 }), -EBADF);
	/* The symlink fid itself: readlink gives the text, getattr the link. */
	CHECK_EQ_U64(t_readlink(&se, 6, buf, sizeof(buf)), 1);
	CHECK_STR(buf, "/");
	CHECK_EQ_U64(t_getattr(&se, 6, &a), 0);
	CHECK(S_ISLNK(a.mode));
	/* Metadata changes on a link to a file outside touch the link only, or fail. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 7, "sec", NULL), 1);
	CHECK_ERR(t_lopen(&se, 7, P9_DOTL_RDWR | P9_DOTL_TRUNC), -ELOOP);
	CHECK_ERR(t_setattr(&se, 7, 0x1, 0777, 0, 0, 0, 0, 0), -EOPNOTSUPP);
	CHECK_ERR(t_setattr(&se, 7, 0x8, 0, 0, 0, 0, 0, 0), -EINVAL);
	CHECK_EQ_U64(t_setattr(&se, 7, 0x10 | 0x20 | 0x80 | 0x100, 0, 0, 0, 0, 1, 1), 0);
	if (geteuid() == 0)
		CHECK_EQ_U64(t_setattr(&se, 7, 0x2, 0, 4321, 0, 0, 0, 0), 0);
	snprintf(p, sizeof(p), "%s/secret", se.outside);
	CHECK(stat(p, &st) == 0);
	CHECK_EQ_U64(st.st_mode, secret_st.st_mode);
	CHECK_EQ_U64(st.st_uid, secret_st.st_uid);
	CHECK_EQ_U64(st.st_mtim.tv_sec, secret_st.st_mtim.tv_sec);
	CHECK_EQ_U64(st.st_size, 6);
	CHECK_ERR(t_link(&se, ROOT, 7, "hard-to-link"), 0);
	path_in(&se, p, sizeof(p), "hard-to-link");
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	/* Names with '/', ".", ".." or empty are refused wherever a name is given. */
	CHECK_ERR(t_walk(&se, ROOT, 8, "sub/inner.txt", NULL), -EINVAL);
	CHECK_ERR(t_walk(&se, ROOT, 8, "/etc", NULL), -EINVAL);
	CHECK_ERR(t_walk(&se, ROOT, 8, ".", NULL), -EINVAL);
	CHECK_ERR(t_walk(&se, ROOT, 8, "", NULL), -EINVAL);
	CHECK_ERR(t_walk(&se, ROOT, 8, "sub", "../..", NULL), -EINVAL);
	CHECK_EQ_U64(t_walk(&se, ROOT, 8, NULL), 0);
	CHECK_ERR(t_lcreate(&se, 8, "../escaped", P9_DOTL_RDWR, 0644, 0), -EINVAL);
	CHECK_ERR(t_lcreate(&se, 8, "..", P9_DOTL_RDWR, 0644, 0), -EINVAL);
	CHECK_ERR(t_lcreate(&se, 8, "/tmp/escaped", P9_DOTL_RDWR, 0644, 0), -EINVAL);
	CHECK_ERR(t_mkdir(&se, ROOT, "..", 0755), -EINVAL);
	CHECK_ERR(t_mkdir(&se, ROOT, "../outside/x", 0755), -EINVAL);
	CHECK_ERR(t_symlink(&se, ROOT, "a/b", "x"), -EINVAL);
	CHECK_ERR(t_mknod(&se, ROOT, "../n", S_IFIFO | 0600), -EINVAL);
	CHECK_ERR(t_renameat(&se, ROOT, "hello.txt", ROOT, "../stolen"), -EINVAL);
	CHECK_ERR(t_renameat(&se, ROOT, "../outside", ROOT, "here"), -EINVAL);
	CHECK_ERR(t_rename(&se, 5, ROOT, "../stolen"), -EINVAL);
	CHECK_ERR(t_link(&se, ROOT, 5, "../x"), -EINVAL);
	CHECK_ERR(t_unlinkat(&se, ROOT, "../outside/secret", 0), -EINVAL);
	CHECK_ERR(t_unlinkat(&se, ROOT, "..", P9_DOTL_AT_REMOVEDIR), -EINVAL);
	/* Creating over a symlink that points outside never writes through it. */
	CHECK_ERR(t_lcreate(&se, 8, "sec", P9_DOTL_RDWR | P9_DOTL_TRUNC, 0644, 0), -EEXIST);
	CHECK_ERR(t_mkdir(&se, ROOT, "abs", 0755), -EEXIST);
	CHECK_ERR(t_mknod(&se, ROOT, "sec", S_IFREG | 0600), -EEXIST);
	/* A name with a NUL in it is not a shorter name. */
	r_begin(&se, P9_TMKDIR);
	r_u32(&se, ROOT);
	r_u16(&se, 5);
	r_bytes(&se, "ab\0cd", 5);
	r_u32(&se, 0755);
	r_u32(&se, 0);
	CHECK_ERR(send_req(&se), -EINVAL);
	/* Renaming a symlink out of the way and back stays inside. */
	CHECK_EQ_U64(t_renameat(&se, ROOT, "up", ROOT, "up2"), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 9, "up2", NULL), 1);
	CHECK_EQ_U64(t_rename(&se, 9, ROOT, "up"), 0);
	sess_close(&se);
}

static void test_read_only(void)
{
	static struct sess se;
	char buf[64], p[160];
	struct attr a;

	sess_open(&se, true);
	sess_attach(&se);
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, "hello.txt", NULL), 1);
	CHECK_ERR(t_lopen(&se, 2, P9_DOTL_WRONLY), -EROFS);
	CHECK_ERR(t_lopen(&se, 2, P9_DOTL_RDWR), -EROFS);
	CHECK_ERR(t_lopen(&se, 2, P9_DOTL_RDONLY | P9_DOTL_TRUNC), -EROFS);
	CHECK_EQ_U64(t_lopen(&se, 2, P9_DOTL_RDONLY), 0);
	CHECK_EQ_U64(t_read(&se, 2, 0, 64, buf, sizeof(buf)), 10);
	CHECK_ERR(t_write(&se, 2, 0, "x", 1), -EROFS);
	CHECK_EQ_U64(t_getattr(&se, 2, &a), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, NULL), 0);
	CHECK_ERR(t_lcreate(&se, 3, "new", P9_DOTL_RDWR, 0644, 0), -EROFS);
	CHECK_ERR(t_mkdir(&se, ROOT, "d", 0755), -EROFS);
	CHECK_ERR(t_symlink(&se, ROOT, "l", "x"), -EROFS);
	CHECK_ERR(t_mknod(&se, ROOT, "n", S_IFIFO | 0600), -EROFS);
	CHECK_ERR(t_link(&se, ROOT, 2, "h"), -EROFS);
	CHECK_ERR(t_renameat(&se, ROOT, "hello.txt", ROOT, "x"), -EROFS);
	CHECK_ERR(t_rename(&se, 2, ROOT, "x"), -EROFS);
	CHECK_ERR(t_unlinkat(&se, ROOT, "hello.txt", 0), -EROFS);
	CHECK_ERR(t_setattr(&se, 2, 0x1, 0777, 0, 0, 0, 0, 0), -EROFS);
	CHECK_ERR(t_setattr(&se, 2, 0x8, 0, 0, 0, 0, 0, 0), -EROFS);
	CHECK_ERR(t_fid_op(&se, P9_TREMOVE, 2), -EROFS);
	CHECK_ERR(t_clunk(&se, 2), -EBADF); /* Tremove clunked it anyway */
	path_in(&se, p, sizeof(p), "hello.txt");
	CHECK(file_has(p, "hello, 9p\n"));
	/* Reading is unaffected: statfs, readdir, readlink. */
	CHECK_EQ_U64(t_fid_op(&se, P9_TSTATFS, ROOT), 0);
	CHECK_EQ_U64(t_lopen(&se, 3, P9_DOTL_RDONLY), 0);
	{
		char names[256];
		u64 dd;
		int calls;

		CHECK_EQ_U64(t_readdir_all(&se, 3, 4000, names, sizeof(names), &dd, &calls), 0);
		sort_names(names);
		CHECK_STR(names, ". .. hello.txt sub ");
	}
	sess_close(&se);
}

static void test_malformed(void)
{
	static struct sess se;
	char v[32];
	u8 small[64];

	sess_open(&se, false);
	sess_attach(&se);
	/* Shorter than a header: dropped. Size field disagreeing with the length: EPROTO. */
	r_begin(&se, P9_TCLUNK);
	CHECK_ERR(send_raw(&se, 6, P9_MAX_MSIZE, false), -1000);
	r_begin(&se, P9_TCLUNK);
	r_u32(&se, ROOT);
	se.r.b[0] = 12;
	se.r.b[1] = se.r.b[2] = se.r.b[3] = 0;
	CHECK_ERR(send_raw(&se, 11, P9_MAX_MSIZE, true), -EPROTO);
	se.r.b[0] = 10;
	CHECK_ERR(send_raw(&se, 11, P9_MAX_MSIZE, true), -EPROTO);
	se.r.b[3] = 0x80;
	CHECK_ERR(send_raw(&se, 11, P9_MAX_MSIZE, true), -EPROTO);
	/* Truncated fields and strings. */
	r_begin(&se, P9_TCLUNK);
	r_u16(&se, 1);
	CHECK_ERR(send_req(&se), -EPROTO);
	r_begin(&se, P9_TWALK);
	r_u32(&se, ROOT);
	r_u32(&se, 2);
	r_u16(&se, 1);
	r_u16(&se, 200);
	r_bytes(&se, "abc", 3);
	CHECK_ERR(send_req(&se), -EPROTO);
	CHECK_ERR(t_clunk(&se, 2), -EBADF);
	r_begin(&se, P9_TMKDIR);
	r_u32(&se, ROOT);
	r_str(&se, "halfmsg");
	r_u16(&se, 0755);
	CHECK_ERR(send_req(&se), -EPROTO);
	CHECK_ERR(t_walk(&se, ROOT, 2, "halfmsg", NULL), -ENOENT);
	r_begin(&se, P9_TVERSION);
	r_u32(&se, 8192);
	r_u16(&se, 9);
	r_bytes(&se, "9P2000", 6);
	CHECK_ERR(send_req(&se), -EPROTO);
	/* Too many walk names; a name longer than NAME_MAX. */
	r_begin(&se, P9_TWALK);
	r_u32(&se, ROOT);
	r_u32(&se, 2);
	r_u16(&se, 17);
	for (int i = 0; i < 17; i++)
		r_str(&se, "sub");
	CHECK_ERR(send_req(&se), -EINVAL);
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK_ERR(t_walk(&se, ROOT, 2, longname, NULL), -ENAMETOOLONG);
		CHECK_ERR(t_mkdir(&se, ROOT, longname, 0755), -ENAMETOOLONG);
	}
	/* Twrite's count beyond the data; Tread's count beyond msize is capped. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, NULL), 0);
	CHECK_EQ_U64(t_lcreate(&se, 2, "big", P9_DOTL_RDWR, 0644, 0), 0);
	r_begin(&se, P9_TWRITE);
	r_u32(&se, 2);
	r_u64(&se, 0);
	r_u32(&se, 0xffffffff);
	r_bytes(&se, "data", 4);
	CHECK_ERR(send_req(&se), -EPROTO);
	{
		static u8 data[60000];

		memset(data, 'z', sizeof(data));
		CHECK_EQ_U64(t_write(&se, 2, 0, data, sizeof(data)), sizeof(data));
		CHECK_EQ_U64(t_write(&se, 2, 60000, data, sizeof(data)), sizeof(data));
	}
	CHECK_EQ_U64(t_read(&se, 2, 0, 0xffffffff, NULL, 0), 65536 - 11);
	CHECK_EQ_U64(se.resp_len, 65536);
	/* A response buffer smaller than the count caps the read, too. */
	r_begin(&se, P9_TREAD);
	r_u32(&se, 2);
	r_u64(&se, 0);
	r_u32(&se, 5000);
	CHECK_EQ_U64(send_raw(&se, se.r.len, 1000, false), 0);
	CHECK_EQ_U64(se.resp_len, 1000);
	/*
	 * A small response buffer caps the read to what fits (the Linux client
	 * sizes buffers exactly, e.g. 22 bytes for Rwalk); a buffer too small
	 * even for an Rlerror gets nothing at all.
	 */
	se.resp_len = p9_handle(&se.s, se.r.b, se.r.len, small, sizeof(small));
	CHECK_EQ_U64(se.resp_len, sizeof(small));
	CHECK_EQ_U64(small[4], P9_TREAD + 1);
	CHECK_EQ_U64(get_le32(small + 7), sizeof(small) - 11);
	CHECK_EQ_U64(p9_handle(&se.s, se.r.b, se.r.len, small, 10), 0);
	/* A request longer than msize. */
	CHECK_EQ_U64(t_version(&se, 4096, "9P2000.L", v, sizeof(v)), 4096);
	CHECK_EQ_U64(t_attach(&se, ROOT, 0), 0);
	r_begin(&se, P9_TWRITE);
	r_u32(&se, 2);
	r_u64(&se, 0);
	r_u32(&se, 5000);
	se.r.len += 5000;
	CHECK_ERR(send_req(&se), -EMSGSIZE);
	/* Unknown fids, duplicate newfids, open fids. */
	CHECK_ERR(t_getattr(&se, 77, &(struct attr){ 0 }), -EBADF);
	CHECK_ERR(t_walk(&se, 77, 78, NULL), -EBADF);
	CHECK_ERR(t_lopen(&se, 77, 0), -EBADF);
	CHECK_ERR(t_read(&se, 77, 0, 1, NULL, 0), -EBADF);
	CHECK_ERR(t_fid_op(&se, P9_TREMOVE, 77), -EBADF);
	CHECK_ERR(t_fid_op(&se, P9_TSTATFS, 77), -EBADF);
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, NULL), 0);
	CHECK_ERR(t_walk(&se, ROOT, 2, NULL), -EEXIST);
	CHECK_ERR(t_walk(&se, ROOT, 2, "sub", NULL), -EEXIST);
	CHECK_ERR(t_attach(&se, 2, 0), -EEXIST);
	CHECK_ERR(t_walk(&se, ROOT, P9_NOFID, NULL), -EINVAL);
	CHECK_ERR(t_lopen(&se, 2, 3), -EINVAL);
	CHECK_EQ_U64(t_lopen(&se, 2, 0), 0);
	CHECK_ERR(t_walk(&se, 2, 2, "sub", NULL), -EBUSY);
	CHECK_ERR(t_lcreate(&se, 2, "x", 0, 0644, 0), -EBUSY);
	sess_close(&se);
}

static void test_fid_limit(void)
{
	static struct sess se;
	struct rlimit rl;
	int ok = 0;

	/* Each fid holds a descriptor: make room for P9_MAX_FIDS of them. */
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < P9_MAX_FIDS + 100) {
		rl.rlim_cur = rl.rlim_max < P9_MAX_FIDS + 100 ? rl.rlim_max : P9_MAX_FIDS + 100;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < P9_MAX_FIDS + 100) {
		printf("test_fid_limit: skipped, RLIMIT_NOFILE %llu\n",
		       (unsigned long long)rl.rlim_cur);
		return;
	}
	sess_open(&se, false);
	sess_attach(&se);
	/* All in one hash bucket; p9_handle() directly, not to count a CHECK per call. */
	for (u32 i = 2; i < P9_MAX_FIDS + 10; i++) {
		r_begin(&se, P9_TWALK);
		r_u32(&se, ROOT);
		r_u32(&se, i * P9_FID_BUCKETS);
		r_u16(&se, 0);
		se.r.b[0] = (u8)se.r.len;
		if (p9_handle(&se.s, se.r.b, se.r.len, se.resp, 4096) == 9 &&
		    se.resp[4] == P9_TWALK + 1)
			ok++;
	}
	CHECK_EQ_U64(ok, P9_MAX_FIDS - 1);
	CHECK_ERR(t_walk(&se, ROOT, 3, NULL), -EMFILE);
	CHECK_ERR(t_attach(&se, 3, 0), -EMFILE);
	CHECK_EQ_U64(t_clunk(&se, 2 * P9_FID_BUCKETS), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, NULL), 0);
	sess_close(&se);
}

static void test_no_fd_leak(void)
{
	static struct sess se;
	int before = count_fds();
	char buf[16];

	sess_open(&se, false);
	sess_attach(&se);
	/* Every path that opens something, successful or not, then everything left open. */
	CHECK_EQ_U64(t_walk(&se, ROOT, 2, "sub", "inner.txt", NULL), 2);
	CHECK_EQ_U64(t_lopen(&se, 2, P9_DOTL_RDONLY), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, "sub", "nope", NULL), 1);
	CHECK_ERR(t_walk(&se, ROOT, 3, "nope", NULL), -ENOENT);
	CHECK_EQ_U64(t_walk(&se, ROOT, 3, NULL), 0);
	CHECK_EQ_U64(t_lcreate(&se, 3, "f", P9_DOTL_RDWR, 0644, 0), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 4, NULL), 0);
	CHECK_ERR(t_lcreate(&se, 4, "f", P9_DOTL_RDWR, 0644, 0), -EEXIST);
	CHECK_EQ_U64(t_lopen(&se, 4, P9_DOTL_RDONLY), 0);
	CHECK(t_readdir_all(&se, 4, 100, (char[256]){ 0 }, 256, &(u64){ 0 }, &(int){ 0 }) == 0);
	CHECK_EQ_U64(t_mkdir(&se, ROOT, "d", 0755), 0);
	CHECK_EQ_U64(t_symlink(&se, ROOT, "l", "d"), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 5, "d", NULL), 1);
	CHECK_EQ_U64(t_rename(&se, 5, ROOT, "d2"), 0);
	CHECK_EQ_U64(t_fid_op(&se, P9_TREMOVE, 5), 0);
	CHECK_EQ_U64(t_walk(&se, ROOT, 6, "f", NULL), 1);
	CHECK_EQ_U64(t_setattr(&se, 6, 0x8, 0, 0, 0, 3, 0, 0), 0);
	CHECK_EQ_U64(t_read(&se, 3, 0, 16, buf, sizeof(buf)), 3);
	CHECK_EQ_U64(t_walk(&se, ROOT, 7, "..", "sub", "..", NULL), 3);
	p9_server_destroy(&se.s);
	CHECK_EQ_U64(count_fds(), before);
	CHECK(p9_server_init(&se.s, se.export, false) == 0);
	sess_close(&se);
	CHECK_EQ_U64(count_fds(), before);
	/* A missing export fails cleanly. */
	CHECK(p9_server_init(&se.s, "/nonexistent/coho-p9", false) == -ENOENT);
	CHECK_EQ_U64(count_fds(), before);
}

TEST_MAIN(test_version_and_attach, test_walk_open_read, test_create_write_setattr,
	  test_mkdir_readdir, test_links_rename_remove, test_xattr_lock_flush, test_escape_attempts,
	  test_read_only, test_malformed, test_fid_limit, test_no_fd_leak)
