/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The multifd compression methods as a table of operations, one context
 * per channel that streams across the channel's packets as QEMU's does:
 *   none  the pages as they are
 *   zlib  one deflate stream, a sync flush (00 00 ff ff) ending each packet,
 *         the zlib header only in the first payload, never finished
 *   zstd  one frame that never ends, each packet closed by ZSTD_e_flush
 * A receiver must feed its context the payloads in packet order. */
#ifndef MIGBOX_COMPRESS_H
#define MIGBOX_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"


struct compress_method {
	const char *name;
	uint32_t wire_flag;		/* MULTIFD_FLAG_* */
	int default_level, min_level, max_level;

	/* Sender side. prepare() turns the pages into the payload: *payload
	 * points at the pages themselves (none) or at the context's own
	 * buffer, valid until the next call. */
	int (*send_setup)(void **ctx, int level, char *err);
	int (*send_prepare)(void *ctx, const void *pages, size_t len,
			    struct iovec *payload, char *err);
	void (*send_cleanup)(void *ctx);

	/* Receiver side. recv_buffer() says where to read a payload of n
	 * bytes (the pages buffer itself for none); recv() turns it into
	 * exactly len bytes of pages and fails on any other amount. */
	int (*recv_setup)(void **ctx, char *err);
	void *(*recv_buffer)(void *ctx, void *pages, size_t n);
	int (*recv)(void *ctx, const void *payload, size_t n, void *pages,
		    size_t len, char *err);
	void (*recv_cleanup)(void *ctx);
};

extern const struct compress_method compress_none;
extern const struct compress_method compress_zlib;
extern const struct compress_method compress_zstd;

/* "none", "zlib" or "zstd"; NULL otherwise. */
const struct compress_method *compress_method_find(const char *name);

#endif
