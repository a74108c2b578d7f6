/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one clock of the applets: CLOCK_MONOTONIC in nanoseconds, for
 * deadlines, rates and latencies (never wall time). */
#ifndef MIGBOX_CLOCK_H
#define MIGBOX_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Milliseconds until deadline_ns, rounded up, for poll(): -1 (no limit)
 * for a deadline of 0, 0 once it passed. */
static inline int ms_until(uint64_t deadline_ns)
{
	uint64_t now = now_ns();

	if (!deadline_ns)
		return -1;
	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now + 999999) / 1000000);
}

#endif
