// SPDX-License-Identifier: GPL-3.0-or-later
/* Output files that appear only once complete and on disk (outfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

/* path with its symlinks followed to the name the data must get (which
 * need not exist yet); malloc'd, or NULL with errno. */
static char *final_name(const char *path)
{
	char *cur = strdup(path);

	for (int depth = 0; cur && depth < 40; depth++) {
		char target[PATH_MAX], *next;
		ssize_t n = readlink(cur, target, sizeof(target) - 1);

		if (n < 0)
			return errno == EINVAL || errno == ENOENT ? cur : (free(cur), NULL);
		target[n] = 0;
		if (target[0] == '/' || !strrchr(cur, '/')) {
			next = strdup(target);
		} else {
			int dir = (int)(strrchr(cur, '/') - cur);

			if (asprintf(&next, "%.*s/%s", dir, cur, target) < 0)
				next = NULL;
		}
		free(cur);
		cur = next;
	}
	if (cur) {
		free(cur);
		errno = ELOOP;
	}
	return NULL;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if (asprintf(&d, "%.*s", (int)(slash - path), path) < 0)
		return NULL;
	return d;
}

/* "PATH.tmp.XXXXXX" with a random suffix, created O_EXCL|O_NOFOLLOW.
 * Returns the fd, *tmp its name; with linked_from >= 0, the name is made
 * a hard link of that O_TMPFILE instead (fd is returned unchanged). */
static int named_temp(const char *path, char **tmp, int linked_from)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int tries = 0; tries < 100; tries++) {
		unsigned char rnd[6];
		char suffix[7], proc[32];
		int fd;

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -1;
		for (int i = 0; i < 6; i++)
			suffix[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
		suffix[6] = 0;
		if (asprintf(tmp, "%s.tmp.%s", path, suffix) < 0) {
			*tmp = NULL;
			return -1;
		}
		if (linked_from >= 0) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", linked_from);
			fd = linkat(AT_FDCWD, proc, AT_FDCWD, *tmp, AT_SYMLINK_FOLLOW) < 0 ? -1 : linked_from;
		} else {
			fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		}
		if (fd >= 0)
			return fd;
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int out_file_open(struct out_file *f, const char *path)
{
	struct stat st;
	char *dir;
	int e;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (!path || !strcmp(path, "-")) {
		f->fd = STDOUT_FILENO;
		return 0;
	}
	f->path = final_name(path);
	if (!f->path)
		return -1;
	/* A device or fifo is written in place: a rename would replace it
	 * with a regular file. */
	if (stat(f->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		f->fd = open(f->path, O_WRONLY | O_CLOEXEC);
		e = errno;
		free(f->path);
		f->path = NULL;
		errno = e;
		return f->fd < 0 ? -1 : 0;
	}
	dir = dir_of(f->path);
	if (!dir)
		goto fail;
	/* Unnamed until complete: nothing to clean up after any failure.
	 * Linking it in needs /proc (AT_EMPTY_PATH needs a capability). */
	if (access("/proc/self/fd", X_OK) == 0)
		f->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	e = errno;
	free(dir);
	if (f->fd >= 0) {
		f->unnamed = true;
		return 0;
	}
	if (e == ENOENT || e == EACCES || e == ENOTDIR || e == EROFS) {
		errno = e;
		goto fail;
	}
	f->fd = named_temp(f->path, &f->tmp_path, -1);
	if (f->fd >= 0)
		return 0;
fail:
	e = errno;
	free(f->path);
	f->path = NULL;
	errno = e;
	return -1;
}

static int fsync_dir_of(const char *path)
{
	char *dir = dir_of(path);
	int fd, ret;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int out_file_commit(struct out_file *f)
{
	int ret = 0, e = 0;

	if (!f->path) {
		ret = f->fd == STDOUT_FILENO ? 0 : close(f->fd);
		f->fd = -1;
		return ret;
	}
	if (fsync(f->fd) < 0 && errno != EINVAL)
		ret = -1;
	/* An unnamed file gets a temporary name first: linkat cannot replace
	 * an existing NAME, rename can. */
	if (!ret && f->unnamed && named_temp(f->path, &f->tmp_path, f->fd) < 0)
		ret = -1;
	if (!ret && rename(f->tmp_path, f->path) < 0)
		ret = -1;
	if (!ret && fsync_dir_of(f->path) < 0)
		ret = -1;
	if (ret)
		e = errno;
	if (close(f->fd) < 0 && !ret) {
		ret = -1;
		e = errno;
	}
	if (ret && f->tmp_path)
		unlink(f->tmp_path);
	free(f->path);
	free(f->tmp_path);
	f->path = f->tmp_path = NULL;
	f->fd = -1;
	errno = e;
	return ret;
}

void out_file_abort(struct out_file *f)
{
	if (f->fd >= 0 && f->fd != STDOUT_FILENO)
		close(f->fd);
	if (f->tmp_path)
		unlink(f->tmp_path);
	free(f->path);
	free(f->tmp_path);
	f->path = f->tmp_path = NULL;
	f->fd = -1;
}
