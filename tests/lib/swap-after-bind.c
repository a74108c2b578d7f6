// SPDX-License-Identifier: GPL-3.0-or-later
/* swap-after-bind.so, an LD_PRELOAD for pvrdma-mux tests: plays someone
 * who may write to the socket's directory and, right after bind() made
 * the socket file $SWAP_PATH, moves it aside and puts a symlink to
 * $SWAP_TARGET in its place. Other binds pass through untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
		(int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	const char *path = getenv("SWAP_PATH"), *target = getenv("SWAP_TARGET");
	int ret = real(fd, addr, len);
	char moved[4096];

	if (ret == 0 && path && target && addr->sa_family == AF_UNIX &&
	    !strcmp(((const struct sockaddr_un *)addr)->sun_path, path)) {
		snprintf(moved, sizeof(moved), "%s.moved", path);
		if (rename(path, moved) < 0 || symlink(target, path) < 0)
			abort();
	}
	return ret;
}
