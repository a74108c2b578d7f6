// SPDX-License-Identifier: GPL-3.0-or-later
/* Input and output buffers over a wakeable end (iobuf.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "iobuf.h"

int in_init(struct in_buf *b, int fd, size_t cap)
{
	memset(b, 0, sizeof(*b));
	io_end_init(&b->io, fd, -1, false);
	b->cap = cap;
	b->buf = malloc(cap);
	return b->buf ? 0 : -1;
}

int in_init_mapped(struct in_buf *b, int fd)
{
	struct stat st;
	void *p;

	memset(b, 0, sizeof(*b));
	io_end_init(&b->io, fd, -1, false);
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	b->mapped = true;
	b->eof = true;
	if (!st.st_size)
		return 0;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	madvise(p, (size_t)st.st_size, MADV_WILLNEED);
	b->buf = p;
	b->cap = b->end = (size_t)st.st_size;
	return 0;
}

void in_set_wake(struct in_buf *b, int wake_fd)
{
	io_end_close(&b->io);
	io_end_init(&b->io, b->io.fd, wake_fd, false);
}

void in_set_source(struct in_buf *b, in_source_fn fn, void *ctx)
{
	b->source = fn;
	b->source_ctx = ctx;
}

void in_free(struct in_buf *b)
{
	io_end_close(&b->io);
	if (b->mapped && b->buf)
		munmap(b->buf, b->cap);
	else
		free(b->buf);
	b->buf = NULL;
}

int in_prefill(struct in_buf *b, const void *p, size_t n)
{
	if (b->end || n > b->cap) {
		b->err = EINVAL;
		return -1;
	}
	memcpy(b->buf, p, n);
	b->end = n;
	return 0;
}

int in_tee_flush(struct in_buf *b)
{
	int ret = 0;

	if (b->tee && b->pos > b->tee_pos)
		ret = out_write(b->tee, b->buf + b->tee_pos, b->pos - b->tee_pos);
	b->tee_pos = b->pos;
	return ret;
}

int in_tee_detach(struct in_buf *b, uint64_t upto)
{
	int ret = 0;

	if (b->tee && upto > b->base + b->tee_pos) {
		size_t end = (size_t)(upto - b->base);

		if (end > b->pos)
			end = b->pos;
		ret = out_write(b->tee, b->buf + b->tee_pos, end - b->tee_pos);
	}
	b->tee = NULL;
	b->tee_pos = b->pos;
	return ret;
}

bool in_seekable(struct in_buf *b)
{
	struct stat st;

	if (b->mapped)
		return true;
	if (b->source || b->tee || fstat(b->io.fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	/* stream offsets must be file offsets */
	return lseek(b->io.fd, 0, SEEK_CUR) == (off_t)(b->base + b->end);
}

ssize_t in_pread(struct in_buf *b, void *p, size_t n, uint64_t off)
{
	size_t got = 0;

	if (b->mapped) {
		if (off >= b->end)
			return 0;
		if (n > b->end - off)
			n = (size_t)(b->end - off);
		memcpy(p, b->buf + off, n);
		return (ssize_t)n;
	}
	if (off > (uint64_t)INT64_MAX - n) {
		errno = EINVAL;
		return -1;
	}
	while (got < n) {
		ssize_t r = pread(b->io.fd, (char *)p + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (!r)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int in_seek(struct in_buf *b, uint64_t off)
{
	if (b->tee) {
		errno = EINVAL;
		return -1;
	}
	if (b->mapped) {
		if (off > b->end) {
			errno = EINVAL;
			return -1;
		}
		b->pos = (size_t)off;
		return 0;
	}
	if (off > (uint64_t)INT64_MAX || lseek(b->io.fd, (off_t)off, SEEK_SET) < 0)
		return -1;
	b->base = off;
	b->pos = b->end = 0;
	b->eof = false;
	return 0;
}

ssize_t in_want(struct in_buf *b, size_t n)
{
	if (b->end - b->pos >= n)
		return (ssize_t)n;
	if (b->mapped)	/* the whole file is there: this is its end */
		return (ssize_t)(b->end - b->pos);
	if (n > b->cap) {
		b->err = EINVAL;
		return -1;
	}
	if (b->pos + n > b->cap) {
		if (in_tee_flush(b) < 0) {
			b->err = b->tee->err;
			return -1;
		}
		memmove(b->buf, b->buf + b->pos, b->end - b->pos);
		b->base += b->pos;
		b->end -= b->pos;
		b->pos = 0;
		b->tee_pos = 0;
	}
	while (!b->eof && b->end - b->pos < n) {
		ssize_t r = b->source ? b->source(b->source_ctx, b->buf + b->end, b->cap - b->end) :
					io_read(&b->io, b->buf + b->end, b->cap - b->end);

		if (r < 0) {
			b->err = errno;
			return -1;
		}
		if (r == 0)
			b->eof = true;
		b->end += (size_t)r;
	}
	return (ssize_t)(b->end - b->pos < n ? b->end - b->pos : n);
}

int out_init(struct out_buf *o, int fd, size_t cap)
{
	memset(o, 0, sizeof(*o));
	io_end_init(&o->io, fd, -1, true);
	o->cap = cap;
	o->buf = malloc(cap);
	return o->buf ? 0 : -1;
}

void out_set_wake(struct out_buf *o, int wake_fd)
{
	io_end_close(&o->io);
	io_end_init(&o->io, o->io.fd, wake_fd, true);
}

void out_set_sink(struct out_buf *o, out_sink_fn fn, void *ctx)
{
	o->sink = fn;
	o->sink_ctx = ctx;
}

static int out_put(struct out_buf *o, const void *p, size_t n)
{
	return o->sink ? o->sink(o->sink_ctx, p, n) : io_write_all(&o->io, p, n);
}

int out_flush(struct out_buf *o)
{
	if (o->err)
		return -1;
	if (o->len && out_put(o, o->buf, o->len) < 0) {
		o->err = errno;
		return -1;
	}
	o->written += o->len;
	o->len = 0;
	return 0;
}

int out_writev(struct out_buf *o, struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	if (out_flush(o) < 0)
		return -1;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (io_writev_all(&o->io, iov, iovcnt) < 0) {
		o->err = errno;
		return -1;
	}
	o->written += total;
	return 0;
}

int out_seek(struct out_buf *o, uint64_t off)
{
	if (out_flush(o) < 0)
		return -1;
	if (o->sink || off > (uint64_t)INT64_MAX || lseek(o->io.fd, (off_t)off, SEEK_SET) < 0) {
		o->err = o->sink ? EINVAL : errno;
		return -1;
	}
	o->written = off;
	return 0;
}

int out_close(struct out_buf *o)
{
	int ret = out_flush(o);

	out_discard(o);
	return ret;
}

void out_discard(struct out_buf *o)
{
	io_end_close(&o->io);
	free(o->buf);
	o->buf = NULL;
	o->len = 0;
}

int out_write(struct out_buf *o, const void *p, size_t n)
{
	if (o->err)
		return -1;
	if (!n)
		return 0;	/* p may be NULL then, which memcpy must not get */
	if (o->len + n <= o->cap) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return 0;
	}
	if (out_flush(o) < 0)
		return -1;
	if (n >= o->cap) {
		if (out_put(o, p, n) < 0) {
			o->err = errno;
			return -1;
		}
		o->written += n;
		return 0;
	}
	memcpy(o->buf, p, n);
	o->len = n;
	return 0;
}

int out_u8(struct out_buf *o, uint8_t v)
{
	return out_write(o, &v, 1);
}

int out_be16(struct out_buf *o, uint16_t v)
{
	unsigned char b[2];

	put_be16(b, v);
	return out_write(o, b, sizeof(b));
}

int out_be32(struct out_buf *o, uint32_t v)
{
	unsigned char b[4];

	put_be32(b, v);
	return out_write(o, b, sizeof(b));
}

int out_be64(struct out_buf *o, uint64_t v)
{
	unsigned char b[8];

	put_be64(b, v);
	return out_write(o, b, sizeof(b));
}
