// SPDX-License-Identifier: GPL-3.0-or-later
/* The userfaultfd checks of a postcopy destination, as QEMU's
 * postcopy_ram_supported_by_host() makes them, and a few more an operator
 * asks about. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_probe.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW	_IO(0xAA, 0x00)
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif

static struct uffd_check *add(struct uffd_probe *p, const char *name, bool required, bool ok,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct uffd_check *add(struct uffd_probe *p, const char *name, bool required, bool ok,
			      const char *fmt, ...)
{
	struct uffd_check *c = &p->checks[p->n++];
	va_list ap;

	c->name = name;
	c->required = required;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	return c;
}

static int uffd_open(void)
{
	return (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
}

/* UFFDIO_API handshake; the features offered in *features. */
static int uffd_api(int fd, uint64_t *features)
{
	struct uffdio_api api = { .api = UFFD_API };

	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -1;
	*features = api.features;
	return 0;
}

static int register_range(int uffd, void *m, size_t len, char *why, size_t n)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	reg.range.start = (uintptr_t)m;
	reg.range.len = len;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		snprintf(why, n, "UFFDIO_REGISTER: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Registers len bytes of private anonymous memory (memory-backend-ram). */
static int try_register_anon(int uffd, size_t len, char *why, size_t n)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (m == MAP_FAILED) {
		snprintf(why, n, "mmap: %s", strerror(errno));
		return -1;
	}
	ret = register_range(uffd, m, len, why, n);
	munmap(m, len);
	return ret;
}

/* Registers len bytes of memfd-backed memory for missing faults. */
static int try_register(int uffd, unsigned int memfd_flags, size_t len, char *why, size_t n)
{
	int mfd = memfd_create("migbox-uffd-probe", MFD_CLOEXEC | memfd_flags);
	void *m;
	int ret = -1;

	if (mfd < 0) {
		snprintf(why, n, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (ftruncate(mfd, (off_t)len) < 0) {
		snprintf(why, n, "ftruncate: %s", strerror(errno));
		goto out;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (m == MAP_FAILED) {
		snprintf(why, n, "mmap: %s", strerror(errno));
		goto out;
	}
	ret = register_range(uffd, m, len, why, n);
	munmap(m, len);
out:
	close(mfd);
	return ret;
}

static void huge_sizes(struct uffd_probe *p)
{
	DIR *d = opendir("/sys/kernel/mm/hugepages");
	struct dirent *e;
	size_t len = 0;

	p->huge_sizes[0] = 0;
	while (d && (e = readdir(d))) {
		unsigned long kb;

		if (sscanf(e->d_name, "hugepages-%lukB", &kb) == 1 && len < sizeof(p->huge_sizes))
			len += (size_t)snprintf(p->huge_sizes + len, sizeof(p->huge_sizes) - len, "%s%lu kB",
						len ? " " : "", kb);
	}
	if (d)
		closedir(d);
}

static void check_unprivileged(struct uffd_probe *p)
{
	int fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY | O_CLOEXEC);
	char v = '?';

	if (fd >= 0) {
		if (read(fd, &v, 1) != 1)
			v = '?';
		close(fd);
	}
	add(p, "unprivileged", false, v == '1',
	    v == '1' ? "vm.unprivileged_userfaultfd = 1: any user may run a destination" :
	    v == '0' ? "vm.unprivileged_userfaultfd = 0: a destination needs CAP_SYS_PTRACE (root) or /dev/userfaultfd access" :
		       "vm.unprivileged_userfaultfd is not readable");
}

void uffd_probe_run(struct uffd_probe *p)
{
	char why[UFFD_PROBE_TEXT];
	int fd, dev;
	bool ok;

	memset(p, 0, sizeof(*p));
	p->page_size = sysconf(_SC_PAGESIZE);
	fd = uffd_open();
	add(p, "syscall", true, fd >= 0, fd >= 0 ? "userfaultfd(2) works" : "userfaultfd(2): %s",
	    strerror(errno));
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		int nfd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);

		add(p, "dev", false, nfd >= 0, nfd >= 0 ? "/dev/userfaultfd gives a userfaultfd" :
		    "/dev/userfaultfd: USERFAULTFD_IOC_NEW: %s", strerror(errno));
		if (nfd >= 0)
			close(nfd);
		close(dev);
	} else {
		add(p, "dev", false, false, "/dev/userfaultfd: %s", strerror(errno));
	}
	if (fd >= 0 && uffd_api(fd, &p->features) == 0) {
		add(p, "api", true, true, "UFFDIO_API: features 0x%llx", (unsigned long long)p->features);
	} else {
		add(p, "api", true, false, "UFFDIO_API: %s", fd >= 0 ? strerror(errno) : "no userfaultfd");
	}
	check_unprivileged(p);
	if (fd >= 0 && p->checks[2].ok) {
		why[0] = 0;
		ok = try_register_anon(fd, (size_t)p->page_size, why, sizeof(why)) == 0;
		add(p, "anon", true, ok, "anonymous memory (memory-backend-ram) for missing faults: %s",
		    ok ? "registers" : why);
		ok = try_register(fd, 0, (size_t)p->page_size, why, sizeof(why)) == 0;
		add(p, "shmem", false, ok, "shared memory (memory-backend-file on /dev/shm, memfd) for missing faults: %s",
		    ok ? "registers" : why);
		ok = try_register(fd, MFD_HUGETLB, 2u << 20, why, sizeof(why)) == 0;
		add(p, "hugetlbfs", false, ok, "hugetlbfs (2 MiB pages) for missing faults: %s",
		    ok ? "registers" : why);
	}
	if (fd >= 0)
		close(fd);
	huge_sizes(p);
	add(p, "page-size", true, p->page_size == 4096, "page size %ld bytes%s%s", p->page_size,
	    p->huge_sizes[0] ? ", huge pages " : "", p->huge_sizes);
	p->usable = true;
	for (unsigned int i = 0; i < p->n; i++)
		if (p->checks[i].required && !p->checks[i].ok)
			p->usable = false;
}
