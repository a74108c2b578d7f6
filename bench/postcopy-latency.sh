#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/postcopy-latency.sh - how long a guest waits for a page it faults
# on while postcopy-serve pushes the rest in the background, with and
# without the preempt channel (--preempt, QEMU's postcopy-preempt), against
# QEMU 7.2 and QEMU 10.0 in the same run.
#
# The guest: tests/guests/read-ram-bios.S built with TIME_READS, over BENCH_SIZE MiB of pattern RAM
# saved by a paused source. On the destination it reads one byte every MiB
# (each a page the destination lacks, since the push goes upwards from the
# last request while the guest goes down) and records the TSC ticks of each
# read in a table; under TCG the guest's TSC is the host's, calibrated here
# (bench/tsc-hz.c). Those are the latencies the guest saw: fault, request
# on the return path, the page's way back behind whatever the main channel
# already holds. Beside them: postcopy-serve's own p50/p99 (a request's
# arrival until its page is handed to a socket), which cannot see the
# bytes queued ahead of it in the main socket. Every run is checked: RAM
# equal to the saved pattern, the guest ran to its end, every read timed.
# BENCH_RUNS runs each; the percentiles are over all their reads.
#
#   bench/postcopy-latency.sh
#   BENCH_SIZE=512 BENCH_RUNS=1 BENCH_QEMUS=10.0 bench/postcopy-latency.sh
#
# Needs: qemu-system-x86 (7.2), QEMU 10.0 from tests/qemu10/fetch, socat,
# jq, perl, binutils, cc. Not a test: it exits 0 unless a tool fails or a
# restore does not arrive intact.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MIGBOX=${MIGBOX:-$here/../migbox}
BENCH_SIZE=${BENCH_SIZE:-1024}		# MiB of guest RAM, at most 1024
BENCH_RUNS=${BENCH_RUNS:-2}
BENCH_QEMUS=${BENCH_QEMUS:-7.2 10.0}

die() { echo "postcopy-latency.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX ]] || die "no migbox at $MIGBOX (make first, or set MIGBOX)"
((BENCH_SIZE >= 64 && BENCH_SIZE <= 1024)) || die "BENCH_SIZE: 64..1024 MiB"
for t in qemu-system-x86_64 socat jq perl as objcopy nm cc; do
	command -v "$t" >/dev/null || die "$t not installed"
done

work=$(mktemp -d /tmp/bench-pclat.XXXXXX)
export QEMU_RUN_DIR=$work/qemu MIGBOX
mkdir -p "$QEMU_RUN_DIR"
# shellcheck source=../tests/lib/qemu.bash
source "$here/../tests/lib/qemu.bash"
# shellcheck source=../tests/lib/postcopy.bash
source "$here/../tests/lib/postcopy.bash"
shm=/dev/shm/bench-pclat-$$.img
cleanup() {
	qemu_stop_all || :
	rm -rf "$work" "$shm"
}
trap cleanup EXIT

qemu_bin() {
	case $1 in
	7.2) command -v qemu-system-x86_64 ;;
	10.0) echo "$("$here/../tests/qemu10/fetch")/qemu-system-x86_64" ;;
	*) die "BENCH_QEMUS: 7.2 or 10.0, not '$1'" ;;
	esac
}

cc -O2 -o "$work/tsc-hz" "$here/tsc-hz.c" || die "cannot build tsc-hz"
tsc_hz=$("$work/tsc-hz")
# the tests' read-RAM guest, timing its reads
as --32 --defsym TIME_READS=1 -o "$work/bios.o" "$READ_RAM_BIOS_SRC" &&
	objcopy -O binary "$work/bios.o" "$work/bios.bin" || die "cannot assemble $READ_RAM_BIOS_SRC"
# where this guest halts (guest_halted looks for it): its image is at 0xf0000
READ_RAM_HALTED_EIP=$(printf '%08x' $((0xf0000 + 0x$(nm "$work/bios.o" | awk '$3 == "halted" { print $1 }'))))
make_pattern "$work/pattern.img" "$BENCH_SIZE" 9
reads=$((BENCH_SIZE < 1024 ? BENCH_SIZE : 1024))

# run_once MODE: one restore (MODE none or preempt); appends the guest's
# read times (µs) to $work/lat.MODE and prints the serve's "p50 p99".
run_once() {
	local mode=$1 port caps=() opts=()
	[[ $mode == preempt ]] && caps=(postcopy-preempt=on) opts=(--preempt)
	port=$(free_port)
	PC_DEST_CAPS=${caps[*]:-} pc_dest dst "$BENCH_SIZE" "$shm" "$port" -bios "$work/bios.bin" ||
		die "$mode: the destination did not start"
	"$MIGBOX" postcopy-serve "${opts[@]}" --timeout 120 --stats-json "$work/serve.json" \
		"127.0.0.1:$port" <"$work/saved.mig" 2>"$work/serve.err" ||
		die "$mode: postcopy-serve failed: $(cat "$work/serve.err")"
	qmp_wait_migration dst 120 >/dev/null || die "$mode: the destination did not complete"
	WAIT_INTERVAL=0.1 wait_until 120 guest_halted dst || die "$mode: the guest did not halt"
	# the RAM as saved, but for the table's page the guest wrote
	cmp -s -n $((0x8000)) "$shm" "$work/pattern.img" && cmp -s -i $((0x9000)) "$shm" "$work/pattern.img" ||
		die "$mode: RAM differs from the saved pattern"
	qemu_pmemsave dst 0x8000 4096 "$work/table.bin"
	qemu_stop dst
	rm -f "$shm"
	perl -e '
		my ($f, $hz, $n) = @ARGV;
		open(my $h, "<:raw", $f) or die "$f: $!\n";
		local $/;
		my @t = unpack("V*", <$h>);
		@t == 1024 or die "$f: ", scalar(@t), " entries, expected 1024\n";
		@t = @t[1024 - $n .. 1023];	# the reads below the RAM size
		for (@t) { $_ or die "$f: a read was not timed\n"; printf "%.3f\n", $_ / $hz * 1e6 }
	' "$work/table.bin" "$tsc_hz" "$reads" >>"$work/lat.$mode" || die "$mode: bad table"
	jq -r '"\(.latency_ms.p50) \(.latency_ms.p99) \(.pages_requested) \(.pages_preempt // 0)"' "$work/serve.json"
}

# A read that took less than this found its page there (a TCG load is
# well under a microsecond; a request is a round trip through the kernel).
FAULT_US=20

# pct FILE P: the P-th percentile of the faulted reads in FILE.
pct() {
	awk -v f=$FAULT_US '$1 >= f' "$1" | sort -g |
		awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print (NR ? v[i] : "-") }'
}

printf 'guest: %s MiB, %s timed reads a run, %s runs a line; TSC %.0f MHz\n' \
	"$BENCH_SIZE" "$reads" "$BENCH_RUNS" "$(awk -v h="$tsc_hz" 'BEGIN { print h / 1e6 }')"
for qemu_version in $BENCH_QEMUS; do
	QEMU_BIN=$(qemu_bin "$qemu_version") || die "no QEMU $qemu_version"
	qemu_start saver --mem "$BENCH_SIZE" --mem-path "$work/pattern.img" --share off -- -bios "$work/bios.bin"
	qemu_save_stream saver "$work/saved.mig" 300 >/dev/null
	qemu_stop saver
	cat "$work/saved.mig" >/dev/null
	printf '\n=== QEMU %s (%s)\n' "$qemu_version" "$("$MIGBOX" stream-dump --json "$work/saved.mig" | jq -r .machine)"
	printf '%-9s %13s %13s %13s %13s   %13s %13s %9s\n' mode 'faults/reads' 'fault p50 us' \
		'fault p99 us' 'fault max us' 'serve p50 ms' 'serve p99 ms' preempt
	for mode in none preempt; do
		rm -f "$work/lat.$mode"
		for ((i = 0; i < BENCH_RUNS; i++)); do
			run_once "$mode" >"$work/serve.txt"
			read -r sp50 sp99 requested on_preempt <"$work/serve.txt"
		done
		printf '%-9s %13s %13s %13s %13s   %13.3f %13.3f %9s\n' "$mode" \
			"$(awk -v f=$FAULT_US '$1 >= f { n++ } END { print n + 0 "/" NR }' "$work/lat.$mode")" \
			"$(pct "$work/lat.$mode" 50)" "$(pct "$work/lat.$mode" 99)" "$(pct "$work/lat.$mode" 100)" \
			"$sp50" "$sp99" "$on_preempt/$requested"
	done
done
printf '\n(%s cpus; a fault = a read of the guest that took %s us or more, its time from the TSC; serve = postcopy-serve --stats-json of the last run; preempt = pages on the preempt channel / pages requested, last run)\n' \
	"$(nproc)" "$FAULT_US"
