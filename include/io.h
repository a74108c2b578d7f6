/* Buffered byte I/O on file descriptors: an input buffer that can hand out
 * pointers into itself (a page is never copied to be looked at) and keeps the
 * stream offset for error messages, and an output buffer with sticky errors. */
#ifndef MIGBOX_IO_H
#define MIGBOX_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct out_buf {
	int fd;
	unsigned char *buf;
	size_t cap;
	size_t len;
	uint64_t written;	/* bytes handed to write() so far */
	int err;		/* errno of the first failed write, sticky */
};

struct in_buf {
	int fd;
	unsigned char *buf;
	size_t cap;
	size_t pos;		/* next unread byte */
	size_t end;		/* valid bytes in buf */
	uint64_t base;		/* stream offset of buf[0] */
	bool eof;
	int err;		/* errno of a failed read */
	struct out_buf *tee;	/* consumed bytes are copied here, if set */
	size_t tee_pos;		/* buf[tee_pos, pos) is consumed but not teed */
};

int in_init(struct in_buf *b, int fd, size_t cap);
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
/* Flushes, then frees the buffer; returns -1 if any write failed. */
int out_close(struct out_buf *o);
int out_write(struct out_buf *o, const void *p, size_t n);
int out_flush(struct out_buf *o);
/* Flushes, then writes the vector without copying it (it is consumed). */
int out_writev(struct out_buf *o, struct iovec *iov, int iovcnt);
/* Drops n written bytes from the front of a vector. */
void iov_advance(struct iovec **iov, int *iovcnt, size_t n);
int out_u8(struct out_buf *o, uint8_t v);
int out_be16(struct out_buf *o, uint16_t v);
int out_be32(struct out_buf *o, uint32_t v);
int out_be64(struct out_buf *o, uint64_t v);

static inline uint64_t out_offset(const struct out_buf *o)
{
	return o->written + o->len;
}

/* write()/read() until done; read_full returns bytes read (short at EOF). */
int write_full(int fd, const void *p, size_t n);
ssize_t read_full(int fd, void *p, size_t n);

/* An output file that appears under its name only once complete: written
 * as NAME.tmp.PID and renamed by out_file_commit(). "-" means stdout; an
 * existing device or fifo is written in place. */
struct out_file {
	int fd;
	char *path;
	char *tmp_path;
};

int out_file_open(struct out_file *f, const char *path);
int out_file_commit(struct out_file *f);
void out_file_abort(struct out_file *f);

#endif
