// SPDX-License-Identifier: GPL-3.0-or-later
/* stream-dump: inspect, digest and validate a QEMU migration stream.
 *
 * What is kept per record is bounded: counters per section (at most 8192),
 * per command type and per RAM block, never a list that grows with the
 * records; --sections prints each section as it passes instead of keeping
 * it. Only --digest and --map keep per-page tables, sparse: they follow the
 * pages the stream carried. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "applets.h"
#include "digest.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "mapped_ram.h"
#include "opts.h"
#include "outfile.h"
#include "progress.h"
#include "sendmap.h"
#include "session.h"
#include "stream.h"
#include "term.h"

enum { OPT_WIDTH = 256, OPT_ROWS, OPT_COLOR, OPT_PROGRESS, OPT_IMAGE_DIGEST, OPT_TO_STREAM,
       OPT_TO_MAPPED_RAM, OPT_RARE };

static const struct opt dump_opts[] = {
	{ 'j', "json", NULL, "print the report as JSON", NULL },
	{ 'd', "digest", NULL, "print one digest per RAM block of the final memory image and one "
	  "of the rest of the state, instead of the structure (with --json: added to it)", NULL },
	{ 's', "sections", NULL, "also list every section with its offset", NULL },
	{ 'p', "pass-through", NULL, "copy the validated stream to stdout, report on stderr; the "
	  "end of the stream is written only once it is valid", NULL },
	{ 'q', "quiet", NULL, "no report: only validate (and pass through)", NULL },
	{ 'm', "map", NULL, "draw a map of each RAM block's pages instead of the structure (see "
	  "Map below; with --digest: before the digests, with --json: added to it)", NULL },
	{ OPT_WIDTH, "width", "N", "map cells per line (default: the terminal's width, else $COLUMNS, "
	  "else 80; 1..4096)", NULL },
	{ OPT_ROWS, "rows", "N", "map lines per block, for a finer scale (default 1)", NULL },
	{ OPT_RARE, "rare", NULL, "a map cell shows the rarest class (in its block) of any of its "
	  "pages instead of the class most of them have: one re-sent or never-sent page among "
	  "thousands shows", NULL },
	{ OPT_COLOR, "color", "[=WHEN]", "colour the map: auto (default: when the report goes to a "
	  "terminal and NO_COLOR is unset), always, never", "auto always never" },
	{ OPT_PROGRESS, "progress", NULL, "show bytes, rate and pages on stderr while reading", NULL },
	{ OPT_TO_STREAM, "to-stream", "FILE", "also write the state as a plain stream to FILE "
	  "(- for stdout): a mapped-ram file converted for any destination", OPT_COMPLETE_FILE },
	{ OPT_TO_MAPPED_RAM, "to-mapped-ram", "FILE", "also write the state as a mapped-ram file "
	  "to FILE (a regular file), for QEMU 9.0+'s migrate-incoming file: with the mapped-ram "
	  "capability", OPT_COMPLETE_FILE },
	{ OPT_IMAGE_DIGEST, "image-digest", "IMAGE", "digest a raw memory image (e.g. a memory-backend-file) "
	  "the way --digest digests a RAM block, and exit", OPT_COMPLETE_FILE },
	OPT_HELP,
	OPT_END
};

const struct applet_help stream_dump_help = {
	.opts = dump_opts,
	.column = 22,
	.text =
"usage: stream-dump [OPTIONS] [FILE|-]\n"
"       stream-dump --image-digest IMAGE\n"
"\n"
"Reads a QEMU migration stream (QEVM version 3) from FILE or stdin, checks\n"
"every record and prints its structure: sections, RAM blocks with page\n"
"counts, vfio devices, device sections, commands and the vmdesc summary.\n"
"A malformed stream exits 1 with the byte offset and the reason. A\n"
"mapped-ram file (QEMU 9.0+ migrate file: with the mapped-ram capability:\n"
"pages at fixed offsets) is read the same way, from a file, not a pipe.\n"
"So is a libvirt save image (virsh save, managedsave): libvirt's header\n"
"and domain XML come before the stream; offsets stay the file's.\n"
"\n",
	.notes =
"\n"
"Digest lines: 'ram DIGEST LENGTH NAME' per block, then 'state DIGEST'.\n"
"Two streams that restore the same machine state print the same digests,\n"
"whatever their framing, page order or re-sent pages. Time and memory\n"
"follow the stream's bytes, not the RAM size it claims.\n"
"\n"
"Map: per RAM block a line with its name, size and scale (1 cell = N\n"
"pages), its bar, and a line of page counts. A page is never sent (.),\n"
"zero (0: one ZERO record), sent once (#: one PAGE record) or re-sent (%:\n"
"two records or more); re-sends counts the records beyond each page's\n"
"first. A cell shows the class most of its pages have, or with --rare the\n"
"class of its pages that is rarest in the block; a tie goes to the later\n"
"of . 0 # %. With --json each block gets a \"map\" object: the counts,\n"
"pages_per_cell, the cell rule and \"cells\", the bar as a string. A malformed\n"
"stream draws no map (its --json report has the map read so far).\n"
"\n"
"Conversion: --to-stream and --to-mapped-ram write the same machine state\n"
"in the other layout (equal digests), appearing only once complete and\n"
"valid. In a mapped-ram file a page not stored is zero: it converts to a\n"
"ZERO record, and a zero page to a hole.\n"
"\n"
"Exit status: 0 valid, 1 malformed or unreadable (or a report that could\n"
"not be written), 2 usage error; killed by SIGINT, SIGTERM or SIGHUP after\n"
"cleaning up.\n",
};

#define COMMANDS	(MIG_CMD_MAX + 1)
#define MAP_WIDTH_MAX	4096
#define MAP_ROWS_MAX	1024

struct section_stats {
	const struct section_info *s;	/* NULL: not seen yet */
	uint64_t count[5];		/* by section type START..FULL */
	uint64_t bytes;
	uint64_t first_offset;
	uint64_t device_bytes;		/* FULL section bodies */
	struct digest_state *vfio_digest;
	uint64_t vfio_bytes;
};

struct command_stats {
	uint64_t count;
	uint64_t bytes;
	uint64_t first_offset;
};

struct map_options {
	bool on;
	bool rare;			/* --rare: CELL_RAREST */
	unsigned int width;		/* 0: the terminal's */
	unsigned int rows;
	enum color_when color;
};

/* --to-stream, --to-mapped-ram: the state written again */
struct convert {
	const char *path;
	bool mapped_ram;
	struct out_file file;
	struct out_buf out;
	struct stream_writer w;
	struct mapped_ram_out mapped;
	bool open;
};

struct dump {
	const char *path;
	struct convert conv;
	bool json, digest, list_sections, quiet, pass_through, show_progress;
	struct map_options map;
	struct sendmap sendmap;
	FILE *report;
	struct session session;
	int in_fd;
	struct in_buf in;
	struct out_buf out;
	struct stream_reader *r;
	struct section_stats *sections;	/* by section_info.index */
	uint32_t sections_cap;
	struct section_stats *cur;
	struct command_stats commands[COMMANDS];
	uint64_t full_sections;
	uint64_t eos, hooks, multifd_flushes, pages, zeros;
	uint64_t package_bytes;
	uint64_t eof_offset;
	uint64_t total_bytes;
	struct digest_state *state;
	int vmdesc_devices;
	bool vmdesc_configuration;	/* describes the configuration (QEMU 10.0) */
	char oom[600];			/* set when a table could not grow, or the conversion failed */
};

static const char *kind_name(enum section_kind k)
{
	return k == SECTION_KIND_RAM ? "ram" : k == SECTION_KIND_VFIO ? "vfio" : "device";
}

static const char *command_name(uint16_t cmd)
{
	static const char *const names[COMMANDS] = {
		"?", "OPEN_RETURN_PATH", "PING", "POSTCOPY_ADVISE",
		"POSTCOPY_LISTEN", "POSTCOPY_RUN", "POSTCOPY_RAM_DISCARD",
		"PACKAGED", "ENABLE_COLO", "POSTCOPY_RESUME", "RECV_BITMAP",
		"SWITCHOVER_START",
	};

	return cmd < COMMANDS ? names[cmd] : "?";
}

static struct section_stats *stats_for(struct dump *d, const struct section_info *s,
				       uint64_t offset)
{
	struct section_stats *st;

	if (s->index >= d->sections_cap) {
		uint32_t cap = d->sections_cap ? d->sections_cap : 16;

		while (cap <= s->index)
			cap *= 2;
		st = realloc(d->sections, cap * sizeof(*st));
		if (!st)
			return NULL;
		memset(st + d->sections_cap, 0, (cap - d->sections_cap) * sizeof(*st));
		d->sections = st;
		d->sections_cap = cap;
	}
	st = &d->sections[s->index];
	if (!st->s) {
		st->s = s;
		st->first_offset = offset;
	}
	return st;
}

/* Non-RAM state goes into one digest: header fields, not section ids or
 * framing, so re-framed streams of the same state agree. */
static void digest_section(struct digest_state *st, const struct section_info *s)
{
	digest_update(st, s->idstr, strlen(s->idstr) + 1);
	digest_update_be32(st, s->instance);
	digest_update_be32(st, s->version);
}

static int account_section(struct dump *d, const struct stream_item *it)
{
	d->cur = stats_for(d, it->section, it->offset);
	if (!d->cur)
		return -1;
	d->cur->count[it->section_type]++;
	d->cur->bytes += it->end_offset - it->offset;
	if (d->list_sections)
		fprintf(d->report, "  @%-12" PRIu64 " %-5s %4u %s\n", it->offset,
			section_type_name(it->section_type), it->section->id,
			it->section->idstr);
	if (it->section_type == QEMU_VM_SECTION_FULL) {
		d->full_sections++;
		if (d->state)
			digest_section(d->state, it->section);
	}
	if (it->section->kind == SECTION_KIND_VFIO && d->state && !d->cur->vfio_digest) {
		d->cur->vfio_digest = digest_state_new();
		if (!d->cur->vfio_digest)
			return -1;
	}
	return 0;
}

static int account_ram(struct dump *d, const struct stream_item *it)
{
	uint32_t page_size = stream_page_size(d->r);
	struct ram_list *l = stream_ram(d->r);

	switch (it->type) {
	case SI_RAM_MEM_SIZE:
		if (d->digest && ram_digest_enable(l) < 0)
			return -1;
		if (d->map.on && sendmap_init(&d->sendmap, l, page_size) < 0)
			return -1;
		for (uint32_t i = 0; d->state && i < l->count; i++) {
			digest_update(d->state, l->blocks[i].name, l->blocks[i].name_len + 1u);
			digest_update_be64(d->state, l->blocks[i].length);
		}
		return 0;
	case SI_RAM_PAGE:
		it->block->page_records++;
		it->block->page_bytes += it->len;
		d->pages++;
		if (d->map.on && sendmap_note(&d->sendmap, it->block, it->addr, false) < 0)
			return -1;
		return d->digest ? ram_digest_page(it->block, it->addr, it->data, page_size) : 0;
	case SI_RAM_ZERO:
		it->block->zero_records++;
		d->zeros++;
		if (d->map.on && sendmap_note(&d->sendmap, it->block, it->addr, true) < 0)
			return -1;
		return d->digest ? ram_digest_fill(it->block, it->addr, it->fill, page_size) : 0;
	case SI_RAM_EOS:
		d->eos++;
		return 0;
	case SI_RAM_HOOK:
		d->hooks++;
		return 0;
	default:
		d->multifd_flushes++;
		return 0;
	}
}

static int digest_sink(void *ctx, const void *p, size_t n)
{
	digest_update(ctx, p, n);
	return 0;
}

/* The configuration as a plain stream has it: the mapped-ram capability
 * says how the pages are laid out, not what state they hold. */
static int digest_config(struct dump *d, const struct stream_config *cfg)
{
	struct out_buf o;
	struct stream_writer w;

	if (out_init(&o, -1, 4096) < 0)
		return -1;
	out_set_sink(&o, digest_sink, d->state);
	stream_writer_init(&w, &o, stream_page_size(d->r));
	if (stream_config_has_cap(cfg, MAPPED_RAM_CAPABILITY))
		stream_write_config_from(&w, cfg);
	else
		out_write(&o, cfg->raw, cfg->raw_len);
	return out_close(&o);
}

/* Counts an item; -1 when a table could not grow (out of memory). */
static int account(struct dump *d, const struct stream_item *it)
{
	/* a mapped-ram page is inside the block list's span already */
	if (d->cur && it->type != SI_SECTION && !it->file_offset)
		d->cur->bytes += it->end_offset - it->offset;
	switch (it->type) {
	case SI_CONFIG:
		if (d->state)
			return digest_config(d, it->config);
		return 0;
	case SI_SECTION:
		return account_section(d, it);
	case SI_RAM_MEM_SIZE:
	case SI_RAM_PAGE:
	case SI_RAM_ZERO:
	case SI_RAM_EOS:
	case SI_RAM_HOOK:
	case SI_RAM_MULTIFD_FLUSH:
		return account_ram(d, it);
	case SI_VFIO_DATA:
		d->cur->vfio_bytes += it->len;
		if (d->cur->vfio_digest)
			digest_update(d->cur->vfio_digest, it->data, it->len);
		return 0;
	case SI_OPAQUE:
		d->cur->device_bytes += it->len;
		if (d->state)
			digest_update(d->state, it->data, it->len);
		return 0;
	case SI_FOOTER:
		d->cur = NULL;
		return 0;
	case SI_COMMAND:
		if (!d->commands[it->cmd].count++)
			d->commands[it->cmd].first_offset = it->offset;
		d->commands[it->cmd].bytes += it->len;
		return 0;
	case SI_PACKAGE:
		d->package_bytes += it->len;
		if (d->state)
			digest_update(d->state, it->data, it->len);
		return 0;
	case SI_EOF:
		d->eof_offset = it->offset;
		return 0;
	case SI_VMDESC:
		d->vmdesc_devices = json_vmdesc_devices((const char *)it->data, it->len, NULL, NULL);
		d->vmdesc_configuration = json_has_key((const char *)it->data, it->len, "configuration");
		return 0;
	default:
		return 0;
	}
}

static int block_digest_hex(struct dump *d, const struct ram_block *b, char hex[DIGEST_HEX_LEN])
{
	struct digest dg;

	if (ram_digest_final(b, stream_page_size(d->r), &dg) < 0)
		return -1;
	digest_hex(&dg, hex);
	return 0;
}

static int print_digests_text(struct dump *d, const struct digest *state)
{
	const struct ram_list *l = stream_ram(d->r);
	char hex[DIGEST_HEX_LEN];

	for (uint32_t i = 0; i < l->count; i++) {
		if (block_digest_hex(d, &l->blocks[i], hex) < 0)
			return -1;
		fprintf(d->report, "ram %s %" PRIu64 " %s\n", hex, l->blocks[i].length,
			l->blocks[i].name);
	}
	digest_hex(state, hex);
	fprintf(d->report, "state %s\n", hex);
	return 0;
}

static void print_config_text(struct dump *d)
{
	const struct stream_config *cfg = stream_config(d->r);
	char uuid[37];

	if (!cfg->present) {
		fprintf(d->report, "machine (no configuration section)\n");
		return;
	}
	fprintf(d->report, "machine %s", cfg->machine);
	if (cfg->has_uuid) {
		uuid_unparse_lower(cfg->uuid, uuid);
		fprintf(d->report, ", uuid %s", uuid);
	}
	for (uint32_t i = 0; i < cfg->ncaps; i++)
		fprintf(d->report, "%s%s", i ? " " : ", capabilities ", cfg->caps[i]);
	fprintf(d->report, "\n");
}

static void print_sections_text(struct dump *d)
{
	FILE *f = d->report;

	fprintf(f, "sections:\n  %4s %-32s %5s %4s %-6s %6s %8s %6s %5s %14s\n",
		"id", "idstr", "inst", "ver", "kind", "START", "PART", "END", "FULL", "bytes");
	for (uint32_t i = 0; i < stream_section_count(d->r) && i < d->sections_cap; i++) {
		const struct section_stats *st = &d->sections[i];

		if (!st->s || st->s->kind == SECTION_KIND_OPAQUE)
			continue;
		fprintf(f, "  %4u %-32s %5u %4u %-6s %6" PRIu64 " %8" PRIu64 " %6" PRIu64
			" %5" PRIu64 " %14" PRIu64 "\n",
			st->s->id, st->s->idstr, st->s->instance, st->s->version,
			kind_name(st->s->kind), st->count[1], st->count[2], st->count[3],
			st->count[4], st->bytes);
	}
}

static void print_ram_text(struct dump *d)
{
	const struct ram_list *l = stream_ram(d->r);
	const struct mapped_ram_block *mapped = stream_mapped_ram(d->r);
	FILE *f = d->report;

	if (!l->count)
		return;
	fprintf(f, "ram: %u blocks, %" PRIu64 " bytes, page size %u; %" PRIu64
		" page records, %" PRIu64 " zero records, %" PRIu64 " EOS",
		l->count, l->total, stream_page_size(d->r), d->pages, d->zeros, d->eos);
	if (d->hooks)
		fprintf(f, ", %" PRIu64 " hooks", d->hooks);
	if (d->multifd_flushes)
		fprintf(f, ", %" PRIu64 " multifd flushes", d->multifd_flushes);
	if (mapped) {
		fprintf(f, "\nmapped-ram: pages stored at fixed offsets (pages), the others zero (zero)");
		fprintf(f, "\n  %-32s %14s %10s %10s %14s %14s\n", "block", "length", "pages", "zero",
			"bitmap at", "pages at");
	} else {
		fprintf(f, "\n  %-32s %14s %10s %10s %14s\n", "block", "length", "pages", "zero", "page bytes");
	}
	for (uint32_t i = 0; i < l->count; i++) {
		const struct ram_block *b = &l->blocks[i];

		fprintf(f, "  %-32s %14" PRIu64 " %10" PRIu64 " %10" PRIu64, b->name, b->length,
			b->page_records, b->zero_records);
		if (mapped)
			fprintf(f, " %14" PRIu64 " %14" PRIu64 "\n", mapped[i].bitmap_offset,
				mapped[i].pages_offset);
		else
			fprintf(f, " %14" PRIu64 "\n", b->page_bytes);
	}
}

static void print_devices_text(struct dump *d)
{
	FILE *f = d->report;

	for (uint32_t i = 0; i < d->sections_cap; i++)
		if (d->sections[i].s && d->sections[i].s->kind == SECTION_KIND_VFIO)
			fprintf(f, "vfio %s instance %u: %" PRIu64 " bytes of device data\n",
				d->sections[i].s->idstr, d->sections[i].s->instance,
				d->sections[i].vfio_bytes);
	if (!d->full_sections)
		return;
	fprintf(f, "devices: %" PRIu64 " FULL sections\n", d->full_sections);
	for (uint32_t i = 0; i < d->sections_cap; i++) {
		const struct section_stats *st = &d->sections[i];

		if (!st->s || !st->count[QEMU_VM_SECTION_FULL])
			continue;
		fprintf(f, "  %-40s inst %-4u ver %-3u %8" PRIu64 " bytes @%" PRIu64,
			st->s->idstr, st->s->instance, st->s->version, st->device_bytes,
			st->first_offset);
		if (st->count[QEMU_VM_SECTION_FULL] > 1)
			fprintf(f, " (%" PRIu64 " times)", st->count[QEMU_VM_SECTION_FULL]);
		fprintf(f, "\n");
	}
}

static void print_text(struct dump *d)
{
	FILE *f = d->report;
	size_t vmlen;

	const struct stream_libvirt_save *ls = stream_libvirt_save(d->r);

	fprintf(f, "stream %s: QEVM version 3, %" PRIu64 " bytes\n", d->path, d->total_bytes);
	if (ls)
		fprintf(f, "libvirt save image: header version %u, %u bytes of domain XML, the domain %s; "
			"the stream starts @%" PRIu64 "\n", ls->version, ls->data_len,
			ls->was_running ? "ran (a restore runs it)" : "was paused", ls->stream_offset);
	print_config_text(d);
	print_sections_text(d);
	print_ram_text(d);
	print_devices_text(d);
	for (uint16_t c = 0; c < COMMANDS; c++) {
		const struct command_stats *cs = &d->commands[c];

		if (!cs->count)
			continue;
		fprintf(f, "command %s (%u): %" PRIu64 " record%s, %" PRIu64 " bytes, first @%" PRIu64 "\n",
			command_name(c), c, cs->count, cs->count == 1 ? "" : "s", cs->bytes,
			cs->first_offset);
	}
	if (d->package_bytes)
		fprintf(f, "packaged data: %" PRIu64 " bytes (not parsed)\n", d->package_bytes);
	fprintf(f, "EOF @%" PRIu64 "\n", d->eof_offset);
	if (stream_vmdesc(d->r, &vmlen))
		fprintf(f, "vmdesc: %zu bytes of JSON, %d devices%s\n", vmlen, d->vmdesc_devices,
			d->vmdesc_configuration ? ", the configuration described" : "");
	else
		fprintf(f, "vmdesc: none\n");
}

/* By enum page_class; the characters alone must tell the classes apart
 * (no colour, a pipe, a screen reader). */
static const char map_chars[PAGE_CLASSES] = { '.', '0', '#', '%' };
static const char *const map_colors[PAGE_CLASSES] = {
	"\033[90m", "\033[36m", "\033[32m", "\033[1;31m",
};
#define COLOR_RESET	"\033[0m"

/* The cells of a block, or NULL on ENOMEM (free it). */
static uint8_t *map_cells(struct dump *d, const struct ram_block *b, uint64_t *per_cell,
			  uint64_t *ncells)
{
	struct sendmap_block *sb = &d->sendmap.blocks[b->index];
	uint8_t *cells;

	*per_cell = sendmap_scale(sb->pages, (uint64_t)d->map.width * d->map.rows, ncells);
	cells = malloc(*ncells);
	if (cells && sendmap_cells(sb, *per_cell, d->map.rare ? CELL_RAREST : CELL_MAJORITY, cells) < 0) {
		free(cells);
		return NULL;
	}
	return cells;
}

/* A run of cells of one class takes one colour escape. */
static void draw_cells(FILE *f, const uint8_t *cells, uint64_t n, bool color)
{
	for (uint64_t i = 0, j; i < n; i = j) {
		if (color)
			fputs(map_colors[cells[i]], f);
		for (j = i; j < n && cells[j] == cells[i]; j++)
			fputc(map_chars[cells[i]], f);
		if (color)
			fputs(COLOR_RESET, f);
	}
}

static void draw_legend(FILE *f, bool color)
{
	static const char *const names[PAGE_CLASSES] = {
		"never sent", "zero page", "sent once", "re-sent",
	};

	fprintf(f, "legend:");
	for (int c = 0; c < PAGE_CLASSES; c++)
		fprintf(f, "%s%s%c%s %s", c ? "  " : " ", color ? map_colors[c] : "", map_chars[c],
			color ? COLOR_RESET : "", names[c]);
	fputc('\n', f);
}

static int print_map(struct dump *d)
{
	const struct ram_list *l = stream_ram(d->r);
	bool color = term_color(d->map.color, fileno(d->report));
	FILE *f = d->report;

	if (!d->sendmap.count) {
		fprintf(f, "map of %s: no RAM blocks\n", d->path);
		return 0;
	}
	fprintf(f, "map of %s: %u RAM block%s, page size %u\n", d->path, d->sendmap.count,
		d->sendmap.count == 1 ? "" : "s", d->sendmap.page_size);
	draw_legend(f, color);
	for (uint32_t i = 0; i < d->sendmap.count; i++) {
		const struct ram_block *b = &l->blocks[i];
		const struct sendmap_block *sb = &d->sendmap.blocks[i];
		uint64_t per_cell, ncells;
		uint8_t *cells = map_cells(d, b, &per_cell, &ncells);
		char size[32];

		if (!cells)
			return -1;
		fprintf(f, "%s: %s, %" PRIu64 " page%s, 1 cell = %" PRIu64 " page%s\n", b->name,
			human_bytes(size, sizeof(size), (double)b->length), sb->pages,
			sb->pages == 1 ? "" : "s", per_cell, per_cell == 1 ? "" : "s");
		for (uint64_t at = 0; at < ncells; at += d->map.width) {
			draw_cells(f, cells + at, ncells - at < d->map.width ? ncells - at : d->map.width,
				   color);
			fputc('\n', f);
		}
		free(cells);
		fprintf(f, "  never %" PRIu64 "  zero %" PRIu64 "  once %" PRIu64 "  re-sent %" PRIu64
			"  re-sends %" PRIu64 "\n", sb->count[PAGE_NEVER], sb->count[PAGE_ZERO],
			sb->count[PAGE_ONCE], sb->count[PAGE_RESENT], sendmap_resends(sb));
	}
	return 0;
}

static int json_map_block(struct dump *d, struct json_writer *w, const struct ram_block *b)
{
	const struct sendmap_block *sb = &d->sendmap.blocks[b->index];
	uint64_t per_cell, ncells;
	uint8_t *cells = map_cells(d, b, &per_cell, &ncells);

	if (!cells)
		return -1;
	for (uint64_t i = 0; i < ncells; i++)
		cells[i] = (uint8_t)map_chars[cells[i]];
	jw_key(w, "map");
	jw_object(w);
	jw_key(w, "never"); jw_u64(w, sb->count[PAGE_NEVER]);
	jw_key(w, "zero"); jw_u64(w, sb->count[PAGE_ZERO]);
	jw_key(w, "once"); jw_u64(w, sb->count[PAGE_ONCE]);
	jw_key(w, "resent"); jw_u64(w, sb->count[PAGE_RESENT]);
	jw_key(w, "resends"); jw_u64(w, sendmap_resends(sb));
	jw_key(w, "pages_per_cell"); jw_u64(w, per_cell);
	jw_key(w, "cell_rule"); jw_string(w, d->map.rare ? "rare" : "majority");
	jw_key(w, "cells"); jw_string_n(w, (const char *)cells, ncells);
	jw_object_end(w);
	free(cells);
	return 0;
}

static void json_config(struct dump *d, struct json_writer *w)
{
	const struct stream_config *cfg = stream_config(d->r);
	char uuid[37];

	jw_key(w, "machine");
	if (cfg->present)
		jw_string(w, cfg->machine);
	else
		jw_null(w);
	jw_key(w, "uuid");
	if (cfg->has_uuid) {
		uuid_unparse_lower(cfg->uuid, uuid);
		jw_string(w, uuid);
	} else {
		jw_null(w);
	}
	jw_key(w, "page_size"); jw_u64(w, stream_page_size(d->r));
	jw_key(w, "capabilities");
	jw_array(w);
	for (uint32_t i = 0; i < cfg->ncaps; i++)
		jw_string(w, cfg->caps[i]);
	jw_array_end(w);
}

static void json_libvirt_save(struct dump *d, struct json_writer *w)
{
	const struct stream_libvirt_save *ls = stream_libvirt_save(d->r);

	jw_key(w, "libvirt_save");
	if (!ls) {
		jw_null(w);
		return;
	}
	jw_object(w);
	jw_key(w, "version"); jw_u64(w, ls->version);
	jw_key(w, "data_len"); jw_u64(w, ls->data_len);
	jw_key(w, "was_running"); jw_bool(w, ls->was_running);
	jw_key(w, "stream_offset"); jw_u64(w, ls->stream_offset);
	jw_object_end(w);
}

static void json_sections(struct dump *d, struct json_writer *w)
{
	jw_key(w, "sections");
	jw_array(w);
	for (uint32_t i = 0; i < d->sections_cap; i++) {
		const struct section_stats *st = &d->sections[i];

		if (!st->s)
			continue;
		jw_object(w);
		jw_key(w, "id"); jw_u64(w, st->s->id);
		jw_key(w, "idstr"); jw_string(w, st->s->idstr);
		jw_key(w, "instance"); jw_u64(w, st->s->instance);
		jw_key(w, "version"); jw_u64(w, st->s->version);
		jw_key(w, "kind"); jw_string(w, kind_name(st->s->kind));
		jw_key(w, "start"); jw_u64(w, st->count[1]);
		jw_key(w, "part"); jw_u64(w, st->count[2]);
		jw_key(w, "end"); jw_u64(w, st->count[3]);
		jw_key(w, "full"); jw_u64(w, st->count[4]);
		jw_key(w, "bytes"); jw_u64(w, st->bytes);
		jw_key(w, "offset"); jw_u64(w, st->first_offset);
		if (st->s->kind == SECTION_KIND_VFIO) {
			jw_key(w, "vfio_data_bytes"); jw_u64(w, st->vfio_bytes);
		}
		jw_object_end(w);
	}
	jw_array_end(w);
}

static int json_ram(struct dump *d, struct json_writer *w, bool digests)
{
	const struct ram_list *l = stream_ram(d->r);
	const struct mapped_ram_block *mapped = stream_mapped_ram(d->r);
	char hex[DIGEST_HEX_LEN];

	jw_key(w, "ram_total"); jw_u64(w, l->total);
	jw_key(w, "mapped_ram"); jw_bool(w, mapped != NULL);
	jw_key(w, "ram_blocks");
	jw_array(w);
	for (uint32_t i = 0; i < l->count; i++) {
		const struct ram_block *b = &l->blocks[i];

		jw_object(w);
		jw_key(w, "name"); jw_string(w, b->name);
		jw_key(w, "length"); jw_u64(w, b->length);
		jw_key(w, "page_records"); jw_u64(w, b->page_records);
		jw_key(w, "zero_records"); jw_u64(w, b->zero_records);
		jw_key(w, "page_bytes"); jw_u64(w, b->page_bytes);
		if (mapped) {
			jw_key(w, "bitmap_offset"); jw_u64(w, mapped[i].bitmap_offset);
			jw_key(w, "pages_offset"); jw_u64(w, mapped[i].pages_offset);
		}
		if (digests) {
			if (block_digest_hex(d, b, hex) < 0)
				return -1;
			jw_key(w, "digest"); jw_string(w, hex);
		}
		/* a stream cut inside its block list has blocks but no map */
		if (d->map.on && b->index < d->sendmap.count && json_map_block(d, w, b) < 0)
			return -1;
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_key(w, "ram_records");
	jw_object(w);
	jw_key(w, "page"); jw_u64(w, d->pages);
	jw_key(w, "zero"); jw_u64(w, d->zeros);
	jw_key(w, "eos"); jw_u64(w, d->eos);
	jw_key(w, "hook"); jw_u64(w, d->hooks);
	jw_key(w, "multifd_flush"); jw_u64(w, d->multifd_flushes);
	jw_object_end(w);
	return 0;
}

static void json_devices_commands(struct dump *d, struct json_writer *w)
{
	jw_key(w, "devices");
	jw_array(w);
	for (uint32_t i = 0; i < d->sections_cap; i++) {
		const struct section_stats *st = &d->sections[i];

		if (!st->s || !st->count[QEMU_VM_SECTION_FULL])
			continue;
		jw_object(w);
		jw_key(w, "idstr"); jw_string(w, st->s->idstr);
		jw_key(w, "instance"); jw_u64(w, st->s->instance);
		jw_key(w, "version"); jw_u64(w, st->s->version);
		jw_key(w, "bytes"); jw_u64(w, st->device_bytes);
		jw_key(w, "offset"); jw_u64(w, st->first_offset);
		jw_key(w, "count"); jw_u64(w, st->count[QEMU_VM_SECTION_FULL]);
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_key(w, "commands");
	jw_array(w);
	for (uint16_t c = 0; c < COMMANDS; c++) {
		if (!d->commands[c].count)
			continue;
		jw_object(w);
		jw_key(w, "cmd"); jw_u64(w, c);
		jw_key(w, "name"); jw_string(w, command_name(c));
		jw_key(w, "count"); jw_u64(w, d->commands[c].count);
		jw_key(w, "bytes"); jw_u64(w, d->commands[c].bytes);
		jw_key(w, "offset"); jw_u64(w, d->commands[c].first_offset);
		jw_object_end(w);
	}
	jw_array_end(w);
}

static int print_json(struct dump *d, const char *error, const struct digest *state)
{
	struct json_writer w;
	size_t vmlen;
	char hex[DIGEST_HEX_LEN];
	int ret;

	jw_init(&w, d->report, false);
	jw_document(&w, "stream-dump", "dump");
	jw_key(&w, "file"); jw_string(&w, d->path);
	jw_key(&w, "valid"); jw_bool(&w, !error);
	if (error) {
		jw_key(&w, "error"); jw_string(&w, error);
	}
	jw_key(&w, "bytes"); jw_u64(&w, d->total_bytes);
	json_libvirt_save(d, &w);
	json_config(d, &w);
	json_sections(d, &w);
	ret = json_ram(d, &w, state != NULL);
	json_devices_commands(d, &w);
	jw_key(&w, "vmdesc");
	if (stream_vmdesc(d->r, &vmlen)) {
		jw_object(&w);
		jw_key(&w, "bytes"); jw_u64(&w, vmlen);
		jw_key(&w, "devices"); jw_i64(&w, d->vmdesc_devices);
		jw_key(&w, "configuration"); jw_bool(&w, d->vmdesc_configuration);
		jw_object_end(&w);
	} else {
		jw_null(&w);
	}
	if (state) {
		digest_hex(state, hex);
		jw_key(&w, "state_digest"); jw_string(&w, hex);
	}
	jw_object_end(&w);
	jw_end(&w);
	return ret;
}

static int image_digest(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct digest dg;
	uint64_t len;
	char hex[DIGEST_HEX_LEN];

	if (fd < 0)
		die_errno("cannot open %s", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (image_digest_fd(fd, 4096, &dg, &len) < 0)
		die_errno("cannot read %s", path);
	close(fd);
	digest_hex(&dg, hex);
	printf("ram %s %" PRIu64 " %s\n", hex, len, path);
	return stdout_finish("the report");
}

struct dump_args {
	struct dump *d;
	bool map_tuned;
};

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct dump_args *a = ctx;
	struct dump *d = a->d;
	uint64_t n;

	switch (key) {
	case 'j': d->json = true; break;
	case 'd': d->digest = true; break;
	case 's': d->list_sections = true; break;
	case 'p': d->pass_through = true; break;
	case 'q': d->quiet = true; break;
	case OPT_PROGRESS: d->show_progress = true; break;
	case 'm': d->map.on = true; break;
	case OPT_WIDTH:
		if (parse_uint(arg, 1, MAP_WIDTH_MAX, &n) < 0)
			return err_set(err, "--width takes 1..%u, not '%s'", MAP_WIDTH_MAX, arg);
		d->map.width = (unsigned int)n;
		a->map_tuned = true;
		break;
	case OPT_RARE:
		d->map.rare = true;
		a->map_tuned = true;
		break;
	case OPT_ROWS:
		if (parse_uint(arg, 1, MAP_ROWS_MAX, &n) < 0)
			return err_set(err, "--rows takes 1..%u, not '%s'", MAP_ROWS_MAX, arg);
		d->map.rows = (unsigned int)n;
		a->map_tuned = true;
		break;
	case OPT_COLOR:
		if (!arg)
			d->map.color = COLOR_ALWAYS;
		else if (color_when_parse(arg, &d->map.color) < 0)
			return err_set(err, "--color takes auto, always or never, not '%s'", arg);
		a->map_tuned = true;
		break;
	case OPT_IMAGE_DIGEST:
		exit(image_digest(arg));
	case OPT_TO_STREAM:
	case OPT_TO_MAPPED_RAM:
		if (d->conv.path)
			return err_set(err, "one of --to-stream and --to-mapped-ram, once");
		d->conv.path = arg;
		d->conv.mapped_ram = key == OPT_TO_MAPPED_RAM;
		break;
	}
	return 0;
}

static void parse_args(struct dump *d, int argc, char **argv)
{
	struct dump_args a = { .d = d };
	char err[ERR_LEN];

	d->map.rows = 1;
	switch (opts_parse(dump_opts, argc, argv, take_option, &a, err)) {
	case 1: applet_help();
	case -1: die_usage("%s", err);
	}
	if (argc - optind > 1)
		die_usage("at most one FILE");
	if (optind < argc && strcmp(argv[optind], "-"))
		d->path = argv[optind];
	if (d->pass_through && isatty(STDOUT_FILENO))
		die_usage("--pass-through writes the stream to stdout, which is a terminal");
	if (a.map_tuned && !d->map.on)
		die_usage("--width, --rows, --rare and --color shape the map: add --map");
	if (d->map.on && d->quiet)
		die_usage("--map draws a report, --quiet has none");
	if (d->conv.path && d->pass_through)
		die_usage("--pass-through copies the stream as it is: drop it, or --to-stream/--to-mapped-ram");
	if (d->conv.mapped_ram && !strcmp(d->conv.path, "-"))
		die_usage("--to-mapped-ram writes by file offset: give a file, not stdout");
	if (d->conv.path && !strcmp(d->conv.path, "-") && isatty(STDOUT_FILENO))
		die_usage("--to-stream - writes the stream to stdout, which is a terminal");
	d->report = d->pass_through || (d->conv.path && !strcmp(d->conv.path, "-")) ? stderr : stdout;
	if (d->map.on && !d->map.width)
		d->map.width = term_width(fileno(d->report), MAP_WIDTH_MAX, 80);
	d->list_sections = d->list_sections && !d->quiet && !d->json;
}

static void progress_tick(struct dump *d, struct progress *pg, bool final)
{
	char extra[96];

	if (!final && !progress_due(pg))
		return;
	snprintf(extra, sizeof(extra), "pages %" PRIu64 "  zero %" PRIu64, d->pages, d->zeros);
	if (final)
		progress_done(pg, d->total_bytes, extra);
	else
		progress_update(pg, in_offset(&d->in), extra);
}

static int convert_open(struct dump *d)
{
	struct convert *c = &d->conv;

	if (out_file_open(&c->file, c->path) < 0) {
		snprintf(d->oom, sizeof(d->oom), "cannot create %s: %s", c->path, strerror(errno));
		return -1;
	}
	if (c->mapped_ram) {
		struct stat st;

		/* written by offset: a pipe or a device will not do */
		if (fstat(c->file.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			out_file_abort(&c->file);
			snprintf(d->oom, sizeof(d->oom), "%s is not a regular file: a mapped-ram file is written by offset",
				 c->path);
			return -1;
		}
	}
	if (out_init(&c->out, c->file.fd, 1u << 20) < 0) {
		out_file_abort(&c->file);
		snprintf(d->oom, sizeof(d->oom), "out of memory");
		return -1;
	}
	out_set_wake(&c->out, d->session.wake_fd);
	stream_writer_init(&c->w, &c->out, stream_page_size(d->r));
	if (c->mapped_ram)
		c->w.mapped = &c->mapped;
	c->open = true;
	return 0;
}

/* The item again, in the other layout; -1 with d->oom set. */
static int convert_item(struct dump *d, const struct stream_item *it)
{
	struct convert *c = &d->conv;

	if (it->type == SI_CONFIG || it->type == SI_RAM_MEM_SIZE)
		c->w.page_size = stream_page_size(d->r);	/* known from the configuration */
	if (stream_write_item(&c->w, it, stream_ram(d->r)) < 0 || c->out.err || c->mapped.err) {
		int e = c->mapped.err ? c->mapped.err : c->out.err ? c->out.err : errno;

		snprintf(d->oom, sizeof(d->oom), "writing %s at input offset %" PRIu64 ": %s",
			 c->path, it->offset, strerror(e));
		return -1;
	}
	return 0;
}

/* The converted file appears only when everything was written and valid. */
static int convert_close(struct dump *d, bool ok)
{
	struct convert *c = &d->conv;
	int ret = 0;

	if (!c->open)
		return ok ? 0 : -1;
	if (ok && c->mapped_ram && !c->mapped.blocks) {
		snprintf(d->oom, sizeof(d->oom), "no RAM block list in the stream: nothing for a mapped-ram file");
		ok = false;
	}
	if (ok && c->mapped_ram && mapped_ram_out_finish(&c->mapped) < 0) {
		snprintf(d->oom, sizeof(d->oom), "writing the bitmaps to %s: %s", c->path, strerror(errno));
		ok = false;
	}
	if (ok && out_close(&c->out) < 0) {
		snprintf(d->oom, sizeof(d->oom), "writing %s: %s", c->path, strerror(c->out.err));
		ok = false;
	} else if (!ok) {
		out_discard(&c->out);
	}
	if (ok && out_file_commit(&c->file) < 0) {
		snprintf(d->oom, sizeof(d->oom), "cannot complete %s: %s", c->path, strerror(errno));
		ok = false;
	}
	if (!ok) {
		out_file_abort(&c->file);
		ret = -1;
	}
	mapped_ram_out_free(&c->mapped);
	c->open = false;
	return ret;
}

/* Reads the stream to its end: 0 valid, -1 malformed (the reader's
 * error), -2 another failure in d->oom or the session. */
static int scan(struct dump *d)
{
	struct stream_item it;
	struct progress pg;
	int ret;

	progress_init(&pg, d->show_progress);
	if (d->conv.path && convert_open(d) < 0)
		return -2;
	while ((ret = stream_next(d->r, &it)) > 0) {
		if (account(d, &it) < 0) {
			snprintf(d->oom, sizeof(d->oom), "out of memory at offset %" PRIu64, it.offset);
			ret = -2;
			break;
		}
		if (d->conv.open && convert_item(d, &it) < 0) {
			ret = -2;
			break;
		}
		if (it.type == SI_EOF && d->pass_through)
			in_tee_detach(&d->in, it.offset);	/* the end waits for validation */
		progress_tick(d, &pg, false);
	}
	d->total_bytes = in_offset(&d->in);
	if (d->show_progress)
		progress_tick(d, &pg, true);
	if (ret == 0 && d->pass_through) {
		struct stream_writer w;
		size_t vmlen;
		const char *vm = stream_vmdesc(d->r, &vmlen);

		stream_writer_init(&w, &d->out, stream_page_size(d->r));
		stream_write_eof(&w);
		if (vm)
			stream_write_vmdesc(&w, vm, vmlen);
	}
	if (ret == -1 && session_failed(&d->session))
		ret = -2;
	if (d->conv.path) {
		if (ret == -1)	/* keep the reader's error, drop the output */
			convert_close(d, false);
		else if (convert_close(d, ret == 0) < 0)
			ret = -2;
	}
	return ret;
}

/* The vfio data join the state digest in order of first appearance. */
static void finish_state_digest(struct dump *d, struct digest *out)
{
	for (uint32_t i = 0; i < d->sections_cap; i++) {
		struct digest vd;

		if (!d->sections[i].vfio_digest)
			continue;
		digest_final(d->sections[i].vfio_digest, &vd);
		digest_section(d->state, d->sections[i].s);
		digest_update(d->state, vd.bytes, sizeof(vd.bytes));
	}
	digest_final(d->state, out);
}

static int report(struct dump *d, int scanned)
{
	struct digest state_dg;
	int ret = 0;

	if (scanned == -1) {
		msg("%s: %s", d->path, stream_error(d->r));
		if (d->json && !d->quiet)
			print_json(d, stream_error(d->r), NULL);
		return EXIT_FAIL;
	}
	if (scanned == -2) {
		msg("%s: %s", d->path, session_failed(&d->session) ? d->session.error : d->oom);
		return EXIT_FAIL;
	}
	if (d->quiet)
		return EXIT_OK;
	if (d->state)
		finish_state_digest(d, &state_dg);
	if (d->json) {
		ret = print_json(d, NULL, d->state ? &state_dg : NULL);
	} else {
		if (d->map.on)
			ret = print_map(d);
		else if (!d->digest)
			print_text(d);
		if (!ret && d->digest)
			ret = print_digests_text(d, &state_dg);
	}
	if (ret < 0) {
		msg("%s: out of memory for the report", d->path);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static void setup(struct dump *d)
{
	int fd = STDIN_FILENO;

	d->in_fd = -1;
	if (session_init(&d->session) < 0)
		die_errno("cannot set up");
	if (d->path) {
		fd = open(d->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die_errno("cannot open %s", d->path);
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		d->in_fd = fd;
	} else {
		d->path = "stdin";
	}
	if (d->list_sections)
		fprintf(d->report, "sections of %s:\n", d->path);
	if (d->digest && !(d->state = digest_state_new()))
		die("out of memory");
	if (in_init(&d->in, fd, 4u << 20) < 0)
		die("out of memory");
	in_set_wake(&d->in, d->session.wake_fd);
	if (d->pass_through) {
		if (out_init(&d->out, STDOUT_FILENO, 1u << 20) < 0)
			die("out of memory");
		out_set_wake(&d->out, d->session.wake_fd);
		d->in.tee = &d->out;
	}
	d->r = stream_reader_new(&d->in);
	if (!d->r)
		die("out of memory");
}

static void teardown(struct dump *d)
{
	for (uint32_t i = 0; i < d->sections_cap; i++)
		digest_state_free(d->sections[i].vfio_digest);
	digest_state_free(d->state);
	sendmap_free(&d->sendmap);
	free(d->sections);
	stream_reader_free(d->r);
	in_free(&d->in);
	if (d->in_fd >= 0)
		close(d->in_fd);
}

int stream_dump_main(int argc, char **argv)
{
	struct dump d = { .path = NULL };
	int scanned, status;

	parse_args(&d, argc, argv);
	setup(&d);
	scanned = scan(&d);
	/* a failed write to stdout shows up first as a reader error: name it */
	if (d.pass_through && (out_close(&d.out) < 0 || d.out.err) && scanned != -2) {
		msg("writing stdout: %s", session_failed(&d.session) ? d.session.error :
		    strerror(d.out.err));
		scanned = -3;
	}
	status = scanned == -3 ? EXIT_FAIL : report(&d, scanned);
	if (status == EXIT_OK && !d.pass_through)
		status = stdout_finish("the report");
	else if (status == EXIT_OK && fflush(stderr))
		status = EXIT_FAIL;
	teardown(&d);
	return session_end(&d.session, status);
}
