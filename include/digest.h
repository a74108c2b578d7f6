/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Digests of machine state that do not depend on how a stream was framed.
 *
 * A RAM block's digest is XXH3-128 over, for every page of its final image
 * that is not all zero, in ascending order, the page number and the XXH3-64
 * of the page (each a little-endian u64), followed by the block's page
 * count. Re-sent pages, page order and zero pages sent or not give the same
 * digest, a raw image of the block (a memory-backend-file) digests to the
 * same value, and the work follows the pages a stream carried, not the RAM
 * its block list claims. */
#ifndef MIGBOX_DIGEST_H
#define MIGBOX_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ram.h"

#define DIGEST_HEX_LEN	33	/* 32 hex digits + NUL */

struct digest {
	unsigned char bytes[16];
};

/* Gives every block of the list an (empty) page-hash table; -1 on ENOMEM. */
int ram_digest_enable(struct ram_list *l);
/* The final content of a page: its data, or every byte `fill`. -1 on
 * ENOMEM. */
int ram_digest_page(struct ram_block *b, uint64_t addr, const void *page,
		    uint32_t page_size);
int ram_digest_fill(struct ram_block *b, uint64_t addr, uint8_t fill,
		    uint32_t page_size);
/* -1 on ENOMEM. */
int ram_digest_final(const struct ram_block *b, uint32_t page_size,
		     struct digest *out);
/* The same digest over a raw image read from fd; -1 on a read error
 * (errno). A short last page counts as padded with zeros. */
int image_digest_fd(int fd, uint32_t page_size, struct digest *out,
		    uint64_t *length);
void digest_hex(const struct digest *d, char hex[DIGEST_HEX_LEN]);

/* A running digest of arbitrary bytes (the non-RAM state). Integers go in
 * big-endian, whatever the host's byte order. */
struct digest_state;
struct digest_state *digest_state_new(void);
void digest_state_free(struct digest_state *s);
void digest_update(struct digest_state *s, const void *p, size_t n);
void digest_update_be32(struct digest_state *s, uint32_t v);
void digest_update_be64(struct digest_state *s, uint64_t v);
void digest_final(struct digest_state *s, struct digest *out);

#endif
