# SPDX-License-Identifier: GPL-3.0-or-later
# Byte-exact pieces of a QEMU migration stream, for crafting good and bad
# input in tests: each function prints binary on stdout.
u8()   { local h; printf -v h '%02x' $(($1)); printf "\\x$h"; }	# no subshell: tests print thousands
be16() { u8 $((($1 >> 8) & 255)); u8 $(($1 & 255)); }
be32() { be16 $((($1 >> 16) & 65535)); be16 $(($1 & 65535)); }
be64() { be32 $((($1 >> 32) & 0xffffffff)); be32 $(($1 & 0xffffffff)); }
str8() { u8 ${#1}; printf '%s' "$1"; }		# u8 length + bytes

sb_header()  { printf 'QEVM'; be32 3; }
sb_config()  { u8 7; be32 ${#1}; printf '%s' "$1"; }	# machine name
sb_start()   { u8 1; be32 "$1"; str8 "$2"; be32 "${3:-0}"; be32 "${4:-4}"; }
sb_full()    { u8 4; be32 "$1"; str8 "$2"; be32 "${3:-0}"; be32 "${4:-1}"; }
sb_part()    { u8 2; be32 "$1"; }
sb_end()     { u8 3; be32 "$1"; }
sb_footer()  { u8 0x7e; be32 "$1"; }
sb_eos()     { be64 0x10; }
sb_eof()     { u8 0; }
sb_open_rp() { u8 8; be16 1; be16 0; }		# MIG_CMD_OPEN_RETURN_PATH
sb_ping()    { u8 8; be16 2; be16 4; be32 "$1"; }	# MIG_CMD_PING value
# MEM_SIZE with one block: name, length
sb_mem_size() { be64 $(($2 | 4)); str8 "$1"; be64 "$2"; }
# page record: offset flags block-name-or-empty (empty: CONTINUE) then data
sb_page() {
	if [[ -n $2 ]]; then be64 $(($1 | 8)); str8 "$2"; else be64 $(($1 | 8 | 0x20)); fi
	head -c 4096 /dev/zero | tr '\0' "${3:-a}"
}
# zero record: offset block-name-or-empty [fill byte, default 0]
sb_zero() {
	if [[ -n $2 ]]; then be64 $(($1 | 2)); str8 "$2"; else be64 $(($1 | 2 | 0x20)); fi
	u8 "${3:-0}"
}
# A small valid stream: one block "pc.ram" of 64 KiB, two pages, one device.
sb_valid_head() {
	sb_header; sb_config pc-i440fx-7.2
	sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2
	sb_part 2
}
sb_valid_tail() {
	sb_eos; sb_footer 2
	sb_end 2; sb_eos; sb_footer 2
	sb_full 3 timer 0 2; printf 'devicebytes'; sb_footer 3
	sb_eof
}
sb_valid() {
	sb_valid_head; sb_page 0 pc.ram a; sb_zero 4096 ""; sb_valid_tail
}
# Overwrite bytes of FILE at OFFSET with the remaining args (hex bytes).
patch_bytes() {
	local file=$1 off=$2 hex
	shift 2
	for hex; do
		printf "\\x$hex" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
		off=$((off + 1))
	done
}
