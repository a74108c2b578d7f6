/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Buffered byte I/O on a wakeable end (io.h): an input buffer that can
 * hand out pointers into itself (a page is never copied to be looked at)
 * and keeps the stream offset for error messages, and an output buffer
 * with sticky errors. */
#ifndef MIGBOX_IOBUF_H
#define MIGBOX_IOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "io.h"

/* Where an out_buf's bytes go instead of its fd: all n of them, or -1
 * with errno. */
typedef int (*out_sink_fn)(void *ctx, const void *p, size_t n);

struct out_buf {
	struct io_end io;
	out_sink_fn sink;	/* NULL: write io */
	void *sink_ctx;
	unsigned char *buf;
	size_t cap;
	size_t len;
	uint64_t written;	/* bytes handed to write() so far */
	int err;		/* errno of the first failed write, sticky */
};

/* Where an in_buf's bytes come from instead of its fd: up to n bytes into
 * p; 0 at the end; -1 with errno. */
typedef ssize_t (*in_source_fn)(void *ctx, void *p, size_t n);

struct in_buf {
	struct io_end io;
	in_source_fn source;	/* NULL: read io */
	void *source_ctx;
	unsigned char *buf;
	size_t cap;
	size_t pos;		/* next unread byte */
	size_t end;		/* valid bytes in buf */
	uint64_t base;		/* stream offset of buf[0] */
	bool eof;
	bool mapped;		/* buf is the whole file, mmap'd */
	int err;		/* errno of a failed read */
	struct out_buf *tee;	/* consumed bytes are copied here, if set */
	size_t tee_pos;		/* buf[tee_pos, pos) is consumed but not teed */
};

int in_init(struct in_buf *b, int fd, size_t cap);
/* The whole of a regular file, mapped: nothing is read or copied until
 * looked at (a parser walking records touches only their headers).
 * in_offset() is the file offset; -1 with errno. */
int in_init_mapped(struct in_buf *b, int fd);
/* Reads wait on wake_fd too (see above). */
void in_set_wake(struct in_buf *b, int wake_fd);
/* The bytes come from fn (a protocol's messages) instead of the fd. */
void in_set_source(struct in_buf *b, in_source_fn fn, void *ctx);
void in_free(struct in_buf *b);
/* Makes n bytes (n <= cap) readable at in_ptr(). Returns the bytes
 * readable: n, or fewer at the end of input; -1 on a read error (b->err).
 * Invalidates pointers from earlier in_ptr() calls. */
ssize_t in_want(struct in_buf *b, size_t n);
/* Puts n bytes (n <= cap) already read from the fd in front of what is
 * still to be read, e.g. the first bytes a server read to tell its
 * connections apart. Only before the first in_want(). */
int in_prefill(struct in_buf *b, const void *p, size_t n);
/* Copies everything consumed so far to the tee. */
int in_tee_flush(struct in_buf *b);
/* Copies the consumed bytes before stream offset `upto` to the tee and
 * stops teeing: what follows is held back (a pass-through writes the end
 * of a stream only once all of it is valid). */
int in_tee_detach(struct in_buf *b, uint64_t upto);

/* Random access, for a format laid out by file offsets (mapped-ram): true
 * for a mapped file, and for a regular file read from its start (stream
 * offsets are file offsets); false for a pipe, a socket or a source. */
bool in_seekable(struct in_buf *b);
/* Up to n bytes at stream offset off into p, without moving the read
 * position: n, fewer at the end of the file, or -1 with errno. Only when
 * in_seekable(). */
ssize_t in_pread(struct in_buf *b, void *p, size_t n, uint64_t off);
/* Reading goes on at stream offset off (forward or back); what was
 * buffered is dropped. Not with a tee; only when in_seekable(). */
int in_seek(struct in_buf *b, uint64_t off);

static inline const unsigned char *in_ptr(const struct in_buf *b)
{
	return b->buf + b->pos;
}

static inline uint64_t in_offset(const struct in_buf *b)
{
	return b->base + b->pos;
}

static inline size_t in_avail(const struct in_buf *b)
{
	return b->end - b->pos;
}

static inline void in_skip(struct in_buf *b, size_t n)
{
	b->pos += n;
}

int out_init(struct out_buf *o, int fd, size_t cap);
void out_set_wake(struct out_buf *o, int wake_fd);
/* The bytes go to fn (a protocol's messages) instead of the fd. */
void out_set_sink(struct out_buf *o, out_sink_fn fn, void *ctx);
/* Flushes, then frees the buffer; returns -1 if any write failed. */
int out_close(struct out_buf *o);
/* Frees the buffer without writing what it holds. */
void out_discard(struct out_buf *o);
int out_write(struct out_buf *o, const void *p, size_t n);
int out_flush(struct out_buf *o);
/* Flushes, then writes the vector without copying it (it is consumed). */
int out_writev(struct out_buf *o, struct iovec *iov, int iovcnt);
/* Flushes, then writing goes on at file offset off of the fd (a regular
 * file), leaving a hole when off is past its end: out_offset() is off. */
int out_seek(struct out_buf *o, uint64_t off);
int out_u8(struct out_buf *o, uint8_t v);
int out_be16(struct out_buf *o, uint16_t v);
int out_be32(struct out_buf *o, uint32_t v);
int out_be64(struct out_buf *o, uint64_t v);

static inline uint64_t out_offset(const struct out_buf *o)
{
	return o->written + o->len;
}

#endif
