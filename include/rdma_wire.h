/* SPDX-License-Identifier: GPL-3.0-or-later */
/* QEMU's RDMA migration protocol (version 1, as QEMU 7.2 speaks it) on the
 * wire: the capabilities in the connection's private data, the 16-byte
 * control header in front of every SEND, and the records that control
 * messages carry. One encoder and one checking decoder per structure; all
 * integers are big-endian, padding is never looked at (QEMU leaves garbage
 * there).
 *
 *   caps, 8 bytes:             version, flags (PIN_ALL)
 *   control header, 16 bytes:  len (payload bytes), type, repeat, padding
 *   dest block, 32 bytes:      remote_host_addr, offset, length, rkey, pad
 *   compress, 24 bytes:        value, block_idx, offset, length
 *   register, 24 bytes:        key (current_addr or chunk), current_index,
 *                              pad, chunks
 *   register result, 16 bytes: rkey, pad, host_addr */
#ifndef MIGBOX_RDMA_WIRE_H
#define MIGBOX_RDMA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RDMA_CONTROL_VERSION		1
#define RDMA_CAP_PIN_ALL		0x01u
#define RDMA_CAPS_SIZE			8
#define RDMA_CONTROL_HEADER_SIZE	16
/* Each side has 3 receive buffers of this size (READY, DATA, CONTROL). */
#define RDMA_CONTROL_MAX_BUFFER		(512u << 10)
#define RDMA_CONTROL_MAX_PAYLOAD	(RDMA_CONTROL_MAX_BUFFER - RDMA_CONTROL_HEADER_SIZE)
#define RDMA_CONTROL_MAX_COMMANDS	4096u	/* most records per message */
#define RDMA_SEND_INCREMENT		32768u	/* QEMU_FILE payloads a source sends */
#define RDMA_REG_CHUNK_SHIFT		20
#define RDMA_REG_CHUNK_SIZE		(1ull << RDMA_REG_CHUNK_SHIFT)
#define RDMA_MERGE_MAX			(2u << 20)
#define RDMA_DEST_BLOCK_SIZE		32
#define RDMA_COMPRESS_SIZE		24
#define RDMA_REGISTER_SIZE		24
#define RDMA_REGISTER_RESULT_SIZE	16

enum rdma_control_type {
	RDMA_CONTROL_NONE = 0,
	RDMA_CONTROL_ERROR,
	RDMA_CONTROL_READY,
	RDMA_CONTROL_QEMU_FILE,
	RDMA_CONTROL_RAM_BLOCKS_REQUEST,
	RDMA_CONTROL_RAM_BLOCKS_RESULT,
	RDMA_CONTROL_COMPRESS,
	RDMA_CONTROL_REGISTER_REQUEST,
	RDMA_CONTROL_REGISTER_RESULT,
	RDMA_CONTROL_REGISTER_FINISHED,
	RDMA_CONTROL_UNREGISTER_REQUEST,
	RDMA_CONTROL_UNREGISTER_FINISHED,
	RDMA_CONTROL_TYPES
};

struct rdma_caps {
	uint32_t version;
	uint32_t flags;
};

struct rdma_control {
	uint32_t len;		/* payload bytes after the header */
	uint32_t type;
	uint32_t repeat;	/* records of the type in the payload */
};

struct rdma_dest_block {
	uint64_t remote_host_addr;	/* the destination's address of the block */
	uint64_t offset;		/* the destination's ram_addr of the block */
	uint64_t length;		/* used_length */
	uint32_t remote_rkey;		/* pin-all: the block's MR; else 0 */
};

struct rdma_compress {
	uint32_t value;		/* the fill byte (QEMU sends 0) */
	uint32_t block_idx;
	uint64_t offset;	/* in the destination's ram_addr space */
	uint64_t length;
};

struct rdma_register {
	uint64_t key;		/* current_addr (dest ram_addr) or a chunk number */
	uint32_t current_index;	/* block index in source order */
	uint64_t chunks;	/* chunks after the first (QEMU 7.2: 0) */
};

struct rdma_register_result {
	uint32_t rkey;
	uint64_t host_addr;	/* the destination's address of the block start */
};

const char *rdma_control_name(uint32_t type);

void rdma_caps_encode(const struct rdma_caps *c, unsigned char out[RDMA_CAPS_SIZE]);
/* The first 8 bytes of n (the CM pads private data: n may be more); -1
 * with err filled if n < 8 or the version is not 1. */
int rdma_caps_decode(const unsigned char *in, size_t n, struct rdma_caps *c,
		     char err[ERR_LEN]);

void rdma_control_encode(const struct rdma_control *h, unsigned char out[RDMA_CONTROL_HEADER_SIZE]);
/* Decodes and checks a received message of n bytes (header and payload):
 * 16 + len must be n and len at most RDMA_CONTROL_MAX_PAYLOAD; the type
 * must be known; the payload must hold exactly what the type carries
 * (none; QEMU_FILE 1..MAX bytes; repeat records of its size, repeat
 * 1..4096, with RAM_BLOCKS_RESULT carrying len / 32 blocks). -1 with err
 * filled (naming the field) otherwise; h is filled in either case. */
int rdma_control_decode(const unsigned char *msg, size_t n, struct rdma_control *h,
			char err[ERR_LEN]);
/* Records in the payload of a decoded message. */
uint32_t rdma_control_records(const struct rdma_control *h);

void rdma_dest_block_encode(const struct rdma_dest_block *b, unsigned char out[RDMA_DEST_BLOCK_SIZE]);
void rdma_dest_block_decode(const unsigned char in[RDMA_DEST_BLOCK_SIZE], struct rdma_dest_block *b);
void rdma_compress_encode(const struct rdma_compress *c, unsigned char out[RDMA_COMPRESS_SIZE]);
void rdma_compress_decode(const unsigned char in[RDMA_COMPRESS_SIZE], struct rdma_compress *c);
void rdma_register_encode(const struct rdma_register *r, unsigned char out[RDMA_REGISTER_SIZE]);
void rdma_register_decode(const unsigned char in[RDMA_REGISTER_SIZE], struct rdma_register *r);
void rdma_register_result_encode(const struct rdma_register_result *r,
				 unsigned char out[RDMA_REGISTER_RESULT_SIZE]);
void rdma_register_result_decode(const unsigned char in[RDMA_REGISTER_RESULT_SIZE],
				 struct rdma_register_result *r);

/* Checks of decoded records against the blocks the destination announced
 * (RAM_BLOCKS_RESULT, in source order): a block index in range and a byte
 * range inside that block, in the destination's ram_addr space. Exact for
 * every value of the records and of the blocks (nothing wraps: a block
 * may be 2^64 - 1 bytes long or end at 2^64). -1 with err filled
 * otherwise. */
int rdma_compress_check(const struct rdma_compress *c, const struct rdma_dest_block *blocks,
			uint32_t nblocks, char err[ERR_LEN]);
/* For REGISTER: key inside the block, and the `chunks` after its chunk
 * start inside the block too (the last may end past it, as a block's last
 * chunk does); *first and *last get the chunk numbers (from the block
 * start). */
int rdma_register_check(const struct rdma_register *r, const struct rdma_dest_block *blocks,
			uint32_t nblocks, uint64_t *first, uint64_t *last, char err[ERR_LEN]);
/* A source's check of a REGISTER_RESULT for block b: a non-zero rkey and
 * an address from which b's length does not wrap. */
int rdma_register_result_check(const struct rdma_register_result *r,
			       const struct rdma_dest_block *b, char err[ERR_LEN]);
/* A source's check of RAM_BLOCKS_RESULT against its own block list (the
 * stream's MEM_SIZE): the same count and, index by index, the same
 * length; the addresses must not wrap. */
struct ram_list;
int rdma_dest_blocks_check(const struct rdma_dest_block *blocks, uint32_t nblocks,
			   const struct ram_list *ram, char err[ERR_LEN]);

#endif
