// SPDX-License-Identifier: GPL-2.0
/*
 * runstat: run a VMM, pass its output through, and measure one boot.
 *
 *   runstat [-m MARKER] [-g GUEST_MIB] [-t TIMEOUT_S] -- VMM ARGS...
 *
 * The VMM's stdout (the guest console) and stderr are read through pipes and
 * copied to runstat's own stdout and stderr. Times are CLOCK_MONOTONIC from
 * just before fork(). When a line of the VMM's stdout first contains MARKER
 * (default "COHO-L2 userspace") runstat notes the time and reads, at that
 * moment, the VMM's /proc/PID/status (VmRSS, VmHWM, Threads) and
 * /proc/PID/smaps, where guest RAM is the mapping whose size is GUEST_MIB:
 * its Rss is subtracted to give the VMM's own memory. (busybox `time -v`
 * reports max RSS four times too large; the kernel's numbers are used here.)
 * After the VMM exits it prints one line:
 *
 *   runstat: rc=0 wall_ms=... marker_ms=... vmrss_kib=... vmhwm_kib=...
 *            guest_rss_kib=... guest_thp_kib=... vmm_rss_kib=... vmm_hwm_kib=...
 *            maxrss_kib=... threads=... guest_maps=...
 *
 * rc is the exit code, or 128+signal. A missing measurement prints -1.
 * Static aarch64 build: aarch64-linux-gnu-gcc -static -O2 -o runstat runstat.c
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mem_sample {
	long vmrss_kib, vmhwm_kib, threads;
	long guest_rss_kib; /* Rss of the guest-RAM mapping, -1 if not found */
	long guest_thp_kib; /* its AnonHugePages */
	int guest_maps;	    /* mappings whose size matched */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

static void read_status(pid_t pid, struct mem_sample *s)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &s->vmrss_kib);
		sscanf(line, "VmHWM: %ld", &s->vmhwm_kib);
		sscanf(line, "Threads: %ld", &s->threads);
	}
	fclose(f);
}

/* Find the guest RAM: the mapping of exactly guest_kib; keep the largest Rss. */
static void read_smaps(pid_t pid, long guest_kib, struct mem_sample *s)
{
	char path[64], line[512];
	long size = -1, v;
	bool best = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %ld kB", &v) == 1) {
			size = v;
			best = false;
		} else if (size != guest_kib) {
			continue;
		} else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
			s->guest_maps++;
			best = v > s->guest_rss_kib;
			if (best)
				s->guest_rss_kib = v;
		} else if (best && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
			s->guest_thp_kib = v;
		}
	}
	fclose(f);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-m MARKER] [-g GUEST_MIB] [-t TIMEOUT_S] -- VMM ARGS...\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *marker = "COHO-L2 userspace";
	struct mem_sample ms = { -1, -1, -1, -1, -1, 0 };
	long guest_mib = 0, timeout_s = 0;
	double t0, t_marker = -1, t_end;
	int out[2], err[2], opt, status, rc;
	char line[4096], buf[4096];
	size_t line_len = 0;
	struct pollfd pfd[2];
	struct rusage ru;
	int open_fds = 2;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+m:g:t:")) != -1) {
		switch (opt) {
		case 'm':
			marker = optarg;
			break;
		case 'g':
			guest_mib = atol(optarg);
			break;
		case 't':
			timeout_s = atol(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind >= argc)
		usage(argv[0]);
	if (pipe(out) || pipe(err)) {
		perror("runstat: pipe");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	t0 = now_ms();
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 1;
	}
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]), close(out[1]), close(err[0]), close(err[1]);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "runstat: exec %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	pfd[0] = (struct pollfd){ .fd = out[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = err[0], .events = POLLIN };

	while (open_fds) {
		int wait_ms = -1;

		if (timeout_s) {
			double left = t0 + timeout_s * 1e3 - now_ms();

			if (left <= 0) {
				fprintf(stderr, "runstat: timeout after %ld s, killing %d\n",
					timeout_s, (int)pid);
				kill(pid, SIGKILL);
				timeout_s = 0;
				continue;
			}
			wait_ms = (int)left + 1;
		}
		if (poll(pfd, 2, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			perror("runstat: poll");
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			write_all(i == 0 ? 1 : 2, buf, n);
			if (i != 0 || t_marker >= 0)
				continue;
			/* Assemble stdout lines to spot the marker. */
			for (ssize_t k = 0; k < n && t_marker < 0; k++) {
				if (buf[k] != '\n' && line_len < sizeof(line) - 1) {
					line[line_len++] = buf[k];
					continue;
				}
				line[line_len] = '\0';
				line_len = 0;
				if (strstr(line, marker)) {
					t_marker = now_ms();
					read_status(pid, &ms);
					if (guest_mib)
						read_smaps(pid, guest_mib * 1024, &ms);
				}
			}
		}
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("runstat: wait4");
			return 1;
		}
	}
	t_end = now_ms();
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	printf("runstat: rc=%d wall_ms=%.1f marker_ms=%.1f vmrss_kib=%ld vmhwm_kib=%ld "
	       "guest_rss_kib=%ld guest_thp_kib=%ld vmm_rss_kib=%ld vmm_hwm_kib=%ld maxrss_kib=%ld "
	       "threads=%ld guest_maps=%d\n",
	       rc, t_end - t0, t_marker >= 0 ? t_marker - t0 : -1.0, ms.vmrss_kib, ms.vmhwm_kib,
	       ms.guest_rss_kib, ms.guest_thp_kib,
	       ms.vmrss_kib >= 0 && ms.guest_rss_kib >= 0 ? ms.vmrss_kib - ms.guest_rss_kib : -1,
	       ms.vmhwm_kib >= 0 && ms.guest_rss_kib >= 0 ? ms.vmhwm_kib - ms.guest_rss_kib : -1,
	       ru.ru_maxrss, ms.threads, ms.guest_maps);
	fflush(stdout);
	return rc;
}
