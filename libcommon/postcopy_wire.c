// SPDX-License-Identifier: GPL-3.0-or-later
/* Postcopy on the wire: the return-path decoders and the commands. */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "error.h"
#include "postcopy_wire.h"

const char *pc_rp_name(uint16_t type)
{
	static const char *const names[PC_RP_TYPES] = {
		"INVALID", "SHUT", "PONG", "REQ_PAGES_ID", "REQ_PAGES", "RECV_BITMAP",
		"RESUME_ACK", "SWITCHOVER_ACK",
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
	case PC_RP_SWITCHOVER_ACK:
		if (m->len)
			return err_set(err, "return-path SWITCHOVER_ACK of %u bytes, expected 0", m->len);
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
	case PC_RP_SWITCHOVER_ACK:
		return 0;
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
