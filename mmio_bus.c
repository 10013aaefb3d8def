// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmio_bus.h"
#include "util/log.h"

int mmio_bus_register(struct mmio_bus *bus, u64 base, u64 size, mmio_fn fn, void *opaque,
		      const char *name)
{
	struct mmio_region *n;
	size_t i, pos = bus->nr;
	u64 end;

	if (!size || __builtin_add_overflow(base, size, &end))
		return -EINVAL;
	for (i = 0; i < bus->nr; i++) {
		const struct mmio_region *r = &bus->regions[i];

		if (base < r->base + r->size && r->base < end) {
			pr_err("MMIO range of %s overlaps %s", name, r->name);
			return -EBUSY;
		}
		if (pos == bus->nr && base < r->base)
			pos = i;
	}
	n = realloc(bus->regions, (bus->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	bus->regions = n;
	memmove(&n[pos + 1], &n[pos], (bus->nr - pos) * sizeof(*n));
	n[pos] = (struct mmio_region){ base, size, fn, opaque, name };
	bus->nr++;
	return 0;
}

static struct mmio_region *mmio_bus_find(struct mmio_bus *bus, u64 addr, u32 len)
{
	size_t lo = 0, hi = bus->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct mmio_region *r = &bus->regions[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->size) {
			lo = mid + 1;
		} else {
			/* The whole access must fit inside the region. */
			return len <= r->size - (addr - r->base) ? r : NULL;
		}
	}
	return NULL;
}

bool mmio_bus_access(struct mmio_bus *bus, u64 addr, u8 *data, u32 len, bool is_write)
{
	struct mmio_region *r = mmio_bus_find(bus, addr, len);

	if (!r || len == 0 || len > 8) {
		/* Read-as-zero, write-ignored, as on a bus with nothing behind it. */
		if (!is_write)
			memset(data, 0, len > 8 ? 8 : len);
		if (__atomic_fetch_add(&bus->unhandled, 1, __ATOMIC_RELAXED) < 8)
			pr_debug("unhandled MMIO %s of %u bytes at 0x%llx",
				 is_write ? "write" : "read", len, (unsigned long long)addr);
		return false;
	}
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return true;
}

void mmio_bus_free(struct mmio_bus *bus)
{
	free(bus->regions);
	bus->regions = NULL;
	bus->nr = 0;
}
