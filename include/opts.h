/* Command-line helpers shared by the applets. */
#ifndef MIGBOX_OPTS_H
#define MIGBOX_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The usage text of the running applet (set by the dispatcher). */
void opts_set_usage(const char *usage);
/* Prints the usage text and exits 0. */
_Noreturn void opts_help(void);
/* Prints "migbox VERSION" and exits 0. */
_Noreturn void opts_version(void);
const char *migbox_version(void);

/* "4096", "0x1000", "64K", "64M", "1G", "1T" (binary units). -1 if the
 * text is not such a size or overflows. */
int parse_size(const char *s, uint64_t *out);
/* A decimal or 0x number in [min, max]; -1 otherwise. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
