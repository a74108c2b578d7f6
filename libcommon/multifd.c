// SPDX-License-Identifier: GPL-3.0-or-later
/* Encoders and checking decoders of the multifd init and packet headers. */
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "bytes.h"
#include "multifd.h"

#define KNOWN_FLAGS	(MULTIFD_FLAG_SYNC | MULTIFD_FLAG_COMPRESSION_MASK)

const char *mfd_compression_name(uint32_t comp_flag)
{
	switch (comp_flag) {
	case MULTIFD_FLAG_NOCOMP: return "none";
	case MULTIFD_FLAG_ZLIB: return "zlib";
	case MULTIFD_FLAG_ZSTD: return "zstd";
	case 0x8: return "qpl";
	case 0x10: return "uadk";
	case 0x20: return "qatzip";
	default: return "unknown";
	}
}

void mfd_init_encode(const struct mfd_init *m, unsigned char out[MULTIFD_INIT_SIZE])
{
	memset(out, 0, MULTIFD_INIT_SIZE);
	put_be32(out, m->magic);
	put_be32(out + 4, m->version);
	memcpy(out + 8, m->uuid, 16);
	out[24] = m->id;
}

int mfd_init_decode(const unsigned char in[MULTIFD_INIT_SIZE], struct mfd_init *m,
		    const unsigned char want_uuid[16], unsigned int channels,
		    char err[ERR_LEN])
{
	char got[37], want[37];

	m->magic = get_be32(in);
	m->version = get_be32(in + 4);
	memcpy(m->uuid, in + 8, 16);
	m->id = in[24];
	if (m->magic != MULTIFD_MAGIC) {
		snprintf(err, ERR_LEN, "init packet magic 0x%08x, expected 0x%08x",
			 m->magic, MULTIFD_MAGIC);
		return -1;
	}
	if (m->version != MULTIFD_VERSION) {
		snprintf(err, ERR_LEN, "init packet version %u, expected %u",
			 m->version, MULTIFD_VERSION);
		return -1;
	}
	if (memcmp(m->uuid, want_uuid, 16)) {
		uuid_unparse_lower(m->uuid, got);
		uuid_unparse_lower(want_uuid, want);
		snprintf(err, ERR_LEN, "uuid %s, expected %s", got, want);
		return -1;
	}
	if (m->id >= channels) {
		snprintf(err, ERR_LEN, "channel id %u, expected below the channel count %u",
			 m->id, channels);
		return -1;
	}
	return 0;
}

void mfd_packet_encode(const struct mfd_packet *p,
		       unsigned char out[MULTIFD_PACKET_HEADER_SIZE])
{
	size_t name_len = strnlen(p->ramblock, MULTIFD_RAMBLOCK_LEN - 1);

	memset(out, 0, MULTIFD_PACKET_HEADER_SIZE);
	put_be32(out, p->magic);
	put_be32(out + 4, p->version);
	put_be32(out + 8, p->flags);
	put_be32(out + 12, p->pages_alloc);
	put_be32(out + 16, p->normal_pages);
	put_be32(out + 20, p->next_packet_size);
	put_be64(out + 24, p->packet_num);
	put_be32(out + 32, p->zero_pages);
	memcpy(out + 64, p->ramblock, name_len);
	for (uint32_t i = 0; i < p->normal_pages + p->zero_pages && i < MULTIFD_PACKET_PAGES; i++)
		put_be64(out + 320 + 8 * i, p->offset[i]);
}

/* The header fields of a packet without pages are stale on the wire (QEMU
 * does not clear them); those of a packet with pages are checked here. */
static int check_pages(const unsigned char in[MULTIFD_PACKET_HEADER_SIZE],
		       struct mfd_packet *p, uint32_t comp_flag, char err[ERR_LEN])
{
	const unsigned char *name = in + 64;
	uint32_t comp = p->flags & MULTIFD_FLAG_COMPRESSION_MASK;

	if (comp != comp_flag) {
		snprintf(err, ERR_LEN, "compression flag 0x%x (%s), expected 0x%x (%s)",
			 comp, mfd_compression_name(comp), comp_flag,
			 mfd_compression_name(comp_flag));
		return -1;
	}
	if (comp_flag == MULTIFD_FLAG_NOCOMP || !p->normal_pages) {
		if (p->next_packet_size != p->normal_pages * MULTIFD_PAGE_SIZE) {
			snprintf(err, ERR_LEN, "next_packet_size %u, expected %u (%u pages)",
				 p->next_packet_size, p->normal_pages * MULTIFD_PAGE_SIZE,
				 p->normal_pages);
			return -1;
		}
	} else if (!p->next_packet_size || p->next_packet_size > MULTIFD_PAYLOAD_MAX) {
		snprintf(err, ERR_LEN, "next_packet_size %u, expected 1..%u for %u compressed pages",
			 p->next_packet_size, MULTIFD_PAYLOAD_MAX, p->normal_pages);
		return -1;
	}
	if (!memchr(name, 0, MULTIFD_RAMBLOCK_LEN) || !name[0]) {
		snprintf(err, ERR_LEN, "ramblock name is %s",
			 name[0] ? "not NUL-terminated" : "empty");
		return -1;
	}
	for (const unsigned char *c = name; *c; c++) {
		if (*c < 0x20 || *c > 0x7e) {
			snprintf(err, ERR_LEN, "ramblock name is not printable text (byte 0x%02x at %zu)",
				 *c, (size_t)(c - name));
			return -1;
		}
	}
	memcpy(p->ramblock, name, MULTIFD_RAMBLOCK_LEN);
	for (uint32_t i = 0; i < p->normal_pages + p->zero_pages; i++) {
		p->offset[i] = get_be64(in + 320 + 8 * i);
		if (p->offset[i] % MULTIFD_PAGE_SIZE) {
			snprintf(err, ERR_LEN, "page %u: offset 0x%llx is not page-aligned",
				 i, (unsigned long long)p->offset[i]);
			return -1;
		}
	}
	return 0;
}

int mfd_packet_decode(const unsigned char in[MULTIFD_PACKET_HEADER_SIZE],
		      struct mfd_packet *p, uint32_t comp_flag,
		      char err[ERR_LEN])
{
	p->magic = get_be32(in);
	p->version = get_be32(in + 4);
	p->flags = get_be32(in + 8);
	p->pages_alloc = get_be32(in + 12);
	p->normal_pages = get_be32(in + 16);
	p->next_packet_size = get_be32(in + 20);
	p->packet_num = get_be64(in + 24);
	p->zero_pages = get_be32(in + 32);
	p->ramblock[0] = 0;

	if (p->magic != MULTIFD_MAGIC) {
		snprintf(err, ERR_LEN, "packet magic 0x%08x, expected 0x%08x",
			 p->magic, MULTIFD_MAGIC);
		return -1;
	}
	if (p->version != MULTIFD_VERSION) {
		snprintf(err, ERR_LEN, "packet version %u, expected %u",
			 p->version, MULTIFD_VERSION);
		return -1;
	}
	if (p->flags & MULTIFD_FLAG_DEVICE_STATE) {
		snprintf(err, ERR_LEN, "a DEVICE_STATE packet (flags 0x%x): a device's state over multifd (QEMU 10's VFIO default with compression none) is not carried here; on the source: -global vfio-pci.x-migration-multifd-transfer=off",
			 p->flags);
		return -1;
	}
	if (p->flags & ~(uint32_t)KNOWN_FLAGS) {
		snprintf(err, ERR_LEN, "packet flags 0x%x, expected only SYNC (0x1) and a compression flag (0x3e)",
			 p->flags);
		return -1;
	}
	if (p->pages_alloc > MULTIFD_PACKET_PAGES) {
		snprintf(err, ERR_LEN, "pages_alloc %u, expected at most %u",
			 p->pages_alloc, MULTIFD_PACKET_PAGES);
		return -1;
	}
	if (p->normal_pages > p->pages_alloc) {
		snprintf(err, ERR_LEN, "normal_pages %u, expected at most pages_alloc %u",
			 p->normal_pages, p->pages_alloc);
		return -1;
	}
	if (p->zero_pages > p->pages_alloc - p->normal_pages) {
		snprintf(err, ERR_LEN, "zero_pages %u, expected at most pages_alloc - normal_pages %u",
			 p->zero_pages, p->pages_alloc - p->normal_pages);
		return -1;
	}
	return p->normal_pages + p->zero_pages ? check_pages(in, p, comp_flag, err) : 0;
}

struct ram_block *mfd_packet_block(const struct mfd_packet *p,
				   const struct ram_list *ram,
				   char err[ERR_LEN])
{
	struct ram_block *b = ram_block_find(ram, p->ramblock, strlen(p->ramblock));

	if (!b) {
		snprintf(err, ERR_LEN, "unknown RAM block '%.64s'", p->ramblock);
		return NULL;
	}
	for (uint32_t i = 0; i < p->normal_pages + p->zero_pages; i++) {
		if (p->offset[i] >= b->length || b->length - p->offset[i] < MULTIFD_PAGE_SIZE) {
			snprintf(err, ERR_LEN, "page %u: offset 0x%llx is outside block '%.64s' (length 0x%llx)",
				 i, (unsigned long long)p->offset[i], b->name,
				 (unsigned long long)b->length);
			return NULL;
		}
	}
	return b;
}
