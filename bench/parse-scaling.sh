#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/parse-scaling.sh - does `migbox stream-dump --digest` cost what a
# stream's bytes are, whatever the stream is made of?
#
# For streams of 1x, 4x and 16x a base size made of:
#   pages     ordinary RAM pages (stream-gen): the baseline
#   sections  distinct FULL device sections, ~2 KiB each (up to 8000)
#   blocks    4096 RAM blocks with 255-byte names, ZERO records naming a
#             random block each (no CONTINUE)
#   commands  PING commands, 9 bytes each
#   claims    64 blocks claiming 256 GiB each with a few pages: the work
#             must follow the bytes, not the claimed RAM
# it prints bytes, seconds, MB/s and peak RSS, with the growth of time and
# memory from 1x to 16x. Linear: time grows like the bytes (16x), memory
# stays flat. The baseline is the "pages" rows: any kind of stream should
# cost about what ordinary pages of the same size cost. BASELINE=BINARY
# adds the same figures for another migbox (e.g. an older build) beside.
#
#   bench/parse-scaling.sh
#   BENCH_BASE_MB=4 BASELINE=/tmp/old/migbox bench/parse-scaling.sh
#
# Needs: GNU time (package time), perl. Not a test: exits 0 unless a tool
# fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MIGBOX=${MIGBOX:-$here/../migbox}
BENCH_DIR=${BENCH_DIR:-/tmp}
BASE_MB=${BENCH_BASE_MB:-16}

die() { echo "parse-scaling.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX ]] || die "no migbox at $MIGBOX (make first, or set MIGBOX)"
[[ -x /usr/bin/time ]] || die 'GNU time not installed (package time)'
command -v perl >/dev/null || die 'perl not installed'

work=$(mktemp -d "$BENCH_DIR/bench-parse.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The stream's head: QEVM, a configuration, the ram START section with a
# MEM_SIZE of BLOCKS blocks named by NAMEFMT of LEN bytes each; body and
# tail come from the kind's generator.
gen() {
	local kind=$1 bytes=$2 out=$3
	case $kind in
	pages)
		"$MIGBOX" stream-gen -s 1 -b "pc.ram:$((bytes / 4096 * 4096))" -m zero=10,random=45,text=45 \
			--devices 4 -o "$out"
		;;
	*)
		perl -e '
		use strict;
		my ($kind, $bytes) = @ARGV;
		binmode STDOUT;
		sub hdr { print "QEVM", pack("N", 3), pack("C N/a*", 7, "pc-i440fx-7.2") }
		sub start_ram { my @b = @_; my $total = 0; $total += $_->[1] for @b;
			print pack("C N C/a* N N", 1, 2, "ram", 0, 4), pack("Q>", $total | 4);
			print pack("C/a* Q>", @$_) for @b; print pack("Q>", 0x10), pack("C N", 0x7e, 2) }
		sub tail { print pack("C", 0) }
		hdr();
		if ($kind eq "sections") {
			start_ram(["pc.ram", 1 << 20]);
			my $n = int($bytes / 2100); $n = 8000 if $n > 8000;
			my $body = "d" x 2048;
			for my $i (0 .. $n - 1) {
				print pack("C N C/a* N N", 4, $i + 10, "device-$i", 0, 1), $body, pack("C N", 0x7e, $i + 10);
			}
		} elsif ($kind eq "blocks") {
			my @b = map { [sprintf("%0255d", $_), 1 << 20] } 0 .. 4095;
			start_ram(@b);
			print pack("C N", 2, 2);
			my $x = 12345;
			for (1 .. int($bytes / 265)) {
				$x = ($x * 1103515245 + 12345) & 0x7fffffff;
				my $blk = $x % 4096; my $page = ($x >> 12) % 256;
				print pack("Q> C/a* C", ($page << 12) | 2, $b[$blk][0], 0);
			}
			print pack("Q>", 0x10), pack("C N", 0x7e, 2);
		} elsif ($kind eq "commands") {
			start_ram(["pc.ram", 1 << 20]);
			my $rec = pack("C n n N", 8, 2, 4, 7);
			print $rec x int($bytes / 9);
		} elsif ($kind eq "claims") {
			my @b = map { ["blk$_", 1 << 38] } 0 .. 63;
			start_ram(@b);
			print pack("C N", 2, 2);
			my $page = "p" x 4096;
			for (1 .. int($bytes / 4110)) {
				my $blk = $_ % 64;
				print pack("Q> C/a*", ((($_ * 7919) % (1 << 26)) << 12) | 8, "blk$blk"), $page;
			}
			print pack("Q>", 0x10), pack("C N", 0x7e, 2);
		}
		tail();
		' "$kind" "$bytes" >"$out"
		;;
	esac
}

# measure BINARY FILE: "seconds peak_kb" of stream-dump --digest on FILE,
# best of 2 (wall time from bash, peak RSS from GNU time).
measure() {
	local best='' kb=0 i t0 t1 k
	for i in 1 2; do
		t0=${EPOCHREALTIME/[.,]/}
		k=$( { /usr/bin/time -f '%M' timeout 600 "$1" stream-dump --digest "$2" >/dev/null; } 2>&1 | tail -n 1)
		t1=${EPOCHREALTIME/[.,]/}
		if [[ -z $best ]] || ((t1 - t0 < best)); then best=$((t1 - t0)); fi
		[[ $k =~ ^[0-9]+$ ]] && ((k > kb)) && kb=$k
	done
	echo "$((best / 1000)) $kb"
}

row() {	# kind scale bytes ms kb [base_ms base_kb]
	awk -v k="$1" -v x="$2" -v b="$3" -v ms="$4" -v kb="$5" -v bms="${6:-}" -v bkb="${7:-}" 'BEGIN {
		printf "%-9s %5sx %12d %9d %9.1f %8d KiB", k, x, b, ms, (ms > 0 ? b / ms / 1e3 : 0), kb
		if (bms != "") printf "   %9d %8d KiB", bms, bkb
		printf "\n" }'
}

printf '%-9s %6s %12s %9s %9s %12s' kind scale bytes ms MB/s 'peak RSS'
[[ -n ${BASELINE:-} ]] && printf '   %9s %12s' 'base ms' 'base RSS'
printf '\n'
declare -A first_ms first_kb
for kind in pages sections blocks commands claims; do
	for scale in 1 4 16; do
		f=$work/$kind-$scale.mig
		gen "$kind" $((BASE_MB * scale << 20)) "$f"
		bytes=$(stat -c %s "$f")
		read -r ms kb < <(measure "$MIGBOX" "$f")
		base=()
		[[ -z ${BASELINE:-} ]] || read -r -a base < <(measure "$BASELINE" "$f")
		row "$kind" "$scale" "$bytes" "$ms" "$kb" "${base[@]}"
		if [[ $scale == 1 ]]; then first_ms[$kind]=$ms; first_kb[$kind]=$kb; fi
		if [[ $scale == 16 ]]; then
			awk -v k="$kind" -v a="${first_ms[$kind]}" -v b="$ms" -v m="${first_kb[$kind]}" -v n="$kb" \
				'BEGIN { printf "%-9s 1x->16x: time x%.1f, peak RSS x%.2f\n", k, (a > 0 ? b / a : 0), n / m }'
		fi
		rm -f "$f"
	done
done
printf '\n(base %d MiB, best of 2 runs, %s cpus; "sections" stops growing at 8000 sections)\n' \
	"$BASE_MB" "$(nproc)"
