/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the transfer applets (multifd-send/recv, rdma-send/recv,
 * postcopy-serve) share: one session per transfer that fails once and
 * wakes every waiter (session.h), the options they have in common as rows
 * of their option tables (opts.h), parsed in one place, a connect
 * deadline, per-channel counters for the progress line, and the
 * --stats-json file. */
#ifndef MIGBOX_TRANSFER_H
#define MIGBOX_TRANSFER_H

#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compress.h"
#include "error.h"
#include "monitor.h"
#include "opts.h"
#include "outfile.h"
#include "outq.h"
#include "progress.h"
#include "session.h"

struct stream_reader;

#define XFER_CHANNELS_MAX	255u
#define XFER_CONNECT_DEFAULT_S	30	/* connecting, when --timeout is not given */

/* getopt values of the shared long options without a short form */
enum {
	XOPT_UUID = 0x1000,
	XOPT_TIMEOUT,
	XOPT_PROGRESS,
	XOPT_STATS_JSON,
};

/* The shared rows of the option tables; those whose help says what the
 * applet does with them take it as an argument. */
#define XFER_ROW_CHANNELS \
	{ 'c', "channels", "N", "multifd channels, 1..255 (default 2, as QEMU)", NULL }
#define XFER_ROW_COMPRESS(help) \
	{ 'z', "compress", "METHOD", help, "none zlib zstd" }
#define XFER_ROW_LEVEL \
	{ 'l', "level", "N", "compression level (default 1, as QEMU; zlib 0..9, zstd -50..20)", NULL }
#define XFER_ROW_UUID(help) \
	{ XOPT_UUID, "uuid", "UUID", help, NULL }
#define XFER_ROW_OUTPUT \
	{ 'o', "output", "FILE", "write to FILE, which appears only once complete and on disk " \
	  "(a symlink is followed)", OPT_COMPLETE_FILE }
#define XFER_ROW_TIMEOUT(help) \
	{ XOPT_TIMEOUT, "timeout", "SECONDS", help, NULL }
#define XFER_ROW_PROGRESS_HELP(help) \
	{ XOPT_PROGRESS, "progress", NULL, help, NULL }
#define XFER_ROW_PROGRESS \
	XFER_ROW_PROGRESS_HELP("show bytes, rate, pages and bytes per channel on stderr")
#define XFER_ROW_STATS \
	{ XOPT_STATS_JSON, "stats-json", "FILE", "write the transfer's figures as JSON to FILE at " \
	  "the end, also after a failure (fields: doc/stats-json.md)", OPT_COMPLETE_FILE }

#define XFER_USAGE_SIGNALS \
"SIGINT, SIGTERM and SIGHUP end the transfer as a failure: every connection\n" \
"is reset, nothing complete-looking is left, then the applet dies of the\n" \
"signal (a second one ends it at once).\n"

struct xfer_opts {
	unsigned int channels;
	const struct compress_method *method;
	const char *level_arg;		/* -l as given, checked by finish */
	int level;
	unsigned char uuid[16];
	unsigned int timeout_s;		/* 0: none given */
	bool progress;
	const char *stats_path;
	const char *out_path;		/* -o; NULL: stdout */
};

void xfer_opts_init(struct xfer_opts *o);
/* One getopt result: 1 if it was a shared option, 0 if not, -1 with err
 * filled when its argument is wrong (a usage error). */
int xfer_opt(struct xfer_opts *o, int c, const char *arg, char err[ERR_LEN]);
/* Checks what depends on several options (-l against -z); -1 with err. */
int xfer_opts_finish(struct xfer_opts *o, char err[ERR_LEN]);
/* The whole option parsing of a transfer applet over its table: the
 * shared rows go to xfer_opt, the applet's own to own(ctx, key, arg, err)
 * (0 taken, -1 with err filled), which may be NULL. Then
 * xfer_opts_finish. Returns 0, 1 for --help, or -1 with err filled (a
 * usage error). */
int xfer_getopt(struct xfer_opts *o, int argc, char **argv, const struct opt *table,
		int (*own)(void *ctx, int key, const char *arg, char *err), void *ctx,
		char err[ERR_LEN]);

/* One transfer. */
struct xfer {
	struct session session;
	struct xfer_opts opts;
	struct monitor mon;
	struct progress pg;
	uint64_t start_ns;
	const char *applet;
	char endpoint[96];		/* the address listened on or connected to */
	const struct xfer_ops *ops;	/* set by xfer_main (xfer_run.h) */
	void *ctx;
	/* A receiver's output: -o FILE or stdout, through the queue. */
	struct out_file of;
	struct outq q;
	bool output_open;
	/* The stream the driver pumps (its block list), from open() until
	 * after stop(); NULL otherwise. */
	struct stream_reader *reader;
	/* What the pump read, for --timeout and the messages. */
	_Atomic uint64_t input_bytes;
	atomic_bool reading_input;
};

/* Sets up the session (first: before any thread); -1 with errno. */
int xfer_begin(struct xfer *x, const char *applet);
/* CLOCK_MONOTONIC deadline for connecting: --timeout or default_s. */
uint64_t xfer_deadline(const struct xfer *x, unsigned int default_s);
/* The progress and --timeout thread; a failure to start it is reported
 * through the session. */
void xfer_monitor_start(struct xfer *x, const struct monitor_ops *ops, void *ctx);
void xfer_monitor_stop(struct xfer *x);

/* What one channel moved: bumped by its thread, read by the monitor and
 * the stats. */
struct chan_counters {
	_Atomic uint64_t bytes;		/* on the wire, headers included */
	_Atomic uint64_t packets;
	_Atomic uint64_t pages;
	_Atomic uint64_t payload_bytes;
	_Atomic uint64_t syncs;
};

/* Bytes moved in all (main_bytes plus every channel's); with extra, also
 * the progress text (pages, zero pages, bytes per channel). */
uint64_t chan_counters_moved(struct chan_counters *const *ch, unsigned int n,
			     uint64_t main_bytes, uint64_t zero_pages,
			     char *extra, size_t extra_len);

struct json_writer;
/* --stats-json: an object with applet, ok, error, seconds and endpoint,
 * then what fields() adds, written to path as an output file (complete or
 * absent). -1 with err filled. */
int xfer_stats_write(struct xfer *x, void (*fields)(void *ctx, struct json_writer *w),
		     void *ctx, char err[ERR_LEN]);
/* The per-channel figures: totals, the compression ratio and one object
 * per channel ("per_channel"); peers[i] (may be NULL) names channel i's
 * peer. */
void chan_counters_json(struct json_writer *w, struct chan_counters *const *ch,
			const char *const *peers, unsigned int n, uint32_t page_size);

#endif
