// SPDX-License-Identifier: GPL-3.0-or-later
/* The ordered output queue and its writer thread. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "outq.h"

#define WRITE_BATCH	256	/* entries per writev */

struct outq_entry {
	const void *base;	/* NULL: a hole of len bytes */
	size_t len;
	size_t arena_bytes;	/* ring bytes it frees once written (waste + len) */
};

static bool room(const struct outq *q, size_t bytes, unsigned int entries)
{
	size_t free_bytes = q->arena_cap - q->arena_used;
	size_t need = bytes;

	if (q->arena_used && q->arena_head + bytes > q->arena_cap)
		need += q->arena_cap - q->arena_head;	/* the end of the ring is skipped */
	return q->ring_cap - q->ring_count >= entries && free_bytes >= need;
}

int outq_reserve(struct outq *q, size_t bytes, unsigned int entries)
{
	if (bytes > q->arena_cap / 2 || entries > q->ring_cap / 2) {
		session_fail_locked(q->s, "an output record of %zu bytes is too big for the output queue",
				    bytes);
		return -1;
	}
	while (!room(q, bytes, entries))
		if (session_wait(q->s, &q->cond))
			return -1;
	return session_failed(q->s) ? -1 : 0;
}

static void push(struct outq *q, const void *p, size_t n, size_t arena_bytes)
{
	struct outq_entry *e = &q->ring[(q->ring_head + q->ring_count) % q->ring_cap];

	*e = (struct outq_entry){ p, n, arena_bytes };
	q->ring_count++;
	q->appended += n;
	pthread_cond_broadcast(&q->cond);
}

void outq_copy(struct outq *q, const void *p, size_t n)
{
	size_t waste = 0;

	if (!n)
		return;
	if (!q->arena_used)
		q->arena_head = 0;
	if (q->arena_head + n > q->arena_cap) {
		waste = q->arena_cap - q->arena_head;
		q->arena_head = 0;
	}
	memcpy(q->arena + q->arena_head, p, n);
	q->arena_used += waste + n;
	push(q, q->arena + q->arena_head, n, waste + n);
	q->arena_head += n;
}

uint64_t outq_ref(struct outq *q, const void *p, size_t n)
{
	if (n)
		push(q, p, n, 0);
	return q->appended;
}

void outq_hole(struct outq *q, uint64_t n)
{
	if (n)
		push(q, NULL, (size_t)n, 0);
}

int outq_wait_written(struct outq *q, uint64_t pos)
{
	while (outq_written(q) < pos)
		if (session_wait(q->s, &q->cond))
			return -1;
	return 0;
}

/* Writes a batch from the front of the ring; lock held on entry and
 * exit, not during the write. */
static int write_batch(struct outq *q)
{
	struct iovec iov[WRITE_BATCH];
	unsigned int n = q->ring_count < WRITE_BATCH ? q->ring_count : WRITE_BATCH;
	size_t bytes = 0, freed = 0;
	bool hole = !q->ring[q->ring_head].base;
	int ret, err;

	/* a hole alone; data up to the next hole */
	for (unsigned int i = 0; i < n; i++) {
		const struct outq_entry *e = &q->ring[(q->ring_head + i) % q->ring_cap];

		if (i && (!e->base || hole)) {
			n = i;
			break;
		}
		iov[i] = (struct iovec){ (void *)e->base, e->len };
		bytes += e->len;
		freed += e->arena_bytes;
	}
	atomic_store(&q->writing, true);
	pthread_mutex_unlock(&q->s->lock);
	if (hole)
		ret = lseek(q->io.fd, (off_t)bytes, SEEK_CUR) < 0 ? -1 : 0;
	else
		ret = io_writev_all(&q->io, iov, (int)n);
	err = errno;
	pthread_mutex_lock(&q->s->lock);
	atomic_store(&q->writing, false);
	if (ret < 0) {
		if (err != ECANCELED)
			session_fail_locked(q->s, "writing %s: %s", q->name, strerror(err));
		return -1;
	}
	q->ring_head = (q->ring_head + n) % q->ring_cap;
	q->ring_count -= n;
	q->arena_used -= freed;
	atomic_fetch_add_explicit(&q->written, bytes, memory_order_relaxed);
	pthread_cond_broadcast(&q->cond);
	return 0;
}

static void *writer_thread(void *arg)
{
	struct outq *q = arg;

	pthread_mutex_lock(&q->s->lock);
	for (;;) {
		while (!q->ring_count && !q->stop && !session_failed(q->s))
			pthread_cond_wait(&q->cond, &q->s->lock);
		if (session_failed(q->s) || (!q->ring_count && q->stop))
			break;
		if (write_batch(q) < 0)
			break;
	}
	pthread_mutex_unlock(&q->s->lock);
	return NULL;
}

int outq_start(struct outq *q, struct session *s, int fd, const char *name,
	       size_t arena_bytes, unsigned int entries)
{
	int err;

	memset(q, 0, sizeof(*q));
	q->s = s;
	q->name = name;
	q->io.fd = -1;
	pthread_cond_init(&q->cond, NULL);
	q->ring = calloc(entries, sizeof(*q->ring));
	q->arena = malloc(arena_bytes);
	if (!q->ring || !q->arena) {
		errno = ENOMEM;
		return -1;
	}
	q->ring_cap = entries;
	q->arena_cap = arena_bytes;
	io_end_init(&q->io, fd, s->wake_fd, true);
	/* a writer no failure wakes would hang: none starts */
	if (session_watch_cond(s, &q->cond) < 0)
		return -1;
	err = pthread_create(&q->writer, NULL, writer_thread, q);
	if (err) {
		errno = err;
		return -1;
	}
	q->started = true;
	return 0;
}

/* The condition variable stays: the session may still broadcast it. */
void outq_stop(struct outq *q)
{
	if (q->started) {
		pthread_mutex_lock(&q->s->lock);
		q->stop = true;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->s->lock);
		pthread_join(q->writer, NULL);
		q->started = false;
	}
	io_end_close(&q->io);
	free(q->ring);
	free(q->arena);
	q->ring = NULL;
	q->arena = NULL;
}
