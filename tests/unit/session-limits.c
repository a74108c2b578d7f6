// SPDX-License-Identifier: GPL-3.0-or-later
/* session-limits: what no applet option reaches (multifd's 255 channels
 * stay below the tables): a session that cannot watch one more socket or
 * condition variable says so (-1, ENOSPC) instead of dropping it, and
 * every socket it took is shut down by a failure. Built and run by
 * tests/libcommon.bats; prints TAP. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

static int n, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d %s\n", cond ? "" : "not ", ++n, what);
	failed |= !cond;
}

/* Shut down for reading: a read returns 0 at once, not EAGAIN. */
static int is_shut(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

int main(void)
{
	static int pair[SESSION_FDS_MAX + 1][2];
	static pthread_cond_t cond[SESSION_CONDS_MAX + 1];
	struct rlimit rl = { 4096, 4096 };
	struct session s;
	int taken = 0, shut = 0, r;

	setrlimit(RLIMIT_NOFILE, &rl);	/* 2 x 321 sockets; fine if it cannot */
	if (session_init(&s) < 0) {
		perror("session_init");
		return 1;
	}
	for (int i = 0; i <= SESSION_FDS_MAX; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair[i]) < 0) {
			perror("socketpair");
			return 1;
		}
	}
	for (int i = 0; i < SESSION_FDS_MAX; i++)
		taken += session_watch_fd(&s, pair[i][0], SHUT_RD) == 0;
	ok(taken == SESSION_FDS_MAX, "the first SESSION_FDS_MAX sockets are watched");
	errno = 0;
	r = session_watch_fd(&s, pair[SESSION_FDS_MAX][0], SHUT_RD);
	ok(r == -1 && errno == ENOSPC, "one more socket: -1, ENOSPC");
	session_unwatch_fd(&s, pair[0][0]);
	ok(session_watch_fd(&s, pair[0][0], SHUT_RD) == 0, "after an unwatch, one fits again");
	pthread_mutex_lock(&s.lock);
	errno = 0;
	r = session_watch_fd_locked(&s, pair[SESSION_FDS_MAX][0], SHUT_RD);
	pthread_mutex_unlock(&s.lock);
	ok(r == -1 && errno == ENOSPC, "session_watch_fd_locked: -1, ENOSPC too");

	for (int i = 0; i < SESSION_CONDS_MAX; i++) {
		pthread_cond_init(&cond[i], NULL);
		taken += session_watch_cond(&s, &cond[i]) == 0;
	}
	ok(taken == SESSION_FDS_MAX + SESSION_CONDS_MAX,
	   "the first SESSION_CONDS_MAX condition variables are watched");
	pthread_cond_init(&cond[SESSION_CONDS_MAX], NULL);
	errno = 0;
	r = session_watch_cond(&s, &cond[SESSION_CONDS_MAX]);
	ok(r == -1 && errno == ENOSPC, "one more condition variable: -1, ENOSPC");

	session_fail(&s, "test");
	for (int i = 0; i < SESSION_FDS_MAX; i++)
		shut += is_shut(pair[i][0]);
	ok(shut == SESSION_FDS_MAX, "a failure shuts down every socket watched");
	ok(!is_shut(pair[SESSION_FDS_MAX][0]), "and not the one refused (its caller must fail)");
	ok(session_watch_fd(&s, pair[SESSION_FDS_MAX][1], SHUT_RD) == -1 &&
	   is_shut(pair[SESSION_FDS_MAX][1]),
	   "once failed, a socket offered is shut down at once, even when the table is full");
	printf("1..%d\n", n);
	for (int i = 0; i <= SESSION_FDS_MAX; i++) {
		close(pair[i][0]);
		close(pair[i][1]);
	}
	session_end(&s, 0);
	return failed;
}
