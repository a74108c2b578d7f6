/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Zero-copy sends on a TCP socket (Linux MSG_ZEROCOPY, 4.14 and later):
 * the kernel sends from the caller's pages instead of copying them, so a
 * buffer handed to zc_writev_full() must stay untouched until the kernel
 * says it is done with it. Each successful sendmsg gets the next number
 * of the socket's counter; the kernel reports finished numbers in ranges
 * on the socket's error queue, possibly out of order and possibly marked
 * COPIED (it copied after all: always over loopback). zc_mark() after a
 * send, zc_done() or zc_wait() on that mark before reusing the buffer.
 *
 * Every wait polls the wake fd (session.h) beside the socket: a failure,
 * --timeout or a signal ends it with ECANCELED. One thread per socket;
 * the counters may be read by others once it has been joined. */
#ifndef MIGBOX_ZEROCOPY_H
#define MIGBOX_ZEROCOPY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* Sends in flight on one socket at most: a send waits for completions
 * beyond this, which bounds the record of out-of-order completions. */
#define ZC_WINDOW	1024u

struct zc_socket {
	int fd;
	int wake_fd;
	uint64_t next;			/* the number of the next send (the kernel's is
					 * its low 32 bits) */
	uint64_t floor;			/* every send below it is complete */
	uint64_t done[ZC_WINDOW / 64];	/* complete sends at or above floor,
					 * bit (number % ZC_WINDOW) */
	uint64_t completed;		/* sends reported complete */
	/* What happened, for the figures. */
	uint64_t sends;			/* sendmsg calls with MSG_ZEROCOPY that sent bytes */
	uint64_t copied;		/* of those, completed as COPIED */
	uint64_t enobufs;		/* ENOBUFS answers: optmem or locked-memory limit */
	uint64_t copy_fallbacks;	/* sends by plain copy after an ENOBUFS with
					 * nothing of ours in flight */
};

/* SO_ZEROCOPY on fd; wake_fd (-1: none) ends the waits. -1 with errno
 * (ENOPROTOOPT: a kernel without it; EOPNOTSUPP: a socket without it). */
int zc_enable(struct zc_socket *z, int fd, int wake_fd);
/* Sends every byte of the vector (it is consumed) with MSG_ZEROCOPY, no
 * SIGPIPE. On ENOBUFS it waits for a completion of its own and retries;
 * with none in flight it sends that part by copy. Reads the completions
 * that have arrived before it returns. -1 with errno. */
int zc_writev_full(struct zc_socket *z, struct iovec *iov, int iovcnt);
/* The mark of everything sent so far: a buffer sent before it may be
 * reused once zc_done(z, mark). */
static inline uint64_t zc_mark(const struct zc_socket *z)
{
	return z->next;
}
static inline bool zc_done(const struct zc_socket *z, uint64_t mark)
{
	return z->floor >= mark;
}
/* Records sends lo..hi complete, as the kernel reports them (its 32-bit
 * numbers, wrapping); COPIED if it copied them. Each must be in flight and
 * reported once: -1 with errno EPROTO otherwise. zc_reap() calls it. */
int zc_complete(struct zc_socket *z, uint32_t lo, uint32_t hi, bool copied);
/* Reads the completions that have arrived, without waiting. -1 with errno
 * (the connection's error; EPROTO: a completion for no send of ours). */
int zc_reap(struct zc_socket *z);
/* Waits until zc_done(z, mark). -1 with errno: ECANCELED when woken, the
 * connection's error, EPIPE when it closed with sends in flight. */
int zc_wait(struct zc_socket *z, uint64_t mark);

#endif
