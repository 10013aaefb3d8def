/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_P9_FS_H
#define COHO_VIRTIO_P9_FS_H

/*
 * The filesystem operations behind the 9P server (virtio/p9-fs.c), used only
 * by virtio/p9.c. They work on descriptors below the export root and on
 * single name components the protocol layer has already checked with
 * p9fs_name_ok(); they return a descriptor, 0 or -errno.
 */
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "virtio/p9.h"

/* Tsetattr's valid bits (the Linux client sends its struct iattr flags). */
#define P9_ATTR_MODE	  0x001
#define P9_ATTR_UID	  0x002
#define P9_ATTR_GID	  0x004
#define P9_ATTR_SIZE	  0x008
#define P9_ATTR_ATIME	  0x010
#define P9_ATTR_MTIME	  0x020
#define P9_ATTR_CTIME	  0x040
#define P9_ATTR_ATIME_SET 0x080
#define P9_ATTR_MTIME_SET 0x100

struct p9fs_attr {
	u32 valid;
	u32 mode;
	u32 uid;
	u32 gid;
	u64 size;
	u64 atime_sec, atime_nsec;
	u64 mtime_sec, mtime_nsec;
};

/* One directory entry as p9fs_dir_peek() found it; @name points into the stream. */
struct p9fs_dirent {
	u64 ino;
	u8 type; /* DT_* */
	const char *name;
	size_t len;
};

/* The reading position of an open directory; positions are entry indexes. */
struct p9fs_dir;

int p9fs_init(struct p9_server *s, const char *root_dir);
void p9fs_fini(struct p9_server *s);

/* A plain name: not empty, no '/' or NUL, not "." (nor ".." unless @dotdot). */
bool p9fs_name_ok(const char *name, size_t len, bool dotdot);

/* O_PATH descriptor of @name in directory @dirfd; ".." never rises above the root. */
int p9fs_walk(struct p9_server *s, int dirfd, const char *name);
bool p9fs_is_root(struct p9_server *s, const struct stat *st);

/* Open the file behind O_PATH @fd for I/O (regular files and directories only). */
int p9fs_open(struct p9_server *s, int fd, int flags);

/* Create regular file @name; *@ofd is open with @flags, *@pfd names it for the fid. */
int p9fs_create(struct p9_server *s, int dirfd, const char *name, int flags, u32 mode, u32 uid,
		u32 gid, int *ofd, int *pfd, struct stat *st);
int p9fs_mkdir(struct p9_server *s, int dirfd, const char *name, u32 mode, u32 uid, u32 gid,
	       struct stat *st);
int p9fs_mknod(struct p9_server *s, int dirfd, const char *name, u32 mode, u32 major, u32 minor,
	       u32 uid, u32 gid, struct stat *st);
int p9fs_symlink(struct p9_server *s, int dirfd, const char *name, const char *target, u32 uid,
		 u32 gid, struct stat *st);
int p9fs_link(struct p9_server *s, int fd, int dirfd, const char *name);
int p9fs_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname);
int p9fs_unlinkat(int dirfd, const char *name, bool dir);
/* Trename and Tremove name the file by its fid: its parent is found again from the root. */
int p9fs_rename(struct p9_server *s, int fd, int newdirfd, const char *newname);
int p9fs_remove(struct p9_server *s, int fd);

int p9fs_setattr(struct p9_server *s, int fd, int ofd, const struct p9fs_attr *a);
int p9fs_readlink(int fd, char *buf, size_t size);

struct p9fs_dir *p9fs_dir_new(void);
void p9fs_dir_free(struct p9fs_dir *d);
/* Position @d (reading @fd) before entry @pos; entries are counted from 0. */
int p9fs_dir_seek(struct p9fs_dir *d, int fd, u64 pos);
/* The next entry without consuming it: 1, 0 at the end, or -errno. */
int p9fs_dir_peek(struct p9fs_dir *d, int fd, struct p9fs_dirent *e);
/* Consume the peeked entry; returns the position after it. */
u64 p9fs_dir_next(struct p9fs_dir *d);

#endif
