#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/multifd.sh - multifd-send | multifd-recv beside QEMU migrating the
# same RAM to itself (QEMU 7.2 and QEMU 10.0 in the same run), and beside
# raw loopback TCP with as many streams as channels, one TCP stream and a
# pipe.
#
# The RAM: a 1 GiB `stream-gen --raw` image (30% zero, 30% random, 40% text
# pages). QEMU: a paused TCG guest whose RAM is that image
# (memory-backend-file, share=on) migrates over loopback to a -incoming
# defer guest, multifd on, max-bandwidth unlimited; its figure is the
# source's total-time. migbox: the stream QEMU saved of that guest
# (exec:cat) goes through multifd-send into multifd-recv > /dev/null with
# the same channels and compression; its figure is the wall time from the
# sender's start to both ends' exit. Best of BENCH_RUNS each. With QEMU
# 10.0 (-M pc: pc-i440fx-10.0) the stream is 10.0's and multifd-send speaks
# its mode (a MULTIFD_FLUSH per sync, zero pages in the packets). "TCP xN"
# is the stream split in CHANNELS byte ranges sent at once over as many
# loopback connections (bench/tcp-streams.c, sendfile): what the wire here
# allows that many streams.
#
# Compression ratio = page bytes / bytes on the multifd channels (headers
# included). QEMU 7.2's own multifd-bytes counts pages before compression,
# so QEMU's ratio is measured by a multifd-recv receiving QEMU's stream.
# Targets: none at most 1.0x QEMU's time; zstd at most 0.5x, with a ratio
# no worse than QEMU's. Both sides use zstd level 1 (ours with a 2^23
# window): the compressor's CPU time is most of both pipelines.
#
#   bench/multifd.sh
#   BENCH_SIZE=256 BENCH_RUNS=1 BENCH_CHANNELS="1 4" BENCH_QEMUS=10.0 bench/multifd.sh
#
# Needs: qemu-system-x86 (7.2), QEMU 10.0 from tests/qemu10/fetch (built on
# first use), socat, jq, perl, ss. Not a test: it exits 0 unless a tool
# fails or a migration does not arrive intact.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MIGBOX=${MIGBOX:-$here/../migbox}
BENCH_SIZE=${BENCH_SIZE:-1024}		# MiB of guest RAM
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_CHANNELS=${BENCH_CHANNELS:-1 2 4}
BENCH_COMPRESSION=${BENCH_COMPRESSION:-none zstd}
BENCH_QEMUS=${BENCH_QEMUS:-7.2 10.0}
if [[ -z ${BENCH_DIR:-} ]]; then
	BENCH_DIR=/tmp
	# tmpfs keeps the disk out of the figures; it needs about 4x the RAM
	avail=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
	[[ -n $avail && $avail -gt $((BENCH_SIZE * 4 + 512)) ]] && BENCH_DIR=/dev/shm
fi

die() { echo "multifd.sh: $*" >&2; exit 1; }
[[ -x $MIGBOX ]] || die "no migbox at $MIGBOX (make first, or set MIGBOX)"
for t in qemu-system-x86_64 socat jq perl ss; do
	command -v "$t" >/dev/null || die "$t not installed"
done
# qemu_bin VERSION: the QEMU to run for 7.2 (the host's) or 10.0
qemu_bin() {
	case $1 in
	7.2) command -v qemu-system-x86_64 ;;
	10.0) echo "$("$here/../tests/qemu10/fetch")/qemu-system-x86_64" ;;
	*) die "BENCH_QEMUS: 7.2 or 10.0, not '$1'" ;;
	esac
}

work=$(mktemp -d "$BENCH_DIR/bench-multifd.XXXXXX")
export QEMU_RUN_DIR=$work/qemu
mkdir -p "$QEMU_RUN_DIR"
# shellcheck source=../tests/lib/qemu.bash
source "$here/../tests/lib/qemu.bash"
QEMU_MIGRATE_TIMEOUT=300
cleanup() {
	qemu_stop_all || :
	[[ -z ${recv_pid:-} ]] || kill "$recv_pid" 2>/dev/null || :
	rm -rf "$work"
}
trap cleanup EXIT

image=$work/image.raw
stream=$work/stream.bin
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
listening() { [[ -n $(ss -Hltn "sport = :$1") ]]; }
# wait_listen PORT: until something listens on 127.0.0.1:PORT.
wait_listen() {
	wait_until 2 listening "$1" || die "nothing listens on port $1"
}
set_multifd() {	# NAME CHANNELS COMPRESSION
	qmp_migrate_set_caps "$1" multifd=on
	qmp_migrate_set_params "$1" multifd-channels="$2" multifd-compression="$3"
}

echo "RAM image: ${BENCH_SIZE} MiB, stream-gen --raw, zero=30,random=30,text=40 ($BENCH_DIR)"
"$MIGBOX" stream-gen -s 1 -b "pc.ram:${BENCH_SIZE}M" -m zero=30,random=30,text=40 --raw -o "$image"
want_digest=$("$MIGBOX" stream-dump --image-digest "$image" | awk '{ print $2 }')

# save_stream: the stream the current QEMU saves of the image
save_stream() {
	qemu_start saver --mem "$BENCH_SIZE" --mem-path "$image" --share on
	qmp_migrate_set_params saver max-bandwidth=1000000000000
	qemu_save_stream saver "$stream" 300 >/dev/null
	qemu_stop saver
	[[ $("$MIGBOX" stream-dump --digest "$stream" | awk '$1 == "ram" && $4 == "m" { print $2 }') == "$want_digest" ]] ||
		die "the stream QEMU saved does not hold the image"
	echo "stream saved by QEMU $qemu_version ($("$MIGBOX" stream-dump --json "$stream" | jq -r .machine)): $(stat -c %s "$stream") bytes"
	cat "$stream" >/dev/null
}

# qemu_once CHANNELS COMPRESSION [check]: one QEMU-to-QEMU migration;
#   prints the source's total-time in ms.
qemu_once() {
	local c=$1 z=$2 port ms
	port=$(free_port)
	rm -f "$work/dst.raw"
	qemu_start src --mem "$BENCH_SIZE" --mem-path "$image" --share on
	qemu_start dst --mem "$BENCH_SIZE" --mem-path "$work/dst.raw" --share on --incoming defer
	set_multifd src "$c" "$z"
	set_multifd dst "$c" "$z"
	qmp_migrate_set_params src max-bandwidth=1000000000000
	qmp dst migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	qmp src migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	ms=$(qmp_wait_migration src)
	qmp_wait_migration dst >/dev/null
	if [[ ${3:-} == check ]]; then
		cmp -s "$work/dst.raw" "$image" || die "QEMU $c/$z: destination RAM differs"
		qmp src query-migrate | jq -r '.ram."multifd-bytes"' >"$work/qemu-multifd-bytes"
	fi
	qemu_stop src
	qemu_stop dst
	echo "$ms"
}

# qemu_ratio CHANNELS COMPRESSION: QEMU's real compression ratio, read by a
#   multifd-recv that receives QEMU's stream.
qemu_ratio() {
	local c=$1 z=$2 port
	port=$(free_port)
	"$MIGBOX" multifd-recv -c "$c" -z "$z" --timeout 60 --stats-json "$work/qemu-wire.json" \
		"127.0.0.1:$port" >/dev/null &
	recv_pid=$!
	wait_listen "$port"
	qemu_start src --mem "$BENCH_SIZE" --mem-path "$image" --share on
	set_multifd src "$c" "$z"
	qmp_migrate_set_params src max-bandwidth=1000000000000
	qmp src migrate "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
	qmp_wait_migration src >/dev/null
	wait "$recv_pid"
	recv_pid=
	qemu_stop src
	jq -r '.page_bytes / .multifd_bytes * 1000 | round / 1000' "$work/qemu-wire.json"
}

# ours_once CHANNELS COMPRESSION OUT: one multifd-send -> multifd-recv;
#   prints the wall time in ms.
ours_once() {
	local c=$1 z=$2 out=$3 port t0 t1
	port=$(free_port)
	"$MIGBOX" multifd-recv -c "$c" -z "$z" --timeout 60 --stats-json "$work/recv.json" \
		"127.0.0.1:$port" >"$out" &
	recv_pid=$!
	wait_listen "$port"
	t0=$(now_us)
	"$MIGBOX" multifd-send -c "$c" -z "$z" --timeout 60 --stats-json "$work/send.json" \
		"127.0.0.1:$port" <"$stream"
	wait "$recv_pid"
	t1=$(now_us)
	recv_pid=
	echo $(((t1 - t0) / 1000))
}

best_of() {	# CMD...: the least of BENCH_RUNS outputs
	local best='' i v
	local tries=0
	for ((i = 0; i < BENCH_RUNS; i++)); do
		# a substitution does not inherit set -e: check what came back
		v=$("$@") || v=
		if ! [[ $v =~ ^[0-9]+$ && $v -gt 0 ]]; then
			((++tries <= 2)) || die "no time from: $* (got '$v')"
			echo "multifd.sh: a run of '$*' failed (got '$v'); again" >&2
			qemu_stop_all || :
			((i--))
			continue
		fi
		if [[ -z $best ]] || ((v < best)); then best=$v; fi
	done
	echo "$best"
}

# Ceilings: the file in N byte ranges over N TCP connections at once
# (bench/tcp-streams.c: sendfile, reads dropped), one TCP stream of it
# (socat), and cat through a pipe.
cc -O2 -pthread -o "$work/tcp-streams" "$here/tcp-streams.c" || die "cannot build tcp-streams"
ceil_tcp_n() {	# N
	"$work/tcp-streams" "$stream" "$1"
}
port=$(free_port)
ceil_tcp() {
	local t0 t1
	socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" OPEN:/dev/null &
	recv_pid=$!
	wait_listen "$port"
	t0=$(now_us)
	socat -u "OPEN:$stream" "TCP:127.0.0.1:$port"
	wait "$recv_pid"
	t1=$(now_us)
	recv_pid=
	echo $(((t1 - t0) / 1000))
}
ceil_pipe() {
	local t0 t1
	t0=$(now_us)
	cat "$stream" | cat >/dev/null
	t1=$(now_us)
	echo $(((t1 - t0) / 1000))
}
declare -a fails=()
declare -A tcpn_ms=()
bench_qemu() {
save_stream
tcp_ms=$(best_of ceil_tcp)
pipe_ms=$(best_of ceil_pipe)
for c in $BENCH_CHANNELS; do
	tcpn_ms[$c]=$(best_of ceil_tcp_n "$c")
done

printf '\n%-5s %3s %10s %10s %8s %8s %10s %10s %10s\n' comp ch 'QEMU ms' 'migbox ms' ratio target \
	'QEMU x' 'migbox x' 'TCP xN ms'
for z in $BENCH_COMPRESSION; do
	for c in $BENCH_CHANNELS; do
		# correctness first, untimed: QEMU's destination and our output
		qemu_once "$c" "$z" check >/dev/null
		qemu_counter=$(<"$work/qemu-multifd-bytes")
		ours_once "$c" "$z" "$work/out.bin" >/dev/null
		[[ $("$MIGBOX" stream-dump --digest "$work/out.bin" | awk '$1 == "ram" && $4 == "m" { print $2 }') == "$want_digest" ]] ||
			die "migbox $c/$z: output RAM differs"
		rm -f "$work/out.bin"

		qemu_ms=$(best_of qemu_once "$c" "$z")
		ours_ms=$(best_of ours_once "$c" "$z" /dev/null)
		ours_x=$(jq -r '.page_bytes / .multifd_bytes' "$work/send.json")
		if [[ $z == none ]]; then
			qemu_x=- target=1.0
		else
			qemu_x=$(qemu_ratio "$c" "$z")
			target=0.5
		fi
		ratio=$(awk -v a="$ours_ms" -v b="$qemu_ms" 'BEGIN { printf "%.2f", a / b }')
		printf '%-5s %3s %10s %10s %7sx %7sx %10s %10.3f %10s\n' "$z" "$c" "$qemu_ms" "$ours_ms" \
			"$ratio" "$target" "$qemu_x" "$ours_x" "${tcpn_ms[$c]}"
		# without compression only the time counts (headers make both ~0.997)
		awk -v r="$ratio" -v t="$target" -v q="$qemu_x" -v o="$ours_x" -v z="$z" \
			'BEGIN { exit !(r <= t && (z == "none" || o >= q)) }' || fails+=("$qemu_version:$z/$c")
		echo "      (QEMU's own multifd-bytes counter: $qemu_counter, i.e. pages before compression)" >"$work/note"
	done
done
cat "$work/note"
printf '\nceilings for the %s-byte stream: one TCP stream (socat) %s ms, cat | cat %s ms\n' \
	"$(stat -c %s "$stream")" "$tcp_ms" "$pipe_ms"
printf '(best of %d runs, %s cpus, QEMU %s; ratio = migbox/QEMU time; x = page bytes per multifd byte)\n' \
	"$BENCH_RUNS" "$(nproc)" "$("$QEMU_BIN" --version | awk 'NR == 1 { print $4 }')"
}

for qemu_version in $BENCH_QEMUS; do
	QEMU_BIN=$(qemu_bin "$qemu_version") || die "no QEMU $qemu_version"
	echo
	echo "=== QEMU $qemu_version ($QEMU_BIN)"
	bench_qemu
done
echo
if ((${#fails[@]})); then
	echo "missed target: ${fails[*]}"
else
	echo "every target met"
fi
