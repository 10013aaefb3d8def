// SPDX-License-Identifier: GPL-2.0
/*
 * The default guest: `coho run` with no kernel boots the host's own kernel
 * with coho's embedded /init (guest/init.c) in an initramfs built here, in a
 * memfd, and the host's / shared read-only over 9p. The initramfs:
 *
 *   dev/ host/ modules/ proc/ run/ sys/ tmp/   directories /init uses
 *   dev/console                                5:1, opened by the kernel before /init runs
 *   init                                       the embedded executable
 *   modules/NAME.ko[.xz|.zst|.gz]              copied as they are on the host
 *   modules.order                              their paths in load order
 *   no-console-input                           only when coho's stdin is /dev/null
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "default_guest.h"
#include "util/log.h"
#include "vm.h"

/* --- newc cpio ------------------------------------------------------- */

#define CPIO_NAME_MAX 4096

static int write_all(int fd, const void *buf, size_t len)
{
	const u8 *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cpio_write(struct cpio_writer *w, const void *buf, size_t len)
{
	int ret = write_all(w->fd, buf, len);

	if (!ret)
		w->off += len;
	return ret;
}

/* Headers, names and data all start on 4-byte boundaries. */
static int cpio_pad(struct cpio_writer *w)
{
	static const u8 zeros[4];

	return cpio_write(w, zeros, (size_t)((4 - (w->off & 3)) & 3));
}

static int cpio_header(struct cpio_writer *w, const char *name, u32 mode, u32 nlink, u64 size,
		       u32 rmajor, u32 rminor, bool trailer)
{
	size_t namesize = strlen(name) + 1;
	char hdr[111];
	int ret;

	if (size > UINT32_MAX)
		return -EFBIG;
	if (namesize > CPIO_NAME_MAX || name[0] == '/')
		return -EINVAL;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
	 * rdevminor, namesize, check */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 trailer ? 0 : ++w->ino, mode, 0, 0, nlink, 0, (u32)size, 0, 0, rmajor, rminor,
		 (u32)namesize, 0);
	ret = cpio_write(w, hdr, 110);
	if (!ret)
		ret = cpio_write(w, name, namesize);
	if (!ret)
		ret = cpio_pad(w);
	return ret;
}

int cpio_add(struct cpio_writer *w, const char *name, u32 mode, const void *data, u64 size)
{
	int ret = cpio_header(w, name, mode, S_ISDIR(mode) ? 2 : 1, size, 0, 0, false);

	if (!ret && size)
		ret = cpio_write(w, data, (size_t)size);
	if (!ret)
		ret = cpio_pad(w);
	return ret;
}

int cpio_add_chr(struct cpio_writer *w, const char *name, u32 perm, u32 major, u32 minor)
{
	return cpio_header(w, name, S_IFCHR | (perm & 07777), 1, 0, major, minor, false);
}

int cpio_add_fd(struct cpio_writer *w, const char *name, u32 mode, int fd, u64 size)
{
	u8 buf[64 * 1024];
	u64 done = 0;
	int ret = cpio_header(w, name, mode, 1, size, 0, 0, false);

	while (!ret && done < size) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		ret = cpio_write(w, buf, (size_t)n);
		done += (u64)n;
	}
	return ret ? ret : cpio_pad(w);
}

int cpio_finish(struct cpio_writer *w)
{
	return cpio_header(w, "TRAILER!!!", 0, 1, 0, 0, 0, true);
}

/* --- modules.dep ------------------------------------------------------ */

#define MODULE_NAME_MAX 64
#define DEP_DEPTH_MAX	64

/* "ROOT/REL" without a doubled '/'; -ENAMETOOLONG. */
static int join_path(char *buf, size_t size, const char *root, const char *rel)
{
	size_t rl = strlen(root);
	int n;

	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	while (*rel == '/')
		rel++;
	n = snprintf(buf, size, "%.*s/%s", (int)rl, root, rel);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The module name of a path (".../9pnet_virtio.ko.xz" -> "9pnet_virtio", '-' as '_'). */
static bool module_name(const char *path, char *name, size_t size)
{
	static const char *const exts[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };
	const char *base = strrchr(path, '/');
	size_t len, e, i;

	base = base ? base + 1 : path;
	len = strlen(base);
	for (e = 0; e < ARRAY_SIZE(exts); e++) {
		size_t el = strlen(exts[e]);

		if (len > el && !strcmp(base + len - el, exts[e]))
			break;
	}
	if (e == ARRAY_SIZE(exts))
		return false;
	len -= strlen(exts[e]);
	if (len >= size)
		return false;
	for (i = 0; i < len; i++)
		name[i] = base[i] == '-' ? '_' : base[i];
	name[len] = '\0';
	return true;
}

enum { DEP_NEW, DEP_ACTIVE, DEP_DONE };

struct dep_entry {
	char *path; /* as modules.dep writes it: relative to the module directory, or absolute */
	char *deps; /* the rest of its line */
	char name[MODULE_NAME_MAX];
	int state;
};

struct dep_table {
	const char *root;
	char dir[PATH_MAX]; /* ROOT/lib/modules/RELEASE */
	struct dep_entry *e;
	size_t nr, cap;
};

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int dep_table_load(struct dep_table *t, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	while (getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':'), *path;
		struct dep_entry *e;

		if (!colon)
			continue;
		*colon = '\0';
		path = trim(line);
		if (t->nr == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 256;
			struct dep_entry *n = realloc(t->e, ncap * sizeof(*n));

			if (!n) {
				ret = -ENOMEM;
				break;
			}
			t->e = n;
			t->cap = ncap;
		}
		e = &t->e[t->nr];
		memset(e, 0, sizeof(*e));
		if (!module_name(path, e->name, sizeof(e->name)))
			e->name[0] = '\0';
		e->path = strdup(path);
		e->deps = strdup(trim(colon + 1));
		if (!e->path || !e->deps) {
			free(e->path);
			free(e->deps);
			ret = -ENOMEM;
			break;
		}
		t->nr++;
	}
	if (!ret && ferror(f))
		ret = -EIO;
	free(line);
	return ret;
}

static void dep_table_free(struct dep_table *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		free(t->e[i].path);
		free(t->e[i].deps);
	}
	free(t->e);
	t->e = NULL;
	t->nr = t->cap = 0;
}

static struct dep_entry *dep_by_path(struct dep_table *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		if (!strcmp(t->e[i].path, path))
			return &t->e[i];
	}
	return NULL;
}

static struct dep_entry *dep_by_name(struct dep_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		if (!strcmp(t->e[i].name, name))
			return &t->e[i];
	}
	return NULL;
}

/* Append the host path of modules.dep's @path to @out, once. */
static int out_add(struct dg_modules *out, const struct dep_table *t, const char *path)
{
	char full[PATH_MAX], **n;
	u32 i;
	int ret = path[0] == '/' ? join_path(full, sizeof(full), t->root, path)
				 : join_path(full, sizeof(full), t->dir, path);

	if (ret)
		return ret;
	for (i = 0; i < out->nr; i++) {
		if (!strcmp(out->path[i], full))
			return 0;
	}
	n = realloc(out->path, (out->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	out->path = n;
	out->path[out->nr] = strdup(full);
	if (!out->path[out->nr])
		return -ENOMEM;
	out->nr++;
	return 0;
}

/* Dependencies first (each from its own line), then @e. */
static int dep_visit(struct dep_table *t, struct dep_entry *e, struct dg_modules *out,
		     unsigned int depth)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	if (e->state == DEP_DONE)
		return 0;
	if (e->state == DEP_ACTIVE || depth > DEP_DEPTH_MAX) {
		pr_err("%s/modules.dep: dependency loop through %s", t->dir, e->path);
		return -ELOOP;
	}
	e->state = DEP_ACTIVE;
	copy = strdup(e->deps);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t", &save); tok && !ret; tok = strtok_r(NULL, " \t", &save)) {
		struct dep_entry *d = dep_by_path(t, tok);

		/* A dependency without a line of its own has no dependencies. */
		ret = d ? dep_visit(t, d, out, depth + 1) : out_add(out, t, tok);
	}
	free(copy);
	if (!ret)
		ret = out_add(out, t, e->path);
	e->state = DEP_DONE;
	return ret;
}

/* Is module @name listed in the file @builtin (modules.builtin)? */
static bool in_builtin(const char *builtin, const char *name)
{
	char *line = NULL, mod[MODULE_NAME_MAX];
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen(builtin, "re");

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0)
		found = module_name(trim(line), mod, sizeof(mod)) && !strcmp(mod, name);
	free(line);
	fclose(f);
	return found;
}

void dg_modules_free(struct dg_modules *m)
{
	u32 i;

	for (i = 0; i < m->nr; i++)
		free(m->path[i]);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

int dg_modules_resolve(const char *root, const char *release, const char *const *want,
		       size_t nr_want, struct dg_modules *out)
{
	struct dep_table t = { .root = root };
	char dep[PATH_MAX + 16], builtin[PATH_MAX + 16], rel[PATH_MAX];
	struct stat st;
	size_t i;
	FILE *f;
	int ret;

	memset(out, 0, sizeof(*out));
	if (strchr(release, '/') || !strcmp(release, "..") || !strcmp(release, "."))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "lib/modules/%s", release);
	ret = join_path(t.dir, sizeof(t.dir), root, rel);
	if (!ret && stat(t.dir, &st)) {
		/* Merged /usr without the /lib link (a bare tree). */
		snprintf(rel, sizeof(rel), "usr/lib/modules/%s", release);
		if (join_path(t.dir, sizeof(t.dir), root, rel) || stat(t.dir, &st))
			ret = join_path(t.dir, sizeof(t.dir), root, rel + 4);
	}
	if (ret)
		return ret;
	snprintf(dep, sizeof(dep), "%s/modules.dep", t.dir);
	snprintf(builtin, sizeof(builtin), "%s/modules.builtin", t.dir);
	f = fopen(dep, "re");
	if (!f) {
		pr_warn(
		    "default guest: %s: %s; no modules (the kernel needs virtio and 9p built in)",
		    dep, strerror(errno));
		return 0;
	}
	ret = dep_table_load(&t, f);
	fclose(f);
	if (ret) {
		pr_err("default guest: cannot read %s: %s", dep, strerror(-ret));
		dep_table_free(&t);
		return ret;
	}
	for (i = 0; i < nr_want && !ret; i++) {
		char name[MODULE_NAME_MAX];
		struct dep_entry *e;
		size_t k;

		snprintf(name, sizeof(name), "%s", want[i]);
		for (k = 0; name[k]; k++)
			name[k] = name[k] == '-' ? '_' : name[k];
		e = dep_by_name(&t, name);
		if (e) {
			ret = dep_visit(&t, e, out, 0);
		} else if (in_builtin(builtin, name)) {
			out->builtin++;
		} else {
			pr_warn("default guest: module %s is neither in %s nor built in: the guest "
				"may not mount the host's /",
				name, dep);
		}
	}
	dep_table_free(&t);
	if (ret) {
		if (ret != -ELOOP)
			pr_err("default guest: modules of %s: %s", t.dir, strerror(-ret));
		dg_modules_free(out);
	}
	return ret;
}

/* --- the initramfs ---------------------------------------------------- */

/* stdin can never give the guest a byte: /dev/null, or closed. */
static bool stdin_is_null(void)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st))
		return errno == EBADF;
	return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

static int add_module(struct cpio_writer *w, FILE *order, const char *path)
{
	const char *base = strrchr(path, '/');
	char name[PATH_MAX];
	struct stat st;
	int fd, ret;

	base = base ? base + 1 : path;
	snprintf(name, sizeof(name), "modules/%s", base);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		pr_err("default guest: module %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("default guest: module %s: not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	ret = cpio_add_fd(w, name, S_IFREG | 0644, fd, (u64)st.st_size);
	if (ret)
		pr_err("default guest: module %s: %s", path,
		       ret == -EIO ? "file shrank while reading" : strerror(-ret));
	else
		fprintf(order, "/%s\n", name);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Write the initramfs into a new memfd: its descriptor, or -errno after one error line. */
static int build_initramfs(const struct dg_modules *mods, bool no_input, u64 *size)
{
	static const char *const dirs[] = { "dev", "host", "modules", "proc", "run", "sys", "tmp" };
	struct cpio_writer w = { .fd = -1 };
	char *order = NULL;
	size_t order_len = 0;
	FILE *of = NULL;
	size_t i;
	int ret = 0;

	w.fd = memfd_create("coho-default-guest-initramfs", MFD_CLOEXEC);
	if (w.fd < 0) {
		ret = -errno;
		pr_err("default guest: memfd_create: %s", strerror(errno));
		return ret;
	}
	of = open_memstream(&order, &order_len);
	if (!of) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(dirs) && !ret; i++)
		ret = cpio_add(&w, dirs[i], S_IFDIR | 0755, NULL, 0);
	if (!ret)
		ret = cpio_add_chr(&w, "dev/console", 0600, 5, 1);
	if (!ret)
		ret = cpio_add(&w, "init", S_IFREG | 0755, coho_guest_init_start,
			       (u64)(coho_guest_init_end - coho_guest_init_start));
	if (ret)
		goto out;
	for (i = 0; i < mods->nr; i++) {
		ret = add_module(&w, of, mods->path[i]);
		if (ret)
			goto out_logged;
	}
	if (fclose(of)) {
		of = NULL;
		ret = -ENOMEM;
		goto out;
	}
	of = NULL;
	ret = cpio_add(&w, "modules.order", S_IFREG | 0644, order, order_len);
	if (!ret && no_input)
		ret = cpio_add(&w, "no-console-input", S_IFREG | 0644, NULL, 0);
	if (!ret)
		ret = cpio_finish(&w);
out:
	if (ret)
		pr_err("default guest: cannot write the initramfs: %s", strerror(-ret));
out_logged:
	if (of)
		fclose(of);
	free(order);
	if (ret) {
		close(w.fd);
		return ret;
	}
	*size = w.off;
	return w.fd;
}

/* --- setup ------------------------------------------------------------ */

/* What cfg points to after a successful setup; coho keeps it until exit. */
static struct {
	char kernel[PATH_MAX];
	char initrd[32];
	int fd;
} dg = { .fd = -1 };

void default_guest_release(void)
{
	if (dg.fd >= 0)
		close(dg.fd);
	dg.fd = -1;
}

int default_guest_prepare(struct vm_config *cfg, const char *root, const char *release)
{
	const char *want[4];
	size_t nr_want = 0;
	struct dg_modules mods;
	char kernel[PATH_MAX], rel[NAME_MAX + 16];
	struct share_config *sh;
	char *dir;
	u64 size = 0;
	u32 i;
	int fd, ret;

	if (cfg->nr_shares == VM_MAX_SHARES) {
		pr_err("no kernel given (-k FILE), and the default guest needs a 9p share for the "
		       "host's /, but there are already %d",
		       VM_MAX_SHARES);
		return -E2BIG;
	}
	for (i = 0; i < cfg->nr_shares; i++) {
		if (!strcmp(cfg->shares[i].tag, DEFAULT_GUEST_TAG)) {
			pr_err("--9p %s,%s: the default guest (no -k) uses the 9p tag %s for the "
			       "host's /",
			       cfg->shares[i].dir, cfg->shares[i].tag, DEFAULT_GUEST_TAG);
			return -EINVAL;
		}
	}
	if (strchr(release, '/') || strlen(release) > NAME_MAX - 8) {
		pr_err("no kernel given (-k FILE), and the kernel release '%s' names no file",
		       release);
		return -EINVAL;
	}
	snprintf(rel, sizeof(rel), "boot/vmlinuz-%s", release);
	ret = join_path(kernel, sizeof(kernel), root, rel);
	if (ret) {
		pr_err("no kernel given (-k FILE), and the path of the host's kernel is too long");
		return ret;
	}
	fd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_err("no kernel given (-k FILE), and the default guest cannot read the host's "
		       "kernel %s: %s",
		       kernel, strerror(errno));
		return ret;
	}
	close(fd);

	/* The virtio transport, the 9p filesystem on it, and hvc0 if it is the console. */
	want[nr_want++] = cfg->transport == VIRTIO_TRANSPORT_MMIO ? "virtio_mmio" : "virtio_pci";
	want[nr_want++] = "9pnet_virtio";
	want[nr_want++] = "9p";
	if (cfg->console == CONSOLE_VIRTIO)
		want[nr_want++] = "virtio_console";
	ret = dg_modules_resolve(root, release, want, nr_want, &mods);
	if (ret)
		return ret;
	fd = build_initramfs(&mods, stdin_is_null(), &size);
	if (fd < 0) {
		dg_modules_free(&mods);
		return fd;
	}
	dir = strdup(root);
	if (!dir) {
		pr_err("default guest: out of memory");
		dg_modules_free(&mods);
		close(fd);
		return -ENOMEM;
	}

	default_guest_release();
	dg.fd = fd;
	snprintf(dg.kernel, sizeof(dg.kernel), "%s", kernel);
	snprintf(dg.initrd, sizeof(dg.initrd), "/proc/self/fd/%d", fd);
	cfg->kernel = dg.kernel;
	cfg->initrd = dg.initrd; /* arm64/boot.c opens it by path */
	sh = &cfg->shares[cfg->nr_shares++];
	memset(sh, 0, sizeof(*sh));
	sh->dir = dir; /* freed by run_free_config() */
	sh->tag = DEFAULT_GUEST_TAG;
	sh->read_only = true;
	pr_debug("default guest: kernel %s, %u modules (%u more built in), initramfs %llu bytes "
		 "(%s), %s shared read-only as 9p tag %s",
		 dg.kernel, mods.nr, mods.builtin, (unsigned long long)size, dg.initrd, dir,
		 DEFAULT_GUEST_TAG);
	for (i = 0; i < mods.nr; i++)
		pr_debug("default guest: module %s", mods.path[i]);
	dg_modules_free(&mods);
	return 0;
}

int default_guest_setup(struct vm_config *cfg, const char *root)
{
#ifdef __aarch64__
	struct utsname u;

	if (uname(&u)) {
		pr_err("no kernel given (-k FILE), and uname: %s", strerror(errno));
		return -errno;
	}
	return default_guest_prepare(cfg, root, u.release);
#else
	(void)cfg;
	(void)root;
	pr_err("no kernel given (-k FILE): the default guest boots the host's own kernel, which "
	       "only works on an arm64 host");
	return -ENOENT;
#endif
}
