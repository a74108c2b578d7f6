// SPDX-License-Identifier: GPL-3.0-or-later
/* libFuzzer target: every decoder of QEMU's RDMA control messages and the
 * checks of their records against a block list, on arbitrary bytes, with
 * an oracle: each check must accept exactly what a reference in 128-bit
 * arithmetic (which cannot wrap) accepts, so a check that wraps or is too
 * strict is found, not only a crash; the pages an accepted COMPRESS marks
 * sent (ram_pageset_add_range, as rdma-recv does) must be exactly those
 * it overlaps.
 *
 * The first byte picks the block list; the rest is a received message.
 *   0x00-0x3f  (b & 0x3f) % 5 blocks of an ordinary list (a 64 MiB pc.ram,
 *              ROMs)
 *   0x40-0x7f  (b & 0x3f) % 5 blocks of extreme sizes: up to 2^64-1 bytes, ending
 *              at 2^64, lengths that are no chunk multiple
 *   0x80-0xff  (b & 3) + 1 blocks read from the input first, 24 bytes
 *              each: be64 address, be64 offset, be64 length */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "ram.h"
#include "rdma_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef unsigned __int128 u128;

#define BLOCK_BYTES	24

static const struct rdma_dest_block ordinary[4] = {
	{ 0x7f0000000000ull, 0, 64ull << 20, 0 },
	{ 0x7f1000000000ull, 64ull << 20, 0x20000, 0 },
	{ 0x7f2000000000ull, 0x4100000, 0x40000, 7 },
	{ 0x7f3000000000ull, 0x4200000, 0x1000, 0 },
};

static const struct rdma_dest_block extreme[4] = {
	{ 0x7f0000000000ull, 0, UINT64_MAX, 0 },
	{ 0x1000, UINT64_MAX - RDMA_REG_CHUNK_SIZE + 1, RDMA_REG_CHUNK_SIZE, 0 },
	{ UINT64_MAX - 4096, 1ull << 63, UINT64_MAX - RDMA_REG_CHUNK_SIZE + 2, 9 },
	{ 0, 4096, UINT64_MAX - 4095, 0 },
};

/* [start, start + len) inside b, in arithmetic that cannot wrap. */
static bool ref_inside(uint64_t start, u128 len, const struct rdma_dest_block *b)
{
	return start >= b->offset && (u128)start + len <= (u128)b->offset + b->length;
}

static bool marked(struct ram_pageset *set, const struct ram_block *rb, uint64_t addr, uint64_t first,
		   uint64_t last)
{
	bool want = addr >= first && addr <= last;

	if (ram_pageset_has(set, rb, addr, 4096) != want)
		abort();
	return want;
}

/* What rdma-recv marks sent for a fill it took: every page the fill
 * overlaps and no other (each page of a fill up to 8 MiB, the edges and
 * a middle page of larger ones). */
static void check_marked(const struct rdma_compress *c, const struct rdma_dest_block *b)
{
	static struct ram_pageset set;
	static bool init;
	static const struct ram_block rb = { .index = 1 };
	uint64_t off = c->offset - b->offset, first, last;

	if (!c->length || c->length > (64u << 20))
		return;
	if (!init) {
		ram_pageset_init(&set);
		init = true;
	}
	ram_pageset_clear(&set);
	if (ram_pageset_add_range(&set, &rb, off, c->length, 4096) < 0)
		abort();
	first = off / 4096 * 4096;
	last = (off + c->length - 1) / 4096 * 4096;
	if (first)
		marked(&set, &rb, first - 4096, first, last);
	if (last + 4096 > last)
		marked(&set, &rb, last + 4096, first, last);
	if (last - first <= (8u << 20)) {
		for (uint64_t a = first; a <= last; a += 4096)
			marked(&set, &rb, a, first, last);
	} else {
		marked(&set, &rb, first, first, last);
		marked(&set, &rb, first + (last - first) / 8192 * 4096, first, last);
		marked(&set, &rb, last, first, last);
	}
}

static void check_compress(const struct rdma_compress *c, const struct rdma_dest_block *blocks,
			   uint32_t n)
{
	char err[ERR_LEN];
	bool got = rdma_compress_check(c, blocks, n, err) == 0;
	bool want = c->block_idx < n && c->value <= 0xff &&
		    ref_inside(c->offset, c->length, &blocks[c->block_idx]);

	if (got != want)
		abort();
	if (got)
		check_marked(c, &blocks[c->block_idx]);
}

static void check_register(const struct rdma_register *r, const struct rdma_dest_block *blocks,
			   uint32_t n)
{
	char err[ERR_LEN];
	uint64_t first = 0, last = 0;
	bool got = rdma_register_check(r, blocks, n, &first, &last, err) == 0;
	const struct rdma_dest_block *b = r->current_index < n ? &blocks[r->current_index] : NULL;
	u128 ref_first = b && r->key >= b->offset ? (r->key - b->offset) >> RDMA_REG_CHUNK_SHIFT : 0;
	u128 ref_last = ref_first + r->chunks;
	/* the last chunk starts inside the block (it may end past it) */
	bool want = b && ref_inside(r->key, 1, b) && ref_last << RDMA_REG_CHUNK_SHIFT < b->length;

	if (got != want || (got && (first != ref_first || last != ref_last)))
		abort();
}

static void check_result(const struct rdma_register_result *rr, const struct rdma_dest_block *b)
{
	char err[ERR_LEN];
	bool got = rdma_register_result_check(rr, b, err) == 0;
	bool want = rr->rkey && (u128)rr->host_addr + b->length <= UINT64_MAX;

	if (got != want)
		abort();
}

static void check_dest_blocks(const struct rdma_dest_block *b, uint32_t n, const struct ram_list *ram)
{
	char err[ERR_LEN];
	bool got = rdma_dest_blocks_check(b, n, ram, err) == 0;
	bool want = n == ram->count;

	for (uint32_t i = 0; want && i < n; i++)
		want = b[i].length == ram->blocks[i].length &&
		       (u128)b[i].remote_host_addr + b[i].length <= UINT64_MAX &&
		       (u128)b[i].offset + b[i].length <= UINT64_MAX;
	if (got != want)
		abort();
}

/* The block list the first bytes pick; NULL if the input is too short. */
static const struct rdma_dest_block *pick_blocks(const uint8_t **data, size_t *size,
						 struct rdma_dest_block own[4], uint32_t *n)
{
	uint8_t sel = (*data)[0];

	(*data)++;
	(*size)--;
	if (sel < 0x80) {
		*n = (sel & 0x3f) % 5;
		return sel < 0x40 ? ordinary : extreme;
	}
	*n = (sel & 3) + 1;
	if (*size < *n * BLOCK_BYTES)
		return NULL;
	for (uint32_t i = 0; i < *n; i++) {
		own[i] = (struct rdma_dest_block){
			.remote_host_addr = get_be64(*data),
			.offset = get_be64(*data + 8),
			.length = get_be64(*data + 16),
		};
		*data += BLOCK_BYTES;
		*size -= BLOCK_BYTES;
	}
	return own;
}

static void check_records(const struct rdma_control *h, const unsigned char *payload,
			  const struct rdma_dest_block *blocks, uint32_t nblocks,
			  const struct ram_list *ram)
{
	struct rdma_dest_block b[64];

	for (uint32_t i = 0; i < rdma_control_records(h); i++) {
		struct rdma_register_result rr;
		struct rdma_compress c;
		struct rdma_register r;

		switch (h->type) {
		case RDMA_CONTROL_RAM_BLOCKS_RESULT:
			if (i < 64)
				rdma_dest_block_decode(payload + (size_t)i * RDMA_DEST_BLOCK_SIZE, &b[i]);
			if (i + 1 == rdma_control_records(h) && i < 64)
				check_dest_blocks(b, i + 1, ram);
			break;
		case RDMA_CONTROL_COMPRESS:
			rdma_compress_decode(payload + (size_t)i * RDMA_COMPRESS_SIZE, &c);
			check_compress(&c, blocks, nblocks);
			break;
		case RDMA_CONTROL_REGISTER_REQUEST:
		case RDMA_CONTROL_UNREGISTER_REQUEST:
			rdma_register_decode(payload + (size_t)i * RDMA_REGISTER_SIZE, &r);
			check_register(&r, blocks, nblocks);
			break;
		case RDMA_CONTROL_REGISTER_RESULT:
			rdma_register_result_decode(payload + (size_t)i * RDMA_REGISTER_RESULT_SIZE, &rr);
			if (nblocks)
				check_result(&rr, &blocks[i % nblocks]);
			break;
		default:
			abort();	/* no other type carries records */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ram_list ram;
	struct rdma_dest_block own[4];
	const struct rdma_dest_block *blocks;
	struct rdma_control h;
	struct rdma_caps caps;
	char err[ERR_LEN];
	uint32_t nblocks;

	if (!ram.count) {
		ram_list_add(&ram, "pc.ram", 6, 64ull << 20);
		ram_list_add(&ram, "/rom@etc/acpi/tables", 20, 0x20000);
		ram_list_add(&ram, "pc.bios", 7, 0x40000);
		ram_list_add(&ram, "/rom@etc/acpi/rsdp", 18, 0x1000);
	}
	if (!size)
		return 0;
	blocks = pick_blocks(&data, &size, own, &nblocks);
	if (!blocks)
		return 0;
	rdma_caps_decode(data, size, &caps, err);
	if (rdma_control_decode(data, size, &h, err) < 0)
		return 0;
	check_records(&h, data + RDMA_CONTROL_HEADER_SIZE, blocks, nblocks, &ram);
	return 0;
}
