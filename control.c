// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "util/log.h"

/* A client gets this long to send its request line. */
#define REQUEST_TIMEOUT_MS 1000
/* ... and a client waits this long for the answer (a paused dump takes a moment). */
#define REPLY_TIMEOUT_S	   10

bool control_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > CONTROL_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* @path must be our own directory, not writable by anyone else. */
static int dir_check(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) {
		pr_err("control socket directory %s is not a directory of ours that only we can "
		       "write (mode 0700 expected)",
		       path);
		return -EPERM;
	}
	return 0;
}

int control_dir(char *buf, size_t len, bool create)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	int n, ret;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/coho", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.coho", home);
	else
		n = snprintf(buf, len, "/tmp/coho-%u", (unsigned)getuid());
	if (n < 0 || (size_t)n >= len) {
		pr_err("control socket directory path too long");
		return -ENAMETOOLONG;
	}
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		pr_err("cannot create the control socket directory %s: %s", buf, strerror(errno));
		return ret;
	}
	return dir_check(buf);
}

int control_addr(const char *dir, const char *name, struct sockaddr_un *sun)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock", dir, name);
	return n < 0 || (size_t)n >= sizeof(sun->sun_path) ? -ENAMETOOLONG : 0;
}

static int connect_to(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Remove @sun's path if it is a socket of ours that nobody listens on. */
static void remove_stale(const struct sockaddr_un *sun)
{
	struct stat st;

	if (lstat(sun->sun_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == getuid())
		unlink(sun->sun_path);
}

int control_open(struct control *c, const char *name, const struct control_ops *ops)
{
	char dir[sizeof(c->addr.sun_path)];
	mode_t old;
	int ret, fd;

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->ops = *ops;
	ret = control_dir(dir, sizeof(dir), true);
	if (ret)
		return ret;
	if (control_addr(dir, name, &c->addr)) {
		pr_err("--name %s: the control socket path in %s is too long", name, dir);
		return -ENAMETOOLONG;
	}
	fd = connect_to(&c->addr);
	if (fd >= 0) {
		close(fd);
		pr_err("a guest named %s is already running (its socket is %s)", name,
		       c->addr.sun_path);
		return -EADDRINUSE;
	}
	if (fd == -ECONNREFUSED)
		remove_stale(&c->addr);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		return -errno;
	/* Created 0600 from the start: no window where others could connect. */
	old = umask(0177);
	ret = bind(c->listen_fd, (struct sockaddr *)&c->addr, sizeof(c->addr));
	umask(old);
	if (ret < 0 || listen(c->listen_fd, 8) < 0) {
		ret = -errno;
		pr_err("cannot listen on %s: %s", c->addr.sun_path, strerror(errno));
		close(c->listen_fd);
		c->listen_fd = -1;
		return ret == -EADDRINUSE ? -EADDRINUSE : ret;
	}
	pr_debug("control socket %s", c->addr.sun_path);
	return 0;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void control_serve(struct control *c)
{
	char req[128];
	size_t got = 0;
	long long deadline;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* One line, bounded in size and time: a slow client cannot hold the VM up. */
	deadline = now_ms() + REQUEST_TIMEOUT_MS;
	while (got < sizeof(req) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(req, '\n', got))
			break;
	}
	req[got] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if (got)
		c->ops.request(c->ops.opaque, req, fd);
	close(fd);
}

void control_close(struct control *c)
{
	if (c->listen_fd < 0)
		return;
	close(c->listen_fd);
	c->listen_fd = -1;
	unlink(c->addr.sun_path);
}

int control_request(const char *dir, const char *name, const char *req, char *reply, size_t len)
{
	struct timeval tmo = { .tv_sec = REPLY_TIMEOUT_S };
	struct sockaddr_un sun;
	char buf[1024];
	size_t got = 0;
	int fd, line;

	if (control_addr(dir, name, &sun))
		return -ENAMETOOLONG;
	fd = connect_to(&sun);
	if (fd == -ECONNREFUSED)
		remove_stale(&sun);
	if (fd < 0)
		return fd == -ECONNREFUSED ? -ENOENT : fd;
	if (!len) {
		close(fd);
		return -EINVAL;
	}
	/* A guest's coho that is stopped or stuck must not hang `coho list`. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	line = snprintf(buf, sizeof(buf), "%s\n", req);
	if (line < 0 || (size_t)line >= sizeof(buf) ||
	    send(fd, buf, (size_t)line, MSG_NOSIGNAL) != line) {
		close(fd);
		return -EIO;
	}
	shutdown(fd, SHUT_WR);
	while (got + 1 < len) {
		ssize_t n = read(fd, reply + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	reply[got] = '\0';
	close(fd);
	return 0;
}
