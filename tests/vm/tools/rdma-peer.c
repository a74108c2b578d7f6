// SPDX-License-Identifier: GPL-3.0-or-later
/* rdma-peer: a misbehaving peer of QEMU's RDMA migration protocol, for the
 * fault tests of rdma-send and rdma-recv in the VM (built static by
 * tests/vm-rdma.bats with libcommon). It breaks one rule at a time:
 *
 *   rdma-peer caps ADDR:PORT VERSION FLAGS   connect with these capabilities
 *   rdma-peer source ADDR:PORT CASE          be a source that, after the
 *       stream's head (one 1 MiB block, HOOK) and the block list:
 *       badlen    sends a header whose length runs past the buffer
 *       unknown   sends a message of type 99
 *       outside   registers a chunk outside the block
 *       stall     sends nothing more
 *   rdma-peer dest ADDR:PORT CASE            be a destination that:
 *       version   answers with protocol version 2
 *       mismatch  answers RAM_BLOCKS_REQUEST with a block of another size
 *       error     sends ERROR instead of its first READY
 *       stall     never sends READY
 * Prints what happened; exits 0 when the rule was broken as asked. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "net.h"
#include "rdma_link.h"

static struct rdma_link l;

static void die(const char *what)
{
	fprintf(stderr, "rdma-peer: %s: %s\n", what, l.err);
	exit(1);
}

/* A SEND of the header and n bytes of the send buffer's payload, with a
 * header that may lie about them. */
static void send_raw(uint32_t len, uint32_t type, uint32_t repeat, uint32_t n)
{
	struct rdma_control h = { len, type, repeat };
	struct ibv_sge sge = {
		.addr = (uintptr_t)l.buf[RDMA_BUF_SEND],
		.length = RDMA_CONTROL_HEADER_SIZE + n,
		.lkey = l.buf_mr[RDMA_BUF_SEND]->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = 5000, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	rdma_control_encode(&h, l.buf[RDMA_BUF_SEND]);
	if (ibv_post_send(l.id->qp, &wr, &bad))
		die("ibv_post_send");
}

/* As a source: the destination's READY, then the receives for what comes
 * next posted in QEMU's order (a response buffer first). */
static void wait_ready(bool response)
{
	struct rdma_control h;
	const unsigned char *p;

	if (rdma_link_recv(&l, RDMA_BUF_READY, RDMA_CONTROL_READY, &h, &p) < 0)
		die("waiting for READY");
	if ((response && rdma_link_post_recv(&l, RDMA_BUF_DATA) < 0) ||
	    rdma_link_post_recv(&l, RDMA_BUF_READY) < 0)
		die("posting a receive");
}

/* QEVM, a configuration, START ram with one 1 MiB block, HOOK. */
static uint32_t stream_head(unsigned char *p)
{
	static const char machine[] = "pc-i440fx-7.2";
	uint32_t n = 0;

	memcpy(p, "QEVM\0\0\0\3", 8), n = 8;
	p[n++] = 7;
	put_be32(p + n, sizeof(machine) - 1), n += 4;
	memcpy(p + n, machine, sizeof(machine) - 1), n += sizeof(machine) - 1;
	p[n++] = 1;
	put_be32(p + n, 2), n += 4;
	p[n++] = 3;
	memcpy(p + n, "ram", 3), n += 3;
	put_be32(p + n, 0), n += 4;
	put_be32(p + n, 4), n += 4;
	put_be64(p + n, (1u << 20) | 0x04), n += 8;
	p[n++] = 3;
	memcpy(p + n, "blk", 3), n += 3;
	put_be64(p + n, 1u << 20), n += 8;
	put_be64(p + n, 0x80), n += 8;
	return n;
}

static int source(const struct net_endpoint *ep, const char *what)
{
	struct rdma_control h;
	const unsigned char *p;
	struct rdma_register reg = { .key = 64u << 20, .current_index = 0 };

	if (rdma_link_connect(&l, ep, 0, 10000) < 0)
		die("connecting");
	wait_ready(false);
	if (rdma_link_send(&l, RDMA_CONTROL_QEMU_FILE, 1, stream_head(rdma_link_payload(&l))) < 0)
		die("sending the stream's head");
	wait_ready(true);
	if (rdma_link_send(&l, RDMA_CONTROL_RAM_BLOCKS_REQUEST, 1, 0) < 0 ||
	    rdma_link_recv(&l, RDMA_BUF_DATA, RDMA_CONTROL_RAM_BLOCKS_RESULT, &h, &p) < 0)
		die("exchanging the block list");
	wait_ready(false);
	if (!strcmp(what, "badlen")) {
		send_raw(600000, RDMA_CONTROL_REGISTER_REQUEST, 1, RDMA_REGISTER_SIZE);
	} else if (!strcmp(what, "unknown")) {
		send_raw(0, 99, 1, 0);
	} else if (!strcmp(what, "outside")) {
		rdma_register_encode(&reg, rdma_link_payload(&l));
		send_raw(RDMA_REGISTER_SIZE, RDMA_CONTROL_REGISTER_REQUEST, 1, RDMA_REGISTER_SIZE);
	} else if (strcmp(what, "stall")) {
		fprintf(stderr, "rdma-peer: no source case %s\n", what);
		return 2;
	}
	printf("rdma-peer: sent %s\n", what);
	fflush(stdout);
	sleep(30);	/* the other side must end on its own */
	return 0;
}

static int dest(const struct net_endpoint *ep, const char *what)
{
	struct rdma_control h;
	const unsigned char *p;
	struct rdma_dest_block b = { .remote_host_addr = 0x7f0000000000ull, .length = 12345 << 12 };

	if (rdma_link_listen(&l, ep) < 0)
		die("listening");
	printf("rdma-peer: listening\n");
	fflush(stdout);
	if (!strcmp(what, "version"))
		l.version = 2;
	if (rdma_link_accept(&l, RDMA_CAP_PIN_ALL, 20000) < 0)
		die("accepting");
	if (!strcmp(what, "error")) {
		send_raw(0, RDMA_CONTROL_ERROR, 1, 0);
	} else if (!strcmp(what, "mismatch")) {
		send_raw(0, RDMA_CONTROL_READY, 1, 0);
		if (rdma_link_recv(&l, RDMA_BUF_READY, RDMA_CONTROL_QEMU_FILE, &h, &p) < 0 ||
		    rdma_link_post_recv(&l, RDMA_BUF_READY) < 0)
			die("receiving the stream's head");
		send_raw(0, RDMA_CONTROL_READY, 1, 0);
		if (rdma_link_recv(&l, RDMA_BUF_READY, RDMA_CONTROL_RAM_BLOCKS_REQUEST, &h, &p) < 0)
			die("receiving RAM_BLOCKS_REQUEST");
		rdma_dest_block_encode(&b, rdma_link_payload(&l));
		send_raw(RDMA_DEST_BLOCK_SIZE, RDMA_CONTROL_RAM_BLOCKS_RESULT, 1, RDMA_DEST_BLOCK_SIZE);
	} else if (strcmp(what, "stall") && strcmp(what, "version")) {
		fprintf(stderr, "rdma-peer: no dest case %s\n", what);
		return 2;
	}
	printf("rdma-peer: did %s\n", what);
	fflush(stdout);
	sleep(30);
	return 0;
}

static int caps(const struct net_endpoint *ep, uint32_t version, uint32_t flags)
{
	l.version = version;
	if (rdma_link_connect(&l, ep, flags, 10000) < 0) {
		printf("rdma-peer: refused: %s\n", l.err);
		return 0;
	}
	printf("rdma-peer: accepted with flags 0x%x\n", l.peer_caps.flags);
	return 1;
}

int main(int argc, char **argv)
{
	struct net_endpoint ep;
	char err[ERR_LEN];

	if (argc < 4 || net_endpoint_parse(argv[2], true, &ep, err) < 0) {
		fprintf(stderr, "usage: rdma-peer caps|source|dest ADDR:PORT ARGS\n");
		return 2;
	}
	rdma_link_init(&l, -1);
	if (!strcmp(argv[1], "caps") && argc == 5)
		return caps(&ep, (uint32_t)strtoul(argv[3], NULL, 0), (uint32_t)strtoul(argv[4], NULL, 0));
	if (!strcmp(argv[1], "source"))
		return source(&ep, argv[3]);
	if (!strcmp(argv[1], "dest"))
		return dest(&ep, argv[3]);
	fprintf(stderr, "rdma-peer: unknown mode %s\n", argv[1]);
	return 2;
}
