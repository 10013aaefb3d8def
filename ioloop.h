/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_IOLOOP_H
#define COHO_IOLOOP_H

#include <pthread.h>

#include "util/types.h"

/*
 * One event-loop thread (epoll) for device work: queue notifications
 * (ioeventfds), tap and console fds. Device work runs here, never on a vCPU
 * thread, so a slow backend never stalls a vCPU.
 */
typedef void (*ioloop_fn)(void *opaque, u32 events);

struct ioloop_watch;

struct ioloop {
	int epfd;
	int stop_efd;
	pthread_t thread;
	bool running;
	struct ioloop_watch *watches;
};

int ioloop_init(struct ioloop *l);
/* Call @fn(opaque, events) on the loop thread whenever @fd has @events (EPOLLIN...). */
int ioloop_add(struct ioloop *l, int fd, u32 events, ioloop_fn fn, void *opaque);
int ioloop_del(struct ioloop *l, int fd);
/* Change the events watched on @fd (0: none for now); any thread. */
int ioloop_mod(struct ioloop *l, int fd, u32 events);
int ioloop_start(struct ioloop *l);
/* Stop the thread and wait for it; safe if it never started. */
void ioloop_stop(struct ioloop *l);
void ioloop_destroy(struct ioloop *l);

#endif
