#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
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

/* ---- wakeable ends ---- */

int io_wait(int fd, short events, int wake_fd, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = events },
		{ .fd = wake_fd, .events = POLLIN },
	};

	for (;;) {
		int rc = poll(pfd, wake_fd >= 0 ? 2 : 1, timeout_ms);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			return 0;
		if (wake_fd >= 0 && pfd[1].revents) {
			errno = ECANCELED;
			return -1;
		}
		return 1;
	}
}

/* Has the wake fd fired? For ends that never wait (regular files). */
static bool woken(int wake_fd)
{
	struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };

	return wake_fd >= 0 && poll(&pfd, 1, 0) > 0;
}

void io_end_init(struct io_end *e, int fd, int wake_fd, bool write)
{
	struct stat st;
	char path[32];
	int nfd;

	*e = (struct io_end){ .fd = fd, .wake_fd = wake_fd, .how = IO_PLAIN };
	if (wake_fd < 0 || fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		e->how = IO_SOCKET;
		return;
	}
	e->how = IO_POLL;
	if (!S_ISFIFO(st.st_mode))
		return;
	/* A private description of the same pipe: O_NONBLOCK on it is seen
	 * by nobody else. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, (write ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
	if (nfd >= 0) {
		e->fd = nfd;
		e->how = IO_NONBLOCK;
		e->own = true;
	}
}

void io_end_close(struct io_end *e)
{
	if (e->own && e->fd >= 0)
		close(e->fd);
	e->own = false;
}

ssize_t io_read(struct io_end *e, void *p, size_t n)
{
	for (;;) {
		ssize_t r;

		if (e->how == IO_POLL && io_wait(e->fd, POLLIN, e->wake_fd, -1) < 0)
			return -1;
		if (e->how == IO_PLAIN && woken(e->wake_fd)) {
			errno = ECANCELED;
			return -1;
		}
		if (e->how == IO_SOCKET)
			r = recv(e->fd, p, n, MSG_DONTWAIT);
		else
			r = read(e->fd, p, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || io_wait(e->fd, POLLIN, e->wake_fd, -1) < 0)
			return -1;
	}
}

static ssize_t writev_once(struct io_end *e, struct iovec *iov, int iovcnt)
{
	if (iovcnt > IOV_MAX)
		iovcnt = IOV_MAX;
	if (e->how == IO_SOCKET) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };

		return sendmsg(e->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	return writev(e->fd, iov, iovcnt);
}

int io_writev_all(struct io_end *e, struct iovec *iov, int iovcnt)
{
	while (iovcnt && !iov->iov_len) {
		iov++;
		iovcnt--;
	}
	while (iovcnt) {
		ssize_t w;

		if (e->how == IO_POLL && io_wait(e->fd, POLLOUT, e->wake_fd, -1) < 0)
			return -1;
		if (e->how == IO_PLAIN && woken(e->wake_fd)) {
			errno = ECANCELED;
			return -1;
		}
		w = writev_once(e, iov, iovcnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || io_wait(e->fd, POLLOUT, e->wake_fd, -1) < 0)
				return -1;
			continue;
		}
		iov_advance(&iov, &iovcnt, (size_t)w);
	}
	return 0;
}

int io_write_all(struct io_end *e, const void *p, size_t n)
{
	struct iovec iov = { (void *)p, n };

	return io_writev_all(e, &iov, 1);
}

/* ---- buffers ---- */

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

/* ---- output files ---- */

/* path with its symlinks followed to the name the data must get (which
 * need not exist yet); malloc'd, or NULL with errno. */
static char *final_name(const char *path)
{
	char *cur = strdup(path);

	for (int depth = 0; cur && depth < 40; depth++) {
		char target[PATH_MAX], *next;
		ssize_t n = readlink(cur, target, sizeof(target) - 1);

		if (n < 0)
			return errno == EINVAL || errno == ENOENT ? cur : (free(cur), NULL);
		target[n] = 0;
		if (target[0] == '/' || !strrchr(cur, '/')) {
			next = strdup(target);
		} else {
			int dir = (int)(strrchr(cur, '/') - cur);

			if (asprintf(&next, "%.*s/%s", dir, cur, target) < 0)
				next = NULL;
		}
		free(cur);
		cur = next;
	}
	if (cur) {
		free(cur);
		errno = ELOOP;
	}
	return NULL;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if (asprintf(&d, "%.*s", (int)(slash - path), path) < 0)
		return NULL;
	return d;
}

/* "PATH.tmp.XXXXXX" with a random suffix, created O_EXCL|O_NOFOLLOW.
 * Returns the fd, *tmp its name; with linked_from >= 0, the name is made
 * a hard link of that O_TMPFILE instead (fd is returned unchanged). */
static int named_temp(const char *path, char **tmp, int linked_from)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int tries = 0; tries < 100; tries++) {
		unsigned char rnd[6];
		char suffix[7], proc[32];
		int fd;

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -1;
		for (int i = 0; i < 6; i++)
			suffix[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
		suffix[6] = 0;
		if (asprintf(tmp, "%s.tmp.%s", path, suffix) < 0) {
			*tmp = NULL;
			return -1;
		}
		if (linked_from >= 0) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", linked_from);
			fd = linkat(AT_FDCWD, proc, AT_FDCWD, *tmp, AT_SYMLINK_FOLLOW) < 0 ? -1 : linked_from;
		} else {
			fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		}
		if (fd >= 0)
			return fd;
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int out_file_open(struct out_file *f, const char *path)
{
	struct stat st;
	char *dir;
	int e;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (!path || !strcmp(path, "-")) {
		f->fd = STDOUT_FILENO;
		return 0;
	}
	f->path = final_name(path);
	if (!f->path)
		return -1;
	/* A device or fifo is written in place: a rename would replace it
	 * with a regular file. */
	if (stat(f->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		f->fd = open(f->path, O_WRONLY | O_CLOEXEC);
		e = errno;
		free(f->path);
		f->path = NULL;
		errno = e;
		return f->fd < 0 ? -1 : 0;
	}
	dir = dir_of(f->path);
	if (!dir)
		goto fail;
	/* Unnamed until complete: nothing to clean up after any failure.
	 * Linking it in needs /proc (AT_EMPTY_PATH needs a capability). */
	if (access("/proc/self/fd", X_OK) == 0)
		f->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	e = errno;
	free(dir);
	if (f->fd >= 0) {
		f->unnamed = true;
		return 0;
	}
	if (e == ENOENT || e == EACCES || e == ENOTDIR || e == EROFS) {
		errno = e;
		goto fail;
	}
	f->fd = named_temp(f->path, &f->tmp_path, -1);
	if (f->fd >= 0)
		return 0;
fail:
	e = errno;
	free(f->path);
	f->path = NULL;
	errno = e;
	return -1;
}

static int fsync_dir_of(const char *path)
{
	char *dir = dir_of(path);
	int fd, ret;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int out_file_commit(struct out_file *f)
{
	int ret = 0, e = 0;

	if (!f->path) {
		ret = f->fd == STDOUT_FILENO ? 0 : close(f->fd);
		f->fd = -1;
		return ret;
	}
	if (fsync(f->fd) < 0 && errno != EINVAL)
		ret = -1;
	/* An unnamed file gets a temporary name first: linkat cannot replace
	 * an existing NAME, rename can. */
	if (!ret && f->unnamed && named_temp(f->path, &f->tmp_path, f->fd) < 0)
		ret = -1;
	if (!ret && rename(f->tmp_path, f->path) < 0)
		ret = -1;
	if (!ret && fsync_dir_of(f->path) < 0)
		ret = -1;
	if (ret)
		e = errno;
	if (close(f->fd) < 0 && !ret) {
		ret = -1;
		e = errno;
	}
	if (ret && f->tmp_path)
		unlink(f->tmp_path);
	free(f->path);
	free(f->tmp_path);
	f->path = f->tmp_path = NULL;
	f->fd = -1;
	errno = e;
	return ret;
}

void out_file_abort(struct out_file *f)
{
	if (f->fd >= 0 && f->fd != STDOUT_FILENO)
		close(f->fd);
	if (f->tmp_path)
		unlink(f->tmp_path);
	free(f->path);
	free(f->tmp_path);
	f->path = f->tmp_path = NULL;
	f->fd = -1;
}
