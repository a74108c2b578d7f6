#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# mapped-ram files (QEMU 9.0+: migrate file: with the mapped-ram capability)
# written and read by a real QEMU 10.0, whatever QEMU_BIN says: QEMU 7.2 has
# no mapped-ram. QEMU 10.0 comes from tests/qemu10/fetch (built when its
# cache is missing); without it every test fails saying why.

load lib/qemu

MIGBOX=${MIGBOX:-$BATS_TEST_DIRNAME/../migbox}
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

setup_file() {
	local bin
	bin=$("$BATS_TEST_DIRNAME/qemu10/fetch") ||
		{ echo "tests/qemu10/fetch could not provide QEMU 10.0" >&2; return 1; }
	export QEMU_BIN=$bin/qemu-system-x86_64
}

setup() {
	command -v socat >/dev/null && command -v jq >/dev/null ||
		{ echo "socat or jq not installed: apt-get install socat jq" >&2; return 1; }
	[[ -x $MIGBOX ]] || { echo "no migbox binary at $MIGBOX (make first, or set MIGBOX)" >&2; return 1; }
	[[ $(qemu_version) == 10.0 ]] || { echo "$QEMU_BIN is QEMU $(qemu_version), not 10.0" >&2; return 1; }
	T=$BATS_TEST_TMPDIR
	PATTERN=$T/pattern.img
	make_pattern "$PATTERN" 64 42
}

teardown() {
	qemu_stop_all
}

# save_mapped NAME FILE [CHANNELS]: a paused source over the pattern saves
# itself to FILE with mapped-ram (and multifd with CHANNELS).
save_mapped() {
	local name=$1 file=$2 channels=${3:-}
	qemu_start "$name" --mem 64 --mem-path "$PATTERN" --share off
	if [[ $channels ]]; then
		qmp_migrate_set_caps "$name" mapped-ram=on multifd=on
		qmp_migrate_set_params "$name" multifd-channels="$channels"
	else
		qmp_migrate_set_caps "$name" mapped-ram=on
	fi
	qmp "$name" migrate "$(jq -cn --arg u "file:$file" '{uri: $u}')" >/dev/null
	qmp_wait_migration "$name" >/dev/null
}

# load_mapped NAME FILE IMAGE: a fresh destination with RAM in IMAGE loads
# the mapped-ram FILE (migrate-incoming file:); fails unless it completes.
load_mapped() {
	rm -f "$3"
	qemu_start "$1" --mem 64 --mem-path "$3" --share on --incoming defer
	qmp_migrate_set_caps "$1" mapped-ram=on
	qmp "$1" migrate-incoming "$(jq -cn --arg u "file:$2" '{uri: $u}')" >/dev/null
	qmp_wait_migration "$1" >/dev/null
}

pattern_digest() {
	"$MIGBOX" stream-dump --image-digest "$PATTERN" | awk '{ print $2 }'
}

block_m_digest() {
	awk '$1 == "ram" && $4 == "m" { print $2 }' "$1"
}

@test "mapped-ram (QEMU 10.0): stream-dump reads QEMU's file: mapped-ram named, block m's digest is the pattern's" {
	save_mapped src "$T/saved.mr"
	run "$MIGBOX" stream-dump "$T/saved.mr"
	echo "$output"
	[[ $status == 0 ]]
	[[ $output == *"capabilities mapped-ram"* ]]
	[[ $output == *"mapped-ram: pages stored at fixed offsets"* ]]
	"$MIGBOX" stream-dump --digest "$T/saved.mr" >"$T/dg"
	cat "$T/dg"
	[[ $(block_m_digest "$T/dg") == "$(pattern_digest)" ]]
	# the JSON report: the layout QEMU chose, a MiB-aligned pages region
	"$MIGBOX" stream-dump --json "$T/saved.mr" >"$T/j"
	jq -e '.mapped_ram == true and (.capabilities | index("mapped-ram") != null)' "$T/j"
	jq -e '[.ram_blocks[] | .pages_offset % 1048576 == 0 and .pages_offset > .bitmap_offset] | all' "$T/j"
	# the pattern's zero pages (about 30%) are the ones QEMU did not store
	jq -e '.ram_blocks[] | select(.name == "m") | .zero_records > 4000 and .page_records > 10000 and .page_records + .zero_records == 16384' "$T/j"
}

# Two guests' device states differ (clocks): their RAM digests must not.
@test "mapped-ram (QEMU 10.0): the file and a plain stream of the same RAM have the same RAM digests" {
	save_mapped src "$T/saved.mr"
	qemu_start src2 --mem 64 --mem-path "$PATTERN" --share off
	qemu_save_stream src2 "$T/saved.mig" >/dev/null
	"$MIGBOX" stream-dump --digest "$T/saved.mr" | grep '^ram ' >"$T/mr.dg"
	"$MIGBOX" stream-dump --digest "$T/saved.mig" | grep '^ram ' >"$T/mig.dg"
	(($(wc -l <"$T/mr.dg") >= 5))
	diff -u "$T/mig.dg" "$T/mr.dg"
}

@test "mapped-ram (QEMU 10.0): with multifd (4 channels) QEMU's file reads with the same RAM digests" {
	save_mapped src "$T/one.mr"
	save_mapped src4 "$T/four.mr" 4
	"$MIGBOX" stream-dump --digest "$T/one.mr" | grep '^ram ' >"$T/one.dg"
	"$MIGBOX" stream-dump --digest "$T/four.mr" | grep '^ram ' >"$T/four.dg"
	(($(wc -l <"$T/one.dg") >= 5))
	diff -u "$T/one.dg" "$T/four.dg"
	# and a conversion keeps the whole state
	"$MIGBOX" stream-dump -q --to-stream "$T/four.mig" "$T/four.mr"
	diff -u <("$MIGBOX" stream-dump --digest "$T/four.mr") <("$MIGBOX" stream-dump --digest "$T/four.mig")
}

@test "mapped-ram (QEMU 10.0): QEMU's file -> stream-dump --to-stream -> QEMU loads it (exec:), RAM equal" {
	save_mapped src "$T/saved.mr"
	"$MIGBOX" stream-dump -q --to-stream "$T/plain.mig" "$T/saved.mr"
	run "$MIGBOX" stream-dump "$T/plain.mig"
	[[ $status == 0 && $output != *mapped-ram* ]]
	rm -f "$T/dst.img"
	qemu_start dst --mem 64 --mem-path "$T/dst.img" --share on --incoming defer
	qemu_load_stream dst "$T/plain.mig" >/dev/null
	cmp "$T/dst.img" "$PATTERN"
}

@test "mapped-ram (QEMU 10.0): QEMU's plain stream -> stream-dump --to-mapped-ram -> QEMU migrate-incoming file: with mapped-ram, RAM equal" {
	qemu_start src --mem 64 --mem-path "$PATTERN" --share off
	qemu_save_stream src "$T/saved.mig" >/dev/null
	"$MIGBOX" stream-dump -q --to-mapped-ram "$T/conv.mr" "$T/saved.mig"
	# sparse: the pattern's zero pages are holes
	(($(du -k "$T/conv.mr" | cut -f1) < $(du -k "$PATTERN" | cut -f1)))
	load_mapped dst "$T/conv.mr" "$T/dst.img"
	cmp "$T/dst.img" "$PATTERN"
	"$MIGBOX" stream-dump --digest "$T/saved.mig" >"$T/a.dg"
	"$MIGBOX" stream-dump --digest "$T/conv.mr" >"$T/b.dg"
	diff -u "$T/a.dg" "$T/b.dg"
}

@test "mapped-ram (QEMU 10.0): QEMU's file -> --to-stream -> --to-mapped-ram -> QEMU loads it, RAM equal" {
	save_mapped src "$T/saved.mr"
	"$MIGBOX" stream-dump -q --to-stream "$T/plain.mig" "$T/saved.mr"
	"$MIGBOX" stream-dump -q --to-mapped-ram "$T/again.mr" "$T/plain.mig"
	load_mapped dst "$T/again.mr" "$T/dst.img"
	cmp "$T/dst.img" "$PATTERN"
}

@test "mapped-ram (QEMU 10.0): QEMU's file through a pipe: stream-dump fails naming the cause, no report of success" {
	save_mapped src "$T/saved.mr"
	run bash -c "cat '$T/saved.mr' | '$MIGBOX' stream-dump"
	echo "$output"
	[[ $status == 1 ]]
	[[ $output == *"mapped-ram file is laid out by file offset"*"not from a pipe"* ]]
	# stdin redirected from the file is a file: that works
	run bash -c "'$MIGBOX' stream-dump --digest < '$T/saved.mr'"
	[[ $status == 0 ]]
}

@test "mapped-ram (QEMU 10.0): QEMU's own file -> multifd-send (channels read it) -> a QEMU 10.0 multifd destination, RAM equal" {
	local port
	save_mapped src "$T/saved.mr"
	port=$(free_port)
	rm -f "$T/dst.img"
	qemu_start dst --mem 64 --mem-path "$T/dst.img" --share on --incoming defer
	qmp_migrate_set_caps dst multifd=on
	qmp_migrate_set_params dst multifd-channels=4
	qmp dst migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	timeout 120 "$MIGBOX" multifd-send -c 4 --timeout 60 --stats-json "$T/send.json" "127.0.0.1:$port" <"$T/saved.mr"
	qmp_wait_migration dst 60 >/dev/null
	cmp "$T/dst.img" "$PATTERN"
	jq -e '.mapped_ram_input and .channel_read_bytes > 0 and .zero_pages > 0' "$T/send.json"
}
