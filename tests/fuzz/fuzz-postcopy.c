// SPDX-License-Identifier: GPL-3.0-or-later
/* libFuzzer target: what postcopy-serve decodes from outside, on arbitrary
 * bytes. The first byte picks what the rest is:
 *   even: return-path messages one after another (be16 type | be16 len |
 *         len bytes), through pc_rp_header and pc_rp_body;
 *   odd:  a stream file, indexed by stream_index_build over a mapping of it as
 *         postcopy-serve does, and the index checked against the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iobuf.h"
#include "postcopy_wire.h"
#include "stream.h"
#include "stream_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rp_msg(const struct pc_rp_msg *m)
{
	switch (m->type) {
	case PC_RP_REQ_PAGES_ID:
	case PC_RP_RECV_BITMAP:
		/* a decoded name is non-empty printable text, NUL-terminated */
		if (!m->name_len || strlen(m->name) != m->name_len)
			abort();
		for (size_t i = 0; i < m->name_len; i++)
			if (m->name[i] < 0x20 || m->name[i] > 0x7e)
				abort();
		if (m->type == PC_RP_RECV_BITMAP)
			break;
		/* fall through */
	case PC_RP_REQ_PAGES:
		if (m->start % STREAM_INDEX_PAGE_SIZE || !m->length || m->length % STREAM_INDEX_PAGE_SIZE)
			abort();
		break;
	case PC_RP_SHUT:
	case PC_RP_PONG:
	case PC_RP_RESUME_ACK:
		break;
	case PC_RP_SWITCHOVER_ACK:
		if (m->len)
			abort();	/* it has no body */
		break;
	default:
		abort();	/* the header lets no other type through */
	}
}

static void fuzz_return_path(const uint8_t *data, size_t size)
{
	char err[ERR_LEN];

	while (size >= PC_RP_HEADER_SIZE) {
		struct pc_rp_msg m;
		unsigned char *body;

		err[0] = 0;
		if (pc_rp_header(data, &m, err) < 0) {
			if (!err[0])
				abort();	/* a refusal always says why */
			return;
		}
		if (m.len > PC_RP_MAX_LEN)
			abort();	/* the applet reads a body into PC_RP_MAX_LEN bytes */
		data += PC_RP_HEADER_SIZE;
		size -= PC_RP_HEADER_SIZE;
		if (size < m.len)
			return;
		/* a copy of exactly len bytes, so ASan sees any read past it */
		body = malloc(m.len ? m.len : 1);
		if (!body)
			abort();
		memcpy(body, data, m.len);
		if (pc_rp_body(body, &m, err) == 0)
			check_rp_msg(&m);
		else if (!err[0])
			abort();
		free(body);
		data += m.len;
		size -= m.len;
	}
}

/* What postcopy-serve relies on when it serves from the index. */
static void check_index(const struct stream_index *ix, const unsigned char *base, size_t size)
{
	uint64_t total = 0;

	if (!ix->config || ix->config != base || !ix->config_len || ix->config_len > size)
		abort();
	if (!ix->nblocks || !ix->blocks || !ix->devices)
		abort();
	if (ix->devices_start > ix->devices_end || ix->devices_end > size ||
	    ix->devices_end - ix->devices_start > PC_PACKAGE_MAX)
		abort();
	if (ix->repeated > ix->records)
		abort();
	for (uint32_t i = 0; i < ix->nblocks; i++) {
		const struct stream_index_block *b = &ix->blocks[i];

		if (!b->rb || b->rb->index != i || b->pages != b->rb->length / STREAM_INDEX_PAGE_SIZE)
			abort();
		total += b->pages;
		/* a block is looked up in one table or the other */
		if (!b->page == !b->mapped || (b->mapped && b->mapped->npages != b->pages))
			abort();
		for (uint64_t p = 0; p < b->pages; p++) {
			uint64_t e = b->page ? b->page[p] : 0;
			uint8_t fill;
			uint64_t off = stream_index_page(b, p, &fill);

			if (e & STREAM_INDEX_ZERO && (e & ~0xffull) != STREAM_INDEX_ZERO)
				abort();
			if (b->mapped && fill)
				abort();	/* a page not stored is zero */
			if (off && (off > size || size - off < STREAM_INDEX_PAGE_SIZE))
				abort();	/* a page's data must lie inside the file */
		}
	}
	if (total != ix->total_pages)
		abort();
}

static void fuzz_index(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct stream_reader *r;
	struct stream_index ix;
	struct in_buf in;
	char err[ERR_LEN];

	if (fd < 0) {
		fd = memfd_create("fuzz-postcopy", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (in_init_mapped(&in, fd) < 0)
		abort();
	r = stream_reader_new(&in);
	if (!r)
		abort();
	err[0] = 0;
	if (stream_index_build(&ix, r, in.buf, NULL, NULL, err) == 0)
		check_index(&ix, in.buf, size);
	else if (!err[0])
		abort();
	stream_index_free(&ix);
	stream_reader_free(r);
	in_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		fuzz_index(data + 1, size - 1);
	else
		fuzz_return_path(data + 1, size - 1);
	return 0;
}
