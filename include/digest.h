/* Digests of machine state that do not depend on how a stream was framed:
 * a RAM block's digest is XXH3-128 over the little-endian XXH3-64 hashes of
 * its final pages (a page never sent counts as zero), so re-sent pages and
 * any page order give the same result, and a raw image of the block (a
 * memory-backend-file) digests to the same value. */
#ifndef MIGBOX_DIGEST_H
#define MIGBOX_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ram.h"

#define DIGEST_HEX_LEN	33	/* 32 hex digits + NUL */

struct digest {
	unsigned char bytes[16];
};

/* Allocates the page-hash table of every block; -1 on ENOMEM. */
int ram_digest_enable(struct ram_list *l, uint32_t page_size);
void ram_digest_page(struct ram_block *b, uint64_t addr, const void *page,
		     uint32_t page_size);
void ram_digest_fill(struct ram_block *b, uint64_t addr, uint8_t fill,
		     uint32_t page_size);
void ram_digest_final(const struct ram_block *b, uint32_t page_size,
		      struct digest *out);
/* The same digest over a raw image read from fd; -1 on a read error. */
int image_digest_fd(int fd, uint32_t page_size, struct digest *out,
		    uint64_t *length);
void digest_hex(const struct digest *d, char hex[DIGEST_HEX_LEN]);

/* A running digest of arbitrary bytes (the non-RAM state). */
struct digest_state;
struct digest_state *digest_state_new(void);
void digest_state_free(struct digest_state *s);
void digest_update(struct digest_state *s, const void *p, size_t n);
void digest_final(struct digest_state *s, struct digest *out);

#endif
