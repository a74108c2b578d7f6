// SPDX-License-Identifier: GPL-3.0-or-later
/* Encoder of the QEMU migration stream, the mirror of stream_read.c. */
#include <string.h>

#include "bytes.h"
#include "mapped_ram.h"
#include "stream.h"

void stream_writer_init(struct stream_writer *w, struct out_buf *out,
			uint32_t page_size)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->page_size = page_size ? page_size : 4096;
}

int stream_write_header(struct stream_writer *w)
{
	unsigned char b[8];

	put_be32(b, QEMU_VM_FILE_MAGIC);
	put_be32(b + 4, QEMU_VM_FILE_VERSION);
	return out_write(w->out, b, sizeof(b));
}

int stream_write_config(struct stream_writer *w, const char *machine,
			const unsigned char *uuid)
{
	static const char uuid_name[] = "configuration/uuid";
	size_t len = strlen(machine);

	out_u8(w->out, QEMU_VM_CONFIGURATION);
	out_be32(w->out, (uint32_t)len);
	out_write(w->out, machine, len);
	if (uuid) {
		out_u8(w->out, QEMU_VM_SUBSECTION);
		out_u8(w->out, sizeof(uuid_name) - 1);
		out_write(w->out, uuid_name, sizeof(uuid_name) - 1);
		out_be32(w->out, 1);
		out_write(w->out, uuid, 16);
	}
	return w->out->err ? -1 : 0;
}

static void write_subsection_header(struct stream_writer *w, const char *name)
{
	out_u8(w->out, QEMU_VM_SUBSECTION);
	out_u8(w->out, (uint8_t)strlen(name));
	out_write(w->out, name, strlen(name));
	out_be32(w->out, 1);
}

/* In QEMU's order: target-page-bits, capabilities, uuid. */
int stream_write_config_from(struct stream_writer *w, const struct stream_config *cfg)
{
	uint32_t ncaps = 0;
	bool want_mapped = w->mapped != NULL;

	out_u8(w->out, QEMU_VM_CONFIGURATION);
	out_be32(w->out, (uint32_t)strlen(cfg->machine));
	out_write(w->out, cfg->machine, strlen(cfg->machine));
	if (cfg->target_page_bits) {
		write_subsection_header(w, "configuration/target-page-bits");
		out_be32(w->out, cfg->target_page_bits);
	}
	for (uint32_t i = 0; i < cfg->ncaps; i++)
		ncaps += strcmp(cfg->caps[i], MAPPED_RAM_CAPABILITY) != 0;
	ncaps += want_mapped;
	if (ncaps) {
		write_subsection_header(w, "configuration/capabilities");
		out_be32(w->out, ncaps);
		/* QEMU lists them in its capability order: mapped-ram last
		 * of the two it validates */
		for (uint32_t i = 0; i < cfg->ncaps; i++) {
			if (!strcmp(cfg->caps[i], MAPPED_RAM_CAPABILITY))
				continue;
			out_u8(w->out, (uint8_t)strlen(cfg->caps[i]));
			out_write(w->out, cfg->caps[i], strlen(cfg->caps[i]));
		}
		if (want_mapped) {
			out_u8(w->out, sizeof(MAPPED_RAM_CAPABILITY) - 1);
			out_write(w->out, MAPPED_RAM_CAPABILITY, sizeof(MAPPED_RAM_CAPABILITY) - 1);
		}
	}
	if (cfg->has_uuid) {
		write_subsection_header(w, "configuration/uuid");
		out_write(w->out, cfg->uuid, 16);
	}
	return w->out->err ? -1 : 0;
}

int stream_write_section(struct stream_writer *w, uint8_t type,
			 const struct section_info *s)
{
	out_u8(w->out, type);
	out_be32(w->out, s->id);
	if (type == QEMU_VM_SECTION_START || type == QEMU_VM_SECTION_FULL) {
		size_t len = strlen(s->idstr);

		out_u8(w->out, (uint8_t)len);
		out_write(w->out, s->idstr, len);
		out_be32(w->out, s->instance);
		out_be32(w->out, s->version);
	}
	return w->out->err ? -1 : 0;
}

int stream_write_footer(struct stream_writer *w, uint32_t section_id)
{
	out_u8(w->out, QEMU_VM_SECTION_FOOTER);
	return out_be32(w->out, section_id);
}

int stream_write_mem_size(struct stream_writer *w, const struct ram_list *ram)
{
	out_be64(w->out, ram->total | RAM_SAVE_FLAG_MEM_SIZE);
	for (uint32_t i = 0; i < ram->count; i++) {
		const struct ram_block *b = &ram->blocks[i];

		out_u8(w->out, b->name_len);
		out_write(w->out, b->name, b->name_len);
		out_be64(w->out, b->length);
	}
	return w->out->err ? -1 : 0;
}

size_t stream_page_header(struct stream_writer *w, const struct ram_block *b,
			  uint64_t addr, uint64_t flags,
			  unsigned char h[STREAM_PAGE_HEADER_MAX])
{
	size_t n = 8;

	if (b == w->last_block) {
		flags |= RAM_SAVE_FLAG_CONTINUE;
	} else {
		h[8] = b->name_len;
		memcpy(h + 9, b->name, b->name_len);
		n += 1 + b->name_len;
		w->last_block = b;
	}
	put_be64(h, addr | flags);
	return n;
}

static int write_page_header(struct stream_writer *w, const struct ram_block *b,
			     uint64_t addr, uint64_t flags)
{
	unsigned char h[STREAM_PAGE_HEADER_MAX];

	return out_write(w->out, h, stream_page_header(w, b, addr, flags, h));
}

int stream_write_page(struct stream_writer *w, const struct ram_block *b,
		      uint64_t addr, const void *data)
{
	write_page_header(w, b, addr, RAM_SAVE_FLAG_PAGE);
	return out_write(w->out, data, w->page_size);
}

int stream_write_zero(struct stream_writer *w, const struct ram_block *b,
		      uint64_t addr, uint8_t fill)
{
	write_page_header(w, b, addr, RAM_SAVE_FLAG_ZERO);
	return out_u8(w->out, fill);
}

int stream_write_ram_flag(struct stream_writer *w, uint64_t flag)
{
	return out_be64(w->out, flag);
}

int stream_write_vfio_tag(struct stream_writer *w, uint64_t tag)
{
	return out_be64(w->out, tag);
}

int stream_write_vfio_data(struct stream_writer *w, const void *p, size_t n)
{
	out_be64(w->out, VFIO_MIG_FLAG_DEV_DATA_STATE);
	out_be64(w->out, n);
	return out_write(w->out, p, n);
}

int stream_write_command(struct stream_writer *w, uint16_t cmd,
			 const void *data, uint16_t len)
{
	out_u8(w->out, QEMU_VM_COMMAND);
	out_be16(w->out, cmd);
	out_be16(w->out, len);
	return out_write(w->out, data, len);
}

int stream_write_eof(struct stream_writer *w)
{
	return out_u8(w->out, QEMU_VM_EOF);
}

int stream_write_vmdesc(struct stream_writer *w, const char *json, size_t len)
{
	out_u8(w->out, QEMU_VM_VMDESCRIPTION);
	out_be32(w->out, (uint32_t)len);
	return out_write(w->out, json, len);
}

int stream_write_item(struct stream_writer *w, const struct stream_item *it,
		      const struct ram_list *ram)
{
	switch (it->type) {
	case SI_HEADER:
		return stream_write_header(w);
	case SI_CONFIG:
		/* as read, unless the mapped-ram capability must come or go */
		if (it->config && stream_config_has_cap(it->config, MAPPED_RAM_CAPABILITY) != !!w->mapped)
			return stream_write_config_from(w, it->config);
		return out_write(w->out, it->data, it->len);
	case SI_VFIO_DATA:
	case SI_OPAQUE:
	case SI_PACKAGE:
		return out_write(w->out, it->data, it->len);
	case SI_SECTION:
		return stream_write_section(w, it->section_type, it->section);
	case SI_RAM_MEM_SIZE:
		if (w->mapped)
			return mapped_ram_out_begin(w->mapped, w->out->io.fd, w->out, ram, w->page_size);
		return stream_write_mem_size(w, ram);
	case SI_RAM_PAGE:
		if (w->mapped)
			return mapped_ram_out_page(w->mapped, it->block, it->addr, it->data);
		return stream_write_page(w, it->block, it->addr, it->data);
	case SI_RAM_ZERO:
		if (w->mapped)
			return mapped_ram_out_fill(w->mapped, it->block, it->addr, it->fill);
		return stream_write_zero(w, it->block, it->addr, it->fill);
	case SI_RAM_HOOK:
		/* registration points of RDMA, flushes of multifd: a mapped-ram
		 * file has neither */
		return w->mapped ? 0 : stream_write_ram_flag(w, RAM_SAVE_FLAG_HOOK);
	case SI_RAM_MULTIFD_FLUSH:
		return w->mapped ? 0 : stream_write_ram_flag(w, RAM_SAVE_FLAG_MULTIFD_FLUSH);
	case SI_RAM_EOS:
		return stream_write_ram_flag(w, RAM_SAVE_FLAG_EOS);
	case SI_VFIO_TAG:
		out_be64(w->out, it->tag);
		if (it->tag == VFIO_MIG_FLAG_DEV_DATA_STATE)
			out_be64(w->out, it->size);
		return w->out->err ? -1 : 0;
	case SI_FOOTER:
		return stream_write_footer(w, it->section->id);
	case SI_COMMAND:
		return stream_write_command(w, it->cmd, it->data, (uint16_t)it->len);
	case SI_EOF:
		return stream_write_eof(w);
	case SI_VMDESC:
		return stream_write_vmdesc(w, (const char *)it->data, it->len);
	}
	return -1;
}

int stream_write_end(struct stream_writer *w, const struct stream_reader *r)
{
	size_t vmlen;
	const char *vm = stream_vmdesc(r, &vmlen);

	stream_write_eof(w);
	if (vm)
		stream_write_vmdesc(w, vm, vmlen);
	return w->out->err ? -1 : 0;
}
