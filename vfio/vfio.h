/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VFIO_VFIO_H
#define COHO_VFIO_VFIO_H

#include "guest_mem.h"
#include "util/types.h"

/*
 * Host side of VFIO PCI passthrough: the container (TYPE1v2 IOMMU, all
 * guest RAM mapped for DMA at IOVA = GPA), the device's group and the
 * device itself, found through sysfs. Every failure is one line naming the
 * device (and its group) and what to do about it.
 */

/* "/sys" normally; tests point it at a fake tree. */
extern const char *vfio_sysfs_root;

#define VFIO_MAX_GROUPS 8

struct vfio_container {
	int fd;
	bool iommu_set;
	struct {
		int id, fd;
	} groups[VFIO_MAX_GROUPS];
	u32 nr_groups;
	bool dma_mapped;
	u64 iova, size;
	bool cc_iommu; /* VFIO_DMA_CC_IOMMU: the IOMMU enforces coherent DMA */
};

struct vfio_dev {
	char bdf[16]; /* canonical DDDD:BB:DD.F */
	int group_id;
	int group_fd; /* owned by the container */
	int fd;
	u32 num_regions, num_irqs;
	bool can_reset;
	bool host_dt_coherent; /* a host DT node above the device says dma-coherent */
	char coherent_why[128];
};

/*
 * Parse "[DOMAIN:]BUS:DEV.FN" (hex; domain 0 if absent) into "DDDD:BB:DD.F".
 * -EINVAL if malformed or out of range.
 */
int vfio_parse_bdf(const char *s, char out[16]);

/*
 * Parse one iommu_groups/N/reserved_regions file's text; true if
 * [base, base + size) overlaps a reserved region, with that region in
 * *@rs..*@re and its type copied into @type.
 */
bool vfio_reserved_overlap(const char *text, u64 base, u64 size, u64 *rs, u64 *re, char type[16]);

/* An empty container: opened by the first vfio_dev_open(). */
void vfio_container_init(struct vfio_container *c);
int vfio_container_open(struct vfio_container *c);
/* Map all guest RAM for the device's DMA: IOVA = guest physical address. */
int vfio_container_map_ram(struct vfio_container *c, const struct guest_mem *mem);
void vfio_container_close(struct vfio_container *c);

/*
 * Check the device exists and is bound to vfio-pci, open @c if needed,
 * check its group is viable and guest RAM avoids the group's reserved
 * regions, attach the group to @c (setting the IOMMU on the first), map
 * guest RAM for DMA, open and reset the device.
 */
int vfio_dev_open(struct vfio_dev *v, const char *bdf, struct vfio_container *c,
		  const struct guest_mem *mem);
void vfio_dev_close(struct vfio_dev *v);

#endif
