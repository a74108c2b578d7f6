// SPDX-License-Identifier: GPL-3.0-or-later
#include <inttypes.h>
#include <string.h>

#include "json.h"

struct jp {
	const char *s;
	size_t n, i;
	int depth;
};

static void skip_ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
			       p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int parse_value(struct jp *p);

static int parse_string(struct jp *p)
{
	if (p->i >= p->n || p->s[p->i] != '"')
		return -1;
	p->i++;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i];

		if (c == '"') {
			p->i++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (++p->i >= p->n)
				return -1;
			c = (unsigned char)p->s[p->i];
			if (c == 'u') {
				for (int k = 1; k <= 4; k++) {
					char h = p->i + k < p->n ? p->s[p->i + k] : 0;

					if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
					      (h >= 'A' && h <= 'F')))
						return -1;
				}
				p->i += 4;
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return -1;
			}
		}
		p->i++;
	}
	return -1;
}

static int parse_number(struct jp *p)
{
	size_t start = p->i;

	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i >= p->n)
		return -1;
	if (p->s[p->i] == '0') {
		p->i++;
	} else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	} else {
		return -1;
	}
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
			return -1;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
			return -1;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	return p->i > start ? 0 : -1;
}

static int parse_literal(struct jp *p, const char *lit)
{
	size_t len = strlen(lit);

	if (p->n - p->i < len || memcmp(p->s + p->i, lit, len))
		return -1;
	p->i += len;
	return 0;
}

static int parse_container(struct jp *p, char close)
{
	if (++p->depth > 256)
		return -1;
	p->i++;
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (close == '}') {
			if (parse_string(p) < 0)
				return -1;
			skip_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return -1;
			p->i++;
			skip_ws(p);
		}
		if (parse_value(p) < 0)
			return -1;
		skip_ws(p);
		if (p->i >= p->n)
			return -1;
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == close) {
			p->i++;
			p->depth--;
			return 0;
		}
		return -1;
	}
}

static int parse_value(struct jp *p)
{
	skip_ws(p);
	if (p->i >= p->n)
		return -1;
	switch (p->s[p->i]) {
	case '{': return parse_container(p, '}');
	case '[': return parse_container(p, ']');
	case '"': return parse_string(p);
	case 't': return parse_literal(p, "true");
	case 'f': return parse_literal(p, "false");
	case 'n': return parse_literal(p, "null");
	default: return parse_number(p);
	}
}

int json_validate(const char *s, size_t n, size_t *bad)
{
	struct jp p = { .s = s, .n = n };

	if (parse_value(&p) == 0) {
		skip_ws(&p);
		if (p.i == n)
			return 0;
	}
	*bad = p.i;
	return -1;
}

/* Key at p->i (a string); returns its raw bytes without quotes. */
static int key_is(struct jp *p, const char *key)
{
	size_t len = strlen(key);

	return p->n - p->i >= len + 2 && p->s[p->i] == '"' &&
	       !memcmp(p->s + p->i + 1, key, len) && p->s[p->i + 1 + len] == '"';
}

/* Inside an object at p->i ('{'), finds "name" and "instance_id". */
static int read_device(struct jp *p, const char **name, size_t *name_len,
		       long long *instance)
{
	*name = NULL;
	*name_len = 0;
	*instance = -1;
	p->i++;
	for (;;) {
		int is_name, is_inst;

		skip_ws(p);
		if (p->i < p->n && p->s[p->i] == '}') {
			p->i++;
			return 0;
		}
		is_name = key_is(p, "name");
		is_inst = key_is(p, "instance_id");
		if (parse_string(p) < 0)
			return -1;
		skip_ws(p);
		if (p->i >= p->n || p->s[p->i] != ':')
			return -1;
		p->i++;
		skip_ws(p);
		if (is_name && p->i < p->n && p->s[p->i] == '"') {
			size_t start = p->i + 1;

			if (parse_string(p) < 0)
				return -1;
			*name = p->s + start;
			*name_len = p->i - 1 - start;
		} else if (is_inst && p->i < p->n) {
			long long v = 0;
			size_t start = p->i;

			if (parse_number(p) < 0)
				return -1;
			for (size_t k = start; k < p->i && p->s[k] >= '0' && p->s[k] <= '9'; k++)
				v = v * 10 + (p->s[k] - '0');
			*instance = v;
		} else if (parse_value(p) < 0) {
			return -1;
		}
		skip_ws(p);
		if (p->i < p->n && p->s[p->i] == ',')
			p->i++;
	}
}

int json_vmdesc_devices(const char *s, size_t n,
			void (*fn)(void *ctx, const char *name, size_t name_len,
				   long long instance),
			void *ctx)
{
	struct jp p = { .s = s, .n = n };
	int count = 0;

	skip_ws(&p);
	if (p.i >= n || s[p.i] != '{')
		return -1;
	p.i++;
	for (;;) {
		skip_ws(&p);
		if (p.i >= n || s[p.i] == '}')
			return count;
		if (key_is(&p, "devices")) {
			parse_string(&p);
			skip_ws(&p);
			if (p.i >= n || s[p.i] != ':')
				return -1;
			p.i++;
			skip_ws(&p);
			if (p.i >= n || s[p.i] != '[')
				return -1;
			p.i++;
			for (;;) {
				const char *name;
				size_t name_len;
				long long inst;

				skip_ws(&p);
				if (p.i < n && s[p.i] == ']')
					return count;
				if (p.i >= n || s[p.i] != '{' ||
				    read_device(&p, &name, &name_len, &inst) < 0)
					return -1;
				if (fn)
					fn(ctx, name ? name : "", name_len, inst);
				count++;
				skip_ws(&p);
				if (p.i < n && s[p.i] == ',')
					p.i++;
			}
		}
		if (parse_string(&p) < 0)
			return -1;
		skip_ws(&p);
		if (p.i >= n || s[p.i] != ':')
			return -1;
		p.i++;
		if (parse_value(&p) < 0)
			return -1;
		skip_ws(&p);
		if (p.i < n && s[p.i] == ',')
			p.i++;
	}
}

bool json_has_key(const char *s, size_t n, const char *key)
{
	struct jp p = { .s = s, .n = n };

	skip_ws(&p);
	if (p.i >= n || s[p.i] != '{')
		return false;
	p.i++;
	for (;;) {
		bool match;

		skip_ws(&p);
		if (p.i >= n || s[p.i] != '"')
			return false;
		match = key_is(&p, key);
		if (parse_string(&p) < 0)
			return false;
		if (match)
			return true;
		skip_ws(&p);
		if (p.i >= n || s[p.i] != ':')
			return false;
		p.i++;
		if (parse_value(&p) < 0)
			return false;
		skip_ws(&p);
		if (p.i >= n || s[p.i] != ',')
			return false;
		p.i++;
	}
}

void jw_init(struct json_writer *w, FILE *f, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
	w->first[0] = true;
}

static void jw_sep(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = false;
	if (w->pretty && w->depth) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++)
			fputs("  ", w->f);
	}
}

static void jw_open(struct json_writer *w, char c)
{
	jw_sep(w);
	fputc(c, w->f);
	if (w->depth < 31)
		w->depth++;
	w->first[w->depth] = true;
}

static void jw_close(struct json_writer *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth)
		w->depth--;
	if (w->pretty && !empty) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++)
			fputs("  ", w->f);
	}
	fputc(c, w->f);
}

void jw_object(struct json_writer *w) { jw_open(w, '{'); }
void jw_object_end(struct json_writer *w) { jw_close(w, '}'); }
void jw_array(struct json_writer *w) { jw_open(w, '['); }
void jw_array_end(struct json_writer *w) { jw_close(w, ']'); }

void jw_string_n(struct json_writer *w, const char *s, size_t n)
{
	jw_sep(w);
	fputc('"', w->f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(w->f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(w->f, "\\u%04x", c);
		else
			fputc(c, w->f);
	}
	fputc('"', w->f);
}

void jw_string(struct json_writer *w, const char *s)
{
	jw_string_n(w, s, strlen(s));
}

void jw_key(struct json_writer *w, const char *key)
{
	jw_string(w, key);
	fputs(w->pretty ? ": " : ":", w->f);
	w->after_key = true;
}

void jw_u64(struct json_writer *w, uint64_t v)
{
	jw_sep(w);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_i64(struct json_writer *w, int64_t v)
{
	jw_sep(w);
	fprintf(w->f, "%" PRId64, v);
}

void jw_double(struct json_writer *w, double v)
{
	jw_sep(w);
	fprintf(w->f, "%.6g", v);
}

void jw_bool(struct json_writer *w, bool v)
{
	jw_sep(w);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct json_writer *w)
{
	jw_sep(w);
	fputs("null", w->f);
}

void jw_end(struct json_writer *w)
{
	fputc('\n', w->f);
}

void jw_document(struct json_writer *w, const char *applet, const char *report)
{
	jw_object(w);
	jw_key(w, "applet"); jw_string(w, applet);
	jw_key(w, "schema_version"); jw_u64(w, JSON_SCHEMA_VERSION);
	jw_key(w, "report"); jw_string(w, report);
}
