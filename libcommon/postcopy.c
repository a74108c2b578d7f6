/* Postcopy from a saved stream: the return-path decoders, the commands,
 * and the index of a stream file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "error.h"
#include "postcopy.h"

const char *pc_rp_name(uint16_t type)
{
	static const char *const names[PC_RP_TYPES] = {
		"INVALID", "SHUT", "PONG", "REQ_PAGES_ID", "REQ_PAGES", "RECV_BITMAP",
		"RESUME_ACK",
	};

	return type < PC_RP_TYPES ? names[type] : "unknown";
}

int pc_rp_header(const unsigned char in[PC_RP_HEADER_SIZE], struct pc_rp_msg *m,
		 char err[ERR_LEN])
{
	memset(m, 0, sizeof(*m));
	m->type = get_be16(in);
	m->len = get_be16(in + 2);
	switch (m->type) {
	case PC_RP_SHUT:
	case PC_RP_PONG:
	case PC_RP_RESUME_ACK:
		if (m->len != 4)
			return err_set(err, "return-path %s of %u bytes, expected 4", pc_rp_name(m->type), m->len);
		return 0;
	case PC_RP_REQ_PAGES:
		if (m->len != 12)
			return err_set(err, "return-path REQ_PAGES of %u bytes, expected 12", m->len);
		return 0;
	case PC_RP_REQ_PAGES_ID:
		if (m->len < 14 || m->len > 13 + 255)
			return err_set(err, "return-path REQ_PAGES_ID of %u bytes, expected 14..268", m->len);
		return 0;
	case PC_RP_RECV_BITMAP:
		if (m->len < 2 || m->len > 1 + 255)
			return err_set(err, "return-path RECV_BITMAP of %u bytes, expected 2..256", m->len);
		return 0;
	default:
		return err_set(err, "return-path message of unknown type %u (length %u)", m->type, m->len);
	}
}

/* u8 n | name[n], exactly filling len bytes */
static int take_name(const unsigned char *in, size_t len, struct pc_rp_msg *m, char err[ERR_LEN])
{
	uint8_t n = in[0];

	if (!n || (size_t)n + 1 != len)
		return err_set(err, "return-path %s: block name of %u bytes in %zu", pc_rp_name(m->type), n, len);
	for (size_t i = 0; i < n; i++)
		if (in[1 + i] < 0x20 || in[1 + i] > 0x7e)
			return err_set(err, "return-path %s: block name is not printable text", pc_rp_name(m->type));
	memcpy(m->name, in + 1, n);
	m->name[n] = 0;
	m->name_len = n;
	return 0;
}

int pc_rp_body(const unsigned char *in, struct pc_rp_msg *m, char err[ERR_LEN])
{
	switch (m->type) {
	case PC_RP_SHUT:
	case PC_RP_PONG:
	case PC_RP_RESUME_ACK:
		m->value = get_be32(in);
		return 0;
	case PC_RP_RECV_BITMAP:
		return take_name(in, m->len, m, err);
	default:	/* REQ_PAGES, REQ_PAGES_ID */
		m->start = get_be64(in);
		m->length = get_be32(in + 8);
		if (m->start % PC_PAGE_SIZE || !m->length || m->length % PC_PAGE_SIZE)
			return err_set(err, "return-path %s for %u bytes at 0x%llx: not whole %u-byte pages",
				      pc_rp_name(m->type), m->length, (unsigned long long)m->start, PC_PAGE_SIZE);
		if (m->type == PC_RP_REQ_PAGES_ID)
			return take_name(in + 12, (size_t)m->len - 12, m, err);
		return 0;
	}
}

size_t pc_discard_encode(const struct ram_block *b, unsigned char *out)
{
	size_t n = 0;

	out[n++] = 0;			/* version */
	out[n++] = b->name_len;
	memcpy(out + n, b->name, b->name_len);
	n += b->name_len;
	out[n++] = 0;			/* QEMU's NUL after the name */
	put_be64(out + n, 0);
	put_be64(out + n + 8, b->length);
	return n + 16;
}

void pc_advise_encode(unsigned char out[16])
{
	put_be64(out, PC_PAGE_SIZE);	/* the OR of the blocks' page sizes */
	put_be64(out + 8, PC_PAGE_SIZE);
}

/* ---- the index ---- */

int pc_ram_check(const struct ram_list *l, char err[ERR_LEN])
{
	uint64_t pages = 0;

	/* 8 bytes a page: a claim beyond that is refused before any table */
	for (uint32_t i = 0; i < l->count; i++)
		pages += l->blocks[i].length / PC_PAGE_SIZE;
	if (pages > PC_MAX_PAGES)
		return err_set(err, "the stream's RAM blocks claim %llu pages; postcopy-serve serves "
			      "at most %llu (%llu GiB of RAM)", (unsigned long long)pages,
			      (unsigned long long)PC_MAX_PAGES,
			      (unsigned long long)(PC_MAX_PAGES * PC_PAGE_SIZE >> 30));
	return 0;
}

static int index_blocks(struct pc_index *ix, struct stream_reader *r, char err[ERR_LEN])
{
	const struct ram_list *l = stream_ram(r);

	if (pc_ram_check(l, err) < 0)
		return -1;
	ix->blocks = calloc(l->count, sizeof(*ix->blocks));
	if (!ix->blocks)
		return err_set(err, "out of memory for %u blocks", l->count);
	ix->nblocks = l->count;
	for (uint32_t i = 0; i < l->count; i++) {
		struct pc_block *b = &ix->blocks[i];

		b->rb = &l->blocks[i];
		b->pages = l->blocks[i].length / PC_PAGE_SIZE;
		ix->total_pages += b->pages;
		/* the per-page table follows what the stream claims: map it
		 * lazily, so a claim costs nothing until pages are indexed */
		b->page = calloc(b->pages, sizeof(*b->page));
		if (!b->page)
			return err_set(err, "out of memory indexing RAM block '%s' (%llu pages)",
				      b->rb->name, (unsigned long long)b->pages);
	}
	return 0;
}

#define PREFETCH_RECORDS	8

static int index_page(struct pc_index *ix, const struct stream_item *it, const unsigned char *base)
{
	struct pc_block *b = &ix->blocks[it->block->index];
	uint64_t *e = &b->page[it->addr / PC_PAGE_SIZE];

	/* The walk waits on memory: each header is on another page. Runs of
	 * data pages are the common case; fetching the header a few records
	 * ahead lets the loads overlap (a prefetch never faults). */
	if (it->type == SI_RAM_PAGE)
		__builtin_prefetch(it->data + PC_PAGE_SIZE + PREFETCH_RECORDS * (8 + PC_PAGE_SIZE));
	if (*e)
		ix->repeated++;
	ix->records++;
	*e = it->type == SI_RAM_ZERO ? PC_ZERO | it->fill : (uint64_t)(it->data - base);
	return 0;
}

/* What a postcopy source of this stream cannot be, by name. */
static int refuse_item(const struct stream_item *it, char err[ERR_LEN])
{
	if (it->type == SI_SECTION && it->section->kind == SECTION_KIND_VFIO)
		return err_set(err, "offset %llu: vfio device '%s' is iterable: postcopy-serve serves RAM and non-iterable device state only",
			      (unsigned long long)it->offset, it->section->idstr);
	if (it->type == SI_COMMAND && it->cmd == MIG_CMD_PACKAGED)
		return err_set(err, "offset %llu: a PACKAGED command: this stream came from a postcopy migration itself, not a saved one",
			      (unsigned long long)it->offset);
	return 0;
}

static int index_item(struct pc_index *ix, struct stream_reader *r, const struct stream_item *it,
		      const unsigned char *base, char err[ERR_LEN])
{
	if (refuse_item(it, err) < 0)
		return -1;
	switch (it->type) {
	case SI_CONFIG:
		ix->config = base;	/* the header, then the configuration */
		ix->config_len = it->end_offset;
		return 0;
	case SI_SECTION:
		if (it->section->kind == SECTION_KIND_RAM)
			ix->ram = *it->section;
		if (it->section_type == QEMU_VM_SECTION_FULL) {
			if (!ix->devices)
				ix->devices_start = it->offset;
			ix->devices++;
		}
		return 0;
	case SI_RAM_MEM_SIZE:
		if (stream_page_size(r) != PC_PAGE_SIZE)
			return err_set(err, "offset %llu: target page size %u: postcopy-serve serves %u-byte pages only",
				      (unsigned long long)it->offset, stream_page_size(r), PC_PAGE_SIZE);
		return index_blocks(ix, r, err);
	case SI_RAM_PAGE:
	case SI_RAM_ZERO:
		return index_page(ix, it, base);
	case SI_FOOTER:
		if (it->section->kind == SECTION_KIND_OPAQUE)
			ix->devices_end = it->end_offset;
		return 0;
	default:
		return 0;
	}
}

int pc_index_build(struct pc_index *ix, struct stream_reader *r, const unsigned char *base,
		   char err[ERR_LEN])
{
	struct stream_item it;
	int ret;

	memset(ix, 0, sizeof(*ix));
	while ((ret = stream_next(r, &it)) > 0) {
		/* the device state is sent whole, verbatim: nothing of RAM
		 * may lie inside it */
		if (ix->devices && it.section && it.section->kind == SECTION_KIND_RAM)
			return err_set(err, "offset %llu: RAM after device state: postcopy-serve sends the device state in one piece",
				      (unsigned long long)it.offset);
		if (it.type != SI_HEADER && index_item(ix, r, &it, base, err) < 0)
			return -1;
	}
	if (ret < 0)
		return err_set(err, "%s", stream_error(r));
	if (!ix->config)
		return err_set(err, "no configuration section: QEMU 7.2 wants one first");
	if (!ix->nblocks)
		return err_set(err, "no RAM block list (MEM_SIZE): nothing to serve");
	if (!ix->devices)
		return err_set(err, "no device state (FULL sections): a destination could not run");
	if (ix->devices_end < ix->devices_start)
		return err_set(err, "offset %llu: the device state has no section footer: where it ends is unknown",
			      (unsigned long long)ix->devices_start);
	if (ix->devices_end - ix->devices_start > PC_PACKAGE_MAX - 64)
		return err_set(err, "device state of %llu bytes: more than QEMU's 16 MiB package",
			      (unsigned long long)(ix->devices_end - ix->devices_start));
	return 0;
}

void pc_index_free(struct pc_index *ix)
{
	for (uint32_t i = 0; ix->blocks && i < ix->nblocks; i++)
		free(ix->blocks[i].page);
	free(ix->blocks);
	memset(ix, 0, sizeof(*ix));
}
