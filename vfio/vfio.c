// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vfio/vfio.h"

const char *vfio_sysfs_root = "/sys";

static int hexfield(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned long)d;
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

int vfio_parse_bdf(const char *s, char out[16])
{
	const char *c1 = strchr(s, ':'), *c2, *dot;
	unsigned long dom = 0, bus, dev, fn;

	if (!c1)
		return -EINVAL;
	c2 = strchr(c1 + 1, ':');
	if (c2) {
		if (hexfield(s, (size_t)(c1 - s), 0xffff, &dom))
			return -EINVAL;
		s = c1 + 1;
		c1 = c2;
	}
	dot = strchr(c1 + 1, '.');
	if (!dot || hexfield(s, (size_t)(c1 - s), 0xff, &bus) ||
	    hexfield(c1 + 1, (size_t)(dot - c1 - 1), 0x1f, &dev) ||
	    hexfield(dot + 1, strlen(dot + 1), 7, &fn))
		return -EINVAL;
	snprintf(out, 16, "%04lx:%02lx:%02lx.%lx", dom, bus, dev, fn);
	return 0;
}

bool vfio_reserved_overlap(const char *text, u64 base, u64 size, u64 *rs, u64 *re, char type[16])
{
	const char *line = text;

	while (line && *line) {
		unsigned long long s, e;
		char t[16] = "";

		if (sscanf(line, "%llx %llx %15s", &s, &e, t) >= 2 && s <= e && base < e + 1 &&
		    s < base + size) {
			*rs = s;
			*re = e;
			snprintf(type, 16, "%s", t);
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* The last path component of the symlink @dir/@name, or "" if there is none. */
static void link_name(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	const char *slash;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = '\0';
	slash = strrchr(target, '/');
	if (snprintf(out, len, "%s", slash ? slash + 1 : target) >= (int)len)
		out[0] = '\0'; /* longer than any name we look for */
}

static char *read_text(const char *path)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (!nb)
				break;
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

void vfio_container_init(struct vfio_container *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

int vfio_container_open(struct vfio_container *c)
{
	int ret;

	vfio_container_init(c);
	c->fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		ret = -errno;
		pr_err(
		    "--vfio-pci: cannot open /dev/vfio/vfio: %s (is the vfio-pci module loaded?)",
		    strerror(errno));
		return ret;
	}
	if (ioctl(c->fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		pr_err("--vfio-pci: the host's VFIO has no type 1 v2 IOMMU support");
		close(c->fd);
		c->fd = -1;
		return -ENOTSUP;
	}
	return 0;
}

int vfio_container_map_ram(struct vfio_container *c, const struct guest_mem *mem)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (u64)(uintptr_t)mem->host,
		.iova = mem->base,
		.size = mem->size,
	};

	if (c->dma_mapped)
		return 0;
	if (ioctl(c->fd, VFIO_IOMMU_MAP_DMA, &map) < 0) {
		int ret = -errno;

		pr_err("--vfio-pci: cannot map guest RAM for DMA: %s", strerror(errno));
		return ret;
	}
	c->dma_mapped = true;
	c->iova = mem->base;
	c->size = mem->size;
	return 0;
}

void vfio_container_close(struct vfio_container *c)
{
	if (c->fd < 0)
		return;
	if (c->dma_mapped) {
		struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap),
							    .iova = c->iova,
							    .size = c->size };

		ioctl(c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
	}
	for (u32 i = 0; i < c->nr_groups; i++) {
		ioctl(c->groups[i].fd, VFIO_GROUP_UNSET_CONTAINER);
		close(c->groups[i].fd);
	}
	c->nr_groups = 0;
	close(c->fd);
	c->fd = -1;
}

/* Name every device of group @id that is not bound to vfio-pci, for the error line. */
static void group_others(int id, const char *self, char *out, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t used = 0;

	out[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/kernel/iommu_groups/%d/devices", vfio_sysfs_root, id);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char devdir[PATH_MAX], drv[64];

		if (de->d_name[0] == '.' || !strcmp(de->d_name, self))
			continue;
		if (snprintf(devdir, sizeof(devdir), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(devdir))
			continue;
		link_name(devdir, "driver", drv, sizeof(drv));
		if (!strcmp(drv, "vfio-pci"))
			continue;
		used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s (%s)",
					 used ? ", " : "", de->d_name, drv[0] ? drv : "no driver");
		if (used >= len)
			break;
	}
	closedir(d);
}

/*
 * The host's DT decides coherency for non-ACPI hosts: "dma-coherent" on the
 * device's node or on any node above it (usually the host bridge).
 */
static bool host_dt_coherent(const char *devdir, char *why, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX];

	if (!realpath(devdir, real))
		return false;
	for (;;) {
		char *slash;
		struct stat st;

		if (snprintf(path, sizeof(path), "%s/of_node/dma-coherent", real) <
			(int)sizeof(path) &&
		    !stat(path, &st)) {
			if (snprintf(why, len, "dma-coherent in the host DT at %s", real) >=
			    (int)len)
				why[len - 1] = '\0';
			return true;
		}
		slash = strrchr(real, '/');
		if (!slash || slash == real || !strcmp(real, "/sys/devices"))
			break;
		*slash = '\0';
	}
	snprintf(why, len, "no dma-coherent in the host DT above the device");
	return false;
}

static int group_attach(struct vfio_dev *v, struct vfio_container *c)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64], others[512];
	int fd, ret;

	for (u32 i = 0; i < c->nr_groups; i++) {
		if (c->groups[i].id == v->group_id) {
			v->group_fd = c->groups[i].fd;
			return 0;
		}
	}
	if (c->nr_groups == VFIO_MAX_GROUPS) {
		pr_err("--vfio-pci %s: at most %d IOMMU groups", v->bdf, VFIO_MAX_GROUPS);
		return -E2BIG;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", v->group_id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_err("--vfio-pci %s: cannot open %s (IOMMU group %d): %s", v->bdf, path,
		       v->group_id, strerror(errno));
		return ret;
	}
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		group_others(v->group_id, v->bdf, others, sizeof(others));
		pr_err("--vfio-pci %s: IOMMU group %d is not viable: every device in it must be "
		       "bound to vfio-pci%s%s",
		       v->bdf, v->group_id, others[0] ? "; not bound: " : "", others);
		close(fd);
		return -EBUSY;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &c->fd) < 0) {
		ret = -errno;
		pr_err("--vfio-pci %s: cannot attach IOMMU group %d: %s", v->bdf, v->group_id,
		       strerror(errno));
		close(fd);
		return ret;
	}
	if (!c->iommu_set) {
		if (ioctl(c->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
			ret = -errno;
			pr_err("--vfio-pci %s: cannot set up the IOMMU: %s", v->bdf,
			       strerror(errno));
			ioctl(fd, VFIO_GROUP_UNSET_CONTAINER);
			close(fd);
			return ret;
		}
		c->iommu_set = true;
		c->cc_iommu = ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) > 0;
	}
	c->groups[c->nr_groups].id = v->group_id;
	c->groups[c->nr_groups].fd = fd;
	c->nr_groups++;
	v->group_fd = fd;
	return 0;
}

int vfio_dev_open(struct vfio_dev *v, const char *bdf, struct vfio_container *c,
		  const struct guest_mem *mem)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char devdir[PATH_MAX], drv[64], grp[32], path[PATH_MAX], *text;
	struct stat st;
	u64 rs, re;
	char type[16];
	int ret;

	memset(v, 0, sizeof(*v));
	v->fd = v->group_fd = -1;
	snprintf(v->bdf, sizeof(v->bdf), "%s", bdf);
	snprintf(devdir, sizeof(devdir), "%s/bus/pci/devices/%s", vfio_sysfs_root, bdf);
	if (stat(devdir, &st)) {
		pr_err("--vfio-pci %s: no such PCI device on this host", bdf);
		return -ENODEV;
	}
	link_name(devdir, "driver", drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci")) {
		pr_err("--vfio-pci %s: the device is bound to %s, not vfio-pci (echo vfio-pci > "
		       "%s/driver_override; echo %s > /sys/bus/pci/drivers_probe)",
		       bdf, drv[0] ? drv : "no driver", devdir, bdf);
		return -EBUSY;
	}
	link_name(devdir, "iommu_group", grp, sizeof(grp));
	v->group_id = grp[0] ? atoi(grp) : -1;
	if (!grp[0]) {
		pr_err("--vfio-pci %s: the device is in no IOMMU group (no IOMMU on this host?)",
		       bdf);
		return -ENODEV;
	}
	/* IOVA = GPA: guest RAM must not overlap what the IOMMU reserves (e.g. the MSI window). */
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/reserved_regions", vfio_sysfs_root,
		 v->group_id);
	text = read_text(path);
	if (text && vfio_reserved_overlap(text, mem->base, mem->size, &rs, &re, type)) {
		pr_err("--vfio-pci %s: guest RAM 0x%llx-0x%llx overlaps the %s region "
		       "0x%llx-0x%llx reserved by IOMMU group %d",
		       bdf, (unsigned long long)mem->base,
		       (unsigned long long)(mem->base + mem->size - 1), type,
		       (unsigned long long)rs, (unsigned long long)re, v->group_id);
		free(text);
		return -EADDRINUSE;
	}
	free(text);
	if (c->fd < 0) {
		ret = vfio_container_open(c);
		if (ret)
			return ret;
	}
	ret = group_attach(v, c);
	if (ret)
		return ret;
	ret = vfio_container_map_ram(c, mem);
	if (ret)
		return ret;
	v->fd = ioctl(v->group_fd, VFIO_GROUP_GET_DEVICE_FD, v->bdf);
	if (v->fd < 0) {
		ret = -errno;
		pr_err("--vfio-pci %s: cannot open the device: %s", bdf, strerror(errno));
		return ret;
	}
	if (ioctl(v->fd, VFIO_DEVICE_GET_INFO, &info) < 0 ||
	    !(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
		pr_err("--vfio-pci %s: not a VFIO PCI device", bdf);
		return -ENODEV;
	}
	v->num_regions = info.num_regions;
	v->num_irqs = info.num_irqs;
	v->can_reset = info.flags & VFIO_DEVICE_FLAGS_RESET;
	if (v->can_reset && ioctl(v->fd, VFIO_DEVICE_RESET) < 0)
		pr_debug("vfio %s: reset: %s", bdf, strerror(errno));
	v->host_dt_coherent = host_dt_coherent(devdir, v->coherent_why, sizeof(v->coherent_why));
	pr_debug("vfio %s: group %d, %u regions, %u irqs, reset %s", bdf, v->group_id,
		 v->num_regions, v->num_irqs, v->can_reset ? "yes" : "no");
	return 0;
}

void vfio_dev_close(struct vfio_dev *v)
{
	if (v->fd >= 0) {
		if (v->can_reset)
			ioctl(v->fd, VFIO_DEVICE_RESET);
		close(v->fd);
	}
	v->fd = -1;
}
