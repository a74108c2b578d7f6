#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# postcopy-serve against destinations and inputs that misbehave on
# purpose: return-path messages out of place or out of range, floods of
# requests, a stream file cut short while served, pipes that never end.
# Whatever happens, postcopy-serve ends by itself, within --timeout, with
# exit 1 and a message naming what went wrong; never by timeout(1) (124),
# never killed by a signal of its own making, never with unbounded memory.
load helpers
load stream-builder
load lib/fakedest

setup() {
	T=$BATS_TEST_TMPDIR
	peer_pid=
	# 16 pages of pc.ram, two device sections
	mb stream-gen -b pc.ram:64K --devices 2 -o "$T/in"
}

teardown() {
	stop_fake_dest
}

# rp TYPE FIELDS...: a return-path message in hex. TYPE: req_id START LEN
# NAME, req START LEN, bitmap NAME, resume_ack VALUE, shut VALUE.
rp() {
	perl -e '
		my ($t, @a) = @ARGV;
		my %type = (shut => 1, req_id => 3, req => 4, bitmap => 5, resume_ack => 6);
		my $body = $t eq "req_id" ? pack("Q>NC/a*", @a) :
			$t eq "req" ? pack("Q>N", @a) :
			$t eq "bitmap" ? pack("C/a*", @a) : pack("N", @a);
		print unpack("H*", pack("nn", $type{$t}, length $body) . $body);' "$@"
}

# serve [OPTIONS...]: postcopy-serve of $T/in to the fake destination,
# bounded by timeout(1) so that a hang fails the test (status 124).
serve() {
	run timeout -k 5 30 "$MIGBOX" postcopy-serve --timeout 5 "$@" "127.0.0.1:$port" <"$T/in"
}

@test "a request past a block's end fails the run, naming the block: no deadlock" {
	fake_dest play "$(rp req_id $((16 * 4096)) 4096 pc.ram)"
	serve
	assert_fails_with 1 "the destination asks for 4096 bytes at 0x10000 of block 'pc.ram', past its end (65536 bytes)"
	fake_dest play "$(rp req_id $((15 * 4096)) 8192 pc.ram)"
	serve
	assert_fails_with 1 "the destination asks for 8192 bytes at 0xf000 of block 'pc.ram', past its end"
}

@test "a REQ_PAGES_ID naming an unknown block fails the run: no deadlock" {
	fake_dest play "$(rp req_id 0 4096 pc.rom)"
	serve
	assert_fails_with 1 "the destination asks for pages of block 'pc.rom', which the stream does not have"
}

@test "a REQ_PAGES before any REQ_PAGES_ID fails the run: no deadlock" {
	fake_dest play "$(rp req 0 4096)"
	serve
	assert_fails_with 1 'the destination asks for pages (REQ_PAGES) before naming their block (REQ_PAGES_ID)'
}

@test "page requests before the guest was started are refused" {
	# PONG 1 and the request at once: before the package with LISTEN
	fake_dest hold "0002000400000001$(rp req_id 0 4096 pc.ram)"
	serve
	assert_fails_with 1 'the destination asks for pages (REQ_PAGES_ID) before the guest was started'
}

@test "a RECV_BITMAP nobody asked for is refused, not taken as pages received" {
	# every page "received": taken, it would end with 0 pages sent and exit 0
	fake_dest play "$(rp bitmap pc.ram)0000000000000008ffff0000000000000123456789abcdef"
	serve --stats-json "$T/s.json"
	assert_fails_with 1 "the destination sends the bitmap of block 'pc.ram' (RECV_BITMAP), which was not asked for"
	[[ $(jq -r '.ok, .pages_already_there' "$T/s.json") == $'false\n0' ]]
}

@test "a RESUME_ACK outside --resume is refused" {
	fake_dest play "$(rp resume_ack 1)"
	serve
	assert_fails_with 1 'the destination sends RESUME_ACK 1 without being asked to resume'
}

@test "SWITCHOVER_ACK (a destination with switchover-ack) is taken once; twice, or with a body, is refused" {
	FAKE_FIRST=00070000 fake_dest play ""
	serve --stats-json "$T/s.json"
	assert_ok
	[[ $(jq .switchover_acked "$T/s.json") == true ]]
	stop_fake_dest
	FAKE_FIRST=0007000000070000 fake_dest play ""
	serve
	assert_fails_with 1 'the destination sends SWITCHOVER_ACK twice'
	stop_fake_dest
	FAKE_FIRST=000700015a fake_dest play ""
	serve
	assert_fails_with 1 'return-path SWITCHOVER_ACK of 1 bytes, expected 0'
}

@test "--resume: a second bitmap of one block, or a RESUME_ACK other than 1, is refused" {
	local bitmap
	bitmap="$(rp bitmap pc.ram)00000000000000080000000000000000"0123456789abcdef
	fake_dest hold "$bitmap$bitmap"
	serve --resume
	# "a second time", or "not asked for" once the sender moved on
	assert_fails_with 1 "the destination sends the bitmap of block 'pc.ram' (RECV_BITMAP), "
	fake_dest hold "$bitmap$(rp resume_ack 7)"
	serve --resume
	assert_fails_with 1 'the destination sends RESUME_ACK 7 '
}

@test "--resume: more page requests than the queue holds before RESUME_ACK are no stall" {
	# the destination has every page but the last
	FAKE_FIRST="$(rp bitmap pc.ram)0000000000000008ff7f000000000000"0123456789abcdef
	# 5000 requests for that page before the ACK: the sender serves none
	# before it, so a return-path thread waiting for room in the queue
	# would never read the ACK
	perl -e 'print unpack("H*", pack("nnQ>NC/a*", 3, 19, 15 * 4096, 4096, "pc.ram") .
		pack("nnQ>N", 4, 12, 15 * 4096, 4096) x 5000 . pack("nnN", 6, 4, 1))' >"$T/reqs"
	FAKE_FIRST=$FAKE_FIRST fake_dest play "@$T/reqs"
	serve --resume --stats-json "$T/s.json"
	assert_ok
	[[ $(jq -r '.ok, .pages_already_there, .pages_requested + .pages_pushed, .requests' "$T/s.json") == \
		$'true\n15\n1\n5001' ]]
}

# max_rss CMD...: runs CMD, stderr in $T/serve.err; its peak RSS in KiB
# in $rss, its status in $rss_status.
max_rss() {
	rss_status=0
	/usr/bin/time -f %M -o "$T/time.out" "$@" 2>>"$T/serve.err" || rss_status=$?
	rss=$(tail -n 1 "$T/time.out")
	cat "$T/serve.err"
	echo "peak RSS $rss KiB, exit $rss_status" >&2
}

@test "a flood of requests for pages already sent takes no memory" {
	# 4 M requests for page 0 (64 MB of return path): queued, 128 MB or more
	FAKE_REPEAT=4194304 fake_dest play "$(rp req_id 0 4096 pc.ram)"
	max_rss timeout -k 5 120 "$MIGBOX" postcopy-serve --timeout 20 --stats-json "$T/s.json" \
		"127.0.0.1:$port" <"$T/in"
	[[ $rss_status == 0 ]]
	((rss < 65536))
	[[ $(jq -r '.requests' "$T/s.json") == 4194304 ]]
}

@test "a destination that floods requests and never reads: memory bounded, --timeout ends it" {
	mb stream-gen -b pc.ram:32M --devices 2 -o "$T/in"
	# requests for pages 0..2047 in turn, 4 M in all, the pages never read:
	# unqueued, 128 MB or more
	perl -e 'print unpack("H*", join("", map { pack("nnQ>NC/a*", 3, 19, $_ * 4096, 4096, "pc.ram") } 0 .. 2047))' >"$T/reqs"
	FAKE_REPEAT=2048 fake_dest play-deaf "$(<"$T/reqs")"
	# the 32 MiB stream file is mapped: its pages count too
	max_rss timeout -k 5 120 "$MIGBOX" postcopy-serve --timeout 3 --push-delay 60000 "127.0.0.1:$port" <"$T/in"
	[[ $rss_status == 1 ]]
	grep -q 'the destination took no byte and sent nothing for 3 s (--timeout)' "$T/serve.err"
	((rss < 131072))
}

@test "requests piling up while the last pages go out leave the SHUT readable: no stall at the end" {
	mb stream-gen -b pc.ram:64M --devices 2 -o "$T/in"
	# the whole block asked for at once, then 20000 requests for its last
	# page: they fill the queue while the block goes out, and once every
	# page is sent nothing drains it
	perl -e 'print unpack("H*", pack("nnQ>NC/a*", 3, 19, 0, 64 << 20, "pc.ram") .
		pack("nnQ>N", 4, 12, (64 << 20) - 4096, 4096) x 20000)' >"$T/reqs"
	fake_dest play "@$T/reqs"
	serve --push-delay 60000 --stats-json "$T/s.json"
	assert_ok
	[[ $(jq -r '.ok, .pages_requested, .pages_pushed, .requests' "$T/s.json") == $'true\n16384\n0\n20001' ]]
}

@test "--push-delay: once every page went, a destination that never says SHUT meets --timeout" {
	# it asks for the whole block: nothing is left to hold back
	fake_dest play-hold "$(rp req_id 0 $((16 * 4096)) pc.ram)"
	serve --push-delay 60000
	assert_fails_with 1 'the destination took no byte and sent nothing for 5 s (--timeout)'
}

@test "a stream file cut short while it is served is exit 1 saying so, not SIGBUS" {
	# pushing waits, so the page asked for after the cut is read then
	FAKE_TRUNCATE="$T/in 4096" fake_dest play "$(rp req_id $((15 * 4096)) 4096 pc.ram)"
	serve --push-delay 60000
	assert_fails_with 1 'stdin: the stream file was cut short while it was read (SIGBUS at offset' \
		'it must not change until postcopy-serve is done'
}

@test "a stream file cut short before its device state goes out (over 1 MiB) is exit 1 saying so" {
	# 2 MiB of device state: more than the send buffer, so not copied
	# through it unless on purpose
	{ sb_valid_head; sb_page 0 pc.ram a; sb_eos; sb_footer 2; sb_end 2; sb_eos; sb_footer 2
	  sb_full 3 timer 0 2; head -c 2M /dev/zero; sb_footer 3; sb_eof; } >"$T/in"
	# cut when PING 2 comes: the package follows its PONG
	FAKE_TRUNCATE="$T/in 4096" FAKE_TRUNCATE_AT=2 fake_dest play ''
	serve
	assert_fails_with 1 'stdin: the stream file was cut short while it was read (SIGBUS at offset' \
		'it must not change until postcopy-serve is done'
}

@test "a pipe of zeros is refused at its first bytes, not spooled" {
	mkdir "$T/tmp"
	port=$(free_port)
	run bash -c 'head -c 1G /dev/zero |
		TMPDIR="$1" timeout -k 5 30 "$MIGBOX" postcopy-serve 127.0.0.1:"$2"; echo "status ${PIPESTATUS[*]}"' - "$T/tmp" "$port"
	[[ $output == *'postcopy-serve: stdin: offset 0: bad magic 0x00000000'* ]]
	# head died of SIGPIPE: most of its gigabyte was never read
	[[ $output == *'status 141 1'* ]]
	[[ -z $(ls -A "$T/tmp") ]]
}

@test "a pipe that stops in the middle of a stream obeys --timeout" {
	port=$(free_port)
	mkfifo "$T/fifo"
	# half the stream, then the pipe stays open and silent
	perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; read($f, my $b, 20000); $| = 1;
		print $b; sleep 3600' "$T/in" >"$T/fifo" 3>&- &
	writer=$!
	run timeout -k 5 30 "$MIGBOX" postcopy-serve --timeout 2 "127.0.0.1:$port" <"$T/fifo"
	kill "$writer"
	assert_fails_with 1 'stdin: no byte of the stream came for 2 s (--timeout) while it was spooled'
}

@test "a pipe that brings its bytes slowly, each within --timeout, is spooled to its end" {
	port=$(free_port)
	# 20000 bytes, then one every 0.2 s for 4 s (no record completes
	# meanwhile), then the rest
	run bash -c 'perl -e '\''open(my $f, "<:raw", $ARGV[0]) or die; $| = 1;
		read($f, my $b, 20000); print $b;
		for (1 .. 20) { read($f, $b, 1); print $b; select(undef, undef, undef, 0.2) }
		local $/; print <$f>'\'' "$1" |
		timeout -k 5 30 "$MIGBOX" postcopy-serve --timeout 2 "127.0.0.1:$2"' - "$T/in" "$port"
	# past the spool: then nothing listens
	assert_fails_with 1 "postcopy-serve: cannot connect to 127.0.0.1:$port: Connection refused"
}

@test "a piped stream going on past what its RAM can explain is refused, and spooled no further" {
	mkdir "$T/tmp"
	port=$(free_port)
	# 512 KiB of RAM sent 1000 times over: 500 MiB, past 8 x 512 KiB + 256 MiB
	run bash -c '"$MIGBOX" stream-gen -b pc.ram:512K -i 1000 -r 100 |
		TMPDIR="$1" timeout -k 5 60 "$MIGBOX" postcopy-serve 127.0.0.1:"$2"' - "$T/tmp" "$port"
	assert_fails_with 1 'the stream goes on past 8 times the RAM it claims plus 256 MiB: not spooled further'
	[[ -z $(ls -A "$T/tmp") ]]
}

@test "--preempt: a destination that closes the second connection at once (no postcopy-preempt) fails the run naming the preempt channel" {
	FAKE_PREEMPT=close fake_dest play ""
	serve --preempt
	assert_fails_with 1 'postcopy-serve: preempt channel: the destination closed it' \
		'--preempt needs the postcopy-preempt capability on the destination'
}

@test "--preempt: a second connection refused or reset fails the run naming the preempt channel" {
	FAKE_PREEMPT=refuse fake_dest play ""
	serve --preempt
	# refused when the listener closed first, reset when it was queued
	assert_fails_with 1 'postcopy-serve: preempt channel: ' '--preempt needs the postcopy-preempt capability'
}

@test "--preempt: a destination that writes on the preempt channel is refused" {
	# QEMU never writes there: a peer that does is no QEMU
	perl -MIO::Socket::INET -e '
		my $l = IO::Socket::INET->new(Listen => 8, LocalAddr => "127.0.0.1:0", ReuseAddr => 1) or die;
		open(my $p, ">", "$ARGV[0]/port.tmp") or die; print $p $l->sockport, "\n"; close $p;
		rename("$ARGV[0]/port.tmp", "$ARGV[0]/port") or die;
		my $c = $l->accept; my $pc = $l->accept; syswrite($pc, "x");
		1 while sysread($c, my $b, 1 << 16)' "$T" 3>&- &	# held until postcopy-serve closes
	peer_pid=$!
	wait_for 10 test -e "$T/port"
	port=$(<"$T/port")
	serve --preempt
	assert_fails_with 1 'postcopy-serve: preempt channel: the destination sent bytes on it'
}

@test "--preempt: every page asked for one by one while the push runs: each page sent once, on one channel or the other" {
	mb stream-gen -b pc.ram:16M --devices 2 -o "$T/in"
	# 4096 requests, last page first, racing the background push
	perl -e 'print unpack("H*", pack("nnQ>NC/a*", 3, 19, 4095 * 4096, 4096, "pc.ram") .
		join("", map { pack("nnQ>N", 4, 12, $_ * 4096, 4096) } reverse 0 .. 4094))' >"$T/reqs"
	FAKE_PREEMPT=read fake_dest play "@$T/reqs"
	serve --preempt --stats-json "$T/s.json"
	assert_ok
	wait_for 10 test -e "$T/got-preempt"
	wait_for 10 test -e "$T/got.1"
	# the preempt channel: distinct pages, then EOS
	perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; local $/; my $b = <$f>; my ($o, %seen) = (0);
		for (;;) {
			my $h = unpack("Q>", substr($b, $o, 8)); $o += 8;
			last if $h == 0x10;
			$o += 7 unless $h & 0x20;
			die "page twice\n" if $seen{$h & ~0xfff}++;
			$o += $h & 0x08 ? 4096 : 1;
		}
		die "after EOS\n" if $o != length $b;
		print scalar(keys %seen), "\n"' "$T/got-preempt" >"$T/npre"
	main=$("$MIGBOX" stream-dump --json "$T/got.1" | jq '.ram_blocks[0] | .page_records + .zero_records')
	[[ $(jq -r '.pages_preempt, .pages_requested, .pages_preempt + .pages_pushed' "$T/s.json") == \
		"$(<"$T/npre")"$'\n'"$(<"$T/npre")"$'\n4096' ]]
	((main + $(<"$T/npre") == 4096))
	(($(jq .pages_pushed "$T/s.json") == main))
}
