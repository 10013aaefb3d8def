// SPDX-License-Identifier: GPL-2.0
/*
 * console_out.c: the guest's console text reaches the terminal and the
 * --console-log byte for byte however it is chunked, a reader that goes
 * away costs only its own copy, and the panic watcher reports the kernel's
 * "Kernel panic - not syncing" report start and end once each, wherever
 * the writes split the text.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console_out.h"
#include "tests/unit/test.h"

#define START_MARK "Kernel panic - not syncing"
#define END_MARK   "---[ end Kernel panic - not syncing"

/* A guest oops and the panic it ends in, as an arm64 kernel prints it on a serial console. */
static const char panic_report[] =
    "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]\r\n"
    "[    0.000000] Linux version 6.6.0 (builder@coho) (gcc 12.2.0, GNU ld 2.40) #1 SMP\r\n"
    "[    0.000000] Kernel command line: console=ttyS0 earlycon panic=-1 rdinit=/crash\r\n"
    "[    0.412345] Freeing unused kernel memory: 1024K\r\n"
    "[    0.413000] Run /crash as init process\r\n"
    "[    0.420001] sysrq: Trigger a crash\r\n"
    "[    0.420002] Kernel panic (not yet): a line that only looks like it\r\n"
    "[    0.420003] Unable to handle kernel NULL pointer dereference at virtual address "
    "0000000000000000\r\n"
    "[    0.420004] Mem abort info:\r\n"
    "[    0.420005]   ESR = 0x0000000096000045\r\n"
    "[    0.420006]   EC = 0x25: DABT (current EL), IL = 32 bits\r\n"
    "[    0.420007]   SET = 0, FnV = 0\r\n"
    "[    0.420008]   EA = 0, S1PTW = 0\r\n"
    "[    0.420009]   FSC = 0x05: level 1 translation fault\r\n"
    "[    0.420010] Data abort info:\r\n"
    "[    0.420011]   ISV = 0, ISS = 0x00000045, ISS2 = 0x00000000\r\n"
    "[    0.420012]   CM = 0, WnR = 1, TnD = 0, TagAccess = 0\r\n"
    "[    0.420013] user pgtable: 4k pages, 48-bit VAs, pgdp=0000000041a3e000\r\n"
    "[    0.420014] [0000000000000000] pgd=0000000000000000, p4d=0000000000000000\r\n"
    "[    0.420015] Internal error: Oops: 0000000096000045 [#1] PREEMPT SMP\r\n"
    "[    0.420016] Modules linked in:\r\n"
    "[    0.420017] CPU: 0 PID: 1 Comm: crash Not tainted 6.6.0 #1\r\n"
    "[    0.420018] Hardware name: linux,dummy-virt (DT)\r\n"
    "[    0.420019] pstate: 60400005 (nZCv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)\r\n"
    "[    0.420020] pc : sysrq_handle_crash+0x20/0x28\r\n"
    "[    0.420021] lr : __handle_sysrq+0xd8/0x1b0\r\n"
    "[    0.420022] sp : ffff80008000bd60\r\n"
    "[    0.420023] x29: ffff80008000bd60 x28: ffff0000c0230000 x27: 0000000000000000\r\n"
    "[    0.420024] x26: 0000000000000000 x25: 0000000000000000 x24: ffff0000c0a10000\r\n"
    "[    0.420025] x2 : 0000000000000000 x1 : 0000000000000001 x0 : 0000000000000063\r\n"
    "[    0.420026] Call trace:\r\n"
    "[    0.420027]  sysrq_handle_crash+0x20/0x28\r\n"
    "[    0.420028]  __handle_sysrq+0xd8/0x1b0\r\n"
    "[    0.420029]  write_sysrq_trigger+0x94/0x110\r\n"
    "[    0.420030]  proc_reg_write+0xa4/0xf0\r\n"
    "[    0.420031]  vfs_write+0xd0/0x360\r\n"
    "[    0.420032]  ksys_write+0x70/0x108\r\n"
    "[    0.420033]  __arm64_sys_write+0x20/0x30\r\n"
    "[    0.420034]  invoke_syscall+0x48/0x118\r\n"
    "[    0.420035]  el0_svc_common.constprop.0+0x40/0xe8\r\n"
    "[    0.420036]  do_el0_svc+0x20/0x30\r\n"
    "[    0.420037]  el0_svc+0x34/0xe0\r\n"
    "[    0.420038]  el0t_64_sync_handler+0x120/0x130\r\n"
    "[    0.420039]  el0t_64_sync+0x190/0x198\r\n"
    "[    0.420040] Code: d2800021 b900fe21 d5033e9f d2800001 (39000021)\r\n"
    "[    0.420041] ---[ end trace 0000000000000000 ]---\r\n"
    "[    0.420042] Kernel panic - not syncing: Oops: Fatal exception\r\n"
    "[    0.420043] SMP: stopping secondary CPUs\r\n"
    "[    0.420044] Kernel Offset: disabled\r\n"
    "[    0.420045] CPU features: 0x0,00000000,00000000,0000400b\r\n"
    "[    0.420046] Memory Limit: none\r\n"
    "[    0.420047] ---[ end Kernel panic - not syncing: Oops: Fatal exception ]---\r\n";

/* What the panic callback saw, in order. */
#define REC_MAX 8
static struct {
	unsigned n;
	enum console_panic state[REC_MAX];
	enum console_panic field[REC_MAX]; /* c->panic during the call */
	bool locked[REC_MAX];		   /* the lock was held */
	size_t from[REC_MAX], to[REC_MAX]; /* the write it came from, as offsets fed */
} rec;

/* Offsets of the current console_out_write() in everything fed so far. */
static size_t fed_from, fed_to;

static void on_panic(void *opaque, enum console_panic state)
{
	struct console_out *c = opaque;
	unsigned i = rec.n++;
	int ret;

	if (i >= REC_MAX)
		return;
	rec.state[i] = state;
	rec.field[i] = c->panic;
	ret = pthread_mutex_trylock(&c->lock);
	rec.locked[i] = ret == EBUSY;
	if (!ret)
		pthread_mutex_unlock(&c->lock);
	rec.from[i] = fed_from;
	rec.to[i] = fed_to;
}

struct rig {
	struct console_out c;
	int out[2], log[2];
};

static void make_pipe(int p[2])
{
	if (pipe(p) < 0) {
		perror("pipe");
		exit(2);
	}
	/* Only the test's reading side is non-blocking; console_out writes as to a terminal. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
}

static void rig_init(struct rig *r, bool out, bool log)
{
	memset(&rec, 0, sizeof(rec));
	fed_from = fed_to = 0;
	r->out[0] = r->out[1] = r->log[0] = r->log[1] = -1;
	if (out)
		make_pipe(r->out);
	if (log)
		make_pipe(r->log);
	console_out_init(&r->c, r->out[1], r->log[1]);
	r->c.panic_cb = on_panic;
	r->c.opaque = &r->c;
}

static void rig_fini(struct rig *r)
{
	console_out_destroy(&r->c);
	for (int i = 0; i < 2; i++) {
		if (r->out[i] >= 0)
			close(r->out[i]);
		if (r->log[i] >= 0)
			close(r->log[i]);
	}
}

static void feed(struct rig *r, const void *buf, size_t len)
{
	fed_from = fed_to;
	fed_to += len;
	console_out_write(&r->c, buf, len);
}

static void feed_str(struct rig *r, const char *s)
{
	feed(r, s, strlen(s));
}

/* @buf in pieces of @chunk bytes (the last may be shorter). */
static void feed_chunked(struct rig *r, const void *buf, size_t len, size_t chunk)
{
	const u8 *p = buf;

	for (size_t off = 0; off < len; off += chunk)
		feed(r, p + off, len - off < chunk ? len - off : chunk);
}

static u8 drained[1 << 20];

/* Everything readable from @fd now (a pipe's read end), into drained[]. */
static size_t drain(int fd)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = read(fd, drained + got, sizeof(drained) - got);

		if (n <= 0)
			return got;
		got += (size_t)n;
	}
}

static bool drained_is(int fd, const void *want, size_t len)
{
	size_t n = drain(fd);

	return n == len && !memcmp(drained, want, len);
}

/* The callback was called exactly with @states (n of them). */
static bool rec_is(const enum console_panic *states, unsigned n)
{
	if (rec.n != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (rec.state[i] != states[i] || rec.field[i] != states[i] || !rec.locked[i])
			return false;
	return true;
}

static const enum console_panic start_complete[] = { CONSOLE_PANIC_STARTED,
						     CONSOLE_PANIC_COMPLETE };
static const enum console_panic complete_only[] = { CONSOLE_PANIC_COMPLETE };
static const enum console_panic started_only[] = { CONSOLE_PANIC_STARTED };

/* Deterministic: the same chunks on every run and every host. */
static u32 rng_state;

static u32 rng(void)
{
	u32 x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static void test_bytes_exact_every_chunk_size(void)
{
	enum { LEN = 3000, N = 300 };
	static u8 data[LEN];
	unsigned bad_out = 0, bad_log = 0, bad_state = 0, first_bad = 0;
	struct rig r;

	/* Every byte value, NUL, \r and \n among them, in lines of varying length. */
	for (size_t i = 0; i < LEN; i++)
		data[i] = (u8)(i * 7 + i / 256);
	for (size_t chunk = 1; chunk <= N + 1; chunk++) {
		size_t c = chunk <= N ? chunk : LEN; /* and all at once */

		rig_init(&r, true, true);
		feed_chunked(&r, data, LEN, c);
		bad_out += !drained_is(r.out[0], data, LEN);
		bad_log += !drained_is(r.log[0], data, LEN);
		bad_state +=
		    r.c.out_broken || r.c.log_broken || rec.n || r.c.panic != CONSOLE_PANIC_NONE;
		if (!first_bad && bad_out + bad_log + bad_state)
			first_bad = (unsigned)c;
		rig_fini(&r);
	}
	if (first_bad)
		fprintf(stderr, "first bad chunk size: %u\n", first_bad);
	CHECK_EQ_U64(bad_out, 0);
	CHECK_EQ_U64(bad_log, 0);
	CHECK_EQ_U64(bad_state, 0);
}

static void test_no_log_or_no_out(void)
{
	const char *msg = "hello\r\nworld\0!\n";
	struct rig r;

	/* No --console-log: the terminal still gets it all. */
	rig_init(&r, true, false);
	CHECK_EQ_U64(r.c.log_fd, (u64)-1);
	feed(&r, msg, 15);
	feed(&r, "", 0);
	CHECK(drained_is(r.out[0], msg, 15));
	CHECK(!r.c.out_broken && !r.c.log_broken);
	rig_fini(&r);

	/* Neither: the watcher still watches. */
	rig_init(&r, false, false);
	feed_str(&r, "[    1.0] " START_MARK ": nothing to print to\n");
	CHECK(rec_is(started_only, 1));
	CHECK(!r.c.out_broken && !r.c.log_broken);
	rig_fini(&r);

	/* Only the log. */
	rig_init(&r, false, true);
	feed(&r, msg, 15);
	CHECK(drained_is(r.log[0], msg, 15));
	CHECK(!r.c.log_broken);
	rig_fini(&r);
}

/* The terminal's reader went away: its copy stops, the log and the watcher go on. */
static void test_broken_out_keeps_log(void)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	struct rig r;
	size_t len = strlen(panic_report);

	rig_init(&r, true, true);
	feed_str(&r, "before\n");
	CHECK(drained_is(r.out[0], "before\n", 7));
	CHECK(!r.c.out_broken);
	close(r.out[0]);
	r.out[0] = -1;
	feed_chunked(&r, panic_report, len, 100);
	CHECK(r.c.out_broken);
	CHECK(!r.c.log_broken);
	{
		size_t n = drain(r.log[0]);

		CHECK_EQ_U64(n, 7 + len);
		CHECK(n == 7 + len && !memcmp(drained, "before\n", 7) &&
		      !memcmp(drained + 7, panic_report, len));
	}
	CHECK(rec_is(start_complete, 2));
	rig_fini(&r);

	/* The log's reader went away: the terminal keeps everything. */
	rig_init(&r, true, true);
	close(r.log[0]);
	r.log[0] = -1;
	feed_chunked(&r, panic_report, len, 33);
	CHECK(r.c.log_broken && !r.c.out_broken);
	CHECK(drained_is(r.out[0], panic_report, len));
	rig_fini(&r);
	signal(SIGPIPE, old);
}

static void test_panic_started_then_complete(void)
{
	struct rig r;

	rig_init(&r, true, true);
	feed_str(&r, "[    0.5] ordinary text\r\n");
	CHECK_EQ_U64(rec.n, 0);
	feed_str(&r, "[    0.6] " START_MARK ": Attempted to kill init! exitcode=0x0000000b\r\n");
	CHECK(rec_is(started_only, 1));
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_STARTED);
	/* Called after the line went out, from the write that ended it. */
	CHECK_EQ_U64(rec.to[0], fed_to);
	/* A nested panic's line or more report text changes nothing. */
	feed_str(&r, "[    0.7] " START_MARK ": again\r\n[    0.7] Kernel Offset: disabled\r\n");
	CHECK_EQ_U64(rec.n, 1);
	feed_str(&r,
		 "[    0.8] " END_MARK ": Attempted to kill init! exitcode=0x0000000b ]---\r\n");
	CHECK(rec_is(start_complete, 2));
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_COMPLETE);
	/* Nothing more once complete, whatever follows. */
	feed_str(&r, START_MARK "\n" END_MARK " ]---\n");
	CHECK_EQ_U64(rec.n, 2);
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_COMPLETE);
	rig_fini(&r);

	/* No callback set: the state still advances. */
	rig_init(&r, false, false);
	r.c.panic_cb = NULL;
	feed_str(&r, START_MARK "\n");
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_STARTED);
	feed_str(&r, END_MARK " ]---\n");
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_COMPLETE);
	CHECK_EQ_U64(rec.n, 0);
	rig_fini(&r);
}

static void test_complete_without_started(void)
{
	struct rig r;

	/* The start line was lost (e.g. before the console was up): straight to COMPLETE. */
	rig_init(&r, true, false);
	feed_str(&r, "[    9.9] " END_MARK ": VFS: Unable to mount root fs ]---\n");
	CHECK(rec_is(complete_only, 1));
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_COMPLETE);
	feed_str(&r, START_MARK "\n");
	CHECK_EQ_U64(rec.n, 1);
	rig_fini(&r);
}

static void test_no_callback_on_ordinary_text(void)
{
	static const char *const lines[] = {
		"[    0.0] Kernel command line: console=ttyS0 panic=-1\r\n",
		"Kernel panic\n",
		"Kernel panic - not synci\n",
		"kernel panic - not syncing: lower case is not the kernel's\n",
		"Kernel  panic - not syncing (two spaces)\n",
		"not syncing: Kernel panic -\n",
		"---[ end trace 0000000000000000 ]---\n",
		"---[ end Kernel panic\n",
		"---[ end Kernel panic - not synci ]---\n",
		"Kernel panic - not\nsyncing\n",
		"",
	};
	struct rig r;

	rig_init(&r, true, true);
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		feed_str(&r, lines[i]);
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		feed_chunked(&r, lines[i], strlen(lines[i]), 1);
	CHECK_EQ_U64(rec.n, 0);
	CHECK_EQ_U64(r.c.panic, CONSOLE_PANIC_NONE);
	rig_fini(&r);
}

/* The report split into 2 and 3 writes at every byte boundary, and a byte at a time. */
static void test_markers_split_everywhere(void)
{
	static const char text[] = "boot ok\r\n"
				   "[  1.0] " START_MARK ": Oops: Fatal exception\r\n"
				   "[  1.0] Kernel Offset: disabled\r\n"
				   "[  1.0] " END_MARK ": Oops: Fatal exception ]---\r\n";
	const size_t len = sizeof(text) - 1;
	const size_t start_nl = (size_t)(strstr(text, "exception\r\n") - text) + 10;
	const size_t end_nl = len - 1;
	unsigned bad2 = 0, bad3 = 0, bad_out = 0;
	struct rig r;

	for (size_t i = 0; i <= len; i++) {
		rig_init(&r, true, false);
		feed(&r, text, i);
		feed(&r, text + i, len - i);
		/* Each state from the write holding its line's end. */
		if (!rec_is(start_complete, 2) || rec.from[0] > start_nl || rec.to[0] <= start_nl ||
		    rec.from[1] > end_nl || rec.to[1] <= end_nl)
			bad2++;
		if (!drained_is(r.out[0], text, len))
			bad_out++;
		rig_fini(&r);
	}
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			rig_init(&r, false, false);
			feed(&r, text, i);
			feed(&r, text + i, j - i);
			feed(&r, text + j, len - j);
			if (!rec_is(start_complete, 2))
				bad3++;
			rig_fini(&r);
		}
	}
	CHECK_EQ_U64(bad2, 0);
	CHECK_EQ_U64(bad3, 0);
	CHECK_EQ_U64(bad_out, 0);

	rig_init(&r, true, false);
	feed_chunked(&r, text, len, 1);
	CHECK(rec_is(start_complete, 2));
	CHECK_EQ_U64(rec.to[0], start_nl + 1);
	CHECK_EQ_U64(rec.to[1], end_nl + 1);
	CHECK(drained_is(r.out[0], text, len));
	rig_fini(&r);
}

/* NUL bytes do not hide a marker from the watcher; \r\n line ends are fine. */
static void test_nul_and_crlf(void)
{
	static const char start[] = "\0\0[    2.0]\0 " START_MARK ": \0after a NUL\r\n";
	static const char end[] = "\0" END_MARK ":\0 x ]---\r\n";
	struct rig r;

	rig_init(&r, true, true);
	feed(&r, start, sizeof(start) - 1);
	CHECK(rec_is(started_only, 1));
	feed(&r, end, sizeof(end) - 1);
	CHECK(rec_is(start_complete, 2));
	{
		size_t n = drain(r.out[0]);

		CHECK_EQ_U64(n, sizeof(start) - 1 + sizeof(end) - 1);
		CHECK(!memcmp(drained, start, sizeof(start) - 1) &&
		      !memcmp(drained + sizeof(start) - 1, end, sizeof(end) - 1));
	}
	rig_fini(&r);

	/* A byte at a time, and a bare \r does not end a line. */
	rig_init(&r, false, true);
	feed_chunked(&r, "x\r" START_MARK "\r\r\n", strlen(START_MARK) + 5, 1);
	CHECK(rec_is(started_only, 1));
	CHECK(drained_is(r.log[0], "x\r" START_MARK "\r\r\n", strlen(START_MARK) + 5));
	rig_fini(&r);
}

/* @n bytes of @ch, then @tail, in a fresh malloc'd string. */
static char *long_line(size_t n, char ch, const char *tail)
{
	size_t t = strlen(tail);
	char *s = malloc(n + t + 1);

	if (!s)
		exit(2);
	memset(s, ch, n);
	memcpy(s + n, tail, t + 1);
	return s;
}

/* Lines longer than the watcher's buffer: never an overflow (ASan), and recovery after. */
static void test_long_lines(void)
{
	static const size_t prefixes[] = { 200, 229, 230, 250, 254, 255, 256, 300, 511, 4096 };
	const size_t cmax = CONSOLE_LINE_MAX - 1;
	struct rig r;

	for (size_t k = 0; k < ARRAY_SIZE(prefixes); k++) {
		char *s = long_line(prefixes[k], 'x', START_MARK ": late in a long line\r\n");
		size_t len = strlen(s);
		static const size_t chunks[] = { 1, 2, 7, 64, 255, 256, 1000, 100000 };

		for (size_t ci = 0; ci < ARRAY_SIZE(chunks); ci++) {
			bool ok;

			rig_init(&r, true, true);
			feed_chunked(&r, s, len, chunks[ci]);
			/* Found or not, but nothing else, and the text is intact. */
			ok = rec.n == 0 || rec_is(started_only, 1);
			/* Wholly inside the buffer: it must be found. */
			if (prefixes[k] + strlen(START_MARK) <= cmax)
				ok = ok && rec_is(started_only, 1);
			CHECK(ok);
			CHECK(drained_is(r.out[0], s, len));
			CHECK(drained_is(r.log[0], s, len));
			/* The next lines are watched as usual. */
			feed_str(&r, "[ 3.0] " START_MARK ": real\r\n");
			CHECK(rec_is(started_only, 1));
			feed_str(&r, "[ 3.0] " END_MARK ": real ]---\r\n");
			CHECK(rec_is(start_complete, 2));
			rig_fini(&r);
		}
		free(s);
	}

	/* A marker that starts a very long line is seen however it is written. */
	{
		char *s = long_line(0, 'x', "[ 4.0] " START_MARK ": ");
		char *t = long_line(5000, 'y', "\r\n");

		for (size_t chunk = 1; chunk <= 300; chunk += 37) {
			rig_init(&r, false, false);
			feed_chunked(&r, s, strlen(s), chunk);
			feed_chunked(&r, t, strlen(t), chunk);
			CHECK(rec_is(started_only, 1));
			rig_fini(&r);
		}
		free(s);
		free(t);
	}

	/* The end marker ending exactly at the buffer's last usable byte. */
	{
		char *s = long_line(cmax - strlen(END_MARK), '=', END_MARK " ]---\n");
		unsigned bad = 0;

		for (size_t chunk = 1; chunk <= cmax + 2; chunk++) {
			rig_init(&r, false, false);
			feed_chunked(&r, s, strlen(s), chunk);
			if (!rec_is(complete_only, 1) && !bad++)
				fprintf(stderr, "end marker at the buffer's end: chunk %zu\n",
					chunk);
			rig_fini(&r);
		}
		CHECK_EQ_U64(bad, 0);
		/* A full buffer is looked at before its line ends. */
		rig_init(&r, false, false);
		feed_chunked(&r, s, cmax, 1);
		CHECK(rec_is(complete_only, 1));
		rig_fini(&r);
		free(s);
	}

	/* One megabyte without a newline, at once and in 4 KiB writes. */
	{
		size_t big = 1 << 20;
		char *s = long_line(big, 'A', "");

		rig_init(&r, false, false);
		feed(&r, s, big);
		CHECK(r.c.line_len < CONSOLE_LINE_MAX);
		feed_chunked(&r, s, big, 4096);
		CHECK(r.c.line_len < CONSOLE_LINE_MAX);
		feed_chunked(&r, s, 1000, 1);
		CHECK(r.c.line_len < CONSOLE_LINE_MAX);
		feed_str(&r, "\n");
		CHECK_EQ_U64(rec.n, 0);
		feed_str(&r, END_MARK " ]---\n");
		CHECK(rec_is(complete_only, 1));
		rig_fini(&r);
		free(s);
	}
}

/* Random chunking of a realistic report: always NONE -> STARTED -> COMPLETE, once each. */
static void test_random_chunking_report(void)
{
	const size_t len = sizeof(panic_report) - 1;
	const char *sl = strstr(panic_report, START_MARK);
	const char *el = strstr(panic_report, END_MARK);
	const size_t start_nl = (size_t)(strchr(sl, '\n') - panic_report);
	const size_t end_nl = (size_t)(strchr(el, '\n') - panic_report);
	static const u32 maxes[] = { 1, 3, 8, 17, 64, 255, 256, 700, 4096 };
	unsigned bad_seq = 0, bad_where = 0, bad_text = 0, runs = 0;
	struct rig r;

	CHECK(sl && el && start_nl < end_nl && end_nl == len - 1);
	rng_state = 0x12345678;
	for (unsigned it = 0; it < 600; it++) {
		u32 max = maxes[it % ARRAY_SIZE(maxes)];
		size_t off = 0;
		bool order_ok = true;

		rig_init(&r, true, it % 2);
		while (off < len) {
			size_t n = 1 + rng() % max;

			if (n > len - off)
				n = len - off;
			feed(&r, panic_report + off, n);
			off += n;
			/* Nothing before the start line has ended, STARTED until the end line has.
			 */
			if (off <= start_nl && r.c.panic != CONSOLE_PANIC_NONE)
				order_ok = false;
			if (off > start_nl && off <= end_nl && r.c.panic != CONSOLE_PANIC_STARTED)
				order_ok = false;
		}
		if (!rec_is(start_complete, 2) || !order_ok)
			bad_seq++;
		else if (rec.from[0] > start_nl || rec.to[0] <= start_nl || rec.from[1] > end_nl ||
			 rec.to[1] <= end_nl)
			bad_where++;
		if (!drained_is(r.out[0], panic_report, len) ||
		    (r.log[0] >= 0 && !drained_is(r.log[0], panic_report, len)))
			bad_text++;
		runs++;
		rig_fini(&r);
	}
	CHECK_EQ_U64(runs, 600);
	CHECK_EQ_U64(bad_seq, 0);
	CHECK_EQ_U64(bad_where, 0);
	CHECK_EQ_U64(bad_text, 0);
}

/* Writers on several threads: each write stays whole, and the watcher sees whole lines. */
struct writer {
	struct rig *r;
	int id;
};

#define W_THREADS 4
#define W_LINES	  400
#define W_LEN	  32

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char line[W_LEN + 1];

	for (int i = 0; i < W_LINES; i++) {
		memset(line, '.', W_LEN);
		line[snprintf(line, sizeof(line), "T%d %05d ", w->id, i)] = '.';
		line[W_LEN - 2] = '\r';
		line[W_LEN - 1] = '\n';
		console_out_write(&w->r->c, (const u8 *)line, W_LEN);
		if (w->id == 0 && i == W_LINES / 2)
			console_out_write(&w->r->c, (const u8 *)START_MARK "\n",
					  strlen(START_MARK) + 1);
	}
	return NULL;
}

static void test_concurrent_writers(void)
{
	struct writer w[W_THREADS];
	pthread_t t[W_THREADS];
	FILE *f = tmpfile();
	struct rig r;
	static char all[W_THREADS * W_LINES * W_LEN + 64];
	int next[W_THREADS] = { 0 };
	unsigned bad = 0;
	size_t n, off = 0;

	if (!f)
		exit(2);
	memset(&rec, 0, sizeof(rec));
	r.out[0] = r.out[1] = r.log[0] = r.log[1] = -1;
	console_out_init(&r.c, fileno(f), -1);
	r.c.panic_cb = on_panic;
	r.c.opaque = &r.c;
	for (int i = 0; i < W_THREADS; i++) {
		w[i] = (struct writer){ &r, i };
		pthread_create(&t[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < W_THREADS; i++)
		pthread_join(t[i], NULL);
	n = (size_t)pread(fileno(f), all, sizeof(all), 0);
	CHECK_EQ_U64(n, W_THREADS * W_LINES * W_LEN + strlen(START_MARK) + 1);
	while (off < n) {
		int id, seq;

		if (!strncmp(all + off, START_MARK "\n", strlen(START_MARK) + 1)) {
			off += strlen(START_MARK) + 1;
			continue;
		}
		if (n - off < W_LEN || sscanf(all + off, "T%d %05d", &id, &seq) != 2 || id < 0 ||
		    id >= W_THREADS || seq != next[id] || all[off + W_LEN - 1] != '\n') {
			bad++;
			break;
		}
		next[id]++;
		off += W_LEN;
	}
	CHECK_EQ_U64(bad, 0);
	for (int i = 0; i < W_THREADS; i++)
		CHECK_EQ_U64(next[i], W_LINES);
	CHECK(rec_is(started_only, 1));
	console_out_destroy(&r.c);
	fclose(f);
}

/*
 * The "stopping" hook: a write blocked on a reader that stopped reading is
 * interrupted by a signal (coho's stop kick); console_out asks stopping()
 * whether to give up (the VM is stopping) or to go on writing.
 */
static struct {
	pthread_t target;
	int rd;		      /* the blocked pipe's read end */
	bool answer;	      /* what stopping() says */
	unsigned calls;	      /* how often it was asked */
	unsigned kicks_first; /* kicks before the reader catches up (0: never) */
	unsigned wait_calls;  /* ...and stopping() calls */
	volatile int done;
	size_t got;
	u8 buf[1 << 17];
} stop;

static bool stopping(void *opaque)
{
	(void)opaque;
	__atomic_add_fetch(&stop.calls, 1, __ATOMIC_SEQ_CST);
	return stop.answer;
}

static void on_kick(int sig)
{
	(void)sig;
}

static void *kicker_main(void *arg)
{
	unsigned kicks = 0;

	(void)arg;
	while (!stop.done) {
		if (stop.kicks_first && kicks >= stop.kicks_first &&
		    __atomic_load_n(&stop.calls, __ATOMIC_SEQ_CST) >= stop.wait_calls) {
			/* The reader is back: drain, so the writer can finish. */
			ssize_t n = read(stop.rd, stop.buf + stop.got, sizeof(stop.buf) - stop.got);

			if (n > 0)
				stop.got += (size_t)n;
			else
				usleep(1000);
			continue;
		}
		pthread_kill(stop.target, SIGUSR1);
		kicks++;
		usleep(20000);
	}
	return NULL;
}

/* Fill the pipe behind @wr so that the next write blocks; how much went in. */
static size_t fill_pipe(int wr, u8 *copy, size_t max)
{
	int fl = fcntl(wr, F_GETFL);
	size_t n = 0;

	fcntl(wr, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		u8 b = (u8)('a' + n % 26);
		ssize_t w = write(wr, &b, 1);

		if (w != 1)
			break;
		if (n < max)
			copy[n] = b;
		n++;
	}
	fcntl(wr, F_SETFL, fl);
	return n;
}

static void blocked_write(bool have_hook, bool answer, unsigned kicks_first)
{
	static u8 filled[1 << 17];
	struct sigaction sa = { .sa_handler = on_kick }, old_sa;
	u8 msg[100];
	pthread_t kicker;
	struct rig r;
	size_t nfill;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (u8)('A' + i % 26);
	rig_init(&r, true, true);
	if (have_hook)
		r.c.stopping = stopping;
	memset(&stop, 0, sizeof(stop));
	stop.target = pthread_self();
	stop.rd = r.out[0];
	stop.answer = answer;
	stop.kicks_first = kicks_first;
	stop.wait_calls = have_hook ? 1 : 0;
	nfill = fill_pipe(r.out[1], filled, sizeof(filled));
	CHECK(nfill > 0 && nfill <= sizeof(filled));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the blocked write fails with EINTR */
	sigaction(SIGUSR1, &sa, &old_sa);
	alarm(30); /* a hang is a failure too */
	pthread_create(&kicker, NULL, kicker_main, NULL);
	feed(&r, msg, sizeof(msg));
	stop.done = 1;
	pthread_join(kicker, NULL);

	if (have_hook && answer) {
		/* Given up: the terminal's copy is dropped, the log has it. */
		CHECK(r.c.out_broken);
		CHECK(stop.calls >= 1);
		CHECK_EQ_U64(drain(r.out[0]) + stop.got, nfill);
		/* Later text does not try the terminal again (it would block: alarm). */
		feed(&r, msg, sizeof(msg));
		CHECK_EQ_U64(drain(r.log[0]), 2 * sizeof(msg));
		CHECK(!memcmp(drained, msg, sizeof(msg)) &&
		      !memcmp(drained + sizeof(msg), msg, sizeof(msg)));
	} else {
		size_t n;

		/* Interrupted, asked (if there is a hook), and written in full after all. */
		CHECK(!r.c.out_broken);
		if (have_hook)
			CHECK(stop.calls >= 1);
		n = drain(r.out[0]);
		memmove(stop.buf + stop.got, drained, n);
		stop.got += n;
		CHECK_EQ_U64(stop.got, nfill + sizeof(msg));
		CHECK(stop.got == nfill + sizeof(msg) && !memcmp(stop.buf, filled, nfill) &&
		      !memcmp(stop.buf + nfill, msg, sizeof(msg)));
	}
	if (!(have_hook && answer))
		CHECK(drained_is(r.log[0], msg, sizeof(msg)));
	CHECK(!r.c.log_broken);
	alarm(0);
	sigaction(SIGUSR1, &old_sa, NULL);
	rig_fini(&r);
}

static void test_stopping_hook(void)
{
	/* The VM is stopping: give up the terminal's copy. */
	blocked_write(true, true, 0);
	/* Not stopping: keep writing once the reader drains. */
	blocked_write(true, false, 3);
	/* No hook: EINTR is retried. */
	blocked_write(false, false, 5);
}

TEST_MAIN(test_bytes_exact_every_chunk_size, test_no_log_or_no_out, test_broken_out_keeps_log,
	  test_panic_started_then_complete, test_complete_without_started,
	  test_no_callback_on_ordinary_text, test_markers_split_everywhere, test_nul_and_crlf,
	  test_long_lines, test_random_chunking_report, test_concurrent_writers, test_stopping_hook)
