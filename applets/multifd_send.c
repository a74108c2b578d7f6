// SPDX-License-Identifier: GPL-3.0-or-later
/* multifd-send: send a migration stream over QEMU's multifd TCP channels.
 *
 * Threads: the applet's thread parses stdin and writes the main channel;
 * one thread per multifd channel compresses and writes packets; a monitor
 * draws progress and enforces --timeout. A packet buffer (struct send_job)
 * is owned by exactly one thread at a time: the main thread fills its own
 * and swaps it with the job of a free channel under the session lock, as
 * QEMU does. With --zero-copy the kernel sends a packet's pages from its
 * job, so a channel keeps each job it sent until the kernel's completion
 * says the pages are free, and hands the main thread another one meanwhile.
 * Every wait is woken by the session's failure: sockets are shut down,
 * stdin and the sockets' error queues are polled beside the wake fd, the
 * condition variables are broadcast. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "applets.h"
#include "bytes.h"
#include "clock.h"
#include "io.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "machine.h"
#include "multifd.h"
#include "net.h"
#include "opts.h"
#include "postcopy_wire.h"
#include "stream.h"
#include "transfer.h"
#include "xfer_run.h"
#include "zerocopy.h"

enum { OPT_SYNC = 0x2000, OPT_ZERO_PAGES, OPT_NO_HANDSHAKE, OPT_ZERO_COPY };

/* The PING of the handshake: "mbox" */
#define HANDSHAKE_PING	0x6d626f78u

static const struct opt send_opts[] = {
	XFER_ROW_CHANNELS,
	XFER_ROW_COMPRESS("none, zlib or zstd (default none)"),
	XFER_ROW_LEVEL,
	XFER_ROW_UUID("uuid in the init packets (default all zero, as QEMU without -uuid); "
		      "a QEMU destination wants its -uuid"),
	XFER_ROW_TIMEOUT("give up connecting after SECONDS (default 30) and fail when no byte "
			 "moves for SECONDS, saying whether stdin or the receiver stalled "
			 "(default: no limit)"),
	{ OPT_SYNC, "sync", "MODE", "how the destination syncs the channels: 'section' (a SYNC "
	  "on every channel before each RAM end-of-section, as QEMU 7.2: "
	  "migration.multifd-flush-after-each-section=on, machine types up to 8.0) or 'round' "
	  "(the SYNCs followed by a MULTIFD_FLUSH record on the main channel: the property off, "
	  "machine types 8.1 and later); default: from the stream's machine type", "section round" },
	{ OPT_ZERO_PAGES, "zero-pages", "MODE", "where zero pages go: 'legacy' (ZERO records on "
	  "the main channel; zero-page-detection=legacy, machine types up to 8.2; every "
	  "destination takes them) or 'multifd' (listed in the packets, QEMU 9.0 and later; "
	  "zero-page-detection=multifd, machine types 9.0 and later); default: from the "
	  "stream's machine type, legacy when it has no version", "legacy multifd" },
	{ OPT_NO_HANDSHAKE, "no-handshake", NULL, "send pages without first opening a return "
	  "path and waiting for the destination's answer to a PING (see below): for a "
	  "receiver that has no return path", NULL },
	{ OPT_ZERO_COPY, "zero-copy", NULL, "send the pages with MSG_ZEROCOPY (QEMU's zero-copy-send; "
	  "Linux 4.14 and later): the kernel sends them from our buffers instead of copying "
	  "them (headers are copied); not with -z. Over loopback the kernel copies anyway "
	  "(zerocopy_copied in --stats-json): it saves nothing there", NULL },
	XFER_ROW_PROGRESS,
	XFER_ROW_STATS,
	OPT_HELP,
	OPT_END
};

const struct applet_help multifd_send_help = {
	.opts = send_opts,
	.text =
"usage: multifd-send [OPTIONS] HOST:PORT < STREAM\n"
"\n"
"Reads a QEMU migration stream (QEVM version 3) on stdin and sends it to\n"
"HOST:PORT (or [IPV6]:PORT) as a QEMU source with the multifd capability\n"
"does: the main channel first, then CHANNELS multifd channels that each open\n"
"with an init packet. Non-zero pages travel in packets of up to 128 pages of\n"
"one RAM block, on whichever channel is free; zero pages stay on the main\n"
"channel as ZERO records or go in the packets (--zero-pages); at every RAM\n"
"end-of-section record each channel sends a SYNC packet before the main\n"
"channel goes on (followed by a MULTIFD_FLUSH record with --sync round).\n"
"The receiver is multifd-recv or a QEMU destination with the multifd\n"
"capability and the same channel count and compression.\n"
"\n"
"A QEMU destination's sync mode follows its machine type, which is the\n"
"stream's (QEMU refuses any other): both modes are read from the version in\n"
"the machine type's name (pc-i440fx-7.2: section and legacy, as QEMU 7.2;\n"
"pc-i440fx-10.0: round and multifd, QEMU 10.0's defaults). A machine type\n"
"without a version (or a stream without one) needs --sync: a wrong mode\n"
"stalls the destination or, worse, lets it finish without the channels'\n"
"pages. A destination started with -global\n"
"migration.multifd-flush-after-each-section=on|off needs --sync to match.\n"
"\n"
"Before the first section the main channel opens a return path and sends\n"
"a PING; no page goes out until the destination answers it: a QEMU 10.0\n"
"destination crashes on a page that reaches a channel before it set up\n"
"its RAM, and only its answer says that it did. At the end the\n"
"destination's SHUT on the return path says whether it loaded the stream.\n"
"\n"
"STREAM may be a mapped-ram file (QEMU 9.0+ migrate file: with the\n"
"mapped-ram capability, or multifd-recv --mapped-ram), given as a file\n"
"(< FILE), not a pipe: each channel then reads the pages it sends from the\n"
"file itself, in parallel, and the destination gets a plain multifd\n"
"migration.\n"
"\n",
	.notes =
"\n"
"A page that the stream sends twice between two end-of-section records\n"
"(QEMU never does) gets an extra sync point first, so that its older copy\n"
"cannot overtake it at the receiver. After the last byte the sender waits\n"
"for the receiver to close every connection: an orderly close (after a\n"
"SHUT 0 on the return path) is success, a reset or a SHUT of another\n"
"status means the receiver failed. A channel the receiver refuses to accept\n"
"(it has all the channels it expects) fails at once.\n"
"\n"
"With --zero-copy a packet's buffer is used again only once the kernel has\n"
"reported its send complete (after the receiver's acknowledgement), each\n"
"channel keeping up to 4 packets in flight. The pinned pages count against\n"
"the locked-memory limit (ulimit -l, unless CAP_IPC_LOCK) and the\n"
"completions against net.core.optmem_max: when the kernel refuses a send\n"
"for either (ENOBUFS) the channel waits for its completions and retries,\n"
"or with none in flight sends that payload by copy. A kernel without\n"
"SO_ZEROCOPY fails the transfer, naming --zero-copy.\n"
"\n"
XFER_USAGE_SIGNALS
"\n"
"Exit status: 0 sent and acknowledged by an orderly close, 1 failure (input,\n"
"connection, receiver), 2 usage error.\n",
};

/* How the destination syncs the channels: a SYNC on each before every
 * RAM EOS (SECTION), or SYNCs then a MULTIFD_FLUSH record (ROUND). Where
 * zero pages go: ZERO records (LEGACY) or the packets' zero lists. */
enum sync_mode { SYNC_AUTO, SYNC_SECTION, SYNC_ROUND };
enum zero_mode { ZERO_AUTO, ZERO_LEGACY, ZERO_MULTIFD };

/* One packet's worth of pages, or a SYNC. */
struct send_job {
	const struct ram_block *block;
	uint32_t npages;		/* normal pages, with data */
	uint32_t nzero;			/* zero pages, listed only */
	uint32_t flags;
	uint64_t packet_num;
	uint64_t offset[MULTIFD_PACKET_PAGES];
	uint64_t zero_offset[MULTIFD_PACKET_PAGES];
	/* A mapped-ram input: the pages are not read yet; the channel reads
	 * them from these file offsets of stdin itself, in parallel. */
	bool unread;
	uint64_t file_offset[MULTIFD_PACKET_PAGES];
	unsigned char *pages;		/* MULTIFD_PACKET_DATA bytes */
	/* --zero-copy: the pages are the kernel's until zc_done(zc_mark) on
	 * the channel that sent them; 0 when none are. */
	uint64_t zc_mark;
};

/* --zero-copy: packets a channel keeps in flight at most (4 x 512 KiB). */
#define ZC_JOBS_IN_FLIGHT	4u

struct sender;

struct send_channel {
	struct sender *tx;
	unsigned int id;
	int fd;
	pthread_t thread;
	bool started;
	pthread_cond_t wake;		/* a job was handed over, or quit */
	bool pending;			/* job handed over and not yet written */
	struct send_job *job;		/* the channel's while pending */
	void *cctx;
	unsigned char header[MULTIFD_PACKET_HEADER_SIZE];
	struct chan_counters cnt;
	_Atomic uint64_t file_bytes;	/* pages it read from a mapped-ram input */
	/* --zero-copy, the channel's thread only: the socket's sends, and the
	 * jobs sent whose pages the kernel may still hold, oldest first. */
	struct zc_socket zc;
	struct send_job *in_flight[ZC_JOBS_IN_FLIGHT];
	unsigned int in_flight_head, in_flight_count;
};

struct sender {
	struct xfer x;			/* session (its lock guards the hand-off), options */
	struct net_endpoint ep;
	bool zero_copy;			/* --zero-copy */

	/* Under x.session.lock. */
	pthread_cond_t main_wake;	/* a channel went idle, or failure */
	bool quit;
	struct send_channel *ch;
	unsigned int next_channel;
	uint64_t packet_num;		/* one counter over all channels */

	/* Main thread only. */
	int main_fd;
	struct out_buf main_out;
	struct stream_writer w;
	struct send_job *filling;
	const struct section_info *ram_section;
	uint8_t ram_section_type;
	struct ram_pageset touched;	/* pages sent since the last sync point */
	enum sync_mode sync_mode;	/* AUTO until the stream's machine says */
	enum zero_mode zero_mode;
	unsigned char fill_page[MULTIFD_PAGE_SIZE];	/* a ZERO record's page */
	uint64_t ram_total;
	uint64_t sync_points, extra_sync_points;
	bool mapped_input;		/* stdin is a mapped-ram file */
	bool no_handshake;		/* --no-handshake */
	bool handshaken;		/* the return path is open and PONGed */
	uint64_t handshake_ns;		/* from the PING to its PONG */
	bool shut_seen;			/* the destination's SHUT came */
	uint32_t shut_status;

	/* Read by the monitor. */
	_Atomic uint64_t main_bytes, zero_pages;
};

/* The first failure of the transfer wins; it wakes every thread. */
#define tx_fail(tx, ...) session_fail(&(tx)->x.session, __VA_ARGS__)

static bool tx_failed(struct sender *tx)
{
	return session_failed(&tx->x.session);
}

static struct send_job *job_new(void)
{
	struct send_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	/* page-aligned: a packet's pages pin no page more than they fill */
	j->pages = aligned_alloc(MULTIFD_PAGE_SIZE, MULTIFD_PACKET_DATA);
	if (!j->pages) {
		free(j);
		return NULL;
	}
	return j;
}

static void job_free(struct send_job *j)
{
	if (!j)
		return;
	free(j->pages);
	free(j);
}

/* ---- channel threads ---- */

/* The pages of a mapped-ram input, read by the channel: one pread per run
 * contiguous in the file. */
static int read_job_pages(struct send_channel *ch, const struct send_job *job)
{
	struct sender *tx = ch->tx;

	for (uint32_t i = 0; i < job->npages;) {
		uint32_t n = 1;
		size_t len, done = 0;

		while (i + n < job->npages &&
		       job->file_offset[i + n] == job->file_offset[i] + (uint64_t)n * MULTIFD_PAGE_SIZE)
			n++;
		len = (size_t)n * MULTIFD_PAGE_SIZE;
		while (done < len) {
			ssize_t got = pread(STDIN_FILENO, job->pages + (size_t)i * MULTIFD_PAGE_SIZE + done,
					    len - done, (off_t)(job->file_offset[i] + done));

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				tx_fail(tx, "channel %u: reading the page at offset %" PRIu64 " of stdin: %s",
					ch->id, job->file_offset[i] + done,
					got ? strerror(errno) : "the file ends (cut short while sent?)");
				return -1;
			}
			done += (size_t)got;
		}
		atomic_fetch_add_explicit(&ch->file_bytes, len, memory_order_relaxed);
		i += n;
	}
	return 0;
}

/* The header by copy (and held for the payload); with --zero-copy the
 * payload goes from the job's pages, which stay the kernel's until the
 * job's mark is done. */
static int write_packet(struct send_channel *ch, struct send_job *job, struct iovec *iov,
			int iovcnt)
{
	if (!ch->tx->zero_copy || iovcnt < 2)
		return net_writev_full(ch->fd, iov, iovcnt);
	if (net_sendv_full(ch->fd, iov, 1, MSG_MORE) < 0 ||
	    zc_writev_full(&ch->zc, iov + 1, iovcnt - 1) < 0)
		return -1;
	job->zc_mark = zc_mark(&ch->zc);
	return 0;
}

static int send_packet(struct send_channel *ch, struct send_job *job)
{
	struct sender *tx = ch->tx;
	struct mfd_packet pkt = {
		.magic = MULTIFD_MAGIC,
		.version = MULTIFD_VERSION,
		.flags = job->flags,
		.pages_alloc = MULTIFD_PACKET_PAGES,
		.normal_pages = job->npages,
		.packet_num = job->packet_num,
	};
	struct iovec iov[2] = { { ch->header, sizeof(ch->header) } };
	char err[ERR_LEN];

	if (job->unread && read_job_pages(ch, job) < 0)
		return -1;
	if (job->npages && tx->x.opts.method->send_prepare(ch->cctx, job->pages,
							   (size_t)job->npages * MULTIFD_PAGE_SIZE,
							   &iov[1], err) < 0) {
		tx_fail(tx, "channel %u: packet %" PRIu64 ": %s", ch->id, job->packet_num, err);
		return -1;
	}
	if (job->npages + job->nzero) {
		/* a zero-only packet has the method's flag too, and no payload */
		pkt.flags |= tx->x.opts.method->wire_flag;
		pkt.zero_pages = job->nzero;
		pkt.next_packet_size = job->npages ? (uint32_t)iov[1].iov_len : 0;
		snprintf(pkt.ramblock, sizeof(pkt.ramblock), "%s", job->block->name);
		memcpy(pkt.offset, job->offset, job->npages * sizeof(job->offset[0]));
		memcpy(pkt.offset + job->npages, job->zero_offset,
		       job->nzero * sizeof(job->zero_offset[0]));
	}
	mfd_packet_encode(&pkt, ch->header);
	if (write_packet(ch, job, iov, job->npages ? 2 : 1) < 0) {
		tx_fail(tx, "channel %u: sending packet %" PRIu64 ": %s", ch->id,
			job->packet_num, strerror(errno));
		return -1;
	}
	atomic_fetch_add_explicit(&ch->cnt.bytes, sizeof(ch->header) + pkt.next_packet_size,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&ch->cnt.packets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ch->cnt.pages, job->npages, memory_order_relaxed);
	atomic_fetch_add_explicit(&ch->cnt.payload_bytes, pkt.next_packet_size, memory_order_relaxed);
	if (job->flags & MULTIFD_FLAG_SYNC)
		atomic_fetch_add_explicit(&ch->cnt.syncs, 1, memory_order_relaxed);
	return 0;
}

/* --zero-copy: the job just sent is the kernel's until its completion;
 * the main thread gets another: the oldest in flight once complete, or a
 * new one while fewer than ZC_JOBS_IN_FLIGHT are in flight and the oldest
 * is not complete yet, else the oldest once complete. NULL when the wait
 * failed; sent is then still the caller's. */
static struct send_job *zc_recycle(struct send_channel *ch, struct send_job *sent)
{
	struct send_job *oldest;

	if (!sent->zc_mark)
		return sent;
	ch->in_flight[(ch->in_flight_head + ch->in_flight_count++) % ZC_JOBS_IN_FLIGHT] = sent;
	oldest = ch->in_flight[ch->in_flight_head];
	if (!zc_done(&ch->zc, oldest->zc_mark) && ch->in_flight_count < ZC_JOBS_IN_FLIGHT) {
		struct send_job *fresh = job_new();

		if (fresh)
			return fresh;	/* else wait: no memory is no failure here */
	}
	if (zc_wait(&ch->zc, oldest->zc_mark) < 0) {
		ch->in_flight_count--;
		tx_fail(ch->tx, "channel %u: waiting for the kernel to complete zero-copy sends: %s",
			ch->id, strerror(errno));
		return NULL;
	}
	ch->in_flight_head = (ch->in_flight_head + 1) % ZC_JOBS_IN_FLIGHT;
	ch->in_flight_count--;
	oldest->zc_mark = 0;
	return oldest;
}

/* --zero-copy, at the end: every send complete, so that the figures count
 * every completion and a failed one fails the run. */
static void zc_flush(struct send_channel *ch)
{
	if (zc_wait(&ch->zc, zc_mark(&ch->zc)) < 0)
		tx_fail(ch->tx, "channel %u: waiting for the kernel to complete zero-copy sends: %s",
			ch->id, strerror(errno));
}

static void *send_channel_thread(void *arg)
{
	struct send_channel *ch = arg;
	struct sender *tx = ch->tx;
	struct session *s = &tx->x.session;
	struct mfd_init init = { .magic = MULTIFD_MAGIC, .version = MULTIFD_VERSION,
				 .id = (uint8_t)ch->id };
	unsigned char buf[MULTIFD_INIT_SIZE];
	struct iovec iov = { buf, sizeof(buf) };

	/* The init packet goes out at once: a QEMU destination reads it
	 * before it lets the migration start. */
	memcpy(init.uuid, tx->x.opts.uuid, sizeof(init.uuid));
	mfd_init_encode(&init, buf);
	if (net_writev_full(ch->fd, &iov, 1) < 0) {
		tx_fail(tx, "channel %u: sending the init packet: %s", ch->id, strerror(errno));
		return NULL;
	}
	atomic_fetch_add_explicit(&ch->cnt.bytes, sizeof(buf), memory_order_relaxed);

	for (;;) {
		struct send_job *job;

		pthread_mutex_lock(&s->lock);
		while (!ch->pending && !tx->quit && !session_failed(s))
			pthread_cond_wait(&ch->wake, &s->lock);
		if (session_failed(s) || !ch->pending) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		job = ch->job;
		pthread_mutex_unlock(&s->lock);

		if (send_packet(ch, job) < 0)
			break;
		if (tx->zero_copy && !(job = zc_recycle(ch, job)))
			break;

		pthread_mutex_lock(&s->lock);
		ch->job = job;
		ch->pending = false;
		pthread_cond_signal(&tx->main_wake);
		pthread_mutex_unlock(&s->lock);
	}
	if (tx->zero_copy && !session_failed(s))
		zc_flush(ch);
	return NULL;
}

/* ---- main thread: hand-off and sync points ---- */

static int flush_main(struct sender *tx)
{
	if (out_flush(&tx->main_out) < 0) {
		tx_fail(tx, "main channel: send failed: %s", strerror(tx->main_out.err));
		return -1;
	}
	atomic_store_explicit(&tx->main_bytes, out_offset(&tx->main_out), memory_order_relaxed);
	return 0;
}

/* Waits (lock held) for ch to be idle, or for any idle channel when ch is
 * NULL; returns it. The main channel is flushed before any wait, without
 * the lock: the receiver may need what it holds to make progress. */
static struct send_channel *wait_idle_locked(struct sender *tx, struct send_channel *ch,
					     bool *flushed)
{
	struct session *s = &tx->x.session;

	for (;;) {
		struct send_channel *idle = NULL;

		if (session_failed(s))
			return NULL;
		for (unsigned int k = 0; !ch && k < tx->x.opts.channels; k++) {
			struct send_channel *c = &tx->ch[(tx->next_channel + k) % tx->x.opts.channels];

			if (!c->pending) {
				idle = c;
				break;
			}
		}
		if (ch && !ch->pending)
			idle = ch;
		if (idle)
			return idle;
		if (!*flushed) {
			pthread_mutex_unlock(&s->lock);
			flush_main(tx);
			pthread_mutex_lock(&s->lock);
			*flushed = true;
			continue;
		}
		pthread_cond_wait(&tx->main_wake, &s->lock);
	}
}

/* Gives the filled job to a free channel, taking that channel's job. */
static int hand_off_pages(struct sender *tx)
{
	struct session *s = &tx->x.session;
	struct send_job *j = tx->filling;
	struct send_channel *ch;
	bool flushed = false;

	pthread_mutex_lock(&s->lock);
	ch = wait_idle_locked(tx, NULL, &flushed);
	if (!ch) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	tx->next_channel = (ch->id + 1) % tx->x.opts.channels;
	j->flags = 0;
	j->packet_num = tx->packet_num++;
	tx->filling = ch->job;
	ch->job = j;
	ch->pending = true;
	pthread_cond_signal(&ch->wake);
	pthread_mutex_unlock(&s->lock);
	tx->filling->npages = tx->filling->nzero = 0;
	tx->filling->unread = false;
	return 0;
}

/* Every page handed over so far is written, then a SYNC on every channel;
 * only then may the main channel write the record that the receiver syncs
 * on: the EOS, or in round mode a MULTIFD_FLUSH (written here). */
static int sync_channels(struct sender *tx)
{
	struct session *s = &tx->x.session;
	bool flushed = false;
	int ret = 0;

	if (tx->filling->npages + tx->filling->nzero && hand_off_pages(tx) < 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < tx->x.opts.channels && !ret; i++) {
		struct send_channel *ch = wait_idle_locked(tx, &tx->ch[i], &flushed);

		if (!ch) {
			ret = -1;
			break;
		}
		ch->job->npages = ch->job->nzero = 0;
		ch->job->unread = false;
		ch->job->flags = MULTIFD_FLAG_SYNC;
		ch->job->packet_num = tx->packet_num++;
		ch->pending = true;
		pthread_cond_signal(&ch->wake);
	}
	for (unsigned int i = 0; i < tx->x.opts.channels && !ret; i++)
		if (!wait_idle_locked(tx, &tx->ch[i], &flushed))
			ret = -1;
	pthread_mutex_unlock(&s->lock);
	if (ret)
		return ret;
	ram_pageset_clear(&tx->touched);
	tx->sync_points++;
	if (tx->sync_mode == SYNC_ROUND)
		stream_write_ram_flag(&tx->w, RAM_SAVE_FLAG_MULTIFD_FLUSH);
	return 0;
}

/* A sync point of our own in the middle of a RAM section: sync, EOS,
 * footer, and the section reopened (a START goes on as a PART); in round
 * mode the MULTIFD_FLUSH is the whole sync point. */
static int extra_sync_point(struct sender *tx)
{
	if (sync_channels(tx) < 0)
		return -1;
	tx->extra_sync_points++;
	if (tx->sync_mode == SYNC_ROUND)
		return flush_main(tx);
	stream_write_ram_flag(&tx->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&tx->w, tx->ram_section->id);
	if (tx->ram_section_type == QEMU_VM_SECTION_START)
		tx->ram_section_type = QEMU_VM_SECTION_PART;
	stream_write_section(&tx->w, tx->ram_section_type, tx->ram_section);
	return flush_main(tx);
}

/* Marks a page as sent in this epoch; a second send in the same epoch
 * needs a sync point first, or the two copies could arrive in either
 * order. The map holds only the pages sent since the last sync point. */
static int touch_page(struct sender *tx, const struct ram_block *b, uint64_t addr)
{
	int again = ram_pageset_add(&tx->touched, b, addr, MULTIFD_PAGE_SIZE);

	if (again == 1) {
		if (extra_sync_point(tx) < 0)
			return -1;
		again = ram_pageset_add(&tx->touched, b, addr, MULTIFD_PAGE_SIZE);
	}
	if (again < 0) {
		tx_fail(tx, "out of memory for the set of pages sent");
		return -1;
	}
	return 0;
}

/* Pages sit at any offset of the input buffer: load through memcpy. */
static int queue_page(struct sender *tx, const struct ram_block *b, uint64_t addr,
		      const unsigned char *data)
{
	struct send_job *j = tx->filling;

	if (j->npages + j->nzero && (j->block != b || (data && j->unread)) && hand_off_pages(tx) < 0)
		return -1;
	j = tx->filling;
	j->block = b;
	if (data) {
		memcpy(j->pages + (size_t)j->npages * MULTIFD_PAGE_SIZE, data, MULTIFD_PAGE_SIZE);
		j->offset[j->npages++] = addr;
	} else {
		j->zero_offset[j->nzero++] = addr;
	}
	if (j->npages + j->nzero == MULTIFD_PACKET_PAGES)
		return hand_off_pages(tx);
	return 0;
}

/* A page of a mapped-ram input, by its file offset: the channel that
 * sends it reads it. A packet holds pages read or unread, not both. */
static int queue_unread_page(struct sender *tx, const struct ram_block *b, uint64_t addr,
			     uint64_t file_offset)
{
	struct send_job *j = tx->filling;

	if (j->npages + j->nzero && (j->block != b || (j->npages && !j->unread)) &&
	    hand_off_pages(tx) < 0)
		return -1;
	j = tx->filling;
	j->block = b;
	j->unread = true;
	j->file_offset[j->npages] = file_offset;
	j->offset[j->npages++] = addr;
	if (j->npages + j->nzero == MULTIFD_PACKET_PAGES)
		return hand_off_pages(tx);
	return 0;
}

/* A zero page: a ZERO record on the main channel, or listed in a packet. */
static int send_zero(struct sender *tx, const struct ram_block *b, uint64_t addr)
{
	atomic_fetch_add_explicit(&tx->zero_pages, 1, memory_order_relaxed);
	if (tx->zero_mode == ZERO_MULTIFD)
		return queue_page(tx, b, addr, NULL);
	return stream_write_zero(&tx->w, b, addr, 0);
}

/* Both modes known before the first RAM record: from the options, else
 * from the machine type the configuration section named. */
static int modes_known(struct sender *tx, struct stream_reader *r)
{
	const struct stream_config *cfg = stream_config(r);
	struct machine_defaults d;
	bool versioned = cfg->present && machine_defaults(cfg->machine, &d) == 0;

	if (tx->sync_mode == SYNC_AUTO) {
		if (!versioned) {
			tx_fail(tx, "stdin: %s%s%s, so the destination's multifd sync mode is unknown: say --sync section (QEMU 7.2, machine types up to 8.0, or migration.multifd-flush-after-each-section=on) or --sync round (machine types 8.1 and later)",
				cfg->present ? "machine type '" : "no configuration section before RAM",
				cfg->present ? cfg->machine : "", cfg->present ? "' has no version" : "");
			return -1;
		}
		tx->sync_mode = d.multifd_flush_per_section ? SYNC_SECTION : SYNC_ROUND;
	}
	if (tx->zero_mode == ZERO_AUTO)
		tx->zero_mode = versioned && d.multifd_zero_pages ? ZERO_MULTIFD : ZERO_LEGACY;
	return 0;
}

static int send_ram_item(struct sender *tx, struct stream_reader *r,
			 const struct stream_item *it)
{
	struct ram_list *ram = stream_ram(r);

	switch (it->type) {
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(r) != MULTIFD_PAGE_SIZE) {
			tx_fail(tx, "stdin: target page size %u, multifd here supports %u only",
				stream_page_size(r), MULTIFD_PAGE_SIZE);
			return -1;
		}
		if (modes_known(tx, r) < 0)
			return -1;
		tx->ram_total = ram->total;
		/* a mapped-ram input: the channels read its pages themselves */
		if (stream_mapped_ram(r)) {
			stream_reader_lazy_pages(r, true);
			tx->mapped_input = true;
		}
		stream_write_item(&tx->w, it, ram);
		/* Channels' pages name blocks the receiver learns here. */
		return flush_main(tx);
	case SI_RAM_PAGE:
		if (touch_page(tx, it->block, it->addr) < 0)
			return -1;
		if (!it->data)
			return queue_unread_page(tx, it->block, it->addr, it->file_offset);
		if (page_is_zero(it->data, MULTIFD_PAGE_SIZE))
			return send_zero(tx, it->block, it->addr);
		return queue_page(tx, it->block, it->addr, it->data);
	case SI_RAM_ZERO:
		if (touch_page(tx, it->block, it->addr) < 0)
			return -1;
		if (!it->fill)
			return send_zero(tx, it->block, it->addr);
		/* QEMU 10.0 refuses a ZERO record whose fill is not 0: the
		 * page goes as the bytes it stands for */
		memset(tx->fill_page, it->fill, sizeof(tx->fill_page));
		return queue_page(tx, it->block, it->addr, tx->fill_page);
	case SI_RAM_MULTIFD_FLUSH:
		return 0;	/* the sync points are ours */
	default:		/* EOS */
		if (sync_channels(tx) < 0)
			return -1;
		stream_write_item(&tx->w, it, ram);
		return flush_main(tx);
	}
}

/* One return-path message: 1, 0 at the end, -1 with err. Only PONG and
 * SHUT are expected of a precopy destination. */
static int rp_message(struct sender *tx, struct pc_rp_msg *m, uint64_t deadline, char err[ERR_LEN])
{
	unsigned char h[PC_RP_HEADER_SIZE], body[PC_RP_MAX_LEN];
	ssize_t n = net_read_deadline(tx->main_fd, h, sizeof(h), deadline, tx->x.session.wake_fd);

	if (n == 0)
		return 0;
	if (n < 0 || pc_rp_header(h, m, err) < 0 ||
	    (m->len && (n = net_read_deadline(tx->main_fd, body, m->len, deadline, tx->x.session.wake_fd)) != m->len) ||
	    pc_rp_body(body, m, err) < 0) {
		if (n <= 0)
			snprintf(err, ERR_LEN, "%s", errno == ETIMEDOUT ? "no answer in time" :
				 errno == EPROTO ? "a message cut short" : strerror(errno));
		return -1;
	}
	if (m->type != PC_RP_PONG && m->type != PC_RP_SHUT)
		return err_set(err, "return-path %s, which a precopy destination never sends",
			       pc_rp_name(m->type));
	if (m->type == PC_RP_SHUT) {
		tx->shut_seen = true;
		tx->shut_status = m->value;
	}
	return 1;
}

/* Opens the return path and waits for the PONG to a PING: the destination
 * is then past the set-up of its RAM, and every channel is in. */
static int handshake(struct sender *tx)
{
	uint64_t deadline = xfer_deadline(&tx->x, XFER_CONNECT_DEFAULT_S), t0 = now_ns();
	unsigned char ping[4];
	struct pc_rp_msg m;
	char err[ERR_LEN];
	int rc;

	tx->handshaken = true;
	put_be32(ping, HANDSHAKE_PING);
	stream_write_command(&tx->w, MIG_CMD_OPEN_RETURN_PATH, NULL, 0);
	stream_write_command(&tx->w, MIG_CMD_PING, ping, sizeof(ping));
	if (flush_main(tx) < 0)
		return -1;
	while ((rc = rp_message(tx, &m, deadline, err)) > 0 &&
	       !(m.type == PC_RP_PONG && m.value == HANDSHAKE_PING))
		if (m.type == PC_RP_SHUT) {
			rc = -1;
			snprintf(err, ERR_LEN, "SHUT %u: the destination gave up", m.value);
			break;
		}
	if (rc <= 0) {
		/* a receiver fails when one of its channels goes: name that one,
		 * closed in order (the one that went) before reset (by its
		 * failure) */
		for (int pass = 0; pass < 2; pass++)
			for (unsigned int i = 0; i < tx->x.opts.channels && !tx_failed(tx); i++) {
				char c;
				ssize_t r = recv(tx->ch[i].fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

				if ((!pass && r == 0) || (pass && r < 0 && errno != EAGAIN &&
							   errno != EWOULDBLOCK && errno != EINTR))
					tx_fail(tx, "channel %u: %s before the destination answered the PING", i,
						r ? strerror(errno) : "closed from the receiver's side");
			}
		if (!tx_failed(tx))
			tx_fail(tx, "main channel: waiting for the destination's PONG: %s (a receiver "
				"without a return path needs --no-handshake)", rc ? err :
				"it closed the connection");
		return -1;
	}
	tx->handshake_ns = now_ns() - t0;
	return 0;
}

static int send_item(struct sender *tx, struct stream_reader *r,
		     const struct stream_item *it)
{
	/* after the header and configuration, before anything else */
	if (!tx->handshaken && !tx->no_handshake && it->type != SI_HEADER && it->type != SI_CONFIG &&
	    handshake(tx) < 0)
		return -1;
	/* the return path is ours; a destination opens one at most */
	if (it->type == SI_COMMAND && it->cmd == MIG_CMD_OPEN_RETURN_PATH && tx->handshaken)
		return 0;
	switch (it->type) {
	case SI_SECTION:
		if (it->section->kind == SECTION_KIND_RAM) {
			tx->ram_section = it->section;
			tx->ram_section_type = it->section_type;
		}
		return stream_write_item(&tx->w, it, stream_ram(r));
	case SI_RAM_MEM_SIZE:
	case SI_RAM_PAGE:
	case SI_RAM_ZERO:
	case SI_RAM_MULTIFD_FLUSH:
	case SI_RAM_EOS:
		return send_ram_item(tx, r, it);
	case SI_EOF:
	case SI_VMDESC:
		return 0;	/* written once the whole input is known valid */
	default:
		return stream_write_item(&tx->w, it, stream_ram(r));
	}
}

/* ---- monitor: progress and the idle timeout ---- */

static uint64_t moved_bytes(struct sender *tx, char *extra, size_t n)
{
	struct chan_counters *cnt[XFER_CHANNELS_MAX];

	for (unsigned int i = 0; i < tx->x.opts.channels; i++)
		cnt[i] = &tx->ch[i].cnt;
	return chan_counters_moved(cnt, tx->x.opts.channels,
				   atomic_load_explicit(&tx->main_bytes, memory_order_relaxed),
				   atomic_load_explicit(&tx->zero_pages, memory_order_relaxed),
				   extra, n);
}

static uint64_t moved(void *ctx, char *extra, size_t n)
{
	return moved_bytes(ctx, extra, n);
}

static void stalled(void *ctx, unsigned int timeout_s)
{
	tx_fail((struct sender *)ctx, "no byte moved for %u s (--timeout): the receiver stopped taking data",
		timeout_s);
}

/* ---- set-up, tear-down, report ---- */

static int connect_channel(struct sender *tx, unsigned int i, uint64_t deadline)
{
	struct send_channel *ch = &tx->ch[i];
	char err[ERR_LEN];
	int fd, e;

	/* The main channel is in: a refusal now means that the receiver
	 * stopped accepting, not that it is still starting. */
	fd = net_connect(&tx->ep, deadline, tx->x.session.wake_fd, false, err);
	if (fd < 0) {
		e = errno;
		tx_fail(tx, "channel %u: %s%s", i, err, e == ECONNREFUSED ?
			" (the receiver has all the channels it expects: does its -c match?)" : "");
		return -1;
	}
	pthread_mutex_lock(&tx->x.session.lock);
	ch->fd = fd;
	if (session_watch_fd_locked(&tx->x.session, fd, SHUT_RDWR) < 0)
		session_fail_locked(&tx->x.session, "channel %u: %s", i, SESSION_WATCH_FULL_FDS);
	pthread_mutex_unlock(&tx->x.session.lock);
	if (tx_failed(tx))
		return -1;
	if (tx->zero_copy && zc_enable(&ch->zc, fd, tx->x.session.wake_fd) < 0) {
		tx_fail(tx, "channel %u: --zero-copy: the kernel refuses SO_ZEROCOPY on its socket (%s): MSG_ZEROCOPY needs Linux 4.14 or later; send without --zero-copy",
			i, strerror(errno));
		return -1;
	}
	if (pthread_create(&ch->thread, NULL, send_channel_thread, ch)) {
		tx_fail(tx, "channel %u: cannot start its thread", i);
		return -1;
	}
	ch->started = true;
	return 0;
}

static int start_channels(struct sender *tx)
{
	uint64_t deadline = xfer_deadline(&tx->x, XFER_CONNECT_DEFAULT_S);
	char err[ERR_LEN];

	tx->main_fd = net_connect(&tx->ep, deadline, tx->x.session.wake_fd, true, err);
	if (tx->main_fd < 0) {
		tx_fail(tx, "main channel: %s", err);
		return -1;
	}
	if (session_watch_fd(&tx->x.session, tx->main_fd, SHUT_RDWR) < 0) {
		tx_fail(tx, "main channel: %s", SESSION_WATCH_FULL_FDS);
		return -1;
	}
	net_peer_name(tx->main_fd, tx->x.endpoint, sizeof(tx->x.endpoint));
	if (out_init(&tx->main_out, tx->main_fd, 1u << 20) < 0) {
		tx_fail(tx, "out of memory");
		return -1;
	}
	stream_writer_init(&tx->w, &tx->main_out, MULTIFD_PAGE_SIZE);
	/* Main first and connected: a QEMU destination takes the first
	 * connection as the main channel. Then the channels in id order. */
	for (unsigned int i = 0; i < tx->x.opts.channels; i++)
		if (connect_channel(tx, i, deadline) < 0)
			return -1;
	return 0;
}

static int setup(void *ctx)
{
	struct sender *tx = ctx;
	struct session *s = &tx->x.session;
	char err[ERR_LEN];

	pthread_cond_init(&tx->main_wake, NULL);
	if (session_watch_cond(s, &tx->main_wake) < 0) {
		tx_fail(tx, "%s", SESSION_WATCH_FULL_CONDS);
		return -1;
	}
	ram_pageset_init(&tx->touched);
	tx->ch = calloc(tx->x.opts.channels, sizeof(*tx->ch));
	if (!tx->ch)
		return -1;
	for (unsigned int i = 0; i < tx->x.opts.channels; i++) {
		tx->ch[i].fd = -1;
		tx->ch[i].tx = tx;
		tx->ch[i].id = i;
		pthread_cond_init(&tx->ch[i].wake, NULL);
		if (session_watch_cond(s, &tx->ch[i].wake) < 0) {
			tx_fail(tx, "channel %u: %s", i, SESSION_WATCH_FULL_CONDS);
			return -1;
		}
	}
	tx->filling = job_new();
	if (!tx->filling)
		return -1;
	for (unsigned int i = 0; i < tx->x.opts.channels; i++) {
		struct send_channel *ch = &tx->ch[i];

		ch->job = job_new();
		if (!ch->job)
			return -1;
		if (tx->x.opts.method->send_setup(&ch->cctx, tx->x.opts.level, err) < 0) {
			tx_fail(tx, "channel %u: %s", i, err);
			return -1;
		}
	}
	return 0;
}

static void stop_threads(struct sender *tx)
{
	pthread_mutex_lock(&tx->x.session.lock);
	tx->quit = true;
	for (unsigned int i = 0; i < tx->x.opts.channels; i++)
		pthread_cond_broadcast(&tx->ch[i].wake);
	pthread_mutex_unlock(&tx->x.session.lock);
	for (unsigned int i = 0; i < tx->x.opts.channels; i++)
		if (tx->ch[i].started)
			pthread_join(tx->ch[i].thread, NULL);
	xfer_monitor_stop(&tx->x);
}

/* Success needs the receiver to close every connection in order: a
 * receiver that fails resets them. */
static void wait_receiver_close(struct sender *tx)
{
	uint64_t deadline = xfer_deadline(&tx->x, XFER_CONNECT_DEFAULT_S);

	shutdown(tx->main_fd, SHUT_WR);
	for (unsigned int i = 0; i < tx->x.opts.channels; i++)
		shutdown(tx->ch[i].fd, SHUT_WR);
	if (tx->handshaken) {
		struct pc_rp_msg m;
		char err[ERR_LEN];
		int rc;

		/* the return path to its end: a SHUT says how the load went */
		while ((rc = rp_message(tx, &m, deadline, err)) > 0)
			;
		if (rc < 0 && !tx_failed(tx))
			tx_fail(tx, "main channel: the return path: %s", err);
		else if (!tx_failed(tx) && tx->shut_seen && tx->shut_status)
			tx_fail(tx, "the destination failed to load the stream (SHUT %u on the return path)",
				tx->shut_status);
		else if (!tx_failed(tx) && !tx->shut_seen)
			tx_fail(tx, "main channel: the destination closed the return path without a SHUT: it did not finish loading");
	}
	for (unsigned int i = tx->handshaken ? 1 : 0; i <= tx->x.opts.channels && !tx_failed(tx); i++) {
		int fd = i ? tx->ch[i - 1].fd : tx->main_fd;
		char name[16];

		if (net_wait_close(fd, deadline, tx->x.session.wake_fd) == 0 || errno == ECANCELED)
			continue;
		snprintf(name, sizeof(name), "channel %u", i - 1);
		tx_fail(tx, "%s: %s", i ? name : "main channel",
			errno == ECONNRESET ? "the receiver reset the connection: it failed" :
			errno == ETIMEDOUT ? "the receiver did not close the connection in time" :
			errno == EPROTO ? "the receiver sent bytes; a multifd receiver sends none" :
			strerror(errno));
	}
}

/* After the stream: the channels' threads end, then the receiver's
 * orderly close of every connection is success. */
static void stop(void *ctx)
{
	struct sender *tx = ctx;

	if (!tx->ch)
		return;
	stop_threads(tx);
	if (!tx_failed(tx) && tx->main_fd >= 0)
		wait_receiver_close(tx);
}

/* Read once the channels' threads are joined. */
static void zc_stats(struct sender *tx, struct json_writer *w)
{
	uint64_t sends = 0, copied = 0, enobufs = 0, copy_fallbacks = 0;

	for (unsigned int i = 0; tx->ch && i < tx->x.opts.channels; i++) {
		sends += tx->ch[i].zc.sends;
		copied += tx->ch[i].zc.copied;
		enobufs += tx->ch[i].zc.enobufs;
		copy_fallbacks += tx->ch[i].zc.copy_fallbacks;
	}
	jw_key(w, "zero_copy"); jw_bool(w, tx->zero_copy);
	jw_key(w, "zerocopy_sends"); jw_u64(w, sends);
	jw_key(w, "zerocopy_copied"); jw_u64(w, copied);
	jw_key(w, "zerocopy_enobufs"); jw_u64(w, enobufs);
	jw_key(w, "zerocopy_copy_fallbacks"); jw_u64(w, copy_fallbacks);
}

static void stats_fields(void *ctx, struct json_writer *w)
{
	struct sender *tx = ctx;
	struct chan_counters *cnt[XFER_CHANNELS_MAX];

	for (unsigned int i = 0; i < tx->x.opts.channels; i++)
		cnt[i] = &tx->ch[i].cnt;
	jw_key(w, "channels"); jw_u64(w, tx->x.opts.channels);
	jw_key(w, "compression"); jw_string(w, tx->x.opts.method->name);
	jw_key(w, "level"); jw_i64(w, tx->x.opts.level);
	jw_key(w, "input_bytes"); jw_u64(w, tx->x.input_bytes);
	jw_key(w, "ram_total"); jw_u64(w, tx->ram_total);
	jw_key(w, "sync_points"); jw_u64(w, tx->sync_points);
	jw_key(w, "extra_sync_points"); jw_u64(w, tx->extra_sync_points);
	jw_key(w, "sync_mode");
	jw_string(w, tx->sync_mode == SYNC_ROUND ? "round" :
		  tx->sync_mode == SYNC_SECTION ? "section" : "unknown");
	jw_key(w, "zero_pages_in_packets"); jw_bool(w, tx->zero_mode == ZERO_MULTIFD);
	jw_key(w, "zero_pages"); jw_u64(w, tx->zero_pages);
	jw_key(w, "main_bytes"); jw_u64(w, tx->main_bytes);
	jw_key(w, "handshake"); jw_bool(w, tx->handshaken);
	if (tx->handshaken) {
		jw_key(w, "handshake_ms"); jw_double(w, (double)tx->handshake_ns / 1e6);
		jw_key(w, "shut_status");
		if (tx->shut_seen)
			jw_u64(w, tx->shut_status);
		else
			jw_null(w);
	}
	jw_key(w, "mapped_ram_input"); jw_bool(w, tx->mapped_input);
	if (tx->mapped_input) {
		uint64_t read = 0;

		for (unsigned int i = 0; i < tx->x.opts.channels; i++)
			read += tx->ch[i].file_bytes;
		jw_key(w, "channel_read_bytes"); jw_u64(w, read);
	}
	zc_stats(tx, w);
	chan_counters_json(w, cnt, NULL, tx->x.opts.channels, MULTIFD_PAGE_SIZE);
}

static void cleanup(void *ctx)
{
	struct sender *tx = ctx;

	for (unsigned int i = 0; tx->ch && i < tx->x.opts.channels; i++) {
		struct send_channel *ch = &tx->ch[i];

		if (ch->fd >= 0) {
			session_unwatch_fd(&tx->x.session, ch->fd);
			if (tx_failed(tx))
				net_abort_on_close(ch->fd);
			close(ch->fd);
		}
		if (ch->cctx)
			tx->x.opts.method->send_cleanup(ch->cctx);
		job_free(ch->job);
		/* After a failure the kernel may still send from these: it
		 * holds its own references to the pages, so freeing them
		 * changes only bytes that no longer matter. */
		for (unsigned int k = 0; k < ch->in_flight_count; k++)
			job_free(ch->in_flight[(ch->in_flight_head + k) % ZC_JOBS_IN_FLIGHT]);
	}
	if (tx->main_fd >= 0) {
		session_unwatch_fd(&tx->x.session, tx->main_fd);
		if (tx_failed(tx))
			net_abort_on_close(tx->main_fd);
		close(tx->main_fd);
	}
	free(tx->main_out.buf);
	ram_pageset_free(&tx->touched);
	job_free(tx->filling);
	free(tx->ch);
}

/* Parses stdin and sends it; the end of the stream only once it is all
 * valid. */
/* ---- the run ---- */

static int open_channels(void *ctx, struct in_buf **in)
{
	(void)in;	/* stdin */
	return start_channels(ctx);
}

static int item(void *ctx, struct stream_reader *r, const struct stream_item *it)
{
	struct sender *tx = ctx;

	if (send_item(tx, r, it) < 0)
		return -1;
	atomic_store_explicit(&tx->main_bytes, out_offset(&tx->main_out), memory_order_relaxed);
	if (tx->main_out.err) {
		tx_fail(tx, "main channel: send failed: %s", strerror(tx->main_out.err));
		return -1;
	}
	return 0;
}

static int end(void *ctx, struct stream_reader *r)
{
	struct sender *tx = ctx;

	stream_write_end(&tx->w, r);
	flush_main(tx);
	if (tx->main_out.err)
		tx_fail(tx, "main channel: send failed: %s", strerror(tx->main_out.err));
	return tx_failed(tx) ? -1 : 0;
}

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct sender *tx = ctx;

	switch (key) {
	case OPT_NO_HANDSHAKE:
		tx->no_handshake = true;
		return 0;
	case OPT_SYNC:
		if (!strcmp(arg, "section"))
			tx->sync_mode = SYNC_SECTION;
		else if (!strcmp(arg, "round"))
			tx->sync_mode = SYNC_ROUND;
		else
			goto bad;
		return 0;
	case OPT_ZERO_COPY:
		tx->zero_copy = true;
		return 0;
	case OPT_ZERO_PAGES:
		if (!strcmp(arg, "legacy"))
			tx->zero_mode = ZERO_LEGACY;
		else if (!strcmp(arg, "multifd"))
			tx->zero_mode = ZERO_MULTIFD;
		else
			goto bad;
		return 0;
	}
	snprintf(err, ERR_LEN, "bad option");
	return -1;
bad:
	snprintf(err, ERR_LEN, "--%s: expected %s, not '%s'", key == OPT_SYNC ? "sync" : "zero-pages",
		 key == OPT_SYNC ? "section or round" : "legacy or multifd", arg);
	return -1;
}

static void operands(void *ctx, int argc, char **argv)
{
	struct sender *tx = ctx;
	char err[ERR_LEN];

	/* Checked here, once every option is known. */
	if (tx->zero_copy && tx->x.opts.method != &compress_none)
		die_usage("--zero-copy sends the pages as they are: not with -z %s (QEMU refuses zero-copy-send with compression too)",
			  tx->x.opts.method->name);
	if (argc - optind != 1)
		die_usage("expected one HOST:PORT");
	if (net_endpoint_parse(argv[optind], true, &tx->ep, err) < 0)
		die_usage("%s", err);
	net_endpoint_name(&tx->ep, tx->x.endpoint, sizeof(tx->x.endpoint));
}

static const struct xfer_ops send_ops = {
	.applet = "multifd-send",
	.role = XFER_SENDER,
	.opts = send_opts,
	.help = &multifd_send_help,
	.option = take_option,
	.operands = operands,
	.setup = setup,
	.open = open_channels,
	.item = item,
	.end = end,
	.stop = stop,
	.moved = moved,
	.stalled = stalled,
	.stats = stats_fields,
	.cleanup = cleanup,
};

int multifd_send_main(int argc, char **argv)
{
	struct sender tx = { .main_fd = -1 };

	return xfer_main(&tx.x, &send_ops, &tx, argc, argv);
}
