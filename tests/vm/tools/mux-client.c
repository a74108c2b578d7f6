// SPDX-License-Identifier: GPL-3.0-or-later
/* mux-client: QEMU's side of pvrdma-mux for a VM test, with real MADs.
 * Registers GID, waits for CM REQs and SIDR_REQs routed to it, and answers
 * each, as a pvrdma guest's CM would, through the mux to its sender: a REQ
 * with a REJ (consumer reject), a SIDR_REQ with a SIDR_REP of status 2
 * (rejected). It stops LINGER seconds after the last answer (the initiator
 * retries while it is refused), or SECONDS after it started.
 *
 * With FOREIGN_INDEX, it first sends an RTU (comm ids 0, to itself) whose
 * sgid is GID but whose GRH leaves from the port's GID FOREIGN_INDEX, not
 * its own: the mux must refuse it (EACCES, 3).
 *
 * usage: mux-client SOCKET GID SGID_INDEX [SECONDS [LINGER [FOREIGN_INDEX]]]
 * Prints "REG err N", "foreign err N" with FOREIGN_INDEX, then for the first of each kind "REQ comm 0x... from
 * GID, N bytes" and "REJ err N", or "SIDR_REQ id 0x... from GID, N bytes"
 * and "SIDR_REP err N"; at the end "REJ sent N" and "SIDR_REP sent N"; exit
 * 0 if something was answered and every answer went out with err 0. */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cm_mux.h"

#define ATTR_REQ	0x0010
#define ATTR_REJ	0x0012
#define ATTR_SIDR_REQ	0x0017
#define ATTR_SIDR_REP	0x0018
#define ATTR_RTU	0x0014
#define REJ_CONSUMER	28
#define SIDR_REJECT	2
#define QP1_QKEY	0x80010000u

static int read_msg(int fd, struct cmmux_msg *m, int timeout_ms)
{
	size_t got = 0;

	while (got < sizeof(*m)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		r = read(fd, (char *)m + got, sizeof(*m) - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int request(int fd, struct cmmux_msg *m)
{
	if (write(fd, m, sizeof(*m)) != (ssize_t)sizeof(*m))
		return -1;
	for (;;) {
		if (read_msg(fd, m, 10000) < 0)
			return -1;
		if (m->msg_type == CMMUX_RESP)
			return (int)m->err_code;
	}
}

/* The header of a CM MAD of type attr answering in (a MAD routed to us),
 * addressed to its sender. */
static void make_answer(struct cmmux_msg *out, const struct cmmux_msg *in, uint16_t attr,
			const uint8_t sgid[16], unsigned int sgid_index)
{
	memset(out, 0, sizeof(*out));
	out->msg_type = CMMUX_REQ;
	out->op_code = CMMUX_OP_MAD;
	memcpy(out->sgid, sgid, 16);
	out->umad_len = CMMUX_MAD_MAX;
	out->umad.qpn = htonl(1);
	out->umad.qkey = htonl(QP1_QKEY);
	out->umad.grh_present = 1;
	out->umad.gid_index = (uint8_t)sgid_index;
	out->umad.hop_limit = 0xff;
	memcpy(out->umad.gid, in->umad.gid, 16);	/* the sender */
	out->mad[0] = 1;
	out->mad[1] = CMMUX_CLASS_CM;
	out->mad[2] = CMMUX_CLASS_VERSION;
	out->mad[3] = 3;				/* Send */
	memcpy(out->mad + 8, in->mad + 8, 8);		/* its TID */
	out->mad[16] = attr >> 8;
	out->mad[17] = attr & 0xff;
}

/* REJ: local comm id, the REQ's comm id, "REQ rejected", the reason. */
static void make_rej(struct cmmux_msg *out, const struct cmmux_msg *req, const uint8_t sgid[16],
		     unsigned int sgid_index)
{
	uint32_t local = htonl(0x5a5a0001);
	uint16_t reason = htons(REJ_CONSUMER);

	make_answer(out, req, ATTR_REJ, sgid, sgid_index);
	memcpy(out->mad + 24, &local, 4);
	memcpy(out->mad + 28, req->mad + 24, 4);
	out->mad[32] = 0;
	memcpy(out->mad + 34, &reason, 2);
}

/* SIDR_REP: the SIDR_REQ's request id and a status. */
static void make_sidr_rep(struct cmmux_msg *out, const struct cmmux_msg *req,
			  const uint8_t sgid[16], unsigned int sgid_index)
{
	make_answer(out, req, ATTR_SIDR_REP, sgid, sgid_index);
	memcpy(out->mad + 24, req->mad + 24, 4);
	out->mad[28] = SIDR_REJECT;
}

/* An RTU with comm ids 0 (nobody's connection), from GID as its sgid but
 * with its GRH from the port's GID index: the mux's answer. */
static int send_foreign(int fd, const uint8_t gid[16], unsigned int index)
{
	struct cmmux_msg self, out;

	memset(&self, 0, sizeof(self));
	memcpy(self.umad.gid, gid, 16);		/* addressed to itself */
	make_answer(&out, &self, ATTR_RTU, gid, index);
	return request(fd, &out);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct cmmux_msg m, answer;
	uint8_t gid[16];
	char text[INET6_ADDRSTRLEN];
	time_t end;
	int fd, err, rejs = 0, sidr_reps = 0, linger;
	unsigned int sgid_index;

	if (argc < 4 || inet_pton(AF_INET6, argv[2], gid) != 1) {
		fprintf(stderr, "usage: mux-client SOCKET GID SGID_INDEX [SECONDS [LINGER [FOREIGN_INDEX]]]\n");
		return 2;
	}
	sgid_index = (unsigned int)atoi(argv[3]);
	end = time(NULL) + (argc > 4 ? atoi(argv[4]) : 90);
	linger = argc > 5 ? atoi(argv[5]) : 10;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(&m, 0, sizeof(m));
	m.msg_type = CMMUX_REQ;
	m.op_code = CMMUX_OP_REG;
	memcpy(m.sgid, gid, 16);
	err = request(fd, &m);
	printf("REG err %d\n", err);
	fflush(stdout);
	if (err)
		return 1;
	if (argc > 6) {
		err = send_foreign(fd, gid, (unsigned int)atoi(argv[6]));
		printf("foreign err %d\n", err);
		fflush(stdout);
	}
	while (time(NULL) < end) {
		uint16_t attr;
		int first;

		if (read_msg(fd, &m, 1000) < 0)
			continue;
		if (m.msg_type != CMMUX_REQ || m.op_code != CMMUX_OP_MAD)
			continue;
		attr = cmmux_mad_attr(m.mad, (size_t)m.umad_len);
		if (attr == ATTR_REQ) {
			first = !rejs++;
			if (first)
				printf("REQ comm 0x%08x from %s, %d bytes\n",
				       ntohl(*(uint32_t *)(m.mad + 24)),
				       inet_ntop(AF_INET6, m.umad.gid, text, sizeof(text)),
				       (int)m.umad_len);
			make_rej(&answer, &m, gid, sgid_index);
		} else if (attr == ATTR_SIDR_REQ) {
			first = !sidr_reps++;
			if (first)
				printf("SIDR_REQ id 0x%08x from %s, %d bytes\n",
				       ntohl(*(uint32_t *)(m.mad + 24)),
				       inet_ntop(AF_INET6, m.umad.gid, text, sizeof(text)),
				       (int)m.umad_len);
			make_sidr_rep(&answer, &m, gid, sgid_index);
		} else {
			continue;
		}
		err = request(fd, &answer);
		if (first)
			printf("%s err %d\n", attr == ATTR_REQ ? "REJ" : "SIDR_REP", err);
		fflush(stdout);
		if (err)
			return 1;
		end = time(NULL) + linger;
	}
	printf("REJ sent %d\nSIDR_REP sent %d\n", rejs, sidr_reps);
	return rejs + sidr_reps ? 0 : 1;
}
