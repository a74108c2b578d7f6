// SPDX-License-Identifier: GPL-3.0-or-later
/* Sparse chunk map: open addressing on 64-bit keys, generations for O(1)
 * clearing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pagemap.h"

struct pagemap_entry {
	uint64_t key;
	uint32_t gen;		/* 0: never used; else live if == map's gen */
	void *chunk;
};

void pagemap_init(struct pagemap *m, size_t chunk_size)
{
	memset(m, 0, sizeof(*m));
	m->chunk_size = chunk_size;
	m->gen = 1;
}

void pagemap_free(struct pagemap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->tab[i].chunk);
	free(m->tab);
	pagemap_init(m, m->chunk_size);
}

static size_t slot_of(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: consecutive keys spread over the table. */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* Doubles the table; stale entries are dropped with their chunks. */
static int grow(struct pagemap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct pagemap_entry *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -1;
	m->used = 0;
	for (size_t i = 0; i < m->cap; i++) {
		struct pagemap_entry *e = &m->tab[i];
		size_t s;

		if (!e->gen)
			continue;
		if (e->gen != m->gen) {
			free(e->chunk);
			continue;
		}
		for (s = slot_of(e->key, cap); tab[s].gen; s = (s + 1) & (cap - 1))
			;
		tab[s] = *e;
		m->used++;
	}
	free(m->tab);
	m->tab = tab;
	m->cap = cap;
	m->last = NULL;
	return 0;
}

void *pagemap_chunk(struct pagemap *m, uint64_t key, bool create)
{
	struct pagemap_entry *e, *reuse = NULL;
	size_t s;

	if (m->last && m->last->key == key && m->last->gen == m->gen)
		return m->last->chunk;
	for (s = m->cap ? slot_of(key, m->cap) : 0; m->cap && m->tab[s].gen; s = (s + 1) & (m->cap - 1)) {
		e = &m->tab[s];
		if (e->gen == m->gen && e->key == key) {
			m->last = e;
			return e->chunk;
		}
		if (e->gen != m->gen && !reuse)
			reuse = e;
	}
	if (!create)
		return NULL;
	if (!reuse && (m->used + 1) * 4 > m->cap * 3) {
		if (grow(m) < 0)
			return NULL;
		return pagemap_chunk(m, key, create);
	}
	e = reuse ? reuse : &m->tab[s];
	if (!e->chunk) {
		e->chunk = malloc(m->chunk_size);
		if (!e->chunk)
			return NULL;
		m->used++;
	}
	memset(e->chunk, 0, m->chunk_size);
	e->key = key;
	e->gen = m->gen;
	m->live++;
	m->last = e;
	return e->chunk;
}

void pagemap_clear(struct pagemap *m)
{
	m->gen++;
	m->live = 0;
	m->last = NULL;
	if (m->gen == 0) {
		/* wrapped after 2^32 clears: start over for real */
		for (size_t i = 0; i < m->cap; i++)
			m->tab[i].gen = m->tab[i].gen ? 1 : 0;
		m->gen = 2;
	}
}

static int by_key(const void *a, const void *b)
{
	uint64_t x = (*(struct pagemap_entry *const *)a)->key;
	uint64_t y = (*(struct pagemap_entry *const *)b)->key;

	return x < y ? -1 : x > y;
}

int pagemap_each(struct pagemap *m, int (*fn)(void *ctx, uint64_t key, void *chunk),
		 void *ctx)
{
	struct pagemap_entry **order;
	size_t n = 0;
	int ret = 0;

	if (!m->live)
		return 0;
	order = malloc(m->live * sizeof(*order));
	if (!order) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].gen == m->gen)
			order[n++] = &m->tab[i];
	qsort(order, n, sizeof(*order), by_key);
	for (size_t i = 0; i < n && !ret; i++)
		ret = fn(ctx, order[i]->key, order[i]->chunk);
	free(order);
	return ret;
}
