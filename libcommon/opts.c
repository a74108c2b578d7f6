// SPDX-License-Identifier: GPL-3.0-or-later
#include <ctype.h>
#include <getopt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -1;
	}
	if (*end) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (~0ull >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* ---- the option table ---- */

#define HELP_COLUMN	24	/* where an option's help starts, unless the applet says */
#define HELP_WIDTH	77	/* the last column a line may use */
#define OPTS_MAX	64

static bool arg_optional(const struct opt *o)
{
	return o->arg && o->arg[0] == '[';
}

/* "-x, --name ARG", "    --name ARG" or "    --name[=ARG]" into buf. */
static int opt_label(const struct opt *o, char *buf, size_t n)
{
	const char *sep = o->arg && !arg_optional(o) ? " " : "";

	if (opt_has_short(o))
		return snprintf(buf, n, "-%c, --%s%s%s", o->key, o->name, sep, o->arg ? o->arg : "");
	return snprintf(buf, n, "    --%s%s%s", o->name, sep, o->arg ? o->arg : "");
}

/* The help text from column `col` on, wrapped at word boundaries. */
static void print_wrapped(FILE *f, const char *text, int col)
{
	const char *p = text;
	int at = col;
	bool line_empty = true;

	while (*p) {
		size_t word = strcspn(p, " \n");

		if (!line_empty && at + 1 + (int)word > HELP_WIDTH) {
			fprintf(f, "\n%*s", col, "");
			at = col;
			line_empty = true;
		}
		if (!line_empty) {
			fputc(' ', f);
			at++;
		}
		fwrite(p, 1, word, f);
		at += (int)word;
		line_empty = false;
		p += word;
		if (*p == '\n') {
			fprintf(f, "\n%*s", col, "");
			at = col;
			line_empty = true;
		}
		p += strspn(p, " \n");
	}
	fputc('\n', f);
}

void applet_help_print(FILE *f, const struct applet_help *h)
{
	int col = h->column ? (int)h->column : HELP_COLUMN;

	fputs(h->text, f);
	for (const struct opt *o = h->opts; o && o->name; o++) {
		char label[128];
		int n = opt_label(o, label, sizeof(label));

		fprintf(f, "  %s", label);
		if (2 + n + 2 > col)
			fprintf(f, "\n%*s", col, "");
		else
			fprintf(f, "%*s", col - 2 - n, "");
		print_wrapped(f, o->help, col);
	}
	if (h->notes)
		fputs(h->notes, f);
}

void applet_help_complete(FILE *f, const struct applet_help *h)
{
	for (const struct opt *o = h->opts; o && o->name; o++) {
		char sh[3] = { '-', opt_has_short(o) ? (char)o->key : 0, 0 };

		fprintf(f, "%s --%s ", sh, o->name);
		if (!o->arg)
			fputs("-\n", f);
		else if (!o->complete)
			fputs("@value\n", f);
		else if (o->complete[0] == '@')
			fprintf(f, "%s\n", o->complete);
		else {
			for (const char *c = o->complete; *c; c++)
				fputc(*c == ' ' ? ',' : *c, f);
			fputc('\n', f);
		}
	}
}

int opts_parse(const struct opt *table, int argc, char **argv,
	       int (*take)(void *ctx, int key, const char *arg, char err[ERR_LEN]),
	       void *ctx, char err[ERR_LEN])
{
	struct option longopts[OPTS_MAX + 1];
	char shortopts[2 * OPTS_MAX + 2], *s = shortopts;
	size_t n = 0;
	int c;

	for (const struct opt *o = table; o->name; o++) {
		if (n == OPTS_MAX) {
			snprintf(err, ERR_LEN, "more than %d options declared", OPTS_MAX);
			return -1;
		}
		longopts[n++] = (struct option){ o->name, !o->arg ? no_argument :
						 arg_optional(o) ? optional_argument : required_argument,
						 NULL, o->key };
		if (opt_has_short(o)) {
			*s++ = (char)o->key;
			if (o->arg)
				*s++ = ':';
			if (arg_optional(o))
				*s++ = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	*s = 0;
	/* getopt says what is wrong with an option on stderr itself */
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?') {
			snprintf(err, ERR_LEN, "bad option");
			return -1;
		}
		if (c == 'h')
			return 1;
		if (take(ctx, c, optarg, err) < 0)
			return -1;
	}
	return 0;
}
