#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# multifd-send and multifd-recv over loopback (no QEMU): streams arrive with
# the same digests whatever the channels, compression and address family.
# Faults are in faults-multifd.bats.
load helpers
load stream-builder
load lib/multifd

setup() { multifd_setup; }
teardown() { multifd_teardown; }

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
			transfer "$T/in" "-c 3 -z $z" "-c 3 -z $z"
			same_digests "$T/in" "$T/out"
		done
	done
}

@test "IPv6 loopback, and a receiver on every address reached over IPv4 and IPv6" {
	gen -s 6 -b pc.ram:16M -i 2 -o "$T/in"
	transfer "$T/in" "-c 2 -z zstd" "-c 2 -z zstd" "[::1]:0" "[::1]"
	same_digests "$T/in" "$T/out"
	grep -q 'listening on \[::1\]:[0-9]*$' "$T/recv.err"
	transfer "$T/in" "-c 2" "-c 2" ":0" 127.0.0.1
	same_digests "$T/in" "$T/out"
	transfer "$T/in" "-c 2" "-c 2" ":0" "[::1]"
	same_digests "$T/in" "$T/out"
}

@test "1 to 16 channels; several iterations with re-sent pages" {
	local c
	gen -s 8 -b pc.ram:32M -b small:64K -i 4 -r 30 --section-pages 1000 -o "$T/in"
	for c in 1 2 5 8 16; do
		transfer "$T/in" "-c $c -z zstd --stats-json $T/s.json" "-c $c -z zstd --stats-json $T/r.json"
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
	transfer "$T/in" "-c 2 -z zlib --stats-json $T/1.json" "-c 2 -z zlib"
	same_digests "$T/in" "$T/out"
	transfer "$T/in" "-c 2 -z zlib -l 9 --stats-json $T/9.json" "-c 2 -z zlib"
	same_digests "$T/in" "$T/out"
	r1=$(jq .compression_ratio "$T/1.json")
	r9=$(jq .compression_ratio "$T/9.json")
	awk -v a="$r1" -v b="$r9" 'BEGIN { exit !(a > 2 && b > a) }'
	transfer "$T/in" "-c 4 -z zstd -l -5" "-c 4 -z zstd"
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
	transfer "$T/in" "-c 4 --stats-json $T/s.json" "-c 4"
	same_digests "$T/in" "$T/out"
	[[ $(jq .extra_sync_points "$T/s.json") == 3 ]]
	# The same with many re-sent pages in every epoch, through zstd.
	gen -s 10 -b pc.ram:4M -i 3 -r 90 --section-pages 100000 -o "$T/gen"
	transfer "$T/gen" "-c 8 -z zstd" "-c 8 -z zstd"
	same_digests "$T/gen" "$T/out"
}

@test "vfio sections, devices, no vmdesc and an all-zero page record pass through" {
	gen -s 11 -b pc.ram:8M -i 3 --vfio 0000:00:05.0/vfio:300000 --devices 30 \
		--uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 -o "$T/in"
	transfer "$T/in" "-c 3" "-c 3"
	same_digests "$T/in" "$T/out"
	gen -s 11 -b pc.ram:1M --no-vmdesc -o "$T/in"
	transfer "$T/in" "-c 1" "-c 1"
	same_digests "$T/in" "$T/out"
	[[ $(tail -c 1 "$T/out" | od -An -tx1) == " 00" ]]
	# A PAGE record of zeros goes as a ZERO record on the main channel.
	{ sb_valid_head; sb_page 0 pc.ram '\000'; sb_valid_tail; } >"$T/in"
	transfer "$T/in" "-c 2 --stats-json $T/s.json" "-c 2"
	same_digests "$T/in" "$T/out"
	[[ $(jq '.zero_pages, .pages' "$T/s.json" | tr '\n' ' ') == '1 0 ' ]]
}

@test "--zero-copy over loopback, 4 channels, every packet buffer reused many times: the output's digests are the input's; the figures count the sends and the kernel's copies" {
	# 128 MiB of pages 4 times over: each channel's few buffers go round
	# hundreds of times, a buffer written again before the kernel's
	# completion would send the next packet's pages in its place
	gen -s 30 -b pc.ram:128M -b vga:8M -i 4 -r 40 -m zero=10,random=50,text=40 -o "$T/in"
	transfer "$T/in" "-c 4 --zero-copy --stats-json $T/s.json" "-c 4 --stats-json $T/r.json"
	same_digests "$T/in" "$T/out"
	"$BATS_TEST_DIRNAME/lib/validate-stats" "$T/s.json"
	# a send per payload of at most 128 pages (by copy after an ENOBUFS
	# with none in flight: a user's locked-memory limit, 8 MiB by default,
	# is about 4 channels' 4 payloads); over loopback the kernel copies
	# anyway and its completions say COPIED
	jq -e '.ok and .zero_copy and .zerocopy_sends > 0
		and .zerocopy_sends + .zerocopy_copy_fallbacks >= .pages / 128
		and .zerocopy_copied > 0 and .zerocopy_copied <= .zerocopy_sends' "$T/s.json" >/dev/null
	[[ $(jq .pages "$T/s.json") == $(jq .pages "$T/r.json") ]]
	# over IPv6 the completions come as IPV6_RECVERR
	transfer "$T/in" "-c 2 --zero-copy --stats-json $T/s6.json" "-c 2" "[::1]:0" "[::1]"
	same_digests "$T/in" "$T/out"
	jq -e '.zerocopy_copied > 0' "$T/s6.json" >/dev/null
	# without it, nothing goes zero-copy
	transfer "$T/in" "-c 2 --stats-json $T/p.json" "-c 2"
	same_digests "$T/in" "$T/out"
	jq -e '(.zero_copy | not) and .zerocopy_sends == 0 and .zerocopy_copied == 0' "$T/p.json" >/dev/null
}

@test "--zero-copy with -z zlib or zstd is a usage error (exit 2), as in QEMU" {
	run mb multifd-send --zero-copy -z zstd 127.0.0.1:1 </dev/null
	assert_fails_with 2 '--zero-copy sends the pages as they are: not with -z zstd'
	run mb multifd-send -z zlib -l 3 --zero-copy 127.0.0.1:1 </dev/null
	assert_fails_with 2 'not with -z zlib'
	run mb multifd-send --zero-copy --help
	assert_ok
	[[ $output == *'--zero-copy'*'Over loopback the'*'kernel copies anyway'* ]]
}

@test "--zero-copy under a small locked-memory limit: ENOBUFS is waited out or copied around, and the output is intact" {
	gen -s 31 -b pc.ram:64M -i 3 -r 30 -o "$T/in"
	# root pins pages without limit (CAP_IPC_LOCK): drop it for the sender
	local lim
	local -a as=()
	[[ $(id -u) != 0 ]] || as=(setpriv --bounding-set=-ipc_lock)
	# 1200 KiB: two 512 KiB payloads pinned at once; 256 KiB: none
	for lim in 1200 256; do
		rm -f "$T/out"
		recv_bg -c 4 --timeout 20 -o "$T/out" 127.0.0.1:0
		port=$(recv_port)
		SEND_STATUS=0
		(ulimit -l "$lim" && exec timeout -s KILL 60 "${as[@]}" "$MIGBOX" multifd-send -c 4 --zero-copy \
			--timeout 20 --stats-json "$T/s.json" "127.0.0.1:$port") <"$T/in" 2>"$T/send.err" || SEND_STATUS=$?
		sed 's/^/send: /' "$T/send.err" >&2
		no_sanitizer_report "$T/send.err"
		recv_wait
		[[ $SEND_STATUS == 0 && $RECV_STATUS == 0 ]]
		same_digests "$T/in" "$T/out"
		jq -c '{zerocopy_sends, zerocopy_enobufs, zerocopy_copy_fallbacks, packets}' "$T/s.json" >&2
		jq -e '.ok and .zerocopy_enobufs > 0' "$T/s.json" >/dev/null
	done
	# with none in flight a refused payload went by copy
	jq -e '.zerocopy_copy_fallbacks > 0' "$T/s.json" >/dev/null
}

@test "--zero-copy where the kernel refuses SO_ZEROCOPY: exit 1 naming --zero-copy; the receiver fails too, no output" {
	cc -shared -fPIC -o "$T/nozc.so" "$BATS_TEST_DIRNAME/lib/no-so-zerocopy.c" -ldl
	gen -s 32 -b pc.ram:4M -o "$T/in"
	export LD_PRELOAD=$T/nozc.so ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	transfer_fails "$T/in" "-c 2 --zero-copy --timeout 10" "-c 2 --timeout 10"
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	grep -q 'multifd-send: channel 0: --zero-copy: the kernel refuses SO_ZEROCOPY on its socket (Protocol not available): MSG_ZEROCOPY needs Linux 4.14 or later; send without --zero-copy' "$T/send.err"
	no_complete_output "$T/out"
	# the shim refuses SO_ZEROCOPY only: without --zero-copy the transfer goes
	transfer "$T/in" "-c 2" "-c 2"
	same_digests "$T/in" "$T/out"
}

# modes MACHINE: stream-gen with that machine type through multifd-send
# and multifd-recv (3 channels, zstd, options $SEND_MODES for the sender);
# same digests, every page of the output sent, the sync points agreeing;
# prints the sender's sync_mode and zero_pages_in_packets.
modes() {
	gen -s 20 -b pc.ram:4M -b vga:1M -i 3 -r 20 --machine "$1" -o "$T/in"
	transfer "$T/in" "-c 3 -z zstd ${SEND_MODES:-} --stats-json $T/s.json" "-c 3 -z zstd --stats-json $T/r.json"
	same_digests "$T/in" "$T/out"
	mb stream-dump --map --json "$T/out" | jq -e '[.ram_blocks[].map.never] | add == 0' >/dev/null
	[[ $(jq .sync_points "$T/s.json") == $(jq .sync_points "$T/r.json") ]]
	[[ $(jq .sync_mode "$T/s.json") == $(jq .sync_mode "$T/r.json") ]]
	[[ $(jq .zero_pages "$T/s.json") == $(jq .zero_pages "$T/r.json") ||
		$(jq .zero_pages_in_packets "$T/s.json") == false ]]
	jq -r '"\(.sync_mode) \(.zero_pages_in_packets)"' "$T/s.json"
}

@test "the stream's machine type picks the destination's sync and zero-page modes; --sync and --zero-pages override" {
	local m
	for m in pc-i440fx-7.2:section:false pc-q35-8.0:section:false pc-q35-8.1:round:false \
		pc-i440fx-8.2:round:false virt-9.0:round:true pc-i440fx-10.0:round:true; do
		[[ $(modes "${m%%:*}") == "$(cut -d: -f2 <<<"$m") $(cut -d: -f3 <<<"$m")" ]]
	done
	# zero pages listed in packets: the receiver writes them as ZERO records
	[[ $(mb stream-dump --json "$T/out" | jq .ram_records.zero) == $(jq .zero_pages "$T/s.json") ]]
	[[ $(jq '.per_channel | map(.syncs) | unique' -c "$T/r.json") == "[$(jq .sync_points "$T/s.json")]" ]]
	SEND_MODES='--sync section --zero-pages legacy'
	[[ $(modes pc-i440fx-10.0) == 'section false' ]]
	SEND_MODES='--sync round --zero-pages multifd'
	[[ $(modes pc-i440fx-7.2) == 'round true' ]]
	run mb multifd-send --sync sometimes 127.0.0.1:1 </dev/null
	assert_fails_with 2 '--sync: expected section or round'
	run mb multifd-send --zero-pages none 127.0.0.1:1 </dev/null
	assert_fails_with 2 '--zero-pages: expected legacy or multifd'
}

@test "a machine type without a version: multifd-send fails naming --sync, and nothing is written; --sync makes it go" {
	gen -s 21 -b pc.ram:1M --machine microvm -o "$T/in"
	transfer_fails "$T/in" "-c 2 --timeout 20" "-c 2 --timeout 20"
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	grep -q "machine type 'microvm' has no version, so the destination's multifd sync mode is unknown: say --sync section" "$T/send.err"
	[[ ! -e $T/out ]]
	transfer "$T/in" "-c 2 --sync section --stats-json $T/s.json" "-c 2"
	same_digests "$T/in" "$T/out"
	[[ $(jq -r '"\(.sync_mode) \(.zero_pages_in_packets)"' "$T/s.json") == 'section false' ]]
	# a stream without a configuration section
	{ sb_header; sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2; sb_eof; } >"$T/bare"
	rm -f "$T/out"
	transfer_fails "$T/bare" "-c 1 --timeout 20" "-c 1 --timeout 20"
	[[ $SEND_STATUS == 1 ]]
	grep -q 'no configuration section before RAM, so .* say --sync' "$T/send.err"
}

@test "a ZERO record whose fill is not 0 goes as the page it stands for (QEMU 10.0 refuses such a record)" {
	{ sb_valid_head; sb_zero 0 pc.ram 90; sb_zero 4096 "" 0; sb_page 8192 "" b; sb_valid_tail; } >"$T/in"
	transfer "$T/in" "-c 2 --stats-json $T/s.json" "-c 2"
	same_digests "$T/in" "$T/out"
	[[ $(jq '.zero_pages, .pages' "$T/s.json" | tr '\n' ' ') == '1 2 ' ]]
	[[ $(mb stream-dump --json "$T/out" | jq -c '.ram_records | [.page, .zero]') == '[2,1]' ]]
}

@test "--progress and --stats-json report the transfer" {
	gen -s 13 -b pc.ram:16M -o "$T/in"
	transfer "$T/in" "-c 2 -z zstd --progress --stats-json $T/s.json" "-c 2 -z zstd --progress --stats-json $T/r.json"
	grep -q 'multifd-send: .*pages [0-9]*  zero [0-9]*  ch0 .* ch1 ' "$T/send.err"
	grep -q 'multifd-recv: .*pages [0-9]*  zero [0-9]*  ch0 .* ch1 ' "$T/recv.err"
	for f in "$T/s.json" "$T/r.json"; do
		jq -e '.ok and .channels == 2 and .compression == "zstd" and .compression_ratio > 1
			and (.per_channel | length) == 2 and .multifd_bytes > .payload_bytes' "$f" >/dev/null
	done
	[[ $(jq .zero_pages "$T/s.json") == $(mb stream-dump --json "$T/in" | jq .ram_records.zero) ]]
	[[ $(jq .output_bytes "$T/r.json") == $(stat -c %s "$T/out") ]]
}

@test "port 0: the bound address is on stderr and in --stats-json" {
	gen -s 18 -b pc.ram:1M -o "$T/in"
	transfer "$T/in" "-c 1 --stats-json $T/s.json" "-c 1 --stats-json $T/r.json"
	port=$(recv_port)
	[[ $port -gt 0 ]]
	[[ $(jq -r .endpoint "$T/r.json") == "127.0.0.1:$port" ]]
	[[ $(jq -r .endpoint "$T/s.json") == "127.0.0.1:$port" ]]
	jq -e '.ok and .applet == "multifd-recv"' "$T/r.json" >/dev/null
}

@test "-o through a symlink writes the link's target and keeps the link" {
	gen -s 19 -b pc.ram:1M -o "$T/in"
	ln -s target.mig "$T/link.mig"
	recv_bg -c 1 --timeout 20 -o "$T/link.mig" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 1 --timeout 20 "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 0 && $RECV_STATUS == 0 ]]
	[[ -L $T/link.mig && $(readlink "$T/link.mig") == target.mig ]]
	same_digests "$T/in" "$T/target.mig"
	[[ $(ls "$T" | grep -c tmp) == 0 ]]
}

@test "--mapped-ram: multifd-recv writes a mapped-ram file (channels in parallel): same digests, zero pages holes, for both sync modes and re-sent pages" {
	local m
	for m in pc-i440fx-7.2 pc-i440fx-10.0; do
		gen -s 4 -b pc.ram:32M -b vga:4M -i 3 -r 40 -m zero=40,random=30,text=30 --machine "$m" -o "$T/in.$m"
		transfer "$T/in.$m" "-c 4" "-c 4 --mapped-ram --stats-json $T/r.json"
		same_digests "$T/in.$m" "$T/out"
		"$MIGBOX" stream-dump --json "$T/out" | jq -e '.mapped_ram and (.capabilities | index("mapped-ram") != null)'
		jq -e '.mapped_ram and .pages_written > 0 and .ok' "$T/r.json"
		"$BATS_TEST_DIRNAME/lib/validate-stats" "$T/r.json"
		# the zero pages are holes: less is allocated than the RAM claimed
		(($(stat -c %b "$T/out") * $(stat -c %B "$T/out") < 36 << 20))
	done
	# the same state as a conversion of the stream makes, byte for byte
	"$MIGBOX" stream-dump -q --to-mapped-ram "$T/conv" "$T/in.pc-i440fx-10.0"
	cmp "$T/conv" "$T/out"
	# a page sent again, and again zero: the newest copy wins in place too
	{
		sb_valid_head
		sb_page 0 pc.ram a; sb_zero 0 ""; sb_page 0 "" b; sb_page 4096 "" d
		sb_page 0 "" c; sb_page 4096 "" e; sb_page 8192 "" f; sb_zero 8192 ""
		sb_valid_tail
	} >"$T/twice"
	transfer "$T/twice" "-c 4" "-c 4 --mapped-ram"
	same_digests "$T/twice" "$T/out"
}

@test "--mapped-ram needs -o FILE, a regular file; a failed transfer leaves none" {
	run mb multifd-recv --mapped-ram 127.0.0.1:0
	assert_fails_with 2 "--mapped-ram writes a file by offset: give it with -o FILE"
	run mb multifd-recv --mapped-ram -o - 127.0.0.1:0
	assert_fails_with 2 "-o FILE"
	gen -s 1 -b pc.ram:4M -o "$T/in"
	mkfifo "$T/fifo"
	cat "$T/fifo" >/dev/null &
	recv_bg -c 2 --mapped-ram --timeout 20 -o "$T/fifo" 127.0.0.1:0
	send_fg "$T/in" -c 2 --timeout 20 "127.0.0.1:$(recv_port)"
	recv_wait
	[[ $RECV_STATUS == 1 ]]
	grep -q "is not a regular file, and a mapped-ram file is written by offset" "$T/recv.err"
	# the sender dies half way: no file
	gen -s 2 -b pc.ram:64M -m random=1 -o "$T/big"
	recv_bg -c 2 --mapped-ram --timeout 20 -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	head -c $((20 << 20)) "$T/big" >"$T/half"
	send_fg "$T/half" -c 2 --timeout 20 "127.0.0.1:$port"
	recv_wait
	[[ $RECV_STATUS == 1 ]]
	no_complete_output "$T/out"
}

@test "multifd-send < a mapped-ram file: each channel reads the pages it sends; same digests, both sync modes; a pipe is refused" {
	local m
	for m in pc-i440fx-7.2 pc-i440fx-10.0; do
		gen -s 6 -b pc.ram:32M -b vga:4M -i 3 -r 40 -m zero=40,random=30,text=30 --machine "$m" -o "$T/in.$m"
		"$MIGBOX" stream-dump -q --to-mapped-ram "$T/in.mr" "$T/in.$m"
		transfer "$T/in.mr" "-c 4 --stats-json $T/s.json" "-c 4"
		same_digests "$T/in.$m" "$T/out"
		jq -e '.mapped_ram_input and .channel_read_bytes == .page_bytes and .channel_read_bytes > 0' "$T/s.json"
		"$BATS_TEST_DIRNAME/lib/validate-stats" "$T/s.json"
		# the plain stream the receiver wrote has no mapped-ram left
		"$MIGBOX" stream-dump --json "$T/out" | jq -e '.mapped_ram == false and .capabilities == []'
	done
	# and on to a mapped-ram file again: the same file
	transfer "$T/in.mr" "-c 2 -z zstd" "-c 2 -z zstd --mapped-ram"
	cmp "$T/in.mr" "$T/out"
	# through a pipe the layout cannot be followed: refused, naming why
	recv_bg -c 2 --timeout 20 -o "$T/out2" 127.0.0.1:0
	port=$(recv_port)
	SEND_STATUS=0
	cat "$T/in.mr" | timeout -s KILL 60 "$MIGBOX" multifd-send -c 2 --timeout 20 "127.0.0.1:$port" 2>"$T/send.err" || SEND_STATUS=$?
	recv_wait
	[[ $SEND_STATUS == 1 ]]
	grep -q "not from a pipe" "$T/send.err"
	no_complete_output "$T/out2"
}

@test "the handshake: a return path and a PING before the first page, answered; the destination's SHUT 0 at the end; neither command in the output" {
	gen -s 3 -b pc.ram:8M -i 2 -o "$T/in"
	transfer "$T/in" "-c 3 --stats-json $T/s.json" "-c 3"
	same_digests "$T/in" "$T/out"
	jq -e '.handshake and .handshake_ms >= 0 and .shut_status == 0' "$T/s.json"
	"$BATS_TEST_DIRNAME/lib/validate-stats" "$T/s.json"
	"$MIGBOX" stream-dump --json "$T/out" | jq -e '[.commands[].cmd] | index(1) == null and index(2) == null'
	# --no-handshake: neither is sent, and no SHUT is awaited
	transfer "$T/in" "-c 3 --no-handshake --stats-json $T/s.json" "-c 3"
	same_digests "$T/in" "$T/out"
	jq -e '.handshake == false and (has("shut_status") | not)' "$T/s.json"
}

@test "multifd-recv answers a stream's own PINGs on its return path and refuses a PING without one" {
	{
		sb_header; sb_config pc-i440fx-7.2
		sb_open_rp; sb_ping 7
		sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2
		sb_end 2; sb_page 0 pc.ram a; sb_eos; sb_footer 2
		sb_eof
	} >"$T/pinged"
	transfer "$T/pinged" "-c 1" "-c 1"
	same_digests "$T/pinged" "$T/out"
	{
		sb_header; sb_config pc-i440fx-7.2
		sb_ping 7
		sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2
		sb_eof
	} >"$T/bad"
	rm -f "$T/out"
	transfer_fails "$T/bad" "-c 1 --no-handshake --timeout 10" "-c 1 --timeout 10"
	[[ $RECV_STATUS == 1 ]]
	grep -q "a PING before OPEN_RETURN_PATH" "$T/recv.err"
	no_complete_output "$T/out"
}
