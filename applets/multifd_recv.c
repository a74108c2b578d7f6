// SPDX-License-Identifier: GPL-3.0-or-later
/* multifd-recv: receive a migration stream over QEMU's multifd TCP
 * channels and write it out as one stream.
 *
 * Threads: an acceptor takes and identifies connections until the main
 * channel and every multifd channel are in, then stops listening (as
 * QEMU does); the applet's thread parses the main channel and re-emits
 * it; one thread per multifd channel decodes, decompresses and queues its
 * pages; one writer drains the output queue (outq.h); a monitor draws
 * progress and enforces --timeout. Output is queued under the session
 * lock in stream order and written without it.
 *
 * Where pages go: into the RAM section the main channel has open in the
 * output, or, when none is, into a PART section of the RAM section that a
 * channel opens itself and the main thread closes (EOS, footer) before it
 * writes anything else. So that a channel never has to wait for the main
 * thread in the middle of a section, the main thread writes a RAM EOS
 * together with its footer, and stages any other section in memory until
 * it is complete.
 *
 * Sync points: the k-th RAM EOS on the main channel is written only once
 * every channel has received its k-th SYNC (and queued the pages before
 * it); a channel that has received k SYNCs queues further pages only once
 * that EOS is out, or a page sent again could be overtaken by its older
 * copy. Channels wait for nothing else but the block list, which comes
 * before any page, so a sender without a return path (QEMU) cannot
 * deadlock against us: it writes the k-th EOS only after every channel's
 * k-th SYNC. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acceptor.h"
#include "applets.h"
#include "bytes.h"
#include "clock.h"
#include "io.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "mapped_ram.h"
#include "multifd.h"
#include "net.h"
#include "opts.h"
#include "outfile.h"
#include "outq.h"
#include "postcopy_wire.h"
#include "stream.h"
#include "transfer.h"
#include "xfer_run.h"

enum { OPT_MAPPED_RAM = 0x2000 };

static const struct opt recv_opts[] = {
	XFER_ROW_CHANNELS,
	XFER_ROW_COMPRESS("none, zlib or zstd: what the sender uses (default none)"),
	XFER_ROW_UUID("uuid every channel must carry (default all zero, as QEMU without -uuid)"),
	XFER_ROW_OUTPUT,
	{ OPT_MAPPED_RAM, "mapped-ram", NULL, "write FILE (-o, a regular file) as a mapped-ram "
	  "file, QEMU 9.0+'s fixed-offset layout: each channel writes its pages straight to "
	  "their places, zero pages stay holes; QEMU loads it with migrate-incoming file: "
	  "and the mapped-ram capability", NULL },
	XFER_ROW_TIMEOUT("fail when the connections are not all in after SECONDS, or when no "
			 "byte moves for SECONDS, saying whether the channels or the output "
			 "stalled (default: wait forever, as QEMU)"),
	XFER_ROW_PROGRESS,
	XFER_ROW_STATS,
	OPT_HELP,
	OPT_END
};

const struct applet_help multifd_recv_help = {
	.opts = recv_opts,
	.text =
"usage: multifd-recv [OPTIONS] [HOST]:PORT > STREAM\n"
"\n"
"Listens on HOST:PORT ([IPV6]:PORT; :PORT for every address; port 0 for any\n"
"free port) for a QEMU source with the multifd capability, or multifd-send:\n"
"one main channel and CHANNELS multifd channels, accepted in any order and\n"
"told apart by their first bytes. Once all are in it stops listening, as\n"
"QEMU does. Writes one migration stream on stdout (or FILE): the main\n"
"channel's records with the multifd pages put in place, which QEMU loads\n"
"with -incoming \"exec:cat STREAM\". The address it listens on goes to\n"
"stderr (\"listening on ADDR:PORT\") and into --stats-json. With\n"
"--mapped-ram, FILE is a mapped-ram file instead, written in parallel.\n"
"\n",
	.notes =
"\n"
"A connection that closes, stays silent for 10 s or sends foreign bytes\n"
"before it says what it is (a port scan, a health check) is dropped with a\n"
"line on stderr; it does not fail the transfer. What fails it, naming the\n"
"channel: an init packet with another uuid, a channel id out of range or\n"
"seen twice, a second main channel, a malformed packet, a channel closed\n"
"early, a timeout. A failed transfer leaves no output that looks complete:\n"
"the stream does not end with its EOF, FILE is not created, and every\n"
"connection is reset so that the sender fails too. A device section is\n"
"held in memory until it is complete, up to 1 GiB.\n"
"\n"
XFER_USAGE_SIGNALS
"\n"
"Exit status: 0 a complete stream written, 1 failure, 2 usage error.\n",
};

#define STAGE_MAX		(1ull << 30)
#define OUTQ_ARENA		(8u << 20)
#define OUTQ_ENTRIES		16384u
#define SCRATCH_SIZE		(2u << 20)	/* the largest record main emits */

struct receiver;

/* A packet's pages and their record headers, on their way out. */
struct recv_slot {
	unsigned char *pages;			/* MULTIFD_PACKET_DATA bytes */
	/* a record header, and a ZERO record's fill byte */
	unsigned char header[MULTIFD_PACKET_PAGES][STREAM_PAGE_HEADER_MAX + 1];
	uint64_t written_at;			/* output position past them */
};

struct recv_channel {
	struct receiver *rx;
	unsigned int id;
	int fd;
	char peer[NET_NAME_LEN];
	pthread_t thread;
	bool started;
	void *dctx;
	unsigned char header[MULTIFD_PACKET_HEADER_SIZE];
	struct mfd_packet pkt;
	struct recv_slot slot[2];		/* one decoded while one is written */
	unsigned int next_slot;
	uint64_t packets_seen;			/* this thread only */
	/* Under the session lock. */
	uint64_t syncs;
	uint64_t pages_since_sync;
	bool ended;				/* the thread is done */
	bool closed;				/* ... after an orderly close */
	struct chan_counters cnt;
};

struct receiver {
	struct xfer x;
	struct net_endpoint ep;

	/* Under x.session.lock. */
	pthread_cond_t cond;		/* any change of the state below */
	int main_fd;
	char main_peer[NET_NAME_LEN];
	char source[NET_NAME_LEN + 32];	/* its name in messages */
	struct in_buf main_in;		/* what it says */
	struct acceptor acc;		/* the main channel and every multifd channel */
	struct recv_channel *ch;

	/* The output, under the lock. */
	struct out_buf scratch;		/* main's records, before they are queued */
	struct stream_writer w;		/* its last block decides CONTINUE */
	const struct ram_list *ram;	/* once blocks_known */
	bool blocks_known;
	const struct section_info *ram_section;
	bool ram_open;			/* main's RAM section, before its EOS */
	bool own_part_open;		/* a PART opened for channel pages */
	uint64_t sync_points;		/* sync points completed */
	/* What a sync point is on the main channel: a RAM EOS (QEMU 7.2, and
	 * machines up to 8.0: multifd-flush-after-each-section), or, once the
	 * stream has one, a MULTIFD_FLUSH record (later machines flush once a
	 * round and send EOS without a sync). Decided by the first of the two. */
	bool flush_mode, eos_synced;
	uint64_t own_parts;
	uint64_t ram_total;
	int first_closed;		/* first channel closed in order, or -1 */

	/* Main thread only: a non-RAM section (or package) is staged in a
	 * memfd and queued whole once complete. */
	int stage_fd;
	struct out_buf stage;
	struct stream_writer stage_w;
	bool staging;
	uint64_t package_left;

	/* --mapped-ram: the file's layout once the block list is known;
	 * pages are pwritten by whoever received them, without the lock */
	bool mapped_ram;
	struct mapped_ram_out mro;

	/* The source opened a return path (multifd-send's handshake, or a
	 * QEMU source with return-path): PINGs are answered, and a SHUT 0
	 * says at the end that the output is complete. */
	bool rp_open;
	uint64_t pings;

	/* Read by the monitor. */
	_Atomic uint64_t main_bytes, zero_pages;
};

/* The first failure of the transfer wins; it wakes every thread. */
#define rx_fail(rx, ...) session_fail(&(rx)->x.session, __VA_ARGS__)

static bool rx_failed(struct receiver *rx)
{
	return session_failed(&rx->x.session);
}

/* ---- the output (lock held) ---- */

/* Queues what main's writer put in the scratch buffer. */
static void queue_scratch_locked(struct receiver *rx)
{
	outq_copy(&rx->x.q, rx->scratch.buf, rx->scratch.len);
	rx->scratch.len = 0;
}

/* Closes the PART section channels opened, before main writes. */
static void close_own_part_locked(struct receiver *rx)
{
	if (!rx->own_part_open)
		return;
	stream_write_ram_flag(&rx->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&rx->w, rx->ram_section->id);
	rx->own_part_open = false;
}

/* Queues an item of the main channel (with the EOS and footer of a RAM
 * EOS item); need bounds the bytes it takes. */
static int emit_locked(struct receiver *rx, const struct stream_item *it,
		       const struct ram_list *ram, size_t need)
{
	if (outq_reserve(&rx->x.q, need + 64, 2) < 0)
		return -1;
	close_own_part_locked(rx);
	stream_write_item(&rx->w, it, ram);
	if (it->type == SI_RAM_EOS)
		stream_write_footer(&rx->w, it->section->id);
	if (rx->scratch.err || rx->scratch.len > need + 64) {
		session_fail_locked(&rx->x.session, "internal: a record of %zu bytes did not fit",
				    rx->scratch.len);
		return -1;
	}
	queue_scratch_locked(rx);
	return 0;
}

/* What an item can take in the output: its input size, and a block name
 * where the input had CONTINUE. */
static size_t item_need(const struct stream_item *it)
{
	return (size_t)(it->end_offset - it->offset) + 1 + RAM_NAME_MAX;
}

static int emit(struct receiver *rx, const struct stream_item *it, const struct ram_list *ram)
{
	int ret;

	pthread_mutex_lock(&rx->x.session.lock);
	ret = emit_locked(rx, it, ram, item_need(it));
	pthread_mutex_unlock(&rx->x.session.lock);
	return ret;
}

/* ---- channel threads ---- */

static int channel_read(struct recv_channel *ch, void *p, size_t n, const char *what)
{
	struct receiver *rx = ch->rx;
	ssize_t got = read_full(ch->fd, p, n);

	if (got == (ssize_t)n) {
		atomic_fetch_add_explicit(&ch->cnt.bytes, n, memory_order_relaxed);
		return 1;
	}
	if (got == 0 && !strcmp(what, "header"))
		return 0;
	if (got < 0)
		rx_fail(rx, "channel %u: reading packet %" PRIu64 ": %s", ch->id,
			ch->packets_seen + 1, strerror(errno));
	else
		rx_fail(rx, "channel %u: connection closed inside packet %" PRIu64
			" (%zd of %zu bytes of its %s)", ch->id, ch->packets_seen + 1,
			got, n, what);
	return -1;
}

/* Queues a packet's pages as records, in main's RAM section or a PART of
 * our own. */
static int queue_pages(struct recv_channel *ch, struct recv_slot *slot, const struct ram_block *b)
{
	struct receiver *rx = ch->rx;
	struct session *s = &rx->x.session;
	const struct mfd_packet *pkt = &ch->pkt;
	int ret = -1;

	pthread_mutex_lock(&s->lock);
	/* Pages after our SYNC number k belong to sync point k + 1: they go
	 * out only after main's EOS number k. */
	while (rx->sync_points < ch->syncs)
		if (session_wait(s, &rx->cond))
			goto out;
	if (outq_reserve(&rx->x.q, 32, 2 * pkt->normal_pages + pkt->zero_pages + 1) < 0)
		goto out;
	if (!rx->ram_open && !rx->own_part_open) {
		stream_write_section(&rx->w, QEMU_VM_SECTION_PART, rx->ram_section);
		queue_scratch_locked(rx);
		rx->own_part_open = true;
		rx->own_parts++;
	}
	for (uint32_t i = 0; i < pkt->normal_pages; i++) {
		size_t n = stream_page_header(&rx->w, b, pkt->offset[i], RAM_SAVE_FLAG_PAGE,
					      slot->header[i]);

		outq_ref(&rx->x.q, slot->header[i], n);
		slot->written_at = outq_ref(&rx->x.q, slot->pages + (size_t)i * MULTIFD_PAGE_SIZE,
					    MULTIFD_PAGE_SIZE);
	}
	/* zero pages listed in the packet (QEMU 9.0+): ZERO records, fill 0 */
	for (uint32_t i = pkt->normal_pages; i < pkt->normal_pages + pkt->zero_pages; i++) {
		size_t n = stream_page_header(&rx->w, b, pkt->offset[i], RAM_SAVE_FLAG_ZERO,
					      slot->header[i]);

		slot->header[i][n] = 0;
		slot->written_at = outq_ref(&rx->x.q, slot->header[i], n + 1);
	}
	ch->pages_since_sync += pkt->normal_pages + pkt->zero_pages;
	ret = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* --mapped-ram: a packet's pages go straight to their places in the
 * file, its zero pages clear their bits. After the same wait as queued
 * pages, so that a page sent again is never overtaken by its older copy;
 * the writes themselves without the lock. */
static int place_pages(struct recv_channel *ch, struct recv_slot *slot, const struct ram_block *b)
{
	struct receiver *rx = ch->rx;
	struct session *s = &rx->x.session;
	const struct mfd_packet *pkt = &ch->pkt;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	while (rx->sync_points < ch->syncs && !ret)
		if (session_wait(s, &rx->cond))
			ret = -1;
	if (!ret)
		ch->pages_since_sync += pkt->normal_pages + pkt->zero_pages;
	pthread_mutex_unlock(&s->lock);
	for (uint32_t i = 0; !ret && i < pkt->normal_pages; i++) {
		uint32_t n = 1;

		/* a run of pages contiguous in the block: one write */
		while (i + n < pkt->normal_pages && pkt->offset[i + n] == pkt->offset[i] + n * MULTIFD_PAGE_SIZE)
			n++;
		ret = mapped_ram_out_run(&rx->mro, b, pkt->offset[i],
					 slot->pages + (size_t)i * MULTIFD_PAGE_SIZE, n);
		i += n - 1;
	}
	for (uint32_t i = pkt->normal_pages; !ret && i < pkt->normal_pages + pkt->zero_pages; i++)
		ret = mapped_ram_out_fill(&rx->mro, b, pkt->offset[i], 0);
	if (ret < 0 && !rx_failed(rx))
		rx_fail(rx, "channel %u: writing its pages to %s: %s", ch->id, rx->x.q.name,
			strerror(rx->mro.err ? rx->mro.err : errno));
	return ret;
}

/* The block list comes on the main channel before any page; a slot is
 * free once the output took what it held. */
static int wait_for_slot(struct recv_channel *ch, struct recv_slot *slot)
{
	struct receiver *rx = ch->rx;
	struct session *s = &rx->x.session;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	while (!rx->blocks_known && !ret)
		if (session_wait(s, &rx->cond))
			ret = -1;
	if (!ret)
		ret = outq_wait_written(&rx->x.q, slot->written_at);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int receive_pages(struct recv_channel *ch)
{
	struct receiver *rx = ch->rx;
	const struct compress_method *m = rx->x.opts.method;
	struct mfd_packet *pkt = &ch->pkt;
	struct recv_slot *slot = &ch->slot[ch->next_slot];
	char err[ERR_LEN];
	const struct ram_block *b;
	void *payload;

	ch->next_slot ^= 1;
	if (wait_for_slot(ch, slot) < 0)
		return -1;
	b = mfd_packet_block(pkt, rx->ram, err);
	if (!b) {
		rx_fail(rx, "channel %u: packet %" PRIu64 ": %s", ch->id, pkt->packet_num, err);
		return -1;
	}
	/* a zero-only packet has no payload, compressed or not */
	if (pkt->normal_pages) {
		payload = m->recv_buffer(ch->dctx, slot->pages, pkt->next_packet_size);
		if (channel_read(ch, payload, pkt->next_packet_size, "payload") <= 0)
			return -1;
		if (m->recv(ch->dctx, payload, pkt->next_packet_size, slot->pages,
			    (size_t)pkt->normal_pages * MULTIFD_PAGE_SIZE, err) < 0) {
			rx_fail(rx, "channel %u: packet %" PRIu64 ": %s", ch->id, pkt->packet_num, err);
			return -1;
		}
	}
	if ((rx->mapped_ram ? place_pages(ch, slot, b) : queue_pages(ch, slot, b)) < 0)
		return -1;
	atomic_fetch_add_explicit(&ch->cnt.pages, pkt->normal_pages, memory_order_relaxed);
	atomic_fetch_add_explicit(&rx->zero_pages, pkt->zero_pages, memory_order_relaxed);
	atomic_fetch_add_explicit(&ch->cnt.payload_bytes, pkt->next_packet_size,
				  memory_order_relaxed);
	return 0;
}

/* 1: a packet handled, 0: the channel closed in order, -1: failure. */
static int receive_packet(struct recv_channel *ch)
{
	struct receiver *rx = ch->rx;
	struct mfd_packet *pkt = &ch->pkt;
	uint64_t last_num = pkt->packet_num;
	char err[ERR_LEN];
	int rc;

	rc = channel_read(ch, ch->header, sizeof(ch->header), "header");
	if (rc <= 0)
		return rc;
	ch->packets_seen++;
	if (mfd_packet_decode(ch->header, pkt, rx->x.opts.method->wire_flag, err) < 0) {
		rx_fail(rx, "channel %u: packet %" PRIu64 " of the channel: %s%s", ch->id,
			ch->packets_seen, err, strstr(err, "compression flag") ? " (see -z)" : "");
		return -1;
	}
	/* One counter over all channels: it never goes back on one. */
	if (ch->packets_seen > 1 && pkt->packet_num < last_num) {
		rx_fail(rx, "channel %u: packet_num %" PRIu64 " after %" PRIu64
			", expected numbers that never go back", ch->id, pkt->packet_num, last_num);
		return -1;
	}
	if (pkt->normal_pages + pkt->zero_pages && receive_pages(ch) < 0)
		return -1;
	atomic_fetch_add_explicit(&ch->cnt.packets, 1, memory_order_relaxed);
	if (pkt->flags & MULTIFD_FLAG_SYNC) {
		pthread_mutex_lock(&rx->x.session.lock);
		ch->syncs++;
		atomic_fetch_add_explicit(&ch->cnt.syncs, 1, memory_order_relaxed);
		ch->pages_since_sync = 0;
		pthread_cond_broadcast(&rx->cond);
		pthread_mutex_unlock(&rx->x.session.lock);
	}
	return 1;
}

static void *recv_channel_thread(void *arg)
{
	struct recv_channel *ch = arg;
	struct receiver *rx = ch->rx;
	int rc;

	while ((rc = receive_packet(ch)) > 0)
		;
	pthread_mutex_lock(&rx->x.session.lock);
	ch->ended = true;
	/* After a failure our own shutdown ends the reads: not the peer's. */
	if (rc == 0 && !rx_failed(rx)) {
		ch->closed = true;
		if (rx->first_closed < 0)
			rx->first_closed = (int)ch->id;
	}
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->x.session.lock);
	return NULL;
}

/* ---- accepting and telling the connections apart ---- */

/* A multifd channel: its init packet checked, its thread started. */
static enum accept_verdict start_channel(struct receiver *rx, struct accept_conn *c)
{
	struct mfd_init init;
	struct recv_channel *ch;
	char err[ERR_LEN];

	if (mfd_init_decode(c->buf, &init, rx->x.opts.uuid, rx->x.opts.channels, err) < 0) {
		rx_fail(rx, "channel %u from %s refused: %s", init.id, c->peer, err);
		return ACCEPT_FAIL;
	}
	ch = &rx->ch[init.id];
	if (ch->fd >= 0) {
		rx_fail(rx, "channel %u from %s refused: channel %u is already connected from %s",
			init.id, c->peer, init.id, ch->peer);
		return ACCEPT_FAIL;
	}
	if (net_set_nonblocking(c->fd, false) < 0) {
		rx_fail(rx, "channel %u: %s", init.id, strerror(errno));
		return ACCEPT_FAIL;
	}
	pthread_mutex_lock(&rx->x.session.lock);
	ch->fd = c->fd;
	/* Only the reading side: a FIN would look like an orderly end to the
	 * sender, which must see the reset that close_connections() sends. */
	if (session_watch_fd_locked(&rx->x.session, ch->fd, SHUT_RD) < 0)
		session_fail_locked(&rx->x.session, "channel %u: %s", init.id, SESSION_WATCH_FULL_FDS);
	pthread_mutex_unlock(&rx->x.session.lock);
	c->fd = -1;
	if (rx_failed(rx))
		return ACCEPT_FAIL;
	snprintf(ch->peer, sizeof(ch->peer), "%s", c->peer);
	atomic_store_explicit(&ch->cnt.bytes, MULTIFD_INIT_SIZE, memory_order_relaxed);
	if (pthread_create(&ch->thread, NULL, recv_channel_thread, ch)) {
		rx_fail(rx, "channel %u: cannot start its thread", init.id);
		return ACCEPT_FAIL;
	}
	ch->started = true;
	return ACCEPT_TAKE;
}

static enum accept_verdict take_main(struct receiver *rx, struct accept_conn *c)
{
	if (rx->main_fd >= 0) {
		rx_fail(rx, "connection from %s refused: a second main channel (the first came from %s)",
			c->peer, rx->main_peer);
		return ACCEPT_FAIL;
	}
	if (net_set_nonblocking(c->fd, false) < 0) {
		rx_fail(rx, "main channel: %s", strerror(errno));
		return ACCEPT_FAIL;
	}
	pthread_mutex_lock(&rx->x.session.lock);
	rx->main_fd = c->fd;
	if (session_watch_fd_locked(&rx->x.session, rx->main_fd, SHUT_RD) < 0)
		session_fail_locked(&rx->x.session, "main channel: %s", SESSION_WATCH_FULL_FDS);
	pthread_mutex_unlock(&rx->x.session.lock);
	snprintf(rx->main_peer, sizeof(rx->main_peer), "%s", c->peer);
	c->fd = -1;
	return rx_failed(rx) ? ACCEPT_FAIL : ACCEPT_TAKE;
}

/* What a connection is from its first bytes: "QEVM" the main channel, the
 * multifd magic a channel (once its whole init packet came), anything
 * else not ours. */
static enum accept_verdict judge_conn(void *ctx, struct accept_conn *c, char why[ERR_LEN])
{
	struct receiver *rx = ctx;

	if (get_be32(c->buf) == QEMU_VM_FILE_MAGIC)
		return take_main(rx, c);
	if (get_be32(c->buf) != MULTIFD_MAGIC) {
		snprintf(why, ERR_LEN, "first bytes %02x %02x %02x %02x, expected \"QEVM\" (a main channel) or 0x%08x (a multifd channel)",
			 c->buf[0], c->buf[1], c->buf[2], c->buf[3], MULTIFD_MAGIC);
		return ACCEPT_DROP;
	}
	if (c->got < MULTIFD_INIT_SIZE) {
		c->want = MULTIFD_INIT_SIZE;
		return ACCEPT_WAIT;
	}
	return start_channel(rx, c);
}

static void conn_dropped(void *ctx, const char *peer, const char *what)
{
	(void)ctx;
	msg("connection from %s%s", peer, what);
}

static void describe_missing(void *ctx, char *buf, size_t n)
{
	struct receiver *rx = ctx;
	size_t len = 0;
	unsigned int have = 0;

	for (unsigned int i = 0; i < rx->x.opts.channels; i++)
		have += rx->ch[i].fd >= 0;
	len += (size_t)snprintf(buf, n, "%s, %u of %u multifd channels",
				rx->main_fd >= 0 ? "main channel in" : "no main channel",
				have, rx->x.opts.channels);
	if (have && have < rx->x.opts.channels) {
		len += (size_t)snprintf(buf + len, n - len, " (ids");
		for (unsigned int i = 0; i < rx->x.opts.channels && len < n; i++)
			if (rx->ch[i].fd >= 0)
				len += (size_t)snprintf(buf + len, n - len, " %u", i);
		if (len < n)
			snprintf(buf + len, n - len, ")");
	}
}

static const struct acceptor_ops rx_acceptor_ops = {
	.judge = judge_conn,
	.dropped = conn_dropped,
	.missing = describe_missing,
	.first_bytes = 4,
};

/* ---- the main channel ---- */

/* Waits until every channel has received SYNC number k (lock held). */
static int wait_sync_locked(struct receiver *rx, uint64_t k)
{
	struct session *s = &rx->x.session;

	for (;;) {
		bool all = true;

		if (session_failed(s))
			return -1;
		for (unsigned int i = 0; i < rx->x.opts.channels; i++) {
			struct recv_channel *ch = &rx->ch[i];

			if (ch->syncs >= k)
				continue;
			all = false;
			if (ch->ended) {
				session_fail_locked(s, "channel %u closed after %" PRIu64
						    " SYNC packets; the main channel is at sync point %" PRIu64,
						    i, ch->syncs, k);
				return -1;
			}
		}
		if (all)
			return 0;
		if (session_wait(s, &rx->cond))
			return -1;
	}
}

static int stage_begin(struct receiver *rx)
{
	if (rx->stage_fd < 0) {
		rx->stage_fd = memfd_create("migbox-multifd-recv-stage", MFD_CLOEXEC);
		if (rx->stage_fd < 0 || out_init(&rx->stage, rx->stage_fd, 1u << 20) < 0) {
			rx_fail(rx, "cannot stage a section in memory: %s", strerror(errno));
			return -1;
		}
		stream_writer_init(&rx->stage_w, &rx->stage, MULTIFD_PAGE_SIZE);
	}
	rx->staging = true;
	return 0;
}

/* Queues the staged section in one piece, by reference, and waits until
 * it is written (the stage is then reused). */
static int stage_commit(struct receiver *rx)
{
	struct session *s = &rx->x.session;
	uint64_t size, end;
	void *map;
	int ret = -1;

	rx->staging = false;
	if (out_flush(&rx->stage) < 0) {
		rx_fail(rx, "staging a section in memory: %s", strerror(rx->stage.err));
		return -1;
	}
	size = rx->stage.written;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, rx->stage_fd, 0);
	if (map == MAP_FAILED) {
		rx_fail(rx, "reading back a staged section of %" PRIu64 " bytes: %s", size,
			strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	if (outq_reserve(&rx->x.q, 64, 2) == 0) {
		close_own_part_locked(rx);
		queue_scratch_locked(rx);
		end = outq_ref(&rx->x.q, map, size);
		ret = outq_wait_written(&rx->x.q, end);
	}
	pthread_mutex_unlock(&s->lock);
	munmap(map, size);
	if (ret == 0 && (ftruncate(rx->stage_fd, 0) < 0 || lseek(rx->stage_fd, 0, SEEK_SET) < 0)) {
		rx_fail(rx, "resetting the stage: %s", strerror(errno));
		ret = -1;
	}
	rx->stage.written = 0;
	return ret;
}

static int stage_item(struct receiver *rx, struct stream_reader *r, const struct stream_item *it)
{
	if (stream_write_item(&rx->stage_w, it, stream_ram(r)) < 0) {
		rx_fail(rx, "staging a section in memory: %s", strerror(rx->stage.err));
		return -1;
	}
	if (out_offset(&rx->stage) > STAGE_MAX) {
		rx_fail(rx, "main channel: section '%s' is over %llu bytes, more than is held in memory",
			it->section ? it->section->idstr : "(package)", STAGE_MAX);
		return -1;
	}
	if (it->type == SI_FOOTER ||
	    (it->type == SI_PACKAGE && (rx->package_left -= it->len) == 0))
		return stage_commit(rx);
	return 0;
}

/* A MULTIFD_FLUSH: every channel's next SYNC came, and the pages before
 * it are queued. The record itself is the transport's, not the stream's:
 * it is not written (a loader without multifd has no use for it, QEMU 7.2
 * would refuse it). Lock held. */
static int flush_sync_locked(struct receiver *rx, const struct stream_item *it)
{
	if (rx->eos_synced) {
		session_fail_locked(&rx->x.session, "main channel, offset %" PRIu64 ": a MULTIFD_FLUSH after RAM EOS records were sync points: the source mixes both kinds",
				    it->offset);
		return -1;
	}
	rx->flush_mode = true;
	if (wait_sync_locked(rx, rx->sync_points + 1) < 0)
		return -1;
	rx->sync_points++;
	pthread_cond_broadcast(&rx->cond);
	return 0;
}

/* --mapped-ram: the block list with each block's header, and a hole for
 * its bitmap and pages, which the channels fill (lock held). */
static int emit_mapped_block_list_locked(struct receiver *rx, const struct ram_list *ram)
{
	struct session *s = &rx->x.session;
	unsigned char h[8];
	struct stat st;

	if (fstat(rx->x.of.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		session_fail_locked(s, "--mapped-ram: %s is not a regular file, and a mapped-ram file is written by offset",
				    rx->x.q.name);
		return -1;
	}
	if (outq_reserve(&rx->x.q, 64, 2) < 0)
		return -1;
	close_own_part_locked(rx);
	queue_scratch_locked(rx);
	if (mapped_ram_out_init(&rx->mro, rx->x.of.fd, ram, MULTIFD_PAGE_SIZE, rx->x.q.appended) < 0) {
		session_fail_locked(s, "--mapped-ram: %s",
				    errno == EFBIG ? "the source's RAM is more than a mapped-ram file here holds (4 TiB)" :
				    strerror(errno));
		return -1;
	}
	put_be64(h, ram->total | RAM_SAVE_FLAG_MEM_SIZE);
	outq_copy(&rx->x.q, h, sizeof(h));
	for (uint32_t i = 0; i < ram->count; i++) {
		unsigned char e[MAPPED_RAM_ENTRY_MAX];
		uint64_t gap;
		size_t n = mapped_ram_out_entry(&rx->mro, i, e, &gap);

		if (outq_reserve(&rx->x.q, n, 2) < 0)
			return -1;
		outq_copy(&rx->x.q, e, n);
		outq_hole(&rx->x.q, gap);
	}
	return 0;
}

/* --mapped-ram: a page record of the main channel (QEMU 7.2 sends zero
 * pages there) goes to its place, without the lock. */
static int place_main_page(struct receiver *rx, const struct stream_item *it)
{
	int ret = it->type == SI_RAM_PAGE ?
		  mapped_ram_out_page(&rx->mro, it->block, it->addr, it->data) :
		  mapped_ram_out_fill(&rx->mro, it->block, it->addr, it->fill);

	if (ret < 0)
		rx_fail(rx, "main channel, offset %" PRIu64 ": writing its page to %s: %s", it->offset,
			rx->x.q.name, strerror(rx->mro.err ? rx->mro.err : errno));
	return ret;
}

static int main_ram_item(struct receiver *rx, struct stream_reader *r,
			 const struct stream_item *it)
{
	struct session *s = &rx->x.session;
	struct ram_list *ram = stream_ram(r);
	bool sync;
	int ret;

	if (it->type == SI_RAM_ZERO)
		atomic_fetch_add_explicit(&rx->zero_pages, 1, memory_order_relaxed);
	if (it->type == SI_RAM_MEM_SIZE && stream_page_size(r) != MULTIFD_PAGE_SIZE) {
		rx_fail(rx, "main channel: target page size %u, multifd here supports %u only",
			stream_page_size(r), MULTIFD_PAGE_SIZE);
		return -1;
	}
	if (rx->mapped_ram && (it->type == SI_RAM_PAGE || it->type == SI_RAM_ZERO))
		return place_main_page(rx, it);
	pthread_mutex_lock(&s->lock);
	if (it->type == SI_RAM_MULTIFD_FLUSH) {
		ret = flush_sync_locked(rx, it);
		pthread_mutex_unlock(&s->lock);
		return ret;
	}
	/* The EOS goes with its footer, after every channel's SYNC: a
	 * channel may queue its next pages right after, and must find a
	 * section boundary. */
	sync = it->type == SI_RAM_EOS && !rx->flush_mode;
	ret = sync ? wait_sync_locked(rx, rx->sync_points + 1) : 0;
	if (!ret && it->type == SI_RAM_MEM_SIZE && rx->mapped_ram)
		ret = emit_mapped_block_list_locked(rx, ram);
	else if (!ret)
		ret = emit_locked(rx, it, ram, item_need(it));
	if (!ret && it->type == SI_RAM_MEM_SIZE) {
		rx->ram = ram;
		rx->ram_total = ram->total;
		rx->blocks_known = true;
		pthread_cond_broadcast(&rx->cond);
	}
	if (!ret && it->type == SI_RAM_EOS) {
		rx->ram_open = false;
		if (sync) {
			rx->sync_points++;
			rx->eos_synced = true;
		}
		pthread_cond_broadcast(&rx->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* A return-path message to the source: type, and a be32 value. */
static int rp_send(struct receiver *rx, uint16_t type, uint32_t value)
{
	unsigned char m[8];
	struct iovec iov = { m, sizeof(m) };

	put_be16(m, type);
	put_be16(m + 2, 4);
	put_be32(m + 4, value);
	return net_writev_full(rx->main_fd, &iov, 1);
}

/* OPEN_RETURN_PATH and PING are the transport's, not the stream's: they
 * are answered, not written (a loader reading a file has no return path,
 * and QEMU fails on one it cannot open). */
static int return_path_command(struct receiver *rx, const struct stream_item *it)
{
	if (it->cmd == MIG_CMD_OPEN_RETURN_PATH) {
		rx->rp_open = true;
		return 0;
	}
	if (!rx->rp_open) {
		rx_fail(rx, "main channel, offset %" PRIu64 ": a PING before OPEN_RETURN_PATH: no return path to answer on",
			it->offset);
		return -1;
	}
	rx->pings++;
	if (rp_send(rx, PC_RP_PONG, get_be32(it->data)) < 0) {
		rx_fail(rx, "main channel: answering a PING: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int main_item(struct receiver *rx, struct stream_reader *r,
		     const struct stream_item *it)
{
	int ret;

	if (rx->staging)
		return stage_item(rx, r, it);
	switch (it->type) {
	case SI_SECTION:
		if (it->section->kind != SECTION_KIND_RAM)
			return stage_begin(rx) < 0 ? -1 : stage_item(rx, r, it);
		/* Open for channel pages from the moment it is queued. */
		pthread_mutex_lock(&rx->x.session.lock);
		ret = emit_locked(rx, it, stream_ram(r), item_need(it));
		if (!ret) {
			rx->ram_section = it->section;
			rx->ram_open = true;
		}
		pthread_mutex_unlock(&rx->x.session.lock);
		return ret;
	case SI_RAM_MEM_SIZE:
	case SI_RAM_ZERO:
	case SI_RAM_PAGE:
	case SI_RAM_EOS:
	case SI_RAM_MULTIFD_FLUSH:
		return main_ram_item(rx, r, it);
	case SI_FOOTER:
		return 0;	/* a RAM footer: written with its EOS */
	case SI_COMMAND:
		if (it->cmd == MIG_CMD_OPEN_RETURN_PATH || it->cmd == MIG_CMD_PING)
			return return_path_command(rx, it);
		if (it->cmd == MIG_CMD_PACKAGED && it->size) {
			rx->package_left = it->size;
			return stage_begin(rx) < 0 ? -1 : stage_item(rx, r, it);
		}
		return emit(rx, it, stream_ram(r));
	case SI_EOF:
	case SI_VMDESC:
		return 0;	/* written once every channel has ended well */
	default:
		return emit(rx, it, stream_ram(r));
	}
}

/* Every channel ended in order after as many SYNCs as main had sync
 * points, with no page after the last (lock held). */
static int check_channels_locked(struct receiver *rx)
{
	struct session *s = &rx->x.session;

	for (unsigned int i = 0; i < rx->x.opts.channels; i++) {
		struct recv_channel *ch = &rx->ch[i];

		while (!ch->ended)
			if (session_wait(s, &rx->cond))
				return -1;
		if (session_failed(s))
			return -1;
		if (ch->pages_since_sync) {
			session_fail_locked(s, "channel %u: %" PRIu64 " pages after its last SYNC, which no sync point of the main channel covers",
					    i, ch->pages_since_sync);
			return -1;
		}
		if (ch->syncs != rx->sync_points) {
			session_fail_locked(s, "channel %u: %" PRIu64 " SYNC packets, expected %" PRIu64
					    " (the main channel's sync points)", i, ch->syncs, rx->sync_points);
			return -1;
		}
	}
	return 0;
}

/* The end of the main channel: the stream's end is queued only once every
 * channel ended well, then everything is written. */
static int finish(struct receiver *rx, struct stream_reader *r)
{
	struct session *s = &rx->x.session;
	size_t vmlen;
	const char *vm = stream_vmdesc(r, &vmlen);
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = check_channels_locked(rx);
	if (!ret && rx->mapped_ram) {
		/* every page is in place: the bitmaps, then the stream's end */
		pthread_mutex_unlock(&s->lock);
		if (!rx->mro.blocks)
			rx_fail(rx, "--mapped-ram: the stream ended without a RAM block list");
		else if (mapped_ram_out_finish(&rx->mro) < 0)
			rx_fail(rx, "writing the bitmaps to %s: %s", rx->x.q.name, strerror(errno));
		pthread_mutex_lock(&s->lock);
		ret = session_failed(s) ? -1 : 0;
	}
	if (!ret)
		ret = outq_reserve(&rx->x.q, 64, 2);
	if (!ret) {
		uint64_t end;

		close_own_part_locked(rx);
		stream_write_eof(&rx->w);
		if (vm) {
			out_u8(&rx->scratch, QEMU_VM_VMDESCRIPTION);
			out_be32(&rx->scratch, (uint32_t)vmlen);
		}
		queue_scratch_locked(rx);
		end = outq_ref(&rx->x.q, vm, vm ? vmlen : 0);
		ret = outq_wait_written(&rx->x.q, end);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* ---- monitor: progress and the idle timeout ---- */

static uint64_t moved_bytes(struct receiver *rx, char *extra, size_t n)
{
	struct chan_counters *cnt[XFER_CHANNELS_MAX];

	for (unsigned int i = 0; i < rx->x.opts.channels; i++)
		cnt[i] = &rx->ch[i].cnt;
	return chan_counters_moved(cnt, rx->x.opts.channels,
				   atomic_load_explicit(&rx->main_bytes, memory_order_relaxed),
				   atomic_load_explicit(&rx->zero_pages, memory_order_relaxed),
				   extra, n);
}

static uint64_t moved(void *ctx, char *extra, size_t n)
{
	return moved_bytes(ctx, extra, n);
}

static void stalled(void *ctx, unsigned int timeout_s)
{
	rx_fail((struct receiver *)ctx, "no byte came on any channel for %u s (--timeout)", timeout_s);
}

/* ---- set-up, tear-down, report ---- */

static int setup(void *ctx)
{
	struct receiver *rx = ctx;
	struct session *s = &rx->x.session;
	char err[ERR_LEN];

	rx->main_fd = rx->stage_fd = -1;
	rx->first_closed = -1;
	pthread_cond_init(&rx->cond, NULL);
	if (session_watch_cond(s, &rx->cond) < 0) {
		rx_fail(rx, "%s", SESSION_WATCH_FULL_CONDS);
		return -1;
	}
	rx->ch = calloc(rx->x.opts.channels, sizeof(*rx->ch));
	if (!rx->ch || out_init(&rx->scratch, -1, SCRATCH_SIZE) < 0)
		return -1;
	stream_writer_init(&rx->w, &rx->scratch, MULTIFD_PAGE_SIZE);
	/* the configuration then says mapped-ram; HOOK records are dropped */
	if (rx->mapped_ram)
		rx->w.mapped = &rx->mro;
	for (unsigned int i = 0; i < rx->x.opts.channels; i++) {
		rx->ch[i].fd = -1;
		rx->ch[i].rx = rx;
		rx->ch[i].id = i;
	}
	for (unsigned int i = 0; i < rx->x.opts.channels; i++) {
		struct recv_channel *ch = &rx->ch[i];

		for (int k = 0; k < 2; k++) {
			ch->slot[k].pages = malloc(MULTIFD_PACKET_DATA);
			if (!ch->slot[k].pages)
				return -1;
		}
		if (rx->x.opts.method->recv_setup(&ch->dctx, err) < 0) {
			rx_fail(rx, "channel %u: %s", i, err);
			return -1;
		}
	}
	return 0;
}

static void stats_fields(void *ctx, struct json_writer *w)
{
	struct receiver *rx = ctx;
	struct chan_counters *cnt[XFER_CHANNELS_MAX];
	const char *peers[XFER_CHANNELS_MAX];

	for (unsigned int i = 0; i < rx->x.opts.channels; i++) {
		cnt[i] = &rx->ch[i].cnt;
		peers[i] = rx->ch[i].peer;
	}
	jw_key(w, "channels"); jw_u64(w, rx->x.opts.channels);
	jw_key(w, "compression"); jw_string(w, rx->x.opts.method->name);
	jw_key(w, "ram_total"); jw_u64(w, rx->ram_total);
	jw_key(w, "sync_points"); jw_u64(w, rx->sync_points);
	jw_key(w, "sync_mode");
	jw_string(w, rx->flush_mode ? "round" : rx->eos_synced ? "section" : "unknown");
	jw_key(w, "own_part_sections"); jw_u64(w, rx->own_parts);
	jw_key(w, "mapped_ram"); jw_bool(w, rx->mapped_ram);
	if (rx->mapped_ram) {
		jw_key(w, "pages_written"); jw_u64(w, rx->mro.pages_written);
	}
	jw_key(w, "output_bytes"); jw_u64(w, outq_written(&rx->x.q));
	jw_key(w, "zero_pages"); jw_u64(w, rx->zero_pages);
	jw_key(w, "main_bytes"); jw_u64(w, rx->main_bytes);
	chan_counters_json(w, cnt, peers, rx->x.opts.channels, MULTIFD_PAGE_SIZE);
}

/* Closes every connection: in order after success (the sender waits for
 * that), with a reset after a failure, so the sender fails too. */
static void close_connections(struct receiver *rx)
{
	bool failed = rx_failed(rx);

	/* the output is complete and on disk: say so, as QEMU does */
	if (!failed && rx->rp_open && rx->main_fd >= 0)
		rp_send(rx, PC_RP_SHUT, 0);

	for (unsigned int i = 0; rx->ch && i <= rx->x.opts.channels; i++) {
		int *fd = i < rx->x.opts.channels ? &rx->ch[i].fd : &rx->main_fd;

		if (*fd < 0)
			continue;
		session_unwatch_fd(&rx->x.session, *fd);
		if (failed)
			net_abort_on_close(*fd);
		close(*fd);
		*fd = -1;
	}
}

static void cleanup(void *ctx)
{
	struct receiver *rx = ctx;

	close_connections(rx);
	for (unsigned int i = 0; rx->ch && i < rx->x.opts.channels; i++) {
		if (rx->ch[i].dctx)
			rx->x.opts.method->recv_cleanup(rx->ch[i].dctx);
		free(rx->ch[i].slot[0].pages);
		free(rx->ch[i].slot[1].pages);
	}
	free(rx->ch);
	mapped_ram_out_free(&rx->mro);
	in_free(&rx->main_in);
	out_discard(&rx->scratch);
	if (rx->stage_fd >= 0) {
		out_discard(&rx->stage);
		close(rx->stage_fd);
	}
}

/* A main channel failing after a channel closed early is most likely the
 * channel's fault: name it. */
static void report_failure(void *ctx)
{
	struct receiver *rx = ctx;

	int id = rx->first_closed;
	const char *error = rx->x.session.error;

	/* A channel whose thread was waiting elsewhere (on a sync point)
	 * never read the end its peer sent: the peer's FIN (CLOSE_WAIT,
	 * where the sender's failure reset the others) names it too. Our
	 * own shutdown on failure sends nothing and changes no state. */
	for (unsigned int i = 0; id < 0 && rx->ch && i < rx->x.opts.channels; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		if (rx->ch[i].fd >= 0 && !getsockopt(rx->ch[i].fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		    ti.tcpi_state == TCP_CLOSE_WAIT)
			id = (int)i;
	}

	if (id >= 0 && !strncmp(error, "main channel", 12))
		msg("channel %d closed early, after %" PRIu64 " packets and %" PRIu64
		    " SYNC packets; then %s", id, (uint64_t)rx->ch[id].cnt.packets,
		    rx->ch[id].syncs, error);
	else
		msg("%s", error);
}

static int start_listening(struct receiver *rx)
{
	char err[ERR_LEN];
	int fd = net_listen(&rx->ep, err);

	if (fd < 0) {
		rx_fail(rx, "%s", err);
		return -1;
	}
	net_set_nonblocking(fd, true);
	net_local_name(fd, rx->x.endpoint, sizeof(rx->x.endpoint));
	msg("listening on %s", rx->x.endpoint);
	/* as QEMU: the main channel and every multifd channel, then no more */
	if (acceptor_start(&rx->acc, &rx->x.session, fd, rx->x.opts.channels + 1,
			   rx->x.opts.timeout_s, &rx_acceptor_ops, rx, err) < 0) {
		rx_fail(rx, "%s", err);
		return -1;
	}
	return 0;
}

/* ---- the run ---- */

/* Listens, accepts every connection, and reads the main channel. */
static int open_main(void *ctx, struct in_buf **in)
{
	struct receiver *rx = ctx;

	if (start_listening(rx) < 0 || acceptor_wait(&rx->acc) < 0)
		return -1;
	if (in_init(&rx->main_in, rx->main_fd, 4u << 20) < 0 || in_prefill(&rx->main_in, "QEVM", 4) < 0) {
		rx_fail(rx, "out of memory");
		return -1;
	}
	*in = &rx->main_in;
	return 0;
}

static int item(void *ctx, struct stream_reader *r, const struct stream_item *it)
{
	struct receiver *rx = ctx;
	int ret = main_item(rx, r, it);

	atomic_store_explicit(&rx->main_bytes, in_offset(&rx->main_in), memory_order_relaxed);
	return ret;
}

static int end(void *ctx, struct stream_reader *r)
{
	return finish(ctx, r);
}

static const char *source(void *ctx)
{
	struct receiver *rx = ctx;

	snprintf(rx->source, sizeof(rx->source), "main channel from %s", rx->main_peer);
	return rx->source;
}

/* The channels' threads end after the main channel: the block list
 * they look pages up in goes only after them (cleanup). */
static void stop(void *ctx)
{
	struct receiver *rx = ctx;

	atomic_store_explicit(&rx->main_bytes, in_offset(&rx->main_in), memory_order_relaxed);
	acceptor_stop(&rx->acc);
	xfer_monitor_stop(&rx->x);
	for (unsigned int i = 0; rx->ch && i < rx->x.opts.channels; i++)
		if (rx->ch[i].started)
			pthread_join(rx->ch[i].thread, NULL);
}

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct receiver *rx = ctx;

	(void)arg;
	(void)err;
	if (key == OPT_MAPPED_RAM)
		rx->mapped_ram = true;
	return 0;
}

static void operands(void *ctx, int argc, char **argv)
{
	struct receiver *rx = ctx;
	char err[ERR_LEN];

	if (rx->mapped_ram && (!rx->x.opts.out_path || !strcmp(rx->x.opts.out_path, "-")))
		die_usage("--mapped-ram writes a file by offset: give it with -o FILE");
	if (argc - optind != 1)
		die_usage("expected one [HOST]:PORT to listen on");
	if (net_endpoint_parse(argv[optind], false, &rx->ep, err) < 0)
		die_usage("%s", err);
}

static const struct xfer_ops recv_ops = {
	.applet = "multifd-recv",
	.role = XFER_RECEIVER,
	.opts = recv_opts,
	.help = &multifd_recv_help,
	.option = take_option,
	.operands = operands,
	.setup = setup,
	.open = open_main,
	.item = item,
	.end = end,
	.source = source,
	.stop = stop,
	.moved = moved,
	.stalled = stalled,
	.stats = stats_fields,
	.report = report_failure,
	.cleanup = cleanup,
};

int multifd_recv_main(int argc, char **argv)
{
	struct receiver rx = { .main_fd = -1, .stage_fd = -1 };

	return xfer_main(&rx.x, &recv_ops, &rx, argc, argv);
}
