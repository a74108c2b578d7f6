/* mux-stub: a stand-in for QEMU's rdmacm-mux (contrib/rdmacm-mux), for
 * the pvrdma plumbing tests in the VM (built static by tests/vm-pvrdma.bats).
 * It owns no umad port: it listens on the mux's socket, logs every message
 * a QEMU pvrdma device sends, and answers each REQ with a RESP whose
 * err_code is 0.
 *
 *   mux-stub SOCKET LOG
 *
 * Prints "listening on SOCKET" on stdout once it listens. LOG gets a line
 * per event, flushed at once:
 *   connect N            client N connected (N counts from 1)
 *   N REQ REG GID        a request (REG, UNREG, MAD or op-NUMBER), the
 *                        16 bytes of hdr.sgid in hex, as on the wire
 *   N bad-type T         a message that is not a REQ: the client is closed,
 *                        as the real mux does
 *   eof N                client N went away (with "partial B" first when it
 *                        left B bytes of a message behind)
 * Runs until killed. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* RdmaCmMuxMsg of QEMU 7.2 on x86-64 (host byte order for the integers) */
enum { MUX_MSG_SIZE = 360, MUX_OFF_TYPE = 0, MUX_OFF_OP = 4, MUX_OFF_SGID = 8,
       MUX_OFF_ERR = 24 };
enum { RDMACM_MUX_MSG_TYPE_REQ = 0, RDMACM_MUX_MSG_TYPE_RESP = 1 };
enum { RDMACM_MUX_OP_CODE_REG = 0, RDMACM_MUX_OP_CODE_UNREG = 1, RDMACM_MUX_OP_CODE_MAD = 2 };
enum { RDMACM_MUX_ERR_CODE_OK = 0 };
enum { MAX_CLIENTS = 16 };

struct mux_hdr {
	uint32_t msg_type;
	uint32_t op_code;
	uint8_t sgid[16];
	uint32_t err_code;
};

struct client {
	int fd;
	unsigned id;
	size_t have;
	uint8_t buf[MUX_MSG_SIZE];
};

static FILE *logf;

static void logline(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(logf, fmt, ap);
	va_end(ap);
	fputc('\n', logf);
	fflush(logf);
}

static void mux_hdr_decode(const uint8_t *b, struct mux_hdr *h)
{
	memcpy(&h->msg_type, b + MUX_OFF_TYPE, 4);
	memcpy(&h->op_code, b + MUX_OFF_OP, 4);
	memcpy(h->sgid, b + MUX_OFF_SGID, 16);
	memcpy(&h->err_code, b + MUX_OFF_ERR, 4);
}

static const char *op_name(uint32_t op, char *tmp, size_t n)
{
	switch (op) {
	case RDMACM_MUX_OP_CODE_REG: return "REG";
	case RDMACM_MUX_OP_CODE_UNREG: return "UNREG";
	case RDMACM_MUX_OP_CODE_MAD: return "MAD";
	}
	snprintf(tmp, n, "op-%u", op);
	return tmp;
}

/* One whole message from client c: log it, answer it. Returns -1 when the
 * client is to be closed. */
static int handle_msg(struct client *c)
{
	struct mux_hdr h;
	char gid[33], tmp[16];
	uint32_t v;
	int i;

	mux_hdr_decode(c->buf, &h);
	if (h.msg_type != RDMACM_MUX_MSG_TYPE_REQ) {
		logline("%u bad-type %u", c->id, h.msg_type);
		return -1;
	}
	for (i = 0; i < 16; i++)
		snprintf(gid + 2 * i, 3, "%02x", h.sgid[i]);
	logline("%u REQ %s %s", c->id, op_name(h.op_code, tmp, sizeof(tmp)), gid);

	v = RDMACM_MUX_MSG_TYPE_RESP;
	memcpy(c->buf + MUX_OFF_TYPE, &v, 4);
	v = RDMACM_MUX_ERR_CODE_OK;
	memcpy(c->buf + MUX_OFF_ERR, &v, 4);
	for (size_t off = 0; off < MUX_MSG_SIZE;) {
		ssize_t w = write(c->fd, c->buf + off, MUX_MSG_SIZE - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			logline("%u write-error %s", c->id, strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	c->have = 0;
	return 0;
}

/* Reads what client c sent; -1 at EOF or on an error. */
static int client_read(struct client *c)
{
	ssize_t r = read(c->fd, c->buf + c->have, MUX_MSG_SIZE - c->have);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0) {
		if (c->have)
			logline("%u partial %zu", c->id, c->have);
		return -1;
	}
	c->have += (size_t)r;
	return c->have == MUX_MSG_SIZE ? handle_msg(c) : 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "mux-stub: %s: path too long\n", path);
		exit(2);
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 10) < 0) {
		fprintf(stderr, "mux-stub: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct client cl[MAX_CLIENTS];
	struct pollfd pfd[MAX_CLIENTS + 1];
	unsigned next_id = 1;
	int lfd, n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: mux-stub SOCKET LOG\n");
		return 2;
	}
	logf = fopen(argv[2], "a");
	if (!logf) {
		fprintf(stderr, "mux-stub: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	lfd = listen_on(argv[1]);
	printf("listening on %s\n", argv[1]);
	fflush(stdout);

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = n < MAX_CLIENTS ? POLLIN : 0 };
		for (int i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){ .fd = cl[i].fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("mux-stub: poll");
			return 1;
		}
		for (int i = n - 1; i >= 0; i--) {
			if (!pfd[i + 1].revents || client_read(&cl[i]) == 0)
				continue;
			logline("eof %u", cl[i].id);
			close(cl[i].fd);
			cl[i] = cl[--n];
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			cl[n] = (struct client){ .fd = fd, .id = next_id++ };
			logline("connect %u", cl[n].id);
			n++;
		}
	}
}
