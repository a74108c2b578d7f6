// SPDX-License-Identifier: GPL-3.0-or-later
/* migbox: the multi-call binary. Dispatches on argv[0] (a link named after
 * an applet) or on its first argument, and installs the links. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "log.h"
#include "opts.h"

struct applet {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);	/* NULL: not built yet */
	const struct applet_help *help;
};

#define APPLET_ENTRY(id, name, summary) { name, summary, id##_main, &id##_help },
#define PLANNED_ENTRY(name, summary) { name, summary, NULL, NULL },
static const struct applet applets[] = {
	APPLET_TABLE(APPLET_ENTRY, PLANNED_ENTRY)
};
#define NAPPLETS (sizeof(applets) / sizeof(applets[0]))

static const char migbox_usage[] =
"usage: migbox APPLET [ARGS...]\n"
"       migbox --list [--all]\n"
"       migbox --install [-s] DIR\n"
"       migbox --man [APPLET]\n"
"       migbox --options APPLET\n"
"\n"
"QEMU live-migration transports and helpers as one binary. Each applet\n"
"reads or writes QEMU's own migration stream (QEVM version 3) on stdin or\n"
"stdout, so they compose in pipelines and with QEMU's exec: migration URIs.\n"
"An applet also runs when the binary is called through a link of its name.\n"
"\n"
"  --list            list the built applets (--all: also those not built yet)\n"
"  --install [-s] DIR\n"
"                    make a hard link (-s: symbolic link) per applet in DIR\n"
"  --man [APPLET]    print the man page of migbox or of APPLET (roff)\n"
"  --options APPLET  APPLET's options, one a line, for the bash completion\n"
"  --help            this text; APPLET --help for an applet's\n"
"  --version         print the version\n"
"\n"
"Exit status: 0 success, 1 runtime failure, 2 usage error; an applet ended\n"
"by SIGINT, SIGTERM or SIGHUP cleans up, then dies of that signal.\n";

#ifndef MIGBOX_VERSION
#define MIGBOX_VERSION "0.1"
#endif

static const struct applet_help migbox_help = { .text = migbox_usage };
static const struct applet_help *current_help = &migbox_help;

void applet_help(void)
{
	applet_help_print(stdout, current_help);
	exit(stdout_finish("the usage text"));
}

static _Noreturn void print_version(void)
{
	printf("migbox %s\n", MIGBOX_VERSION);
	exit(stdout_finish("the version"));
}

static const struct applet *applet_find(const char *name)
{
	for (size_t i = 0; i < NAPPLETS; i++)
		if (!strcmp(applets[i].name, name))
			return &applets[i];
	return NULL;
}

static int run_applet(const struct applet *a, int argc, char **argv)
{
	log_set_prog(a->name);
	if (!a->main) {
		msg("not built yet (planned for a later release of migbox)");
		return EXIT_USAGE;
	}
	current_help = a->help;
	if (argc > 1 && !strcmp(argv[1], "--help"))
		applet_help();
	if (argc > 1 && !strcmp(argv[1], "--version"))
		print_version();
	return a->main(argc, argv);
}

static int list_applets(bool all)
{
	for (size_t i = 0; i < NAPPLETS; i++)
		if (all || applets[i].main)
			printf("%s\n", applets[i].name);
	return stdout_finish("the applet list");
}

static int install_links(int argc, char **argv)
{
	bool symbolic = false;
	const char *dir;
	char self[PATH_MAX];
	ssize_t n;
	int failed = 0;

	if (argc > 2 && !strcmp(argv[2], "-s")) {
		symbolic = true;
		argv++;
		argc--;
	}
	if (argc != 3)
		die_usage("--install takes [-s] DIR");
	dir = argv[2];
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die_errno("cannot find my own path (/proc/self/exe)");
	self[n] = 0;
	for (size_t i = 0; i < NAPPLETS; i++) {
		char path[PATH_MAX];

		if (!applets[i].main)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, applets[i].name) >= (int)sizeof(path))
			die("path too long: %s/%s", dir, applets[i].name);
		unlink(path);
		if ((symbolic ? symlink(self, path) : link(self, path)) < 0) {
			msg("cannot create %s: %s", path, strerror(errno));
			failed = 1;
		}
	}
	return failed ? EXIT_FAIL : EXIT_OK;
}

/* roff text: a leading '.' or '\'' and backslashes must be escaped. */
static void roff_line(const char *s, size_t n)
{
	if (n && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", stdout);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", stdout);
		else if (s[i] == '-')
			fputs("\\-", stdout);
		else
			fputc(s[i], stdout);
	}
	fputc('\n', stdout);
}

/* A man page made from the help text: "usage:" lines are the synopsis,
 * lines indented with "  -" are options, the rest is description. */
static void print_man(const char *name, const char *summary, const struct applet_help *help)
{
	char *usage = NULL;
	size_t usage_len = 0;
	FILE *f = open_memstream(&usage, &usage_len);
	const char *p;
	bool in_opts = false;
	char upper[64];
	size_t i;

	if (!f)
		die_errno("the man page");
	applet_help_print(f, help);
	if (fclose(f) != 0)
		die_errno("the man page");
	p = usage;
	for (i = 0; name[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	upper[i] = 0;
	printf(".TH %s 1 \"\" \"migbox\" \"User Commands\"\n", upper);
	printf(".SH NAME\n%s \\- %s\n.SH SYNOPSIS\n.nf\n", name, summary);
	/* The synopsis is everything up to the first empty line. */
	while (*p && *p != '\n') {
		const char *eol = strchrnul(p, '\n');
		size_t n = (size_t)(eol - p);

		if (n > 7 && (!strncmp(p, "usage: ", 7) || !strncmp(p, "       ", 7)))
			roff_line(p + 7, n - 7);
		else
			roff_line(p, n);
		p = *eol ? eol + 1 : eol;
	}
	if (*p == '\n')
		p++;
	printf(".fi\n.SH DESCRIPTION\n");
	while (*p) {
		const char *eol = strchrnul(p, '\n');
		size_t n = (size_t)(eol - p);

		size_t indent = strspn(p, " ");

		/* option lines: "  -x, --long ARG   text" or "      --long" */
		if (indent >= 2 && indent <= 6 && indent < n && p[indent] == '-') {
			const char *opt = p + indent;
			const char *gap = strstr(opt, "  ");

			if (!in_opts)
				printf(".SH OPTIONS\n");
			in_opts = true;
			printf(".TP\n");
			if (gap && gap < eol) {
				roff_line(opt, (size_t)(gap - opt));
				while (gap < eol && *gap == ' ')
					gap++;
				roff_line(gap, (size_t)(eol - gap));
			} else {
				roff_line(opt, (size_t)(eol - opt));
			}
		} else if (n == 0) {
			printf(in_opts ? "" : ".PP\n");
		} else {
			const char *t = p;

			while (t < eol && *t == ' ')
				t++;
			if (in_opts && t - p < 4 && t < eol) {
				/* a heading after the options: back to prose */
				in_opts = false;
				printf(".PP\n");
			}
			roff_line(t, (size_t)(eol - t));
		}
		p = *eol ? eol + 1 : eol;
	}
	if (!strcmp(name, "migbox")) {
		printf(".SH APPLETS\n");
		for (i = 0; i < NAPPLETS; i++)
			printf(".TP\n.B %s\n%s%s\n", applets[i].name, applets[i].summary,
			       applets[i].main ? "" : " (not built yet)");
	}
	printf(".SH EXIT STATUS\n0 success, 1 runtime failure, 2 usage error. An applet ended by\n"
	       "SIGINT, SIGTERM or SIGHUP first cleans up (temporary files, devices,\n"
	       "connections), then dies of that signal: a shell sees 128 + its number.\n"
	       "SIGPIPE is ignored: a closed pipe is a write error, exit 1.\n");
	printf(".SH SEE ALSO\n.BR migbox (1)\n");
	free(usage);
}

static int man_page(int argc, char **argv)
{
	const struct applet *a;

	if (argc < 3) {
		print_man("migbox", "QEMU live-migration transports and helpers", &migbox_help);
		return stdout_finish("the man page");
	}
	a = applet_find(argv[2]);
	if (!a)
		die_usage("no applet named '%s'", argv[2]);
	if (!a->main)
		die_usage("%s is not built yet", a->name);
	print_man(a->name, a->summary, a->help);
	return stdout_finish("the man page");
}

/* For the bash completion: the applet's options from its table. */
static int options_of(int argc, char **argv)
{
	const struct applet *a;

	if (argc != 3)
		die_usage("--options takes one APPLET");
	a = applet_find(argv[2]);
	if (!a || !a->main)
		die_usage("no built applet named '%s'", argv[2]);
	applet_help_complete(stdout, a->help);
	return stdout_finish("the options");
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	const struct applet *a;

	name = name ? name + 1 : argv[0];
	a = applet_find(name);
	if (a)
		return run_applet(a, argc, argv);

	log_set_prog("migbox");
	if (argc < 2)
		die_usage("no applet given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		applet_help();
	if (!strcmp(argv[1], "--version"))
		print_version();
	if (!strcmp(argv[1], "--list"))
		return list_applets(argc > 2 && !strcmp(argv[2], "--all"));
	if (!strcmp(argv[1], "--install"))
		return install_links(argc, argv);
	if (!strcmp(argv[1], "--man"))
		return man_page(argc, argv);
	if (!strcmp(argv[1], "--options"))
		return options_of(argc, argv);
	a = applet_find(argv[1]);
	if (!a)
		die_usage("unknown applet '%s' (see migbox --list)", argv[1]);
	return run_applet(a, argc - 1, argv + 1);
}
