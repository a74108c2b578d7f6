/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What a machine type's version says about the migration stream. A QEMU
 * destination only loads a stream naming its own machine type, and the
 * machine type's compat properties fix the defaults that changed the wire
 * after 7.2, so the version in its name ("pc-i440fx-10.0", "pc-q35-7.2",
 * "virt-9.2") tells what a peer of that stream sends and expects, short
 * of -global overrides. */
#ifndef MIGBOX_MACHINE_H
#define MIGBOX_MACHINE_H

#include <stdbool.h>

struct machine_defaults {
	unsigned int major, minor;
	/* migration.multifd-flush-after-each-section: on up to 8.0 (a SYNC
	 * before each RAM EOS); off from 8.1 (a MULTIFD_FLUSH per round) */
	bool multifd_flush_per_section;
	/* zero-page-detection: legacy up to 8.2 (ZERO records), multifd from
	 * 9.0 (zero pages listed in multifd packets) */
	bool multifd_zero_pages;
	/* send-switchover-start: from 10.0 (MIG_CMD_SWITCHOVER_START before
	 * the END sections, and at postcopy's start) */
	bool switchover_start;
};

/* The defaults of a machine type whose name ends in "-MAJOR.MINOR"; -1
 * when it carries no such version (microvm, none, a distribution's own
 * name). */
int machine_defaults(const char *machine, struct machine_defaults *d);

#endif
