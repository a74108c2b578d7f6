/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A sparse map from chunk numbers to fixed-size, zero-initialised chunks:
 * per-page state (a page hash, a "sent" bit) whose cost follows the pages a
 * stream carried, not the RAM its block list claims. The caller chooses
 * how many pages share a chunk and lays them out in it.
 *
 * Clearing is O(1): a generation count retires every chunk at once, and
 * their memory is reused by the next chunks created. */
#ifndef MIGBOX_PAGEMAP_H
#define MIGBOX_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pagemap_entry;

struct pagemap {
	size_t chunk_size;		/* bytes per chunk */
	struct pagemap_entry *tab;	/* open addressing, cap a power of 2 */
	size_t cap;
	size_t live;			/* chunks of the current generation */
	size_t used;			/* slots holding a chunk, any generation */
	uint32_t gen;
	struct pagemap_entry *last;	/* the last chunk looked up */
};

void pagemap_init(struct pagemap *m, size_t chunk_size);
void pagemap_free(struct pagemap *m);
/* The chunk numbered key: NULL when absent (create false) or on ENOMEM. */
void *pagemap_chunk(struct pagemap *m, uint64_t key, bool create);
/* Forgets every chunk (their memory is kept for reuse). */
void pagemap_clear(struct pagemap *m);
/* Calls fn on every chunk in ascending key order; stops at the first
 * non-zero return and returns it. -1 (ENOMEM) if it cannot sort. */
int pagemap_each(struct pagemap *m, int (*fn)(void *ctx, uint64_t key, void *chunk),
		 void *ctx);
static inline size_t pagemap_count(const struct pagemap *m)
{
	return m->live;
}

#endif
