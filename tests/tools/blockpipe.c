// SPDX-License-Identifier: GPL-2.0
/*
 * blockpipe SECONDS -- COMMAND...: run COMMAND with its stdout on a 4 KiB
 * pipe that is never read. Once the pipe is full (COMMAND is blocked
 * writing), or after SECONDS, send it SIGTERM and report how long it took
 * to exit:  "blockpipe: full=1 rc=143 after_signal_ms=12"
 * rc is the exit code, or 128 + signal. Used by the e2e tests to prove a
 * VMM stops even while its console output cannot be written.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int p[2], status, full = 0, avail = 0, size;
	double deadline, t_sig;
	pid_t pid;

	if (argc < 4 || argv[2][0] != '-' || argv[2][1] != '-') {
		fprintf(stderr, "usage: blockpipe SECONDS -- COMMAND...\n");
		return 2;
	}
	if (pipe(p) < 0)
		return 2;
	size = fcntl(p[1], F_SETPIPE_SZ, 4096);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[3], argv + 3);
		_exit(127);
	}
	close(p[1]);
	deadline = now() + atof(argv[1]);
	while (now() < deadline && waitpid(pid, &status, WNOHANG) == 0) {
		if (ioctl(p[0], FIONREAD, &avail) == 0 && size > 0 && avail >= size) {
			full = 1;
			usleep(500000); /* let it settle in the blocked write */
			break;
		}
		usleep(20000);
	}
	t_sig = now();
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() - t_sig > 20) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(10000);
	}
	printf("blockpipe: full=%d pipe=%d rc=%d after_signal_ms=%.0f\n", full, size,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	       (now() - t_sig) * 1000);
	return 0;
}
