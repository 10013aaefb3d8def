// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <time.h>

#include "hw/pl031.h"
#include "vm.h"

enum {
	RTC_DR = 0x00,	 /* data: current counter */
	RTC_MR = 0x04,	 /* match */
	RTC_LR = 0x08,	 /* load */
	RTC_CR = 0x0c,	 /* control: bit 0 starts the counter */
	RTC_IMSC = 0x10, /* interrupt mask */
	RTC_RIS = 0x14,	 /* raw interrupt status */
	RTC_MIS = 0x18,	 /* masked interrupt status */
	RTC_ICR = 0x1c,	 /* interrupt clear */
	RTC_ID = 0xfe0,	 /* PeriphID0-3, PCellID0-3 */
};

/* AMBA identification: part 0x031, designer ARM (0x41), then the PrimeCell ID. */
static const u8 pl031_id[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

static u32 pl031_now(struct pl031 *rtc)
{
	return (u32)((s64)time(NULL) + rtc->offset);
}

static void pl031_mmio(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct pl031 *rtc = opaque;
	u32 v = 0;

	/* 32-bit registers; narrower or misaligned accesses read as zero, writes are ignored. */
	if (len != 4 || (offset & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&rtc->lock);
	if (is_write) {
		memcpy(&v, data, 4);
		switch (offset) {
		case RTC_MR:
			rtc->match = v;
			break;
		case RTC_LR:
			rtc->offset = (s64)v - (s64)time(NULL);
			break;
		case RTC_CR:
			rtc->started = true; /* writing 0 has no effect on a started RTC */
			break;
		case RTC_IMSC:
			rtc->imsc = v & 1;
			break;
		default:
			break;
		}
	} else {
		if (offset >= RTC_ID && offset < RTC_ID + 4 * sizeof(pl031_id))
			v = pl031_id[(offset - RTC_ID) / 4];
		else if (offset == RTC_DR)
			v = pl031_now(rtc);
		else if (offset == RTC_MR)
			v = rtc->match;
		else if (offset == RTC_LR)
			v = pl031_now(rtc);
		else if (offset == RTC_CR)
			v = rtc->started;
		else if (offset == RTC_IMSC)
			v = rtc->imsc;
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&rtc->lock);
}

int pl031_init(struct pl031 *rtc, struct vm *vm, u64 base)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->started = true;
	return mmio_bus_register(&vm->mmio, base, 0x1000, pl031_mmio, rtc, "pl031");
}
