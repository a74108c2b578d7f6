// SPDX-License-Identifier: GPL-3.0-or-later
/* The transfer layer: shared options, deadlines, counters, stats. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "error.h"
#include "json.h"
#include "opts.h"
#include "outfile.h"
#include "transfer.h"

void xfer_opts_init(struct xfer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->channels = 2;
	o->method = &compress_none;
}

int xfer_opt(struct xfer_opts *o, int c, const char *arg, char err[ERR_LEN])
{
	uint64_t v;

	switch (c) {
	case 'c':
		if (parse_uint(arg, 1, XFER_CHANNELS_MAX, &v) < 0)
			return err_set(err, "-c %s: expected a channel count 1..%u", arg,
				       XFER_CHANNELS_MAX);
		o->channels = (unsigned int)v;
		return 1;
	case 'z':
		o->method = compress_method_find(arg);
		if (!o->method)
			return err_set(err, "-z %s: expected none, zlib or zstd", arg);
		return 1;
	case 'l':
		o->level_arg = arg;
		return 1;
	case XOPT_UUID:
		if (uuid_parse(arg, o->uuid) < 0)
			return err_set(err, "--uuid %s: expected a UUID like 12345678-9abc-def0-1234-56789abcdef0",
				       arg);
		return 1;
	case XOPT_TIMEOUT:
		if (parse_uint(arg, 1, 86400, &v) < 0)
			return err_set(err, "--timeout %s: expected seconds, 1..86400", arg);
		o->timeout_s = (unsigned int)v;
		return 1;
	case XOPT_PROGRESS:
		o->progress = true;
		return 1;
	case XOPT_STATS_JSON:
		o->stats_path = arg;
		return 1;
	case 'o':
		o->out_path = arg;
		return 1;
	default:
		return 0;
	}
}

int xfer_opts_finish(struct xfer_opts *o, char err[ERR_LEN])
{
	const struct compress_method *m = o->method;
	char *end;
	long l;

	o->level = m->default_level;
	if (!o->level_arg)
		return 0;
	if (m == &compress_none)
		return err_set(err, "-l needs -z zlib or -z zstd");
	errno = 0;
	l = strtol(o->level_arg, &end, 10);
	if (errno || !*o->level_arg || *end || l < m->min_level || l > m->max_level)
		return err_set(err, "-l %s: expected a %s level %d..%d", o->level_arg, m->name,
			       m->min_level, m->max_level);
	o->level = (int)l;
	return 0;
}

struct getopt_ctx {
	struct xfer_opts *o;
	int (*own)(void *ctx, int key, const char *arg, char *err);
	void *ctx;
};

static int take(void *arg, int key, const char *val, char err[ERR_LEN])
{
	struct getopt_ctx *g = arg;
	int rc = xfer_opt(g->o, key, val, err);

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!g->own) {
		snprintf(err, ERR_LEN, "bad option");
		return -1;
	}
	return g->own(g->ctx, key, val, err);
}

int xfer_getopt(struct xfer_opts *o, int argc, char **argv, const struct opt *table,
		int (*own)(void *ctx, int key, const char *arg, char *err), void *ctx,
		char err[ERR_LEN])
{
	struct getopt_ctx g = { o, own, ctx };
	int rc;

	xfer_opts_init(o);
	rc = opts_parse(table, argc, argv, take, &g, err);
	if (rc)
		return rc;
	return xfer_opts_finish(o, err);
}

int xfer_begin(struct xfer *x, const char *applet)
{
	x->applet = applet;
	x->start_ns = now_ns();
	progress_init(&x->pg, x->opts.progress);
	return session_init(&x->session);
}

uint64_t xfer_deadline(const struct xfer *x, unsigned int default_s)
{
	unsigned int s = x->opts.timeout_s ? x->opts.timeout_s : default_s;

	return now_ns() + (uint64_t)s * 1000000000ull;
}

void xfer_monitor_start(struct xfer *x, const struct monitor_ops *ops, void *ctx)
{
	if (monitor_start(&x->mon, ops, ctx, &x->pg, x->opts.timeout_s) < 0)
		session_fail(&x->session, "cannot start the progress and timeout thread: %s",
			     strerror(errno));
}

void xfer_monitor_stop(struct xfer *x)
{
	monitor_stop(&x->mon);
}

uint64_t chan_counters_moved(struct chan_counters *const *ch, unsigned int n,
			     uint64_t main_bytes, uint64_t zero_pages,
			     char *extra, size_t extra_len)
{
	uint64_t total = main_bytes, pages = 0, bytes[XFER_CHANNELS_MAX];

	for (unsigned int i = 0; i < n; i++) {
		bytes[i] = atomic_load_explicit(&ch[i]->bytes, memory_order_relaxed);
		total += bytes[i];
		pages += atomic_load_explicit(&ch[i]->pages, memory_order_relaxed);
	}
	if (extra)
		progress_channels_text(extra, extra_len, pages, zero_pages, bytes, n);
	return total;
}

void chan_counters_json(struct json_writer *w, struct chan_counters *const *ch,
			const char *const *peers, unsigned int n, uint32_t page_size)
{
	uint64_t pages = 0, payload = 0, packets = 0, bytes = 0;

	for (unsigned int i = 0; i < n; i++) {
		pages += ch[i]->pages;
		payload += ch[i]->payload_bytes;
		packets += ch[i]->packets;
		bytes += ch[i]->bytes;
	}
	jw_key(w, "pages"); jw_u64(w, pages);
	jw_key(w, "page_bytes"); jw_u64(w, pages * page_size);
	jw_key(w, "multifd_bytes"); jw_u64(w, bytes);
	jw_key(w, "payload_bytes"); jw_u64(w, payload);
	jw_key(w, "packets"); jw_u64(w, packets);
	jw_key(w, "compression_ratio");
	jw_double(w, payload ? (double)(pages * page_size) / (double)payload : 0);
	jw_key(w, "per_channel");
	jw_array(w);
	for (unsigned int i = 0; i < n; i++) {
		jw_object(w);
		jw_key(w, "id"); jw_u64(w, i);
		if (peers) {
			jw_key(w, "peer"); jw_string(w, peers[i]);
		}
		jw_key(w, "bytes"); jw_u64(w, ch[i]->bytes);
		jw_key(w, "packets"); jw_u64(w, ch[i]->packets);
		jw_key(w, "pages"); jw_u64(w, ch[i]->pages);
		jw_key(w, "payload_bytes"); jw_u64(w, ch[i]->payload_bytes);
		jw_key(w, "syncs"); jw_u64(w, ch[i]->syncs);
		jw_object_end(w);
	}
	jw_array_end(w);
}

int xfer_stats_write(struct xfer *x, void (*fields)(void *ctx, struct json_writer *w),
		     void *ctx, char err[ERR_LEN])
{
	struct session *s = &x->session;
	struct out_file of;
	struct json_writer w;
	FILE *f;
	int fd;

	if (out_file_open(&of, x->opts.stats_path) < 0)
		return err_set(err, "cannot create %s: %s", x->opts.stats_path, strerror(errno));
	fd = dup(of.fd);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		if (fd >= 0)
			close(fd);
		out_file_abort(&of);
		return err_set(err, "cannot write %s: %s", x->opts.stats_path, strerror(errno));
	}
	jw_init(&w, f, true);
	jw_document(&w, x->applet, "stats");
	jw_key(&w, "ok"); jw_bool(&w, !session_failed(s));
	if (session_failed(s)) {
		jw_key(&w, "error"); jw_string(&w, s->error);
	}
	jw_key(&w, "seconds"); jw_double(&w, (double)(now_ns() - x->start_ns) / 1e9);
	jw_key(&w, "endpoint"); jw_string(&w, x->endpoint);
	fields(ctx, &w);
	jw_object_end(&w);
	jw_end(&w);
	if (fclose(f) != 0) {
		out_file_abort(&of);
		return err_set(err, "cannot write %s: %s", x->opts.stats_path, strerror(errno));
	}
	if (out_file_commit(&of) < 0)
		return err_set(err, "cannot complete %s: %s", x->opts.stats_path, strerror(errno));
	return 0;
}
