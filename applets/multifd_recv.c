/* multifd-recv: receive a migration stream over QEMU's multifd TCP
 * channels and write it out as one stream.
 *
 * Threads: an acceptor takes and identifies the connections for the whole
 * transfer (a channel beyond -c is refused by name, even late); once all
 * are in, the applet's thread parses the main channel and re-emits it; one
 * thread per multifd channel decodes, decompresses and writes its pages; a
 * monitor draws progress and enforces --timeout. All output goes through
 * one stream writer under rx->lock.
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
 * every channel has received its k-th SYNC (and written the pages before
 * it); a channel that has received k SYNCs writes further pages only once
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
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "applets.h"
#include "bytes.h"
#include "compress.h"
#include "io.h"
#include "json.h"
#include "log.h"
#include "multifd.h"
#include "net.h"
#include "opts.h"
#include "monitor.h"
#include "progress.h"
#include "stream.h"

const char multifd_recv_usage[] =
"usage: multifd-recv [OPTIONS] [HOST]:PORT > STREAM\n"
"\n"
"Listens on HOST:PORT ([IPV6]:PORT; :PORT for every address) for a QEMU\n"
"source with the multifd capability, or multifd-send: one main channel and\n"
"CHANNELS multifd channels, accepted in any order and told apart by their\n"
"first bytes. Writes one migration stream on stdout (or FILE): the main\n"
"channel's records with the multifd pages put in place, which QEMU loads\n"
"with -incoming \"exec:cat STREAM\".\n"
"\n"
"  -c, --channels N      multifd channels, 1..255 (default 2, as QEMU)\n"
"  -z, --compress METHOD\n"
"                        none, zlib or zstd: what the sender uses (default\n"
"                        none)\n"
"      --uuid UUID       uuid every channel must carry (default all zero, as\n"
"                        QEMU without -uuid)\n"
"  -o, --output FILE     write to FILE, which appears only once complete\n"
"      --timeout SECONDS\n"
"                        fail when the connections are not all in after\n"
"                        SECONDS, or when no byte moves for SECONDS (default:\n"
"                        wait forever, as QEMU)\n"
"      --progress        show bytes, rate, pages and bytes per channel on\n"
"                        stderr\n"
"      --stats-json FILE\n"
"                        write the transfer's counters as JSON to FILE at the\n"
"                        end, also after a failure\n"
"  -h, --help            show this help\n"
"\n"
"A connection that is neither a main nor a multifd channel, an init packet\n"
"with another uuid, a channel id out of range or seen twice, a malformed\n"
"packet, a channel closed early and a timeout fail the transfer with a\n"
"message naming the channel. A failed transfer leaves no output that looks\n"
"complete: the stream does not end with its EOF, FILE is not created, and\n"
"every connection is reset so that the sender fails too.\n"
"\n"
"Exit status: 0 a complete stream written, 1 failure, 2 usage error.\n";

#define ACCEPT_TICK_MS		250
#define EXTRA_CONNECTIONS	16	/* unidentified ones beyond the expected */

struct receiver;

struct recv_channel {
	struct receiver *rx;
	unsigned int id;
	int fd;
	char peer[NET_NAME_LEN];
	pthread_t thread;
	bool started;
	void *dctx;
	unsigned char header[MULTIFD_PACKET_HEADER_SIZE];
	unsigned char *pages;			/* MULTIFD_PACKET_DATA bytes */
	struct mfd_packet pkt;
	/* The output records of a packet, for one writev. */
	unsigned char record_header[MULTIFD_PACKET_PAGES][STREAM_PAGE_HEADER_MAX];
	struct iovec iov[2 * MULTIFD_PACKET_PAGES];
	uint64_t packets_seen;			/* this thread only */
	/* Under rx->lock. */
	uint64_t syncs;
	uint64_t pages_since_sync;
	bool ended;				/* the thread is done */
	bool closed;				/* ... after an orderly close */
	/* Counters for the monitor. */
	struct mfd_counters cnt;
};

struct receiver {
	/* Options. */
	struct net_endpoint ep;
	unsigned int nchannels;
	const struct compress_method *method;
	unsigned char uuid[16];
	const char *out_path;
	unsigned int timeout_s;
	bool show_progress;
	const char *stats_path;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* any change of the state below */
	bool failed;
	char error[768];
	int listen_fd, main_fd;
	int wake_fd;			/* eventfd: stop the acceptor's poll */
	char main_peer[NET_NAME_LEN];
	pthread_t acceptor;
	bool acceptor_started, accept_stop;
	bool all_in;			/* main and every channel connected */
	struct recv_channel *ch;

	/* The output, under lock. */
	struct out_file of;
	bool of_open;
	struct out_buf out;
	struct stream_writer w;
	const struct ram_list *ram;		/* once blocks_known */
	bool blocks_known;
	const struct section_info *ram_section;
	bool ram_open;			/* main's RAM section, before its EOS */
	bool own_part_open;		/* a PART opened for channel pages */
	uint64_t eos_written;		/* sync points completed */
	uint64_t own_parts;
	uint64_t ram_total;
	int first_closed;		/* first channel closed in order, or -1 */

	/* Main thread only: a non-RAM section (or package) is staged in a
	 * memfd and written out whole once complete. */
	int stage_fd;
	struct out_buf stage;
	struct stream_writer stage_w;
	bool staging;
	uint64_t package_left;

	/* Read by the monitor. */
	_Atomic uint64_t main_bytes, zero_pages;
	struct monitor mon;
	struct progress pg;
	uint64_t start_ns;
};

/* Wakes the threads blocked reading. Only the reading side: a FIN now
 * would look like an orderly end to the sender, which must see the reset
 * that close_connections() sends instead. */
static void shutdown_all_locked(struct receiver *rx)
{
	if (rx->main_fd >= 0)
		shutdown(rx->main_fd, SHUT_RD);
	for (unsigned int i = 0; i < rx->nchannels; i++)
		if (rx->ch[i].fd >= 0)
			shutdown(rx->ch[i].fd, SHUT_RD);
}

static void rx_vfail_locked(struct receiver *rx, const char *fmt, va_list ap)
{
	if (!rx->failed) {
		vsnprintf(rx->error, sizeof(rx->error), fmt, ap);
		rx->failed = true;
		shutdown_all_locked(rx);
		if (rx->wake_fd >= 0)
			(void)eventfd_write(rx->wake_fd, 1);	/* the acceptor's poll */
	}
	pthread_cond_broadcast(&rx->cond);
}

/* Records the first failure and wakes every thread; blocked reads return
 * once the sockets are shut down. */
static void rx_fail_locked(struct receiver *rx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rx_fail(struct receiver *rx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rx_fail_locked(struct receiver *rx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rx_vfail_locked(rx, fmt, ap);
	va_end(ap);
}

static void rx_fail(struct receiver *rx, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rx->lock);
	va_start(ap, fmt);
	rx_vfail_locked(rx, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&rx->lock);
}

/* An output write error fails the transfer (lock held). */
static int check_output_locked(struct receiver *rx)
{
	if (rx->out.err) {
		rx_fail_locked(rx, "writing the output: %s", strerror(rx->out.err));
		return -1;
	}
	return rx->failed ? -1 : 0;
}

/* Closes the PART section channels opened, before main writes (lock
 * held). */
static void close_own_part_locked(struct receiver *rx)
{
	if (!rx->own_part_open)
		return;
	stream_write_ram_flag(&rx->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&rx->w, rx->ram_section->id);
	rx->own_part_open = false;
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

/* Waits for the block list, which the main channel sends before any page
 * (lock held). */
static int wait_blocks_locked(struct receiver *rx)
{
	while (!rx->blocks_known && !rx->failed)
		pthread_cond_wait(&rx->cond, &rx->lock);
	return rx->failed ? -1 : 0;
}

static int write_pages(struct recv_channel *ch, const struct ram_block *b)
{
	struct receiver *rx = ch->rx;
	const struct mfd_packet *pkt = &ch->pkt;
	int ret;

	pthread_mutex_lock(&rx->lock);
	/* Pages after our SYNC number s belong to sync point s + 1: they go
	 * out only after main's EOS number s. */
	while (rx->eos_written < ch->syncs && !rx->failed)
		pthread_cond_wait(&rx->cond, &rx->lock);
	if (rx->failed) {
		pthread_mutex_unlock(&rx->lock);
		return -1;
	}
	if (!rx->ram_open && !rx->own_part_open) {
		stream_write_section(&rx->w, QEMU_VM_SECTION_PART, rx->ram_section);
		rx->own_part_open = true;
		rx->own_parts++;
	}
	/* One writev from the page buffer: the output is the one big copy. */
	for (uint32_t i = 0; i < pkt->normal_pages; i++) {
		ch->iov[2 * i].iov_base = ch->record_header[i];
		ch->iov[2 * i].iov_len = stream_page_header(&rx->w, b, pkt->offset[i],
							    RAM_SAVE_FLAG_PAGE,
							    ch->record_header[i]);
		ch->iov[2 * i + 1].iov_base = ch->pages + (size_t)i * MULTIFD_PAGE_SIZE;
		ch->iov[2 * i + 1].iov_len = MULTIFD_PAGE_SIZE;
	}
	out_writev(&rx->out, ch->iov, 2 * (int)pkt->normal_pages);
	ch->pages_since_sync += pkt->normal_pages;
	ret = check_output_locked(rx);
	pthread_mutex_unlock(&rx->lock);
	return ret;
}

static int receive_packet(struct recv_channel *ch)
{
	struct receiver *rx = ch->rx;
	struct mfd_packet *pkt = &ch->pkt;
	uint64_t last_num = pkt->packet_num;
	char err[MULTIFD_ERR_LEN];
	const struct ram_block *b;
	void *payload;
	int rc;

	rc = channel_read(ch, ch->header, sizeof(ch->header), "header");
	if (rc <= 0)
		return rc;
	ch->packets_seen++;
	if (mfd_packet_decode(ch->header, pkt, rx->method->wire_flag, err) < 0) {
		rx_fail(rx, "channel %u: packet %" PRIu64 " of the channel: %s%s", ch->id,
			ch->packets_seen, err,
			strstr(err, "compression flag") ? " (see -z)" : "");
		return -1;
	}
	/* One counter over all channels: it never goes back on one. */
	if (ch->packets_seen > 1 && pkt->packet_num < last_num) {
		rx_fail(rx, "channel %u: packet_num %" PRIu64 " after %" PRIu64
			", expected numbers that never go back", ch->id, pkt->packet_num, last_num);
		return -1;
	}
	if (pkt->normal_pages) {
		pthread_mutex_lock(&rx->lock);
		rc = wait_blocks_locked(rx);
		pthread_mutex_unlock(&rx->lock);
		if (rc < 0)
			return -1;
		b = mfd_packet_block(pkt, rx->ram, err);
		if (!b) {
			rx_fail(rx, "channel %u: packet %" PRIu64 ": %s", ch->id, pkt->packet_num, err);
			return -1;
		}
		payload = rx->method->recv_buffer(ch->dctx, ch->pages, pkt->next_packet_size);
		if (channel_read(ch, payload, pkt->next_packet_size, "payload") <= 0)
			return -1;
		if (rx->method->recv(ch->dctx, payload, pkt->next_packet_size, ch->pages,
				     (size_t)pkt->normal_pages * MULTIFD_PAGE_SIZE, err) < 0) {
			rx_fail(rx, "channel %u: packet %" PRIu64 ": %s", ch->id, pkt->packet_num, err);
			return -1;
		}
		if (write_pages(ch, b) < 0)
			return -1;
		atomic_fetch_add_explicit(&ch->cnt.pages, pkt->normal_pages, memory_order_relaxed);
		atomic_fetch_add_explicit(&ch->cnt.payload_bytes, pkt->next_packet_size,
					  memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&ch->cnt.packets, 1, memory_order_relaxed);
	if (pkt->flags & MULTIFD_FLAG_SYNC) {
		pthread_mutex_lock(&rx->lock);
		ch->syncs++;
		ch->pages_since_sync = 0;
		pthread_cond_broadcast(&rx->cond);
		pthread_mutex_unlock(&rx->lock);
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
	pthread_mutex_lock(&rx->lock);
	ch->ended = true;
	/* After a failure our own shutdown ends the reads: not the peer's. */
	if (rc == 0 && !rx->failed) {
		ch->closed = true;
		if (rx->first_closed < 0)
			rx->first_closed = (int)ch->id;
	}
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
	return NULL;
}

/* ---- accepting and telling the connections apart ---- */

struct pending_conn {
	int fd;
	size_t got;
	unsigned char buf[MULTIFD_INIT_SIZE];
	char peer[NET_NAME_LEN];
};

static int start_channel(struct receiver *rx, struct pending_conn *pc)
{
	struct mfd_init init;
	struct recv_channel *ch;
	char err[MULTIFD_ERR_LEN];

	if (mfd_init_decode(pc->buf, &init, rx->uuid, rx->nchannels, err) < 0) {
		rx_fail(rx, "channel %u from %s refused: %s", init.id, pc->peer, err);
		return -1;
	}
	ch = &rx->ch[init.id];
	if (ch->fd >= 0) {
		rx_fail(rx, "channel %u from %s refused: channel %u is already connected from %s",
			init.id, pc->peer, init.id, ch->peer);
		return -1;
	}
	if (net_set_nonblocking(pc->fd, false) < 0) {
		rx_fail(rx, "channel %u: %s", init.id, strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&rx->lock);
	ch->fd = pc->fd;
	pthread_mutex_unlock(&rx->lock);
	pc->fd = -1;
	snprintf(ch->peer, sizeof(ch->peer), "%s", pc->peer);
	atomic_store_explicit(&ch->cnt.bytes, MULTIFD_INIT_SIZE, memory_order_relaxed);
	if (pthread_create(&ch->thread, NULL, recv_channel_thread, ch)) {
		rx_fail(rx, "channel %u: cannot start its thread", init.id);
		return -1;
	}
	ch->started = true;
	return 0;
}

/* Reads what is there of a connection's first bytes; identifies it once
 * enough came. 1: identified, 0: not yet, -1: refused. */
static int identify(struct receiver *rx, struct pending_conn *pc)
{
	size_t want = pc->got < 4 ? 4 : MULTIFD_INIT_SIZE;
	ssize_t r = read(pc->fd, pc->buf + pc->got, want - pc->got);

	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		rx_fail(rx, "connection from %s: %s", pc->peer, strerror(errno));
		return -1;
	}
	if (r == 0) {
		rx_fail(rx, "connection from %s closed after %zu bytes, before it said whether it is the main or a multifd channel",
			pc->peer, pc->got);
		return -1;
	}
	pc->got += (size_t)r;
	if (pc->got < 4)
		return 0;
	if (get_be32(pc->buf) == QEMU_VM_FILE_MAGIC) {
		if (rx->main_fd >= 0) {
			rx_fail(rx, "connection from %s refused: a second main channel (the first came from %s)",
				pc->peer, rx->main_peer);
			return -1;
		}
		if (net_set_nonblocking(pc->fd, false) < 0) {
			rx_fail(rx, "main channel: %s", strerror(errno));
			return -1;
		}
		pthread_mutex_lock(&rx->lock);
		rx->main_fd = pc->fd;
		pthread_mutex_unlock(&rx->lock);
		snprintf(rx->main_peer, sizeof(rx->main_peer), "%s", pc->peer);
		pc->fd = -1;
		return 1;
	}
	if (get_be32(pc->buf) != MULTIFD_MAGIC) {
		rx_fail(rx, "connection from %s refused: first bytes %02x %02x %02x %02x, expected \"QEVM\" (a main channel) or 0x%08x (a multifd channel)",
			pc->peer, pc->buf[0], pc->buf[1], pc->buf[2], pc->buf[3], MULTIFD_MAGIC);
		return -1;
	}
	if (pc->got < MULTIFD_INIT_SIZE)
		return 0;
	return start_channel(rx, pc) < 0 ? -1 : 1;
}

static void describe_missing(struct receiver *rx, char *buf, size_t n)
{
	size_t len = 0;
	unsigned int have = 0;

	for (unsigned int i = 0; i < rx->nchannels; i++)
		have += rx->ch[i].fd >= 0;
	len += (size_t)snprintf(buf, n, "%s, %u of %u multifd channels",
				rx->main_fd >= 0 ? "main channel in" : "no main channel",
				have, rx->nchannels);
	if (have && have < rx->nchannels) {
		len += (size_t)snprintf(buf + len, n - len, " (ids");
		for (unsigned int i = 0; i < rx->nchannels && len < n; i++)
			if (rx->ch[i].fd >= 0)
				len += (size_t)snprintf(buf + len, n - len, " %u", i);
		if (len < n)
			snprintf(buf + len, n - len, ")");
	}
}

static bool acceptor_should_stop(struct receiver *rx)
{
	bool stop;

	pthread_mutex_lock(&rx->lock);
	stop = rx->accept_stop || rx->failed;
	pthread_mutex_unlock(&rx->lock);
	return stop;
}

/* Accepts and identifies connections for the whole transfer: until all
 * are in (then main may start), and after that too, so that a sender with
 * more channels than -c is refused by name rather than by the kernel. */
static void *acceptor_thread(void *arg)
{
	struct receiver *rx = arg;
	unsigned int max = rx->nchannels + 1 + EXTRA_CONNECTIONS, npend = 0;
	unsigned int needed = rx->nchannels + 1;
	struct pending_conn *pend = calloc(max, sizeof(*pend));
	struct pollfd *pfd = calloc(max + 2, sizeof(*pfd));
	uint64_t deadline = rx->timeout_s ? now_ns() + rx->timeout_s * 1000000000ull : 0;

	if (!pend || !pfd) {
		rx_fail(rx, "out of memory");
		goto out;
	}
	while (!acceptor_should_stop(rx)) {
		unsigned int k = 0;
		int rc;

		pfd[k++] = (struct pollfd){ .fd = rx->wake_fd, .events = POLLIN };
		pfd[k++] = (struct pollfd){ .fd = rx->listen_fd, .events = POLLIN };
		for (unsigned int i = 0; i < npend; i++)
			pfd[k++] = (struct pollfd){ .fd = pend[i].fd, .events = POLLIN };
		rc = poll(pfd, k, ACCEPT_TICK_MS);
		if (rc < 0 && errno != EINTR) {
			rx_fail(rx, "poll: %s", strerror(errno));
			break;
		}
		if (needed && deadline && now_ns() >= deadline) {
			char have[256];

			describe_missing(rx, have, sizeof(have));
			rx_fail(rx, "timed out after %u s waiting for the connections (--timeout): %s",
				rx->timeout_s, have);
			break;
		}
		if (rc <= 0 || pfd[0].revents)
			continue;	/* a tick, or woken to stop */
		for (unsigned int i = 0; i < npend; i++) {
			if (!pfd[i + 2].revents)
				continue;
			rc = identify(rx, &pend[i]);
			if (rc < 0)
				goto out;
			if (rc > 0 && --needed == 0) {
				pthread_mutex_lock(&rx->lock);
				rx->all_in = true;
				pthread_cond_broadcast(&rx->cond);
				pthread_mutex_unlock(&rx->lock);
			}
		}
		/* Drop the identified ones (their fd now belongs elsewhere). */
		for (unsigned int i = 0; i < npend;) {
			if (pend[i].fd < 0)
				pend[i] = pend[--npend];
			else
				i++;
		}
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(rx->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0) {
				if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
					rx_fail(rx, "accept: %s", strerror(errno));
					break;
				}
				continue;
			}
			net_tune(fd);
			if (npend == max) {
				char peer[NET_NAME_LEN];

				rx_fail(rx, "connection from %s refused: already %u connections that have not said what they are",
					net_peer_name(fd, peer, sizeof(peer)), npend);
				close(fd);
				break;
			}
			pend[npend] = (struct pending_conn){ .fd = fd };
			net_peer_name(fd, pend[npend].peer, sizeof(pend[npend].peer));
			npend++;
		}
	}
out:
	for (unsigned int i = 0; pend && i < npend; i++) {
		if (pend[i].fd >= 0) {
			net_abort_on_close(pend[i].fd);
			close(pend[i].fd);
		}
	}
	free(pend);
	free(pfd);
	return NULL;
}

/* Waits until the acceptor has every connection, or the transfer failed. */
static int wait_all_in(struct receiver *rx)
{
	int ret;

	pthread_mutex_lock(&rx->lock);
	while (!rx->all_in && !rx->failed)
		pthread_cond_wait(&rx->cond, &rx->lock);
	ret = rx->failed ? -1 : 0;
	pthread_mutex_unlock(&rx->lock);
	return ret;
}

static void stop_acceptor(struct receiver *rx)
{
	pthread_mutex_lock(&rx->lock);
	rx->accept_stop = true;
	pthread_mutex_unlock(&rx->lock);
	(void)eventfd_write(rx->wake_fd, 1);
	if (rx->acceptor_started)
		pthread_join(rx->acceptor, NULL);
	rx->acceptor_started = false;
}

/* ---- the main channel ---- */

/* Waits until every channel has received SYNC number k (lock held). */
static int wait_sync_locked(struct receiver *rx, uint64_t k)
{
	for (;;) {
		bool all = true;

		if (rx->failed)
			return -1;
		for (unsigned int i = 0; i < rx->nchannels; i++) {
			struct recv_channel *ch = &rx->ch[i];

			if (ch->syncs >= k)
				continue;
			all = false;
			if (ch->ended) {
				rx_fail_locked(rx, "channel %u closed after %" PRIu64
					       " SYNC packets; the main channel is at sync point %" PRIu64,
					       i, ch->syncs, k);
				return -1;
			}
		}
		if (all)
			return 0;
		pthread_cond_wait(&rx->cond, &rx->lock);
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

/* Writes the staged section to the output in one piece. */
static int stage_commit(struct receiver *rx)
{
	unsigned char *buf = NULL;
	uint64_t size, off = 0;
	int ret = 0;

	rx->staging = false;
	if (out_flush(&rx->stage) < 0) {
		rx_fail(rx, "staging a section in memory: %s", strerror(rx->stage.err));
		return -1;
	}
	size = rx->stage.written;
	buf = malloc(1u << 20);
	if (!buf) {
		rx_fail(rx, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&rx->lock);
	close_own_part_locked(rx);
	while (off < size && !ret) {
		size_t n = size - off > (1u << 20) ? 1u << 20 : (size_t)(size - off);
		ssize_t r = pread(rx->stage_fd, buf, n, (off_t)off);

		if (r <= 0) {
			rx_fail_locked(rx, "reading back a staged section: %s",
				       r < 0 ? strerror(errno) : "short");
			ret = -1;
			break;
		}
		out_write(&rx->out, buf, (size_t)r);
		off += (uint64_t)r;
	}
	if (!ret)
		ret = check_output_locked(rx);
	pthread_mutex_unlock(&rx->lock);
	free(buf);
	if (ftruncate(rx->stage_fd, 0) < 0 || lseek(rx->stage_fd, 0, SEEK_SET) < 0) {
		rx_fail(rx, "resetting the stage: %s", strerror(errno));
		return -1;
	}
	rx->stage.written = 0;
	return ret;
}

/* Writes a top-level item, or a record of main's open RAM section. */
static int write_now(struct receiver *rx, const struct stream_item *it,
		     const struct ram_list *ram)
{
	int ret;

	pthread_mutex_lock(&rx->lock);
	close_own_part_locked(rx);
	stream_write_item(&rx->w, it, ram);
	ret = check_output_locked(rx);
	pthread_mutex_unlock(&rx->lock);
	return ret;
}

static int main_item(struct receiver *rx, struct stream_reader *r,
		     const struct stream_item *it)
{
	struct ram_list *ram = stream_ram(r);
	int ret;

	if (rx->staging) {
		if (stream_write_item(&rx->stage_w, it, ram) < 0) {
			rx_fail(rx, "staging a section in memory: %s", strerror(rx->stage.err));
			return -1;
		}
		if (it->type == SI_FOOTER ||
		    (it->type == SI_PACKAGE && (rx->package_left -= it->len) == 0))
			return stage_commit(rx);
		return 0;
	}
	switch (it->type) {
	case SI_SECTION:
		if (it->section->kind != SECTION_KIND_RAM) {
			if (stage_begin(rx) < 0)
				return -1;
			return main_item(rx, r, it);
		}
		pthread_mutex_lock(&rx->lock);
		close_own_part_locked(rx);
		stream_write_item(&rx->w, it, ram);
		rx->ram_section = it->section;
		rx->ram_open = true;
		ret = check_output_locked(rx);
		pthread_mutex_unlock(&rx->lock);
		return ret;
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(r) != MULTIFD_PAGE_SIZE) {
			rx_fail(rx, "main channel: target page size %u, multifd here supports %u only",
				stream_page_size(r), MULTIFD_PAGE_SIZE);
			return -1;
		}
		pthread_mutex_lock(&rx->lock);
		stream_write_item(&rx->w, it, ram);
		rx->ram = ram;
		rx->ram_total = ram->total;
		rx->blocks_known = true;
		pthread_cond_broadcast(&rx->cond);
		ret = check_output_locked(rx);
		pthread_mutex_unlock(&rx->lock);
		return ret;
	case SI_RAM_ZERO:
		atomic_fetch_add_explicit(&rx->zero_pages, 1, memory_order_relaxed);
		return write_now(rx, it, ram);
	case SI_RAM_EOS:
		pthread_mutex_lock(&rx->lock);
		ret = wait_sync_locked(rx, rx->eos_written + 1);
		if (!ret) {
			/* The footer goes with it: a channel may write its next
			 * pages right after, and must find a section boundary. */
			stream_write_item(&rx->w, it, ram);
			stream_write_footer(&rx->w, it->section->id);
			rx->ram_open = false;
			rx->eos_written++;
			pthread_cond_broadcast(&rx->cond);
			ret = check_output_locked(rx);
		}
		pthread_mutex_unlock(&rx->lock);
		return ret;
	case SI_FOOTER:
		return 0;	/* a RAM footer: written with its EOS */
	case SI_COMMAND:
		if (it->cmd == MIG_CMD_PACKAGED && get_be32(it->data)) {
			rx->package_left = get_be32(it->data);
			if (stage_begin(rx) < 0)
				return -1;
			return main_item(rx, r, it);
		}
		return write_now(rx, it, ram);
	case SI_EOF:
	case SI_VMDESC:
		return 0;	/* written once every channel has ended well */
	default:
		return write_now(rx, it, ram);
	}
}

/* The end of the main channel: every channel must end in order after as
 * many SYNCs as main had sync points, with no page after the last. */
static int finish(struct receiver *rx, struct stream_reader *r)
{
	size_t vmlen;
	const char *vm = stream_vmdesc(r, &vmlen);
	int ret = 0;

	pthread_mutex_lock(&rx->lock);
	for (unsigned int i = 0; i < rx->nchannels && !ret; i++) {
		struct recv_channel *ch = &rx->ch[i];

		while (!ch->ended && !rx->failed)
			pthread_cond_wait(&rx->cond, &rx->lock);
		if (rx->failed)
			ret = -1;
		else if (ch->pages_since_sync)
			rx_fail_locked(rx, "channel %u: %" PRIu64 " pages after its last SYNC, which no sync point of the main channel covers",
				       i, ch->pages_since_sync);
		else if (ch->syncs != rx->eos_written)
			rx_fail_locked(rx, "channel %u: %" PRIu64 " SYNC packets, expected %" PRIu64
				       " (the main channel's sync points)", i, ch->syncs, rx->eos_written);
		if (rx->failed)
			ret = -1;
	}
	if (!ret) {
		close_own_part_locked(rx);
		stream_write_eof(&rx->w);
		if (vm)
			stream_write_vmdesc(&rx->w, vm, vmlen);
		out_flush(&rx->out);
		ret = check_output_locked(rx);
	}
	pthread_mutex_unlock(&rx->lock);
	return ret;
}

/* ---- monitor: progress and the idle timeout ---- */

static uint64_t moved_bytes(struct receiver *rx, char *extra, size_t n)
{
	const struct mfd_counters *cnt[MULTIFD_CHANNELS_MAX];

	for (unsigned int i = 0; i < rx->nchannels; i++)
		cnt[i] = &rx->ch[i].cnt;
	return mfd_counters_moved(cnt, rx->nchannels,
				  atomic_load_explicit(&rx->main_bytes, memory_order_relaxed),
				  atomic_load_explicit(&rx->zero_pages, memory_order_relaxed),
				  extra, n);
}

static uint64_t monitor_moved(void *ctx, char *extra, size_t n)
{
	return moved_bytes(ctx, extra, n);
}

static void monitor_idle(void *ctx, unsigned int timeout_s)
{
	rx_fail(ctx, "no byte came on any channel for %u s (--timeout)", timeout_s);
}

static const struct monitor_ops rx_monitor_ops = {
	.moved = monitor_moved,
	.idle = monitor_idle,
	.activity = NULL,
};

/* ---- set-up, tear-down, report ---- */

static int setup(struct receiver *rx)
{
	char err[COMPRESS_ERR_LEN];

	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->cond, NULL);
	rx->listen_fd = rx->main_fd = rx->stage_fd = -1;
	rx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rx->wake_fd < 0)
		return -1;
	rx->first_closed = -1;
	rx->ch = calloc(rx->nchannels, sizeof(*rx->ch));
	if (!rx->ch)
		return -1;
	for (unsigned int i = 0; i < rx->nchannels; i++) {
		struct recv_channel *ch = &rx->ch[i];

		ch->rx = rx;
		ch->id = i;
		ch->fd = -1;
		ch->pages = malloc(MULTIFD_PACKET_DATA);
		if (!ch->pages)
			return -1;
		if (rx->method->recv_setup(&ch->dctx, err) < 0) {
			snprintf(rx->error, sizeof(rx->error), "channel %u: %s", i, err);
			rx->failed = true;
			return -1;
		}
	}
	return 0;
}

static void stop_threads(struct receiver *rx)
{
	monitor_stop(&rx->mon);
	for (unsigned int i = 0; i < rx->nchannels; i++)
		if (rx->ch[i].started)
			pthread_join(rx->ch[i].thread, NULL);
}

static void write_stats(struct receiver *rx)
{
	FILE *f = fopen(rx->stats_path, "w");
	const struct mfd_counters *cnt[MULTIFD_CHANNELS_MAX];
	const char *peers[MULTIFD_CHANNELS_MAX];
	uint64_t syncs[MULTIFD_CHANNELS_MAX];
	struct json_writer w;

	if (!f) {
		msg("cannot write --stats-json %s: %s", rx->stats_path, strerror(errno));
		return;
	}
	for (unsigned int i = 0; i < rx->nchannels; i++) {
		cnt[i] = &rx->ch[i].cnt;
		peers[i] = rx->ch[i].peer;
		syncs[i] = rx->ch[i].syncs;
	}
	jw_init(&w, f, true);
	mfd_stats_begin(&w, "multifd-recv", rx->failed ? rx->error : NULL,
			(double)(now_ns() - rx->start_ns) / 1e9, rx->nchannels,
			rx->method->name);
	jw_key(&w, "ram_total"); jw_u64(&w, rx->ram_total);
	jw_key(&w, "sync_points"); jw_u64(&w, rx->eos_written);
	jw_key(&w, "own_part_sections"); jw_u64(&w, rx->own_parts);
	jw_key(&w, "output_bytes"); jw_u64(&w, rx->out.written);
	jw_key(&w, "zero_pages"); jw_u64(&w, rx->zero_pages);
	jw_key(&w, "main_bytes"); jw_u64(&w, rx->main_bytes);
	mfd_counters_json(&w, cnt, peers, syncs, rx->nchannels);
	jw_object_end(&w);
	jw_end(&w);
	if (fclose(f))
		msg("cannot write --stats-json %s: %s", rx->stats_path, strerror(errno));
}

/* Closes every connection: in order after success (the sender waits for
 * that), with a reset after a failure, so the sender fails too. */
static void close_connections(struct receiver *rx)
{
	for (unsigned int i = 0; rx->ch && i < rx->nchannels; i++) {
		if (rx->ch[i].fd < 0)
			continue;
		if (rx->failed)
			net_abort_on_close(rx->ch[i].fd);
		close(rx->ch[i].fd);
		rx->ch[i].fd = -1;
	}
	if (rx->main_fd >= 0) {
		if (rx->failed)
			net_abort_on_close(rx->main_fd);
		close(rx->main_fd);
		rx->main_fd = -1;
	}
	if (rx->listen_fd >= 0)
		close(rx->listen_fd);
	rx->listen_fd = -1;
	if (rx->wake_fd >= 0)
		close(rx->wake_fd);
	rx->wake_fd = -1;
}

static void cleanup(struct receiver *rx)
{
	close_connections(rx);
	for (unsigned int i = 0; rx->ch && i < rx->nchannels; i++) {
		rx->method->recv_cleanup(rx->ch[i].dctx);
		free(rx->ch[i].pages);
	}
	free(rx->ch);
	if (rx->stage_fd >= 0) {
		free(rx->stage.buf);
		close(rx->stage_fd);
	}
	pthread_cond_destroy(&rx->cond);
	pthread_mutex_destroy(&rx->lock);
}

/* A main channel failing after a channel closed early is most likely the
 * channel's fault: name it. */
static void report_failure(struct receiver *rx)
{
	int id = rx->first_closed;

	if (id >= 0 && !strncmp(rx->error, "main channel", 12))
		msg("channel %d closed early, after %" PRIu64 " packets and %" PRIu64
		    " SYNC packets; then %s", id, (uint64_t)rx->ch[id].cnt.packets,
		    rx->ch[id].syncs, rx->error);
	else
		msg("%s", rx->error);
}

static void run(struct receiver *rx)
{
	struct stream_reader *r = NULL;
	struct stream_item it;
	struct in_buf in = { .buf = NULL };
	char err[NET_ERR_LEN];
	int ret;

	rx->listen_fd = net_listen(&rx->ep, err);
	if (rx->listen_fd < 0) {
		rx_fail(rx, "%s", err);
		return;
	}
	net_set_nonblocking(rx->listen_fd, true);
	if (pthread_create(&rx->acceptor, NULL, acceptor_thread, rx)) {
		rx_fail(rx, "cannot start the acceptor thread");
		return;
	}
	rx->acceptor_started = true;
	if (wait_all_in(rx) < 0)
		goto out;

	progress_init(&rx->pg, rx->show_progress);
	if (monitor_start(&rx->mon, &rx_monitor_ops, rx, &rx->pg, rx->timeout_s) < 0)
		msg("cannot start the progress and timeout thread: %s", strerror(errno));
	if (in_init(&in, rx->main_fd, 4u << 20) < 0 ||
	    in_prefill(&in, "QEVM", 4) < 0 || !(r = stream_reader_new(&in))) {
		rx_fail(rx, "out of memory");
		goto out;
	}
	while ((ret = stream_next(r, &it)) > 0) {
		if (main_item(rx, r, &it) < 0)
			break;
		atomic_store_explicit(&rx->main_bytes, in_offset(&in), memory_order_relaxed);
	}
	atomic_store_explicit(&rx->main_bytes, in_offset(&in), memory_order_relaxed);
	if (ret < 0)
		rx_fail(rx, "main channel from %s: %s", rx->main_peer, stream_error(r));
	else if (ret == 0)
		finish(rx, r);
out:
	if (rx->failed) {
		pthread_mutex_lock(&rx->lock);
		shutdown_all_locked(rx);
		pthread_cond_broadcast(&rx->cond);
		pthread_mutex_unlock(&rx->lock);
	}
	stop_acceptor(rx);
	stop_threads(rx);
	if (rx->show_progress) {
		char extra[2048];

		progress_done(&rx->pg, moved_bytes(rx, extra, sizeof(extra)), extra);
	}
	stream_reader_free(r);
	in_free(&in);
}

static void parse_args(struct receiver *rx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "channels", required_argument, NULL, 'c' },
		{ "compress", required_argument, NULL, 'z' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "output", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "progress", no_argument, NULL, 'P' },
		{ "stats-json", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char err[NET_ERR_LEN];
	uint64_t v;
	int c;

	rx->nchannels = 2;
	rx->method = &compress_none;
	while ((c = getopt_long(argc, argv, "c:z:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, 1, MULTIFD_CHANNELS_MAX, &v) < 0)
				die_usage("-c %s: expected a channel count 1..%u", optarg,
					  MULTIFD_CHANNELS_MAX);
			rx->nchannels = (unsigned int)v;
			break;
		case 'z':
			rx->method = compress_method_find(optarg);
			if (!rx->method)
				die_usage("-z %s: expected none, zlib or zstd", optarg);
			break;
		case 'U':
			if (uuid_parse(optarg, rx->uuid) < 0)
				die_usage("--uuid %s: expected a UUID like 12345678-9abc-def0-1234-56789abcdef0",
					  optarg);
			break;
		case 'o': rx->out_path = optarg; break;
		case 'T':
			if (parse_uint(optarg, 1, 86400, &v) < 0)
				die_usage("--timeout %s: expected seconds, 1..86400", optarg);
			rx->timeout_s = (unsigned int)v;
			break;
		case 'P': rx->show_progress = true; break;
		case 'S': rx->stats_path = optarg; break;
		case 'h': opts_help();
		default: die_usage("bad option");
		}
	}
	if (argc - optind != 1)
		die_usage("expected one [HOST]:PORT to listen on");
	if (net_endpoint_parse(argv[optind], false, &rx->ep, err) < 0)
		die_usage("%s", err);
	if ((!rx->out_path || !strcmp(rx->out_path, "-")) && isatty(STDOUT_FILENO))
		die_usage("the stream goes to stdout, which is a terminal (use -o FILE)");
}

int multifd_recv_main(int argc, char **argv)
{
	struct receiver rx = { 0 };

	parse_args(&rx, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	rx.start_ns = now_ns();
	if (out_file_open(&rx.of, rx.out_path) < 0)
		die_errno("cannot create %s", rx.out_path);
	if (out_init(&rx.out, rx.of.fd, 4u << 20) < 0 || setup(&rx) < 0) {
		if (!rx.failed)
			snprintf(rx.error, sizeof(rx.error), "out of memory");
		rx.failed = true;
	} else {
		stream_writer_init(&rx.w, &rx.out, MULTIFD_PAGE_SIZE);
		run(&rx);
	}
	if (out_close(&rx.out) < 0 && !rx.failed) {
		snprintf(rx.error, sizeof(rx.error), "writing the output: %s", strerror(rx.out.err));
		rx.failed = true;
	}
	if (!rx.failed && out_file_commit(&rx.of) < 0) {
		snprintf(rx.error, sizeof(rx.error), "cannot complete %s: %s", rx.out_path,
			 strerror(errno));
		rx.failed = true;
	} else if (rx.failed) {
		out_file_abort(&rx.of);
	}
	/* The connections close only now: the sender takes their orderly
	 * close as the receiver's success. */
	if (rx.stats_path)
		write_stats(&rx);
	if (rx.failed)
		report_failure(&rx);
	cleanup(&rx);
	return rx.failed ? EXIT_FAIL : EXIT_OK;
}
