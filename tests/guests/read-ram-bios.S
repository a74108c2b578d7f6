/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A 64 KiB -bios image for postcopy tests: a guest that only reads RAM.
 *
 * From the reset vector it enters 32-bit protected mode with flat
 * segments, reads one byte every 1 MiB from 0x3FF00000 down to 0, adds
 * them up in %ebx and halts with interrupts off. It never writes RAM, so
 * a destination's RAM must equal what was saved; %ebx proves it read the
 * bytes it was given, and EIP at `halted` with HLT set proves it ran to
 * its end. Assembled at 0; the image sits at 0xF0000 (and below 4 GiB).
 *
 * With --defsym TIME_READS=1 (bench/postcopy-latency.sh) it also reads the
 * TSC around each read and stores the difference (32 bits, ticks) in a
 * table at 0x8000, entry i for the i-th read; the table's page is written
 * before the first timed read, so its own fault is not counted. Under TCG
 * the guest's TSC is the host's, so a read of a page the destination lacks
 * costs the whole request. Without it the image is the same as ever (the
 * tests pin where it halts). */
	.set	BASE, 0xf0000
	.set	TOP, 0x3ff00000		/* 1 GiB - 1 MiB */
	.set	STEP, 0x100000
	.set	TABLE, 0x8000		/* TIME_READS: a 4 KiB table of ticks */

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
.ifdef TIME_READS
	movl	$TABLE, %edi
	movl	$1024, %ecx
	xorl	%eax, %eax
	rep stosl			/* the table's page, faulted in untimed */
	movl	$TABLE, %edi
.endif
	movl	$TOP, %esi
	xorl	%ebx, %ebx
read_next:
.ifdef TIME_READS
	rdtsc
	movl	%eax, %ebp
	movzbl	(%esi), %ecx
	rdtsc
	subl	%ebp, %eax
	movl	%eax, (%edi)
	addl	$4, %edi
	addl	%ecx, %ebx
.else
	movzbl	(%esi), %eax
	addl	%eax, %ebx
.endif
	subl	$STEP, %esi
	jnc	read_next		/* borrows once 0 was read */
	.globl	halt
halt:
	cli
	hlt
	.globl	halted
halted:
	jmp	halt

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
