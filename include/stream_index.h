/* The index of a saved stream file, for serving its pages out of order:
 * every page's last record (a file saved from a running guest sends pages
 * again), the configuration, the RAM section and the device state, found
 * by one walk over the file mapped in place. */
#ifndef MIGBOX_STREAM_INDEX_H
#define MIGBOX_STREAM_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ram.h"
#include "stream.h"

#define STREAM_INDEX_PAGE_SIZE	4096u
/* the most RAM pages the index holds (1 TiB; a 2 GiB table) */
#define STREAM_INDEX_MAX_PAGES	(1ull << 28)

/* What a stream file holds, for serving it. */
struct stream_index_block {
	const struct ram_block *rb;	/* the reader's block */
	uint64_t pages;
	/* Per page: 0 never sent (zero), STREAM_INDEX_ZERO | fill, or the file offset
	 * of the data of its last PAGE record. */
	uint64_t *page;
};

#define STREAM_INDEX_ZERO		(1ull << 63)

struct stream_index {
	struct stream_index_block *blocks;
	uint32_t nblocks;
	const unsigned char *config;	/* header + configuration, verbatim */
	size_t config_len;
	struct section_info ram;	/* the RAM section's id, idstr, instance, version */
	uint64_t devices_start;		/* the FULL device sections, verbatim: */
	uint64_t devices_end;		/* [start, end) of the file */
	uint32_t devices;
	uint64_t records, repeated;	/* page records, and those a later one replaced */
	uint64_t total_pages;
	bool switchover_start;		/* the saver sent MIG_CMD_SWITCHOVER_START (QEMU 9.2+ machines) */
};

/* The RAM a block list claims is within what can be served (STREAM_INDEX_MAX_PAGES);
 * -1 with err otherwise. */
int stream_index_ram_check(const struct ram_list *l, char err[ERR_LEN]);
/* Walks a stream (an in_buf over the whole mapped file starting at base,
 * see in_init_mapped) and indexes it; refuses by name what a postcopy
 * source cannot serve. -1 with err (naming the offset) otherwise. The index
 * points into the reader and the file: keep both. */
int stream_index_build(struct stream_index *ix, struct stream_reader *r, const unsigned char *base,
		   char err[ERR_LEN]);
void stream_index_free(struct stream_index *ix);

#endif
