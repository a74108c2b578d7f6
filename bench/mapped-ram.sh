#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/mapped-ram.sh - saving and restoring a guest through a mapped-ram
# file (QEMU 9.0+ fixed-offset layout), migbox beside QEMU 10.0's own
# `migrate file:` with mapped-ram and multifd, in the same run.
#
# The guest: a paused QEMU 10.0 TCG guest with BENCH_SIZE MiB of RAM from a
# `stream-gen --raw` image (30% zero, 30% random, 40% text pages).
#   QEMU save     migrate file:F, capabilities mapped-ram and multifd,
#                 BENCH_CHANNELS channels: the source's total-time
#   QEMU restore  a -incoming defer guest, the same capabilities,
#                 migrate-incoming file:F: until it reports completed
#   migbox save   the source migrates with multifd over loopback into
#                 multifd-recv --mapped-ram -o F (its channels pwrite the
#                 pages in place): from `migrate` until multifd-recv exits,
#                 the file complete and fsynced (QEMU's own save does not
#                 fsync: its file's fsync is timed apart and shown beside)
#   migbox restore multifd-send < F (its channels read the pages) into a
#                 multifd destination: from the sender's start until the
#                 destination reports completed
# Every restore is checked: the destination's RAM equals the image; both
# files give the same RAM digest. Best of BENCH_RUNS.
#
#   bench/mapped-ram.sh
#   BENCH_SIZE=1024 BENCH_RUNS=1 bench/mapped-ram.sh
#
# The files are on disk (BENCH_DIR, default /var/tmp): a 4 GiB guest
# needs about 4 x its RAM there. Needs QEMU 10.0 from tests/qemu10/fetch,
# socat, jq. Not a test: exits 0 unless a tool fails or a restore differs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MIGBOX=${MIGBOX:-$here/../migbox}
BENCH_SIZE=${BENCH_SIZE:-4096}		# MiB of guest RAM
BENCH_RUNS=${BENCH_RUNS:-1}
BENCH_CHANNELS=${BENCH_CHANNELS:-4}
BENCH_DIR=${BENCH_DIR:-/var/tmp}

die() { echo "mapped-ram.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX ]] || die "no migbox at $MIGBOX (make first, or set MIGBOX)"
for t in socat jq; do
	command -v "$t" >/dev/null || die "$t not installed"
done
QEMU_BIN=$("$here/../tests/qemu10/fetch")/qemu-system-x86_64 || die "no QEMU 10.0"
export QEMU_BIN

work=$(mktemp -d "$BENCH_DIR/bench-mapped-ram.XXXXXX")
export QEMU_RUN_DIR=$work/qemu
mkdir -p "$QEMU_RUN_DIR"
# shellcheck source=../tests/lib/qemu.bash
source "$here/../tests/lib/qemu.bash"
QEMU_MIGRATE_TIMEOUT=900
cleanup() {
	qemu_stop_all || :
	[[ -z ${recv_pid:-} ]] || kill "$recv_pid" 2>/dev/null || :
	rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }
image=$work/image.raw
c=$BENCH_CHANNELS

"$MIGBOX" stream-gen --raw -s 11 -b "m:${BENCH_SIZE}M" -m zero=30,random=30,text=40 -o "$image"
want=$("$MIGBOX" stream-dump --image-digest "$image" | awk '{ print $2 }')

source_guest() {
	qemu_start src --mem "${BENCH_SIZE}M" --mem-path "$image" --share off
}

# restored NAME IMAGE: the destination's RAM is the image's
restored() {
	cmp -s "$2" "$image" || die "$1: the restored RAM differs from the image"
	rm -f "$2"
}

ram_digest() {
	"$MIGBOX" stream-dump --digest "$1" | awk '$1 == "ram" && $4 == "m" { print $2 }'
}

# prints "save fsync": QEMU's total-time, then the time to fsync its file
qemu_save() {
	local t t0
	rm -f "$work/qemu.mr"
	source_guest
	qmp_migrate_set_caps src mapped-ram=on multifd=on
	qmp_migrate_set_params src multifd-channels="$c"
	qmp src migrate "$(jq -cn --arg u "file:$work/qemu.mr" '{uri: $u}')" >/dev/null
	t=$(qmp_wait_migration src)
	qemu_stop src
	t0=$(now_ms)
	sync "$work/qemu.mr"
	echo "$t $(($(now_ms) - t0))"
}

qemu_restore() {
	local t0 t1
	qemu_start dst --mem "${BENCH_SIZE}M" --mem-path "$work/dst.img" --share on --incoming defer
	qmp_migrate_set_caps dst mapped-ram=on multifd=on
	qmp_migrate_set_params dst multifd-channels="$c"
	t0=$(now_ms)
	qmp dst migrate-incoming "$(jq -cn --arg u "file:$work/qemu.mr" '{uri: $u}')" >/dev/null
	qmp_wait_migration dst >/dev/null
	t1=$(now_ms)
	qemu_stop dst
	restored "QEMU restore" "$work/dst.img"
	echo $((t1 - t0))
}

# the save's time, multifd-recv's fsync of the file included
migbox_save() {
	local port t0 t1
	rm -f "$work/migbox.mr"
	port=$(free_port)
	"$MIGBOX" multifd-recv -c "$c" --mapped-ram -o "$work/migbox.mr" --timeout 120 \
		--stats-json "$work/recv.json" "127.0.0.1:$port" 2>"$work/recv.err" &
	recv_pid=$!
	wait_until 10 grep -q 'listening on' "$work/recv.err"
	source_guest
	qmp_migrate_set_caps src multifd=on
	qmp_migrate_set_params src multifd-channels="$c"
	t0=$(now_ms)
	qmp src migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	wait "$recv_pid" || die "multifd-recv failed: $(cat "$work/recv.err")"
	t1=$(now_ms)
	recv_pid=
	qmp_wait_migration src >/dev/null
	qemu_stop src
	echo $((t1 - t0))
}

migbox_restore() {
	local port t0 t1
	port=$(free_port)
	qemu_start dst --mem "${BENCH_SIZE}M" --mem-path "$work/dst.img" --share on --incoming defer
	qmp_migrate_set_caps dst multifd=on
	qmp_migrate_set_params dst multifd-channels="$c"
	qmp dst migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	t0=$(now_ms)
	"$MIGBOX" multifd-send -c "$c" --timeout 120 --stats-json "$work/send.json" \
		"127.0.0.1:$port" <"$work/migbox.mr" ||
		die "multifd-send failed; the destination: $(tail -n 5 "$QEMU_RUN_DIR/qemu.dst/log")"
	qmp_wait_migration dst >/dev/null
	t1=$(now_ms)
	qemu_stop dst
	jq -e .mapped_ram_input "$work/send.json" >/dev/null || die "multifd-send did not read the file as mapped-ram"
	restored "migbox restore" "$work/dst.img"
	echo $((t1 - t0))
}

best() { printf '%s\n' "$@" | sort -n | head -n 1; }

qs=() qf=() qr=() ms=() mr=()
for ((run = 1; run <= BENCH_RUNS; run++)); do
	read -r t f < <(qemu_save)
	qs+=("$t") qf+=("$f")
	qr+=("$(qemu_restore)")
	ms+=("$(migbox_save)")
	mr+=("$(migbox_restore)")
	[[ $(ram_digest "$work/qemu.mr") == "$want" && $(ram_digest "$work/migbox.mr") == "$want" ]] ||
		die "a mapped-ram file's RAM digest is not the image's"
	echo "run $run: QEMU save ${qs[-1]} ms (+ fsync ${qf[-1]}), restore ${qr[-1]} ms; migbox save ${ms[-1]} ms, restore ${mr[-1]} ms" >&2
done

size() { stat -c %s "$1"; }
alloc() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }
echo "guest: ${BENCH_SIZE} MiB (30% zero pages), QEMU $("$QEMU_BIN" --version | head -n 1 | awk '{ print $4 }'), $c channels, files in $BENCH_DIR, best of $BENCH_RUNS ($(nproc) cpus)"
printf '%-10s %10s %12s %12s %14s %14s\n' "" "save ms" "+fsync ms" "restore ms" "file bytes" "allocated"
printf '%-10s %10s %12s %12s %14s %14s\n' QEMU "$(best "${qs[@]}")" "$(best "${qf[@]}")" "$(best "${qr[@]}")" \
	"$(size "$work/qemu.mr")" "$(alloc "$work/qemu.mr")"
printf '%-10s %10s %12s %12s %14s %14s\n' migbox "$(best "${ms[@]}")" "(included)" "$(best "${mr[@]}")" \
	"$(size "$work/migbox.mr")" "$(alloc "$work/migbox.mr")"
echo "(QEMU: migrate file: / migrate-incoming file: with mapped-ram + multifd, its file fsynced after; migbox: multifd over loopback into multifd-recv --mapped-ram, which fsyncs before the file appears, then multifd-send < the file into a multifd destination)"
