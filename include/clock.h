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

#endif
