// SPDX-License-Identifier: GPL-3.0-or-later
/* postcopy-serve: a saved migration stream as the source of a postcopy
 * migration, for a QEMU 7.2 destination that runs at once and faults its
 * RAM in on demand.
 *
 * The stream file is indexed in place (mapped; a pipe is spooled to an
 * unnamed temporary first): every page's last record, the configuration,
 * the RAM section, the device state (a mapped-ram file has its pages at
 * fixed offsets: they are looked up, not walked). Then the destination
 * gets what a QEMU source sends it: header and configuration (without
 * mapped-ram), OPEN_RETURN_PATH, POSTCOPY_ADVISE, the RAM START section
 * with the block list, a DISCARD per block (QEMU 7.2 needs one before
 * LISTEN), one PACKAGED blob of LISTEN, the device state and RUN; then RAM
 * PART sections, the pages the destination asks for on the return path
 * first, the others in the background in small sections, every page
 * exactly once; END, EOF, and success when it answers SHUT 0.
 *
 * Threads: the applet's thread sends; a return-path thread reads the
 * destination's messages and queues its page requests; a monitor draws
 * progress and enforces --timeout. With --preempt (QEMU's postcopy-preempt)
 * a second connection carries the requested pages, written by a thread of
 * their own so that none waits behind the background push on the main
 * one, and a watcher notices that connection closing early. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets.h"
#include "bytes.h"
#include "clock.h"
#include "io.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "mapped_ram.h"
#include "net.h"
#include "opts.h"
#include "postcopy_wire.h"
#include "stream.h"
#include "stream_index.h"
#include "transfer.h"
#include "xfer_run.h"
#include "uffd_probe.h"

enum { OPT_RESUME = 0x2000, OPT_PUSH_DELAY, OPT_PREEMPT, OPT_PROBE };

static const struct opt serve_opts[] = {
	{ OPT_RESUME, "resume", NULL, "continue a postcopy migration that broke after the guest "
	  "started (the destination is postcopy-paused): run migrate-recover tcp:HOST:PORT on "
	  "it, then this; only the pages it still lacks are sent", NULL },
	{ OPT_PREEMPT, "preempt", NULL, "send the requested pages on a second connection, as "
	  "QEMU's postcopy-preempt does, so that they never wait behind the background push; "
	  "the destination must have the postcopy-preempt capability on if and only if this "
	  "is given (a mismatch stalls it); not with --resume", NULL },
	{ OPT_PUSH_DELAY, "push-delay", "MS", "push background pages only after MS milliseconds; "
	  "requested pages go at once (shows demand paging)", NULL },
	XFER_ROW_TIMEOUT("give up connecting after SECONDS (default 30) and fail when a piped "
			 "stream stops coming, or the destination takes no byte and asks for "
			 "nothing, for SECONDS (default: no limit)"),
	XFER_ROW_PROGRESS_HELP("show pages requested, pushed and left, and the request "
			       "latency, on stderr"),
	XFER_ROW_STATS,
	{ OPT_PROBE, "probe", NULL, "say whether this host can be a postcopy destination "
	  "(userfaultfd: the syscall, /dev/userfaultfd, API features, unprivileged use, shmem "
	  "and hugetlbfs registration, page sizes) and exit", NULL },
	{ 'j', "json", NULL, "with --probe: as JSON", NULL },
	OPT_HELP,
	OPT_END
};

const struct applet_help postcopy_serve_help = {
	.opts = serve_opts,
	.text =
"usage: postcopy-serve [OPTIONS] HOST:PORT < STREAM\n"
"       postcopy-serve --probe [--json]\n"
"\n"
"Serves a saved QEMU migration stream (QEVM version 3, from a file or a\n"
"pipe) to a QEMU 7.2 destination as a postcopy migration source: the\n"
"destination runs the guest at once and its RAM is faulted in on demand,\n"
"the pages it asks for first, the rest pushed in the background. The\n"
"destination is started with -incoming defer, the postcopy-ram capability\n"
"set, then migrate-incoming tcp:HOST:PORT; it must not have -S.\n"
"\n"
"The stream is indexed before connecting (a pipe is spooled to an unnamed\n"
"temporary file first, checked as it comes, and refused once it goes on\n"
"past 8 times the RAM it claims plus 256 MiB); what cannot be served is\n"
"refused by name: another target page size, vfio devices, compressed\n"
"pages, no device state. A stream file must not change while it is served.\n"
"\n"
"A mapped-ram file (QEMU 9.0+ migrate file: with the mapped-ram capability,\n"
"or stream-dump --to-mapped-ram) is served directly, from a file, not a\n"
"pipe: its pages are read at their fixed offsets, so none is walked before\n"
"the destination runs, and the destination gets a plain postcopy stream\n"
"(it needs no mapped-ram capability).\n"
"\n",
	.notes =
"\n"
"If the connection breaks after the guest started, QEMU pauses the\n"
"migration (postcopy-paused) and the guest waits for its missing pages:\n"
"migrate-recover on the destination and postcopy-serve --resume finish it.\n"
"Before the guest started, a failure makes the destination exit.\n"
"\n"
"A destination's return-path message out of its place fails the run: page\n"
"requests before the guest was started or past a block's end, bitmaps and\n"
"RESUME_ACK not asked for. Page requests wait in a bounded queue; one for\n"
"pages already sent is dropped, and so is one that finds the queue full\n"
"before RESUME_ACK (its pages go out in the background).\n"
"\n"
XFER_USAGE_SIGNALS
"\n"
"Exit status: 0 every page served and the destination said SHUT 0, 1\n"
"failure, 2 usage error; with --probe, 0 when this host can be a\n"
"destination, 1 when it cannot.\n",
};

#define SECTION_PAGES	64	/* background pages per section: a request waits at most one */
#define LATENCY_MAX	(1u << 20)
/* Page requests queued at most: a destination that asks faster than it
 * reads is made to wait (its return path is not read meanwhile), not
 * given memory. */
#define QUEUE_MAX	4096u
#define DEV_PIECE	(64u << 10)	/* device state copied at a time */

/* Where the run is: which return-path messages may come (under the lock). */
enum srv_phase {
	PH_INDEX,	/* the stream is spooled and indexed: no connection yet */
	PH_START,	/* the postcopy start: PONGs */
	PH_BITMAPS,	/* --resume: the RECV_BITMAPs asked for */
	PH_RESUME,	/* --resume: POSTCOPY_RESUME sent, RESUME_ACK awaited */
	PH_PAGES,	/* LISTEN sent, or resumed: page requests */
	PH_DONE,	/* every page sent: requests are dropped */
};

struct request {
	uint32_t block;
	uint64_t page, pages;
	uint64_t at_ns;
};

struct server {
	struct xfer x;
	struct net_endpoint ep;
	bool probe, probe_json;		/* --probe [--json] */
	bool resume;
	bool preempt;			/* --preempt */
	unsigned int push_delay_ms;

	int in_fd;			/* the stream: a file, or the spool */
	struct in_buf in;		/* mapped */
	struct stream_reader *r;
	struct stream_index ix;

	int fd;				/* the connection */
	char peer[NET_NAME_LEN];
	struct out_buf out;
	struct in_buf rp_in;		/* its other direction: the return path */
	struct stream_writer w;
	/* Per block, a bit per page sent. Written by the return-path thread
	 * only in PH_BITMAPS, while the sender waits for the bitmaps, and
	 * by the sender only after; the lock hands it over. Words are
	 * updated atomically, so the return-path thread may peek to drop
	 * requests for pages already sent. */
	uint64_t **sent;
	_Atomic uint64_t sent_pages;	/* claimed by either sending thread */
	uint64_t cursor_block, cursor_page;

	/* --preempt: the second connection, written by the preempt thread
	 * only; its records carry no section, CONTINUE per this channel. */
	int pfd;
	struct out_buf pout;
	struct in_buf pin;		/* never written to by the destination */
	struct stream_writer pw;
	pthread_t pre_thread, watch_thread;
	bool pre_started, watch_started;

	/* Shared with the return-path thread, under x.session.lock. */
	pthread_cond_t cond;
	bool cond_init;
	enum srv_phase phase;
	bool *bitmap_in;		/* per block: its RECV_BITMAP came */
	struct request *queue;		/* a ring of QUEUE_MAX */
	size_t qhead, qcount;
	int last_block;			/* of the last REQ_PAGES_ID */
	bool shut;
	uint32_t shut_status;
	bool resume_acked;
	bool switchover_acked;		/* SWITCHOVER_ACK came (switchover-ack) */
	bool end_sent;			/* EOF on main: the preempt channel may close */
	bool pre_stop;			/* the preempt thread ends with EOS */
	bool pre_dropped;		/* the destination refused or closed it */
	bool hint_set;			/* the last request's end, for the push */
	uint64_t hint_block, hint_page;
	uint32_t pong_max;		/* the highest PONG: how far the destination got */
	uint32_t bitmaps_in;		/* RECV_BITMAPs read (resume) */
	pthread_t rp_thread;
	bool rp_started;

	struct request *batch;		/* the sender's copy of the queue */

	/* Figures. */
	_Atomic uint64_t spooled;	/* bytes of a pipe spooled so far */
	atomic_bool busy;		/* indexing or connecting: no stall */
	_Atomic uint64_t requested, pushed, requests, rp_messages, bytes_sent, already;
	_Atomic uint64_t pages_preempt, bytes_preempt;
	_Atomic uint64_t last_latency_ns;
	_Atomic uint64_t push_at_ns;	/* --push-delay holds pushing until then */
	uint64_t *latency_ns;		/* per served request, sender only */
	size_t nlatency;
	uint64_t index_ns, connect_ns, running_ns, done_ns;
};

#define srv_fail(s, ...) session_fail(&(s)->x.session, __VA_ARGS__)

static bool srv_failed(struct server *s)
{
	return session_failed(&s->x.session);
}

/* ---- pages ---- */

static uint64_t next_unsent(struct server *s, uint32_t b, uint64_t p, uint64_t end);

static bool page_sent(struct server *s, uint32_t b, uint64_t p)
{
	return __atomic_load_n(&s->sent[b][p / 64], __ATOMIC_RELAXED) & (1ull << (p % 64));
}

/* Counts the page once, however often it is marked; true for the caller
 * that marked it first: with --preempt two threads send, and only that
 * one sends the page (QEMU 7.2 fails on a page placed twice). */
static bool mark_sent(struct server *s, uint32_t b, uint64_t p)
{
	uint64_t bit = 1ull << (p % 64);

	if (__atomic_fetch_or(&s->sent[b][p / 64], bit, __ATOMIC_RELAXED) & bit)
		return false;
	atomic_fetch_add(&s->sent_pages, 1);
	return true;
}

/* Every page is marked: the count may lag a thread between its mark and
 * its count. */
static bool all_marked(struct server *s)
{
	for (uint32_t b = 0; b < s->ix.nblocks; b++)
		if (next_unsent(s, b, 0, s->ix.blocks[b].pages) < s->ix.blocks[b].pages)
			return false;
	return true;
}

/* The first page of block b in [p, end) not sent yet, or end: a word of
 * pages at a time, since a request may span a million of them. */
static uint64_t next_unsent(struct server *s, uint32_t b, uint64_t p, uint64_t end)
{
	while (p < end) {
		uint64_t word = ~__atomic_load_n(&s->sent[b][p / 64], __ATOMIC_RELAXED) >> (p % 64);

		if (word) {
			p += (uint64_t)__builtin_ctzll(word);
			return p < end ? p : end;
		}
		p = (p / 64 + 1) * 64;
	}
	return end;
}

/* Every page of [p, p + n) of block b was sent. */
static bool pages_sent(struct server *s, uint32_t b, uint64_t p, uint64_t n)
{
	return next_unsent(s, b, p, p + n) == p + n;
}

/* One page record from the index on writer w, for the caller that
 * marked it: PAGE with the file's bytes, or ZERO. */
static void put_page(struct server *s, struct stream_writer *w, uint32_t b, uint64_t p)
{
	const struct stream_index_block *pb = &s->ix.blocks[b];
	uint64_t addr = p * STREAM_INDEX_PAGE_SIZE;
	uint8_t fill;
	uint64_t off = stream_index_page(pb, p, &fill);

	if (off) {
		stream_write_page(w, pb->rb, addr, s->in.buf + off);
	} else if (!fill) {
		stream_write_zero(w, pb->rb, addr, 0);
	} else {
		/* QEMU 10.0 refuses a ZERO record whose fill is not 0 */
		unsigned char page[STREAM_INDEX_PAGE_SIZE];

		memset(page, fill, sizeof(page));
		stream_write_page(w, pb->rb, addr, page);
	}
}

static void open_part(struct server *s)
{
	stream_write_section(&s->w, QEMU_VM_SECTION_PART, &s->ix.ram);
	/* a new section names its block again */
	s->w.last_block = NULL;
}

static int close_section(struct server *s)
{
	stream_write_ram_flag(&s->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&s->w, s->ix.ram.id);
	if (out_flush(&s->out) < 0) {
		if (!srv_failed(s))
			srv_fail(s, "sending pages: %s", strerror(s->out.err));
		return -1;
	}
	atomic_store(&s->bytes_sent, s->out.written);
	return 0;
}

/* ---- the return path ---- */

/* A page request, with the lock held: checked, dropped when its pages
 * went already, queued otherwise (while the queue is full, waiting for the
 * sender to drain it, woken by a failure or the last page sent). */
static int queue_request_locked(struct server *s, const struct pc_rp_msg *m)
{
	struct session *ss = &s->x.session;
	uint64_t page = m->start / STREAM_INDEX_PAGE_SIZE, pages = m->length / STREAM_INDEX_PAGE_SIZE;
	uint32_t b;

	if (s->phase != PH_PAGES && s->phase != PH_RESUME && s->phase != PH_DONE)
		return session_fail_locked(ss, "the destination asks for pages (%s) before the guest was started",
					   pc_rp_name(m->type)), -1;
	if (m->type == PC_RP_REQ_PAGES_ID) {
		const struct ram_block *rb = ram_block_find(stream_ram(s->r), m->name, m->name_len);

		if (!rb)
			return session_fail_locked(ss, "the destination asks for pages of block '%s', which the stream does not have",
						   m->name), -1;
		s->last_block = (int)rb->index;
	}
	if (s->last_block < 0)
		return session_fail_locked(ss, "the destination asks for pages (REQ_PAGES) before naming their block (REQ_PAGES_ID)"), -1;
	b = (uint32_t)s->last_block;
	/* page < 2^52 and pages < 2^20: no overflow */
	if (page + pages > s->ix.blocks[b].pages)
		return session_fail_locked(ss, "the destination asks for %u bytes at 0x%" PRIx64 " of block '%s', past its end (%" PRIu64 " bytes)",
					   m->length, m->start, s->ix.blocks[b].rb->name, s->ix.blocks[b].rb->length), -1;
	atomic_fetch_add(&s->requests, 1);
	for (;;) {
		/* it asked before our page arrived, or all went already */
		if (s->phase == PH_DONE || pages_sent(s, b, page, pages))
			return 0;
		if (s->qcount < QUEUE_MAX)
			break;
		/* Full. Before RESUME_ACK nothing drains it, and waiting would
		 * leave the ACK unread: dropped, the pages go out with the
		 * background ones. */
		if (s->phase != PH_PAGES)
			return 0;
		if (session_wait(ss, &s->cond))
			return -1;
	}
	s->queue[(s->qhead + s->qcount++) % QUEUE_MAX] = (struct request){ b, page, pages, now_ns() };
	pthread_cond_broadcast(&s->cond);
	return 0;
}

/* n bytes of the return path, in pieces the buffer holds; -1 when it
 * ended or the session failed. */
static int rp_read(struct server *s, void *p, size_t n)
{
	unsigned char *d = p;

	while (n) {
		size_t k = n < s->rp_in.cap ? n : s->rp_in.cap;

		if (in_want(&s->rp_in, k) != (ssize_t)k)
			return -1;
		memcpy(d, in_ptr(&s->rp_in), k);
		in_skip(&s->rp_in, k);
		d += k;
		n -= k;
	}
	return 0;
}

/* The bitmap after a RECV_BITMAP message: be64 size, the received pages
 * (little-endian u64 words), be64 0x0123456789abcdef. */
static int read_bitmap(struct server *s, const char *name)
{
	const struct ram_block *rb = ram_block_find(stream_ram(s->r), name, strlen(name));
	unsigned char b8[8], *bits;
	uint64_t size, want, pages, have = 0;

	if (!rb)
		return srv_fail(s, "the destination sends the bitmap of block '%s', which the stream does not have", name), -1;
	pthread_mutex_lock(&s->x.session.lock);
	if (s->phase != PH_BITMAPS || s->bitmap_in[rb->index]) {
		session_fail_locked(&s->x.session, "the destination sends the bitmap of block '%s' (RECV_BITMAP), %s",
				    name, s->phase != PH_BITMAPS ? "which was not asked for" : "a second time");
		pthread_mutex_unlock(&s->x.session.lock);
		return -1;
	}
	pthread_mutex_unlock(&s->x.session.lock);
	pages = rb->length / STREAM_INDEX_PAGE_SIZE;
	want = ((pages + 7) / 8 + 7) / 8 * 8;
	if (rp_read(s, b8, 8) < 0)
		return srv_fail(s, "reading the bitmap of '%s': the return path ended", name), -1;
	size = get_be64(b8);
	if (size != want)
		return srv_fail(s, "the bitmap of '%s' has %" PRIu64 " bytes, expected %" PRIu64, name, size, want), -1;
	bits = malloc(size);
	if (!bits)
		return srv_fail(s, "out of memory for the bitmap of '%s'", name), -1;
	if (rp_read(s, bits, size) < 0 || rp_read(s, b8, 8) < 0) {
		free(bits);
		return srv_fail(s, "reading the bitmap of '%s': the return path ended", name), -1;
	}
	if (get_be64(b8) != 0x0123456789abcdefull) {
		free(bits);
		return srv_fail(s, "the bitmap of '%s' does not end with its mark", name), -1;
	}
	/* PH_BITMAPS: the sender waits for every bitmap before it touches sent[] */
	pthread_mutex_lock(&s->x.session.lock);
	for (uint64_t p = 0; p < pages; p++)
		if ((bits[p / 8] >> (p % 8)) & 1 && !page_sent(s, rb->index, p)) {
			mark_sent(s, rb->index, p);
			have++;
		}
	atomic_fetch_add(&s->already, have);
	s->bitmap_in[rb->index] = true;
	s->bitmaps_in++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->x.session.lock);
	free(bits);
	return 0;
}

static int handle_rp(struct server *s, const struct pc_rp_msg *m)
{
	int ret = 0;

	atomic_fetch_add(&s->rp_messages, 1);
	if (m->type == PC_RP_RECV_BITMAP)
		return read_bitmap(s, m->name);
	pthread_mutex_lock(&s->x.session.lock);
	switch (m->type) {
	case PC_RP_SHUT:
		s->shut = true;
		s->shut_status = m->value;
		s->done_ns = now_ns();
		break;
	case PC_RP_PONG:
		if (m->value > s->pong_max)
			s->pong_max = m->value;
		if (m->value == 3 && !s->running_ns)
			s->running_ns = now_ns();	/* the package is loaded: RUN ran */
		break;
	case PC_RP_RESUME_ACK:
		/* QEMU acknowledges with 1 (MIGRATION_RESUME_ACK_VALUE) */
		if (s->phase != PH_RESUME || m->value != 1) {
			session_fail_locked(&s->x.session, "the destination sends RESUME_ACK %u %s", m->value,
					    s->phase != PH_RESUME ? "without being asked to resume" : "instead of 1");
			ret = -1;
			break;
		}
		s->resume_acked = true;
		s->phase = PH_PAGES;
		break;
	case PC_RP_SWITCHOVER_ACK:
		/* A destination with switchover-ack approves the switchover
		 * once: the stream is saved, so nothing waits for it. */
		if (s->switchover_acked) {
			session_fail_locked(&s->x.session, "the destination sends SWITCHOVER_ACK twice");
			ret = -1;
			break;
		}
		s->switchover_acked = true;
		break;
	default:
		ret = queue_request_locked(s, m);
		break;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->x.session.lock);
	return ret;
}

static void *rp_thread(void *arg)
{
	struct server *s = arg;
	unsigned char hdr[PC_RP_HEADER_SIZE], body[PC_RP_MAX_LEN];
	char err[ERR_LEN];

	for (;;) {
		struct pc_rp_msg m;

		if (rp_read(s, hdr, sizeof(hdr)) < 0) {
			pthread_mutex_lock(&s->x.session.lock);
			if (!s->shut)
				session_fail_locked(&s->x.session, "the destination closed the connection%s",
						    s->rp_in.err ? " with an error" : "");
			pthread_mutex_unlock(&s->x.session.lock);
			break;
		}
		err[0] = 0;
		if (pc_rp_header(hdr, &m, err) < 0 || rp_read(s, body, m.len) < 0 ||
		    pc_rp_body(body, &m, err) < 0) {
			srv_fail(s, "return path, byte %" PRIu64 ": %s", in_offset(&s->rp_in),
				 err[0] ? err : "the connection ended inside a message");
			break;
		}
		if (handle_rp(s, &m) < 0 || m.type == PC_RP_SHUT)
			break;
	}
	return NULL;
}

/* ---- sending ---- */

/* The preempt channel's pages so far, flushed. */
static int preempt_flush(struct server *s, const char *what)
{
	if (out_flush(&s->pout) < 0) {
		if (!srv_failed(s))
			srv_fail(s, "preempt channel: %s: %s", what, strerror(s->pout.err));
		return -1;
	}
	atomic_store(&s->bytes_preempt, s->pout.written);
	return 0;
}

/* The queued requests, taken under the lock (held on entry and on
 * return) and served without it: the pages not sent yet, in a PART
 * section of their own, or with --preempt as bare records on the preempt
 * channel, flushed per request. The background goes on after the last
 * of them. */
static int serve_requests_locked(struct server *s)
{
	struct session *ss = &s->x.session;
	struct stream_writer *w = s->preempt ? &s->pw : &s->w;
	size_t n = s->qcount, first = s->nlatency;
	bool opened = false;
	uint64_t t;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		s->batch[i] = s->queue[(s->qhead + i) % QUEUE_MAX];
	s->qhead = (s->qhead + n) % QUEUE_MAX;
	s->qcount = 0;
	pthread_cond_broadcast(&s->cond);	/* room in the queue */
	pthread_mutex_unlock(&ss->lock);

	for (size_t i = 0; i < n && !ret && !w->out->err && !srv_failed(s); i++) {
		const struct request *rq = &s->batch[i];
		uint64_t end = rq->page + rq->pages;
		bool any = false;

		/* the pages on their way already are skipped */
		for (uint64_t p = next_unsent(s, rq->block, rq->page, end); p < end;
		     p = next_unsent(s, rq->block, p + 1, end)) {
			if (!mark_sent(s, rq->block, p))
				continue;	/* the push took it meanwhile */
			if (!opened && !s->preempt)
				open_part(s);
			opened = any = true;
			put_page(s, w, rq->block, p);
			atomic_fetch_add(&s->requested, 1);
			if (s->preempt)
				atomic_fetch_add(&s->pages_preempt, 1);
		}
		if (s->preempt && any)
			ret = preempt_flush(s, "sending pages");
		/* the guest tends to touch the neighbours next */
		if (s->preempt) {
			pthread_mutex_lock(&ss->lock);
			s->hint_set = true;
			s->hint_block = rq->block;
			s->hint_page = rq->page + rq->pages;
			pthread_mutex_unlock(&ss->lock);
		} else {
			s->cursor_block = rq->block;
			s->cursor_page = rq->page + rq->pages;
		}
		if (any && s->nlatency < LATENCY_MAX)
			s->latency_ns[s->nlatency++] = rq->at_ns;
	}
	if (opened && !s->preempt)
		ret = close_section(s);
	t = now_ns();
	for (size_t i = first; i < s->nlatency; i++)
		s->latency_ns[i] = t - s->latency_ns[i];
	if (s->nlatency > first)
		atomic_store(&s->last_latency_ns, s->latency_ns[s->nlatency - 1]);
	pthread_mutex_lock(&ss->lock);
	return ret;
}

/* Up to SECTION_PAGES unsent pages from the cursor on, in one section. */
static int push_background(struct server *s)
{
	uint32_t n = 0, wraps = 0;

	while (n < SECTION_PAGES && s->sent_pages < s->ix.total_pages) {
		uint32_t b = (uint32_t)s->cursor_block;
		uint64_t p = next_unsent(s, b, s->cursor_page, s->ix.blocks[b].pages);

		if (p >= s->ix.blocks[b].pages) {
			/* every block seen twice with nothing unsent: the count
			 * is wrong, and looping on would never end */
			if (++wraps > 2 * s->ix.nblocks) {
				/* the preempt thread marked the last ones but
				 * has not counted them yet */
				if (s->preempt && all_marked(s))
					break;
				srv_fail(s, "internal error: %" PRIu64 " of %" PRIu64 " pages counted sent, yet none is left",
					 s->sent_pages, s->ix.total_pages);
				return -1;
			}
			s->cursor_block = (b + 1) % s->ix.nblocks;
			s->cursor_page = 0;
			continue;
		}
		s->cursor_page = p + 1;
		if (!mark_sent(s, b, p))
			continue;	/* the preempt thread took it meanwhile */
		if (!n)
			open_part(s);
		put_page(s, &s->w, b, p);
		atomic_fetch_add(&s->pushed, 1);
		n++;
	}
	return n ? close_section(s) : 0;
}

static int serve_pages(struct server *s)
{
	struct session *ss = &s->x.session;
	uint64_t push_at = now_ns() + (uint64_t)s->push_delay_ms * 1000000ull;
	int ret = 0;

	atomic_store(&s->push_at_ns, push_at);

	pthread_mutex_lock(&ss->lock);
	while (!ret && s->sent_pages < s->ix.total_pages) {
		if (session_failed(ss)) {
			ret = -1;
			break;
		}
		if (s->shut) {
			session_fail_locked(ss, "the destination shut down (SHUT %u) with %" PRIu64 " pages not sent",
					    s->shut_status, s->ix.total_pages - s->sent_pages);
			ret = -1;
			break;
		}
		if (s->qcount && !s->preempt) {
			ret = serve_requests_locked(s);
			continue;
		}
		if (s->hint_set) {
			s->hint_set = false;
			s->cursor_block = s->hint_block;
			s->cursor_page = s->hint_page;
		}
		if (now_ns() < push_at) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->cond, &ss->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&ss->lock);
		ret = push_background(s);
		pthread_mutex_lock(&ss->lock);
	}
	if (!ret) {
		/* What is still queued asks for pages sent since; a return-path
		 * thread waiting for room must go on to read the SHUT. */
		s->phase = PH_DONE;
		s->qcount = 0;
		pthread_cond_broadcast(&s->cond);
		/* nothing is held back any more: a silence now is a stall */
		atomic_store(&s->push_at_ns, 0);
	}
	pthread_mutex_unlock(&ss->lock);
	return ret;
}

/* ---- the preempt channel (--preempt) ---- */

/* Serves the page requests on the preempt channel until the main channel
 * is done, then ends the destination's reader of it with EOS. */
static void *preempt_thread(void *arg)
{
	struct server *s = arg;
	struct session *ss = &s->x.session;
	int ret = 0;

	pthread_mutex_lock(&ss->lock);
	while (!ret) {
		if (s->qcount) {
			ret = serve_requests_locked(s);
			continue;
		}
		if (s->pre_stop || session_wait(ss, &s->cond))
			break;
	}
	pthread_mutex_unlock(&ss->lock);
	if (ret || srv_failed(s))
		return NULL;
	stream_write_ram_flag(&s->pw, RAM_SAVE_FLAG_EOS);
	preempt_flush(s, "sending EOS");
	return NULL;
}

/* The destination never writes on the preempt channel: a byte is wrong,
 * and its end before our EOF means it dropped the connection (a
 * destination without postcopy-preempt drops a second one at once). */
static void *preempt_watch_thread(void *arg)
{
	struct server *s = arg;
	ssize_t n = in_want(&s->pin, 1);

	pthread_mutex_lock(&s->x.session.lock);
	if (n > 0)
		session_fail_locked(&s->x.session, "preempt channel: the destination sent bytes on it, which QEMU never does");
	else if (!s->end_sent && !s->shut && !session_failed(&s->x.session)) {
		s->pre_dropped = true;
		session_fail_locked(&s->x.session, "preempt channel: the destination closed it%s: has it the postcopy-preempt capability on?",
				    s->pin.err ? " with an error" : "");
	}
	pthread_mutex_unlock(&s->x.session.lock);
	return NULL;
}

/* Connects the preempt channel right after the main one (accepted first:
 * the destination takes the second connection as the preempt channel; a
 * QEMU 7.2 one loads nothing until it is there). No retry when refused:
 * the destination listens already. */
static int connect_preempt(struct server *s)
{
	char err[ERR_LEN];
	int wake = s->x.session.wake_fd;

	s->pfd = net_connect(&s->ep, xfer_deadline(&s->x, XFER_CONNECT_DEFAULT_S), wake, false, err);
	if (s->pfd < 0) {
		s->pre_dropped = !srv_failed(s);
		srv_fail(s, "preempt channel: %s (has the destination the postcopy-preempt capability on?)", err);
		return -1;
	}
	if (session_watch_fd(&s->x.session, s->pfd, SHUT_RDWR) < 0) {
		srv_fail(s, "%s", SESSION_WATCH_FULL_FDS);
		return -1;
	}
	if (out_init(&s->pout, s->pfd, 256u << 10) < 0 || in_init(&s->pin, s->pfd, 4096) < 0) {
		srv_fail(s, "out of memory");
		return -1;
	}
	out_set_wake(&s->pout, wake);
	in_set_wake(&s->pin, wake);
	stream_writer_init(&s->pw, &s->pout, STREAM_INDEX_PAGE_SIZE);
	return 0;
}

static int start_preempt(struct server *s)
{
	if (pthread_create(&s->watch_thread, NULL, preempt_watch_thread, s) != 0)
		return srv_fail(s, "cannot start the preempt channel's watcher"), -1;
	s->watch_started = true;
	if (pthread_create(&s->pre_thread, NULL, preempt_thread, s) != 0)
		return srv_fail(s, "cannot start the preempt channel's thread"), -1;
	s->pre_started = true;
	return 0;
}

/* Before our EOF on main: a preempt channel that the destination closed
 * or wrote to is ready to read, and its watcher, maybe not run yet on a
 * busy host, is let finish and fail the run (after the EOF its end is
 * no failure). */
static int check_preempt(struct server *s)
{
	struct pollfd p = { .fd = s->pfd, .events = POLLIN | POLLRDHUP };

	if (!s->watch_started || poll(&p, 1, 0) <= 0)
		return srv_failed(s) ? -1 : 0;
	pthread_join(s->watch_thread, NULL);
	s->watch_started = false;
	return srv_failed(s) ? -1 : 0;
}

/* After our EOF on main: the preempt thread sends what it holds and EOS.
 * Its socket stays open until SHUT (a QEMU 10.0 reader hitting its end
 * while running would pause). */
static int stop_preempt(struct server *s)
{
	if (!s->pre_started)
		return 0;
	pthread_mutex_lock(&s->x.session.lock);
	s->pre_stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->x.session.lock);
	pthread_join(s->pre_thread, NULL);
	s->pre_started = false;
	return srv_failed(s) ? -1 : 0;
}

/* What the sender waits for from the return-path thread (lock held). */
static bool got_pong(const struct server *s, uint32_t v)
{
	return s->pong_max >= v;
}

static bool got_bitmaps(const struct server *s, uint32_t n)
{
	return s->bitmaps_in >= n;
}

static bool got_resume_ack(const struct server *s, uint32_t unused)
{
	(void)unused;
	return s->resume_acked;
}

static bool got_shut(const struct server *s, uint32_t unused)
{
	(void)unused;
	return s->shut;
}

/* Waits (lock not held) until done(s, arg); a SHUT ends the wait too. */
static int wait_for_rp(struct server *s, bool (*done)(const struct server *, uint32_t),
		       uint32_t arg, const char *what)
{
	struct session *ss = &s->x.session;
	int ret = 0;

	pthread_mutex_lock(&ss->lock);
	while (!done(s, arg) && !s->shut && !ret)
		if (session_wait(ss, &s->cond))
			ret = -1;
	if (!done(s, arg) && !ret) {
		session_fail_locked(ss, "the destination shut down (SHUT %u) instead of sending %s",
				    s->shut_status, what);
		ret = -1;
	}
	pthread_mutex_unlock(&ss->lock);
	if (ret && !srv_failed(s))
		srv_fail(s, "waiting for %s", what);
	return ret;
}

/* ---- the start: what a postcopy source sends before the pages ---- */

static void set_phase(struct server *s, enum srv_phase ph)
{
	pthread_mutex_lock(&s->x.session.lock);
	s->phase = ph;
	pthread_mutex_unlock(&s->x.session.lock);
}

static int send_command(struct server *s, uint16_t cmd, const void *data, uint16_t len)
{
	stream_write_command(&s->w, cmd, data, len);
	return s->out.err ? -1 : 0;
}

static int ping(struct server *s, uint32_t v)
{
	unsigned char b[4];

	put_be32(b, v);
	return send_command(s, MIG_CMD_PING, b, sizeof(b));
}

/* The RAM START section: the block list, EOS, footer; no pages. */
static void send_ram_start(struct server *s)
{
	stream_write_section(&s->w, QEMU_VM_SECTION_START, &s->ix.ram);
	stream_write_mem_size(&s->w, stream_ram(s->r));
	stream_write_ram_flag(&s->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&s->w, s->ix.ram.id);
}

/* LISTEN, the device state verbatim, PING 3 (its PONG: RUN ran), RUN, as
 * one PACKAGED blob: the destination reads it whole before it loads. */
static int send_package(struct server *s)
{
	uint64_t dev = s->ix.devices_end - s->ix.devices_start;
	uint32_t size = (uint32_t)(5 + dev + 9 + 5);
	unsigned char b[4];

	set_phase(s, PH_PAGES);	/* once LISTEN is in, pages may be asked for */
	put_be32(b, size);
	send_command(s, MIG_CMD_PACKAGED, b, sizeof(b));
	send_command(s, MIG_CMD_POSTCOPY_LISTEN, NULL, 0);
	/* Copied through the send buffer in pieces smaller than it: a larger
	 * write goes to the socket straight from the mapping, where a file
	 * cut short fails as EFAULT ("Bad address") instead of the SIGBUS
	 * that guarded() explains. */
	for (uint64_t off = 0; off < dev; off += DEV_PIECE)
		out_write(&s->out, s->in.buf + s->ix.devices_start + off,
			  dev - off < DEV_PIECE ? dev - off : DEV_PIECE);
	ping(s, 3);
	send_command(s, MIG_CMD_POSTCOPY_RUN, NULL, 0);
	return s->out.err ? -1 : 0;
}

/* Header and configuration, as saved; a mapped-ram file's without the
 * capability, which a destination without it refuses: what goes out is
 * a plain stream (the writer is no mapped-ram one). */
static void send_config(struct server *s)
{
	if (!s->ix.mapped_ram) {
		out_write(&s->out, s->ix.config, s->ix.config_len);
		return;
	}
	stream_write_header(&s->w);
	stream_write_config_from(&s->w, stream_config(s->r));
}

static int start_postcopy(struct server *s)
{
	unsigned char advise[16], discard[300];
	const struct ram_list *ram = stream_ram(s->r);

	/* Two round trips before the package: a refusal then comes with
	 * the stage it happened at (see failure_hint), not as a reset
	 * that may beat the PONG before it. */
	send_config(s);
	send_command(s, MIG_CMD_OPEN_RETURN_PATH, NULL, 0);
	ping(s, 1);
	if (out_flush(&s->out) < 0 || wait_for_rp(s, got_pong, 1, "PONG 1") < 0)
		goto fail;
	pc_advise_encode(advise);
	send_command(s, MIG_CMD_POSTCOPY_ADVISE, advise, sizeof(advise));
	send_ram_start(s);
	/* a saver that sent SWITCHOVER_START (a QEMU 9.2+ machine type) has a
	 * destination that expects it at postcopy's start, as QEMU 10 sends it;
	 * a 7.2 destination would refuse it, and never gets such a stream */
	if (s->ix.switchover_start)
		send_command(s, MIG_CMD_SWITCHOVER_START, NULL, 0);
	/* QEMU 7.2 needs a DISCARD before LISTEN; a whole block costs nothing */
	for (uint32_t i = 0; i < ram->count; i++)
		send_command(s, MIG_CMD_POSTCOPY_RAM_DISCARD, discard,
			     (uint16_t)pc_discard_encode(&ram->blocks[i], discard));
	ping(s, 2);
	if (out_flush(&s->out) < 0 || wait_for_rp(s, got_pong, 2, "PONG 2") < 0 || send_package(s) < 0 ||
	    out_flush(&s->out) < 0)
		goto fail;
	return 0;
fail:
	if (!srv_failed(s))
		srv_fail(s, "starting the postcopy migration: %s", strerror(s->out.err));
	return -1;
}

/* --resume: the destination's received pages per block, then
 * POSTCOPY_RESUME and its RESUME_ACK. */
static int resume_postcopy(struct server *s)
{
	const struct ram_list *ram = stream_ram(s->r);
	unsigned char name[256];

	for (uint32_t i = 0; i < ram->count; i++) {
		name[0] = ram->blocks[i].name_len;
		memcpy(name + 1, ram->blocks[i].name, name[0]);
		send_command(s, MIG_CMD_RECV_BITMAP, name, (uint16_t)(name[0] + 1));
	}
	if (out_flush(&s->out) < 0) {
		srv_fail(s, "asking for the received pages: %s", strerror(s->out.err));
		return -1;
	}
	if (wait_for_rp(s, got_bitmaps, ram->count, "its received pages (RECV_BITMAP)") < 0)
		return -1;
	set_phase(s, PH_RESUME);	/* sent[] is the sender's from here on */
	if (send_command(s, MIG_CMD_POSTCOPY_RESUME, NULL, 0) < 0 || out_flush(&s->out) < 0 ||
	    wait_for_rp(s, got_resume_ack, 0, "RESUME_ACK") < 0) {
		if (!srv_failed(s))
			srv_fail(s, "resuming: %s", strerror(s->out.err));
		return -1;
	}
	info("resumed: %" PRIu64 " of %" PRIu64 " pages were there already", s->sent_pages,
	     s->ix.total_pages);
	return 0;
}

static int finish(struct server *s)
{
	if (s->preempt && check_preempt(s) < 0)
		return -1;
	/* from here on the destination may close the preempt channel */
	pthread_mutex_lock(&s->x.session.lock);
	s->end_sent = true;
	pthread_mutex_unlock(&s->x.session.lock);
	stream_write_section(&s->w, QEMU_VM_SECTION_END, &s->ix.ram);
	stream_write_ram_flag(&s->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&s->w, s->ix.ram.id);
	stream_write_eof(&s->w);
	if (out_flush(&s->out) < 0) {
		srv_fail(s, "sending the end: %s", strerror(s->out.err));
		return -1;
	}
	if (stop_preempt(s) < 0)
		return -1;
	if (wait_for_rp(s, got_shut, 0, "SHUT") < 0)
		return -1;
	if (s->shut_status) {
		srv_fail(s, "the destination failed: SHUT %u", s->shut_status);
		return -1;
	}
	return 0;
}

/* ---- the stream ---- */

/* A pipe may claim this much before its RAM is known, and this many times
 * its RAM (a stream saved from a running guest sends pages again) plus it
 * in all: the spool is bounded by what the stream says it carries. */
#define SPOOL_SLACK	(256ull << 20)
#define SPOOL_RAM_TIMES	8u

/* The pipe's bytes, copied to the spool as they are read. */
struct spool {
	struct io_end in;
	int fd;
	int err;
	_Atomic uint64_t *read;		/* bytes so far: --timeout's activity */
};

static ssize_t spool_read(void *ctx, void *p, size_t n)
{
	struct spool *sp = ctx;
	ssize_t r = io_read(&sp->in, p, n);

	if (r <= 0)
		return r;
	/* every byte counts: a record may take longer than --timeout */
	atomic_fetch_add(sp->read, (uint64_t)r);
	if (write_full(sp->fd, p, (size_t)r) < 0) {
		sp->err = errno;
		return -1;
	}
	return r;
}

/* Spools a pipe to fd while walking it: a stream that is not one fails at
 * its first bad byte, one that claims too much RAM or goes on past its
 * claim is refused, and --timeout (the monitor) and signals wake the
 * read. The walk is the reader's own, so its errors are those of a file. */
static int spool_walk(struct server *s, int fd, char err[ERR_LEN])
{
	struct spool sp = { .fd = fd, .read = &s->spooled };
	struct in_buf in;
	struct stream_reader *r = NULL;
	struct stream_item it;
	uint64_t limit = SPOOL_SLACK;
	int ret = -1, n;

	io_end_init(&sp.in, STDIN_FILENO, s->x.session.wake_fd, false);
	if (in_init(&in, -1, 4u << 20) < 0 || !(r = stream_reader_new(&in))) {
		snprintf(err, ERR_LEN, "out of memory");
		goto out;
	}
	in_set_source(&in, spool_read, &sp);
	while ((n = stream_next(r, &it)) > 0) {
		/* the reader could only say "not from a pipe" at MEM_SIZE */
		if (it.type == SI_CONFIG && stream_config_has_cap(it.config, MAPPED_RAM_CAPABILITY)) {
			snprintf(err, ERR_LEN, "offset %" PRIu64 ": a mapped-ram file (the configuration names "
				 "the capability) cannot come through a pipe: its pages are at fixed offsets "
				 "of the file; redirect stdin from the file itself", it.offset);
			goto out;
		}
		if (it.type == SI_RAM_MEM_SIZE) {
			uint64_t ram = 0;

			if (stream_index_ram_check(stream_ram(r), err) < 0)
				goto out;
			for (uint32_t i = 0; i < stream_ram(r)->count; i++)
				ram += stream_ram(r)->blocks[i].length;
			limit = ram * SPOOL_RAM_TIMES + SPOOL_SLACK;
		}
		if (in_offset(&in) > limit) {
			snprintf(err, ERR_LEN, "offset %" PRIu64 ": the stream goes on past %u times the RAM it claims plus %llu MiB: not spooled further",
				 in_offset(&in), SPOOL_RAM_TIMES, SPOOL_SLACK >> 20);
			goto out;
		}
	}
	if (n < 0) {
		if (sp.err)
			snprintf(err, ERR_LEN, "spooling to $TMPDIR: %s", strerror(sp.err));
		else if (session_failed(&s->x.session))
			snprintf(err, ERR_LEN, "spooling stopped at offset %" PRIu64, in_offset(&in));
		else
			snprintf(err, ERR_LEN, "%s", stream_error(r));
		goto out;
	}
	ret = 0;
out:
	stream_reader_free(r);
	in_free(&in);
	io_end_close(&sp.in);
	return ret;
}

/* A regular file is mapped in place; anything else is spooled to an
 * unnamed file in $TMPDIR first. */
static int open_stream(struct server *s, char err[ERR_LEN])
{
	struct stat st;
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		s->in_fd = STDIN_FILENO;
		return 0;
	}
	s->in_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->in_fd < 0) {
		snprintf(err, ERR_LEN, "cannot spool stdin to %s: %s", dir, strerror(errno));
		return -1;
	}
	return spool_walk(s, s->in_fd, err);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22	/* Linux 5.14 */
#endif
#define PREFAULT_CHUNK		(8u << 20)

/* Maps the file's pages ahead of the index on another CPU: the walk
 * touches every page once, and half its time went to page faults. */
struct prefault {
	const unsigned char *buf;
	size_t len;
	atomic_bool stop;
	pthread_t thread;
	bool started;
};

static void *prefault_thread(void *arg)
{
	struct prefault *pf = arg;

	for (size_t off = 0; off < pf->len && !atomic_load(&pf->stop); off += PREFAULT_CHUNK) {
		size_t n = pf->len - off < PREFAULT_CHUNK ? pf->len - off : PREFAULT_CHUNK;

		/* a file cut short meanwhile fails here (EFAULT), no SIGBUS */
		if (madvise((void *)(pf->buf + off), n, MADV_POPULATE_READ) < 0)
			break;	/* an older kernel: the walk faults for itself */
	}
	return NULL;
}

/* ---- a stream file cut short while it is read ---- */

/* A file truncated under its mapping raises SIGBUS where it is read: the
 * index walk and the copies of pages and device state, all in the
 * applet's thread and never with the session lock held. guarded() turns
 * it into a failure of the run, which then unwinds as any other. */
static __thread sigjmp_buf *bus_jump;
static __thread const void *bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!bus_jump) {
		/* not ours: the fault repeats, and kills, as without us */
		signal(sig, SIG_DFL);
		return;
	}
	bus_addr = si->si_addr;
	siglongjmp(*bus_jump, 1);
}

static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static int guarded(struct server *s, int (*fn)(struct server *, void *), void *arg)
{
	sigjmp_buf jump;
	int ret;

	if (sigsetjmp(jump, 1)) {
		bus_jump = NULL;
		srv_fail(s, "stdin: the stream file was cut short while it was read (SIGBUS at offset %" PRIu64
			 " of %zu): it must not change until postcopy-serve is done",
			 (uint64_t)((const unsigned char *)bus_addr - s->in.buf), s->in.end);
		return -1;
	}
	bus_jump = &jump;
	ret = fn(s, arg);
	bus_jump = NULL;
	return ret;
}

/* Once the index is to walk the pages: not for a mapped-ram file, whose
 * index touches a few pages only (a thread populating the whole mapping
 * meanwhile would only compete with it, for the CPU and the mm). */
static void prefault_start(void *arg)
{
	struct prefault *pf = arg;

	pf->started = pf->len > PREFAULT_CHUNK && pthread_create(&pf->thread, NULL, prefault_thread, pf) == 0;
}

struct index_job {
	struct prefault *pf;
	char *err;
};

static int build_index(struct server *s, void *arg)
{
	struct index_job *job = arg;

	return stream_index_build(&s->ix, s->r, s->in.buf, prefault_start, job->pf, job->err);
}

/* The tables the serving needs, once the index says how big. */
static int alloc_tables(struct server *s)
{
	s->sent = calloc(s->ix.nblocks, sizeof(*s->sent));
	s->bitmap_in = calloc(s->ix.nblocks, sizeof(*s->bitmap_in));
	s->latency_ns = malloc(LATENCY_MAX * sizeof(*s->latency_ns));
	s->queue = malloc(QUEUE_MAX * sizeof(*s->queue));
	s->batch = malloc(QUEUE_MAX * sizeof(*s->batch));
	if (!s->sent || !s->bitmap_in || !s->latency_ns || !s->queue || !s->batch)
		return -1;
	for (uint32_t i = 0; i < s->ix.nblocks; i++) {
		s->sent[i] = calloc((s->ix.blocks[i].pages + 63) / 64, 8);
		if (!s->sent[i])
			return -1;
	}
	return 0;
}

static int index_stream(struct server *s)
{
	struct prefault pf = { 0 };
	char err[ERR_LEN] = "";
	struct index_job job = { &pf, err };
	int ret;

	if (open_stream(s, err) < 0 || in_init_mapped(&s->in, s->in_fd) < 0 ||
	    !(s->r = stream_reader_new(&s->in))) {
		srv_fail(s, "stdin: %s", err[0] ? err : strerror(errno));
		return -1;
	}
	pf.buf = s->in.buf;
	pf.len = s->in.end;
	atomic_store(&s->busy, true);
	ret = guarded(s, build_index, &job);
	atomic_store(&s->busy, false);
	if (pf.started) {
		atomic_store(&pf.stop, true);
		pthread_join(pf.thread, NULL);
	}
	if (ret < 0) {
		if (!srv_failed(s))
			srv_fail(s, "stdin: %s", err);
		return -1;
	}
	/* the package holds LISTEN, the device state, PING and RUN */
	if (s->ix.devices_end - s->ix.devices_start > PC_PACKAGE_MAX - 64) {
		srv_fail(s, "stdin: device state of %llu bytes: more than QEMU's 16 MiB package",
			 (unsigned long long)(s->ix.devices_end - s->ix.devices_start));
		return -1;
	}
	if (alloc_tables(s) < 0) {
		srv_fail(s, "out of memory");
		return -1;
	}
	info("indexed %" PRIu64 " pages in %u blocks (%" PRIu64 " records, %" PRIu64
	     " replaced by later ones), %u device sections", s->ix.total_pages, s->ix.nblocks,
	     s->ix.records, s->ix.repeated, s->ix.devices);
	return 0;
}

/* ---- monitor and figures ---- */

static uint64_t monitor_moved(void *ctx, char *extra, size_t n)
{
	struct server *s = ctx;

	if (extra) {
		uint64_t done = atomic_load(&s->requested) + atomic_load(&s->pushed) +
				atomic_load(&s->already);

		snprintf(extra, n, "requested %" PRIu64 "  pushed %" PRIu64 "  left %" PRIu64
			 "  requests %" PRIu64 "  last latency %.2f ms",
			 atomic_load(&s->requested), atomic_load(&s->pushed),
			 s->ix.total_pages > done ? s->ix.total_pages - done : 0,
			 atomic_load(&s->requests), (double)atomic_load(&s->last_latency_ns) / 1e6);
	}
	return atomic_load(&s->bytes_sent) + atomic_load(&s->bytes_preempt);
}

static uint64_t monitor_activity(void *ctx)
{
	struct server *s = ctx;
	uint64_t now = now_ns();

	/* holding pages back on purpose is no stall of the destination, nor
	 * are indexing and connecting (with a deadline of its own) */
	if (now < atomic_load(&s->push_at_ns) || atomic_load(&s->busy))
		return now;
	return atomic_load(&s->spooled) + atomic_load(&s->bytes_sent) + atomic_load(&s->bytes_preempt) +
	       atomic_load(&s->rp_messages);
}

static void monitor_idle(void *ctx, unsigned int timeout_s)
{
	struct server *s = ctx;
	enum srv_phase ph;

	pthread_mutex_lock(&s->x.session.lock);
	ph = s->phase;
	pthread_mutex_unlock(&s->x.session.lock);
	if (ph == PH_INDEX)
		srv_fail(s, "stdin: no byte of the stream came for %u s (--timeout) while it was spooled",
			 timeout_s);
	else
		srv_fail(s, "the destination took no byte and sent nothing for %u s (--timeout)", timeout_s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[0..n), in milliseconds. */
static double quantile_ms(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return n ? (double)v[i] / 1e6 : 0;
}

static double since_start_ms(const struct server *s, uint64_t t)
{
	return t ? (double)(t - s->x.start_ns) / 1e6 : 0;
}

static void stats_fields(void *ctx, struct json_writer *w)
{
	struct server *s = ctx;

	if (s->nlatency)
		qsort(s->latency_ns, s->nlatency, sizeof(*s->latency_ns), cmp_u64);
	jw_key(w, "peer"); jw_string(w, s->peer);
	jw_key(w, "resume"); jw_bool(w, s->resume);
	jw_key(w, "preempt"); jw_bool(w, s->preempt);
	jw_key(w, "push_delay_ms"); jw_u64(w, s->push_delay_ms);
	jw_key(w, "mapped_ram"); jw_bool(w, s->ix.mapped_ram);
	jw_key(w, "blocks"); jw_u64(w, s->ix.nblocks);
	jw_key(w, "pages_total"); jw_u64(w, s->ix.total_pages);
	jw_key(w, "page_records"); jw_u64(w, s->ix.records);
	jw_key(w, "page_records_replaced"); jw_u64(w, s->ix.repeated);
	jw_key(w, "device_sections"); jw_u64(w, s->ix.devices);
	jw_key(w, "pages_requested"); jw_u64(w, s->requested);
	jw_key(w, "pages_pushed"); jw_u64(w, s->pushed);
	jw_key(w, "pages_preempt"); jw_u64(w, s->pages_preempt);
	jw_key(w, "pages_already_there"); jw_u64(w, s->already);
	jw_key(w, "requests"); jw_u64(w, s->requests);
	jw_key(w, "requests_served"); jw_u64(w, s->nlatency);
	jw_key(w, "return_path_messages"); jw_u64(w, s->rp_messages);
	jw_key(w, "switchover_acked"); jw_bool(w, s->switchover_acked);
	jw_key(w, "bytes_sent"); jw_u64(w, s->bytes_sent);
	jw_key(w, "bytes_sent_preempt"); jw_u64(w, s->bytes_preempt);
	jw_key(w, "index_ms"); jw_double(w, (double)s->index_ns / 1e6);
	jw_key(w, "connected_ms"); jw_double(w, since_start_ms(s, s->connect_ns));
	/* PONG 3 comes once the package with RUN is loaded: the guest runs */
	jw_key(w, "running_ms"); jw_double(w, since_start_ms(s, s->running_ns));
	jw_key(w, "completed_ms"); jw_double(w, since_start_ms(s, s->done_ns));
	jw_key(w, "latency_ms");
	jw_object(w);
	jw_key(w, "p50"); jw_double(w, quantile_ms(s->latency_ns, s->nlatency, 0.5));
	jw_key(w, "p99"); jw_double(w, quantile_ms(s->latency_ns, s->nlatency, 0.99));
	jw_key(w, "max"); jw_double(w, quantile_ms(s->latency_ns, s->nlatency, 1));
	jw_object_end(w);
}

/* ---- --probe ---- */

static int probe(bool json)
{
	struct uffd_probe p;

	uffd_probe_run(&p);
	if (json) {
		struct json_writer w;

		jw_init(&w, stdout, true);
		jw_document(&w, "postcopy-serve", "probe");
		jw_key(&w, "usable"); jw_bool(&w, p.usable);
		jw_key(&w, "page_size"); jw_i64(&w, p.page_size);
		jw_key(&w, "huge_page_sizes"); jw_string(&w, p.huge_sizes);
		jw_key(&w, "features"); jw_u64(&w, p.features);
		jw_key(&w, "checks");
		jw_array(&w);
		for (unsigned int i = 0; i < p.n; i++) {
			jw_object(&w);
			jw_key(&w, "name"); jw_string(&w, p.checks[i].name);
			jw_key(&w, "ok"); jw_bool(&w, p.checks[i].ok);
			jw_key(&w, "required"); jw_bool(&w, p.checks[i].required);
			jw_key(&w, "detail"); jw_string(&w, p.checks[i].detail);
			jw_object_end(&w);
		}
		jw_array_end(&w);
		jw_object_end(&w);
		jw_end(&w);
	} else {
		for (unsigned int i = 0; i < p.n; i++)
			printf("%-4s %-13s %s%s\n", p.checks[i].ok ? "ok" : p.checks[i].required ? "FAIL" : "no",
			       p.checks[i].name, p.checks[i].detail,
			       !p.checks[i].ok && !p.checks[i].required ? " (optional)" : "");
		printf("%s\n", p.usable ? "this host can be a postcopy destination" :
		       "this host cannot be a postcopy destination");
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		die_errno("stdout");
	return p.usable ? EXIT_OK : EXIT_FAIL;
}

/* ---- set-up and the run ---- */

static int take_option(void *ctx, int c, const char *arg, char *err)
{
	struct server *s = ctx;

	switch (c) {
	case OPT_RESUME:
		s->resume = true;
		return 0;
	case OPT_PREEMPT:
		s->preempt = true;
		return 0;
	case OPT_PUSH_DELAY: {
		uint64_t ms;

		if (parse_uint(arg, 0, 3600000, &ms) < 0) {
			snprintf(err, ERR_LEN, "--push-delay: expected milliseconds, 0..3600000, not '%s'", arg);
			return -1;
		}
		s->push_delay_ms = (unsigned int)ms;
		return 0;
	}
	case OPT_PROBE:
		s->probe = true;
		return 0;
	case 'j':
		s->probe_json = true;
		return 0;
	default:
		snprintf(err, ERR_LEN, "bad option");
		return -1;
	}
}

/* The operands, or --probe's answer (which exits). */
static void operands(void *ctx, int argc, char **argv)
{
	struct server *s = ctx;
	char err[ERR_LEN];

	if (s->probe) {
		if (argc != optind)
			die_usage("--probe takes no HOST:PORT");
		exit(probe(s->probe_json));
	}
	if (s->probe_json)
		die_usage("--json goes with --probe (the transfer's figures: --stats-json FILE)");
	if (s->resume && s->preempt)
		die_usage("--resume does not go with --preempt: a recovery re-creates the preempt channel, which postcopy-serve does not do yet");
	if (argc - optind != 1)
		die_usage("expected one HOST:PORT");
	if (net_endpoint_parse(argv[optind], true, &s->ep, err) < 0)
		die_usage("%s", err);
	net_endpoint_name(&s->ep, s->x.endpoint, sizeof(s->x.endpoint));
}

static int connect_destination(struct server *s)
{
	char err[ERR_LEN];
	int wake = s->x.session.wake_fd;

	/* connecting has its own deadline */
	atomic_store(&s->busy, true);
	s->fd = net_connect(&s->ep, xfer_deadline(&s->x, XFER_CONNECT_DEFAULT_S), wake, true, err);
	atomic_store(&s->busy, false);
	if (s->fd < 0) {
		srv_fail(s, "%s", err);
		return -1;
	}
	net_tune(s->fd);
	net_peer_name(s->fd, s->peer, sizeof(s->peer));
	s->connect_ns = now_ns();
	/* a failure wakes the return-path thread and a blocked send */
	if (session_watch_fd(&s->x.session, s->fd, SHUT_RDWR) < 0) {
		srv_fail(s, "%s", SESSION_WATCH_FULL_FDS);
		return -1;
	}
	if (out_init(&s->out, s->fd, 1u << 20) < 0 || in_init(&s->rp_in, s->fd, 64u << 10) < 0) {
		srv_fail(s, "out of memory");
		return -1;
	}
	out_set_wake(&s->out, wake);
	in_set_wake(&s->rp_in, wake);
	stream_writer_init(&s->w, &s->out, STREAM_INDEX_PAGE_SIZE);
	return s->preempt ? connect_preempt(s) : 0;
}

static int serve_all(struct server *s, void *unused)
{
	(void)unused;
	if ((s->resume ? resume_postcopy(s) : start_postcopy(s)) < 0 || serve_pages(s) < 0)
		return -1;
	return finish(s);
}

static void serve(struct server *s)
{
	int ret;

	set_phase(s, s->resume ? PH_BITMAPS : PH_START);
	if (pthread_create(&s->rp_thread, NULL, rp_thread, s) != 0) {
		srv_fail(s, "cannot start the return-path thread");
		return;
	}
	s->rp_started = true;
	if (s->preempt && start_preempt(s) < 0)
		return;
	ret = guarded(s, serve_all, NULL);
	if (ret == 0)
		info("served %" PRIu64 " pages: %" PRIu64 " on request, %" PRIu64 " pushed%s",
		     s->ix.total_pages, (uint64_t)s->requested, (uint64_t)s->pushed,
		     s->resume ? ", the rest was there" : "");
}

/* The whole work, the monitor running: a piped stream that stops coming
 * obeys --timeout. */
static void serve_stream(void *ctx)
{
	struct server *s = ctx;
	uint64_t t0 = now_ns();

	if (index_stream(s) < 0)
		return;
	s->index_ns = now_ns() - t0;
	if (connect_destination(s) == 0 && !srv_failed(s))
		serve(s);
}

static int setup(void *ctx)
{
	struct server *s = ctx;

	catch_sigbus();
	pthread_cond_init(&s->cond, NULL);
	s->cond_init = true;
	if (session_watch_cond(&s->x.session, &s->cond) < 0) {
		srv_fail(s, "%s", SESSION_WATCH_FULL_CONDS);
		return -1;
	}
	return 0;
}

/* Before the figures: the preempt thread writes some of them. After a
 * failure it is woken and ends without EOS. */
static void stop(void *ctx)
{
	stop_preempt(ctx);
}

static void cleanup(void *ctx)
{
	struct server *s = ctx;

	if (s->fd >= 0) {
		/* ends the return-path thread if it still reads */
		shutdown(s->fd, SHUT_RDWR);
		session_unwatch_fd(&s->x.session, s->fd);
	}
	if (s->rp_started)
		pthread_join(s->rp_thread, NULL);
	if (s->pfd >= 0) {
		/* the destination said SHUT, or the run failed: the watcher ends */
		shutdown(s->pfd, SHUT_RDWR);
		session_unwatch_fd(&s->x.session, s->pfd);
	}
	if (s->watch_started)
		pthread_join(s->watch_thread, NULL);
	if (s->pfd >= 0) {
		if (srv_failed(s))
			net_abort_on_close(s->pfd);
		out_discard(&s->pout);
		in_free(&s->pin);
		close(s->pfd);
	}
	if (s->fd >= 0) {
		if (srv_failed(s))
			net_abort_on_close(s->fd);
		out_discard(&s->out);
		in_free(&s->rp_in);
		close(s->fd);
	}
	for (uint32_t i = 0; s->sent && i < s->ix.nblocks; i++)
		free(s->sent[i]);
	free(s->sent);
	free(s->queue);
	free(s->batch);
	free(s->bitmap_in);
	free(s->latency_ns);
	stream_index_free(&s->ix);
	stream_reader_free(s->r);
	in_free(&s->in);
	if (s->in_fd > STDIN_FILENO)
		close(s->in_fd);
	if (s->cond_init) {
		session_unwatch_cond(&s->x.session, &s->cond);
		pthread_cond_destroy(&s->cond);
	}
}

/* What a failure most likely means, from how far the destination got:
 * QEMU explains itself only in its own log. */
static const char *failure_hint(void *ctx)
{
	struct server *s = ctx;

	uint32_t pong;
	bool shut, dropped;

	if (s->fd < 0)
		return NULL;	/* never connected: the error says why */
	pthread_mutex_lock(&s->x.session.lock);
	pong = s->pong_max;
	shut = s->shut;
	dropped = s->pre_dropped;
	pthread_mutex_unlock(&s->x.session.lock);
	if (dropped)
		return "--preempt needs the postcopy-preempt capability on the destination (migrate-set-capabilities before migrate-incoming); without it, run without --preempt";
	/* QEMU 7.2 closes the connection when it refuses the package; 10.0
	 * says SHUT 1 first: either way how far it got tells why */
	if (shut && (s->resume || pong >= 2))
		return "QEMU's log on the destination says why it failed";
	if (s->resume)
		return s->resume_acked ?
		       "the destination is postcopy-paused again: migrate-recover on it, then postcopy-serve --resume" :
		       "is the destination postcopy-paused, with migrate-recover listening here? QEMU's log says why it refused";
	switch (pong) {
	case 0:
		/* QEMU 7.2 with postcopy-preempt reads nothing before the
		 * second connection; 8.0+ stops before the device state */
		return s->preempt ? "is this a QEMU destination waiting with migrate-incoming? QEMU's log says why it refused" :
		       "is this a QEMU destination waiting with migrate-incoming? One with the postcopy-preempt capability (QEMU 7.2) waits for a second connection: run with --preempt. QEMU's log says why it refused";
	case 2:
		if (!s->preempt)
			return "the destination refused or waits before the device state: is it the saved VM's machine and devices? One with the postcopy-preempt capability (QEMU 8.0+) waits there for a second connection: run with --preempt. QEMU's log says which";
		return "the destination refused the device state: is it the saved VM's machine and devices? QEMU's log says which";
	case 1:
		return "the destination refused postcopy or the RAM blocks: is postcopy-ram set on it, and are its -M, -m, memory backend id, -bios and -kernel those of the saved VM? QEMU's log says which";
	default:
		return "the guest was running: the destination is postcopy-paused; migrate-recover on it, then postcopy-serve --resume finishes the migration";
	}
}

static const struct xfer_ops serve_ops = {
	.applet = "postcopy-serve",
	.role = XFER_SERVER,
	.opts = serve_opts,
	.help = &postcopy_serve_help,
	.option = take_option,
	.operands = operands,
	.setup = setup,
	.serve = serve_stream,
	.stop = stop,
	.moved = monitor_moved,
	.activity = monitor_activity,
	.stalled = monitor_idle,
	.stats = stats_fields,
	.hint = failure_hint,
	.cleanup = cleanup,
};

int postcopy_serve_main(int argc, char **argv)
{
	struct server s = { .fd = -1, .pfd = -1, .in_fd = -1, .last_block = -1, .phase = PH_INDEX };

	return xfer_main(&s.x, &serve_ops, &s, argc, argv);
}
