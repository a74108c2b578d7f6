// SPDX-License-Identifier: GPL-3.0-or-later
/* rdma-recv: the destination side of QEMU's RDMA migration protocol,
 * writing what it receives as one migration stream.
 *
 * The stream parser drives the protocol as QEMU's loader does: when it
 * needs bytes, a READY goes out and the source's next message comes in;
 * QEMU_FILE payloads are the stream's bytes, and the registration messages
 * that follow a HOOK record (the block list, chunk registrations, COMPRESS)
 * are answered on the spot. Guest RAM arrives by RDMA WRITE into memory
 * mapped per block as the stream's MEM_SIZE lists it (untouched pages cost
 * nothing); at the RAM END section the final content of every page the
 * source sent goes out as PAGE and ZERO records. HOOK records are dropped:
 * the output is a stream any QEMU loads.
 *
 * Threads: the applet's thread does the protocol and the output; a monitor
 * draws progress and enforces --timeout. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "applets.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "opts.h"
#include "outfile.h"
#include "rdma_link.h"
#include "stream.h"
#include "transfer.h"
#include "xfer_run.h"

enum { OPT_MAX_RAM = 0x2000 };

static const struct opt recv_opts[] = {
	XFER_ROW_OUTPUT,
	{ OPT_MAX_RAM, "max-ram", "SIZE", "refuse a source whose RAM blocks total more than "
	  "SIZE (e.g. 64G): all of it may end up pinned or filled (default: this machine's "
	  "memory, MemTotal)", NULL },
	XFER_ROW_TIMEOUT("fail when no source connects within SECONDS, or when no control "
			 "message comes for SECONDS (RDMA WRITEs are invisible to a destination; "
			 "default: wait forever)"),
	XFER_ROW_PROGRESS,
	XFER_ROW_STATS,
	OPT_HELP,
	OPT_END
};

const struct applet_help rdma_recv_help = {
	.opts = recv_opts,
	.text =
"usage: rdma-recv [OPTIONS] HOST:PORT > STREAM\n"
"\n"
"Listens with rdma_cm on HOST:PORT (an IPv4 address of an RDMA device) for\n"
"one migration source speaking QEMU's RDMA protocol: a QEMU started with\n"
"\"migrate rdma:HOST:PORT\", or rdma-send. Writes what it receives on stdout\n"
"(or FILE) as one migration stream: the device state as received and the\n"
"final content of every RAM page the source sent, as PAGE and ZERO records\n"
"in the RAM END section, which a QEMU loads with -incoming \"exec:cat\".\n"
"\n"
"Guest RAM lands by RDMA WRITE in memory mapped per RAM block: only the\n"
"1 MiB chunks the source registers, writes to or fills are ever touched\n"
"(all of it when the source asks for pin-all, which is honoured).\n"
"\n",
	.notes =
"\n"
"A source with another protocol version, or with more RAM than --max-ram,\n"
"is refused. Malformed messages (a length past the buffer, an unknown type,\n"
"a registration outside every block), an ERROR from the source, a\n"
"disconnect before the stream's end and a timeout fail the transfer: exit 1\n"
"naming the step, the source gets an ERROR, and no complete-looking output\n"
"is left.\n"
"\n"
XFER_USAGE_SIGNALS
"\n"
"Exit status: 0 a complete stream written, 1 failure, 2 usage error.\n",
};

#define RECV_MAP_FLAGS	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/* A 1 MiB chunk the source touched: registered (then any page of it may
 * have been written), or filled or written by records in part. */
struct chunk_state {
	struct ibv_mr *mr;
};

/* A RAM block as the destination holds it. */
struct dest_block {
	unsigned char *va;		/* length bytes, mapped */
	uint64_t length;
	uint64_t offset;		/* our ram_addr: blocks one after another */
	struct ibv_mr *whole;		/* pin-all */
	struct pagemap chunks;		/* chunk number -> struct chunk_state */
};

struct receiver {
	struct xfer x;
	struct net_endpoint ep;
	uint64_t max_ram;			/* --max-ram: the most RAM a source may claim */
	bool max_ram_given;
	struct rdma_link link;
	bool pin_all;

	/* The incoming stream, through the driver's reader (x.reader). */
	struct in_buf in;
	uint8_t ram_section_type;		/* of the RAM section open */
	uint64_t ram_total;
	char source[NET_NAME_LEN + 64];
	const unsigned char *file_bytes;	/* left of the current QEMU_FILE */
	size_t file_left;
	bool stream_done;			/* the source disconnected after its end */

	/* RAM. */
	struct dest_block *blocks;
	uint32_t nblocks;
	struct rdma_dest_block *announced;	/* what RAM_BLOCKS_RESULT said */
	uint32_t nannounced;			/* 0 until then */
	struct ram_pageset sent;		/* pages filled or written by records */
	bool ram_emitted;

	/* The output, through the driver's queue. */
	struct out_buf out;
	struct stream_writer w;

	/* Figures (monitor reads some). */
	_Atomic uint64_t messages, file_bytes_total, registered_bytes;
	uint64_t registrations, compress_msgs, compress_bytes;
	uint64_t output_page_records, output_zero_records;
	char peer[NET_NAME_LEN];
};

#define rx_fail(rx, ...) session_fail(&(rx)->x.session, __VA_ARGS__)

static bool rx_failed(struct receiver *rx)
{
	return session_failed(&rx->x.session);
}

/* ---- RAM ---- */

/* Whatever a source claims may end up pinned (pin-all, registrations) or
 * filled (COMPRESS): a block list past --max-ram is refused before any of
 * it is mapped. */
static int check_max_ram(struct receiver *rx, const struct ram_list *ram)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < ram->count; i++) {
		const struct ram_block *rb = &ram->blocks[i];
		char size[32], total[32], cap[32];

		if (rb->length <= rx->max_ram - sum) {
			sum += rb->length;
			continue;
		}
		human_bytes(size, sizeof(size), (double)rb->length);
		human_bytes(cap, sizeof(cap), (double)rx->max_ram);
		human_bytes(total, sizeof(total), (double)ram->total);
		rx_fail(rx, "%s claims RAM block '%s' of %s (%" PRIu64 " bytes), past --max-ram %s (%" PRIu64 " bytes, %s): refused (its %u blocks total %s)",
			rx->peer, rb->name, size, rb->length, cap, rx->max_ram,
			rx->max_ram_given ? "as given" : "this machine's memory", ram->count, total);
		return -1;
	}
	return 0;
}

static int map_blocks(struct receiver *rx, const struct ram_list *ram)
{
	uint64_t offset = 0;

	if (check_max_ram(rx, ram) < 0)
		return -1;
	rx->blocks = calloc(ram->count, sizeof(*rx->blocks));
	rx->announced = calloc(ram->count, sizeof(*rx->announced));
	if (!rx->blocks || !rx->announced) {
		rx_fail(rx, "out of memory for %u RAM blocks", ram->count);
		return -1;
	}
	rx->nblocks = ram->count;
	for (uint32_t i = 0; i < ram->count; i++) {
		struct dest_block *b = &rx->blocks[i];

		b->length = ram->blocks[i].length;
		b->offset = offset;
		offset += b->length;
		pagemap_init(&b->chunks, sizeof(struct chunk_state));
		b->va = mmap(NULL, b->length, PROT_READ | PROT_WRITE, RECV_MAP_FLAGS, -1, 0);
		if (b->va == MAP_FAILED) {
			b->va = NULL;
			rx_fail(rx, "cannot map %" PRIu64 " bytes for RAM block '%s': %s", b->length,
				ram->blocks[i].name, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int dereg_chunk(void *ctx, uint64_t key, void *chunk)
{
	struct chunk_state *cs = chunk;

	(void)ctx;
	(void)key;
	if (cs->mr)
		ibv_dereg_mr(cs->mr);
	return 0;
}

static void unmap_blocks(struct receiver *rx)
{
	for (uint32_t i = 0; rx->blocks && i < rx->nblocks; i++) {
		struct dest_block *b = &rx->blocks[i];

		if (b->whole)
			ibv_dereg_mr(b->whole);
		pagemap_each(&b->chunks, dereg_chunk, NULL);
		pagemap_free(&b->chunks);
		if (b->va)
			munmap(b->va, b->length);
	}
	free(rx->blocks);
	free(rx->announced);
	rx->blocks = NULL;
	ram_pageset_free(&rx->sent);
}

static struct chunk_state *touch_chunk(struct receiver *rx, struct dest_block *b, uint64_t c)
{
	struct chunk_state *cs = pagemap_chunk(&b->chunks, c, true);

	if (!cs)
		rx_fail(rx, "out of memory for the map of chunks");
	return cs;
}

/* The bytes from off to the end of its chunk, at most left. */
static uint64_t chunk_part(uint64_t off, uint64_t left)
{
	uint64_t in_chunk = RDMA_REG_CHUNK_SIZE - (off & (RDMA_REG_CHUNK_SIZE - 1));

	return left < in_chunk ? left : in_chunk;
}

/* Pages filled or written by records (their content counts as sent), in
 * [start, start + len) of block idx, which the caller checked: a chunk at
 * a time, stopping when the session failed. */
static int mark_sent(struct receiver *rx, uint32_t idx, uint64_t start, uint64_t len)
{
	const struct ram_block *rb = &stream_ram(rx->x.reader)->blocks[idx];

	while (len) {
		uint64_t n = chunk_part(start, len);

		if (rx_failed(rx) || !touch_chunk(rx, &rx->blocks[idx], start >> RDMA_REG_CHUNK_SHIFT))
			return -1;
		if (ram_pageset_add_range(&rx->sent, rb, start, n, 4096) < 0) {
			rx_fail(rx, "out of memory for the map of pages sent");
			return -1;
		}
		start += n;
		len -= n;
	}
	return 0;
}

/* ---- registration messages ---- */

static int answer_blocks_request(struct receiver *rx)
{
	unsigned char *p = rdma_link_payload(&rx->link);

	if (!rx->nblocks) {
		rx_fail(rx, "RAM_BLOCKS_REQUEST from %s before the stream's block list (MEM_SIZE)",
			rx->peer);
		return -1;
	}
	for (uint32_t i = 0; i < rx->nblocks; i++) {
		struct dest_block *b = &rx->blocks[i];
		struct rdma_dest_block *d = &rx->announced[i];

		if (rx->pin_all && !b->whole) {
			b->whole = rdma_link_reg(&rx->link, b->va, b->length);
			if (!b->whole) {
				rx_fail(rx, "pinning RAM block %u: %s", i, rx->link.err);
				return -1;
			}
			atomic_fetch_add(&rx->registered_bytes, b->length);
		}
		*d = (struct rdma_dest_block){
			.remote_host_addr = (uintptr_t)b->va,
			.offset = b->offset,
			.length = b->length,
			.remote_rkey = b->whole ? b->whole->rkey : 0,
		};
		rdma_dest_block_encode(d, p + (size_t)i * RDMA_DEST_BLOCK_SIZE);
	}
	rx->nannounced = rx->nblocks;
	/* a response: it goes without waiting for a READY */
	if (rdma_link_send(&rx->link, RDMA_CONTROL_RAM_BLOCKS_RESULT, 1,
			   rx->nblocks * RDMA_DEST_BLOCK_SIZE) < 0) {
		rx_fail(rx, "sending RAM_BLOCKS_RESULT: %s", rx->link.err);
		return -1;
	}
	return 0;
}

/* The chunks of one request, registered unless they are already. */
static int register_chunks(struct receiver *rx, const struct rdma_register *req,
			   struct rdma_register_result *res)
{
	struct dest_block *b;
	uint64_t first, last;
	char err[ERR_LEN];

	if (rdma_register_check(req, rx->announced, rx->nannounced, &first, &last, err) < 0) {
		rx_fail(rx, "from %s: %s", rx->peer, err);
		return -1;
	}
	b = &rx->blocks[req->current_index];
	for (uint64_t c = first; c <= last; c++) {
		uint64_t start = c << RDMA_REG_CHUNK_SHIFT;
		uint64_t len = b->length - start < RDMA_REG_CHUNK_SIZE ? b->length - start : RDMA_REG_CHUNK_SIZE;
		struct chunk_state *cs;

		/* a request may cover the whole block: a failure stops it */
		if (rx_failed(rx) || !(cs = touch_chunk(rx, b, c)))
			return -1;
		if (!cs->mr && !b->whole) {
			cs->mr = rdma_link_reg(&rx->link, b->va + start, len);
			if (!cs->mr) {
				rx_fail(rx, "registering chunk %" PRIu64 " of RAM block %u: %s", c,
					req->current_index, rx->link.err);
				return -1;
			}
			atomic_fetch_add(&rx->registered_bytes, len);
		}
		res->rkey = b->whole ? b->whole->rkey : cs->mr->rkey;
	}
	res->host_addr = (uintptr_t)b->va;
	rx->registrations++;
	return 0;
}

static int answer_register(struct receiver *rx, const struct rdma_control *h,
			   const unsigned char *payload)
{
	unsigned char *out = rdma_link_payload(&rx->link);

	/* the results go where the requests were read from: copy first */
	for (uint32_t i = 0; i < h->repeat; i++) {
		struct rdma_register req;
		struct rdma_register_result res;

		rdma_register_decode(payload + (size_t)i * RDMA_REGISTER_SIZE, &req);
		if (register_chunks(rx, &req, &res) < 0)
			return -1;
		rdma_register_result_encode(&res, out + (size_t)i * RDMA_REGISTER_RESULT_SIZE);
	}
	if (rdma_link_send(&rx->link, RDMA_CONTROL_REGISTER_RESULT, h->repeat,
			   h->repeat * RDMA_REGISTER_RESULT_SIZE) < 0) {
		rx_fail(rx, "sending REGISTER_RESULT: %s", rx->link.err);
		return -1;
	}
	return 0;
}

/* The fill of [off, off + n), inside one chunk. A zero fill costs no
 * memory where nothing is pinned: a chunk never touched reads as zero
 * already, and the whole pages of another are dropped (a private
 * anonymous page reads as zero after MADV_DONTNEED). Pinned pages must
 * stay: the registration holds them. */
static void fill_chunk_part(struct dest_block *b, uint64_t off, uint64_t n, uint8_t value)
{
	struct chunk_state *cs = pagemap_chunk(&b->chunks, off >> RDMA_REG_CHUNK_SHIFT, false);
	uint64_t lo = (off + 4095) & ~(uint64_t)4095, hi = (off + n) & ~(uint64_t)4095;

	if (!value && !b->whole && !cs)
		return;
	if (value || b->whole || cs->mr || lo >= hi ||
	    madvise(b->va + lo, hi - lo, MADV_DONTNEED) < 0) {
		memset(b->va + off, value, n);
		return;
	}
	memset(b->va + off, 0, lo - off);
	memset(b->va + hi, 0, off + n - hi);
}

/* A COMPRESS: a chunk at a time, so that a fill of a whole block stops
 * when the session fails; it is bounded by the block, which --max-ram
 * bounds. */
static int apply_compress(struct receiver *rx, const unsigned char *payload)
{
	struct rdma_compress c;
	struct dest_block *b;
	char err[ERR_LEN];
	uint64_t off, left;

	rdma_compress_decode(payload, &c);
	if (rdma_compress_check(&c, rx->announced, rx->nannounced, err) < 0) {
		rx_fail(rx, "from %s: %s", rx->peer, err);
		return -1;
	}
	b = &rx->blocks[c.block_idx];
	for (off = c.offset - b->offset, left = c.length; left; ) {
		uint64_t n = chunk_part(off, left);

		fill_chunk_part(b, off, n, (uint8_t)c.value);
		if (mark_sent(rx, c.block_idx, off, n) < 0)
			return -1;
		off += n;
		left -= n;
	}
	rx->compress_msgs++;
	rx->compress_bytes += c.length;
	return 0;
}

static int handle_unregister(struct receiver *rx, const unsigned char *payload)
{
	struct rdma_register req;

	rdma_register_decode(payload, &req);
	if (req.current_index >= rx->nblocks) {
		rx_fail(rx, "from %s: UNREGISTER_REQUEST for block %u, expected below %u", rx->peer,
			req.current_index, rx->nblocks);
		return -1;
	}
	/* The chunk stays marked written: what the source wrote there is
	 * final content. Its registration goes at the end. */
	if (rdma_link_send(&rx->link, RDMA_CONTROL_UNREGISTER_FINISHED, 1, 0) < 0) {
		rx_fail(rx, "sending UNREGISTER_FINISHED: %s", rx->link.err);
		return -1;
	}
	return 0;
}

/* One message that is not stream bytes. */
static int handle_control(struct receiver *rx, const struct rdma_control *h,
			  const unsigned char *payload)
{
	switch (h->type) {
	case RDMA_CONTROL_RAM_BLOCKS_REQUEST:
		return answer_blocks_request(rx);
	case RDMA_CONTROL_REGISTER_REQUEST:
		return answer_register(rx, h, payload);
	case RDMA_CONTROL_COMPRESS:
		return apply_compress(rx, payload);
	case RDMA_CONTROL_UNREGISTER_REQUEST:
		return handle_unregister(rx, payload);
	case RDMA_CONTROL_REGISTER_FINISHED:
		return 0;
	default:
		rx_fail(rx, "from %s: a %s message, which a source does not send", rx->peer,
			rdma_control_name(h->type));
		return -1;
	}
}

/* The stream parser's bytes: what is left of the last QEMU_FILE message,
 * else READY and the source's next message (registration ones handled on
 * the way). 0 once the source disconnected. */
static ssize_t next_bytes(void *ctx, void *p, size_t n)
{
	struct receiver *rx = ctx;

	while (!rx->file_left) {
		struct rdma_control h;
		const unsigned char *payload;

		if (rx_failed(rx)) {
			errno = ECANCELED;
			return -1;
		}
		/* the buffer is posted again before its payload is used: the
		 * source sends nothing more until our next READY */
		if (rdma_link_post_recv(&rx->link, RDMA_BUF_READY) < 0 ||
		    rdma_link_send(&rx->link, RDMA_CONTROL_READY, 1, 0) < 0 ||
		    rdma_link_recv(&rx->link, RDMA_BUF_READY, RDMA_CONTROL_NONE, &h, &payload) < 0) {
			if (rx->link.peer_gone)
				return 0;	/* the parser decides whether that was the end */
			rx_fail(rx, "%s", rx->link.err);
			errno = EPROTO;
			return -1;
		}
		atomic_fetch_add(&rx->messages, 1);
		if (h.type == RDMA_CONTROL_QEMU_FILE) {
			rx->file_bytes = payload;
			rx->file_left = h.len;
			atomic_fetch_add(&rx->file_bytes_total, h.len);
		} else if (handle_control(rx, &h, payload) < 0) {
			errno = EPROTO;
			return -1;
		}
	}
	if (n > rx->file_left)
		n = rx->file_left;
	memcpy(p, rx->file_bytes, n);
	rx->file_bytes += n;
	rx->file_left -= n;
	return (ssize_t)n;
}

/* ---- the output ---- */

struct emit_ctx {
	struct receiver *rx;
	uint32_t idx;
};

static int emit_page(struct receiver *rx, const struct ram_block *rb, unsigned char *page,
		     uint64_t addr)
{
	if (page_is_zero(page, 4096)) {
		stream_write_zero(&rx->w, rb, addr, 0);
		rx->output_zero_records++;
	} else {
		stream_write_page(&rx->w, rb, addr, page);
		rx->output_page_records++;
	}
	return rx->out.err ? -1 : 0;
}

/* The pages of one touched chunk that the source sent: all of them once
 * it is registered (RDMA WRITEs say nothing to the destination), else
 * those filled or written by records. */
static int emit_chunk(void *arg, uint64_t c, void *chunk)
{
	struct emit_ctx *e = arg;
	struct receiver *rx = e->rx;
	struct dest_block *b = &rx->blocks[e->idx];
	const struct ram_block *rb = &stream_ram(rx->x.reader)->blocks[e->idx];
	const struct chunk_state *cs = chunk;
	uint64_t end = (c + 1) << RDMA_REG_CHUNK_SHIFT;

	if (end > b->length)
		end = b->length;
	if (rx_failed(rx))
		return -1;
	for (uint64_t a = c << RDMA_REG_CHUNK_SHIFT; a < end; a += 4096)
		if ((cs->mr || ram_pageset_has(&rx->sent, rb, a, 4096)) &&
		    emit_page(rx, rb, b->va + a, a) < 0)
			return -1;
	return 0;
}

/* Every page the source sent, with its final content; with pin-all, every
 * page (the source may have written any). */
static int emit_ram(struct receiver *rx)
{
	for (uint32_t i = 0; i < rx->nblocks; i++) {
		struct dest_block *b = &rx->blocks[i];
		struct emit_ctx e = { rx, i };

		if (b->whole) {
			const struct ram_block *rb = &stream_ram(rx->x.reader)->blocks[i];

			for (uint64_t a = 0; a < b->length; a += 4096)
				if (((a & (RDMA_REG_CHUNK_SIZE - 1)) == 0 && rx_failed(rx)) ||
				    emit_page(rx, rb, b->va + a, a) < 0)
					return -1;
		} else if (pagemap_each(&b->chunks, emit_chunk, &e) != 0) {
			if (!rx->out.err && !rx_failed(rx))
				rx_fail(rx, "out of memory listing the chunks of RAM block %u", i);
			return -1;
		}
	}
	rx->ram_emitted = true;
	return 0;
}

/* A page record in the stream itself (a source may send them instead of
 * writes): its content goes into the block. */
static int apply_page(struct receiver *rx, const struct stream_item *it)
{
	struct dest_block *b = &rx->blocks[it->block->index];

	if (it->type == SI_RAM_PAGE)
		memcpy(b->va + it->addr, it->data, it->len);
	else if (it->fill || pagemap_count(&b->chunks) || b->whole)
		memset(b->va + it->addr, it->fill, 4096);
	return mark_sent(rx, it->block->index, it->addr, 4096);
}

static int take_item(struct receiver *rx, const struct stream_item *it, uint8_t *ram_section_type)
{
	const struct ram_list *ram = stream_ram(rx->x.reader);

	if (it->type == SI_RAM_MEM_SIZE)
		rx->ram_total = ram->total;

	switch (it->type) {
	case SI_SECTION:
		if (it->section->kind == SECTION_KIND_RAM)
			*ram_section_type = it->section_type;
		return stream_write_item(&rx->w, it, ram);
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(rx->x.reader) != 4096) {
			rx_fail(rx, "target page size %u, this destination supports 4096 only",
				stream_page_size(rx->x.reader));
			return -1;
		}
		ram_pageset_init(&rx->sent);
		if (map_blocks(rx, ram) < 0)
			return -1;
		return stream_write_item(&rx->w, it, ram);
	case SI_RAM_PAGE:
	case SI_RAM_ZERO:
		return apply_page(rx, it);
	case SI_RAM_HOOK:
	case SI_RAM_MULTIFD_FLUSH:
		return 0;	/* transport records: not in a file stream */
	case SI_RAM_EOS:
		if (*ram_section_type == QEMU_VM_SECTION_END && !rx->ram_emitted && emit_ram(rx) < 0)
			return -1;
		return stream_write_item(&rx->w, it, ram);
	case SI_EOF:
	case SI_VMDESC:
		return 0;	/* written once the stream is known complete */
	default:
		return stream_write_item(&rx->w, it, ram);
	}
}

/* Reads the whole stream and writes it out; the end of the stream only
 * once it is all there. */
static int item(void *ctx, struct stream_reader *r, const struct stream_item *it)
{
	struct receiver *rx = ctx;

	(void)r;	/* rx->x.reader */
	if (take_item(rx, it, &rx->ram_section_type) < 0)
		return -1;
	if (rx->out.err) {
		rx_fail(rx, "writing %s: %s", rx->x.q.name, strerror(rx->out.err));
		return -1;
	}
	return 0;
}

/* The stream ended: it must have brought its RAM to the output. */
static int end(void *ctx, struct stream_reader *r)
{
	struct receiver *rx = ctx;

	if (rx->nblocks && !rx->ram_emitted) {
		rx_fail(rx, "the stream from %s ended without a RAM END section", rx->peer);
		return -1;
	}
	stream_write_end(&rx->w, r);
	if (out_flush(&rx->out) < 0 && !rx_failed(rx))
		rx_fail(rx, "writing %s: %s", rx->x.q.name, strerror(rx->out.err));
	return rx_failed(rx) ? -1 : 0;
}

static const char *source(void *ctx)
{
	struct receiver *rx = ctx;

	if (rx->link.peer_gone)
		snprintf(rx->source, sizeof(rx->source), "%s disconnected before the end of its stream",
			 rx->peer);
	else
		snprintf(rx->source, sizeof(rx->source), "the stream from %s", rx->peer);
	return rx->source;
}

/* ---- monitor ---- */

static uint64_t monitor_moved(void *ctx, char *extra, size_t n)
{
	struct receiver *rx = ctx;
	char hb[32];

	if (extra)
		snprintf(extra, n, "messages %" PRIu64 "  registered %s",
			 (uint64_t)rx->messages,
			 human_bytes(hb, sizeof(hb), (double)rx->registered_bytes));
	return rx->file_bytes_total + rx->registered_bytes;
}

/* control messages: RDMA WRITEs are invisible to a destination */
static uint64_t activity(void *ctx)
{
	return ((struct receiver *)ctx)->messages;
}

static void stalled(void *ctx, unsigned int timeout_s)
{
	rx_fail((struct receiver *)ctx, "no control message came for %u s (--timeout)", timeout_s);
}

static void stats_fields(void *ctx, struct json_writer *w)
{
	struct receiver *rx = ctx;

	jw_key(w, "peer"); jw_string(w, rx->peer);
	jw_key(w, "pin_all"); jw_bool(w, rx->pin_all);
	jw_key(w, "messages_received"); jw_u64(w, rx->link.messages_received);
	jw_key(w, "messages_sent"); jw_u64(w, rx->link.messages_sent);
	jw_key(w, "qemu_file_bytes"); jw_u64(w, rx->file_bytes_total);
	jw_key(w, "ram_total"); jw_u64(w, rx->ram_total);
	jw_key(w, "max_ram"); jw_u64(w, rx->max_ram);
	jw_key(w, "registrations"); jw_u64(w, rx->registrations);
	jw_key(w, "registered_bytes"); jw_u64(w, rx->registered_bytes);
	jw_key(w, "compress_messages"); jw_u64(w, rx->compress_msgs);
	jw_key(w, "compress_bytes"); jw_u64(w, rx->compress_bytes);
	/* no "pages" as rdma-send has: an RDMA WRITE tells the destination
	 * nothing, so which pages the writes covered is unknown here */
	jw_key(w, "output_page_records"); jw_u64(w, rx->output_page_records);
	jw_key(w, "output_zero_records"); jw_u64(w, rx->output_zero_records);
	jw_key(w, "output_bytes"); jw_u64(w, rx->out.written);
}

/* ---- set-up and the run ---- */


static int take_own(void *ctx, int c, const char *arg, char *err)
{
	struct receiver *rx = ctx;

	switch (c) {
	case OPT_MAX_RAM:
		if (parse_size(arg, &rx->max_ram) < 0 || !rx->max_ram) {
			snprintf(err, ERR_LEN, "--max-ram %s: expected a size like 16G", arg);
			return -1;
		}
		rx->max_ram_given = true;
		return 0;
	default:
		snprintf(err, ERR_LEN, "bad option");
		return -1;
	}
}

/* --max-ram's default: the machine's memory (MemTotal). */
static uint64_t machine_memory(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		die_errno("cannot read this machine's memory size (give --max-ram)");
	return (uint64_t)si.totalram * si.mem_unit;
}

static void operands(void *ctx, int argc, char **argv)
{
	struct receiver *rx = ctx;
	char err[ERR_LEN];

	if (argc - optind != 1)
		die_usage("expected one HOST:PORT to listen on");
	if (!rx->max_ram_given)
		rx->max_ram = machine_memory();
	if (net_endpoint_parse(argv[optind], true, &rx->ep, err) < 0)
		die_usage("%s", err);
	net_endpoint_name(&rx->ep, rx->x.endpoint, sizeof(rx->x.endpoint));
}

static int setup(void *ctx)
{
	struct receiver *rx = ctx;

	if (out_init(&rx->out, -1, 1u << 20) < 0 || in_init(&rx->in, -1, 4u << 20) < 0)
		return -1;
	xfer_output_buf(&rx->x, &rx->out);
	stream_writer_init(&rx->w, &rx->out, 4096);
	in_set_source(&rx->in, next_bytes, rx);
	return 0;
}

/* Listens and accepts one source; the stream comes in its QEMU_FILE
 * messages. */
static int open_link(void *ctx, struct in_buf **in)
{
	struct receiver *rx = ctx;
	int timeout_ms = rx->x.opts.timeout_s ? (int)rx->x.opts.timeout_s * 1000 : -1;

	rdma_link_init(&rx->link, rx->x.session.wake_fd);
	if (rdma_link_listen(&rx->link, &rx->ep) < 0) {
		rx_fail(rx, "%s", rx->link.err);
		return -1;
	}
	msg("listening on %s", rx->x.endpoint);
	if (rdma_link_accept(&rx->link, RDMA_CAP_PIN_ALL, timeout_ms) < 0) {
		rx_fail(rx, "%s", rx->link.err);
		return -1;
	}
	snprintf(rx->peer, sizeof(rx->peer), "%s", rx->link.peer);
	rx->pin_all = rx->link.peer_caps.flags & RDMA_CAP_PIN_ALL;
	msg("source %s connected%s", rx->peer, rx->pin_all ? ", pin-all" : "");
	*in = &rx->in;
	return 0;
}

/* Registrations go before the protection domain they belong to. */
static void cleanup(void *ctx)
{
	struct receiver *rx = ctx;
	bool failed = rx_failed(rx);

	out_discard(&rx->out);
	rdma_link_shutdown(&rx->link, failed);
	unmap_blocks(rx);
	rdma_link_close(&rx->link, failed);
	in_free(&rx->in);
}

static const struct xfer_ops recv_ops = {
	.applet = "rdma-recv",
	.role = XFER_RECEIVER,
	.opts = recv_opts,
	.help = &rdma_recv_help,
	.option = take_own,
	.operands = operands,
	.setup = setup,
	.open = open_link,
	.item = item,
	.end = end,
	.source = source,
	.moved = monitor_moved,
	.activity = activity,
	.stalled = stalled,
	.stats = stats_fields,
	.cleanup = cleanup,
};

int rdma_recv_main(int argc, char **argv)
{
	struct receiver rx = { .max_ram = 0 };

	return xfer_main(&rx.x, &recv_ops, &rx, argc, argv);
}
