#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# stream-dump against streams written and read by a real QEMU 7.2 (TCG, -S
# guests, -m 64, RAM from a memory-backend-file `m` holding a pattern).
# Needs qemu-system-x86, socat, jq (.ci/run installs them); without them
# every test fails saying what to install. Nothing is skipped.

load lib/qemu

MIGBOX=${MIGBOX:-$BATS_TEST_DIRNAME/../migbox}
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

setup() {
	if ! command -v "$QEMU_BIN" >/dev/null || ! command -v socat >/dev/null ||
		! command -v jq >/dev/null; then
		fail_now "$QEMU_BIN, socat or jq not installed: apt-get install qemu-system-x86 socat jq"
	fi
	T=$BATS_TEST_TMPDIR
	PATTERN=$T/pattern.img
	STREAM=$T/stream.bin
	make_pattern "$PATTERN" 64 42
	qemu_start src --mem 64 --mem-path "$PATTERN" --share off
	qemu_save_stream src "$STREAM" >/dev/null
}

teardown() {
	qemu_stop_all
}

fail_now() {
	echo "$*" >&2
	return 1
}

need_migbox() {
	[[ -x $MIGBOX ]] || fail_now "no migbox binary at $MIGBOX (make first, or set MIGBOX)"
}

# load_into_fresh_qemu NAME STREAM IMAGE: a -incoming defer guest whose RAM is
# a new shared file IMAGE, fed STREAM; fails unless it completes.
load_into_fresh_qemu() {
	rm -f "$3"
	qemu_start "$1" --mem 64 --mem-path "$3" --share on --incoming defer
	qemu_load_stream "$1" "$2" >/dev/null
}

@test "qemu: the saved stream is a QEVM v3 stream that loads back" {
	[[ $(head -c 8 "$STREAM" | od -An -tx1 | tr -d ' \n') == 5145564d00000003 ]]
	qemu_start dst --mem 64 --mem-path "$T/dst.img" --share on \
		--incoming "$(qemu_exec_uri cat "$STREAM")"
	qmp_wait_migration dst >/dev/null
	cmp "$T/dst.img" "$PATTERN"
}

@test "stream-dump --json lists the RAM blocks QEMU reports" {
	need_migbox
	qemu_ram_blocks src --dec >"$T/qemu-blocks"
	"$MIGBOX" stream-dump --json "$STREAM" >"$T/dump.json"
	jq -r '.ram_blocks[] | "\(.name) \(.length)"' "$T/dump.json" >"$T/dump-blocks"
	diff -u "$T/qemu-blocks" "$T/dump-blocks"
	jq -e '.sections | length > 0' "$T/dump.json" >/dev/null
}

@test "stream-dump --digest of block m equals --image-digest of the pattern" {
	need_migbox
	"$MIGBOX" stream-dump --digest "$STREAM" >"$T/digest"
	cat "$T/digest"
	# Format: one ram line per block QEMU has, one state line.
	[[ $(grep -cEv '^ram [0-9a-f]{32} [0-9]+ [^ ]+$|^state [0-9a-f]{32}$' "$T/digest") == 0 ]]
	[[ $(grep -c '^state ' "$T/digest") == 1 ]]
	[[ $(grep -c '^ram ' "$T/digest") == $(qemu_ram_blocks src | wc -l) ]]

	"$MIGBOX" stream-dump --image-digest "$PATTERN" >"$T/image-digest"
	cat "$T/image-digest"
	read -r _ want_digest want_len _ <"$T/image-digest"
	[[ $want_len == $((64 << 20)) ]]
	[[ $(awk '$1 == "ram" && $4 == "m" { print $2, $3 }' "$T/digest") == "$want_digest $want_len" ]]
}

@test "stream-dump --digest of pc.bios equals the BIOS QEMU maps below 4 GiB" {
	need_migbox
	qemu_pmemsave src 0xfffc0000 0x40000 "$T/bios.img"
	"$MIGBOX" stream-dump --digest "$STREAM" >"$T/digest"
	"$MIGBOX" stream-dump --image-digest "$T/bios.img" >"$T/image-digest"
	cat "$T/digest" "$T/image-digest"
	read -r _ want_digest want_len _ <"$T/image-digest"
	[[ $(awk '$1 == "ram" && $4 == "pc.bios" { print $2, $3 }' "$T/digest") == "$want_digest $want_len" ]]
}

@test "stream-dump -p copies the stream byte for byte" {
	need_migbox
	"$MIGBOX" stream-dump -p "$STREAM" >"$T/pass.bin"
	cmp "$STREAM" "$T/pass.bin"
}

@test "stream-dump -p output loads into a fresh QEMU with RAM equal to the pattern" {
	need_migbox
	"$MIGBOX" stream-dump -p "$STREAM" >"$T/pass.bin"
	load_into_fresh_qemu dst "$T/pass.bin" "$T/dst.img"
	cmp "$T/dst.img" "$PATTERN"
	# Guest-physical view too: 1 MiB..16 MiB is plain RAM on pc.
	qemu_pmemsave dst 0x100000 0xf00000 "$T/pmem.bin"
	cmp -n $((0xf00000)) -i 0:$((0x100000)) "$T/pmem.bin" "$PATTERN"
}

@test "qemu: a stream truncated in the middle fails to load" {
	head -c $(($(stat -c %s "$STREAM") / 2)) "$STREAM" >"$T/half.bin"
	rm -f "$T/dst.img"
	qemu_start dst --mem 64 --mem-path "$T/dst.img" --share on --incoming defer
	run qemu_load_stream dst "$T/half.bin" 60
	echo "$output"
	[[ $status != 0 ]]
	[[ $output == *'QEMU exited with status 1'* || $output == *'migration failed'* ]]
}

@test "stream-dump rejects a stream truncated in the middle" {
	need_migbox
	head -c $(($(stat -c %s "$STREAM") / 2)) "$STREAM" >"$T/half.bin"
	run "$MIGBOX" stream-dump --digest "$T/half.bin"
	echo "$output"
	[[ $status != 0 ]]
}
