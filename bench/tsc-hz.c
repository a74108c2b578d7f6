// SPDX-License-Identifier: GPL-3.0-or-later
/* bench/tsc-hz.c: the host's TSC frequency, measured over 200 ms of
 * CLOCK_MONOTONIC. Under TCG a guest's RDTSC reads the host's TSC, so
 * this turns the ticks that tests/guests/read-ram-bios.S records (built
 * with TIME_READS) into time. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct timespec pause = { 0, 200000000 };
	double t0 = now_s();
	uint64_t c0 = __rdtsc();

	nanosleep(&pause, NULL);
	printf("%.0f\n", (double)(__rdtsc() - c0) / (now_s() - t0));
	return 0;
}
