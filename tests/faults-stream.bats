#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# The stream parser against damaged input, exhaustively: every truncation
# and bit flips in every header byte of small streams end in a clean exit 1
# naming the offset, or in a stream that is still valid; never a crash.
load helpers
load stream-builder

setup() {
	T=$BATS_TEST_TMPDIR
}

# check_damaged FILE WHAT: stream-dump exits 0, or 1 with "offset N: ".
# (A plain call: bats' `run` costs more than the parse.)
check_damaged() {
	local status=0 out
	out=$("$MIGBOX" stream-dump -q --digest "$1" 2>&1) || status=$?
	if [[ $status == 0 ]]; then
		return 0
	fi
	if [[ $status != 1 || $out != *"offset "* ]] || grep -Eq 'Sanitizer|runtime error:' <<<"$out"; then
		echo "$2: exit $status: $out" >&2
		return 1
	fi
}

# truncations FILE STEP: every STEP-th cut of FILE fails cleanly, except a
# cut right before the vmdesc (a complete stream).
truncations() {
	local size vmdesc_at status out
	size=$(stat -c %s "$1")
	vmdesc_at=$(( $(mb stream-dump --json "$1" | jq '.bytes - .vmdesc.bytes - 5') ))
	for ((n = 0; n < size; n += $2)); do
		head -c $n "$1" >"$T/cut"
		status=0
		out=$("$MIGBOX" stream-dump -q "$T/cut" 2>&1) || status=$?
		if [[ $status == 0 && $n == "$vmdesc_at" ]]; then
			continue
		fi
		[[ $status == 1 && $out == *"offset "* ]] ||
			{ echo "truncated at $n: exit $status: $out" >&2; return 1; }
	done
}

@test "truncation at every offset: exit 1 with the offset, never a crash or a false success" {
	# all structure (zero pages, devices, vfio, uuid, vmdesc): every byte
	mb stream-gen -b pc.ram:8K -b rom:4K -m zero=1 -i 2 -r 50 --devices 2 --vfio d/vfio:100 \
		--uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 >"$T/s"
	truncations "$T/s" 1
	# with page data, which the parser treats the same at every byte
	mb stream-gen -b pc.ram:8K -b rom:4K -m zero=2,text=1 -i 2 -r 50 --devices 2 --vfio d/vfio:100 >"$T/s"
	truncations "$T/s" 13
}

@test "bit flips in every header byte: clean exit 1 or a still-valid stream" {
	sb_valid >"$T/s"
	for ((off = 0; off < 110; off++)); do
		byte=$(od -An -tu1 -j $off -N1 "$T/s" | tr -d ' ')
		for bit in 1 2 16 128; do
			cp "$T/s" "$T/f"
			patch_bytes "$T/f" $off "$(printf %02x $((byte ^ bit)))"
			check_damaged "$T/f" "flip $bit at $off"
		done
	done
}

@test "random damage to a real multi-section stream: clean exit 1 or valid" {
	mb stream-gen -s 3 -b pc.ram:64K -b vga:16K -i 3 -r 50 --devices 3 --vfio d/vfio:300 >"$T/s"
	size=$(stat -c %s "$T/s")
	for ((k = 0; k < 300; k++)); do
		cp "$T/s" "$T/f"
		off=$(((k * 7919 + 13) % size))
		patch_bytes "$T/f" $off "$(printf %02x $(((k * 37 + 1) % 256)))"
		check_damaged "$T/f" "byte $off set to $(((k * 37 + 1) % 256))"
	done
}

# unnamed_output_over PID BYTES: PID's unnamed file in $T/d holds more.
unnamed_output_over() {
	local fd
	for fd in /proc/$1/fd/*; do
		[[ $(readlink "$fd") == "$T/d/"*' (deleted)' ]] || continue
		(($(stat -L -c %s "$fd") > $2)) && return 0
	done
	return 1
}

# gen_killed SIGNAL: a big stream-gen -o killed by SIGNAL once its unnamed
# output holds data; prints its exit status.
gen_killed() {
	"$MIGBOX" stream-gen -b pc.ram:8G -o "$T/d/s" 2>"$T/err" &
	local pid=$! status=0
	wait_until 20 unnamed_output_over "$pid" 1000000 ||
		{ kill -9 $pid; echo "no output grew" >&2; return 1; }
	kill -"$1" $pid
	wait $pid || status=$?
	echo "$status"
}

@test "-o writes the file only when complete: SIGTERM, SIGINT, SIGKILL midway leave nothing" {
	mkdir "$T/d"
	[[ $(gen_killed TERM) == 143 ]]
	grep -qx 'stream-gen: interrupted by SIGTERM' "$T/err"
	[[ -z $(ls -A "$T/d") ]]
	[[ $(gen_killed INT) == 130 ]]
	grep -qx 'stream-gen: interrupted by SIGINT' "$T/err"
	[[ -z $(ls -A "$T/d") ]]
	[[ $(gen_killed KILL) == 137 ]]
	[[ -z $(ls -A "$T/d") ]]
	# an existing file stays as it was
	echo old >"$T/d/s"
	[[ $(gen_killed TERM) == 143 ]]
	[[ $(ls -A "$T/d") == s && $(<"$T/d/s") == old ]]
}
