// SPDX-License-Identifier: GPL-3.0-or-later
/* bench/tcp-streams.c: the loopback TCP ceiling for N streams. FILE is
 * cut into N byte ranges; N threads each sendfile() one range over its own
 * connection to 127.0.0.1, N threads read them into a buffer and drop
 * them. Prints the wall time in ms from the first connect to the last
 * byte read. A baseline for bench/multifd.sh: no protocol, no copy on the
 * sending side, what the kernel's loopback gives that many streams.
 *
 *   cc -O2 -pthread -o tcp-streams bench/tcp-streams.c
 *   tcp-streams FILE N
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <err.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS	64

struct stream {
	int file, listener, out;
	off_t offset;
	size_t length;
	pthread_t sender, reader;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *send_range(void *arg)
{
	struct stream *s = arg;
	off_t off = s->offset;
	size_t left = s->length;

	while (left) {
		ssize_t n = sendfile(s->out, s->file, &off, left);

		if (n <= 0)
			err(1, "sendfile");
		left -= (size_t)n;
	}
	close(s->out);
	return NULL;
}

static void *read_all(void *arg)
{
	struct stream *s = arg;
	static __thread char buf[1 << 20];
	int fd = accept(s->listener, NULL, NULL);

	if (fd < 0)
		err(1, "accept");
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct stream st[MAX_STREAMS];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct stat sb;
	uint64_t t0;
	size_t part;
	int n, file;

	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > MAX_STREAMS)
		errx(2, "usage: tcp-streams FILE N (1..%d)", MAX_STREAMS);
	file = open(argv[1], O_RDONLY);
	if (file < 0 || fstat(file, &sb) < 0)
		err(1, "%s", argv[1]);
	part = ((size_t)sb.st_size + (size_t)n - 1) / (size_t)n;
	for (int i = 0; i < n; i++) {
		struct stream *s = &st[i];

		s->file = file;
		s->offset = (off_t)part * i;
		s->length = s->offset >= sb.st_size ? 0 :
			    (size_t)(sb.st_size - s->offset) < part ? (size_t)(sb.st_size - s->offset) : part;
		a.sin_port = 0;
		s->listener = socket(AF_INET, SOCK_STREAM, 0);
		if (s->listener < 0 || bind(s->listener, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(s->listener, 1) < 0 ||
		    getsockname(s->listener, (struct sockaddr *)&a, &alen) < 0)
			err(1, "listen");
		if (pthread_create(&s->reader, NULL, read_all, s))
			errx(1, "pthread_create");
		s->out = socket(AF_INET, SOCK_STREAM, 0);
		if (s->out < 0)
			err(1, "socket");
	}
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		struct stream *s = &st[i];

		if (getsockname(s->listener, (struct sockaddr *)&a, &alen) < 0 ||
		    connect(s->out, (struct sockaddr *)&a, sizeof(a)) < 0)
			err(1, "connect");
		if (pthread_create(&s->sender, NULL, send_range, s))
			errx(1, "pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(st[i].sender, NULL);
		pthread_join(st[i].reader, NULL);
	}
	printf("%llu\n", (unsigned long long)((now_ns() - t0) / 1000000));
	return 0;
}
