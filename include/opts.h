/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Command-line options. An applet declares its options once, in a table
 * beside its usage text; getopt's strings, the option lines of --help and
 * of the man page, and the bash completion's words are all made from it
 * (toybox declares a command's options once in the same spirit). An
 * applet's help is its synopsis and description, the table, and closing
 * notes; each option's help is one paragraph, wrapped here (a '\n' in it
 * starts a new line). Also the parsers of option values. */
#ifndef MIGBOX_OPTS_H
#define MIGBOX_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* "4096", "0x1000", "64K", "64M", "1G", "1T" (binary units). -1 if the
 * text is not such a size or overflows. */
int parse_size(const char *s, uint64_t *out);
/* A decimal or 0x number in [min, max]; -1 otherwise. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);


/* How the completion offers an option's argument. */
#define OPT_COMPLETE_FILE	"@file"

struct opt {
	int key;		/* getopt's value: the short letter, or >= 0x100 */
	const char *name;	/* the long name, without "--" */
	const char *arg;	/* its argument's name, or NULL for a flag; "[=NAME]":
				 * an optional one, given as --name=VALUE */
	const char *help;
	const char *complete;	/* OPT_COMPLETE_FILE, "@dir", "@group", words
				 * ("a b c"), or NULL */
};

/* The end of a table. */
#define OPT_END		{ 0, NULL, NULL, NULL, NULL }
/* -h, --help: every applet's last row. */
#define OPT_HELP	{ 'h', "help", NULL, "show this help", NULL }

struct applet_help {
	const char *text;		/* "usage: ..." up to the options */
	const struct opt *opts;
	const char *notes;		/* after the options; may be NULL */
	unsigned int column;		/* where option help starts; 0: 24 */
};

static inline bool opt_has_short(const struct opt *o)
{
	return o->key > 0 && o->key < 0x100;
}

/* The whole help: text, the option lines (two spaces, "-x, --name ARG",
 * the help from its column, wrapped before column 79), notes. */
void applet_help_print(FILE *f, const struct applet_help *h);
/* One line per option for the bash completion:
 * "-x --name ARGKIND", "-" where there is no short form, ARGKIND "-" for
 * a flag, "@file", "@value" (anything), or the words joined by ','. */
void applet_help_complete(FILE *f, const struct applet_help *h);

/* The getopt loop over argv, with the table's options only: each one goes
 * to take(ctx, key, optarg, err), which returns 0 or -1 with err filled
 * (a usage error). Returns 0 when done (optind is at the operands), 1
 * for --help, -1 with err filled. */
int opts_parse(const struct opt *table, int argc, char **argv,
	       int (*take)(void *ctx, int key, const char *arg, char err[ERR_LEN]),
	       void *ctx, char err[ERR_LEN]);


#endif
