/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Just enough JSON: a validator for bytes from outside (the vmdesc), a
 * reader of the vmdesc's device list, and a writer for --json output. */
#ifndef MIGBOX_JSON_H
#define MIGBOX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 0 if s[0..n) is one JSON value (with surrounding white space); else -1
 * and *bad is the offset of the first offending byte. Nesting is limited
 * to 256 levels. */
int json_validate(const char *s, size_t n, size_t *bad);

/* Whether the object s[0..n) has key at its top level (QEMU 10.0's vmdesc
 * starts with "configuration"). */
bool json_has_key(const char *s, size_t n, const char *key);

/* Calls fn for each element of the top-level "devices" array of a vmdesc:
 * its "name" and "instance_id" (-1 if absent). Returns the number of
 * devices, or -1 if the text is not a vmdesc object. */
int json_vmdesc_devices(const char *s, size_t n,
			void (*fn)(void *ctx, const char *name, size_t name_len,
				   long long instance),
			void *ctx);

/* Writer with automatic commas; nesting up to 32 levels. */
struct json_writer {
	FILE *f;
	int depth;
	bool first[32];
	bool after_key;
	bool pretty;
};

void jw_init(struct json_writer *w, FILE *f, bool pretty);
void jw_object(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array(struct json_writer *w);
void jw_array_end(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s);
void jw_string_n(struct json_writer *w, const char *s, size_t n);
void jw_u64(struct json_writer *w, uint64_t v);
void jw_i64(struct json_writer *w, int64_t v);
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);
/* Finishes the document with a newline. */
void jw_end(struct json_writer *w);

/* The version of doc/stats-json.schema.json that every JSON document
 * migbox writes follows; a consumer checks it. */
#define JSON_SCHEMA_VERSION	2

/* Opens a document with the fields that say what it is: applet (which
 * applet wrote it), schema_version, and report ("stats" for --stats-json,
 * "dump", "probe", "info"): applet and report select its definition in
 * the schema. */
void jw_document(struct json_writer *w, const char *applet, const char *report);

#endif
