#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# postcopy-serve of a mapped-ram file that a real QEMU 10.0 saved (migrate
# file: with the mapped-ram capability) to a QEMU 10.0 destination with
# postcopy-ram and without mapped-ram: the guest runs at once on requested
# pages, the rest is pushed, RAM ends equal to the saved pattern; with
# --preempt, and finished with --resume after a kill. QEMU 10.0 comes
# from tests/qemu10/fetch, whatever QEMU_BIN says (7.2 has no mapped-ram);
# without it every test fails saying why. The guest is read-ram-bios (see
# interop-qemu-postcopy.bats): its registers show it read what was saved.

load helpers
load lib/qemu
load lib/postcopy

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

setup_file() {
	local bin t
	bin=$("$BATS_TEST_DIRNAME/qemu10/fetch") ||
		{ echo "tests/qemu10/fetch could not provide QEMU 10.0" >&2; return 1; }
	export QEMU_BIN=$bin/qemu-system-x86_64
	for t in socat jq as objcopy perl; do
		command -v "$t" >/dev/null || { echo "$t not installed: run ./install-deps" >&2; return 1; }
	done
	[[ $(qemu_version) == 10.0 ]] || { echo "$QEMU_BIN is QEMU $(qemu_version), not 10.0" >&2; return 1; }
	export QEMU_RUN_DIR=$BATS_FILE_TMPDIR
	read_ram_bios "$BATS_FILE_TMPDIR/bios.bin"
	make_pattern "$BATS_FILE_TMPDIR/pattern.img" 256 7
	# a paused source (the guest runs first on the destination), the
	# 10.0 machine: its file has SWITCHOVER_START too
	qemu_start saver --mem 256 --mem-path "$BATS_FILE_TMPDIR/pattern.img" --share off -- \
		-bios "$BATS_FILE_TMPDIR/bios.bin"
	qmp_migrate_set_caps saver mapped-ram=on
	qmp saver migrate "$(jq -cn --arg u "file:$BATS_FILE_TMPDIR/saved.mr" '{uri: $u}')" >/dev/null
	qmp_wait_migration saver >/dev/null
	qemu_stop saver
}

setup() {
	export QEMU_RUN_DIR=$BATS_TEST_TMPDIR
	T=$BATS_TEST_TMPDIR
	BIOS=$BATS_FILE_TMPDIR/bios.bin
	PATTERN=$BATS_FILE_TMPDIR/pattern.img
	SAVED=$BATS_FILE_TMPDIR/saved.mr
	SHM=/dev/shm/migbox-postcopy-mr-$$-$BATS_TEST_NUMBER.img
	SERVE_PID=
}

teardown() {
	serve_teardown
}

# The serve took the file as mapped-ram: the pages it stores were looked
# up (not every page: the pattern's zero pages are not stored), and every
# page went once.
served_mapped() {
	local total
	total=$(stat_of pages_total)
	[[ $(stat_of mapped_ram) == true ]]
	(($(stat_of page_records) < total && $(stat_of page_records_replaced) == 0))
	(($(stat_of pages_requested) + $(stat_of pages_pushed) + $(stat_of pages_already_there) == total))
	((total == $(qemu_ram_blocks dst --dec | awk '{ n += $2 / 4096 } END { print n }')))
}

@test "postcopy from QEMU 10.0's mapped-ram file: the file says mapped-ram and SWITCHOVER_START" {
	run "$MIGBOX" stream-dump "$SAVED"
	[[ $status == 0 ]]
	[[ $output == *"capabilities mapped-ram"* ]]
	[[ $output == *"SWITCHOVER_START"* ]]
}

@test "postcopy from QEMU 10.0's mapped-ram file: the guest runs at once on requested pages, then completes with the saved RAM" {
	local port
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --push-delay 8000 "127.0.0.1:$port" <"$SAVED"
	wait_for 60 halted_while_serving
	serve_wait 120
	[[ $SERVE_STATUS -eq 0 ]]
	restored_as_saved "$PATTERN" 256
	served_mapped
	# one request at least per MiB the guest read
	(($(stat_of pages_requested) >= 256))
	jq -e '.running_ms > 0 and .running_ms < .completed_ms' "$T/serve.json" >/dev/null
}

@test "postcopy from QEMU 10.0's mapped-ram file with --preempt: requested pages on the preempt channel, completes with the saved RAM" {
	local port
	port=$(free_port)
	PC_DEST_CAPS='postcopy-preempt=on' pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --preempt --push-delay 8000 "127.0.0.1:$port" <"$SAVED"
	wait_for 60 halted_while_serving
	serve_wait 120
	[[ $SERVE_STATUS -eq 0 ]]
	restored_as_saved "$PATTERN" 256
	served_mapped
	[[ $(stat_of preempt) == true ]]
	(($(stat_of pages_requested) >= 256))
	(($(stat_of pages_preempt) == $(stat_of pages_requested)))
}

@test "postcopy from QEMU 10.0's mapped-ram file: killed after the guest ran, migrate-recover, --resume completes with the saved RAM" {
	local port port2
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --push-delay 30000 "127.0.0.1:$port" <"$SAVED"
	wait_for 60 halted_while_serving
	kill -KILL "$SERVE_PID"
	serve_wait 20
	[[ $SERVE_STATUS -eq 137 ]]
	wait_for 30 eval '[[ $(migrate_status dst) == postcopy-paused ]]'
	port2=$(free_port)
	qmp dst migrate-recover "{\"uri\":\"tcp:127.0.0.1:$port2\"}" >/dev/null
	"$MIGBOX" postcopy-serve --resume --stats-json "$T/serve.json" "127.0.0.1:$port2" \
		<"$SAVED" 2>"$T/serve.err"
	restored_as_saved "$PATTERN" 256
	served_mapped
	[[ $(stat_of resume) == true ]]
	# what it had asked for was there already
	(($(stat_of pages_already_there) >= 256))
}
