// SPDX-License-Identifier: GPL-2.0
/* Console input: the Ctrl-A escape, pass-through when not a terminal. */
#include <fcntl.h>
#include <unistd.h>

#include "console_in.h"
#include "exit_codes.h"
#include "hw/uart8250.h"
#include "test.h"
#include "vm.h"

#define UART_BASE 0x1000

struct rig {
	struct vm vm;
	struct uart8250 uart;
	struct console_in con;
	int out[2];
};

static void rig_init(struct rig *r, bool tty)
{
	memset(r, 0, sizeof(*r));
	r->vm.vm_fd = -1;
	r->vm.stop_efd = -1;
	CHECK(pipe2(r->out, O_NONBLOCK) == 0);
	console_out_init(&r->vm.console, r->out[1], -1);
	CHECK(uart8250_init(&r->uart, &r->vm, UART_BASE, 0x1000, 0, &r->vm.console) == 0);
	r->uart.rx_open = true; /* a guest driver is ready for input */
	r->con = (struct console_in){ .vm = &r->vm,
				      .sink = uart8250_console_sink(&r->uart),
				      .tty = tty };
}

static void rig_fini(struct rig *r)
{
	uart8250_destroy(&r->uart);
	mmio_bus_free(&r->vm.mmio);
	close(r->out[0]);
	close(r->out[1]);
}

/* Drain what the guest would read from RBR while LSR says data is ready. */
static size_t guest_read(struct rig *r, u8 *buf, size_t max)
{
	size_t n = 0;
	u8 lsr, c;

	for (;;) {
		mmio_bus_access(&r->vm.mmio, UART_BASE + 5, &lsr, 1, false);
		if (!(lsr & 1) || n == max)
			return n;
		mmio_bus_access(&r->vm.mmio, UART_BASE + 0, &c, 1, false);
		buf[n++] = c;
	}
}

static void test_plain_bytes_pass_through(void)
{
	struct rig r;
	u8 got[16];
	const u8 in[] = "ls\r";

	rig_init(&r, true);
	CHECK_EQ_U64(console_feed(&r.con, in, 3), 3);
	CHECK_EQ_U64(guest_read(&r, got, sizeof(got)), 3);
	CHECK(!memcmp(got, "ls\r", 3));
	CHECK(!vm_is_stopping(&r.vm));
	rig_fini(&r);
}

static void test_ctrl_a_x_quits(void)
{
	struct rig r;
	u8 got[16];
	const u8 in[] = { 'a', 0x01, 'x', 'b' };

	rig_init(&r, true);
	CHECK_EQ_U64(console_feed(&r.con, in, sizeof(in)), 3);
	CHECK(vm_is_stopping(&r.vm));
	CHECK_EQ_U64(r.vm.exit_code, COHO_EXIT_USER_QUIT);
	/* Only what came before the escape reached the guest. */
	CHECK_EQ_U64(guest_read(&r, got, sizeof(got)), 1);
	CHECK_EQ_U64(got[0], 'a');
	rig_fini(&r);
}

static void test_escape_split_across_reads(void)
{
	struct rig r;
	const u8 a = 0x01, x = 'X';

	rig_init(&r, true);
	CHECK_EQ_U64(console_feed(&r.con, &a, 1), 1);
	CHECK(!vm_is_stopping(&r.vm));
	console_feed(&r.con, &x, 1);
	CHECK(vm_is_stopping(&r.vm));
	rig_fini(&r);
}

static void test_ctrl_a_ctrl_a_sends_one(void)
{
	struct rig r;
	u8 got[16];
	const u8 in[] = { 0x01, 0x01, 0x01, 'q' };

	rig_init(&r, true);
	console_feed(&r.con, in, sizeof(in));
	CHECK(!vm_is_stopping(&r.vm));
	CHECK_EQ_U64(guest_read(&r, got, sizeof(got)), 3);
	CHECK_EQ_U64(got[0], 0x01);
	CHECK_EQ_U64(got[1], 0x01);
	CHECK_EQ_U64(got[2], 'q');
	rig_fini(&r);
}

static void test_not_a_tty_is_transparent(void)
{
	struct rig r;
	u8 got[16];
	const u8 in[] = { 0x01, 'x', 0x00, 0xff };

	rig_init(&r, false);
	CHECK_EQ_U64(console_feed(&r.con, in, sizeof(in)), 4);
	CHECK(!vm_is_stopping(&r.vm));
	CHECK_EQ_U64(guest_read(&r, got, sizeof(got)), 4);
	CHECK(!memcmp(got, in, 4));
	rig_fini(&r);
}

static void test_full_fifo_drops_nothing_reported(void)
{
	struct rig r;
	static u8 big[UART8250_RX_SIZE + 10];
	u8 got;

	rig_init(&r, false);
	memset(big, 'z', sizeof(big));
	CHECK_EQ_U64(uart8250_rx_room(&r.uart), UART8250_RX_SIZE);
	CHECK_EQ_U64(uart8250_receive(&r.uart, big, sizeof(big)), UART8250_RX_SIZE);
	CHECK_EQ_U64(uart8250_rx_room(&r.uart), 0);
	/* The guest reading one byte frees room and wakes the console loop. */
	mmio_bus_access(&r.vm.mmio, UART_BASE, &got, 1, false);
	CHECK_EQ_U64(got, 'z');
	CHECK_EQ_U64(uart8250_rx_room(&r.uart), 1);
	{
		u64 v = 0;

		CHECK(read(r.uart.wake_fd, &v, sizeof(v)) == sizeof(v));
		CHECK_EQ_U64(v, 1);
	}
	rig_fini(&r);
}

TEST_MAIN(test_plain_bytes_pass_through, test_ctrl_a_x_quits, test_escape_split_across_reads,
	  test_ctrl_a_ctrl_a_sends_one, test_not_a_tty_is_transparent,
	  test_full_fifo_drops_nothing_reported)
