// SPDX-License-Identifier: GPL-3.0-or-later
/* TCP endpoints: parsing, listening, connecting, full reads and writes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "io.h"
#include "iobuf.h"
#include "net.h"
#include "progress.h"

int net_endpoint_parse(const char *text, bool host_required,
		       struct net_endpoint *ep, char *err)
{
	const char *colon, *host = text, *port;
	size_t host_len;
	unsigned long num;
	char *end;

	memset(ep, 0, sizeof(*ep));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return err_set(err, "'%s': expected [ADDRESS]:PORT", text);
		host = text + 1;
		host_len = (size_t)(close - host);
		port = close + 2;
		if (!host_len)
			return err_set(err, "'%s': empty address in brackets", text);
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return err_set(err, "'%s': expected HOST:PORT", text);
		if (memchr(text, ':', (size_t)(colon - text)))
			return err_set(err, "'%s': an IPv6 address goes in brackets, as [ADDRESS]:PORT",
				       text);
		host_len = (size_t)(colon - text);
		port = colon + 1;
	}
	if (host_len >= sizeof(ep->host))
		return err_set(err, "'%s': host name too long", text);
	if (!host_len && host_required)
		return err_set(err, "'%s': a host is needed, as HOST:PORT", text);
	errno = 0;
	num = strtoul(port, &end, 10);
	if (!*port || *end || errno || num > 65535 || port[0] == '-' || port[0] == '+')
		return err_set(err, "'%s': port '%s' is not a number 0..65535", text, port);
	if (!num && host_required)
		return err_set(err, "'%s': port 0 cannot be connected to", text);
	memcpy(ep->host, host, host_len);
	snprintf(ep->port, sizeof(ep->port), "%lu", num);
	return 0;
}

const char *net_endpoint_name(const struct net_endpoint *ep, char *buf, size_t n)
{
	snprintf(buf, n, strchr(ep->host, ':') ? "[%s]:%s" : "%s:%s", ep->host, ep->port);
	return buf;
}

static int resolve(const struct net_endpoint *ep, bool passive,
		   struct addrinfo **res, char *err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	char name[NET_NAME_LEN + 256];
	int rc;

	rc = getaddrinfo(ep->host[0] ? ep->host : NULL, ep->port, &hints, res);
	if (rc)
		return err_set(err, "cannot resolve %s: %s",
			       net_endpoint_name(ep, name, sizeof(name)),
			       rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
	int one = 1, off = 0;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6 && dual_stack)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, sa, len) < 0 || listen(fd, 64) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int net_listen(const struct net_endpoint *ep, char *err)
{
	char name[NET_NAME_LEN + 256];
	struct addrinfo *res, *ai;
	int fd = -1, e = 0;

	net_endpoint_name(ep, name, sizeof(name));
	if (!ep->host[0]) {
		/* Any address: one IPv6 socket that takes IPv4 too, or IPv4
		 * alone where IPv6 is off. */
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT,
					   .sin6_port = htons((uint16_t)atoi(ep->port)) };
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY),
					  .sin_port = htons((uint16_t)atoi(ep->port)) };

		fd = listen_on((struct sockaddr *)&s6, sizeof(s6), true);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
			fd = listen_on((struct sockaddr *)&s4, sizeof(s4), false);
		if (fd < 0)
			return err_set(err, "cannot listen on %s: %s", name, strerror(errno));
		return fd;
	}
	if (resolve(ep, true, &res, err) < 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = listen_on(ai->ai_addr, ai->ai_addrlen, false);
		if (fd >= 0)
			break;
		e = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err_set(err, "cannot listen on %s: %s", name, strerror(e));
	return fd;
}



/* One non-blocking connect, waited for until the deadline or a wake. */
static int connect_once(const struct addrinfo *ai, uint64_t deadline_ns, int wake_fd)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	socklen_t len = sizeof(int);
	int soerr = 0, e, rc;

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto connected;
	if (errno != EINPROGRESS)
		goto fail;
	rc = io_wait(fd, POLLOUT, wake_fd, ms_until(deadline_ns));
	if (rc == 0)
		errno = ETIMEDOUT;
	if (rc <= 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		goto fail;
	if (soerr) {
		errno = soerr;
		goto fail;
	}
connected:
	if (net_set_nonblocking(fd, false) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int net_connect(const struct net_endpoint *ep, uint64_t deadline_ns,
		int wake_fd, bool retry_refused, char *err)
{
	char name[NET_NAME_LEN + 256];
	struct addrinfo *res, *ai;
	int fd = -1, e = 0;

	if (resolve(ep, false, &res, err) < 0)
		return -1;
	for (;;) {
		for (ai = res; ai; ai = ai->ai_next) {
			fd = connect_once(ai, deadline_ns, wake_fd);
			if (fd >= 0)
				break;
			e = errno;
			if (e == ECANCELED)
				break;
		}
		/* A refused connect is retried: the receiver may be starting. */
		if (fd >= 0 || e != ECONNREFUSED || !retry_refused || ms_until(deadline_ns) == 0)
			break;
		if (io_wait(wake_fd, POLLIN, -1, 50) != 0) {
			e = ECANCELED;
			break;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		err_set(err, "cannot connect to %s: %s",
			net_endpoint_name(ep, name, sizeof(name)), strerror(e));
		errno = e;
		return -1;
	}
	net_tune(fd);
	return fd;
}

void net_tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int net_set_nonblocking(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

static const char *sockaddr_name(int fd, bool peer, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];

	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
		    getsockname(fd, (struct sockaddr *)&ss, &len)) < 0) {
		snprintf(buf, n, peer ? "(unknown peer)" : "(unknown address)");
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(buf, n, "[%s]:%u", addr, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(buf, n, "%s:%u", addr, ntohs(s4->sin_port));
	}
	return buf;
}

const char *net_peer_name(int fd, char *buf, size_t n)
{
	return sockaddr_name(fd, true, buf, n);
}

const char *net_local_name(int fd, char *buf, size_t n)
{
	return sockaddr_name(fd, false, buf, n);
}

void net_abort_on_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

int net_writev_full(int fd, struct iovec *iov, int iovcnt)
{
	return net_sendv_full(fd, iov, iovcnt, 0);
}

int net_sendv_full(int fd, struct iovec *iov, int iovcnt, int flags)
{
	while (iovcnt) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		iov_advance(&iov, &iovcnt, (size_t)w);
	}
	return 0;
}

ssize_t net_read_deadline(int fd, void *buf, size_t n, uint64_t deadline_ns, int wake_fd)
{
	unsigned char *p = buf;
	size_t got = 0;

	while (got < n) {
		int rc = io_wait(fd, POLLIN, wake_fd, ms_until(deadline_ns));
		ssize_t r;

		if (rc < 0)
			return -1;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (!got)
				return 0;
			errno = EPROTO;
			return -1;
		}
		got += (size_t)r;
	}
	return (ssize_t)n;
}

int net_wait_close(int fd, uint64_t deadline_ns, int wake_fd)
{
	char c;
	ssize_t r = net_read_deadline(fd, &c, 1, deadline_ns, wake_fd);

	if (r > 0)
		errno = EPROTO;
	return r ? -1 : 0;
}
