// SPDX-License-Identifier: GPL-3.0-or-later
/* Encoders and checking decoders of QEMU's RDMA control messages. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "error.h"
#include "ram.h"
#include "rdma_wire.h"

const char *rdma_control_name(uint32_t type)
{
	static const char *const names[RDMA_CONTROL_TYPES] = {
		"NONE", "ERROR", "READY", "QEMU_FILE", "RAM_BLOCKS_REQUEST",
		"RAM_BLOCKS_RESULT", "COMPRESS", "REGISTER_REQUEST", "REGISTER_RESULT",
		"REGISTER_FINISHED", "UNREGISTER_REQUEST", "UNREGISTER_FINISHED",
	};

	return type < RDMA_CONTROL_TYPES ? names[type] : "unknown";
}

void rdma_caps_encode(const struct rdma_caps *c, unsigned char out[RDMA_CAPS_SIZE])
{
	put_be32(out, c->version);
	put_be32(out + 4, c->flags);
}

int rdma_caps_decode(const unsigned char *in, size_t n, struct rdma_caps *c,
		     char err[ERR_LEN])
{
	if (n < RDMA_CAPS_SIZE)
		return err_set(err, "capabilities of %zu bytes, expected %d", n, RDMA_CAPS_SIZE);
	c->version = get_be32(in);
	c->flags = get_be32(in + 4);
	if (c->version != RDMA_CONTROL_VERSION)
		return err_set(err, "RDMA protocol version %u, expected %d", c->version,
				RDMA_CONTROL_VERSION);
	return 0;
}

void rdma_control_encode(const struct rdma_control *h, unsigned char out[RDMA_CONTROL_HEADER_SIZE])
{
	put_be32(out, h->len);
	put_be32(out + 4, h->type);
	put_be32(out + 8, h->repeat);
	memset(out + 12, 0, 4);
}

/* Bytes per record of each type; 0: the type carries no records. */
static size_t record_size(uint32_t type)
{
	switch (type) {
	case RDMA_CONTROL_RAM_BLOCKS_RESULT: return RDMA_DEST_BLOCK_SIZE;
	case RDMA_CONTROL_COMPRESS: return RDMA_COMPRESS_SIZE;
	case RDMA_CONTROL_REGISTER_REQUEST: return RDMA_REGISTER_SIZE;
	case RDMA_CONTROL_REGISTER_RESULT: return RDMA_REGISTER_RESULT_SIZE;
	case RDMA_CONTROL_UNREGISTER_REQUEST: return RDMA_REGISTER_SIZE;
	default: return 0;
	}
}

uint32_t rdma_control_records(const struct rdma_control *h)
{
	size_t size = record_size(h->type);

	return size ? (uint32_t)(h->len / size) : 0;
}

/* What the payload must hold, given the header's type and repeat. */
static int check_payload(const struct rdma_control *h, char err[ERR_LEN])
{
	const char *name = rdma_control_name(h->type);
	size_t size = record_size(h->type);

	if (h->type == RDMA_CONTROL_QEMU_FILE) {
		if (!h->len)
			return err_set(err, "QEMU_FILE message with no bytes");
		return 0;
	}
	if (!size) {
		if (h->len)
			return err_set(err, "%s message with %u bytes of payload, expected none",
					name, h->len);
		return 0;
	}
	if (h->type == RDMA_CONTROL_RAM_BLOCKS_RESULT) {
		/* QEMU sends one block per len/32, with repeat 1 */
		if (!h->len || h->len % size || h->len / size > RAM_BLOCKS_MAX)
			return err_set(err, "RAM_BLOCKS_RESULT of %u bytes, expected 1..%u blocks of %zu bytes",
					h->len, RAM_BLOCKS_MAX, size);
		return 0;
	}
	if (!h->repeat || h->repeat > RDMA_CONTROL_MAX_COMMANDS)
		return err_set(err, "%s message with repeat %u, expected 1..%u", name, h->repeat,
				RDMA_CONTROL_MAX_COMMANDS);
	if (h->len != size * h->repeat)
		return err_set(err, "%s message of %u bytes for %u records, expected %zu",
				name, h->len, h->repeat, size * h->repeat);
	return 0;
}

int rdma_control_decode(const unsigned char *msg, size_t n, struct rdma_control *h,
			char err[ERR_LEN])
{
	memset(h, 0, sizeof(*h));
	if (n < RDMA_CONTROL_HEADER_SIZE)
		return err_set(err, "message of %zu bytes, shorter than its %d-byte header", n,
				RDMA_CONTROL_HEADER_SIZE);
	h->len = get_be32(msg);
	h->type = get_be32(msg + 4);
	h->repeat = get_be32(msg + 8);
	if (h->type == RDMA_CONTROL_NONE || h->type >= RDMA_CONTROL_TYPES)
		return err_set(err, "unknown control message type %u", h->type);
	if (h->len > RDMA_CONTROL_MAX_PAYLOAD)
		return err_set(err, "%s message length %u, expected at most %u",
				rdma_control_name(h->type), h->len, RDMA_CONTROL_MAX_PAYLOAD);
	if ((size_t)h->len + RDMA_CONTROL_HEADER_SIZE != n)
		return err_set(err, "%s message length %u, but %zu bytes arrived",
				rdma_control_name(h->type), h->len, n - RDMA_CONTROL_HEADER_SIZE);
	return check_payload(h, err);
}

void rdma_dest_block_encode(const struct rdma_dest_block *b, unsigned char out[RDMA_DEST_BLOCK_SIZE])
{
	put_be64(out, b->remote_host_addr);
	put_be64(out + 8, b->offset);
	put_be64(out + 16, b->length);
	put_be32(out + 24, b->remote_rkey);
	memset(out + 28, 0, 4);
}

void rdma_dest_block_decode(const unsigned char in[RDMA_DEST_BLOCK_SIZE], struct rdma_dest_block *b)
{
	b->remote_host_addr = get_be64(in);
	b->offset = get_be64(in + 8);
	b->length = get_be64(in + 16);
	b->remote_rkey = get_be32(in + 24);
}

void rdma_compress_encode(const struct rdma_compress *c, unsigned char out[RDMA_COMPRESS_SIZE])
{
	put_be32(out, c->value);
	put_be32(out + 4, c->block_idx);
	put_be64(out + 8, c->offset);
	put_be64(out + 16, c->length);
}

void rdma_compress_decode(const unsigned char in[RDMA_COMPRESS_SIZE], struct rdma_compress *c)
{
	c->value = get_be32(in);
	c->block_idx = get_be32(in + 4);
	c->offset = get_be64(in + 8);
	c->length = get_be64(in + 16);
}

void rdma_register_encode(const struct rdma_register *r, unsigned char out[RDMA_REGISTER_SIZE])
{
	put_be64(out, r->key);
	put_be32(out + 8, r->current_index);
	memset(out + 12, 0, 4);
	put_be64(out + 16, r->chunks);
}

void rdma_register_decode(const unsigned char in[RDMA_REGISTER_SIZE], struct rdma_register *r)
{
	r->key = get_be64(in);
	r->current_index = get_be32(in + 8);
	r->chunks = get_be64(in + 16);
}

void rdma_register_result_encode(const struct rdma_register_result *r,
				 unsigned char out[RDMA_REGISTER_RESULT_SIZE])
{
	put_be32(out, r->rkey);
	memset(out + 4, 0, 4);
	put_be64(out + 8, r->host_addr);
}

void rdma_register_result_decode(const unsigned char in[RDMA_REGISTER_RESULT_SIZE],
				 struct rdma_register_result *r)
{
	r->rkey = get_be32(in);
	r->host_addr = get_be64(in + 8);
}

/* [start, start + len) inside block b (ram_addr space)? Differences
 * only, so no sum can wrap, whatever the block or the record claims. */
static bool range_inside(uint64_t start, uint64_t len, const struct rdma_dest_block *b)
{
	return start >= b->offset && start - b->offset <= b->length &&
	       len <= b->length - (start - b->offset);
}

static int range_err(char *err, const char *what, uint32_t idx, uint64_t start, uint64_t len,
		     const struct rdma_dest_block *b)
{
	return err_set(err, "%s of %llu bytes at 0x%llx is outside block %u (0x%llx, %llu bytes)",
			what, (unsigned long long)len, (unsigned long long)start, idx,
			(unsigned long long)b->offset, (unsigned long long)b->length);
}

int rdma_compress_check(const struct rdma_compress *c, const struct rdma_dest_block *blocks,
			uint32_t nblocks, char err[ERR_LEN])
{
	if (c->block_idx >= nblocks)
		return err_set(err, "COMPRESS for block %u, expected below %u", c->block_idx, nblocks);
	if (c->value > 0xff)
		return err_set(err, "COMPRESS with fill value 0x%x, expected a byte", c->value);
	if (!range_inside(c->offset, c->length, &blocks[c->block_idx]))
		return range_err(err, "COMPRESS", c->block_idx, c->offset, c->length,
				 &blocks[c->block_idx]);
	return 0;
}

int rdma_register_check(const struct rdma_register *r, const struct rdma_dest_block *blocks,
			uint32_t nblocks, uint64_t *first, uint64_t *last, char err[ERR_LEN])
{
	const struct rdma_dest_block *b;
	uint64_t last_chunk;

	if (r->current_index >= nblocks)
		return err_set(err, "REGISTER_REQUEST for block %u, expected below %u",
				r->current_index, nblocks);
	b = &blocks[r->current_index];
	if (!range_inside(r->key, 1, b))
		return range_err(err, "REGISTER_REQUEST", r->current_index, r->key, 1, b);
	/* the block's last chunk: its length is at least 1 here, and
	 * (length + chunk - 1) / chunk would wrap for the largest */
	last_chunk = (b->length - 1) >> RDMA_REG_CHUNK_SHIFT;
	*first = (r->key - b->offset) >> RDMA_REG_CHUNK_SHIFT;
	if (r->chunks > last_chunk - *first)
		return err_set(err, "REGISTER_REQUEST for %llu chunks after chunk %llu of block %u, which has %llu",
				(unsigned long long)r->chunks, (unsigned long long)*first,
				r->current_index, (unsigned long long)last_chunk + 1);
	*last = *first + r->chunks;
	return 0;
}

int rdma_register_result_check(const struct rdma_register_result *r, const struct rdma_dest_block *b,
			       char err[ERR_LEN])
{
	if (!r->rkey)
		return err_set(err, "REGISTER_RESULT with rkey 0");
	if (b->length > UINT64_MAX - r->host_addr)
		return err_set(err, "REGISTER_RESULT with address 0x%llx: a block of %llu bytes there wraps",
				(unsigned long long)r->host_addr, (unsigned long long)b->length);
	return 0;
}

int rdma_dest_blocks_check(const struct rdma_dest_block *blocks, uint32_t nblocks,
			   const struct ram_list *ram, char err[ERR_LEN])
{
	if (nblocks != ram->count)
		return err_set(err, "the destination has %u RAM blocks, the stream %u", nblocks,
				ram->count);
	for (uint32_t i = 0; i < nblocks; i++) {
		const struct rdma_dest_block *b = &blocks[i];

		if (b->length != ram->blocks[i].length)
			return err_set(err, "RAM block %u ('%s'): %llu bytes at the destination, %llu in the stream",
					i, ram->blocks[i].name, (unsigned long long)b->length,
					(unsigned long long)ram->blocks[i].length);
		if (b->length > UINT64_MAX - b->remote_host_addr ||
		    b->length > UINT64_MAX - b->offset)
			return err_set(err, "RAM block %u ('%s'): address 0x%llx or offset 0x%llx wraps",
					i, ram->blocks[i].name, (unsigned long long)b->remote_host_addr,
					(unsigned long long)b->offset);
	}
	return 0;
}
