// SPDX-License-Identifier: GPL-3.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *prog = "migbox";
static int verbose;

void log_set_prog(const char *name) { prog = name; }
const char *log_prog(void) { return prog; }
void log_set_verbose(int level) { verbose = level; }
int log_verbose(void) { return verbose; }

static void vmsg(const char *fmt, va_list ap, const char *suffix)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per message so lines from several threads do not mix. */
	if (suffix)
		fprintf(stderr, "%s: %s: %s\n", prog, line, suffix);
	else
		fprintf(stderr, "%s: %s\n", prog, line);
}

void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	if (verbose < 1)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_errno(const char *fmt, ...)
{
	va_list ap;
	const char *why = strerror(errno);

	va_start(ap, fmt);
	vmsg(fmt, ap, why);
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(EXIT_USAGE);
}

int stdout_finish(const char *what)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_OK;
	msg("writing %s to stdout: %s", what, strerror(errno ? errno : EIO));
	return EXIT_FAIL;
}
