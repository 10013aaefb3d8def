// SPDX-License-Identifier: GPL-2.0
/*
 * default_guest.c: the newc cpio writer (every archive parsed back: headers,
 * names, modes, device numbers, sizes, padding, the trailer), the module
 * closure from modules.dep (dependency order, compressed names, '-' and '_',
 * built-in modules, missing ones, loops, merged /usr), the whole setup on
 * fake host trees (kernel, share, the initramfs as arm64/boot.c reads it,
 * stdin /dev/null), failures that must leave nothing configured and no
 * descriptor open, and the embedded /init being an aarch64 executable.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "default_guest.h"
#include "util/log.h"
#include "vm.h"
#include "tests/unit/capture.h"
#include "tests/unit/test.h"

/* --- a cpio reader, independent of the writer --------------------------- */

struct entry {
	char name[256];
	u32 ino, mode, uid, gid, nlink, mtime, rmajor, rminor;
	u8 *data; /* into the archive */
	u32 size;
};

struct archive {
	u8 *buf;
	size_t len;
	struct entry e[64];
	unsigned nr;
	bool trailer;	 /* ended with TRAILER!!! exactly at the end */
	bool padding_ok; /* every pad byte zero, every header 4-byte aligned */
};

static u32 hex8(const u8 *p, bool *ok)
{
	u32 v = 0;

	for (int i = 0; i < 8; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (u32)(c - '0');
		else if (c >= 'A' && c <= 'F')
			v |= (u32)(c - 'A' + 10);
		else
			*ok = false;
	}
	return v;
}

static bool zeros(const u8 *p, size_t n)
{
	while (n--) {
		if (*p++)
			return false;
	}
	return true;
}

/* Parse @buf; false if it is not a well-formed newc archive. */
static bool parse(struct archive *a)
{
	size_t off = 0;

	a->nr = 0;
	a->trailer = false;
	a->padding_ok = true;
	while (off + 110 <= a->len) {
		bool ok = memcmp(a->buf + off, "070701", 6) == 0;
		const u8 *h = a->buf + off + 6;
		struct entry e = { 0 };
		u32 namesize, check;
		size_t name_off, data_off, end;

		if (off % 4)
			a->padding_ok = false;
		e.ino = hex8(h, &ok);
		e.mode = hex8(h + 8, &ok);
		e.uid = hex8(h + 16, &ok);
		e.gid = hex8(h + 24, &ok);
		e.nlink = hex8(h + 32, &ok);
		e.mtime = hex8(h + 40, &ok);
		e.size = hex8(h + 48, &ok);
		if (hex8(h + 56, &ok) || hex8(h + 64, &ok))
			ok = false; /* devmajor/devminor: 0 */
		e.rmajor = hex8(h + 72, &ok);
		e.rminor = hex8(h + 80, &ok);
		namesize = hex8(h + 88, &ok);
		check = hex8(h + 96, &ok);
		name_off = off + 110;
		if (!ok || check || namesize == 0 || namesize > sizeof(e.name) ||
		    name_off + namesize > a->len || a->buf[name_off + namesize - 1] != '\0')
			return false;
		memcpy(e.name, a->buf + name_off, namesize);
		data_off = (name_off + namesize + 3) & ~(size_t)3;
		if (data_off > a->len ||
		    !zeros(a->buf + name_off + namesize, data_off - name_off - namesize))
			a->padding_ok = false;
		end = (data_off + e.size + 3) & ~(size_t)3;
		if (end > a->len)
			return false;
		if (!zeros(a->buf + data_off + e.size, end - data_off - e.size))
			a->padding_ok = false;
		e.data = a->buf + data_off;
		off = end;
		if (!strcmp(e.name, "TRAILER!!!")) {
			a->trailer = off == a->len;
			return true;
		}
		if (a->nr == ARRAY_SIZE(a->e))
			return false;
		a->e[a->nr++] = e;
	}
	return false;
}

static const struct entry *find(const struct archive *a, const char *name)
{
	for (unsigned i = 0; i < a->nr; i++) {
		if (!strcmp(a->e[i].name, name))
			return &a->e[i];
	}
	return NULL;
}

/* The whole content of @fd from offset 0. */
static u8 *slurp_fd(int fd, size_t *len)
{
	struct stat st;
	u8 *p;

	if (fstat(fd, &st) || st.st_size <= 0)
		return NULL;
	p = malloc((size_t)st.st_size);
	if (p && pread(fd, p, (size_t)st.st_size, 0) != st.st_size) {
		free(p);
		return NULL;
	}
	*len = (size_t)st.st_size;
	return p;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* --- fake host trees --------------------------------------------------- */

static char tmp[64];

static void put(const char *rel, const char *content)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	for (slash = strchr(path + strlen(tmp) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void tree_begin(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/coho-dg-XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
}

static void tree_end(void)
{
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define MODDIR "lib/modules/6.1.0-test/"

/*
 * A Debian-like tree: compressed and plain names, dependencies listed out of
 * load order (9p's fscache before netfs, which fscache needs), a '-' name,
 * built-in modules, and modules nobody asked for.
 */
static void fake_modules(bool files)
{
	static const char *const mods[] = {
		"kernel/drivers/virtio/virtio_pci.ko",
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz",
		"kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
		"kernel/fs/netfs/netfs.ko.zst",
		"kernel/fs/fscache/fscache.ko.zst",
		"kernel/net/9p/9pnet.ko.xz",
		"kernel/net/9p/9pnet_virtio.ko.xz",
		"kernel/fs/9p/9p.ko.gz",
		"kernel/drivers/char/virtio-console.ko",
		"kernel/drivers/misc/unrelated.ko",
	};

	put(MODDIR "modules.dep",
	    "kernel/drivers/misc/unrelated.ko: kernel/fs/netfs/netfs.ko.zst\n"
	    "kernel/drivers/virtio/virtio_pci.ko: "
	    "kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz "
	    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko\n"
	    "kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz:\n"
	    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
	    "kernel/fs/netfs/netfs.ko.zst:\n"
	    "kernel/fs/fscache/fscache.ko.zst: kernel/fs/netfs/netfs.ko.zst\n"
	    "kernel/net/9p/9pnet.ko.xz:\n"
	    "kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz\n"
	    "kernel/fs/9p/9p.ko.gz: kernel/fs/fscache/fscache.ko.zst kernel/net/9p/9pnet.ko.xz "
	    "kernel/fs/netfs/netfs.ko.zst\n"
	    "kernel/drivers/char/virtio-console.ko:\n"
	    "not a module line\n");
	put(MODDIR "modules.builtin", "kernel/drivers/virtio/virtio.ko\n"
				      "kernel/drivers/virtio/virtio_ring.ko\n"
				      "kernel/drivers/virtio/virtio_mmio.ko\n");
	for (size_t i = 0; files && i < ARRAY_SIZE(mods); i++) {
		char content[128], rel[256];

		snprintf(content, sizeof(content), "module %s\n", mods[i]);
		snprintf(rel, sizeof(rel), MODDIR "%s", mods[i]);
		put(rel, content);
	}
}

/* The closure's paths, relative to the module directory, joined by spaces. */
static const char *rel_list(const struct dg_modules *m)
{
	static char out[2048];
	char prefix[128];
	size_t plen;

	snprintf(prefix, sizeof(prefix), "%s/" MODDIR, tmp);
	plen = strlen(prefix);
	out[0] = '\0';
	for (u32 i = 0; i < m->nr; i++) {
		const char *p = m->path[i];

		if (!strncmp(p, prefix, plen))
			p += plen;
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "", p);
	}
	return out;
}

static void test_cpio_roundtrip(void)
{
	struct cpio_writer w = { .fd = memfd_create("t", MFD_CLOEXEC) };
	struct archive a = { 0 };
	int src = memfd_create("src", MFD_CLOEXEC);
	u8 *big = malloc(70001);
	const struct entry *e;

	for (size_t i = 0; i < 70001; i++)
		big[i] = (u8)(i * 7 + 3);
	CHECK(write(src, big, 70001) == 70001);
	lseek(src, 0, SEEK_SET);
	CHECK_EQ_U64(cpio_add(&w, "d", S_IFDIR | 0755, NULL, 0), 0);
	CHECK_EQ_U64(cpio_add_chr(&w, "d/console", 0600, 5, 1), 0);
	CHECK_EQ_U64(cpio_add(&w, "hello", S_IFREG | 0644, "hello", 5), 0);
	CHECK_EQ_U64(cpio_add(&w, "abc", S_IFREG | 0755, "abc", 3), 0);
	CHECK_EQ_U64(cpio_add(&w, "empty", S_IFREG | 0644, NULL, 0), 0);
	CHECK_EQ_U64(cpio_add_fd(&w, "d/big.ko.xz", S_IFREG | 0644, src, 70001), 0);
	/* Refused: an absolute name, and a file shorter than it claims. */
	CHECK_EQ_U64(cpio_add(&w, "/abs", S_IFREG | 0644, "x", 1), (u64)-EINVAL);
	lseek(src, 0, SEEK_SET);
	CHECK_EQ_U64(cpio_add_fd(&w, "short", S_IFREG | 0644, src, 70002), (u64)-EIO);
	close(src);

	/* A fresh archive for the parse (the refused "short" left a partial entry). */
	{
		struct cpio_writer w2 = { .fd = memfd_create("t2", MFD_CLOEXEC) };

		src = memfd_create("src", MFD_CLOEXEC);
		CHECK(write(src, big, 70001) == 70001);
		lseek(src, 0, SEEK_SET);
		CHECK_EQ_U64(cpio_add(&w2, "d", S_IFDIR | 0755, NULL, 0), 0);
		CHECK_EQ_U64(cpio_add_chr(&w2, "d/console", 0600, 5, 1), 0);
		CHECK_EQ_U64(cpio_add(&w2, "hello", S_IFREG | 0644, "hello", 5), 0);
		CHECK_EQ_U64(cpio_add(&w2, "abc", S_IFREG | 0755, "abc", 3), 0);
		CHECK_EQ_U64(cpio_add(&w2, "empty", S_IFREG | 0644, NULL, 0), 0);
		CHECK_EQ_U64(cpio_add_fd(&w2, "d/big.ko.xz", S_IFREG | 0644, src, 70001), 0);
		CHECK_EQ_U64(cpio_finish(&w2), 0);
		close(src);
		a.buf = slurp_fd(w2.fd, &a.len);
		CHECK(a.buf != NULL);
		CHECK_EQ_U64(a.len, w2.off);
		close(w2.fd);
	}
	close(w.fd);
	CHECK_EQ_U64(a.len % 4, 0);
	CHECK(a.buf && parse(&a));
	CHECK(a.trailer);
	CHECK(a.padding_ok);
	CHECK_EQ_U64(a.nr, 6);
	for (unsigned i = 0; i < a.nr; i++) {
		CHECK_EQ_U64(a.e[i].ino, i + 1); /* distinct inodes: no accidental hard links */
		CHECK_EQ_U64(a.e[i].uid, 0);
		CHECK_EQ_U64(a.e[i].gid, 0);
		CHECK_EQ_U64(a.e[i].mtime, 0);
	}
	e = find(&a, "d");
	CHECK(e && e->mode == (S_IFDIR | 0755) && e->size == 0 && e->nlink == 2);
	e = find(&a, "d/console");
	CHECK(e && e->mode == (S_IFCHR | 0600) && e->rmajor == 5 && e->rminor == 1 &&
	      e->size == 0 && e->nlink == 1);
	e = find(&a, "hello");
	CHECK(e && e->mode == (S_IFREG | 0644) && e->size == 5 && !memcmp(e->data, "hello", 5));
	e = find(&a, "abc");
	CHECK(e && e->mode == (S_IFREG | 0755) && e->size == 3 && !memcmp(e->data, "abc", 3));
	e = find(&a, "empty");
	CHECK(e && e->size == 0);
	e = find(&a, "d/big.ko.xz");
	CHECK(e && e->size == 70001 && !memcmp(e->data, big, 70001));
	free(a.buf);
	free(big);
}

static void test_modules_closure(void)
{
	static const char *const want[] = { "virtio_pci", "9pnet_virtio", "9p", "virtio_console" };
	struct dg_modules m;
	const char *err;

	tree_begin();
	fake_modules(false);
	capture_begin();
	CHECK_EQ_U64(dg_modules_resolve(tmp, "6.1.0-test", want, ARRAY_SIZE(want), &m), 0);
	err = capture_end();
	CHECK_STR(err, "");
	/* Dependencies first, each once; 9p's netfs before fscache (which needs it). */
	CHECK_STR(rel_list(&m), "kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz "
				"kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
				"kernel/drivers/virtio/virtio_pci.ko "
				"kernel/net/9p/9pnet.ko.xz "
				"kernel/net/9p/9pnet_virtio.ko.xz "
				"kernel/fs/netfs/netfs.ko.zst "
				"kernel/fs/fscache/fscache.ko.zst "
				"kernel/fs/9p/9p.ko.gz "
				"kernel/drivers/char/virtio-console.ko");
	CHECK_EQ_U64(m.builtin, 0);
	CHECK(m.nr && m.path[0][0] == '/');
	dg_modules_free(&m);
	CHECK(m.nr == 0 && m.path == NULL);

	/* Built in: skipped quietly. Unknown: one warning, and still no error. */
	{
		static const char *const w2[] = { "virtio-mmio", "9pnet-virtio", "nosuch_mod" };

		capture_begin();
		CHECK_EQ_U64(dg_modules_resolve(tmp, "6.1.0-test", w2, 3, &m), 0);
		err = capture_end();
		CHECK_EQ_U64(m.builtin, 1);
		CHECK_STR(rel_list(&m),
			  "kernel/net/9p/9pnet.ko.xz kernel/net/9p/9pnet_virtio.ko.xz");
		CHECK_EQ_U64(count_lines(err), 1);
		CHECK(strstr(err, "coho: warning: ") == err && strstr(err, "nosuch_mod"));
		dg_modules_free(&m);
	}
	/* A release with a '/' names no directory. */
	CHECK_EQ_U64(dg_modules_resolve(tmp, "../x", want, 1, &m), (u64)-EINVAL);
	tree_end();

	/* A dependency loop: one error line, nothing returned. */
	tree_begin();
	put(MODDIR "modules.dep", "kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n");
	capture_begin();
	CHECK_EQ_U64(dg_modules_resolve(tmp, "6.1.0-test", (const char *const[]){ "a" }, 1, &m),
		     (u64)-ELOOP);
	err = capture_end();
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "coho: error: ") == err && strstr(err, "loop"));
	CHECK(m.nr == 0 && m.path == NULL);
	tree_end();

	/* Merged /usr without the /lib link; and no modules.dep at all: a warning. */
	tree_begin();
	put("usr/" MODDIR "modules.dep", "kernel/fs/9p/9p.ko:\n");
	CHECK_EQ_U64(dg_modules_resolve(tmp, "6.1.0-test", (const char *const[]){ "9p" }, 1, &m),
		     0);
	CHECK_EQ_U64(m.nr, 1);
	CHECK(m.nr && strstr(m.path[0], "/usr/" MODDIR "kernel/fs/9p/9p.ko"));
	dg_modules_free(&m);
	tree_end();
	tree_begin();
	capture_begin();
	CHECK_EQ_U64(dg_modules_resolve(tmp, "6.1.0-test", (const char *const[]){ "9p" }, 1, &m),
		     0);
	err = capture_end();
	CHECK_EQ_U64(m.nr, 0);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "coho: warning: ") == err && strstr(err, "modules.dep"));
	tree_end();
}

/* The initramfs as arm64/boot.c reads it: by cfg->initrd's path. */
static bool read_initramfs(const struct vm_config *cfg, struct archive *a)
{
	int fd = cfg->initrd ? open(cfg->initrd, O_RDONLY | O_CLOEXEC) : -1;

	memset(a, 0, sizeof(*a));
	if (fd < 0)
		return false;
	a->buf = slurp_fd(fd, &a->len);
	close(fd);
	return a->buf && parse(a) && a->trailer && a->padding_ok;
}

/* Run default_guest_prepare with stdin on /dev/null (@null) or a pipe. */
static int prepare_with_stdin(struct vm_config *cfg, bool null, const char *release)
{
	int saved = dup(STDIN_FILENO), p[2] = { -1, -1 }, ret;

	if (null) {
		int fd = open("/dev/null", O_RDONLY);

		dup2(fd, STDIN_FILENO);
		close(fd);
	} else {
		CHECK(pipe(p) == 0);
		dup2(p[0], STDIN_FILENO);
	}
	ret = default_guest_prepare(cfg, tmp, release);
	dup2(saved, STDIN_FILENO);
	close(saved);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	return ret;
}

static void free_cfg(struct vm_config *cfg)
{
	for (u32 i = 0; i < cfg->nr_shares; i++)
		free((char *)cfg->shares[i].dir);
	memset(cfg, 0, sizeof(*cfg));
	default_guest_release();
}

static void test_prepare(void)
{
	struct vm_config cfg = { 0 };
	struct archive a;
	const struct entry *e;
	char want[512];
	unsigned fds = open_fds();

	tree_begin();
	fake_modules(true);
	put("boot/vmlinuz-6.1.0-test", "not really a kernel");
	CHECK_EQ_U64(prepare_with_stdin(&cfg, false, "6.1.0-test"), 0);
	snprintf(want, sizeof(want), "%s/boot/vmlinuz-6.1.0-test", tmp);
	CHECK_STR(cfg.kernel, want);
	CHECK(cfg.initrd && !strncmp(cfg.initrd, "/proc/self/fd/", 14));
	CHECK_EQ_U64(cfg.nr_shares, 1);
	CHECK_STR(cfg.shares[0].dir, tmp);
	CHECK_STR(cfg.shares[0].tag, "hostroot");
	CHECK(cfg.shares[0].read_only);
	CHECK(cfg.params == NULL); /* the console= default comes from arm64/boot.c */
	CHECK(read_initramfs(&cfg, &a));
	for (const char *const *d = (const char *const[]){ "dev", "proc", "sys", "host", "tmp",
							   "run", "modules", NULL };
	     *d; d++) {
		e = find(&a, *d);
		CHECK(e && e->mode == (S_IFDIR | 0755));
	}
	e = find(&a, "dev/console");
	CHECK(e && e->mode == (S_IFCHR | 0600) && e->rmajor == 5 && e->rminor == 1);
	CHECK(find(&a, "dev/console") > find(&a, "dev")); /* the directory first */
	e = find(&a, "init");
	CHECK(e && e->mode == (S_IFREG | 0755));
	CHECK(e && e->size == (u32)(coho_guest_init_end - coho_guest_init_start) &&
	      !memcmp(e->data, coho_guest_init_start, e->size));
	/* Modules copied as they are, under their own (compressed) names. */
	e = find(&a, "modules/9pnet_virtio.ko.xz");
	CHECK(e && e->size == strlen("module kernel/net/9p/9pnet_virtio.ko.xz\n") &&
	      !memcmp(e->data, "module kernel/net/9p/9pnet_virtio.ko.xz\n", e->size));
	CHECK(find(&a, "modules/unrelated.ko") == NULL);
	CHECK(find(&a, "modules/virtio-console.ko") == NULL); /* only for --console virtio */
	e = find(&a, "modules.order");
	CHECK(e &&
	      e->size == strlen("/modules/virtio_pci_modern_dev.ko.xz\n"
				"/modules/virtio_pci_legacy_dev.ko\n"
				"/modules/virtio_pci.ko\n"
				"/modules/9pnet.ko.xz\n"
				"/modules/9pnet_virtio.ko.xz\n"
				"/modules/netfs.ko.zst\n"
				"/modules/fscache.ko.zst\n"
				"/modules/9p.ko.gz\n") &&
	      !memcmp(e->data,
		      "/modules/virtio_pci_modern_dev.ko.xz\n"
		      "/modules/virtio_pci_legacy_dev.ko\n"
		      "/modules/virtio_pci.ko\n"
		      "/modules/9pnet.ko.xz\n"
		      "/modules/9pnet_virtio.ko.xz\n"
		      "/modules/netfs.ko.zst\n"
		      "/modules/fscache.ko.zst\n"
		      "/modules/9p.ko.gz\n",
		      e->size));
	CHECK(find(&a, "no-console-input") == NULL);
	free(a.buf);
	free_cfg(&cfg);
	CHECK_EQ_U64(open_fds(), fds);

	/* stdin /dev/null: the guest's shell gets no console input either. */
	CHECK_EQ_U64(prepare_with_stdin(&cfg, true, "6.1.0-test"), 0);
	CHECK(read_initramfs(&cfg, &a));
	e = find(&a, "no-console-input");
	CHECK(e && e->size == 0);
	free(a.buf);
	free_cfg(&cfg);

	/* virtio-mmio (built in here) instead of virtio-pci; hvc0 needs virtio_console. */
	cfg.transport = VIRTIO_TRANSPORT_MMIO;
	cfg.console = CONSOLE_VIRTIO;
	CHECK_EQ_U64(prepare_with_stdin(&cfg, false, "6.1.0-test"), 0);
	CHECK(read_initramfs(&cfg, &a));
	CHECK(find(&a, "modules/virtio_pci.ko") == NULL);
	CHECK(find(&a, "modules/virtio-console.ko") != NULL);
	e = find(&a, "modules.order");
	CHECK(e && e->size > 28 && e->data[e->size - 28] == '\n' &&
	      !memcmp(e->data + e->size - 27, "/modules/virtio-console.ko\n", 27));
	free(a.buf);
	/* A second setup replaces the first one's memfd. */
	free((char *)cfg.shares[0].dir);
	cfg.nr_shares = 0;
	CHECK_EQ_U64(prepare_with_stdin(&cfg, false, "6.1.0-test"), 0);
	free_cfg(&cfg);
	CHECK_EQ_U64(open_fds(), fds);
	tree_end();
}

/* A failed setup: @err_has in its one error line, nothing configured, no descriptor left. */
static void expect_refused(struct vm_config *cfg, const char *release, int errno_want,
			   const char *err_has)
{
	u32 shares = cfg->nr_shares;
	unsigned fds = open_fds();
	const char *err;
	int ret;

	capture_begin();
	ret = prepare_with_stdin(cfg, false, release);
	err = capture_end();
	CHECK_EQ_U64(ret, (u64)-errno_want);
	CHECK_EQ_U64(count_lines(err), 1);
	if (!(strstr(err, "coho: error: ") == err && strstr(err, err_has)))
		fprintf(stderr, "  error line: %s", err);
	CHECK(strstr(err, "coho: error: ") == err && strstr(err, err_has));
	CHECK(cfg->kernel == NULL);
	CHECK(cfg->initrd == NULL);
	CHECK_EQ_U64(cfg->nr_shares, shares);
	CHECK_EQ_U64(open_fds(), fds);
}

static void test_refused(void)
{
	struct vm_config cfg = { 0 };
	char path[256];

	/* No kernel: the error names the path and -k. */
	tree_begin();
	fake_modules(true);
	snprintf(path, sizeof(path), "%s/boot/vmlinuz-6.1.0-test: No such file", tmp);
	expect_refused(&cfg, "6.1.0-test", ENOENT, path);
	expect_refused(&cfg, "6.1.0-test", ENOENT, "(-k FILE)");
	/* A module modules.dep lists but the tree lacks. */
	put("boot/vmlinuz-6.1.0-test", "kernel");
	snprintf(path, sizeof(path), "%s/" MODDIR "kernel/drivers/virtio/virtio_pci.ko", tmp);
	remove(path);
	expect_refused(&cfg, "6.1.0-test", ENOENT, "virtio_pci.ko: No such file");
	put(MODDIR "kernel/drivers/virtio/virtio_pci.ko", "back");
	/* Every share taken, or the tag taken by --9p. */
	cfg.nr_shares = VM_MAX_SHARES;
	for (u32 i = 0; i < VM_MAX_SHARES; i++)
		cfg.shares[i] = (struct share_config){ .dir = "/x", .tag = "t" };
	expect_refused(&cfg, "6.1.0-test", E2BIG, "9p share");
	cfg.nr_shares = 1;
	cfg.shares[0].tag = "hostroot";
	expect_refused(&cfg, "6.1.0-test", EINVAL, "hostroot");
	memset(&cfg, 0, sizeof(cfg));
	/* A release that would leave boot/. */
	expect_refused(&cfg, "../../etc/passwd", EINVAL, "release");
	/* And it all works again once fixed. */
	CHECK_EQ_U64(prepare_with_stdin(&cfg, false, "6.1.0-test"), 0);
	free_cfg(&cfg);
	tree_end();
}

/* default_guest_setup(): the host's release on arm64, a refusal elsewhere. */
static void test_setup_arch(void)
{
	struct vm_config cfg = { 0 };
	struct utsname u;
	const char *err;
	char path[512];
	int ret;

	tree_begin();
	capture_begin();
	ret = default_guest_setup(&cfg, tmp);
	err = capture_end();
	CHECK_EQ_U64(ret, (u64)-ENOENT);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(uname(&u) == 0);
	snprintf(path, sizeof(path), "%s/boot/vmlinuz-%s", tmp, u.release);
#ifdef __aarch64__
	CHECK(strstr(err, path) != NULL);
#else
	CHECK(strstr(err, path) == NULL);
	CHECK_STR(err, "coho: error: no kernel given (-k FILE): the default guest boots the host's "
		       "own kernel, which only works on an arm64 host\n");
#endif
	CHECK(cfg.kernel == NULL && cfg.initrd == NULL && cfg.nr_shares == 0);
	tree_end();
}

/* The embedded /init is a static aarch64 executable, whatever coho was built for. */
static void test_embedded_init(void)
{
	const u8 *p = coho_guest_init_start;
	size_t len = (size_t)(coho_guest_init_end - coho_guest_init_start);
	Elf64_Ehdr h;

	CHECK(len > sizeof(h));
	if (len <= sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	CHECK(!memcmp(h.e_ident, ELFMAG, SELFMAG));
	CHECK_EQ_U64(h.e_ident[EI_CLASS], ELFCLASS64);
	CHECK_EQ_U64(h.e_ident[EI_DATA], ELFDATA2LSB);
	CHECK_EQ_U64(get_le16(&h.e_machine), EM_AARCH64);
	CHECK_EQ_U64(get_le16(&h.e_type), ET_EXEC); /* static, not PIE: no interpreter */
	CHECK_EQ_U64((uintptr_t)p % 16, 0);
}

TEST_MAIN(test_cpio_roundtrip, test_modules_closure, test_prepare, test_refused, test_setup_arch,
	  test_embedded_init)
