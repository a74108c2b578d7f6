/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Messages on stderr, prefixed with the running applet's name. For applets
 * only: library code returns errors instead of printing them. */
#ifndef MIGBOX_LOG_H
#define MIGBOX_LOG_H

#include <stdarg.h>


/* Exit statuses shared by every applet. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* runtime failure: bad stream, I/O, peer */
	EXIT_USAGE = 2,		/* bad command line */
};

void log_set_prog(const char *name);
const char *log_prog(void);
void log_set_verbose(int level);
int log_verbose(void);

/* "APPLET: message" */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "APPLET: message" only at verbosity >= 1 */
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* msg() then exit(EXIT_FAIL) */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* msg() with ": strerror(errno)" appended, then exit(EXIT_FAIL) */
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Flushes stdout: EXIT_OK, or EXIT_FAIL after saying that `what` could
 * not be written and why (a full disk, a closed pipe). */
int stdout_finish(const char *what);
/* msg() plus a hint to --help, then exit(EXIT_USAGE) */
_Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
