/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TCP endpoints for the network transports: "HOST:PORT", "[V6ADDR]:PORT"
 * and ":PORT" (any address), listening (IPv4 and IPv6), connecting with a
 * deadline, and reads and writes that say why they stopped.
 *
 * Functions that can fail take a caller's buffer (err, ERR_LEN) and
 * fill it with what went wrong; they never print. */
#ifndef MIGBOX_NET_H
#define MIGBOX_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "error.h"

#define NET_NAME_LEN	80	/* "[ffff:...:ffff]:65535" with room */

struct net_endpoint {
	char host[256];		/* empty: any address */
	char port[8];
};

/* Parses HOST:PORT, [HOST]:PORT or :PORT (host_required: not the last).
 * -1 with err filled when the text is not such an endpoint. */
int net_endpoint_parse(const char *text, bool host_required,
		       struct net_endpoint *ep, char *err);
/* "HOST:PORT" as given, for messages. */
const char *net_endpoint_name(const struct net_endpoint *ep, char *buf,
			      size_t n);

/* A listening socket; an empty host listens on every IPv6 and IPv4
 * address. Returns the fd or -1. */
int net_listen(const struct net_endpoint *ep, char *err);

/* Connects until deadline_ns (CLOCK_MONOTONIC, see now_ns()), retrying
 * while the peer refuses if retry_refused (it may not listen yet); a
 * readable wake_fd (-1: none) ends the wait with ECANCELED. Returns the
 * fd or -1 with err filled and errno set. */
int net_connect(const struct net_endpoint *ep, uint64_t deadline_ns,
		int wake_fd, bool retry_refused, char *err);

/* TCP_NODELAY (page packets and sync points go out at once) and close on
 * exec. */
void net_tune(int fd);
int net_set_nonblocking(int fd, bool on);
/* The peer's address as "ADDR:PORT" or "[ADDR]:PORT". */
const char *net_peer_name(int fd, char *buf, size_t n);
/* On the next close, reset the connection instead of closing it in order:
 * the peer learns that this end failed. */
void net_abort_on_close(int fd);

/* Writes every byte of the vector (it is consumed); no SIGPIPE. -1 with
 * errno set. */
int net_writev_full(int fd, struct iovec *iov, int iovcnt);
/* The same with sendmsg flags (MSG_MORE: more follows at once, hold the
 * segment for it). */
int net_sendv_full(int fd, struct iovec *iov, int iovcnt, int flags);
/* Reads n bytes by deadline_ns (0: no deadline) unless wake_fd turns
 * readable: n, 0 at the stream's end before the first byte, -1 with errno
 * (ETIMEDOUT, ECANCELED: woken, EPROTO: the end came inside the n bytes,
 * or read's own: ECONNRESET the peer failed). */
ssize_t net_read_deadline(int fd, void *buf, size_t n, uint64_t deadline_ns, int wake_fd);
/* After the last write and shutdown(fd, SHUT_WR): waits, until
 * deadline_ns (0: forever) or wake_fd, for the peer to close too. 0 on an
 * orderly close, -1 with errno (ECONNRESET: the peer failed; ETIMEDOUT;
 * EPROTO: the peer sent bytes; ECANCELED: woken). Shut down every
 * connection of a transfer before waiting on one: the peer may close only
 * once all have ended. */
int net_wait_close(int fd, uint64_t deadline_ns, int wake_fd);
/* The local address of a bound socket as "ADDR:PORT" or "[ADDR]:PORT". */
const char *net_local_name(int fd, char *buf, size_t n);

#endif
