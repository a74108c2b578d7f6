/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What a stream sent of each page of its RAM blocks: nothing, one ZERO
 * record, one PAGE record, or more than one record. For a map of a
 * stream's RAM (stream-dump --map).
 *
 * Two bits a page in a sparse pagemap (256 pages a chunk): memory follows
 * the page records a stream carried (about half a byte a page when they
 * come in runs, up to about 180 bytes a record when each falls alone in
 * its 256 pages), never the RAM size the block list claims. */
#ifndef MIGBOX_SENDMAP_H
#define MIGBOX_SENDMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "pagemap.h"
#include "ram.h"

/* In the order a tie between them is decided: the later one wins. */
enum page_class {
	PAGE_NEVER,		/* no record */
	PAGE_ZERO,		/* one ZERO record */
	PAGE_ONCE,		/* one PAGE record */
	PAGE_RESENT,		/* two records or more, of either kind */
	PAGE_CLASSES
};

struct sendmap_block {
	struct pagemap classes;		/* 2 bits a page: enum page_class */
	uint64_t pages;			/* in the block */
	uint64_t count[PAGE_CLASSES];	/* pages of each class */
	uint64_t records;		/* ZERO and PAGE records, saturating */
};

struct sendmap {
	struct sendmap_block *blocks;	/* by ram_block.index */
	uint32_t count;
	uint32_t page_size;
};

/* A map of the blocks of l, whose lengths the stream reader checked (page
 * multiples, at most 4096 blocks). -1 on ENOMEM. */
int sendmap_init(struct sendmap *m, const struct ram_list *l, uint32_t page_size);
void sendmap_free(struct sendmap *m);
/* A ZERO (zero true) or PAGE record for the page at addr of b. -1 on
 * ENOMEM, or EINVAL for a block or page the map does not have. */
int sendmap_note(struct sendmap *m, const struct ram_block *b, uint64_t addr,
		 bool zero);
/* Records beyond the first of each page. */
uint64_t sendmap_resends(const struct sendmap_block *sb);
/* Pages a cell stands for when a block of `pages` has at most max_cells
 * cells (at least 1), and how many cells that makes. */
uint64_t sendmap_scale(uint64_t pages, uint64_t max_cells, uint64_t *cells);
/* What a cell shows of the pages it stands for. */
enum cell_rule {
	CELL_MAJORITY,		/* the class most of them have */
	CELL_RAREST,		/* of the classes they have, the one with the
				 * fewest pages in the whole block: one page
				 * of a rare class is never outvoted */
};

/* The class of each cell of pages_per_cell pages (the last one may have
 * fewer) into cells[], which holds as many as sendmap_scale() said, by
 * rule; a tie goes to the later class. -1 on ENOMEM. */
int sendmap_cells(struct sendmap_block *sb, uint64_t pages_per_cell, enum cell_rule rule,
		  uint8_t *cells);

#endif
