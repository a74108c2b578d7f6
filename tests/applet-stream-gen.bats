#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# stream-gen: valid, deterministic, shaped as asked.
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "the same options give the same bytes; another seed other bytes" {
	mb stream-gen -s 3 -b pc.ram:4M -i 3 > "$T/a"
	mb stream-gen -s 3 -b pc.ram:4M -i 3 > "$T/b"
	mb stream-gen -s 4 -b pc.ram:4M -i 3 > "$T/c"
	cmp "$T/a" "$T/b"
	run cmp -s "$T/a" "$T/c"
	[[ $status == 1 ]]
}

@test "the stream is valid and has the blocks, sections and devices asked for" {
	mb stream-gen -b pc.ram:8M -b vga.vram:1M -i 3 -r 20 --section-pages 512 \
		--devices 5 --vfio 0000:00:05.0/vfio:5000 --uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 > "$T/s"
	run mb stream-dump --json "$T/s"
	assert_ok
	j=$output
	[[ $(jq -c '[.ram_blocks[] | [.name, .length]]' <<<"$j") == '[["pc.ram",8388608],["vga.vram",1048576]]' ]]
	[[ $(jq '.devices | length' <<<"$j") == 5 && $(jq .vmdesc.devices <<<"$j") == 5 ]]
	[[ $(jq '.sections[] | select(.idstr == "0000:00:05.0/vfio") | .vfio_data_bytes' <<<"$j") == 5000 ]]
	[[ $(jq -r .uuid <<<"$j") == 6ba7b810-9dad-11d1-80b4-00c04fd430c8 ]]
	# first pass in PART sections of 512 pages, passes 2..3: 2 more PARTs... the last in END
	[[ $(jq '.sections[0].part' <<<"$j") -ge 5 && $(jq '.sections[0].end' <<<"$j") == 1 ]]
}

@test "the content mix is honoured" {
	mb stream-gen -b pc.ram:16M -m zero=50,random=50 > "$T/s"
	zero=$(mb stream-dump --json "$T/s" | jq '.ram_blocks[0].zero_records')
	[[ $zero -gt 1800 && $zero -lt 2300 ]]	# about half of 4096 pages
	mb stream-gen -b pc.ram:4M -m text=1 > "$T/t"
	mb stream-gen -b pc.ram:4M -m random=1 > "$T/r"
	t=$(zstd -1 -c "$T/t" | wc -c)
	r=$(zstd -1 -c "$T/r" | wc -c)
	[[ $((t * 3)) -lt $r ]]	# text compresses, random does not
	mb stream-gen -b pc.ram:1M -m zero=1 > "$T/z"
	[[ $(mb stream-dump --json "$T/z" | jq '.ram_blocks[0].page_records') == 0 ]]
}

@test "iterations re-send about the asked share of pages" {
	mb stream-gen -b pc.ram:16M -m random=1 -i 2 -r 25 > "$T/s"
	pages=$(mb stream-dump --json "$T/s" | jq '.ram_records.page')
	[[ $pages -gt $((4096 + 900)) && $pages -lt $((4096 + 1150)) ]]
}

@test "--raw is the final image: its digest equals the stream's" {
	mb stream-gen -s 9 -b pc.ram:4M -i 4 -r 50 -m zero=1,random=1,text=1,repeat=1 > "$T/s"
	mb stream-gen -s 9 -b pc.ram:4M -i 4 -r 50 -m zero=1,random=1,text=1,repeat=1 --raw > "$T/raw"
	[[ $(stat -c %s "$T/raw") == 4194304 ]]
	[[ $(digests "$T/s" | awk '/^ram/ {print $2}') == $(mb stream-dump --image-digest "$T/raw" | awk '{print $2}') ]]
}

@test "--no-vmdesc ends at EOF" {
	mb stream-gen -b r:64K --no-vmdesc -o "$T/s"
	[[ $(tail -c 1 "$T/s" | od -An -tx1) == " 00" ]]
	run mb stream-dump "$T/s"
	assert_ok
	[[ $output == *"vmdesc: none"* ]]
	run mb stream-gen -b r:64K -o "$T/nodir/s"
	assert_fails_with 1 "cannot create $T/nodir/s: No such file or directory"
	[[ ! -e $T/nodir ]]
}

@test "-o replaces a file whole, follows a symlink, and writes a device in place" {
	echo old >"$T/s"
	mb stream-gen -b r:64K -o "$T/s"
	run mb stream-dump "$T/s"
	assert_ok
	ln -s real.mig "$T/link"
	mb stream-gen -b r:64K -o "$T/link"
	[[ -L $T/link && -f $T/real.mig ]]
	cmp "$T/s" "$T/real.mig"
	mb stream-gen -b r:64K -o /dev/null
	[[ -c /dev/null ]]
	[[ $(ls "$T") == "$(printf '%s\n' link real.mig s)" ]]
}

@test "a full disk is a clean runtime error" {
	[[ -c /dev/full ]]
	run mb stream-gen -b r:4M -o /dev/full
	assert_fails_with 1 "write failed: No space left on device"
	[[ -c /dev/full ]]
	run bash -c "'$MIGBOX' stream-gen -b r:4M > /dev/full"
	assert_fails_with 1 "write failed: No space left on device"
}

@test "bad options are usage errors naming the option" {
	run mb stream-gen -b pc.ram:1000
	assert_fails_with 2 "size must be a non-zero multiple of 4096"
	run mb stream-gen -b x:4K -b x:8K
	assert_fails_with 2 "name given twice"
	run mb stream-gen -m zero=0
	assert_fails_with 2 "all weights are zero"
	run mb stream-gen -m foo=3
	assert_fails_with 2 "unknown page kind 'foo'"
	run mb stream-gen -i 0
	assert_fails_with 2 "--iterations wants 1..1000"
	run mb stream-gen --vfio dev:10
	assert_fails_with 2 "must end in /vfio"
	run mb stream-gen --uuid nope
	assert_fails_with 2 "'nope' is not a UUID"
}
