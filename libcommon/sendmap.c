// SPDX-License-Identifier: GPL-3.0-or-later
/* Per-page send classes of RAM blocks, sparse; cells for drawing them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sendmap.h"

#define CHUNK_SHIFT	8		/* 256 pages, 64 bytes a chunk */
#define CHUNK_PAGES	(1u << CHUNK_SHIFT)
#define WORD_PAGES	32u		/* 2 bits a page in a u64 */
#define CHUNK_WORDS	(CHUNK_PAGES / WORD_PAGES)

int sendmap_init(struct sendmap *m, const struct ram_list *l, uint32_t page_size)
{
	memset(m, 0, sizeof(*m));
	m->page_size = page_size;
	if (!l->count)
		return 0;
	m->blocks = calloc(l->count, sizeof(*m->blocks));
	if (!m->blocks)
		return -1;
	m->count = l->count;
	for (uint32_t i = 0; i < l->count; i++) {
		struct sendmap_block *sb = &m->blocks[i];

		pagemap_init(&sb->classes, CHUNK_WORDS * sizeof(uint64_t));
		sb->pages = l->blocks[i].length / page_size;
		sb->count[PAGE_NEVER] = sb->pages;
	}
	return 0;
}

void sendmap_free(struct sendmap *m)
{
	for (uint32_t i = 0; i < m->count; i++)
		pagemap_free(&m->blocks[i].classes);
	free(m->blocks);
	memset(m, 0, sizeof(*m));
}

int sendmap_note(struct sendmap *m, const struct ram_block *b, uint64_t addr, bool zero)
{
	struct sendmap_block *sb;
	uint64_t page = addr / m->page_size, *word;
	unsigned int shift;
	enum page_class was, now;

	if (b->index >= m->count || page >= m->blocks[b->index].pages) {
		errno = EINVAL;
		return -1;
	}
	sb = &m->blocks[b->index];
	word = pagemap_chunk(&sb->classes, page >> CHUNK_SHIFT, true);
	if (!word)
		return -1;
	word += (page % CHUNK_PAGES) / WORD_PAGES;
	shift = (unsigned int)(page % WORD_PAGES) * 2;
	was = (enum page_class)((*word >> shift) & 3);
	/* re-sent is where a page stays: a count that wrapped would call a
	 * page sent four times never sent */
	now = was != PAGE_NEVER ? PAGE_RESENT : zero ? PAGE_ZERO : PAGE_ONCE;
	*word = (*word & ~(3ull << shift)) | (uint64_t)now << shift;
	sb->count[was]--;
	sb->count[now]++;
	if (sb->records != UINT64_MAX)
		sb->records++;
	return 0;
}

uint64_t sendmap_resends(const struct sendmap_block *sb)
{
	uint64_t sent = sb->pages - sb->count[PAGE_NEVER];

	return sb->records > sent ? sb->records - sent : 0;
}

uint64_t sendmap_scale(uint64_t pages, uint64_t max_cells, uint64_t *cells)
{
	uint64_t per_cell;

	if (!max_cells)
		max_cells = 1;
	per_cell = pages / max_cells + (pages % max_cells != 0);
	if (!per_cell)
		per_cell = 1;
	*cells = pages / per_cell + (pages % per_cell != 0);
	return per_cell;
}

/* The pages of a block in ascending order, counted cell by cell: only the
 * pages sent are visited, the rest of a cell is never sent. */
struct cell_walk {
	const struct sendmap_block *sb;
	enum cell_rule rule;
	uint64_t pages, per_cell;
	uint8_t *cells;
	uint64_t cur;			/* the cell being counted */
	uint64_t n[PAGE_CLASSES];	/* its pages by class */
};

static void close_cell(struct cell_walk *w)
{
	uint64_t first = w->cur * w->per_cell;
	uint64_t len = w->pages - first < w->per_cell ? w->pages - first : w->per_cell;
	int best = PAGE_NEVER;

	w->n[PAGE_NEVER] = len - w->n[PAGE_ZERO] - w->n[PAGE_ONCE] - w->n[PAGE_RESENT];
	if (w->rule == CELL_RAREST) {
		best = -1;
		for (int c = PAGE_NEVER; c < PAGE_CLASSES; c++)
			if (w->n[c] && (best < 0 || w->sb->count[c] <= w->sb->count[best]))
				best = c;
	} else {
		for (int c = PAGE_NEVER + 1; c < PAGE_CLASSES; c++)
			if (w->n[c] >= w->n[best])
				best = c;
	}
	w->cells[w->cur++] = (uint8_t)best;
	memset(w->n, 0, sizeof(w->n));
}

static int walk_chunk(void *ctx, uint64_t key, void *chunk)
{
	struct cell_walk *w = ctx;
	const uint64_t *words = chunk;

	for (unsigned int i = 0; i < CHUNK_WORDS; i++) {
		for (uint64_t v = words[i]; v; ) {
			unsigned int shift = (unsigned int)__builtin_ctzll(v) & ~1u;
			uint64_t page = (key << CHUNK_SHIFT) + i * WORD_PAGES + shift / 2;

			while (w->cur < page / w->per_cell)
				close_cell(w);
			w->n[(v >> shift) & 3]++;
			v &= ~(3ull << shift);
		}
	}
	return 0;
}

int sendmap_cells(struct sendmap_block *sb, uint64_t pages_per_cell, enum cell_rule rule,
		  uint8_t *cells)
{
	struct cell_walk w = { .sb = sb, .rule = rule, .pages = sb->pages,
			       .per_cell = pages_per_cell, .cells = cells };
	uint64_t ncells;

	if (!pages_per_cell) {
		errno = EINVAL;
		return -1;
	}
	ncells = sb->pages / pages_per_cell + (sb->pages % pages_per_cell != 0);
	if (pagemap_each(&sb->classes, walk_chunk, &w) < 0)
		return -1;
	while (w.cur < ncells)
		close_cell(&w);
	return 0;
}
