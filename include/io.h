/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Wakeable ends of byte I/O on file descriptors. Every wait can be woken: an end given a wake fd (session.h) polls it
 * beside its own fd, and a read or write fails with ECANCELED once the wake
 * fd is readable. A pipe is reopened through /proc/self/fd as a private
 * non-blocking file description (the shared one, which the shell and the
 * other end of a pipeline see, keeps its flags); a socket uses
 * MSG_DONTWAIT; a regular file never waits. */
#ifndef MIGBOX_IO_H
#define MIGBOX_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum io_how {
	IO_PLAIN,	/* a file, or nothing to wake from: plain calls */
	IO_POLL,	/* poll, then a plain call (may still block) */
	IO_NONBLOCK,	/* a private non-blocking description */
	IO_SOCKET,	/* MSG_DONTWAIT on each call */
};

/* One end of I/O: the fd to use, and how to wait on it. */
struct io_end {
	int fd;
	int wake_fd;		/* -1: nothing wakes the waits */
	enum io_how how;
	bool own;		/* fd was opened here: close it */
};

/* Sets e up for fd (read or write side), woken by wake_fd. Never fails:
 * when fd cannot be made non-blocking privately, it is polled (IO_POLL). */
void io_end_init(struct io_end *e, int fd, int wake_fd, bool write);
void io_end_close(struct io_end *e);
/* Waits until fd is ready for events, wake_fd is readable (-1, ECANCELED)
 * or timeout_ms passed (0; -1 waits forever). 1 when ready. */
int io_wait(int fd, short events, int wake_fd, int timeout_ms);
/* One read of up to n bytes (0 at the end); -1 with errno. */
ssize_t io_read(struct io_end *e, void *p, size_t n);
/* Every byte of the vector (it is consumed); -1 with errno. */
int io_writev_all(struct io_end *e, struct iovec *iov, int iovcnt);
int io_write_all(struct io_end *e, const void *p, size_t n);

/* Drops n written bytes from the front of a vector. */
void iov_advance(struct iovec **iov, int *iovcnt, size_t n);
/* write()/read() until done; read_full returns bytes read (short at EOF). */
int write_full(int fd, const void *p, size_t n);
ssize_t read_full(int fd, void *p, size_t n);

#endif
