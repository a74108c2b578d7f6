/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mapped-ram: QEMU's fixed-offset save format (QEMU 9.0+, "migrate file:"
 * with the mapped-ram capability). The stream is the usual one, except
 * that each RAM block's entry in the MEM_SIZE list is followed by a
 * header, and the block's pages sit in the file at fixed offsets:
 *
 *   entry: u8 len, name, be64 length
 *   header (28 bytes, packed): be32 version (1), be64 page size,
 *          be64 bitmap offset, be64 pages offset
 *   bitmap: one bit a page, set when the page is stored, in 64-bit words
 *           of the saving host's order (little-endian: x86-64)
 *   pages:  page i at pages offset + i x page size; a page not stored
 *           (its bit clear) is zero
 *
 * The next block's entry follows the last byte of the block's pages (the
 * file has a hole in between); after the last block the stream goes on.
 * Offsets are file offsets. Page records are invalid in such a stream: the
 * pages are only in the regions. */
#ifndef MIGBOX_MAPPED_RAM_H
#define MIGBOX_MAPPED_RAM_H

#include <stdbool.h>
#include <stdint.h>

#include "ram.h"

#define MAPPED_RAM_CAPABILITY	"mapped-ram"
#define MAPPED_RAM_VERSION	1
#define MAPPED_RAM_HEADER_SIZE	28
/* QEMU puts each block's pages at a MiB boundary (O_DIRECT friendly);
 * a reader needs only page alignment */
#define MAPPED_RAM_ALIGN	(1u << 20)

/* Where one block's bitmap and pages are, and the bitmap itself. */
struct mapped_ram_block {
	uint64_t entry_offset;		/* of the block's u8 name length */
	uint64_t header_offset;
	uint64_t bitmap_offset;
	uint64_t pages_offset;
	uint64_t npages;
	uint64_t *bitmap;		/* host order; bits past npages clear */
	uint64_t stored;		/* pages whose bit is set */
};

static inline uint64_t mapped_ram_bitmap_bytes(uint64_t npages)
{
	return (npages + 63) / 64 * 8;
}

static inline bool mapped_ram_stored(const struct mapped_ram_block *mb, uint64_t page)
{
	return mb->bitmap[page / 64] >> (page % 64) & 1;
}

/* Decodes a header at hdr (28 bytes) of the block entry that ends at
 * header_offset, against a file of file_size bytes and a block of length
 * bytes, into mb (bitmap not read). 0, or -1 with err set to what is
 * wrong, naming the offset. */
int mapped_ram_parse_header(const unsigned char *hdr, uint64_t header_offset,
			    uint64_t length, uint32_t page_size, uint64_t file_size,
			    const char *block_name, struct mapped_ram_block *mb,
			    char *err, size_t errlen);
/* Converts a bitmap read from the file (little-endian words) in place,
 * clears bits past npages and counts the set ones into mb->stored. */
void mapped_ram_bitmap_load(struct mapped_ram_block *mb);

/* Writing a mapped-ram file: the main stream goes through an out_buf on
 * fd (a regular file written from its start), the pages by pwrite, from
 * any thread. */
struct out_buf;

#define MAPPED_RAM_OUT_MAX	(UINT64_C(4) << 40)	/* RAM a file may hold */

struct mapped_ram_out {
	int fd;
	uint32_t page_size;
	const struct ram_list *ram;
	struct mapped_ram_block *blocks;	/* by block index */
	uint32_t nblocks;		/* ram may be gone by mapped_ram_out_free() */
	uint64_t end;			/* where the stream goes on */
	uint64_t pages_written;
	int err;			/* errno of the first failed write */
};

/* Lays the blocks out as QEMU does for a MEM_SIZE record at file offset
 * mem_size_offset: m->end is where the stream goes on. -1 with errno
 * (EFBIG: more RAM than MAPPED_RAM_OUT_MAX). */
int mapped_ram_out_init(struct mapped_ram_out *m, int fd, const struct ram_list *ram,
			uint32_t page_size, uint64_t mem_size_offset);
#define MAPPED_RAM_ENTRY_MAX	(1 + 255 + 8 + MAPPED_RAM_HEADER_SIZE)
/* Block i's entry and header, for a writer of its own after the MEM_SIZE
 * header (be64 total | MEM_SIZE); *gap: the bytes to skip after them (the
 * block's bitmap and pages) to the next entry or the rest of the stream. */
size_t mapped_ram_out_entry(const struct mapped_ram_out *m, uint32_t i,
			    unsigned char buf[MAPPED_RAM_ENTRY_MAX], uint64_t *gap);
/* mapped_ram_out_init from out's current offset (where the MEM_SIZE
 * record starts), then the record with every entry and header, out moved
 * past the last block's pages. -1 with errno. */
int mapped_ram_out_begin(struct mapped_ram_out *m, int fd, struct out_buf *out,
			 const struct ram_list *ram, uint32_t page_size);
/* The page at addr of block b: stored (its bit set) or, when all zero,
 * left out (bit cleared). Thread-safe for distinct pages. */
int mapped_ram_out_page(struct mapped_ram_out *m, const struct ram_block *b,
			uint64_t addr, const void *data);
/* n pages contiguous in block b from addr, their data contiguous: the
 * non-zero ones stored with as few writes as runs, the zero ones left out. */
int mapped_ram_out_run(struct mapped_ram_out *m, const struct ram_block *b,
		       uint64_t addr, const unsigned char *data, uint32_t n);
/* A page of one byte: zero clears its bit, another byte is stored. */
int mapped_ram_out_fill(struct mapped_ram_out *m, const struct ram_block *b,
			uint64_t addr, uint8_t fill);
/* Writes the bitmaps (QEMU writes them once the pages are all out). */
int mapped_ram_out_finish(struct mapped_ram_out *m);
void mapped_ram_out_free(struct mapped_ram_out *m);

#endif
