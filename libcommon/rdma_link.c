// SPDX-License-Identifier: GPL-3.0-or-later
/* One RC connection of QEMU's RDMA migration protocol: set-up in the
 * rdma-core order (event channel, id, pd, completion channel, cq, qp,
 * buffers), waits that wake, and release on every path. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "progress.h"
#include "rdma_link.h"

/* wr_id of each kind of work request */
enum {
	WR_RECV = 4000,		/* + buffer index, as QEMU */
	WR_SEND = 5000,
	WR_WRITE = 6000,
};

static int link_err(struct rdma_link *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int link_err(struct rdma_link *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
	return -1;
}

void rdma_providers_init(void)
{
#ifdef RDMA_STATIC_PROVIDERS
	static bool done;

	if (!done)
		ibv_static_providers(NULL, &verbs_provider_all, NULL);
	done = true;
#endif
}

void rdma_link_init(struct rdma_link *l, int wake_fd)
{
	memset(l, 0, sizeof(*l));
	l->wake_fd = wake_fd;
	l->version = RDMA_CONTROL_VERSION;
	rdma_providers_init();
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int ms_left(uint64_t deadline)
{
	uint64_t now = now_ns();

	if (!deadline)
		return -1;
	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Waits for the next CM event of the channel (with the deadline, 0: none);
 * the caller acks it. */
static int get_cm_event(struct rdma_link *l, uint64_t deadline, struct rdma_cm_event **ev,
			const char *waiting_for)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = l->ec->fd, .events = POLLIN },
			{ .fd = l->wake_fd, .events = POLLIN },
		};
		int rc;

		if (rdma_get_cm_event(l->ec, ev) == 0)
			return 0;
		if (errno != EAGAIN)
			return link_err(l, "waiting for %s: rdma_get_cm_event: %s", waiting_for,
					strerror(errno));
		rc = poll(pfd, l->wake_fd >= 0 ? 2 : 1, ms_left(deadline));
		if (rc < 0 && errno != EINTR)
			return link_err(l, "waiting for %s: poll: %s", waiting_for, strerror(errno));
		if (rc == 0)
			return link_err(l, "timed out waiting for %s", waiting_for);
		if (rc > 0 && pfd[1].revents) {
			errno = ECANCELED;
			return link_err(l, "waiting for %s: cancelled", waiting_for);
		}
	}
}

/* Waits for one event of the given type on the channel; any other one is
 * the failure of that step. */
static int expect_cm_event(struct rdma_link *l, uint64_t deadline, enum rdma_cm_event_type want,
			   const char *step, struct rdma_conn_param *param_copy, uint8_t *priv,
			   size_t *priv_len)
{
	struct rdma_cm_event *ev;
	int status;

	if (get_cm_event(l, deadline, &ev, step) < 0)
		return -1;
	if (ev->event != want) {
		status = ev->status;
		l->refused = ev->event == RDMA_CM_EVENT_REJECTED;
		link_err(l, "%s: got %s (status %d)%s", step, rdma_event_str(ev->event), status,
			 ev->event == RDMA_CM_EVENT_REJECTED ?
			 ": the peer refused the connection" : "");
		rdma_ack_cm_event(ev);
		return -1;
	}
	if (param_copy)
		*param_copy = ev->param.conn;
	if (priv && priv_len) {
		size_t n = ev->param.conn.private_data_len;

		if (n > *priv_len)
			n = *priv_len;
		if (n && ev->param.conn.private_data)
			memcpy(priv, ev->param.conn.private_data, n);
		*priv_len = ev->param.conn.private_data_len ? n : 0;
	}
	rdma_ack_cm_event(ev);
	return 0;
}

static void name_peer(struct rdma_link *l)
{
	struct sockaddr *sa = rdma_get_peer_addr(l->id);
	char addr[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
		snprintf(l->peer, sizeof(l->peer), "%s:%u", addr,
			 ntohs(((struct sockaddr_in *)sa)->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
		snprintf(l->peer, sizeof(l->peer), "[%s]:%u", addr,
			 ntohs(((struct sockaddr_in6 *)sa)->sin6_port));
	}
}

/* PD, completion channel, one CQ for sends and receives, the RC QP and
 * the three control buffers, on l->id. */
static int alloc_resources(struct rdma_link *l)
{
	struct ibv_qp_init_attr attr = {
		.cap = {
			.max_send_wr = RDMA_LINK_SEND_WR,
			.max_recv_wr = RDMA_LINK_RECV_WR,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
		.qp_type = IBV_QPT_RC,
	};

	l->pd = ibv_alloc_pd(l->id->verbs);
	if (!l->pd)
		return link_err(l, "ibv_alloc_pd: %s", strerror(errno));
	l->cc = ibv_create_comp_channel(l->id->verbs);
	if (!l->cc || set_nonblocking(l->cc->fd) < 0)
		return link_err(l, "ibv_create_comp_channel: %s", strerror(errno));
	l->cq = ibv_create_cq(l->id->verbs, RDMA_LINK_CQ_ENTRIES + RDMA_LINK_RECV_WR, NULL, l->cc, 0);
	if (!l->cq)
		return link_err(l, "ibv_create_cq: %s", strerror(errno));
	if (ibv_req_notify_cq(l->cq, 0))
		return link_err(l, "ibv_req_notify_cq: %s", strerror(errno));
	attr.send_cq = attr.recv_cq = l->cq;
	if (rdma_create_qp(l->id, l->pd, &attr))
		return link_err(l, "rdma_create_qp: %s", strerror(errno));
	for (int b = 0; b < RDMA_BUFS; b++) {
		l->buf[b] = mmap(NULL, RDMA_CONTROL_MAX_BUFFER, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (l->buf[b] == MAP_FAILED) {
			l->buf[b] = NULL;
			return link_err(l, "out of memory for the control buffers");
		}
		l->buf_mr[b] = rdma_link_reg(l, l->buf[b], RDMA_CONTROL_MAX_BUFFER);
		if (!l->buf_mr[b])
			return -1;
	}
	return 0;
}

int rdma_link_listen(struct rdma_link *l, const struct net_endpoint *ep)
{
	struct rdma_addrinfo hints = { .ai_flags = RAI_PASSIVE, .ai_port_space = RDMA_PS_TCP };
	struct rdma_addrinfo *res = NULL, *ai;
	char name[NET_NAME_LEN + 256];
	int one = 1, e = 0;

	net_endpoint_name(ep, name, sizeof(name));
	l->ec = rdma_create_event_channel();
	if (!l->ec || set_nonblocking(l->ec->fd) < 0)
		return link_err(l, "rdma_create_event_channel: %s (is rdma_ucm loaded?)", strerror(errno));
	if (rdma_create_id(l->ec, &l->listen_id, NULL, RDMA_PS_TCP))
		return link_err(l, "rdma_create_id: %s", strerror(errno));
	if (rdma_getaddrinfo(ep->host[0] ? ep->host : NULL, ep->port, &hints, &res))
		return link_err(l, "cannot resolve %s: %s", name, strerror(errno));
	rdma_set_option(l->listen_id, RDMA_OPTION_ID, RDMA_OPTION_ID_REUSEADDR, &one, sizeof(one));
	for (ai = res; ai; ai = ai->ai_next) {
		if (rdma_bind_addr(l->listen_id, ai->ai_src_addr) == 0)
			break;
		e = errno;
	}
	rdma_freeaddrinfo(res);
	if (!ai)
		return link_err(l, "cannot bind %s: %s (an address of an RDMA device?)", name,
				strerror(e));
	if (rdma_listen(l->listen_id, 5))
		return link_err(l, "cannot listen on %s: %s", name, strerror(errno));
	return 0;
}

/* The connection request: capabilities checked, or the request refused. */
static int take_request(struct rdma_link *l, uint64_t deadline)
{
	struct rdma_cm_event *ev;
	char err[ERR_LEN];

	for (;;) {
		if (get_cm_event(l, deadline, &ev, "a connection") < 0)
			return -1;
		if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST)
			break;
		rdma_ack_cm_event(ev);
	}
	l->id = ev->id;
	name_peer(l);
	if (rdma_caps_decode(ev->param.conn.private_data, ev->param.conn.private_data_len,
			     &l->peer_caps, err) < 0 ||
	    (l->peer_caps.flags & ~RDMA_CAP_PIN_ALL &&
	     snprintf(err, sizeof(err), "capability flags 0x%x, of which only PIN_ALL (0x1) is known",
		      l->peer_caps.flags) > 0)) {
		rdma_ack_cm_event(ev);
		rdma_reject(l->id, NULL, 0);
		return link_err(l, "connection from %s refused: %s", l->peer, err);
	}
	rdma_ack_cm_event(ev);
	return 0;
}

int rdma_link_accept(struct rdma_link *l, uint32_t our_flags, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : now_ns() + (uint64_t)timeout_ms * 1000000;
	unsigned char caps[RDMA_CAPS_SIZE];
	struct rdma_caps reply;
	struct rdma_conn_param param = {
		.responder_resources = 2,
		.initiator_depth = 0,
		.retry_count = 7,
		.rnr_retry_count = 7,	/* the peer's sends to us may retry */
		.private_data = caps,
		.private_data_len = sizeof(caps),
	};

	if (take_request(l, deadline) < 0 || alloc_resources(l) < 0 ||
	    rdma_link_post_recv(l, RDMA_BUF_READY) < 0)
		return -1;
	reply = (struct rdma_caps){ l->version, l->peer_caps.flags & our_flags };
	l->peer_caps.flags = reply.flags;
	rdma_caps_encode(&reply, caps);
	if (rdma_accept(l->id, &param))
		return link_err(l, "rdma_accept from %s: %s", l->peer, strerror(errno));
	if (expect_cm_event(l, deadline, RDMA_CM_EVENT_ESTABLISHED, "the connection to be established",
			    NULL, NULL, NULL) < 0)
		return -1;
	l->established = true;
	return 0;
}

static int resolve(struct rdma_link *l, const struct net_endpoint *ep, uint64_t deadline)
{
	struct rdma_addrinfo hints = { .ai_port_space = RDMA_PS_TCP };
	struct rdma_addrinfo *res = NULL, *ai;
	char name[NET_NAME_LEN + 256];
	int ms = ms_left(deadline);

	net_endpoint_name(ep, name, sizeof(name));
	if (rdma_getaddrinfo(ep->host, ep->port, &hints, &res))
		return link_err(l, "cannot resolve %s: %s", name, strerror(errno));
	for (ai = res; ai; ai = ai->ai_next) {
		if (rdma_resolve_addr(l->id, NULL, ai->ai_dst_addr,
				      ms < 0 || ms > RDMA_RESOLVE_TIMEOUT_MS ? RDMA_RESOLVE_TIMEOUT_MS : ms))
			continue;
		if (expect_cm_event(l, deadline, RDMA_CM_EVENT_ADDR_RESOLVED, "the address", NULL,
				    NULL, NULL) == 0)
			break;
	}
	rdma_freeaddrinfo(res);
	if (!ai)
		return l->err[0] ? -1 : link_err(l, "cannot resolve %s on an RDMA device", name);
	if (rdma_resolve_route(l->id, RDMA_RESOLVE_TIMEOUT_MS))
		return link_err(l, "rdma_resolve_route: %s", strerror(errno));
	return expect_cm_event(l, deadline, RDMA_CM_EVENT_ROUTE_RESOLVED, "the route", NULL, NULL, NULL);
}

int rdma_link_connect(struct rdma_link *l, const struct net_endpoint *ep, uint32_t flags,
		      int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : now_ns() + (uint64_t)timeout_ms * 1000000;
	unsigned char caps[RDMA_CAPS_SIZE], reply[256];
	size_t reply_len = sizeof(reply);
	struct rdma_caps ask = { l->version, flags };
	struct rdma_conn_param param = {
		.responder_resources = 0,
		.initiator_depth = 2,
		.retry_count = 5,
		.rnr_retry_count = 7,	/* the peer's sends to us may retry */
		.private_data = caps,
		.private_data_len = sizeof(caps),
	};
	char err[ERR_LEN];

	l->ec = rdma_create_event_channel();
	if (!l->ec || set_nonblocking(l->ec->fd) < 0)
		return link_err(l, "rdma_create_event_channel: %s (is rdma_ucm loaded?)", strerror(errno));
	if (rdma_create_id(l->ec, &l->id, NULL, RDMA_PS_TCP))
		return link_err(l, "rdma_create_id: %s", strerror(errno));
	if (resolve(l, ep, deadline) < 0)
		return -1;
	name_peer(l);
	/* The first READY may come at once: a receive is posted first. */
	if (alloc_resources(l) < 0 || rdma_link_post_recv(l, RDMA_BUF_READY) < 0)
		return -1;
	rdma_caps_encode(&ask, caps);
	if (rdma_connect(l->id, &param))
		return link_err(l, "rdma_connect to %s: %s", l->peer, strerror(errno));
	if (expect_cm_event(l, deadline, RDMA_CM_EVENT_ESTABLISHED, "the connection", NULL,
			    reply, &reply_len) < 0)
		return -1;
	l->established = true;
	if (rdma_caps_decode(reply, reply_len, &l->peer_caps, err) < 0)
		return link_err(l, "the reply of %s: %s", l->peer, err);
	if (l->peer_caps.flags & ~flags)
		return link_err(l, "the reply of %s: capability flags 0x%x, more than the 0x%x asked for",
				l->peer, l->peer_caps.flags, flags);
	return 0;
}

/* ---- completions ---- */

static int handle_wc(struct rdma_link *l, const struct ibv_wc *wc)
{
	if (wc->status != IBV_WC_SUCCESS)
		return link_err(l, "%s completion failed: %s", wc->wr_id >= WR_WRITE ? "RDMA WRITE" :
				wc->wr_id >= WR_SEND ? "send" : "receive",
				ibv_wc_status_str(wc->status));
	if (wc->wr_id >= WR_WRITE) {
		l->writes_in_flight--;
	} else if (wc->wr_id >= WR_SEND) {
		l->send_done = true;
	} else {
		unsigned int b = (unsigned int)(wc->wr_id - WR_RECV);

		if (b >= RDMA_BUF_SEND)
			return link_err(l, "a receive completion for buffer %u", b);
		l->recv_done[b] = true;
		l->recv_posted[b] = false;
		l->recv_len[b] = wc->byte_len;
		l->messages_received++;
	}
	return 0;
}

static int poll_cq(struct rdma_link *l)
{
	struct ibv_wc wc[16];
	int n;

	while ((n = ibv_poll_cq(l->cq, 16, wc)) > 0)
		for (int i = 0; i < n; i++)
			if (handle_wc(l, &wc[i]) < 0)
				return -1;
	return n < 0 ? link_err(l, "ibv_poll_cq failed") : 0;
}

/* A CM event while connected: a disconnect ends the wait. */
static int handle_cm(struct rdma_link *l)
{
	struct rdma_cm_event *ev;

	while (rdma_get_cm_event(l->ec, &ev) == 0) {
		enum rdma_cm_event_type t = ev->event;
		struct rdma_cm_id *id = ev->id;
		bool other = id != l->id;

		if (t == RDMA_CM_EVENT_CONNECT_REQUEST && other)
			rdma_reject(id, NULL, 0);	/* one source at a time */
		rdma_ack_cm_event(ev);
		if (t == RDMA_CM_EVENT_CONNECT_REQUEST && other)
			rdma_destroy_id(id);
		if (!other && (t == RDMA_CM_EVENT_DISCONNECTED || t == RDMA_CM_EVENT_DEVICE_REMOVAL)) {
			l->peer_gone = true;
			return link_err(l, "%s: the peer %s", l->peer[0] ? l->peer : "the connection",
					t == RDMA_CM_EVENT_DISCONNECTED ? "disconnected" :
					"went away with its device");
		}
	}
	return 0;
}

/* Processes completions until done(l, arg) holds. */
static int wait_until(struct rdma_link *l, bool (*done)(struct rdma_link *, int), int arg,
		      const char *what)
{
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = l->cc->fd, .events = POLLIN },
			{ .fd = l->ec->fd, .events = POLLIN },
			{ .fd = l->wake_fd, .events = POLLIN },
		};
		struct ibv_cq *cq;
		void *ctx;

		if (poll_cq(l) < 0)
			return -1;
		if (done(l, arg))
			return 0;
		if (l->peer_gone)
			return link_err(l, "waiting for %s: the peer disconnected", what);
		if (poll(pfd, l->wake_fd >= 0 ? 3 : 2, -1) < 0 && errno != EINTR)
			return link_err(l, "waiting for %s: poll: %s", what, strerror(errno));
		if (l->wake_fd >= 0 && pfd[2].revents) {
			errno = ECANCELED;
			return link_err(l, "waiting for %s: cancelled", what);
		}
		if (pfd[1].revents && handle_cm(l) < 0) {
			/* what arrived before the disconnect still counts (an
			 * ERROR): its completion may trail the CM event */
			for (int i = 0; i < 40; i++) {
				if (poll_cq(l) < 0)
					return -1;
				if (done(l, arg))
					return 0;
				usleep(5000);
			}
			return -1;
		}
		if (pfd[0].revents && ibv_get_cq_event(l->cc, &cq, &ctx) == 0) {
			if (++l->cq_events >= 64) {
				ibv_ack_cq_events(l->cq, l->cq_events);
				l->cq_events = 0;
			}
			if (ibv_req_notify_cq(l->cq, 0))
				return link_err(l, "ibv_req_notify_cq: %s", strerror(errno));
		}
	}
}

static bool recv_arrived(struct rdma_link *l, int b)
{
	return l->recv_done[b];
}

static bool send_finished(struct rdma_link *l, int unused)
{
	(void)unused;
	return l->send_done;
}

static bool writes_below(struct rdma_link *l, int n)
{
	return l->writes_in_flight < (unsigned int)n;
}

int rdma_link_post_recv(struct rdma_link *l, enum rdma_buf b)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)l->buf[b],
		.length = RDMA_CONTROL_MAX_BUFFER,
		.lkey = l->buf_mr[b]->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = WR_RECV + b, .sg_list = &sge, .num_sge = 1 }, *bad;

	if (ibv_post_recv(l->id->qp, &wr, &bad))
		return link_err(l, "ibv_post_recv: %s", strerror(errno));
	l->recv_done[b] = false;
	l->recv_posted[b] = true;
	return 0;
}

/* Posts a SEND of the send buffer: header (encoded here) and len bytes. */
static int post_send(struct rdma_link *l, uint32_t type, uint32_t repeat, uint32_t len)
{
	struct rdma_control h = { len, type, repeat };
	struct ibv_sge sge = {
		.addr = (uintptr_t)l->buf[RDMA_BUF_SEND],
		.length = RDMA_CONTROL_HEADER_SIZE + len,
		.lkey = l->buf_mr[RDMA_BUF_SEND]->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = WR_SEND, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	rdma_control_encode(&h, l->buf[RDMA_BUF_SEND]);
	l->send_done = false;
	if (ibv_post_send(l->id->qp, &wr, &bad))
		return link_err(l, "sending %s: ibv_post_send: %s", rdma_control_name(type),
				strerror(errno));
	return 0;
}

int rdma_link_send(struct rdma_link *l, uint32_t type, uint32_t repeat, uint32_t len)
{
	if (post_send(l, type, repeat, len) < 0)
		return -1;
	if (wait_until(l, send_finished, 0, rdma_control_name(type)) < 0)
		return -1;
	l->messages_sent++;
	return 0;
}

int rdma_link_recv(struct rdma_link *l, enum rdma_buf b, uint32_t want,
		   struct rdma_control *h, const unsigned char **payload)
{
	char err[ERR_LEN];

	if (wait_until(l, recv_arrived, b, want ? rdma_control_name(want) : "a message") < 0)
		return -1;
	l->recv_done[b] = false;
	if (rdma_control_decode(l->buf[b], l->recv_len[b], h, err) < 0)
		return link_err(l, "from %s: %s", l->peer, err);
	if (h->type == RDMA_CONTROL_ERROR)
		return link_err(l, "%s sent ERROR: it failed", l->peer);
	if (want && h->type != want)
		return link_err(l, "from %s: a %s message, expected %s", l->peer,
				rdma_control_name(h->type), rdma_control_name(want));
	*payload = l->buf[b] + RDMA_CONTROL_HEADER_SIZE;
	return 0;
}

struct ibv_mr *rdma_link_reg(struct rdma_link *l, void *addr, size_t len)
{
	struct ibv_mr *mr = ibv_reg_mr(l->pd, addr, len, IBV_ACCESS_LOCAL_WRITE |
				       IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);

	if (!mr)
		link_err(l, "registering %zu bytes of memory: %s%s", len, strerror(errno),
			 errno == ENOMEM || errno == EPERM ?
			 " (the locked-memory limit, ulimit -l, may be too low)" : "");
	return mr;
}

int rdma_link_write(struct rdma_link *l, const void *addr, uint32_t len, uint32_t lkey,
		    uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge sge = { .addr = (uintptr_t)addr, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = {
		.wr_id = WR_WRITE, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;

	/* room for a control SEND beside the writes */
	if (wait_until(l, writes_below, RDMA_LINK_SEND_WR - 2, "an RDMA WRITE to complete") < 0)
		return -1;
	if (ibv_post_send(l->id->qp, &wr, &bad))
		return link_err(l, "posting an RDMA WRITE of %u bytes: %s", len, strerror(errno));
	l->writes_in_flight++;
	l->writes++;
	l->write_bytes += len;
	return 0;
}

int rdma_link_wait_writes(struct rdma_link *l, unsigned int max)
{
	return wait_until(l, writes_below, (int)max + 1, "RDMA WRITEs to complete");
}

void rdma_link_shutdown(struct rdma_link *l, bool failed)
{
	if (l->established && failed && !l->peer_gone && l->buf[RDMA_BUF_SEND]) {
		/* time for it to leave, behind what is in flight, before the
		 * disconnect */
		if (post_send(l, RDMA_CONTROL_ERROR, 1, 0) == 0) {
			for (int i = 0; i < 300 && !l->send_done && poll_cq(l) == 0; i++)
				if (!l->send_done)
					usleep(10000);
		}
	}
	if (l->established)
		rdma_disconnect(l->id);
	l->established = false;
}

void rdma_link_close(struct rdma_link *l, bool failed)
{
	rdma_link_shutdown(l, failed);
	if (l->id && l->id->qp)
		rdma_destroy_qp(l->id);
	if (l->cq) {
		if (l->cq_events)
			ibv_ack_cq_events(l->cq, l->cq_events);
		ibv_destroy_cq(l->cq);
	}
	if (l->cc)
		ibv_destroy_comp_channel(l->cc);
	for (int b = 0; b < RDMA_BUFS; b++) {
		if (l->buf_mr[b])
			ibv_dereg_mr(l->buf_mr[b]);
		if (l->buf[b])
			munmap(l->buf[b], RDMA_CONTROL_MAX_BUFFER);
	}
	if (l->pd)
		ibv_dealloc_pd(l->pd);
	if (l->id)
		rdma_destroy_id(l->id);
	if (l->listen_id)
		rdma_destroy_id(l->listen_id);
	if (l->ec)
		rdma_destroy_event_channel(l->ec);
	l->ec = NULL;
	l->id = l->listen_id = NULL;
	l->pd = NULL;
	l->cc = NULL;
	l->cq = NULL;
	memset(l->buf, 0, sizeof(l->buf));
	memset(l->buf_mr, 0, sizeof(l->buf_mr));
	l->established = false;
}
