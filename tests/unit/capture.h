/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_TESTS_UNIT_CAPTURE_H
#define COHO_TESTS_UNIT_CAPTURE_H

/*
 * Capture what code under test writes to stderr. pr_err() writes to fd 2
 * directly, so the descriptor itself is redirected to a temporary file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static FILE *cap_file;
static int cap_saved = -1;
static char cap_buf[4096];

static inline void capture_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	if (!cap_file) {
		perror("tmpfile");
		exit(2);
	}
	cap_saved = dup(STDERR_FILENO);
	if (cap_saved < 0 || dup2(fileno(cap_file), STDERR_FILENO) < 0) {
		perror("dup");
		exit(2);
	}
}

/* What was written to fd 2 since capture_begin(), NUL-terminated (first 4 KiB). */
static inline const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	cap_saved = -1;
	rewind(cap_file);
	n = fread(cap_buf, 1, sizeof(cap_buf) - 1, cap_file);
	cap_buf[n] = '\0';
	fclose(cap_file);
	cap_file = NULL;
	return cap_buf;
}

static inline unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#endif
