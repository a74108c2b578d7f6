#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# The multi-call binary: dispatch, --list, --install, --help, exit codes.
load helpers

@test "migbox --list names the built applets, sorted" {
	run mb --list
	assert_ok
	[[ $output == *stream-dump* && $output == *stream-gen* ]]
	[[ $output == "$(printf '%s\n' "$output" | sort)" ]]
}

@test "a list, help or man page that cannot be written is exit 1, saying so" {
	run bash -c "'$MIGBOX' --list >/dev/full"
	assert_fails_with 1 "migbox: writing the applet list to stdout: No space left on device"
	run bash -c "'$MIGBOX' stream-dump --help >/dev/full"
	assert_fails_with 1 "stream-dump: writing the usage text to stdout: No space left on device"
	run bash -c "'$MIGBOX' --man stream-gen >/dev/full"
	assert_fails_with 1 "writing the man page to stdout"
}

@test "migbox --list and --list --all name every applet" {
	run mb --list
	assert_ok
	[[ $output == *pvrdma-mux* && $output == *postcopy-serve* ]]
	run mb --list --all
	assert_ok
	[[ $output == *pvrdma-mux* && $output == *postcopy-serve* ]]
}

@test "an applet runs as 'migbox APPLET' and through a link of its name" {
	ln -s "$MIGBOX" "$BATS_TEST_TMPDIR/stream-gen"
	"$BATS_TEST_TMPDIR/stream-gen" -b r:64K > "$BATS_TEST_TMPDIR/a"
	mb stream-gen -b r:64K > "$BATS_TEST_TMPDIR/b"
	cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
}

@test "--install makes hard links, --install -s symbolic ones, for built applets only" {
	mkdir "$BATS_TEST_TMPDIR/h" "$BATS_TEST_TMPDIR/s"
	run mb --install "$BATS_TEST_TMPDIR/h"
	assert_ok
	[[ -f $BATS_TEST_TMPDIR/h/stream-dump && ! -L $BATS_TEST_TMPDIR/h/stream-dump ]]
	run mb --install -s "$BATS_TEST_TMPDIR/s"
	assert_ok
	[[ -L $BATS_TEST_TMPDIR/s/stream-dump ]]
	for a in $(mb --list); do [[ -e $BATS_TEST_TMPDIR/s/$a ]]; done
	run "$BATS_TEST_TMPDIR/s/stream-dump" --help
	assert_ok
	[[ $output == *"usage: stream-dump"* ]]
}

@test "--install into a missing directory fails with the path" {
	run mb --install "$BATS_TEST_TMPDIR/nope"
	assert_fails_with 1 "cannot create $BATS_TEST_TMPDIR/nope/stream-dump"
}

@test "unknown applet, no applet, bad option: exit 2" {
	run mb frobnicate
	assert_fails_with 2 "unknown applet 'frobnicate'"
	run mb
	assert_fails_with 2 "no applet given"
	run mb stream-dump --no-such-option
	assert_fails_with 2 "Try 'stream-dump --help'"
}

@test "--help and --version for migbox and for every applet" {
	run mb --help
	assert_ok
	[[ $output == *"usage: migbox APPLET"* ]]
	run mb --version
	assert_ok
	[[ $output == "migbox "* ]]
	for a in $(mb --list); do
		run mb "$a" --help
		assert_ok
		[[ $output == *"usage: $a"* ]]
		run mb "$a" --version
		assert_ok
		[[ $output == "migbox "* ]]
	done
}

@test "--man makes a man page per applet from the same table" {
	for a in migbox $(mb --list); do
		if [[ $a == migbox ]]; then run mb --man; else run mb --man "$a"; fi
		assert_ok
		[[ $output == *".SH NAME"* && $output == *".SH SYNOPSIS"* ]]
	done
	if command -v man >/dev/null; then
		mb --man stream-dump > "$BATS_TEST_TMPDIR/s.1"
		run man -l "$BATS_TEST_TMPDIR/s.1"
		assert_ok
	fi
}

@test "bash completion offers applets and their options" {
	run bash -c "
		source '$BATS_TEST_DIRNAME/../completions/migbox.bash'
		migbox() { '$MIGBOX' \"\$@\"; }
		COMP_WORDS=(migbox stream-d); COMP_CWORD=1; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(migbox stream-dump --dig); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(stream-gen --ra); COMP_CWORD=1; _migbox; echo \"\${COMPREPLY[*]}\""
	assert_ok
	[[ ${lines[0]} == stream-dump ]]
	[[ ${lines[1]} == --digest ]]
	[[ ${lines[2]} == --raw ]]
}

@test "bash completion takes option arguments from the applets' option tables" {
	run bash -c "
		source '$BATS_TEST_DIRNAME/../completions/migbox.bash'
		migbox() { '$MIGBOX' \"\$@\"; }
		cd '$BATS_TEST_TMPDIR' && touch out.mig
		COMP_WORDS=(multifd-send -z ''); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(migbox multifd-recv --compress zs); COMP_CWORD=3; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(stream-dump --color = a); COMP_CWORD=3; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(multifd-recv -o out.); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(pvrdma-mux --socket-group roo); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(multifd-send --channels ''); COMP_CWORD=2; _migbox; echo \"[\${COMPREPLY[*]}]\"
		COMP_WORDS=(migbox --man postcopy-s); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\""
	assert_ok
	[[ ${lines[0]} == 'none zlib zstd' ]]
	[[ ${lines[1]} == zstd ]]
	[[ ${lines[2]} == 'auto always' ]]
	[[ ${lines[3]} == out.mig ]]
	[[ ${lines[4]} == root ]]
	[[ ${lines[5]} == '[]' ]]
	[[ ${lines[6]} == postcopy-serve ]]
}

@test "--options lists each applet's table: every option of --help, and only those" {
	local a
	for a in $(mb --list); do
		run mb --options "$a"
		assert_ok
		# "-x --name KIND" or "- --name KIND"; an option line of --help is
		# "  -x, --name" or "      --name" (a wrapped help line is deeper)
		[[ -z $(grep -Ev '^(-[a-zA-Z]|-) --[a-z][a-z0-9-]* (-|@file|@dir|@group|@value|[a-z0-9,]+)$' <<<"$output") ]]
		diff <(awk '{ print $2 }' <<<"$output" | sort) \
			<(mb "$a" --help | grep -oE '^(  -[a-zA-Z], |      )--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort)
	done
	run mb --options no-such-applet
	assert_fails_with 2 "no built applet named 'no-such-applet'"
}

@test "the committed man pages are what --man makes (run make man after changing a usage text)" {
	for a in migbox $(mb --list); do
		if [[ $a == migbox ]]; then mb --man > "$BATS_TEST_TMPDIR/p"; else mb --man "$a" > "$BATS_TEST_TMPDIR/p"; fi
		diff -u "$BATS_TEST_DIRNAME/../man/$a.1" "$BATS_TEST_TMPDIR/p"
	done
}

@test "licence: LICENSE is the GPL version 3, and every source file says GPL-3.0-or-later" {
	local top=$BATS_TEST_DIRNAME/.. f missing=()
	grep -q 'GNU GENERAL PUBLIC LICENSE' "$top/LICENSE"
	grep -q 'Version 3, 29 June 2007' "$top/LICENSE"
	while read -r f; do
		case $f in man/*|*.md|*.json|.gitignore|LICENSE) continue ;; esac
		head -n 2 "$top/$f" | grep -q 'SPDX-License-Identifier: GPL-3.0-or-later' || missing+=("$f")
	done < <(git -C "$top" ls-files)
	((${#missing[@]} == 0)) || { printf 'no SPDX line: %s\n' "${missing[@]}" >&2; false; }
}

@test "make install: the binary, a link per applet, man pages, completion, and the README, LICENSE and stats schema under share/doc" {
	local top=$BATS_TEST_DIRNAME/.. d=$BATS_TEST_TMPDIR/inst
	make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >/dev/null
	[[ -x $d/usr/bin/migbox && -L $d/usr/bin/stream-dump ]]
	[[ -s $d/usr/share/man/man1/stream-dump.1 && -s $d/usr/share/bash-completion/completions/migbox ]]
	for f in README.md LICENSE stats-json.md stats-json.schema.json; do
		[[ -s $d/usr/share/doc/migbox/$f ]]
	done
	cmp "$d/usr/share/doc/migbox/LICENSE" "$top/LICENSE"
}

