#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# mapped-ram files in stream-dump: conversion both ways (equal digests,
# sparse holes, the same file whatever a page's history), the report, and
# bad files (each field of a block's header pointing where it must not, a
# cut file, a pipe), each a clear error, exit 1 and no converted output.
# QEMU 10.0's own files: tests/interop10-mapped-ram.bats.
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	"$MIGBOX" stream-gen -s 5 -b pc.ram:16M -b vga.vram:4M -b rom:64K -i 3 -r 30 \
		-m zero=30,random=30,text=30,repeat=10 --machine pc-i440fx-10.0 -o "$T/in.mig"
	"$MIGBOX" stream-dump -q --to-mapped-ram "$T/in.mr" "$T/in.mig"
}

# header_offset FILE N: the file offset of block N's mapped-ram header
header_offset() {
	"$MIGBOX" stream-dump --json "$1" | jq ".ram_blocks[$2].bitmap_offset - 28"
}

# put_be OFFSET BYTES HEXVALUE FILE: a big-endian field overwritten
put_be() {
	local hex
	hex=$(printf "%0$(($2 * 2))x" "$3")
	printf "$(sed 's/../\\x&/g' <<<"$hex")" |
		dd of="$4" bs=1 seek="$1" conv=notrunc status=none
}

@test "mapped-ram: stream -> mapped-ram -> stream keeps the digests, RAM and state" {
	"$MIGBOX" stream-dump -q --to-stream "$T/back.mig" "$T/in.mr"
	"$MIGBOX" stream-dump --digest "$T/in.mig" >"$T/a"
	"$MIGBOX" stream-dump --digest "$T/in.mr" >"$T/b"
	"$MIGBOX" stream-dump --digest "$T/back.mig" >"$T/c"
	[[ $(grep -c '^ram ' "$T/a") == 3 ]]
	diff -u "$T/a" "$T/b"
	diff -u "$T/a" "$T/c"
	# the plain stream has no mapped-ram left in its configuration
	run "$MIGBOX" stream-dump "$T/back.mig"
	[[ $status == 0 && $output != *mapped-ram* ]]
}

@test "mapped-ram: the report names the layout; pages stored plus zero pages are every page" {
	run "$MIGBOX" stream-dump "$T/in.mr"
	echo "$output"
	[[ $status == 0 ]]
	[[ $output == *"machine pc-i440fx-10.0, capabilities mapped-ram"* ]]
	[[ $output == *"mapped-ram: pages stored at fixed offsets"* ]]
	"$MIGBOX" stream-dump --json "$T/in.mr" >"$T/j"
	jq -e '.mapped_ram == true' "$T/j"
	jq -e '[.ram_blocks[] | .page_records + .zero_records == .length / 4096] | all' "$T/j"
	jq -e '[.ram_blocks[] | .pages_offset % 1048576 == 0] | all' "$T/j"
	"$MIGBOX" stream-dump --json "$T/in.mig" | jq -e '.mapped_ram == false'
	# the map: a mapped-ram file has no never-sent page and no re-sends
	run "$MIGBOX" stream-dump --map --json "$T/in.mr"
	jq -e '[.ram_blocks[].map | .never == 0 and .resent == 0] | all' <<<"$output"
}

@test "mapped-ram: zero pages are holes, and a file is the same whatever its pages' history" {
	local apparent allocated
	apparent=$(stat -c %s "$T/in.mr")
	allocated=$(($(stat -c %b "$T/in.mr") * $(stat -c %B "$T/in.mr")))
	echo "apparent $apparent allocated $allocated"
	((allocated < apparent * 3 / 4))
	# the stream re-sends pages (some turn zero); its plain conversion
	# does not: the two mapped-ram files are byte for byte the same
	"$MIGBOX" stream-dump -q --to-stream "$T/back.mig" "$T/in.mr"
	"$MIGBOX" stream-dump -q --to-mapped-ram "$T/again.mr" "$T/back.mig"
	cmp "$T/in.mr" "$T/again.mr"
}

@test "mapped-ram: header version 2 is refused, naming the block and the version" {
	put_be "$(header_offset "$T/in.mr" 0)" 4 2 "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "mapped-ram header of block 'pc.ram' has version 2, expected 1"
}

@test "mapped-ram: a page size other than the stream's is refused" {
	put_be $(($(header_offset "$T/in.mr" 0) + 4)) 8 8192 "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "says pages of 8192 bytes, the stream's are 4096"
}

@test "mapped-ram: a bitmap past the end of the file is refused" {
	put_be $(($(header_offset "$T/in.mr" 1) + 12)) 8 $((1 << 40)) "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "block 'vga.vram' has its bitmap" "past the end of the file"
}

@test "mapped-ram: a bitmap inside the block's own header is refused" {
	local h
	h=$(header_offset "$T/in.mr" 0)
	put_be $((h + 12)) 8 "$h" "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "inside its own entry or header"
}

@test "mapped-ram: pages overlapping the bitmap are refused" {
	put_be $(($(header_offset "$T/in.mr" 0) + 20)) 8 0 "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "block 'pc.ram' has its pages at 0, overlapping its bitmap"
}

@test "mapped-ram: pages not page aligned are refused" {
	put_be $(($(header_offset "$T/in.mr" 0) + 20)) 8 $(((1 << 20) + 512)) "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "not a multiple of the 4096-byte page"
}

@test "mapped-ram: pages past the end of the file are refused" {
	put_be $(($(header_offset "$T/in.mr" 2) + 20)) 8 $((1 << 40)) "$T/in.mr"
	run "$MIGBOX" stream-dump "$T/in.mr"
	assert_fails_with 1 "block 'rom' has its 65536 bytes of pages at" "past the end of the file"
}

@test "mapped-ram: a file cut in the middle of the pages fails, and converts to nothing" {
	local h pages
	h=$(header_offset "$T/in.mr" 1)
	pages=$("$MIGBOX" stream-dump --json "$T/in.mr" | jq '.ram_blocks[1].pages_offset')
	truncate -s $((pages + 4096)) "$T/in.mr"
	run "$MIGBOX" stream-dump --to-stream "$T/out.mig" "$T/in.mr"
	assert_fails_with 1 "past the end of the file"
	[[ ! -e $T/out.mig ]]
	ls -A "$T" | grep -v tmp >"$T/left" || :
	! grep -q 'out.mig' "$T/left"
}

@test "mapped-ram: read through a pipe it fails naming the cause; stdin from the file works" {
	run bash -c "cat '$T/in.mr' | '$MIGBOX' stream-dump"
	assert_fails_with 1 "a mapped-ram file is laid out by file offset" "not from a pipe"
	run bash -c "'$MIGBOX' stream-dump --digest < '$T/in.mr'"
	[[ $status == 0 ]]
	diff <(echo "$output") <("$MIGBOX" stream-dump --digest "$T/in.mig")
}

@test "mapped-ram: --pass-through of a mapped-ram file fails naming --to-stream" {
	run bash -c "'$MIGBOX' stream-dump -p '$T/in.mr' > '$T/out'"
	assert_fails_with 1 "cannot be passed through" "--to-stream"
}

@test "mapped-ram: --to-mapped-ram to stdout or a pipe, and with --pass-through, are usage errors" {
	run "$MIGBOX" stream-dump --to-mapped-ram - "$T/in.mig"
	assert_fails_with 2 "give a file, not stdout"
	run "$MIGBOX" stream-dump -p --to-stream "$T/x" "$T/in.mig"
	assert_fails_with 2 "--pass-through"
	mkfifo "$T/fifo"
	cat "$T/fifo" >/dev/null &
	run "$MIGBOX" stream-dump --to-mapped-ram "$T/fifo" "$T/in.mig"
	wait
	assert_fails_with 1 "not a regular file"
}

@test "mapped-ram: --to-stream - writes the plain stream to stdout, the report to stderr" {
	"$MIGBOX" stream-dump --to-stream - "$T/in.mr" 2>"$T/report" >"$T/out.mig"
	grep -q "capabilities mapped-ram" "$T/report"
	diff <("$MIGBOX" stream-dump --digest "$T/out.mig") <("$MIGBOX" stream-dump --digest "$T/in.mig")
}

@test "mapped-ram: a page record inside a mapped-ram file is refused" {
	# the plain stream's configuration claims mapped-ram: its first RAM
	# block entry is then read as having a header, which points nowhere
	# sensible, or, failing that, its page records are refused
	local cfg_end
	"$MIGBOX" stream-gen -s 2 -b pc.ram:1M --machine pc-i440fx-10.0 -o "$T/p.mig"
	# configuration: 07 len(4) "pc-i440fx-10.0" at offset 8
	cfg_end=$((8 + 5 + 14))
	{
		head -c "$cfg_end" "$T/p.mig"
		printf '\x05\x1aconfiguration/capabilities\x00\x00\x00\x01\x00\x00\x00\x01\x0amapped-ram'
		tail -c +$((cfg_end + 1)) "$T/p.mig"
	} >"$T/claim.mig"
	run "$MIGBOX" stream-dump "$T/claim.mig"
	assert_fails_with 1 "offset"
	[[ $output == *mapped-ram* ]]
}
