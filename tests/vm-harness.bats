#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# tests/vm-harness.bats - tests/vm/run itself: arguments, files in and out,
# exit status, time limit, kernel panic. Uses the selftest scenario.

setup_file()
{
	export VM_RUN="$BATS_TEST_DIRNAME/vm/run"
}

vm()
{
	run "$VM_RUN" "$@"
	echo "$output"
}

@test "vm/run: arguments, --add and --out reach the scenario and come back" {
	local in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
	head -c 100000 /dev/urandom >"$in"
	vm --add "$in:/data/in.bin" --out "$out" selftest run sh -c '
		for a in "$@"; do echo "<$a>"; done
		sha256sum /data/in.bin
		. /scenarios/lib.sh
		vm_export /data/in.bin back.bin' sh 'a b' "it's" '' '$HOME'
	[ "$status" -eq 0 ]
	[ "$(grep '^<' <<<"$output")" = "$(printf '%s\n' '<a b>' "<it's>" '<>' '<$HOME>')" ]
	grep -q "^$(sha256sum <"$in" | cut -d' ' -f1)  /data/in.bin$" <<<"$output"
	cmp "$in" "$out/back.bin"
	[[ $output != *MIGBOX-VM-FILE* ]]
}

@test "vm/run: exits with the scenario's status and shows the kernel's messages" {
	vm selftest run sh -c 'echo "before failing" && echo "migbox-test-kmsg" >/dev/kmsg && exit 3'
	[ "$status" -eq 3 ]
	grep -qx 'before failing' <<<"$output"
	grep -q 'guest kernel log' <<<"$output"
	grep -q 'migbox-test-kmsg' <<<"$output"
}

@test "vm/run: --timeout stops a hung scenario with status 124" {
	vm --timeout 6 selftest sleep 60
	[ "$status" -eq 124 ]
	grep -q 'timed out after 6 s' <<<"$output"
}

@test "vm/run: a kernel panic fails the run with a clear message" {
	vm selftest panic
	[ "$status" -eq 125 ]
	grep -q 'without an exit status: Kernel panic' <<<"$output"
}

@test "vm/run: a missing migbox-static asks for make static" {
	MIGBOX_STATIC=$BATS_TEST_TMPDIR/none vm selftest uptime
	[ "$status" -eq 125 ]
	grep -q "run 'make static'" <<<"$output"
}
