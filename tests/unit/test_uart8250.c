// SPDX-License-Identifier: GPL-2.0
/*
 * hw/uart8250.c driven as the guest drives it: byte accesses through the VM's
 * MMIO bus. A dry struct vm (no KVM; vm_fd -1 so the aarch64 build's
 * KVM_IRQ_LINE fails harmlessly) is all the UART needs. Register semantics
 * follow the PC16550D data sheet.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arm64/layout.h"
#include "hw/uart8250.h"
#include "vm.h"
#include "tests/unit/test.h"

#define UB ARM_UART_BASE

enum {
	RBR = 0,
	THR = 0,
	DLL = 0,
	IER = 1,
	DLM = 1,
	IIR = 2,
	FCR = 2,
	LCR = 3,
	MCR = 4,
	LSR = 5,
	MSR = 6,
	SCR = 7
};

static struct vm vm;
static struct uart8250 uart;
static int out_rd = -1, out_wr = -1;

static void setup(void)
{
	int p[2];

	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	vm.kvm_fd = -1;
	vm.dry = true;
	if (pipe(p) < 0) {
		perror("pipe");
		exit(2);
	}
	out_rd = p[0];
	out_wr = p[1];
	fcntl(out_rd, F_SETFL, O_NONBLOCK);
	console_out_init(&vm.console, out_wr, -1);
	CHECK_EQ_U64(uart8250_init(&uart, &vm, UB, ARM_UART_SIZE, ARM_UART_SPI, &vm.console), 0);
}

static void teardown(void)
{
	uart8250_destroy(&uart);
	mmio_bus_free(&vm.mmio);
	close(out_rd);
	if (out_wr >= 0)
		close(out_wr);
	out_rd = out_wr = -1;
}

static u8 rd(u32 reg)
{
	u8 v = 0xee;

	CHECK(mmio_bus_access(&vm.mmio, UB + reg, &v, 1, false));
	return v;
}

static void wr(u32 reg, u8 v)
{
	CHECK(mmio_bus_access(&vm.mmio, UB + reg, &v, 1, true));
}

/* Everything the UART wrote to its output so far. */
static size_t drain(char *buf, size_t len)
{
	ssize_t n = read(out_rd, buf, len);

	return n > 0 ? (size_t)n : 0;
}

static void test_reset_state(void)
{
	char buf[16];

	setup();
	CHECK_EQ_U64(rd(LSR), 0x60); /* THRE | TEMT, no data */
	CHECK_EQ_U64(rd(IIR), 0x01); /* no interrupt, FIFOs off */
	CHECK_EQ_U64(rd(IER), 0x00);
	CHECK_EQ_U64(rd(LCR), 0x00);
	CHECK_EQ_U64(rd(MCR), 0x08); /* OUT2: the interrupt line is routed */
	CHECK_EQ_U64(rd(MSR), 0xb0); /* DCD | DSR | CTS: a connected modem */
	CHECK_EQ_U64(rd(SCR), 0x00);
	CHECK_EQ_U64(rd(RBR), 0x00);		  /* empty RX reads 0 */
	CHECK_EQ_U64(uart8250_rx_room(&uart), 0); /* input held until a driver is ready */
	CHECK(!uart.irq_level);
	CHECK_EQ_U64(drain(buf, sizeof(buf)), 0);
	teardown();
}

static void test_transmit(void)
{
	const char *msg = "Hello, coho!\r\n";
	char buf[64];
	size_t n;

	setup();
	for (const char *p = msg; *p; p++) {
		wr(THR, (u8)*p);
		/* Transmission is instantaneous. */
		CHECK_EQ_U64(rd(LSR) & 0x60, 0x60);
	}
	n = drain(buf, sizeof(buf));
	CHECK_EQ_U64(n, strlen(msg));
	CHECK(n == strlen(msg) && !memcmp(buf, msg, n));
	/* All 256 byte values go through unchanged. */
	for (int i = 0; i < 256; i++)
		wr(THR, (u8)i);
	n = drain(buf, 64);
	CHECK_EQ_U64(n, 64);
	for (int i = 0; i < 64; i++)
		CHECK_EQ_U64((u8)buf[i], i);
	teardown();
}

static void test_receive(void)
{
	const u8 in[] = "ab\x00\xff";

	setup();
	uart.rx_open = true; /* as once a driver is ready (test_input_held) */
	CHECK_EQ_U64(uart8250_receive(&uart, in, 4), 4);
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE - 4);
	CHECK_EQ_U64(rd(LSR), 0x61); /* DR */
	CHECK_EQ_U64(rd(RBR), 'a');
	CHECK_EQ_U64(rd(LSR), 0x61);
	CHECK_EQ_U64(rd(RBR), 'b');
	CHECK_EQ_U64(rd(RBR), 0x00);
	CHECK_EQ_U64(rd(LSR), 0x61); /* a NUL byte is data too */
	CHECK_EQ_U64(rd(RBR), 0xff);
	CHECK_EQ_U64(rd(LSR), 0x60);
	CHECK_EQ_U64(rd(RBR), 0x00);
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE);
	CHECK_EQ_U64(uart8250_receive(&uart, in, 0), 0);
	CHECK_EQ_U64(rd(LSR), 0x60);
	teardown();
}

static void test_interrupts(void)
{
	setup();
	/* Nothing enabled: nothing pending whatever happens. */
	wr(THR, 'x');
	uart8250_receive(&uart, (const u8 *)"q", 1);
	CHECK_EQ_U64(rd(IIR), 0x01);
	CHECK(!uart.irq_level);
	rd(RBR);

	/* Enabling THRI with an empty transmitter raises THRE at once. */
	wr(IER, 0x02);
	CHECK_EQ_U64(rd(IER), 0x02);
	CHECK(uart.irq_level);
	/* Reading IIR while it reports THRE acknowledges it. */
	CHECK_EQ_U64(rd(IIR), 0x02);
	CHECK(!uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x01);
	/* Writing IER with THRI still set does not raise it again... */
	wr(IER, 0x02);
	CHECK_EQ_U64(rd(IIR), 0x01);
	/* ...but turning it off and on does. */
	wr(IER, 0x00);
	wr(IER, 0x02);
	CHECK_EQ_U64(rd(IIR), 0x02);
	/* Each transmitted byte raises THRE again. */
	wr(THR, 'y');
	CHECK(uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x02);
	CHECK_EQ_U64(rd(IIR), 0x01);

	/* RX data has priority over THRE, and reporting RDI does not clear THRE. */
	wr(IER, 0x03);
	wr(THR, 'z');
	CHECK_EQ_U64(uart8250_receive(&uart, (const u8 *)"12", 2), 2);
	CHECK(uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x04);
	CHECK_EQ_U64(rd(IIR), 0x04);
	CHECK_EQ_U64(rd(RBR), '1');
	CHECK_EQ_U64(rd(IIR), 0x04);
	CHECK_EQ_U64(rd(RBR), '2');
	CHECK(uart.irq_level); /* THRE still pending */
	CHECK_EQ_U64(rd(IIR), 0x02);
	CHECK(!uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x01);

	/* RDI alone: the line follows the FIFO level. */
	wr(IER, 0x01);
	CHECK(!uart.irq_level);
	uart8250_receive(&uart, (const u8 *)"k", 1);
	CHECK(uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x04);
	rd(RBR);
	CHECK(!uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x01);

	/* Disabling IER drops the line even with data queued. */
	uart8250_receive(&uart, (const u8 *)"k", 1);
	CHECK(uart.irq_level);
	wr(IER, 0x00);
	CHECK(!uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x01);

	/* IER keeps only its four defined bits. */
	wr(IER, 0xff);
	CHECK_EQ_U64(rd(IER), 0x0f);

	/* With FIFOs enabled IIR reports it in bits 7:6. */
	wr(IER, 0x00);
	wr(FCR, 0x01);
	CHECK_EQ_U64(rd(IIR), 0xc1);
	wr(IER, 0x01);
	CHECK_EQ_U64(rd(IIR), 0xc4);
	teardown();
}

static void test_dlab(void)
{
	char buf[8];

	setup();
	wr(IER, 0x05);
	wr(LCR, 0x83); /* DLAB, 8N1 */
	CHECK_EQ_U64(rd(LCR), 0x83);
	wr(DLL, 0x0c);
	wr(DLM, 0x01);
	/* Registers 0/1 are now the divisor latch... */
	CHECK_EQ_U64(rd(DLL), 0x0c);
	CHECK_EQ_U64(rd(DLM), 0x01);
	/* ...so nothing was transmitted, and reading 0 does not pop RX. */
	CHECK_EQ_U64(drain(buf, sizeof(buf)), 0);
	uart8250_receive(&uart, (const u8 *)"r", 1);
	CHECK_EQ_U64(rd(DLL), 0x0c);
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE - 1);
	wr(LCR, 0x03);
	/* Back to THR/RBR and IER, which kept their values. */
	CHECK_EQ_U64(rd(IER), 0x05);
	CHECK_EQ_U64(rd(RBR), 'r');
	wr(THR, 'T');
	CHECK_EQ_U64(drain(buf, sizeof(buf)), 1);
	CHECK_EQ_U64(buf[0], 'T');
	/* The latch keeps its value when DLAB is set again. */
	wr(LCR, 0x80);
	CHECK_EQ_U64(rd(DLL), 0x0c);
	CHECK_EQ_U64(rd(DLM), 0x01);
	/* Other registers are unaffected by DLAB. */
	wr(SCR, 0x5a);
	CHECK_EQ_U64(rd(SCR), 0x5a);
	CHECK_EQ_U64(rd(LSR), 0x60);
	teardown();
}

static void test_loopback(void)
{
	char buf[8];

	setup();
	wr(MCR, 0x10);
	CHECK_EQ_U64(rd(MCR), 0x10);
	wr(THR, 'L');
	wr(THR, 'B');
	/* Nothing leaves the UART; the bytes come back as input. */
	CHECK_EQ_U64(drain(buf, sizeof(buf)), 0);
	CHECK_EQ_U64(rd(LSR), 0x61);
	CHECK_EQ_U64(rd(RBR), 'L');
	CHECK_EQ_U64(rd(RBR), 'B');
	CHECK_EQ_U64(rd(LSR), 0x60);

	/* MSR mirrors the modem control outputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	wr(MCR, 0x10);
	CHECK_EQ_U64(rd(MSR), 0x00);
	wr(MCR, 0x11);
	CHECK_EQ_U64(rd(MSR), 0x20);
	wr(MCR, 0x12);
	CHECK_EQ_U64(rd(MSR), 0x10);
	wr(MCR, 0x14);
	CHECK_EQ_U64(rd(MSR), 0x40);
	wr(MCR, 0x18);
	CHECK_EQ_U64(rd(MSR), 0x80);
	wr(MCR, 0x1f);
	CHECK_EQ_U64(rd(MSR), 0xf0);
	/* MCR keeps only bits 4:0. */
	wr(MCR, 0xff);
	CHECK_EQ_U64(rd(MCR), 0x1f);

	/* Loopback with RDI enabled interrupts like real input. */
	wr(IER, 0x01);
	wr(THR, '!');
	CHECK(uart.irq_level);
	CHECK_EQ_U64(rd(IIR), 0x04);
	CHECK_EQ_U64(rd(RBR), '!');
	CHECK(!uart.irq_level);

	/* Leaving loopback: output flows again, MSR is the fixed modem state. */
	wr(MCR, 0x0b);
	CHECK_EQ_U64(rd(MSR), 0xb0);
	wr(THR, 'o');
	CHECK_EQ_U64(drain(buf, sizeof(buf)), 1);
	CHECK_EQ_U64(buf[0], 'o');
	CHECK_EQ_U64(rd(LSR), 0x60);
	teardown();
}

static void test_rx_full(void)
{
	enum { N = UART8250_RX_SIZE + 1000 };
	static u8 in[N];
	u64 wake;
	bool ok = true;

	for (int i = 0; i < N; i++)
		in[i] = (u8)(i % 251);
	setup();
	uart.rx_open = true; /* as once a driver is ready (test_input_held) */
	CHECK_EQ_U64(uart8250_receive(&uart, in, 100), 100);
	/* It takes what fits and says how much. */
	CHECK_EQ_U64(uart8250_receive(&uart, in + 100, N - 100), UART8250_RX_SIZE - 100);
	CHECK_EQ_U64(uart8250_rx_room(&uart), 0);
	CHECK_EQ_U64(uart8250_receive(&uart, in, 10), 0);
	/* Popping from a full FIFO signals the console loop through wake_fd. */
	CHECK(read(uart.wake_fd, &wake, sizeof(wake)) < 0 && errno == EAGAIN);
	CHECK_EQ_U64(rd(RBR), 0);
	CHECK_EQ_U64(read(uart.wake_fd, &wake, sizeof(wake)), sizeof(wake));
	CHECK_EQ_U64(wake, 1);
	CHECK_EQ_U64(uart8250_rx_room(&uart), 1);
	/* Not full any more: no further wake-ups. */
	CHECK_EQ_U64(rd(RBR), 1);
	CHECK(read(uart.wake_fd, &wake, sizeof(wake)) < 0 && errno == EAGAIN);
	/* The rest, in order, across the ring's wrap-around. */
	CHECK_EQ_U64(uart8250_receive(&uart, (const u8 *)"\x01\x02", 2), 2);
	for (int i = 2; i < UART8250_RX_SIZE; i++)
		ok = ok && rd(RBR) == (u8)(i % 251);
	CHECK(ok);
	CHECK_EQ_U64(rd(RBR), 1);
	CHECK_EQ_U64(rd(RBR), 2);
	CHECK_EQ_U64(rd(LSR), 0x60);
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE);
	teardown();
}

/*
 * Input waits in coho until the guest is ready: Linux's startup clears the
 * FIFO and reads RBR twice before it enables RDI, so queued bytes would be lost.
 */
static void test_input_held(void)
{
	setup();
	CHECK_EQ_U64(uart8250_rx_room(&uart), 0);
	wr(FCR, 0x07);
	(void)rd(LSR);
	(void)rd(RBR);
	CHECK_EQ_U64(uart8250_rx_room(&uart), 0);
	wr(IER, 0x01); /* a driver is ready */
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE);
	teardown();
	/* A guest polling LSR for input (no interrupts, nothing transmitted) opens it too. */
	setup();
	for (int i = 0; i < 255; i++)
		(void)rd(LSR);
	CHECK_EQ_U64(uart8250_rx_room(&uart), 0);
	wr(THR, 'x'); /* printing: not polling for input */
	for (int i = 0; i < 255; i++)
		(void)rd(LSR);
	CHECK_EQ_U64(uart8250_rx_room(&uart), 0);
	(void)rd(LSR);
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE);
	teardown();
}

static void test_fifo_clear(void)
{
	setup();
	CHECK_EQ_U64(uart8250_receive(&uart, (const u8 *)"0123456789", 10), 10);
	wr(IER, 0x01);
	CHECK(uart.irq_level);
	CHECK_EQ_U64(rd(LSR), 0x61);
	/* FCR bit 1 clears the RX FIFO (and deasserts RDI). */
	wr(FCR, 0x03);
	CHECK_EQ_U64(rd(LSR), 0x60);
	CHECK(!uart.irq_level);
	CHECK_EQ_U64(uart8250_rx_room(&uart), UART8250_RX_SIZE);
	CHECK_EQ_U64(rd(RBR), 0);
	CHECK_EQ_U64(rd(IIR), 0xc1);
	/* New input after the clear comes out first, intact. */
	CHECK_EQ_U64(uart8250_receive(&uart, (const u8 *)"ab", 2), 2);
	CHECK_EQ_U64(rd(RBR), 'a');
	CHECK_EQ_U64(rd(RBR), 'b');
	/* FCR without bit 1 keeps the FIFO. */
	uart8250_receive(&uart, (const u8 *)"c", 1);
	wr(FCR, 0x01);
	CHECK_EQ_U64(rd(RBR), 'c');
	/* FIFOs off: IIR bits 7:6 clear. */
	wr(IER, 0x00);
	wr(FCR, 0x00);
	CHECK_EQ_U64(rd(IIR), 0x01);
	teardown();
}

static void test_other_offsets(void)
{
	u8 data[8];

	setup();
	wr(SCR, 0xa5);
	CHECK_EQ_U64(rd(SCR), 0xa5);
	/* LSR and MSR are read-only. */
	wr(LSR, 0x00);
	wr(MSR, 0x00);
	CHECK_EQ_U64(rd(LSR), 0x60);
	CHECK_EQ_U64(rd(MSR), 0xb0);

	/* Offsets 8 and up (the rest of the 4 KiB window) read as zero, writes ignored. */
	static const u32 offs[] = { 8, 9, 0x10, 0x100, 0xff8, 0xfff };
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		CHECK_EQ_U64(rd(offs[i]), 0);
		wr(offs[i], 0xff);
	}
	CHECK_EQ_U64(rd(SCR), 0xa5);
	CHECK_EQ_U64(rd(IER), 0x00);
	CHECK_EQ_U64(rd(LCR), 0x00);
	memset(data, 0xee, sizeof(data));
	CHECK(mmio_bus_access(&vm.mmio, UB + 0x20, data, 8, false));
	CHECK_EQ_U64(get_le64(data), 0);
	/* A wider read of a register returns it in byte 0 and zeros above. */
	memset(data, 0xee, sizeof(data));
	CHECK(mmio_bus_access(&vm.mmio, UB + LSR, data, 4, false));
	CHECK_EQ_U64(get_le32(data), 0x60);
	CHECK_EQ_U64(data[4], 0xee);
	/* Past the UART's window: not the UART's. */
	CHECK(!mmio_bus_access(&vm.mmio, UB + ARM_UART_SIZE, data, 1, false));
	CHECK(!mmio_bus_access(&vm.mmio, UB - 1, data, 1, false));
	teardown();
}

static void test_output_closed(void)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	char buf[4];

	setup();
	wr(THR, 'a');
	CHECK_EQ_U64(drain(buf, sizeof(buf)), 1);
	/* The console went away: output stops, the guest keeps running. */
	close(out_rd);
	out_rd = open("/dev/null", O_RDONLY);
	wr(THR, 'b');
	CHECK(vm.console.out_broken);
	wr(THR, 'c');
	CHECK_EQ_U64(rd(LSR), 0x60);
	wr(IER, 0x02);
	CHECK_EQ_U64(rd(IIR), 0x02);
	teardown();
	signal(SIGPIPE, old);
}

TEST_MAIN(test_reset_state, test_transmit, test_receive, test_interrupts, test_dlab, test_loopback,
	  test_rx_full, test_fifo_clear, test_input_held, test_other_offsets, test_output_closed)
