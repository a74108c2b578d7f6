/* A 64 KiB -bios image for bench/postcopy-latency.sh: a guest that times
 * its page faults.
 *
 * Like tests/guests/read-ram-bios.S it enters 32-bit protected mode and
 * reads one byte every 1 MiB from 0x3FF00000 down to 0, but it reads the
 * TSC around each read and stores the difference (32 bits, TSC ticks) in a
 * table at 0x8000, entry i for the i-th read; the table's page is written
 * before the first timed read, so its own fault is not counted. Under TCG
 * the guest's TSC is the host's, so a read of a page the destination lacks
 * costs the whole request: fault, return path, the page's way back. It
 * halts when done. */
	.set	BASE, 0xf0000
	.set	TOP, 0x3ff00000		/* 1 GiB - 1 MiB */
	.set	STEP, 0x100000
	.set	TABLE, 0x8000

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
	movl	$TABLE, %edi
	movl	$1024, %ecx
	xorl	%eax, %eax
	rep stosl			/* the table's page, faulted in untimed */
	movl	$TOP, %esi
	movl	$TABLE, %edi
read_next:
	rdtsc
	movl	%eax, %ebp
	movzbl	(%esi), %ebx
	rdtsc
	subl	%ebp, %eax
	movl	%eax, (%edi)
	addl	$4, %edi
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
