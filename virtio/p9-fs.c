// SPDX-License-Identifier: GPL-2.0
/*
 * The filesystem side of the 9P server: every operation works on descriptors
 * below the export root, never on path strings built from guest input.
 *
 * How nothing outside the export is ever reached:
 *  - A fid is an O_PATH descriptor. A walk opens exactly one name component,
 *    already checked by p9fs_name_ok() (no '/', not "." or ".."), relative to
 *    the parent's descriptor, with openat2(RESOLVE_BENEATH |
 *    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW; where
 *    openat2() is missing (Linux < 5.6, qemu-user) or filtered (seccomp),
 *    openat(O_NOFOLLOW) of the same single component is equivalent. A
 *    symlink is never followed: it is opened as itself, and walking through
 *    it fails with ENOTDIR (the client resolves symlinks through Treadlink).
 *  - ".." is the only step upwards: at the root (same device and inode) it
 *    stays at the root; below it, the parent of a directory inside the export
 *    is inside the export.
 *  - Creation, removal and renames take a directory descriptor and one
 *    checked name; none of these calls follows a symlink in the last
 *    component (O_CREAT is always O_EXCL).
 *  - Reopening a fid for I/O: a directory through openat(fd, "."), a regular
 *    file through /proc/self/fd/N, which names exactly the inode the fid
 *    holds (no guest string is looked up there) and is checked afterwards.
 *    Symlinks, devices, fifos and sockets are never opened: a guest must not
 *    reach a host device through a node in the export, nor block the device
 *    thread on a fifo.
 *  - Trename/Tremove need the parent and name of a fid: the kernel's current
 *    path of the descriptor is walked again from the root with the same
 *    rules and the result must be the same inode.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* for builds outside the Makefile (tests/fuzz/run.sh) */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "virtio/p9-fs.h"

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

struct p9fs_dir {
	u64 pos;	 /* index of the next entry: the guest's offset */
	size_t off, len; /* unconsumed part of buf */
	size_t cur_len;	 /* record length of the entry last peeked */
	union {
		char buf[8192];
		u64 align; /* getdents64 records are 8-byte aligned */
	};
};

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static void fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

/* Open one checked name component in @dirfd without following any symlink. */
static int fs_openat(struct p9_server *s, int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (u64)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (!s->no_openat2) {
		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		/* ENOSYS: Linux < 5.6, qemu-user; EPERM: some container seccomp profiles. */
		if (errno == ENOSYS)
			s->no_openat2 = true;
		else if (errno != EPERM)
			return neg_errno();
	}
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return neg_errno();
	/* openat2() refused what openat() allows: a filter, not the file. */
	s->no_openat2 = true;
	return fd;
}

/* Reopen the regular file behind O_PATH @fd (described by @st) with @flags. */
static int fs_reopen(struct p9_server *s, int fd, const struct stat *st, int flags)
{
	struct stat got;
	char n[16];
	int ofd;

	fd_name(fd, n);
	ofd = openat(s->proc_fd, n,
		     (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_NOCTTY | O_CLOEXEC);
	if (ofd < 0)
		return neg_errno();
	if (fstat(ofd, &got) || got.st_dev != st->st_dev || got.st_ino != st->st_ino) {
		close(ofd);
		return -ESTALE;
	}
	return ofd;
}

/* chmod of what O_PATH @fd holds (never a symlink: callers check). */
static int fs_chmod(struct p9_server *s, int fd, mode_t mode)
{
	char n[16];

	fd_name(fd, n);
	return fchmodat(s->proc_fd, n, mode, 0) ? neg_errno() : 0;
}

/*
 * New files belong to the attaching user and the group the client asks for
 * (passthrough ownership). Best effort: a server that is not root cannot give
 * files away and keeps them as its own. Ownership first, then the exact mode
 * (chown may clear set-id bits; the host's umask must not apply).
 */
static int fs_finish_new(struct p9_server *s, int fd, u32 uid, u32 gid, u32 mode, struct stat *st)
{
	int ret;

	(void)fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (fstat(fd, st))
		return neg_errno();
	if (!S_ISLNK(st->st_mode) && (st->st_mode & 07777) != (mode & 07777)) {
		ret = fs_chmod(s, fd, mode & 07777);
		if (ret)
			return ret;
		if (fstat(fd, st))
			return neg_errno();
	}
	return 0;
}

int p9fs_init(struct p9_server *s, const char *root_dir)
{
	char path[PATH_MAX], n[16];
	struct stat st;
	ssize_t len;

	s->root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return neg_errno();
	if (fstat(s->root_fd, &st))
		return neg_errno();
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0)
		return neg_errno();
	fd_name(s->root_fd, n);
	len = readlinkat(s->proc_fd, n, path, sizeof(path));
	if (len < 0)
		return neg_errno();
	if ((size_t)len >= sizeof(path) || path[0] != '/')
		return -ENAMETOOLONG;
	path[len] = '\0';
	s->root_path = strdup(path);
	return s->root_path ? 0 : -ENOMEM;
}

void p9fs_fini(struct p9_server *s)
{
	if (s->root_fd >= 0)
		close(s->root_fd);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	free(s->root_path);
	s->root_fd = s->proc_fd = -1;
	s->root_path = NULL;
}

bool p9fs_name_ok(const char *name, size_t len, bool dotdot)
{
	if (len == 0 || len > NAME_MAX || memchr(name, '/', len) || memchr(name, '\0', len))
		return false;
	if (len == 1 && name[0] == '.')
		return false;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return dotdot;
	return true;
}

bool p9fs_is_root(struct p9_server *s, const struct stat *st)
{
	return st->st_dev == s->root_dev && st->st_ino == s->root_ino;
}

int p9fs_walk(struct p9_server *s, int dirfd, const char *name)
{
	struct stat st;
	int fd;

	if (strcmp(name, ".."))
		return fs_openat(s, dirfd, name, O_PATH, 0);
	if (fstat(dirfd, &st))
		return neg_errno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (p9fs_is_root(s, &st))
		fd = fcntl(s->root_fd, F_DUPFD_CLOEXEC, 0);
	else
		fd = openat(dirfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? neg_errno() : fd;
}

int p9fs_open(struct p9_server *s, int fd, int flags)
{
	struct stat st;
	int ofd;

	if (fstat(fd, &st))
		return neg_errno();
	if (S_ISDIR(st.st_mode)) {
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
			return -EISDIR;
		ofd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return ofd < 0 ? neg_errno() : ofd;
	}
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -ENXIO;
	if (flags & O_DIRECTORY)
		return -ENOTDIR;
	return fs_reopen(s, fd, &st, flags);
}

int p9fs_create(struct p9_server *s, int dirfd, const char *name, int flags, u32 mode, u32 uid,
		u32 gid, int *ofd, int *pfd, struct stat *st)
{
	int fd, dup_fd, ret;

	fd = fs_openat(s, dirfd, name, (flags & ~O_DIRECTORY) | O_CREAT | O_EXCL, mode & 07777);
	if (fd < 0)
		return fd;
	/* The fid keeps a second descriptor of the same file for metadata. */
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		ret = neg_errno();
		goto fail;
	}
	ret = fs_finish_new(s, dup_fd, uid, gid, mode, st);
	if (ret) {
		close(dup_fd);
		goto fail;
	}
	*ofd = fd;
	*pfd = dup_fd;
	return 0;
fail:
	close(fd);
	unlinkat(dirfd, name, 0);
	return ret;
}

/* After creating @name in @dirfd: its descriptor, ownership, exact mode and attributes. */
static int fs_adopt_new(struct p9_server *s, int dirfd, const char *name, bool dir, u32 uid,
			u32 gid, u32 mode, struct stat *st)
{
	int fd, ret;

	fd = fs_openat(s, dirfd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	ret = fs_finish_new(s, fd, uid, gid, mode, st);
	close(fd);
	if (ret)
		unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0);
	return ret;
}

int p9fs_mkdir(struct p9_server *s, int dirfd, const char *name, u32 mode, u32 uid, u32 gid,
	       struct stat *st)
{
	if (mkdirat(dirfd, name, mode & 07777))
		return neg_errno();
	return fs_adopt_new(s, dirfd, name, true, uid, gid, mode, st);
}

int p9fs_mknod(struct p9_server *s, int dirfd, const char *name, u32 mode, u32 major, u32 minor,
	       u32 uid, u32 gid, struct stat *st)
{
	mode_t type = mode & S_IFMT;

	/* Device nodes would hand the guest the host's devices. */
	if (type == 0)
		type = S_IFREG;
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
		return -EPERM;
	(void)major;
	(void)minor;
	if (mknodat(dirfd, name, type | (mode & 07777), 0))
		return neg_errno();
	return fs_adopt_new(s, dirfd, name, false, uid, gid, mode, st);
}

int p9fs_symlink(struct p9_server *s, int dirfd, const char *name, const char *target, u32 uid,
		 u32 gid, struct stat *st)
{
	/* The target is only text for the client to resolve: it is never followed here. */
	if (symlinkat(target, dirfd, name))
		return neg_errno();
	return fs_adopt_new(s, dirfd, name, false, uid, gid, 0777, st);
}

int p9fs_link(struct p9_server *s, int fd, int dirfd, const char *name)
{
	struct stat st;
	char n[16];

	if (!linkat(fd, "", dirfd, name, AT_EMPTY_PATH))
		return 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc names the same inode. */
	if (errno != ENOENT && errno != EPERM)
		return neg_errno();
	if (fstat(fd, &st))
		return neg_errno();
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	fd_name(fd, n);
	return linkat(s->proc_fd, n, dirfd, name, AT_SYMLINK_FOLLOW) ? neg_errno() : 0;
}

int p9fs_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	return renameat(olddirfd, oldname, newdirfd, newname) ? neg_errno() : 0;
}

int p9fs_unlinkat(int dirfd, const char *name, bool dir)
{
	return unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) ? neg_errno() : 0;
}

/* The directory holding what @fd names, and its name there (see the top of the file). */
static int fs_locate(struct p9_server *s, int fd, int *parent, char name[NAME_MAX + 1],
		     struct stat *st)
{
	char path[PATH_MAX], n[16];
	size_t root_len = strlen(s->root_path);
	char *rel, *comp, *slash;
	struct stat got;
	ssize_t len;
	int dir, next;

	if (fstat(fd, st))
		return neg_errno();
	if (p9fs_is_root(s, st))
		return -EBUSY;
	fd_name(fd, n);
	len = readlinkat(s->proc_fd, n, path, sizeof(path));
	if (len < 0)
		return neg_errno();
	if ((size_t)len >= sizeof(path))
		return -ENAMETOOLONG;
	path[len] = '\0';
	if (root_len == 1) {
		rel = path + 1;
	} else {
		if (strncmp(path, s->root_path, root_len) || path[root_len] != '/')
			return -ENOENT;
		rel = path + root_len + 1;
	}
	dir = fcntl(s->root_fd, F_DUPFD_CLOEXEC, 0);
	if (dir < 0)
		return neg_errno();
	for (comp = rel; (slash = strchr(comp, '/')); comp = slash + 1) {
		*slash = '\0';
		next = p9fs_name_ok(comp, strlen(comp), false)
			   ? fs_openat(s, dir, comp, O_PATH | O_DIRECTORY, 0)
			   : -ENOENT;
		close(dir);
		if (next < 0)
			return next;
		dir = next;
	}
	/* A deleted file's path ends in " (deleted)": it is not found again. */
	if (!p9fs_name_ok(comp, strlen(comp), false) ||
	    fstatat(dir, comp, &got, AT_SYMLINK_NOFOLLOW) || got.st_dev != st->st_dev ||
	    got.st_ino != st->st_ino) {
		close(dir);
		return -ENOENT;
	}
	strcpy(name, comp);
	*parent = dir;
	return 0;
}

int p9fs_rename(struct p9_server *s, int fd, int newdirfd, const char *newname)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int dir, ret;

	ret = fs_locate(s, fd, &dir, name, &st);
	if (ret)
		return ret;
	ret = p9fs_renameat(dir, name, newdirfd, newname);
	close(dir);
	return ret;
}

int p9fs_remove(struct p9_server *s, int fd)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int dir, ret;

	ret = fs_locate(s, fd, &dir, name, &st);
	if (ret)
		return ret;
	ret = p9fs_unlinkat(dir, name, S_ISDIR(st.st_mode));
	close(dir);
	return ret;
}

static struct timespec fs_time(u32 valid, u32 given, u32 set, u64 sec, u64 nsec)
{
	if (!(valid & given))
		return (struct timespec){ .tv_nsec = UTIME_OMIT };
	if (!(valid & set))
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = (long)nsec };
}

static int fs_truncate(struct p9_server *s, int fd, int ofd, const struct stat *st, u64 size)
{
	int flags, tfd, ret;

	if (size > INT64_MAX)
		return -EFBIG;
	if (ofd >= 0) {
		flags = fcntl(ofd, F_GETFL);
		if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY)
			return ftruncate(ofd, (off_t)size) ? neg_errno() : 0;
	}
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	tfd = fs_reopen(s, fd, st, O_WRONLY);
	if (tfd < 0)
		return tfd;
	ret = ftruncate(tfd, (off_t)size) ? neg_errno() : 0;
	close(tfd);
	return ret;
}

int p9fs_setattr(struct p9_server *s, int fd, int ofd, const struct p9fs_attr *a)
{
	struct timespec ts[2];
	struct stat st;
	char n[16];
	int ret;

	if (fstat(fd, &st))
		return neg_errno();
	if (a->valid & (P9_ATTR_UID | P9_ATTR_GID)) {
		uid_t uid = (a->valid & P9_ATTR_UID) ? (uid_t)a->uid : (uid_t)-1;
		gid_t gid = (a->valid & P9_ATTR_GID) ? (gid_t)a->gid : (gid_t)-1;

		/* On the fid's own inode: a symlink itself is changed, never its target. */
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			return neg_errno();
	}
	if (a->valid & P9_ATTR_MODE) {
		if (S_ISLNK(st.st_mode))
			return -EOPNOTSUPP;
		ret = fs_chmod(s, fd, a->mode & 07777);
		if (ret)
			return ret;
	}
	if (a->valid & P9_ATTR_SIZE) {
		ret = fs_truncate(s, fd, ofd, &st, a->size);
		if (ret)
			return ret;
	}
	if (a->valid & (P9_ATTR_ATIME | P9_ATTR_MTIME)) {
		if ((a->valid & P9_ATTR_ATIME_SET && a->atime_nsec >= 1000000000) ||
		    (a->valid & P9_ATTR_MTIME_SET && a->mtime_nsec >= 1000000000) ||
		    a->atime_sec > INT64_MAX || a->mtime_sec > INT64_MAX)
			return -EINVAL;
		ts[0] = fs_time(a->valid, P9_ATTR_ATIME, P9_ATTR_ATIME_SET, a->atime_sec,
				a->atime_nsec);
		ts[1] = fs_time(a->valid, P9_ATTR_MTIME, P9_ATTR_MTIME_SET, a->mtime_sec,
				a->mtime_nsec);
		if (!utimensat(fd, "", ts, AT_EMPTY_PATH))
			return 0;
		/* utimensat() takes AT_EMPTY_PATH since Linux 5.8. */
		if (errno != EINVAL || S_ISLNK(st.st_mode))
			return neg_errno();
		fd_name(fd, n);
		if (utimensat(s->proc_fd, n, ts, 0))
			return neg_errno();
	}
	return 0;
}

int p9fs_readlink(int fd, char *buf, size_t size)
{
	ssize_t len = readlinkat(fd, "", buf, size);

	/* An empty path names the fid's own inode; ENOENT means it is not a symlink. */
	if (len < 0)
		return errno == ENOENT ? -EINVAL : neg_errno();
	if ((size_t)len >= size)
		return -ENAMETOOLONG;
	buf[len] = '\0';
	return (int)len;
}

struct p9fs_dir *p9fs_dir_new(void)
{
	return calloc(1, sizeof(struct p9fs_dir));
}

void p9fs_dir_free(struct p9fs_dir *d)
{
	free(d);
}

int p9fs_dir_seek(struct p9fs_dir *d, int fd, u64 pos)
{
	struct p9fs_dirent e;
	int ret;

	if (pos == d->pos)
		return 0;
	/* Offsets are entry indexes, never host cookies: restart and count. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return neg_errno();
	d->pos = 0;
	d->off = d->len = d->cur_len = 0;
	while (d->pos < pos) {
		ret = p9fs_dir_peek(d, fd, &e);
		if (ret <= 0)
			return ret;
		p9fs_dir_next(d);
	}
	return 0;
}

int p9fs_dir_peek(struct p9fs_dir *d, int fd, struct p9fs_dirent *e)
{
	const size_t name_off = offsetof(struct dirent64, d_name);
	const struct dirent64 *de;
	ssize_t n;
	size_t reclen;

	if (d->off >= d->len) {
		n = getdents64(fd, d->buf, sizeof(d->buf));
		if (n < 0)
			return neg_errno();
		if (n == 0)
			return 0;
		d->off = 0;
		d->len = (size_t)n;
	}
	de = (const struct dirent64 *)(d->buf + d->off);
	if (d->len - d->off < name_off + 1)
		return -EIO;
	reclen = de->d_reclen;
	if (reclen < name_off + 1 || reclen > d->len - d->off)
		return -EIO;
	e->ino = de->d_ino;
	e->type = de->d_type;
	e->name = de->d_name;
	e->len = strnlen(de->d_name, reclen - name_off);
	d->cur_len = reclen;
	return 1;
}

u64 p9fs_dir_next(struct p9fs_dir *d)
{
	d->off += d->cur_len;
	d->cur_len = 0;
	return ++d->pos;
}
