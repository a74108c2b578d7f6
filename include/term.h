/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the terminal an applet writes to can show: its width, and whether
 * to colour (--color=auto|always|never, the NO_COLOR convention). */
#ifndef MIGBOX_TERM_H
#define MIGBOX_TERM_H

#include <stdbool.h>

enum color_when {
	COLOR_AUTO,		/* when fd is a terminal and NO_COLOR is unset */
	COLOR_ALWAYS,
	COLOR_NEVER,
};

/* "auto", "always" or "never"; -1 otherwise. */
int color_when_parse(const char *s, enum color_when *out);
bool term_color(enum color_when when, int fd);
/* Columns of the terminal on fd; if fd is none, $COLUMNS; else fallback.
 * A width outside 1..max counts as unknown. */
unsigned int term_width(int fd, unsigned int max, unsigned int fallback);

#endif
