// SPDX-License-Identifier: GPL-3.0-or-later
/* Pull parser of the QEMU migration stream. Each record is looked at in
 * place (peek) and consumed only once it is complete and valid, so with a
 * tee (pass-through) only validated bytes go out. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "json.h"
#include "mapped_ram.h"
#include "stream.h"

enum reader_state {
	RS_HEADER,
	RS_TOP,
	RS_RAM_BODY,
	RS_MAPPED_PAGES,
	RS_VFIO_BODY,
	RS_VFIO_DATA,
	RS_OPAQUE_BODY,
	RS_FOOTER,
	RS_PACKAGE,
	RS_AFTER_EOF,
	RS_AFTER_VMDESC,
	RS_DONE,
	RS_ERROR,
};

/* Bytes an opaque body's footer candidate needs after it to be judged:
 * footer (5) + the largest section header (1 + 4 + 1 + 255 + 4 + 4). */
#define FOOTER_LOOKAHEAD	(5 + 269)
#define CHUNK_MAX		(256u << 10)
#define MAPPED_RUN_MAX		(1u << 20)	/* mapped-ram pages read at once */
#define SECTION_SLOTS		(2 * STREAM_MAX_SECTIONS)	/* a power of 2 */

struct stream_reader {
	struct in_buf *in;
	enum reader_state state;
	char err[512];
	struct ram_list ram;
	struct stream_config cfg;
	struct section_info **sections;	/* stable: items point at them */
	uint32_t nsections;
	uint32_t sections_cap;
	uint16_t *section_slots;	/* by id: index + 1, 0 empty */
	struct section_info *cur;	/* section whose body is being read */
	bool cur_started;		/* cur came from a START section */
	uint8_t cur_type;		/* the type of cur's header */
	struct ram_block *last_block;	/* for RAM_SAVE_FLAG_CONTINUE */
	uint32_t page_size;
	bool vfio_setup_seen;		/* SETUP_STATE must be followed by EOS */
	uint64_t data_left;		/* of a vfio data blob or a package */
	uint64_t package_size;
	bool header_seen;
	uint64_t rejected_footer;	/* last footer of cur not followed by a record */
	char *vmdesc;
	size_t vmdesc_len;
	bool libvirt_seen;
	struct stream_libvirt_save libvirt;
	/* mapped-ram: the blocks' layouts, the page handed out next, the
	 * offset where the stream goes on, pages read a run at a time */
	struct mapped_ram_block *mapped;
	enum stream_mapped_pages mapped_pages;
	uint32_t mapped_block;
	uint64_t mapped_page;
	uint64_t mapped_resume;
	unsigned char *run;
	uint64_t run_offset;
	size_t run_len;
};

static int fail(struct stream_reader *r, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct stream_reader *r, uint64_t offset, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->err, sizeof(r->err), "offset %llu: ",
		     (unsigned long long)offset);
	va_start(ap, fmt);
	vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
	va_end(ap);
	r->state = RS_ERROR;
	return -1;
}

/* Returns a pointer to n bytes at off past the current position, or NULL
 * with the error set (what: the thing expected there). */
static const unsigned char *peek(struct stream_reader *r, size_t off, size_t n,
				 const char *what)
{
	ssize_t got = in_want(r->in, off + n);

	if (got < 0) {
		fail(r, in_offset(r->in) + off, "read error while expecting %s: %s",
		     what, strerror(r->in->err));
		return NULL;
	}
	if ((size_t)got < off + n) {
		fail(r, in_offset(r->in) + (size_t)got,
		     "stream truncated: expected %s (%zu bytes), input ends",
		     what, n);
		return NULL;
	}
	return in_ptr(r->in) + off;
}

static void consume(struct stream_reader *r, struct stream_item *it, size_t n)
{
	it->offset = in_offset(r->in);
	in_skip(r->in, n);
	it->end_offset = in_offset(r->in);
}

static bool idstr_valid(const unsigned char *p, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

struct stream_reader *stream_reader_new(struct in_buf *in)
{
	struct stream_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->in = in;
	r->page_size = 4096;
	return r;
}

void stream_reader_free(struct stream_reader *r)
{
	if (!r)
		return;
	ram_list_clear(&r->ram);
	free(r->cfg.raw);
	for (uint32_t i = 0; i < r->nsections; i++)
		free(r->sections[i]);
	free(r->sections);
	free(r->section_slots);
	free(r->vmdesc);
	for (uint32_t i = 0; r->mapped && i < RAM_BLOCKS_MAX; i++)
		free(r->mapped[i].bitmap);
	free(r->mapped);
	free(r->run);
	free(r);
}

const struct mapped_ram_block *stream_mapped_ram(const struct stream_reader *r)
{
	return r->mapped;
}

void stream_reader_mapped_pages(struct stream_reader *r, enum stream_mapped_pages mode)
{
	r->mapped_pages = mode;
}

void stream_reader_lazy_pages(struct stream_reader *r, bool lazy)
{
	stream_reader_mapped_pages(r, lazy ? STREAM_MAPPED_PAGES_LAZY : STREAM_MAPPED_PAGES_READ);
}

bool stream_config_has_cap(const struct stream_config *cfg, const char *name)
{
	for (uint32_t i = 0; i < cfg->ncaps; i++)
		if (!strcmp(cfg->caps[i], name))
			return true;
	return false;
}

const char *stream_error(const struct stream_reader *r)
{
	return r->err;
}

struct ram_list *stream_ram(struct stream_reader *r)
{
	return &r->ram;
}

const struct stream_config *stream_config(const struct stream_reader *r)
{
	return &r->cfg;
}

uint32_t stream_page_size(const struct stream_reader *r)
{
	return r->page_size;
}

const char *stream_vmdesc(const struct stream_reader *r, size_t *len)
{
	if (len)
		*len = r->vmdesc_len;
	return r->vmdesc;
}

uint32_t stream_section_count(const struct stream_reader *r)
{
	return r->nsections;
}

static size_t section_slot(uint32_t id)
{
	return (size_t)((id * 0x9e3779b1u) >> 16) & (SECTION_SLOTS - 1);
}

static struct section_info *section_find(struct stream_reader *r, uint32_t id)
{
	if (!r->section_slots)
		return NULL;
	for (size_t s = section_slot(id); r->section_slots[s]; s = (s + 1) & (SECTION_SLOTS - 1)) {
		struct section_info *si = r->sections[r->section_slots[s] - 1];

		if (si->id == id)
			return si;
	}
	return NULL;
}

/* Remembers a new section; NULL with the error set. */
static struct section_info *section_add(struct stream_reader *r, uint64_t base,
					const struct section_info *info)
{
	struct section_info *s;
	size_t slot;

	if (r->nsections >= STREAM_MAX_SECTIONS) {
		fail(r, base, "more than %u sections", STREAM_MAX_SECTIONS);
		return NULL;
	}
	if (!r->section_slots) {
		r->section_slots = calloc(SECTION_SLOTS, sizeof(*r->section_slots));
		if (!r->section_slots)
			goto oom;
	}
	if (r->nsections == r->sections_cap) {
		uint32_t cap = r->sections_cap ? r->sections_cap * 2 : 16;
		struct section_info **n = realloc(r->sections, cap * sizeof(*n));

		if (!n)
			goto oom;
		r->sections = n;
		r->sections_cap = cap;
	}
	s = malloc(sizeof(*s));
	if (!s)
		goto oom;
	*s = *info;
	s->index = r->nsections;
	r->sections[r->nsections++] = s;
	for (slot = section_slot(s->id); r->section_slots[slot]; slot = (slot + 1) & (SECTION_SLOTS - 1))
		;
	r->section_slots[slot] = (uint16_t)r->nsections;
	return s;
oom:
	fail(r, base, "out of memory");
	return NULL;
}

static enum section_kind kind_of(const char *idstr)
{
	size_t n = strlen(idstr);

	if (!strcmp(idstr, "ram"))
		return SECTION_KIND_RAM;
	if (!strcmp(idstr, "vfio") || (n > 5 && !strcmp(idstr + n - 5, "/vfio")))
		return SECTION_KIND_VFIO;
	return SECTION_KIND_OPAQUE;
}

/* libvirt's save header: 16 bytes of magic, then u32 version, data_len,
 * was_running, format (compression), cookie offset and 14 unused, in the
 * saving host's byte order; data_len bytes of XML and cookie follow. */
#define LIBVIRT_SAVE_HEADER_SIZE	92
#define LIBVIRT_SAVE_VERSION_MAX	2

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int skip_libvirt_save(struct stream_reader *r)
{
	static const char *const formats[] = { "raw", "gzip", "bzip2", "xz", "lzop", "zstd" };
	static const char *const tools[] = { "cat", "gzip", "bzip2", "xz", "lzop", "zstd" };
	const unsigned char *p = peek(r, 0, LIBVIRT_SAVE_HEADER_SIZE, "libvirt's save header (92 bytes)");
	uint32_t (*get)(const unsigned char *) = get_le32;
	struct stream_libvirt_save *ls = &r->libvirt;
	uint64_t at = in_offset(r->in), left;
	uint32_t format;

	if (!p)
		return -1;
	if (!memcmp(p, "LibvirtQemudPart", 16))
		return fail(r, at, "a libvirt save image that never completed (magic LibvirtQemudPart, "
			    "which libvirt replaces once QEMU wrote the whole stream)");
	if (memcmp(p, "LibvirtQemudSave", 16))
		return fail(r, at, "bad magic \"%.16s\", expected \"QEVM\" or libvirt's \"LibvirtQemudSave\"", p);
	/* libvirt writes it in its host's order: big-endian looks too big */
	if (get_le32(p + 16) > LIBVIRT_SAVE_VERSION_MAX)
		get = get_be32;
	ls->version = get(p + 16);
	if (!ls->version || ls->version > LIBVIRT_SAVE_VERSION_MAX)
		return fail(r, at + 16, "libvirt save header version %u, expected 1 or 2", get_le32(p + 16));
	ls->data_len = get(p + 20);
	ls->was_running = get(p + 24) != 0;
	format = get(p + 28);
	if (format) {
		uint64_t start = at + LIBVIRT_SAVE_HEADER_SIZE + ls->data_len;

		if (format >= sizeof(formats) / sizeof(formats[0]))
			return fail(r, at + 28, "libvirt save image format %u, which libvirt does not have", format);
		return fail(r, at + 28, "the stream in this libvirt save image is compressed with %s "
			    "(libvirt's save_image_format): read it decompressed, e.g. "
			    "tail -c +%" PRIu64 " FILE | %s -d | migbox stream-dump",
			    formats[format], start + 1, tools[format]);
	}
	in_skip(r->in, LIBVIRT_SAVE_HEADER_SIZE);
	for (left = ls->data_len; left;) {
		size_t k = left < (1u << 20) ? (size_t)left : 1u << 20;

		if (!peek(r, 0, k, "libvirt's domain XML (data_len of its save header)"))
			return -1;
		in_skip(r->in, k);
		left -= k;
	}
	ls->stream_offset = in_offset(r->in);
	r->libvirt_seen = true;
	return 0;
}

const struct stream_libvirt_save *stream_libvirt_save(const struct stream_reader *r)
{
	return r->libvirt_seen ? &r->libvirt : NULL;
}

static int read_header(struct stream_reader *r, struct stream_item *it)
{
	const unsigned char *p = peek(r, 0, 8, "the stream header (magic QEVM, version)");
	uint32_t magic, version;

	if (!p)
		return -1;
	if (!r->libvirt_seen && !memcmp(p, "LibvirtQ", 8)) {
		if (skip_libvirt_save(r) < 0 ||
		    !(p = peek(r, 0, 8, "the stream header after libvirt's (magic QEVM, version)")))
			return -1;
	}
	magic = get_be32(p);
	version = get_be32(p + 4);
	if (magic != QEMU_VM_FILE_MAGIC)
		return fail(r, in_offset(r->in),
			    "bad magic 0x%08x, expected 0x%08x (\"QEVM\"): not a QEMU migration stream",
			    magic, QEMU_VM_FILE_MAGIC);
	if (version == QEMU_VM_FILE_VERSION_COMPAT)
		return fail(r, in_offset(r->in) + 4,
			    "stream version 2 (pre-0.13 QEMU) is not supported, expected 3");
	if (version != QEMU_VM_FILE_VERSION)
		return fail(r, in_offset(r->in) + 4,
			    "unsupported stream version %u, expected 3", version);
	it->type = SI_HEADER;
	it->version = version;
	consume(r, it, 8);
	r->header_seen = true;
	r->state = RS_TOP;
	return 1;
}

/* One configuration/... subsection at off (its name already checked);
 * returns the offset past it, or 0 with the error set. */
static size_t read_config_subsection(struct stream_reader *r, uint64_t base,
				     size_t off, const char *name)
{
	struct stream_config *cfg = &r->cfg;
	const unsigned char *p;

	if (!strcmp(name, "configuration/uuid")) {
		p = peek(r, off, 16, "uuid (16 bytes)");
		if (!p)
			return 0;
		memcpy(cfg->uuid, p, 16);
		cfg->has_uuid = true;
		return off + 16;
	}
	if (!strcmp(name, "configuration/target-page-bits")) {
		uint32_t bits;

		p = peek(r, off, 4, "target page bits");
		if (!p)
			return 0;
		bits = get_be32(p);
		if (bits < 12 || bits > 16) {
			fail(r, base + off, "target page bits %u, expected 12..16", bits);
			return 0;
		}
		cfg->target_page_bits = bits;
		r->page_size = 1u << bits;
		return off + 4;
	}
	if (!strcmp(name, "configuration/capabilities")) {
		uint32_t count;

		p = peek(r, off, 4, "capability count");
		if (!p)
			return 0;
		count = get_be32(p);
		if (count > 16) {
			fail(r, base + off, "capability count %u, expected at most 16", count);
			return 0;
		}
		off += 4;
		cfg->ncaps = count;
		for (uint32_t i = 0; i < count; i++) {
			uint8_t nlen;

			p = peek(r, off, 1, "capability name length");
			if (!p)
				return 0;
			nlen = p[0];
			p = peek(r, off + 1, nlen, "capability name");
			if (!p)
				return 0;
			if (!idstr_valid(p, nlen)) {
				fail(r, base + off + 1, "capability name is not printable text");
				return 0;
			}
			memcpy(cfg->caps[i], p, nlen);
			cfg->caps[i][nlen] = 0;
			off += 1 + nlen;
		}
		return off;
	}
	fail(r, base + off,
	     "unknown configuration subsection '%s' (expected configuration/uuid, /target-page-bits or /capabilities)",
	     name);
	return 0;
}

static int read_config(struct stream_reader *r, struct stream_item *it)
{
	struct stream_config *cfg = &r->cfg;
	uint64_t base = in_offset(r->in);
	const unsigned char *p;
	size_t off;
	uint32_t len;

	if (cfg->present)
		return fail(r, base, "second configuration section");
	if (r->nsections)
		return fail(r, base, "configuration section after the first device section");
	p = peek(r, 0, 5, "configuration section header");
	if (!p)
		return -1;
	len = get_be32(p + 1);
	if (len == 0 || len > 255)
		return fail(r, base + 1, "machine name length %u, expected 1..255", len);
	p = peek(r, 5, len, "machine name");
	if (!p)
		return -1;
	if (!idstr_valid(p, len))
		return fail(r, base + 5, "machine name is not printable text");
	memcpy(cfg->machine, p, len);
	cfg->machine[len] = 0;
	off = 5 + len;

	/* Subsections, as long as the next byte says so. */
	for (;;) {
		char name[256];
		uint8_t nlen;
		ssize_t got = in_want(r->in, off + 1);

		if (got < 0)
			return fail(r, base + off, "read error: %s", strerror(r->in->err));
		if ((size_t)got < off + 1 || in_ptr(r->in)[off] != QEMU_VM_SUBSECTION)
			break;
		p = peek(r, off + 1, 1, "configuration subsection name length");
		if (!p)
			return -1;
		nlen = p[0];
		p = peek(r, off + 2, (size_t)nlen + 4, "configuration subsection name and version");
		if (!p)
			return -1;
		if (!idstr_valid(p, nlen))
			return fail(r, base + off + 2, "configuration subsection name is not printable text");
		memcpy(name, p, nlen);
		name[nlen] = 0;
		off = read_config_subsection(r, base, off + 2 + nlen + 4, name);
		if (!off)
			return -1;
	}
	cfg->raw = malloc(off);
	if (!cfg->raw)
		return fail(r, base, "out of memory");
	memcpy(cfg->raw, in_ptr(r->in), off);
	cfg->raw_len = off;
	cfg->present = true;
	it->type = SI_CONFIG;
	it->config = cfg;
	it->data = cfg->raw;
	it->len = off;
	consume(r, it, off);
	return 1;
}

/* The header of a START or FULL section: id, idstr, instance, version.
 * Returns the section (new or known) and sets *total, or NULL. */
static struct section_info *read_section_start(struct stream_reader *r, uint8_t type,
					       size_t *total)
{
	uint64_t base = in_offset(r->in);
	struct section_info info = { 0 }, *s;
	const unsigned char *p;
	uint8_t len;

	p = peek(r, 0, 6, "section header");
	if (!p)
		return NULL;
	info.id = get_be32(p + 1);
	len = p[5];
	p = peek(r, 6, (size_t)len + 8, "section idstr, instance and version");
	if (!p)
		return NULL;
	if (!idstr_valid(p, len)) {
		fail(r, base + 6, "section %u: idstr of length %u is not printable text", info.id, len);
		return NULL;
	}
	memcpy(info.idstr, p, len);
	info.instance = get_be32(p + len);
	info.version = get_be32(p + len + 4);
	info.kind = kind_of(info.idstr);
	*total = 6 + len + 8;

	s = section_find(r, info.id);
	if (type == QEMU_VM_SECTION_START) {
		if (s) {
			fail(r, base, "section %u ('%s') started twice", info.id, info.idstr);
			return NULL;
		}
		if (info.kind == SECTION_KIND_OPAQUE) {
			fail(r, base, "section %u: iterable device '%s' carries data migbox cannot parse (only 'ram' and vfio devices are iterable here)",
			     info.id, info.idstr);
			return NULL;
		}
		if (info.kind == SECTION_KIND_RAM && info.version != 4) {
			fail(r, base, "ram section version %u, expected 4", info.version);
			return NULL;
		}
	} else if (info.kind == SECTION_KIND_RAM) {
		fail(r, base, "section %u: 'ram' sent as a FULL section", info.id);
		return NULL;
	}
	if (s && strcmp(s->idstr, info.idstr)) {
		fail(r, base, "section %u is '%s' here but was '%s' before", info.id, info.idstr, s->idstr);
		return NULL;
	}
	return s ? s : section_add(r, base, &info);
}

/* The header of a PART or END section: the id of a known iterable one. */
static struct section_info *read_section_continue(struct stream_reader *r, uint8_t type)
{
	uint64_t base = in_offset(r->in);
	const unsigned char *p = peek(r, 0, 5, "section id");
	struct section_info *s;
	uint32_t id;

	if (!p)
		return NULL;
	id = get_be32(p + 1);
	s = section_find(r, id);
	if (!s)
		fail(r, base, "%s section for unknown section id %u", section_type_name(type), id);
	else if (s->kind == SECTION_KIND_OPAQUE)
		fail(r, base, "%s section for non-iterable device '%s'", section_type_name(type), s->idstr);
	return s && s->kind != SECTION_KIND_OPAQUE ? s : NULL;
}

static int read_section_header(struct stream_reader *r, struct stream_item *it,
			       uint8_t type)
{
	struct section_info *s;
	size_t total = 5;

	if (type == QEMU_VM_SECTION_START || type == QEMU_VM_SECTION_FULL) {
		s = read_section_start(r, type, &total);
		r->cur_started = type == QEMU_VM_SECTION_START;
	} else {
		s = read_section_continue(r, type);
	}
	if (!s)
		return -1;
	r->cur = s;
	r->cur_type = type;
	it->type = SI_SECTION;
	it->section_type = type;
	it->section = s;
	consume(r, it, total);
	if (type == QEMU_VM_SECTION_FULL) {
		r->state = RS_OPAQUE_BODY;
	} else if (s->kind == SECTION_KIND_RAM) {
		r->state = RS_RAM_BODY;
	} else {
		r->state = RS_VFIO_BODY;
		r->vfio_setup_seen = false;
	}
	return 1;
}

static int read_command(struct stream_reader *r, struct stream_item *it)
{
	uint64_t base = in_offset(r->in);
	const unsigned char *p = peek(r, 0, 5, "command header");
	uint16_t cmd, len;

	if (!p)
		return -1;
	cmd = get_be16(p + 1);
	len = get_be16(p + 3);
	if (cmd < MIG_CMD_OPEN_RETURN_PATH || cmd > MIG_CMD_MAX)
		return fail(r, base + 1, "unknown command %u, expected 1..%u", cmd, MIG_CMD_MAX);
	if ((cmd == MIG_CMD_PACKAGED || cmd == MIG_CMD_PING) && len != 4)
		return fail(r, base + 3, "command %u with length %u, expected 4", cmd, len);
	if (cmd == MIG_CMD_SWITCHOVER_START && len != 0)
		return fail(r, base + 3, "command %u (SWITCHOVER_START) with length %u, expected 0", cmd, len);
	p = peek(r, 5, len, "command data");
	if (!p)
		return -1;
	it->type = SI_COMMAND;
	it->cmd = cmd;
	it->data = p;
	it->len = len;
	if (cmd == MIG_CMD_PACKAGED) {
		uint32_t size = get_be32(p);

		/* QEMU refuses packages over 16 MiB as well. */
		if (size > (16u << 20))
			return fail(r, base + 5, "package of %u bytes, expected at most 16 MiB", size);
		r->package_size = r->data_left = size;
		it->size = size;
		r->state = size ? RS_PACKAGE : RS_TOP;
	}
	consume(r, it, 5 + (size_t)len);
	return 1;
}

static int read_top(struct stream_reader *r, struct stream_item *it)
{
	const unsigned char *p = peek(r, 0, 1, "a section type");
	uint8_t type;

	if (!p)
		return -1;
	type = p[0];
	switch (type) {
	case QEMU_VM_EOF:
		it->type = SI_EOF;
		consume(r, it, 1);
		r->state = RS_AFTER_EOF;
		return 1;
	case QEMU_VM_CONFIGURATION:
		return read_config(r, it);
	case QEMU_VM_SECTION_START:
	case QEMU_VM_SECTION_PART:
	case QEMU_VM_SECTION_END:
	case QEMU_VM_SECTION_FULL:
		return read_section_header(r, it, type);
	case QEMU_VM_COMMAND:
		return read_command(r, it);
	default:
		return fail(r, in_offset(r->in),
			    "unexpected byte 0x%02x where a section type was expected (EOF, START, PART, END, FULL, CONFIGURATION or COMMAND)",
			    type);
	}
}

/* A block of the MEM_SIZE list at offset off: name and length checked
 * against what the list leaves, then added. */
static int add_block(struct stream_reader *r, uint64_t off, const unsigned char *name,
		     uint8_t len, uint64_t length, uint64_t left)
{
	if (!idstr_valid(name, len))
		return fail(r, off, "RAM block name of length %u is not printable text", len);
	if (!length || length > left)
		return fail(r, off + 1 + len,
			    "RAM block '%.*s' length %llu, expected 1..%llu (what MEM_SIZE leaves)",
			    len, (const char *)name, (unsigned long long)length,
			    (unsigned long long)left);
	/* QEMU's blocks are whole target pages; per-page tables of every
	 * consumer rely on that. */
	if (length % r->page_size)
		return fail(r, off + 1 + len,
			    "RAM block '%.*s' length %llu is not a multiple of the %u-byte target page",
			    len, (const char *)name, (unsigned long long)length, r->page_size);
	if (ram_list_add(&r->ram, (const char *)name, len, length) < 0)
		return fail(r, off, "RAM block '%.*s': %s", len, (const char *)name,
			    errno == EEXIST ? "listed twice" :
			    errno == E2BIG ? "more than 4096 blocks" : strerror(errno));
	return 0;
}

/* The MEM_SIZE list of a mapped-ram file: each entry is followed by its
 * header, and the next entry comes after the block's pages, so the list
 * is walked by file offset. The bitmaps are read here; the pages follow
 * as items (RS_MAPPED_PAGES). */
static int read_block_list_mapped(struct stream_reader *r, struct stream_item *it,
				  uint64_t total)
{
	uint64_t base = in_offset(r->in), pos = base + 8, left = total, file_size;
	struct stat st;

	if (r->in->tee)
		return fail(r, base, "a mapped-ram file cannot be passed through: its pages are "
			    "laid out by file offset (convert it with --to-stream)");
	if (!in_seekable(r->in))
		return fail(r, base, "a mapped-ram file is laid out by file offset: read it from "
			    "the file (by name, or with stdin redirected from it), not from a pipe");
	if (r->in->mapped)
		file_size = r->in->end;
	else if (fstat(r->in->io.fd, &st) < 0)
		return fail(r, base, "cannot stat the mapped-ram file: %s", strerror(errno));
	else
		file_size = (uint64_t)st.st_size;
	r->mapped = calloc(RAM_BLOCKS_MAX, sizeof(*r->mapped));
	if (!r->mapped)
		return fail(r, base, "out of memory");
	while (left) {
		unsigned char e[1 + 255 + 8 + MAPPED_RAM_HEADER_SIZE];
		struct mapped_ram_block *mb;
		ssize_t got = in_pread(r->in, e, sizeof(e), pos);
		uint64_t length, bitmap_bytes;
		char err[400];
		uint8_t len;

		if (got < 0)
			return fail(r, pos, "read error: %s", strerror(errno));
		if (got < 1 || (size_t)got < 1u + e[0] + 8 + MAPPED_RAM_HEADER_SIZE)
			return fail(r, pos, "stream truncated: expected a RAM block entry and its "
				    "mapped-ram header, the file ends at %llu", (unsigned long long)file_size);
		len = e[0];
		length = get_be64(e + 1 + len);
		if (add_block(r, pos, e + 1, len, length, left) < 0)
			return -1;
		mb = &r->mapped[r->ram.count - 1];
		if (mapped_ram_parse_header(e + 1 + len + 8, pos + 1 + len + 8, length, r->page_size,
					    file_size, r->ram.blocks[r->ram.count - 1].name, mb,
					    err, sizeof(err)) < 0) {
			snprintf(r->err, sizeof(r->err), "%s", err);
			r->state = RS_ERROR;
			return -1;
		}
		mb->entry_offset = pos;
		bitmap_bytes = mapped_ram_bitmap_bytes(mb->npages);
		mb->bitmap = malloc(bitmap_bytes ? bitmap_bytes : 8);
		if (!mb->bitmap)
			return fail(r, mb->bitmap_offset, "out of memory for a bitmap of %llu bytes",
				    (unsigned long long)bitmap_bytes);
		got = in_pread(r->in, mb->bitmap, bitmap_bytes, mb->bitmap_offset);
		if (got < 0 || (uint64_t)got != bitmap_bytes)
			return fail(r, mb->bitmap_offset, "cannot read the bitmap of block '%s': %s",
				    r->ram.blocks[r->ram.count - 1].name,
				    got < 0 ? strerror(errno) : "the file ends");
		mapped_ram_bitmap_load(mb);
		left -= length;
		pos = mb->pages_offset + length;
	}
	it->type = SI_RAM_MEM_SIZE;
	it->offset = base;
	it->end_offset = pos;
	/* skipped: read_mapped_page() finds no block left and goes on */
	r->mapped_block = r->mapped_pages == STREAM_MAPPED_PAGES_SKIP ? r->ram.count : 0;
	r->mapped_page = 0;
	r->mapped_resume = pos;
	r->state = RS_MAPPED_PAGES;
	return 1;
}

/* The next page of a mapped-ram file: stored (SI_RAM_PAGE, its data read
 * a run at a time) or not (SI_RAM_ZERO); after the last one the stream
 * goes on past the last block's pages. 0 when the pages are done. */
static int read_mapped_page(struct stream_reader *r, struct stream_item *it)
{
	while (r->mapped_block < r->ram.count) {
		struct ram_block *b = &r->ram.blocks[r->mapped_block];
		const struct mapped_ram_block *mb = &r->mapped[r->mapped_block];
		uint64_t page = r->mapped_page, off;

		if (page >= mb->npages) {
			r->mapped_block++;
			r->mapped_page = 0;
			continue;
		}
		r->mapped_page++;
		it->block = b;
		it->addr = page * r->page_size;
		it->section = r->cur;
		if (!mapped_ram_stored(mb, page)) {
			it->type = SI_RAM_ZERO;
			it->fill = 0;
			it->offset = mb->bitmap_offset + page / 8;
			it->end_offset = it->offset;
			return 1;
		}
		off = mb->pages_offset + it->addr;
		it->type = SI_RAM_PAGE;
		it->file_offset = off;
		it->offset = off;
		it->end_offset = off + r->page_size;
		it->len = r->page_size;
		if (r->mapped_pages == STREAM_MAPPED_PAGES_LAZY)
			return 1;
		if (r->in->mapped) {
			it->data = r->in->buf + off;
			return 1;
		}
		if (off < r->run_offset || off + r->page_size > r->run_offset + r->run_len) {
			/* the stored pages from here to the end of the block, at most a run */
			uint64_t n = 1;
			ssize_t got;

			while (n < MAPPED_RUN_MAX / r->page_size && page + n < mb->npages &&
			       mapped_ram_stored(mb, page + n))
				n++;
			if (!r->run && !(r->run = malloc(MAPPED_RUN_MAX)))
				return fail(r, off, "out of memory");
			got = in_pread(r->in, r->run, n * r->page_size, off);
			if (got < 0 || (uint64_t)got != n * r->page_size)
				return fail(r, off, "cannot read page 0x%llx of block '%s': %s",
					    (unsigned long long)it->addr, b->name,
					    got < 0 ? strerror(errno) : "the file ends");
			r->run_offset = off;
			r->run_len = (size_t)(n * r->page_size);
		}
		it->data = r->run + (off - r->run_offset);
		return 1;
	}
	if (in_seek(r->in, r->mapped_resume) < 0)
		return fail(r, r->mapped_resume, "cannot seek past the last block's pages: %s",
			    strerror(errno));
	r->state = RS_RAM_BODY;
	return 0;
}

static int read_block_list(struct stream_reader *r, struct stream_item *it,
			   uint64_t total)
{
	uint64_t base = in_offset(r->in);
	uint64_t left = total;
	size_t off = 8;
	const unsigned char *p;

	if (r->ram.count)
		return fail(r, base, "second MEM_SIZE record (block list already known)");
	if (!r->cur_started)
		return fail(r, base, "MEM_SIZE record outside the ram START section");
	if (!total)
		return fail(r, base, "MEM_SIZE record with total 0");
	/* each entry would carry the block's address, which nothing here keeps */
	if (stream_config_has_cap(&r->cfg, "x-ignore-shared"))
		return fail(r, base, "the stream was saved with the x-ignore-shared capability, "
			    "which migbox does not handle: migrate with it off");
	if (stream_config_has_cap(&r->cfg, MAPPED_RAM_CAPABILITY))
		return read_block_list_mapped(r, it, total);
	while (left) {
		uint8_t len;
		uint64_t length;

		p = peek(r, off, 1, "RAM block name length");
		if (!p)
			return -1;
		len = p[0];
		p = peek(r, off + 1, (size_t)len + 8, "RAM block name and length");
		if (!p)
			return -1;
		length = get_be64(p + len);
		if (add_block(r, base + off, p, len, length, left) < 0)
			return -1;
		left -= length;
		off += 1 + len + 8;
	}
	it->type = SI_RAM_MEM_SIZE;
	consume(r, it, off);
	return 1;
}

/* Refuses flags a RAM record header cannot carry here; 0 if acceptable. */
static int check_ram_flags(struct stream_reader *r, uint64_t base, uint64_t flags)
{
	uint64_t kind = flags & ~(uint64_t)RAM_SAVE_FLAG_CONTINUE;

	if (flags & ~(uint64_t)0x3ff)
		return fail(r, base, "RAM record with unknown flags 0x%llx", (unsigned long long)flags);
	if (kind & RAM_SAVE_FLAG_XBZRLE)
		return fail(r, base, "XBZRLE page record (flag 0x40) is not supported: migrate with the xbzrle capability off");
	if (kind & RAM_SAVE_FLAG_COMPRESS_PAGE)
		return fail(r, base, "COMPRESS_PAGE record (flag 0x100) is not supported: migrate with the compress capability off");
	if (kind & RAM_SAVE_FLAG_FULL)
		return fail(r, base, "obsolete RAM_SAVE_FLAG_FULL record (flag 0x01)");
	if (kind & (kind - 1) || !kind)
		return fail(r, base, "RAM record with flags 0x%llx: not exactly one of ZERO, PAGE, MEM_SIZE, EOS, HOOK, MULTIFD_FLUSH",
			    (unsigned long long)flags);
	if ((flags & RAM_SAVE_FLAG_CONTINUE) && kind != RAM_SAVE_FLAG_ZERO && kind != RAM_SAVE_FLAG_PAGE)
		return fail(r, base, "CONTINUE flag on a RAM record of flags 0x%llx", (unsigned long long)flags);
	return 0;
}

/* A ZERO or PAGE record: its block (named or CONTINUEd), offset and
 * content. */
static int read_page_record(struct stream_reader *r, struct stream_item *it,
			    uint64_t addr, uint64_t flags)
{
	uint64_t base = in_offset(r->in);
	struct ram_block *block;
	const unsigned char *p;
	size_t off = 8;

	if (!r->ram.count)
		return fail(r, base, "page record before the RAM block list (MEM_SIZE)");
	if (flags & RAM_SAVE_FLAG_CONTINUE) {
		block = r->last_block;
		if (!block)
			return fail(r, base, "CONTINUE page record with no previous block");
	} else {
		uint8_t len;

		p = peek(r, 8, 1, "RAM block name length");
		if (!p)
			return -1;
		len = p[0];
		p = peek(r, 9, len, "RAM block name");
		if (!p)
			return -1;
		block = ram_block_find(&r->ram, (const char *)p, len);
		if (!block)
			return fail(r, base + 8, "page record for unknown RAM block '%.*s'",
				    len, idstr_valid(p, len) ? (const char *)p : "(not text)");
		off += 1 + len;
	}
	if (addr >= block->length)
		return fail(r, base, "page at 0x%llx is beyond the end of block '%s' (length 0x%llx)",
			    (unsigned long long)addr, block->name, (unsigned long long)block->length);
	it->block = block;
	it->addr = addr;
	it->section = r->cur;
	if (flags & RAM_SAVE_FLAG_ZERO) {
		p = peek(r, off, 1, "zero page fill byte");
		if (!p)
			return -1;
		it->type = SI_RAM_ZERO;
		it->fill = p[0];
		off += 1;
	} else {
		p = peek(r, off, r->page_size, "page data");
		if (!p)
			return -1;
		it->type = SI_RAM_PAGE;
		it->data = p;
		it->len = r->page_size;
		off += r->page_size;
	}
	r->last_block = block;
	consume(r, it, off);
	return 1;
}

static int read_ram_record(struct stream_reader *r, struct stream_item *it)
{
	uint64_t base = in_offset(r->in);
	const unsigned char *p = peek(r, 0, 8, "a RAM record header");
	uint64_t header, addr, flags, kind;

	if (!p)
		return -1;
	header = get_be64(p);
	addr = header & ~(uint64_t)(r->page_size - 1);
	flags = header & (r->page_size - 1);
	kind = flags & ~(uint64_t)RAM_SAVE_FLAG_CONTINUE;
	if (check_ram_flags(r, base, flags) < 0)
		return -1;

	if (r->mapped && kind != RAM_SAVE_FLAG_EOS && kind != RAM_SAVE_FLAG_MEM_SIZE)
		return fail(r, base, "RAM record of flags 0x%llx in a mapped-ram file, whose pages "
			    "are only at their fixed offsets", (unsigned long long)flags);
	switch (kind) {
	case RAM_SAVE_FLAG_MEM_SIZE:
		return read_block_list(r, it, addr);
	case RAM_SAVE_FLAG_EOS:
	case RAM_SAVE_FLAG_HOOK:
	case RAM_SAVE_FLAG_MULTIFD_FLUSH:
		if (addr)
			return fail(r, base, "RAM record of flags 0x%llx with address bits 0x%llx set",
				    (unsigned long long)flags, (unsigned long long)addr);
		it->type = kind == RAM_SAVE_FLAG_EOS ? SI_RAM_EOS :
			   kind == RAM_SAVE_FLAG_HOOK ? SI_RAM_HOOK : SI_RAM_MULTIFD_FLUSH;
		it->section = r->cur;
		consume(r, it, 8);
		if (kind == RAM_SAVE_FLAG_EOS)
			r->state = RS_FOOTER;
		return 1;
	default:
		return read_page_record(r, it, addr, flags);
	}
}

static int read_vfio_tag(struct stream_reader *r, struct stream_item *it)
{
	uint64_t base = in_offset(r->in);
	const unsigned char *p = peek(r, 0, 8, "a vfio tag (VFIO_MIG_FLAG_*)");
	uint64_t tag;
	size_t off = 8;

	if (!p)
		return -1;
	tag = get_be64(p);
	if (r->vfio_setup_seen && tag != VFIO_MIG_FLAG_END_OF_STATE)
		return fail(r, base, "vfio '%s': tag 0x%llx after SETUP_STATE, expected END_OF_STATE",
			    r->cur->idstr, (unsigned long long)tag);
	it->type = SI_VFIO_TAG;
	it->tag = tag;
	it->section = r->cur;
	it->size = 0;
	switch (tag) {
	case VFIO_MIG_FLAG_END_OF_STATE:
		r->state = RS_FOOTER;
		break;
	case VFIO_MIG_FLAG_DEV_INIT_DATA_SENT:
		if (r->cur_type != QEMU_VM_SECTION_PART)
			return fail(r, base, "vfio '%s': DEV_INIT_DATA_SENT outside an iteration (PART) section",
				    r->cur->idstr);
		r->state = RS_FOOTER;
		break;
	case VFIO_MIG_FLAG_DEV_SETUP_STATE:
		r->vfio_setup_seen = true;
		break;
	case VFIO_MIG_FLAG_DEV_DATA_STATE:
		p = peek(r, 8, 8, "vfio data size");
		if (!p)
			return -1;
		it->size = get_be64(p);
		if (it->size > (1ull << 44))
			return fail(r, base + 8, "vfio '%s': data size %llu is absurd (over 16 TiB)",
				    r->cur->idstr, (unsigned long long)it->size);
		off += 8;
		r->data_left = it->size;
		if (it->size)
			r->state = RS_VFIO_DATA;
		break;
	case VFIO_MIG_FLAG_DEV_CONFIG_STATE:
		return fail(r, base, "vfio '%s': DEV_CONFIG_STATE inside an iterative section",
			    r->cur->idstr);
	default:
		return fail(r, base, "vfio '%s': unknown tag 0x%016llx, expected a VFIO_MIG_FLAG_* marker",
			    r->cur->idstr, (unsigned long long)tag);
	}
	consume(r, it, off);
	return 1;
}

/* Hands out the next piece of a length-known blob (vfio data, package). */
static int read_blob_chunk(struct stream_reader *r, struct stream_item *it,
			   enum stream_item_type type, const char *what)
{
	size_t want = r->data_left > CHUNK_MAX ? CHUNK_MAX : (size_t)r->data_left;
	const unsigned char *p = peek(r, 0, want, what);

	if (!p)
		return -1;
	it->type = type;
	it->section = r->cur;
	it->data = p;
	it->len = want;
	it->size = r->package_size;
	consume(r, it, want);
	r->data_left -= want;
	return 1;
}

/* Is what follows a footer candidate at q plausibly the next record? */
static bool next_record_plausible(struct stream_reader *r,
				  const unsigned char *q, size_t rem)
{
	struct section_info *s;
	uint8_t len;

	if (!rem)
		return r->in->eof;
	switch (q[0]) {
	case QEMU_VM_EOF:
		if (rem == 1)
			return r->in->eof;
		return rem >= 7 && q[1] == QEMU_VM_VMDESCRIPTION && q[6] == '{';
	case QEMU_VM_SECTION_START:
	case QEMU_VM_SECTION_FULL:
		if (rem < 6)
			return false;
		len = q[5];
		return rem >= 6 + (size_t)len + 8 && idstr_valid(q + 6, len);
	case QEMU_VM_SECTION_PART:
	case QEMU_VM_SECTION_END:
		if (rem < 5)
			return false;
		s = section_find(r, get_be32(q + 1));
		return s && s->kind != SECTION_KIND_OPAQUE;
	case QEMU_VM_COMMAND:
		return rem >= 5 && get_be16(q + 1) >= MIG_CMD_OPEN_RETURN_PATH &&
		       get_be16(q + 1) <= MIG_CMD_MAX;
	default:
		return false;
	}
}

/* An opaque body has no length: it ends at a footer with this section's id
 * that is followed by something that can only be the next record. */
static int read_opaque_chunk(struct stream_reader *r, struct stream_item *it)
{
	uint64_t base = in_offset(r->in);
	ssize_t got = in_want(r->in, FOOTER_LOOKAHEAD + 1);
	const unsigned char *p = in_ptr(r->in);
	size_t avail, i = 0;

	if (got < 0)
		return fail(r, base, "read error in the body of device '%s': %s",
			    r->cur->idstr, strerror(r->in->err));
	avail = in_avail(r->in);
	if (!avail && r->rejected_footer)
		return fail(r, base, "stream ends inside the body of device '%s' (section %u): its footer at offset %llu is followed by no valid record",
			    r->cur->idstr, r->cur->id, (unsigned long long)r->rejected_footer);
	if (!avail)
		return fail(r, base, "stream truncated inside the body of device '%s' (section %u): no footer found",
			    r->cur->idstr, r->cur->id);
	for (;;) {
		const unsigned char *f = memchr(p + i, QEMU_VM_SECTION_FOOTER, avail - i);

		if (!f) {
			i = avail;
			break;
		}
		i = (size_t)(f - p);
		if (avail - i < FOOTER_LOOKAHEAD && !r->in->eof) {
			if (i)
				break;	/* hand out what precedes; look again */
			got = in_want(r->in, FOOTER_LOOKAHEAD);
			if (got < 0)
				return fail(r, base, "read error: %s", strerror(r->in->err));
			p = in_ptr(r->in);
			avail = in_avail(r->in);
		}
		if (avail - i >= 5 && get_be32(p + i + 1) == r->cur->id) {
			if (next_record_plausible(r, p + i + 5, avail - i - 5)) {
				if (i)
					break;
				r->state = RS_FOOTER;
				r->rejected_footer = 0;
				return 0;	/* caller goes on with the footer */
			}
			r->rejected_footer = base + i;
		}
		i++;
	}
	it->type = SI_OPAQUE;
	it->section = r->cur;
	it->data = p;
	it->len = i;
	consume(r, it, i);
	return 1;
}

static int read_footer(struct stream_reader *r, struct stream_item *it)
{
	uint64_t base = in_offset(r->in);
	const unsigned char *p = peek(r, 0, 1, "a section footer");
	uint32_t id;

	if (!p)
		return -1;
	if (p[0] != QEMU_VM_SECTION_FOOTER)
		return fail(r, base, "byte 0x%02x after the body of section %u ('%s'), expected the footer 0x7e",
			    p[0], r->cur->id, r->cur->idstr);
	p = peek(r, 0, 5, "a section footer");
	if (!p)
		return -1;
	id = get_be32(p + 1);
	if (id != r->cur->id)
		return fail(r, base + 1, "footer names section %u, expected %u ('%s')",
			    id, r->cur->id, r->cur->idstr);
	it->type = SI_FOOTER;
	it->section = r->cur;
	consume(r, it, 5);
	r->state = RS_TOP;
	return 1;
}

static int read_vmdesc(struct stream_reader *r, struct stream_item *it)
{
	uint64_t base = in_offset(r->in);
	ssize_t got = in_want(r->in, 1);
	const unsigned char *p;
	uint32_t len;
	size_t have = 0, cap = 0, bad;

	if (got < 0)
		return fail(r, base, "read error: %s", strerror(r->in->err));
	if (got == 0) {
		r->state = RS_DONE;
		return 0;
	}
	p = in_ptr(r->in);
	if (p[0] != QEMU_VM_VMDESCRIPTION)
		return fail(r, base, "byte 0x%02x after EOF, expected the end of the stream or a vmdesc (0x06)",
			    p[0]);
	p = peek(r, 0, 5, "vmdesc length");
	if (!p)
		return -1;
	len = get_be32(p + 1);
	if (len == 0 || len > STREAM_VMDESC_MAX)
		return fail(r, base + 1, "vmdesc length %u, expected 1..%u", len, STREAM_VMDESC_MAX);
	it->offset = base;
	in_skip(r->in, 5);
	/* The buffer grows with what arrives, not with what the length
	 * claims. */
	while (have < len) {
		size_t want = len - have > CHUNK_MAX ? CHUNK_MAX : len - have;

		p = peek(r, 0, want, "vmdesc JSON");
		if (!p)
			return -1;
		if (have + want + 1 > cap) {
			size_t ncap = cap ? cap : CHUNK_MAX;
			char *n;

			while (ncap < have + want + 1)
				ncap *= 2;
			if (ncap > (size_t)len + 1)
				ncap = (size_t)len + 1;
			n = realloc(r->vmdesc, ncap);
			if (!n)
				return fail(r, base, "out of memory for a vmdesc of %u bytes", len);
			r->vmdesc = n;
			cap = ncap;
		}
		memcpy(r->vmdesc + have, p, want);
		in_skip(r->in, want);
		have += want;
	}
	r->vmdesc[len] = 0;
	r->vmdesc_len = len;
	if (json_validate(r->vmdesc, len, &bad) < 0)
		return fail(r, base + 5 + bad, "vmdesc is not valid JSON");
	it->type = SI_VMDESC;
	it->data = (const unsigned char *)r->vmdesc;
	it->len = len;
	it->end_offset = in_offset(r->in);
	r->state = RS_AFTER_VMDESC;
	return 1;
}

int stream_next(struct stream_reader *r, struct stream_item *it)
{
	int ret;

	memset(it, 0, sizeof(*it));
	for (;;) {
		switch (r->state) {
		case RS_HEADER:
			return read_header(r, it);
		case RS_TOP:
			return read_top(r, it);
		case RS_RAM_BODY:
			return read_ram_record(r, it);
		case RS_MAPPED_PAGES:
			ret = read_mapped_page(r, it);
			if (ret)
				return ret;
			continue;	/* the pages are done: the stream goes on */
		case RS_VFIO_BODY:
			return read_vfio_tag(r, it);
		case RS_VFIO_DATA:
			ret = read_blob_chunk(r, it, SI_VFIO_DATA, "vfio device data");
			if (ret > 0 && !r->data_left)
				r->state = RS_VFIO_BODY;
			return ret;
		case RS_PACKAGE:
			ret = read_blob_chunk(r, it, SI_PACKAGE, "packaged stream data");
			if (ret > 0 && !r->data_left)
				r->state = RS_TOP;
			return ret;
		case RS_OPAQUE_BODY:
			ret = read_opaque_chunk(r, it);
			if (ret)
				return ret;
			continue;	/* the body ended: read the footer */
		case RS_FOOTER:
			return read_footer(r, it);
		case RS_AFTER_EOF:
			return read_vmdesc(r, it);
		case RS_AFTER_VMDESC: {
			ssize_t got = in_want(r->in, 1);

			if (got < 0)
				return fail(r, in_offset(r->in), "read error: %s", strerror(r->in->err));
			if (got)
				return fail(r, in_offset(r->in), "trailing bytes after the vmdesc, expected the end of the stream");
			r->state = RS_DONE;
			return 0;
		}
		case RS_DONE:
			return 0;
		case RS_ERROR:
			return -1;
		}
	}
}

const char *stream_item_name(enum stream_item_type t)
{
	static const char *const names[] = {
		[SI_HEADER] = "header", [SI_CONFIG] = "configuration",
		[SI_SECTION] = "section", [SI_RAM_MEM_SIZE] = "ram block list",
		[SI_RAM_PAGE] = "ram page", [SI_RAM_ZERO] = "ram zero page",
		[SI_RAM_HOOK] = "ram hook", [SI_RAM_MULTIFD_FLUSH] = "ram multifd flush",
		[SI_RAM_EOS] = "ram end of section", [SI_VFIO_TAG] = "vfio tag",
		[SI_VFIO_DATA] = "vfio data", [SI_OPAQUE] = "device data",
		[SI_FOOTER] = "footer", [SI_COMMAND] = "command",
		[SI_PACKAGE] = "package data", [SI_EOF] = "eof",
		[SI_VMDESC] = "vmdesc",
	};

	return t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "?";
}

const char *section_type_name(uint8_t type)
{
	switch (type) {
	case QEMU_VM_SECTION_START: return "START";
	case QEMU_VM_SECTION_PART: return "PART";
	case QEMU_VM_SECTION_END: return "END";
	case QEMU_VM_SECTION_FULL: return "FULL";
	default: return "?";
	}
}

const char *vfio_tag_name(uint64_t tag)
{
	switch (tag) {
	case VFIO_MIG_FLAG_END_OF_STATE: return "END_OF_STATE";
	case VFIO_MIG_FLAG_DEV_CONFIG_STATE: return "DEV_CONFIG_STATE";
	case VFIO_MIG_FLAG_DEV_SETUP_STATE: return "DEV_SETUP_STATE";
	case VFIO_MIG_FLAG_DEV_DATA_STATE: return "DEV_DATA_STATE";
	case VFIO_MIG_FLAG_DEV_INIT_DATA_SENT: return "DEV_INIT_DATA_SENT";
	default: return "?";
	}
}
