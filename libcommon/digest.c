#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "digest.h"
#include "io.h"

/* Page hashes of 0 mean "never written": the page is zero. A real hash of
 * 0 (odds 2^-64) would read as a zero page; acceptable for a digest. */
static uint64_t fill_hash(uint8_t fill, uint32_t page_size)
{
	static uint64_t cache[256];
	static uint32_t cached_size[256];
	unsigned char page[65536];

	if (cached_size[fill] == page_size)
		return cache[fill];
	memset(page, fill, page_size);
	cache[fill] = XXH3_64bits(page, page_size);
	cached_size[fill] = page_size;
	return cache[fill];
}

int ram_digest_enable(struct ram_list *l, uint32_t page_size)
{
	for (uint32_t i = 0; i < l->count; i++) {
		struct ram_block *b = &l->blocks[i];
		uint64_t pages = (b->length + page_size - 1) / page_size;

		if (b->page_hash)
			continue;
		b->page_hash = calloc(pages, sizeof(uint64_t));
		if (!b->page_hash)
			return -1;
	}
	return 0;
}

void ram_digest_page(struct ram_block *b, uint64_t addr, const void *page,
		     uint32_t page_size)
{
	b->page_hash[addr / page_size] = XXH3_64bits(page, page_size);
}

void ram_digest_fill(struct ram_block *b, uint64_t addr, uint8_t fill,
		     uint32_t page_size)
{
	b->page_hash[addr / page_size] = fill ? fill_hash(fill, page_size) : 0;
}

void ram_digest_final(const struct ram_block *b, uint32_t page_size,
		      struct digest *out)
{
	uint64_t pages = (b->length + page_size - 1) / page_size;
	uint64_t zero = fill_hash(0, page_size);
	XXH3_state_t st;
	unsigned char chunk[4096];
	size_t n = 0;

	XXH3_128bits_reset(&st);
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t h = b->page_hash ? b->page_hash[i] : 0;

		if (!h)
			h = zero;
		for (int k = 0; k < 8; k++)
			chunk[n++] = (unsigned char)(h >> (8 * k));
		if (n == sizeof(chunk)) {
			XXH3_128bits_update(&st, chunk, n);
			n = 0;
		}
	}
	XXH3_128bits_update(&st, chunk, n);
	XXH128_canonicalFromHash((XXH128_canonical_t *)out->bytes,
				 XXH3_128bits_digest(&st));
}

int image_digest_fd(int fd, uint32_t page_size, struct digest *out,
		    uint64_t *length)
{
	struct ram_block b = { .length = 0 };
	size_t cap = 1 << 20, used = 0;
	unsigned char *buf = malloc(cap);
	uint64_t *hashes = NULL;
	size_t nhash = 0, hcap = 0;
	ssize_t r;

	if (!buf)
		return -1;
	/* Hash page by page; a short last page is padded with zeros. */
	for (;;) {
		r = read_full(fd, buf + used, cap - used);
		if (r < 0)
			goto fail;
		used += (size_t)r;
		b.length += (uint64_t)r;
		size_t whole = r == 0 ? used : used - used % page_size;
		if (r == 0 && whole % page_size) {
			memset(buf + whole, 0, page_size - whole % page_size);
			whole += page_size - whole % page_size;
		}
		for (size_t off = 0; off < whole; off += page_size) {
			if (nhash == hcap) {
				uint64_t *h;

				hcap = hcap ? hcap * 2 : 4096;
				h = realloc(hashes, hcap * sizeof(*h));
				if (!h)
					goto fail;
				hashes = h;
			}
			hashes[nhash++] = XXH3_64bits(buf + off, page_size);
		}
		if (r == 0)
			break;
		memmove(buf, buf + whole, used - whole);
		used -= whole;
	}
	b.page_hash = hashes;
	ram_digest_final(&b, page_size, out);
	*length = b.length;
	free(hashes);
	free(buf);
	return 0;
fail:
	free(hashes);
	free(buf);
	return -1;
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

void digest_final(struct digest_state *s, struct digest *out)
{
	XXH128_canonicalFromHash((XXH128_canonical_t *)out->bytes,
				 XXH3_128bits_digest(&s->st));
}
