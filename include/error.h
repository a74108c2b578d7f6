/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one error type of libcommon: a library function that fails fills a
 * caller's char err[ERR_LEN] with what went wrong (which file, channel or
 * offset, what was expected) and returns -1; the applet decides what to
 * print and how to exit. */
#ifndef MIGBOX_ERROR_H
#define MIGBOX_ERROR_H

#define ERR_LEN		256

/* Formats into err (truncated to ERR_LEN); returns -1. */
int err_set(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
