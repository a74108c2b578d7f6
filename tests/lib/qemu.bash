# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/qemu.bash - drive real QEMU (qemu-system-x86_64, TCG) in tests.
#
# Load from bats with `load lib/qemu`, or `source` it from plain bash.
# Paused guests with a QMP socket, migration to and from files, RAM
# inspection, and a maker of deterministic RAM images. Every QEMU started here
# is recorded; call qemu_stop_all from teardown (or an EXIT trap) so none
# outlives its test, also when the test fails.
#
# State: one directory per guest NAME, $QEMU_RUN_DIR/qemu.NAME, where
# QEMU_RUN_DIR defaults to $BATS_TEST_TMPDIR. It holds `log` (QEMU's
# stdout+stderr), `qemu.pid`, `sock` (path of the QMP socket) and, once QEMU
# has ended, `exit` (its exit status). Functions keep no shell variables, so
# they also work under bats' `run`.
#
# Every wait has a timeout, and failures print "qemu.bash: NAME: what" plus
# the tail of QEMU's log to stderr and return 1.
#
# Needs: qemu-system-x86 (7.2 is what the notes describe), socat, jq,
# coreutils, awk.
#
# shellcheck source=wait.bash
source "${BASH_SOURCE[0]%/*}/wait.bash"

# Tunables (environment):
QEMU_BIN=${QEMU_BIN:-qemu-system-x86_64}
QEMU_START_TIMEOUT=${QEMU_START_TIMEOUT:-20}	# s until QMP answers
QEMU_QMP_TIMEOUT=${QEMU_QMP_TIMEOUT:-20}	# s for one QMP command
QEMU_MIGRATE_TIMEOUT=${QEMU_MIGRATE_TIMEOUT:-120}	# s for one migration
QEMU_LIFETIME=${QEMU_LIFETIME:-1800}	# s hard cap, in case teardown never runs

# _qemu_fail NAME MSG...: print the failure, with QEMU's log tail, return 1.
_qemu_fail() {
	local name=$1 dir
	shift
	printf 'qemu.bash: %s: %s\n' "$name" "$*" >&2
	dir=$(_qemu_dir "$name" 2>/dev/null) || return 1
	if [[ -s $dir/log ]]; then
		printf 'qemu.bash: %s: last lines of %s:\n' "$name" "$dir/log" >&2
		tail -n 5 "$dir/log" | sed 's/^/    /' >&2
	fi
	return 1
}

# _qemu_run_dir: the directory that holds every guest's state directory.
_qemu_run_dir() {
	local d=${QEMU_RUN_DIR:-${BATS_TEST_TMPDIR:-}}
	if [[ -z $d ]]; then
		echo 'qemu.bash: set QEMU_RUN_DIR (or run under bats)' >&2
		return 1
	fi
	printf '%s\n' "$d"
}

# _qemu_dir NAME: the state directory of guest NAME.
_qemu_dir() {
	local rd
	rd=$(_qemu_run_dir) || return 1
	printf '%s/qemu.%s\n' "$rd" "$1"
}

# _qemu_optval STR: STR escaped for a QEMU -option value (',' doubles).
_qemu_optval() {
	printf '%s\n' "${1//,/,,}"
}

# _qemu_size SIZE: QEMU size with a unit; a bare number means MiB, as -m does.
_qemu_size() {
	if [[ $1 =~ ^[0-9]+$ ]]; then
		printf '%sM\n' "$1"
	else
		printf '%s\n' "$1"
	fi
}

# qemu_version: MAJOR.MINOR of $QEMU_BIN (7.2, 10.0); the tests run as a
#   matrix over QEMU 7.2 and 10.0 (QEMU_BIN), and a few expectations differ.
qemu_version() {
	"$QEMU_BIN" --version | sed -n '1s/^QEMU emulator version \([0-9]*\.[0-9]*\).*/\1/p'
}

# qemu_multifd_sync_mode: how a multifd destination of $QEMU_BIN's default
#   machine type (-M pc) syncs: section (7.2, machine types up to 8.0) or
#   round (multifd-flush-after-each-section off, 8.1 and later).
qemu_multifd_sync_mode() {
	local v
	v=$(qemu_version) || return 1
	[[ -n $v ]] || { echo "qemu.bash: cannot read the version of $QEMU_BIN" >&2; return 1; }
	if ((${v%%.*} < 8)) || [[ $v == 8.0 ]]; then echo section; else echo round; fi
}

# qemu_exec_uri CMD PATH: an exec: migration URI running CMD on PATH, quoted
#   for /bin/sh: qemu_start dst --incoming "$(qemu_exec_uri cat "$F")"
qemu_exec_uri() {
	printf 'exec:%s %q\n' "$1" "$2"
}

# qemu_start NAME [--mem SIZE] [--mem-path FILE] [--share on|off]
#            [--incoming defer|URI] [--uuid UUID] [--run] [--] [QEMU ARGS...]
#   Start a paused guest (--run: without -S, as a postcopy destination that
#   must run once the migration lets it): -accel tcg -M pc -m SIZE (default 64M) -nodefaults
#   -S -display none, QMP on a unix socket. --mem-path backs RAM with
#   memory-backend-file id `m` (its RAM block is then named `m`; share
#   defaults to off, so a source never writes into its image; a missing file
#   is created by QEMU). Other arguments go to QEMU as they are. Returns once
#   QMP answers, or fails if QEMU exits or does not answer in time.
#   With --incoming "exec:..." the load starts before QMP is up: a bad
#   stream can make this fail (QEMU exited), a good one may already be
#   complete; follow with qmp_wait_migration. --incoming defer and
#   qemu_load_stream keep the two steps apart.
qemu_start() {
	local name=$1 dir rd sock mem=64M mempath='' share=off incoming='' uuid='' pause=-S
	local -a args extra=()
	[[ -n $name ]] || { echo 'qemu.bash: qemu_start NAME ...' >&2; return 1; }
	shift
	while (($#)); do
		case $1 in
		--mem) mem=$(_qemu_size "$2"); shift 2 ;;
		--mem-path) mempath=$2; shift 2 ;;
		--share) share=$2; shift 2 ;;
		--incoming) incoming=$2; shift 2 ;;
		--uuid) uuid=$2; shift 2 ;;
		--run) pause=''; shift ;;
		--) shift; extra+=("$@"); break ;;
		*) extra+=("$1"); shift ;;
		esac
	done
	rd=$(_qemu_run_dir) || return 1
	dir=$rd/qemu.$name
	if [[ -d $dir && -n $(_qemu_alive_pids "$dir") ]]; then
		_qemu_fail "$name" 'already running'
		return 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir" || return 1

	# sun_path holds 108 bytes; deep temp dirs get a short socket dir.
	sock=$dir/qmp.sock
	if ((${#sock} > 100)); then
		sock=$(mktemp -d /tmp/qmp.XXXXXX)/qmp.sock || return 1
	fi
	printf '%s\n' "$sock" >"$dir/sock"

	args=(-accel tcg -M pc -m "$mem" -nodefaults ${pause:+"$pause"} -display none
		-qmp "unix:$(_qemu_optval "$sock"),server=on,wait=off"
		-pidfile "$dir/qemu.pid")
	if [[ -n $mempath ]]; then
		args+=(-object "memory-backend-file,id=m,size=$mem,mem-path=$(_qemu_optval "$mempath"),share=$share"
			-machine memory-backend=m)
	fi
	[[ -z $uuid ]] || args+=(-uuid "$uuid")
	[[ -z $incoming ]] || args+=(-incoming "$incoming")
	args+=("${extra[@]}")
	printf '%q ' "$QEMU_BIN" "${args[@]}" >"$dir/cmdline"
	echo >>"$dir/cmdline"
	echo "$dir" >>"$rd/.qemu-started"

	# The wrapper records QEMU's exit status; it drops bats' ERR trap and
	# fd 3 (bats waits on fd 3) and holds no stdout a `run` could wait on.
	# timeout(1) puts QEMU in its own process group and caps its life.
	(
		trap - ERR
		set +eE
		timeout -k 5 "$QEMU_LIFETIME" "$QEMU_BIN" "${args[@]}" &
		echo $! >"$dir/timeout.pid"
		wait $!
		echo $? >"$dir/exit.tmp"
		mv "$dir/exit.tmp" "$dir/exit"
	) </dev/null >>"$dir/log" 2>&1 3>&- &

	if ! wait_until "$QEMU_START_TIMEOUT" _qemu_up_or_gone "$sock" "$dir"; then
		_qemu_fail "$name" "QMP socket not up after ${QEMU_START_TIMEOUT}s"
		return 1
	fi
	if [[ -f $dir/exit ]]; then
		_qemu_fail "$name" "QEMU exited with status $(<"$dir/exit") at start"
		return 1
	fi
	qmp "$name" query-status >/dev/null
}

# _qemu_up_or_gone SOCK DIR: QMP is up, or QEMU has ended.
_qemu_up_or_gone() {
	[[ (-S $1 && -s $2/qemu.pid) || -f $2/exit ]]
}

# _qemu_alive_pids DIR: the pids of the guest's QEMU and its timeout(1) that
#   are still running. Checks /proc rather than trusting `exit`, whose writer
#   bats kills along with the test when BATS_TEST_TIMEOUT strikes.
_qemu_alive_pids() {
	local pid cmd
	# shellcheck disable=SC2013
	for pid in $(cat "$1/qemu.pid" "$1/timeout.pid" 2>/dev/null); do
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
		[[ $cmd == *"${QEMU_BIN##*/}"* ]] && echo "$pid"
	done
	return 0
}

# qemu_running NAME: succeed while QEMU NAME is alive.
qemu_running() {
	local dir
	dir=$(_qemu_dir "$1") || return 1
	[[ ! -f $dir/exit && -n $(_qemu_alive_pids "$dir") ]]
}

# qemu_wait_exit NAME [TIMEOUT]: wait for QEMU NAME to end; print its exit
#   status (from timeout(1): 124 means QEMU_LIFETIME ran out).
qemu_wait_exit() {
	local name=$1 timeout=${2:-$QEMU_MIGRATE_TIMEOUT} dir
	dir=$(_qemu_dir "$name") || return 1
	if ! wait_until "$timeout" test -f "$dir/exit"; then
		_qemu_fail "$name" "still running after ${timeout}s"
		return 1
	fi
	cat "$dir/exit"
}

# qemu_log NAME: print QEMU's stdout and stderr so far.
qemu_log() {
	local dir
	dir=$(_qemu_dir "$1") || return 1
	cat "$dir/log" 2>/dev/null
}

# qemu_stop NAME: kill QEMU NAME (TERM, then KILL after 5 s) and clean up.
qemu_stop() {
	local name=$1 dir pids sock i sig
	dir=$(_qemu_dir "$name") || return 1
	[[ -d $dir ]] || return 0
	for sig in TERM KILL; do
		pids=$(_qemu_alive_pids "$dir")
		[[ -n $pids ]] || break
		# shellcheck disable=SC2086
		kill -"$sig" $pids 2>/dev/null || :
		# shellcheck disable=SC2086
		kill -CONT $pids 2>/dev/null || :	# a stopped QEMU ignores TERM
		for ((i = 0; i < 100; i++)); do
			[[ -n $(_qemu_alive_pids "$dir") ]] || break
			sleep 0.05
		done
	done
	sock=$(cat "$dir/sock" 2>/dev/null)
	if [[ $sock == /tmp/qmp.*/qmp.sock ]]; then
		rm -rf "${sock%/qmp.sock}"
	fi
	[[ -z $(_qemu_alive_pids "$dir") ]] || { _qemu_fail "$name" 'would not die'; return 1; }
}

# qemu_stop_all: kill every QEMU started in this run dir; for teardown.
qemu_stop_all() {
	local rd d rc=0
	rd=$(_qemu_run_dir) || return 1
	[[ -f $rd/.qemu-started ]] || return 0
	while read -r d; do
		qemu_stop "${d##*/qemu.}" || rc=1
	done < <(sort -u "$rd/.qemu-started")
	rm -f "$rd/.qemu-started"
	return $rc
}

# qmp NAME '{"execute":CMD,...}'  or  qmp NAME CMD ['{ARGS}']
#   Connect to NAME's QMP socket, negotiate capabilities, send one command
#   and print its `return` as compact JSON. An error reply prints its class
#   and desc to stderr and returns 1.
qmp() {
	local name=$1 cmd=$2 dir sock line reply='' exe rc=0 deadline
	dir=$(_qemu_dir "$name") || return 1
	if [[ $cmd == '{'* ]]; then
		cmd=$(jq -c '. + {id: "qemu.bash"}' <<<"$cmd" 2>/dev/null) ||
			{ _qemu_fail "$name" "qmp: not JSON: $2"; return 1; }
	else
		cmd=$(jq -cn --arg e "$cmd" --argjson a "${3:-null}" \
			'{execute: $e} + if $a == null then {} else {arguments: $a} end + {id: "qemu.bash"}' 2>/dev/null) ||
			{ _qemu_fail "$name" "qmp $2: arguments not JSON: ${3:-}"; return 1; }
	fi
	[[ $cmd =~ \"execute\":\"([^\"]*)\" ]] && exe=${BASH_REMATCH[1]} || exe=$2
	sock=$(cat "$dir/sock" 2>/dev/null) ||
		{ _qemu_fail "$name" 'no such guest'; return 1; }

	coproc _QMP_CO { exec socat - "UNIX-CONNECT:$sock" 2>&1; }
	local rfd=${_QMP_CO[0]} wfd=${_QMP_CO[1]} cpid=$_QMP_CO_PID
	printf '%s\n%s\n' '{"execute":"qmp_capabilities","id":"caps"}' "$cmd" >&"$wfd"
	deadline=$((SECONDS + QEMU_QMP_TIMEOUT))
	# Skip the greeting, the capabilities reply and events: wait for our
	# id. QEMU prints `"id": "..."` last in a reply.
	while ((SECONDS < deadline)) && read -r -t "$((deadline - SECONDS + 1))" line <&"$rfd"; do
		line=${line%$'\r'}
		case $line in
		*'"id": "qemu.bash"}') reply=$line; break ;;
		'{"return": {}, "id": "caps"}' | '{"QMP": '* | '{"timestamp": '*) ;;
		*) reply=$line; break ;;
		esac
	done
	exec {wfd}>&- {rfd}<&-
	kill "$cpid" 2>/dev/null || :
	wait "$cpid" 2>/dev/null || :

	if [[ -z $reply ]]; then
		if [[ -f $dir/exit ]]; then
			_qemu_fail "$name" "qmp $exe: no reply, QEMU has exited with status $(<"$dir/exit")"
		else
			_qemu_fail "$name" "qmp $exe: no reply in ${QEMU_QMP_TIMEOUT}s"
		fi
		return 1
	fi
	reply=$(jq -r 'if has("return") then "R\(.return | tojson)"
		elif has("error") then "E\(.error.class): \(.error.desc)"
		else "E unexpected reply: \(tojson)" end' <<<"$reply" 2>/dev/null) ||
		reply="E unexpected reply: $reply"
	if [[ $reply == R* ]]; then
		printf '%s\n' "${reply#R}"
	else
		_qemu_fail "$name" "qmp $exe: ${reply#E}"
		rc=1
	fi
	return $rc
}

# hmp NAME 'COMMAND LINE': run a human-monitor command, print its text.
hmp() {
	local out
	out=$(qmp "$1" human-monitor-command "$(jq -cn --arg c "$2" '{"command-line": $c}')") || return 1
	jq -r . <<<"$out" | tr -d '\r'
}

# _qemu_kv_json K=V: V as JSON: integers and true/false as such, else string.
_qemu_kv_json() {
	local v=${1#*=}
	if [[ $v =~ ^-?[0-9]+$ || $v == true || $v == false ]]; then
		printf '%s\n' "$v"
	else
		jq -cn --arg v "$v" '$v'
	fi
}

# qmp_migrate_set_caps NAME CAP=on|off...: migrate-set-capabilities,
#   e.g. qmp_migrate_set_caps src multifd=on validate-uuid=on
qmp_migrate_set_caps() {
	local name=$1 kv caps='[]' state
	shift
	for kv; do
		case ${kv#*=} in
		on | true) state=true ;;
		off | false) state=false ;;
		*) _qemu_fail "$name" "capability $kv: want on or off"; return 1 ;;
		esac
		caps=$(jq -c --arg c "${kv%%=*}" --argjson s $state \
			'. + [{capability: $c, state: $s}]' <<<"$caps")
	done
	qmp "$name" migrate-set-capabilities "{\"capabilities\":$caps}" >/dev/null
}

# qmp_migrate_set_params NAME K=V...: migrate-set-parameters, e.g.
#   qmp_migrate_set_params src multifd-channels=4 multifd-compression=zstd \
#                              max-bandwidth=1000000000
qmp_migrate_set_params() {
	local name=$1 kv params='{}'
	shift
	for kv; do
		params=$(jq -c --arg k "${kv%%=*}" --argjson v "$(_qemu_kv_json "$kv")" \
			'. + {($k): $v}' <<<"$params") || return 1
	done
	qmp "$name" migrate-set-parameters "$params" >/dev/null
}

# qmp_wait_migration NAME [TIMEOUT]: poll query-migrate until `completed`
#   and print the migration time in ms (QEMU's total-time on a source; the
#   time waited here on a destination, which reports none). Fails on
#   failed/cancelled (printing error-desc), on QEMU exiting (as a 7.2
#   destination does on a bad stream), or after TIMEOUT s.
qmp_wait_migration() {
	local name=$1 timeout=${2:-$QEMU_MIGRATE_TIMEOUT} dir out status
	local start=${EPOCHREALTIME/[.,]/} deadline
	dir=$(_qemu_dir "$name") || return 1
	deadline=$((SECONDS + timeout))
	while :; do
		if ! out=$(qmp "$name" query-migrate 2>/dev/null); then
			wait_until 2 test -f "$dir/exit" || :
			if [[ -f $dir/exit ]]; then
				_qemu_fail "$name" "migration failed: QEMU exited with status $(<"$dir/exit")"
			else
				qmp "$name" query-migrate >/dev/null || :
				_qemu_fail "$name" 'migration: query-migrate failed'
			fi
			return 1
		fi
		status=$(jq -r '.status // "none"' <<<"$out")
		case $status in
		completed)
			jq -r --arg t "$(((${EPOCHREALTIME/[.,]/} - start) / 1000))" \
				'."total-time" // ($t | tonumber)' <<<"$out"
			return 0
			;;
		failed | cancelled)
			_qemu_fail "$name" "migration $status: $(jq -r '."error-desc" // "(no error-desc)"' <<<"$out")"
			return 1
			;;
		esac
		if ((SECONDS >= deadline)); then
			_qemu_fail "$name" "migration not completed after ${timeout}s: status $status $(jq -c '.ram // {}' <<<"$out")"
			return 1
		fi
		sleep 0.1
	done
}

# qemu_save_stream NAME FILE [TIMEOUT]: migrate "exec:cat > FILE" and wait
#   for completion; prints the migration time in ms.
qemu_save_stream() {
	local uri
	uri=$(qemu_exec_uri 'cat >' "$2")
	qmp "$1" migrate "$(jq -cn --arg u "$uri" '{uri: $u}')" >/dev/null || return 1
	qmp_wait_migration "$1" "${3:-}"
}

# qemu_load_stream NAME FILE [TIMEOUT]: on a guest started with
#   --incoming defer, migrate-incoming "exec:cat FILE" and wait; prints ms.
qemu_load_stream() {
	local uri
	uri=$(qemu_exec_uri cat "$2")
	qmp "$1" migrate-incoming "$(jq -cn --arg u "$uri" '{uri: $u}')" >/dev/null || return 1
	qmp_wait_migration "$1" "${3:-}"
}

# qemu_ram_blocks NAME [--dec]: the RAM blocks as `info ramblock` reports
#   them, one "NAME 0xUSEDLENGTH" line each (decimal with --dec), in QEMU's
#   list order, which is the order a migration stream announces them in:
#   by max length, largest first (so with -m 1 /rom@etc/acpi/tables, 2 MiB
#   max, comes before pc.ram).
qemu_ram_blocks() {
	local name=$1 fmt='%s 0x%x\n' b len
	[[ ${2:-} == --dec ]] && fmt='%s %d\n'
	hmp "$name" 'info ramblock' >"$(_qemu_dir "$name")/ramblock" || return 1
	# Columns: name, page size (2 words), offset, used, total (10.0 adds
	# HVA and RO).
	while read -r b len; do
		# shellcheck disable=SC2059
		printf "$fmt" "$b" "$((len))"
	done < <(awk 'NR > 1 && NF >= 6 { print $1, $5 }' "$(_qemu_dir "$name")/ramblock")
}

# qemu_pmemsave NAME ADDR SIZE FILE: dump guest-physical memory (ADDR and
#   SIZE decimal or 0x-hex) to FILE.
qemu_pmemsave() {
	qmp "$1" pmemsave "$(jq -cn --argjson a "$(($2))" --argjson s "$(($3))" \
		--arg f "$4" '{val: $a, size: $s, filename: $f}')" >/dev/null
}

# make_pattern FILE SIZE_MB SEED [ZERO_PERCENT]: write a deterministic RAM
#   image: about ZERO_PERCENT (default 30) of its 4 KiB pages all zero, every
#   other page distinct (it starts with "migbox pattern seed S page N\n",
#   then pseudo-random bytes, none zero). Same arguments, same bytes.
#   Uses awk (a Park-Miller generator, exact in doubles) and tr; 64 MiB
#   takes about 0.1 s.
make_pattern() {
	local file=$1 size_mb=$2 seed=$3 zpct=${4:-30}
	if ! [[ $size_mb =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ && $zpct =~ ^[0-9]+$ ]]; then
		echo 'qemu.bash: make_pattern FILE SIZE_MB SEED [ZERO_PERCENT], numbers only' >&2
		return 1
	fi
	# Zero pages are emitted as \001 and turned to \0 by tr: awk
	# implementations differ on printing NUL, and no other page holds \001.
	LC_ALL=C awk -v pages=$((size_mb * 256)) -v seed="$seed" -v zpct="$zpct" 'BEGIN {
		x = seed % 2147483646 + 1
		for (c = 0; c < 8; c++) {
			chunk = ""
			for (i = 0; i < 1024; i++) {
				x = (x * 16807) % 2147483647
				chunk = chunk sprintf("%c", 2 + x % 254)
			}
			pool = pool chunk
		}
		z = "\001"
		while (length(z) < 4096)
			z = z z
		for (p = 0; p < pages; p++) {
			x = (x * 16807) % 2147483647
			if (x % 100 < zpct) {
				printf "%s", z
				continue
			}
			hdr = sprintf("migbox pattern seed %d page %d\n", seed, p)
			x = (x * 16807) % 2147483647
			printf "%s%s", hdr, substr(pool, x % 4096 + 1, 4096 - length(hdr))
		}
	}' | tr '\001' '\000' >"$file"
	local st=("${PIPESTATUS[@]}")
	[[ ${st[0]} == 0 && ${st[1]} == 0 ]] || { echo "qemu.bash: make_pattern $file failed" >&2; return 1; }
	[[ $(stat -c %s "$file") == $((size_mb << 20)) ]] ||
		{ echo "qemu.bash: make_pattern $file: wrong size" >&2; return 1; }
}
