/* SPDX-License-Identifier: GPL-3.0-or-later */
/* demo/guest.S - the demo's guest: a 64 KiB -bios image for a -m 64 PC
 * that keeps its memory busy, so that a live migration has pages to send
 * again.
 *
 * From the reset vector it enters 32-bit protected mode with flat
 * segments, fills RAM from 1 MiB to 64 MiB with pages that each hold a
 * value of their own, then loops for ever: it adds 1 to the counter at
 * 0x1000 and stores it into one of the 256 pages from 1 MiB to 2 MiB, a
 * new page every time. So the guest dirties 1 MiB of RAM all the time,
 * which a migration must send again at the end, and the counter shows
 * from the host (`xp /1uw 0x1000`) that it runs. It never halts.
 * Assembled at 0; the image sits at 0xF0000 (and below 4 GiB). */
	.set	BASE, 0xf0000
	.set	COUNTER, 0x1000
	.set	FILL_START, 0x100000	/* 1 MiB */
	.set	RAM_END, 0x4000000	/* 64 MiB: run with -m 64 */
	.set	HOT, 0x100000		/* 256 pages rewritten for ever */

	.code16
	.text
	.globl	_start
_start:
	cli
	cld
	lgdtl	%cs:gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $(BASE + protected)

	.code32
protected:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$0, COUNTER
	/* every page filled with its own number times a golden-ratio constant */
	movl	$FILL_START, %edi
fill_page:
	movl	%edi, %eax
	shrl	$12, %eax
	imull	$0x9e3779b1, %eax
	movl	$1024, %ecx
	rep stosl
	cmpl	$RAM_END, %edi
	jb	fill_page

	.globl	busy
busy:
	movl	COUNTER, %eax
	incl	%eax
	movl	%eax, COUNTER
	movl	%eax, %edx		/* page: the low 8 bits */
	andl	$0xff, %edx
	shll	$12, %edx
	movl	%eax, %ecx		/* dword in it: the next 10 bits */
	shrl	$8, %ecx
	andl	$0x3ff, %ecx
	movl	%eax, HOT(%edx, %ecx, 4)
	jmp	busy

	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: code, flat 4 GiB */
	.quad	0x00cf92000000ffff	/* 0x10: data, flat 4 GiB */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	BASE + gdt

	.code16
	.org	0xfff0			/* the reset vector, 0xFFFFFFF0 */
	ljmp	$0xf000, $_start
	.org	0x10000
