/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The index of a saved stream file, for serving its pages out of order:
 * every page's last record (a file saved from a running guest sends pages
 * again), the configuration, the RAM section and the device state, found
 * by one walk over the file mapped in place. A mapped-ram file has every
 * page at a fixed offset already: its pages are not walked, their lookup
 * is the reader's bitmap. */
#ifndef MIGBOX_STREAM_INDEX_H
#define MIGBOX_STREAM_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mapped_ram.h"
#include "ram.h"
#include "stream.h"

#define STREAM_INDEX_PAGE_SIZE	4096u
/* the most RAM pages the index holds (1 TiB; a 2 GiB table) */
#define STREAM_INDEX_MAX_PAGES	(1ull << 28)

/* What a stream file holds, for serving it. */
struct stream_index_block {
	const struct ram_block *rb;	/* the reader's block */
	uint64_t pages;
	/* A stream, per page: 0 never sent (zero), STREAM_INDEX_ZERO | fill,
	 * or the file offset of the data of its last PAGE record. */
	uint64_t *page;
	/* A mapped-ram file instead: the reader's layout of the block */
	const struct mapped_ram_block *mapped;
};

#define STREAM_INDEX_ZERO		(1ull << 63)

/* Page p of block b: the file offset of its data, or 0 for a page whose
 * bytes are all *fill (0 for one never sent or not stored). */
static inline uint64_t stream_index_page(const struct stream_index_block *b, uint64_t p,
					 uint8_t *fill)
{
	uint64_t e;

	*fill = 0;
	if (b->mapped)
		return mapped_ram_stored(b->mapped, p) ?
		       b->mapped->pages_offset + p * STREAM_INDEX_PAGE_SIZE : 0;
	e = b->page[p];
	if (e & STREAM_INDEX_ZERO) {
		*fill = (uint8_t)e;
		return 0;
	}
	return e;
}

struct stream_index {
	struct stream_index_block *blocks;
	uint32_t nblocks;
	/* header + configuration, verbatim; a mapped-ram file's names the
	 * capability, which a plain stream must not (see mapped_ram below:
	 * stream_write_config_from() re-encodes it without) */
	const unsigned char *config;
	size_t config_len;
	struct section_info ram;	/* the RAM section's id, idstr, instance, version */
	uint64_t devices_start;		/* the FULL device sections, verbatim: */
	uint64_t devices_end;		/* [start, end) of the file */
	uint32_t devices;
	/* page records, and those a later one replaced; a mapped-ram
	 * file's stored pages, none replaced */
	uint64_t records, repeated;
	uint64_t total_pages;
	bool mapped_ram;		/* a mapped-ram file: config names the capability */
	bool switchover_start;		/* the saver sent MIG_CMD_SWITCHOVER_START (QEMU 9.2+ machines) */
};

/* The RAM a block list claims is within what can be served (STREAM_INDEX_MAX_PAGES);
 * -1 with err otherwise. */
int stream_index_ram_check(const struct ram_list *l, char err[ERR_LEN]);
/* Walks a stream (an in_buf over the whole mapped file starting at base,
 * see in_init_mapped) and indexes it; refuses by name what a postcopy
 * source cannot serve. -1 with err (naming the offset) otherwise. The
 * reader skips a mapped-ram file's pages (STREAM_MAPPED_PAGES_SKIP); of
 * another stream, whose every page the walk touches, walking(ctx) is
 * called (if set) once the block list is read, before the pages: the
 * moment to prefault the file. The index points into the reader and the
 * file: keep both. */
int stream_index_build(struct stream_index *ix, struct stream_reader *r, const unsigned char *base,
		       void (*walking)(void *ctx), void *ctx, char err[ERR_LEN]);
void stream_index_free(struct stream_index *ix);

#endif
