/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bare-metal payload for `coho run -f`: the smallest "firmware" that proves
 * the VMM entered it correctly. It runs from the start of RAM with the MMU
 * off, position independent (adr only), without a stack:
 *   1. prints "COHO-FW hello" on the 8250 UART (THR at +0, LSR at +5),
 *   2. prints x0 (the DTB address the VMM passed) and whether the FDT magic
 *      0xd00dfeed (big endian) is readable there: with the MMU off these are
 *      non-cacheable reads, so this also shows the DTB was cleaned to PoC,
 *   3. calls PSCI SYSTEM_OFF through HVC, which must end the VM (exit 0).
 * Built with: aarch64-linux-gnu-gcc -c, ld -Ttext=0x40000000, objcopy -O binary.
 * -DUART_PL011 builds a variant for QEMU's virt machine (PL011 at the same
 * address) so that `tests/e2e/run.sh --selftest` can check it without coho.
 */

#define UART_BASE	0x09000000
#define UART_LSR	5	/* 8250 line status: bit 5 = THR empty */
#define UART_PL011_FR	0x18	/* PL011 flags: bit 5 = TX FIFO full */
#define PSCI_SYSTEM_OFF	0x84000008
#define FDT_MAGIC_LE	0xedfe0dd0	/* d0 0d fe ed read as a little-endian word */

	.text
	.globl	_start
_start:
	mov	x19, x0			/* keep the DTB address */
	mov	x20, #UART_BASE

	adr	x1, msg_hello
	bl	puts

	adr	x1, msg_x0
	bl	puts
	mov	x1, x19
	bl	puthex
	adr	x1, msg_crlf
	bl	puts

	adr	x1, msg_dtb_bad
	tst	x19, #7			/* booting.rst: the DTB is 8-byte aligned */
	b.ne	1f
	cbz	x19, 1f
	ldr	w2, [x19]
	mov	w3, #(FDT_MAGIC_LE & 0xffff)
	movk	w3, #(FDT_MAGIC_LE >> 16), lsl #16
	cmp	w2, w3
	b.ne	1f
	adr	x1, msg_dtb_ok
1:	bl	puts

	adr	x1, msg_off
	bl	puts
	mov	x0, #(PSCI_SYSTEM_OFF & 0xffff)
	movk	x0, #(PSCI_SYSTEM_OFF >> 16), lsl #16
	hvc	#0

	/* SYSTEM_OFF returned: say so and park. */
	adr	x1, msg_returned
	bl	puts
2:	wfi
	b	2b

/* putc: write w0 to the UART once the transmit holding register is empty. */
putc:
#ifdef UART_PL011
1:	ldr	w9, [x20, #UART_PL011_FR]
	tbnz	w9, #5, 1b
	str	w0, [x20]
#else
1:	ldrb	w9, [x20, #UART_LSR]
	tbz	w9, #5, 1b
	strb	w0, [x20]
#endif
	ret

/* puts: write the NUL-terminated string at x1. Clobbers x0, x1, x9, x10. */
puts:
	mov	x10, x30
1:	ldrb	w0, [x1], #1
	cbz	w0, 2f
	bl	putc
	b	1b
2:	ret	x10

/* puthex: write x1 as 0x and 16 hex digits. Clobbers x0-x3, x9, x10. */
puthex:
	mov	x10, x30
	mov	x2, x1
	mov	w0, #'0'
	bl	putc
	mov	w0, #'x'
	bl	putc
	mov	x3, #60
1:	lsr	x0, x2, x3
	and	x0, x0, #0xf
	cmp	x0, #10
	add	x1, x0, #'0'
	add	x0, x0, #('a' - 10)
	csel	x0, x1, x0, lo
	bl	putc
	subs	x3, x3, #4
	b.pl	1b
	ret	x10

msg_hello:	.asciz	"COHO-FW hello\r\n"
msg_x0:		.asciz	"COHO-FW x0="
msg_crlf:	.asciz	"\r\n"
msg_dtb_ok:	.asciz	"COHO-FW dtb=ok\r\n"
msg_dtb_bad:	.asciz	"COHO-FW dtb=bad\r\n"
msg_off:	.asciz	"COHO-FW system-off\r\n"
msg_returned:	.asciz	"COHO-FW system-off returned\r\n"
