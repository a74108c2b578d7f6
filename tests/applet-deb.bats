#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# make deb's packages (packaging/mkdeb), installed with dpkg into a clean
# directory tree, and the initramfs-tools hook run with initramfs-tools'
# own hook functions.

setup_file()
{
	export TOP=$BATS_TEST_DIRNAME/.. DEBS=$BATS_FILE_TMPDIR/deb ROOT=$BATS_FILE_TMPDIR/root
	make -s -C "$TOP" migbox migbox-static man >&2 || return 1
	"$TOP/packaging/mkdeb" "$DEBS" >"$BATS_FILE_TMPDIR/mkdeb.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/mkdeb.out" >&2; return 1; }
	# a dpkg database of its own: nothing else is installed in that tree
	mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates"
	: >"$ROOT/var/lib/dpkg/status"
	# --force-depends: the tree has no libc; the dynamic binary runs with
	# the host's libraries
	dpkg --root="$ROOT" --log=/dev/null --force-depends -i "$DEBS"/*.deb \
		>"$BATS_FILE_TMPDIR/dpkg.out" 2>&1 || { cat "$BATS_FILE_TMPDIR/dpkg.out" >&2; return 1; }
}

@test "deb: two packages, migbox with its libraries as Depends, migbox-static with none" {
	local dyn static
	dyn=$(ls "$DEBS"/migbox_*.deb) static=$(ls "$DEBS"/migbox-static_*.deb)
	[[ $(dpkg-deb -f "$dyn" Architecture) == $(dpkg --print-architecture) ]]
	dpkg-deb -f "$dyn" Depends | grep -q 'libc6 (>= '
	dpkg-deb -f "$dyn" Depends | grep -q 'libibverbs1'
	dpkg-deb -f "$dyn" Depends | grep -q 'libzstd1'
	[[ -z $(dpkg-deb -f "$static" Depends) ]]
	[[ $(dpkg-deb -f "$dyn" Version) == $(dpkg-deb -f "$static" Version) ]]
	[[ $(dpkg-deb -f "$dyn" Version) =~ ^0\.1\+[0-9]+\.g[0-9a-f]+$ ]]
}

@test "deb: dpkg installed both into the clean tree and lists their files" {
	dpkg --root="$ROOT" -s migbox | grep -qx 'Status: install ok installed'
	dpkg --root="$ROOT" -s migbox-static | grep -qx 'Status: install ok installed'
	dpkg --root="$ROOT" -L migbox | grep -qx /usr/bin/migbox
	dpkg --root="$ROOT" -L migbox-static | grep -qx /usr/bin/migbox-static
	# dpkg's own check of what it unpacked against the md5sums
	run dpkg --root="$ROOT" --verify migbox migbox-static
	[[ $status -eq 0 && -z $output ]]
}

@test "deb: migbox --list from the installed tree, a link per applet, each applet runs through its link" {
	local a
	run "$ROOT/usr/bin/migbox" --list
	[[ $status -eq 0 ]]
	[[ $output == "$("$TOP/migbox" --list)" ]]
	[[ $(wc -l <<<"$output") -ge 10 ]]
	for a in $output; do
		[[ $(readlink "$ROOT/usr/bin/$a") == migbox ]]
		"$ROOT/usr/bin/$a" --help | grep -q "^usage: $a"
	done
	"$ROOT/usr/bin/stream-gen" -s 1 -b pc.ram:1M | "$ROOT/usr/bin/stream-dump" --digest >"$BATS_TEST_TMPDIR/dg"
	grep -q '^ram [0-9a-f]* 1048576 pc.ram$' "$BATS_TEST_TMPDIR/dg"
}

@test "deb: a man page per applet and for migbox, bash completion under every name, README and the stats schema" {
	local a
	for a in migbox $("$TOP/migbox" --list); do
		zcat "$ROOT/usr/share/man/man1/$a.1.gz" | grep -q '^\.TH '
		[[ -e $ROOT/usr/share/bash-completion/completions/$a ]]
	done
	grep -q 'complete' "$ROOT/usr/share/bash-completion/completions/migbox"
	zcat "$ROOT/usr/share/doc/migbox/README.md.gz" | grep -q '^# migbox'
	[[ -s $ROOT/usr/share/doc/migbox/copyright && -s $ROOT/usr/share/doc/migbox/stats-json.md ]]
	python3 -m json.tool "$ROOT/usr/share/doc/migbox/stats-json.schema.json" >/dev/null
}

@test "deb: migbox-static is static and runs with an empty environment" {
	file -L "$ROOT/usr/bin/migbox-static" | grep -q 'statically linked'
	run env -i "$ROOT/usr/bin/migbox-static" --list
	[[ $status -eq 0 && $output == "$("$TOP/migbox" --list)" ]]
	env -i "$ROOT/usr/bin/migbox-static" stream-gen -s 2 -b pc.ram:64K |
		env -i "$ROOT/usr/bin/migbox-static" stream-dump -q
}

@test "initramfs hook: with initramfs-tools' hook functions, migbox-static and its applet links land in the image tree" {
	local hook=$ROOT/usr/share/doc/migbox-static/examples/initramfs-tools/hooks/migbox dest=$BATS_TEST_TMPDIR/initramfs a
	[[ -f /usr/share/initramfs-tools/hook-functions ]] ||
		{ echo "no initramfs-tools hook functions: run ./install-deps (initramfs-tools-core)"; false; }
	cmp "$hook" "$TOP/packaging/initramfs-tools/hooks/migbox"
	[[ $(sh "$hook" prereqs) == '' ]]
	# as mkinitramfs runs a hook: DESTDIR the image tree, /bin -> usr/bin
	mkdir -p "$dest/usr/bin"
	ln -s usr/bin "$dest/bin"
	DESTDIR=$dest MIGBOX_STATIC=$ROOT/usr/bin/migbox-static verbose=n sh "$hook"
	file -L "$dest/bin/migbox" | grep -q 'statically linked'
	for a in $("$TOP/migbox" --list); do
		[[ $(readlink "$dest/usr/bin/$a") == migbox ]]
	done
	env -i "$dest/bin/stream-gen" --help | grep -q '^usage: stream-gen'
	# a missing binary is an error that says what to install
	run env DESTDIR="$dest" MIGBOX_STATIC=/nonexistent verbose=n sh "$hook"
	[[ $status -eq 1 && $output == *"install migbox-static"* ]]
}

@test "deb: the copyright file is GPL-3.0+ (machine-readable), and migbox-static's names what it links" {
	local c=$ROOT/usr/share/doc/migbox/copyright cs=$ROOT/usr/share/doc/migbox-static/copyright
	head -n 1 "$c" | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/'
	grep -qx 'License: GPL-3.0+' "$c"
	grep -q '/usr/share/common-licenses/GPL-3' "$c"
	grep -qx 'License: GPL-3.0+' "$cs"
	grep -q 'readline (GPL-3.0+)' "$cs"
	# every paragraph line after the first is indented, as the format wants
	! grep -qE '^(This|On Debian|but WITHOUT)' "$c" "$cs"
}

