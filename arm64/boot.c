// SPDX-License-Identifier: GPL-2.0
/* Placing and loading the boot payload: kernel or firmware, initrd, DTB. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arm64/boot.h"
#include "arm64/fdt.h"
#include "arm64/image.h"
#include "arm64/layout.h"
#include "util/log.h"
#include "vm.h"

#define MIB(x) ((unsigned long long)(((x) + SZ_1M - 1) >> 20))

int arm64_plan_boot(const struct boot_plan_req *req, struct boot_plan *plan)
{
	u64 ram_end, limit, dtb, initrd_end, need;

	if (__builtin_add_overflow(req->ram_base, req->ram_size, &ram_end) ||
	    req->payload_end < req->ram_base || req->payload_end > ram_end)
		return -EINVAL;
	limit = req->ram_size > ARM_BOOT_WINDOW ? req->ram_base + ARM_BOOT_WINDOW : ram_end;
	if (!align_up_checked(req->payload_end, ARM_KERNEL_ALIGN, &dtb) ||
	    __builtin_add_overflow(dtb, ARM_DTB_MAX_SIZE, &initrd_end) ||
	    __builtin_add_overflow(initrd_end, req->initrd_size, &initrd_end)) {
		pr_err("boot images do not fit in guest RAM");
		return -ENOSPC;
	}
	need = initrd_end - req->ram_base;
	if (initrd_end > ram_end) {
		pr_err("guest RAM too small: %s DTB%s need %llu MiB, -m gives %llu MiB",
		       req->initrd_size ? "payload," : "payload and",
		       req->initrd_size ? " and initrd" : "", MIB(need), MIB(req->ram_size));
		return -ENOSPC;
	}
	if (initrd_end > limit && !req->initrd_size) {
		pr_err("the payload and DTB do not fit in the first %llu MiB of guest RAM",
		       MIB(ARM_BOOT_WINDOW));
		return -ENOSPC;
	}
	if (initrd_end > limit) {
		pr_err(
		    "initrd (%llu MiB) does not fit in the first %llu MiB of guest RAM after the "
		    "kernel and DTB",
		    MIB(req->initrd_size), MIB(ARM_BOOT_WINDOW));
		return -ENOSPC;
	}
	plan->dtb_addr = dtb;
	plan->dtb_max = ARM_DTB_MAX_SIZE;
	plan->initrd_addr = dtb + ARM_DTB_MAX_SIZE;
	return 0;
}

/* Open @path as a regular, non-empty file; its size in *size. */
static int open_input(const char *what, const char *path, u64 *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = -errno;

		pr_err("%s %s: %s", what, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		pr_err("%s %s: not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size <= 0) {
		pr_err("%s %s: file is empty", what, path);
		close(fd);
		return -EINVAL;
	}
	*size = (u64)st.st_size;
	return fd;
}

static int load_file(struct vm *vm, const char *what, const char *path, u64 gpa, u64 limit,
		     u64 *size)
{
	int fd = open_input(what, path, size), ret;

	if (fd < 0)
		return fd;
	if (*size > limit - gpa) {
		pr_err("%s %s (%llu MiB) does not fit in guest RAM", what, path, MIB(*size));
		close(fd);
		return -ENOSPC;
	}
	ret = guest_write_from_fd(&vm->mem, gpa, fd, *size);
	close(fd);
	if (ret) {
		pr_err("%s %s: cannot read: %s", what, path,
		       ret == -EIO ? "file shrank while loading" : strerror(-ret));
		return ret;
	}
	return 0;
}

/* Seeds for the guest's RNG and KASLR; never block, even before the host's pool is ready. */
static void fill_random(void *buf, size_t len)
{
	u8 *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, GRND_NONBLOCK);

		if (n < 0)
			n = getrandom(p, len, 0x0004 /* GRND_INSECURE */);
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
}

/* Does the command line @params hold a parameter starting with @key ("root=")? */
static bool has_param(const char *params, const char *key)
{
	const char *p;

	for (p = params; (p = strstr(p, key)); p++) {
		if (p == params || p[-1] == ' ' || p[-1] == '\t')
			return true;
	}
	return false;
}

/*
 * Default kernel command line: the chosen console unless -p names one, then
 * for a -d DIR root (kvmtool's parameters) the 9p root unless -p has root=,
 * then -p.
 */
static char *boot_cmdline(const struct vm_config *cfg)
{
	const char *params = cfg->params ? cfg->params : "";
	const char *console = "";
	const char *root = "";
	char *s;

	if (!strstr(params, "console="))
		console = cfg->console == CONSOLE_VIRTIO ? "console=hvc0" : "console=ttyS0";
	if (cfg->root_9p && !has_param(params, "root="))
		root = cfg->root_ro
			   ? "root=/dev/root ro rootflags=ro,trans=virtio,version=9p2000.L "
			     "rootfstype=9p"
			   : "root=/dev/root rw rootflags=rw,trans=virtio,version=9p2000.L "
			     "rootfstype=9p";
	if (asprintf(&s, "%s%s%s%s%s", console, *console && *root ? " " : "", root,
		     (*console || *root) && *params ? " " : "", params) < 0)
		return NULL;
	return s;
}

/* fdt_params.add_nodes: every device's node, in registration order. */
static int boot_fdt_hooks(void *fdt, u32 gic_phandle, void *opaque)
{
	struct vm *vm = opaque;
	u32 i;

	for (i = 0; i < vm->nr_fdt_hooks; i++) {
		int ret = vm->fdt_hooks[i].fn(fdt, gic_phandle, vm->fdt_hooks[i].opaque);

		if (ret)
			return ret;
	}
	return 0;
}

static int build_and_write_dtb(struct vm *vm, const struct boot_plan *plan, struct boot_info *bi)
{
	const struct vm_config *cfg = vm->cfg;
	struct fdt_params p = { 0 };
	u8 rng_seed[64];
	size_t size = 64 * 1024;
	u64 *mpidr;
	void *buf = NULL;
	char *cmdline;
	int ret = -ENOMEM;
	u32 i;

	mpidr = calloc(vm->nr_vcpus, sizeof(*mpidr));
	cmdline = boot_cmdline(cfg);
	if (!mpidr || !cmdline)
		goto out;
	for (i = 0; i < vm->nr_vcpus; i++)
		mpidr[i] = vm->vcpus[i].mpidr;
	fill_random(rng_seed, sizeof(rng_seed));
	fill_random(&p.kaslr_seed, sizeof(p.kaslr_seed));
	p.nr_cpus = vm->nr_vcpus;
	p.mpidr = mpidr;
	p.gic = vm->arch.gic;
	p.its = vm->arch.its;
	p.psci_version = vm->arch.psci_version;
	p.ram_base = vm->mem.base;
	p.ram_size = vm->mem.size;
	p.bootargs = cmdline;
	p.initrd_start = bi->initrd_addr;
	p.initrd_end = bi->initrd_addr + bi->initrd_size;
	p.rng_seed = rng_seed;
	p.rng_seed_len = sizeof(rng_seed);
	p.serial_stdout = cfg->console == CONSOLE_SERIAL;
	p.add_nodes = boot_fdt_hooks;
	p.opaque = vm;

	for (;;) {
		void *n = realloc(buf, size);

		if (!n)
			goto out;
		buf = n;
		ret = fdt_build(&p, buf, size);
		if (ret != -ENOSPC || size >= plan->dtb_max)
			break;
		size *= 2;
	}
	if (ret < 0)
		goto out;
	bi->dtb_addr = plan->dtb_addr;
	bi->dtb_size = (u64)ret;
	ret = guest_write(&vm->mem, plan->dtb_addr, buf, bi->dtb_size);
	if (ret)
		pr_err("cannot write the DTB into guest RAM");
	pr_debug("DTB: %llu bytes at 0x%llx, bootargs \"%s\"", (unsigned long long)bi->dtb_size,
		 (unsigned long long)bi->dtb_addr, cmdline);
out:
	free(buf);
	free(mpidr);
	free(cmdline);
	return ret < 0 ? ret : 0;
}

int arm64_boot_load(struct vm *vm, struct boot_info *bi)
{
	const struct vm_config *cfg = vm->cfg;
	struct guest_mem *m = &vm->mem;
	struct boot_plan_req req = { .ram_base = m->base, .ram_size = m->size };
	struct boot_plan plan;
	u64 ram_end = m->base + m->size;
	int ret, fd = -1;

	memset(bi, 0, sizeof(*bi));
	req.payload_end = m->base;
	if (cfg->firmware) {
		u64 size;

		ret = load_file(vm, "firmware", cfg->firmware, m->base, ram_end, &size);
		if (ret)
			return ret;
		bi->entry = m->base;
		req.payload_end = m->base + size;
		pr_debug("firmware: %llu bytes at 0x%llx", (unsigned long long)size,
			 (unsigned long long)m->base);
	} else if (cfg->kernel) {
		struct kernel_info ki;

		ret = kernel_load(m, m->base, cfg->kernel, &ki);
		if (ret)
			return ret;
		bi->entry = ki.load_addr;
		bi->kernel_addr = ki.load_addr;
		bi->kernel_end = ki.end;
		req.payload_end = ki.end;
		pr_debug("kernel: %s, %llu bytes at 0x%llx, text_offset 0x%llx, image_size %llu",
			 kernel_format_name(ki.format), (unsigned long long)ki.file_size,
			 (unsigned long long)ki.load_addr, (unsigned long long)ki.text_offset,
			 (unsigned long long)ki.image_size);
	}

	if (cfg->initrd) {
		fd = open_input("initrd", cfg->initrd, &req.initrd_size);
		if (fd < 0)
			return fd;
	}
	ret = arm64_plan_boot(&req, &plan);
	if (ret)
		goto out;
	if (fd >= 0) {
		ret = guest_write_from_fd(m, plan.initrd_addr, fd, req.initrd_size);
		if (ret) {
			pr_err("initrd %s: cannot read: %s", cfg->initrd,
			       ret == -EIO ? "file shrank while loading" : strerror(-ret));
			goto out;
		}
		bi->initrd_addr = plan.initrd_addr;
		bi->initrd_size = req.initrd_size;
		pr_debug("initrd: %llu bytes at 0x%llx", (unsigned long long)req.initrd_size,
			 (unsigned long long)plan.initrd_addr);
	}
	ret = build_and_write_dtb(vm, &plan, bi);
	if (ret)
		goto out;
	if (cfg->kernel || cfg->firmware)
		ret = arch_set_boot_regs(vm, &vm->vcpus[0], bi->entry, bi->dtb_addr);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}
