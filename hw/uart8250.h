/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_HW_UART8250_H
#define COHO_HW_UART8250_H

#include <pthread.h>

#include "console_in.h"
#include "console_out.h"
#include "util/types.h"

struct vm;

#define UART8250_RX_SIZE 4096

/*
 * A 16550A-compatible UART: transmit goes straight to @out (nothing is
 * buffered, so no output can be lost or reordered at exit); receive is a
 * FIFO filled by the console loop. One level-triggered SPI.
 */
struct uart8250 {
	pthread_mutex_t lock;
	struct vm *vm;
	u32 spi;
	struct console_out *out;
	int wake_fd; /* eventfd: written when a full RX FIFO gains room */
	u8 rx[UART8250_RX_SIZE];
	bool rx_brk[UART8250_RX_SIZE]; /* this slot is a break condition (received as 0) */
	u32 rx_head;
	u32 rx_count;
	u8 ier, lcr, mcr, fcr, scr, dll, dlm;
	bool thre_pending; /* "transmitter holding register empty" interrupt */
	bool irq_level;
	/*
	 * Input is held back (room 0) until the guest is ready for it: a driver
	 * enabled the receive interrupt, or the guest polls LSR for input (256
	 * LSR reads in a row with no transmit in between). Linux reads and
	 * clears the receiver while it starts the port, so input queued earlier
	 * would be lost, as it is on hardware.
	 */
	bool rx_open;
	u32 lsr_polls;
};

/* Register the UART at @base on the VM's MMIO bus. -errno. */
int uart8250_init(struct uart8250 *u, struct vm *vm, u64 base, u64 size, u32 spi,
		  struct console_out *out);
void uart8250_destroy(struct uart8250 *u);
/* The UART as a console input sink (console.h). */
struct console_sink uart8250_console_sink(struct uart8250 *u);
/* Bytes the RX FIFO can take now. */
size_t uart8250_rx_room(struct uart8250 *u);
/* Queue input for the guest; returns how many bytes were taken. */
size_t uart8250_receive(struct uart8250 *u, const u8 *buf, size_t len);
/*
 * Input from a terminal is not held back: its user must be able to type
 * (and to quit with Ctrl-A x) at any time, as on a serial line.
 */
void uart8250_input_unheld(struct uart8250 *u);
/*
 * A break condition on the line, then @key: Linux's serial console reads
 * that as magic SysRq @key (the break is shown as LSR.BI with a 0 byte).
 * -ENOSPC if the FIFO has no room for both.
 */
int uart8250_sysrq(struct uart8250 *u, u8 key);

#endif
