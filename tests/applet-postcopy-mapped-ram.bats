#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# postcopy-serve of a mapped-ram file (stream-dump --to-mapped-ram of a
# stream-gen stream) against the fake destination of lib/fakedest: what
# the destination gets is what serving the plain stream gives it, page
# for page and byte for byte, on request, pushed, with --preempt and with
# --resume; bad files and pipes are refused before connecting. Against
# QEMU 10.0: interop10-postcopy-mapped-ram.bats.
load helpers
load stream-builder
load lib/fakedest

setup() {
	T=$BATS_TEST_TMPDIR
	peer_pid=
}

teardown() {
	stop_fake_dest
}

# gen_pair NAME STREAM-GEN-OPTIONS...: $T/NAME.mig and its mapped-ram
# conversion $T/NAME.mr, of two blocks with zero pages and re-sent ones.
gen_pair() {
	local name=$1
	shift
	mb stream-gen -b pc.ram:256K -b pc.rom:64K --devices 2 -i 3 -r 20 -m zero=30,random=40,text=30 \
		"$@" -o "$T/$name.mig"
	mb stream-dump -q --to-mapped-ram "$T/$name.mr" "$T/$name.mig"
}

# serve_to FILE OUT OPTIONS...: postcopy-serve FILE to the fake destination
# (started by the caller), which must succeed; what the main connection
# carried ends up in OUT, the figures in OUT.json.
serve_to() {
	local file=$1 out=$2
	shift 2
	run timeout -k 5 30 "$MIGBOX" postcopy-serve --timeout 10 --stats-json "$out.json" "$@" \
		"127.0.0.1:$port" <"$file"
	assert_ok
	wait_for 10 test -e "$T/got.1"
	mv "$T/got.1" "$out"
}

# stored_pages FILE: the pages a mapped-ram FILE stores, over its blocks.
stored_pages() {
	mb stream-dump --json "$1" | jq '[.ram_blocks[].page_records] | add'
}

# assert_nothing_connected: as in applet-postcopy.bats.
assert_nothing_connected() {
	perl -MIO::Socket::INET -e 'print {IO::Socket::INET->new("127.0.0.1:$ARGV[0]")} "sentinel"' "$port"
	wait_for 10 test -e "$T/got.1"
	[[ $(<"$T/got.1") == sentinel ]]
	[[ ! -e $T/accepted.2 ]]
}

@test "a mapped-ram file is served as its plain stream is: the same bytes, no mapped-ram capability, every page once" {
	# a uuid subsection: the configuration is re-encoded around it; a 10.0
	# machine: SWITCHOVER_START goes out at the start from either file
	gen_pair a --uuid 01234567-89ab-cdef-0123-456789abcdef
	gen_pair b --machine pc-i440fx-10.0
	for n in a b; do
		fake_dest play ""
		serve_to "$T/$n.mig" "$T/$n.plain"
		fake_dest play ""
		serve_to "$T/$n.mr" "$T/$n.served"
		cmp "$T/$n.plain" "$T/$n.served"
		# a plain postcopy stream, with the saved RAM
		mb stream-dump --json "$T/$n.served" >"$T/$n.dump"
		jq -e '.mapped_ram == false and ((.capabilities // []) | index("mapped-ram") == null)' "$T/$n.dump"
		[[ $(digests "$T/$n.served" | grep '^ram ') == $(digests "$T/$n.mig" | grep '^ram ') ]]
		# looked up, not walked: the stored pages, none replaced
		[[ $(jq -r '.mapped_ram, .page_records, .page_records_replaced, .pages_total,
			.pages_requested + .pages_pushed' "$T/$n.served.json") == \
			$'true\n'"$(stored_pages "$T/$n.mr")"$'\n0\n80\n80' ]]
		[[ $(jq -r .mapped_ram "$T/$n.plain.json") == false ]]
	done
	# SWITCHOVER_START (command 11, length 0) from the 10.0 machine's only
	has_switchover_start "$T/b.served"
	run has_switchover_start "$T/a.served"
	[[ $status == 1 ]]
}

has_switchover_start() {
	perl -0777 -ne 'exit(index($_, pack("Cnn", 8, 11, 0)) < 0)' "$1"
}

# rp_req_hex PAGE...: REQ_PAGES_ID of pc.ram's first PAGE, then REQ_PAGES
# of each other PAGE.
rp_req_hex() {
	perl -e 'my $f = shift; print unpack("H*", pack("nnQ>NC/a*", 3, 19, $f * 4096, 4096, "pc.ram") .
		join("", map { pack("nnQ>N", 4, 12, $_ * 4096, 4096) } @ARGV))' "$@"
}

# zero_and_stored IMAGE: the first all-zero page of IMAGE (pc.ram first),
# then the first other one.
zero_and_stored() {
	perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; my ($z, $s, $p);
		for ($p = 0; read($f, my $b, 4096) == 4096; $p++) {
			my $zero = $b !~ /[^\0]/;
			$z //= $p if $zero;
			$s //= $p unless $zero;
		}
		print "$z $s\n"' "$1"
}

@test "requested pages of a mapped-ram file: a stored one with its bytes, one not stored as ZERO fill 0; the same as from the stream" {
	gen_pair in
	mb stream-gen -b pc.ram:256K -b pc.rom:64K --devices 2 -i 3 -r 20 -m zero=30,random=40,text=30 \
		--raw -o "$T/ram"
	read -r zero stored < <(zero_and_stored "$T/ram")
	((zero < 64 && stored < 64))
	# pushing waits 2 s: both come on request (in one section or two, as
	# the requests arrive: the bytes may differ, the records may not)
	fake_dest play "$(rp_req_hex "$stored" "$zero")"
	serve_to "$T/in.mig" "$T/plain" --push-delay 2000
	fake_dest play "$(rp_req_hex "$stored" "$zero")"
	serve_to "$T/in.mr" "$T/served" --push-delay 2000
	for f in plain served; do
		mb stream-dump --json "$T/$f" | jq -c '[.ram_blocks[] | .page_records, .zero_records]' >"$T/$f.records"
		digests "$T/$f" | grep '^ram ' >"$T/$f.ram"
	done
	cmp "$T/plain.records" "$T/served.records"
	cmp "$T/plain.ram" "$T/served.ram"
	[[ $(jq -r '.pages_requested, .pages_pushed' "$T/served.json") == $'2\n78' ]]

	# --preempt: bare records on the second connection, then EOS
	FAKE_PREEMPT=read fake_dest play "$(rp_req_hex "$stored" "$zero")"
	serve_to "$T/in.mr" "$T/main" --preempt --push-delay 2000
	wait_for 10 test -e "$T/got-preempt"
	perl -e 'my ($ram, $s, $z) = @ARGV; open(my $f, "<:raw", $ram) or die; local $/; my $b = <$f>;
		print pack("Q>", $s * 4096 | 0x08), "\x06pc.ram", substr($b, $s * 4096, 4096),
			pack("Q>", $z * 4096 | 0x22), "\0", pack("Q>", 0x10)' "$T/ram" "$stored" "$zero" \
		>"$T/want-preempt"
	cmp "$T/got-preempt" "$T/want-preempt"
	[[ $(jq -r '.mapped_ram, .pages_preempt, .pages_requested, .pages_pushed' "$T/main.json") == \
		$'true\n2\n2\n78' ]]
}

# bitmap_hex BLOCK PAGES HEX: RECV_BITMAP of BLOCK, its pages received
# those whose bits HEX (little-endian bytes) sets, padded to 64-bit words.
bitmap_hex() {
	perl -e 'my ($name, $pages, $hex) = @ARGV; my $bytes = int((int(($pages + 7) / 8) + 7) / 8) * 8;
		my $bits = pack("H*", $hex); $bits .= "\0" x ($bytes - length $bits);
		print unpack("H*", pack("nnC/a*", 5, 1 + length $name, $name) . pack("Q>", $bytes) .
			$bits . pack("Q>", 0x0123456789abcdef))' "$@"
}

@test "--resume from a mapped-ram file: only the pages the destination lacks, as from the stream" {
	gen_pair in
	# pc.ram has its first 40 pages, pc.rom its last 8
	first=$(bitmap_hex pc.ram 64 ffffffffff)$(bitmap_hex pc.rom 16 00ff)
	FAKE_FIRST=$first fake_dest play 0006000400000001
	serve_to "$T/in.mig" "$T/plain" --resume
	FAKE_FIRST=$first fake_dest play 0006000400000001
	serve_to "$T/in.mr" "$T/served" --resume
	cmp "$T/plain" "$T/served"
	[[ $(jq -r '.resume, .mapped_ram, .pages_already_there, .pages_requested + .pages_pushed' \
		"$T/served.json") == $'true\ntrue\n48\n32' ]]
}

@test "a mapped-ram file through a pipe is refused at its configuration, naming why: nothing connected, nothing left in TMPDIR" {
	gen_pair in
	fake_dest reply ''
	mkdir "$T/tmp"
	run bash -c 'cat "$1" | TMPDIR="$2" timeout -k 5 30 "$MIGBOX" postcopy-serve --timeout 5 "127.0.0.1:$3"' \
		- "$T/in.mr" "$T/tmp" "$port"
	assert_fails_with 1 'postcopy-serve: stdin: offset 8: a mapped-ram file (the configuration names the capability) cannot come through a pipe' \
		'redirect stdin from the file itself'
	[[ -z $(ls -A "$T/tmp") ]]
	assert_nothing_connected
}

@test "a bad mapped-ram file is refused before connecting, naming the block and what is wrong" {
	gen_pair in
	fake_dest reply ''
	mb stream-dump --json "$T/in.mr" >"$T/dump"
	bitmap=$(jq '.ram_blocks[0].bitmap_offset' "$T/dump")
	pages=$(jq '.ram_blocks[0].pages_offset' "$T/dump")
	header=$((bitmap - 28))
	# cut inside pc.ram's pages
	head -c $((pages + 4096)) "$T/in.mr" >"$T/cut"
	run mb postcopy-serve --timeout 2 "127.0.0.1:$port" <"$T/cut"
	assert_fails_with 1 "postcopy-serve: stdin: offset $((header + 20)): block 'pc.ram' has its 262144 bytes of pages at $pages, past the end of the file"
	# version 2
	cp "$T/in.mr" "$T/v2"
	patch_bytes "$T/v2" $((header + 3)) 02
	run mb postcopy-serve --timeout 2 "127.0.0.1:$port" <"$T/v2"
	assert_fails_with 1 "postcopy-serve: stdin: offset $header: mapped-ram header of block 'pc.ram' has version 2, expected 1"
	# pages not page aligned
	cp "$T/in.mr" "$T/unaligned"
	patch_bytes "$T/unaligned" $((header + 27)) 01
	run mb postcopy-serve --timeout 2 "127.0.0.1:$port" <"$T/unaligned"
	assert_fails_with 1 "postcopy-serve: stdin: offset $((header + 20)): block 'pc.ram' has its pages at $((pages + 1)), not a multiple of the 4096-byte page"
	assert_nothing_connected
}

@test "a mapped-ram file cut short while it is served is exit 1 saying so, not SIGBUS" {
	gen_pair in
	mb stream-gen -b pc.ram:256K -b pc.rom:64K --devices 2 -i 3 -r 20 -m zero=30,random=40,text=30 \
		--raw -o "$T/ram"
	read -r zero stored < <(zero_and_stored "$T/ram")
	# pushing waits, so the stored page asked for after the cut is read
	# then, at its fixed offset past the cut
	FAKE_TRUNCATE="$T/in.mr 4096" fake_dest play "$(rp_req_hex "$stored")"
	run timeout -k 5 30 "$MIGBOX" postcopy-serve --timeout 5 --push-delay 60000 "127.0.0.1:$port" <"$T/in.mr"
	assert_fails_with 1 'stdin: the stream file was cut short while it was read (SIGBUS at offset' \
		'it must not change until postcopy-serve is done'
}
