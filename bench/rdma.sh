#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/rdma.sh - RDMA transports side by side on one Soft-RoCE link, in one
# boot of the test VM (tests/vm/scenarios/rdma-bench.sh), the same bytes
# each way (BENCH_MIB of guest RAM, default 256):
#
#   ib_write_bw      perftest: 1 MiB RDMA WRITEs, the link's ceiling
#   rdma-send        a stream QEMU saved of that RAM -> rdma-recv
#   qemu-rdma        QEMU 7.2 -> QEMU 7.2, migrate rdma: (its total time)
#   multifd-c2       multifd-send -> multifd-recv, 2 channels, TCP on the
#                    same netdev
#
# It prints throughput, the ratio to ib_write_bw and to QEMU, and the CPU
# seconds (user+system) of each side. Under TCG the absolute figures are
# small: compare the rows, not the numbers. Targets: rdma-send at least
# 0.9x ib_write_bw, and faster than QEMU to QEMU.
#
#   bench/rdma.sh
#   BENCH_MIB=64 BENCH_VERBOSE=1 bench/rdma.sh   # also the VM's output
#
# Needs: make static, the test VM (tests/vm/fetch), qemu-system-x86,
# perftest. Not a test: exits 0 unless the VM run fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
MIB=${BENCH_MIB:-256}
export MIGBOX_STATIC=${MIGBOX_STATIC:-$top/migbox-static}

die() { echo "rdma.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX_STATIC ]] || die "no $MIGBOX_STATIC (make static first)"
for t in qemu-system-x86_64 ib_write_bw; do
	command -v "$t" >/dev/null || die "$t not installed (./install-deps)"
done

args=(--add-bin /usr/bin/qemu-system-x86_64 --add-bin /usr/bin/ib_write_bw)
for f in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so /usr/share/seabios/bios-256k.bin \
	/usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot_dma.bin \
	/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so /etc/libibverbs.d/rxe.driver; do
	args+=(--add "$(readlink -f "$f"):$f")
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$top/tests/vm/run" --timeout 1200 --mem $((MIB * 8 + 1024)) --smp 2 "${args[@]}" \
	rdma-bench "$MIB" >"$out" 2>&1 || { cat "$out"; die "the VM run failed"; }
[[ -z ${BENCH_VERBOSE:-} ]] || cat "$out" >&2
if grep -q '^FAIL' "$out"; then
	cat "$out"
	die "a run failed"
fi
awk 'BEGIN { n = 0 }
	$1 == "bench" { name[n] = $2; bytes[n] = $3; secs[n] = $4; src[n] = $5; dst[n] = $6; n++
			if ($2 == "ib_write_bw") ib = $3 / $4; if ($2 == "qemu-rdma") q = $3 / $4 }
	END {
		printf "%-12s %12s %9s %9s %9s %9s %9s %9s\n", "transport", "bytes", "seconds", "MB/s",
			"x ib_bw", "x qemu", "cpu src", "cpu dst"
		for (i = 0; i < n; i++) {
			r = bytes[i] / secs[i]
			printf "%-12s %12d %9.2f %9.1f %9.2f %9.2f %9s %9s\n", name[i], bytes[i], secs[i],
				r / 1e6, ib ? r / ib : 0, q ? r / q : 0, src[i], dst[i]
		}
	}' "$out"
printf '\n(one TCG VM, 2 vCPUs, rxe on dummy0; %d MiB of random guest RAM)\n' "$MIB"
