/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One reliable connection of QEMU's RDMA migration protocol on rdma_cm and
 * verbs, sized as QEMU sizes its own (a peer may be a real QEMU): an RC QP
 * with 512 send and 3 receive work requests, three registered 512 KiB
 * control buffers (READY, DATA, and the one we send from), signaled sends
 * and RDMA WRITEs.
 *
 * Every wait (address and route resolution, the connection, a completion)
 * polls the completion channel, the CM event channel and the session's
 * wake fd together: a failure elsewhere, --timeout or a signal ends it,
 * and so does the peer's disconnect. Functions return -1 with the reason
 * in l->err; they never print. */
#ifndef MIGBOX_RDMA_LINK_H
#define MIGBOX_RDMA_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "net.h"
#include "rdma_wire.h"

#define RDMA_LINK_SEND_WR	512
#define RDMA_LINK_RECV_WR	3
#define RDMA_LINK_CQ_ENTRIES	(RDMA_LINK_SEND_WR * 3)
#define RDMA_RESOLVE_TIMEOUT_MS	10000

/* The control buffers, as QEMU numbers them. */
enum rdma_buf {
	RDMA_BUF_READY,		/* receives READY (source) or messages (destination) */
	RDMA_BUF_DATA,		/* receives a response (source) */
	RDMA_BUF_SEND,		/* what we send */
	RDMA_BUFS
};

struct rdma_link {
	int wake_fd;			/* the session's; -1: none */
	uint32_t version;		/* announced in connect and accept: 1 (a
					 * test of peers may set another) */
	struct rdma_event_channel *ec;
	struct rdma_cm_id *listen_id;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	unsigned char *buf[RDMA_BUFS];
	struct ibv_mr *buf_mr[RDMA_BUFS];
	uint32_t recv_len[RDMA_BUF_SEND];	/* bytes of a completed receive */
	bool recv_done[RDMA_BUF_SEND];
	bool recv_posted[RDMA_BUF_SEND];
	bool send_done;
	unsigned int writes_in_flight;
	unsigned int cq_events;		/* to acknowledge */
	bool established;
	bool peer_gone;			/* DISCONNECTED or DEVICE_REMOVAL seen */
	bool refused;			/* the connect was REJECTED (nobody listens yet?) */
	struct rdma_caps peer_caps;
	char peer[NET_NAME_LEN];
	char err[512];
	/* What moved, for progress and stats. */
	uint64_t messages_sent, messages_received;
	uint64_t write_bytes, writes;
};

/* In the static binary, links every rdma-core provider in; call before any
 * other rdma_* or ibv_* function. Does nothing in the dynamic one. */
void rdma_providers_init(void);

void rdma_link_init(struct rdma_link *l, int wake_fd);
/* Listens on ep (an address of an RDMA device; IPv4 on RoCE). */
int rdma_link_listen(struct rdma_link *l, const struct net_endpoint *ep);
/* Takes one connection: refuses a source with another protocol version or
 * capability bits it does not know, answers with our_flags & theirs, and
 * waits until it is established.
 * timeout_ms < 0 waits as long as it takes. */
int rdma_link_accept(struct rdma_link *l, uint32_t our_flags, int timeout_ms);
/* Connects to ep asking for flags; the destination's answer is in
 * l->peer_caps (another version, or bits not asked for, fail).
 * timeout_ms bounds the whole of it. */
int rdma_link_connect(struct rdma_link *l, const struct net_endpoint *ep, uint32_t flags,
		      int timeout_ms);
/* Says ERROR to the peer (without waiting for its READY, as QEMU does)
 * when failed, after what is in flight, then disconnects. Memory the
 * caller registered stays valid until this returns. */
void rdma_link_shutdown(struct rdma_link *l, bool failed);
/* rdma_link_shutdown() if not done yet, then releases everything (the
 * caller's own registrations must be gone by then). */
void rdma_link_close(struct rdma_link *l, bool failed);

/* The payload area of the send buffer. */
static inline unsigned char *rdma_link_payload(struct rdma_link *l)
{
	return l->buf[RDMA_BUF_SEND] + RDMA_CONTROL_HEADER_SIZE;
}

int rdma_link_post_recv(struct rdma_link *l, enum rdma_buf b);
/* Sends a message whose len bytes of payload are already in place, and
 * waits until the send completed. */
int rdma_link_send(struct rdma_link *l, uint32_t type, uint32_t repeat, uint32_t len);
/* Waits for a message in buffer b (posted before), decodes and checks it
 * (rdma_control_decode); *payload points into the buffer until it is
 * posted again. want: the type expected, or RDMA_CONTROL_NONE for any. */
int rdma_link_recv(struct rdma_link *l, enum rdma_buf b, uint32_t want,
		   struct rdma_control *h, const unsigned char **payload);

/* Registers memory the peer may write into (or we write from). */
struct ibv_mr *rdma_link_reg(struct rdma_link *l, void *addr, size_t len);
/* Posts a signaled RDMA WRITE of [addr, addr+len) to raddr; waits for a
 * completion first when the send queue is full. */
int rdma_link_write(struct rdma_link *l, const void *addr, uint32_t len, uint32_t lkey,
		    uint64_t raddr, uint32_t rkey);
/* Waits until at most max writes are in flight (0: every posted write
 * completed). Writes complete in the order they were posted. */
int rdma_link_wait_writes(struct rdma_link *l, unsigned int max);
/* RDMA WRITEs completed so far. */
static inline uint64_t rdma_link_writes_done(const struct rdma_link *l)
{
	return l->writes - l->writes_in_flight;
}

#endif
