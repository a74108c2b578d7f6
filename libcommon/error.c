// SPDX-License-Identifier: GPL-3.0-or-later
/* The one error type: a formatted message in the caller's buffer. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

int err_set(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}
