// SPDX-License-Identifier: GPL-3.0-or-later
/* The index of a saved stream file (stream_index.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "stream_index.h"

int stream_index_ram_check(const struct ram_list *l, char err[ERR_LEN])
{
	uint64_t pages = 0;

	/* 8 bytes a page: a claim beyond that is refused before any table */
	for (uint32_t i = 0; i < l->count; i++)
		pages += l->blocks[i].length / STREAM_INDEX_PAGE_SIZE;
	if (pages > STREAM_INDEX_MAX_PAGES)
		return err_set(err, "the stream's RAM blocks claim %llu pages; postcopy-serve serves "
			      "at most %llu (%llu GiB of RAM)", (unsigned long long)pages,
			      (unsigned long long)STREAM_INDEX_MAX_PAGES,
			      (unsigned long long)(STREAM_INDEX_MAX_PAGES * STREAM_INDEX_PAGE_SIZE >> 30));
	return 0;
}

static int index_blocks(struct stream_index *ix, struct stream_reader *r, char err[ERR_LEN])
{
	const struct ram_list *l = stream_ram(r);
	const struct mapped_ram_block *mapped = stream_mapped_ram(r);

	if (stream_index_ram_check(l, err) < 0)
		return -1;
	ix->blocks = calloc(l->count, sizeof(*ix->blocks));
	if (!ix->blocks)
		return err_set(err, "out of memory for %u blocks", l->count);
	ix->nblocks = l->count;
	for (uint32_t i = 0; i < l->count; i++) {
		struct stream_index_block *b = &ix->blocks[i];

		b->rb = &l->blocks[i];
		b->pages = l->blocks[i].length / STREAM_INDEX_PAGE_SIZE;
		ix->total_pages += b->pages;
		if (mapped) {
			/* the reader's bitmap is the table: nothing to walk */
			b->mapped = &mapped[i];
			ix->records += mapped[i].stored;
			continue;
		}
		/* the per-page table follows what the stream claims: map it
		 * lazily, so a claim costs nothing until pages are indexed */
		b->page = calloc(b->pages, sizeof(*b->page));
		if (!b->page)
			return err_set(err, "out of memory indexing RAM block '%s' (%llu pages)",
				      b->rb->name, (unsigned long long)b->pages);
	}
	return 0;
}

#define PREFETCH_RECORDS	8

static int index_page(struct stream_index *ix, const struct stream_item *it, const unsigned char *base)
{
	struct stream_index_block *b = &ix->blocks[it->block->index];
	uint64_t *e = &b->page[it->addr / STREAM_INDEX_PAGE_SIZE];

	/* The walk waits on memory: each header is on another page. Runs of
	 * data pages are the common case; fetching the header a few records
	 * ahead lets the loads overlap (a prefetch never faults). */
	if (it->type == SI_RAM_PAGE)
		__builtin_prefetch(it->data + STREAM_INDEX_PAGE_SIZE + PREFETCH_RECORDS * (8 + STREAM_INDEX_PAGE_SIZE));
	if (*e)
		ix->repeated++;
	ix->records++;
	*e = it->type == SI_RAM_ZERO ? STREAM_INDEX_ZERO | it->fill : (uint64_t)(it->data - base);
	return 0;
}

/* What a postcopy source of this stream cannot be, by name. */
static int refuse_item(const struct stream_item *it, char err[ERR_LEN])
{
	if (it->type == SI_SECTION && it->section->kind == SECTION_KIND_VFIO)
		return err_set(err, "offset %llu: vfio device '%s' is iterable: postcopy-serve serves RAM and non-iterable device state only",
			      (unsigned long long)it->offset, it->section->idstr);
	if (it->type == SI_COMMAND && it->cmd == MIG_CMD_PACKAGED)
		return err_set(err, "offset %llu: a PACKAGED command: this stream came from a postcopy migration itself, not a saved one",
			      (unsigned long long)it->offset);
	return 0;
}

/* Whom to tell that the pages are walked next. */
struct walk_hook {
	void (*walking)(void *ctx);
	void *ctx;
};

static int index_item(struct stream_index *ix, struct stream_reader *r, const struct stream_item *it,
		      const unsigned char *base, const struct walk_hook *walk, char err[ERR_LEN])
{
	if (refuse_item(it, err) < 0)
		return -1;
	switch (it->type) {
	case SI_CONFIG:
		ix->config = base;	/* the header, then the configuration */
		ix->config_len = it->end_offset;
		return 0;
	case SI_SECTION:
		if (it->section->kind == SECTION_KIND_RAM)
			ix->ram = *it->section;
		if (it->section_type == QEMU_VM_SECTION_FULL) {
			if (!ix->devices)
				ix->devices_start = it->offset;
			ix->devices++;
		}
		return 0;
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(r) != STREAM_INDEX_PAGE_SIZE)
			return err_set(err, "offset %llu: target page size %u: postcopy-serve serves %u-byte pages only",
				      (unsigned long long)it->offset, stream_page_size(r), STREAM_INDEX_PAGE_SIZE);
		if (index_blocks(ix, r, err) < 0)
			return -1;
		if (!stream_mapped_ram(r) && walk->walking)
			walk->walking(walk->ctx);
		return 0;
	case SI_RAM_PAGE:
	case SI_RAM_ZERO:
		/* the reader skips a mapped-ram file's pages, and refuses records */
		if (ix->blocks[it->block->index].mapped)
			return err_set(err, "offset %llu: a page record in a mapped-ram file",
				      (unsigned long long)it->offset);
		return index_page(ix, it, base);
	case SI_FOOTER:
		if (it->section->kind == SECTION_KIND_OPAQUE)
			ix->devices_end = it->end_offset;
		return 0;
	case SI_COMMAND:
		if (it->cmd == MIG_CMD_SWITCHOVER_START)
			ix->switchover_start = true;
		return 0;
	default:
		return 0;
	}
}

int stream_index_build(struct stream_index *ix, struct stream_reader *r, const unsigned char *base,
		       void (*walking)(void *ctx), void *ctx, char err[ERR_LEN])
{
	const struct walk_hook walk = { walking, ctx };
	struct stream_item it;
	int ret;

	memset(ix, 0, sizeof(*ix));
	/* a mapped-ram file's pages are where its bitmap says: not walked */
	stream_reader_mapped_pages(r, STREAM_MAPPED_PAGES_SKIP);
	while ((ret = stream_next(r, &it)) > 0) {
		/* the device state is sent whole, verbatim: nothing of RAM
		 * may lie inside it */
		if (ix->devices && it.section && it.section->kind == SECTION_KIND_RAM)
			return err_set(err, "offset %llu: RAM after device state: postcopy-serve sends the device state in one piece",
				      (unsigned long long)it.offset);
		if (it.type != SI_HEADER && index_item(ix, r, &it, base, &walk, err) < 0)
			return -1;
	}
	if (ret < 0)
		return err_set(err, "%s", stream_error(r));
	if (!ix->config)
		return err_set(err, "no configuration section: QEMU 7.2 wants one first");
	ix->mapped_ram = stream_mapped_ram(r) != NULL;
	if (!ix->nblocks)
		return err_set(err, "no RAM block list (MEM_SIZE): nothing to serve");
	if (!ix->devices)
		return err_set(err, "no device state (FULL sections): a destination could not run");
	if (ix->devices_end < ix->devices_start)
		return err_set(err, "offset %llu: the device state has no section footer: where it ends is unknown",
			      (unsigned long long)ix->devices_start);
	return 0;
}

void stream_index_free(struct stream_index *ix)
{
	for (uint32_t i = 0; ix->blocks && i < ix->nblocks; i++)
		free(ix->blocks[i].page);
	free(ix->blocks);
	memset(ix, 0, sizeof(*ix));
}
