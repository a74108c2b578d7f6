#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# postcopy-serve against a real QEMU destination (TCG, no VM; 7.2, and 10.0
# with QEMU_BIN naming it): a saved guest restored lazily, recovery after a
# broken connection, and faults.
# The guest is tests/guests/read-ram-bios.S: it only reads RAM, one byte
# every MiB, adds them up and halts, so the destination's RAM must equal
# what was saved and its registers show that it ran to its end on the
# bytes it was given. RAM comes from a memory-backend-file `m` holding a
# known pattern on the source and a shared file in /dev/shm on the
# destination. Needs qemu-system-x86, socat, jq, binutils, perl
# (./install-deps); without them every test fails saying so.

load helpers
load lib/qemu
load lib/multifd
load lib/postcopy

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

setup_file() {
	local t
	for t in "$QEMU_BIN" socat jq as objcopy perl; do
		command -v "$t" >/dev/null || { echo "$t not installed: run ./install-deps" >&2; return 1; }
	done
	export QEMU_RUN_DIR=$BATS_FILE_TMPDIR
	read_ram_bios "$BATS_FILE_TMPDIR/bios.bin"
	# Saved from paused sources: the guest has not run yet and runs, from
	# its reset vector, on the destination.
	for t in 256:7 1024:11; do
		make_pattern "$BATS_FILE_TMPDIR/pattern${t%:*}.img" "${t%:*}" "${t#*:}"
		qemu_start saver --mem "${t%:*}" --mem-path "$BATS_FILE_TMPDIR/pattern${t%:*}.img" \
			--share off -- -bios "$BATS_FILE_TMPDIR/bios.bin"
		qemu_save_stream saver "$BATS_FILE_TMPDIR/saved${t%:*}.mig" >/dev/null
		qemu_stop saver
	done
}

setup() {
	export QEMU_RUN_DIR=$BATS_TEST_TMPDIR
	T=$BATS_TEST_TMPDIR
	BIOS=$BATS_FILE_TMPDIR/bios.bin
	SHM=/dev/shm/migbox-postcopy-$$-$BATS_TEST_NUMBER.img
	SERVE_PID=
}

teardown() {
	serve_teardown
}

qemu_pid() {
	cat "$QEMU_RUN_DIR/qemu.$1/qemu.pid"
}

# lazy_restore MB: the destination runs at once, the guest reads all it
# needs on request during an 8 s --push-delay, then everything is pushed.
lazy_restore() {
	local mb=$1 port total
	port=$(free_port)
	pc_dest dst "$mb" "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --push-delay 8000 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved$mb.mig"
	wait_for 60 halted_while_serving
	serve_wait 120
	[[ $SERVE_STATUS -eq 0 ]]
	restored_as_saved "$BATS_FILE_TMPDIR/pattern$mb.img" "$mb"
	# one request at least per MiB it read, nothing sent twice
	(($(stat_of pages_requested) >= mb))
	total=$(stat_of pages_total)
	(($(stat_of pages_requested) + $(stat_of pages_pushed) == total))
	# every page of every block, ROMs included
	((total == $(qemu_ram_blocks dst --dec | awk '{ n += $2 / 4096 } END { print n }')))
	jq -e '.running_ms > 0 and .running_ms < .completed_ms' "$T/serve.json" >/dev/null
	[[ $(stat_of resume) == false ]]
}

@test "postcopy 256 MiB: the guest runs at once on requested pages, then completes with the saved RAM" {
	lazy_restore 256
}

@test "postcopy 1 GiB: the guest runs at once on requested pages, then completes with the saved RAM" {
	lazy_restore 1024
}

@test "postcopy with --preempt: requested pages come on the preempt channel while the rest is pushed, completes with the saved RAM" {
	local port total
	port=$(free_port)
	PC_DEST_CAPS='postcopy-preempt=on' pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --preempt --push-delay 8000 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	wait_for 60 halted_while_serving
	serve_wait 120
	[[ $SERVE_STATUS -eq 0 ]]
	restored_as_saved "$BATS_FILE_TMPDIR/pattern256.img" 256
	[[ $(stat_of preempt) == true ]]
	# every page the guest asked for came on the preempt channel
	(($(stat_of pages_requested) >= 256))
	(($(stat_of pages_preempt) == $(stat_of pages_requested)))
	# a record is 9 bytes at least (a ZERO), then EOS
	(($(stat_of bytes_sent_preempt) >= $(stat_of pages_preempt) * 9 + 8))
	total=$(stat_of pages_total)
	(($(stat_of pages_requested) + $(stat_of pages_pushed) == total))
}

@test "postcopy: a stream through a pipe is spooled, then served whole with background pushing" {
	local port
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	cat "$BATS_FILE_TMPDIR/saved256.mig" | "$MIGBOX" postcopy-serve --progress \
		--stats-json "$T/serve.json" "127.0.0.1:$port" 2>"$T/serve.err"
	restored_as_saved "$BATS_FILE_TMPDIR/pattern256.img" 256
	grep -q 'requested [0-9]*  pushed [0-9]*  left 0' "$T/serve.err"
	(($(stat_of pages_pushed) > 0))
}

@test "postcopy: a destination with switchover-ack (QEMU 8.1+) acknowledges and completes; QEMU 7.2 has no such capability" {
	local port
	port=$(free_port)
	if [[ $(qemu_version) == 7.2 ]]; then
		qemu_start dst --run --mem 256 --mem-path "$SHM" --share on --incoming defer -- -bios "$BIOS"
		run qmp_migrate_set_caps dst return-path=on switchover-ack=on
		[[ $status != 0 ]]
		return 0
	fi
	PC_DEST_CAPS='return-path=on switchover-ack=on' pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	serve_wait 120
	[[ $SERVE_STATUS -eq 0 ]]
	restored_as_saved "$BATS_FILE_TMPDIR/pattern256.img" 256
	[[ $(stat_of switchover_acked) == true ]]
}

# Kill the serve after the guest ran: QEMU pauses (postcopy-paused) and
# keeps what it has; migrate-recover and --resume send only the rest.
recover_after() {
	local sig=$1 port port2
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --push-delay 30000 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	wait_for 60 halted_while_serving
	kill -"$sig" "$SERVE_PID"
	serve_wait 20
	wait_for 30 eval '[[ $(migrate_status dst) == postcopy-paused ]]'
	[[ $(run_status dst) == running ]]
	port2=$(free_port)
	qmp dst migrate-recover "{\"uri\":\"tcp:127.0.0.1:$port2\"}" >/dev/null
	cp "$T/serve.err" "$T/first.err"
	"$MIGBOX" postcopy-serve --resume --stats-json "$T/serve.json" "127.0.0.1:$port2" \
		<"$BATS_FILE_TMPDIR/saved256.mig" 2>"$T/serve.err"
	restored_as_saved "$BATS_FILE_TMPDIR/pattern256.img" 256
	[[ $(stat_of resume) == true ]]
	# what it had asked for was there already; nothing was asked again
	(($(stat_of pages_already_there) >= 256))
	(($(stat_of pages_already_there) + $(stat_of pages_pushed) + $(stat_of pages_requested) == $(stat_of pages_total)))
}

@test "postcopy recovery: SIGTERM after the guest ran, migrate-recover, --resume completes with the saved RAM" {
	recover_after TERM
	# it died of the signal and said what to do next
	[[ $SERVE_STATUS -eq 143 ]]
	grep -q 'postcopy-paused; migrate-recover on it, then postcopy-serve --resume' "$T/first.err"
}

@test "postcopy recovery: SIGKILL after the guest ran, migrate-recover, --resume completes with the saved RAM" {
	recover_after KILL
	[[ $SERVE_STATUS -eq 137 ]]
}

# Faults. Each ends postcopy-serve with status 1 and a message; what the
# destination is left in is asserted too.

# How a destination that refuses the package says so: QEMU 7.2 closes the
# connection, 10.0 sends SHUT 1 first.
refusal() {
	if [[ $(qemu_version) == 7.2 ]]; then
		echo 'postcopy-serve: the destination closed the connection'
	else
		echo 'postcopy-serve: the destination shut down (SHUT 1) instead of sending PONG 2'
	fi
}

@test "postcopy fault: destination without postcopy-ram: exit 1, the hint names it; QEMU exits 1" {
	local port
	port=$(free_port)
	rm -f "$SHM"
	qemu_start dst --run --mem 256 --mem-path "$SHM" --share on --incoming defer -- -bios "$BIOS"
	qmp dst migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	run timeout 60 "$MIGBOX" postcopy-serve "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	assert_fails_with 1 "$(refusal)" 'is postcopy-ram set on it'
	[[ $(qemu_wait_exit dst 30) -eq 1 ]]
	qemu_log dst | grep -q 'RAM postcopy is disabled'
}

@test "postcopy fault: destination RAM block of another size: exit 1, the hint names -m; QEMU exits 1" {
	local port
	port=$(free_port)
	pc_dest dst 128 "$SHM" "$port" -bios "$BIOS"
	run timeout 60 "$MIGBOX" postcopy-serve "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	assert_fails_with 1 "$(refusal)" 'are its -M, -m, memory backend id'
	[[ $(qemu_wait_exit dst 30) -eq 1 ]]
	qemu_log dst | grep -q 'Size mismatch'
}

@test "postcopy fault: a destination with postcopy-preempt, served without --preempt, stalls: --timeout, the hint names --preempt" {
	local port
	port=$(free_port)
	PC_DEST_CAPS='postcopy-preempt=on' pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	run timeout 60 "$MIGBOX" postcopy-serve --timeout 3 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	# 7.2 waits before loading anything, 10.0 before the device state
	assert_fails_with 1 'took no byte and sent nothing for 3 s (--timeout)' 'run with --preempt'
}

@test "postcopy fault: --preempt to a destination without postcopy-preempt: exit 1 naming the preempt channel" {
	local port
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	run timeout 60 "$MIGBOX" postcopy-serve --timeout 10 --preempt "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	assert_fails_with 1 'postcopy-serve: preempt channel: the destination closed it' 'postcopy-preempt capability'
}

@test "postcopy fault: --resume to a destination that is not paused: exit 1; QEMU exits 1" {
	local port
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	run timeout 60 "$MIGBOX" postcopy-serve --resume "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	assert_fails_with 1 'postcopy-serve: ' 'is the destination postcopy-paused'
	[[ $(qemu_wait_exit dst 30) -eq 1 ]]
}

@test "postcopy fault: destination killed after the guest ran: exit 1 at once" {
	local port
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	serve_bg "$T/serve" --push-delay 30000 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	wait_for 60 halted_while_serving
	kill -KILL "$(qemu_pid dst)"
	serve_wait 20
	[[ $SERVE_STATUS -eq 1 ]]
	grep -q 'postcopy-serve: the destination closed the connection' "$T/serve.err"
	[[ $(stat_of error) == *'closed the connection'* ]]
}

@test "postcopy fault: --timeout on a stopped destination: exit 1; continued, QEMU finds the connection reset and exits 1" {
	local port qpid
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	qpid=$(qemu_pid dst)
	kill -STOP "$qpid"
	# its kernel still accepts and buffers; then nothing moves
	serve_bg "$T/serve" --timeout 3 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	serve_wait 30
	kill -CONT "$qpid"
	[[ $SERVE_STATUS -eq 1 ]]
	grep -q 'took no byte and sent nothing for 3 s (--timeout)' "$T/serve.err"
	# It had not answered PONG 1, so postcopy-serve never sent the guest's
	# state: the reset connection ends the load and QEMU exits 1.
	[[ $(qemu_wait_exit dst 30) -eq 1 ]]
}

@test "postcopy fault: --timeout on a destination stopped after the guest ran: exit 1; continued, QEMU pauses" {
	local port qpid
	port=$(free_port)
	pc_dest dst 256 "$SHM" "$port" -bios "$BIOS"
	qpid=$(qemu_pid dst)
	# holding pages back longer than --timeout is no stall
	serve_bg "$T/serve" --timeout 2 --push-delay 5000 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	wait_for 60 halted_while_serving
	kill -STOP "$qpid"
	serve_wait 60
	kill -CONT "$qpid"
	[[ $SERVE_STATUS -eq 1 ]]
	grep -q 'took no byte and sent nothing for 2 s (--timeout)' "$T/serve.err"
	grep -q 'the destination is postcopy-paused; migrate-recover on it' "$T/serve.err"
	# after the guest ran, QEMU keeps it and waits for a recovery
	wait_for 30 eval '[[ $(migrate_status dst) == postcopy-paused ]]'
	[[ $(run_status dst) == running ]]
}

@test "postcopy fault: nothing listening: exit 1 after --timeout" {
	local port start
	port=$(free_port)
	start=$SECONDS
	run timeout 60 "$MIGBOX" postcopy-serve --timeout 2 "127.0.0.1:$port" <"$BATS_FILE_TMPDIR/saved256.mig"
	assert_fails_with 1 "postcopy-serve: " "127.0.0.1:$port"
	((SECONDS - start < 30))
}
