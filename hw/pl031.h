/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_HW_PL031_H
#define COHO_HW_PL031_H

#include <pthread.h>

#include "util/types.h"

struct vm;

/*
 * ARM PrimeCell PL031 real-time clock (DDI0224): a seconds counter that
 * starts at the host's UTC time. The alarm (match) interrupt is not raised.
 */
struct pl031 {
	pthread_mutex_t lock;
	s64 offset; /* guest seconds minus host seconds */
	u32 match;
	u32 imsc;
	bool started;
};

int pl031_init(struct pl031 *rtc, struct vm *vm, u64 base);

#endif
