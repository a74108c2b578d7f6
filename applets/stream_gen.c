// SPDX-License-Identifier: GPL-3.0-or-later
/* stream-gen: a valid, deterministic synthetic migration stream. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "applets.h"
#include "iobuf.h"
#include "log.h"
#include "machine.h"
#include "opts.h"
#include "outfile.h"
#include "progress.h"
#include "ram.h"
#include "session.h"
#include "stream.h"

enum { OPT_SECTION_PAGES = 256, OPT_DEVICES, OPT_VFIO, OPT_NO_VMDESC,
       OPT_MACHINE, OPT_UUID, OPT_RAW, OPT_PROGRESS };

static const struct opt gen_opts[] = {
	{ 's', "seed", "N", "seed of all content (default 1)", NULL },
	{ 'b', "block", "NAME:SIZE", "a RAM block, repeatable (default pc.ram:64M); sizes take "
	  "K, M, G suffixes and are page multiples", NULL },
	{ 'm', "mix", "SPEC", "share of page kinds, e.g. zero=30,random=30,text=40,repeat=0 "
	  "(weights, normalized; this is the default)", NULL },
	{ 'i', "iterations", "N", "passes over RAM (default 1); the last one is the END section",
	  NULL },
	{ 'r', "resend", "PCT", "percent of pages re-sent by each later pass (default 10)", NULL },
	{ OPT_SECTION_PAGES, "section-pages", "N", "pages per PART section (default 4096)", NULL },
	{ OPT_DEVICES, "devices", "N", "FULL device sections in the tail (default 4)", NULL },
	{ OPT_VFIO, "vfio", "IDSTR:SIZE", "add a vfio device with SIZE bytes of state", NULL },
	{ OPT_NO_VMDESC, "no-vmdesc", NULL, "end the stream at EOF, without a vmdesc", NULL },
	{ OPT_MACHINE, "machine", "NAME", "machine type in the configuration (default "
	  "pc-i440fx-7.2); from version 10.0 (pc-i440fx-10.0) the stream is as QEMU 10.0 "
	  "writes it: SWITCHOVER_START before the END sections, a vmdesc that starts with "
	  "the configuration", NULL },
	{ OPT_UUID, "uuid", "UUID", "add a configuration/uuid subsection", NULL },
	{ OPT_RAW, "raw", NULL, "write the final RAM image (blocks one after another) instead of "
	  "the stream: what the destination must hold", NULL },
	{ 'o', "output", "FILE", "write to FILE, which appears only once complete and on disk (a "
	  "symlink is followed), instead of stdout", OPT_COMPLETE_FILE },
	{ OPT_PROGRESS, "progress", NULL, "show bytes and rate on stderr", NULL },
	OPT_HELP,
	OPT_END
};

const struct applet_help stream_gen_help = {
	.opts = gen_opts,
	.text =
"usage: stream-gen [OPTIONS] > STREAM\n"
"       stream-gen --raw [OPTIONS] > IMAGE\n"
"\n"
"Writes a valid, deterministic QEMU migration stream: the same options and\n"
"seed always give the same bytes. RAM is sent in a first pass over every\n"
"page, then each further iteration re-sends a fraction of the pages with\n"
"new content, as a live migration does; a device tail of FULL sections,\n"
"EOF and a vmdesc follow. For tests and benchmarks.\n"
"\n",
	.notes =
"\n"
"Page kinds: zero pages go as ZERO records; random pages do not compress;\n"
"text pages compress like prose; repeat pages are one non-zero byte.\n"
"\n"
"Exit status: 0 written, 1 failure (nothing is left under FILE), 2 usage\n"
"error; killed by SIGINT, SIGTERM or SIGHUP after cleaning up.\n",
};

#define PAGE_SIZE	4096u
#define TEXT_POOL_SIZE	(1u << 20)
#define RAM_SECTION_ID	2u

enum page_kind { KIND_ZERO, KIND_RANDOM, KIND_TEXT, KIND_REPEAT, KIND_COUNT };

struct gen {
	uint64_t seed;
	struct ram_list ram;
	unsigned mix[KIND_COUNT];	/* cumulative thresholds out of 10000 */
	unsigned iterations;
	unsigned resend_pct;
	uint64_t section_pages;
	unsigned devices;
	bool vmdesc;
	bool raw;
	const char *machine;
	bool qemu10;			/* a 10.0+ machine: its stream's marks */
	bool switchover_said;
	bool has_uuid;
	unsigned char uuid[16];
	char vfio_idstr[STREAM_IDSTR_MAX];
	uint64_t vfio_size;
	unsigned char *text_pool;
	struct out_buf out;
	struct stream_writer w;
	struct progress pg;
	uint32_t next_section_id;
	struct session session;
};

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finalizer: cheap, well-spread, deterministic */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t page_key(const struct gen *g, uint32_t block, uint64_t page,
			 unsigned version)
{
	return mix64(mix64(mix64(g->seed ^ ((uint64_t)block << 48)) ^ page) ^ version);
}

static bool resent_in(const struct gen *g, uint32_t block, uint64_t page,
		      unsigned iteration)
{
	uint64_t h = mix64(page_key(g, block, page, iteration) ^ 0x5e5e5e5eull);

	return h % 10000 < g->resend_pct * 100u;
}

static unsigned final_version(const struct gen *g, uint32_t block, uint64_t page)
{
	for (unsigned k = g->iterations; k >= 2; k--)
		if (resent_in(g, block, page, k))
			return k;
	return 1;
}

static void fill_random(unsigned char *buf, uint64_t key)
{
	/* xoshiro256** seeded from the key */
	uint64_t s[4] = { mix64(key), mix64(key + 1), mix64(key + 2), mix64(key + 3) };

	for (unsigned i = 0; i < PAGE_SIZE; i += 8) {
		uint64_t r = s[1] * 5;
		uint64_t t = s[1] << 17;

		r = ((r << 7) | (r >> 57)) * 9;
		s[2] ^= s[0];
		s[3] ^= s[1];
		s[1] ^= s[2];
		s[0] ^= s[3];
		s[2] ^= t;
		s[3] = (s[3] << 45) | (s[3] >> 19);
		for (unsigned k = 0; k < 8; k++)	/* little-endian on every host */
			buf[i + k] = (unsigned char)(r >> (8 * k));
	}
}

/* Content of a page at a version; returns its kind. */
static enum page_kind make_page(const struct gen *g, uint32_t block, uint64_t page,
				unsigned version, unsigned char *buf)
{
	uint64_t key = page_key(g, block, page, version);
	unsigned pick = (unsigned)(key % 10000);
	enum page_kind kind = KIND_ZERO;

	while (kind < KIND_REPEAT && pick >= g->mix[kind])
		kind++;
	switch (kind) {
	case KIND_ZERO:
		memset(buf, 0, PAGE_SIZE);
		break;
	case KIND_RANDOM:
		fill_random(buf, key);
		break;
	case KIND_TEXT: {
		size_t off = (size_t)(mix64(key) % (TEXT_POOL_SIZE - PAGE_SIZE));
		int n;

		memcpy(buf, g->text_pool + off, PAGE_SIZE);
		/* distinct pages: stamp where it is */
		n = snprintf((char *)buf, 48, "block %u page %" PRIu64 " v%u ", block, page, version);
		buf[n] = ' ';
		break;
	}
	case KIND_REPEAT:
		memset(buf, (int)(key >> 32) % 255 + 1, PAGE_SIZE);
		break;
	default:
		break;
	}
	return kind;
}

static void make_text_pool(struct gen *g)
{
	static const char *const words[] = {
		"the", "migration", "stream", "page", "of", "and", "a", "memory",
		"guest", "device", "to", "is", "in", "dirty", "bitmap", "channel",
		"qemu", "kernel", "state", "with", "for", "block", "that", "it",
		"destination", "source", "sync", "zero", "as", "on", "be", "by",
		"data", "section", "packet", "buffer", "thread", "copy", "load",
		"save", "when", "which", "this", "from", "into", "each", "all",
	};
	uint64_t x = mix64(g->seed ^ 0x7e7e);
	size_t i = 0;

	g->text_pool = malloc(TEXT_POOL_SIZE);
	if (!g->text_pool)
		die("out of memory");
	while (i < TEXT_POOL_SIZE) {
		const char *w;
		size_t n;

		x = mix64(x);
		w = words[x % (sizeof(words) / sizeof(words[0]))];
		n = strlen(w);
		for (size_t k = 0; k < n && i < TEXT_POOL_SIZE; k++)
			g->text_pool[i++] = (unsigned char)w[k];
		if (i < TEXT_POOL_SIZE)
			g->text_pool[i++] = (x >> 40) % 13 == 0 ? '\n' : ' ';
	}
}

/* A write error is sticky in g->out: checked once per block or pass. */
static int check_out(struct gen *g)
{
	return g->out.err ? -1 : 0;
}

static void tick(struct gen *g)
{
	if (progress_due(&g->pg))
		progress_update(&g->pg, out_offset(&g->out), NULL);
}

static int write_raw(struct gen *g)
{
	unsigned char page[PAGE_SIZE];

	for (uint32_t b = 0; b < g->ram.count; b++) {
		uint64_t pages = g->ram.blocks[b].length / PAGE_SIZE;

		for (uint64_t p = 0; p < pages; p++) {
			make_page(g, b, p, final_version(g, b, p), page);
			out_write(&g->out, page, PAGE_SIZE);
			tick(g);
		}
		if (check_out(g) < 0)
			return -1;
	}
	return 0;
}

/* QEMU 10.0 machines say the switchover starts before the END sections. */
static void open_section(struct gen *g, uint8_t type, const struct section_info *s)
{
	if (type == QEMU_VM_SECTION_END && g->qemu10 && !g->switchover_said) {
		stream_write_command(&g->w, MIG_CMD_SWITCHOVER_START, NULL, 0);
		g->switchover_said = true;
	}
	stream_write_section(&g->w, type, s);
}

static void close_ram_section(struct gen *g, const struct section_info *s)
{
	stream_write_ram_flag(&g->w, RAM_SAVE_FLAG_EOS);
	stream_write_footer(&g->w, s->id);
}

/* One pass: every page (iteration 1) or the re-sent ones, in sections of
 * section_pages pages; the last pass goes into the END section. */
static int write_pass(struct gen *g, const struct section_info *ram, unsigned iteration)
{
	bool last = iteration == g->iterations && g->iterations > 1;
	uint64_t in_section = 0;
	unsigned char page[PAGE_SIZE];

	open_section(g, last ? QEMU_VM_SECTION_END : QEMU_VM_SECTION_PART, ram);
	for (uint32_t b = 0; b < g->ram.count; b++) {
		const struct ram_block *blk = &g->ram.blocks[b];
		uint64_t pages = blk->length / PAGE_SIZE;

		for (uint64_t p = 0; p < pages; p++) {
			if (iteration > 1 && !resent_in(g, b, p, iteration))
				continue;
			if (!last && in_section == g->section_pages) {
				close_ram_section(g, ram);
				open_section(g, QEMU_VM_SECTION_PART, ram);
				in_section = 0;
			}
			if (make_page(g, b, p, iteration, page) == KIND_ZERO)
				stream_write_zero(&g->w, blk, p * PAGE_SIZE, 0);
			else
				stream_write_page(&g->w, blk, p * PAGE_SIZE, page);
			in_section++;
			tick(g);
		}
		if (check_out(g) < 0)
			return -1;
	}
	close_ram_section(g, ram);
	return check_out(g);
}

static void write_vfio_data(struct gen *g)
{
	unsigned char chunk[PAGE_SIZE];
	uint64_t left = g->vfio_size, n = 0;

	/* QEMU writes at most its buffer size per DEV_DATA_STATE */
	while (left) {
		size_t len = left > sizeof(chunk) ? sizeof(chunk) : (size_t)left;

		fill_random(chunk, mix64(g->seed ^ 0xf10f10) + n++);
		stream_write_vfio_data(&g->w, chunk, len);
		left -= len;
	}
}

/* The tail of FULL device sections, and the vmdesc that describes them
 * into js (open_memstream'd). */
static int write_devices(struct gen *g, FILE *jf)
{
	fprintf(jf, "{");
	if (g->qemu10)
		fprintf(jf, "\"configuration\": {\"vmsd_name\": \"configuration\", \"version\": 1, "
			"\"fields\": [{\"name\": \"len\", \"type\": \"uint32\", \"size\": 4}, "
			"{\"name\": \"name\", \"type\": \"buffer\", \"size\": %zu}]}, ",
			strlen(g->machine));
	fprintf(jf, "\"page_size\": %u, \"devices\": [", PAGE_SIZE);
	for (unsigned d = 0; d < g->devices; d++) {
		struct section_info dev = { .id = RAM_SECTION_ID + 2 + d, .version = 1 };
		unsigned char body[PAGE_SIZE];	/* fill_random writes a whole page */
		size_t len = 16 + (size_t)(mix64(g->seed ^ d) % (1024 - 16));

		snprintf(dev.idstr, sizeof(dev.idstr), "gen-device-%u", d);
		fill_random(body, mix64(g->seed ^ 0xdede) + d);
		/* keep bodies free of footer bytes: real device data may hold
		 * them, but a generator should not test the heuristics by luck */
		for (size_t i = 0; i < len; i++)
			if (body[i] == QEMU_VM_SECTION_FOOTER)
				body[i] = 0x7f;
		open_section(g, QEMU_VM_SECTION_FULL, &dev);
		out_write(&g->out, body, len);
		stream_write_footer(&g->w, dev.id);
		fprintf(jf, "%s{\"name\": \"%s\", \"instance_id\": 0, \"vmsd_uid\": 0, "
			"\"fields\": [{\"name\": \"data\", \"type\": \"buffer\", \"size\": %zu}]}",
			d ? ", " : "", dev.idstr, len);
	}
	fprintf(jf, "]}");
	return check_out(g);
}

static int write_stream(struct gen *g)
{
	struct section_info ram = { .id = RAM_SECTION_ID, .version = 4, .kind = SECTION_KIND_RAM };
	struct section_info vfio = { .id = RAM_SECTION_ID + 1, .version = 1, .kind = SECTION_KIND_VFIO };
	char *js = NULL;
	size_t js_len = 0;
	FILE *jf;
	int ret = 0;

	struct machine_defaults md;

	g->qemu10 = machine_defaults(g->machine, &md) == 0 && md.switchover_start;
	strcpy(ram.idstr, "ram");
	strcpy(vfio.idstr, g->vfio_idstr);
	stream_write_header(&g->w);
	stream_write_config(&g->w, g->machine, g->has_uuid ? g->uuid : NULL);

	open_section(g, QEMU_VM_SECTION_START, &ram);
	stream_write_mem_size(&g->w, &g->ram);
	close_ram_section(g, &ram);
	if (g->vfio_size) {
		open_section(g, QEMU_VM_SECTION_START, &vfio);
		stream_write_vfio_tag(&g->w, VFIO_MIG_FLAG_DEV_SETUP_STATE);
		stream_write_vfio_tag(&g->w, VFIO_MIG_FLAG_END_OF_STATE);
		stream_write_footer(&g->w, vfio.id);
	}
	for (unsigned k = 1; k <= g->iterations && !ret; k++)
		ret = write_pass(g, &ram, k);
	if (ret)
		return -1;
	if (g->iterations == 1) {
		open_section(g, QEMU_VM_SECTION_END, &ram);
		close_ram_section(g, &ram);
	}
	if (g->vfio_size) {
		open_section(g, QEMU_VM_SECTION_END, &vfio);
		write_vfio_data(g);
		stream_write_vfio_tag(&g->w, VFIO_MIG_FLAG_END_OF_STATE);
		stream_write_footer(&g->w, vfio.id);
	}
	jf = open_memstream(&js, &js_len);
	if (!jf)
		return -1;
	ret = write_devices(g, jf);
	if (fclose(jf) || !js)
		ret = -1;
	if (!ret) {
		stream_write_eof(&g->w);
		if (g->vmdesc)
			stream_write_vmdesc(&g->w, js, js_len);
		ret = check_out(g);
	}
	free(js);
	return ret;
}

static void parse_mix(struct gen *g, const char *spec)
{
	static const char *const names[KIND_COUNT] = { "zero", "random", "text", "repeat" };
	unsigned weight[KIND_COUNT] = { 0 }, sum = 0, acc = 0;
	char *copy = strdup(spec), *tok, *save = NULL;

	if (!copy)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;
		int k;

		if (!eq)
			die_usage("--mix: '%s' is not KIND=WEIGHT", tok);
		*eq = 0;
		for (k = 0; k < KIND_COUNT && strcmp(tok, names[k]); k++)
			;
		if (k == KIND_COUNT)
			die_usage("--mix: unknown page kind '%s' (zero, random, text, repeat)", tok);
		if (parse_uint(eq + 1, 0, 10000, &v) < 0)
			die_usage("--mix: weight of %s must be a number 0..10000", tok);
		weight[k] = (unsigned)v;
	}
	free(copy);
	for (int k = 0; k < KIND_COUNT; k++)
		sum += weight[k];
	if (!sum)
		die_usage("--mix: all weights are zero");
	for (int k = 0; k < KIND_COUNT; k++) {
		acc += weight[k];
		g->mix[k] = (unsigned)((uint64_t)acc * 10000 / sum);
	}
}

static void add_block(struct gen *g, const char *spec)
{
	const char *colon = strrchr(spec, ':');
	uint64_t size;

	if (!colon || colon == spec)
		die_usage("--block wants NAME:SIZE, got '%s'", spec);
	if (parse_size(colon + 1, &size) < 0 || !size || size % PAGE_SIZE)
		die_usage("--block %s: size must be a non-zero multiple of %u", spec, PAGE_SIZE);
	if ((size_t)(colon - spec) > 255)
		die_usage("--block %s: name longer than 255 bytes", spec);
	if (ram_list_add(&g->ram, spec, (size_t)(colon - spec), size) < 0)
		die_usage("--block %s: %s", spec, errno == EEXIST ? "name given twice" : strerror(errno));
}

static void parse_vfio(struct gen *g, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : 0;

	if (!colon || !n || n > 255 || parse_size(colon + 1, &g->vfio_size) < 0 || !g->vfio_size)
		die_usage("--vfio wants IDSTR:SIZE with a non-zero size");
	memcpy(g->vfio_idstr, arg, n);
	g->vfio_idstr[n] = 0;
	if (n < 5 || strcmp(g->vfio_idstr + n - 5, "/vfio"))
		die_usage("--vfio: the idstr must end in /vfio, as QEMU's do");
}


/* Options that take a number, each with its range and message. */
static void parse_number_option(struct gen *g, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case 's':
		if (parse_uint(arg, 0, UINT64_MAX, &g->seed) < 0)
			die_usage("--seed wants a number");
		break;
	case 'i':
		if (parse_uint(arg, 1, 1000, &v) < 0)
			die_usage("--iterations wants 1..1000");
		g->iterations = (unsigned)v;
		break;
	case 'r':
		if (parse_uint(arg, 0, 100, &v) < 0)
			die_usage("--resend wants a percentage 0..100");
		g->resend_pct = (unsigned)v;
		break;
	case OPT_SECTION_PAGES:
		if (parse_uint(arg, 1, 1u << 30, &g->section_pages) < 0)
			die_usage("--section-pages wants a positive number");
		break;
	case OPT_DEVICES:
		if (parse_uint(arg, 0, 1000, &v) < 0)
			die_usage("--devices wants 0..1000");
		g->devices = (unsigned)v;
		break;
	}
}

struct gen_args {
	struct gen *g;
	const char *output;
};

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct gen_args *a = ctx;
	struct gen *g = a->g;

	switch (key) {
	case 's': case 'i': case 'r': case OPT_SECTION_PAGES: case OPT_DEVICES:
		parse_number_option(g, key, arg);
		break;
	case 'b': add_block(g, arg); break;
	case 'm': parse_mix(g, arg); break;
	case OPT_VFIO: parse_vfio(g, arg); break;
	case OPT_NO_VMDESC: g->vmdesc = false; break;
	case OPT_MACHINE:
		if (!*arg || strlen(arg) > 255)
			return err_set(err, "--machine wants a name of 1..255 bytes");
		g->machine = arg;
		break;
	case OPT_UUID:
		if (uuid_parse(arg, g->uuid) < 0)
			return err_set(err, "--uuid: '%s' is not a UUID", arg);
		g->has_uuid = true;
		break;
	case OPT_RAW: g->raw = true; break;
	case 'o': a->output = arg; break;
	case OPT_PROGRESS: g->pg.enabled = true; break;
	}
	return 0;
}

/* Returns the -o FILE, or NULL for stdout. */
static const char *parse_args(struct gen *g, int argc, char **argv)
{
	struct gen_args a = { .g = g };
	const char *output;
	char err[ERR_LEN];

	parse_mix(g, "zero=30,random=30,text=40,repeat=0");
	switch (opts_parse(gen_opts, argc, argv, take_option, &a, err)) {
	case 1: applet_help();
	case -1: die_usage("%s", err);
	}
	output = a.output;
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!g->ram.count)
		add_block(g, "pc.ram:64M");
	if (!output && isatty(STDOUT_FILENO))
		die_usage("refusing to write a binary stream to a terminal: redirect or use -o");
	return output;
}

/* Writes the stream or image to of; the message of a failure, or NULL. */
static const char *generate(struct gen *g, struct out_file *of, char *why, size_t n)
{
	if (out_init(&g->out, of->fd, 1u << 20) < 0)
		return "out of memory";
	out_set_wake(&g->out, g->session.wake_fd);
	stream_writer_init(&g->w, &g->out, PAGE_SIZE);
	make_text_pool(g);
	if ((g->raw ? write_raw(g) : write_stream(g)) < 0 || out_close(&g->out) < 0) {
		if (session_failed(&g->session))
			return g->session.error;
		snprintf(why, n, "write failed: %s", strerror(g->out.err ? g->out.err : ENOMEM));
		out_discard(&g->out);
		return why;
	}
	progress_done(&g->pg, g->out.written, NULL);
	return NULL;
}

int stream_gen_main(int argc, char **argv)
{
	struct gen g = {
		.seed = 1, .iterations = 1, .resend_pct = 10, .section_pages = 4096,
		.devices = 4, .vmdesc = true, .machine = "pc-i440fx-7.2",
	};
	const char *output, *why;
	struct out_file of;
	char buf[512];
	bool show_progress;

	output = parse_args(&g, argc, argv);
	show_progress = g.pg.enabled;
	progress_init(&g.pg, show_progress);
	if (session_init(&g.session) < 0)
		die_errno("cannot set up");
	if (out_file_open(&of, output) < 0)
		die_errno("cannot create %s", output);
	why = generate(&g, &of, buf, sizeof(buf));
	if (!why && session_failed(&g.session))
		why = g.session.error;
	if (!why && out_file_commit(&of) < 0) {
		snprintf(buf, sizeof(buf), "cannot complete %s: %s", output, strerror(errno));
		why = buf;
	} else if (why) {
		out_file_abort(&of);
	}
	if (!why)
		session_complete(&g.session);
	else
		msg("%s", why);
	free(g.text_pool);
	ram_list_clear(&g.ram);
	return session_end(&g.session, why ? EXIT_FAIL : EXIT_OK);
}
