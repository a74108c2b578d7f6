// SPDX-License-Identifier: GPL-3.0-or-later
/* rdma-wire-ranges: the RDMA codec's range checks at the edges of 64-bit
 * arithmetic, which a destination's own blocks never reach but the checks
 * must get right whatever the blocks (tests/fuzz/fuzz-rdma.c compares
 * them with a 128-bit reference on arbitrary input; these are the cases
 * that were wrong), and ram_pageset_add_range's word-wise marking. Built
 * and run by tests/libcommon.bats; prints TAP. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ram.h"
#include "rdma_wire.h"

#define CHUNK	RDMA_REG_CHUNK_SIZE

static int n, failed;

static void ok(bool cond, const char *what, const char *err)
{
	printf("%sok %d %s\n", cond ? "" : "not ", ++n, what);
	if (!cond && err && *err)
		printf("# %s\n", err);
	failed |= !cond;
}

static bool reg(const struct rdma_dest_block *b, uint64_t key, uint64_t chunks, uint64_t *first,
		uint64_t *last, char *err)
{
	struct rdma_register r = { .key = key, .current_index = 0, .chunks = chunks };

	err[0] = 0;
	return rdma_register_check(&r, b, 1, first, last, err) == 0;
}

static bool fill(const struct rdma_dest_block *b, uint64_t off, uint64_t len, char *err)
{
	struct rdma_compress c = { .value = 0, .block_idx = 0, .offset = off, .length = len };

	err[0] = 0;
	return rdma_compress_check(&c, b, 1, err) == 0;
}

static void registers(void)
{
	/* [0, 2^64 - 4096): (length + chunk - 1) / chunk wraps to 0 */
	const struct rdma_dest_block edge = { 0x7f0000000000ull, 0, UINT64_MAX - 4095, 0 };
	const struct rdma_dest_block whole = { 0, 0, UINT64_MAX, 0 };
	char err[ERR_LEN];
	uint64_t first = 0, last = 0;

	ok(!reg(&edge, CHUNK, 1ull << 44, &first, &last, err),
	   "REGISTER: 2^44 chunks after chunk 1 of a 2^64 - 4096 block run past it", NULL);
	ok(!reg(&edge, 2 * CHUNK, UINT64_MAX - 2, &first, &last, err),
	   "REGISTER: a last chunk of 2^64 - 1 is refused", NULL);
	ok(reg(&edge, CHUNK, (1ull << 44) - 2, &first, &last, err) && first == 1 &&
	   last == (1ull << 44) - 1, "REGISTER: chunks 1 to the block's last, 2^44 - 1, taken", err);
	ok(reg(&whole, 0, (1ull << 44) - 1, &first, &last, err) && first == 0 &&
	   last == (1ull << 44) - 1, "REGISTER: all 2^44 chunks of a 2^64 - 1 byte block taken", err);
	ok(!reg(&whole, UINT64_MAX - 1, 1, &first, &last, err),
	   "REGISTER: one chunk past the last of that block refused", NULL);
}

static void fills(void)
{
	const struct rdma_dest_block top = { 0x1000, UINT64_MAX - CHUNK + 1, CHUNK, 0 };
	const struct rdma_dest_block low = { 0, 0x1000, UINT64_MAX - 0x1fff, 0 };
	struct rdma_register_result rr = { .rkey = 1, .host_addr = UINT64_MAX - CHUNK };
	char err[ERR_LEN];

	ok(fill(&top, UINT64_MAX - 4095, 4096, err),
	   "COMPRESS: the last page of a block ending at 2^64 taken", err);
	ok(!fill(&top, UINT64_MAX - 4095, 4097, err), "COMPRESS: one byte more refused", NULL);
	ok(!fill(&low, 0x2000, UINT64_MAX - 0xfff, err),
	   "COMPRESS: a fill whose end wraps past 2^64 refused", NULL);
	ok(rdma_register_result_check(&rr, &top, err) == 0,
	   "REGISTER_RESULT: a block ending at 2^64 - 1 taken", err);
	rr.host_addr++;
	ok(rdma_register_result_check(&rr, &top, err) < 0,
	   "REGISTER_RESULT: one byte higher, its end wraps: refused", NULL);
}

/* The pages [first, last] marked, and their neighbours not. */
static bool marked_exactly(struct ram_pageset *s, const struct ram_block *b, uint64_t first,
			   uint64_t last)
{
	for (uint64_t a = first; a <= last; a += 4096)
		if (!ram_pageset_has(s, b, a, 4096))
			return false;
	return (!first || !ram_pageset_has(s, b, first - 4096, 4096)) &&
	       !ram_pageset_has(s, b, last + 4096, 4096);
}

static void pagesets(void)
{
	static const struct { uint64_t off, len; } r[] = {
		{ 0, 4096 }, { 4095, 2 }, { 63 * 4096, 2 * 4096 }, { 100, 511 * 4096 },
		{ 4096, 2 * 512 * 4096 + 4096 }, { (3ull << 20) - 1, (5ull << 20) + 3 },
	};
	const struct ram_block b = { .index = 3 };
	struct ram_pageset s;
	bool good = true;

	ram_pageset_init(&s);
	for (unsigned int i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		ram_pageset_clear(&s);
		good &= ram_pageset_add_range(&s, &b, r[i].off, r[i].len, 4096) == 0 &&
			marked_exactly(&s, &b, r[i].off / 4096 * 4096,
				       (r[i].off + r[i].len - 1) / 4096 * 4096);
	}
	ok(good, "ram_pageset_add_range marks the pages a range overlaps, no other", NULL);
	ram_pageset_free(&s);
}

int main(void)
{
	registers();
	fills();
	pagesets();
	printf("1..%d\n", n);
	return failed;
}
