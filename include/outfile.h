/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef MIGBOX_OUTFILE_H
#define MIGBOX_OUTFILE_H

#include <stdbool.h>

/* An output file that appears under its name only once complete and on
 * disk: written as an unnamed O_TMPFILE in the target's directory (or,
 * where the filesystem has none, an O_EXCL|O_NOFOLLOW NAME.tmp.XXXXXX),
 * then fsynced, linked over NAME and its directory fsynced by
 * out_file_commit(). A symlink given as NAME is followed, never replaced;
 * "-" or NULL means stdout; an existing device or fifo is written in
 * place. On failure the functions return -1 with errno, and nothing is
 * left behind. */
struct out_file {
	int fd;
	char *path;		/* the final name (links followed), or NULL */
	char *tmp_path;		/* a named temporary, or NULL */
	bool unnamed;		/* an O_TMPFILE, linked in at commit */
};

int out_file_open(struct out_file *f, const char *path);
int out_file_commit(struct out_file *f);
void out_file_abort(struct out_file *f);

#endif
