// SPDX-License-Identifier: GPL-3.0-or-later
/* no-so-zerocopy.so, an LD_PRELOAD for multifd-send tests: plays a kernel
 * before Linux 4.14, which answers SO_ZEROCOPY with ENOPROTOOPT. Every
 * other socket option passes through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int (*real)(int, int, int, const void *, socklen_t) =
		(int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");

	if (level == SOL_SOCKET && name == SO_ZEROCOPY) {
		errno = ENOPROTOOPT;
		return -1;
	}
	return real(fd, level, name, val, len);
}
