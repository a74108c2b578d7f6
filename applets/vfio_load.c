/* vfio-load: restore a VFIO device's state from a migration stream. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "io.h"
#include "log.h"
#include "opts.h"
#include "stream.h"
#include "vfio.h"

const char vfio_load_usage[] =
"usage: vfio-load [--section IDSTR] [--no-run] DEVICE < STREAM\n"
"\n"
"Restores a VFIO device from the vfio section of a QEMU migration stream\n"
"(the only one, or the one named by --section) through the kernel's VFIO\n"
"migration v2 uAPI: the device goes to RESUMING, takes the data, then STOP\n"
"and RUNNING. The whole stream is read and checked first to its end: a\n"
"truncated or malformed stream, a write the device refuses or a transition\n"
"it refuses exits 1 with the reason, and the device is put back to RUNNING\n"
"(reset if needed). Other sections (RAM, devices) are checked and ignored.\n"
"\n"
"  -s, --section IDSTR the vfio section to load (e.g. 0000:00:05.0/vfio)\n"
"  -n, --no-run        leave the device in STOP after loading\n"
"  -h, --help          show this help\n";

struct load {
	struct vfio_dev dev;
	const char *want;		/* --section */
	const struct section_info *chosen;
	char other[STREAM_IDSTR_MAX];	/* a second vfio section, if any */
	int data_fd;
	uint64_t bytes;
	bool complete;			/* END_OF_STATE of an END section seen */
	uint8_t section_type;
};

static int start_resuming(struct load *ld)
{
	uint32_t state;

	if (vfio_mig_get_state(&ld->dev, &state) < 0)
		return -1;
	if (state != VFIO_DEVICE_STATE_RUNNING && state != VFIO_DEVICE_STATE_STOP) {
		snprintf(ld->dev.err, sizeof(ld->dev.err), "%s is in state %s, expected RUNNING or STOP",
			 ld->dev.name, vfio_state_name(state));
		return -1;
	}
	if (vfio_mig_set_state(&ld->dev, VFIO_DEVICE_STATE_RESUMING, &ld->data_fd) < 0)
		return -1;
	if (ld->data_fd < 0) {
		snprintf(ld->dev.err, sizeof(ld->dev.err), "the kernel gave no data fd for RESUMING");
		return -1;
	}
	return 0;
}

/* Returns -1 with the reason in ld->dev.err. */
static int handle(struct load *ld, const struct stream_item *it)
{
	switch (it->type) {
	case SI_SECTION:
		ld->section_type = it->section_type;
		if (it->section->kind != SECTION_KIND_VFIO || it->section_type == QEMU_VM_SECTION_FULL)
			return 0;
		if (ld->want ? strcmp(it->section->idstr, ld->want) != 0 :
			       ld->chosen && ld->chosen != it->section) {
			if (!ld->want)
				snprintf(ld->other, sizeof(ld->other), "%s", it->section->idstr);
			return 0;
		}
		if (!ld->chosen) {
			ld->chosen = it->section;
			if (start_resuming(ld) < 0)
				return -1;
		}
		return 0;
	case SI_VFIO_DATA:
		if (it->section != ld->chosen)
			return 0;
		if (write_full(ld->data_fd, it->data, it->len) < 0) {
			snprintf(ld->dev.err, sizeof(ld->dev.err),
				 "%s refused the state data at stream offset %" PRIu64 " (%" PRIu64 " bytes written): %s",
				 ld->dev.name, it->offset, ld->bytes, strerror(errno));
			return -1;
		}
		ld->bytes += it->len;
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

static char reason[1024];

static const char *because(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *because(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return reason;
}

int vfio_load_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "section", required_argument, NULL, 's' },
		{ "no-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct load ld = { .data_fd = -1 };
	bool run = true;
	struct in_buf in;
	struct stream_reader *r;
	struct stream_item it;
	const char *why = NULL;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:nh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': ld.want = optarg; break;
		case 'n': run = false; break;
		case 'h': opts_help();
		default: die_usage("bad option");
		}
	}
	if (argc - optind != 1)
		die_usage("one DEVICE expected");
	if (isatty(STDIN_FILENO))
		die_usage("the stream comes on stdin, which is a terminal");
	/* open first: a missing or busy device fails before stdin is read */
	if (vfio_dev_open(&ld.dev, argv[optind]) < 0)
		die("%s", ld.dev.err);
	{
		uint64_t flags;

		if (vfio_mig_flags(&ld.dev, &flags) < 0)
			die("%s", ld.dev.err);
	}
	if (in_init(&in, STDIN_FILENO, 4u << 20) < 0 || !(r = stream_reader_new(&in)))
		die("out of memory");

	while ((ret = stream_next(r, &it)) > 0)
		if (handle(&ld, &it) < 0)
			break;
	if (ret < 0)
		why = because("stdin: %s", stream_error(r));
	else if (ret > 0)
		why = ld.dev.err;
	else if (!ld.chosen && ld.want)
		why = because("no vfio section '%s' in the stream", ld.want);
	else if (!ld.chosen)
		why = because("no vfio section in the stream");
	else if (ld.other[0])
		why = because("the stream holds more than one vfio section ('%s', '%s'): choose one with --section",
			      ld.chosen->idstr, ld.other);
	else if (!ld.complete)
		why = because("vfio section '%s' has no END section: the state is incomplete",
			      ld.chosen->idstr);

	if (ld.data_fd >= 0 && close(ld.data_fd) < 0 && !why)
		why = because("closing the data fd: %s", strerror(errno));
	ld.data_fd = -1;
	if (!why && vfio_mig_set_state(&ld.dev, VFIO_DEVICE_STATE_STOP, NULL) < 0)
		why = because("%s (the device did not accept the %" PRIu64 " bytes of state)",
			      ld.dev.err, ld.bytes);
	if (!why && run && vfio_mig_set_state(&ld.dev, VFIO_DEVICE_STATE_RUNNING, NULL) < 0)
		why = ld.dev.err;
	if (why) {
		msg("%s", why);
		if (ld.chosen && vfio_dev_recover(&ld.dev) < 0)
			msg("could not bring %s back to RUNNING: %s", ld.dev.name, ld.dev.err);
	} else {
		info("%s: loaded %" PRIu64 " bytes from '%s'", ld.dev.name, ld.bytes, ld.chosen->idstr);
	}
	vfio_dev_close(&ld.dev);
	stream_reader_free(r);
	in_free(&in);
	return why ? EXIT_FAIL : EXIT_OK;
}
