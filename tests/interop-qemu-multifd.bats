#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# multifd-send and multifd-recv against a real QEMU (TCG, -S guests,
# -m 64, RAM from a memory-backend-file `m` holding a known pattern), both
# ways, for none/zlib/zstd and several channel counts. Run against QEMU 7.2
# and, with QEMU_BIN naming it, 10.0 (make check runs both): 10.0's -M pc
# syncs once a round (MULTIFD_FLUSH) and lists zero pages in the packets.
# Needs qemu-system-x86, socat, jq (./install-deps installs them); without
# them every test fails saying what to install. Nothing is skipped.

load helpers
load lib/qemu

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}
UUID=6ba7b810-9dad-11d1-80b4-00c04fd430c8

have_qemu() {
	command -v "$QEMU_BIN" >/dev/null && command -v socat >/dev/null &&
		command -v jq >/dev/null
}

setup_file() {
	have_qemu || { echo "$QEMU_BIN, socat or jq not installed: run ./install-deps" >&2; return 1; }
	# One pattern and one stream saved by QEMU (no multifd) for all tests.
	export QEMU_RUN_DIR=$BATS_FILE_TMPDIR
	make_pattern "$BATS_FILE_TMPDIR/pattern.img" 64 42
	qemu_start saver --mem 64 --mem-path "$BATS_FILE_TMPDIR/pattern.img" --share off
	qemu_save_stream saver "$BATS_FILE_TMPDIR/saved.bin" >/dev/null
	qemu_stop_all
}

setup() {
	export QEMU_RUN_DIR=$BATS_TEST_TMPDIR
	T=$BATS_TEST_TMPDIR
	PATTERN=$BATS_FILE_TMPDIR/pattern.img
	SAVED=$BATS_FILE_TMPDIR/saved.bin
	RECV_JOB=
}

teardown() {
	[[ -z $RECV_JOB ]] || kill "$RECV_JOB" 2>/dev/null || :
	qemu_stop_all
}

# multifd_caps NAME CHANNELS COMPRESSION: turn multifd on in guest NAME.
multifd_caps() {
	qmp_migrate_set_caps "$1" multifd=on
	qmp_migrate_set_params "$1" multifd-channels="$2" multifd-compression="$3"
}

# same_ram_as_pattern NAME IMAGE: guest NAME's RAM equals the pattern, as
# its backing file and as guest-physical memory (1 MiB..16 MiB is plain RAM).
same_ram_as_pattern() {
	cmp "$2" "$PATTERN"
	qemu_pmemsave "$1" 0x100000 0xf00000 "$T/pmem.bin"
	cmp -n $((0xf00000)) -i 0:$((0x100000)) "$T/pmem.bin" "$PATTERN"
}

# qemu_to_recv CHANNELS COMPRESSION [UUID]: a QEMU source (with the QEMU
# arguments in SRC_ARGS) migrates into multifd-recv; the output's RAM digest
# equals the pattern's, every page of it was sent (a zero page the receiver
# dropped would read as zero from a fresh destination and hide), the sync
# points are those of WANT_SYNC (default: the QEMU's -M pc), and the output
# loads into a fresh QEMU with the pattern as its RAM.
qemu_to_recv() {
	local c=$1 z=$2 uuid=${3:-} port want sync=${WANT_SYNC:-$(qemu_multifd_sync_mode)}
	local -a uuid_src=() uuid_recv=()
	[[ -z $uuid ]] || { uuid_src=(--uuid "$uuid"); uuid_recv=(--uuid "$uuid"); }
	port=$(free_port)
	{
		rc=0
		timeout 120 "$MIGBOX" multifd-recv -c "$c" -z "$z" "${uuid_recv[@]}" ${RECV_ARGS:-} --timeout 60 \
			--stats-json "$T/recv.json" -o "$T/out.bin" "127.0.0.1:$port" 2>"$T/recv.err" || rc=$?
		echo $rc >"$T/recv.rc"
	} &
	RECV_JOB=$!
	qemu_start src --mem 64 --mem-path "$PATTERN" --share off "${uuid_src[@]}" ${SRC_ARGS:-}
	multifd_caps src "$c" "$z"
	qmp src migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	qmp_wait_migration src 60 >/dev/null
	wait "$RECV_JOB" || :
	RECV_JOB=
	cat "$T/recv.err" >&2
	[[ $(<"$T/recv.rc") == 0 ]]
	[[ -s $T/out.bin ]]
	jq -e ".ok and .channels == $c and .compression == \"$z\" and ([.per_channel[].syncs] | unique | length) == 1" \
		"$T/recv.json" >/dev/null
	[[ $(jq -r .sync_mode "$T/recv.json") == "$sync" ]]
	"$MIGBOX" stream-dump --map --json "$T/out.bin" | jq -e '[.ram_blocks[].map.never] | add == 0' >/dev/null

	want=$("$MIGBOX" stream-dump --image-digest "$PATTERN" | awk '{ print $2, $3 }')
	[[ $("$MIGBOX" stream-dump --digest "$T/out.bin" | awk '$1 == "ram" && $4 == "m" { print $2, $3 }') == "$want" ]]

	qemu_start dst --mem 64 --mem-path "$T/dst.img" --share on --incoming defer
	if [[ ${RECV_ARGS:-} != *--mapped-ram* ]]; then
		qemu_load_stream dst "$T/out.bin" >/dev/null
	elif [[ $(qemu_version) == 7.2 ]]; then
		# no mapped-ram in 7.2: its plain conversion
		"$MIGBOX" stream-dump -q --to-stream "$T/out.mig" "$T/out.bin"
		qemu_load_stream dst "$T/out.mig" >/dev/null
	else
		qmp_migrate_set_caps dst mapped-ram=on
		qmp dst migrate-incoming "$(jq -cn --arg u "file:$T/out.bin" '{uri: $u}')" >/dev/null
		qmp_wait_migration dst >/dev/null
	fi
	same_ram_as_pattern dst "$T/dst.img"
}

# send_to_qemu CHANNELS COMPRESSION [UUID]: the stream QEMU saved goes by
# multifd-send (options SEND_ARGS) into a QEMU destination (arguments
# DST_ARGS), which completes with the pattern; multifd-send synced as
# WANT_SYNC (default: as the QEMU's -M pc expects, read from the stream).
send_to_qemu() {
	local c=$1 z=$2 uuid=${3:-} port sync=${WANT_SYNC:-$(qemu_multifd_sync_mode)}
	local -a uuid_dst=() uuid_send=()
	[[ -z $uuid ]] || { uuid_dst=(--uuid "$uuid"); uuid_send=(--uuid "$uuid"); }
	port=$(free_port)
	qemu_start dst --mem 64 --mem-path "$T/dst.img" --share on --incoming defer "${uuid_dst[@]}" ${DST_ARGS:-}
	multifd_caps dst "$c" "$z"
	qmp dst migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	timeout 120 "$MIGBOX" multifd-send -c "$c" -z "$z" "${uuid_send[@]}" ${SEND_ARGS:-} --timeout 60 \
		--stats-json "$T/send.json" "127.0.0.1:$port" <"$SAVED"
	qmp_wait_migration dst 60 >/dev/null
	[[ $(qmp dst query-status | jq -r .status) != inmigrate ]]
	jq -e ".ok and .channels == $c and .pages > 0 and .zero_pages > 0" "$T/send.json" >/dev/null
	[[ $(jq -r .sync_mode "$T/send.json") == "$sync" ]]
	same_ram_as_pattern dst "$T/dst.img"
}

@test "QEMU source -> multifd-recv: 1 channel, none" { qemu_to_recv 1 none; }
@test "QEMU source -> multifd-recv: 4 channels, none" { qemu_to_recv 4 none; }
@test "QEMU source -> multifd-recv: 8 channels, none" { qemu_to_recv 8 none; }
@test "QEMU source -> multifd-recv: 1 channel, zlib" { qemu_to_recv 1 zlib; }
@test "QEMU source -> multifd-recv: 4 channels, zlib" { qemu_to_recv 4 zlib; }
@test "QEMU source -> multifd-recv: 8 channels, zlib" { qemu_to_recv 8 zlib; }
@test "QEMU source -> multifd-recv: 1 channel, zstd" { qemu_to_recv 1 zstd; }
@test "QEMU source -> multifd-recv: 4 channels, zstd" { qemu_to_recv 4 zstd; }
@test "QEMU source -> multifd-recv: 8 channels, zstd" { qemu_to_recv 8 zstd; }
@test "QEMU source with -uuid -> multifd-recv --uuid" { qemu_to_recv 2 zstd "$UUID"; }
@test "QEMU source -> multifd-recv --mapped-ram: 4 channels, none; the file loads (10.0: file: with mapped-ram; 7.2: converted)" {
	RECV_ARGS=--mapped-ram qemu_to_recv 4 none
	"$MIGBOX" stream-dump --json "$T/out.bin" | jq -e '.mapped_ram' >/dev/null
	jq -e '.mapped_ram and .pages_written > 10000' "$T/recv.json" >/dev/null
}
@test "QEMU source -> multifd-recv --mapped-ram: 2 channels, zstd" {
	RECV_ARGS=--mapped-ram qemu_to_recv 2 zstd
	"$MIGBOX" stream-dump --json "$T/out.bin" | jq -e '.mapped_ram' >/dev/null
}

@test "multifd-send -> QEMU destination: 1 channel, none" { send_to_qemu 1 none; }
@test "multifd-send -> QEMU destination: 4 channels, none" { send_to_qemu 4 none; }
@test "multifd-send -> QEMU destination: 8 channels, none" { send_to_qemu 8 none; }
@test "multifd-send -> QEMU destination: 1 channel, zlib" { send_to_qemu 1 zlib; }
@test "multifd-send -> QEMU destination: 3 channels, zlib" { send_to_qemu 3 zlib; }
@test "multifd-send -> QEMU destination: 8 channels, zlib" { send_to_qemu 8 zlib; }
@test "multifd-send -> QEMU destination: 1 channel, zstd" { send_to_qemu 1 zstd; }
@test "multifd-send -> QEMU destination: 4 channels, zstd" { send_to_qemu 4 zstd; }
@test "multifd-send -> QEMU destination: 16 channels, zstd" { send_to_qemu 16 zstd; }
@test "multifd-send --uuid -> QEMU destination with -uuid" { send_to_qemu 2 none "$UUID"; }
@test "multifd-send < the saved stream as a mapped-ram file (channels read it) -> QEMU destination: 4 channels, zstd" {
	"$MIGBOX" stream-dump -q --to-mapped-ram "$T/saved.mr" "$SAVED"
	SAVED=$T/saved.mr
	send_to_qemu 4 zstd
	jq -e '.mapped_ram_input and .channel_read_bytes > 0' "$T/send.json" >/dev/null
}

# --zero-copy: the pages go with MSG_ZEROCOPY (over loopback the kernel
# copies them anyway); the destination sees the same bytes and needs no
# capability for it (zero-copy-send is the source's).
@test "multifd-send --zero-copy -> QEMU destination: 4 channels, none" {
	SEND_ARGS=--zero-copy send_to_qemu 4 none
	jq -e '.zero_copy and .zerocopy_sends > 0 and .zerocopy_copied <= .zerocopy_sends' "$T/send.json" >/dev/null
}

# QEMU 10.0 with 7.2's sync points (a machine type up to 8.0 has them):
# its zero pages still travel in the packets' zero lists, which a receiver
# reading only normal pages dropped without a word.
@test "QEMU source syncing per section (7.2; 10.0 with multifd-flush-after-each-section=on) -> multifd-recv: no page lost" {
	[[ $(qemu_version) == 7.2 ]] || SRC_ARGS='-global migration.multifd-flush-after-each-section=on'
	WANT_SYNC=section qemu_to_recv 3 zstd
	[[ $(qemu_version) == 7.2 ]] || jq -e '.zero_pages > 0' "$T/recv.json" >/dev/null
}

@test "multifd-send into a destination syncing per section (7.2; 10.0 with multifd-flush-after-each-section=on): --sync section" {
	[[ $(qemu_version) == 7.2 ]] || DST_ARGS='-global migration.multifd-flush-after-each-section=on'
	SEND_ARGS='--sync section' WANT_SYNC=section send_to_qemu 2 zstd
}

@test "multifd-send re-frames a multifd-recv capture for QEMU (recv -> send round trip)" {
	qemu_to_recv 4 zstd
	qemu_stop_all
	SAVED=$T/out.bin
	rm -f "$T/dst.img"
	send_to_qemu 2 zlib
}

@test "QEMU source with a uuid is refused by multifd-recv without it, naming the channel" {
	port=$(free_port)
	{
		rc=0
		timeout 60 "$MIGBOX" multifd-recv -c 2 --timeout 30 -o "$T/out.bin" "127.0.0.1:$port" \
			2>"$T/recv.err" || rc=$?
		echo $rc >"$T/recv.rc"
	} &
	RECV_JOB=$!
	qemu_start src --mem 64 --mem-path "$PATTERN" --share off --uuid "$UUID"
	multifd_caps src 2 none
	qmp src migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	wait "$RECV_JOB" || :
	RECV_JOB=
	cat "$T/recv.err" >&2
	[[ $(<"$T/recv.rc") == 1 ]]
	run grep -Eq 'Sanitizer|runtime error:' "$T/recv.err"
	[[ $status == 1 ]]
	grep -Eq "channel [01] from 127.0.0.1:[0-9]+ refused: uuid $UUID, expected 00000000-0000-0000-0000-000000000000" "$T/recv.err"
	[[ ! -e $T/out.bin ]]
	# and the source sees the migration fail
	run qmp_wait_migration src 30
	[[ $status != 0 ]]
}

@test "QEMU source with more channels than multifd-recv -c is refused by channel id" {
	port=$(free_port)
	{
		rc=0
		timeout 60 "$MIGBOX" multifd-recv -c 2 --timeout 30 -o "$T/out.bin" "127.0.0.1:$port" \
			2>"$T/recv.err" || rc=$?
		echo $rc >"$T/recv.rc"
	} &
	RECV_JOB=$!
	qemu_start src --mem 64 --mem-path "$PATTERN" --share off
	multifd_caps src 4 none
	qmp src migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	wait "$RECV_JOB" || :
	RECV_JOB=
	cat "$T/recv.err" >&2
	[[ $(<"$T/recv.rc") == 1 ]]
	run grep -Eq 'Sanitizer|runtime error:' "$T/recv.err"
	[[ $status == 1 ]]
	grep -Eq 'channel [23] from 127.0.0.1:[0-9]+ refused: channel id [23], expected below the channel count 2' "$T/recv.err"
	[[ ! -e $T/out.bin ]]
}
