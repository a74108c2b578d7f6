# SPDX-License-Identifier: GPL-3.0-or-later
# rdma: rdma-recv and rdma-send on Soft-RoCE, against real QEMU 7.2 and 10.0
# inside the VM (tests/vm-rdma.bats adds QEMU 7.2, its firmware and the rxe
# provider, and tests/vm/run --qemu10 QEMU 10.0 as /q10).
#
# usage: rdma CASE...
#
# A QEMU case (qemu_to_recv, saved_to_qemu and their _pin) runs against
# QEMU 7.2; CASE@10 runs it against QEMU 10.0 with its own machine type.
#
# Prints "PASS CASE" or "FAIL CASE: why" per case, with "info CASE: ..."
# lines for the figures; exits 1 if any case failed.

. /scenarios/lib.sh
set +e

setup_rxe
ADDR=$RXE_ADDR
PORT=4444
MEM=32				# MiB of guest RAM
failed=0
fail() { echo "FAIL $case: $*"; failed=1; }

# qemu_start NAME ARGS...: a paused TCG guest whose monitor reads the FIFO
# /tmp/NAME.mon and writes to /tmp/NAME.log.
qemu_start() {
	local name=$1
	shift
	rm -f "/tmp/$name.mon" "/tmp/$name.log"
	mkfifo "/tmp/$name.mon"
	$QEMU -accel tcg -M pc -m $MEM -nodefaults -display none -S \
		-monitor stdio "$@" < "/tmp/$name.mon" > "/tmp/$name.log" 2>&1 &
	eval "${name}_pid=$!"
	# keep the FIFO open, read-write: a monitor command written after QEMU
	# died then neither blocks (no reader) nor kills the shell (no SIGPIPE)
	exec 9<> "/tmp/$name.mon"
	eval "${name}_fd=9"
}

# hmp NAME COMMAND: one monitor command (the reply lands in the log)
hmp() {
	echo "$2" > "/tmp/$1.mon"
}

# migration_status NAME: the last "Migration status" of info migrate
migration_status() {
	hmp "$1" "info migrate"
	sleep 0.2
	grep -o 'Migration status: [a-z-]*' "/tmp/$1.log" | tail -n 1 | cut -d' ' -f3
}

src_completed() {
	[ "$(migration_status src)" = completed ]
}

# loaded NAME: the incoming migration is over (QEMU exits if it failed)
loaded() {
	local pid st
	eval "pid=\$$1_pid"
	kill -0 "$pid" 2>/dev/null || return 2
	hmp "$1" "info status"
	sleep 0.2
	st=$(grep 'VM status' "/tmp/$1.log" | tail -n 1)
	case $st in
	*inmigrate*|'') return 1 ;;
	*) return 0 ;;
	esac
}

qemu_stop() {
	local pid
	eval "pid=\${$1_pid:-}"
	[ -n "$pid" ] || return 0
	hmp "$1" quit 2>/dev/null
	wait_for 5 sh -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# pattern: random RAM with its second MiB one non-zero byte (a chunk that
# rdma-send could send as a COMPRESS, which a QEMU 10.0 destination
# refuses) and 64 zero pages
pattern() {
	head -c $((MEM << 20)) /dev/urandom > /tmp/pattern.img
	head -c $((256 * 4096)) /dev/zero | tr '\000' 'Z' |
		dd of=/tmp/pattern.img bs=4096 seek=256 conv=notrunc 2>/dev/null
	dd if=/dev/zero of=/tmp/pattern.img bs=4096 seek=512 count=64 conv=notrunc 2>/dev/null
	PATTERN_DIGEST=$(migbox stream-dump --image-digest /tmp/pattern.img | cut -d' ' -f2)
}

# qemu_to_recv [pin]: a QEMU source migrates into rdma-recv -o; the output's
# RAM digest is the pattern's, and it loads into a fresh QEMU.
qemu_to_recv() {
	local pin=${1:-}
	rm -f /tmp/out.mig /tmp/dst.img
	migbox rdma-recv --timeout 60 --stats-json /tmp/recv.json -o /tmp/out.mig "$ADDR:$PORT" \
		2> /tmp/recv.err &
	recv=$!
	wait_for 10 grep -q 'listening on' /tmp/recv.err || { fail "rdma-recv did not listen"; return; }
	qemu_start src -object memory-backend-file,id=m,size=${MEM}M,mem-path=/tmp/pattern.img,share=off \
		-machine memory-backend=m
	[ -z "$pin" ] || hmp src "migrate_set_capability rdma-pin-all on"
	hmp src "migrate -d rdma:$ADDR:$PORT"
	wait "$recv"
	rc=$?
	echo "stderr $case: $(cat /tmp/recv.err | tr '\n' '|')"
	wait_for 30 src_completed ||
		fail "the source says: $(grep -i 'migration status\|error' /tmp/src.log | tail -n 3 | tr '\n' '|')"
	qemu_stop src
	[ $rc = 0 ] || { fail "rdma-recv exit status $rc"; return; }
	got=$(migbox stream-dump --digest /tmp/out.mig | awk '$1 == "ram" && $4 == "m" { print $2 }')
	echo "info $case: $(tr -d '\n ' < /tmp/recv.json | head -c 600)"
	echo "stats-json $case: $(tr -d '\n' < /tmp/recv.json)"
	[ "$got" = "$PATTERN_DIGEST" ] || { fail "digest of m $got, pattern $PATTERN_DIGEST"; return; }
	# a fresh QEMU loads it
	truncate -s ${MEM}M /tmp/dst.img
	qemu_start dst -object memory-backend-file,id=m,size=${MEM}M,mem-path=/tmp/dst.img,share=on \
		-machine memory-backend=m -incoming "exec:cat /tmp/out.mig"
	wait_for 60 loaded dst || fail "the fresh QEMU did not load the output: $(tail -n 3 /tmp/dst.log | tr '\n' '|')"
	qemu_stop dst
	cmp -s /tmp/dst.img /tmp/pattern.img || fail "the loaded RAM differs from the pattern"
}

# send_to_recv SEND-OPTS: rdma-send | rdma-recv with a stream-gen stream:
# the output restores the same state as the input
send_to_recv() {
	rm -f /tmp/out.mig
	migbox stream-gen -s 3 -b pc.ram:64M -b vga.vram:4M -b rom:64K -i 3 -r 30 \
		-m zero=30,random=30,text=30,repeat=10 --vfio 0000:00:05.0/vfio:5000 -o /tmp/in.mig
	rm -f /tmp/recv.json
	migbox rdma-recv --timeout 60 --stats-json /tmp/recv.json -o /tmp/out.mig "$ADDR:$PORT" \
		2> /tmp/recv.err &
	recv=$!
	wait_for 10 grep -q 'listening on' /tmp/recv.err || { fail "rdma-recv did not listen"; return; }
	migbox rdma-send "$@" --timeout 60 --stats-json /tmp/send.json "$ADDR:$PORT" \
		< /tmp/in.mig 2> /tmp/send.err
	src=$?
	wait "$recv"
	rc=$?
	echo "stderr $case: $(cat /tmp/send.err /tmp/recv.err | tr '\n' '|')"
	echo "info $case: $(tr -d '\n ' < /tmp/send.json | head -c 600)"
	echo "stats-json $case: $(tr -d '\n' < /tmp/send.json)"
	# both ends of one transfer, compared on the host (vm-rdma.bats)
	echo "stats-json $case recv: $(tr -d '\n' < /tmp/recv.json)"
	[ $src = 0 ] && [ $rc = 0 ] || { fail "rdma-send exit $src, rdma-recv exit $rc"; return; }
	migbox stream-dump --digest /tmp/in.mig > /tmp/in.dg
	migbox stream-dump --digest /tmp/out.mig > /tmp/out.dg
	cmp -s /tmp/in.dg /tmp/out.dg || fail "digests differ: $(diff /tmp/in.dg /tmp/out.dg | tr '\n' '|')"
}

# saved_to_qemu SEND-OPTS: a stream QEMU saved goes by rdma-send into a
# QEMU of the same version started with -incoming rdma:, whose RAM then
# equals the pattern
saved_to_qemu() {
	local saved=/tmp/saved-$QEMU_VERSION.mig
	if [ ! -s $saved ]; then
		qemu_start saver -object memory-backend-file,id=m,size=${MEM}M,mem-path=/tmp/pattern.img,share=off \
			-machine memory-backend=m
		hmp saver "migrate -d exec:cat>$saved"
		wait_for 30 saver_completed || fail "saving the stream: $(tail -n 3 /tmp/saver.log | tr '\n' '|')"
		qemu_stop saver
	fi
	rm -f /tmp/dst.img
	truncate -s ${MEM}M /tmp/dst.img
	qemu_start dst -object memory-backend-file,id=m,size=${MEM}M,mem-path=/tmp/dst.img,share=on \
		-machine memory-backend=m -incoming "rdma:$ADDR:$PORT"
	# QEMU may not listen yet: rdma-send tries again while refused
	migbox rdma-send "$@" --timeout 60 --stats-json /tmp/send.json "$ADDR:$PORT" \
		< $saved 2> /tmp/send.err
	src=$?
	echo "stderr $case: $(cat /tmp/send.err | tr '\n' '|')"
	echo "info $case: $(tr -d '\n ' < /tmp/send.json | head -c 600)"
	[ $src = 0 ] || fail "rdma-send exit $src; QEMU: $(tail -n 3 /tmp/dst.log | tr '\n' '|')"
	wait_for 60 loaded dst || fail "QEMU did not complete: $(tail -n 3 /tmp/dst.log | tr '\n' '|')"
	qemu_stop dst
	cmp -s /tmp/dst.img /tmp/pattern.img || fail "the destination's RAM differs from the pattern"
}

saver_completed() {
	[ "$(migration_status saver)" = completed ]
}

# recv_bg ARGS...: rdma-recv in the background ($recv), listening
recv_bg() {
	migbox rdma-recv "$@" "$ADDR:$PORT" 2> /tmp/recv.err &
	recv=$!
	wait_for 10 grep -q 'listening on' /tmp/recv.err || fail "rdma-recv did not listen"
}

# expect STATUS FILE TEXT: the exit status, and TEXT in FILE
expect() {
	echo "stderr $case: $(tr '\n' '|' < "$2")"
	[ "$1" = 1 ] || { fail "exit status $1, expected 1"; return 1; }
	grep -q -- "$3" "$2" || { fail "no '$3' in $2"; return 1; }
}

no_output() {
	[ ! -e /tmp/out.mig ] || fail "an output file was left"
	! ls /tmp | grep -q 'out.mig.tmp' || fail "a temporary output was left"
}

small_stream() {
	[ -s /tmp/small.mig ] || migbox stream-gen -s 4 -b pc.ram:48M -m random=1 -o /tmp/small.mig
}

# peer_bg MODE CASE: the misbehaving peer in the background ($peer)
peer_bg() {
	rdma-peer "$1" "$ADDR:$PORT" "$2" > /tmp/peer.out 2>&1 &
	peer=$!
	[ "$1" = source ] || wait_for 10 grep -q listening /tmp/peer.out ||
		fail "rdma-peer did not listen: $(cat /tmp/peer.out)"
}

peer_stop() {
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
}

fault_case() {
	rm -f /tmp/out.mig
	small_stream
	case $1 in
	nothing_listening)
		migbox rdma-send --timeout 10 "$ADDR:$((PORT + 1))" < /tmp/small.mig 2> /tmp/send.err
		expect $? /tmp/send.err "REJECTED\|UNREACHABLE\|refused"
		;;
	recv_version|recv_capability)
		recv_bg --timeout 20 -o /tmp/out.mig
		if [ "$1" = recv_version ]; then rdma-peer caps "$ADDR:$PORT" 2 0; else rdma-peer caps "$ADDR:$PORT" 1 2; fi \
			> /tmp/peer.out 2>&1
		wait $recv
		rc=$?
		if [ "$1" = recv_version ]; then
			expect $rc /tmp/recv.err "refused: RDMA protocol version 2, expected 1"
		else
			expect $rc /tmp/recv.err "refused: capability flags 0x2, of which only PIN_ALL (0x1) is known"
		fi
		grep -q refused /tmp/peer.out || fail "the peer was not refused: $(cat /tmp/peer.out)"
		no_output
		;;
	recv_badlen|recv_unknown|recv_outside|recv_stall)
		recv_bg --timeout 5 -o /tmp/out.mig
		peer_bg source "${1#recv_}"
		wait $recv
		rc=$?
		peer_stop
		case $1 in
		recv_badlen) expect $rc /tmp/recv.err "REGISTER_REQUEST message length 600000, expected at most 524272" ;;
		recv_unknown) expect $rc /tmp/recv.err "unknown control message type 99" ;;
		recv_outside) expect $rc /tmp/recv.err "REGISTER_REQUEST of 1 bytes at 0x4000000 is outside block 0" ;;
		recv_stall) expect $rc /tmp/recv.err "no control message came for 5 s (--timeout)" ;;
		esac
		no_output
		;;
	send_version|send_mismatch|send_error|send_stall)
		peer_bg dest "${1#send_}"
		migbox rdma-send --timeout 5 "$ADDR:$PORT" < /tmp/small.mig 2> /tmp/send.err
		rc=$?
		peer_stop
		case $1 in
		send_version) expect $rc /tmp/send.err "RDMA protocol version 2, expected 1" ;;
		send_mismatch) expect $rc /tmp/send.err "RAM_BLOCKS_RESULT from .*: the destination has 1 RAM blocks, the stream 1\|RAM block 0 ('pc.ram'): 50565120 bytes at the destination, 50331648 in the stream" ;;
		send_error) expect $rc /tmp/send.err "sent ERROR: it failed" ;;
		send_stall) expect $rc /tmp/send.err "no byte moved for 5 s (--timeout): the destination stopped taking data" ;;
		esac
		;;
	recv_huge|recv_huge_pin)
		# /data/huge.mig (tests/vm-rdma.bats) claims a 64 TiB pc.ram and
		# sends one page at its end. rdma-recv, in 1 GiB of address
		# space, refuses it at the block list: nothing is mapped, let
		# alone pinned, and the source hears ERROR.
		(ulimit -v 1048576 && exec migbox rdma-recv --timeout 30 -o /tmp/out.mig "$ADDR:$PORT") \
			2> /tmp/recv.err &
		recv=$!
		wait_for 10 grep -q 'listening on' /tmp/recv.err || fail "rdma-recv did not listen"
		if [ "$1" = recv_huge ]; then set --; else set -- --pin-all; fi
		migbox rdma-send "$@" --timeout 30 "$ADDR:$PORT" < /data/huge.mig 2> /tmp/send.err
		rc=$?
		wait_for 20 sh -c "! kill -0 $recv 2>/dev/null" ||
			{ fail "rdma-recv still runs 20 s after the source"; kill -9 $recv; }
		wait $recv
		expect $? /tmp/recv.err "claims RAM block 'pc.ram' of 64.00 TiB (70368744177664 bytes), past --max-ram .* this machine's memory): refused (its 1 blocks total 64.00 TiB)" &&
			expect $rc /tmp/send.err "sent ERROR: it failed"
		no_output
		;;
	recv_max_ram)
		# a 48 MiB source past --max-ram 16M, named in the error and in
		# --stats-json
		recv_bg --timeout 20 --max-ram 16M --stats-json /tmp/recv.json -o /tmp/out.mig
		migbox rdma-send --timeout 20 "$ADDR:$PORT" < /tmp/small.mig 2> /tmp/send.err
		rc=$?
		wait $recv
		expect $? /tmp/recv.err "claims RAM block 'pc.ram' of 48.00 MiB (50331648 bytes), past --max-ram 16.00 MiB (16777216 bytes, as given): refused" &&
			expect $rc /tmp/send.err "sent ERROR: it failed"
		tr -d '\n ' < /tmp/recv.json | grep -q '"max_ram":16777216,' ||
			fail "no max_ram 16777216 in --stats-json: $(cat /tmp/recv.json)"
		no_output
		;;
	truncated_stdin)
		recv_bg --timeout 20 -o /tmp/out.mig
		head -c 20000000 /tmp/small.mig | migbox rdma-send --timeout 20 "$ADDR:$PORT" 2> /tmp/send.err
		expect $? /tmp/send.err "stdin: offset [0-9]*: stream truncated"
		wait $recv
		expect $? /tmp/recv.err "sent ERROR: it failed\|disconnected"
		no_output
		;;
	sigterm_recv)
		# SIGTERM mid-transfer: rdma-recv cleans up (ERROR to the
		# source, no output) and dies of the signal
		recv_bg --timeout 30 -o /tmp/out.mig
		{ head -c 20000000 /tmp/small.mig; sleep 4; tail -c +20000001 /tmp/small.mig; } |
			migbox rdma-send --timeout 30 "$ADDR:$PORT" 2> /tmp/send.err &
		send=$!
		wait_for 20 grep -q 'connected' /tmp/recv.err || fail "the source did not connect"
		kill -TERM $recv
		wait $recv
		rc=$?
		echo "stderr $case: $(tr '\n' '|' < /tmp/recv.err)"
		[ $rc = 143 ] || fail "rdma-recv exit status $rc, expected 143"
		grep -q 'interrupted by SIGTERM' /tmp/recv.err || fail "no word of the signal"
		wait $send
		expect $? /tmp/send.err "sent ERROR: it failed\|disconnected"
		no_output
		;;
	kill_recv|kill_send)
		recv_bg --timeout 30 -o /tmp/out.mig
		{ head -c 20000000 /tmp/small.mig; sleep 4; tail -c +20000001 /tmp/small.mig; } |
			migbox rdma-send --timeout 30 "$ADDR:$PORT" 2> /tmp/send.err &
		send=$!
		wait_for 20 grep -q 'connected' /tmp/recv.err || fail "the source did not connect"
		if [ "$1" = kill_recv ]; then
			kill -9 $recv
			wait $send
			expect $? /tmp/send.err "disconnected\|completion failed"
		else
			kill -9 $send
			wait $recv
			expect $? /tmp/recv.err "disconnected before the end of its stream"
		fi
		wait $send $recv 2>/dev/null
		no_output
		;;
	esac
}

# transfer_gen STREAM-GEN-ARGS: rdma-send | rdma-recv of a stream-gen
# stream; the digests must match
transfer_gen() {
	rm -f /tmp/in.mig /tmp/out.mig
	migbox stream-gen "$@" -o /tmp/in.mig
	recv_bg --timeout 120 --stats-json /tmp/recv.json -o /tmp/out.mig
	migbox rdma-send --timeout 120 --stats-json /tmp/send.json "$ADDR:$PORT" < /tmp/in.mig 2> /tmp/send.err
	src=$?
	wait "$recv"
	rc=$?
	[ $src = 0 ] && [ $rc = 0 ] ||
		{ fail "rdma-send exit $src, rdma-recv exit $rc: $(cat /tmp/send.err /tmp/recv.err | tr '\n' '|')"; return 1; }
	migbox stream-dump --digest /tmp/in.mig > /tmp/in.dg
	migbox stream-dump --digest /tmp/out.mig > /tmp/out.dg
	cmp -s /tmp/in.dg /tmp/out.dg || { fail "digests differ for $*"; return 1; }
}

mixes() {
	for mix in zero=1 random=1 text=1 repeat=1 zero=1,repeat=1,text=1; do
		transfer_gen -s 6 -b pc.ram:16M -b rom:256K -i 2 -r 40 -m "$mix" || return
		tr -d '\n ' < /tmp/send.json > /tmp/send.flat
		echo "info $case: $mix: $(grep -o '"writes":[0-9]*,"write_bytes":[0-9]*,"registrations":[0-9]*,"compress_messages":[0-9]*,"compress_bytes":[0-9]*' /tmp/send.flat)"
	done
}

# big: 272 MiB through pipes (the VM's /tmp is in its RAM): stream-gen |
# rdma-send, rdma-recv | stream-dump --digest, against the digests of the
# same stream-gen
big() {
	gen="migbox stream-gen -s 7 -b pc.ram:256M -b vga.vram:16M -b pc.bios:256K -i 3 -r 20 -m zero=25,random=25,text=40,repeat=10"
	$gen | migbox stream-dump --digest > /tmp/in.dg
	migbox rdma-recv --timeout 120 "$ADDR:$PORT" 2> /tmp/recv.err | migbox stream-dump --digest > /tmp/out.dg &
	recv=$!
	wait_for 10 grep -q 'listening on' /tmp/recv.err || { fail "rdma-recv did not listen"; return; }
	start=$(cut -d' ' -f1 /proc/uptime)
	$gen | migbox rdma-send --timeout 120 --stats-json /tmp/send.json "$ADDR:$PORT" 2> /tmp/send.err ||
		fail "stream-gen | rdma-send: $(cat /tmp/send.err)"
	wait $recv || fail "rdma-recv | stream-dump: $(cat /tmp/recv.err)"
	end=$(cut -d' ' -f1 /proc/uptime)
	cmp -s /tmp/in.dg /tmp/out.dg || fail "digests differ: $(diff /tmp/in.dg /tmp/out.dg | tr '\n' '|')"
	echo "info $case: $(awk "BEGIN { print $end - $start }") s: $(tr -d '\n ' < /tmp/send.json | head -c 500)"
}

vfio_pipe() {
	A=$(new_uuid) B=$(new_uuid)
	setup_mtty -t mtty-2 "$A" "$B" > /dev/null
	vfio-regs "$A" write 0 3 0x03 && vfio-regs "$A" write 0 7 0x5a &&
		vfio-regs "$A" write 0 0 0x68 0x69 && vfio-regs "$A" write 1 7 0xa5 ||
		{ fail "cannot write A's registers"; return; }
	want=$(vfio-regs "$A" show)
	# show drains A's FIFO: put it back
	vfio-regs "$A" write 0 0 0x68 0x69
	migbox rdma-recv --timeout 60 "$ADDR:$PORT" 2> /tmp/recv.err | migbox vfio-load "$B" 2> /tmp/load.err &
	loader=$!
	wait_for 10 grep -q 'listening on' /tmp/recv.err || { fail "rdma-recv did not listen"; return; }
	migbox vfio-dump "$A" | migbox rdma-send --timeout 60 "$ADDR:$PORT" 2> /tmp/send.err ||
		fail "vfio-dump | rdma-send: $(cat /tmp/send.err)"
	wait $loader || fail "rdma-recv | vfio-load: $(cat /tmp/recv.err /tmp/load.err | tr '\n' '|')"
	got=$(vfio-regs "$B" show)
	echo "info $case: B: $(echo "$got" | tr '\n' '|')"
	[ "$got" = "$want" ] || fail "B shows '$got', A had '$want'"
}

relay() {
	rm -f /tmp/out.mig
	migbox stream-gen -s 8 -b pc.ram:32M -i 2 -r 30 -o /tmp/in.mig
	recv_bg --timeout 60 -o /tmp/out.mig
	migbox multifd-recv -c 2 -z zstd --timeout 60 127.0.0.1:5555 2> /tmp/mrecv.err |
		migbox rdma-send --timeout 60 "$ADDR:$PORT" 2> /tmp/send.err &
	relay=$!
	wait_for 10 grep -q 'listening on' /tmp/mrecv.err || { fail "multifd-recv did not listen"; return; }
	migbox multifd-send -c 2 -z zstd --timeout 60 127.0.0.1:5555 < /tmp/in.mig 2> /tmp/msend.err ||
		fail "multifd-send: $(cat /tmp/msend.err)"
	wait $relay || fail "multifd-recv | rdma-send: $(cat /tmp/mrecv.err /tmp/send.err | tr '\n' '|')"
	wait $recv || fail "rdma-recv: $(cat /tmp/recv.err)"
	migbox stream-dump --digest /tmp/in.mig > /tmp/in.dg
	migbox stream-dump --digest /tmp/out.mig > /tmp/out.dg
	cmp -s /tmp/in.dg /tmp/out.dg || fail "digests differ through the relay"
}

run_case() {
	case=$1
	rm -f /tmp/in.mig /tmp/out.mig /tmp/dst.img
	QEMU=qemu-system-x86_64 QEMU_VERSION=7.2
	case $case in
	qemu_to_recv@10|qemu_to_recv_pin@10|saved_to_qemu@10|saved_to_qemu_pin@10)
		QEMU=/q10/bin/qemu-system-x86_64 QEMU_VERSION=10.0
		[ -x $QEMU ] || { fail "no QEMU 10.0 in the VM (tests/vm/run --qemu10)"; return; }
		$QEMU --version | grep -q 'version 10\.0\.' ||
			{ fail "$QEMU is not QEMU 10.0: $($QEMU --version 2>&1 | head -n 2 | tr '\n' '|')"; return; }
		;;
	esac
	echo "info $case: $($QEMU --version | head -n 1)"
	case ${case%@10} in
	qemu_to_recv) qemu_to_recv ;;
	qemu_to_recv_pin) qemu_to_recv pin ;;
	send_to_recv) send_to_recv ;;
	send_to_recv_pin) send_to_recv --pin-all ;;
	saved_to_qemu) saved_to_qemu ;;
	saved_to_qemu_pin) saved_to_qemu --pin-all ;;
	mixes|big|vfio_pipe|relay) "$case" ;;
	nothing_listening|recv_version|recv_capability|recv_badlen|recv_unknown|recv_outside|\
	recv_stall|send_version|send_mismatch|send_error|send_stall|truncated_stdin|kill_recv|kill_send|\
	sigterm_recv|recv_huge|recv_huge_pin|recv_max_ram)
		fault_case "$case" ;;
	*) fail "no such case" ;;
	esac
	[ "$failed" = 1 ] || echo "PASS $case"
	failed_any=$((${failed_any:-0} | failed))
	failed=0
}

pattern
for c in "$@"; do
	run_case "$c"
done
exit "${failed_any:-0}"
