/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One run of an applet, which can fail in several threads at once: the
 * first failure (an error, --timeout, a signal) is recorded, and everything
 * that may be blocked is woken: the registered sockets are shut down, the
 * wake fd becomes readable (every wait on a pipe or file polls it, see
 * io.h), and the registered condition variables are broadcast. The applet
 * then unwinds on its normal path, releasing what it holds.
 *
 * Signals: session_init() ignores SIGPIPE (a closed pipe is a write error,
 * EPIPE) and turns SIGINT, SIGTERM and SIGHUP into a failure "interrupted
 * by SIGxxx"; a second one ends the process at once. session_end() then
 * re-raises the signal, so that the parent sees the applet die of it
 * (status 128+N in a shell) after it has cleaned up. */
#ifndef MIGBOX_SESSION_H
#define MIGBOX_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define SESSION_ERR_LEN		1024
#define SESSION_FDS_MAX		320	/* sockets shut down on failure */
#define SESSION_CONDS_MAX	320

struct session {
	/* The applet's shared state may live under this lock too; the
	 * registered condition variables must use it. Never held across
	 * blocking I/O. */
	pthread_mutex_t lock;
	atomic_bool failed;
	char error[SESSION_ERR_LEN];	/* the first failure, once failed */
	int wake_fd;			/* eventfd, readable once failed */
	atomic_int signo;		/* the signal that ended the run, or 0 */
	bool complete;			/* the work is done: failures come too late */
	int fds[SESSION_FDS_MAX];
	int fd_how[SESSION_FDS_MAX];
	unsigned int nfds;
	pthread_cond_t *conds[SESSION_CONDS_MAX];
	unsigned int nconds;
	pthread_t sig_thread;
	bool sig_started;
	int sig_fd, sig_stop_fd;
};

/* Call first, before any thread starts (the threads inherit the blocked
 * signals). -1 with errno if it cannot set up. */
int session_init(struct session *s);
/* Records the first failure and wakes every waiter; later ones are
 * dropped. _locked: with s->lock held. */
void session_fail(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void session_fail_locked(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline bool session_failed(struct session *s)
{
	return atomic_load_explicit(&s->failed, memory_order_acquire);
}
/* The work is done (an output committed): a signal now changes nothing. */
void session_complete(struct session *s);
/* fd is shutdown(fd, how) on failure (at once if already failed);
 * unwatch before closing it. Lock held or not: both exist. -1 with errno
 * ENOSPC when SESSION_FDS_MAX are watched already: fd is not, so no
 * failure would wake a wait on it, and the caller must fail the session
 * (SESSION_WATCH_FULL_FDS says why). */
int session_watch_fd(struct session *s, int fd, int how);
int session_watch_fd_locked(struct session *s, int fd, int how);
void session_unwatch_fd(struct session *s, int fd);
/* c is broadcast on failure; -1 with errno ENOSPC, as above, when
 * SESSION_CONDS_MAX are watched already (SESSION_WATCH_FULL_CONDS). */
int session_watch_cond(struct session *s, pthread_cond_t *c);
/* Before c is destroyed. */
void session_unwatch_cond(struct session *s, pthread_cond_t *c);
#define SESSION_STR_(x)	#x
#define SESSION_STR(x)	SESSION_STR_(x)
#define SESSION_WATCH_FULL_FDS \
	"the session watches " SESSION_STR(SESSION_FDS_MAX) " sockets already, its most"
#define SESSION_WATCH_FULL_CONDS \
	"the session watches " SESSION_STR(SESSION_CONDS_MAX) " condition variables already, its most"
/* Waits on c (registered, s->lock held) until woken or failed; true if
 * the session failed. */
bool session_wait(struct session *s, pthread_cond_t *c);
/* Stops the signal thread and releases the session. If a signal ended the
 * run and status is not 0, the process dies of that signal here;
 * otherwise returns status. */
int session_end(struct session *s, int status);

#endif
