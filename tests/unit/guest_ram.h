/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_TESTS_UNIT_GUEST_RAM_H
#define COHO_TESTS_UNIT_GUEST_RAM_H

/*
 * A fake driver's view of guest RAM: little-endian loads and stores by
 * guest physical address, as a guest writes its rings. Point test_ram at
 * the guest_mem under test first; an address outside it is a test bug.
 */
#include <stdio.h>
#include <stdlib.h>

#include "guest_mem.h"

static struct guest_mem *test_ram;

static inline u8 *hva(u64 gpa, u64 len)
{
	u8 *p = gpa_to_hva(test_ram, gpa, len);

	if (!p) {
		fprintf(stderr, "test bug: 0x%llx+0x%llx outside RAM\n", (unsigned long long)gpa,
			(unsigned long long)len);
		exit(2);
	}
	return p;
}

static inline void put16(u64 gpa, u16 v)
{
	u8 *p = hva(gpa, 2);

	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
}

static inline void put32(u64 gpa, u32 v)
{
	put16(gpa, (u16)v);
	put16(gpa + 2, (u16)(v >> 16));
}

static inline void put64(u64 gpa, u64 v)
{
	put32(gpa, (u32)v);
	put32(gpa + 4, (u32)(v >> 32));
}

static inline u16 get16(u64 gpa)
{
	return get_le16(hva(gpa, 2));
}

static inline u32 get32(u64 gpa)
{
	return get_le32(hva(gpa, 4));
}

#endif
