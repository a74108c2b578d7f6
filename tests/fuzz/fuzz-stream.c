// SPDX-License-Identifier: GPL-3.0-or-later
/* libFuzzer target: the stream parser (mapped-ram files too: the input is
 * a seekable memfd), the writer re-encoding every item as a plain stream
 * or, when the input's last byte is odd, as a mapped-ram file, the RAM
 * digest and the send map with its cells (stream-dump --map), on arbitrary
 * bytes. Built by `make fuzz` (clang). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "digest.h"
#include "iobuf.h"
#include "mapped_ram.h"
#include "sendmap.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in_fd = -1, out_fd = -1;
	struct in_buf in;
	struct out_buf out;
	struct stream_writer w;
	struct stream_reader *r;
	struct stream_item it;
	struct sendmap map = { 0 };
	struct mapped_ram_out mro = { 0 };
	bool digest = false, mapped = false;

	if (in_fd < 0) {
		in_fd = memfd_create("fuzz-in", 0);
		out_fd = memfd_create("fuzz-out", 0);
		if (in_fd < 0 || out_fd < 0)
			abort();
	}
	if (ftruncate(in_fd, 0) < 0 || pwrite(in_fd, data, size, 0) != (ssize_t)size ||
	    lseek(in_fd, 0, SEEK_SET) < 0 || ftruncate(out_fd, 0) < 0 ||
	    lseek(out_fd, 0, SEEK_SET) < 0)
		abort();
	/* small buffers so records straddle refills */
	if (in_init(&in, in_fd, 8192) < 0 || out_init(&out, out_fd, 4096) < 0)
		abort();
	r = stream_reader_new(&in);
	if (!r)
		abort();
	stream_writer_init(&w, &out, 4096);
	if (size && data[size - 1] & 1)
		w.mapped = &mro;
	while (stream_next(r, &it) > 0) {
		if (it.type == SI_RAM_MEM_SIZE) {
			digest = ram_digest_enable(stream_ram(r)) == 0;
			mapped = sendmap_init(&map, stream_ram(r), stream_page_size(r)) == 0;
			/* bitmaps follow the RAM claimed: keep an input fast */
			if (stream_ram(r)->total > (UINT64_C(1) << 32))
				w.mapped = NULL;
			w.page_size = stream_page_size(r);
		}
		if ((it.type == SI_RAM_PAGE || it.type == SI_RAM_ZERO) && w.mapped && !mro.blocks)
			w.mapped = NULL;	/* the layout could not be made */
		if (mapped && (it.type == SI_RAM_PAGE || it.type == SI_RAM_ZERO) &&
		    sendmap_note(&map, it.block, it.addr, it.type == SI_RAM_ZERO) < 0)
			abort();	/* the reader let through a page the map lacks */
		if (digest && it.type == SI_RAM_PAGE)
			ram_digest_page(it.block, it.addr, it.data, stream_page_size(r));
		if (digest && it.type == SI_RAM_ZERO)
			ram_digest_fill(it.block, it.addr, it.fill, stream_page_size(r));
		stream_write_item(&w, &it, stream_ram(r));
	}
	if (digest) {
		struct ram_list *l = stream_ram(r);

		for (uint32_t i = 0; i < l->count; i++) {
			struct digest d;

			if (ram_digest_final(&l->blocks[i], stream_page_size(r), &d) < 0)
				break;
		}
	}
	/* cells at a scale the input chooses, from one a page to one a block */
	for (uint32_t i = 0; mapped && i < map.count; i++) {
		struct sendmap_block *sb = &map.blocks[i];
		uint64_t sent = 0, ncells, per_cell;
		uint8_t *cells;

		per_cell = sendmap_scale(sb->pages, size ? 1u + data[size - 1] * 16u : 80, &ncells);
		cells = malloc(ncells);
		if (!cells || sendmap_cells(sb, per_cell, size && data[0] & 1 ? CELL_RAREST : CELL_MAJORITY,
					    cells) < 0)
			abort();
		for (int c = PAGE_ZERO; c < PAGE_CLASSES; c++)
			sent += sb->count[c];
		if (sent + sb->count[PAGE_NEVER] != sb->pages || sb->records < sent)
			abort();
		free(cells);
	}
	sendmap_free(&map);
	if (mro.blocks)
		mapped_ram_out_finish(&mro);
	mapped_ram_out_free(&mro);
	out_close(&out);
	stream_reader_free(r);
	in_free(&in);
	return 0;
}
