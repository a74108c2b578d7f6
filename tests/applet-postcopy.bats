#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# postcopy-serve without QEMU: the command line, --probe, the streams it
# refuses before connecting, and fake destinations (a perl listener) that
# misbehave. Against QEMU 7.2 it runs in the VM.
load helpers
load stream-builder
load lib/fakedest

setup() {
	T=$BATS_TEST_TMPDIR
	peer_pid= writer_pid=
}

teardown() {
	stop_fake_dest
	if [[ -n $writer_pid ]]; then
		kill "$writer_pid" 2>/dev/null || true
		wait "$writer_pid" 2>/dev/null || true
	fi
}

# assert_nothing_connected: a connection of our own is the first the fake
# destination saw, so postcopy-serve (already exited) made none.
assert_nothing_connected() {
	perl -MIO::Socket::INET -e 'print {IO::Socket::INET->new("127.0.0.1:$ARGV[0]")} "sentinel"' "$port"
	wait_for 10 test -e "$T/got.1"
	[[ $(<"$T/got.1") == sentinel ]]
	[[ ! -e $T/accepted.2 ]]
}

# A small stream postcopy-serve takes: 16 pages, two devices.
valid_stream() {
	mb stream-gen -b pc.ram:64K --devices 2 -o "$1"
}

@test "usage: --help names the options; no HOST:PORT, bad option, bad port exit 2" {
	run mb postcopy-serve --help
	assert_ok
	[[ $output == *'usage: postcopy-serve'*'--resume'*'--push-delay'*'--timeout'*'--probe'* ]]
	"$MIGBOX" --man postcopy-serve | grep -q '^\.SH OPTIONS'
	run mb postcopy-serve </dev/null
	assert_fails_with 2 'expected one HOST:PORT' "Try 'postcopy-serve --help'"
	run mb postcopy-serve --bogus 127.0.0.1:1 </dev/null
	assert_fails_with 2 "unrecognized option '--bogus'" 'bad option'
	run mb postcopy-serve 127.0.0.1:99999 </dev/null
	assert_fails_with 2 "port '99999' is not a number 0..65535"
	run mb postcopy-serve 127.0.0.1:0 </dev/null
	assert_fails_with 2 'port 0 cannot be connected to'
	run mb postcopy-serve :4444 </dev/null
	assert_fails_with 2 'a host is needed'
	run mb postcopy-serve --push-delay x 127.0.0.1:1 </dev/null
	assert_fails_with 2 "--push-delay: expected milliseconds, 0..3600000, not 'x'"
	run mb postcopy-serve --json 127.0.0.1:1 </dev/null
	assert_fails_with 2 '--json goes with --probe'
	run mb postcopy-serve --probe 127.0.0.1:1
	assert_fails_with 2 '--probe takes no HOST:PORT'
}

@test "stdin a terminal is a usage error; empty stdin is exit 1 saying the stream is truncated" {
	# script(1) gives the applet a pseudo-terminal as stdin
	run script -qec "'$MIGBOX' postcopy-serve 127.0.0.1:1" /dev/null
	assert_fails_with 2 'the stream comes on stdin, which is a terminal'
	run mb postcopy-serve 127.0.0.1:1 </dev/null
	assert_fails_with 1 'postcopy-serve: stdin: offset 0: stream truncated' 'stream header'
	: >"$T/empty"
	run mb postcopy-serve 127.0.0.1:1 <"$T/empty"
	assert_fails_with 1 'postcopy-serve: stdin: offset 0: stream truncated' 'stream header'
}

@test "--probe: exit 0 or 1 with each check named; --json agrees with the exit status" {
	run mb postcopy-serve --probe --json
	[[ $status -eq 0 || $status -eq 1 ]]
	json=$output
	jq -e . <<<"$json" >/dev/null
	[[ $(jq -r '.usable | type' <<<"$json") == boolean ]]
	# usable exactly when every required check passed, and exit 0 then
	[[ $(jq '.usable == ([.checks[] | select(.required) | .ok] | all)' <<<"$json") == true ]]
	[[ $(jq -r .usable <<<"$json") == "$([[ $status -eq 0 ]] && echo true || echo false)" ]]
	for name in syscall api anon page-size; do
		[[ $(jq --arg n "$name" '[.checks[].name] | index($n) != null' <<<"$json") == true ]]
	done

	run mb postcopy-serve --probe
	[[ $status -eq $([[ $(jq -r .usable <<<"$json") == true ]] && echo 0 || echo 1) ]]
	while read -r name; do
		[[ $output =~ (^|$'\n')(ok|no|FAIL)\ +$name\  ]] || { echo "no line for check $name" >&2; false; }
	done < <(jq -r '.checks[].name' <<<"$json")
	if [[ $status -eq 0 ]]; then
		[[ $output == *'this host can be a postcopy destination'* ]]
	else
		[[ $output == *'this host cannot be a postcopy destination'* ]]
	fi
}

# refuse FILE MESSAGE...: postcopy-serve refuses FILE from a file and
# through a pipe (the spool), exit 1 naming MESSAGE, connecting nowhere.
refuse() {
	local file=$1
	shift
	run mb postcopy-serve --timeout 2 "127.0.0.1:$port" <"$file"
	assert_fails_with 1 'postcopy-serve: stdin: ' "$@"
	run bash -c 'cat "$1" | "$MIGBOX" postcopy-serve --timeout 2 "127.0.0.1:$2"' - "$file" "$port"
	assert_fails_with 1 'postcopy-serve: stdin: ' "$@"
}

@test "refused before connecting: not QEVM, version 2, a truncated stream" {
	fake_dest reply ''
	{ printf 'XEVM'; be32 3; sb_config pc-i440fx-7.2; } >"$T/notqevm"
	refuse "$T/notqevm" 'offset 0: bad magic 0x5845564d' 'not a QEMU migration stream'
	{ printf 'QEVM'; be32 2; } >"$T/v2"
	refuse "$T/v2" 'offset 4: stream version 2' 'expected 3'
	valid_stream "$T/in"
	size=$(stat -c %s "$T/in")
	for cut in 4 8 20 100 5000 $((size / 2)) $((size - 1)); do
		head -c "$cut" "$T/in" >"$T/cut"
		refuse "$T/cut" "offset $cut: stream truncated: expected"
	done
	assert_nothing_connected
}

@test "refused before connecting: XBZRLE and compressed pages, at their offset" {
	fake_dest reply ''
	sb_valid_head >"$T/head"
	off=$(stat -c %s "$T/head")
	{ cat "$T/head"; be64 $((0x100)); str8 pc.ram; head -c 100 /dev/zero; } >"$T/compress"
	refuse "$T/compress" "offset $off: COMPRESS_PAGE record (flag 0x100) is not supported"
	{ cat "$T/head"; be64 $((0x40)); str8 pc.ram; head -c 100 /dev/zero; } >"$T/xbzrle"
	refuse "$T/xbzrle" "offset $off: XBZRLE page record (flag 0x40) is not supported"
	assert_nothing_connected
}

@test "refused before connecting: a vfio device, no device state, no configuration, 64 KiB pages" {
	fake_dest reply ''
	mb stream-gen -b pc.ram:64K --devices 2 --vfio 0000:00:05.0/vfio:600 -o "$T/vfio"
	# its START section: type, be32 id, then the idstr
	off=$(perl -0777 -ne 'print index($_, pack("C/a*", "0000:00:05.0/vfio")) - 5' "$T/vfio")
	refuse "$T/vfio" "offset $off: vfio device '0000:00:05.0/vfio' is iterable"
	mb stream-gen -b pc.ram:64K --devices 0 -o "$T/nodev"
	refuse "$T/nodev" 'no device state (FULL sections)'
	{
		sb_header
		sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2
		sb_part 2; sb_page 0 pc.ram a; sb_valid_tail
	} >"$T/nocfg"
	refuse "$T/nocfg" 'no configuration section'
	{
		sb_header; sb_config pc-i440fx-7.2
		u8 5; str8 configuration/target-page-bits; be32 1; be32 16
		sb_start 2 ram 0 4; be64 $((65536 | 4)); str8 pc.ram; be64 65536; sb_eos; sb_footer 2
		sb_part 2; sb_valid_tail
	} >"$T/64k"
	refuse "$T/64k" 'target page size 65536: postcopy-serve serves 4096-byte pages only'
	assert_nothing_connected
}

@test "nothing listening: --timeout 2 gives up within a few seconds, saying it could not connect" {
	valid_stream "$T/in"
	port=$(free_port)
	start=$SECONDS
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 2 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 "postcopy-serve: cannot connect to 127.0.0.1:$port: Connection refused"
	((SECONDS - start <= 6))
}

@test "return path: a message of unknown type is exit 1 naming it" {
	valid_stream "$T/in"
	fake_dest reply 00630000
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: return path, byte 4: return-path message of unknown type 99 (length 0)'
	# a REQ_PAGES of half a page
	fake_dest reply 0004000c000000000000000000000800
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: return path, byte 16: return-path REQ_PAGES for 2048 bytes at 0x0: not whole 4096-byte pages'
	# a header cut short by the end of the connection
	fake_dest reply 0004
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: the destination closed the connection'
}

@test "return path: SHUT 1 from the destination is exit 1 naming it" {
	valid_stream "$T/in"
	fake_dest reply 0001000400000001
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: the destination shut down (SHUT 1) instead of sending PONG 1'
	# PONGs 1 and 2, then SHUT 0 before a single page
	fake_dest reply 000200040000000100020004000000020001000400000000
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: the destination shut down (SHUT 0) with 16 pages not sent'
}

@test "a destination that answers its PONGs gets every page, but no SHUT 0 is no success" {
	valid_stream "$T/in"
	# PONG 1, 2, 3: the guest would run; then silence, the connection open
	fake_dest hold 000200040000000100020004000000020002000400000003
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 2 --stats-json "$T/s.json" "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: the destination took no byte and sent nothing for 2 s (--timeout)' \
		'the destination is postcopy-paused; migrate-recover on it'
	wait_for 10 test -e "$T/got.1"
	[[ $(jq -r '.ok, .pages_total, (.pages_requested + .pages_pushed)' "$T/s.json") == $'false\n16\n16' ]]
	# the device state travels inside PACKAGED, which stream-dump leaves unparsed
	[[ $(digests "$T/got.1" | grep '^ram ') == $(digests "$T/in" | grep '^ram ') ]]
}

@test "a destination that accepts and closes at once is exit 1 saying so" {
	valid_stream "$T/in"
	fake_dest close
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$port" <"$T/in"
	[[ $status -eq 1 ]]
	# which side notices first is a race: the reader of the return path, or
	# a send at any stage
	[[ $output =~ postcopy-serve:\ (the\ destination\ closed\ the\ connection|[a-z\ ]+:\ (Broken\ pipe|Connection\ reset\ by\ peer)$) ]]
	[[ -e $T/accepted.1 ]]
}

@test "a destination that neither reads nor writes: --timeout 2 fails well under 10 s" {
	valid_stream "$T/in"
	fake_dest silent
	start=$SECONDS
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 2 "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'postcopy-serve: the destination took no byte and sent nothing for 2 s (--timeout)'
	((SECONDS - start < 10))
}

@test "--stats-json is written after a failure too, with the error" {
	valid_stream "$T/in"
	port=$(free_port)
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 1 --stats-json "$T/s.json" "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'cannot connect'
	[[ $(jq -r '.applet, .ok, .error' "$T/s.json") == \
		"postcopy-serve"$'\n'"false"$'\n'"cannot connect to 127.0.0.1:$port: Connection refused" ]]
	mb stream-gen -b pc.ram:64K --devices 0 -o "$T/nodev"
	run mb postcopy-serve --stats-json "$T/s2.json" "127.0.0.1:$port" <"$T/nodev"
	assert_fails_with 1 'no device state'
	[[ $(jq -r .ok "$T/s2.json") == false ]]
	[[ $(jq -r .error "$T/s2.json") == *'no device state (FULL sections)'* ]]
}

# serve_and_kill CONDITION [HOLD]: postcopy-serve of $T/in through a pipe
# (the spool, in $TMPDIR), killed by SIGTERM once CONDITION holds; with
# HOLD the pipe stays open after the stream. It must die of the signal at
# once and leave nothing in TMPDIR.
serve_and_kill() {
	local cond=$1 hold=${2:-0}
	mkdir -p "$T/tmp"
	mkfifo "$T/fifo"
	perl -e '$| = 1; local $/; print <STDIN>; close STDOUT unless $ARGV[0]; sleep 3600' "$hold" \
		<"$T/in" >"$T/fifo" 3>&- &
	writer_pid=$!
	TMPDIR=$T/tmp "$MIGBOX" postcopy-serve --timeout 30 "127.0.0.1:$port" <"$T/fifo" 2>"$T/err" 3>&- &
	pid=$!
	wait_for 10 eval "$cond"
	kill -TERM "$pid"
	# still there after 5 s: end the pipe so that the test fails, not hangs
	timeout 5 tail --pid="$pid" -f /dev/null || { echo "alive 5 s after SIGTERM" >&2; alive=1; }
	kill "$writer_pid"
	status=0
	wait "$pid" || status=$?
	cat "$T/err"
	[[ -z ${alive:-} ]]
	[[ $status -eq 143 ]]
	grep -q 'postcopy-serve: interrupted by SIGTERM' "$T/err"
	[[ -z $(ls -A "$T/tmp") ]]
}

# main_syscall: the number of the system call postcopy-serve's main thread
# waits in (0 read, 7 poll)
main_syscall() {
	cut -d' ' -f1 "/proc/$pid/syscall" 2>/dev/null
}

@test "SIGTERM while connecting: dies of the signal, nothing left in TMPDIR" {
	valid_stream "$T/in"
	port=$(free_port)
	# spooled, indexed, and retrying a refused connect in poll
	serve_and_kill '[[ $(main_syscall) == 7 ]]'
}

@test "SIGTERM while waiting on a silent destination: dies of the signal, nothing left in TMPDIR" {
	valid_stream "$T/in"
	fake_dest silent
	serve_and_kill '[[ -e $T/accepted.1 ]]'
}

@test "SIGTERM while spooling a pipe that stays open: dies of the signal at once" {
	valid_stream "$T/in"
	port=$(free_port)
	# the whole stream is in the spool and the main thread reads for more
	serve_and_kill '[[ $(main_syscall) =~ ^(0|7)$ ]] && spooled' 1
}

# spooled: postcopy-serve's spool in $T/tmp holds all of $T/in
spooled() {
	local fd size
	size=$(stat -c %s "$T/in")
	for fd in /proc/"$pid"/fd/*; do
		[[ $(readlink "$fd") == "$T/tmp/"* && $(stat -L -c %s "$fd") == "$size" ]] && return 0
	done
	return 1
}

@test "refused before connecting: RAM blocks claiming more than 1 TiB (2^28 pages), before any table is made" {
	fake_dest reply ''
	big=$((1 << 42))
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; sb_mem_size huge $big; sb_eos; sb_footer 2
	  sb_part 2; sb_page 0 huge a; sb_eos; sb_footer 2; sb_end 2; sb_eos; sb_footer 2
	  sb_full 3 timer 0 2; printf 'devicebytes'; sb_footer 3; sb_eof; } >"$T/huge"
	refuse "$T/huge" "the stream's RAM blocks claim 1073741824 pages; postcopy-serve serves at most 268435456 (1024 GiB of RAM)"
	assert_nothing_connected
}

# rp_req_hex: REQ_PAGES_ID of pc.ram page $1, then REQ_PAGES of page $2.
rp_req_hex() {
	perl -e 'print unpack("H*", pack("nnQ>NC/a*", 3, 19, $ARGV[0] * 4096, 4096, "pc.ram") .
		pack("nnQ>N", 4, 12, $ARGV[1] * 4096, 4096))' "$1" "$2"
}

@test "--preempt: requested pages go on the second connection as bare records, EOS at the end; the push stays on main" {
	mb stream-gen -b pc.ram:64K --devices 2 -m random=1 -o "$T/in"
	mb stream-gen -b pc.ram:64K --devices 2 -m random=1 --raw -o "$T/ram"
	# pushing waits 2 s: pages 3 and 5 can only come on request
	FAKE_PREEMPT=read fake_dest play "$(rp_req_hex 3 5)"
	run timeout 30 "$MIGBOX" postcopy-serve --timeout 10 --preempt --push-delay 2000 \
		--stats-json "$T/s.json" "127.0.0.1:$port" <"$T/in"
	assert_ok
	wait_for 10 test -e "$T/got-preempt"
	# be64 offset|PAGE, the block named once, CONTINUE after; be64 EOS
	perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; local $/; my $ram = <$f>;
		print pack("Q>", 3 * 4096 | 0x08), "\x06pc.ram", substr($ram, 3 * 4096, 4096),
			pack("Q>", 5 * 4096 | 0x28), substr($ram, 5 * 4096, 4096), pack("Q>", 0x10)' \
		"$T/ram" >"$T/want-preempt"
	cmp "$T/got-preempt" "$T/want-preempt"
	[[ $(jq -r '.preempt, .pages_preempt, .pages_requested, .pages_pushed, .bytes_sent_preempt' "$T/s.json") == \
		$'true\n2\n2\n14\n'"$(stat -c %s "$T/want-preempt")" ]]
	# the main channel has the other pages, not these
	wait_for 10 test -e "$T/got.1"
	perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; open(my $g, "<:raw", $ARGV[1]) or die;
		local $/; my ($ram, $main) = (<$f>, <$g>);
		for my $p (0 .. 15) {
			my $in = index($main, substr($ram, $p * 4096, 4096)) >= 0;
			die "page $p: on main $in\n" if $in != ($p != 3 && $p != 5);
		}' "$T/ram" "$T/got.1"
}

@test "--preempt with --resume is a usage error" {
	valid_stream "$T/in"
	run mb postcopy-serve --preempt --resume 127.0.0.1:1 <"$T/in"
	assert_fails_with 2 '--resume does not go with --preempt'
}
