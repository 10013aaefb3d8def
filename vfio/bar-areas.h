/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VFIO_BAR_AREAS_H
#define COHO_VFIO_BAR_AREAS_H

#include <linux/vfio.h>

#include "util/types.h"

/*
 * Which parts of a BAR can be memory slots. Pure functions over what VFIO
 * reported, so they can be tested with crafted input; nothing the kernel
 * says is trusted to stay inside the buffer or the region.
 */
struct vfio_bar_area {
	u64 off, size; /* page-aligned part of the BAR */
	void *hva;     /* its mmap */
	int slot;      /* KVM memory slot, 0: not in the guest */
	bool warned;   /* a failed slot was reported */
	u64 gpa;
};

/*
 * The mmappable areas of a region of @size bytes whose
 * VFIO_DEVICE_GET_REGION_INFO answer is @ri (@argsz bytes, capabilities
 * included): its sparse-mmap capability if it has one, else the whole
 * region. Areas outside the region, empty or not aligned to @page are
 * dropped (they stay trapped); at most @max are written to @out. Returns
 * how many.
 */
u32 vfio_region_areas(const struct vfio_region_info *ri, u32 argsz, u64 size, u64 page,
		      struct vfio_bar_area *out, u32 max);

/*
 * Remove [@hs, @he), widened to whole pages, from the @n areas in @a (room
 * for @max): what must stay trapped (the MSI-X table and PBA). An area the
 * hole splits becomes two if there is room, else loses its tail. Returns
 * the new count.
 */
u32 vfio_areas_punch(struct vfio_bar_area *a, u32 n, u32 max, u64 hs, u64 he, u64 page);

#endif
