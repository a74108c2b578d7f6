#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/stream-dump.sh - how fast `migbox stream-dump --digest` reads a stream,
# beside `cat` (the page-cache ceiling) and `xxhsum -H3` (a fast hash).
#
# Makes a 1 GiB stream with `migbox stream-gen` (30% zero, 30% random, 40%
# text pages), warms the page cache, then times each tool best of 3 and prints
# seconds, GB/s and the speed relative to xxhsum.
#
#   bench/stream-dump.sh            # stream in $BENCH_DIR (default /tmp)
#   BENCH_SIZE=256M BENCH_RUNS=5 MIGBOX=./migbox bench/stream-dump.sh
#
# Needs: xxhash (xxhsum), coreutils. Not a test: it always exits 0 unless a
# tool fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MIGBOX=${MIGBOX:-$here/../migbox}
BENCH_DIR=${BENCH_DIR:-/tmp}
BENCH_SIZE=${BENCH_SIZE:-1G}
BENCH_RUNS=${BENCH_RUNS:-3}

die() { echo "stream-dump.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX ]] || die "no migbox at $MIGBOX (make first, or set MIGBOX)"
command -v xxhsum >/dev/null || die 'xxhsum not installed (package xxhash)'

work=$(mktemp -d "$BENCH_DIR/bench-stream-dump.XXXXXX")
trap 'rm -rf "$work"' EXIT
stream=$work/stream.bin

# now_us: wall clock in microseconds.
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }

t0=$(now_us)
"$MIGBOX" stream-gen -s 1 -b "pc.ram:$BENCH_SIZE" -m zero=30,random=30,text=40 -o "$stream"
t1=$(now_us)
bytes=$(stat -c %s "$stream")
printf 'stream: %s bytes (pc.ram:%s, zero=30,random=30,text=40), made in %.2f s\n' \
	"$bytes" "$BENCH_SIZE" "$(((t1 - t0) / 1000))e-3"

xxh=-H3
xxhsum -H3 /dev/null >/dev/null 2>&1 || xxh=-H2

cat "$stream" >/dev/null	# warm the page cache

# best_of CMD...: run CMD (output discarded) BENCH_RUNS times, print the best
#   wall time in microseconds.
best_of() {
	local best='' i t0 t1
	for ((i = 0; i < BENCH_RUNS; i++)); do
		t0=$(now_us)
		"$@" >/dev/null
		t1=$(now_us)
		if [[ -z $best ]] || ((t1 - t0 < best)); then best=$((t1 - t0)); fi
	done
	echo "$best"
}

declare -A us
us[cat]=$(best_of cat "$stream")
us[xxhsum]=$(best_of xxhsum "$xxh" "$stream")
us[stream-dump]=$(best_of "$MIGBOX" stream-dump --digest "$stream")

printf '\n%-34s %9s %8s %12s\n' tool seconds GB/s speed/xxhsum
for t in cat xxhsum stream-dump; do
	case $t in
	cat) label="cat FILE > /dev/null" ;;
	xxhsum) label="xxhsum $xxh FILE" ;;
	stream-dump) label="migbox stream-dump --digest FILE" ;;
	esac
	awk -v l="$label" -v u="${us[$t]}" -v x="${us[xxhsum]}" -v b="$bytes" \
		'BEGIN { printf "%-34s %9.3f %8.2f %12.2f\n", l, u / 1e6, b / u / 1e3, x / u }'
done
printf '\n(best of %d runs, page cache warm, %s)\n' "$BENCH_RUNS" "$(nproc) cpus"
