// SPDX-License-Identifier: GPL-3.0-or-later
/* zerocopy: the bookkeeping of MSG_ZEROCOPY completions (out of order,
 * twice, for no send, across the kernel's 32-bit wrap) and, on loopback
 * TCP, sends that complete, a wait that a wake fd ends while the peer
 * holds the bytes, and ENOBUFS under a locked-memory limit: a wait for a
 * completion of ours then a retry, or a copy when none is in flight.
 * Built and run by tests/libcommon.bats; prints TAP. */
#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zerocopy.h"

static int n, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d %s\n", cond ? "" : "not ", ++n, what);
	failed |= !cond;
}

static void ranges(void)
{
	struct zc_socket z = { .next = 10 };

	ok(zc_complete(&z, 3, 5, false) == 0 && z.floor == 0, "3..5 of 0..9: nothing below is complete yet");
	ok(zc_complete(&z, 0, 2, true) == 0 && z.floor == 6, "then 0..2: everything below 6 is");
	ok(zc_complete(&z, 5, 5, false) < 0 && errno == EPROTO, "5 again: refused");
	ok(zc_complete(&z, 9, 10, false) < 0 && errno == EPROTO, "10 was never sent: refused");
	ok(zc_complete(&z, 6, 9, false) == 0 && z.floor == 10 && z.completed == 10 && z.copied == 3,
	   "6..9: all done, 3 of them COPIED");
	ok(zc_done(&z, 10) && !zc_done(&z, 11), "done up to the mark, not beyond");

	memset(&z, 0, sizeof(z));
	z.floor = 0xfffffffeull;
	z.next = z.floor + 4;
	ok(zc_complete(&z, 0xfffffffe, 1, true) == 0 && z.floor == z.next && z.copied == 4,
	   "a range across the kernel's 32-bit wrap");
}

struct peer {
	int listener, rx, tx;
};

/* A loopback connection; the receiving end's buffer small when rcvbuf. */
static int connect_pair(struct peer *p, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	p->listener = socket(AF_INET, SOCK_STREAM, 0);
	if (rcvbuf)
		setsockopt(p->listener, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(p->listener, (struct sockaddr *)&a, len) < 0 || listen(p->listener, 1) < 0 ||
	    getsockname(p->listener, (struct sockaddr *)&a, &len) < 0)
		return -1;
	p->tx = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(p->tx, (struct sockaddr *)&a, len) < 0)
		return -1;
	p->rx = accept(p->listener, NULL, NULL);
	return p->rx < 0 ? -1 : 0;
}

static void close_pair(struct peer *p)
{
	close(p->listener);
	close(p->rx);
	close(p->tx);
}

/* Reads the receiving end to EOF (after delay_ms), summing the bytes. */
struct drain {
	int fd, delay_ms;
	uint64_t sum, bytes;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	unsigned char buf[65536];
	ssize_t r;

	usleep((useconds_t)d->delay_ms * 1000);
	while ((r = read(d->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			d->sum += buf[i];
		d->bytes += (uint64_t)r;
	}
	return NULL;
}

static uint64_t fill(unsigned char *p, size_t len, unsigned int seed)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i] = (unsigned char)(i * 7 + seed);
	return sum;
}

static void sends_complete(void)
{
	enum { COUNT = 64, LEN = 256 << 10 };
	static unsigned char buf[COUNT][LEN];
	struct drain d = { 0 };
	struct zc_socket z;
	struct peer p;
	pthread_t t;
	uint64_t sum = 0;
	int rc = 0, unix_pair[2];

	if (connect_pair(&p, 0) < 0 || zc_enable(&z, p.tx, -1) < 0) {
		ok(0, "a loopback connection with SO_ZEROCOPY");
		return;
	}
	d.fd = p.rx;
	pthread_create(&t, NULL, drain_thread, &d);
	for (int i = 0; i < COUNT && !rc; i++) {
		struct iovec iov = { buf[i], LEN };

		sum += fill(buf[i], LEN, (unsigned int)i);
		rc = zc_writev_full(&z, &iov, 1);
	}
	ok(rc == 0 && z.sends >= COUNT, "64 buffers sent with MSG_ZEROCOPY");
	ok(zc_wait(&z, zc_mark(&z)) == 0 && z.floor == z.next && z.completed == z.sends,
	   "every send completes");
	ok(z.copied <= z.sends, "COPIED counted among them (over loopback: all)");
	shutdown(p.tx, SHUT_WR);
	pthread_join(t, NULL);
	ok(d.bytes == (uint64_t)COUNT * LEN && d.sum == sum, "the peer got every byte");
	close_pair(&p);

	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, unix_pair) == 0 && zc_enable(&z, unix_pair[0], -1) < 0,
	   "SO_ZEROCOPY on a socket type without it: refused");
	close(unix_pair[0]);
	close(unix_pair[1]);
}

struct waker {
	int fd, delay_ms;
};

static void *wake_thread(void *arg)
{
	struct waker *w = arg;

	usleep((useconds_t)w->delay_ms * 1000);
	(void)eventfd_write(w->fd, 1);
	return NULL;
}

/* 64 KiB to a peer that reads nothing through a small window: most stay
 * unacknowledged in our queue, so the send cannot complete. */
static int send_stuck(struct zc_socket *z, struct peer *p, int wake_fd, unsigned char *buf)
{
	struct iovec iov = { buf, 64 << 10 };

	if (connect_pair(p, 4096) < 0 || zc_enable(z, p->tx, wake_fd) < 0 ||
	    zc_writev_full(z, &iov, 1) < 0)
		return -1;
	usleep(100 * 1000);
	return zc_reap(z);
}

static void wait_woken(void)
{
	static unsigned char buf[64 << 10];
	struct waker w = { eventfd(0, EFD_CLOEXEC), 200 };
	struct zc_socket z;
	struct peer p;
	pthread_t t;
	int rc;

	fill(buf, sizeof(buf), 1);
	rc = send_stuck(&z, &p, w.fd, buf);
	ok(rc == 0 && !zc_done(&z, zc_mark(&z)), "a send the peer does not take stays in flight");
	pthread_create(&t, NULL, wake_thread, &w);
	rc = zc_wait(&z, zc_mark(&z));
	ok(rc < 0 && errno == ECANCELED, "the wait for it ends when the wake fd fires (ECANCELED)");
	pthread_join(t, NULL);
	close_pair(&p);
	close(w.fd);
}

/* Root has CAP_IPC_LOCK, which lifts RLIMIT_MEMLOCK for pinned pages:
 * drop it from this process. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	return (int)syscall(SYS_capset, &h, d);
}

static void enobufs(void)
{
	static unsigned char first[64 << 10], second[64 << 10], big[256 << 10];
	struct rlimit rl = { 100 << 10, 100 << 10 };
	struct drain d = { .delay_ms = 200 };
	struct iovec iov = { second, sizeof(second) };
	struct zc_socket z;
	struct peer p;
	pthread_t t;
	uint64_t sum;
	int rc;

	if (drop_ipc_lock() < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		ok(0, "CAP_IPC_LOCK dropped and RLIMIT_MEMLOCK at 100 KiB");
		return;
	}
	/* 64 KiB pinned and stuck; 64 KiB more pass the limit until the
	 * peer reads, 200 ms later */
	sum = fill(first, sizeof(first), 2) + fill(second, sizeof(second), 3) +
	      fill(big, sizeof(big), 4);
	rc = send_stuck(&z, &p, -1, first);
	d.fd = p.rx;
	pthread_create(&t, NULL, drain_thread, &d);
	rc = rc ? rc : zc_writev_full(&z, &iov, 1);
	ok(rc == 0 && z.enobufs > 0 && z.copy_fallbacks == 0,
	   "ENOBUFS with a send in flight: waited for its completion, then sent zero-copy");
	/* nothing in flight, and more than the limit in one send: by copy */
	rc = rc ? rc : zc_wait(&z, zc_mark(&z));
	iov = (struct iovec){ big, sizeof(big) };
	rc = rc ? rc : zc_writev_full(&z, &iov, 1);
	ok(rc == 0 && z.copy_fallbacks == 1, "ENOBUFS with nothing in flight: the bytes go by copy");
	shutdown(p.tx, SHUT_WR);
	pthread_join(t, NULL);
	ok(d.bytes == sizeof(first) + sizeof(second) + sizeof(big) && d.sum == sum,
	   "the peer got every byte");
	close_pair(&p);
}

int main(void)
{
	ranges();
	sends_complete();
	wait_woken();
	enobufs();
	printf("1..%d\n", n);
	return failed;
}
