// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"
#include "util/log.h"

#define IOLOOP_STACK_SIZE (256 * 1024)

struct ioloop_watch {
	int fd;
	ioloop_fn fn;
	void *opaque;
	struct ioloop_watch *next;
};

int ioloop_init(struct ioloop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(l, 0, sizeof(*l));
	l->stop_efd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_efd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_efd, &ev) < 0)
		return -errno;
	return 0;
}

int ioloop_add(struct ioloop *l, int fd, u32 events, ioloop_fn fn, void *opaque)
{
	struct ioloop_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(w);
		return err;
	}
	/* Watches are only added and removed before the loop starts or after it stops. */
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int ioloop_del(struct ioloop *l, int fd)
{
	struct ioloop_watch **p;

	for (p = &l->watches; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			struct ioloop_watch *w = *p;

			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			*p = w->next;
			free(w);
			return 0;
		}
	}
	return -ENOENT;
}

int ioloop_mod(struct ioloop *l, int fd, u32 events)
{
	struct ioloop_watch *w;

	for (w = l->watches; w; w = w->next) {
		if (w->fd == fd) {
			struct epoll_event ev = { .events = events, .data.ptr = w };

			return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

static void *ioloop_thread(void *arg)
{
	struct ioloop *l = arg;
	struct epoll_event evs[32];

	for (;;) {
		int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), -1), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			struct ioloop_watch *w = evs[i].data.ptr;

			if (!w)
				return NULL; /* the stop eventfd */
			w->fn(w->opaque, evs[i].events);
		}
	}
}

int ioloop_start(struct ioloop *l)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	/* Signals belong to the main thread's signalfd and the vCPU kicks. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, IOLOOP_STACK_SIZE);
	ret = pthread_create(&l->thread, &attr, ioloop_thread, l);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	l->running = true;
	return 0;
}

void ioloop_stop(struct ioloop *l)
{
	u64 one = 1;

	if (!l->running)
		return;
	if (write(l->stop_efd, &one, sizeof(one)) < 0)
		pr_debug("ioloop stop: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	l->running = false;
}

void ioloop_destroy(struct ioloop *l)
{
	ioloop_stop(l);
	while (l->watches)
		ioloop_del(l, l->watches->fd);
	if (l->stop_efd >= 0)
		close(l->stop_efd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = l->stop_efd = -1;
}
