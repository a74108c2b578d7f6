/* SPDX-License-Identifier: GPL-3.0-or-later */
/* QEMU's multifd wire format (unchanged from QEMU 4.x to 9.x): the init
 * packet that opens each channel and the page packet header, each with an
 * encoder and a decoder that checks every field. All integers are
 * big-endian on the wire.
 *
 *   MultiFDInit_t, 64 bytes:     magic, version, uuid[16], id (u8), unused
 *   MultiFDPacket_t, 1344 bytes: magic, version, flags, pages_alloc,
 *       normal_pages, next_packet_size, packet_num (be64), unused (32),
 *       ramblock[256] (NUL-padded), offset[128] (be64, within the block);
 *   then next_packet_size bytes of payload: the pages, raw or compressed.
 */
#ifndef MIGBOX_MULTIFD_H
#define MIGBOX_MULTIFD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ram.h"

#define MULTIFD_MAGIC			0x11223344U
#define MULTIFD_VERSION			1

#define MULTIFD_FLAG_SYNC		0x1
#define MULTIFD_FLAG_COMPRESSION_MASK	0x3e	/* 7.2: 0xe; 10.0 adds uadk, qatzip */
#define MULTIFD_FLAG_NOCOMP		0x0
#define MULTIFD_FLAG_ZLIB		0x2
#define MULTIFD_FLAG_ZSTD		0x4
#define MULTIFD_FLAG_DEVICE_STATE	0x40	/* QEMU 10: a device's state, another layout */

/* Only 4 KiB target pages: the header's offset array is sized for
 * 512 KiB / page size, so another page size is another wire format. */
#define MULTIFD_PAGE_SIZE		4096u
#define MULTIFD_PACKET_PAGES		128u
#define MULTIFD_PACKET_DATA		(MULTIFD_PACKET_PAGES * MULTIFD_PAGE_SIZE)
/* A compressed payload may exceed its pages; QEMU's receiver allows
 * twice their size. */
#define MULTIFD_PAYLOAD_MAX		(2 * MULTIFD_PACKET_DATA)
#define MULTIFD_INIT_SIZE		64u
#define MULTIFD_RAMBLOCK_LEN		256u
#define MULTIFD_PACKET_HEADER_SIZE	(64u + MULTIFD_RAMBLOCK_LEN + 8u * MULTIFD_PACKET_PAGES)

struct mfd_init {
	uint32_t magic;
	uint32_t version;
	unsigned char uuid[16];
	uint8_t id;
};

struct mfd_packet {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t pages_alloc;
	uint32_t normal_pages;
	uint32_t next_packet_size;
	uint64_t packet_num;
	/* QEMU 9.0+ (zero-page-detection=multifd): zero pages listed after the
	 * normal ones, no data; 7.2 leaves the field 0. */
	uint32_t zero_pages;
	/* Decoded only when the packet has pages (otherwise stale on the wire). */
	char ramblock[MULTIFD_RAMBLOCK_LEN];	/* NUL-terminated */
	uint64_t offset[MULTIFD_PACKET_PAGES];	/* normal_pages, then zero_pages */
};

void mfd_init_encode(const struct mfd_init *m, unsigned char out[MULTIFD_INIT_SIZE]);
/* Decodes and checks magic, version, the uuid (must equal want_uuid) and
 * the id (below channels). -1 with err filled otherwise; m is filled in
 * either case, for the message. */
int mfd_init_decode(const unsigned char in[MULTIFD_INIT_SIZE], struct mfd_init *m,
		    const unsigned char want_uuid[16], unsigned int channels,
		    char err[ERR_LEN]);

void mfd_packet_encode(const struct mfd_packet *p,
		       unsigned char out[MULTIFD_PACKET_HEADER_SIZE]);
/* Decodes and checks a packet header: magic, version, known flags (a
 * DEVICE_STATE packet is refused by name), pages_alloc, normal_pages and
 * zero_pages within MULTIFD_PACKET_PAGES, and, for a packet with pages,
 * the compression flag (must be comp_flag, also on a zero-only packet), a
 * NUL-terminated block name, a payload size that fits the normal pages
 * (exactly normal_pages pages without compression, nothing for none) and
 * page-aligned offsets. -1 with err filled otherwise. */
int mfd_packet_decode(const unsigned char in[MULTIFD_PACKET_HEADER_SIZE],
		      struct mfd_packet *p, uint32_t comp_flag,
		      char err[ERR_LEN]);
/* The block a packet with pages names, with every offset inside it; NULL
 * with err filled otherwise. */
struct ram_block *mfd_packet_block(const struct mfd_packet *p,
				   const struct ram_list *ram,
				   char err[ERR_LEN]);

const char *mfd_compression_name(uint32_t comp_flag);

#endif
