// SPDX-License-Identifier: GPL-2.0
#include "vfio/bar-areas.h"

static bool page_run(u64 off, u64 size, u64 page)
{
	return !((off | size) & (page - 1));
}

u32 vfio_region_areas(const struct vfio_region_info *ri, u32 argsz, u64 size, u64 page,
		      struct vfio_bar_area *out, u32 max)
{
	const u8 *base = (const u8 *)ri;
	u32 n = 0, off;

	if (!max || !size || !page || (page & (page - 1)) || argsz < sizeof(*ri))
		return 0;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS))
		goto whole;
	/*
	 * Walk the capability chain: each header and body must lie inside
	 * argsz, 8-byte aligned as the kernel lays them out. A chain that
	 * cannot be followed maps nothing: an unreachable sparse capability
	 * would have said which pages must stay trapped.
	 */
	off = ri->cap_offset;
	for (;;) {
		const struct vfio_info_cap_header *h;

		if (off < sizeof(*ri) || (off & 7) || off > argsz || argsz - off < sizeof(*h))
			return 0;
		h = (const void *)(base + off);
		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			const struct vfio_region_info_cap_sparse_mmap *s = (const void *)h;
			u64 room;

			if (argsz - off < sizeof(*s))
				return 0;
			room = (argsz - off - sizeof(*s)) / sizeof(s->areas[0]);
			for (u64 i = 0; i < s->nr_areas && i < room && n < max; i++) {
				u64 ao = s->areas[i].offset, as = s->areas[i].size;

				/* Empty, outside, wrapping or not whole pages: stays trapped. */
				if (!as || ao >= size || as > size - ao || !page_run(ao, as, page))
					continue;
				out[n++] = (struct vfio_bar_area){ .off = ao, .size = as };
			}
			return n;
		}
		if (!h->next)
			break;
		/* The chain only moves forward inside argsz, so it ends. */
		if (h->next <= off)
			return 0;
		off = h->next;
	}
whole:
	if (!page_run(0, size, page))
		return 0;
	out[0] = (struct vfio_bar_area){ .off = 0, .size = size };
	return 1;
}

u32 vfio_areas_punch(struct vfio_bar_area *a, u32 n, u32 max, u64 hs, u64 he, u64 page)
{
	if (!page || (page & (page - 1)) || he <= hs)
		return n;
	hs &= ~(page - 1);
	he =
	    he > UINT64_MAX - (page - 1) ? UINT64_MAX & ~(page - 1) : (he + page - 1) & ~(page - 1);
	for (u32 i = 0; i < n; i++) {
		u64 as = a[i].off, ae = a[i].off + a[i].size;

		if (he <= as || hs >= ae)
			continue;
		if (hs > as && he < ae) {
			/* The hole splits the area; without room the tail stays trapped. */
			if (n < max)
				a[n++] = (struct vfio_bar_area){ .off = he, .size = ae - he };
			a[i].size = hs - as;
		} else if (hs > as) {
			a[i].size = hs - as;
		} else if (he < ae) {
			a[i].off = he;
			a[i].size = ae - he;
		} else {
			a[i] = a[--n];
			i--;
		}
	}
	return n;
}
