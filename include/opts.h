/* Parsers of command-line values, shared by the applets. */
#ifndef MIGBOX_OPTS_H
#define MIGBOX_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* "4096", "0x1000", "64K", "64M", "1G", "1T" (binary units). -1 if the
 * text is not such a size or overflows. */
int parse_size(const char *s, uint64_t *out);
/* A decimal or 0x number in [min, max]; -1 otherwise. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
