/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_UTIL_TYPES_H
#define COHO_UTIL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SZ_4K	      0x1000ULL
#define SZ_64K	      0x10000ULL
#define SZ_1M	      0x100000ULL
#define SZ_2M	      0x200000ULL
#define SZ_1G	      0x40000000ULL

/* Power-of-two alignment; callers check for overflow with align_up_checked(). */
#define ALIGN_DOWN(x, a) ((x) & ~((u64)(a)-1))

/* Round x up to a (a power of two); false if the result would overflow u64. */
static inline bool align_up_checked(u64 x, u64 a, u64 *out)
{
	u64 r;

	if (__builtin_add_overflow(x, a - 1, &r))
		return false;
	*out = ALIGN_DOWN(r, a);
	return true;
}

static inline u16 get_le16(const void *p)
{
	const u8 *b = p;
	return (u16)(b[0] | b[1] << 8);
}

static inline u32 get_le32(const void *p)
{
	const u8 *b = p;
	return (u32)b[0] | (u32)b[1] << 8 | (u32)b[2] << 16 | (u32)b[3] << 24;
}

static inline u64 get_le64(const void *p)
{
	const u8 *b = p;
	return (u64)get_le32(b) | (u64)get_le32(b + 4) << 32;
}

#endif
