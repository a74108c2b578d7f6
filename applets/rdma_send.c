// SPDX-License-Identifier: GPL-3.0-or-later
/* rdma-send: the source side of QEMU's RDMA migration protocol, for a
 * migration stream read on stdin.
 *
 * What QEMU's source does, from a stream: every byte that is not a RAM
 * page goes as QEMU_FILE messages (at most 32 KiB each, one READY from the
 * destination per message); each RAM section body opens with a HOOK record
 * that ends its message, after which the pages travel by RDMA WRITE:
 * contiguous pages merged within their 1 MiB chunk, a chunk registered at
 * the destination on first use (or every block pinned whole with
 * --pin-all), a run of zero pages in a chunk not yet registered
 * sent as COMPRESS instead. At the section's EOS every write is drained
 * and REGISTER_FINISHED sent. The block list is exchanged right after
 * MEM_SIZE. A page sent again later overwrites the earlier copy.
 *
 * Pages are copied from the input into a ring of registered 1 MiB merge
 * buffers; a buffer is reused once its write completed (writes complete
 * in order). Threads: the applet's thread; a monitor for progress and
 * --timeout. */
#include <errno.h>
#include <poll.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "applets.h"
#include "bytes.h"
#include "clock.h"
#include "io.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "opts.h"
#include "pagemap.h"
#include "rdma_link.h"
#include "stream.h"
#include "transfer.h"
#include "xfer_run.h"

enum { OPT_PIN_ALL = 0x2000 };

static const struct opt send_opts[] = {
	{ OPT_PIN_ALL, "pin-all", NULL, "ask the destination to pin all its RAM (QEMU's "
	  "rdma-pin-all): no registration traffic; a destination that refuses is used "
	  "dynamically", NULL },
	XFER_ROW_TIMEOUT("give up connecting after SECONDS (default 30; a destination that "
			 "refuses is tried until then), and fail when no byte moves for "
			 "SECONDS, saying whether stdin or the destination stalled (default: "
			 "no limit)"),
	XFER_ROW_PROGRESS,
	XFER_ROW_STATS,
	OPT_HELP,
	OPT_END
};

const struct applet_help rdma_send_help = {
	.opts = send_opts,
	.text =
"usage: rdma-send [OPTIONS] HOST:PORT < STREAM\n"
"\n"
"Reads a QEMU migration stream (QEVM version 3) on stdin and sends it with\n"
"QEMU's RDMA migration protocol to HOST:PORT (an IPv4 address of an RDMA\n"
"device): a QEMU started with -incoming rdma:HOST:PORT, or rdma-recv. RAM\n"
"pages go by RDMA WRITE into the destination's memory, as a QEMU source\n"
"sends them: 1 MiB chunks registered on demand, contiguous pages merged,\n"
"runs of zero pages as COMPRESS; everything else as QEMU_FILE\n"
"messages.\n"
"\n",
	.notes =
"\n"
"After the last byte it waits for the destination to ask for more (READY)\n"
"or to disconnect: either means it took everything. An ERROR from the\n"
"destination, its disconnect before that, a block list that does not match\n"
"the stream, a malformed message, truncated stdin and a timeout exit 1,\n"
"naming the step.\n"
"\n"
XFER_USAGE_SIGNALS
"\n"
"Exit status: 0 sent and taken, 1 failure, 2 usage error.\n",
};

#define MERGE_BUFFERS	32		/* of one chunk each */
#define PAGE		4096u

/* A remote RAM block and what is registered of it. */
struct remote_block {
	struct rdma_dest_block dest;	/* as RAM_BLOCKS_RESULT said */
	uint64_t host_addr;		/* from REGISTER_RESULT, the block's VA */
	struct pagemap chunk_rkey;	/* chunk -> uint32_t rkey (0: none yet) */
};

/* The run of contiguous pages being merged into one write. */
struct merge {
	uint32_t block;
	uint64_t offset;		/* in the block */
	uint32_t len;
	unsigned int buf;		/* ring index */
	bool one_byte;			/* every byte so far is `byte` */
	unsigned char byte;
};

struct sender {
	struct xfer x;
	struct net_endpoint ep;
	bool want_pin_all, pin_all;
	struct rdma_link link;
	bool ready_expected;		/* wait for READY before the next send */

	struct stream_reader *r;
	struct out_buf file;		/* stream bytes, sunk as QEMU_FILE messages */
	struct stream_writer w;
	bool in_ram_body;		/* between a HOOK and REGISTER_FINISHED */

	struct remote_block *remote;
	uint32_t nremote;

	unsigned char *ring;		/* MERGE_BUFFERS chunks */
	struct ibv_mr *ring_mr;
	uint64_t ring_seq[MERGE_BUFFERS];	/* write number that used it */
	unsigned int ring_next;
	struct merge m;
	bool merging;

	_Atomic uint64_t file_bytes;
	uint64_t ram_total;
	uint64_t file_messages, registrations, compress_msgs, compress_bytes;
	uint64_t input_page_records, input_zero_records;
};

#define tx_fail(tx, ...) session_fail(&(tx)->x.session, __VA_ARGS__)

static bool tx_failed(struct sender *tx)
{
	return session_failed(&tx->x.session);
}

/* ---- control messages, as QEMU's source exchanges them ---- */

/* One message whose payload is in place: wait for the destination's READY
 * first (it never takes a message without one), then send; with a
 * response type, a buffer is posted for it first and it is waited for. */
static int exchange(struct sender *tx, uint32_t type, uint32_t repeat, uint32_t len,
		    uint32_t resp_type, struct rdma_control *resp, const unsigned char **payload)
{
	struct rdma_link *l = &tx->link;
	struct rdma_control h;
	const unsigned char *p;

	if (tx->ready_expected && rdma_link_recv(l, RDMA_BUF_READY, RDMA_CONTROL_READY, &h, &p) < 0)
		goto fail;
	if (resp_type && rdma_link_post_recv(l, RDMA_BUF_DATA) < 0)
		goto fail;
	if (rdma_link_post_recv(l, RDMA_BUF_READY) < 0 || rdma_link_send(l, type, repeat, len) < 0)
		goto fail;
	tx->ready_expected = true;
	if (resp_type && rdma_link_recv(l, RDMA_BUF_DATA, resp_type, resp, payload) < 0)
		goto fail;
	return 0;
fail:
	tx_fail(tx, "%s: %s", rdma_control_name(type), l->err);
	return -1;
}

/* out_buf's sink: stream bytes as QEMU_FILE messages of 32 KiB at most. */
static int send_file_bytes(void *ctx, const void *p, size_t n)
{
	struct sender *tx = ctx;
	const unsigned char *c = p;

	while (n) {
		uint32_t chunk = n > RDMA_SEND_INCREMENT ? RDMA_SEND_INCREMENT : (uint32_t)n;

		memcpy(rdma_link_payload(&tx->link), c, chunk);
		if (exchange(tx, RDMA_CONTROL_QEMU_FILE, 1, chunk, 0, NULL, NULL) < 0) {
			errno = EPROTO;
			return -1;
		}
		atomic_fetch_add(&tx->file_bytes, chunk);
		tx->file_messages++;
		c += chunk;
		n -= chunk;
	}
	return 0;
}

static int flush_file(struct sender *tx)
{
	if (out_flush(&tx->file) < 0) {
		if (!tx_failed(tx))
			tx_fail(tx, "sending stream bytes: %s", strerror(tx->file.err));
		return -1;
	}
	return 0;
}

/* ---- the block list ---- */

static int exchange_blocks(struct sender *tx)
{
	const struct ram_list *ram = stream_ram(tx->r);
	const unsigned char *payload;
	struct rdma_control h;
	uint32_t n;
	char err[ERR_LEN];

	if (exchange(tx, RDMA_CONTROL_RAM_BLOCKS_REQUEST, 1, 0, RDMA_CONTROL_RAM_BLOCKS_RESULT,
		     &h, &payload) < 0)
		return -1;
	n = rdma_control_records(&h);
	tx->remote = calloc(n, sizeof(*tx->remote));
	if (!tx->remote) {
		tx_fail(tx, "out of memory for %u remote blocks", n);
		return -1;
	}
	tx->nremote = n;
	for (uint32_t i = 0; i < n; i++) {
		rdma_dest_block_decode(payload + (size_t)i * RDMA_DEST_BLOCK_SIZE, &tx->remote[i].dest);
		tx->remote[i].host_addr = tx->remote[i].dest.remote_host_addr;
		pagemap_init(&tx->remote[i].chunk_rkey, sizeof(uint32_t));
	}
	{
		struct rdma_dest_block d[RAM_BLOCKS_MAX];

		for (uint32_t i = 0; i < n && i < RAM_BLOCKS_MAX; i++)
			d[i] = tx->remote[i].dest;
		if (rdma_dest_blocks_check(d, n, ram, err) < 0) {
			tx_fail(tx, "RAM_BLOCKS_RESULT from %s: %s", tx->link.peer, err);
			return -1;
		}
	}
	for (uint32_t i = 0; tx->pin_all && i < n; i++) {
		if (!tx->remote[i].dest.remote_rkey) {
			tx_fail(tx, "RAM_BLOCKS_RESULT from %s: pin-all, but block %u has no rkey",
				tx->link.peer, i);
			return -1;
		}
	}
	return 0;
}

/* ---- pages ---- */

static unsigned char *ring_buf(struct sender *tx, unsigned int i)
{
	return tx->ring + (size_t)i * RDMA_REG_CHUNK_SIZE;
}

/* A chunk of the destination ready for writes: its rkey, registering it
 * first if needed. */
static int chunk_rkey(struct sender *tx, uint32_t idx, uint64_t offset, uint32_t *rkey)
{
	struct remote_block *rb = &tx->remote[idx];
	uint32_t *k;
	struct rdma_register req = { .key = rb->dest.offset + offset, .current_index = idx };
	struct rdma_register_result res;
	struct rdma_control h;
	const unsigned char *payload;
	char err[ERR_LEN];

	if (tx->pin_all) {
		*rkey = rb->dest.remote_rkey;
		return 0;
	}
	k = pagemap_chunk(&rb->chunk_rkey, offset >> RDMA_REG_CHUNK_SHIFT, true);
	if (!k) {
		tx_fail(tx, "out of memory for the registrations");
		return -1;
	}
	if (!*k) {
		rdma_register_encode(&req, rdma_link_payload(&tx->link));
		if (exchange(tx, RDMA_CONTROL_REGISTER_REQUEST, 1, RDMA_REGISTER_SIZE,
			     RDMA_CONTROL_REGISTER_RESULT, &h, &payload) < 0)
			return -1;
		rdma_register_result_decode(payload, &res);
		if (rdma_register_result_check(&res, &rb->dest, err) < 0) {
			tx_fail(tx, "from %s, for block %u: %s", tx->link.peer, idx, err);
			return -1;
		}
		*k = res.rkey;
		rb->host_addr = res.host_addr;
		tx->registrations++;
	}
	*rkey = *k;
	return 0;
}

static int send_compress(struct sender *tx, const struct merge *m)
{
	struct rdma_compress c = {
		.value = m->byte,
		.block_idx = m->block,
		.offset = tx->remote[m->block].dest.offset + m->offset,
		.length = m->len,
	};

	rdma_compress_encode(&c, rdma_link_payload(&tx->link));
	if (exchange(tx, RDMA_CONTROL_COMPRESS, 1, RDMA_COMPRESS_SIZE, 0, NULL, NULL) < 0)
		return -1;
	tx->compress_msgs++;
	tx->compress_bytes += m->len;
	return 0;
}

/* The merged run goes out: a COMPRESS for zeros in a chunk not registered
 * yet, else a write. Only zeros, as QEMU sends them: QEMU 10.0 refuses a
 * COMPRESS of any other byte. */
static int flush_merge(struct sender *tx)
{
	struct merge *m = &tx->m;
	struct remote_block *rb;
	uint32_t rkey, *known;

	if (!tx->merging)
		return 0;
	tx->merging = false;
	rb = &tx->remote[m->block];
	known = tx->pin_all ? NULL : pagemap_chunk(&rb->chunk_rkey, m->offset >> RDMA_REG_CHUNK_SHIFT, false);
	if (!tx->pin_all && m->one_byte && !m->byte && (!known || !*known))
		return send_compress(tx, m);
	if (chunk_rkey(tx, m->block, m->offset, &rkey) < 0)
		return -1;
	if (rdma_link_write(&tx->link, ring_buf(tx, m->buf), m->len, tx->ring_mr->lkey,
			    (tx->pin_all ? rb->dest.remote_host_addr : rb->host_addr) + m->offset, rkey) < 0) {
		tx_fail(tx, "%s", tx->link.err);
		return -1;
	}
	tx->ring_seq[m->buf] = tx->link.writes;
	tx->ring_next = (m->buf + 1) % MERGE_BUFFERS;
	return 0;
}

/* A ring buffer for a new run, once the write that used it completed. */
static int start_merge(struct sender *tx, uint32_t block, uint64_t offset)
{
	unsigned int i = tx->ring_next;
	uint64_t done = rdma_link_writes_done(&tx->link);

	if (tx->ring_seq[i] > done &&
	    rdma_link_wait_writes(&tx->link, (unsigned int)(tx->link.writes - tx->ring_seq[i])) < 0) {
		tx_fail(tx, "%s", tx->link.err);
		return -1;
	}
	tx->m = (struct merge){ .block = block, .offset = offset, .buf = i, .one_byte = true };
	tx->merging = true;
	return 0;
}

static int send_page(struct sender *tx, const struct stream_item *it)
{
	struct merge *m = &tx->m;
	unsigned char *dst;

	if (!tx->in_ram_body || !tx->nremote) {
		tx_fail(tx, "stdin: offset %" PRIu64 ": a page outside a RAM section body", it->offset);
		return -1;
	}
	/* merge while contiguous and inside one chunk */
	if (tx->merging && (m->block != it->block->index || m->offset + m->len != it->addr ||
			    (it->addr & (RDMA_REG_CHUNK_SIZE - 1)) == 0) && flush_merge(tx) < 0)
		return -1;
	if (!tx->merging && start_merge(tx, it->block->index, it->addr) < 0)
		return -1;
	dst = ring_buf(tx, m->buf) + m->len;
	if (it->type == SI_RAM_ZERO) {
		memset(dst, it->fill, PAGE);
		tx->input_zero_records++;
	} else {
		memcpy(dst, it->data, PAGE);
		tx->input_page_records++;
	}
	if (m->one_byte) {
		if (!m->len)
			m->byte = dst[0];
		m->one_byte = page_is_all(dst, PAGE, m->byte);
	}
	m->len += PAGE;
	return 0;
}

/* ---- the stream ---- */

/* A HOOK ends its message; the destination then takes registration
 * messages until REGISTER_FINISHED. */
static int open_ram_body(struct sender *tx)
{
	stream_write_ram_flag(&tx->w, RAM_SAVE_FLAG_HOOK);
	if (flush_file(tx) < 0)
		return -1;
	tx->in_ram_body = true;
	return 0;
}

static int close_ram_body(struct sender *tx)
{
	if (flush_merge(tx) < 0)
		return -1;
	if (rdma_link_wait_writes(&tx->link, 0) < 0) {
		tx_fail(tx, "%s", tx->link.err);
		return -1;
	}
	if (exchange(tx, RDMA_CONTROL_REGISTER_FINISHED, 1, 0, 0, NULL, NULL) < 0)
		return -1;
	tx->in_ram_body = false;
	return 0;
}

static int send_item(struct sender *tx, const struct stream_item *it)
{
	const struct ram_list *ram = stream_ram(tx->r);

	switch (it->type) {
	case SI_SECTION:
		stream_write_item(&tx->w, it, ram);
		if (it->section->kind == SECTION_KIND_RAM && it->section_type != QEMU_VM_SECTION_START)
			return open_ram_body(tx);
		return 0;
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(tx->r) != PAGE) {
			tx_fail(tx, "stdin: target page size %u, RDMA here supports %u only",
				stream_page_size(tx->r), PAGE);
			return -1;
		}
		stream_write_item(&tx->w, it, ram);
		return open_ram_body(tx) < 0 ? -1 : exchange_blocks(tx);
	case SI_RAM_PAGE:
	case SI_RAM_ZERO:
		return send_page(tx, it);
	case SI_RAM_HOOK:
	case SI_RAM_MULTIFD_FLUSH:
		return 0;	/* transport records of the stream's source: ours are made here */
	case SI_RAM_EOS:
		if (tx->in_ram_body && close_ram_body(tx) < 0)
			return -1;
		return stream_write_item(&tx->w, it, ram);
	case SI_EOF:
	case SI_VMDESC:
		return 0;	/* written once the whole input is known valid */
	default:
		return stream_write_item(&tx->w, it, ram);
	}
}

/* The destination took everything: it asks for more (rdma-recv) or
 * disconnects when its load is over (QEMU); ERROR means it failed. */
static void wait_taken(struct sender *tx)
{
	struct rdma_control h;
	const unsigned char *p;

	if (rdma_link_recv(&tx->link, RDMA_BUF_READY, RDMA_CONTROL_READY, &h, &p) == 0 ||
	    tx->link.peer_gone)
		return;
	tx_fail(tx, "after the last byte: %s", tx->link.err);
}

static int item(void *ctx, struct stream_reader *r, const struct stream_item *it)
{
	struct sender *tx = ctx;

	tx->r = r;
	if (it->type == SI_RAM_MEM_SIZE)
		tx->ram_total = stream_ram(r)->total;
	return send_item(tx, it);
}

/* The end of the stream is written only now that all of it is valid; the
 * destination asking for more, or leaving, says it took everything. */
static int end(void *ctx, struct stream_reader *r)
{
	struct sender *tx = ctx;

	if (tx->in_ram_body) {
		tx_fail(tx, "stdin: the stream ends inside a RAM section");
		return -1;
	}
	stream_write_end(&tx->w, r);
	if (flush_file(tx) < 0)
		return -1;
	wait_taken(tx);
	return tx_failed(tx) ? -1 : 0;
}

/* ---- monitor ---- */

static uint64_t monitor_moved(void *ctx, char *extra, size_t n)
{
	struct sender *tx = ctx;
	char hb[32];

	if (extra)
		snprintf(extra, n, "written %s  pages %" PRIu64 "  zero %" PRIu64,
			 human_bytes(hb, sizeof(hb), (double)tx->link.write_bytes),
			 tx->input_page_records, tx->input_zero_records);
	return tx->link.write_bytes + tx->file_bytes;
}

/* RDMA WRITEs completing are progress too */
static uint64_t activity(void *ctx)
{
	struct sender *tx = ctx;

	return rdma_link_writes_done(&tx->link);
}

static void stalled(void *ctx, unsigned int timeout_s)
{
	tx_fail((struct sender *)ctx, "no byte moved for %u s (--timeout): the destination stopped taking data",
		timeout_s);
}

static void stats_fields(void *ctx, struct json_writer *w)
{
	struct sender *tx = ctx;

	jw_key(w, "peer"); jw_string(w, tx->link.peer);
	jw_key(w, "pin_all"); jw_bool(w, tx->pin_all);
	jw_key(w, "input_bytes"); jw_u64(w, tx->x.input_bytes);
	jw_key(w, "ram_total"); jw_u64(w, tx->ram_total);
	/* pages placed in the destination's memory, by write or COMPRESS
	 * (both whole pages); rdma-recv cannot see the writes to count it */
	jw_key(w, "pages"); jw_u64(w, (tx->link.write_bytes + tx->compress_bytes) / PAGE);
	jw_key(w, "input_page_records"); jw_u64(w, tx->input_page_records);
	jw_key(w, "input_zero_records"); jw_u64(w, tx->input_zero_records);
	jw_key(w, "writes"); jw_u64(w, tx->link.writes);
	jw_key(w, "write_bytes"); jw_u64(w, tx->link.write_bytes);
	jw_key(w, "registrations"); jw_u64(w, tx->registrations);
	jw_key(w, "compress_messages"); jw_u64(w, tx->compress_msgs);
	jw_key(w, "compress_bytes"); jw_u64(w, tx->compress_bytes);
	jw_key(w, "qemu_file_messages"); jw_u64(w, tx->file_messages);
	jw_key(w, "qemu_file_bytes"); jw_u64(w, tx->file_bytes);
	jw_key(w, "messages_sent"); jw_u64(w, tx->link.messages_sent);
	jw_key(w, "messages_received"); jw_u64(w, tx->link.messages_received);
}

/* ---- set-up and the run ---- */


static int take_pin_all(void *ctx, int c, const char *arg, char *err)
{
	struct sender *tx = ctx;

	(void)arg;
	if (c != OPT_PIN_ALL) {
		snprintf(err, ERR_LEN, "bad option");
		return -1;
	}
	tx->want_pin_all = true;
	return 0;
}

static void operands(void *ctx, int argc, char **argv)
{
	struct sender *tx = ctx;
	char err[ERR_LEN];

	if (argc - optind != 1)
		die_usage("expected one HOST:PORT");
	if (net_endpoint_parse(argv[optind], true, &tx->ep, err) < 0)
		die_usage("%s", err);
	net_endpoint_name(&tx->ep, tx->x.endpoint, sizeof(tx->x.endpoint));
}

/* Connects, trying again while the destination refuses until the
 * deadline: it may not listen yet (a QEMU still starting). */
static int connect_link(struct sender *tx)
{
	uint64_t deadline = xfer_deadline(&tx->x, XFER_CONNECT_DEFAULT_S);
	char refusal[sizeof(tx->link.err)] = "";
	unsigned int tries = 0;

	for (;;) {
		uint64_t now = now_ns();

		tries++;
		rdma_link_init(&tx->link, tx->x.session.wake_fd);
		if (rdma_link_connect(&tx->link, &tx->ep, tx->want_pin_all ? RDMA_CAP_PIN_ALL : 0,
				      now < deadline ? (int)((deadline - now) / 1000000) : 0) == 0)
			return 0;
		if (tx->link.refused)
			snprintf(refusal, sizeof(refusal), "%s", tx->link.err);
		if (!tx->link.refused || now_ns() + 100000000 >= deadline ||
		    io_wait(tx->x.session.wake_fd, POLLIN, -1, 100) != 0) {
			/* the deadline may cut short the try after a refusal:
			 * the refusal is what the operator needs to read */
			if (!tx->link.refused && refusal[0] && now_ns() + 100000000 >= deadline)
				tx_fail(tx, "%s (%u tries until the deadline, all refused or cut short)",
					refusal, tries);
			else
				tx_fail(tx, "%s", tx->link.err);
			return -1;
		}
		rdma_link_close(&tx->link, false);
	}
}

static int setup_link(struct sender *tx)
{
	if (connect_link(tx) < 0)
		return -1;
	tx->pin_all = tx->want_pin_all && (tx->link.peer_caps.flags & RDMA_CAP_PIN_ALL);
	if (tx->want_pin_all && !tx->pin_all)
		msg("%s does not pin all its memory: registering chunks as they are used",
		    tx->link.peer);
	/* the destination speaks first: READY */
	tx->ready_expected = true;
	tx->ring = mmap(NULL, (size_t)MERGE_BUFFERS * RDMA_REG_CHUNK_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tx->ring == MAP_FAILED) {
		tx->ring = NULL;
		tx_fail(tx, "out of memory for the merge buffers");
		return -1;
	}
	tx->ring_mr = rdma_link_reg(&tx->link, tx->ring, (size_t)MERGE_BUFFERS * RDMA_REG_CHUNK_SIZE);
	if (!tx->ring_mr) {
		tx_fail(tx, "%s", tx->link.err);
		return -1;
	}
	return 0;
}

static int setup(void *ctx)
{
	struct sender *tx = ctx;

	if (out_init(&tx->file, -1, RDMA_SEND_INCREMENT) < 0)
		return -1;
	out_set_sink(&tx->file, send_file_bytes, tx);
	stream_writer_init(&tx->w, &tx->file, PAGE);
	return 0;
}

static int open_link(void *ctx, struct in_buf **in)
{
	(void)in;	/* stdin */
	return setup_link(ctx);
}

static void stop(void *ctx)
{
	((struct sender *)ctx)->r = NULL;	/* the driver frees it */
}

static void cleanup(void *ctx)
{
	struct sender *tx = ctx;
	bool failed = tx_failed(tx);

	/* the ERROR goes behind the writes in flight, from memory still
	 * registered */
	rdma_link_shutdown(&tx->link, failed);
	if (tx->ring_mr)
		ibv_dereg_mr(tx->ring_mr);
	rdma_link_close(&tx->link, failed);
	if (tx->ring)
		munmap(tx->ring, (size_t)MERGE_BUFFERS * RDMA_REG_CHUNK_SIZE);
	for (uint32_t i = 0; i < tx->nremote; i++)
		pagemap_free(&tx->remote[i].chunk_rkey);
	free(tx->remote);
	out_discard(&tx->file);
}

static const struct xfer_ops send_ops = {
	.applet = "rdma-send",
	.role = XFER_SENDER,
	.opts = send_opts,
	.help = &rdma_send_help,
	.option = take_pin_all,
	.operands = operands,
	.setup = setup,
	.open = open_link,
	.item = item,
	.end = end,
	.stop = stop,
	.moved = monitor_moved,
	.activity = activity,
	.stalled = stalled,
	.stats = stats_fields,
	.cleanup = cleanup,
};

int rdma_send_main(int argc, char **argv)
{
	struct sender tx = { .want_pin_all = false };

	return xfer_main(&tx.x, &send_ops, &tx, argc, argv);
}
