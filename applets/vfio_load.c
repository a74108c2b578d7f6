// SPDX-License-Identifier: GPL-3.0-or-later
/* vfio-load: restore a VFIO device's state from a migration stream.
 *
 * The device is touched only once the whole stream has been read and
 * checked, with the chosen section's data held in memory; and it is
 * snapshotted first, so that a load the device refuses can be undone. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "io.h"
#include "iobuf.h"
#include "log.h"
#include "opts.h"
#include "session.h"
#include "stream.h"
#include "vfio.h"

static const struct opt load_opts[] = {
	{ 's', "section", "IDSTR", "the vfio section to load (e.g. 0000:00:05.0/vfio)", NULL },
	{ 'n', "no-run", NULL, "leave the device in STOP after loading", NULL },
	{ 'm', "max-state", "SIZE", "most device state held in memory (default 1G; K, M, G "
	  "suffixes)", NULL },
	OPT_HELP,
	OPT_END
};

const struct applet_help vfio_load_help = {
	.opts = load_opts,
	.column = 22,
	.text =
"usage: vfio-load [--section IDSTR] [--no-run] [--max-state SIZE] DEVICE < STREAM\n"
"\n"
"Restores a VFIO device from the vfio section of a QEMU migration stream\n"
"(the only one, or the one named by --section) through the kernel's VFIO\n"
"migration v2 uAPI.\n"
"\n"
"The whole stream is read and checked to its end first, the section's data\n"
"held in memory (up to --max-state): a truncated or malformed stream, or\n"
"one without that section's END, exits 1 with the device untouched. Then\n"
"the device's current state is saved (STOP, STOP_COPY), the new state\n"
"loaded (RESUMING, STOP) and the device started (RUNNING). If the device\n"
"refuses the new state, the saved one is loaded back, so the device ends\n"
"as it was (reset only if even that fails). Other sections (RAM, devices)\n"
"are checked and ignored.\n"
"\n",
	.notes =
"\n"
"Exit status: 0 loaded, 1 failure (the device as it was), 2 usage error;\n"
"killed by SIGINT, SIGTERM or SIGHUP while reading, after cleaning up (the\n"
"short device phase finishes first).\n",
};

#define MAX_STATE_DEFAULT	(1ull << 30)

struct blob {
	unsigned char *data;
	size_t len, cap;
};

struct load {
	struct vfio_dev dev;
	struct session session;
	const char *want;		/* --section */
	uint64_t max_state;
	bool run;
	const struct section_info *chosen;
	char other[STREAM_IDSTR_MAX];	/* a second vfio section, if any */
	bool complete;			/* END_OF_STATE of an END section seen */
	uint8_t section_type;
	struct blob state;		/* the stream's */
	struct blob saved;		/* the device's own, before the load */
	uint32_t prior_state;		/* RUNNING or STOP */
	char why[1024];
};

static int fail(struct load *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct load *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->why, sizeof(ld->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int blob_add(struct blob *b, const void *p, size_t n, uint64_t max)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		unsigned char *d;

		while (cap < b->len + n)
			cap *= 2;
		if (cap > max && b->len + n <= max)
			cap = (size_t)max;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* ---- reading and checking the stream ---- */

static int take_section(struct load *ld, const struct stream_item *it)
{
	ld->section_type = it->section_type;
	if (it->section->kind != SECTION_KIND_VFIO || it->section_type == QEMU_VM_SECTION_FULL)
		return 0;
	if (ld->want ? strcmp(it->section->idstr, ld->want) != 0 :
		       ld->chosen && ld->chosen != it->section) {
		if (!ld->want)
			snprintf(ld->other, sizeof(ld->other), "%s", it->section->idstr);
		return 0;
	}
	ld->chosen = it->section;
	return 0;
}

static int take(struct load *ld, const struct stream_item *it)
{
	switch (it->type) {
	case SI_SECTION:
		return take_section(ld, it);
	case SI_VFIO_DATA:
		if (it->section != ld->chosen)
			return 0;
		if (ld->state.len + it->len > ld->max_state)
			return fail(ld, "vfio section '%s' holds more than %" PRIu64
				    " bytes of state (--max-state)", ld->chosen->idstr, ld->max_state);
		if (blob_add(&ld->state, it->data, it->len, ld->max_state) < 0)
			return fail(ld, "out of memory for %zu bytes of device state",
				    ld->state.len + it->len);
		return 0;
	case SI_VFIO_TAG:
		if (it->section == ld->chosen && it->tag == VFIO_MIG_FLAG_END_OF_STATE &&
		    ld->section_type == QEMU_VM_SECTION_END)
			ld->complete = true;
		return 0;
	default:
		return 0;
	}
}

/* Reads stdin to its end; 0 when it holds one complete vfio section. */
static int read_stream(struct load *ld)
{
	struct stream_reader *r = NULL;
	struct stream_item it;
	struct in_buf in;
	int ret = -1;

	if (in_init(&in, STDIN_FILENO, 4u << 20) < 0 || !(r = stream_reader_new(&in))) {
		fail(ld, "out of memory");
		goto out;
	}
	in_set_wake(&in, ld->session.wake_fd);
	while ((ret = stream_next(r, &it)) > 0) {
		if (take(ld, &it) < 0) {
			ret = -1;
			goto out;
		}
	}
	if (ret < 0 && session_failed(&ld->session))
		fail(ld, "%s", ld->session.error);
	else if (ret < 0)
		fail(ld, "stdin: %s", stream_error(r));
	else if (!ld->chosen && ld->want)
		ret = fail(ld, "no vfio section '%s' in the stream", ld->want);
	else if (!ld->chosen)
		ret = fail(ld, "no vfio section in the stream");
	else if (ld->other[0])
		ret = fail(ld, "the stream holds more than one vfio section ('%s', '%s'): choose one with --section",
			   ld->chosen->idstr, ld->other);
	else if (!ld->complete)
		ret = fail(ld, "vfio section '%s' has no END section: the state is incomplete",
			   ld->chosen->idstr);
out:
	stream_reader_free(r);
	in_free(&in);
	return ret < 0 ? -1 : 0;
}

/* ---- the device ---- */

/* STOP, then RESUMING with data written, then STOP again. */
static int resume_with(struct load *ld, const struct blob *b)
{
	int data_fd = -1, ret;

	if (vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_RESUMING, &data_fd) < 0)
		return -1;
	if (data_fd < 0) {
		snprintf(ld->dev.err, sizeof(ld->dev.err), "the kernel gave no data fd for RESUMING");
		return -1;
	}
	ret = write_full(data_fd, b->data, b->len);
	if (ret < 0)
		snprintf(ld->dev.err, sizeof(ld->dev.err), "%s refused the state data (%zu bytes): %s",
			 ld->dev.name, b->len, strerror(errno));
	if (close(data_fd) < 0 && !ret) {
		snprintf(ld->dev.err, sizeof(ld->dev.err), "closing the data fd: %s", strerror(errno));
		ret = -1;
	}
	if (ret < 0)
		return -1;
	if (vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_STOP, NULL) < 0) {
		size_t n = strlen(ld->dev.err);

		snprintf(ld->dev.err + n, sizeof(ld->dev.err) - n,
			 " (the device did not accept the %zu bytes of state)", b->len);
		return -1;
	}
	return 0;
}

/* The device's current state, read through STOP_COPY; it ends in STOP. */
static int save_current(struct load *ld)
{
	unsigned char buf[65536];
	int data_fd = -1;
	ssize_t n;

	if (vfio_mig_get_state(&ld->dev, &ld->prior_state) < 0)
		return -1;
	if (ld->prior_state != VFIO_DEVICE_STATE_RUNNING && ld->prior_state != VFIO_DEVICE_STATE_STOP) {
		snprintf(ld->dev.err, sizeof(ld->dev.err), "%s is in state %s, expected RUNNING or STOP",
			 ld->dev.name, vfio_state_name(ld->prior_state));
		return -1;
	}
	if (vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_STOP, NULL) < 0 ||
	    vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_STOP_COPY, &data_fd) < 0)
		return -1;
	while ((n = read(data_fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || blob_add(&ld->saved, buf, (size_t)n, SIZE_MAX) < 0) {
			snprintf(ld->dev.err, sizeof(ld->dev.err), "saving the current state of %s: %s",
				 ld->dev.name, n < 0 ? strerror(errno) : "out of memory");
			close(data_fd);
			return -1;
		}
	}
	close(data_fd);
	return vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_STOP, NULL);
}

/* After a refused load: the saved state back in, the prior state again.
 * A device stuck in RESUMING or ERROR is reset first. */
static void restore_saved(struct load *ld)
{
	uint32_t state = VFIO_DEVICE_STATE_ERROR;
	const char *end = vfio_state_name(ld->prior_state);

	if (vfio_mig_get_state(&ld->dev, &state) == 0 && state == VFIO_DEVICE_STATE_RESUMING)
		vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_STOP, NULL);
	if (vfio_mig_get_state(&ld->dev, &state) < 0 || state != VFIO_DEVICE_STATE_STOP) {
		vfio_dev_reset(&ld->dev);
		vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_STOP, NULL);
	}
	if (resume_with(ld, &ld->saved) == 0 &&
	    (ld->prior_state == VFIO_DEVICE_STATE_STOP ||
	     vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_RUNNING, NULL) == 0)) {
		msg("%s is back in its previous state (%s)", ld->dev.name, end);
		return;
	}
	msg("could not load the previous state of %s back: %s", ld->dev.name, ld->dev.err);
	if (vfio_dev_recover(&ld->dev) < 0)
		msg("could not bring %s back to RUNNING: %s", ld->dev.name, ld->dev.err);
	else
		msg("%s was reset and is RUNNING", ld->dev.name);
}

static int load_device(struct load *ld)
{
	if (save_current(ld) < 0) {
		fail(ld, "%s", ld->dev.err);
		if (ld->prior_state == VFIO_DEVICE_STATE_RUNNING &&
		    vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_RUNNING, NULL) < 0 &&
		    vfio_dev_recover(&ld->dev) < 0)
			msg("could not bring %s back to RUNNING: %s", ld->dev.name, ld->dev.err);
		return -1;
	}
	if (resume_with(ld, &ld->state) < 0 ||
	    (ld->run && vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_RUNNING, NULL) < 0)) {
		fail(ld, "%s", ld->dev.err);
		msg("%s", ld->why);
		ld->why[0] = 0;
		restore_saved(ld);
		return -1;
	}
	return 0;
}

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct load *ld = ctx;

	switch (key) {
	case 's': ld->want = arg; break;
	case 'n': ld->run = false; break;
	case 'm':
		if (parse_size(arg, &ld->max_state) < 0 || !ld->max_state || ld->max_state > SIZE_MAX / 2)
			return err_set(err, "--max-state %s: expected a size like 64M or 2G", arg);
		break;
	}
	return 0;
}

static void parse_args(struct load *ld, int argc, char **argv)
{
	char err[ERR_LEN];

	switch (opts_parse(load_opts, argc, argv, take_option, ld, err)) {
	case 1: applet_help();
	case -1: die_usage("%s", err);
	}
	if (argc - optind != 1)
		die_usage("one DEVICE expected");
	if (isatty(STDIN_FILENO))
		die_usage("the stream comes on stdin, which is a terminal");
}

int vfio_load_main(int argc, char **argv)
{
	struct load ld = { .run = true, .max_state = MAX_STATE_DEFAULT };
	uint64_t flags;
	int ret;

	parse_args(&ld, argc, argv);
	if (session_init(&ld.session) < 0)
		die_errno("cannot set up");
	/* open first: a missing or busy device fails before stdin is read */
	if (vfio_dev_open(&ld.dev, argv[optind]) < 0 || vfio_mig_flags(&ld.dev, &flags) < 0)
		die("%s", ld.dev.err);
	ret = read_stream(&ld);
	if (!ret) {
		/* the device phase is short and runs to its end: a signal now
		 * waits for it */
		ret = load_device(&ld);
	}
	if (ret < 0 && ld.why[0])
		msg("%s", ld.why);
	else if (!ret)
		info("%s: loaded %zu bytes from '%s'", ld.dev.name, ld.state.len, ld.chosen->idstr);
	if (!ret)
		session_complete(&ld.session);
	vfio_dev_close(&ld.dev);
	free(ld.state.data);
	free(ld.saved.data);
	return session_end(&ld.session, ret < 0 ? EXIT_FAIL : EXIT_OK);
}
