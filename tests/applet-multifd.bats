#!/usr/bin/env bats
# multifd-send and multifd-recv over loopback (no QEMU): streams arrive with
# the same digests whatever the channels, compression and address family,
# and every fault fails both ends, naming the channel, with no output that
# looks complete.
load helpers
load stream-builder

setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || :; done
}

# gen ARGS...: stream-gen; MIGBOX_GEN may name another build to make the
# inputs with (the inputs are not what is under test here).
gen() {
	"${MIGBOX_GEN:-$MIGBOX}" stream-gen "$@"
}

# free_port: a TCP port the kernel just handed out (and released).
free_port() {
	perl -MIO::Socket::INET -e \
		'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport, "\n"'
}

# recv_bg ARGS...: multifd-recv in the background; its exit status lands in
# $T/recv.rc, its stderr in $T/recv.err.
recv_bg() {
	{
		local rc=0
		timeout 60 "$MIGBOX" multifd-recv "$@" 2>"$T/recv.err" || rc=$?
		echo $rc >"$T/recv.rc"
	} &
	PIDS+=($!)
	RECV_JOB=$!
}

# no_sanitizer_report FILE: an ASan/UBSan build's report would hide behind
# an expected exit status 1.
no_sanitizer_report() {
	! grep -Eq 'Sanitizer|runtime error:' "$1"
}

# recv_wait: wait for the receiver, print its stderr; $RECV_STATUS.
recv_wait() {
	wait "$RECV_JOB" || :
	RECV_STATUS=$(<"$T/recv.rc")
	sed 's/^/recv: /' "$T/recv.err" >&2
	no_sanitizer_report "$T/recv.err"
}

# send_fg INPUT ARGS...: multifd-send in the foreground; $SEND_STATUS.
send_fg() {
	local input=$1
	shift
	SEND_STATUS=0
	timeout 60 "$MIGBOX" multifd-send "$@" <"$input" 2>"$T/send.err" || SEND_STATUS=$?
	sed 's/^/send: /' "$T/send.err" >&2
	no_sanitizer_report "$T/send.err"
}

# transfer INPUT LISTEN CONNECT "SEND OPTS" "RECV OPTS": one transfer into
# $T/out; both must succeed.
transfer() {
	local input=$1 listen=$2 connect=$3 sopts=$4 ropts=$5
	rm -f "$T/out"
	# shellcheck disable=SC2086
	recv_bg $ropts --timeout 20 -o "$T/out" "$listen"
	# shellcheck disable=SC2086
	send_fg "$input" $sopts --timeout 20 "$connect"
	recv_wait
	[[ $SEND_STATUS == 0 && $RECV_STATUS == 0 ]] ||
		{ echo "send exit $SEND_STATUS, recv exit $RECV_STATUS" >&2; return 1; }
}

# same_digests A B: the two streams restore the same machine state.
same_digests() {
	diff <(digests "$1") <(digests "$2")
}

# no_complete_output FILE: FILE and its temporary are absent.
no_complete_output() {
	[[ ! -e $1 ]] && ! compgen -G "$1.tmp.*" >/dev/null
}

@test "usage: --help, man page, bad options exit 2" {
	run mb multifd-send --help
	assert_ok
	[[ $output == *'usage: multifd-send'*'--channels'*'--compress'*'--stats-json'* ]]
	run mb multifd-recv --help
	assert_ok
	[[ $output == *'usage: multifd-recv'*'--uuid'*'--output'* ]]
	"$MIGBOX" --man multifd-recv | grep -q '^\.SH OPTIONS'
	run mb multifd-send </dev/null
	assert_fails_with 2 'HOST:PORT'
	run mb multifd-send -c 0 127.0.0.1:1 </dev/null
	assert_fails_with 2 '-c 0'
	run mb multifd-send -c 256 127.0.0.1:1 </dev/null
	assert_fails_with 2 '1..255'
	run mb multifd-send -z lz4 127.0.0.1:1 </dev/null
	assert_fails_with 2 'none, zlib or zstd'
	run mb multifd-send -l 3 127.0.0.1:1 </dev/null
	assert_fails_with 2 '-l needs'
	run mb multifd-send -z zlib -l 10 127.0.0.1:1 </dev/null
	assert_fails_with 2 'zlib level 0..9'
	run mb multifd-send :4444 </dev/null
	assert_fails_with 2 'a host is needed'
	run mb multifd-send ::1:4444 </dev/null
	assert_fails_with 2 'brackets'
	run mb multifd-recv --uuid nope :4444
	assert_fails_with 2 '--uuid nope'
	run mb multifd-recv -o "$T/x" 127.0.0.1:99999
	assert_fails_with 2 'not a number'
}

@test "every content mix arrives intact, none/zlib/zstd, IPv4" {
	local mix z
	for mix in zero=30,random=30,text=40 zero=1 random=1 text=1 repeat=1 \
		zero=1,random=1,text=1,repeat=1; do
		gen -s 5 -b pc.ram:8M -b vga:1M -m "$mix" -o "$T/in"
		for z in none zlib zstd; do
			port=$(free_port)
			transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 3 -z $z" "-c 3 -z $z"
			same_digests "$T/in" "$T/out"
		done
	done
}

@test "IPv6 loopback, and a receiver on every address reached over IPv4 and IPv6" {
	gen -s 6 -b pc.ram:16M -i 2 -o "$T/in"
	port=$(free_port)
	transfer "$T/in" "[::1]:$port" "[::1]:$port" "-c 2 -z zstd" "-c 2 -z zstd"
	same_digests "$T/in" "$T/out"
	port=$(free_port)
	transfer "$T/in" ":$port" "127.0.0.1:$port" "-c 2" "-c 2"
	same_digests "$T/in" "$T/out"
	port=$(free_port)
	transfer "$T/in" ":$port" "[::1]:$port" "-c 2" "-c 2"
	same_digests "$T/in" "$T/out"
}

@test "1 to 16 channels; several iterations with re-sent pages" {
	local c
	gen -s 8 -b pc.ram:32M -b small:64K -i 4 -r 30 --section-pages 1000 -o "$T/in"
	for c in 1 2 5 8 16; do
		port=$(free_port)
		transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" \
			"-c $c -z zstd --stats-json $T/s.json" "-c $c -z zstd --stats-json $T/r.json"
		same_digests "$T/in" "$T/out"
		# one sync point per RAM end-of-section in the input, on every channel
		eos=$(mb stream-dump --json "$T/in" | jq .ram_records.eos)
		[[ $(jq .sync_points "$T/s.json") == "$eos" && $(jq .sync_points "$T/r.json") == "$eos" ]]
		[[ $(jq "[.per_channel[].syncs] | unique == [$eos]" "$T/r.json") == true ]]
		[[ $(jq .pages "$T/s.json") == $(jq .pages "$T/r.json") ]]
		# the output is a stream the receiver's peers can read again
		run mb stream-dump "$T/out"
		assert_ok
	done
}

@test "zlib and zstd streams run across packets; levels are honoured" {
	gen -s 9 -b pc.ram:32M -m text=1 -o "$T/in"
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 2 -z zlib --stats-json $T/1.json" "-c 2 -z zlib"
	same_digests "$T/in" "$T/out"
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 2 -z zlib -l 9 --stats-json $T/9.json" "-c 2 -z zlib"
	same_digests "$T/in" "$T/out"
	r1=$(jq .compression_ratio "$T/1.json")
	r9=$(jq .compression_ratio "$T/9.json")
	awk -v a="$r1" -v b="$r9" 'BEGIN { exit !(a > 2 && b > a) }'
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 4 -z zstd -l -5" "-c 4 -z zstd"
	same_digests "$T/in" "$T/out"
}

@test "a page sent twice in one epoch gets an extra sync point and the newer copy wins" {
	# page 0 four times (a, zero, b, c), page 1 twice (d, e), one END part
	{
		sb_valid_head
		sb_page 0 pc.ram a; sb_zero 0 ""; sb_page 0 "" b; sb_page 4096 "" d
		sb_page 0 "" c; sb_page 4096 "" e; sb_page 8192 "" f
		sb_valid_tail
	} >"$T/in"
	run mb stream-dump --digest "$T/in"
	assert_ok
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 4 --stats-json $T/s.json" "-c 4"
	same_digests "$T/in" "$T/out"
	[[ $(jq .extra_sync_points "$T/s.json") == 3 ]]
	# The same with many re-sent pages in every epoch, through zstd.
	gen -s 10 -b pc.ram:4M -i 3 -r 90 --section-pages 100000 -o "$T/gen"
	port=$(free_port)
	transfer "$T/gen" "127.0.0.1:$port" "127.0.0.1:$port" "-c 8 -z zstd" "-c 8 -z zstd"
	same_digests "$T/gen" "$T/out"
}

@test "vfio sections, devices, no vmdesc and an all-zero page record pass through" {
	gen -s 11 -b pc.ram:8M -i 3 --vfio 0000:00:05.0/vfio:300000 --devices 30 \
		--uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 -o "$T/in"
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 3" "-c 3"
	same_digests "$T/in" "$T/out"
	gen -s 11 -b pc.ram:1M --no-vmdesc -o "$T/in"
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 1" "-c 1"
	same_digests "$T/in" "$T/out"
	[[ $(tail -c 1 "$T/out" | od -An -tx1) == " 00" ]]
	# A PAGE record of zeros goes as a ZERO record on the main channel.
	{ sb_valid_head; sb_page 0 pc.ram '\000'; sb_valid_tail; } >"$T/in"
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 2 --stats-json $T/s.json" "-c 2"
	same_digests "$T/in" "$T/out"
	[[ $(jq '.zero_pages, .pages' "$T/s.json" | tr '\n' ' ') == '1 0 ' ]]
}

@test "a 2 GiB stream (4 channels, zstd) in bounded time" {
	gen -s 12 -b pc.ram:2G -m zero=30,random=30,text=40 -o "$T/in"
	port=$(free_port)
	start=$SECONDS
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" "-c 4 -z zstd" "-c 4 -z zstd"
	echo "transfer took $((SECONDS - start)) s" >&2
	[[ $((SECONDS - start)) -lt 60 ]]
	same_digests "$T/in" "$T/out"
}

@test "--progress and --stats-json report the transfer" {
	gen -s 13 -b pc.ram:16M -o "$T/in"
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" \
		"-c 2 -z zstd --progress --stats-json $T/s.json" "-c 2 -z zstd --progress --stats-json $T/r.json"
	grep -q 'multifd-send: .*pages [0-9]*  zero [0-9]*  ch0 .* ch1 ' "$T/send.err"
	grep -q 'multifd-recv: .*pages [0-9]*  zero [0-9]*  ch0 .* ch1 ' "$T/recv.err"
	for f in "$T/s.json" "$T/r.json"; do
		jq -e '.ok and .channels == 2 and .compression == "zstd" and .compression_ratio > 1
			and (.per_channel | length) == 2 and .multifd_bytes > .payload_bytes' "$f" >/dev/null
	done
	[[ $(jq .zero_pages "$T/s.json") == $(mb stream-dump --json "$T/in" | jq .ram_records.zero) ]]
	[[ $(jq .output_bytes "$T/r.json") == $(stat -c %s "$T/out") ]]
}

@test "fault: uuid mismatch fails both ends, naming the channel" {
	gen -b pc.ram:4M -o "$T/in"
	port=$(free_port)
	recv_bg -c 2 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	send_fg "$T/in" -c 2 --timeout 10 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -Eq 'channel [01] from 127\.0\.0\.1:[0-9]+ refused: uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8, expected 00000000-0000-0000-0000-000000000000' "$T/recv.err"
	grep -q 'channel' "$T/send.err"
	no_complete_output "$T/out"
	# the same uuid on both ends is fine
	port=$(free_port)
	transfer "$T/in" "127.0.0.1:$port" "127.0.0.1:$port" \
		"-c 2 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8" "-c 2 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	same_digests "$T/in" "$T/out"
}

@test "fault: channel count mismatch, either way" {
	gen -b pc.ram:4M -o "$T/in"
	port=$(free_port)
	recv_bg -c 2 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	send_fg "$T/in" -c 4 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -Eq 'channel [23] from .* refused: channel id [23], expected below the channel count 2' "$T/recv.err"
	no_complete_output "$T/out"

	port=$(free_port)
	recv_bg -c 3 --timeout 2 -o "$T/out" "127.0.0.1:$port"
	send_fg "$T/in" -c 2 --timeout 4 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -q 'timed out after 2 s waiting for the connections (--timeout): main channel in, 2 of 3 multifd channels (ids 0 1)' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: compression mismatch fails the receiver, and the sender sees the reset" {
	gen -b pc.ram:8M -o "$T/in"
	port=$(free_port)
	recv_bg -c 2 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	send_fg "$T/in" -c 2 -z zstd --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 && $SEND_STATUS == 1 ]]
	grep -Eq 'channel [01]: packet [0-9]+ of the channel: compression flag 0x4 \(zstd\), expected 0x0 \(none\) \(see -z\)' "$T/recv.err"
	grep -Eq 'channel|reset' "$T/send.err"
	no_complete_output "$T/out"
}

@test "fault: a foreign connection is refused with its first bytes" {
	port=$(free_port)
	recv_bg -c 1 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	sleep 0.3
	printf 'GET / HTTP/1.0\r\n\r\n' >/dev/tcp/127.0.0.1/"$port"
	recv_wait
	[[ $RECV_STATUS == 1 ]]
	grep -q 'connection from 127.0.0.1:[0-9]* refused: first bytes 47 45 54 20, expected "QEVM" (a main channel) or 0x11223344 (a multifd channel)' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: nobody listening, or no connection in time" {
	gen -b pc.ram:1M -o "$T/in"
	port=$(free_port)
	send_fg "$T/in" --timeout 1 "127.0.0.1:$port"
	[[ $SEND_STATUS == 1 ]]
	grep -q "main channel: cannot connect to 127.0.0.1:$port: Connection refused" "$T/send.err"
	recv_bg -c 2 --timeout 1 -o "$T/out" "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 ]]
	grep -q 'timed out after 1 s waiting for the connections (--timeout): no main channel, 0 of 2 multifd channels' "$T/recv.err"
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

@test "fault: malformed packets are refused with the field and the channel" {
	local -a cases=(
		"$(printf 'packet magic 0xdeadbeef, expected 0x11223344|BADMAGIC')"
		'normal_pages 129, expected at most pages_alloc 128|0 128 129 0 1 pc.ram'
		'pages_alloc 129, expected at most 128|0 129 1 4096 1 pc.ram 0'
		'next_packet_size 100, expected 4096 (1 pages)|0 128 1 100 1 pc.ram 0'
		'offset 0x10 is not page-aligned|0 128 1 4096 1 pc.ram 16'
		"unknown RAM block 'nosuch'|0 128 1 4096 1 nosuch 0"
		"offset 0x10000 is outside block 'pc.ram' (length 0x10000)|0 128 1 4096 1 pc.ram 65536"
		'packet flags 0x10, expected only SYNC|16 128 0 0 1 pc.ram'
		'packet_num 3 after 7|1 128 0 0 7 x -- 1 128 0 0 3 x'
	)
	local c want spec p
	for c in "${cases[@]}"; do
		want=${c%%|*}
		spec=${c#*|}
		port=$(free_port)
		recv_bg -c 1 --timeout 10 -o "$T/out" "127.0.0.1:$port"
		sleep 0.2
		exec {MAIN}<>"/dev/tcp/127.0.0.1/$port"
		sb_valid_head >&"$MAIN"
		raw_channel "$port" 0
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

@test "fault: a bad init packet and a duplicate channel id are refused" {
	port=$(free_port)
	recv_bg -c 2 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	sleep 0.2
	exec {C1}<>"/dev/tcp/127.0.0.1/$port"
	{ be32 0x11223344; be32 2; head -c 56 /dev/zero; } >&"$C1"
	recv_wait
	exec {C1}>&-
	[[ $RECV_STATUS == 1 ]]
	grep -q 'channel 0 from 127.0.0.1:[0-9]* refused: init packet version 2, expected 1' "$T/recv.err"

	port=$(free_port)
	recv_bg -c 2 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	sleep 0.2
	raw_channel "$port" 1
	C1=$CH
	raw_channel "$port" 1
	recv_wait
	exec {C1}>&- {CH}>&-
	[[ $RECV_STATUS == 1 ]]
	grep -q 'channel 1 from 127.0.0.1:[0-9]* refused: channel 1 is already connected from 127.0.0.1:[0-9]*' "$T/recv.err"
	no_complete_output "$T/out"
}

# slow_input FILE BYTES SECONDS: the first BYTES of FILE, a pause, the rest.
slow_input() {
	head -c "$2" "$1"
	sleep "$3"
	tail -c +$(($2 + 1)) "$1"
}

@test "fault: a channel killed mid-transfer fails both ends, naming it" {
	command -v socat >/dev/null || skip 'socat not installed'
	gen -s 14 -b pc.ram:64M -i 2 -o "$T/in"
	port=$(free_port)
	proxy=$(free_port)
	recv_bg -c 3 --timeout 20 -o "$T/out" "127.0.0.1:$port"
	# Every connection through its own socat child: main, then channel 0.
	socat "TCP-LISTEN:$proxy,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$port" &
	PIDS+=($!)
	socat_pid=$!
	sleep 0.3
	mkfifo "$T/slow"
	slow_input "$T/in" $((8 << 20)) 3 >"$T/slow" &
	PIDS+=($!)
	{
		rc=0
		timeout 60 "$MIGBOX" multifd-send -c 3 --timeout 20 "127.0.0.1:$proxy" <"$T/slow" 2>"$T/send.err" || rc=$?
		echo $rc >"$T/send.rc"
	} &
	PIDS+=($!)
	send_job=$!
	sleep 1.5
	children=($(pgrep -P "$socat_pid" | sort -n))
	[[ ${#children[@]} == 4 ]]
	kill -9 "${children[1]}"
	wait "$send_job" || :
	recv_wait
	sed 's/^/send: /' "$T/send.err" >&2
	no_sanitizer_report "$T/send.err"
	[[ $(<"$T/send.rc") == 1 && $RECV_STATUS == 1 ]]
	grep -q 'channel 0' "$T/send.err"
	grep -q 'channel 0' "$T/recv.err"
	no_complete_output "$T/out"
}

@test "fault: the receiver killed mid-transfer fails the sender" {
	gen -s 15 -b pc.ram:64M -o "$T/in"
	port=$(free_port)
	recv_bg -c 2 --timeout 20 "127.0.0.1:$port" >"$T/out"
	mkfifo "$T/slow"
	slow_input "$T/in" $((8 << 20)) 2 >"$T/slow" &
	PIDS+=($!)
	sleep 0.2
	{ sleep 1; pkill -9 -f "multifd-recv -c 2 --timeout 20 127.0.0.1:$port"; } &
	send_fg "$T/slow" -c 2 --timeout 20 "127.0.0.1:$port"
	[[ $SEND_STATUS == 1 ]]
	grep -Eq 'channel [01]|main channel' "$T/send.err"
}

@test "fault: truncated input fails the sender, and the receiver's output is not complete" {
	gen -s 16 -b pc.ram:16M -i 2 -o "$T/in"
	head -c $(($(stat -c %s "$T/in") / 2)) "$T/in" >"$T/half"
	port=$(free_port)
	recv_bg -c 2 --timeout 10 "127.0.0.1:$port" >"$T/stdout"
	send_fg "$T/half" -c 2 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	grep -q 'stdin: offset [0-9]*: stream truncated' "$T/send.err"
	# the sender resets every connection when it fails: the receiver may
	# see the main stream end early or a channel reset first
	grep -Eq 'main channel from 127.0.0.1:[0-9]*: offset [0-9]*: stream truncated|channel [01]: .*(reset by peer|closed)' "$T/recv.err"
	# what reached stdout is not a stream stream-dump accepts
	run mb stream-dump "$T/stdout"
	[[ $status == 1 ]]
	# and with -o no file appears
	port=$(free_port)
	recv_bg -c 2 --timeout 10 -o "$T/out" "127.0.0.1:$port"
	send_fg "$T/half" -c 2 --timeout 10 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	no_complete_output "$T/out"
}

@test "fault: a stalled receiver trips the sender's --timeout" {
	gen -s 17 -b pc.ram:64M -m random=1 -o "$T/in"
	port=$(free_port)
	# a listener that accepts and never reads
	perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 8, LocalAddr => "127.0.0.1:'"$port"'", ReuseAddr => 1);
		@c = (); while (1) { push @c, $s->accept; }' &
	PIDS+=($!)
	sleep 0.3
	start=$SECONDS
	send_fg "$T/in" -c 2 --timeout 2 "127.0.0.1:$port"
	[[ $SEND_STATUS == 1 && $((SECONDS - start)) -lt 15 ]]
	grep -q 'no byte moved for 2 s (--timeout)' "$T/send.err"
}
