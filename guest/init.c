// SPDX-License-Identifier: GPL-2.0
/*
 * /init of coho's default guest (`coho run` without -k, see default_guest.c):
 * a static aarch64 program, PID 1 in the initramfs coho builds in memory:
 *
 *   /init               this program
 *   /modules/NAME.ko*   the modules the guest needs for the host's /
 *   /modules.order      their paths, one a line, in load order
 *   /no-console-input   present when coho's stdin is /dev/null
 *
 * It loads the modules, mounts the host's / (9p tag "hostroot") read-only
 * at /host with proc, sysfs, devtmpfs and tmpfs on /tmp and /run under it,
 * and runs /bin/sh -i chrooted there on the console. When the shell exits it
 * syncs and powers the guest off. PID 1 must never exit (the kernel would
 * panic), so every failure prints one "coho-init: ..." line and powers off.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* Linux 5.17: the kernel decompresses the module */
#endif

#define HOST_TAG      "hostroot"
#define HOST_DIR      "/host"
#define HOST_9P_OPTS  "trans=virtio,version=9p2000.L,msize=512000"
#define MODULES_ORDER "/modules.order"
#define NO_INPUT_FLAG "/no-console-input"
#define ORDER_MAX     (64 * 1024)

/* One "coho-init: ..." line on the console, written at once. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	static const char tag[] = "coho-init: ";
	char buf[512];
	va_list ap;
	int n;

	memcpy(buf, tag, sizeof(tag) - 1);
	va_start(ap, fmt);
	n = vsnprintf(buf + sizeof(tag) - 1, sizeof(buf) - sizeof(tag), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n += (int)sizeof(tag) - 1;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

static void __attribute__((noreturn)) halt_guest(int how)
{
	sync();
	reboot(how);
	for (;;)
		pause();
}

#define die(...)                                                                                   \
	do {                                                                                       \
		say(__VA_ARGS__);                                                                  \
		halt_guest(RB_POWER_OFF);                                                          \
	} while (0)

/* stdin, stdout and stderr on /dev/console, where the kernel could not open them. */
static void console_fds(void)
{
	int fd, i;

	for (i = 0; i < 3 && fcntl(i, F_GETFD) >= 0; i++)
		;
	if (i == 3)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	for (i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	}
	if (fd > 2)
		close(fd);
}

static void must_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		       const char *data)
{
	/* EBUSY: the kernel mounted it already (devtmpfs). */
	if (mount(src, dst, type, flags, data) && errno != EBUSY)
		die("cannot mount %s on %s: %s", type, dst, strerror(errno));
}

/* Does the command line @cmdline hold the word @word, or a word starting with it? */
static bool has_word(const char *cmdline, const char *word, bool prefix)
{
	size_t len = strlen(word);
	const char *p;

	for (p = cmdline; (p = strstr(p, word)); p++) {
		char end = p[len];

		if ((p == cmdline || p[-1] == ' ') &&
		    (prefix || end == '\0' || end == ' ' || end == '\n'))
			return true;
	}
	return false;
}

/*
 * As "quiet" would: only errors reach the console, so kernel messages do not
 * land in the middle of the shell's lines; unless the command line asks for a
 * log level itself.
 */
static void quiet_console(void)
{
	char cmdline[4096];
	ssize_t n = 0;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, cmdline, sizeof(cmdline) - 1);
		close(fd);
	}
	cmdline[n > 0 ? n : 0] = '\0';
	if (has_word(cmdline, "loglevel=", true) || has_word(cmdline, "debug", false) ||
	    has_word(cmdline, "ignore_loglevel", false))
		return;
	klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 4);
}

static void load_module(const char *path)
{
	size_t len = strlen(path);
	bool compressed = len < 3 || strcmp(path + len - 3, ".ko");
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		die("cannot open module %s: %s", path, strerror(errno));
	/* EEXIST: already loaded, or built in. */
	if (syscall(SYS_finit_module, fd, "", compressed ? MODULE_INIT_COMPRESSED_FILE : 0) &&
	    errno != EEXIST) {
		err = errno;
		die("cannot load module %s: %s%s", path, strerror(err),
		    compressed && err == EINVAL ? " (the kernel cannot decompress it)" : "");
	}
	close(fd);
}

/* Every module of /modules.order, in order. */
static void load_modules(void)
{
	static char buf[ORDER_MAX + 1];
	size_t len = 0;
	ssize_t n = 0;
	char *line, *save = NULL;
	int fd = open(MODULES_ORDER, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return;
		die("cannot open %s: %s", MODULES_ORDER, strerror(errno));
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		die("cannot read %s: %s", MODULES_ORDER, strerror(errno));
	if (len > ORDER_MAX)
		die("%s is larger than %d bytes", MODULES_ORDER, ORDER_MAX);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		load_module(line);
}

/* Mount @type on HOST_DIR/@dir if the host has that directory (not following symlinks). */
static void mount_under_host(const char *type, const char *dir, const char *data, bool needed)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", HOST_DIR, dir);
	if (lstat(path, &st) || !S_ISDIR(st.st_mode))
		return;
	if (mount(type, path, type, MS_NOSUID | (strcmp(type, "devtmpfs") ? MS_NODEV : 0), data) &&
	    errno != EBUSY && needed)
		die("cannot mount %s on %s: %s", type, path, strerror(errno));
}

static void mount_host(void)
{
	int tries;

	/* ENOENT: 9pnet_virtio has no channel with the tag (yet: the device may still probe). */
	for (tries = 0; mount(HOST_TAG, HOST_DIR, "9p", MS_RDONLY, HOST_9P_OPTS); tries++) {
		if (errno != ENOENT || tries == 50)
			die("cannot mount the host's / (9p tag %s) on %s: %s", HOST_TAG, HOST_DIR,
			    strerror(errno));
		usleep(100 * 1000);
	}
	mount_under_host("proc", "proc", NULL, true);
	mount_under_host("sysfs", "sys", NULL, true);
	mount_under_host("devtmpfs", "dev", NULL, true);
	mount_under_host("tmpfs", "tmp", "mode=1777", true);
	mount_under_host("tmpfs", "run", "mode=0755", true);
	/* Pseudo-terminals and POSIX shared memory, if devtmpfs lets us make their directories. */
	mkdir(HOST_DIR "/dev/pts", 0755);
	mkdir(HOST_DIR "/dev/shm", 01777);
	mount_under_host("devpts", "dev/pts", "gid=5,mode=0620,ptmxmode=0666", false);
	mount_under_host("tmpfs", "dev/shm", "mode=1777", false);
}

/*
 * The console's own device (/dev/ttyS0, /dev/hvc0: the last name in
 * /sys/class/tty/console/active), which can be a controlling terminal;
 * -1 if there is none.
 */
static int open_console_tty(void)
{
	char buf[256], path[sizeof(buf) + 8], *name;
	ssize_t n;
	size_t i;
	int fd = open("/sys/class/tty/console/active", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	name = strrchr(buf, ' ');
	name = name ? name + 1 : buf;
	for (i = 0; name[i]; i++) {
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return -1;
	}
	if (i == 0 || i > 32)
		return -1;
	snprintf(path, sizeof(path), "/dev/%s", name);
	return open(path, O_RDWR | O_NOCTTY);
}

/* The child: a session on the console, chrooted into the host's /, running its shell. */
static void __attribute__((noreturn)) run_shell(bool no_input)
{
	static const char *const shells[] = { "/bin/sh", "/bin/bash", "/usr/bin/sh" };
	char term[64];
	const char *t = getenv("TERM");
	char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "HOME=/root", term, NULL };
	sigset_t none;
	size_t i;
	int con, err = ENOENT;

	snprintf(term, sizeof(term), "TERM=%s", t && *t ? t : "linux");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	con = open_console_tty();
	if (con >= 0) {
		for (i = 0; i < 3; i++)
			dup2(con, (int)i);
		if (con > 2)
			close(con);
	}
	/* Job control: the console is the session's controlling terminal. */
	ioctl(STDIN_FILENO, TIOCSCTTY, 0);
	if (no_input) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0 && null != STDIN_FILENO) {
			dup2(null, STDIN_FILENO);
			close(null);
		}
	}
	if (chroot(HOST_DIR) || chdir("/")) {
		say("cannot enter the host's / at %s: %s", HOST_DIR, strerror(errno));
		_exit(127);
	}
	for (i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		char *argv[] = { "sh", "-i", NULL };

		execve(shells[i], argv, envp);
		if (errno != ENOENT)
			err = errno;
	}
	say("cannot run a shell (/bin/sh, /bin/bash, /usr/bin/sh) on the host's /: %s",
	    strerror(err));
	_exit(127);
}

int main(void)
{
	sigset_t sigs;
	bool no_input;
	pid_t shell;

	if (getpid() != 1) {
		fprintf(stderr,
			"coho-init: the /init of coho's default guest runs only as PID 1\n");
		return 2;
	}
	must_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	console_fds();
	must_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	must_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	quiet_console();
	load_modules();
	/* A console on virtio (hvc0) exists only now that its module is loaded. */
	console_fds();
	mount_host();
	no_input = access(NO_INPUT_FLAG, F_OK) == 0;

	/* PID 1 waits for the shell; poweroff/halt/reboot of busybox signal PID 1. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	printf("coho: host / read-only at /, shell on the console (exit or Ctrl-D powers off)\n");
	fflush(stdout);
	shell = fork();
	if (shell < 0)
		die("cannot start a shell: fork: %s", strerror(errno));
	if (shell == 0)
		run_shell(no_input);
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL), status;
		pid_t pid;

		if (sig == SIGUSR1 || sig == SIGUSR2)
			halt_guest(RB_POWER_OFF);
		if (sig == SIGTERM)
			halt_guest(RB_AUTOBOOT);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == shell)
				halt_guest(RB_POWER_OFF);
		}
	}
}
