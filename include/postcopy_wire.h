/* SPDX-License-Identifier: GPL-3.0-or-later */
/* QEMU's postcopy migration on the wire, from the source's side: the
 * commands a postcopy source sends and the return-path messages a
 * destination sends back, each with a checking decoder. Integers are
 * big-endian on the wire.
 *
 *   return-path message: be16 type | be16 len | len bytes
 *     SHUT be32 status, PONG be32 value, REQ_PAGES_ID be64 start | be32 len |
 *     u8 n | name[n], REQ_PAGES be64 start | be32 len (block of the last
 *     REQ_PAGES_ID), RECV_BITMAP u8 n | name[n] (then the bitmap on the
 *     stream), RESUME_ACK be32 value */
#ifndef MIGBOX_POSTCOPY_WIRE_H
#define MIGBOX_POSTCOPY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ram.h"
#include "stream.h"

#define PC_PAGE_SIZE		4096u
#define PC_PACKAGE_MAX		(16u << 20)	/* QEMU's limit for PACKAGED */
#define PC_RP_HEADER_SIZE	4
#define PC_RP_MAX_LEN		(4 + 8 + 4 + 1 + 255)	/* the longest message we take */

enum pc_rp_type {
	PC_RP_INVALID = 0,
	PC_RP_SHUT,
	PC_RP_PONG,
	PC_RP_REQ_PAGES_ID,
	PC_RP_REQ_PAGES,
	PC_RP_RECV_BITMAP,
	PC_RP_RESUME_ACK,
	PC_RP_SWITCHOVER_ACK,		/* QEMU 8.1+, switchover-ack: no body */
	PC_RP_TYPES
};

struct pc_rp_msg {
	uint16_t type;
	uint16_t len;
	uint32_t value;			/* SHUT, PONG, RESUME_ACK */
	uint64_t start;			/* REQ_PAGES*: byte offset in the block */
	uint32_t length;		/* REQ_PAGES*: bytes */
	char name[256];			/* REQ_PAGES_ID, RECV_BITMAP: the block */
	uint8_t name_len;
};

const char *pc_rp_name(uint16_t type);
/* The header of a message: type known, len as the type wants (at most
 * PC_RP_MAX_LEN). -1 with err otherwise. */
int pc_rp_header(const unsigned char in[PC_RP_HEADER_SIZE], struct pc_rp_msg *m,
		 char err[ERR_LEN]);
/* Its body of m->len bytes: names printable and non-empty, REQ lengths
 * whole pages. -1 with err otherwise. */
int pc_rp_body(const unsigned char *in, struct pc_rp_msg *m, char err[ERR_LEN]);

/* POSTCOPY_RAM_DISCARD of one whole block: the payload into out (at most
 * 1 + 1 + 255 + 1 + 16 bytes); returns its length. */
size_t pc_discard_encode(const struct ram_block *b, unsigned char *out);
/* POSTCOPY_ADVISE: the host and target page size summaries (16 bytes). */
void pc_advise_encode(unsigned char out[16]);

#endif
