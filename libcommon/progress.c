// SPDX-License-Identifier: GPL-3.0-or-later
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "progress.h"

const char *human_bytes(char *buf, size_t n, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
	return buf;
}

void progress_init(struct progress *p, bool enabled)
{
	p->enabled = enabled;
	p->tty = isatty(STDERR_FILENO);
	p->start_ns = p->last_ns = now_ns();
	p->last_bytes = 0;
	p->rate = 0;
}

static void draw(struct progress *p, uint64_t bytes, const char *extra,
		 bool final)
{
	uint64_t t = now_ns();
	double secs = (double)(t - p->start_ns) / 1e9;
	double rate = final ? (secs > 0 ? (double)bytes / secs : 0) : p->rate;
	char b[32], r[32];

	fprintf(stderr, "%s%s: %s  %s/s  %.1fs%s%s%s", p->tty ? "\r\033[K" : "",
		log_prog(), human_bytes(b, sizeof(b), (double)bytes),
		human_bytes(r, sizeof(r), rate), secs, extra && *extra ? "  " : "",
		extra ? extra : "", p->tty && !final ? "" : "\n");
	fflush(stderr);
}

static uint64_t interval_ns(const struct progress *p)
{
	return p->tty ? 500000000ull : 2000000000ull;
}

bool progress_due(const struct progress *p)
{
	return p->enabled && now_ns() - p->last_ns >= interval_ns(p);
}

void progress_update(struct progress *p, uint64_t bytes, const char *extra)
{
	uint64_t t;

	if (!p->enabled)
		return;
	t = now_ns();
	if (t - p->last_ns < interval_ns(p))
		return;
	p->rate = (double)(bytes - p->last_bytes) * 1e9 / (double)(t - p->last_ns);
	p->last_ns = t;
	p->last_bytes = bytes;
	draw(p, bytes, extra, false);
}

void progress_done(struct progress *p, uint64_t bytes, const char *extra)
{
	if (p->enabled)
		draw(p, bytes, extra, true);
}

void progress_channels_text(char *buf, size_t n, uint64_t pages, uint64_t zero,
			    const uint64_t *channel_bytes, unsigned int channels)
{
	size_t len = (size_t)snprintf(buf, n, "pages %" PRIu64 "  zero %" PRIu64, pages, zero);
	char hb[32];

	for (unsigned int i = 0; i < channels && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%sch%u %s", i ? " " : "  ", i,
					human_bytes(hb, sizeof(hb), (double)channel_bytes[i]));
}
