/* multifd-send: send a migration stream over QEMU's multifd TCP channels.
 *
 * Threads: the applet's thread parses stdin and writes the main channel;
 * one thread per multifd channel compresses and writes packets; a monitor
 * draws progress and enforces --timeout. A packet buffer (struct send_job)
 * is owned by exactly one thread at a time: the main thread fills its own
 * and swaps it with the job of a free channel under the lock, as QEMU
 * does. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "applets.h"
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

const char multifd_send_usage[] =
"usage: multifd-send [OPTIONS] HOST:PORT < STREAM\n"
"\n"
"Reads a QEMU migration stream (QEVM version 3) on stdin and sends it to\n"
"HOST:PORT (or [IPV6]:PORT) as a QEMU source with the multifd capability\n"
"does: the main channel first, then CHANNELS multifd channels that each open\n"
"with an init packet. Non-zero pages travel in packets of up to 128 pages of\n"
"one RAM block, on whichever channel is free; zero pages stay on the main\n"
"channel as ZERO records; at every RAM end-of-section record each channel\n"
"sends a SYNC packet before the main channel goes on. The receiver is\n"
"multifd-recv or a QEMU destination with the multifd capability and the\n"
"same channel count and compression.\n"
"\n"
"  -c, --channels N      multifd channels, 1..255 (default 2, as QEMU)\n"
"  -z, --compress METHOD\n"
"                        none, zlib or zstd (default none)\n"
"  -l, --level N         compression level (default 1, as QEMU; zlib 0..9,\n"
"                        zstd -50..22)\n"
"      --uuid UUID       uuid in the init packets (default all zero, as QEMU\n"
"                        without -uuid); a QEMU destination wants its -uuid\n"
"      --timeout SECONDS\n"
"                        give up connecting after SECONDS (default 30) and\n"
"                        fail when no byte moves for SECONDS (default: no\n"
"                        limit)\n"
"      --progress        show bytes, rate, pages and bytes per channel on\n"
"                        stderr\n"
"      --stats-json FILE\n"
"                        write the transfer's counters as JSON to FILE at the\n"
"                        end, also after a failure\n"
"  -h, --help            show this help\n"
"\n"
"A page that the stream sends twice between two end-of-section records\n"
"(QEMU never does) gets an extra sync point first, so that its older copy\n"
"cannot overtake it at the receiver. After the last byte the sender waits\n"
"for the receiver to close every connection: an orderly close is success, a\n"
"reset means the receiver failed.\n"
"\n"
"Exit status: 0 sent and acknowledged by an orderly close, 1 failure (input,\n"
"connection, receiver), 2 usage error.\n";

#define CONNECT_TIMEOUT_DEFAULT	30	/* s, when --timeout is not given */

/* One packet's worth of pages, or a SYNC. */
struct send_job {
	const struct ram_block *block;
	uint32_t npages;
	uint32_t flags;
	uint64_t packet_num;
	uint64_t offset[MULTIFD_PACKET_PAGES];
	unsigned char *pages;		/* MULTIFD_PACKET_DATA bytes */
};

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
	/* Counters: written by the channel, read by the monitor. */
	struct mfd_counters cnt;
	_Atomic uint64_t syncs;
};

struct sender {
	/* Options. */
	struct net_endpoint ep;
	unsigned int nchannels;
	const struct compress_method *method;
	int level;
	unsigned char uuid[16];
	unsigned int timeout_s;
	bool show_progress;
	const char *stats_path;

	pthread_mutex_t lock;
	pthread_cond_t main_wake;	/* a channel went idle, or failure */
	bool quit;
	bool failed;
	char error[768];
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
	uint64_t **touched;		/* per block: pages sent this epoch */
	uint32_t nblocks;
	uint64_t ram_total;
	uint64_t sync_points, extra_sync_points;

	/* Read by the monitor. */
	_Atomic uint64_t input_bytes, main_bytes, zero_pages;
	struct monitor mon;
	struct progress pg;
	uint64_t start_ns;
};

static void shutdown_all_locked(struct sender *tx)
{
	if (tx->main_fd >= 0)
		shutdown(tx->main_fd, SHUT_RDWR);
	for (unsigned int i = 0; i < tx->nchannels; i++)
		if (tx->ch[i].fd >= 0)
			shutdown(tx->ch[i].fd, SHUT_RDWR);
}

/* Records the first failure and wakes every thread; blocked socket calls
 * return once the sockets are shut down. */
static void tx_fail(struct sender *tx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tx_fail(struct sender *tx, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tx->lock);
	if (!tx->failed) {
		va_start(ap, fmt);
		vsnprintf(tx->error, sizeof(tx->error), fmt, ap);
		va_end(ap);
		tx->failed = true;
		shutdown_all_locked(tx);
	}
	pthread_cond_broadcast(&tx->main_wake);
	for (unsigned int i = 0; i < tx->nchannels; i++)
		pthread_cond_broadcast(&tx->ch[i].wake);
	pthread_mutex_unlock(&tx->lock);
}

static struct send_job *job_new(void)
{
	struct send_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->pages = malloc(MULTIFD_PACKET_DATA);
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

static int send_packet(struct send_channel *ch, const struct send_job *job)
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
	char err[COMPRESS_ERR_LEN];

	if (job->npages) {
		if (tx->method->send_prepare(ch->cctx, job->pages,
					     (size_t)job->npages * MULTIFD_PAGE_SIZE,
					     &iov[1], err) < 0) {
			tx_fail(tx, "channel %u: packet %" PRIu64 ": %s", ch->id,
				job->packet_num, err);
			return -1;
		}
		pkt.flags |= tx->method->wire_flag;
		pkt.next_packet_size = (uint32_t)iov[1].iov_len;
		snprintf(pkt.ramblock, sizeof(pkt.ramblock), "%s", job->block->name);
		memcpy(pkt.offset, job->offset, job->npages * sizeof(job->offset[0]));
	}
	mfd_packet_encode(&pkt, ch->header);
	if (net_writev_full(ch->fd, iov, job->npages ? 2 : 1) < 0) {
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
		atomic_fetch_add_explicit(&ch->syncs, 1, memory_order_relaxed);
	return 0;
}

static void *send_channel_thread(void *arg)
{
	struct send_channel *ch = arg;
	struct sender *tx = ch->tx;
	struct mfd_init init = { .magic = MULTIFD_MAGIC, .version = MULTIFD_VERSION,
				 .id = (uint8_t)ch->id };
	unsigned char buf[MULTIFD_INIT_SIZE];
	struct iovec iov = { buf, sizeof(buf) };

	/* The init packet goes out at once: a QEMU destination reads it
	 * before it lets the migration start. */
	memcpy(init.uuid, tx->uuid, sizeof(init.uuid));
	mfd_init_encode(&init, buf);
	if (net_writev_full(ch->fd, &iov, 1) < 0) {
		tx_fail(tx, "channel %u: sending the init packet: %s", ch->id, strerror(errno));
		return NULL;
	}
	atomic_fetch_add_explicit(&ch->cnt.bytes, sizeof(buf), memory_order_relaxed);

	for (;;) {
		struct send_job *job;

		pthread_mutex_lock(&tx->lock);
		while (!ch->pending && !tx->quit && !tx->failed)
			pthread_cond_wait(&ch->wake, &tx->lock);
		if (tx->failed || !ch->pending) {
			pthread_mutex_unlock(&tx->lock);
			break;
		}
		job = ch->job;
		pthread_mutex_unlock(&tx->lock);

		if (send_packet(ch, job) < 0)
			break;

		pthread_mutex_lock(&tx->lock);
		ch->pending = false;
		pthread_cond_signal(&tx->main_wake);
		pthread_mutex_unlock(&tx->lock);
	}
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

/* Waits (lock held) for channel i to be idle. The main channel is flushed
 * before any wait: the receiver may need what it holds to make progress. */
static int wait_idle_locked(struct sender *tx, struct send_channel *ch, bool *flushed)
{
	while (ch->pending && !tx->failed) {
		if (!*flushed) {
			pthread_mutex_unlock(&tx->lock);
			flush_main(tx);
			pthread_mutex_lock(&tx->lock);
			*flushed = true;
			continue;
		}
		pthread_cond_wait(&tx->main_wake, &tx->lock);
	}
	return tx->failed ? -1 : 0;
}

static int hand_off_pages(struct sender *tx)
{
	struct send_job *j = tx->filling;
	struct send_channel *ch = NULL;
	bool flushed = false;

	pthread_mutex_lock(&tx->lock);
	for (;;) {
		if (tx->failed) {
			pthread_mutex_unlock(&tx->lock);
			return -1;
		}
		for (unsigned int k = 0; k < tx->nchannels; k++) {
			struct send_channel *c = &tx->ch[(tx->next_channel + k) % tx->nchannels];

			if (!c->pending) {
				ch = c;
				break;
			}
		}
		if (ch)
			break;
		if (!flushed) {
			pthread_mutex_unlock(&tx->lock);
			flush_main(tx);
			pthread_mutex_lock(&tx->lock);
			flushed = true;
			continue;
		}
		pthread_cond_wait(&tx->main_wake, &tx->lock);
	}
	tx->next_channel = (ch->id + 1) % tx->nchannels;
	j->flags = 0;
	j->packet_num = tx->packet_num++;
	tx->filling = ch->job;
	ch->job = j;
	ch->pending = true;
	pthread_cond_signal(&ch->wake);
	pthread_mutex_unlock(&tx->lock);
	tx->filling->npages = 0;
	return 0;
}

/* Every page handed over so far is written, then a SYNC on every channel;
 * only then may the main channel write the EOS that the receiver syncs
 * on. */
static int sync_channels(struct sender *tx)
{
	bool flushed = false;

	if (tx->filling->npages && hand_off_pages(tx) < 0)
		return -1;
	pthread_mutex_lock(&tx->lock);
	for (unsigned int i = 0; i < tx->nchannels; i++) {
		struct send_channel *ch = &tx->ch[i];

		if (wait_idle_locked(tx, ch, &flushed) < 0)
			goto failed;
		ch->job->npages = 0;
		ch->job->flags = MULTIFD_FLAG_SYNC;
		ch->job->packet_num = tx->packet_num++;
		ch->pending = true;
		pthread_cond_signal(&ch->wake);
	}
	for (unsigned int i = 0; i < tx->nchannels; i++)
		if (wait_idle_locked(tx, &tx->ch[i], &flushed) < 0)
			goto failed;
	pthread_mutex_unlock(&tx->lock);
	tx->sync_points++;
	return 0;
failed:
	pthread_mutex_unlock(&tx->lock);
	return -1;
}

static void touched_clear(struct sender *tx, const struct ram_list *ram)
{
	for (uint32_t i = 0; i < tx->nblocks; i++)
		memset(tx->touched[i], 0,
		       (ram->blocks[i].length / MULTIFD_PAGE_SIZE + 63) / 64 * 8);
}

static int touched_init(struct sender *tx, const struct ram_list *ram)
{
	tx->touched = calloc(ram->count, sizeof(*tx->touched));
	if (!tx->touched)
		return -1;
	tx->nblocks = ram->count;
	for (uint32_t i = 0; i < ram->count; i++) {
		tx->touched[i] = calloc((ram->blocks[i].length / MULTIFD_PAGE_SIZE + 63) / 64, 8);
		if (!tx->touched[i])
			return -1;
	}
	tx->ram_total = ram->total;
	return 0;
}

/* A sync point of our own in the middle of a RAM section: sync, EOS,
 * footer, and the section reopened (a START goes on as a PART). */
static int extra_sync_point(struct sender *tx, const struct ram_list *ram)
{
	if (sync_channels(tx) < 0)
		return -1;
	stream_write_ram_flag(&tx->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&tx->w, tx->ram_section->id);
	if (tx->ram_section_type == QEMU_VM_SECTION_START)
		tx->ram_section_type = QEMU_VM_SECTION_PART;
	stream_write_section(&tx->w, tx->ram_section_type, tx->ram_section);
	if (flush_main(tx) < 0)
		return -1;
	touched_clear(tx, ram);
	tx->extra_sync_points++;
	return 0;
}

/* Marks a page as sent in this epoch; a second send in the same epoch
 * needs a sync point first, or the two copies could arrive in either
 * order. */
static int touch_page(struct sender *tx, const struct ram_list *ram,
		      const struct ram_block *b, uint64_t addr)
{
	uint64_t page = addr / MULTIFD_PAGE_SIZE;
	uint64_t bit = 1ull << (page % 64);
	uint64_t *word = &tx->touched[b->index][page / 64];

	if (*word & bit) {
		if (extra_sync_point(tx, ram) < 0)
			return -1;
	}
	*word |= bit;
	return 0;
}

/* Pages sit at any offset of the input buffer: load through memcpy. */
static bool page_is_zero(const unsigned char *p)
{
	uint64_t w[8];

	for (size_t i = 0; i < MULTIFD_PAGE_SIZE; i += sizeof(w)) {
		memcpy(w, p + i, sizeof(w));
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return false;
	}
	return true;
}

static int queue_page(struct sender *tx, const struct ram_block *b, uint64_t addr,
		      const unsigned char *data)
{
	struct send_job *j = tx->filling;

	if (j->npages && j->block != b && hand_off_pages(tx) < 0)
		return -1;
	j = tx->filling;
	j->block = b;
	memcpy(j->pages + (size_t)j->npages * MULTIFD_PAGE_SIZE, data, MULTIFD_PAGE_SIZE);
	j->offset[j->npages++] = addr;
	if (j->npages == MULTIFD_PACKET_PAGES)
		return hand_off_pages(tx);
	return 0;
}

static int send_item(struct sender *tx, struct stream_reader *r,
		     const struct stream_item *it)
{
	struct ram_list *ram = stream_ram(r);

	switch (it->type) {
	case SI_SECTION:
		if (it->section->kind == SECTION_KIND_RAM) {
			tx->ram_section = it->section;
			tx->ram_section_type = it->section_type;
		}
		return stream_write_item(&tx->w, it, ram);
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(r) != MULTIFD_PAGE_SIZE) {
			tx_fail(tx, "stdin: target page size %u, multifd here supports %u only",
				stream_page_size(r), MULTIFD_PAGE_SIZE);
			return -1;
		}
		if (touched_init(tx, ram) < 0) {
			tx_fail(tx, "out of memory for the page bitmaps of %" PRIu64 " bytes of RAM",
				ram->total);
			return -1;
		}
		stream_write_item(&tx->w, it, ram);
		/* Channels' pages name blocks the receiver learns here. */
		return flush_main(tx);
	case SI_RAM_PAGE:
		if (touch_page(tx, ram, it->block, it->addr) < 0)
			return -1;
		if (page_is_zero(it->data)) {
			atomic_fetch_add_explicit(&tx->zero_pages, 1, memory_order_relaxed);
			return stream_write_zero(&tx->w, it->block, it->addr, 0);
		}
		return queue_page(tx, it->block, it->addr, it->data);
	case SI_RAM_ZERO:
		if (touch_page(tx, ram, it->block, it->addr) < 0)
			return -1;
		atomic_fetch_add_explicit(&tx->zero_pages, 1, memory_order_relaxed);
		return stream_write_item(&tx->w, it, ram);
	case SI_RAM_EOS:
		if (sync_channels(tx) < 0)
			return -1;
		stream_write_item(&tx->w, it, ram);
		touched_clear(tx, ram);
		return flush_main(tx);
	case SI_EOF:
	case SI_VMDESC:
		return 0;	/* written once the whole input is known valid */
	default:
		return stream_write_item(&tx->w, it, ram);
	}
}

/* ---- monitor: progress and the idle timeout ---- */

static uint64_t moved_bytes(struct sender *tx, char *extra, size_t n)
{
	const struct mfd_counters *cnt[MULTIFD_CHANNELS_MAX];

	for (unsigned int i = 0; i < tx->nchannels; i++)
		cnt[i] = &tx->ch[i].cnt;
	return mfd_counters_moved(cnt, tx->nchannels,
				  atomic_load_explicit(&tx->main_bytes, memory_order_relaxed),
				  atomic_load_explicit(&tx->zero_pages, memory_order_relaxed),
				  extra, n);
}

static uint64_t monitor_moved(void *ctx, char *extra, size_t n)
{
	return moved_bytes(ctx, extra, n);
}

static void monitor_idle(void *ctx, unsigned int timeout_s)
{
	tx_fail(ctx, "no byte moved for %u s (--timeout): the receiver stopped reading or stdin stopped", timeout_s);
}

/* reading stdin counts as activity too: a slow producer is not a hang */
static uint64_t monitor_activity(void *ctx)
{
	struct sender *tx = ctx;

	return moved_bytes(tx, NULL, 0) +
	       atomic_load_explicit(&tx->input_bytes, memory_order_relaxed);
}

static const struct monitor_ops tx_monitor_ops = {
	.moved = monitor_moved,
	.idle = monitor_idle,
	.activity = monitor_activity,
};

/* ---- set-up, tear-down, report ---- */

static int start_channels(struct sender *tx, uint64_t deadline)
{
	char err[NET_ERR_LEN];

	tx->main_fd = net_connect(&tx->ep, deadline, err);
	if (tx->main_fd < 0) {
		tx_fail(tx, "main channel: %s", err);
		return -1;
	}
	if (out_init(&tx->main_out, tx->main_fd, 1u << 20) < 0) {
		tx_fail(tx, "out of memory");
		return -1;
	}
	stream_writer_init(&tx->w, &tx->main_out, MULTIFD_PAGE_SIZE);
	/* Main first and connected: a QEMU destination takes the first
	 * connection as the main channel. Then the channels in id order. */
	for (unsigned int i = 0; i < tx->nchannels; i++) {
		struct send_channel *ch = &tx->ch[i];
		int fd = net_connect(&tx->ep, deadline, err);

		if (fd < 0) {
			tx_fail(tx, "channel %u: %s", i, err);
			return -1;
		}
		pthread_mutex_lock(&tx->lock);
		ch->fd = fd;
		pthread_mutex_unlock(&tx->lock);
		if (pthread_create(&ch->thread, NULL, send_channel_thread, ch)) {
			tx_fail(tx, "channel %u: cannot start its thread", i);
			return -1;
		}
		ch->started = true;
	}
	return 0;
}

static int setup(struct sender *tx)
{
	char err[COMPRESS_ERR_LEN];

	pthread_mutex_init(&tx->lock, NULL);
	pthread_cond_init(&tx->main_wake, NULL);
	tx->main_fd = -1;
	tx->ch = calloc(tx->nchannels, sizeof(*tx->ch));
	tx->filling = job_new();
	if (!tx->ch || !tx->filling)
		return -1;
	for (unsigned int i = 0; i < tx->nchannels; i++) {
		struct send_channel *ch = &tx->ch[i];

		ch->tx = tx;
		ch->id = i;
		ch->fd = -1;
		pthread_cond_init(&ch->wake, NULL);
		ch->job = job_new();
		if (!ch->job)
			return -1;
		if (tx->method->send_setup(&ch->cctx, tx->level, err) < 0) {
			snprintf(tx->error, sizeof(tx->error), "channel %u: %s", i, err);
			tx->failed = true;
			return -1;
		}
	}
	return 0;
}

static void stop_threads(struct sender *tx)
{
	pthread_mutex_lock(&tx->lock);
	tx->quit = true;
	for (unsigned int i = 0; i < tx->nchannels; i++)
		pthread_cond_broadcast(&tx->ch[i].wake);
	pthread_mutex_unlock(&tx->lock);
	for (unsigned int i = 0; i < tx->nchannels; i++)
		if (tx->ch[i].started)
			pthread_join(tx->ch[i].thread, NULL);
	monitor_stop(&tx->mon);
}

/* Success needs the receiver to close every connection in order: a
 * receiver that fails resets them. */
static void wait_receiver_close(struct sender *tx)
{
	uint64_t deadline = now_ns() + (uint64_t)(tx->timeout_s ? tx->timeout_s :
						  CONNECT_TIMEOUT_DEFAULT) * 1000000000ull;

	shutdown(tx->main_fd, SHUT_WR);
	for (unsigned int i = 0; i < tx->nchannels; i++)
		shutdown(tx->ch[i].fd, SHUT_WR);
	for (unsigned int i = 0; i <= tx->nchannels && !tx->failed; i++) {
		int fd = i ? tx->ch[i - 1].fd : tx->main_fd;

		if (net_wait_close(fd, deadline) < 0) {
			char name[16];

			snprintf(name, sizeof(name), "channel %u", i - 1);
			tx_fail(tx, "%s: %s", i ? name : "main channel",
				errno == ECONNRESET ? "the receiver reset the connection: it failed" :
				errno == ETIMEDOUT ? "the receiver did not close the connection in time" :
				errno == EPROTO ? "the receiver sent bytes; a multifd receiver sends none" :
				strerror(errno));
		}
	}
}

static void write_stats(struct sender *tx)
{
	FILE *f = fopen(tx->stats_path, "w");
	const struct mfd_counters *cnt[MULTIFD_CHANNELS_MAX];
	uint64_t syncs[MULTIFD_CHANNELS_MAX];
	struct json_writer w;

	if (!f) {
		msg("cannot write --stats-json %s: %s", tx->stats_path, strerror(errno));
		return;
	}
	for (unsigned int i = 0; i < tx->nchannels; i++) {
		cnt[i] = &tx->ch[i].cnt;
		syncs[i] = tx->ch[i].syncs;
	}
	jw_init(&w, f, true);
	mfd_stats_begin(&w, "multifd-send", tx->failed ? tx->error : NULL,
			(double)(now_ns() - tx->start_ns) / 1e9, tx->nchannels,
			tx->method->name);
	jw_key(&w, "level"); jw_i64(&w, tx->level);
	jw_key(&w, "input_bytes"); jw_u64(&w, tx->input_bytes);
	jw_key(&w, "ram_total"); jw_u64(&w, tx->ram_total);
	jw_key(&w, "sync_points"); jw_u64(&w, tx->sync_points);
	jw_key(&w, "extra_sync_points"); jw_u64(&w, tx->extra_sync_points);
	jw_key(&w, "zero_pages"); jw_u64(&w, tx->zero_pages);
	jw_key(&w, "main_bytes"); jw_u64(&w, tx->main_bytes);
	mfd_counters_json(&w, cnt, NULL, syncs, tx->nchannels);
	jw_object_end(&w);
	jw_end(&w);
	if (fclose(f))
		msg("cannot write --stats-json %s: %s", tx->stats_path, strerror(errno));
}

static void cleanup(struct sender *tx)
{
	for (unsigned int i = 0; tx->ch && i < tx->nchannels; i++) {
		struct send_channel *ch = &tx->ch[i];

		if (ch->fd >= 0) {
			if (tx->failed)
				net_abort_on_close(ch->fd);
			close(ch->fd);
		}
		tx->method->send_cleanup(ch->cctx);
		job_free(ch->job);
		pthread_cond_destroy(&ch->wake);
	}
	if (tx->main_fd >= 0) {
		if (tx->failed)
			net_abort_on_close(tx->main_fd);
		close(tx->main_fd);
	}
	free(tx->main_out.buf);
	for (uint32_t i = 0; tx->touched && i < tx->nblocks; i++)
		free(tx->touched[i]);
	free(tx->touched);
	job_free(tx->filling);
	free(tx->ch);
	pthread_cond_destroy(&tx->main_wake);
	pthread_mutex_destroy(&tx->lock);
}

static void run(struct sender *tx)
{
	uint64_t deadline = now_ns() + (uint64_t)(tx->timeout_s ? tx->timeout_s :
						  CONNECT_TIMEOUT_DEFAULT) * 1000000000ull;
	struct stream_reader *r = NULL;
	struct stream_item it;
	struct in_buf in;
	int ret = -1;

	if (in_init(&in, STDIN_FILENO, 4u << 20) < 0) {
		tx_fail(tx, "out of memory");
		return;
	}
	r = stream_reader_new(&in);
	if (!r) {
		tx_fail(tx, "out of memory");
		goto out;
	}
	if (start_channels(tx, deadline) < 0)
		goto out;
	progress_init(&tx->pg, tx->show_progress);
	if (monitor_start(&tx->mon, &tx_monitor_ops, tx, &tx->pg, tx->timeout_s) < 0)
		msg("cannot start the progress and timeout thread: %s", strerror(errno));

	while ((ret = stream_next(r, &it)) > 0) {
		if (send_item(tx, r, &it) < 0 || tx->main_out.err)
			break;
		atomic_store_explicit(&tx->input_bytes, in_offset(&in), memory_order_relaxed);
		atomic_store_explicit(&tx->main_bytes, out_offset(&tx->main_out),
				      memory_order_relaxed);
	}
	if (ret < 0) {
		tx_fail(tx, "stdin: %s", stream_error(r));
	} else if (ret == 0) {
		size_t vmlen;
		const char *vm = stream_vmdesc(r, &vmlen);

		stream_write_eof(&tx->w);
		if (vm)
			stream_write_vmdesc(&tx->w, vm, vmlen);
		flush_main(tx);
	}
	if (tx->main_out.err)
		tx_fail(tx, "main channel: send failed: %s", strerror(tx->main_out.err));
out:
	atomic_store_explicit(&tx->input_bytes, in_offset(&in), memory_order_relaxed);
	stop_threads(tx);
	if (!tx->failed)
		wait_receiver_close(tx);
	if (tx->show_progress) {
		char extra[2048];

		progress_done(&tx->pg, moved_bytes(tx, extra, sizeof(extra)), extra);
	}
	stream_reader_free(r);
	in_free(&in);
}

static void parse_args(struct sender *tx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "channels", required_argument, NULL, 'c' },
		{ "compress", required_argument, NULL, 'z' },
		{ "level", required_argument, NULL, 'l' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "progress", no_argument, NULL, 'P' },
		{ "stats-json", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *level = NULL;
	char err[NET_ERR_LEN];
	uint64_t v;
	int c;

	tx->nchannels = 2;
	tx->method = &compress_none;
	while ((c = getopt_long(argc, argv, "c:z:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, 1, MULTIFD_CHANNELS_MAX, &v) < 0)
				die_usage("-c %s: expected a channel count 1..%u", optarg,
					  MULTIFD_CHANNELS_MAX);
			tx->nchannels = (unsigned int)v;
			break;
		case 'z':
			tx->method = compress_method_find(optarg);
			if (!tx->method)
				die_usage("-z %s: expected none, zlib or zstd", optarg);
			break;
		case 'l':
			level = optarg;
			break;
		case 'U':
			if (uuid_parse(optarg, tx->uuid) < 0)
				die_usage("--uuid %s: expected a UUID like 12345678-9abc-def0-1234-56789abcdef0",
					  optarg);
			break;
		case 'T':
			if (parse_uint(optarg, 1, 86400, &v) < 0)
				die_usage("--timeout %s: expected seconds, 1..86400", optarg);
			tx->timeout_s = (unsigned int)v;
			break;
		case 'P': tx->show_progress = true; break;
		case 'S': tx->stats_path = optarg; break;
		case 'h': opts_help();
		default: die_usage("bad option");
		}
	}
	tx->level = tx->method->default_level;
	if (level) {
		char *end;
		long l;

		if (tx->method == &compress_none)
			die_usage("-l needs -z zlib or -z zstd");
		errno = 0;
		l = strtol(level, &end, 10);
		if (errno || !*level || *end || l < tx->method->min_level || l > tx->method->max_level)
			die_usage("-l %s: expected a %s level %d..%d", level, tx->method->name,
				  tx->method->min_level, tx->method->max_level);
		tx->level = (int)l;
	}
	if (argc - optind != 1)
		die_usage("expected one HOST:PORT");
	if (net_endpoint_parse(argv[optind], true, &tx->ep, err) < 0)
		die_usage("%s", err);
	if (isatty(STDIN_FILENO))
		die_usage("the stream comes on stdin, which is a terminal");
}

int multifd_send_main(int argc, char **argv)
{
	struct sender tx = { 0 };

	parse_args(&tx, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	tx.start_ns = now_ns();
	if (setup(&tx) < 0) {
		if (!tx.failed)
			snprintf(tx.error, sizeof(tx.error), "out of memory");
		tx.failed = true;
	} else {
		run(&tx);
	}
	if (tx.stats_path)
		write_stats(&tx);
	if (tx.failed)
		msg("%s", tx.error);
	cleanup(&tx);
	return tx.failed ? EXIT_FAIL : EXIT_OK;
}
