#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# multifd-send and multifd-recv under faults: every real failure fails both
# ends with exit 1 and a message naming the channel or what stalled, with
# no output that looks complete; connections that are not channels and
# signals are handled without losing either promise.
load helpers
load stream-builder
load lib/multifd

setup() { multifd_setup; }
teardown() { multifd_teardown; }

# slow_transfer BYTES "RECV OPTS" "SEND OPTS": a receiver on port 0 ($port),
# and a sender in the background whose stdin gives the first BYTES of
# $T/in, the rest once $T/go exists.
slow_transfer() {
	mkfifo "$T/slow"
	slow_input "$T/in" "$1" >"$T/slow" &
	PIDS+=($!)
	# shellcheck disable=SC2086
	recv_bg $2 127.0.0.1:0
	port=$(recv_port)
	# shellcheck disable=SC2086
	send_bg "$T/slow" $3 "127.0.0.1:$port"
}

# connect_fails PORT: a TCP connect to PORT is refused.
connect_fails() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

@test "fault: uuid mismatch fails both ends, naming the channel" {
	gen -b pc.ram:4M -o "$T/in"
	recv_bg -c 2 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 2 --timeout 10 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -Eq 'channel [01] from 127\.0\.0\.1:[0-9]+ refused: uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8, expected 00000000-0000-0000-0000-000000000000' "$T/recv.err"
	grep -q 'channel' "$T/send.err"
	no_complete_output "$T/out"
	# the same uuid on both ends is fine
	transfer "$T/in" "-c 2 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8" "-c 2 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	same_digests "$T/in" "$T/out"
}

@test "fault: more channels than -c: refused by id, or by the closed listener" {
	gen -b pc.ram:4M -o "$T/in"
	recv_bg -c 2 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 4 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	# the receiver stops listening once it has main, 0 and 1: channel 2 or
	# 3 is refused by its id, dropped, or refused by the kernel
	grep -Eq 'channel [23] from .* refused: channel id [23], expected below the channel count 2|dropped: every channel is in' "$T/recv.err" ||
		grep -Eq 'channel [23]: .*(refused|reset)' "$T/send.err"
	no_complete_output "$T/out"
}

@test "fault: fewer channels than -c: the receiver's --timeout names what is missing" {
	gen -b pc.ram:4M -o "$T/in"
	recv_bg -c 3 --timeout 2 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 2 --timeout 4 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -q 'timed out after 2 s waiting for the connections (--timeout): main channel in, 2 of 3 multifd channels (ids 0 1)' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: compression mismatch fails the receiver, and the sender sees the reset" {
	gen -b pc.ram:8M -o "$T/in"
	recv_bg -c 2 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 2 -z zstd --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -Eq 'channel [01]: packet [0-9]+ of the channel: compression flag 0x4 \(zstd\), expected 0x0 \(none\) \(see -z\)' "$T/recv.err"
	grep -Eq 'channel|reset' "$T/send.err"
	no_complete_output "$T/out"
}

@test "connections that never say what they are are dropped, and the transfer goes on" {
	gen -s 20 -b pc.ram:8M -o "$T/in"
	recv_bg -c 2 --timeout 30 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	# a port scan: connect and close
	exec {SCAN}<>"/dev/tcp/127.0.0.1/$port"
	exec {SCAN}>&-
	# a health check speaking HTTP
	exec {WEB}<>"/dev/tcp/127.0.0.1/$port"
	# the receiver may reset it after the first bytes, before bash's
	# printf has written the rest
	printf 'GET / HTTP/1.0\r\n\r\n' >&"$WEB" 2>/dev/null || :
	wait_for 10 grep -q 'first bytes 47 45 54 20' "$T/recv.err"
	exec {WEB}>&-
	# 40 idle connections: more than the receiver keeps waiting
	idle=()
	for ((i = 0; i < 40; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port"
		idle+=("$fd")
	done
	wait_for 10 grep -q 'the oldest dropped' "$T/recv.err"
	send_fg "$T/in" -c 2 --timeout 20 "127.0.0.1:$port"
	recv_wait
	for fd in "${idle[@]}"; do exec {fd}>&-; done
	[[ $SEND_STATUS == 0 && $RECV_STATUS == 0 ]]
	same_digests "$T/in" "$T/out"
	grep -q 'connection from 127.0.0.1:[0-9]* closed after 0 bytes, before it said what it is: dropped' "$T/recv.err"
	grep -q 'connection from 127.0.0.1:[0-9]*: first bytes 47 45 54 20, expected "QEVM" (a main channel) or 0x11223344 (a multifd channel): dropped' "$T/recv.err"
	grep -q 'dropped: every channel is in' "$T/recv.err"
}

@test "a connection silent for 10 s is dropped with a line saying so" {
	gen -s 21 -b pc.ram:1M -o "$T/in"
	recv_bg -c 1 --timeout 30 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	exec {SILENT}<>"/dev/tcp/127.0.0.1/$port"
	wait_for 15 grep -q 'said nothing for 10 s: dropped' "$T/recv.err"
	exec {SILENT}>&-
	send_fg "$T/in" -c 1 --timeout 20 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 0 && $RECV_STATUS == 0 ]]
	same_digests "$T/in" "$T/out"
}

@test "a connection after every channel is in is refused by the kernel; the transfer goes on" {
	gen -s 22 -b pc.ram:32M -o "$T/in"
	slow_transfer $((4 << 20)) "-c 2 --timeout 30 -o $T/out" "-c 2 --timeout 30"
	# all in: the listener is closed
	wait_for 10 connect_fails "$port"
	touch "$T/go"
	send_wait
	recv_wait
	[[ $SEND_STATUS == 0 && $RECV_STATUS == 0 ]]
	same_digests "$T/in" "$T/out"
}

@test "fault: nobody listening, or no connection in time" {
	gen -b pc.ram:1M -o "$T/in"
	port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
	send_fg "$T/in" --timeout 1 "127.0.0.1:$port"
	[[ $SEND_STATUS == 1 ]]
	grep -q "main channel: cannot connect to 127.0.0.1:$port: Connection refused" "$T/send.err"
	recv_bg -c 2 --timeout 1 -o "$T/out" 127.0.0.1:0
	recv_wait
	[[ $RECV_STATUS == 1 ]]
	grep -q 'timed out after 1 s waiting for the connections (--timeout): no main channel, 0 of 2 multifd channels' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: a listen address that is not ours fails at once, naming it" {
	run mb multifd-recv -c 1 -o "$T/out" 192.0.2.1:0
	assert_fails_with 1 'cannot listen on 192.0.2.1:0'
	no_complete_output "$T/out"
}

# raw_channel PORT ID: open a multifd channel by hand on fd $CH, init sent.
raw_channel() {
	exec {CH}<>"/dev/tcp/127.0.0.1/$1"
	{ be32 0x11223344; be32 1; head -c 16 /dev/zero; u8 "$2"; head -c 39 /dev/zero; } >&"$CH"
}

# raw_packet FLAGS ALLOC NORMAL SIZE NUM NAME OFFSET...: a packet header.
raw_packet() {
	local flags=$1 alloc=$2 normal=$3 size=$4 num=$5 name=$6 i
	shift 6
	be32 0x11223344; be32 1; be32 "$flags"; be32 "$alloc"; be32 "$normal"; be32 "$size"
	be64 "$num"; head -c 32 /dev/zero
	printf '%s' "$name"; head -c $((256 - ${#name})) /dev/zero
	for i in "$@"; do be64 "$i"; done
	head -c $((8 * (128 - $#))) /dev/zero
}

# by_hand -c N: a receiver with the main channel and channel 0 open by
# hand ($MAIN, $CH), the block list sent.
by_hand() {
	recv_bg "$@" --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	exec {MAIN}<>"/dev/tcp/127.0.0.1/$port"
	sb_valid_head >&"$MAIN"
	raw_channel "$port" 0
}

@test "fault: malformed packets are refused with the field and the channel" {
	local -a cases=(
		"$(printf 'packet magic 0xdeadbeef, expected 0x11223344|BADMAGIC')"
		'normal_pages 129, expected at most pages_alloc 128|0 128 129 0 1 pc.ram'
		'pages_alloc 129, expected at most 128|0 129 1 4096 1 pc.ram 0'
		'next_packet_size 100, expected 4096 (1 pages)|0 128 1 100 1 pc.ram 0'
		'offset 0x10 is not page-aligned|0 128 1 4096 1 pc.ram 16'
		"unknown RAM block 'nosuch'|0 128 1 4096 1 nosuch 0"
		"offset 0x10000 is outside block 'pc.ram' (length 0x10000)|0 128 1 4096 1 pc.ram 65536"
		'packet flags 0x80, expected only SYNC|128 128 0 0 1 pc.ram'
		'packet_num 3 after 7|1 128 0 0 7 x -- 1 128 0 0 3 x'
	)
	local c want spec p
	for c in "${cases[@]}"; do
		want=${c%%|*}
		spec=${c#*|}
		by_hand -c 1
		if [[ $spec == BADMAGIC ]]; then
			{ be32 0xdeadbeef; head -c 1340 /dev/zero; } >&"$CH" 2>/dev/null || :
		else
			while [[ -n $spec ]]; do
				p=${spec%% -- *}
				# shellcheck disable=SC2086
				{ raw_packet $p; [[ $(cut -d' ' -f3 <<<"$p") == 0 ]] || head -c 4096 /dev/zero; } \
					>&"$CH" 2>/dev/null || :
				[[ $spec == *' -- '* ]] && spec=${spec#* -- } || spec=
			done
		fi
		recv_wait
		exec {MAIN}>&- {CH}>&-
		[[ $RECV_STATUS == 1 ]]
		grep -F "channel 0: packet" "$T/recv.err" | grep -qF "$want" ||
			{ echo "wanted: $want" >&2; return 1; }
		no_complete_output "$T/out"
	done
}

@test "fault: a zstd frame asking for a window over 32 MiB is refused, not allocated" {
	head -c 4096 /dev/urandom >"$T/page"
	# through a pipe: zstd cannot shrink the window to the input's size
	cat "$T/page" | zstd -q -c --zstd=wlog=27 >"$T/z"
	n=$(stat -c %s "$T/z")
	by_hand -c 1 -z zstd
	{ raw_packet 4 128 1 "$n" 1 pc.ram 0; cat "$T/z"; } >&"$CH" 2>/dev/null || :
	recv_wait
	exec {MAIN}>&- {CH}>&-
	[[ $RECV_STATUS == 1 ]]
	grep -q 'channel 0: packet 1: zstd decompression failed: Frame requires too much memory for decoding' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: a bad init packet and a duplicate channel id are refused" {
	recv_bg -c 2 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	exec {C1}<>"/dev/tcp/127.0.0.1/$port"
	{ be32 0x11223344; be32 2; head -c 56 /dev/zero; } >&"$C1"
	recv_wait
	exec {C1}>&-
	[[ $RECV_STATUS == 1 ]]
	grep -q 'channel 0 from 127.0.0.1:[0-9]* refused: init packet version 2, expected 1' "$T/recv.err"

	recv_bg -c 2 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	raw_channel "$port" 1
	C1=$CH
	raw_channel "$port" 1
	recv_wait
	exec {C1}>&- {CH}>&-
	[[ $RECV_STATUS == 1 ]]
	grep -q 'channel 1 from 127.0.0.1:[0-9]* refused: channel 1 is already connected from 127.0.0.1:[0-9]*' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: a channel killed mid-transfer fails both ends, naming it" {
	gen -s 14 -b pc.ram:64M -i 2 -o "$T/in"
	recv_bg -c 3 --timeout 20 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	# Every connection through its own socat child: main, then channel 0.
	socat TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork "TCP:127.0.0.1:$port" 2>/dev/null &
	socat_pid=$!
	PIDS+=("$socat_pid")
	wait_for 10 bash -c "ss -ltnp | grep -q 'pid=$socat_pid,'"
	proxy=$(ss -ltnp | grep "pid=$socat_pid," | awk '{print $4}' | sed 's/.*://')
	mkfifo "$T/slow"
	slow_input "$T/in" $((8 << 20)) >"$T/slow" &
	PIDS+=($!)
	send_bg "$T/slow" -c 3 --timeout 20 "127.0.0.1:$proxy"
	wait_for 10 bash -c "[[ \$(pgrep -P $socat_pid | wc -l) == 4 ]]"
	children=($(pgrep -P "$socat_pid" | sort -n))
	kill -9 "${children[1]}"
	touch "$T/go"
	send_wait
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	grep -q 'channel 0' "$T/send.err"
	# the receiver names channel 0 when it saw it close (or saw its peer's
	# FIN waiting), else the main channel the failing sender cut: its
	# channel 0 thread may be waiting on a sync point, not reading
	grep -q 'channel 0\|main channel .*: stream truncated' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: the receiver killed mid-transfer fails the sender" {
	gen -s 15 -b pc.ram:64M -o "$T/in"
	slow_transfer $((8 << 20)) "-c 2 --timeout 20 -o $T/out" "-c 2 --timeout 20"
	wait_for 10 bash -c "[[ \$(grep -c 'pid=$RECV_PID,' <(ss -tnp)) -ge 3 ]]"
	kill -9 "$RECV_PID"
	touch "$T/go"
	send_wait
	[[ $SEND_STATUS == 1 ]]
	grep -Eq 'channel [01]|main channel' "$T/send.err"
	no_complete_output "$T/out"
}

# sender_stuck PID: a multifd connection of PID holds over 1 MiB the
# receiver has not acknowledged: with --zero-copy its payloads are the
# kernel's until it does, so the channel waits for completions.
sender_stuck() {
	ss -Htnp | awk -v p="pid=$1," 'index($0, p) && $3 > 1048576 { n++ } END { exit !n }'
}

# stalled_listener: a listener on port $(<$T/port) that accepts and never
# reads.
stalled_listener() {
	perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 8, LocalAddr => "127.0.0.1:0", ReuseAddr => 1);
		open(F, ">", "'"$T/port"'"); print F $s->sockport, "\n"; close F;
		@c = (); while (1) { push @c, $s->accept; }' &
	PIDS+=($!)
	wait_for 10 test -s "$T/port"
}

@test "fault: --zero-copy, the receiver stops reading and is then killed: the sender fails within seconds, not at --timeout" {
	gen -s 33 -b pc.ram:128M -m random=1 -o "$T/in"
	# stopped mid-transfer: the input holds after 8 MiB until then
	slow_transfer $((8 << 20)) "-c 2 --timeout 30 -o $T/out" "-c 2 --zero-copy --timeout 30"
	wait_for 10 bash -c "[[ \$(grep -c 'pid=$RECV_PID,' <(ss -tnp)) -ge 3 ]]"
	kill -STOP "$RECV_PID"
	touch "$T/go"
	wait_for 10 sender_stuck "$SEND_PID"
	start=$SECONDS
	kill -9 "$RECV_PID"
	send_wait
	echo "the sender ended $((SECONDS - start)) s after the kill" >&2
	[[ $SEND_STATUS == 1 && $((SECONDS - start)) -lt 10 ]]
	grep -Eq 'channel [01]|main channel' "$T/send.err"
	no_complete_output "$T/out"
}

@test "fault: --zero-copy, a receiver that takes nothing: the channels' wait for completions ends at --timeout" {
	gen -s 34 -b pc.ram:64M -m random=1 -o "$T/in"
	stalled_listener
	start=$SECONDS
	send_fg "$T/in" -c 2 --zero-copy --no-handshake --timeout 2 "127.0.0.1:$(<"$T/port")"
	[[ $SEND_STATUS == 1 && $((SECONDS - start)) -lt 15 ]]
	grep -q 'no byte moved for 2 s (--timeout): the receiver stopped taking data' "$T/send.err"
}

@test "SIGTERM ends multifd-send --zero-copy waiting for completions from a receiver that takes nothing: death by SIGTERM" {
	gen -s 35 -b pc.ram:64M -m random=1 -o "$T/in"
	stalled_listener
	send_bg "$T/in" -c 2 --zero-copy --no-handshake "127.0.0.1:$(<"$T/port")"
	wait_for 10 sender_stuck "$SEND_PID"
	start=$SECONDS
	kill -TERM "$SEND_PID"
	send_wait
	[[ $SEND_STATUS == 143 && $((SECONDS - start)) -lt 10 ]]
	grep -q 'multifd-send: interrupted by SIGTERM' "$T/send.err"
}

@test "fault: truncated input fails the sender, and the receiver's output is not complete" {
	gen -s 16 -b pc.ram:16M -i 2 -o "$T/in"
	head -c $(($(stat -c %s "$T/in") / 2)) "$T/in" >"$T/half"
	recv_bg -c 2 --timeout 10 127.0.0.1:0 >"$T/stdout"
	port=$(recv_port)
	send_fg "$T/half" -c 2 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	grep -q 'stdin: offset [0-9]*: stream truncated' "$T/send.err"
	# the sender shuts every connection down when it fails: the receiver
	# may see the main stream end early or a channel reset first
	grep -Eq 'main channel from 127.0.0.1:[0-9]*: offset [0-9]*: stream truncated|channel [01]: .*(reset by peer|closed)' "$T/recv.err"
	# what reached stdout is not a stream stream-dump accepts
	run mb stream-dump "$T/stdout"
	assert_fails_with 1 'stream truncated'
	# and with -o no file appears
	recv_bg -c 2 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/half" -c 2 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	no_complete_output "$T/out"
}

@test "fault: a stalled receiver trips the sender's --timeout" {
	gen -s 17 -b pc.ram:64M -m random=1 -o "$T/in"
	# a listener that accepts and never reads
	perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 8, LocalAddr => "127.0.0.1:0", ReuseAddr => 1);
		open(F, ">", "'"$T/port"'"); print F $s->sockport, "\n"; close F;
		@c = (); while (1) { push @c, $s->accept; }' &
	PIDS+=($!)
	wait_for 10 test -s "$T/port"
	start=$SECONDS
	send_fg "$T/in" -c 2 --timeout 2 --no-handshake "127.0.0.1:$(<"$T/port")"
	[[ $SEND_STATUS == 1 && $((SECONDS - start)) -lt 15 ]]
	grep -q 'no byte moved for 2 s (--timeout): the receiver stopped taking data' "$T/send.err"
	# with the handshake it is the PING that goes unanswered
	start=$SECONDS
	send_fg "$T/in" -c 2 --timeout 2 "127.0.0.1:$(<"$T/port")"
	[[ $SEND_STATUS == 1 && $((SECONDS - start)) -lt 15 ]]
	grep -q "waiting for the destination's PONG: no answer in time" "$T/send.err"
}

@test "fault: stdin that stops sending ends both ends within seconds, naming stdin" {
	gen -s 23 -b pc.ram:16M -o "$T/in"
	mkfifo "$T/slow"
	slow_input "$T/in" $((1 << 20)) >"$T/slow" &
	PIDS+=($!)
	recv_bg -c 2 --timeout 30 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	start=$SECONDS
	send_fg "$T/slow" -c 2 --timeout 2 "127.0.0.1:$port"
	recv_wait
	echo "both ended after $((SECONDS - start)) s" >&2
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 && $((SECONDS - start)) -lt 10 ]]
	grep -q 'stdin gave no byte for 2 s (--timeout), at stream offset [0-9]*' "$T/send.err"
	no_complete_output "$T/out"
}

@test "fault: a receiver whose stdout is not read ends within seconds, naming the output" {
	gen -s 24 -b pc.ram:64M -m random=1 -o "$T/in"
	mkfifo "$T/unread"
	exec {UNREAD}<>"$T/unread"	# a reader that never reads
	recv_bg -c 2 --timeout 2 127.0.0.1:0 >"$T/unread"
	port=$(recv_port)
	start=$SECONDS
	send_fg "$T/in" -c 2 --timeout 30 "127.0.0.1:$port"
	recv_wait
	exec {UNREAD}>&-
	echo "both ended after $((SECONDS - start)) s" >&2
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 && $((SECONDS - start)) -lt 10 ]]
	grep -q 'the output (stdout) took no byte for 2 s (--timeout): whoever reads it stopped' "$T/recv.err"
	grep -Eq 'reset|closed|Broken pipe|send failed' "$T/send.err"
}

@test "SIGTERM ends multifd-recv -o: no file, no temporary, the sender fails, death by SIGTERM" {
	gen -s 25 -b pc.ram:64M -m random=1 -o "$T/in"
	slow_transfer $((16 << 20)) "-c 2 --timeout 30 -o $T/out" "-c 2 --timeout 30"
	# the output has data in it: kill mid-transfer
	wait_for 20 bash -c "(( \$(. '$BATS_TEST_DIRNAME/lib/multifd.bash'; T='$T'; output_size $RECV_PID) > 8000000 ))"
	kill -TERM "$RECV_PID"
	recv_wait
	send_wait
	[[ $RECV_STATUS == 143 && $SEND_STATUS == 1 ]]
	grep -q 'multifd-recv: interrupted by SIGTERM' "$T/recv.err"
	no_complete_output "$T/out"
	[[ -z $(ls "$T" | grep -v -e '^in$' -e '^slow$' -e '^send.err$' -e '^recv.err$' -e '^go$') ]]
}

@test "SIGINT ends multifd-send: every connection reset, the receiver fails too" {
	gen -s 26 -b pc.ram:32M -o "$T/in"
	slow_transfer $((4 << 20)) "-c 2 --timeout 30 -o $T/out" "-c 2 --timeout 30"
	wait_for 10 connect_fails "$port"
	kill -INT "$SEND_PID"
	send_wait
	recv_wait
	[[ $SEND_STATUS == 130 && $RECV_STATUS == 1 ]]
	grep -q 'multifd-send: interrupted by SIGINT' "$T/send.err"
	no_complete_output "$T/out"
}

@test "a RAM block that is not a page multiple is refused before any table is sized by it" {
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; be64 $((4096 | 4)); str8 a; be64 100; str8 b; be64 3996; } >"$T/in"
	recv_bg -c 1 --timeout 10 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 1 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	grep -q "stdin: offset 42: RAM block 'a' length 100 is not a multiple of the 4096-byte target page" "$T/send.err"
	no_complete_output "$T/out"
}
