/* stream-dump: inspect, digest and validate a QEMU migration stream. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "digest.h"
#include "io.h"
#include "json.h"
#include "log.h"
#include "opts.h"
#include "progress.h"
#include "stream.h"

const char stream_dump_usage[] =
"usage: stream-dump [OPTIONS] [FILE|-]\n"
"       stream-dump --image-digest IMAGE\n"
"\n"
"Reads a QEMU migration stream (QEVM version 3) from FILE or stdin, checks\n"
"every record and prints its structure: sections, RAM blocks with page\n"
"counts, vfio devices, device sections, commands and the vmdesc summary.\n"
"A malformed stream exits 1 with the byte offset and the reason.\n"
"\n"
"  -j, --json          print the report as JSON\n"
"  -d, --digest        print one digest per RAM block of the final memory\n"
"                      image and one of the rest of the state, instead of the\n"
"                      structure (with --json: added to it)\n"
"  -s, --sections      also list every section with its offset\n"
"  -p, --pass-through  copy the validated stream to stdout, report on stderr;\n"
"                      the end of the stream is written only once it is valid\n"
"  -q, --quiet         no report: only validate (and pass through)\n"
"      --progress      show bytes, rate and pages on stderr while reading\n"
"      --image-digest IMAGE\n"
"                      digest a raw memory image (e.g. a memory-backend-file)\n"
"                      the way --digest digests a RAM block, and exit\n"
"  -h, --help          show this help\n"
"\n"
"Digest lines: 'ram DIGEST LENGTH NAME' per block, then 'state DIGEST'.\n"
"Two streams that restore the same machine state print the same digests,\n"
"whatever their framing, page order or re-sent pages.\n"
"\n"
"Exit status: 0 valid, 1 malformed or unreadable, 2 usage error.\n";

struct section_stats {
	const struct section_info *s;
	uint64_t count[5];		/* by section type START..FULL */
	uint64_t bytes;
	uint64_t first_offset;
	struct digest_state *vfio_digest;
	uint64_t vfio_bytes;
};

struct device_entry {
	const struct section_info *s;
	uint64_t offset;
	uint64_t bytes;
};

struct command_entry {
	uint16_t cmd;
	uint32_t len;
	uint64_t offset;
};

struct dump {
	const char *path;
	bool json, digest, list_sections, quiet, pass_through;
	FILE *report;
	struct section_stats *sections;
	size_t nsections, sections_cap;
	struct device_entry *devices;
	size_t ndevices, devices_cap;
	struct command_entry *commands;
	size_t ncommands, commands_cap;
	struct section_stats *cur;
	uint64_t eos, hooks, multifd_flushes, pages, zeros;
	uint64_t package_bytes;
	uint64_t eof_offset;
	uint64_t total_bytes;
	struct digest_state *state;
	int vmdesc_devices;
};

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(p, *cap * size);
	if (!p)
		die("out of memory");
	return p;
}

static struct section_stats *stats_for(struct dump *d, const struct section_info *s,
				       uint64_t offset)
{
	for (size_t i = 0; i < d->nsections; i++)
		if (d->sections[i].s == s)
			return &d->sections[i];
	d->sections = grow(d->sections, &d->sections_cap, d->nsections, sizeof(*d->sections));
	memset(&d->sections[d->nsections], 0, sizeof(*d->sections));
	d->sections[d->nsections].s = s;
	d->sections[d->nsections].first_offset = offset;
	return &d->sections[d->nsections++];
}

static const char *kind_name(enum section_kind k)
{
	return k == SECTION_KIND_RAM ? "ram" : k == SECTION_KIND_VFIO ? "vfio" : "device";
}

static const char *command_name(uint16_t cmd)
{
	static const char *const names[] = {
		"?", "OPEN_RETURN_PATH", "PING", "POSTCOPY_ADVISE",
		"POSTCOPY_LISTEN", "POSTCOPY_RUN", "POSTCOPY_RAM_DISCARD",
		"PACKAGED", "RECV_BITMAP", "ENABLE_COLO",
	};

	return cmd < sizeof(names) / sizeof(names[0]) ? names[cmd] : "?";
}

/* Non-RAM state goes into one digest: header fields, not section ids or
 * framing, so re-framed streams of the same state agree. */
static void digest_u32(struct digest_state *st, uint32_t v)
{
	digest_update(st, &v, sizeof(v));
}

static void digest_section(struct digest_state *st, const struct section_info *s)
{
	digest_update(st, s->idstr, strlen(s->idstr) + 1);
	digest_u32(st, s->instance);
	digest_u32(st, s->version);
}

static void account(struct dump *d, struct stream_reader *r,
		    const struct stream_item *it)
{
	uint32_t page_size = stream_page_size(r);

	if (d->cur)
		d->cur->bytes += it->end_offset - it->offset;
	switch (it->type) {
	case SI_CONFIG:
		if (d->state)
			digest_update(d->state, it->data, it->len);
		break;
	case SI_SECTION:
		d->cur = stats_for(d, it->section, it->offset);
		d->cur->count[it->section_type]++;
		d->cur->bytes += it->end_offset - it->offset;
		if (d->list_sections)
			fprintf(d->report, "  @%-12" PRIu64 " %-5s %4u %s\n", it->offset,
				section_type_name(it->section_type), it->section->id,
				it->section->idstr);
		if (it->section_type == QEMU_VM_SECTION_FULL) {
			d->devices = grow(d->devices, &d->devices_cap, d->ndevices, sizeof(*d->devices));
			d->devices[d->ndevices++] = (struct device_entry){ it->section, it->offset, 0 };
			if (d->state)
				digest_section(d->state, it->section);
		}
		if (it->section->kind == SECTION_KIND_VFIO && d->state && !d->cur->vfio_digest) {
			d->cur->vfio_digest = digest_state_new();
			if (!d->cur->vfio_digest)
				die("out of memory");
		}
		break;
	case SI_RAM_MEM_SIZE:
		if (d->digest && ram_digest_enable(stream_ram(r), page_size) < 0)
			die("out of memory for the page hashes of %" PRIu64 " bytes of RAM",
			    stream_ram(r)->total);
		if (d->state) {
			const struct ram_list *l = stream_ram(r);

			for (uint32_t i = 0; i < l->count; i++) {
				digest_update(d->state, l->blocks[i].name, l->blocks[i].name_len + 1u);
				digest_update(d->state, &l->blocks[i].length, 8);
			}
		}
		break;
	case SI_RAM_PAGE:
		it->block->page_records++;
		it->block->page_bytes += it->len;
		d->pages++;
		if (d->digest)
			ram_digest_page(it->block, it->addr, it->data, page_size);
		break;
	case SI_RAM_ZERO:
		it->block->zero_records++;
		d->zeros++;
		if (d->digest)
			ram_digest_fill(it->block, it->addr, it->fill, page_size);
		break;
	case SI_RAM_EOS:
		d->eos++;
		break;
	case SI_RAM_HOOK:
		d->hooks++;
		break;
	case SI_RAM_MULTIFD_FLUSH:
		d->multifd_flushes++;
		break;
	case SI_VFIO_DATA:
		d->cur->vfio_bytes += it->len;
		if (d->cur->vfio_digest)
			digest_update(d->cur->vfio_digest, it->data, it->len);
		break;
	case SI_OPAQUE:
		d->devices[d->ndevices - 1].bytes += it->len;
		if (d->state)
			digest_update(d->state, it->data, it->len);
		break;
	case SI_FOOTER:
		d->cur = NULL;
		break;
	case SI_COMMAND:
		d->commands = grow(d->commands, &d->commands_cap, d->ncommands, sizeof(*d->commands));
		d->commands[d->ncommands++] = (struct command_entry){ it->cmd, (uint32_t)it->len, it->offset };
		break;
	case SI_PACKAGE:
		d->package_bytes += it->len;
		if (d->state)
			digest_update(d->state, it->data, it->len);
		break;
	case SI_EOF:
		d->eof_offset = it->offset;
		break;
	case SI_VMDESC:
		d->vmdesc_devices = json_vmdesc_devices((const char *)it->data, it->len, NULL, NULL);
		break;
	case SI_HEADER:
	case SI_VFIO_TAG:
		break;
	}
}

static void print_digests_text(struct dump *d, struct stream_reader *r,
			       const struct digest *state)
{
	const struct ram_list *l = stream_ram(r);
	char hex[DIGEST_HEX_LEN];

	for (uint32_t i = 0; i < l->count; i++) {
		struct digest dg;

		ram_digest_final(&l->blocks[i], stream_page_size(r), &dg);
		digest_hex(&dg, hex);
		fprintf(d->report, "ram %s %" PRIu64 " %s\n", hex, l->blocks[i].length,
			l->blocks[i].name);
	}
	digest_hex(state, hex);
	fprintf(d->report, "state %s\n", hex);
}

static void format_uuid(const unsigned char *u, char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void print_text(struct dump *d, struct stream_reader *r)
{
	const struct stream_config *cfg = stream_config(r);
	const struct ram_list *l = stream_ram(r);
	FILE *f = d->report;
	size_t vmlen;
	char uuid[37];

	fprintf(f, "stream %s: QEVM version 3, %" PRIu64 " bytes\n", d->path, d->total_bytes);
	if (cfg->present) {
		fprintf(f, "machine %s", cfg->machine);
		if (cfg->has_uuid) {
			format_uuid(cfg->uuid, uuid);
			fprintf(f, ", uuid %s", uuid);
		}
		for (uint32_t i = 0; i < cfg->ncaps; i++)
			fprintf(f, "%s%s", i ? " " : ", capabilities ", cfg->caps[i]);
		fprintf(f, "\n");
	} else {
		fprintf(f, "machine (no configuration section)\n");
	}
	fprintf(f, "sections:\n  %4s %-32s %5s %4s %-6s %6s %8s %6s %5s %14s\n",
		"id", "idstr", "inst", "ver", "kind", "START", "PART", "END", "FULL", "bytes");
	for (size_t i = 0; i < d->nsections; i++) {
		const struct section_stats *st = &d->sections[i];

		if (st->s->kind == SECTION_KIND_OPAQUE)
			continue;
		fprintf(f, "  %4u %-32s %5u %4u %-6s %6" PRIu64 " %8" PRIu64 " %6" PRIu64
			" %5" PRIu64 " %14" PRIu64 "\n",
			st->s->id, st->s->idstr, st->s->instance, st->s->version,
			kind_name(st->s->kind), st->count[1], st->count[2], st->count[3],
			st->count[4], st->bytes);
	}
	if (l->count) {
		fprintf(f, "ram: %u blocks, %" PRIu64 " bytes, page size %u; %" PRIu64
			" page records, %" PRIu64 " zero records, %" PRIu64 " EOS",
			l->count, l->total, stream_page_size(r), d->pages, d->zeros, d->eos);
		if (d->hooks)
			fprintf(f, ", %" PRIu64 " hooks", d->hooks);
		if (d->multifd_flushes)
			fprintf(f, ", %" PRIu64 " multifd flushes", d->multifd_flushes);
		fprintf(f, "\n  %-32s %14s %10s %10s %14s\n", "block", "length", "pages", "zero", "page bytes");
		for (uint32_t i = 0; i < l->count; i++) {
			const struct ram_block *b = &l->blocks[i];

			fprintf(f, "  %-32s %14" PRIu64 " %10" PRIu64 " %10" PRIu64 " %14" PRIu64 "\n",
				b->name, b->length, b->page_records, b->zero_records, b->page_bytes);
		}
	}
	for (size_t i = 0; i < d->nsections; i++)
		if (d->sections[i].s->kind == SECTION_KIND_VFIO)
			fprintf(f, "vfio %s instance %u: %" PRIu64 " bytes of device data\n",
				d->sections[i].s->idstr, d->sections[i].s->instance,
				d->sections[i].vfio_bytes);
	if (d->ndevices) {
		fprintf(f, "devices: %zu FULL sections\n", d->ndevices);
		for (size_t i = 0; i < d->ndevices; i++)
			fprintf(f, "  %-40s inst %-4u ver %-3u %8" PRIu64 " bytes @%" PRIu64 "\n",
				d->devices[i].s->idstr, d->devices[i].s->instance,
				d->devices[i].s->version, d->devices[i].bytes, d->devices[i].offset);
	}
	for (size_t i = 0; i < d->ncommands; i++)
		fprintf(f, "command %s (%u), %u bytes @%" PRIu64 "\n",
			command_name(d->commands[i].cmd), d->commands[i].cmd,
			d->commands[i].len, d->commands[i].offset);
	if (d->package_bytes)
		fprintf(f, "packaged data: %" PRIu64 " bytes (not parsed)\n", d->package_bytes);
	fprintf(f, "EOF @%" PRIu64 "\n", d->eof_offset);
	if (stream_vmdesc(r, &vmlen))
		fprintf(f, "vmdesc: %zu bytes of JSON, %d devices\n", vmlen, d->vmdesc_devices);
	else
		fprintf(f, "vmdesc: none\n");
}

static void print_json(struct dump *d, struct stream_reader *r, const char *error,
		       const struct digest *state)
{
	const struct stream_config *cfg = stream_config(r);
	const struct ram_list *l = stream_ram(r);
	struct json_writer w;
	size_t vmlen;
	char hex[DIGEST_HEX_LEN], uuid[37];

	jw_init(&w, d->report, false);
	jw_object(&w);
	jw_key(&w, "file"); jw_string(&w, d->path);
	jw_key(&w, "valid"); jw_bool(&w, !error);
	if (error) {
		jw_key(&w, "error"); jw_string(&w, error);
	}
	jw_key(&w, "bytes"); jw_u64(&w, d->total_bytes);
	jw_key(&w, "machine");
	if (cfg->present)
		jw_string(&w, cfg->machine);
	else
		jw_null(&w);
	jw_key(&w, "uuid");
	if (cfg->has_uuid) {
		format_uuid(cfg->uuid, uuid);
		jw_string(&w, uuid);
	} else {
		jw_null(&w);
	}
	jw_key(&w, "page_size"); jw_u64(&w, stream_page_size(r));
	jw_key(&w, "sections");
	jw_array(&w);
	for (size_t i = 0; i < d->nsections; i++) {
		const struct section_stats *st = &d->sections[i];

		jw_object(&w);
		jw_key(&w, "id"); jw_u64(&w, st->s->id);
		jw_key(&w, "idstr"); jw_string(&w, st->s->idstr);
		jw_key(&w, "instance"); jw_u64(&w, st->s->instance);
		jw_key(&w, "version"); jw_u64(&w, st->s->version);
		jw_key(&w, "kind"); jw_string(&w, kind_name(st->s->kind));
		jw_key(&w, "start"); jw_u64(&w, st->count[1]);
		jw_key(&w, "part"); jw_u64(&w, st->count[2]);
		jw_key(&w, "end"); jw_u64(&w, st->count[3]);
		jw_key(&w, "full"); jw_u64(&w, st->count[4]);
		jw_key(&w, "bytes"); jw_u64(&w, st->bytes);
		jw_key(&w, "offset"); jw_u64(&w, st->first_offset);
		if (st->s->kind == SECTION_KIND_VFIO) {
			jw_key(&w, "vfio_data_bytes"); jw_u64(&w, st->vfio_bytes);
		}
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "ram_total"); jw_u64(&w, l->total);
	jw_key(&w, "ram_blocks");
	jw_array(&w);
	for (uint32_t i = 0; i < l->count; i++) {
		const struct ram_block *b = &l->blocks[i];

		jw_object(&w);
		jw_key(&w, "name"); jw_string(&w, b->name);
		jw_key(&w, "length"); jw_u64(&w, b->length);
		jw_key(&w, "page_records"); jw_u64(&w, b->page_records);
		jw_key(&w, "zero_records"); jw_u64(&w, b->zero_records);
		jw_key(&w, "page_bytes"); jw_u64(&w, b->page_bytes);
		if (state) {
			struct digest dg;

			ram_digest_final(b, stream_page_size(r), &dg);
			digest_hex(&dg, hex);
			jw_key(&w, "digest"); jw_string(&w, hex);
		}
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "ram_records");
	jw_object(&w);
	jw_key(&w, "page"); jw_u64(&w, d->pages);
	jw_key(&w, "zero"); jw_u64(&w, d->zeros);
	jw_key(&w, "eos"); jw_u64(&w, d->eos);
	jw_key(&w, "hook"); jw_u64(&w, d->hooks);
	jw_key(&w, "multifd_flush"); jw_u64(&w, d->multifd_flushes);
	jw_object_end(&w);
	jw_key(&w, "devices");
	jw_array(&w);
	for (size_t i = 0; i < d->ndevices; i++) {
		jw_object(&w);
		jw_key(&w, "idstr"); jw_string(&w, d->devices[i].s->idstr);
		jw_key(&w, "instance"); jw_u64(&w, d->devices[i].s->instance);
		jw_key(&w, "version"); jw_u64(&w, d->devices[i].s->version);
		jw_key(&w, "bytes"); jw_u64(&w, d->devices[i].bytes);
		jw_key(&w, "offset"); jw_u64(&w, d->devices[i].offset);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "commands");
	jw_array(&w);
	for (size_t i = 0; i < d->ncommands; i++) {
		jw_object(&w);
		jw_key(&w, "cmd"); jw_u64(&w, d->commands[i].cmd);
		jw_key(&w, "name"); jw_string(&w, command_name(d->commands[i].cmd));
		jw_key(&w, "length"); jw_u64(&w, d->commands[i].len);
		jw_key(&w, "offset"); jw_u64(&w, d->commands[i].offset);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "vmdesc");
	if (stream_vmdesc(r, &vmlen)) {
		jw_object(&w);
		jw_key(&w, "bytes"); jw_u64(&w, vmlen);
		jw_key(&w, "devices"); jw_i64(&w, d->vmdesc_devices);
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
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}

int stream_dump_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "digest", no_argument, NULL, 'd' },
		{ "sections", no_argument, NULL, 's' },
		{ "pass-through", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, 'P' },
		{ "image-digest", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct dump d = { .path = "stdin" };
	bool show_progress = false;
	struct in_buf in;
	struct out_buf out;
	struct stream_reader *r;
	struct stream_item it;
	struct progress pg;
	struct digest state_dg;
	int fd = STDIN_FILENO, c, ret;

	while ((c = getopt_long(argc, argv, "jdspqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': d.json = true; break;
		case 'd': d.digest = true; break;
		case 's': d.list_sections = true; break;
		case 'p': d.pass_through = true; break;
		case 'q': d.quiet = true; break;
		case 'P': show_progress = true; break;
		case 'I': return image_digest(optarg);
		case 'h': opts_help();
		default: die_usage("bad option");
		}
	}
	if (argc - optind > 1)
		die_usage("at most one FILE");
	if (optind < argc && strcmp(argv[optind], "-")) {
		d.path = argv[optind];
		fd = open(d.path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die_errno("cannot open %s", d.path);
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	if (d.pass_through && isatty(STDOUT_FILENO))
		die_usage("--pass-through writes the stream to stdout, which is a terminal");
	d.report = d.pass_through ? stderr : stdout;
	if (d.list_sections && !d.quiet && !d.json)
		fprintf(d.report, "sections of %s:\n", d.path);
	else
		d.list_sections = false;
	if (d.digest) {
		d.state = digest_state_new();
		if (!d.state)
			die("out of memory");
	}
	if (in_init(&in, fd, 4u << 20) < 0)
		die("out of memory");
	if (d.pass_through) {
		if (out_init(&out, STDOUT_FILENO, 1u << 20) < 0)
			die("out of memory");
		in.tee = &out;
	}
	r = stream_reader_new(&in);
	if (!r)
		die("out of memory");
	progress_init(&pg, show_progress);

	while ((ret = stream_next(r, &it)) > 0) {
		account(&d, r, &it);
		if (it.type == SI_EOF && d.pass_through)
			in_tee_detach(&in, it.offset);	/* the end waits for validation */
		if (progress_due(&pg)) {
			char extra[96];

			snprintf(extra, sizeof(extra), "pages %" PRIu64 "  zero %" PRIu64,
				 d.pages, d.zeros);
			progress_update(&pg, in_offset(&in), extra);
		}
	}
	d.total_bytes = in_offset(&in);
	if (show_progress) {
		char extra[96];

		snprintf(extra, sizeof(extra), "pages %" PRIu64 "  zero %" PRIu64, d.pages, d.zeros);
		progress_done(&pg, d.total_bytes, extra);
	}
	if (ret == 0 && d.pass_through) {
		struct stream_writer w;
		size_t vmlen;
		const char *vm = stream_vmdesc(r, &vmlen);

		stream_writer_init(&w, &out, stream_page_size(r));
		stream_write_eof(&w);
		if (vm)
			stream_write_vmdesc(&w, vm, vmlen);
	}
	if (d.pass_through && out_close(&out) < 0) {
		msg("writing stdout: %s", strerror(out.err));
		ret = -2;
	}
	if (ret == -1) {
		msg("%s: %s", d.path, stream_error(r));
		if (d.json && !d.quiet)
			print_json(&d, r, stream_error(r), NULL);
	} else if (ret == 0 && !d.quiet) {
		if (d.state)
			digest_final(d.state, &state_dg);
		if (d.state) {
			/* vfio data joins the state in order of first appearance */
			for (size_t i = 0; i < d.nsections; i++) {
				struct digest vd;

				if (!d.sections[i].vfio_digest)
					continue;
				digest_final(d.sections[i].vfio_digest, &vd);
				digest_section(d.state, d.sections[i].s);
				digest_update(d.state, vd.bytes, sizeof(vd.bytes));
			}
			digest_final(d.state, &state_dg);
		}
		if (d.json)
			print_json(&d, r, NULL, d.state ? &state_dg : NULL);
		else if (d.digest)
			print_digests_text(&d, r, &state_dg);
		else
			print_text(&d, r);
	}
	for (size_t i = 0; i < d.nsections; i++)
		digest_state_free(d.sections[i].vfio_digest);
	digest_state_free(d.state);
	free(d.sections);
	free(d.devices);
	free(d.commands);
	stream_reader_free(r);
	in_free(&in);
	if (fd != STDIN_FILENO)
		close(fd);
	if (fflush(stdout) || ferror(stdout))
		return EXIT_FAIL;
	return ret == 0 ? EXIT_OK : EXIT_FAIL;
}
