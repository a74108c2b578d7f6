#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ram.h"

int ram_list_add(struct ram_list *l, const char *name, size_t name_len,
		 uint64_t length)
{
	struct ram_block *b;

	if (!name_len || name_len > 255 || !length) {
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
	b = realloc(l->blocks, (l->count + 1) * sizeof(*b));
	if (!b)
		return -1;
	l->blocks = b;
	b = &l->blocks[l->count];
	memset(b, 0, sizeof(*b));
	memcpy(b->name, name, name_len);
	b->name_len = (uint8_t)name_len;
	b->length = length;
	b->index = l->count++;
	l->total += length;
	return 0;
}

struct ram_block *ram_block_find(const struct ram_list *l, const char *name,
				 size_t name_len)
{
	for (uint32_t i = 0; i < l->count; i++) {
		struct ram_block *b = &l->blocks[i];

		if (b->name_len == name_len && !memcmp(b->name, name, name_len))
			return b;
	}
	return NULL;
}

void ram_list_clear(struct ram_list *l)
{
	for (uint32_t i = 0; i < l->count; i++)
		free(l->blocks[i].page_hash);
	free(l->blocks);
	memset(l, 0, sizeof(*l));
}
