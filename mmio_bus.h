/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_MMIO_BUS_H
#define COHO_MMIO_BUS_H

#include "util/types.h"

/*
 * Guest MMIO exits are dispatched by address to the device that registered
 * the range. Registration happens before the vCPUs start; lookups after that
 * take no lock. Devices serialise their own state.
 */
typedef void (*mmio_fn)(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);

struct mmio_region {
	u64 base;
	u64 size;
	mmio_fn fn;
	void *opaque;
	const char *name;
};

struct mmio_bus {
	struct mmio_region *regions; /* sorted by base, non-overlapping */
	size_t nr;
	unsigned unhandled; /* accesses that hit no device */
};

/* -EINVAL on an empty or overflowing range, -EBUSY on overlap, -ENOMEM. */
int mmio_bus_register(struct mmio_bus *bus, u64 base, u64 size, mmio_fn fn, void *opaque,
		      const char *name);
/* true if a device handled the access; reads of unclaimed addresses return 0. */
bool mmio_bus_access(struct mmio_bus *bus, u64 addr, u8 *data, u32 len, bool is_write);
void mmio_bus_free(struct mmio_bus *bus);

#endif
