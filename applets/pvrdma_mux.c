// SPDX-License-Identifier: GPL-3.0-or-later
/* pvrdma-mux: the RDMA-CM MAD multiplexer of QEMU's pvrdma devices, a
 * drop-in for QEMU's contrib/rdmacm-mux (same command line, socket name
 * and 360-byte messages, see cm_mux.h).
 *
 * One thread, one poll loop: the listening socket, every client (QEMU),
 * the umad port, the session's wake fd (SIGINT, SIGTERM, SIGHUP) and a
 * signalfd for SIGUSR1. A client's messages are read as a stream and put
 * together per client; its answers and MADs wait in its own queue. A
 * MAD for a client whose queue is full makes the port wait (so a burst
 * of any size reaches a client that reads), for --queue-timeout at most:
 * then that client is dropped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/umad.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "applets.h"
#include "clock.h"
#include "cm_mux.h"
#include "json.h"
#include "log.h"
#include "opts.h"
#include "outfile.h"
#include "progress.h"
#include "session.h"

enum { OPT_TRACE = 256, OPT_CONSOLE, OPT_SYSLOG, OPT_STATS, OPT_MAX_CLIENTS, OPT_MAX_GIDS,
       OPT_MAX_COMMIDS, OPT_TTL, OPT_QUEUE, OPT_TEST_PORT, OPT_PER_PID, OPT_GIDS_PER,
       OPT_COMMIDS_PER, OPT_MSG_TIMEOUT, OPT_SOCK_MODE, OPT_SOCK_GROUP, OPT_QUEUE_TIMEOUT,
       OPT_TEST_GIDS };

static const struct opt mux_opts[] = {
	{ 'd', "device", "DEV", "the RDMA device (see /sys/class/infiniband)", NULL },
	{ 's', "socket", "PATH", "the socket's path prefix (default /var/run/rdmacm-mux)",
	  OPT_COMPLETE_FILE },
	{ 'p', "port", "PORT", "the device's port (default 1)", NULL },
	{ OPT_CONSOLE, "console", NULL, "an operator console on the terminal (readline): clients, "
	  "gids, commids, stats, trace on|off, drop N, quit; the mux serves on meanwhile", NULL },
	{ OPT_TRACE, "trace", NULL, "log every MAD it routes, decoded", NULL },
	{ OPT_SYSLOG, "syslog", NULL, "log to syslog (daemon) as well as stderr", NULL },
	{ OPT_STATS, "stats-json", "FILE", "write counters as JSON to FILE at exit and on SIGUSR1 "
	  "(fields: doc/stats-json.md)", OPT_COMPLETE_FILE },
	{ OPT_MAX_CLIENTS, "max-clients", "N", "at most N clients at once (default 256)", NULL },
	{ OPT_PER_PID, "max-clients-per-pid", "N", "at most N of them from one process (default 16)",
	  NULL },
	{ OPT_MAX_GIDS, "max-gids", "N", "at most N registered GIDs in all (default 4096)", NULL },
	{ OPT_GIDS_PER, "max-gids-per-client", "N", "at most N of them from one client (default 64)",
	  NULL },
	{ OPT_MAX_COMMIDS, "max-commids", "N", "at most N comm ids remembered (default 65536)", NULL },
	{ OPT_COMMIDS_PER, "max-commids-per-client", "N", "at most N of them from one client "
	  "(default 4096)", NULL },
	{ OPT_TTL, "commid-ttl", "SECONDS", "forget a comm id unused for SECONDS (default 15)", NULL },
	{ OPT_QUEUE, "queue", "N", "messages waiting for one client at most (default 64); while a "
	  "client's queue is full, MADs from the port wait for it to read (its own requests wait "
	  "too)", NULL },
	{ OPT_QUEUE_TIMEOUT, "queue-timeout", "SECONDS", "drop a client whose queue has been full, "
	  "and not drained to half since, for SECONDS while a MAD waits for it (default 2)", NULL },
	{ OPT_MSG_TIMEOUT, "message-timeout", "SECONDS", "drop a client whose message is not whole "
	  "SECONDS after its first byte (default 10)", NULL },
	{ OPT_SOCK_MODE, "socket-mode", "MODE", "the socket's permissions, octal (default 0660: its "
	  "owner and group, whatever the umask)", NULL },
	{ OPT_SOCK_GROUP, "socket-group", "GROUP", "the socket's group, a name or a number (default "
	  "the mux's own; migbox-static finds names only through the system's NSS libraries)",
	  "@group" },
	{ OPT_TEST_PORT, "test-port", "PATH", "instead of DEV's umad port, a SOCK_SEQPACKET socket "
	  "at PATH carrying one ib_user_mad per packet (tests)", OPT_COMPLETE_FILE },
	{ OPT_TEST_GIDS, "test-gids", "DIR", "with --test-port, the port's GID table: DIR/N holds "
	  "GID N as sysfs shows it (tests)", "@dir" },
	{ 'v', "verbose", NULL, "log clients coming and going, registrations", NULL },
	OPT_HELP,
	OPT_END
};

const struct applet_help pvrdma_mux_help = {
	.opts = mux_opts,
	.text =
"usage: pvrdma-mux -d DEV [-s PATH] [-p PORT] [OPTIONS]\n"
"\n"
"The RDMA-CM MAD multiplexer for QEMU's pvrdma devices, a drop-in for\n"
"QEMU's rdmacm-mux: it owns the CM management class (0x07) of RDMA port\n"
"DEV:PORT and shares it among the QEMU processes that connect to its\n"
"socket PATH-DEV-PORT (-chardev socket,path=...,id=mads and\n"
"-device pvrdma,...,mad-chardev=mads). Guests register their GIDs; a CM\n"
"MAD from the port goes to the QEMU whose guest owns its destination GID\n"
"(REQ, SIDR_REQ) or its comm id (the rest).\n"
"\n",
	.notes =
"\n"
"Unlike QEMU's rdmacm-mux it reads each client as a stream (a message may\n"
"come in pieces), routes MRA, LAP and APR by comm id, checks who owns a\n"
"GID on UNREG, bounds its tables, its clients and each one's share of\n"
"them and its queue, waits for a client that does not read for\n"
"--queue-timeout at most (QEMU's blocked on it for ever), forgets a comm\n"
"id by the time since its last use (not by idle 5-second ticks), keeps a\n"
"registered GID as it is (QEMU's stored it with bytes 10-11 set to ff ff,\n"
"so two GIDs differing only there collided), and makes its socket\n"
"--socket-mode (0660) whatever the umask. A client's MAD goes out only\n"
"from a GID that client registered, both its sgid and the port's GID\n"
"its GRH leaves from (gid_index), and a comm id stays its first owner's\n"
"while that client lives: a MAD from another GID or reusing another\n"
"client's comm id is answered EACCES and not sent (QEMU's sent both, and\n"
"gave the comm id to whoever used it last). Like QEMU's, it lets a client\n"
"register any GID nobody has, trusts the rest of a client's MAD, and routes\n"
"a REQ for an unregistered GID through the same GID with ff ff at bytes\n"
"10-11. The kernel's ib_cm must not be loaded on this host: it owns the\n"
"CM class (modprobe -r rdma_ucm rdma_cm iw_cm ib_cm).\n"
"\n"
"SIGTERM, SIGINT, SIGHUP: answers in flight are sent (1 s at most), the\n"
"socket file is removed, then it dies of the signal; the console's quit\n"
"does the same and exits 0. SIGUSR1: --stats-json, a snapshot (final\n"
"false); the file written at exit has final true, and ok true only when\n"
"the exit status is 0.\n"
"Exit status: 1 when it cannot start (no port, the CM class taken, the\n"
"socket in use), 2 usage error.\n",
};

#define FLUSH_MS		1000
#define TICK_MS			1000
#define LISTEN_BACKLOG		64

/* What feeds MADs in and takes them out: the umad port, or a test socket. */
struct mad_port {
	int fd;			/* readable when a MAD waits */
	int umad;		/* umad port id, or -1 */
	int agent;
	bool test;
};

struct client {
	int fd;			/* -1: free slot */
	pid_t pid;
	unsigned char in[CMMUX_MSG_SIZE];
	size_t in_len;
	uint64_t in_since_ms;	/* when its part of a message began */
	struct cmmux_msg *queue;
	uint32_t qhead, qcount;
	uint64_t full_since_ms;	/* its queue filled and has not drained to half */
	size_t out_off;		/* of the head message, written */
	uint64_t requests, mads_to;
};

struct mux {
	struct session session;
	const char *dev, *prefix, *stats_path, *test_port, *test_gids;
	unsigned int port_num;
	bool trace, use_syslog, console, quit;
	uint64_t max_clients, max_gids, max_commids, ttl_s, queue_max;
	uint64_t max_per_pid, gids_per_client, commids_per_client, message_timeout_s;
	uint64_t queue_timeout_s;
	uint64_t socket_mode;
	const char *socket_group;

	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, usr1_fd;
	ino_t path_ino;
	struct mad_port port;
	struct cmmux_router *router;
	struct client *clients;
	uint32_t nclients;
	struct pollfd *pfd;
	uint64_t start_ms;
	bool commids_full_said, gids_full_said;
	/* A MAD for a client whose queue is full: the port is not read
	 * until it is queued (or dropped with its client). */
	struct cmmux_msg held;
	uint32_t held_for;
	bool holding;

	/* Figures. */
	uint64_t clients_total, clients_refused, dropped_nonrequest, dropped_queue, dropped_partial;
	uint64_t mads_refused_gid, mads_refused_commid, mads_refused_len;
	uint64_t req[3], req_invalid, err[5];
	uint64_t mads_from_clients, mads_sent, mad_send_failed;
	uint64_t mads_in, mads_routed, mads_dropped, completions;
	uint64_t commids_expired, port_waits;
};

static uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

static bool console_active;

static void logv(struct mux *m, int prio, const char *fmt, va_list ap)
{
	char line[1024], *typed = NULL;
	int point = 0;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (m->use_syslog)
		syslog(prio, "%s", line);
	if (console_active) {
		/* the line goes above what the operator is typing */
		point = rl_point;
		typed = rl_copy_text(0, rl_end);
		rl_save_prompt();
		rl_replace_line("", 0);
		rl_redisplay();
	}
	msg("%s", line);
	if (console_active) {
		rl_restore_prompt();
		rl_replace_line(typed ? typed : "", 0);
		rl_point = point;
		rl_redisplay();
		free(typed);
	}
}

static void say(struct mux *m, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct mux *m, int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio >= LOG_INFO && !log_verbose() && prio != LOG_DEBUG)
		return;
	if (prio == LOG_DEBUG && !m->trace)
		return;
	va_start(ap, fmt);
	logv(m, prio, fmt, ap);
	va_end(ap);
}

static const char *gid_text(const uint8_t gid[16], char *buf, size_t n)
{
	return inet_ntop(AF_INET6, gid, buf, (socklen_t)n) ? buf : "?";
}

/* ---- the port ---- */

static int port_open(struct mux *m, char *err, size_t n)
{
	struct mad_port *p = &m->port;
	long mask[16 / sizeof(long)] = { 0 };
	struct stat st;
	char sys[256];

	p->umad = -1;
	if (m->test_port) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		p->test = true;
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", m->test_port);
		p->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			snprintf(err, n, "--test-port %s: %s", m->test_port, strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(sys, sizeof(sys), "/sys/class/infiniband/%s/ports/%u", m->dev, m->port_num);
	if (stat(sys, &st) < 0) {
		snprintf(err, n, "no RDMA port %s:%u (%s: %s; see /sys/class/infiniband)", m->dev,
			 m->port_num, sys, strerror(errno));
		return -1;
	}
	if (umad_init() < 0) {
		snprintf(err, n, "umad: cannot initialise (is ib_umad loaded? modprobe ib_umad)");
		return -1;
	}
	p->umad = umad_open_port(m->dev, (int)m->port_num);
	if (p->umad < 0) {
		snprintf(err, n, "cannot open the umad port of %s:%u: %s (is ib_umad loaded, and /dev/infiniband/umad* ours?)",
			 m->dev, m->port_num, strerror(-p->umad));
		return -1;
	}
	/* method SEND (0x03) of the CM class: what QEMU's mux takes */
	mask[0] = 1L << 3;
	p->agent = umad_register(p->umad, CMMUX_CLASS_CM, CMMUX_CLASS_VERSION, 0, mask);
	if (p->agent < 0) {
		snprintf(err, n, "cannot register for CM MADs (class 0x07) on %s:%u: %s: the kernel's ib_cm owns them on this host (modprobe -r rdma_ucm rdma_cm iw_cm ib_cm), or another mux runs",
			 m->dev, m->port_num, strerror(-p->agent));
		return -1;
	}
	p->fd = umad_get_fd(p->umad);
	return 0;
}

static void port_close(struct mux *m)
{
	struct mad_port *p = &m->port;

	if (p->test) {
		if (p->fd >= 0)
			close(p->fd);
	} else if (p->umad >= 0) {
		umad_unregister(p->umad, p->agent);
		umad_close_port(p->umad);
	}
}

/* 0 or a negative errno, as QEMU's mux answers a MAD request. */
static int port_send(struct mux *m, struct cmmux_msg *msg)
{
	struct mad_port *p = &m->port;

	if (p->test) {
		ssize_t w = send(p->fd, &msg->umad, sizeof(msg->umad) + (size_t)msg->umad_len,
				 MSG_NOSIGNAL);

		return w < 0 ? -errno : 0;
	}
	/* QEMU's timeout 1 ms and no retries: the guest's CM retries */
	return umad_send(p->umad, p->agent, &msg->umad, msg->umad_len, 1, 0);
}

/* 1 with a MAD in msg, 0 when none waits, -1 on a fatal error. */
static int port_recv(struct mux *m, struct cmmux_msg *msg, char *err, size_t n)
{
	struct mad_port *p = &m->port;
	int len = CMMUX_MAD_MAX, rc;

	if (p->test) {
		ssize_t r = recv(p->fd, &msg->umad, sizeof(msg->umad) + CMMUX_MAD_MAX, MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r <= 0) {
			snprintf(err, n, "--test-port: %s", r ? strerror(errno) : "closed");
			return -1;
		}
		if ((size_t)r < sizeof(msg->umad))
			return 0;	/* not even a header: nothing to route */
		msg->umad_len = (int32_t)((size_t)r - sizeof(msg->umad));
		return 1;
	}
	/* umad_recv returns the agent id (not an error) on success */
	rc = umad_recv(p->umad, &msg->umad, &len, 0);
	if (rc == -ETIMEDOUT || rc == -EWOULDBLOCK || rc == -EINTR)
		return 0;
	if (rc == -ENOSPC) {
		say(m, LOG_WARNING, "a MAD of %d bytes is larger than %d: dropped", len, CMMUX_MAD_MAX);
		return 0;
	}
	if (rc < 0) {
		snprintf(err, n, "umad_recv on %s:%u: %s", m->dev, m->port_num, strerror(-rc));
		return -1;
	}
	msg->umad_len = len;
	return 1;
}

/* GID i of the port's table: the source of a MAD sent with a GRH (the
 * kernel's sysfs file; for a test port, --test-gids DIR/i). 1 when there
 * is no table (a test port without --test-gids), -1 when there is no
 * such GID. */
static int port_gid(const struct mux *m, unsigned int i, uint8_t gid[16])
{
	char path[PATH_MAX], text[64];
	ssize_t r;
	int fd;

	if (m->port.test && !m->test_gids)
		return 1;
	if (m->port.test)
		snprintf(path, sizeof(path), "%s/%u", m->test_gids, i);
	else
		snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/%u/gids/%u", m->dev,
			 m->port_num, i);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	text[r] = 0;
	text[strcspn(text, "\n")] = 0;
	return inet_pton(AF_INET6, text, gid) == 1 ? 0 : -1;
}

/* ---- the socket ---- */

/* Removes the socket file if it is still the one bound here. */
static void remove_socket(struct mux *m)
{
	struct stat st;

	if (m->listen_fd < 0)
		return;
	close(m->listen_fd);
	if (lstat(m->path, &st) == 0 && st.st_ino == m->path_ino)
		unlink(m->path);
	m->listen_fd = -1;
}

/* bind() makes the socket file with the permissions the umask leaves:
 * the umask is set so that they are --socket-mode exactly. No chmod by
 * path follows: the path could be swapped for a symlink after bind, and
 * root would change whatever it names (a socket file's mode cannot be
 * set through the socket). Only the signal thread runs besides, and it
 * makes no file. */
static int bind_with_mode(int fd, const struct sockaddr_un *a, mode_t mode)
{
	mode_t old = umask(~mode & 0777);
	int ret = bind(fd, (const struct sockaddr *)a, sizeof(*a));
	int e = errno;

	umask(old);
	errno = e;
	return ret;
}

/* --socket-group GROUP: a name or a number. */
static int group_id(const char *name, gid_t *gid)
{
	struct group *g;
	uint64_t v;

	if (parse_uint(name, 0, UINT32_MAX - 1, &v) == 0) {
		*gid = (gid_t)v;
		return 0;
	}
	g = getgrnam(name);
	if (!g)
		return -1;
	*gid = g->gr_gid;
	return 0;
}

/* The path is still the socket file bind made (the first call learns
 * its inode): not a symlink or anything put there meanwhile. */
static int still_bound(struct mux *m, bool first, char *err, size_t n)
{
	struct stat st;

	if (lstat(m->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    (first || st.st_ino == m->path_ino)) {
		m->path_ino = st.st_ino;
		return 0;
	}
	snprintf(err, n, "%s is no longer the socket bound there (replaced meanwhile?): not serving on it",
		 m->path);
	return -1;
}

/* Binds m->path with --socket-mode and --socket-group. Nobody can connect
 * before listen(), which comes last; the group is set without following
 * a symlink, between two checks that the path is still the socket. */
static int bind_socket(struct mux *m, int fd, char *err, size_t n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	gid_t gid = (gid_t)-1;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", m->path);
	if (m->socket_group && group_id(m->socket_group, &gid) < 0) {
		snprintf(err, n, "--socket-group %s: no such group", m->socket_group);
		return -1;
	}
	if (bind_with_mode(fd, &a, (mode_t)m->socket_mode) < 0) {
		snprintf(err, n, "%s: %s", m->path, strerror(errno));
		return -1;
	}
	m->listen_fd = fd;	/* from here remove_socket() cleans up */
	if (still_bound(m, true, err, n) < 0)
		return -1;
	if (m->socket_group &&
	    fchownat(AT_FDCWD, m->path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, n, "--socket-group %s: %s: %s", m->socket_group, m->path,
			 strerror(errno));
		return -1;
	}
	if (still_bound(m, false, err, n) < 0)
		return -1;
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, n, "%s: listen: %s", m->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Binds PREFIX-DEV-PORT: a stale file is replaced, a live mux refused. */
static int listen_socket(struct mux *m, char *err, size_t n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", m->path);
	if (lstat(m->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, n, "%s exists and is not a socket: not replacing it", m->path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			snprintf(err, n, "%s is in use: another mux serves %s:%u", m->path, m->dev,
				 m->port_num);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		say(m, LOG_NOTICE, "%s: a stale socket file (nothing listens): replaced", m->path);
		unlink(m->path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, n, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind_socket(m, fd, err, n) < 0) {
		if (m->listen_fd < 0)
			close(fd);
		remove_socket(m);
		return -1;
	}
	return 0;
}

/* ---- clients ---- */

static uint32_t client_index(const struct mux *m, const struct client *c)
{
	return (uint32_t)(c - m->clients);
}

static void client_close(struct mux *m, struct client *c, const char *why)
{
	uint32_t id = client_index(m, c);
	uint32_t gids = cmmux_drop_client(m->router, id);

	say(m, why ? LOG_WARNING : LOG_INFO, "client %u (pid %d) %s; its %u GIDs are forgotten", id,
	    (int)c->pid, why ? why : "disconnected", gids);
	close(c->fd);
	c->fd = -1;
	c->in_len = c->qhead = c->qcount = 0;
	c->out_off = 0;
	c->in_since_ms = c->full_since_ms = 0;
	m->nclients--;
	if (m->holding && m->held_for == id) {
		m->holding = false;	/* not for whoever takes the slot next */
		m->mads_dropped++;
	}
}

/* Writes what c's queue holds, as far as the socket takes it. */
static void client_flush(struct mux *m, struct client *c)
{
	while (c->qcount) {
		const unsigned char *p = (const unsigned char *)&c->queue[c->qhead];
		ssize_t w = send(c->fd, p + c->out_off, CMMUX_MSG_SIZE - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0) {
			client_close(m, c, "cannot be written to; closed");
			return;
		}
		c->out_off += (size_t)w;
		if (c->out_off == CMMUX_MSG_SIZE) {
			c->out_off = 0;
			c->qhead = (c->qhead + 1) % (uint32_t)m->queue_max;
			c->qcount--;
		}
		if (c->qcount <= m->queue_max / 2)
			c->full_since_ms = 0;
	}
}

/* Queues msg for c, writing a full queue out first as far as the socket
 * takes it. False when it stays full (or c is gone). */
static bool client_queue(struct mux *m, struct client *c, const struct cmmux_msg *msg)
{
	if (c->qcount == m->queue_max)
		client_flush(m, c);
	if (c->fd < 0 || c->qcount == m->queue_max)
		return false;
	c->queue[(c->qhead + c->qcount) % m->queue_max] = *msg;
	c->qcount++;
	return true;
}

/* A MAD from the port for c. When c's queue is full, the MAD is held and
 * the port waits (the kernel keeps what arrives meanwhile): a client that
 * reads promptly gets a burst of any size, and one that does not read is
 * dropped after --queue-timeout (drop_slow_client). */
static void deliver_mad(struct mux *m, struct client *c, const struct cmmux_msg *msg)
{
	uint32_t id = client_index(m, c);

	if (client_queue(m, c, msg)) {
		m->mads_routed++;
		c->mads_to++;
		return;
	}
	if (c->fd < 0) {
		m->mads_dropped++;
		return;
	}
	m->held = *msg;
	m->held_for = id;
	m->holding = true;
	m->port_waits++;
	if (!c->full_since_ms)
		c->full_since_ms = now_ms();
}

/* The held MAD, once its client's queue has room. */
static void place_held(struct mux *m)
{
	if (m->holding && client_queue(m, &m->clients[m->held_for], &m->held)) {
		m->holding = false;
		m->mads_routed++;
		m->clients[m->held_for].mads_to++;
	}
}

/* The client the held MAD waits for, if its queue has been full for
 * --queue-timeout: it does not read, and holds up every other client's
 * MADs. */
static void drop_slow_client(struct mux *m, uint64_t now)
{
	struct client *c = &m->clients[m->held_for];
	char why[96];

	if (!m->holding || !c->full_since_ms || now - c->full_since_ms < m->queue_timeout_s * 1000)
		return;
	m->dropped_queue++;
	snprintf(why, sizeof(why), "does not read: its queue has been full for %" PRIu64 " s (--queue-timeout); closed",
		 m->queue_timeout_s);
	client_close(m, c, why);
}

static void trace_mad(struct mux *m, const char *dir, const struct cmmux_msg *msg, uint32_t client,
		      const char *how)
{
	uint16_t attr = cmmux_mad_attr(msg->mad, (size_t)msg->umad_len);
	const char *name = cmmux_attr_name(attr);
	char gid[INET6_ADDRSTRLEN], sgid[INET6_ADDRSTRLEN];
	uint32_t local = 0, remote = 0;

	if (!m->trace)
		return;
	if (msg->umad_len >= CMMUX_MAD_HDR + 8) {
		memcpy(&local, msg->mad + CMMUX_MAD_HDR, 4);
		memcpy(&remote, msg->mad + CMMUX_MAD_HDR + 4, 4);
	}
	char who[24] = "no client";

	if (client != CMMUX_NO_CLIENT)
		snprintf(who, sizeof(who), "client %u", client);
	say(m, LOG_DEBUG, "%s %s%s0x%04x %s: comm ids 0x%08x 0x%08x, addr gid %s, sgid %s, %d bytes: %s",
	    dir, name ? name : "attr ", name ? " " : "", attr, who, ntohl(local), ntohl(remote),
	    gid_text(msg->umad.gid, gid, sizeof(gid)), gid_text(msg->sgid, sgid, sizeof(sgid)),
	    (int)msg->umad_len, how);
}

/* A MAD with a GRH leaves from the port's GID at its gid_index, whatever
 * its sgid says: that GID must be one the client registered. */
static bool grh_gid_is_clients(struct mux *m, uint32_t id, const struct cmmux_msg *msg)
{
	static const uint8_t zero[16];
	char text[INET6_ADDRSTRLEN];
	uint8_t gid[16];
	int r;

	if (!msg->umad.grh_present)
		return true;
	r = port_gid(m, msg->umad.gid_index, gid);
	if (r == 1 || (r == 0 && memcmp(gid, zero, 16) &&
		       cmmux_owns_gid(m->router, id, cmmux_ifid(gid))))
		return true;
	say(m, LOG_WARNING, "client %u: a MAD sent from the port's GID index %u (%s), which it did not register: refused",
	    id, msg->umad.gid_index, r == 0 && memcmp(gid, zero, 16) ?
	    gid_text(gid, text, sizeof(text)) : "no GID there");
	return false;
}

static enum cmmux_err handle_mad(struct mux *m, struct client *c, struct cmmux_msg *msg)
{
	uint32_t id = client_index(m, c);
	char gid[INET6_ADDRSTRLEN];
	int rc;

	/* every MAD counted here ends in exactly one of the counters below
	 * (--stats-json says so: mads_from_clients) */
	m->mads_from_clients++;
	if (msg->umad_len <= 0 || msg->umad_len > CMMUX_MAD_MAX) {
		m->mads_refused_len++;
		say(m, LOG_WARNING, "client %u: a MAD of %d bytes (1 to %d): refused", id,
		    (int)msg->umad_len, CMMUX_MAD_MAX);
		return CMMUX_EINVAL;
	}
	if (!cmmux_owns_gid(m->router, id, cmmux_ifid(msg->sgid))) {
		m->mads_refused_gid++;
		say(m, LOG_WARNING, "client %u: a MAD from GID %s, which it did not register: refused",
		    id, gid_text(msg->sgid, gid, sizeof(gid)));
		trace_mad(m, "out", msg, id, "refused: not its GID");
		return CMMUX_EACCES;
	}
	if (!grh_gid_is_clients(m, id, msg)) {
		m->mads_refused_gid++;
		trace_mad(m, "out", msg, id, "refused: its GRH's GID is not the client's");
		return CMMUX_EACCES;
	}
	switch (cmmux_learn(m->router, id, cmmux_ifid(msg->sgid), msg->mad, (size_t)msg->umad_len,
			    now_ms())) {
	case CMMUX_ID_TAKEN:
		m->mads_refused_commid++;
		say(m, LOG_WARNING, "client %u: a MAD with another client's comm id: refused", id);
		trace_mad(m, "out", msg, id, "refused: another client's comm id");
		return CMMUX_EACCES;
	case CMMUX_TABLE_FULL:
		if (!m->commids_full_said)
			say(m, LOG_WARNING, "the comm-id table or client %u's share is full (--max-commids, --max-commids-per-client): replies to new connections cannot be routed until ids expire",
			    id);
		m->commids_full_said = true;
		break;
	case CMMUX_LEARNED:
		break;
	}
	rc = port_send(m, msg);
	if (rc) {
		m->mad_send_failed++;
		say(m, LOG_WARNING, "client %u: sending a MAD: %s", id, strerror(-rc));
	} else {
		m->mads_sent++;
	}
	trace_mad(m, "out", msg, id, rc ? "send failed" : "sent");
	return (enum cmmux_err)rc;	/* umad_send's int, as QEMU's mux answers */
}

static void handle_request(struct mux *m, struct client *c)
{
	struct cmmux_msg msg;
	uint32_t id = client_index(m, c);
	uint32_t err = CMMUX_EINVAL;
	char gid[INET6_ADDRSTRLEN];
	bool full;

	memcpy(&msg, c->in, sizeof(msg));
	c->in_len = 0;
	c->requests++;
	if (msg.msg_type != CMMUX_REQ) {
		m->dropped_nonrequest++;
		say(m, LOG_WARNING, "client %u sent a message of type %u, not a request", id,
		    msg.msg_type);
		client_close(m, c, "sent a non-request; closed");
		return;
	}
	switch (msg.op_code) {
	case CMMUX_OP_REG:
		err = cmmux_reg(m->router, id, cmmux_ifid(msg.sgid), &full);
		if (full && cmmux_gid_count(m->router) < m->max_gids)
			say(m, LOG_WARNING, "client %u has %" PRIu64 " GIDs (--max-gids-per-client): registration refused",
			    id, m->gids_per_client);
		else if (full && !m->gids_full_said) {
			say(m, LOG_WARNING, "the GID table is full (%" PRIu64 "): registration refused (--max-gids)",
			    m->max_gids);
			m->gids_full_said = true;
		}
		say(m, LOG_INFO, "client %u: REG %s: %s", id, gid_text(msg.sgid, gid, sizeof(gid)),
		    cmmux_err_name(err));
		break;
	case CMMUX_OP_UNREG:
		err = cmmux_unreg(m->router, id, cmmux_ifid(msg.sgid));
		if (err == CMMUX_OK)
			m->gids_full_said = false;
		say(m, LOG_INFO, "client %u: UNREG %s: %s", id, gid_text(msg.sgid, gid, sizeof(gid)),
		    cmmux_err_name(err));
		break;
	case CMMUX_OP_MAD:
		err = handle_mad(m, c, &msg);
		break;
	default:
		m->req_invalid++;
		say(m, LOG_WARNING, "client %u: op code %u is none of REG, UNREG, MAD", id, msg.op_code);
		break;
	}
	if (msg.op_code < 3)
		m->req[msg.op_code]++;
	if (err < 5)
		m->err[err]++;
	msg.msg_type = CMMUX_RESP;
	msg.err_code = err;
	/* c is not read while its queue is full (client_read): room for this */
	if (!client_queue(m, c, &msg) && c->fd >= 0) {
		m->dropped_queue++;
		client_close(m, c, "does not read its answers: its queue is full; closed");
	}
}

/* Reads what c sent: whole messages are handled, a piece waits. */
static void client_read(struct mux *m, struct client *c)
{
	for (;;) {
		ssize_t r;

		/* its requests wait while it does not take what it has */
		if (c->qcount == m->queue_max)
			return;
		r = recv(c->fd, c->in + c->in_len, CMMUX_MSG_SIZE - c->in_len, MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			if (c->in_len)
				say(m, LOG_WARNING, "client %u: gone inside a message (%zu of %d bytes)",
				    client_index(m, c), c->in_len, CMMUX_MSG_SIZE);
			client_close(m, c, r ? "failed to read; closed" : NULL);
			return;
		}
		if (!c->in_len)
			c->in_since_ms = now_ms();
		c->in_len += (size_t)r;
		if (c->in_len == CMMUX_MSG_SIZE) {
			handle_request(m, c);
			if (c->fd < 0)
				return;
		}
	}
}

static uint64_t clients_of_pid(const struct mux *m, pid_t pid)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < m->max_clients; i++)
		n += m->clients[i].fd >= 0 && m->clients[i].pid == pid;
	return n;
}

/* A client stuck inside a message holds a slot and a buffer: dropped
 * after --message-timeout. */
static void drop_stalled_clients(struct mux *m, uint64_t now)
{
	for (uint32_t i = 0; i < m->max_clients; i++) {
		struct client *c = &m->clients[i];

		/* one whose queue is full is not read: not its fault */
		if (c->fd >= 0 && c->in_len && c->qcount < m->queue_max &&
		    now - c->in_since_ms >= m->message_timeout_s * 1000) {
			m->dropped_partial++;
			say(m, LOG_WARNING, "client %u: %zu of %d bytes of a message %" PRIu64 " s after its first (--message-timeout)",
			    i, c->in_len, CMMUX_MSG_SIZE, m->message_timeout_s);
			client_close(m, c, "stalled inside a message; closed");
		}
	}
}

static void accept_clients(struct mux *m)
{
	for (;;) {
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cred = { 0 };
		socklen_t len = sizeof(cred);
		uint32_t i;

		if (fd < 0)
			return;
		if (m->nclients >= m->max_clients) {
			m->clients_refused++;
			say(m, LOG_WARNING, "%" PRIu64 " clients already (--max-clients): a new one refused",
			    m->max_clients);
			close(fd);
			continue;
		}
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		if (clients_of_pid(m, cred.pid) >= m->max_per_pid) {
			m->clients_refused++;
			say(m, LOG_WARNING, "process %d has %" PRIu64 " clients already (--max-clients-per-pid): a new one refused",
			    (int)cred.pid, m->max_per_pid);
			close(fd);
			continue;
		}
		for (i = 0; m->clients[i].fd >= 0; i++)
			;
		m->clients[i].fd = fd;
		m->clients[i].pid = cred.pid;
		m->clients[i].requests = m->clients[i].mads_to = 0;
		m->nclients++;
		m->clients_total++;
		say(m, LOG_INFO, "client %u (pid %d) connected", i, (int)cred.pid);
	}
}

/* The MADs the port has, to the clients they belong to: a batch of at
 * most --queue, then the poll loop lets the clients write and read; it
 * stops at a MAD held for a client whose queue is full. */
static int port_read(struct mux *m)
{
	char err[256];

	for (uint64_t k = 0; k < m->queue_max && !m->holding; k++) {
		struct cmmux_msg msg = { .msg_type = CMMUX_REQ, .op_code = CMMUX_OP_MAD };
		struct cmmux_route rt;
		int r = port_recv(m, &msg, err, sizeof(err));

		if (r <= 0) {
			if (r < 0)
				session_fail(&m->session, "%s", err);
			return r;
		}
		m->mads_in++;
		cmmux_route_mad(m->router, msg.mad, (size_t)msg.umad_len, now_ms(), &rt);
		if (rt.client == CMMUX_NO_CLIENT || m->clients[rt.client].fd < 0) {
			if (msg.umad_len <= CMMUX_MAD_HDR) {
				m->completions++;	/* a send of ours, handed back */
				continue;
			}
			m->mads_dropped++;
			trace_mad(m, "in", &msg, rt.client, rt.why ? rt.why : "its client is gone");
			continue;
		}
		/* the client learns which of its GIDs this is for */
		memcpy(msg.sgid + 8, &rt.ifid, 8);
		trace_mad(m, "in", &msg, rt.client, rt.by_gid ? (rt.fallback ? "by GID (::ffff)" : "by GID") :
			  "by comm id");
		deliver_mad(m, &m->clients[rt.client], &msg);
	}
	return 0;
}

/* ---- figures ---- */

/* final: at exit, where ok says how it ends; else a SIGUSR1 snapshot. */
static void write_stats(struct mux *m, bool final)
{
	struct out_file f;
	struct json_writer w;
	FILE *fp;
	int fd;

	if (!m->stats_path)
		return;
	if (out_file_open(&f, m->stats_path) < 0 || (fd = dup(f.fd)) < 0 ||
	    !(fp = fdopen(fd, "w"))) {
		msg("--stats-json %s: %s", m->stats_path, strerror(errno));
		return;
	}
	jw_init(&w, fp, true);
	jw_document(&w, "pvrdma-mux", "stats");
	jw_key(&w, "ok"); jw_bool(&w, !session_failed(&m->session));
	if (session_failed(&m->session)) {
		jw_key(&w, "error"); jw_string(&w, m->session.error);
	}
	jw_key(&w, "seconds"); jw_double(&w, (double)(now_ms() - m->start_ms) / 1000);
	jw_key(&w, "endpoint"); jw_string(&w, m->path);
	jw_key(&w, "final"); jw_bool(&w, final);
	jw_key(&w, "device"); jw_string(&w, m->dev);
	jw_key(&w, "port"); jw_u64(&w, m->port_num);
	jw_key(&w, "clients"); jw_u64(&w, m->nclients);
	jw_key(&w, "clients_total"); jw_u64(&w, m->clients_total);
	jw_key(&w, "clients_refused"); jw_u64(&w, m->clients_refused);
	jw_key(&w, "clients_dropped_nonrequest"); jw_u64(&w, m->dropped_nonrequest);
	jw_key(&w, "clients_dropped_queue_full"); jw_u64(&w, m->dropped_queue);
	jw_key(&w, "clients_dropped_stalled"); jw_u64(&w, m->dropped_partial);
	jw_key(&w, "gids"); jw_u64(&w, cmmux_gid_count(m->router));
	jw_key(&w, "commids"); jw_u64(&w, cmmux_commid_count(m->router));
	jw_key(&w, "commids_expired"); jw_u64(&w, m->commids_expired);
	jw_key(&w, "requests");
	jw_object(&w);
	jw_key(&w, "reg"); jw_u64(&w, m->req[CMMUX_OP_REG]);
	jw_key(&w, "unreg"); jw_u64(&w, m->req[CMMUX_OP_UNREG]);
	jw_key(&w, "mad"); jw_u64(&w, m->req[CMMUX_OP_MAD]);
	jw_key(&w, "invalid"); jw_u64(&w, m->req_invalid);
	jw_object_end(&w);
	jw_key(&w, "answers");
	jw_object(&w);
	jw_key(&w, "ok"); jw_u64(&w, m->err[CMMUX_OK]);
	jw_key(&w, "einval"); jw_u64(&w, m->err[CMMUX_EINVAL]);
	jw_key(&w, "eexist"); jw_u64(&w, m->err[CMMUX_EEXIST]);
	jw_key(&w, "eacces"); jw_u64(&w, m->err[CMMUX_EACCES]);
	jw_key(&w, "enotfound"); jw_u64(&w, m->err[CMMUX_ENOTFOUND]);
	jw_object_end(&w);
	jw_key(&w, "mads_from_clients"); jw_u64(&w, m->mads_from_clients);
	jw_key(&w, "mads_sent"); jw_u64(&w, m->mads_sent);
	jw_key(&w, "mads_send_failed"); jw_u64(&w, m->mad_send_failed);
	jw_key(&w, "mads_refused_not_its_gid"); jw_u64(&w, m->mads_refused_gid);
	jw_key(&w, "mads_refused_comm_id_taken"); jw_u64(&w, m->mads_refused_commid);
	jw_key(&w, "mads_refused_bad_length"); jw_u64(&w, m->mads_refused_len);
	jw_key(&w, "mads_received"); jw_u64(&w, m->mads_in);
	jw_key(&w, "mads_routed"); jw_u64(&w, m->mads_routed);
	jw_key(&w, "mads_dropped"); jw_u64(&w, m->mads_dropped);
	jw_key(&w, "send_completions"); jw_u64(&w, m->completions);
	jw_key(&w, "port_waits"); jw_u64(&w, m->port_waits);
	jw_object_end(&w);
	jw_end(&w);
	if (fclose(fp) != 0 || out_file_commit(&f) < 0) {
		msg("--stats-json %s: %s", m->stats_path, strerror(errno));
		out_file_abort(&f);
	}
}

/* ---- the operator console ---- */

static struct mux *console_mux;		/* readline's callbacks take no context */

static const char *const console_commands[] = {
	"help", "clients", "gids", "commids", "stats", "trace", "drop", "quit", NULL,
};

static void print_gid_of(void *ctx, uint64_t ifid, uint32_t client)
{
	char gid[INET6_ADDRSTRLEN];
	uint8_t g[16] = { 0 };

	(void)ctx;
	memcpy(g + 8, &ifid, 8);
	printf("  %-40s client %u\n", gid_text(g, gid, sizeof(gid)), client);
}

static void print_commid(void *ctx, uint32_t comm_id, uint32_t client, uint64_t ifid,
			 uint64_t last_ms)
{
	char gid[INET6_ADDRSTRLEN];
	uint8_t g[16] = { 0 };
	uint64_t now = *(const uint64_t *)ctx;

	memcpy(g + 8, &ifid, 8);
	printf("  0x%08x  client %-4u %-40s idle %.1f s\n", ntohl(comm_id), client,
	       gid_text(g, gid, sizeof(gid)), (double)(now - last_ms) / 1000);
}

static void console_command(struct mux *m, char *line)
{
	char *cmd = strtok(line, " \t"), *arg = strtok(NULL, " \t");
	uint64_t n, now = now_ms();

	if (!cmd)
		return;
	if (!strcmp(cmd, "help")) {
		printf("clients          the connected clients (QEMU processes)\n"
		       "gids             registered GIDs and their clients\n"
		       "commids          remembered comm ids, their clients, idle time\n"
		       "stats            the counters\n"
		       "trace on|off     log every MAD routed\n"
		       "drop N           disconnect client N (its GIDs are forgotten)\n"
		       "quit             stop the mux (exit 0)\n");
	} else if (!strcmp(cmd, "clients")) {
		printf("%u of at most %" PRIu64 " clients\n", m->nclients, m->max_clients);
		for (uint32_t i = 0; i < m->max_clients; i++) {
			const struct client *c = &m->clients[i];

			if (c->fd >= 0)
				printf("  client %-4u pid %-8d requests %-8" PRIu64 " MADs to it %-8" PRIu64
				       " queued %u\n", i, (int)c->pid, c->requests, c->mads_to, c->qcount);
		}
	} else if (!strcmp(cmd, "gids")) {
		printf("%u GIDs (at most %" PRIu64 ")\n", cmmux_gid_count(m->router), m->max_gids);
		cmmux_each_gid(m->router, print_gid_of, NULL);
	} else if (!strcmp(cmd, "commids")) {
		printf("%u comm ids (at most %" PRIu64 ", forgotten after %" PRIu64 " s unused)\n",
		       cmmux_commid_count(m->router), m->max_commids, m->ttl_s);
		cmmux_each_commid(m->router, print_commid, &now);
	} else if (!strcmp(cmd, "stats")) {
		printf("clients %u now, %" PRIu64 " in all, %" PRIu64 " refused, %" PRIu64
		       " dropped (non-request %" PRIu64 ", queue full %" PRIu64 ", stalled in a message %"
		       PRIu64 ")\n"
		       "requests REG %" PRIu64 " UNREG %" PRIu64 " MAD %" PRIu64 " invalid %" PRIu64 "\n"
		       "answers OK %" PRIu64 " EINVAL %" PRIu64 " EEXIST %" PRIu64 " EACCES %" PRIu64
		       " ENOTFOUND %" PRIu64 "\n"
		       "MADs sent %" PRIu64 " (failed %" PRIu64 "), received %" PRIu64 ": routed %" PRIu64
		       ", dropped %" PRIu64 ", send completions %" PRIu64 "; the port waited for a client %"
		       PRIu64 " times\n"
		       "comm ids %u, expired %" PRIu64 "; GIDs %u\n",
		       m->nclients, m->clients_total, m->clients_refused,
		       m->dropped_nonrequest + m->dropped_queue + m->dropped_partial, m->dropped_nonrequest,
		       m->dropped_queue, m->dropped_partial,
		       m->req[0], m->req[1], m->req[2], m->req_invalid,
		       m->err[0], m->err[1], m->err[2], m->err[3], m->err[4],
		       m->mads_sent, m->mad_send_failed, m->mads_in, m->mads_routed, m->mads_dropped,
		       m->completions, m->port_waits, cmmux_commid_count(m->router), m->commids_expired,
		       cmmux_gid_count(m->router));
	} else if (!strcmp(cmd, "trace")) {
		if (arg && !strcmp(arg, "on"))
			m->trace = true;
		else if (arg && !strcmp(arg, "off"))
			m->trace = false;
		else if (arg)
			printf("trace on or trace off\n");
		printf("trace is %s\n", m->trace ? "on" : "off");
	} else if (!strcmp(cmd, "drop")) {
		if (!arg || parse_uint(arg, 0, m->max_clients - 1, &n) < 0 || m->clients[n].fd < 0)
			printf("drop N: N is a connected client (see clients)\n");
		else
			client_close(m, &m->clients[n], "dropped from the console");
	} else if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
		m->quit = true;
	} else {
		printf("%s: no such command (help lists them)\n", cmd);
	}
	fflush(stdout);
}

static void console_line(char *line)
{
	struct mux *m = console_mux;

	if (!line) {		/* end of input: as quit */
		printf("\n");
		m->quit = true;
		return;
	}
	if (*line)
		add_history(line);
	console_command(m, line);
	free(line);
}

static char *complete_word(const char *text, int state)
{
	static size_t i, len;
	static const char *const *words;
	static const char *const on_off[] = { "on", "off", NULL };

	if (!state) {
		i = 0;
		len = strlen(text);
		words = !strncmp(rl_line_buffer, "trace ", 6) ? on_off : console_commands;
	}
	while (words[i])
		if (!strncmp(words[i++], text, len))
			return strdup(words[i - 1]);
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1;	/* no file names */
	if (start && strncmp(rl_line_buffer, "trace ", 6))
		return NULL;
	return rl_completion_matches(text, complete_word);
}

static void console_start(struct mux *m)
{
	console_mux = m;
	rl_catch_signals = 0;		/* the session takes them */
	rl_readline_name = "pvrdma-mux";
	rl_attempted_completion_function = complete;
	rl_callback_handler_install("pvrdma-mux> ", console_line);
	console_active = true;
}

static void console_stop(void)
{
	if (!console_active)
		return;
	console_active = false;
	rl_callback_handler_remove();
}

/* ---- the loop ---- */

enum { PFD_WAKE, PFD_USR1, PFD_LISTEN, PFD_PORT, PFD_CONSOLE, PFD_CLIENTS };

static void poll_once(struct mux *m, bool accepting, int timeout_ms)
{
	uint32_t n = m->max_clients;

	/* once the run is over the wake fd stays readable: not polled then */
	m->pfd[PFD_WAKE] = (struct pollfd){ .fd = accepting ? m->session.wake_fd : -1, .events = POLLIN };
	m->pfd[PFD_USR1] = (struct pollfd){ .fd = m->usr1_fd, .events = POLLIN };
	m->pfd[PFD_LISTEN] = (struct pollfd){ .fd = accepting ? m->listen_fd : -1, .events = POLLIN };
	m->pfd[PFD_PORT] = (struct pollfd){
		.fd = accepting && !m->holding ? m->port.fd : -1, .events = POLLIN,
	};
	m->pfd[PFD_CONSOLE] = (struct pollfd){ .fd = console_active ? STDIN_FILENO : -1, .events = POLLIN };
	for (uint32_t i = 0; i < n; i++) {
		struct client *c = &m->clients[i];
		bool room = c->qcount < m->queue_max;

		m->pfd[PFD_CLIENTS + i] = (struct pollfd){
			.fd = c->fd,
			.events = (short)((accepting && room ? POLLIN : 0) | (c->qcount ? POLLOUT : 0)),
		};
	}
	if (poll(m->pfd, PFD_CLIENTS + n, timeout_ms) < 0 && errno != EINTR) {
		session_fail(&m->session, "poll: %s", strerror(errno));
		return;
	}
	if (m->pfd[PFD_USR1].revents & POLLIN) {
		struct signalfd_siginfo si;

		if (read(m->usr1_fd, &si, sizeof(si)) > 0)
			write_stats(m, false);
	}
	if (m->pfd[PFD_CONSOLE].revents & (POLLIN | POLLHUP))
		rl_callback_read_char();
	if (m->pfd[PFD_LISTEN].revents & POLLIN)
		accept_clients(m);
	if (m->pfd[PFD_PORT].revents & (POLLIN | POLLERR | POLLHUP))
		port_read(m);
	for (uint32_t i = 0; i < n; i++) {
		struct client *c = &m->clients[i];
		short ev = m->pfd[PFD_CLIENTS + i].revents;

		if (c->fd < 0 || c->fd != m->pfd[PFD_CLIENTS + i].fd)
			continue;
		if (ev & POLLOUT)
			client_flush(m, c);
		if (c->fd >= 0 && accepting && (ev & (POLLIN | POLLHUP | POLLERR)))
			client_read(m, c);
		if (c->fd >= 0 && c->qcount)
			client_flush(m, c);
	}
	place_held(m);
}

static bool output_pending(const struct mux *m)
{
	for (uint32_t i = 0; i < m->max_clients; i++)
		if (m->clients[i].fd >= 0 && m->clients[i].qcount)
			return true;
	return false;
}

/* When the loop must look again: the next tick, or sooner the deadline
 * of the client a held MAD waits for. */
static uint64_t wake_at(const struct mux *m, uint64_t t, uint64_t next_tick)
{
	uint64_t at = next_tick;

	if (m->holding) {
		uint64_t due = m->clients[m->held_for].full_since_ms + m->queue_timeout_s * 1000;

		at = due < at ? due : at;
	}
	return at > t ? at : t;
}

static void serve(struct mux *m)
{
	uint64_t next_tick = now_ms() + TICK_MS, end;

	say(m, LOG_NOTICE, "serving %s:%u on %s%s", m->dev, m->port_num, m->path,
	    m->port.test ? " (test port)" : "");
	if (m->console)
		console_start(m);
	while (!session_failed(&m->session) && !m->quit) {
		uint64_t t = now_ms();

		if (t >= next_tick) {
			uint32_t gone = cmmux_expire(m->router, t);

			m->commids_expired += gone;
			if (gone)
				m->commids_full_said = false;
			drop_stalled_clients(m, t);
			next_tick = t + TICK_MS;
		}
		drop_slow_client(m, t);
		poll_once(m, true, (int)(wake_at(m, t, next_tick) - t));
	}
	console_stop();
	/* what was answered goes out; nothing new is taken */
	end = now_ms() + FLUSH_MS;
	while (output_pending(m) && now_ms() < end)
		poll_once(m, false, (int)(end - now_ms()));
}

static int take_option(void *ctx, int key, const char *arg, char err[ERR_LEN])
{
	struct mux *m = ctx;

	(void)err;
	switch (key) {
	case 'd': m->dev = arg; break;
	case 's': m->prefix = arg; break;
	case 'p': {
		uint64_t port;

		if (parse_uint(arg, 1, 255, &port) < 0)
			die_usage("-p %s: a port number from 1 to 255", arg);
		m->port_num = (unsigned int)port;
		break;
	}
	case OPT_TRACE: m->trace = true; break;
	case OPT_CONSOLE: m->console = true; break;
	case OPT_SYSLOG: m->use_syslog = true; break;
	case OPT_STATS: m->stats_path = arg; break;
	case OPT_MAX_CLIENTS:
		if (parse_uint(arg, 1, 4096, &m->max_clients) < 0)
			die_usage("--max-clients %s: 1 to 4096", arg);
		break;
	case OPT_MAX_GIDS:
		if (parse_uint(arg, 1, 1u << 20, &m->max_gids) < 0)
			die_usage("--max-gids %s: 1 to 1048576", arg);
		break;
	case OPT_MAX_COMMIDS:
		if (parse_uint(arg, 1, 1u << 22, &m->max_commids) < 0)
			die_usage("--max-commids %s: 1 to 4194304", arg);
		break;
	case OPT_TTL:
		if (parse_uint(arg, 1, 86400, &m->ttl_s) < 0)
			die_usage("--commid-ttl %s: 1 to 86400 seconds", arg);
		break;
	case OPT_QUEUE:
		if (parse_uint(arg, 1, 65536, &m->queue_max) < 0)
			die_usage("--queue %s: 1 to 65536", arg);
		break;
	case OPT_TEST_PORT: m->test_port = arg; break;
	case OPT_TEST_GIDS: m->test_gids = arg; break;
	case OPT_PER_PID:
		if (parse_uint(arg, 1, 4096, &m->max_per_pid) < 0)
			die_usage("--max-clients-per-pid %s: 1 to 4096", arg);
		break;
	case OPT_GIDS_PER:
		if (parse_uint(arg, 1, 1u << 20, &m->gids_per_client) < 0)
			die_usage("--max-gids-per-client %s: 1 to 1048576", arg);
		break;
	case OPT_COMMIDS_PER:
		if (parse_uint(arg, 1, 1u << 22, &m->commids_per_client) < 0)
			die_usage("--max-commids-per-client %s: 1 to 4194304", arg);
		break;
	case OPT_MSG_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &m->message_timeout_s) < 0)
			die_usage("--message-timeout %s: 1 to 3600 seconds", arg);
		break;
	case OPT_QUEUE_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &m->queue_timeout_s) < 0)
			die_usage("--queue-timeout %s: 1 to 3600 seconds", arg);
		break;
	case OPT_SOCK_MODE: {
		char *end;

		errno = 0;
		m->socket_mode = strtoull(arg, &end, 8);
		if (errno || !*arg || *end || m->socket_mode > 0777)
			die_usage("--socket-mode %s: octal permissions, 0 to 0777", arg);
		break;
	}
	case OPT_SOCK_GROUP: m->socket_group = arg; break;
	case 'v': log_set_verbose(log_verbose() + 1); break;
	}
	return 0;
}

static void parse_args(struct mux *m, int argc, char **argv)
{
	char err[ERR_LEN];

	m->prefix = "/var/run/rdmacm-mux";
	m->max_clients = 256;
	m->max_gids = 4096;
	m->max_commids = 65536;
	m->ttl_s = 15;
	m->queue_max = 64;
	m->max_per_pid = 16;
	m->gids_per_client = 64;
	m->commids_per_client = 4096;
	m->message_timeout_s = 10;
	m->queue_timeout_s = 2;
	m->socket_mode = 0660;
	m->port_num = 1;
	switch (opts_parse(mux_opts, argc, argv, take_option, m, err)) {
	case 1: applet_help();
	case -1: die_usage("%s", err);
	}
	if (optind != argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!m->dev || !*m->dev)
		die_usage("-d DEV is required (the RDMA device, see /sys/class/infiniband)");
	if (strchr(m->dev, '/'))
		die_usage("-d %s: a device name, not a path", m->dev);
	if (m->test_gids && !m->test_port)
		die_usage("--test-gids goes with --test-port (a real port's GIDs are in sysfs)");
	if ((size_t)snprintf(m->path, sizeof(m->path), "%s-%s-%u", m->prefix, m->dev, m->port_num) >=
	    sizeof(m->path))
		die_usage("the socket path %s-%s-%u is longer than a UNIX socket takes (%zu bytes)",
			  m->prefix, m->dev, m->port_num, sizeof(m->path) - 1);
}

static int setup(struct mux *m)
{
	char err[512];
	sigset_t usr1;

	m->clients = calloc(m->max_clients, sizeof(*m->clients));
	m->pfd = calloc(PFD_CLIENTS + m->max_clients, sizeof(*m->pfd));
	m->router = cmmux_router_new(&(struct cmmux_limits){
		.gids = (uint32_t)m->max_gids,
		.commids = (uint32_t)m->max_commids,
		.commid_ttl_ms = m->ttl_s * 1000,
		.clients = (uint32_t)m->max_clients,
		.gids_per_client = (uint32_t)m->gids_per_client,
		.commids_per_client = (uint32_t)m->commids_per_client,
	});
	if (!m->clients || !m->pfd || !m->router) {
		session_fail(&m->session, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < m->max_clients; i++) {
		m->clients[i].fd = -1;
		m->clients[i].queue = calloc(m->queue_max, sizeof(struct cmmux_msg));
		if (!m->clients[i].queue) {
			session_fail(&m->session, "out of memory");
			return -1;
		}
	}
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	m->usr1_fd = signalfd(-1, &usr1, SFD_CLOEXEC | SFD_NONBLOCK);
	if (port_open(m, err, sizeof(err)) < 0 || listen_socket(m, err, sizeof(err)) < 0) {
		session_fail(&m->session, "%s", err);
		return -1;
	}
	return 0;
}

static void cleanup(struct mux *m)
{
	console_stop();
	for (uint32_t i = 0; m->clients && i < m->max_clients; i++) {
		if (m->clients[i].fd >= 0)
			close(m->clients[i].fd);
		free(m->clients[i].queue);
	}
	remove_socket(m);
	port_close(m);
	if (m->usr1_fd >= 0)
		close(m->usr1_fd);
	cmmux_router_free(m->router);
	free(m->clients);
	free(m->pfd);
}

int pvrdma_mux_main(int argc, char **argv)
{
	struct mux m = { .listen_fd = -1, .usr1_fd = -1, .port = { .fd = -1, .umad = -1 } };
	sigset_t usr1;
	int status = EXIT_FAIL;

	parse_args(&m, argc, argv);
	if (m.use_syslog)
		openlog("pvrdma-mux", LOG_PID, LOG_DAEMON);
	/* blocked in every thread, taken by the signalfd */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if (session_init(&m.session) < 0)
		die_errno("cannot set up");
	m.start_ms = now_ms();
	/* a failed start, a signal or a fatal port error: the session has
	 * the message, and --stats-json its ok false */
	if (setup(&m) == 0) {
		serve(&m);
		if (m.quit && !session_failed(&m.session))
			status = EXIT_OK;
	}
	if (status != EXIT_OK)
		msg("%s", m.session.error);
	write_stats(&m, true);
	cleanup(&m);
	return session_end(&m.session, status);
}
