// SPDX-License-Identifier: GPL-3.0-or-later
/* MSG_ZEROCOPY sends and their completions (zerocopy.h). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>		/* before linux/errqueue.h, which uses timespec */

#include <linux/errqueue.h>

#include "io.h"
#include "zerocopy.h"

int zc_enable(struct zc_socket *z, int fd, int wake_fd)
{
	int one = 1;

	memset(z, 0, sizeof(*z));
	z->fd = fd;
	z->wake_fd = wake_fd;
	return setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
}

static uint64_t *done_word(struct zc_socket *z, uint64_t n, uint64_t *bit)
{
	*bit = 1ull << (n % 64);
	return &z->done[(n % ZC_WINDOW) / 64];
}

int zc_complete(struct zc_socket *z, uint32_t lo, uint32_t hi, bool copied)
{
	uint32_t first = lo - (uint32_t)z->floor, count = hi - lo + 1;
	uint64_t in_flight = z->next - z->floor, bit, *word;

	if (!count || first >= in_flight || count > in_flight - first) {
		errno = EPROTO;
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		word = done_word(z, z->floor + first + i, &bit);
		if (*word & bit) {
			errno = EPROTO;
			return -1;
		}
		*word |= bit;
	}
	z->completed += count;
	if (copied)
		z->copied += count;
	while (z->floor < z->next && (*(word = done_word(z, z->floor, &bit)) & bit)) {
		*word &= ~bit;
		z->floor++;
	}
	return 0;
}

/* One message of the error queue: 1 read, 0 none waiting, -1 with errno. */
static int reap_one(struct zc_socket *z)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	ssize_t r;

	do
		r = recvmsg(z->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (mh.msg_flags & MSG_CTRUNC) {
		errno = EPROTO;		/* a completion we could not read */
		return -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct sock_extended_err ee;

		if (!(c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) &&
		    !(c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_errno) {
			errno = (int)ee.ee_errno;
			return -1;
		}
		if (ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY &&
		    zc_complete(z, ee.ee_info, ee.ee_data,
				  ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) < 0)
			return -1;
	}
	return 1;
}

/* Every message waiting: how many, or -1 with errno. */
static int reap_all(struct zc_socket *z)
{
	int n = 0, r;

	while ((r = reap_one(z)) > 0)
		n++;
	return r < 0 ? -1 : n;
}

int zc_reap(struct zc_socket *z)
{
	return reap_all(z) < 0 ? -1 : 0;
}

/* The socket said error or hang-up and its error queue was empty: the
 * connection's own error, else it closed with sends in flight. */
static int connection_error(struct zc_socket *z)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(z->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	errno = soerr ? soerr : EPIPE;
	return -1;
}

/* Waits until mark is done, or with any until one more send completes.
 * A completion makes the socket report POLLERR, so poll waits for nothing
 * else on it. */
static int wait_for(struct zc_socket *z, uint64_t mark, bool any)
{
	uint64_t before = z->completed;
	short revents = 0;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = z->fd, .events = 0 },
			{ .fd = z->wake_fd, .events = POLLIN },
		};
		int n = reap_all(z), rc;

		if (n < 0)
			return -1;
		if (any ? z->completed != before : zc_done(z, mark))
			return 0;
		if (!n && (revents & (POLLERR | POLLHUP | POLLNVAL)))
			return connection_error(z);
		rc = poll(pfd, z->wake_fd >= 0 ? 2 : 1, -1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (z->wake_fd >= 0 && pfd[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		revents = pfd[0].revents;
	}
}

int zc_wait(struct zc_socket *z, uint64_t mark)
{
	return wait_for(z, mark, false);
}

/* ENOBUFS: the socket's option memory (net.core.optmem_max) holds too
 * many completions, or pinning the pages would pass RLIMIT_MEMLOCK (the
 * user's, shared by all its processes). Completions of ours free both;
 * with none in flight only others' can, so these bytes go by copy. */
static ssize_t after_enobufs(struct zc_socket *z, struct msghdr *mh)
{
	ssize_t w;

	z->enobufs++;
	if (z->floor < z->next)
		return wait_for(z, 0, true) < 0 ? -1 : 0;
	w = sendmsg(z->fd, mh, MSG_NOSIGNAL);
	if (w > 0)
		z->copy_fallbacks++;
	return w;
}

int zc_writev_full(struct zc_socket *z, struct iovec *iov, int iovcnt)
{
	while (iovcnt) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t w;

		if (z->next - z->floor >= ZC_WINDOW && zc_wait(z, z->next - ZC_WINDOW + 1) < 0)
			return -1;
		w = sendmsg(z->fd, &mh, MSG_NOSIGNAL | MSG_ZEROCOPY);
		if (w > 0) {
			z->next++;
			z->sends++;
		} else if (w < 0 && errno == ENOBUFS) {
			w = after_enobufs(z, &mh);
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		iov_advance(&iov, &iovcnt, (size_t)w);
	}
	/* Read what has come: the queue's completions hold option memory. */
	return zc_reap(z);
}
