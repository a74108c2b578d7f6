#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "io.h"

int write_full(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t read_full(int fd, void *p, size_t n)
{
	unsigned char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int in_init(struct in_buf *b, int fd, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->cap = cap;
	b->buf = malloc(cap);
	return b->buf ? 0 : -1;
}

void in_free(struct in_buf *b)
{
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

ssize_t in_want(struct in_buf *b, size_t n)
{
	if (b->end - b->pos >= n)
		return (ssize_t)n;
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
		ssize_t r = read(b->fd, b->buf + b->end, b->cap - b->end);

		if (r < 0) {
			if (errno == EINTR)
				continue;
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
	o->fd = fd;
	o->cap = cap;
	o->buf = malloc(cap);
	return o->buf ? 0 : -1;
}

int out_flush(struct out_buf *o)
{
	if (o->err)
		return -1;
	if (o->len && write_full(o->fd, o->buf, o->len) < 0) {
		o->err = errno;
		return -1;
	}
	o->written += o->len;
	o->len = 0;
	return 0;
}

void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

int out_writev(struct out_buf *o, struct iovec *iov, int iovcnt)
{
	if (out_flush(o) < 0)
		return -1;
	while (iovcnt) {
		ssize_t w = writev(o->fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			return -1;
		}
		o->written += (uint64_t)w;
		iov_advance(&iov, &iovcnt, (size_t)w);
	}
	return 0;
}

int out_close(struct out_buf *o)
{
	int ret = out_flush(o);

	free(o->buf);
	o->buf = NULL;
	return ret;
}

int out_write(struct out_buf *o, const void *p, size_t n)
{
	if (o->err)
		return -1;
	if (o->len + n <= o->cap) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return 0;
	}
	if (out_flush(o) < 0)
		return -1;
	if (n >= o->cap) {
		if (write_full(o->fd, p, n) < 0) {
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

int out_file_open(struct out_file *f, const char *path)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (!path || !strcmp(path, "-")) {
		f->fd = STDOUT_FILENO;
		return 0;
	}
	/* A device or fifo is written in place: renaming over it would
	 * replace it with a regular file. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		f->fd = open(path, O_WRONLY | O_CLOEXEC);
		return f->fd < 0 ? -1 : 0;
	}
	f->path = strdup(path);
	if (!f->path || asprintf(&f->tmp_path, "%s.tmp.%d", path, (int)getpid()) < 0) {
		free(f->path);
		errno = ENOMEM;
		return -1;
	}
	f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		int e = errno;

		free(f->path);
		free(f->tmp_path);
		errno = e;
		return -1;
	}
	return 0;
}

int out_file_commit(struct out_file *f)
{
	int ret = 0;

	if (!f->path)
		return f->fd == STDOUT_FILENO ? 0 : close(f->fd);
	if (fsync(f->fd) < 0 && errno != EINVAL)
		ret = -1;
	if (close(f->fd) < 0)
		ret = -1;
	if (!ret && rename(f->tmp_path, f->path) < 0)
		ret = -1;
	if (ret)
		unlink(f->tmp_path);
	free(f->path);
	free(f->tmp_path);
	f->path = f->tmp_path = NULL;
	return ret;
}

void out_file_abort(struct out_file *f)
{
	if (!f->path) {
		if (f->fd != STDOUT_FILENO)
			close(f->fd);
		return;
	}
	close(f->fd);
	unlink(f->tmp_path);
	free(f->path);
	free(f->tmp_path);
	f->path = f->tmp_path = NULL;
}
