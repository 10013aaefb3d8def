// SPDX-License-Identifier: GPL-2.0
/* `coho run`: kvmtool-compatible options -> struct vm_config, then boot and supervise. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arm64/boot.h"
#include "arm64/cache.h"
#include "arm64/layout.h"
#include "builtin-run.h"
#include "console_in.h"
#include "control.h"
#include "default_guest.h"
#include "exit_codes.h"
#include "arm64/board.h"
#include "net/netopt.h"
#include "vfio/vfio.h"
#include "util/log.h"
#include "util/options.h"
#include "util/parse.h"
#include "util/term.h"
#include "vm.h"

struct run_opts {
	struct vm_config cfg;
	bool help;
	bool mem_set;
	bool cpus_set;
	char name_buf[32];
};

static int opt_mem(void *value, const char *arg, const char *opt)
{
	struct run_opts *o = value;
	u64 size;
	int ret = parse_size(arg, SZ_1M, &size);

	if (ret || size == 0) {
		pr_err("%s: invalid memory size '%s' (use e.g. 256, 512M, 2G)", opt, arg);
		return -EINVAL;
	}
	/* KVM maps RAM in whole pages: round up to 64 KiB, the largest arm64 page. */
	if (!align_up_checked(size, SZ_64K, &size) || size > ARM_RAM_MAX) {
		pr_err("%s: memory size '%s' is larger than the %llu GiB coho can give a guest",
		       opt, arg, (unsigned long long)(ARM_RAM_MAX >> 30));
		return -ERANGE;
	}
	o->cfg.ram_size = size;
	o->mem_set = true;
	return 0;
}

static int opt_cpus(void *value, const char *arg, const char *opt)
{
	struct run_opts *o = value;
	int ret = parse_u32(arg, 1, ARM_GICV3_MAX_CPUS, &o->cfg.nr_cpus);

	if (ret) {
		pr_err("%s: invalid number of vCPUs '%s' (1 to %llu)", opt, arg,
		       (unsigned long long)ARM_GICV3_MAX_CPUS);
		return ret;
	}
	o->cpus_set = true;
	return 0;
}

static int opt_timeout(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;
	char *end;
	double sec;

	errno = 0;
	sec = strtod(arg, &end);
	/* At most a year: a script that asks for more has a unit mix-up. */
	if (end == arg || *end || errno || !(sec > 0) || sec > 366.0 * 24 * 3600) {
		pr_err("%s: invalid number of seconds '%s' (more than 0, at most a year)", opt,
		       arg);
		return -EINVAL;
	}
	cfg->timeout_ms = (u64)(sec * 1000.0 + 0.5);
	if (!cfg->timeout_ms)
		cfg->timeout_ms = 1;
	return 0;
}

static int opt_reboot_limit(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;
	int ret = parse_u32(arg, 0, 1000000, &cfg->reboot_limit);

	if (ret)
		pr_err("%s: invalid number of reboots '%s' (0 to 1000000; 0: no limit)", opt, arg);
	return ret;
}

static int opt_irqchip(void *value, const char *arg, const char *opt)
{
	static const char *const names[] = { "auto", "gicv3", "gicv3-its", "gicv2" };
	static const enum irqchip_kind kinds[] = { IRQCHIP_AUTO, IRQCHIP_GICV3, IRQCHIP_GICV3_ITS,
						   IRQCHIP_GICV2 };
	struct vm_config *cfg = value;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(arg, names[i])) {
			cfg->irqchip = kinds[i];
			return 0;
		}
	}
	pr_err("%s: unknown irqchip '%s' (auto, gicv3, gicv3-its or gicv2)", opt, arg);
	return -EINVAL;
}

/*
 * -d DIR[,ro]: as kvmtool, a directory becomes the guest's root filesystem,
 * a 9p share tagged ROOT_9P_TAG; boot.c adds root=/dev/root ... to the
 * command line. @path is the strdup'd copy, owned by the share on success.
 */
#define ROOT_9P_TAG "/dev/root"

static int disk_dir_as_root(struct vm_config *cfg, const struct disk_config *d, const char *arg,
			    const char *opt)
{
	struct share_config *sh;
	u32 i;

	if (d->direct) {
		pr_err("%s %s: 'direct' is for disk images, not a directory", opt, arg);
		return -EINVAL;
	}
	/* A second -d DIR, or a --9p share already tagged /dev/root. */
	for (i = 0; i < cfg->nr_shares; i++) {
		if (!strcmp(cfg->shares[i].tag, ROOT_9P_TAG))
			break;
	}
	if (i < cfg->nr_shares) {
		pr_err("%s %s: only one directory can be the root filesystem (9p tag %s)", opt, arg,
		       ROOT_9P_TAG);
		return -EINVAL;
	}
	if (cfg->nr_shares == VM_MAX_SHARES) {
		pr_err("%s %s: at most %d shared directories", opt, arg, VM_MAX_SHARES);
		return -E2BIG;
	}
	sh = &cfg->shares[cfg->nr_shares++];
	sh->dir = d->path; /* freed by run_free_config() */
	sh->tag = ROOT_9P_TAG;
	sh->read_only = d->read_only;
	cfg->root_9p = true;
	cfg->root_ro = d->read_only;
	return 0;
}

/* -d FILE[,ro][,direct] or -d DIR[,ro], as kvmtool; up to VM_MAX_DISKS images. */
static int opt_disk(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;
	struct disk_config d = { 0 };
	char *copy, *p, *save = NULL;
	struct stat st;
	int ret;

	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	p = strtok_r(copy, ",", &save);
	if (!p || p != copy) {
		pr_err("%s: no image file in '%s'", opt, arg);
		free(copy);
		return -EINVAL;
	}
	d.path = p; /* == copy */
	while ((p = strtok_r(NULL, ",", &save))) {
		if (!strcmp(p, "ro")) {
			d.read_only = true;
		} else if (!strcmp(p, "direct")) {
			d.direct = true;
		} else {
			pr_err("%s: unknown disk option '%s' in '%s' (ro, direct)", opt, p, arg);
			free(copy);
			return -EINVAL;
		}
	}
	/* A path that cannot be stat'ed stays a disk and fails where disks are opened. */
	if (!stat(d.path, &st) && S_ISDIR(st.st_mode)) {
		ret = disk_dir_as_root(cfg, &d, arg, opt);
		if (ret)
			free(copy);
		return ret;
	}
	if (cfg->nr_disks == VM_MAX_DISKS) {
		pr_err("%s: at most %d disks", opt, VM_MAX_DISKS);
		free(copy);
		return -E2BIG;
	}
	cfg->disks[cfg->nr_disks++] = d; /* d.path freed by run_free_config() */
	return 0;
}

/* --9p DIR[,TAG][,ro]: share a host directory (kvmtool's syntax; TAG defaults to "hostshare"). */
static int opt_9p(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;
	struct share_config *sh;
	char *copy, *p, *save = NULL;

	if (cfg->nr_shares == VM_MAX_SHARES) {
		pr_err("%s: at most %d shared directories", opt, VM_MAX_SHARES);
		return -E2BIG;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	sh = &cfg->shares[cfg->nr_shares];
	memset(sh, 0, sizeof(*sh));
	p = strtok_r(copy, ",", &save);
	if (!p || p != copy) {
		pr_err("%s: no directory in '%s'", opt, arg);
		free(copy);
		return -EINVAL;
	}
	sh->dir = p; /* == copy: freed by run_free_config() */
	sh->tag = "hostshare";
	while ((p = strtok_r(NULL, ",", &save))) {
		if (!strcmp(p, "ro"))
			sh->read_only = true;
		else
			sh->tag = p;
	}
	cfg->nr_shares++;
	return 0;
}

/* -n/--network PARAMS (kvmtool's syntax, see net/netopt.h); up to VM_MAX_NETS times. */
static int opt_network(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;
	bool none;
	int ret;

	if (cfg->nr_nets == VM_MAX_NETS) {
		pr_err("%s: at most %d network devices", opt, VM_MAX_NETS);
		return -E2BIG;
	}
	ret = net_parse(opt, arg, cfg->nr_nets, &cfg->nets[cfg->nr_nets], &none);
	if (!ret && !none)
		cfg->nr_nets++;
	return ret;
}

/* --vfio-pci [DOMAIN:]BUS:DEV.FN[,coherent=on|off][,barN=uc|wc|cached]; up to VM_MAX_VFIO. */
static int opt_vfio(void *value, const char *arg, const char *opt)
{
	static const char *const attrs[] = {
		[BAR_ATTR_UC] = "uc", [BAR_ATTR_WC] = "wc", [BAR_ATTR_CACHED] = "cached"
	};
	struct vm_config *cfg = value;
	struct vfio_config *v;
	char *copy, *p, *save = NULL;
	int ret = -EINVAL;

	if (cfg->nr_vfio == VM_MAX_VFIO) {
		pr_err("%s: at most %d devices", opt, VM_MAX_VFIO);
		return -E2BIG;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	v = &cfg->vfio[cfg->nr_vfio];
	memset(v, 0, sizeof(*v));
	v->coherent = -1;
	p = strtok_r(copy, ",", &save);
	if (!p || p != copy || vfio_parse_bdf(p, v->bdf)) {
		pr_err("%s: '%s' is not a PCI address [DOMAIN:]BUS:DEVICE.FUNCTION", opt, arg);
		goto out;
	}
	for (u32 i = 0; i < cfg->nr_vfio; i++) {
		if (!strcmp(cfg->vfio[i].bdf, v->bdf)) {
			pr_err("%s: %s is given twice", opt, v->bdf);
			goto out;
		}
	}
	while ((p = strtok_r(NULL, ",", &save))) {
		char *val = strchr(p, '=');
		size_t a;

		if (val)
			*val++ = '\0';
		if (val && !strcmp(p, "coherent") && (!strcmp(val, "on") || !strcmp(val, "off"))) {
			v->coherent = !strcmp(val, "on");
			continue;
		}
		if (val && !strncmp(p, "bar", 3) && p[3] >= '0' && p[3] <= '5' && !p[4]) {
			for (a = BAR_ATTR_UC; a < ARRAY_SIZE(attrs); a++)
				if (!strcmp(val, attrs[a]))
					break;
			if (a < ARRAY_SIZE(attrs)) {
				v->bar[p[3] - '0'] = (enum bar_attr)a;
				continue;
			}
		}
		pr_err("%s: unknown or bad device option '%s%s%s' in '%s' (coherent=on|off, "
		       "bar0..bar5=uc|wc|cached)",
		       opt, p, val ? "=" : "", val ? val : "", arg);
		goto out;
	}
	cfg->nr_vfio++;
	ret = 0;
out:
	free(copy);
	return ret;
}

static int opt_virtio_transport(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;

	/* kvmtool also spells them virtio-pci / virtio-mmio (and pci-legacy, mmio-legacy). */
	if (!strcmp(arg, "pci") || !strcmp(arg, "virtio-pci")) {
		cfg->transport = VIRTIO_TRANSPORT_PCI;
		return 0;
	}
	if (!strcmp(arg, "mmio") || !strcmp(arg, "virtio-mmio")) {
		cfg->transport = VIRTIO_TRANSPORT_MMIO;
		return 0;
	}
	if (!strcmp(arg, "pci-legacy") || !strcmp(arg, "mmio-legacy")) {
		pr_err("%s %s: legacy virtio is not supported by coho (pci or mmio)", opt, arg);
		return -ENOTSUP;
	}
	pr_err("%s: unknown virtio transport '%s' (pci or mmio)", opt, arg);
	return -EINVAL;
}

static int opt_console(void *value, const char *arg, const char *opt)
{
	struct vm_config *cfg = value;

	if (!strcmp(arg, "serial")) {
		cfg->console = CONSOLE_SERIAL;
		return 0;
	}
	if (!strcmp(arg, "virtio")) {
		cfg->console = CONSOLE_VIRTIO;
		return 0;
	}
	if (!strcmp(arg, "hv")) {
		pr_err("%s hv is not supported by coho (serial or virtio)", opt);
		return -ENOTSUP;
	}
	pr_err("%s: unknown console '%s' (serial or virtio)", opt, arg);
	return -EINVAL;
}

#define UNSUPPORTED(s, l, a, why)                                                                  \
	{                                                                                          \
		.type = OPT_UNSUPPORTED, .short_name = s, .long_name = l, .argh = a, .help = why   \
	}

/*
 * The option table of `run` over the options struct O. It is built on the
 * stack of each caller, so parsing leaves no state behind.
 */
/* clang-format off */
#define RUN_OPTIONS(O) {                                                                     \
	{ .type = OPT_GROUP, .help = "Basic options:" },                                     \
	{ .type = OPT_STRING,                                                                \
	  .long_name = "name",                                                               \
	  .value = &(O)->cfg.name,                                                           \
	  .argh = "NAME",                                                                    \
	  .help = "guest name",                                                              \
	  .def = "guest-PID" },                                                              \
	{ .type = OPT_CALLBACK,                                                              \
	  .short_name = 'c',                                                                 \
	  .long_name = "cpus",                                                               \
	  .value = (O),                                                                      \
	  .argh = "N",                                                                       \
	  .help = "number of vCPUs",                                                         \
	  .def = "host's online CPUs, at most 8",                                            \
	  .cb = opt_cpus },                                                                  \
	{ .type = OPT_CALLBACK,                                                              \
	  .short_name = 'm',                                                                 \
	  .long_name = "mem",                                                                \
	  .value = (O),                                                                      \
	  .argh = "SIZE",                                                                    \
	  .help = "guest RAM; a bare number is MiB, or K/M/G/T suffix",                      \
	  .def = "256 MiB + 32 MiB per vCPU beyond 4",                                       \
	  .cb = opt_mem },                                                                   \
	{ .type = OPT_CALLBACK,                                                              \
	  .long_name = "console",                                                            \
	  .value = &(O)->cfg,                                                                \
	  .argh = "serial|virtio",                                                                  \
	  .help = "guest console device",                                                    \
	  .def = "serial",                                                                   \
	  .cb = opt_console },                                                               \
	{ .type = OPT_FLAG,                                                                  \
	  .short_name = 'h',                                                                 \
	  .long_name = "help",                                                               \
	  .value = &(O)->help,                                                               \
	  .help = "show this help" },                                                        \
	{ .type = OPT_CALLBACK, .short_name = 'd', .long_name = "disk", .value = &(O)->cfg,  \
	  .argh = "FILE[,ro][,direct]", .help = "a virtio-blk disk backed by a raw image "      \
	  "(up to 8); a directory becomes the 9p root filesystem (tag /dev/root, root= added)", \
	  .cb = opt_disk },                                                                     \
	{ .type = OPT_CALLBACK, .long_name = "9p", .value = &(O)->cfg,                      \
	  .argh = "DIR[,TAG][,ro]", .help = "share a host directory over virtio-9p "           \
	  "(mount -t 9p -o trans=virtio TAG)", .def = "TAG hostshare", .cb = opt_9p },           \
	{ .type = OPT_CALLBACK, .short_name = 'n', .long_name = "network", .value = &(O)->cfg, \
	  .argh = "mode=tap[,tapif=NAME][,guest_mac=MAC][,host_ip=IP[/N]][,script=PATH]"         \
	  "[,downscript=PATH][,vhost=1] | none", .help = "a virtio-net device on a host tap "    \
	  "(up to 4)", .def = "no network", .cb = opt_network },                                  \
	{ .type = OPT_FLAG, .long_name = "rng", .value = &(O)->cfg.rng,                   \
	  .help = "a virtio-rng device (entropy from the host's getrandom())" },               \
	{ .type = OPT_CALLBACK, .long_name = "virtio-transport", .value = &(O)->cfg,        \
	  .argh = "pci|mmio", .help = "transport of the virtio devices", .def = "pci",         \
	  .cb = opt_virtio_transport },                                                        \
	{ .type = OPT_CALLBACK, .long_name = "vfio-pci", .value = &(O)->cfg,                 \
	  .argh = "BDF[,coherent=on|off][,barN=uc|wc|cached]",                                 \
	  .help = "pass a host PCI device bound to vfio-pci through, on its own host bridge "  \
	  "(up to 8)", .def = "coherent from the host; bars wc if prefetchable, else uc",      \
	  .cb = opt_vfio },                                                                    \
	{ .type = OPT_GROUP, .help = "Run control options:" },                               \
	{ .type = OPT_CALLBACK, .long_name = "timeout", .value = &(O)->cfg,                  \
	  .argh = "SECONDS", .help = "stop the guest after SECONDS (decimals allowed) and "     \
	  "exit with code 7", .def = "none", .cb = opt_timeout },                              \
	{ .type = OPT_STRING, .long_name = "console-log", .value = &(O)->cfg.console_log,     \
	  .argh = "FILE", .help = "also write the guest's console output to FILE (written "    \
	  "through: complete at any exit)" },                                                  \
	{ .type = OPT_FLAG, .long_name = "no-reboot", .value = &(O)->cfg.no_reboot,           \
	  .help = "a guest reboot ends coho with exit code 3 instead of rebooting the guest" }, \
	{ .type = OPT_CALLBACK, .long_name = "reboot-limit", .value = &(O)->cfg,             \
	  .argh = "N", .help = "guest reboots allowed; one more ends coho with exit code 3",   \
	  .def = "no limit", .cb = opt_reboot_limit },                                         \
	{ .type = OPT_GROUP, .help = "Kernel options:" },                                    \
	{ .type = OPT_STRING,                                                                \
	  .short_name = 'k',                                                                 \
	  .long_name = "kernel",                                                             \
	  .value = &(O)->cfg.kernel,                                                         \
	  .argh = "FILE",                                                                    \
	  .help = "kernel: Image, Image.gz or EFI zboot vmlinuz" },                          \
	{ .type = OPT_STRING,                                                                \
	  .short_name = 'i',                                                                 \
	  .long_name = "initrd",                                                             \
	  .value = &(O)->cfg.initrd,                                                         \
	  .argh = "FILE",                                                                    \
	  .help = "initial RAM disk" },                                                      \
	{ .type = OPT_STRING,                                                                \
	  .short_name = 'p',                                                                 \
	  .long_name = "params",                                                             \
	  .value = &(O)->cfg.params,                                                         \
	  .argh = "PARAMS",                                                                  \
	  .help = "kernel command line (console=ttyS0 is added unless it names "             \
		  "a console)" },                                                            \
	{ .type = OPT_STRING,                                                                \
	  .short_name = 'f',                                                                 \
	  .long_name = "firmware",                                                           \
	  .value = &(O)->cfg.firmware,                                                       \
	  .argh = "FILE",                                                                    \
	  .help = "firmware loaded at the RAM base and run instead of a kernel; x0 = DTB" }, \
	{ .type = OPT_GROUP, .help = "Arch options:" },                                      \
	{ .type = OPT_CALLBACK,                                                              \
	  .long_name = "irqchip",                                                            \
	  .value = &(O)->cfg,                                                                \
	  .argh = "auto|gicv3|gicv3-its|gicv2",                                              \
	  .help = "interrupt controller",                                                    \
	  .def = "auto",                                                                     \
	  .cb = opt_irqchip },                                                               \
	{ .type = OPT_STRING,                                                                \
	  .long_name = "dump-dtb",                                                           \
	  .value = &(O)->cfg.dump_dtb,                                                       \
	  .argh = "FILE",                                                                    \
	  .help = "write the guest device tree to FILE and exit" },                          \
	{ .type = OPT_GROUP, .help = "Debug options:" },                                     \
	{ .type = OPT_FLAG,                                                                  \
	  .long_name = "debug",                                                              \
	  .value = &(O)->cfg.debug,                                                          \
	  .help = "log what coho does: placement, cache cleaning, exits" },                  \
	{ .type = OPT_GROUP, .help = "kvmtool options not supported yet (rejected):" },      \
	UNSUPPORTED(0, "no-dhcp", NULL, "no user-mode network (use -n mode=tap)"),           \
	UNSUPPORTED(0, "balloon", NULL, "no virtio-balloon"),                                \
	UNSUPPORTED(0, "vsock", "CID", "no virtio-vsock"),                                   \
	UNSUPPORTED(0, "vnc", NULL, "no graphics"),                                          \
	UNSUPPORTED(0, "gtk", NULL, "no graphics"),                                          \
	UNSUPPORTED(0, "sdl", NULL, "no graphics"),                                          \
	UNSUPPORTED(0, "dev", "FILE", "no host device console"),                             \
	UNSUPPORTED(0, "tty", "N", "no host tty console"),                                   \
	UNSUPPORTED(0, "sandbox", "SCRIPT", "no sandbox"),                                   \
	UNSUPPORTED(0, "hugetlbfs", "PATH", "no hugetlbfs backing"),                         \
	UNSUPPORTED(0, "nodefaults", NULL, "default devices cannot be disabled"),            \
	UNSUPPORTED(0, "pmu", NULL, "no vPMU"),                                              \
	UNSUPPORTED(0, "disable-mte", NULL, "MTE is not offered"),                           \
	UNSUPPORTED(0, "aarch32", NULL, "64-bit guests only"),                               \
	UNSUPPORTED(0, "debug-single-step", NULL, NULL),                                     \
	UNSUPPORTED(0, "debug-ioport", NULL, NULL),                                          \
	UNSUPPORTED(0, "debug-mmio", NULL, NULL),                                            \
	UNSUPPORTED(0, "debug-iodelay", "N", NULL),                                          \
	OPT_END_MARKER,                                                                      \
}
/* clang-format on */

#define RUN_USAGE "coho run [options] [KERNEL]"

void run_usage(FILE *f)
{
	struct run_opts o;
	const struct option_spec specs[] = RUN_OPTIONS(&o);

	options_usage(f, RUN_USAGE, specs);
}

static void run_defaults(struct run_opts *o)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	if (!o->cpus_set)
		o->cfg.nr_cpus = online < 1 ? 1 : online > 8 ? 8 : (u32)online;
	/* Enough for a distribution kernel and an initramfs; kvmtool scales with vCPUs too. */
	if (!o->mem_set)
		o->cfg.ram_size =
		    (256 + 32 * (o->cfg.nr_cpus > 4 ? o->cfg.nr_cpus - 4 : 0)) * SZ_1M;
	if (!o->cfg.name) {
		snprintf(o->name_buf, sizeof(o->name_buf), "guest-%d", (int)getpid());
		o->cfg.name = o->name_buf;
	}
}

static int run_check_config(struct vm_config *cfg)
{
	if (cfg->name && !control_name_ok(cfg->name)) {
		pr_err("--name '%s': use letters, digits, '.', '_' and '-' (1 to %d, not starting "
		       "with '.'): it names the guest's control socket",
		       cfg->name, CONTROL_NAME_MAX);
		return -EINVAL;
	}
	if (cfg->firmware && cfg->kernel) {
		pr_err("--firmware and --kernel cannot be combined: the firmware boots on its own");
		return -EINVAL;
	}
	if (cfg->initrd && !cfg->kernel) {
		pr_err("--initrd needs a kernel (-k FILE)");
		return -EINVAL;
	}
	/* No kernel: the host's own, with coho's init and the host's / (default_guest.c). */
	if (!cfg->kernel && !cfg->firmware && !cfg->dump_dtb)
		return default_guest_setup(cfg, "/");
	return 0;
}

static int write_dtb(struct vm *vm, const struct boot_info *bi, const char *path)
{
	const u8 *dtb = gpa_to_hva(&vm->mem, bi->dtb_addr, bi->dtb_size);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	u64 done = 0;

	if (fd < 0) {
		pr_err("--dump-dtb %s: %s", path, strerror(errno));
		return -errno;
	}
	while (dtb && done < bi->dtb_size) {
		ssize_t n = write(fd, dtb + done, bi->dtb_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_err("--dump-dtb %s: %s", path, n < 0 ? strerror(errno) : "short write");
			close(fd);
			unlink(path);
			return -EIO;
		}
		done += (u64)n;
	}
	if (close(fd) < 0) {
		pr_err("--dump-dtb %s: %s", path, strerror(errno));
		unlink(path);
		return -EIO;
	}
	return 0;
}

static u64 now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (u64)t.tv_sec * 1000000000ULL + (u64)t.tv_nsec;
}

/* How long a panic report may take to print its end line before coho stops the guest. */
#define PANIC_GRACE_NS (3 * 1000000000ULL)

/*
 * The next deadline (--timeout, or the end of a panic report's grace) as a
 * poll() timeout in ms; stops the VM when one has passed. -1: none.
 */
static int deadlines(struct vm *vm, u64 timeout_at)
{
	u64 now = now_ns(), panic = __atomic_load_n(&vm->panic_ns, __ATOMIC_ACQUIRE), next = 0;

	if (timeout_at && now >= timeout_at) {
		pr_warn("--timeout: the guest ran for %llu s; stopping it",
			(unsigned long long)(vm->cfg->timeout_ms / 1000));
		vm_request_stop(vm, COHO_EXIT_TIMEOUT);
		return 0;
	}
	if (panic && now >= panic + PANIC_GRACE_NS) {
		pr_debug("guest panic report ended without its end line; stopping");
		vm_request_stop(vm, COHO_EXIT_PANIC);
		return 0;
	}
	if (timeout_at)
		next = timeout_at;
	if (panic && (!next || panic + PANIC_GRACE_NS < next))
		next = panic + PANIC_GRACE_NS;
	if (!next)
		return -1;
	/* Round up so the wake-up is never early. */
	return (int)((next - now + 999999) / 1000000 > 60000 ? 60000
							     : (next - now + 999999) / 1000000);
}

/* The main thread's loop: console input and signals, until the VM stops. */
static void supervise(struct vm *vm, struct console_sink sink, int sigfd, bool tty, u64 timeout_at,
		      struct console_in *con, struct control *ctl)
{
	con->vm = vm;
	con->sink = sink;
	con->tty = tty;
	while (!vm_is_stopping(vm)) {
		struct pollfd fds[5] = {
			{ .fd = vm->stop_efd, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
			{ .fd = vm->event_efd, .events = POLLIN },
			{ .fd = ctl->listen_fd, .events = POLLIN },
		};
		size_t room = con->eof ? 0 : sink.room(sink.dev);
		int wait = deadlines(vm, timeout_at);

		if (vm_is_stopping(vm))
			break;
		/* Read stdin only while the guest's FIFO has room: input is never dropped. */
		if (!con->eof)
			fds[2].fd = room ? STDIN_FILENO : sink.wake_fd;
		if (poll(fds, 5, wait) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("poll: %s", strerror(errno));
			vm_request_stop(vm, COHO_EXIT_VMM_ERROR);
			break;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				pr_debug("signal %u: stopping the guest", si.ssi_signo);
				vm_request_stop(vm, COHO_EXIT_SIGNAL_BASE + (int)si.ssi_signo);
			}
		}
		if (fds[4].revents & POLLIN)
			control_serve(ctl);
		if (fds[3].revents & POLLIN) {
			u64 v;

			if (read(vm->event_efd, &v, sizeof(v)) < 0)
				pr_debug("event: %s", strerror(errno));
		}
		if (fds[2].fd == sink.wake_fd && (fds[2].revents & POLLIN)) {
			u64 v;

			if (read(sink.wake_fd, &v, sizeof(v)) < 0)
				pr_debug("console wake: %s", strerror(errno));
		} else if (fds[2].fd == STDIN_FILENO && fds[2].revents) {
			u8 buf[256];
			ssize_t n =
			    read(STDIN_FILENO, buf, room < sizeof(buf) ? room : sizeof(buf));

			if (n > 0)
				console_feed(con, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				con->eof = true;
		}
	}
}

static u64 elapsed_us(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (u64)(((s64)t.tv_sec - (s64)t0->tv_sec) * 1000000 +
		     ((s64)t.tv_nsec - (s64)t0->tv_nsec) / 1000);
}

/* What the control socket's requests act on. */
struct run_control {
	struct vm *vm;
	struct board *board;
};

/* A control socket request (control.h): status, stop, pause, resume, dump, sysrq K. */
static void control_request_run(void *opaque, const char *req, int fd)
{
	struct run_control *rc = opaque;
	struct vm *vm = rc->vm;

	if (!strcmp(req, "status")) {
		dprintf(fd, "ok name=%s pid=%d state=%s\n", vm->cfg->name, (int)getpid(),
			vm->paused ? "paused" : "running");
	} else if (!strcmp(req, "stop")) {
		pr_debug("control: stop");
		vm_request_stop(vm, COHO_EXIT_POWEROFF);
		dprintf(fd, "ok stopping\n");
	} else if (!strcmp(req, "pause")) {
		if (vm_pause(vm)) {
			dprintf(fd, "error: a vCPU did not stop within 2 s (blocked on console "
				    "output?)\n");
			return;
		}
		pr_debug("control: paused");
		dprintf(fd, "ok paused\n");
	} else if (!strcmp(req, "resume")) {
		vm_resume(vm);
		pr_debug("control: resumed");
		dprintf(fd, "ok running\n");
	} else if (!strcmp(req, "dump")) {
		bool was = vm->paused;

		/* Registers can only be read from a vCPU that is out of KVM_RUN. */
		if (!was && vm_pause(vm)) {
			dprintf(fd, "error: a vCPU did not stop within 2 s\n");
			return;
		}
		dprintf(fd, "ok\n");
		for (u32 i = 0; i < vm->nr_vcpus; i++)
			arch_vcpu_dump_regs(&vm->vcpus[i], fd);
		if (!was)
			vm_resume(vm);
	} else if (!strncmp(req, "sysrq ", 6) && req[6] > ' ' && req[6] < 0x7f && !req[7]) {
		int ret = board_console_sysrq(rc->board, (u8)req[6]);

		if (ret)
			dprintf(fd, "error: the guest's console input is full\n");
		else
			dprintf(fd, "ok sysrq %c\n", req[6]);
	} else {
		dprintf(fd, "error: unknown request '%.32s'\n", req);
	}
}

/* console_out's panic watcher: the guest's kernel printed its panic report. */
static void on_panic(void *opaque, enum console_panic state)
{
	struct vm *vm = opaque;
	u64 one = 1, zero = 0;

	/* The first line starts the grace period; the end line stops the guest at once. */
	__atomic_compare_exchange_n(&vm->panic_ns, &zero, now_ns(), false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	if (state == CONSOLE_PANIC_COMPLETE) {
		pr_debug("guest kernel panic report complete: stopping");
		vm_request_stop(vm, COHO_EXIT_PANIC);
	} else if (write(vm->event_efd, &one, sizeof(one)) < 0) {
		pr_debug("event: %s", strerror(errno));
	}
}

static bool console_stopping(void *opaque)
{
	return vm_is_stopping(opaque);
}

/*
 * A guest reboot: devices to power-on state, vCPUs reset, the boot images
 * loaded again and, because those RAM pages are already mapped at stage 2
 * (KVM cleans pages to PoC only when it first maps them), cleaned to PoC
 * again before any vCPU runs.
 */
static int reboot_vm(struct vm *vm, struct board *board, struct boot_info *bi, u32 n)
{
	struct clean_stats cs;
	char what[32];
	int ret;

	board_reset(board);
	ret = vm_reset_vcpus(vm);
	if (ret) {
		pr_err("guest reboot: cannot reset the vCPUs: %s", strerror(-ret));
		return ret;
	}
	range_set_clear(&vm->mem.written);
	ret = arm64_boot_load(vm, bi);
	if (ret) {
		pr_err("guest reboot: cannot load the boot images again");
		return ret;
	}
	snprintf(what, sizeof(what), "reboot %u", n);
	cache_clean_guest_writes(&vm->mem, &cs);
	cache_log_stats(&vm->mem, &vm->mem.written, &cs, what);
	range_set_clear(&vm->mem.written);
	return 0;
}

static int run_vm(struct vm_config *cfg)
{
	struct timespec t0;
	struct vm vm;
	struct board *board = NULL;
	struct boot_info bi;
	struct clean_stats cs;
	struct console_in con = { 0 };
	struct control ctl = { .listen_fd = -1 };
	struct run_control rctl = { .vm = &vm };
	sigset_t sigs;
	int ret, sigfd = -1, code, log_fd = -1;
	bool tty = false, log_created = false;
	u64 timeout_at = 0;
	u32 reboots = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = vm_create(&vm, cfg);
	if (ret) {
		code = ret == -EINVAL ? COHO_EXIT_USAGE : COHO_EXIT_VMM_ERROR;
		goto out_vm;
	}
	if (cfg->console_log) {
		log_created = access(cfg->console_log, F_OK) != 0;
		log_fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (log_fd < 0) {
			pr_err("--console-log %s: %s", cfg->console_log, strerror(errno));
			log_created = false;
			code = COHO_EXIT_USAGE;
			goto out_vm;
		}
	}
	console_out_init(&vm.console, STDOUT_FILENO, log_fd);
	vm.console.panic_cb = on_panic;
	vm.console.stopping = console_stopping;
	vm.console.opaque = &vm;
	board = calloc(1, sizeof(*board));
	ret = board ? board_init(board, &vm) : -ENOMEM;
	if (ret) {
		/* A disk that is missing, unreadable or not a file is bad input. */
		code = (ret == -ENOENT || ret == -EACCES || ret == -EINVAL || ret == -EISDIR ||
			ret == -EROFS || ret == -ENODEV || ret == -EBUSY || ret == -EADDRINUSE)
			   ? COHO_EXIT_USAGE
			   : COHO_EXIT_VMM_ERROR;
		goto out_vm;
	}
	pr_debug("VM created after %llu us", (unsigned long long)elapsed_us(&t0));
	/* The control socket (coho list/stop/pause/resume/debug) of a guest that will run. */
	if (!vm.dry && !cfg->dump_dtb) {
		const struct control_ops ops = { control_request_run, &rctl };

		rctl.board = board;
		ret = control_open(&ctl, cfg->name, &ops);
		/* Two guests of one name would be ambiguous; without a socket it still runs. */
		if (ret == -EADDRINUSE) {
			code = COHO_EXIT_USAGE;
			goto out_vm;
		}
		if (ret)
			pr_warn("no control socket: coho list/stop/pause/resume/debug cannot "
				"reach this guest");
	}
	ret = arm64_boot_load(&vm, &bi);
	if (ret) {
		code = COHO_EXIT_USAGE;
		goto out_vm;
	}
	if (cfg->dump_dtb) {
		code = write_dtb(&vm, &bi, cfg->dump_dtb) ? COHO_EXIT_USAGE : COHO_EXIT_POWEROFF;
		goto out_vm;
	}

	pr_debug("boot images loaded after %llu us", (unsigned long long)elapsed_us(&t0));
	/* Everything is in RAM: clean exactly what was written, before any vCPU runs. */
	cache_clean_guest_writes(&vm.mem, &cs);
	cache_log_stats(&vm.mem, &vm.mem.written, &cs, "boot");
	range_set_clear(&vm.mem.written);

	/* Signals become events of the main loop; vCPU threads inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0) {
		pr_err("signalfd: %s", strerror(errno));
		code = COHO_EXIT_VMM_ERROR;
		goto out_vm;
	}
	tty = term_enter_raw(STDIN_FILENO);
	/* Scripts' input waits for the guest's driver; a person's does not (Ctrl-A x). */
	if (tty)
		board_console_from_tty(board);
	pr_debug("%u vCPUs, %llu MiB RAM, entry 0x%llx, DTB 0x%llx; ready after %llu us",
		 vm.nr_vcpus, (unsigned long long)(vm.mem.size >> 20), (unsigned long long)bi.entry,
		 (unsigned long long)bi.dtb_addr, (unsigned long long)elapsed_us(&t0));
	ret = vm.dry ? 0 : board_start(board);
	if (ret) {
		code = vm.dry ? COHO_EXIT_USAGE : COHO_EXIT_VMM_ERROR;
		goto out_term;
	}
	/* --timeout counts from the first boot: reboots do not extend it. */
	if (cfg->timeout_ms)
		timeout_at = now_ns() + cfg->timeout_ms * 1000000ULL;
	for (;;) {
		ret = vm_start_vcpus(&vm);
		if (ret) {
			code = vm.dry ? COHO_EXIT_USAGE : COHO_EXIT_VMM_ERROR;
			vm_join_vcpus(&vm);
			goto out_term;
		}
		supervise(&vm, board_console_sink(board), sigfd, tty, timeout_at, &con, &ctl);
		vm_join_vcpus(&vm);
		code = coho_outcome(vm.exit_code, cfg->no_reboot, cfg->reboot_limit, reboots);
		if (code != COHO_REBOOT) {
			if (code == COHO_EXIT_RESET && cfg->no_reboot)
				pr_debug("guest reboot with --no-reboot: exiting");
			else if (code == COHO_EXIT_RESET)
				pr_warn("the guest asked for reboot %u; --reboot-limit is %u: "
					"stopping it",
					reboots + 1, cfg->reboot_limit);
			break;
		}
		reboots++;
		pr_debug("guest reboot %u after %llu us", reboots,
			 (unsigned long long)elapsed_us(&t0));
		if (reboot_vm(&vm, board, &bi, reboots)) {
			code = COHO_EXIT_VMM_ERROR;
			break;
		}
	}
	board_stop(board);
	pr_debug("guest stopped after %llu us, exit code %d, %u reboots",
		 (unsigned long long)elapsed_us(&t0), code, reboots);
out_term:
	term_restore();
out_vm:
	control_close(&ctl);
	if (sigfd >= 0)
		close(sigfd);
	/* Devices first: they still use the VM's descriptors to detach. */
	if (board)
		board_destroy(board);
	free(board);
	vm_destroy(&vm);
	if (log_fd >= 0) {
		console_out_destroy(&vm.console);
		close(log_fd);
		/* Nothing ran: leave no log file behind that this run created. */
		if (code == COHO_EXIT_USAGE && log_created)
			unlink(cfg->console_log);
	}
	return code;
}

static void run_free_config(struct vm_config *cfg)
{
	u32 i;

	for (i = 0; i < cfg->nr_disks; i++)
		free((char *)cfg->disks[i].path);
	cfg->nr_disks = 0;
	for (i = 0; i < cfg->nr_shares; i++)
		free((char *)cfg->shares[i].dir);
	for (i = 0; i < cfg->nr_nets; i++)
		free(cfg->nets[i].buf);
	cfg->nr_shares = 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts opts = { 0 };
	const struct option_spec specs[] = RUN_OPTIONS(&opts);
	char *pos[1];
	int npos, ret;

	npos = options_parse(specs, argc, argv, pos, 1);
	if (npos < 0) {
		ret = COHO_EXIT_USAGE;
	} else if (opts.help) {
		run_usage(stdout);
		ret = 0;
	} else if (npos == 1 && opts.cfg.kernel) {
		pr_err("two kernels given: -k %s and %s", opts.cfg.kernel, pos[0]);
		ret = COHO_EXIT_USAGE;
	} else {
		if (npos == 1)
			opts.cfg.kernel = pos[0];
		run_defaults(&opts);
		log_debug_enabled = opts.cfg.debug;
		ret = run_check_config(&opts.cfg) ? COHO_EXIT_USAGE : run_vm(&opts.cfg);
	}
	run_free_config(&opts.cfg);
	return ret;
}
