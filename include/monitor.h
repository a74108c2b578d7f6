/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A thread that watches a transfer: it draws the progress line and fails
 * the transfer when no byte moved for a while (--timeout). The applet
 * supplies the counting and the failing. */
#ifndef MIGBOX_MONITOR_H
#define MIGBOX_MONITOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "progress.h"

struct monitor_ops {
	/* Bytes moved so far; when extra is set, also the text that follows
	 * the progress line's rate. Called without the applet's locks. */
	uint64_t (*moved)(void *ctx, char *extra, size_t n);
	/* What counts as activity for the timeout, if not the bytes moved
	 * (e.g. also input read); may be NULL. */
	uint64_t (*activity)(void *ctx);
	/* Nothing moved for timeout_s seconds; the monitor stops after. */
	void (*idle)(void *ctx, unsigned int timeout_s);
};

struct monitor {
	const struct monitor_ops *ops;
	void *ctx;
	struct progress *pg;
	unsigned int timeout_s;		/* 0: no idle timeout */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool started;
	bool stop;
};

/* Starts the thread; -1 if it could not be created (errno). */
int monitor_start(struct monitor *m, const struct monitor_ops *ops, void *ctx,
		  struct progress *pg, unsigned int timeout_s);
/* Stops and joins it; safe to call when it never started, and twice. */
void monitor_stop(struct monitor *m);

#endif
