// SPDX-License-Identifier: GPL-3.0-or-later
/* Fail once, wake everything; signals as failures. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static void vfail_locked(struct session *s, const char *fmt, va_list ap)
{
	if (session_failed(s) || s->complete)
		return;
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	atomic_store_explicit(&s->failed, true, memory_order_release);
	for (unsigned int i = 0; i < s->nfds; i++)
		shutdown(s->fds[i], s->fd_how[i]);
	if (s->wake_fd >= 0)
		(void)eventfd_write(s->wake_fd, 1);
	for (unsigned int i = 0; i < s->nconds; i++)
		pthread_cond_broadcast(s->conds[i]);
}

void session_fail_locked(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_locked(s, fmt, ap);
	va_end(ap);
}

void session_fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	va_start(ap, fmt);
	vfail_locked(s, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&s->lock);
}

void session_complete(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	s->complete = true;
	pthread_mutex_unlock(&s->lock);
}

int session_watch_fd_locked(struct session *s, int fd, int how)
{
	if (fd < 0)
		return 0;
	if (session_failed(s))
		shutdown(fd, how);
	if (s->nfds == SESSION_FDS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	s->fds[s->nfds] = fd;
	s->fd_how[s->nfds++] = how;
	return 0;
}

int session_watch_fd(struct session *s, int fd, int how)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = session_watch_fd_locked(s, fd, how);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void session_unwatch_fd(struct session *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < s->nfds; i++) {
		if (s->fds[i] == fd) {
			s->fds[i] = s->fds[--s->nfds];
			s->fd_how[i] = s->fd_how[s->nfds];
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

int session_watch_cond(struct session *s, pthread_cond_t *c)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->nconds == SESSION_CONDS_MAX) {
		errno = ENOSPC;
		ret = -1;
	} else {
		s->conds[s->nconds++] = c;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void session_unwatch_cond(struct session *s, pthread_cond_t *c)
{
	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < s->nconds; i++) {
		if (s->conds[i] == c) {
			s->conds[i] = s->conds[--s->nconds];
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

bool session_wait(struct session *s, pthread_cond_t *c)
{
	if (!session_failed(s))
		pthread_cond_wait(c, &s->lock);
	return session_failed(s);
}

/* The first SIGINT/TERM/HUP fails the session; a second ends the process
 * at once, the way the signal would have without us. */
static void *signal_thread(void *arg)
{
	struct session *s = arg;
	struct pollfd pfd[2] = {
		{ .fd = s->sig_fd, .events = POLLIN },
		{ .fd = s->sig_stop_fd, .events = POLLIN },
	};

	for (;;) {
		struct signalfd_siginfo si;
		sigset_t set;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (read(s->sig_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (!atomic_load(&s->signo)) {
			bool late;

			pthread_mutex_lock(&s->lock);
			late = s->complete;
			pthread_mutex_unlock(&s->lock);
			if (!late) {
				atomic_store(&s->signo, (int)si.ssi_signo);
				session_fail(s, "interrupted by SIG%s",
					     sigabbrev_np((int)si.ssi_signo));
				continue;
			}
		}
		signal((int)si.ssi_signo, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, (int)si.ssi_signo);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		raise((int)si.ssi_signo);
	}
	return NULL;
}

int session_init(struct session *s)
{
	sigset_t set;
	int err;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = s->sig_fd = s->sig_stop_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->sig_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0 || s->sig_fd < 0 || s->sig_stop_fd < 0)
		return -1;
	err = pthread_create(&s->sig_thread, NULL, signal_thread, s);
	if (err) {
		errno = err;
		return -1;
	}
	s->sig_started = true;
	return 0;
}

int session_end(struct session *s, int status)
{
	int signo = atomic_load(&s->signo);
	sigset_t set;

	if (s->sig_started) {
		(void)eventfd_write(s->sig_stop_fd, 1);
		pthread_join(s->sig_thread, NULL);
		s->sig_started = false;
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	if (s->sig_stop_fd >= 0)
		close(s->sig_stop_fd);
	s->wake_fd = s->sig_fd = s->sig_stop_fd = -1;
	if (signo && status) {
		fflush(NULL);
		signal(signo, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, signo);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		raise(signo);
		return 128 + signo;
	}
	return status;
}
