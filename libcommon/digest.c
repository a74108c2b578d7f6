// SPDX-License-Identifier: GPL-3.0-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bytes.h"
#include "digest.h"
#include "io.h"

#define CHUNK_SHIFT	6	/* 64 page hashes (512 bytes) per chunk */
#define CHUNK_PAGES	(1u << CHUNK_SHIFT)
#define PAGE_SIZE_MAX	65536

/* The hash of a page filled with one byte, cached per thread for the
 * last page size and fill asked (a stream uses one page size, and QEMU
 * only ever fills with 0). */
static uint64_t fill_hash(uint8_t fill, uint32_t page_size)
{
	static _Thread_local uint64_t hash;
	static _Thread_local uint32_t size;
	static _Thread_local uint8_t byte;
	unsigned char *page;

	if (size == page_size && byte == fill)
		return hash;
	page = malloc(page_size);
	if (!page)
		return 1;	/* not a zero hash: the page still counts */
	memset(page, fill, page_size);
	hash = XXH3_64bits(page, page_size);
	free(page);
	size = page_size;
	byte = fill;
	return hash;
}

int ram_digest_enable(struct ram_list *l)
{
	for (uint32_t i = 0; i < l->count; i++) {
		struct ram_block *b = &l->blocks[i];

		if (b->digest)
			continue;
		b->digest = malloc(sizeof(*b->digest));
		if (!b->digest)
			return -1;
		pagemap_init(b->digest, CHUNK_PAGES * sizeof(uint64_t));
	}
	return 0;
}

/* Records the hash of a page; 0 stands for a zero page. */
static int set_hash(struct ram_block *b, uint64_t page, uint64_t h)
{
	uint64_t *chunk = pagemap_chunk(b->digest, page >> CHUNK_SHIFT, h != 0);

	if (!chunk)
		return h ? -1 : 0;	/* a zero page where none was: nothing to undo */
	chunk[page & (CHUNK_PAGES - 1)] = h;
	return 0;
}

int ram_digest_page(struct ram_block *b, uint64_t addr, const void *page,
		    uint32_t page_size)
{
	uint64_t h = XXH3_64bits(page, page_size);

	return set_hash(b, addr / page_size, h == fill_hash(0, page_size) ? 0 : h);
}

int ram_digest_fill(struct ram_block *b, uint64_t addr, uint8_t fill,
		    uint32_t page_size)
{
	return set_hash(b, addr / page_size, fill ? fill_hash(fill, page_size) : 0);
}

static void put_pair(XXH3_state_t *st, uint64_t page, uint64_t h)
{
	unsigned char le[16];

	for (int k = 0; k < 8; k++) {
		le[k] = (unsigned char)(page >> (8 * k));
		le[8 + k] = (unsigned char)(h >> (8 * k));
	}
	XXH3_128bits_update(st, le, sizeof(le));
}

static void put_count(XXH3_state_t *st, uint64_t pages, struct digest *out)
{
	unsigned char le[8];

	for (int k = 0; k < 8; k++)
		le[k] = (unsigned char)(pages >> (8 * k));
	XXH3_128bits_update(st, le, sizeof(le));
	XXH128_canonicalFromHash((XXH128_canonical_t *)out->bytes, XXH3_128bits_digest(st));
}

static int hash_chunk(void *ctx, uint64_t key, void *chunk)
{
	const uint64_t *h = chunk;

	for (uint32_t i = 0; i < CHUNK_PAGES; i++)
		if (h[i])
			put_pair(ctx, (key << CHUNK_SHIFT) + i, h[i]);
	return 0;
}

int ram_digest_final(const struct ram_block *b, uint32_t page_size,
		     struct digest *out)
{
	XXH3_state_t st;

	XXH3_128bits_reset(&st);
	if (b->digest && pagemap_each(b->digest, hash_chunk, &st) < 0)
		return -1;
	put_count(&st, (b->length + page_size - 1) / page_size, out);
	return 0;
}

int image_digest_fd(int fd, uint32_t page_size, struct digest *out,
		    uint64_t *length)
{
	size_t cap = 1u << 20, used = 0;
	unsigned char *buf;
	uint64_t zero, page = 0, len = 0;
	XXH3_state_t st;
	ssize_t r;

	if (page_size > PAGE_SIZE_MAX || cap % page_size) {
		errno = EINVAL;
		return -1;
	}
	buf = malloc(cap);
	if (!buf)
		return -1;
	zero = fill_hash(0, page_size);
	XXH3_128bits_reset(&st);
	do {
		size_t whole;

		r = read_full(fd, buf + used, cap - used);
		if (r < 0) {
			int e = errno;

			free(buf);
			errno = e;
			return -1;
		}
		used += (size_t)r;
		len += (uint64_t)r;
		whole = used - used % page_size;
		if (r == 0 && used % page_size) {
			memset(buf + used, 0, page_size - used % page_size);
			whole += page_size;
		}
		for (size_t off = 0; off < whole; off += page_size, page++) {
			uint64_t h = XXH3_64bits(buf + off, page_size);

			if (h != zero)
				put_pair(&st, page, h);
		}
		memmove(buf, buf + whole, used - (whole < used ? whole : used));
		used = whole < used ? used - whole : 0;
	} while (r > 0);
	free(buf);
	put_count(&st, page, out);
	*length = len;
	return 0;
}

void digest_hex(const struct digest *d, char hex[DIGEST_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		hex[2 * i] = digits[d->bytes[i] >> 4];
		hex[2 * i + 1] = digits[d->bytes[i] & 15];
	}
	hex[32] = 0;
}

struct digest_state {
	XXH3_state_t st;
};

struct digest_state *digest_state_new(void)
{
	struct digest_state *s = malloc(sizeof(*s));

	if (s)
		XXH3_128bits_reset(&s->st);
	return s;
}

void digest_state_free(struct digest_state *s)
{
	free(s);
}

void digest_update(struct digest_state *s, const void *p, size_t n)
{
	XXH3_128bits_update(&s->st, p, n);
}

void digest_update_be32(struct digest_state *s, uint32_t v)
{
	unsigned char b[4];

	put_be32(b, v);
	digest_update(s, b, sizeof(b));
}

void digest_update_be64(struct digest_state *s, uint64_t v)
{
	unsigned char b[8];

	put_be64(b, v);
	digest_update(s, b, sizeof(b));
}

void digest_final(struct digest_state *s, struct digest *out)
{
	XXH128_canonicalFromHash((XXH128_canonical_t *)out->bytes,
				 XXH3_128bits_digest(&s->st));
}
