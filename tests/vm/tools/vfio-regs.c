// SPDX-License-Identifier: GPL-3.0-or-later
/* vfio-regs: poke and read the UART registers of an mtty mdev through its
 * VFIO regions, to put known state into a device and read it back. A test
 * tool for the VM scenarios, built static by tests/vm-vfio.bats.
 *
 *   vfio-regs DEVICE write PORT OFFSET BYTE...   write bytes to a register
 *   vfio-regs DEVICE show                        print every port's state,
 *                                                draining the RX FIFO
 *   vfio-regs DEVICE hold SECONDS                keep the device open */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio.h"

enum { UART_RX = 0, UART_IER = 1, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_SCR = 7 };

static int region(struct vfio_dev *d, unsigned bar, uint64_t *offset, uint64_t *size)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = bar };

	if (ioctl(d->device_fd, VFIO_DEVICE_GET_REGION_INFO, &info) < 0 || !info.size)
		return -1;
	*offset = info.offset;
	*size = info.size;
	return 0;
}

static int rd(struct vfio_dev *d, uint64_t base, unsigned reg)
{
	unsigned char b;

	if (pread(d->device_fd, &b, 1, (off_t)(base + reg)) != 1) {
		perror("vfio-regs: pread");
		exit(1);
	}
	return b;
}

int main(int argc, char **argv)
{
	struct vfio_dev d;
	uint64_t base, size;

	if (argc < 3) {
		fprintf(stderr, "usage: vfio-regs DEVICE write PORT OFFSET BYTE... | show | hold SECONDS\n");
		return 2;
	}
	if (vfio_dev_open(&d, argv[1]) < 0) {
		fprintf(stderr, "vfio-regs: %s\n", d.err);
		return 1;
	}
	if (!strcmp(argv[2], "write") && argc >= 6) {
		unsigned port = (unsigned)strtoul(argv[3], NULL, 0);
		unsigned reg = (unsigned)strtoul(argv[4], NULL, 0);

		if (region(&d, port, &base, &size) < 0) {
			fprintf(stderr, "vfio-regs: no BAR%u\n", port);
			return 1;
		}
		for (int i = 5; i < argc; i++) {
			unsigned char b = (unsigned char)strtoul(argv[i], NULL, 0);

			if (pwrite(d.device_fd, &b, 1, (off_t)(base + reg)) != 1) {
				perror("vfio-regs: pwrite");
				return 1;
			}
		}
	} else if (!strcmp(argv[2], "show")) {
		for (unsigned port = 0; region(&d, port, &base, &size) == 0; port++) {
			printf("port %u: ier %02x lcr %02x mcr %02x scr %02x fifo", port,
			       rd(&d, base, UART_IER), rd(&d, base, UART_LCR),
			       rd(&d, base, UART_MCR), rd(&d, base, UART_SCR));
			/* LSR bit 0: data ready */
			for (int n = 0; n < 64 && (rd(&d, base, UART_LSR) & 1); n++)
				printf(" %02x", rd(&d, base, UART_RX));
			printf("\n");
		}
	} else if (!strcmp(argv[2], "hold") && argc == 4) {
		sleep((unsigned)atoi(argv[3]));
	} else {
		fprintf(stderr, "vfio-regs: bad command\n");
		return 2;
	}
	vfio_dev_close(&d);
	return 0;
}
