/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The default guest's /init (guest/init.c, a static aarch64 executable built
 * by the Makefile) as bytes inside coho, whatever coho's own architecture:
 * default_guest.c puts them into the initramfs it builds. COHO_GUEST_INIT is
 * the built file's path, given by the Makefile.
 */
	.section .rodata.coho_guest_init, "a"
	.balign 16
	.globl coho_guest_init_start
	.type coho_guest_init_start, %object
coho_guest_init_start:
	.incbin COHO_GUEST_INIT
	.globl coho_guest_init_end
coho_guest_init_end:
	.size coho_guest_init_start, coho_guest_init_end - coho_guest_init_start

	.section .note.GNU-stack, "", %progbits
