/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Can this host be a postcopy destination? What QEMU's destination needs
 * of userfaultfd, checked on the running kernel: the syscall and
 * /dev/userfaultfd, the API and its features, whether an unprivileged
 * process may use it, registration of shmem and hugetlbfs memory for
 * missing-page faults, and the page sizes. Each check records its result
 * and why; nothing is printed. */
#ifndef MIGBOX_UFFD_PROBE_H
#define MIGBOX_UFFD_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#define UFFD_PROBE_CHECKS	8
#define UFFD_PROBE_TEXT		160

struct uffd_check {
	const char *name;		/* "syscall", "dev", ... */
	bool ok;
	bool required;			/* a destination cannot work without it */
	char detail[UFFD_PROBE_TEXT];
};

struct uffd_probe {
	struct uffd_check checks[UFFD_PROBE_CHECKS];
	unsigned int n;
	uint64_t features;		/* UFFDIO_API features the kernel offers */
	long page_size;
	char huge_sizes[UFFD_PROBE_TEXT];	/* "2048 kB 1048576 kB" or "" */
	bool usable;			/* every required check passed */
};

void uffd_probe_run(struct uffd_probe *p);

#endif
