#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# demo/demo.sh - `make demo`: migbox on a real QEMU guest, on this machine.
#
#   1. live migration: a running QEMU 7.2 guest (demo/guest.S, TCG, 64 MiB,
#      rewriting 1 MiB of its RAM all the time) goes from a source QEMU
#      through `exec:` into multifd-send -c 4, over loopback TCP, to
#      multifd-recv, run by a destination QEMU started with -incoming defer
#      (which also keeps a copy of the stream in vm.mig)
#   2. lazy restore: postcopy-serve serves vm.mig to a third QEMU with
#      postcopy-ram: the guest runs before its RAM has arrived
#   3. the digests side by side: what the source sent (stream-dump on the
#      source's side of the pipe) against the destination saved again
#
# Everything runs in a mktemp -d directory, removed at the end, on failure
# and on Ctrl-C, with every QEMU and every applet it started. No root
# needed; step 2 needs userfaultfd, which some kernels keep for root
# (vm.unprivileged_userfaultfd): then it says so and is left out.
#
#   demo/demo.sh            (make demo builds migbox first)
#   MIGBOX=path/to/migbox QEMU_BIN=qemu-system-x86_64 demo/demo.sh
#
# Exit status: 0 when the destination's RAM is identical to what the source
# sent, 1 when it is not or a step failed, 128+N on signal N.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
MIGBOX=${MIGBOX:-$top/migbox}
QEMU_BIN=${QEMU_BIN:-qemu-system-x86_64}
# the work dir is elsewhere: paths given relative to here must still work
[[ $MIGBOX == /* ]] || MIGBOX=$PWD/$MIGBOX
[[ $QEMU_BIN != */* || $QEMU_BIN == /* ]] || QEMU_BIN=$PWD/$QEMU_BIN
PUSH_DELAY_MS=1000
start_us=${EPOCHREALTIME/[.,]/}
work=''
serve_pid=''
saved_counter=''

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
# shown: a shell command as run here, to copy.
shown() { printf '  $ %s\n' "$*"; }
die() {
	printf 'migbox demo: FAILED: %s\n' "$*" >&2
	exit 1
}

# need_tools: every tool, or one clear line saying what to do.
need_tools() {
	local t
	[[ -x $MIGBOX ]] || die "no migbox binary at $MIGBOX: run make first (or make demo)"
	if ! command -v "$QEMU_BIN" >/dev/null; then
		die "QEMU ($QEMU_BIN) not found: run ./install-deps (as root), then make demo again"
	fi
	for t in socat jq as objcopy; do
		command -v "$t" >/dev/null || die "$t not found: run ./install-deps (as root), then make demo again"
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [[ -n $serve_pid ]]; then
		kill -TERM "$serve_pid" 2>/dev/null
		wait "$serve_pid" 2>/dev/null
	fi
	if [[ -n $work ]]; then
		# each QEMU with what it runs for exec: (timeout(1) signals its group)
		cd "$work" && qemu_stop_all >/dev/null 2>&1
		cd / && wait_gone_from "$work"
		rm -rf "$work"
	fi
	exit "$rc"
}

# procs_in DIR: the processes working in DIR: all this script started.
procs_in() {
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		[[ ${cwd% (deleted)} != "$1" ]] || echo "${p#/proc/}"
	done
}

none_in() {
	[[ -z $(procs_in "$1") ]]
}

# wait_gone_from DIR: the applets QEMU ran for exec: end on the signal
# timeout(1) passed on; what is still there after 5 s is killed.
wait_gone_from() {
	local left
	wait_until 5 none_in "$1" && return
	left=$(procs_in "$1")
	# shellcheck disable=SC2086
	[[ -z $left ]] || kill -KILL $left 2>/dev/null
}

on_signal() {
	printf '\nmigbox demo: interrupted: stopping the guests, removing %s\n' "$work" >&2
	exit "$1"
}

# qmp_shown NAME JSON: a QMP command, shown, then sent to guest NAME.
qmp_shown() {
	printf '  (QMP %s) %s\n' "$1" "$2"
	qmp "$1" "$2" >/dev/null || die "QMP $1: $2"
}

# counter NAME: the guest's counter at 0x1000 (it adds 1 all the time).
counter() {
	hmp "$1" 'xp /1uw 0x1000' | awk 'NF == 2 { print $2 }'
}

counter_above() {
	local c
	c=$(counter "$1") && [[ -n $c ]] && ((c > $2))
}

# show_qemu NAME: the command line QEMU NAME was started with.
show_qemu() {
	shown "$(sed 's/\\,/,/g; s/ *$//' "qemu.$1/cmdline")"
}

# show_log FILE: an applet's stderr (its --progress lines), indented.
show_log() {
	[[ ! -s $1 ]] || sed 's/^/    /' "$1"
}

ms_between() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) / 1000 }'
}

setup_work() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/migbox-demo.XXXXXX") || die 'mktemp -d failed'
	cd "$work" || die "cannot enter $work"
	# QEMU runs `migbox ...` for exec: URIs by name, as an installed migbox
	if ! { mkdir bin && ln -s "$MIGBOX" bin/migbox; }; then
		die "cannot link $MIGBOX"
	fi
	PATH=$work/bin:$PATH
	export QEMU_RUN_DIR=. QEMU_LIFETIME=600 QEMU_BIN PATH
	# shellcheck source=../tests/lib/qemu.bash
	source "$top/tests/lib/qemu.bash"
	# shellcheck source=../tests/lib/multifd.bash
	source "$top/tests/lib/multifd.bash"	# wait_for
	if ! { as --32 -o guest.o "$here/guest.S" && objcopy -O binary guest.o guest.bin; }; then
		die "cannot assemble $here/guest.S (binutils)"
	fi
	rm -f guest.o
}

intro() {
	say 'migbox demo: a live migration and a lazy restore of a real QEMU guest, on this machine.'
	say "  migbox    $MIGBOX ($("$MIGBOX" --version 2>&1 | head -n 1))"
	say "  QEMU      $("$QEMU_BIN" --version | head -n 1) (TCG: no KVM needed)"
	say "  work dir  $work (removed at the end, also on Ctrl-C)"
	say 'Commands run in the work dir. "(QMP src) {...}" is a command written to that'
	say "QEMU's -qmp socket; by hand: socat - UNIX-CONNECT:qemu.src/qmp.sock, then"
	say '{"execute":"qmp_capabilities"} and the command.'
}

# live_source: the source guest, running, and proof that it runs.
live_source() {
	local c
	say 'The source guest (demo/guest.S, assembled to guest.bin) fills its 64 MiB of RAM,'
	say 'then rewrites 1 MiB of it for ever, adding 1 to a counter at 0x1000 each time:'
	qemu_start src --run --mem 64 -- -bios guest.bin || die 'the source QEMU did not start'
	show_qemu src
	wait_for 20 counter_above src 0 || die 'the source guest does not run'
	c=$(counter src)
	wait_for 20 counter_above src "$c" || die 'the source guest does not run'
	say "  its counter: $c, then $(counter src): it runs."
}

# live_migrate: destination, then the migration through the applets.
live_migrate() {
	local port out
	say 'The destination waits, paused (-S), for an incoming migration (-incoming defer):'
	qemu_start dst --mem 64 --incoming defer -- -bios guest.bin || die 'the destination QEMU did not start'
	show_qemu dst
	say 'It receives with multifd-recv, run by QEMU itself (exec:), which keeps a copy in'
	say 'vm.mig for step 2; port 0 picks a free port, which multifd-recv says on stderr:'
	qmp_shown dst '{"execute":"migrate-incoming","arguments":{"uri":"exec:migbox multifd-recv -c 4 --timeout 30 --progress 127.0.0.1:0 2>recv.log | tee vm.mig"}}'
	wait_for 20 grep -q 'listening on ' recv.log 2>/dev/null || die 'multifd-recv does not listen'
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' recv.log | head -n 1)
	show_log recv.log
	say 'The source sends through stream-dump, which checks and digests what QEMU writes,'
	say 'and multifd-send, which spreads the RAM pages over 4 TCP connections:'
	qmp_shown src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:migbox stream-dump -p --digest 2>source.digest | migbox multifd-send -c 4 --timeout 30 --progress 127.0.0.1:$port 2>send.log\"}}"
	qmp_wait_migration src 60 >/dev/null || die 'the migration failed on the source'
	qmp_wait_migration dst 60 >/dev/null || die 'the migration failed on the destination'
	say '  their --progress lines (QEMU sends at most 128 MiB/s by default: max-bandwidth):'
	show_log send.log
	grep -v 'listening on ' recv.log | sed 's/^/    /'
	out=$(qmp src query-migrate) || die 'query-migrate on the source failed'
	jq -r '"  completed in \(."total-time") ms: \(.ram."dirty-sync-count") passes over the RAM while the guest ran and",
		"  wrote (what it rewrote was sent again), then it was paused for the last \(.downtime) ms"' <<<"$out"
	saved_counter=$(counter src)
	say "  the source is paused now (postmigrate); its counter stopped at $saved_counter."
	qemu_stop src
}

# resave_destination: the destination's own account of its state, then
# the guest carries on there.
resave_destination() {
	say 'The destination, still paused, saves its state again, for the comparison in step 3:'
	qmp_shown dst '{"execute":"migrate","arguments":{"uri":"exec:cat > destination.mig"}}'
	qmp_wait_migration dst 60 >/dev/null || die 'saving the destination failed'
	shown 'migbox stream-dump --digest destination.mig > destination.digest'
	"$MIGBOX" stream-dump --digest destination.mig >destination.digest || die 'stream-dump of the destination failed'
	say 'and runs the guest on:'
	qmp_shown dst '{"execute":"cont"}'
	wait_for 20 counter_above dst "$saved_counter" || die 'the guest does not run on the destination'
	say "  counter $saved_counter at the switch-over, $(counter dst) now: the guest carries on here."
	qemu_stop dst
}

# postcopy_usable: can QEMU be a postcopy destination as this user?
postcopy_usable() {
	shown 'migbox postcopy-serve --probe'
	if "$MIGBOX" postcopy-serve --probe >probe.txt 2>&1; then
		say '  this host can be a postcopy destination (userfaultfd works for this user)'
		return 0
	fi
	sed -n 's/^\(FAIL\|no  \) */    /p' probe.txt
	say '  userfaultfd is not open to this user, so QEMU cannot be a postcopy destination.'
	say '  As root: sysctl vm.unprivileged_userfaultfd=1 (or run the demo as root).'
	say '  Step 2 left out.'
	return 1
}

# during_serve: while postcopy-serve holds its background pages back, the
# guest runs on what it asked for: prints its counter then.
during_serve() {
	local c
	kill -0 "$serve_pid" 2>/dev/null || return 1
	[[ $(qmp lazy query-status | jq -r .status) == running &&
		$(qmp lazy query-migrate | jq -r .status) == postcopy-active ]] || return 1
	c=$(counter lazy) && [[ -n $c ]] && ((c > saved_counter)) && echo "$c"
}

# seen_or_ended: $seen is set by during_serve, or postcopy-serve ended.
seen_or_ended() {
	seen=$(during_serve) && return 0
	seen=''
	! kill -0 "$serve_pid" 2>/dev/null
}

lazy_restore() {
	local port rc=0 seen='' c
	say 'The destination runs from the start (no -S), listens with postcopy-ram on:'
	qemu_start lazy --run --mem 64 --incoming defer -- -bios guest.bin || die 'the postcopy destination did not start'
	show_qemu lazy
	qmp_shown lazy '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"postcopy-ram","state":true}]}}'
	qmp_shown lazy '{"execute":"migrate-incoming","arguments":{"uri":"tcp:127.0.0.1:0"}}'
	port=$(qmp lazy query-migrate | jq -r '."socket-address"[0].port') || die 'no port from query-migrate'
	say "  (query-migrate says it listens on port $port)"
	say "postcopy-serve indexes vm.mig, starts the guest, sends the pages it asks for at"
	say "once and the rest in the background; --push-delay $PUSH_DELAY_MS holds the background back"
	say 'for a second, to show the guest running meanwhile (leave it out in real use):'
	shown "migbox postcopy-serve --progress --push-delay $PUSH_DELAY_MS --stats-json serve.json 127.0.0.1:$port < vm.mig"
	"$MIGBOX" postcopy-serve --progress --push-delay "$PUSH_DELAY_MS" --stats-json serve.json \
		"127.0.0.1:$port" <vm.mig &
	serve_pid=$!
	wait_until 20 seen_or_ended || :
	# shellcheck disable=SC2016
	wait_for 60 eval '! kill -0 "$serve_pid" 2>/dev/null' || die 'postcopy-serve did not end'
	wait "$serve_pid" || rc=$?
	serve_pid=''
	((rc == 0)) || die "postcopy-serve failed (exit $rc)"
	qmp_wait_migration lazy 60 >/dev/null || die 'the postcopy migration did not complete'
	[[ -n $seen ]] || die 'the guest was not seen running before its RAM had arrived'
	say "  while pages were still missing, QEMU said: running, migration postcopy-active,"
	say "  and the counter had gone from $saved_counter to $seen."
	jq -r '"  to running: \(.running_ms | floor) ms, to completed: \(.completed_ms | floor) ms (\(.push_delay_ms) of them the push delay);",
		"  \(.pages_requested) pages sent on request, \(.pages_pushed) pushed in the background"' serve.json
	c=$(counter lazy)
	wait_for 20 counter_above lazy "$c" || die 'the restored guest does not run'
	say "  restore completed; the guest runs on (counter $(counter lazy))."
	qemu_stop lazy
}

# device_sections FILE: "IDSTR/INSTANCE OFFSET BYTES" per device section.
device_sections() {
	"$MIGBOX" stream-dump --json "$1" |
		jq -r '.sections[] | select(.kind == "device") | "\(.idstr)/\(.instance) \(.offset) \(.bytes)"'
}

section_bytes() {
	tail -c +$(($2 + 1)) "$1" | head -c "$3"
}

# differing_devices A B: the device sections whose bytes differ between
# streams A and B (or that only one has), one per line.
differing_devices() {
	local name off len off2 len2
	device_sections "$1" >a.sections && device_sections "$2" >b.sections || return 1
	while read -r name off len; do
		read -r _ off2 len2 < <(awk -v n="$name" '$1 == n' b.sections)
		if [[ -z ${off2:-} ]] ||
			! cmp -s <(section_bytes "$1" "$off" "$len") <(section_bytes "$2" "$off2" "$len2"); then
			echo "$name"
		fi
		off2=''
	done <a.sections
	awk 'NR == FNR { a[$1]; next } !($1 in a) { print $1 }' a.sections b.sections
}

human() {
	awk -v b="$1" 'BEGIN { u = "B"; split("KiB MiB GiB", us, " ")
		for (i = 1; b >= 1024 && i <= 3; i++) { b /= 1024; u = us[i] }
		printf "%g %s", b, u }'
}

# ram_table: the RAM digests of both sides, side by side; fails on a
# difference or a block one side lacks.
ram_table() {
	local name digest len other ok=0
	printf '  %-22s %8s  %-32s  %s\n' 'RAM block' size 'source, as sent' 'destination, saved again'
	while read -r _ digest len name; do
		other=$(awk -v n="$name" '$1 == "ram" && $4 == n { print $2 }' destination.digest)
		printf '  %-22s %8s  %-32s  %-32s  %s\n' "$name" "$(human "$len")" "$digest" "${other:-(none)}" \
			"$([[ $other == "$digest" ]] && echo identical || echo DIFFERENT)"
		[[ $other == "$digest" ]] || ok=1
	done < <(grep '^ram ' source.digest)
	[[ $(grep -c '^ram ' source.digest) == $(grep -c '^ram ' destination.digest) ]] || ok=1
	return $ok
}

# compare_digests: step 3; fails unless the destination holds what the
# source sent.
compare_digests() {
	local ok=0 src_state dst_state diffs n name
	say 'source.digest was written by stream-dump in the source QEMU'"'"'s exec: pipeline, from'
	say 'the bytes QEMU sent; destination.digest from the destination QEMU saving itself again.'
	say 'A RAM digest covers the final content of every page of a block, however it was sent:'
	grep -q '^ram .* pc\.ram$' source.digest || die 'source.digest has no pc.ram digest'
	ram_table || ok=1
	shown 'migbox stream-dump --digest vm.mig > received.digest'
	"$MIGBOX" stream-dump --digest vm.mig >received.digest || die 'stream-dump of vm.mig failed'
	src_state=$(awk '$1 == "state" { print $2 }' source.digest)
	dst_state=$(awk '$1 == "state" { print $2 }' destination.digest)
	if cmp -s source.digest received.digest; then
		say "  vm.mig, as multifd-recv wrote it, has the source's digests, device state $src_state included."
	else
		say "  vm.mig, as multifd-recv wrote it, does NOT have the source's digests:"
		diff source.digest received.digest | sed 's/^/    /'
		ok=1
	fi
	diffs=$(differing_devices vm.mig destination.mig) || die 'cannot list the device sections'
	n=$(wc -l <a.sections)
	say "  The destination's device state digest is $dst_state: of its $n device"
	say "  sections, $(grep -c . <<<"$diffs") differ from what it received, as they must:"
	while read -r name; do
		case $name in
		globalstate/0) say '    globalstate    the run state when saved: running at the switch-over, paused now' ;;
		mc146818rtc/0) say '    mc146818rtc    the RTC counts host time, which went on meanwhile' ;;
		'') ;;
		*) say "    $name    DIFFERENT: unexpected"; ok=1 ;;
		esac
	done <<<"$diffs"
	say "  the other $((n - $(grep -c . <<<"$diffs"))) are byte for byte the same."
	echo
	if ((ok == 0)); then
		say 'Result: identical. The destination holds, page for page, the RAM the source sent.'
	else
		say 'Result: DIFFERENT. The destination does not hold what the source sent (above).'
	fi
	return $ok
}

main() {
	local rc=0
	need_tools
	trap cleanup EXIT
	trap 'on_signal 130' INT
	trap 'on_signal 143' TERM
	trap 'on_signal 129' HUP
	setup_work
	intro
	step '1/3  Live migration: QEMU -> multifd-send -c 4 -> loopback TCP -> multifd-recv -> QEMU'
	live_source
	live_migrate
	resave_destination
	step '2/3  Lazy restore: postcopy-serve serves vm.mig; the guest runs before its RAM is in'
	if postcopy_usable; then
		lazy_restore
	fi
	step '3/3  The digests, side by side'
	compare_digests || rc=1
	say "(demo done in $(awk -v us=$((${EPOCHREALTIME/[.,]/} - start_us)) 'BEGIN { printf "%.1f", us / 1e6 }') s; $work removed)"
	return $rc
}

main "$@"
