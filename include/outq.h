/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An ordered output queue: threads append under the session lock, in an
 * order that is the order of the bytes in the output, and one writer
 * thread drains the queue to the fd without holding any lock, in waits
 * that failure wakes (io.h). So no thread ever blocks on the output while
 * holding the lock that failing and the other threads need.
 *
 * Small pieces are copied into the queue's own ring (the arena); big ones
 * are queued by reference, and their owner waits until they are written
 * before reusing the memory. Appends are made with the lock held, after a
 * reservation that waits for room: a thread that decides what to append
 * from shared state reserves first, then decides and appends without
 * letting go of the lock. */
#ifndef MIGBOX_OUTQ_H
#define MIGBOX_OUTQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "session.h"

struct outq_entry;

struct outq {
	struct session *s;
	struct io_end io;
	pthread_cond_t cond;		/* room made, data queued, bytes written */
	pthread_t writer;
	bool started, stop;
	struct outq_entry *ring;
	unsigned int ring_cap, ring_head, ring_count;
	unsigned char *arena;
	size_t arena_cap, arena_head, arena_used;
	uint64_t appended;		/* bytes queued so far */
	_Atomic uint64_t written;	/* bytes the fd took */
	atomic_bool writing;		/* the writer is in a write */
	const char *name;		/* for messages: "stdout", a file name */
};

/* Sets q up to write to fd (the session's wake fd wakes its waits) and
 * starts the writer; -1 with errno (ENOSPC: the session watches all the
 * condition variables it can). The arena must hold the largest single
 * copy. */
int outq_start(struct outq *q, struct session *s, int fd, const char *name,
	       size_t arena_bytes, unsigned int entries);
/* With s->lock held: waits until one copy of `bytes` and `entries`
 * entries fit. -1 once the session failed. */
int outq_reserve(struct outq *q, size_t bytes, unsigned int entries);
/* With s->lock held, within a reservation: never waits. */
void outq_copy(struct outq *q, const void *p, size_t n);
/* Queues p itself; returns the output position just past it. */
uint64_t outq_ref(struct outq *q, const void *p, size_t n);
/* Within a reservation: n bytes the writer skips (lseek) instead of
 * writing, leaving a hole: a file laid out by offset (mapped-ram), whose
 * skipped bytes others pwrite. Only for a regular file. */
void outq_hole(struct outq *q, uint64_t n);
/* With s->lock held: waits until the output reached pos. -1 on failure. */
int outq_wait_written(struct outq *q, uint64_t pos);
/* Stops the writer after what is queued (or at once after a failure)
 * and releases the queue; without the lock. */
void outq_stop(struct outq *q);
static inline uint64_t outq_written(struct outq *q)
{
	return atomic_load_explicit(&q->written, memory_order_relaxed);
}

#endif
