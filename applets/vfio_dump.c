// SPDX-License-Identifier: GPL-3.0-or-later
/* vfio-dump: save a VFIO device's state as a migration stream. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "iobuf.h"
#include "json.h"
#include "log.h"
#include "opts.h"
#include "session.h"
#include "stream.h"
#include "vfio.h"

enum { OPT_RESUME = 256 };

static const struct opt dump_table[] = {
	{ 'i', "info", NULL, "print migration flags, state and the STOP_COPY data size estimate, "
	  "and change nothing", NULL },
	{ 'j', "json", NULL, "with --info: as JSON", NULL },
	{ 'p', "precopy", NULL, "read PRE_COPY data while the device runs first", NULL },
	{ 'r', "rounds", "N", "PRE_COPY rounds at most (default 3)", NULL },
	{ OPT_RESUME, "resume", NULL, "return the device to RUNNING after the dump", NULL },
	OPT_HELP,
	OPT_END
};

const struct applet_help vfio_dump_help = {
	.opts = dump_table,
	.column = 22,
	.text =
"usage: vfio-dump [--precopy [--rounds N]] [--resume] DEVICE > STREAM\n"
"       vfio-dump --info [--json] DEVICE\n"
"\n"
"Saves the state of a VFIO device through the kernel's VFIO migration v2\n"
"uAPI and writes it as a QEMU migration stream with one vfio section\n"
"(idstr DEVICE/vfio), framed as QEMU frames it. DEVICE is a PCI address\n"
"(bound to vfio-pci or a variant driver) or an mdev UUID.\n"
"\n"
"The device goes RUNNING -> [PRE_COPY ->] STOP_COPY -> STOP and stays\n"
"stopped, as a migration source does, unless --resume. On any failure (a\n"
"closed pipe, a signal, the device) it is put back to RUNNING (reset if the\n"
"kernel refuses) and nothing that looks like a complete stream is written.\n"
"\n",
	.notes =
"\n"
"Exit status: 0 dumped, 1 failure (the device RUNNING again), 2 usage\n"
"error; killed by SIGINT, SIGTERM or SIGHUP after the device is back.\n",
};

#define SECTION_ID	1u
#define BUF_SIZE	(1u << 20)	/* QEMU's default data buffer */

struct dump {
	struct vfio_dev dev;
	struct session session;
	struct out_buf out;
	struct stream_writer w;
	struct section_info section;
	unsigned char *buf;
	uint64_t bytes;
	const char *step;
};

static void print_info(struct vfio_dev *d, bool json)
{
	uint64_t flags, size = 0;
	uint32_t state;
	bool have_size;

	if (vfio_mig_flags(d, &flags) < 0 || vfio_mig_get_state(d, &state) < 0)
		die("%s", d->err);
	have_size = vfio_mig_data_size(d, &size) == 0;
	if (json) {
		struct json_writer w;

		jw_init(&w, stdout, false);
		jw_document(&w, "vfio-dump", "info");
		jw_key(&w, "device"); jw_string(&w, d->name);
		jw_key(&w, "iommu_group"); jw_i64(&w, d->group_id);
		jw_key(&w, "flags"); jw_u64(&w, flags);
		jw_key(&w, "stop_copy"); jw_bool(&w, flags & VFIO_MIGRATION_STOP_COPY);
		jw_key(&w, "p2p"); jw_bool(&w, flags & VFIO_MIGRATION_P2P);
		jw_key(&w, "pre_copy"); jw_bool(&w, flags & VFIO_MIGRATION_PRE_COPY);
		jw_key(&w, "state"); jw_string(&w, vfio_state_name(state));
		jw_key(&w, "data_size");
		if (have_size)
			jw_u64(&w, size);
		else
			jw_null(&w);
		jw_object_end(&w);
		jw_end(&w);
		return;
	}
	printf("device %s (IOMMU group %d)\n", d->name, d->group_id);
	printf("migration flags 0x%" PRIx64 ":%s%s%s\n", flags,
	       flags & VFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
	       flags & VFIO_MIGRATION_P2P ? " P2P" : "",
	       flags & VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
	printf("state %s\n", vfio_state_name(state));
	if (have_size)
		printf("data size %" PRIu64 " bytes (STOP_COPY estimate)\n", size);
	else
		printf("data size unknown (%s)\n", d->err);
}

/* Copies data_fd into DEV_DATA_STATE chunks until it reports no more.
 * PRE_COPY data ends for now with 0 or ENOMSG; STOP_COPY data with 0. */
static int copy_data(struct dump *dp, int data_fd)
{
	for (;;) {
		ssize_t n = read(data_fd, dp->buf, BUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOMSG)
			return 0;
		if (n < 0) {
			snprintf(dp->dev.err, sizeof(dp->dev.err), "reading device data: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		stream_write_vfio_data(&dp->w, dp->buf, (size_t)n);
		dp->bytes += (uint64_t)n;
		if (dp->out.err || session_failed(&dp->session)) {
			snprintf(dp->dev.err, sizeof(dp->dev.err), "writing the stream: %.400s",
				 session_failed(&dp->session) ? dp->session.error : strerror(dp->out.err));
			return -1;
		}
	}
}

static int dump_state(struct dump *dp, uint64_t flags, bool precopy, unsigned rounds)
{
	int data_fd = -1, fd;
	uint32_t state;

	dp->step = "reading the device state";
	if (vfio_mig_get_state(&dp->dev, &state) < 0)
		return -1;
	if (state != VFIO_DEVICE_STATE_RUNNING && state != VFIO_DEVICE_STATE_STOP) {
		snprintf(dp->dev.err, sizeof(dp->dev.err),
			 "%s is in state %s, expected RUNNING or STOP", dp->dev.name,
			 vfio_state_name(state));
		return -1;
	}
	stream_write_header(&dp->w);
	stream_write_section(&dp->w, QEMU_VM_SECTION_START, &dp->section);
	stream_write_vfio_tag(&dp->w, VFIO_MIG_FLAG_DEV_SETUP_STATE);
	stream_write_vfio_tag(&dp->w, VFIO_MIG_FLAG_END_OF_STATE);
	stream_write_footer(&dp->w, dp->section.id);

	if (precopy && state == VFIO_DEVICE_STATE_RUNNING) {
		if (!(flags & VFIO_MIGRATION_PRE_COPY)) {
			snprintf(dp->dev.err, sizeof(dp->dev.err),
				 "%s does not support PRE_COPY (migration flags 0x%" PRIx64 ")",
				 dp->dev.name, flags);
			return -1;
		}
		dp->step = "entering PRE_COPY";
		if (vfio_mig_set_state(&dp->dev, MIG_STATE_PRE_COPY, &data_fd) < 0)
			return -1;
		dp->step = "reading PRE_COPY data";
		for (unsigned r = 0; r < rounds; r++) {
			uint64_t initial, dirty;

			if (vfio_precopy_info(&dp->dev, data_fd, &initial, &dirty) < 0)
				goto fail;
			info("pre-copy round %u: %" PRIu64 " initial, %" PRIu64 " dirty bytes",
			     r + 1, initial, dirty);
			if (!initial && !dirty)
				break;
			stream_write_section(&dp->w, QEMU_VM_SECTION_PART, &dp->section);
			if (copy_data(dp, data_fd) < 0)
				goto fail;
			stream_write_vfio_tag(&dp->w, VFIO_MIG_FLAG_END_OF_STATE);
			stream_write_footer(&dp->w, dp->section.id);
		}
	}

	dp->step = "entering STOP_COPY";
	if (vfio_mig_set_state(&dp->dev, VFIO_DEVICE_STATE_STOP_COPY, &fd) < 0)
		goto fail;
	/* from PRE_COPY the kernel keeps the open data fd */
	if (fd >= 0) {
		if (data_fd >= 0)
			close(data_fd);
		data_fd = fd;
	}
	if (data_fd < 0) {
		snprintf(dp->dev.err, sizeof(dp->dev.err), "the kernel gave no data fd for STOP_COPY");
		goto fail;
	}
	dp->step = "reading STOP_COPY data";
	stream_write_section(&dp->w, QEMU_VM_SECTION_END, &dp->section);
	if (copy_data(dp, data_fd) < 0)
		goto fail;
	stream_write_vfio_tag(&dp->w, VFIO_MIG_FLAG_END_OF_STATE);
	stream_write_footer(&dp->w, dp->section.id);
	close(data_fd);
	data_fd = -1;
	dp->step = "entering STOP";
	if (vfio_mig_set_state(&dp->dev, VFIO_DEVICE_STATE_STOP, NULL) < 0)
		return -1;
	return 0;
fail:
	if (data_fd >= 0)
		close(data_fd);
	return -1;
}

struct dump_opts {
	bool show_info, json, precopy, resume;
	unsigned rounds;
	const char *device;
};

struct dump_args {
	struct dump_opts *o;
	bool rounds_set;
};

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct dump_args *a = ctx;
	struct dump_opts *o = a->o;
	uint64_t v;

	switch (key) {
	case 'i': o->show_info = true; break;
	case 'j': o->json = true; break;
	case 'p': o->precopy = true; break;
	case 'r':
		if (parse_uint(arg, 1, 1000000, &v) < 0)
			return err_set(err, "--rounds wants a positive number");
		o->rounds = (unsigned)v;
		a->rounds_set = true;
		break;
	case OPT_RESUME: o->resume = true; break;
	}
	return 0;
}

static void parse_args(struct dump_opts *o, int argc, char **argv)
{
	struct dump_args a = { .o = o };
	char err[ERR_LEN];

	o->rounds = 3;
	switch (opts_parse(dump_table, argc, argv, take_option, &a, err)) {
	case 1: applet_help();
	case -1: die_usage("%s", err);
	}
	if (argc - optind != 1)
		die_usage("one DEVICE expected");
	if (a.rounds_set && !o->precopy)
		die_usage("--rounds goes with --precopy");
	if (o->json && !o->show_info)
		die_usage("--json goes with --info");
	if (!o->show_info && isatty(STDOUT_FILENO))
		die_usage("refusing to write a binary stream to a terminal");
	o->device = argv[optind];
}

/* Dumps and writes the stream; on failure the device is RUNNING again and
 * the message printed. */
static int dump(struct dump *dp, const struct dump_opts *o, uint64_t flags)
{
	char why[sizeof(dp->dev.err) + sizeof(dp->dev.name) + 64 + SESSION_ERR_LEN];

	dp->buf = malloc(BUF_SIZE);
	if (!dp->buf || out_init(&dp->out, STDOUT_FILENO, BUF_SIZE + 64) < 0)
		die("out of memory");
	out_set_wake(&dp->out, dp->session.wake_fd);
	stream_writer_init(&dp->w, &dp->out, 4096);

	if (dump_state(dp, flags, o->precopy, o->rounds) < 0) {
		snprintf(why, sizeof(why), "%s: %s failed: %s", dp->dev.name, dp->step, dp->dev.err);
	} else {
		stream_write_eof(&dp->w);
		if (out_close(&dp->out) < 0 || session_failed(&dp->session))
			snprintf(why, sizeof(why), "writing the stream: %s",
				 session_failed(&dp->session) ? dp->session.error : strerror(dp->out.err));
		else
			why[0] = 0;
	}
	/* the stream stays without EOF: whatever was written is incomplete */
	out_discard(&dp->out);
	free(dp->buf);
	if (!why[0])
		return 0;
	msg("%s", why);
	if (vfio_dev_recover(&dp->dev) < 0)
		msg("%s: could not bring the device back to RUNNING: %s", dp->dev.name, dp->dev.err);
	return -1;
}

int vfio_dump_main(int argc, char **argv)
{
	struct dump dp = { .section = { .id = SECTION_ID, .version = 1, .kind = SECTION_KIND_VFIO } };
	struct dump_opts o = { .show_info = false };
	uint64_t flags;
	int status = EXIT_OK;

	parse_args(&o, argc, argv);
	if (session_init(&dp.session) < 0)
		die_errno("cannot set up");
	if (vfio_dev_open(&dp.dev, o.device) < 0)
		die("%s", dp.dev.err);
	if (o.show_info) {
		print_info(&dp.dev, o.json);
		vfio_dev_close(&dp.dev);
		return session_end(&dp.session, stdout_finish("the device information"));
	}
	if (vfio_mig_flags(&dp.dev, &flags) < 0)
		die("%s", dp.dev.err);
	if (snprintf(dp.section.idstr, sizeof(dp.section.idstr), "%s/vfio", dp.dev.name) >=
	    (int)sizeof(dp.section.idstr))
		die("device name too long for a section idstr");
	if (dump(&dp, &o, flags) < 0) {
		status = EXIT_FAIL;
	} else {
		info("%s: %" PRIu64 " bytes of device state", dp.dev.name, dp.bytes);
		if (o.resume && vfio_mig_set_state(&dp.dev, VFIO_DEVICE_STATE_RUNNING, NULL) < 0) {
			msg("%s", dp.dev.err);
			status = EXIT_FAIL;
		}
		session_complete(&dp.session);
	}
	vfio_dev_close(&dp.dev);
	return session_end(&dp.session, status);
}
