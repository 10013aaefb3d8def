/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_DEFAULT_GUEST_H
#define COHO_DEFAULT_GUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/types.h"

struct vm_config;

/* The 9p tag of the host's / in the default guest (guest/init.c mounts it). */
#define DEFAULT_GUEST_TAG "hostroot"

/*
 * `coho run` with no kernel (no -k, -f or --dump-dtb): boot the host's own
 * kernel, ROOT/boot/vmlinuz-$(uname -r), with an initramfs built in memory
 * around coho's embedded /init (guest/init.c) and the modules the guest needs
 * for the host's / (resolved from ROOT/lib/modules/RELEASE/modules.dep); the
 * host's ROOT is shared read-only over 9p (tag DEFAULT_GUEST_TAG). Sets
 * cfg->kernel, cfg->initrd (/proc/self/fd/N of a memfd) and adds the share.
 * @root is "/" except in tests. Only on an arm64 build: elsewhere it refuses.
 * Returns 0, or -errno after one error line with nothing configured.
 */
int default_guest_setup(struct vm_config *cfg, const char *root);

/* The same for kernel release @release, on any build (the tree logic, for tests). */
int default_guest_prepare(struct vm_config *cfg, const char *root, const char *release);

/* Close the memfd of the last successful setup (tests; coho keeps it until exit). */
void default_guest_release(void);

/* The guest's /init: a static aarch64 ELF executable (guest/init-blob.S). */
extern const u8 coho_guest_init_start[], coho_guest_init_end[];

/* --- internals, exposed for tests ------------------------------------- */

/* A newc ("070701") cpio archive written to @fd; names have no leading '/'. */
struct cpio_writer {
	int fd;
	u64 off; /* bytes written */
	u32 ino;
};

int cpio_add(struct cpio_writer *w, const char *name, u32 mode, const void *data, u64 size);
/* A character device node @major:@minor with permissions @perm. */
int cpio_add_chr(struct cpio_writer *w, const char *name, u32 perm, u32 major, u32 minor);
/* A regular file of @size bytes read from @fd; -EIO if it has fewer. */
int cpio_add_fd(struct cpio_writer *w, const char *name, u32 mode, int fd, u64 size);
/* The TRAILER!!! entry. */
int cpio_finish(struct cpio_writer *w);

/* Modules of a kernel tree, in load order (dependencies first). */
struct dg_modules {
	char **path; /* host paths */
	u32 nr;
	u32 builtin; /* wanted modules the kernel has built in */
};

/*
 * The closure of the modules named in @want ('-' and '_' alike) under
 * ROOT/lib/modules/RELEASE (or ROOT/usr/lib/...): from modules.dep, those in
 * modules.builtin skipped. A missing modules.dep or wanted module is a
 * warning (the kernel may have them built in). -errno on a bad tree.
 */
int dg_modules_resolve(const char *root, const char *release, const char *const *want,
		       size_t nr_want, struct dg_modules *out);
void dg_modules_free(struct dg_modules *m);

#endif
