/* What the transfer applets (multifd-send/recv, and the RDMA pair after
 * them) share: one session per transfer that fails once and wakes every
 * waiter (session.h), the options they have in common, declared, parsed
 * and documented once, a connect deadline, per-channel counters for the
 * progress line, and the --stats-json file. */
#ifndef MIGBOX_TRANSFER_H
#define MIGBOX_TRANSFER_H

#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compress.h"
#include "monitor.h"
#include "progress.h"
#include "session.h"

#define XFER_ERR_LEN		256
#define XFER_CHANNELS_MAX	255u
#define XFER_CONNECT_DEFAULT_S	30	/* connecting, when --timeout is not given */

/* getopt values of the shared long options without a short form */
enum {
	XOPT_UUID = 0x1000,
	XOPT_TIMEOUT,
	XOPT_PROGRESS,
	XOPT_STATS_JSON,
};

#define XFER_LONGOPTS_MULTIFD \
	{ "channels", required_argument, NULL, 'c' }, \
	{ "compress", required_argument, NULL, 'z' }, \
	{ "uuid", required_argument, NULL, XOPT_UUID }
#define XFER_LONGOPTS_COMMON \
	{ "timeout", required_argument, NULL, XOPT_TIMEOUT }, \
	{ "progress", no_argument, NULL, XOPT_PROGRESS }, \
	{ "stats-json", required_argument, NULL, XOPT_STATS_JSON }

/* Their lines in the usage texts. */
#define XFER_USAGE_CHANNELS \
"  -c, --channels N      multifd channels, 1..255 (default 2, as QEMU)\n"
#define XFER_USAGE_PROGRESS \
"      --progress        show bytes, rate, pages and bytes per channel on\n" \
"                        stderr\n"
#define XFER_USAGE_STATS \
"      --stats-json FILE\n" \
"                        write the transfer's figures as JSON to FILE at the\n" \
"                        end, also after a failure (fields: doc/stats-json.md)\n"
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
};

void xfer_opts_init(struct xfer_opts *o);
/* One getopt result: 1 if it was a shared option, 0 if not, -1 with err
 * filled when its argument is wrong (a usage error). */
int xfer_opt(struct xfer_opts *o, int c, const char *arg, char err[XFER_ERR_LEN]);
/* Checks what depends on several options (-l against -z); -1 with err. */
int xfer_opts_finish(struct xfer_opts *o, char err[XFER_ERR_LEN]);
/* The whole getopt loop of a transfer applet: the shared options go to
 * xfer_opt, -h asks for help, the rest to own(ctx, c, optarg, err), which
 * returns 0 when it took it and -1 (err filled) when not. Then
 * xfer_opts_finish. Returns 0, 1 for --help, or -1 with err filled (a
 * usage error). */
int xfer_getopt(struct xfer_opts *o, int argc, char **argv, const char *shortopts,
		const struct option *longopts,
		int (*own)(void *ctx, int c, const char *arg, char *err), void *ctx,
		char err[XFER_ERR_LEN]);

/* One transfer. */
struct xfer {
	struct session session;
	struct xfer_opts opts;
	struct monitor mon;
	struct progress pg;
	uint64_t start_ns;
	const char *applet;
	char endpoint[96];		/* the address listened on or connected to */
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
		     void *ctx, char err[XFER_ERR_LEN]);
/* The per-channel figures: totals, the compression ratio and one object
 * per channel ("per_channel"); peers[i] (may be NULL) names channel i's
 * peer. */
void chan_counters_json(struct json_writer *w, struct chan_counters *const *ch,
			const char *const *peers, unsigned int n, uint32_t page_size);

#endif
