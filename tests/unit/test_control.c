// SPDX-License-Identifier: GPL-2.0
/*
 * control.c: guest names, where the sockets live (and that nobody else can
 * write there), and the request/reply exchange over a real Unix socket,
 * stale sockets and misbehaving clients included. Every socket and directory
 * is made under a temporary directory that XDG_RUNTIME_DIR or HOME points
 * to; the /tmp/coho-UID fallback is removed again if the test made it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "tests/unit/capture.h"
#include "tests/unit/test.h"

static char tmp[64];	  /* this test's own directory */
static char sockdir[128]; /* tmp/xdg/coho: where control_open() puts sockets */
static char *saved_xdg, *saved_home;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *dup_env(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, const char *v)
{
	if (v)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

/* XDG_RUNTIME_DIR at tmp/xdg (made), HOME at tmp/home (not made). */
static void env_setup(void)
{
	char xdg[96], home[96];

	snprintf(xdg, sizeof(xdg), "%s/xdg", tmp);
	snprintf(home, sizeof(home), "%s/home", tmp);
	rm_rf(xdg);
	rm_rf(home);
	if (mkdir(xdg, 0700) < 0) {
		perror(xdg);
		exit(2);
	}
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	setenv("HOME", home, 1);
	snprintf(sockdir, sizeof(sockdir), "%s/coho", xdg);
}

static void sock_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.sock", sockdir, name);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void test_setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/coho-test-control-XXXXXX");
	if (!mkdtemp(tmp)) {
		perror(tmp);
		exit(2);
	}
	saved_xdg = dup_env("XDG_RUNTIME_DIR");
	saved_home = dup_env("HOME");
	/* As coho run does: a client that left must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
}

static void test_teardown(void)
{
	restore_env("XDG_RUNTIME_DIR", saved_xdg);
	restore_env("HOME", saved_home);
	free(saved_xdg);
	free(saved_home);
	rm_rf(tmp);
	CHECK(!exists(tmp));
}

static void test_name_ok(void)
{
	static const char *const good[] = { "a", "guest-123", "x.y_z", "A-Z_0.9", "a..", "-" };
	static const char *const bad[] = { "",	  ".hidden",	  "a/b",	  "..",
					   ".",	  "a b",	  " a",		  "a\n",
					   "a\t", "gu\xc3\xa9st", "\xe2\x82\xac", "a:b",
					   "a*",  "a\\b",	  "a\x7f",	  "\x01" };
	char n64[CONTROL_NAME_MAX + 2];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(control_name_ok(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (control_name_ok(bad[i])) {
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
			CHECK(!control_name_ok(bad[i]));
		}
	}
	CHECK(!control_name_ok("a\n") && !control_name_ok("..") && !control_name_ok(""));
	memset(n64, 'n', sizeof(n64));
	n64[CONTROL_NAME_MAX] = '\0';
	CHECK(control_name_ok(n64));
	n64[CONTROL_NAME_MAX] = 'n';
	n64[CONTROL_NAME_MAX + 1] = '\0';
	CHECK(!control_name_ok(n64));
}

static void test_dir_xdg_and_home(void)
{
	char buf[108], want[128];
	struct stat st;
	const char *err;

	env_setup();
	/* XDG_RUNTIME_DIR/coho, made 0700. */
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), true), 0);
	CHECK_STR(buf, sockdir);
	CHECK(lstat(sockdir, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0700);
	CHECK_EQ_U64(st.st_uid, getuid());
	/* Again: it is there already, fine. */
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), true), 0);
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), false), 0);

	/* HOME/.coho when XDG_RUNTIME_DIR is unset, empty or not absolute. */
	snprintf(want, sizeof(want), "%s/home/.coho", tmp);
	mkdir(getenv("HOME"), 0755);
	unsetenv("XDG_RUNTIME_DIR");
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), true), 0);
	CHECK_STR(buf, want);
	CHECK(lstat(want, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0700);
	setenv("XDG_RUNTIME_DIR", "", 1);
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), false), 0);
	CHECK_STR(buf, want);
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), false), 0);
	CHECK_STR(buf, want);

	/* Not there and not to be made: -ENOENT and quiet (coho list: no guests). */
	rmdir(want);
	capture_begin();
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), false), (u64)-ENOENT);
	err = capture_end();
	CHECK_EQ_U64(count_lines(err), 0);
	CHECK(!exists(want));

	/* Cannot be made (HOME does not exist): one error line. */
	setenv("HOME", "/nonexistent-coho-test/home", 1);
	capture_begin();
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), true), (u64)-ENOENT);
	err = capture_end();
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "/nonexistent-coho-test/home/.coho") != NULL);
	env_setup();
}

/* Neither XDG_RUNTIME_DIR nor HOME: /tmp/coho-UID. */
static void test_dir_fallback(void)
{
	char buf[108], want[64];
	struct stat st;
	bool existed;
	int ret;

	snprintf(want, sizeof(want), "/tmp/coho-%u", (unsigned)getuid());
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("HOME");
	existed = lstat(want, &st) == 0;
	capture_begin();
	ret = control_dir(buf, sizeof(buf), !existed);
	capture_end();
	CHECK_STR(buf, want);
	if (!existed) {
		CHECK_EQ_U64(ret, 0);
		CHECK(lstat(want, &st) == 0 && S_ISDIR(st.st_mode));
		CHECK_EQ_U64(st.st_mode & 07777, 0700);
		/* Ours to remove (rmdir: never anything a running coho put there). */
		rmdir(want);
	} else {
		/* Someone's: only checked, never made or removed. */
		bool fine = S_ISDIR(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & 022);

		CHECK_EQ_U64(ret, fine ? 0 : (u64)-EPERM);
	}
	/* The same with HOME set but not absolute. */
	setenv("HOME", "home", 1);
	capture_begin();
	control_dir(buf, sizeof(buf), false);
	capture_end();
	CHECK_STR(buf, want);
	env_setup();
}

/* The directory must be a directory, ours, and writable by nobody else. */
static void test_dir_unsafe(void)
{
	static const mode_t bad_modes[] = { 0770, 0702, 0722, 0777, 01777, 0720 };
	char buf[108], target[128];
	const char *err;
	int ret;

	env_setup();
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), true), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad_modes); i++) {
		for (int create = 0; create < 2; create++) {
			chmod(sockdir, bad_modes[i]);
			capture_begin();
			ret = control_dir(buf, sizeof(buf), create);
			err = capture_end();
			CHECK_EQ_U64(ret, (u64)-EPERM);
			CHECK_EQ_U64(count_lines(err), 1);
			CHECK(strstr(err, sockdir) != NULL);
		}
	}
	/* Readable by others is not a risk; writable is. */
	chmod(sockdir, 0755);
	CHECK_EQ_U64(control_dir(buf, sizeof(buf), false), 0);
	chmod(sockdir, 0700);

	/* Not ours (only root can make that happen). */
	if (getuid() == 0) {
		CHECK(chown(sockdir, 65534, 65534) == 0);
		capture_begin();
		ret = control_dir(buf, sizeof(buf), true);
		err = capture_end();
		CHECK_EQ_U64(ret, (u64)-EPERM);
		CHECK_EQ_U64(count_lines(err), 1);
		CHECK(chown(sockdir, getuid(), getgid()) == 0);
	}

	/* A file, and a symbolic link to a good directory: both refused. */
	rmdir(sockdir);
	close(open(sockdir, O_WRONLY | O_CREAT, 0600));
	for (int create = 0; create < 2; create++) {
		capture_begin();
		ret = control_dir(buf, sizeof(buf), create);
		err = capture_end();
		CHECK_EQ_U64(ret, (u64)-EPERM);
		CHECK_EQ_U64(count_lines(err), 1);
	}
	unlink(sockdir);
	snprintf(target, sizeof(target), "%s/elsewhere", tmp);
	mkdir(target, 0700);
	CHECK(symlink(target, sockdir) == 0);
	capture_begin();
	ret = control_dir(buf, sizeof(buf), true);
	err = capture_end();
	CHECK_EQ_U64(ret, (u64)-EPERM);
	CHECK_EQ_U64(count_lines(err), 1);
	unlink(sockdir);
	rmdir(target);

	/* A control socket cannot be opened there either. */
	mkdir(sockdir, 0700);
	chmod(sockdir, 0777);
	{
		const struct control_ops ops = { NULL, NULL };
		struct control c;

		capture_begin();
		ret = control_open(&c, "g", &ops);
		err = capture_end();
		CHECK_EQ_U64(ret, (u64)-EPERM);
		CHECK_EQ_U64(count_lines(err), 1);
		CHECK_EQ_U64(c.listen_fd, (u64)-1);
		control_close(&c);
	}
	env_setup();
}

static void test_paths_too_long(void)
{
	char buf[108], dir[128], long_xdg[256];
	struct sockaddr_un sun;
	const char *err;
	int ret;

	/* DIR/NAME.sock must fit sun_path with its NUL: 107 characters. */
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[107 - 6] = '\0'; /* + "/n.sock" = 108 */
	CHECK_EQ_U64(control_addr(dir, "n", &sun), (u64)-ENAMETOOLONG);
	dir[107 - 7] = '\0'; /* 107 */
	CHECK_EQ_U64(control_addr(dir, "n", &sun), 0);
	CHECK_EQ_U64(sun.sun_family, AF_UNIX);
	CHECK_EQ_U64(strlen(sun.sun_path), 107);
	CHECK(!strncmp(sun.sun_path + 100, "/n.sock", 8));
	CHECK_EQ_U64(control_addr("/run/user/1000/coho", "vm", &sun), 0);
	CHECK_STR(sun.sun_path, "/run/user/1000/coho/vm.sock");

	/* The directory's own path does not fit the caller's buffer: one error line. */
	memset(long_xdg, 'x', sizeof(long_xdg));
	long_xdg[0] = '/';
	long_xdg[200] = '\0';
	setenv("XDG_RUNTIME_DIR", long_xdg, 1);
	capture_begin();
	ret = control_dir(buf, sizeof(buf), true);
	err = capture_end();
	CHECK_EQ_U64(ret, (u64)-ENAMETOOLONG);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(!exists(long_xdg));
	env_setup();

	/* The directory fits, DIR/NAME.sock does not: control_open says so, makes no socket. */
	snprintf(long_xdg, sizeof(long_xdg), "%s/", tmp);
	memset(long_xdg + strlen(long_xdg), 'L', 90 - strlen(long_xdg));
	long_xdg[90] = '\0';
	CHECK(mkdir(long_xdg, 0700) == 0);
	setenv("XDG_RUNTIME_DIR", long_xdg, 1);
	{
		const struct control_ops ops = { NULL, NULL };
		struct control c;

		capture_begin();
		ret = control_open(&c, "a-rather-long-guest-name", &ops);
		err = capture_end();
		CHECK_EQ_U64(ret, (u64)-ENAMETOOLONG);
		CHECK_EQ_U64(count_lines(err), 1);
		CHECK_EQ_U64(c.listen_fd, (u64)-1);
		control_close(&c);
		CHECK_EQ_U64(control_dir(buf, sizeof(buf), false), 0);
		CHECK_EQ_U64(
		    control_request(buf, "a-rather-long-guest-name", "status", dir, sizeof(dir)),
		    (u64)-ENAMETOOLONG);
	}
	env_setup();
}

/* The server side's request handler: records what it got, answers "ok <req>". */
static struct {
	unsigned calls;
	char req[256];
	bool fd_ok;
} seen;

static void on_request(void *opaque, const char *req, int fd)
{
	(void)opaque;
	seen.calls++;
	snprintf(seen.req, sizeof(seen.req), "%s", req);
	seen.fd_ok = fd >= 0 && fcntl(fd, F_GETFD) >= 0;
	if (strlen(req) > 100)
		dprintf(fd, "ok long\n");
	else
		dprintf(fd, "ok %s\n", req);
}

static const struct control_ops ops = { on_request, &seen };

/* A client on its own thread: control_request() blocks until the server answers. */
struct client {
	const char *name, *req;
	char *reply;
	size_t len;
	int ret;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;

	cl->ret = control_request(sockdir, cl->name, cl->req, cl->reply, cl->len);
	return NULL;
}

/* Wait (5 s at most) until a client is queued on @c, then answer it. */
static bool serve_one(struct control *c)
{
	struct pollfd p = { .fd = c->listen_fd, .events = POLLIN };

	if (poll(&p, 1, 5000) != 1)
		return false;
	control_serve(c);
	return true;
}

/* control_request(@req) from a thread, answered here; the client's return value. */
static int round_trip(struct control *c, const char *name, const char *req, char *reply, size_t len)
{
	struct client cl = { .name = name, .req = req, .reply = reply, .len = len, .ret = 1 };
	pthread_t t;

	memset(&seen, 0, sizeof(seen));
	pthread_create(&t, NULL, client_main, &cl);
	CHECK(serve_one(c));
	pthread_join(t, NULL);
	return cl.ret;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_round_trip(void)
{
	char path[160], reply[256];
	struct control c;
	struct stat st;
	mode_t um;

	env_setup();
	sock_path(path, sizeof(path), "guest-1");
	um = umask(022);
	CHECK_EQ_U64(control_open(&c, "guest-1", &ops), 0);
	/* The umask is as it was. */
	CHECK_EQ_U64(umask(um), 022);
	CHECK(c.listen_fd >= 0);
	CHECK_STR(c.addr.sun_path, path);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 07777, 0600);
	CHECK_EQ_U64(st.st_uid, getuid());
	CHECK(lstat(sockdir, &st) == 0 && (st.st_mode & 07777) == 0700);

	CHECK_EQ_U64(round_trip(&c, "guest-1", "hello", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ok hello\n");
	CHECK_EQ_U64(seen.calls, 1);
	CHECK_STR(seen.req, "hello");
	CHECK(seen.fd_ok);
	/* Again on the same socket. */
	CHECK_EQ_U64(round_trip(&c, "guest-1", "sysrq h", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ok sysrq h\n");
	CHECK_STR(seen.req, "sysrq h");
	/* A reply longer than the client's buffer is cut, NUL-terminated. */
	memset(reply, 'z', sizeof(reply));
	CHECK_EQ_U64(round_trip(&c, "guest-1", "abcdef", reply, 6), 0);
	CHECK_STR(reply, "ok ab");
	CHECK(reply[6] == 'z' && reply[255] == 'z');
	CHECK_STR(seen.req, "abcdef");

	control_close(&c);
	CHECK_EQ_U64(c.listen_fd, (u64)-1);
	CHECK(!exists(path));
	control_close(&c); /* twice is harmless */
	/* Gone: nobody of that name. */
	CHECK_EQ_U64(control_request(sockdir, "guest-1", "status", reply, sizeof(reply)),
		     (u64)-ENOENT);
	CHECK_EQ_U64(control_request(sockdir, "never-was", "status", reply, sizeof(reply)),
		     (u64)-ENOENT);
	env_setup();
}

static void test_name_in_use(void)
{
	char path[160], reply[256];
	struct control c1, c2;
	const char *err;
	int ret;

	env_setup();
	sock_path(path, sizeof(path), "twin");
	CHECK_EQ_U64(control_open(&c1, "twin", &ops), 0);
	capture_begin();
	ret = control_open(&c2, "twin", &ops);
	err = capture_end();
	CHECK_EQ_U64(ret, (u64)-EADDRINUSE);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(strstr(err, "twin") != NULL);
	CHECK_EQ_U64(c2.listen_fd, (u64)-1);
	/* The failed one's probe connection is queued on the first: answering it is quiet. */
	memset(&seen, 0, sizeof(seen));
	CHECK(serve_one(&c1));
	CHECK_EQ_U64(seen.calls, 0);
	/* Closing the failed one leaves the running guest's socket alone. */
	control_close(&c2);
	CHECK(exists(path));
	CHECK_EQ_U64(round_trip(&c1, "twin", "status", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ok status\n");
	/* Another name is another socket. */
	CHECK_EQ_U64(control_open(&c2, "twin2", &ops), 0);
	CHECK_EQ_U64(round_trip(&c2, "twin2", "x", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ok x\n");
	control_close(&c2);
	control_close(&c1);
	CHECK(!exists(path));
	env_setup();
}

/* A socket file left by a coho that is gone: bound, closed, never unlinked. */
static void make_stale(const char *name)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CHECK(control_addr(sockdir, name, &sun) == 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(fd);
	CHECK(exists(sun.sun_path));
}

static void test_stale_socket(void)
{
	char path[160], reply[256] = "untouched";
	struct control c;
	const char *err;
	int ret;

	env_setup();
	CHECK_EQ_U64(control_dir(reply, sizeof(reply), true), 0);
	sock_path(path, sizeof(path), "old");

	/* The client finds nobody and tidies up. */
	make_stale("old");
	capture_begin();
	ret = control_request(sockdir, "old", "status", reply, sizeof(reply));
	err = capture_end();
	CHECK_EQ_U64(ret, (u64)-ENOENT);
	CHECK(!exists(path));
	CHECK_EQ_U64(count_lines(err), 0);

	/* A new guest of that name replaces it. */
	make_stale("old");
	capture_begin();
	ret = control_open(&c, "old", &ops);
	err = capture_end();
	CHECK_EQ_U64(ret, 0);
	CHECK_EQ_U64(count_lines(err), 0);
	CHECK_EQ_U64(round_trip(&c, "old", "status", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ok status\n");
	control_close(&c);
	CHECK(!exists(path));

	/* Something that is not a socket is never removed, by either side. */
	close(open(path, O_WRONLY | O_CREAT, 0600));
	CHECK_EQ_U64(control_request(sockdir, "old", "status", reply, sizeof(reply)), (u64)-ENOENT);
	CHECK(exists(path));
	capture_begin();
	ret = control_open(&c, "old", &ops);
	err = capture_end();
	CHECK(ret < 0);
	CHECK_EQ_U64(count_lines(err), 1);
	CHECK(exists(path));
	control_close(&c);
	CHECK(exists(path));
	unlink(path);
	env_setup();
}

/* A raw client: connect to @name's socket; -1 if that failed. */
static int raw_connect(const char *name)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || control_addr(sockdir, name, &sun) ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Everything the server sent until it closed. */
static size_t read_reply(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

static void test_silent_and_odd_clients(void)
{
	char reply[256];
	struct control c;
	double t0, dt;
	int fd;

	env_setup();
	CHECK_EQ_U64(control_open(&c, "srv", &ops), 0);

	/* Connects, says nothing, stays: given up after about a second, not asked. */
	fd = raw_connect("srv");
	CHECK(fd >= 0);
	memset(&seen, 0, sizeof(seen));
	t0 = now_s();
	control_serve(&c);
	dt = now_s() - t0;
	CHECK(dt >= 0.9 && dt < 3.0);
	CHECK_EQ_U64(seen.calls, 0);
	/* ...and the server hung up on it. */
	CHECK_EQ_U64(read_reply(fd, reply, sizeof(reply)), 0);
	close(fd);

	/* Connects and leaves at once: nothing asked, no waiting. */
	fd = raw_connect("srv");
	CHECK(fd >= 0);
	close(fd);
	t0 = now_s();
	control_serve(&c);
	CHECK(now_s() - t0 < 0.5);
	CHECK_EQ_U64(seen.calls, 0);

	/* Nobody there: control_serve() returns at once (the listening fd is non-blocking). */
	t0 = now_s();
	control_serve(&c);
	CHECK(now_s() - t0 < 0.5);

	/* A request without its newline, the client then shuts its side: still a request. */
	fd = raw_connect("srv");
	CHECK(write(fd, "status", 6) == 6);
	shutdown(fd, SHUT_WR);
	control_serve(&c);
	CHECK_EQ_U64(seen.calls, 1);
	CHECK_STR(seen.req, "status");
	read_reply(fd, reply, sizeof(reply));
	CHECK_STR(reply, "ok status\n");
	close(fd);

	/* A client that keeps its side open for the reply is answered at its newline. */
	fd = raw_connect("srv");
	CHECK(write(fd, "status\n", 7) == 7);
	t0 = now_s();
	control_serve(&c);
	CHECK(now_s() - t0 < 0.5);
	CHECK_STR(seen.req, "status");
	read_reply(fd, reply, sizeof(reply));
	CHECK_STR(reply, "ok status\n");
	close(fd);

	/* \r\n, and only the first line counts. */
	fd = raw_connect("srv");
	CHECK(write(fd, "pause\r\nstop\n", 12) == 12);
	control_serve(&c);
	CHECK_STR(seen.req, "pause");
	read_reply(fd, reply, sizeof(reply));
	CHECK_STR(reply, "ok pause\n");
	close(fd);

	/* A client that leaves before its reply does not hurt the server (SIGPIPE ignored). */
	fd = raw_connect("srv");
	CHECK(write(fd, "resume\n", 7) == 7);
	close(fd);
	memset(&seen, 0, sizeof(seen));
	control_serve(&c);
	CHECK_EQ_U64(seen.calls, 1);
	CHECK_STR(seen.req, "resume");

	control_close(&c);
	env_setup();
}

/* A request in pieces, the second after a pause. */
static void *slow_client_main(void *arg)
{
	char *reply = arg;
	int fd = raw_connect("srv");

	if (fd < 0)
		return NULL;
	if (write(fd, "sta", 3) != 3)
		return NULL;
	usleep(200000);
	if (write(fd, "tus\nignored", 11) != 11)
		return NULL;
	read_reply(fd, reply, 256);
	close(fd);
	return NULL;
}

static void test_split_and_long_requests(void)
{
	char reply[256] = "", req[400], want[128];
	struct control c;
	pthread_t t;

	env_setup();
	CHECK_EQ_U64(control_open(&c, "srv", &ops), 0);

	memset(&seen, 0, sizeof(seen));
	pthread_create(&t, NULL, slow_client_main, reply);
	CHECK(serve_one(&c));
	pthread_join(t, NULL);
	CHECK_EQ_U64(seen.calls, 1);
	CHECK_STR(seen.req, "status");
	CHECK_STR(reply, "ok status\n");

	/* Longer than 127 bytes: cut to 127, the reply still arrives. */
	for (size_t i = 0; i < 300; i++)
		req[i] = (char)('a' + i % 26);
	req[300] = '\0';
	memcpy(want, req, 127);
	want[127] = '\0';
	CHECK_EQ_U64(round_trip(&c, "srv", req, reply, sizeof(reply)), 0);
	CHECK_EQ_U64(seen.calls, 1);
	CHECK_EQ_U64(strlen(seen.req), 127);
	CHECK_STR(seen.req, want);
	CHECK_STR(reply, "ok long\n");
	/* Exactly 127, and 128 with the newline just past the cut. */
	req[127] = '\0';
	CHECK_EQ_U64(round_trip(&c, "srv", req, reply, sizeof(reply)), 0);
	CHECK_STR(seen.req, want);
	req[127] = 'x';
	req[128] = '\0';
	CHECK_EQ_U64(round_trip(&c, "srv", req, reply, sizeof(reply)), 0);
	CHECK_STR(seen.req, want);
	CHECK_STR(reply, "ok long\n");
	/* The empty request is a request too (a bare newline). */
	CHECK_EQ_U64(round_trip(&c, "srv", "", reply, sizeof(reply)), 0);
	CHECK_EQ_U64(seen.calls, 1);
	CHECK_STR(seen.req, "");
	CHECK_STR(reply, "ok \n");

	control_close(&c);
	env_setup();
}

TEST_MAIN(test_setup, test_name_ok, test_dir_xdg_and_home, test_dir_fallback, test_dir_unsafe,
	  test_paths_too_long, test_round_trip, test_name_in_use, test_stale_socket,
	  test_silent_and_odd_clients, test_split_and_long_requests, test_teardown)
