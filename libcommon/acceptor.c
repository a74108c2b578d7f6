// SPDX-License-Identifier: GPL-3.0-or-later
/* Accepting N connections told apart by their first bytes (acceptor.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "clock.h"

#define ACCEPT_TICK_MS		250

static void drop(struct accept_conn *c)
{
	net_abort_on_close(c->fd);
	close(c->fd);
	c->fd = -1;
}

/* what: the rest of the line after "connection from PEER" */
static void dropped(struct acceptor *a, struct accept_conn *c, const char *what)
{
	a->ops->dropped(a->ctx, c->peer, what);
	drop(c);
}

/* Reads what is there of c's first bytes and has it judged once enough
 * came. */
static enum accept_verdict identify(struct acceptor *a, struct accept_conn *c)
{
	char why[ERR_LEN], what[ERR_LEN + 16];
	ssize_t r = read(c->fd, c->buf + c->got, c->want - c->got);
	enum accept_verdict v;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return ACCEPT_WAIT;
	if (r <= 0) {
		snprintf(what, sizeof(what), " %s after %zu bytes, before it said what it is: dropped",
			 r ? strerror(errno) : "closed", c->got);
		dropped(a, c, what);
		return ACCEPT_DROP;
	}
	c->got += (size_t)r;
	if (c->got < c->want)
		return ACCEPT_WAIT;
	why[0] = 0;
	v = a->ops->judge(a->ctx, c, why);
	if (v == ACCEPT_WAIT && (c->want <= c->got || c->want > ACCEPT_FIRST_MAX)) {
		session_fail(a->session, "connection from %s: asked for %zu first bytes (at most %d)",
			     c->peer, c->want, ACCEPT_FIRST_MAX);
		return ACCEPT_FAIL;
	}
	if (v == ACCEPT_DROP) {
		snprintf(what, sizeof(what), ": %s: dropped", why);
		dropped(a, c, what);
	}
	return v;
}

/* Takes a new connection into the table; a full table gives up its
 * oldest. */
static void accept_one(struct acceptor *a, struct accept_conn *pend, unsigned int *npend)
{
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct accept_conn *c;
	char why[128];

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			session_fail(a->session, "accept: %s", strerror(errno));
		return;
	}
	net_tune(fd);
	if (*npend == ACCEPT_PENDING_MAX) {
		snprintf(why, sizeof(why), ": %u connections have not said what they are: the oldest dropped",
			 ACCEPT_PENDING_MAX);
		dropped(a, &pend[0], why);
		memmove(pend, pend + 1, (ACCEPT_PENDING_MAX - 1) * sizeof(*pend));
		(*npend)--;
	}
	c = &pend[(*npend)++];
	*c = (struct accept_conn){
		.fd = fd, .want = a->ops->first_bytes,
		.deadline = now_ns() + ACCEPT_HANDSHAKE_MS * 1000000ull,
	};
	net_peer_name(fd, c->peer, sizeof(c->peer));
}

/* Identifies the readable connections and expires the silent ones;
 * returns how many were taken, or -1 when the transfer failed. */
static int serve_pending(struct acceptor *a, struct accept_conn *pend, unsigned int *npend,
			 const struct pollfd *pfd)
{
	uint64_t now = now_ns();
	int taken = 0;

	for (unsigned int i = 0; i < *npend; i++) {
		enum accept_verdict v = ACCEPT_WAIT;
		char why[64];

		if (pfd[i].revents)
			v = identify(a, &pend[i]);
		if (v == ACCEPT_FAIL)
			return -1;
		if (v == ACCEPT_TAKE)
			taken++;
		if (v == ACCEPT_WAIT && now >= pend[i].deadline) {
			snprintf(why, sizeof(why), " said nothing for %u s: dropped", ACCEPT_HANDSHAKE_MS / 1000);
			dropped(a, &pend[i], why);
		}
	}
	for (unsigned int i = 0; i < *npend;) {
		if (pend[i].fd < 0)
			memmove(&pend[i], &pend[i + 1], (--*npend - i) * sizeof(*pend));
		else
			i++;
	}
	return taken;
}

static void finish(struct acceptor *a, unsigned int needed)
{
	pthread_mutex_lock(&a->session->lock);
	close(a->listen_fd);
	a->listen_fd = -1;
	a->all_in = !needed && !session_failed(a->session);
	a->done = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->session->lock);
}

static void *acceptor_thread(void *arg)
{
	struct acceptor *a = arg;
	unsigned int needed = a->needed, npend = 0;
	struct accept_conn pend[ACCEPT_PENDING_MAX];
	struct pollfd pfd[ACCEPT_PENDING_MAX + 2];
	uint64_t deadline = a->timeout_s ? now_ns() + a->timeout_s * 1000000000ull : 0;

	while (needed && !session_failed(a->session)) {
		bool listen_ready;
		char have[256];
		int rc;

		for (unsigned int i = 0; i < npend; i++)
			pfd[i] = (struct pollfd){ .fd = pend[i].fd, .events = POLLIN };
		pfd[npend] = (struct pollfd){ .fd = a->listen_fd, .events = POLLIN };
		pfd[npend + 1] = (struct pollfd){ .fd = a->session->wake_fd, .events = POLLIN };
		rc = poll(pfd, npend + 2, ACCEPT_TICK_MS);
		if (rc < 0 && errno != EINTR) {
			session_fail(a->session, "poll: %s", strerror(errno));
			break;
		}
		if (deadline && now_ns() >= deadline) {
			a->ops->missing(a->ctx, have, sizeof(have));
			session_fail(a->session, "timed out after %u s waiting for the connections (--timeout): %s",
				     a->timeout_s, have);
			break;
		}
		if (rc < 0 || pfd[npend + 1].revents)
			continue;
		listen_ready = pfd[npend].revents & POLLIN;
		rc = serve_pending(a, pend, &npend, pfd);
		if (rc < 0)
			break;
		needed -= (unsigned int)rc;
		if (needed && listen_ready)
			accept_one(a, pend, &npend);
	}
	for (unsigned int i = 0; i < npend; i++) {
		if (!needed)
			a->ops->dropped(a->ctx, pend[i].peer, " dropped: every channel is in");
		drop(&pend[i]);
	}
	finish(a, needed);
	return NULL;
}

int acceptor_start(struct acceptor *a, struct session *s, int listen_fd, unsigned int n,
		   unsigned int timeout_s, const struct acceptor_ops *ops, void *ctx,
		   char err[ERR_LEN])
{
	*a = (struct acceptor){
		.session = s, .ops = ops, .ctx = ctx, .listen_fd = listen_fd, .needed = n,
		.timeout_s = timeout_s,
	};
	pthread_cond_init(&a->cond, NULL);
	if (session_watch_cond(s, &a->cond) < 0) {
		close(listen_fd);
		a->listen_fd = -1;
		return err_set(err, "%s", SESSION_WATCH_FULL_CONDS);
	}
	if (pthread_create(&a->thread, NULL, acceptor_thread, a)) {
		close(listen_fd);
		a->listen_fd = -1;
		return err_set(err, "cannot start the acceptor thread");
	}
	a->started = true;
	return 0;
}

int acceptor_wait(struct acceptor *a)
{
	struct session *s = a->session;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	while (!a->done && !ret)
		if (session_wait(s, &a->cond))
			ret = -1;
	if (!a->all_in)
		ret = -1;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void acceptor_stop(struct acceptor *a)
{
	if (!a->started)
		return;
	pthread_join(a->thread, NULL);
	a->started = false;
	session_unwatch_cond(a->session, &a->cond);
	pthread_cond_destroy(&a->cond);
}
