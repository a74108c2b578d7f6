// SPDX-License-Identifier: GPL-3.0-or-later
/* The driver of the transfer applets (xfer_run.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xfer_run.h"

#define OUTQ_ARENA	(8u << 20)
#define OUTQ_ENTRIES	16384u

#define xfailed(x)	session_failed(&(x)->session)

/* ---- options ---- */

static void parse(struct xfer *x, int argc, char **argv)
{
	const struct xfer_ops *ops = x->ops;
	char err[ERR_LEN];

	switch (xfer_getopt(&x->opts, argc, argv, ops->opts, ops->option, x->ctx, err)) {
	case 1:
		applet_help_print(stdout, ops->help);
		exit(stdout_finish("the usage text"));
	case -1:
		die_usage("%s", err);
	}
	ops->operands(x->ctx, argc, argv);
	if (ops->role == XFER_RECEIVER) {
		if ((!x->opts.out_path || !strcmp(x->opts.out_path, "-")) && isatty(STDOUT_FILENO))
			die_usage("the stream goes to stdout, which is a terminal (use -o FILE)");
	} else if (isatty(STDIN_FILENO)) {
		die_usage("the stream comes on stdin, which is a terminal");
	}
}

/* ---- the output ---- */

static const char *output_name(const struct xfer *x)
{
	return x->opts.out_path && strcmp(x->opts.out_path, "-") ? x->opts.out_path : "stdout";
}

static void open_output(struct xfer *x)
{
	if (out_file_open(&x->of, x->opts.out_path) < 0)
		die_errno("cannot create %s", x->opts.out_path);
	x->output_open = true;
	if (outq_start(&x->q, &x->session, x->of.fd, output_name(x), OUTQ_ARENA, OUTQ_ENTRIES) < 0)
		session_fail(&x->session, "cannot start the output: %s", strerror(errno));
}

/* The output appears only now, complete and on disk; a failed run leaves
 * nothing that looks complete. */
static void close_output(struct xfer *x)
{
	if (!x->output_open)
		return;
	outq_stop(&x->q);
	if (xfailed(x))
		out_file_abort(&x->of);
	else if (out_file_commit(&x->of) < 0)
		session_fail(&x->session, "cannot complete %s: %s", x->opts.out_path, strerror(errno));
	x->output_open = false;
}

static int outq_sink(void *ctx, const void *p, size_t n)
{
	struct xfer *x = ctx;
	int ret;

	pthread_mutex_lock(&x->session.lock);
	ret = outq_reserve(&x->q, n, 1);
	if (!ret)
		outq_copy(&x->q, p, n);
	pthread_mutex_unlock(&x->session.lock);
	if (ret)
		errno = ECANCELED;
	return ret;
}

void xfer_output_buf(struct xfer *x, struct out_buf *o)
{
	out_set_sink(o, outq_sink, x);
}

/* ---- the monitor ---- */

static uint64_t mon_moved(void *ctx, char *extra, size_t n)
{
	struct xfer *x = ctx;

	return x->ops->moved(x->ctx, extra, n);
}

/* Bytes moved, read and written: a stall of any of them is one. */
static uint64_t mon_activity(void *ctx)
{
	struct xfer *x = ctx;
	uint64_t a = x->ops->moved(x->ctx, NULL, 0) + atomic_load(&x->input_bytes);

	if (x->ops->activity)
		a += x->ops->activity(x->ctx);
	if (x->output_open)
		a += outq_written(&x->q);
	return a;
}

static void mon_idle(void *ctx, unsigned int timeout_s)
{
	struct xfer *x = ctx;

	if (x->ops->role == XFER_SENDER && atomic_load(&x->reading_input))
		session_fail(&x->session, "stdin gave no byte for %u s (--timeout), at stream offset %" PRIu64,
			     timeout_s, (uint64_t)atomic_load(&x->input_bytes));
	else if (x->output_open && atomic_load(&x->q.writing))
		session_fail(&x->session, "the output (%s) took no byte for %u s (--timeout): whoever reads it stopped",
			     x->q.name, timeout_s);
	else
		x->ops->stalled(x->ctx, timeout_s);
}

static const struct monitor_ops mon_ops = {
	.moved = mon_moved,
	.activity = mon_activity,
	.idle = mon_idle,
};

/* ---- the pump ---- */

/* Every item of the stream to the transport, then its end. A stream that
 * ends inside a RAM section is refused, whoever carries it. The reader
 * (its block list) stays for threads that look blocks up: the caller
 * frees it after stop(). */
static void pump(struct xfer *x, struct in_buf *in, struct stream_reader *r)
{
	const struct xfer_ops *ops = x->ops;
	struct stream_item it;
	bool in_ram = false;
	int ret = 0;

	for (;;) {
		atomic_store(&x->reading_input, true);
		ret = stream_next(r, &it);
		atomic_store(&x->reading_input, false);
		if (ret <= 0)
			break;
		if (it.type == SI_SECTION && it.section->kind == SECTION_KIND_RAM)
			in_ram = true;
		else if (it.type == SI_FOOTER && it.section->kind == SECTION_KIND_RAM)
			in_ram = false;
		if (ops->item(x->ctx, r, &it) < 0 || xfailed(x))
			break;
		atomic_store(&x->input_bytes, in_offset(in));
	}
	atomic_store(&x->input_bytes, in_offset(in));
	if (ret < 0 && !xfailed(x))
		session_fail(&x->session, "%s: %s",
			     ops->role == XFER_SENDER ? "stdin" : ops->source(x->ctx), stream_error(r));
	else if (ret == 0 && in_ram && !xfailed(x))
		session_fail(&x->session, "%s: the stream ends inside a RAM section",
			     ops->role == XFER_SENDER ? "stdin" : ops->source(x->ctx));
	else if (ret == 0 && !xfailed(x))
		ops->end(x->ctx, r);
}

static void run(struct xfer *x)
{
	const struct xfer_ops *ops = x->ops;
	struct in_buf stdin_buf = { .buf = NULL }, *in = NULL;
	struct stream_reader *r = NULL;

	if (ops->role == XFER_SERVER) {
		xfer_monitor_start(x, &mon_ops, x);
		ops->serve(x->ctx);
	} else {
		if (ops->role == XFER_SENDER) {
			if (in_init(&stdin_buf, STDIN_FILENO, 4u << 20) < 0)
				session_fail(&x->session, "out of memory");
			in_set_wake(&stdin_buf, x->session.wake_fd);
			in = &stdin_buf;
		}
		if (!xfailed(x) && ops->open(x->ctx, &in) == 0 && !xfailed(x)) {
			if (!(r = stream_reader_new(in))) {
				session_fail(&x->session, "out of memory");
			} else {
				x->reader = r;
				xfer_monitor_start(x, &mon_ops, x);
				pump(x, in, r);
			}
		}
	}
	if (ops->stop)
		ops->stop(x->ctx);
	xfer_monitor_stop(x);
	if (x->opts.progress) {
		char extra[2048];

		progress_done(&x->pg, ops->moved(x->ctx, extra, sizeof(extra)), extra);
	}
	x->reader = NULL;
	stream_reader_free(r);
	in_free(&stdin_buf);
}

/* ---- the whole ---- */

static void stats_fields(void *ctx, struct json_writer *w)
{
	struct xfer *x = ctx;

	x->ops->stats(x->ctx, w);
}

static void report(struct xfer *x)
{
	const char *hint;

	if (x->ops->report) {
		x->ops->report(x->ctx);
		return;
	}
	msg("%s", x->session.error);
	hint = x->ops->hint ? x->ops->hint(x->ctx) : NULL;
	if (hint)
		msg("%s", hint);
}

int xfer_main(struct xfer *x, const struct xfer_ops *ops, void *ctx, int argc, char **argv)
{
	char err[ERR_LEN];
	int status;

	x->ops = ops;
	x->ctx = ctx;
	parse(x, argc, argv);
	if (xfer_begin(x, ops->applet) < 0)
		die_errno("cannot set up");
	if (ops->role == XFER_RECEIVER)
		open_output(x);
	if (!xfailed(x) && ops->setup && ops->setup(ctx) < 0 && !xfailed(x))
		session_fail(&x->session, "out of memory");
	if (!xfailed(x))
		run(x);
	close_output(x);
	if (x->opts.stats_path && xfer_stats_write(x, stats_fields, x, err) < 0)
		msg("--stats-json: %s", err);
	status = xfailed(x) ? EXIT_FAIL : EXIT_OK;
	if (status)
		report(x);
	else
		session_complete(&x->session);
	ops->cleanup(ctx);
	return session_end(&x->session, status);
}
