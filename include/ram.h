/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The guest's RAM blocks as the stream's MEM_SIZE record lists them, with
 * a hashed name index: a stream names a block in every page record that
 * does not CONTINUE, so lookups must not cost the number of blocks. */
#ifndef MIGBOX_RAM_H
#define MIGBOX_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pagemap.h"

#define RAM_BLOCKS_MAX	4096
#define RAM_NAME_MAX	255

struct ram_block {
	char name[RAM_NAME_MAX + 1];
	uint8_t name_len;
	uint64_t length;	/* used_length in bytes, a page multiple */
	uint32_t index;		/* position in the list */
	/* What the stream carried for this block. */
	uint64_t page_records;
	uint64_t zero_records;
	uint64_t page_bytes;
	/* Per-page hashes of the final image, when digesting (digest.h). */
	struct pagemap *digest;
	void *user;		/* for the applet that owns the list */
};

struct ram_list {
	struct ram_block *blocks;
	uint32_t count;
	uint32_t cap;
	uint64_t total;		/* sum of lengths */
	uint16_t *by_name;	/* hash slots: block index + 1, 0 empty */
};

/* Appends a block; -1 (errno EEXIST, EINVAL, E2BIG, ENOMEM) when the name
 * is taken or empty, the length is zero, or the list is full. Pointers to
 * blocks stay valid until the next add. */
int ram_list_add(struct ram_list *l, const char *name, size_t name_len,
		 uint64_t length);
struct ram_block *ram_block_find(const struct ram_list *l, const char *name,
				 size_t name_len);
void ram_list_clear(struct ram_list *l);

/* A set of pages of a list's blocks, as sparse as the pages put in it:
 * e.g. the pages sent since the last sync point. Clearing is O(1). */
struct ram_pageset {
	struct pagemap map;
};

void ram_pageset_init(struct ram_pageset *s);
void ram_pageset_free(struct ram_pageset *s);
/* Adds the page at addr of b: 1 if it was in already, 0 if not, -1 on
 * ENOMEM. */
int ram_pageset_add(struct ram_pageset *s, const struct ram_block *b, uint64_t addr,
		    uint32_t page_size);
/* Adds every page of b that [addr, addr + len) overlaps, whole bitmap
 * words at a time (addr + len must not wrap): a fill of gigabytes costs
 * one lookup per 512 pages. -1 on ENOMEM (the pages before it are in). */
int ram_pageset_add_range(struct ram_pageset *s, const struct ram_block *b, uint64_t addr,
			  uint64_t len, uint32_t page_size);
bool ram_pageset_has(struct ram_pageset *s, const struct ram_block *b, uint64_t addr,
		     uint32_t page_size);
void ram_pageset_clear(struct ram_pageset *s);

/* Every byte of the n-byte page p is b: a page of
 * zeros, or of one repeated byte (what QEMU sends as ZERO or COMPRESS). */
bool page_is_all(const unsigned char *p, size_t n, unsigned char b);

static inline bool page_is_zero(const unsigned char *p, size_t n)
{
	return page_is_all(p, n, 0);
}

#endif
