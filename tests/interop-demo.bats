#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# `make demo` (demo/demo.sh) against a real QEMU 7.2: it ends with the RAM
# digests of both sides in a table and "identical", it removes its work
# dir and stops every QEMU and applet it started (also on Ctrl-C), it runs
# as a normal user, and it says what to do when QEMU is missing.
# Needs what the demo needs: qemu-system-x86, socat, jq, binutils
# (./install-deps).

load helpers
load lib/multifd	# wait_for

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}
TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
DEMO=$TOP/demo/demo.sh

setup() {
	T=$BATS_TEST_TMPDIR
	DEMO_PID=
	COPY=
}

teardown() {
	[[ -z $DEMO_PID ]] || kill -KILL -- -"$DEMO_PID" 2>/dev/null || :
	# what a failed test may have left running, found by its directory
	local p
	for p in $(procs_in "$T") $( [[ -z $COPY ]] || procs_in "$COPY"); do
		kill -KILL "$p" 2>/dev/null || :
	done
	[[ -z $COPY ]] || rm -rf "$COPY"
}

# procs_in DIR: the processes whose working directory is DIR or in it, also
# once removed (the demo runs everything in its work dir, in $TMPDIR).
procs_in() {
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		cwd=${cwd% (deleted)}
		[[ $cwd != "$1" && $cwd != "$1"/* ]] || echo "${p#/proc/}"
	done
}

# work_dir: the work dir the demo's output names.
work_dir() {
	sed -n 's/^  work dir  \([^ ]*\) .*/\1/p' <<<"$output"
}

# left_nothing TMP: the demo's work dir in TMP is gone, and nothing runs
# there.
left_nothing() {
	local dir
	dir=$(work_dir)
	[[ $dir == "$1"/migbox-demo.* ]] || { echo "no work dir in $1 in the output" >&2; return 1; }
	[[ ! -e $dir ]] || { echo "$dir is still there" >&2; return 1; }
	! compgen -G "$1/migbox-demo.*" >&2 || { echo "a work dir is left in $1" >&2; return 1; }
	[[ -z $(procs_in "$dir") ]] || { echo "still running in $dir:" >&2; ps -fp "$(procs_in "$dir" | paste -sd,)" >&2; return 1; }
}

# identical_table: every RAM row has a source and a destination digest,
# equal, pc.ram among them, and the result says identical.
identical_table() {
	local rows
	rows=$(grep -E '  [0-9a-f]{32}  [0-9a-f]{32}  [A-Za-z]+$' <<<"$output")
	echo "$rows" >&2
	[[ $(grep -c . <<<"$rows") -ge 6 ]]
	grep -Eq '^  pc\.ram +64 MiB  [0-9a-f]{32}  [0-9a-f]{32}  identical$' <<<"$rows"
	awk '$(NF - 2) != $(NF - 1) || $NF != "identical" { exit 1 }' <<<"$rows"
	grep -qx 'Result: identical. The destination holds, page for page, the RAM the source sent.' <<<"$output"
	! grep -q DIFFERENT <<<"$output"
}

# lazy_restore_shown AS: step 2 ran (the guest running before its RAM was
# in), or, where userfaultfd is closed to user AS, says why not.
lazy_restore_shown() {
	if "${@:2}" "$MIGBOX" postcopy-serve --probe >/dev/null 2>&1; then
		[[ $output =~ to\ running:\ ([0-9]+)\ ms,\ to\ completed:\ ([0-9]+)\ ms ]]
		((BASH_REMATCH[1] < BASH_REMATCH[2]))
		grep -q 'while pages were still missing, QEMU said: running, migration postcopy-active' <<<"$output"
	else
		grep -q 'As root: sysctl vm.unprivileged_userfaultfd=1' <<<"$output"
		grep -q 'Step 2 left out.' <<<"$output"
	fi
}

@test "demo: live migration and lazy restore of a real guest end with identical digests; nothing left behind" {
	TMPDIR=$T run timeout 120 "$DEMO"
	echo "$output"
	assert_ok
	identical_table
	lazy_restore_shown
	left_nothing "$T"
}

@test "demo: runs as a normal user (as nobody when the tests run as root)" {
	local -a as=()
	# a world-readable copy of what the demo uses, and a TMPDIR for it
	COPY=$(mktemp -d /tmp/migbox-demo-test.XXXXXX)
	mkdir -p "$COPY/tests" "$COPY/tmp"
	cp -r "$TOP/demo" "$COPY/"
	cp -r "$TOP/tests/lib" "$COPY/tests/"
	cp "$MIGBOX" "$COPY/migbox"
	chmod -R a+rX "$COPY"
	chmod 1777 "$COPY/tmp"
	[[ $(id -u) != 0 ]] || as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	run timeout 120 "${as[@]}" env TMPDIR="$COPY/tmp" MIGBOX="$COPY/migbox" "$COPY/demo/demo.sh"
	echo "$output"
	assert_ok
	identical_table
	lazy_restore_shown "${as[@]}"
	left_nothing "$COPY/tmp"
}

# interrupt_at PATTERN: start the demo in a session of its own, and once
# its output has PATTERN, Ctrl-C it (SIGINT to its process group, as a
# terminal does): it exits 130 saying so, and leaves nothing behind.
interrupt_at() {
	# a background job ignores SIGINT; perl gives the demo the default back
	# shellcheck disable=SC2016
	TMPDIR=$T setsid perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' "$DEMO" >"$T/out" 2>&1 &
	DEMO_PID=$!
	wait_for 60 grep -q -- "$1" "$T/out"
	kill -INT -- -"$DEMO_PID"
	# shellcheck disable=SC2016
	wait_for 30 eval '! kill -0 "$DEMO_PID" 2>/dev/null'
	status=0
	wait "$DEMO_PID" || status=$?
	DEMO_PID=
	output=$(<"$T/out")
	echo "$output"
	[[ $status == 130 ]]
	grep -q '^migbox demo: interrupted: stopping the guests, removing ' <<<"$output"
	[[ $output != *$'\nResult:'* ]]
	left_nothing "$T"
}

@test "demo: Ctrl-C during the live migration stops the QEMUs and applets and removes the work dir" {
	interrupt_at 'multifd-recv: listening on'
}

@test "demo: Ctrl-C during the lazy restore (or step 3 where there is none) leaves nothing either" {
	if "$MIGBOX" postcopy-serve --probe >/dev/null 2>&1; then
		interrupt_at '\$ migbox postcopy-serve --progress'
	else
		interrupt_at '== 3/3'
	fi
}

@test "demo: without QEMU it says to run ./install-deps, exits 1 and makes no work dir" {
	TMPDIR=$T QEMU_BIN=/nonexistent/qemu-system-x86_64 run "$DEMO"
	assert_fails_with 1 'QEMU (/nonexistent/qemu-system-x86_64) not found: run ./install-deps'
	[[ -z $(compgen -G "$T/migbox-demo.*") ]]
}

@test "demo: make demo builds migbox first, then runs demo/demo.sh with it" {
	run make -C "$TOP" -n demo
	assert_ok
	[[ $(make -C "$TOP" -p -n demo 2>/dev/null | sed -n 's/^demo: *//p') == *migbox* ]]
	grep -q 'demo/demo.sh' <<<"$output"
}
