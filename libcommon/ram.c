// SPDX-License-Identifier: GPL-3.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ram.h"

/* Twice the most blocks, a power of two: probes stay short. */
#define NAME_SLOTS	(2 * RAM_BLOCKS_MAX)

static size_t name_slot(const char *name, size_t len)
{
	return (size_t)XXH3_64bits(name, len) & (NAME_SLOTS - 1);
}

int ram_list_add(struct ram_list *l, const char *name, size_t name_len,
		 uint64_t length)
{
	struct ram_block *b;
	size_t s;

	if (!name_len || name_len > RAM_NAME_MAX || !length) {
		errno = EINVAL;
		return -1;
	}
	if (ram_block_find(l, name, name_len)) {
		errno = EEXIST;
		return -1;
	}
	if (l->count >= RAM_BLOCKS_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (!l->by_name) {
		l->by_name = calloc(NAME_SLOTS, sizeof(*l->by_name));
		if (!l->by_name)
			return -1;
	}
	if (l->count == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 8;

		b = realloc(l->blocks, cap * sizeof(*b));
		if (!b)
			return -1;
		l->blocks = b;
		l->cap = cap;
	}
	b = &l->blocks[l->count];
	memset(b, 0, sizeof(*b));
	memcpy(b->name, name, name_len);
	b->name_len = (uint8_t)name_len;
	b->length = length;
	b->index = l->count++;
	l->total += length;
	for (s = name_slot(name, name_len); l->by_name[s]; s = (s + 1) & (NAME_SLOTS - 1))
		;
	l->by_name[s] = (uint16_t)(b->index + 1);
	return 0;
}

struct ram_block *ram_block_find(const struct ram_list *l, const char *name,
				 size_t name_len)
{
	if (!l->by_name || !name_len || name_len > RAM_NAME_MAX)
		return NULL;
	for (size_t s = name_slot(name, name_len); l->by_name[s]; s = (s + 1) & (NAME_SLOTS - 1)) {
		struct ram_block *b = &l->blocks[l->by_name[s] - 1];

		if (b->name_len == name_len && !memcmp(b->name, name, name_len))
			return b;
	}
	return NULL;
}

void ram_list_clear(struct ram_list *l)
{
	for (uint32_t i = 0; i < l->count; i++) {
		if (l->blocks[i].digest) {
			pagemap_free(l->blocks[i].digest);
			free(l->blocks[i].digest);
		}
	}
	free(l->blocks);
	free(l->by_name);
	memset(l, 0, sizeof(*l));
}

/* 512 pages a chunk (64 bytes); the key holds the block's index above
 * any page number of a 64-bit address space of 4 KiB pages. */
#define PAGESET_SHIFT	9

void ram_pageset_init(struct ram_pageset *s)
{
	pagemap_init(&s->map, (1u << PAGESET_SHIFT) / 8);
}

void ram_pageset_free(struct ram_pageset *s)
{
	pagemap_free(&s->map);
}

int ram_pageset_add(struct ram_pageset *s, const struct ram_block *b, uint64_t addr,
		    uint32_t page_size)
{
	uint64_t page = addr / page_size;
	uint64_t key = (uint64_t)b->index << 52 | page >> PAGESET_SHIFT;
	unsigned int bit = (unsigned int)(page & ((1u << PAGESET_SHIFT) - 1));
	uint64_t *chunk = pagemap_chunk(&s->map, key, true);
	uint64_t mask = 1ull << (bit % 64);

	if (!chunk)
		return -1;
	if (chunk[bit / 64] & mask)
		return 1;
	chunk[bit / 64] |= mask;
	return 0;
}

/* Sets n bits of the bitmap w from bit on, a word at a time. */
static void bits_set(uint64_t *w, unsigned int bit, unsigned int n)
{
	while (n) {
		unsigned int in_word = bit % 64, k = n < 64 - in_word ? n : 64 - in_word;

		w[bit / 64] |= (k == 64 ? ~0ull : (1ull << k) - 1) << in_word;
		bit += k;
		n -= k;
	}
}

int ram_pageset_add_range(struct ram_pageset *s, const struct ram_block *b, uint64_t addr,
			  uint64_t len, uint32_t page_size)
{
	uint64_t page = addr / page_size, end;

	if (!len)
		return 0;
	end = (addr + len - 1) / page_size + 1;
	while (page < end) {
		unsigned int bit = (unsigned int)(page & ((1u << PAGESET_SHIFT) - 1));
		uint64_t n = end - page < (1u << PAGESET_SHIFT) - bit ? end - page : (1u << PAGESET_SHIFT) - bit;
		uint64_t *chunk = pagemap_chunk(&s->map, (uint64_t)b->index << 52 | page >> PAGESET_SHIFT,
						true);

		if (!chunk)
			return -1;
		bits_set(chunk, bit, (unsigned int)n);
		page += n;
	}
	return 0;
}

bool ram_pageset_has(struct ram_pageset *s, const struct ram_block *b, uint64_t addr,
		     uint32_t page_size)
{
	uint64_t page = addr / page_size;
	uint64_t *chunk = pagemap_chunk(&s->map, (uint64_t)b->index << 52 | page >> PAGESET_SHIFT, false);
	unsigned int bit = (unsigned int)(page & ((1u << PAGESET_SHIFT) - 1));

	return chunk && (chunk[bit / 64] & (1ull << (bit % 64)));
}

void ram_pageset_clear(struct ram_pageset *s)
{
	pagemap_clear(&s->map);
}

bool page_is_all(const unsigned char *p, size_t n, unsigned char b)
{
	uint64_t want = 0x0101010101010101ull * b, w[8];
	size_t i = 0;

	/* 64 bytes a step: the compiler vectorises the OR */
	for (; i + sizeof(w) <= n; i += sizeof(w)) {
		memcpy(w, p + i, sizeof(w));
		if ((w[0] ^ want) | (w[1] ^ want) | (w[2] ^ want) | (w[3] ^ want) |
		    (w[4] ^ want) | (w[5] ^ want) | (w[6] ^ want) | (w[7] ^ want))
			return false;
	}
	for (; i < n; i++)
		if (p[i] != b)
			return false;
	return true;
}
