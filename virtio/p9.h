/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VIRTIO_P9_H
#define COHO_VIRTIO_P9_H

#include <sys/types.h>

#include "util/types.h"

/*
 * A 9P2000.L file server for one exported directory, independent of the
 * transport: the virtio-9p device gathers a T-message from the guest's
 * device-readable buffers, calls p9_handle() and scatters the R-message into
 * the device-writable ones.
 *
 * The guest is hostile. Every field of a message is bounds-checked, nothing
 * outside the export can be reached (fids are O_PATH descriptors below the
 * root; see virtio/p9-fs.c for the containment rules), and a malformed
 * message gets an Rlerror instead of a crash. Not thread-safe: one caller
 * (the device's thread) handles requests one after the other.
 */

/* msize offered: the caller's request and response buffers need no more. */
#define P9_MAX_MSIZE   (512 * 1024)
/* Smallest msize a client may negotiate (the Linux client's own minimum). */
#define P9_MIN_MSIZE   4096
/* Fids one client may hold at once; one more gets EMFILE. */
#define P9_MAX_FIDS    4096
#define P9_FID_BUCKETS 256

/* Message types (Linux include/net/9p/9p.h); an R-message is its T-message + 1. */
enum p9_msg_type {
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_TLOPEN = 12,
	P9_TLCREATE = 14,
	P9_TSYMLINK = 16,
	P9_TMKNOD = 18,
	P9_TRENAME = 20,
	P9_TREADLINK = 22,
	P9_TGETATTR = 24,
	P9_TSETATTR = 26,
	P9_TXATTRWALK = 30,
	P9_TXATTRCREATE = 32,
	P9_TREADDIR = 40,
	P9_TFSYNC = 50,
	P9_TLOCK = 52,
	P9_TGETLOCK = 54,
	P9_TLINK = 70,
	P9_TMKDIR = 72,
	P9_TRENAMEAT = 74,
	P9_TUNLINKAT = 76,
	P9_TVERSION = 100,
	P9_TAUTH = 102,
	P9_TATTACH = 104,
	P9_TFLUSH = 108,
	P9_TWALK = 110,
	P9_TREAD = 116,
	P9_TWRITE = 118,
	P9_TCLUNK = 120,
	P9_TREMOVE = 122,
};

#define P9_HDR_SIZE  7 /* size[4] type[1] tag[2] */
#define P9_QID_SIZE  13
#define P9_NOTAG     0xffff
#define P9_NOFID     0xffffffffu
#define P9_MAXWELEM  16
#define P9_QTDIR     0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE    0x00

/* Tlopen/Tlcreate flags: Linux's x86 O_* values, whatever the guest's architecture. */
#define P9_DOTL_RDONLY	  00000000
#define P9_DOTL_WRONLY	  00000001
#define P9_DOTL_RDWR	  00000002
#define P9_DOTL_CREATE	  00000100
#define P9_DOTL_EXCL	  00000200
#define P9_DOTL_TRUNC	  00001000
#define P9_DOTL_APPEND	  00002000
#define P9_DOTL_DSYNC	  00010000
#define P9_DOTL_DIRECTORY 00200000
#define P9_DOTL_SYNC	  04000000

#define P9_DOTL_AT_REMOVEDIR 0x200
#define P9_LOCK_SUCCESS	     0
#define P9_LOCK_TYPE_UNLCK   2

struct p9_fid;

struct p9_server {
	int root_fd;	/* O_PATH descriptor of the export's root directory */
	int proc_fd;	/* /proc/self/fd: reopens an O_PATH fid for I/O */
	dev_t root_dev; /* identity of the root: ".." stops there */
	ino_t root_ino;
	char *root_path; /* the root as the kernel names it (for Tremove/Trename) */
	bool read_only;	 /* every modifying request gets EROFS */
	bool no_openat2; /* openat2() is missing (qemu-user, Linux < 5.6) */
	u32 msize;	 /* negotiated by Tversion; P9_MAX_MSIZE before */
	unsigned int nr_fids;
	struct p9_fid *fids[P9_FID_BUCKETS];
};

/* Export @root_dir. Returns 0 or -errno (and logs one line). */
int p9_server_init(struct p9_server *s, const char *root_dir, bool read_only);

/* Forget every fid and close the export. */
void p9_server_destroy(struct p9_server *s);

/*
 * Handle one request: @req/@req_len is the T-message as the guest sent it; the
 * R-message is written to @resp, at most @resp_cap bytes (and never more than
 * the negotiated msize). Returns the response length. Never fails: malformed
 * input gets an Rlerror; 0 means not even a response header could be built
 * (request shorter than a header, or no room for an Rlerror), and the caller
 * drops the request.
 */
size_t p9_handle(struct p9_server *s, const u8 *req, size_t req_len, u8 *resp, size_t resp_cap);

#endif
