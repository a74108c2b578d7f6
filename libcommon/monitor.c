// SPDX-License-Identifier: GPL-3.0-or-later
#include <errno.h>
#include <time.h>

#include "clock.h"
#include "monitor.h"

#define MONITOR_TICK_NS	100000000L	/* 0.1 s */

static void *monitor_thread(void *arg)
{
	struct monitor *m = arg;
	uint64_t last_activity = 0, last_change = now_ns();
	char extra[2048];

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec ts;
		uint64_t moved, activity, t;
		bool draw;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += MONITOR_TICK_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->wake, &m->lock, &ts);
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);

		draw = m->pg && progress_due(m->pg);
		moved = m->ops->moved(m->ctx, draw ? extra : NULL, sizeof(extra));
		activity = m->ops->activity ? m->ops->activity(m->ctx) : moved;
		t = now_ns();
		if (activity != last_activity) {
			last_activity = activity;
			last_change = t;
		} else if (m->timeout_s && t - last_change >= m->timeout_s * 1000000000ull) {
			m->ops->idle(m->ctx, m->timeout_s);
			pthread_mutex_lock(&m->lock);
			break;
		}
		if (draw)
			progress_update(m->pg, moved, extra);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int monitor_start(struct monitor *m, const struct monitor_ops *ops, void *ctx,
		  struct progress *pg, unsigned int timeout_s)
{
	int err;

	m->ops = ops;
	m->ctx = ctx;
	m->pg = pg;
	m->timeout_s = timeout_s;
	m->stop = false;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	err = pthread_create(&m->thread, NULL, monitor_thread, m);
	if (err) {
		pthread_cond_destroy(&m->wake);
		pthread_mutex_destroy(&m->lock);
		errno = err;
		return -1;
	}
	m->started = true;
	return 0;
}

void monitor_stop(struct monitor *m)
{
	if (!m->started)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	m->started = false;
}
