/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One driver for the transfer applets (multifd-send/recv, rdma-send/recv,
 * postcopy-serve), the way QEMU's migration core drives its transports
 * through a table of operations: xfer_main() owns the run - the options,
 * the session, the output, the monitor (progress, --timeout), the pump of
 * the stream, commit or abort, --stats-json, the report and the exit
 * status - and the transport fills in what is its own.
 *
 * The roles:
 *   XFER_SENDER    the stream comes on stdin (not a terminal); each item is
 *                  handed to item(), the end to end()
 *   XFER_RECEIVER  open() says where the stream comes from (a channel, a
 *                  protocol's messages); items and end as above; what the
 *                  transport writes goes through x->q (outq.h) to stdout or
 *                  -o FILE, which appears only if the run succeeded
 *   XFER_SERVER    neither: serve() does the work (postcopy-serve)
 *
 * Every op may fail the session (session_fail) and return -1; the driver
 * then unwinds: stop(), output aborted, stats, the message, cleanup().
 *
 * It is the applets' shared main, so unlike the rest of libcommon it
 * prints (the failure, --help) and exits (usage errors). */
#ifndef MIGBOX_XFER_RUN_H
#define MIGBOX_XFER_RUN_H

#include "iobuf.h"
#include "json.h"
#include "stream.h"
#include "transfer.h"

enum xfer_role { XFER_SENDER, XFER_RECEIVER, XFER_SERVER };

struct xfer_ops {
	const char *applet;
	enum xfer_role role;
	const struct opt *opts;			/* its option table */
	const struct applet_help *help;		/* --help */
	/* An option of its own (not a shared row); may be NULL. */
	int (*option)(void *ctx, int key, const char *arg, char err[ERR_LEN]);
	/* The operands after the options; exits with die_usage() if wrong. */
	void (*operands)(void *ctx, int argc, char **argv);
	/* After the session is up: allocations, state. -1: out of memory, or
	 * the session failed. May be NULL. */
	int (*setup)(void *ctx);
	/* Connects, or listens and accepts. A receiver sets *in to the
	 * buffer the stream comes from (owned by the transport). */
	int (*open)(void *ctx, struct in_buf **in);
	/* One item of the stream, and its clean end (a receiver writes its
	 * EOF there); not for a server. */
	int (*item)(void *ctx, struct stream_reader *r, const struct stream_item *it);
	int (*end)(void *ctx, struct stream_reader *r);
	/* What a receiver's stream is called in messages ("main channel from
	 * ADDR"); a sender's is stdin. */
	const char *(*source)(void *ctx);
	/* A server's whole work, from the start (the monitor runs). */
	void (*serve)(void *ctx);
	/* After the pump, success or not: threads joined, the peer's close
	 * awaited. May be NULL. */
	void (*stop)(void *ctx);
	/* Bytes moved, and with extra the rest of the progress line. */
	uint64_t (*moved)(void *ctx, char *extra, size_t n);
	/* Activity beyond the bytes moved, for --timeout; may be NULL. */
	uint64_t (*activity)(void *ctx);
	/* Nothing moved for --timeout seconds and neither stdin nor the
	 * output is to blame: fail the session saying what stalled. */
	void (*stalled)(void *ctx, unsigned int timeout_s);
	/* Its --stats-json fields. */
	void (*stats)(void *ctx, struct json_writer *w);
	/* The failure's message, when the session's error is not the whole
	 * story; may be NULL (then the error, and hint() if any). */
	void (*report)(void *ctx);
	const char *(*hint)(void *ctx);
	/* Releases what the transport holds; every path ends here. */
	void (*cleanup)(void *ctx);
};

/* The whole run of an applet; returns its exit status. */
int xfer_main(struct xfer *x, const struct xfer_ops *ops, void *ctx, int argc, char **argv);

/* For a receiver's writes: an out_buf whose bytes go through x->q, in
 * order, without holding the lock across the write. */
void xfer_output_buf(struct xfer *x, struct out_buf *o);

#endif
