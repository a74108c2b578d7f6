// SPDX-License-Identifier: GPL-3.0-or-later
/* Wakeable ends of I/O: reads and writes of pipes, sockets and files that
 * a session's wake fd interrupts (io.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int write_full(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t read_full(int fd, void *p, size_t n)
{
	unsigned char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* ---- wakeable ends ---- */

int io_wait(int fd, short events, int wake_fd, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = events },
		{ .fd = wake_fd, .events = POLLIN },
	};

	for (;;) {
		int rc = poll(pfd, wake_fd >= 0 ? 2 : 1, timeout_ms);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			return 0;
		if (wake_fd >= 0 && pfd[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		return 1;
	}
}

/* Has the wake fd fired? For ends that never wait (regular files). */
static bool woken(int wake_fd)
{
	struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };

	return wake_fd >= 0 && poll(&pfd, 1, 0) > 0;
}

void io_end_init(struct io_end *e, int fd, int wake_fd, bool write)
{
	struct stat st;
	char path[32];
	int nfd;

	*e = (struct io_end){ .fd = fd, .wake_fd = wake_fd, .how = IO_PLAIN };
	if (wake_fd < 0 || fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		e->how = IO_SOCKET;
		return;
	}
	e->how = IO_POLL;
	if (!S_ISFIFO(st.st_mode))
		return;
	/* A private description of the same pipe: O_NONBLOCK on it is seen
	 * by nobody else. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, (write ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
	if (nfd >= 0) {
		e->fd = nfd;
		e->how = IO_NONBLOCK;
		e->own = true;
	}
}

void io_end_close(struct io_end *e)
{
	if (e->own && e->fd >= 0)
		close(e->fd);
	e->own = false;
}

ssize_t io_read(struct io_end *e, void *p, size_t n)
{
	for (;;) {
		ssize_t r;

		if (e->how == IO_POLL && io_wait(e->fd, POLLIN, e->wake_fd, -1) < 0)
			return -1;
		if (e->how == IO_PLAIN && woken(e->wake_fd)) {
			errno = ECANCELED;
			return -1;
		}
		if (e->how == IO_SOCKET)
			r = recv(e->fd, p, n, MSG_DONTWAIT);
		else
			r = read(e->fd, p, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || io_wait(e->fd, POLLIN, e->wake_fd, -1) < 0)
			return -1;
	}
}

void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

static ssize_t writev_once(struct io_end *e, struct iovec *iov, int iovcnt)
{
	if (iovcnt > IOV_MAX)
		iovcnt = IOV_MAX;
	if (e->how == IO_SOCKET) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };

		return sendmsg(e->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	return writev(e->fd, iov, iovcnt);
}

int io_writev_all(struct io_end *e, struct iovec *iov, int iovcnt)
{
	while (iovcnt && !iov->iov_len) {
		iov++;
		iovcnt--;
	}
	while (iovcnt) {
		ssize_t w;

		if (e->how == IO_POLL && io_wait(e->fd, POLLOUT, e->wake_fd, -1) < 0)
			return -1;
		if (e->how == IO_PLAIN && woken(e->wake_fd)) {
			errno = ECANCELED;
			return -1;
		}
		w = writev_once(e, iov, iovcnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || io_wait(e->fd, POLLOUT, e->wake_fd, -1) < 0)
				return -1;
			continue;
		}
		iov_advance(&iov, &iovcnt, (size_t)w);
	}
	return 0;
}

int io_write_all(struct io_end *e, const void *p, size_t n)
{
	struct iovec iov = { (void *)p, n };

	return io_writev_all(e, &iov, 1);
}
