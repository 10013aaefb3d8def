// SPDX-License-Identifier: GPL-2.0
/* 8250/16550A UART emulation, register layout as in the National PC16550D data sheet. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hw/uart8250.h"
#include "util/log.h"
#include "vm.h"

enum {
	UART_RBR_THR_DLL = 0,
	UART_IER_DLM = 1,
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_RDI	     0x01 /* received data available */
#define IER_THRI     0x02 /* transmitter holding register empty */
#define IIR_NONE     0x01
#define IIR_THRI     0x02
#define IIR_RDI	     0x04
#define IIR_FIFO     0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define MCR_DTR	     0x01
#define MCR_RTS	     0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define LSR_DR	     0x01
#define LSR_BI	     0x10 /* the byte at the FIFO's head is a break */
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MSR_CTS	     0x10
#define MSR_DSR	     0x20
#define MSR_RI	     0x40
#define MSR_DCD	     0x80

static void uart_update_irq(struct uart8250 *u)
{
	bool level =
	    ((u->ier & IER_RDI) && u->rx_count) || ((u->ier & IER_THRI) && u->thre_pending);

	if (level != u->irq_level) {
		u->irq_level = level;
		arch_irq_line(u->vm, u->spi, level);
	}
}

static void uart_rx_push(struct uart8250 *u, u8 c)
{
	if (u->rx_count < UART8250_RX_SIZE) {
		u->rx[(u->rx_head + u->rx_count) % UART8250_RX_SIZE] = c;
		u->rx_brk[(u->rx_head + u->rx_count) % UART8250_RX_SIZE] = false;
		u->rx_count++;
	}
}

static u8 uart_rx_pop(struct uart8250 *u)
{
	bool was_full = u->rx_count == UART8250_RX_SIZE;
	u8 c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART8250_RX_SIZE;
	u->rx_count--;
	if (was_full && u->wake_fd >= 0) {
		u64 one = 1;

		if (write(u->wake_fd, &one, sizeof(one)) < 0)
			pr_debug("uart wake: %s", strerror(errno));
	}
	return c;
}

/* The guest takes input from now on: let the console loop send what it holds. */
static void uart_rx_open(struct uart8250 *u)
{
	u64 one = 1;

	if (u->rx_open)
		return;
	u->rx_open = true;
	if (u->wake_fd >= 0 && write(u->wake_fd, &one, sizeof(one)) < 0)
		pr_debug("uart wake: %s", strerror(errno));
}

static void uart_transmit(struct uart8250 *u, u8 c)
{
	if (u->mcr & MCR_LOOP) {
		uart_rx_push(u, c);
		return;
	}
	console_out_write(u->out, &c, 1);
}

static u8 uart_read(struct uart8250 *u, u32 reg)
{
	u8 v = 0;

	switch (reg) {
	case UART_RBR_THR_DLL:
		v = (u->lcr & LCR_DLAB) ? u->dll : uart_rx_pop(u);
		break;
	case UART_IER_DLM:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR_FCR:
		if ((u->ier & IER_RDI) && u->rx_count) {
			v = IIR_RDI;
		} else if ((u->ier & IER_THRI) && u->thre_pending) {
			v = IIR_THRI;
			/* Reading IIR while it reports THRE acknowledges that interrupt. */
			u->thre_pending = false;
		} else {
			v = IIR_NONE;
		}
		if (u->fcr & FCR_ENABLE)
			v |= IIR_FIFO;
		break;
	case UART_LCR:
		v = u->lcr;
		break;
	case UART_MCR:
		v = u->mcr;
		break;
	case UART_LSR:
		if (!u->rx_open && ++u->lsr_polls >= 256)
			uart_rx_open(u);
		/* Transmission is instantaneous: the transmitter is always empty. */
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) |
		    (u->rx_count && u->rx_brk[u->rx_head] ? LSR_BI : 0);
		break;
	case UART_MSR:
		if (u->mcr & MCR_LOOP)
			v = (u->mcr & MCR_DTR ? MSR_DSR : 0) | (u->mcr & MCR_RTS ? MSR_CTS : 0) |
			    (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0);
		else
			v = MSR_DCD | MSR_DSR | MSR_CTS;
		break;
	case UART_SCR:
		v = u->scr;
		break;
	}
	return v;
}

static void uart_write(struct uart8250 *u, u32 reg, u8 v)
{
	switch (reg) {
	case UART_RBR_THR_DLL:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			u->lsr_polls = 0;
			uart_transmit(u, v);
			u->thre_pending = true;
		}
		break;
	case UART_IER_DLM:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling THRI with an empty transmitter raises it at once. */
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thre_pending = true;
			u->ier = v & 0x0f;
			if (v & IER_RDI)
				uart_rx_open(u);
		}
		break;
	case UART_IIR_FCR:
		u->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX) {
			u->rx_head = 0;
			u->rx_count = 0;
		}
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static void uart_mmio(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct uart8250 *u = opaque;

	/* reg-io-width 1, reg-shift 0: registers are bytes 0-7; the rest reads as zero. */
	pthread_mutex_lock(&u->lock);
	if (offset > UART_SCR) {
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		uart_write(u, (u32)offset, data[0]);
	} else {
		memset(data, 0, len);
		data[0] = uart_read(u, (u32)offset);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart8250_rx_room(struct uart8250 *u)
{
	size_t room;

	pthread_mutex_lock(&u->lock);
	room = u->rx_open ? UART8250_RX_SIZE - u->rx_count : 0;
	pthread_mutex_unlock(&u->lock);
	return room;
}

size_t uart8250_receive(struct uart8250 *u, const u8 *buf, size_t len)
{
	size_t i;

	pthread_mutex_lock(&u->lock);
	for (i = 0; i < len && u->rx_count < UART8250_RX_SIZE; i++)
		uart_rx_push(u, buf[i]);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return i;
}

int uart8250_init(struct uart8250 *u, struct vm *vm, u64 base, u64 size, u32 spi,
		  struct console_out *out)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->vm = vm;
	u->spi = spi;
	u->out = out;
	u->mcr = MCR_OUT2;
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0)
		return -errno;
	return mmio_bus_register(&vm->mmio, base, size, uart_mmio, u, "uart8250");
}

void uart8250_destroy(struct uart8250 *u)
{
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	u->wake_fd = -1;
	pthread_mutex_destroy(&u->lock);
}

static size_t uart_sink_room(void *dev)
{
	return uart8250_rx_room(dev);
}

static size_t uart_sink_receive(void *dev, const u8 *buf, size_t len)
{
	return uart8250_receive(dev, buf, len);
}

struct console_sink uart8250_console_sink(struct uart8250 *u)
{
	return (struct console_sink){ .room = uart_sink_room,
				      .receive = uart_sink_receive,
				      .wake_fd = u->wake_fd,
				      .dev = u };
}

int uart8250_sysrq(struct uart8250 *u, u8 key)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&u->lock);
	if (UART8250_RX_SIZE - u->rx_count >= 2) {
		uart_rx_push(u, 0);
		u->rx_brk[(u->rx_head + u->rx_count - 1) % UART8250_RX_SIZE] = true;
		uart_rx_push(u, key);
		uart_update_irq(u);
		ret = 0;
	}
	pthread_mutex_unlock(&u->lock);
	return ret;
}

void uart8250_input_unheld(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	uart_rx_open(u);
	pthread_mutex_unlock(&u->lock);
}
