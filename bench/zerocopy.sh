#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/zerocopy.sh - multifd-send with and without --zero-copy, same
# stream, same run, over loopback into multifd-recv > /dev/null, for 1, 2
# and 4 channels: wall time and the sender's CPU seconds (user, system)
# side by side.
#
# Over loopback the kernel copies every zero-copy payload anyway (its
# completions say COPIED: zerocopy_copied in --stats-json, printed here),
# so this measures what MSG_ZEROCOPY costs on top (page pinning, the
# completions, buffers held until acknowledged), not what it saves on a
# NIC that sends from user pages.
#
# The stream: stream-gen, BENCH_SIZE MiB of pc.ram (30% zero, 30% random,
# 40% text pages, as bench/multifd.sh), no compression. Each run sends it
# once without and once with --zero-copy, alternating; the figures are the
# best wall time of BENCH_RUNS for each, with that run's CPU seconds.
#
#   bench/zerocopy.sh
#   BENCH_SIZE=256 BENCH_RUNS=3 BENCH_CHANNELS="1 4" bench/zerocopy.sh
#
# Needs: jq, ss. Not a test: it exits 0 unless a tool fails or an output
# differs from the input.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MIGBOX=${MIGBOX:-$here/../migbox}
BENCH_SIZE=${BENCH_SIZE:-1024}		# MiB of guest RAM
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_CHANNELS=${BENCH_CHANNELS:-1 2 4}
if [[ -z ${BENCH_DIR:-} ]]; then
	BENCH_DIR=/tmp
	# tmpfs keeps the disk out of the figures; it needs about 2x the RAM
	avail=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
	[[ -n $avail && $avail -gt $((BENCH_SIZE * 2 + 512)) ]] && BENCH_DIR=/dev/shm
fi

die() { echo "zerocopy.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX ]] || die "no migbox at $MIGBOX (make first, or set MIGBOX)"
for t in jq ss; do
	command -v "$t" >/dev/null || die "$t not installed"
done

work=$(mktemp -d "$BENCH_DIR/bench-zerocopy.XXXXXX")
recv_pid=
cleanup() {
	[[ -z $recv_pid ]] || kill "$recv_pid" 2>/dev/null || :
	rm -rf "$work"
}
trap cleanup EXIT

stream=$work/stream.bin
echo "stream: ${BENCH_SIZE} MiB pc.ram, stream-gen, zero=30,random=30,text=40 ($BENCH_DIR)"
"$MIGBOX" stream-gen -s 1 -b "pc.ram:${BENCH_SIZE}M" -m zero=30,random=30,text=40 -o "$stream"
want=$("$MIGBOX" stream-dump --digest "$stream")
cat "$stream" >/dev/null

# recv_start CHANNELS OUT: multifd-recv in the background, its port in $port.
recv_start() {
	rm -f "$work/recv.err"
	"$MIGBOX" multifd-recv -c "$1" --timeout 60 127.0.0.1:0 >"$2" 2>"$work/recv.err" &
	recv_pid=$!
	for _ in $(seq 100); do
		# (the file may not be there yet: no failure for set -e)
		port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/recv.err" 2>/dev/null || :)
		[[ -z $port ]] || return 0
		sleep 0.05
	done
	die "multifd-recv did not listen: $(cat "$work/recv.err")"
}

# send_once CHANNELS MODE OUT: one transfer; sets ms (wall), user and sys
#   (the sender's CPU seconds); $work/MODE.json is its stats. Not in a
#   subshell: the exit trap must see recv_pid.
send_once() {
	local c=$1 mode=$2 out=$3 t0 t1 times
	local -a zc=()
	[[ $mode == copy ]] || zc=(--zero-copy)
	recv_start "$c" "$out"
	t0=${EPOCHREALTIME/[.,]/}
	times=$( { TIMEFORMAT='%3U %3S'; time "$MIGBOX" multifd-send -c "$c" "${zc[@]}" --timeout 60 \
		--stats-json "$work/$mode.json" "127.0.0.1:$port" <"$stream" 2>"$work/send.err"; } 2>&1) ||
		die "multifd-send $c/$mode failed: $(cat "$work/send.err")"
	wait "$recv_pid" || die "multifd-recv $c/$mode failed: $(cat "$work/recv.err")"
	t1=${EPOCHREALTIME/[.,]/}
	recv_pid=
	ms=$(((t1 - t0) / 1000))
	read -r user sys <<<"$times"
}

printf '\n%3s  %-9s %9s %8s %8s %8s  %s\n' ch mode 'wall ms' 'user s' 'sys s' 'cpu s' 'zero-copy sends (COPIED by the kernel)'
for c in $BENCH_CHANNELS; do
	# correctness first, untimed
	for mode in copy zero-copy; do
		send_once "$c" "$mode" "$work/out.bin"
		[[ $("$MIGBOX" stream-dump --digest "$work/out.bin") == "$want" ]] ||
			die "$c channels, $mode: the output differs from the input"
		rm -f "$work/out.bin"
	done
	declare -A best=()
	for ((i = 0; i < BENCH_RUNS; i++)); do
		for mode in copy zero-copy; do
			send_once "$c" "$mode" /dev/null
			if [[ -z ${best[$mode]:-} ]] || ((ms < ${best[$mode]%% *})); then
				best[$mode]="$ms $user $sys"
				cp "$work/$mode.json" "$work/best-$mode.json"
			fi
		done
	done
	for mode in copy zero-copy; do
		read -r ms user sys <<<"${best[$mode]}"
		zc=$(jq -r 'if .zero_copy then "\(.zerocopy_sends) (\(.zerocopy_copied)), ENOBUFS \(.zerocopy_enobufs)" else "-" end' \
			"$work/best-$mode.json")
		printf '%3s  %-9s %9s %8s %8s %8.3f  %s\n' "$c" "$mode" "$ms" "$user" "$sys" \
			"$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$zc"
	done
	unset best
done
printf '\n(best wall time of %d runs each, alternating, with that run'"'"'s sender CPU; %s cpus, kernel %s;\n' \
	"$BENCH_RUNS" "$(nproc)" "$(uname -r)"
printf ' over loopback the kernel copies zero-copy payloads anyway: COPIED counts them)\n'
