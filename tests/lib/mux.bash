# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/mux.bash - pvrdma-mux on the host, no RDMA: the mux on a test
# fabric (--test-port) and QEMU-side clients, both tests/lib/muxpeer.pl
# driven through FIFOs: `load lib/mux` after `load helpers` (its
# wait_for). setup calls mux_setup, teardown
# mux_teardown.
#
#   mux_start [OPTIONS]     the fabric, then pvrdma-mux on it, ready; its
#                           pid in $MUX_PID, log in $T/mux.log, socket
#                           $SOCK, --stats-json $T/stats.json
#   client NAME             a QEMU-side client, connected
#   to NAME COMMAND...      one command to peer NAME (see muxpeer.pl)
#   expect NAME N LINE      the log of NAME has LINE as its Nth line
#   wait_log FILE REGEX [SECONDS]
#   usr1_stats              $T/stats.json as SIGUSR1 writes it now
#   stat_of JQ-FILTER       a figure of $T/stats.json

mux_setup() {
	T=$BATS_TEST_TMPDIR
	MUX_PID=
	PEER_PIDS=()
	declare -gA PEER_FD=()
	SOCK=$T/m-rxe0-1
}

mux_teardown() {
	local p
	[[ -z $MUX_PID ]] || kill -KILL "$MUX_PID" 2>/dev/null || :
	for p in "${PEER_PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
	if [[ -z ${BATS_TEST_COMPLETED:-} && -f $T/mux.log ]]; then
		sed 's/^/mux: /' "$T/mux.log" >&2
	fi
}

PEER=$BATS_TEST_DIRNAME/lib/muxpeer.pl

# wait_log FILE REGEX [SECONDS]: until a line of FILE matches.
wait_log() {
	wait_for "${3:-10}" grep -Eq -- "$2" "$1" 2>/dev/null || { cat "$1" >&2; return 1; }
}

# peer_start NAME client|fabric PATH: a peer reading commands from a FIFO,
# its log in $T/NAME.log.
peer_start() {
	local name=$1 fd
	mkfifo "$T/$name.in"
	perl "$PEER" "$2" "$3" <"$T/$name.in" >"$T/$name.log" 2>&1 3>&- &
	PEER_PIDS+=($!)
	exec {fd}>"$T/$name.in"
	PEER_FD[$name]=$fd
}

# to NAME COMMAND...: one command line to peer NAME.
to() {
	local name=$1
	shift
	echo "$*" >&"${PEER_FD[$name]}"
}

# mux_start [OPTIONS]: the fabric, then pvrdma-mux on it, ready.
mux_start() {
	peer_start fabric fabric "$T/fab.sock"
	wait_log "$T/fabric.log" LISTENING
	"$MIGBOX" pvrdma-mux -d rxe0 -s "$T/m" --test-port "$T/fab.sock" --trace -v \
		--stats-json "$T/stats.json" "$@" 2>"$T/mux.log" 3>&- &
	MUX_PID=$!
	wait_log "$T/fabric.log" CONNECTED
	wait_log "$T/mux.log" 'serving rxe0:1'
	[[ -S $SOCK ]]
}

# client NAME: a QEMU-side client, connected.
client() {
	peer_start "$1" client "$SOCK"
	wait_log "$T/mux.log" "client [0-9]+ \\(pid [0-9]+\\) connected"
}

# two_clients GID_A GID_B: clients a and b, each with its GID registered
# (the first line of each one's log is its REG's answer).
two_clients() {
	client a
	client b
	to a reg "$1"
	expect a 1 'RESP REG 0'
	to b reg "$2"
	expect b 1 'RESP REG 0'
}

has_lines() {
	[[ -f $1 ]] && (($(wc -l <"$1") >= $2))
}

# expect NAME N LINE: the log of NAME has LINE as its Nth line.
expect() {
	wait_for 10 has_lines "$T/$1.log" "$2" || { cat "$T/$1.log" >&2; return 1; }
	if [[ $(sed -n "$2p" "$T/$1.log") != "$3" ]]; then
		echo "line $2 of $1: '$(sed -n "$2p" "$T/$1.log")', expected '$3'; all:" >&2
		cat "$T/$1.log" >&2
		return 1
	fi
}

stat_of() {
	jq -r "$1" "$T/stats.json"
}

# usr1_stats: the figures now (SIGUSR1 writes them).
usr1_stats() {
	rm -f "$T/stats.json"
	kill -USR1 "$MUX_PID"
	wait_log "$T/mux.log" . 1
	wait_for 10 test -s "$T/stats.json"
}
