// SPDX-License-Identifier: GPL-3.0-or-later
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "opts.h"
#include "term.h"

int color_when_parse(const char *s, enum color_when *out)
{
	static const char *const names[] = {
		[COLOR_AUTO] = "auto", [COLOR_ALWAYS] = "always", [COLOR_NEVER] = "never",
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum color_when)i;
			return 0;
		}
	}
	return -1;
}

bool term_color(enum color_when when, int fd)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

	if (when != COLOR_AUTO)
		return when == COLOR_ALWAYS;
	/* no-color.org: set and not empty means no colour */
	if (no_color && *no_color)
		return false;
	return isatty(fd) && !(term && !strcmp(term, "dumb"));
}

unsigned int term_width(int fd, unsigned int max, unsigned int fallback)
{
	struct winsize ws;
	uint64_t cols;

	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_col <= max)
		return ws.ws_col;
	if (parse_uint(getenv("COLUMNS"), 1, max, &cols) == 0)
		return (unsigned int)cols;
	return fallback;
}
