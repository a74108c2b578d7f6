// SPDX-License-Identifier: GPL-3.0-or-later
/* multifd compression methods: none, zlib, zstd. Each context lives as long
 * as its channel, so the compressed stream runs across packets. */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"
#include "error.h"
#include "multifd.h"

/* ---- none ---- */

static int none_send_setup(void **ctx, int level, char *err)
{
	(void)level;
	(void)err;
	*ctx = NULL;
	return 0;
}

static int none_send_prepare(void *ctx, const void *pages, size_t len,
			     struct iovec *payload, char *err)
{
	(void)ctx;
	(void)err;
	payload->iov_base = (void *)pages;
	payload->iov_len = len;
	return 0;
}

static void none_cleanup(void *ctx)
{
	(void)ctx;
}

static int none_recv_setup(void **ctx, char *err)
{
	(void)err;
	*ctx = NULL;
	return 0;
}

static void *none_recv_buffer(void *ctx, void *pages, size_t n)
{
	(void)ctx;
	(void)n;
	return pages;	/* the payload is the pages: read them in place */
}

static int none_recv(void *ctx, const void *payload, size_t n, void *pages,
		     size_t len, char *err)
{
	(void)ctx;
	if (payload != pages || n != len)
		return err_set(err, "uncompressed payload of %zu bytes, expected %zu", n, len);
	return 0;
}

const struct compress_method compress_none = {
	.name = "none",
	.wire_flag = MULTIFD_FLAG_NOCOMP,
	.send_setup = none_send_setup,
	.send_prepare = none_send_prepare,
	.send_cleanup = none_cleanup,
	.recv_setup = none_recv_setup,
	.recv_buffer = none_recv_buffer,
	.recv = none_recv,
	.recv_cleanup = none_cleanup,
};

/* ---- zlib ---- */

struct zlib_ctx {
	z_stream zs;
	unsigned char buf[MULTIFD_PAYLOAD_MAX];
};

static int zlib_send_setup(void **ctx, int level, char *err)
{
	struct zlib_ctx *z = calloc(1, sizeof(*z));
	int ret;

	if (!z)
		return err_set(err, "out of memory for a zlib context");
	ret = deflateInit(&z->zs, level);
	if (ret != Z_OK) {
		free(z);
		return err_set(err, "zlib deflateInit(level %d) failed: %s", level,
			       ret == Z_STREAM_ERROR ? "bad level" : zError(ret));
	}
	*ctx = z;
	return 0;
}

static int zlib_send_prepare(void *ctx, const void *pages, size_t len,
			     struct iovec *payload, char *err)
{
	struct zlib_ctx *z = ctx;
	int ret;

	z->zs.next_in = (Bytef *)pages;
	z->zs.avail_in = (uInt)len;
	z->zs.next_out = z->buf;
	z->zs.avail_out = sizeof(z->buf);
	/* A sync flush ends the payload on a byte boundary with everything
	 * decodable, and keeps the stream (and its window) open. */
	do {
		ret = deflate(&z->zs, Z_SYNC_FLUSH);
		if (ret != Z_OK)
			return err_set(err, "zlib deflate failed: %s",
				       z->zs.msg ? z->zs.msg : zError(ret));
	} while (z->zs.avail_out == 0 && z->zs.avail_in);
	if (z->zs.avail_in || !z->zs.avail_out)
		return err_set(err, "zlib output of %zu bytes of pages exceeds %u bytes",
			       len, MULTIFD_PAYLOAD_MAX);
	payload->iov_base = z->buf;
	payload->iov_len = sizeof(z->buf) - z->zs.avail_out;
	return 0;
}

static void zlib_send_cleanup(void *ctx)
{
	struct zlib_ctx *z = ctx;

	if (!z)
		return;
	deflateEnd(&z->zs);
	free(z);
}

static int zlib_recv_setup(void **ctx, char *err)
{
	struct zlib_ctx *z = calloc(1, sizeof(*z));
	int ret;

	if (!z)
		return err_set(err, "out of memory for a zlib context");
	ret = inflateInit(&z->zs);
	if (ret != Z_OK) {
		free(z);
		return err_set(err, "zlib inflateInit failed: %s", zError(ret));
	}
	*ctx = z;
	return 0;
}

static void *zlib_recv_buffer(void *ctx, void *pages, size_t n)
{
	(void)pages;
	(void)n;
	return ((struct zlib_ctx *)ctx)->buf;
}

static int zlib_recv(void *ctx, const void *payload, size_t n, void *pages,
		     size_t len, char *err)
{
	struct zlib_ctx *z = ctx;
	unsigned char extra;
	bool in_extra = false;
	int ret;

	z->zs.next_in = (Bytef *)payload;
	z->zs.avail_in = (uInt)n;
	z->zs.next_out = pages;
	z->zs.avail_out = (uInt)len;
	for (;;) {
		uInt in_before = z->zs.avail_in, out_before = z->zs.avail_out;

		if (!z->zs.avail_in && !z->zs.avail_out)
			break;
		if (!z->zs.avail_out) {
			/* The pages are full: what input is left must not
			 * decode to more bytes. */
			z->zs.next_out = &extra;
			z->zs.avail_out = 1;
			in_extra = true;
			out_before = 1;
		}
		ret = inflate(&z->zs, Z_SYNC_FLUSH);
		if (ret == Z_STREAM_END)
			return err_set(err, "zlib stream ended (QEMU never ends it)");
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return err_set(err, "zlib inflate failed: %s",
				       z->zs.msg ? z->zs.msg : zError(ret));
		if (in_extra && !z->zs.avail_out)
			return err_set(err, "zlib payload of %zu bytes holds more than its %zu bytes of pages",
				       n, len);
		if (z->zs.avail_in == in_before && z->zs.avail_out == out_before)
			break;	/* no progress: input exhausted or incomplete */
	}
	if (!in_extra && z->zs.avail_out)
		return err_set(err, "zlib payload of %zu bytes decompressed to %zu bytes, expected %zu",
			       n, len - z->zs.avail_out, len);
	if (z->zs.avail_in)
		return err_set(err, "zlib payload of %zu bytes has %u bytes past its pages",
			       n, z->zs.avail_in);
	return 0;
}

static void zlib_recv_cleanup(void *ctx)
{
	struct zlib_ctx *z = ctx;

	if (!z)
		return;
	inflateEnd(&z->zs);
	free(z);
}

const struct compress_method compress_zlib = {
	.name = "zlib",
	.wire_flag = MULTIFD_FLAG_ZLIB,
	.default_level = 1,
	.min_level = 0,
	.max_level = 9,
	.send_setup = zlib_send_setup,
	.send_prepare = zlib_send_prepare,
	.send_cleanup = zlib_send_cleanup,
	.recv_setup = zlib_recv_setup,
	.recv_buffer = zlib_recv_buffer,
	.recv = zlib_recv,
	.recv_cleanup = zlib_recv_cleanup,
};

/* ---- zstd ---- */

#define ZSTD_TUNED_MAX_LEVEL	3
#define ZSTD_TUNED_WINDOW_LOG	23
/* The biggest window a receiver accepts: what QEMU's highest multifd zstd
 * level (20) uses. A sender asking for more is refused by zstd rather
 * than costing each channel up to 2 GiB. */
#define ZSTD_RECV_WINDOW_LOG_MAX	25

struct zstd_ctx {
	unsigned char buf[MULTIFD_PAYLOAD_MAX];
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static int zstd_send_setup(void **ctx, int level, char *err)
{
	struct zstd_ctx *z = calloc(1, sizeof(*z));
	size_t ret;

	if (!z)
		return err_set(err, "out of memory for a zstd context");
	z->cctx = ZSTD_createCCtx();
	if (!z->cctx) {
		free(z);
		return err_set(err, "out of memory for a zstd context");
	}
	ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	/* The fast levels look back 512 KiB only; guest RAM repeats itself
	 * further back than that (measured: no slower on real data, a better
	 * ratio on repetitive RAM). A bigger hash table helped only
	 * repetitive data and was slower on real data: not taken. Decoders
	 * (QEMU's too) accept windows up to 2^27 by default; this one needs
	 * 8 MiB per channel at the receiver. */
	if (!ZSTD_isError(ret) && level <= ZSTD_TUNED_MAX_LEVEL)
		ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_windowLog, ZSTD_TUNED_WINDOW_LOG);
	if (ZSTD_isError(ret)) {
		ZSTD_freeCCtx(z->cctx);
		free(z);
		return err_set(err, "zstd level %d: %s", level, ZSTD_getErrorName(ret));
	}
	*ctx = z;
	return 0;
}

static int zstd_send_prepare(void *ctx, const void *pages, size_t len,
			     struct iovec *payload, char *err)
{
	struct zstd_ctx *z = ctx;
	ZSTD_inBuffer in = { pages, len, 0 };
	ZSTD_outBuffer out = { z->buf, sizeof(z->buf), 0 };
	size_t left;

	/* e_flush: the frame goes on, but all input so far is decodable. */
	do {
		left = ZSTD_compressStream2(z->cctx, &out, &in, ZSTD_e_flush);
		if (ZSTD_isError(left))
			return err_set(err, "zstd compression failed: %s",
				       ZSTD_getErrorName(left));
	} while (left && out.pos < out.size);
	if (left)
		return err_set(err, "zstd output of %zu bytes of pages exceeds %u bytes",
			       len, MULTIFD_PAYLOAD_MAX);
	payload->iov_base = z->buf;
	payload->iov_len = out.pos;
	return 0;
}

static void zstd_send_cleanup(void *ctx)
{
	struct zstd_ctx *z = ctx;

	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	free(z);
}

static int zstd_recv_setup(void **ctx, char *err)
{
	struct zstd_ctx *z = calloc(1, sizeof(*z));

	if (!z)
		return err_set(err, "out of memory for a zstd context");
	z->dctx = ZSTD_createDCtx();
	if (!z->dctx) {
		free(z);
		return err_set(err, "out of memory for a zstd context");
	}
	if (ZSTD_isError(ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
						ZSTD_RECV_WINDOW_LOG_MAX))) {
		ZSTD_freeDCtx(z->dctx);
		free(z);
		return err_set(err, "zstd refuses a window limit of 2^%d", ZSTD_RECV_WINDOW_LOG_MAX);
	}
	*ctx = z;
	return 0;
}

static void *zstd_recv_buffer(void *ctx, void *pages, size_t n)
{
	(void)pages;
	(void)n;
	return ((struct zstd_ctx *)ctx)->buf;
}

static int zstd_recv(void *ctx, const void *payload, size_t n, void *pages,
		     size_t len, char *err)
{
	struct zstd_ctx *z = ctx;
	ZSTD_inBuffer in = { payload, n, 0 };
	ZSTD_outBuffer out = { pages, len, 0 };
	unsigned char extra;
	ZSTD_outBuffer spill = { &extra, 1, 0 };

	for (;;) {
		size_t in_before = in.pos, out_before = out.pos;
		ZSTD_outBuffer *o = out.pos < out.size ? &out : &spill;
		size_t ret;

		if (in.pos == in.size && out.pos == out.size)
			break;
		/* With the pages full, the rest of the input must decode to
		 * nothing; it may still hold block headers. */
		ret = ZSTD_decompressStream(z->dctx, o, &in);
		if (ZSTD_isError(ret))
			return err_set(err, "zstd decompression failed: %s",
				       ZSTD_getErrorName(ret));
		if (spill.pos)
			return err_set(err, "zstd payload of %zu bytes holds more than its %zu bytes of pages",
				       n, len);
		if (in.pos == in_before && out.pos == out_before)
			break;
	}
	if (out.pos != len)
		return err_set(err, "zstd payload of %zu bytes decompressed to %zu bytes, expected %zu",
			       n, out.pos, len);
	if (in.pos != in.size)
		return err_set(err, "zstd payload of %zu bytes has %zu bytes past its pages",
			       n, in.size - in.pos);
	return 0;
}

static void zstd_recv_cleanup(void *ctx)
{
	struct zstd_ctx *z = ctx;

	if (!z)
		return;
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

const struct compress_method compress_zstd = {
	.name = "zstd",
	.wire_flag = MULTIFD_FLAG_ZSTD,
	.default_level = 1,
	.min_level = -50,	/* zstd's fast negative levels, checked by zstd */
	.max_level = 20,	/* as QEMU's multifd-zstd-level */
	.send_setup = zstd_send_setup,
	.send_prepare = zstd_send_prepare,
	.send_cleanup = zstd_send_cleanup,
	.recv_setup = zstd_recv_setup,
	.recv_buffer = zstd_recv_buffer,
	.recv = zstd_recv,
	.recv_cleanup = zstd_recv_cleanup,
};

const struct compress_method *compress_method_find(const char *name)
{
	static const struct compress_method *const methods[] = {
		&compress_none, &compress_zlib, &compress_zstd,
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(methods[i]->name, name))
			return methods[i];
	return NULL;
}
