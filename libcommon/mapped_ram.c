// SPDX-License-Identifier: GPL-3.0-or-later
/* mapped-ram headers, bitmaps and the writer (mapped_ram.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "iobuf.h"
#include "mapped_ram.h"
#include "stream.h"

int mapped_ram_parse_header(const unsigned char *hdr, uint64_t header_offset,
			    uint64_t length, uint32_t page_size, uint64_t file_size,
			    const char *block_name, struct mapped_ram_block *mb,
			    char *err, size_t errlen)
{
	uint32_t version = get_be32(hdr);
	uint64_t hdr_page_size = get_be64(hdr + 4);
	uint64_t header_end = header_offset + MAPPED_RAM_HEADER_SIZE;
	uint64_t bitmap_bytes;

	memset(mb, 0, sizeof(*mb));
	mb->header_offset = header_offset;
	mb->bitmap_offset = get_be64(hdr + 12);
	mb->pages_offset = get_be64(hdr + 20);
	mb->npages = length / page_size;
	bitmap_bytes = mapped_ram_bitmap_bytes(mb->npages);

	if (version != MAPPED_RAM_VERSION) {
		snprintf(err, errlen, "offset %" PRIu64 ": mapped-ram header of block '%s' has version %u, expected %u",
			 header_offset, block_name, version, MAPPED_RAM_VERSION);
		return -1;
	}
	if (hdr_page_size != page_size) {
		snprintf(err, errlen, "offset %" PRIu64 ": mapped-ram header of block '%s' says pages of %" PRIu64
			 " bytes, the stream's are %u", header_offset + 4, block_name, hdr_page_size, page_size);
		return -1;
	}
	if (mb->bitmap_offset < header_end) {
		snprintf(err, errlen, "offset %" PRIu64 ": block '%s' has its bitmap at %" PRIu64
			 ", inside its own entry or header (which end at %" PRIu64 ")",
			 header_offset + 12, block_name, mb->bitmap_offset, header_end);
		return -1;
	}
	if (mb->bitmap_offset > file_size || bitmap_bytes > file_size - mb->bitmap_offset) {
		snprintf(err, errlen, "offset %" PRIu64 ": block '%s' has its bitmap (%" PRIu64 " bytes) at %" PRIu64
			 ", past the end of the file (%" PRIu64 " bytes)",
			 header_offset + 12, block_name, bitmap_bytes, mb->bitmap_offset, file_size);
		return -1;
	}
	if (mb->pages_offset % page_size) {
		snprintf(err, errlen, "offset %" PRIu64 ": block '%s' has its pages at %" PRIu64
			 ", not a multiple of the %u-byte page", header_offset + 20, block_name,
			 mb->pages_offset, page_size);
		return -1;
	}
	if (mb->pages_offset < mb->bitmap_offset + bitmap_bytes) {
		snprintf(err, errlen, "offset %" PRIu64 ": block '%s' has its pages at %" PRIu64
			 ", overlapping its bitmap (%" PRIu64 "..%" PRIu64 ")", header_offset + 20,
			 block_name, mb->pages_offset, mb->bitmap_offset, mb->bitmap_offset + bitmap_bytes);
		return -1;
	}
	if (mb->pages_offset > file_size || length > file_size - mb->pages_offset) {
		snprintf(err, errlen, "offset %" PRIu64 ": block '%s' has its %" PRIu64 " bytes of pages at %" PRIu64
			 ", past the end of the file (%" PRIu64 " bytes)", header_offset + 20, block_name,
			 length, mb->pages_offset, file_size);
		return -1;
	}
	return 0;
}

void mapped_ram_bitmap_load(struct mapped_ram_block *mb)
{
	uint64_t words = mapped_ram_bitmap_bytes(mb->npages) / 8;

	mb->stored = 0;
	for (uint64_t i = 0; i < words; i++) {
		const unsigned char *p = (const unsigned char *)&mb->bitmap[i];
		uint64_t v = 0;

		for (int b = 7; b >= 0; b--)
			v = v << 8 | p[b];
		/* QEMU never looks past the block's pages: neither do we */
		if (i == words - 1 && mb->npages % 64)
			v &= (UINT64_C(1) << (mb->npages % 64)) - 1;
		mb->bitmap[i] = v;
		mb->stored += (uint64_t)__builtin_popcountll(v);
	}
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int mapped_ram_out_init(struct mapped_ram_out *m, int fd, const struct ram_list *ram,
			uint32_t page_size, uint64_t mem_size_offset)
{
	uint64_t pos = mem_size_offset + 8;

	memset(m, 0, sizeof(*m));
	/* the bitmaps are held in memory: 32 MiB a TiB */
	if (ram->total > MAPPED_RAM_OUT_MAX) {
		errno = EFBIG;
		return -1;
	}
	m->fd = fd;
	m->page_size = page_size;
	m->ram = ram;
	m->blocks = calloc(ram->count ? ram->count : 1, sizeof(*m->blocks));
	if (!m->blocks)
		return -1;
	m->nblocks = ram->count;
	for (uint32_t i = 0; i < ram->count; i++) {
		const struct ram_block *b = &ram->blocks[i];
		struct mapped_ram_block *mb = &m->blocks[i];

		mb->entry_offset = pos;
		mb->header_offset = pos + 1 + b->name_len + 8;
		mb->bitmap_offset = mb->header_offset + MAPPED_RAM_HEADER_SIZE;
		mb->npages = b->length / page_size;
		mb->pages_offset = round_up(mb->bitmap_offset + mapped_ram_bitmap_bytes(mb->npages),
					    MAPPED_RAM_ALIGN);
		mb->bitmap = calloc(mapped_ram_bitmap_bytes(mb->npages) / 8 + 1, 8);
		if (!mb->bitmap)
			return -1;
		pos = mb->pages_offset + b->length;
	}
	m->end = pos;
	return 0;
}

size_t mapped_ram_out_entry(const struct mapped_ram_out *m, uint32_t i,
			    unsigned char buf[MAPPED_RAM_ENTRY_MAX], uint64_t *gap)
{
	const struct ram_block *b = &m->ram->blocks[i];
	const struct mapped_ram_block *mb = &m->blocks[i];
	unsigned char *p = buf;

	*p++ = b->name_len;
	memcpy(p, b->name, b->name_len);
	p += b->name_len;
	put_be64(p, b->length);
	put_be32(p + 8, MAPPED_RAM_VERSION);
	put_be64(p + 12, m->page_size);
	put_be64(p + 20, mb->bitmap_offset);
	put_be64(p + 28, mb->pages_offset);
	p += 8 + MAPPED_RAM_HEADER_SIZE;
	*gap = mb->pages_offset + b->length - (mb->header_offset + MAPPED_RAM_HEADER_SIZE);
	return (size_t)(p - buf);
}

int mapped_ram_out_begin(struct mapped_ram_out *m, int fd, struct out_buf *out,
			 const struct ram_list *ram, uint32_t page_size)
{
	if (mapped_ram_out_init(m, fd, ram, page_size, out_offset(out)) < 0)
		return -1;
	out_be64(out, ram->total | RAM_SAVE_FLAG_MEM_SIZE);
	for (uint32_t i = 0; i < ram->count; i++) {
		unsigned char e[MAPPED_RAM_ENTRY_MAX];
		uint64_t gap;
		size_t n = mapped_ram_out_entry(m, i, e, &gap);

		out_write(out, e, n);
		if (out_seek(out, out_offset(out) + gap) < 0)
			return -1;
	}
	if (out->err) {
		errno = out->err;
		return -1;
	}
	return 0;
}

static void note_error(struct mapped_ram_out *m, int e)
{
	int none = 0;

	__atomic_compare_exchange_n(&m->err, &none, e, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static int put_bit(struct mapped_ram_out *m, const struct ram_block *b, uint64_t addr, bool set)
{
	struct mapped_ram_block *mb = &m->blocks[b->index];
	uint64_t page = addr / m->page_size, bit = UINT64_C(1) << (page % 64);

	if (page >= mb->npages) {
		note_error(m, ERANGE);
		errno = ERANGE;
		return -1;
	}
	if (set) {
		__atomic_fetch_or(&mb->bitmap[page / 64], bit, __ATOMIC_RELAXED);
	} else if (__atomic_fetch_and(&mb->bitmap[page / 64], ~bit, __ATOMIC_RELAXED) & bit) {
		/* stored before, zero now: its old bytes go too, so the file
		 * is the same whatever the page's history (best effort) */
		fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)(mb->pages_offset + page * m->page_size), m->page_size);
	}
	return 0;
}

static int pwrite_all(struct mapped_ram_out *m, const void *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(m->fd, (const char *)p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			note_error(m, errno);
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

int mapped_ram_out_run(struct mapped_ram_out *m, const struct ram_block *b,
		       uint64_t addr, const unsigned char *data, uint32_t n)
{
	const struct mapped_ram_block *mb = &m->blocks[b->index];
	uint32_t i = 0;

	if (addr >= b->length || n > (b->length - addr) / m->page_size) {
		note_error(m, ERANGE);
		errno = ERANGE;
		return -1;
	}
	while (i < n) {
		uint32_t k = 1;	/* page i, once it is not zero */

		if (page_is_zero(data + (size_t)i * m->page_size, m->page_size)) {
			if (put_bit(m, b, addr + (uint64_t)i * m->page_size, false) < 0)
				return -1;
			i++;
			continue;
		}
		while (i + k < n && !page_is_zero(data + (size_t)(i + k) * m->page_size, m->page_size))
			k++;
		if (pwrite_all(m, data + (size_t)i * m->page_size, (size_t)k * m->page_size,
			       mb->pages_offset + addr + (uint64_t)i * m->page_size) < 0)
			return -1;
		for (uint32_t j = i; j < i + k; j++)
			put_bit(m, b, addr + (uint64_t)j * m->page_size, true);
		__atomic_fetch_add(&m->pages_written, k, __ATOMIC_RELAXED);
		i += k;
	}
	return 0;
}

int mapped_ram_out_page(struct mapped_ram_out *m, const struct ram_block *b,
			uint64_t addr, const void *data)
{
	return mapped_ram_out_run(m, b, addr, data, 1);
}

int mapped_ram_out_fill(struct mapped_ram_out *m, const struct ram_block *b,
			uint64_t addr, uint8_t fill)
{
	unsigned char page[65536];

	if (!fill)
		return put_bit(m, b, addr, false);
	memset(page, fill, m->page_size);
	return mapped_ram_out_page(m, b, addr, page);
}

int mapped_ram_out_finish(struct mapped_ram_out *m)
{
	if (m->err) {
		errno = m->err;
		return -1;
	}
	for (uint32_t i = 0; i < m->nblocks; i++) {
		struct mapped_ram_block *mb = &m->blocks[i];
		uint64_t bytes = mapped_ram_bitmap_bytes(mb->npages);
		unsigned char *le = malloc(bytes ? bytes : 1);

		if (!le)
			return -1;
		for (uint64_t w = 0; w < bytes / 8; w++)
			for (int k = 0; k < 8; k++)
				le[w * 8 + (uint64_t)k] = (unsigned char)(mb->bitmap[w] >> (8 * k));
		if (pwrite_all(m, le, bytes, mb->bitmap_offset) < 0) {
			free(le);
			return -1;
		}
		free(le);
	}
	return 0;
}

void mapped_ram_out_free(struct mapped_ram_out *m)
{
	for (uint32_t i = 0; m->blocks && i < m->nblocks; i++)
		free(m->blocks[i].bitmap);
	free(m->blocks);
	m->blocks = NULL;
}
