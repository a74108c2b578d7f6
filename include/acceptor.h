/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Accepting N connections on one listening socket, each telling what it is
 * by its first bytes, in any order (QEMU's multifd destination: a main
 * channel and N channels). A thread accepts and reads the first bytes of
 * each connection without blocking on any; the applet's judge decides from
 * them: take the connection, wait for more bytes, drop it (a port scan, a
 * health check: logged through the applet, the transfer goes on) or fail
 * the transfer. A connection that says nothing for ACCEPT_HANDSHAKE_MS is
 * dropped, and at most ACCEPT_PENDING_MAX wait at once (a new one drops the
 * oldest). Once N are taken the socket is closed, so that later ones are
 * refused by the kernel, as QEMU's are. The wait for all of them obeys
 * the session (a failure, a signal) and a deadline. */
#ifndef MIGBOX_ACCEPTOR_H
#define MIGBOX_ACCEPTOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "net.h"
#include "session.h"

#define ACCEPT_HANDSHAKE_MS	10000	/* to say what a connection is */
#define ACCEPT_PENDING_MAX	32	/* connections that have not said it yet */
#define ACCEPT_FIRST_MAX	64	/* first bytes a judge may ask for */

/* A connection that has not said what it is yet. */
struct accept_conn {
	int fd;
	char peer[NET_NAME_LEN];
	unsigned char buf[ACCEPT_FIRST_MAX];
	size_t got;			/* bytes in buf */
	size_t want;			/* judged again once got reaches it */
	uint64_t deadline;
};

enum accept_verdict {
	ACCEPT_WAIT,	/* c->want set: more bytes first */
	ACCEPT_TAKE,	/* the fd is the judge's now (c->fd set to -1 by it) */
	ACCEPT_DROP,	/* not one of ours: why says so */
	ACCEPT_FAIL,	/* the transfer failed (the judge failed the session) */
};

struct acceptor_ops {
	/* What c is from its got first bytes (at least first_bytes). */
	enum accept_verdict (*judge)(void *ctx, struct accept_conn *c, char why[ERR_LEN]);
	/* A connection dropped without failing the transfer: what follows
	 * "connection from PEER" in the line that says so. */
	void (*dropped)(void *ctx, const char *peer, const char *what);
	/* What is missing, for the timeout's message. */
	void (*missing)(void *ctx, char *buf, size_t n);
	size_t first_bytes;		/* judged first when this many came */
};

struct acceptor {
	struct session *session;
	const struct acceptor_ops *ops;
	void *ctx;
	int listen_fd;			/* closed by the thread once done */
	unsigned int needed;		/* connections to take */
	unsigned int timeout_s;		/* 0: wait forever */
	pthread_cond_t cond;		/* done, under the session lock */
	bool done, all_in;		/* under the session lock */
	pthread_t thread;
	bool started;
};

/* Starts accepting n connections on listen_fd (non-blocking; the acceptor
 * owns it from here). -1 with err filled if the thread cannot start (the
 * socket is closed then). */
int acceptor_start(struct acceptor *a, struct session *s, int listen_fd, unsigned int n,
		   unsigned int timeout_s, const struct acceptor_ops *ops, void *ctx,
		   char err[ERR_LEN]);
/* Waits until all n are taken (0) or the transfer failed (-1). */
int acceptor_wait(struct acceptor *a);
/* Joins the thread and releases the acceptor; safe if it never started. */
void acceptor_stop(struct acceptor *a);

#endif
