/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A progress line on stderr for long transfers: bytes, rate and whatever
 * the applet adds, refreshed at most twice a second. */
#ifndef MIGBOX_PROGRESS_H
#define MIGBOX_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	bool enabled;
	bool tty;		/* redraw one line with \r */
	uint64_t start_ns;
	uint64_t last_ns;
	uint64_t last_bytes;
	double rate;		/* bytes/s, smoothed */
};

void progress_init(struct progress *p, bool enabled);
/* True when a line is due: build the extra text only then. */
bool progress_due(const struct progress *p);
/* Draws the line if due; extra is appended to it. */
void progress_update(struct progress *p, uint64_t bytes, const char *extra);
/* The final line, always printed when enabled. */
void progress_done(struct progress *p, uint64_t bytes, const char *extra);
/* "pages P  zero Z  ch0 1.5 GiB ch1 ..." into buf: the tail of a
 * multi-channel transfer's progress line. */
void progress_channels_text(char *buf, size_t n, uint64_t pages, uint64_t zero,
			    const uint64_t *channel_bytes, unsigned int channels);
/* "1.5 GiB" into buf. */
const char *human_bytes(char *buf, size_t n, double bytes);

#endif
