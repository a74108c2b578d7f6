// SPDX-License-Identifier: GPL-3.0-or-later
#include <string.h>

#include "machine.h"

/* "MAJOR.MINOR", each of one or two digits, and nothing after. */
static int parse_version(const char *v, unsigned int *major, unsigned int *minor)
{
	unsigned int n[2] = { 0, 0 };

	for (int part = 0; part < 2; part++) {
		int digits = 0;

		for (; *v >= '0' && *v <= '9'; v++, digits++)
			n[part] = n[part] * 10 + (unsigned int)(*v - '0');
		if (digits < 1 || digits > 2 || *v != (part ? '\0' : '.'))
			return -1;
		v++;
	}
	*major = n[0];
	*minor = n[1];
	return 0;
}

int machine_defaults(const char *machine, struct machine_defaults *d)
{
	const char *v = strrchr(machine, '-');
	unsigned int major, minor;

	if (!v || parse_version(v + 1, &major, &minor) < 0)
		return -1;
	d->major = major;
	d->minor = minor;
	/* hw_compat_8_0: multifd-flush-after-each-section=on;
	 * hw_compat_8_2: zero-page-detection=legacy;
	 * hw_compat_9_2: send-switchover-start=off */
	d->multifd_flush_per_section = major < 8 || (major == 8 && minor == 0);
	d->multifd_zero_pages = major >= 9;
	d->switchover_start = major >= 10;
	return 0;
}
