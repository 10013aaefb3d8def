// SPDX-License-Identifier: GPL-2.0
/*
 * 9P2000.L, the protocol side: reading T-messages, building R-messages, the
 * fid table and the dispatch to the filesystem operations of
 * virtio/p9-fs.c.
 *
 * Message layout (Linux net/9p): size[4] type[1] tag[2] then the fields,
 * little endian; a string is len[2] bytes[len]; a qid is type[1] version[4]
 * path[8]. Every field is read through msg_take(), which marks the message
 * bad instead of reading past its end; a handler reads all of its fields and
 * checks them before it changes anything. Responses are built through
 * out_take() within min(resp_cap, msize).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* for builds outside the Makefile (tests/fuzz/run.sh) */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/p9-fs.h"
#include "virtio/p9.h"

/* Every fixed-size response fits (the largest, Rwalk, is 7 + 2 + 16 * 13). */
#define P9_GETATTR_BASIC 0x7ffULL

struct p9_fid {
	struct p9_fid *next;
	u32 id;
	u32 uid;    /* the attaching user: owner of what this fid creates */
	int fd;	    /* O_PATH (or a duplicate of ofd); -1 for an xattr fid */
	int ofd;    /* open for I/O after Tlopen/Tlcreate, else -1 */
	bool xattr; /* from Txattrwalk: reads as an empty attribute list */
	struct p9fs_dir *dir;
};

struct p9_msg {
	const u8 *p;
	size_t len, off;
	bool bad; /* a read went past the end: the request is malformed */
};

struct p9_out {
	u8 *p;
	size_t cap, off;
	bool full;
};

static const u8 *msg_take(struct p9_msg *m, size_t n)
{
	const u8 *p;

	if (m->bad || n > m->len - m->off) {
		m->bad = true;
		return NULL;
	}
	p = m->p + m->off;
	m->off += n;
	return p;
}

static u8 get8(struct p9_msg *m)
{
	const u8 *p = msg_take(m, 1);

	return p ? p[0] : 0;
}

static u16 get16(struct p9_msg *m)
{
	const u8 *p = msg_take(m, 2);

	return p ? get_le16(p) : 0;
}

static u32 get32(struct p9_msg *m)
{
	const u8 *p = msg_take(m, 4);

	return p ? get_le32(p) : 0;
}

static u64 get64(struct p9_msg *m)
{
	const u8 *p = msg_take(m, 8);

	return p ? get_le64(p) : 0;
}

/* A string's bytes, left in the message (no NUL); NULL if the message is short. */
static const char *get_str(struct p9_msg *m, u16 *len)
{
	const u8 *p;

	*len = get16(m);
	p = msg_take(m, *len);
	if (!p)
		*len = 0;
	return (const char *)p;
}

/* A name component into @name: -EINVAL unless p9fs_name_ok(). */
static int get_name(struct p9_msg *m, char name[NAME_MAX + 1], bool dotdot)
{
	u16 len;
	const char *p = get_str(m, &len);

	name[0] = '\0';
	if (!p)
		return -EPROTO;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (!p9fs_name_ok(p, len, dotdot))
		return -EINVAL;
	memcpy(name, p, len);
	name[len] = '\0';
	return 0;
}

/* All fields read: a short message wins over a bad field. */
static int msg_check(const struct p9_msg *m, int err)
{
	return m->bad ? -EPROTO : err;
}

static u8 *out_take(struct p9_out *o, size_t n)
{
	u8 *p;

	if (o->full || n > o->cap - o->off) {
		o->full = true;
		return NULL;
	}
	p = o->p + o->off;
	o->off += n;
	return p;
}

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

static void put8(struct p9_out *o, u8 v)
{
	u8 *p = out_take(o, 1);

	if (p)
		p[0] = v;
}

static void put16(struct p9_out *o, u16 v)
{
	u8 *p = out_take(o, 2);

	if (p)
		put_le16(p, v);
}

static void put32(struct p9_out *o, u32 v)
{
	u8 *p = out_take(o, 4);

	if (p)
		put_le32(p, v);
}

static void put64(struct p9_out *o, u64 v)
{
	u8 *p = out_take(o, 8);

	if (p)
		put_le64(p, v);
}

static void put_str(struct p9_out *o, const char *s, size_t len)
{
	u8 *p;

	if (len > 0xffff) {
		o->full = true;
		return;
	}
	put16(o, (u16)len);
	p = out_take(o, len);
	if (p)
		memcpy(p, s, len);
}

static void put_qid_raw(struct p9_out *o, u8 type, u32 version, u64 path)
{
	put8(o, type);
	put32(o, version);
	put64(o, path);
}

/* The qid's path is the inode number; its version changes with mtime and size. */
static void put_qid(struct p9_out *o, const struct stat *st)
{
	u8 type = S_ISDIR(st->st_mode) ? P9_QTDIR : S_ISLNK(st->st_mode) ? P9_QTSYMLINK : P9_QTFILE;
	u64 version = (u64)st->st_mtim.tv_sec ^ (u64)st->st_mtim.tv_nsec ^ (u64)st->st_size;

	put_qid_raw(o, type, (u32)(version ^ (version >> 32)), st->st_ino);
}

/* The fid table: a small hash of lists, at most P9_MAX_FIDS entries. */
static struct p9_fid **fid_slot(struct p9_server *s, u32 id)
{
	struct p9_fid **pp = &s->fids[id % P9_FID_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static int fid_get(struct p9_server *s, u32 id, struct p9_fid **f)
{
	*f = *fid_slot(s, id);
	return *f ? 0 : -EBADF;
}

/* A fid that names a file (not an xattr list). */
static int fid_get_file(struct p9_server *s, u32 id, struct p9_fid **f)
{
	int ret = fid_get(s, id, f);

	return ret ? ret : (*f)->xattr ? -EBADF : 0;
}

static int fid_new(struct p9_server *s, u32 id, struct p9_fid **out)
{
	struct p9_fid **pp = fid_slot(s, id), *f;

	if (id == P9_NOFID)
		return -EINVAL;
	if (*pp)
		return -EEXIST;
	if (s->nr_fids >= P9_MAX_FIDS)
		return -EMFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->id = id;
	f->fd = f->ofd = -1;
	*pp = f;
	s->nr_fids++;
	*out = f;
	return 0;
}

static void fid_free(struct p9_server *s, struct p9_fid *f)
{
	struct p9_fid **pp = fid_slot(s, f->id);

	*pp = f->next;
	if (f->fd >= 0)
		close(f->fd);
	if (f->ofd >= 0)
		close(f->ofd);
	p9fs_dir_free(f->dir);
	free(f);
	s->nr_fids--;
}

static void fids_clear(struct p9_server *s)
{
	for (size_t i = 0; i < P9_FID_BUCKETS; i++)
		while (s->fids[i])
			fid_free(s, s->fids[i]);
}

static int fstat_err(int fd, struct stat *st)
{
	return fstat(fd, st) ? -errno : 0;
}

/* Tlopen/Tlcreate flags to host open(2) flags; hints the server ignores are dropped. */
static int open_flags(u32 f)
{
	static const struct {
		u32 p9;
		int host;
	} map[] = {
		{ P9_DOTL_TRUNC, O_TRUNC },	    { P9_DOTL_APPEND, O_APPEND },
		{ P9_DOTL_DSYNC, O_DSYNC },	    { P9_DOTL_SYNC, O_SYNC },
		{ P9_DOTL_DIRECTORY, O_DIRECTORY },
	};
	int flags;

	switch (f & 3) {
	case P9_DOTL_RDONLY:
		flags = O_RDONLY;
		break;
	case P9_DOTL_WRONLY:
		flags = O_WRONLY;
		break;
	case P9_DOTL_RDWR:
		flags = O_RDWR;
		break;
	default:
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (f & map[i].p9)
			flags |= map[i].host;
	return flags;
}

/* size[4] msize[4] version[s] -> msize[4] version[s]; forgets every fid. */
static int p9_version(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 msize = get32(m);
	u16 len;
	const char *v = get_str(m, &len);
	bool dotl;

	if (m->bad)
		return -EPROTO;
	if (msize < P9_MIN_MSIZE)
		return -EINVAL;
	fids_clear(s);
	s->msize = msize < P9_MAX_MSIZE ? msize : P9_MAX_MSIZE;
	dotl = len >= 8 && !memcmp(v, "9P2000.L", 8);
	put32(o, s->msize);
	put_str(o, dotl ? "9P2000.L" : "unknown", dotl ? 8 : 7);
	return 0;
}

/* fid[4] afid[4] uname[s] aname[s] n_uname[4] -> qid: the fid names the root. */
static int p9_attach(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	u16 len;
	struct p9_fid *f;
	struct stat st;
	u32 uid;
	int ret;

	get32(m);
	get_str(m, &len);
	get_str(m, &len);
	uid = get32(m);
	if (m->bad)
		return -EPROTO;
	ret = fid_new(s, id, &f);
	if (ret)
		return ret;
	f->uid = uid;
	f->fd = fcntl(s->root_fd, F_DUPFD_CLOEXEC, 0);
	ret = f->fd < 0 ? -errno : fstat_err(f->fd, &st);
	if (ret) {
		fid_free(s, f);
		return ret;
	}
	put_qid(o, &st);
	return 0;
}

/* fid[4] newfid[4] nwname[2] nwname*(wname[s]) -> nwqid[2] nwqid*(qid[13]) */
static int p9_walk(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char names[P9_MAXWELEM][NAME_MAX + 1];
	struct stat st[P9_MAXWELEM];
	u32 id = get32(m), newid = get32(m);
	u16 n = get16(m), i;
	struct p9_fid *f, *nf;
	int err = 0, ret, cur, next;

	if (n > P9_MAXWELEM)
		return msg_check(m, -EINVAL);
	for (i = 0; i < n; i++) {
		ret = get_name(m, names[i], true);
		if (ret && !err)
			err = ret;
	}
	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (newid != id) {
		if (*fid_slot(s, newid))
			return -EEXIST;
		if (s->nr_fids >= P9_MAX_FIDS)
			return -EMFILE;
		if (newid == P9_NOFID)
			return -EINVAL;
	} else if (f->ofd >= 0 && n) {
		return -EBUSY;
	}
	cur = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		next = p9fs_walk(s, cur, names[i]);
		if (next < 0) {
			ret = next;
			break;
		}
		close(cur);
		cur = next;
		ret = fstat_err(cur, &st[i]);
		if (ret)
			break;
	}
	if (i < n) {
		/* Only the first step's failure is an error; later ones end the walk short. */
		close(cur);
		if (i == 0)
			return ret;
	} else if (newid == id) {
		close(f->fd);
		f->fd = cur;
	} else {
		ret = fid_new(s, newid, &nf);
		if (ret) {
			close(cur);
			return ret;
		}
		nf->fd = cur;
		nf->uid = f->uid;
	}
	put16(o, i);
	for (u16 j = 0; j < i; j++)
		put_qid(o, &st[j]);
	return 0;
}

/* fid[4] flags[4] -> qid[13] iounit[4] */
static int p9_lopen(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m), p9flags = get32(m);
	struct p9_fid *f;
	struct stat st;
	int flags, ret, ofd;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (f->ofd >= 0)
		return -EBUSY;
	flags = open_flags(p9flags);
	if (flags < 0)
		return flags;
	if (s->read_only && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	ret = fstat_err(f->fd, &st);
	if (ret)
		return ret;
	ofd = p9fs_open(s, f->fd, flags);
	if (ofd < 0)
		return ofd;
	f->ofd = ofd;
	put_qid(o, &st);
	put32(o, 0); /* iounit 0: the client uses msize */
	return 0;
}

/* fid[4] name[s] flags[4] mode[4] gid[4] -> qid[13] iounit[4]; the fid becomes the new file. */
static int p9_lcreate(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1];
	u32 id = get32(m);
	int err = get_name(m, name, false);
	u32 p9flags = get32(m), mode = get32(m), gid = get32(m);
	struct p9_fid *f;
	struct stat st;
	int flags, ret, ofd, pfd;

	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (f->ofd >= 0)
		return -EBUSY;
	flags = open_flags(p9flags);
	if (flags < 0)
		return flags;
	ret = p9fs_create(s, f->fd, name, flags, mode, f->uid, gid, &ofd, &pfd, &st);
	if (ret)
		return ret;
	close(f->fd);
	f->fd = pfd;
	f->ofd = ofd;
	put_qid(o, &st);
	put32(o, 0);
	return 0;
}

/* fid[4] offset[8] count[4] -> count[4] data[count] */
static int p9_read(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	u64 offset = get64(m);
	u32 count = get32(m);
	struct p9_fid *f;
	size_t room;
	ssize_t n;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get(s, id, &f);
	if (ret)
		return ret;
	if (f->xattr) {
		put32(o, 0);
		return 0;
	}
	if (f->ofd < 0)
		return -EBADF;
	if (offset > INT64_MAX)
		return -EINVAL;
	room = o->cap - o->off - 4;
	if (count > room)
		count = (u32)room;
	n = pread(f->ofd, o->p + o->off + 4, count, (off_t)offset);
	if (n < 0)
		return -errno;
	put32(o, (u32)n);
	out_take(o, (size_t)n);
	return 0;
}

/* fid[4] offset[8] count[4] data[count] -> count[4] */
static int p9_write(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	u64 offset = get64(m);
	u32 count = get32(m);
	const u8 *data = msg_take(m, count);
	struct p9_fid *f;
	ssize_t n;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (f->ofd < 0)
		return -EBADF;
	if (offset > INT64_MAX)
		return -EINVAL;
	n = pwrite(f->ofd, data, count, (off_t)offset);
	if (n < 0)
		return -errno;
	put32(o, (u32)n);
	return 0;
}

/* fid[4] -> (nothing) */
static int p9_clunk(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	struct p9_fid *f;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get(s, id, &f);
	if (ret)
		return ret;
	fid_free(s, f);
	return 0;
}

/* fid[4] -> (nothing); the fid is clunked even when the removal fails. */
static int p9_remove(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	struct p9_fid *f;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get(s, id, &f);
	if (ret)
		return ret;
	if (s->read_only)
		ret = -EROFS;
	else if (f->xattr)
		ret = -EBADF;
	else
		ret = p9fs_remove(s, f->fd);
	fid_free(s, f);
	return ret;
}

/* Linux's new_encode_dev(), which the client's new_decode_dev() expects. */
static u64 encode_dev(dev_t dev)
{
	u64 ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xffULL) << 12);
}

/* fid[4] request_mask[8] -> valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8]
 * size[8] blksize[8] blocks[8] {a,m,c,b}time[8+8] gen[8] data_version[8] */
static int p9_getattr(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	struct p9_fid *f;
	struct stat st;
	int ret;

	get64(m);
	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (!ret)
		ret = fstat_err(f->fd, &st);
	if (ret)
		return ret;
	put64(o, P9_GETATTR_BASIC);
	put_qid(o, &st);
	put32(o, st.st_mode);
	put32(o, st.st_uid);
	put32(o, st.st_gid);
	put64(o, st.st_nlink);
	put64(o, encode_dev(st.st_rdev));
	put64(o, (u64)st.st_size);
	put64(o, (u64)st.st_blksize);
	put64(o, (u64)st.st_blocks);
	put64(o, (u64)st.st_atim.tv_sec);
	put64(o, (u64)st.st_atim.tv_nsec);
	put64(o, (u64)st.st_mtim.tv_sec);
	put64(o, (u64)st.st_mtim.tv_nsec);
	put64(o, (u64)st.st_ctim.tv_sec);
	put64(o, (u64)st.st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++) /* btime, gen, data_version: not provided */
		put64(o, 0);
	return 0;
}

/* fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime[8+8] mtime[8+8] -> (nothing) */
static int p9_setattr(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	struct p9fs_attr a;
	struct p9_fid *f;
	int ret;

	a.valid = get32(m);
	a.mode = get32(m);
	a.uid = get32(m);
	a.gid = get32(m);
	a.size = get64(m);
	a.atime_sec = get64(m);
	a.atime_nsec = get64(m);
	a.mtime_sec = get64(m);
	a.mtime_nsec = get64(m);
	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	return ret ? ret : p9fs_setattr(s, f->fd, f->ofd, &a);
}

static u8 dtype_to_qid(u8 type)
{
	return type == DT_DIR ? P9_QTDIR : type == DT_LNK ? P9_QTSYMLINK : P9_QTFILE;
}

/* fid[4] offset[8] count[4] -> count[4] count bytes of qid[13] offset[8] type[1] name[s] */
static int p9_readdir(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	u64 offset = get64(m);
	u32 count = get32(m);
	struct p9_out ents;
	struct p9fs_dirent e;
	struct p9_fid *f;
	struct stat st;
	size_t room, need;
	bool root;
	u64 ino;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (f->ofd < 0)
		return -EBADF;
	ret = fstat_err(f->ofd, &st);
	if (ret)
		return ret;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	root = p9fs_is_root(s, &st);
	if (!f->dir && !(f->dir = p9fs_dir_new()))
		return -ENOMEM;
	ret = p9fs_dir_seek(f->dir, f->ofd, offset);
	if (ret < 0)
		return ret;
	room = o->cap - o->off - 4;
	ents = (struct p9_out){ .p = o->p + o->off + 4, .cap = count < room ? count : room };
	for (;;) {
		ret = p9fs_dir_peek(f->dir, f->ofd, &e);
		if (ret <= 0)
			break;
		need = P9_QID_SIZE + 8 + 1 + 2 + e.len;
		if (need > ents.cap - ents.off)
			break;
		ino = e.ino;
		/* The root's parent is the root itself, as for Twalk. */
		if (root && e.len == 2 && !memcmp(e.name, "..", 2))
			ino = s->root_ino;
		put_qid_raw(&ents, dtype_to_qid(e.type), 0, ino);
		put64(&ents, p9fs_dir_next(f->dir));
		put8(&ents, e.type);
		put_str(&ents, e.name, e.len);
	}
	if (ret < 0 && ents.off == 0)
		return ret;
	put32(o, (u32)ents.off);
	out_take(o, ents.off);
	return 0;
}

/* fid[4] -> type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8] fsid[8] namelen[4] */
static int p9_statfs(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	struct p9_fid *f;
	struct statfs sf;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (fstatfs(f->fd, &sf))
		return -errno;
	put32(o, (u32)sf.f_type);
	put32(o, (u32)sf.f_bsize);
	put64(o, sf.f_blocks);
	put64(o, sf.f_bfree);
	put64(o, sf.f_bavail);
	put64(o, sf.f_files);
	put64(o, sf.f_ffree);
	put64(o, (u64)(u32)sf.f_fsid.__val[0] | (u64)(u32)sf.f_fsid.__val[1] << 32);
	put32(o, (u32)sf.f_namelen);
	return 0;
}

/* dfid[4] name[s] mode[4] gid[4] -> qid[13] */
static int p9_mkdir(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1];
	u32 id = get32(m);
	int err = get_name(m, name, false);
	u32 mode = get32(m), gid = get32(m);
	struct p9_fid *d;
	struct stat st;
	int ret;

	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &d);
	if (!ret)
		ret = p9fs_mkdir(s, d->fd, name, mode, d->uid, gid, &st);
	if (ret)
		return ret;
	put_qid(o, &st);
	return 0;
}

/* fid[4] name[s] symtgt[s] gid[4] -> qid[13] */
static int p9_symlink(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1], target[PATH_MAX];
	u32 id = get32(m);
	int err = get_name(m, name, false);
	u16 len;
	const char *t = get_str(m, &len);
	u32 gid = get32(m);
	struct p9_fid *d;
	struct stat st;
	int ret;

	if (!err && t && (len >= sizeof(target) || memchr(t, '\0', len)))
		err = len >= sizeof(target) ? -ENAMETOOLONG : -EINVAL;
	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &d);
	if (ret)
		return ret;
	memcpy(target, t, len);
	target[len] = '\0';
	ret = p9fs_symlink(s, d->fd, name, target, d->uid, gid, &st);
	if (ret)
		return ret;
	put_qid(o, &st);
	return 0;
}

/* dfid[4] name[s] mode[4] major[4] minor[4] gid[4] -> qid[13] */
static int p9_mknod(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1];
	u32 id = get32(m);
	int err = get_name(m, name, false);
	u32 mode = get32(m), major = get32(m), minor = get32(m), gid = get32(m);
	struct p9_fid *d;
	struct stat st;
	int ret;

	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &d);
	if (!ret)
		ret = p9fs_mknod(s, d->fd, name, mode, major, minor, d->uid, gid, &st);
	if (ret)
		return ret;
	put_qid(o, &st);
	return 0;
}

/* fid[4] -> target[s] */
static int p9_readlink(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char target[PATH_MAX];
	u32 id = get32(m);
	struct p9_fid *f;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (!ret)
		ret = p9fs_readlink(f->fd, target, sizeof(target));
	if (ret < 0)
		return ret;
	if (2 + (size_t)ret > o->cap - o->off)
		return -ENAMETOOLONG;
	put_str(o, target, (size_t)ret);
	return 0;
}

/* dfid[4] fid[4] name[s] -> (nothing) */
static int p9_link(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1];
	u32 did = get32(m), id = get32(m);
	int err = get_name(m, name, false);
	struct p9_fid *d, *f;
	int ret;

	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, did, &d);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	return ret ? ret : p9fs_link(s, f->fd, d->fd, name);
}

/* fid[4] dfid[4] name[s] -> (nothing) */
static int p9_rename(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1];
	u32 id = get32(m), did = get32(m);
	int err = get_name(m, name, false);
	struct p9_fid *d, *f;
	int ret;

	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (!ret)
		ret = fid_get_file(s, did, &d);
	return ret ? ret : p9fs_rename(s, f->fd, d->fd, name);
}

/* olddirfid[4] oldname[s] newdirfid[4] newname[s] -> (nothing) */
static int p9_renameat(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char oldname[NAME_MAX + 1], newname[NAME_MAX + 1];
	u32 oid = get32(m);
	int err = get_name(m, oldname, false);
	u32 nid = get32(m);
	int err2 = get_name(m, newname, false);
	struct p9_fid *od, *nd;
	int ret;

	ret = msg_check(m, err ? err : err2);
	if (!ret)
		ret = fid_get_file(s, oid, &od);
	if (!ret)
		ret = fid_get_file(s, nid, &nd);
	return ret ? ret : p9fs_renameat(od->fd, oldname, nd->fd, newname);
}

/* dirfid[4] name[s] flags[4] -> (nothing) */
static int p9_unlinkat(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	char name[NAME_MAX + 1];
	u32 id = get32(m);
	int err = get_name(m, name, false);
	u32 flags = get32(m);
	struct p9_fid *d;
	int ret;

	if (!err && (flags & ~P9_DOTL_AT_REMOVEDIR))
		err = -EINVAL;
	ret = msg_check(m, err);
	if (!ret)
		ret = fid_get_file(s, id, &d);
	return ret ? ret : p9fs_unlinkat(d->fd, name, flags & P9_DOTL_AT_REMOVEDIR);
}

/* fid[4] datasync[4] -> (nothing) */
static int p9_fsync(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m), datasync = get32(m);
	struct p9_fid *f;
	int ret;

	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret || f->ofd < 0)
		return ret;
	ret = datasync ? fdatasync(f->ofd) : fsync(f->ofd);
	return ret ? -errno : 0;
}

/*
 * fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s] -> status[1].
 * The guest is the only client of the export: its own kernel already
 * arbitrates POSIX locks between its processes, so every lock is granted.
 */
static int p9_lock(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	struct p9_fid *f;
	u16 len;
	int ret;

	get8(m);
	get32(m);
	get64(m);
	get64(m);
	get32(m);
	get_str(m, &len);
	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	put8(o, P9_LOCK_SUCCESS);
	return 0;
}

/* fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] -> the same with type UNLCK */
static int p9_getlock(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m);
	u64 start, length;
	const char *client;
	struct p9_fid *f;
	u32 proc_id;
	u16 len;
	int ret;

	get8(m);
	start = get64(m);
	length = get64(m);
	proc_id = get32(m);
	client = get_str(m, &len);
	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	put8(o, P9_LOCK_TYPE_UNLCK);
	put64(o, start);
	put64(o, length);
	put32(o, proc_id);
	if (2 + (size_t)len > o->cap - o->off)
		len = 0;
	put_str(o, client, len);
	return 0;
}

/*
 * fid[4] newfid[4] name[s] -> size[8]. Extended attributes are not exported:
 * the list (empty name) is empty, any single attribute is ENODATA, which is
 * what `ls` and `cp -a` expect from a filesystem without xattrs.
 */
static int p9_xattrwalk(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	u32 id = get32(m), newid = get32(m);
	struct p9_fid *f, *nf;
	u16 len;
	int ret;

	get_str(m, &len);
	ret = msg_check(m, 0);
	if (!ret)
		ret = fid_get_file(s, id, &f);
	if (ret)
		return ret;
	if (len)
		return -ENODATA;
	ret = fid_new(s, newid, &nf);
	if (ret)
		return ret;
	nf->xattr = true;
	put64(o, 0);
	return 0;
}

/* oldtag[2] -> (nothing): requests are answered in order, nothing is in flight. */
static int p9_flush(struct p9_server *s, struct p9_msg *m, struct p9_out *o)
{
	get16(m);
	return msg_check(m, 0);
}

typedef int (*p9_op_fn)(struct p9_server *s, struct p9_msg *m, struct p9_out *o);

static const struct {
	p9_op_fn fn;
	bool modifies; /* refused with EROFS on a read-only export */
} p9_ops[128] = {
	[P9_TSTATFS] = { p9_statfs, false },	 [P9_TLOPEN] = { p9_lopen, false },
	[P9_TLCREATE] = { p9_lcreate, true },	 [P9_TSYMLINK] = { p9_symlink, true },
	[P9_TMKNOD] = { p9_mknod, true },	 [P9_TRENAME] = { p9_rename, true },
	[P9_TREADLINK] = { p9_readlink, false }, [P9_TGETATTR] = { p9_getattr, false },
	[P9_TSETATTR] = { p9_setattr, true },	 [P9_TXATTRWALK] = { p9_xattrwalk, false },
	[P9_TREADDIR] = { p9_readdir, false },	 [P9_TFSYNC] = { p9_fsync, false },
	[P9_TLOCK] = { p9_lock, false },	 [P9_TGETLOCK] = { p9_getlock, false },
	[P9_TLINK] = { p9_link, true },		 [P9_TMKDIR] = { p9_mkdir, true },
	[P9_TRENAMEAT] = { p9_renameat, true },	 [P9_TUNLINKAT] = { p9_unlinkat, true },
	[P9_TVERSION] = { p9_version, false },	 [P9_TATTACH] = { p9_attach, false },
	[P9_TFLUSH] = { p9_flush, false },	 [P9_TWALK] = { p9_walk, false },
	[P9_TREAD] = { p9_read, false },	 [P9_TWRITE] = { p9_write, true },
	[P9_TCLUNK] = { p9_clunk, false },	 [P9_TREMOVE] = { p9_remove, false },
};

size_t p9_handle(struct p9_server *s, const u8 *req, size_t req_len, u8 *resp, size_t resp_cap)
{
	struct p9_msg m = { .p = req, .len = req_len };
	size_t cap = resp_cap < s->msize ? resp_cap : s->msize;
	struct p9_out o = { .p = resp, .cap = cap, .off = P9_HDR_SIZE };
	u32 size;
	u16 tag;
	u8 type;
	int ret;

	if (!req || !resp || req_len < P9_HDR_SIZE || cap < P9_HDR_SIZE + 4)
		return 0;
	size = get32(&m);
	type = get8(&m);
	tag = get16(&m);
	if (size != req_len)
		ret = -EPROTO;
	else if (req_len > s->msize)
		ret = -EMSGSIZE;
	else if (type >= ARRAY_SIZE(p9_ops) || !p9_ops[type].fn)
		ret = -EOPNOTSUPP;
	else if (s->read_only && p9_ops[type].modifies)
		ret = -EROFS;
	else
		ret = p9_ops[type].fn(s, &m, &o);
	if (!ret && o.full)
		ret = -ENOBUFS;
	if (ret) {
		/* Rlerror carries the Linux errno: the guest is Linux, so is the host. */
		o = (struct p9_out){ .p = resp, .cap = cap, .off = P9_HDR_SIZE };
		put32(&o, (u32)-ret);
		type = P9_RLERROR;
	} else {
		type++;
	}
	put_le32(resp, (u32)o.off);
	resp[4] = type;
	put_le16(resp + 5, tag);
	return o.off;
}

int p9_server_init(struct p9_server *s, const char *root_dir, bool read_only)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->root_fd = s->proc_fd = -1;
	s->read_only = read_only;
	s->msize = P9_MAX_MSIZE;
	ret = p9fs_init(s, root_dir);
	if (ret) {
		pr_err("9p: cannot export %s: %s", root_dir, strerror(-ret));
		p9fs_fini(s);
	}
	return ret;
}

void p9_server_destroy(struct p9_server *s)
{
	fids_clear(s);
	p9fs_fini(s);
}
