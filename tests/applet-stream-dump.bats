#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# stream-dump: structure, digests, pass-through, and every kind of bad input.
load helpers
load stream-builder

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "a crafted minimal stream is valid and its structure is reported" {
	sb_valid > "$T/s"
	run mb stream-dump "$T/s"
	assert_ok
	[[ $output == *"machine pc-i440fx-7.2"* ]]
	[[ $output =~ pc.ram\ +65536\ +1\ +1\ +4096 ]]
	[[ $output == *"timer"*"inst 0"*"ver 2"*"11 bytes"* ]]
	[[ $output == *"vmdesc: none"* ]]
}

@test "--json reports blocks, sections, devices and validity" {
	mb stream-gen -b pc.ram:1M -b rom:64K --devices 3 -i 2 > "$T/s"
	run mb stream-dump --json "$T/s"
	assert_ok
	[[ $(jq -r .valid <<<"$output") == true ]]
	[[ $(jq -c '[.ram_blocks[] | [.name, .length]]' <<<"$output") == '[["pc.ram",1048576],["rom",65536]]' ]]
	[[ $(jq '.devices | length' <<<"$output") == 3 ]]
	[[ $(jq '.vmdesc.devices' <<<"$output") == 3 ]]
	[[ $(jq -r '.sections[0].idstr' <<<"$output") == ram ]]
	[[ $(jq '.sections[0].end' <<<"$output") == 1 ]]
	[[ $(jq '.bytes' <<<"$output") == $(stat -c %s "$T/s") ]]
}

@test "QEMU 10.0's marks: SWITCHOVER_START, a vmdesc describing the configuration, a FULL section before RAM's END; -p passes them byte for byte" {
	mb stream-gen -b pc.ram:1M --devices 2 -i 2 --machine pc-i440fx-10.0 -o "$T/s"
	run mb stream-dump "$T/s"
	assert_ok
	[[ $output == *"command SWITCHOVER_START (11): 1 record, 0 bytes"* ]]
	[[ $output == *"vmdesc: "*" bytes of JSON, 2 devices, the configuration described"* ]]
	run mb stream-dump --json "$T/s"
	assert_ok
	[[ $(jq -c '[.vmdesc.configuration, .vmdesc.devices, (.commands | map(.name))]' <<<"$output") == '[true,2,["SWITCHOVER_START"]]' ]]
	mb stream-dump -p "$T/s" >"$T/p" 2>/dev/null
	cmp "$T/s" "$T/p"
	# the command comes after the last PART's footer, before the END section
	mb stream-gen -b pc.ram:1M -i 1 --machine pc-i440fx-10.0 -o "$T/s1"
	[[ $(mb stream-dump --json "$T/s1" | jq -e '.commands[0].offset') -lt \
		$(mb stream-dump --json "$T/s1" | jq '[.devices[].offset] | min') ]]
	mb stream-gen -b pc.ram:1M --machine pc-i440fx-9.2 -o "$T/s92"
	[[ $(mb stream-dump --json "$T/s92" | jq -c '[.vmdesc.configuration, .commands]') == '[false,[]]' ]]
	# an early-setup device (virtio-mem on 8.0+ machines) saved during setup
	{
		sb_header; sb_config pc-i440fx-10.0
		sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2
		sb_full 3 virtio-mem-early 0 1; printf 'earlybytes'; sb_footer 3
		sb_part 2; sb_page 0 pc.ram a; sb_zero 4096 ""; sb_eos; sb_footer 2
		u8 8; be16 11; be16 0
		sb_end 2; sb_eos; sb_footer 2
		sb_full 4 timer 0 2; printf 'devicebytes'; sb_footer 4
		sb_eof
	} >"$T/early"
	run mb stream-dump "$T/early"
	assert_ok
	[[ $output == *"virtio-mem-early"*"10 bytes @80"*"timer"* ]]
	mb stream-dump -p "$T/early" | cmp - "$T/early"
}

@test "QEMU 10.0's vfio framing: iterations without data, DEV_INIT_DATA_SENT ending one; -p passes it byte for byte" {
	tag() { be32 0xffffffff; be32 $((0xef100000 + $1)); }
	{
		sb_header; sb_config pc-i440fx-10.0
		u8 1; be32 5; str8 0000:00:05.0/vfio; be32 0; be32 1; tag 3; tag 1; sb_footer 5
		sb_part 5; tag 4; be64 4; printf abcd; tag 5; sb_footer 5
		sb_part 5; tag 1; sb_footer 5
		sb_part 5; tag 4; be64 3; printf efg; tag 1; sb_footer 5
		sb_end 5; tag 4; be64 2; printf hi; tag 1; sb_footer 5
		sb_eof
	} >"$T/s"
	run mb stream-dump "$T/s"
	assert_ok
	[[ $output == *"vfio 0000:00:05.0/vfio instance 0: 9 bytes of device data"* ]]
	mb stream-dump -p "$T/s" 2>/dev/null | cmp - "$T/s"
	# only an iteration may end so
	{
		sb_header; sb_config pc-i440fx-10.0
		u8 1; be32 5; str8 0000:00:05.0/vfio; be32 0; be32 1; tag 3; tag 1; sb_footer 5
		sb_end 5; tag 4; be64 2; printf hi; tag 5; sb_footer 5
		sb_eof
	} >"$T/bad"
	run mb stream-dump "$T/bad"
	assert_fails_with 1 "offset 102: vfio '0000:00:05.0/vfio': DEV_INIT_DATA_SENT outside an iteration (PART) section"
}

@test "--json on a bad stream: valid false with the error, exit 1" {
	printf 'QEVX\0\0\0\3' > "$T/s"
	run mb stream-dump --json "$T/s"
	[[ $status -eq 1 ]]
	json=$(grep '^{' <<<"$output")
	[[ $(jq -r .valid <<<"$json") == false ]]
	[[ $(jq -r .error <<<"$json") == *"bad magic"* ]]
}

@test "--digest of a stream equals --image-digest of its final image" {
	for mix in zero=1 random=1 text=1 repeat=1 zero=30,random=30,text=40; do
		mb stream-gen -s 7 -b pc.ram:2M -m "$mix" -i 3 -r 40 > "$T/s"
		mb stream-gen -s 7 -b pc.ram:2M -m "$mix" -i 3 -r 40 --raw > "$T/raw"
		a=$(mb stream-dump --digest "$T/s" | awk '$1 == "ram" {print $2}')
		b=$(mb stream-dump --image-digest "$T/raw" | awk '{print $2}')
		[[ -n $a && $a == "$b" ]]
	done
}

@test "digests ignore framing, order and re-sent pages; they see content" {
	# same final state: one pass, or three passes with re-sends
	sb_valid > "$T/a"
	{ sb_valid_head; sb_page 0 pc.ram b; sb_zero 4096 ""; sb_eos; sb_footer 2
	  sb_part 2; sb_zero 4096 pc.ram; sb_page 0 "" a; sb_valid_tail; } > "$T/b"
	[[ $(digests "$T/a") == "$(digests "$T/b")" ]]
	# a page never sent equals a zero page
	{ sb_valid_head; sb_page 0 pc.ram a; sb_valid_tail; } > "$T/c"
	[[ $(digests "$T/a") == "$(digests "$T/c")" ]]
	# different page content: different RAM digest, same state digest
	{ sb_valid_head; sb_page 0 pc.ram z; sb_valid_tail; } > "$T/d"
	[[ $(digests "$T/a" | grep ^ram) != "$(digests "$T/d" | grep ^ram)" ]]
	[[ $(digests "$T/a" | grep ^state) == "$(digests "$T/d" | grep ^state)" ]]
	# different device bytes: different state digest
	sed 's/devicebytes/devicebytez/' "$T/a" > "$T/e"
	[[ $(digests "$T/a" | grep ^state) != "$(digests "$T/e" | grep ^state)" ]]
}

@test "pass-through copies the stream byte for byte and reports on stderr" {
	mb stream-gen -b pc.ram:4M -i 2 --vfio 0000:00:05.0/vfio:3000 > "$T/s"
	mb stream-dump -p "$T/s" > "$T/out" 2> "$T/err"
	cmp "$T/s" "$T/out"
	grep -q "vfio 0000:00:05.0/vfio instance 0: 3000 bytes" "$T/err"
	mb stream-dump -p --digest < "$T/s" 2> "$T/err" | cmp - "$T/s"
	grep -q '^ram ' "$T/err"
}

@test "pass-through of a broken stream never writes its end" {
	mb stream-gen -b pc.ram:4M > "$T/s"
	size=$(stat -c %s "$T/s")
	# cut inside the vmdesc: EOF byte and vmdesc must be held back
	head -c $((size - 10)) "$T/s" > "$T/cut"
	run bash -c "'$MIGBOX' stream-dump -p -q '$T/cut' > '$T/out'"
	assert_fails_with 1 "stream truncated" "vmdesc"
	run mb stream-dump -q "$T/out"
	assert_fails_with 1 "stream truncated"
	[[ $(stat -c %s "$T/out") -lt $((size - 100)) ]]
}

@test "--progress prints bytes, rate and pages on stderr" {
	mb stream-gen -b pc.ram:8M > "$T/s"
	run bash -c "'$MIGBOX' stream-dump --progress -q '$T/s' 2>&1 >/dev/null"
	assert_ok
	[[ $output =~ stream-dump:\ [0-9.]+\ MiB\ +[0-9.]+\ [KMG]iB/s.*pages\ [0-9]+\ +zero\ [0-9]+ ]]
}

@test "--sections lists every section with its offset" {
	mb stream-gen -b pc.ram:1M --section-pages 64 > "$T/s"
	run mb stream-dump --sections "$T/s"
	assert_ok
	[[ $(grep -cE '^  @[0-9]+ +PART +2 ram$' <<<"$output") == 4 ]]
	[[ $output == *"@26 "*"START    2 ram"* ]]
}

@test "bad magic, version 2, unknown version" {
	printf 'QEVX\0\0\0\3' > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "offset 0: bad magic 0x51455658"
	printf 'QEVM\0\0\0\2' > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "offset 4: stream version 2"
	printf 'QEVM\0\0\0\4' > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "unsupported stream version 4, expected 3"
	: > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "offset 0: stream truncated: expected the stream header"
}

@test "absurd lengths are refused before use" {
	{ sb_header; u8 7; be32 0xffffffff; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "offset 9: machine name length 4294967295, expected 1..255"
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; be64 $((65536 | 4)); str8 pc.ram; be64 0x7fffffffffff0000; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "RAM block 'pc.ram' length" "expected 1..65536"
	{ sb_valid_head; sb_eos; sb_footer 2; sb_start 5 d/vfio 0 1; be64 0xffffffffef100004; be64 0xffffffffffff; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "vfio 'd/vfio': data size 281474976710655 is absurd"
	{ sb_valid_head; sb_eos; sb_footer 2; sb_eof; u8 6; be32 0x7fffffff; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "vmdesc length 2147483647"
	{ sb_valid_head; sb_eos; sb_footer 2; u8 8; be16 7; be16 4; be32 0x10000000; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "package of 268435456 bytes"
}

@test "page records: unknown block, CONTINUE without a block, beyond the block" {
	{ sb_valid_head; sb_page 0 nosuch a; sb_valid_tail; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "page record for unknown RAM block 'nosuch'"
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_page 0 "" a; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "CONTINUE page record with no previous block"
	{ sb_valid_head; sb_page 65536 pc.ram a; sb_valid_tail; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "page at 0x10000 is beyond the end of block 'pc.ram' (length 0x10000)"
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; sb_page 0 pc.ram a; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "page record before the RAM block list"
}

@test "RAM flags: unknown, XBZRLE, COMPRESS_PAGE, combinations are refused by name" {
	for f in 0x400:"unknown flags 0x400" 0x40:XBZRLE 0x100:COMPRESS_PAGE \
		 0x01:"obsolete RAM_SAVE_FLAG_FULL" 0x0a:"not exactly one of" \
		 0x30:"CONTINUE flag on a RAM record" 0x00:"not exactly one of"; do
		{ sb_valid_head; be64 $((${f%%:*})); } > "$T/s"
		run mb stream-dump "$T/s"
		assert_fails_with 1 "offset 84: " "${f#*:}"
	done
}

@test "HOOK and MULTIFD_FLUSH records are carried and counted" {
	{ sb_valid_head; be64 0x80; be64 0x200; sb_page 0 pc.ram a; sb_valid_tail; } > "$T/s"
	run mb stream-dump --json "$T/s"
	assert_ok
	[[ $(jq -c '.ram_records | [.hook, .multifd_flush]' <<<"$output") == "[1,1]" ]]
	mb stream-dump -p "$T/s" 2>/dev/null | cmp - "$T/s"
}

@test "structure errors: unknown section type, bad footer, unknown section id, iterable device" {
	{ sb_header; u8 9; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "offset 8: unexpected byte 0x09 where a section type was expected"
	{ sb_valid_head; sb_eos; sb_footer 9; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "footer names section 9, expected 2 ('ram')"
	{ sb_valid_head; sb_eos; u8 0x55; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "byte 0x55 after the body of section 2 ('ram'), expected the footer 0x7e"
	{ sb_valid_head; sb_eos; sb_footer 2; sb_part 44; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "PART section for unknown section id 44"
	{ sb_header; sb_start 4 block 0 1; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "iterable device 'block'"
	{ sb_valid; printf 'x'; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "inside the body of device 'timer' (section 3): its footer at offset"
	{ sb_valid; u8 6; be32 3; printf '{x}'; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "vmdesc is not valid JSON"
}

@test "configuration subsections: uuid, unknown subsection" {
	mb stream-gen -b r:64K --uuid 12345678-1234-5678-9abc-def012345678 > "$T/s"
	run mb stream-dump --json "$T/s"
	assert_ok
	[[ $(jq -r .uuid <<<"$output") == 12345678-1234-5678-9abc-def012345678 ]]
	{ sb_header; sb_config pc; u8 5; str8 configuration/bogus; be32 1; } > "$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "unknown configuration subsection 'configuration/bogus'"
}

@test "a missing file and an unreadable input are runtime errors" {
	run mb stream-dump "$T/none"
	assert_fails_with 1 "cannot open $T/none"
	run mb stream-dump "$T"
	assert_fails_with 1 "read error"
}

@test "RAM blocks must be whole target pages" {
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; be64 $((4096 | 4)); str8 a; be64 100; str8 b; be64 3996; } >"$T/s"
	run mb stream-dump --digest "$T/s"
	assert_fails_with 1 "offset 42: RAM block 'a' length 100 is not a multiple of the 4096-byte target page"
	# with 64 KiB target pages, a 4 KiB block is not whole either
	{ sb_header; sb_config pc; u8 5; str8 configuration/target-page-bits; be32 1; be32 16
	  sb_start 2 ram 0 4; be64 $((65536 | 4)); str8 r1; be64 4096; str8 r2; be64 61440; } >"$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "RAM block 'r1' length 4096 is not a multiple of the 65536-byte target page"
}

@test "block and section limits: 4096 blocks and 8192 sections, not one more" {
	# (perl: thousands of records are too slow to print from bash)
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; be64 $((4097 * 4096 | 4))
	  perl -e 'print pack("C/a* Q>", "b$_", 4096) for 0..4096'; } >"$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "RAM block 'b4096': more than 4096 blocks"
	{ sb_header; sb_config pc
	  perl -e 'print pack("C N C/a* N N a C N", 4, $_ + 10, "dev$_", 0, 1, "x", 0x7e, $_ + 10) for 0..8192'
	  sb_eof; } >"$T/s"
	run mb stream-dump "$T/s"
	assert_fails_with 1 "more than 8192 sections"
}

@test "--digest of a stream that claims far more RAM than it carries" {
	# 64 blocks of 256 GiB in 1.3 KiB: the digest tables follow the pages
	# sent (two), not the 16 TiB claimed
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; be64 $((64 << 38 | 4))
	  for ((i = 0; i < 64; i++)); do str8 "blk$i"; be64 $((1 << 38)); done
	  sb_eos; sb_footer 2; sb_part 2; sb_page $((1 << 37)) blk63 z; sb_page 0 blk0 y
	  sb_eos; sb_footer 2; sb_eof; } >"$T/s"
	run timeout 60 "$MIGBOX" stream-dump --digest "$T/s"
	assert_ok
	[[ $(grep -c '^ram [0-9a-f]\{32\} 274877906944 blk' <<<"$output") == 64 ]]
	# untouched blocks of the same size have the same digest
	[[ $(grep -E ' blk(1|2|62)$' <<<"$output" | cut -d' ' -f2 | sort -u | wc -l) == 1 ]]
}

@test "digests are pinned: the definition (and the byte order it hashes) does not drift" {
	sb_valid >"$T/s"
	run mb stream-dump --digest "$T/s"
	assert_ok
	[[ $output == "ram 509ddff6049d321fe3a1cf49b3529a62 65536 pc.ram
state 419cf8257c0b761d68d67b2ecc33b00f" ]]
	mb stream-gen -s 7 -b pc.ram:2M -b rom:64K -i 3 -r 40 --vfio d/vfio:1000 >"$T/g"
	run mb stream-dump --digest "$T/g"
	[[ $output == "ram 810918a3008f235a730f9ab9e720fb6d 2097152 pc.ram
ram 3fcd3914191e02942168aa98afc0ff92 65536 rom
state 8bcd4f480a33849c4e017ab4549cedaf" ]]
}

@test "many commands and repeated device sections are counted, not listed" {
	{ sb_valid_head; sb_eos; sb_footer 2
	  perl -e 'print pack("C n n N", 8, 2, 4, $_) for 0..499'
	  for ((i = 0; i < 3; i++)); do sb_full 3 timer 0 2; printf 'devicebytes'; sb_footer 3; done
	  sb_eof; } >"$T/s"
	run mb stream-dump --json "$T/s"
	assert_ok
	[[ $(jq -c '.commands' <<<"$output") == '[{"cmd":2,"name":"PING","count":500,"bytes":2000,"offset":97}]' ]]
	[[ $(jq -c '.devices[] | [.idstr, .count, .bytes]' <<<"$output") == '["timer",3,33]' ]]
	run mb stream-dump "$T/s"
	[[ $output == *"command PING (2): 500 records, 2000 bytes, first @97"* ]]
	[[ $output == *"timer"*"33 bytes @"*"(3 times)"* ]]
}

@test "a report that cannot be written is a failure that says so" {
	sb_valid >"$T/s"
	for opts in "" --json --digest; do
		run bash -c "'$MIGBOX' stream-dump $opts '$T/s' >/dev/full"
		assert_fails_with 1 "stream-dump: writing the report to stdout: No space left on device"
	done
	run bash -c "'$MIGBOX' stream-dump -p '$T/s' >/dev/full"
	assert_fails_with 1 "stream-dump: writing stdout: No space left on device"
	run bash -c "'$MIGBOX' stream-dump --image-digest '$T/s' >/dev/full"
	assert_fails_with 1 "writing the report to stdout"
}

@test "pass-through into a closed pipe: exit 1 saying so, not death by SIGPIPE" {
	mb stream-gen -b pc.ram:16M >"$T/s"
	run bash -c "set -o pipefail; '$MIGBOX' stream-dump -p -q '$T/s' | head -c 10 >/dev/null"
	assert_fails_with 1 "stream-dump: writing stdout: Broken pipe"
}

# libvirt_save FILE STREAM [MAGIC [FORMAT [ORDER]]]: libvirt's save image
# as its qemu driver lays it out (qemu_saveimage.h): 92 bytes of header
# in the saving host's order, 1 KiB of domain XML, then the stream. The
# libvirt suite reads one that `virsh save` wrote.
libvirt_save() {
	perl -e '
		my ($out, $in, $magic, $format, $order) = @ARGV;
		my $xml = "<domain type=\"qemu\"><name>t</name></domain>\0";
		$xml .= "\0" x (1024 - length $xml);
		open(my $i, "<:raw", $in) or die; local $/; my $s = <$i>;
		open(my $o, ">:raw", $out) or die;
		print $o $magic, pack("${order}19", 2, length $xml, 1, $format, 0, (0) x 14), $xml, $s;
	' "$1" "$2" "${3:-LibvirtQemudSave}" "${4:-0}" "${5:-V}"
}

@test "a libvirt save image (virsh save): the stream after libvirt's header and XML is read, in either byte order; -p passes the file as is, --to-stream writes the bare stream" {
	mb stream-gen -b pc.ram:2M --devices 2 -i 2 > "$T/s"
	libvirt_save "$T/le.save" "$T/s"
	libvirt_save "$T/be.save" "$T/s" LibvirtQemudSave 0 N
	run mb stream-dump "$T/le.save"
	assert_ok
	[[ $output == *"libvirt save image: header version 2, 1024 bytes of domain XML, the domain ran (a restore runs it); the stream starts @1116"* ]]
	run mb stream-dump "$T/be.save"
	assert_ok
	[[ $output == *"the stream starts @1116"* ]]
	run mb stream-dump --json "$T/le.save"
	assert_ok
	[[ $(jq -c .libvirt_save <<<"$output") == '{"version":2,"data_len":1024,"was_running":true,"stream_offset":1116}' ]]
	"$BATS_TEST_DIRNAME/lib/validate-stats" - <<<"$output"
	[[ $(mb stream-dump --json "$T/s" | jq -c .libvirt_save) == null ]]
	[[ $(mb stream-dump --digest "$T/le.save") == $(mb stream-dump --digest "$T/s") ]]
	# -p passes its input as is; converted, it is a bare stream
	mb stream-dump -p <"$T/le.save" | cmp - "$T/le.save"
	mb stream-dump -q --to-stream "$T/out" "$T/le.save"
	[[ $(head -c 4 "$T/out") == QEVM ]]
	[[ $(mb stream-dump --digest "$T/out") == $(mb stream-dump --digest "$T/s") ]]
}

@test "a libvirt save image that never completed, is compressed or ends inside its XML: exit 1 naming the offset and what is wrong" {
	mb stream-gen -b pc.ram:1M > "$T/s"
	libvirt_save "$T/part.save" "$T/s" LibvirtQemudPart
	run mb stream-dump "$T/part.save"
	assert_fails_with 1 "stream-dump: $T/part.save: offset 0: a libvirt save image that never completed (magic LibvirtQemudPart, which libvirt replaces once QEMU wrote the whole stream)"
	libvirt_save "$T/z.save" "$T/s" LibvirtQemudSave 5
	run mb stream-dump "$T/z.save"
	assert_fails_with 1 "stream-dump: $T/z.save: offset 28: the stream in this libvirt save image is compressed with zstd (libvirt's save_image_format): read it decompressed, e.g. tail -c +1117 FILE | zstd -d | migbox stream-dump"
	# and that advice works
	zstd -q -c "$T/s" > "$T/s.zst"
	libvirt_save "$T/z2.save" "$T/s.zst" LibvirtQemudSave 5
	tail -c +1117 "$T/z2.save" | zstd -q -d | mb stream-dump -q
	libvirt_save "$T/whole.save" "$T/s"
	head -c 600 "$T/whole.save" > "$T/trunc.save"
	run mb stream-dump "$T/trunc.save"
	assert_fails_with 1 "stream-dump: $T/trunc.save: offset 600: stream truncated: expected libvirt's domain XML (data_len of its save header) (1024 bytes), input ends"
}
