# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/multifd.bash - running multifd-send and multifd-recv in tests:
# `load lib/multifd` after `load helpers`. Every wait has a deadline and
# waits for a condition, not for time.
#
#   multifd_setup, multifd_teardown  a test's $T, and its background
#                           processes killed at the end
#   recv_bg ARGS...         multifd-recv in the background (stderr in
#                           $T/recv.err, pid in $RECV_PID)
#   recv_port               the port it listens on, once it says so
#   recv_wait               waits for it (60 s at most): $RECV_STATUS
#   send_fg INPUT ARGS...   multifd-send in the foreground: $SEND_STATUS
#   send_bg INPUT ARGS..., send_wait
#                           the same in the background ($SEND_PID)
#   transfer INPUT "SEND OPTS" "RECV OPTS" [LISTEN [CONNECT-HOST]]
#                           one transfer into $T/out; both must succeed
#   transfer_fails INPUT "SEND OPTS" "RECV OPTS"
#                           one transfer into $T/out on 127.0.0.1 that may
#                           fail: $SEND_STATUS and $RECV_STATUS
#   same_digests A B        the two streams restore the same state
#   no_complete_output FILE FILE, and no temporary beside it
#   slow_input FILE BYTES   the first BYTES of FILE, then the rest once
#                           $T/go exists

# shellcheck source=wait.bash
source "${BASH_SOURCE[0]%/*}/wait.bash"

# gen ARGS...: stream-gen; MIGBOX_GEN may name another build to make the
# inputs with (the inputs are not what is under test here).
gen() {
	"${MIGBOX_GEN:-$MIGBOX}" stream-gen "$@"
}

# no_sanitizer_report FILE: an ASan/UBSan build's report would hide behind
# an expected exit status 1.
no_sanitizer_report() {
	if grep -Eq 'Sanitizer|runtime error:' "$1"; then
		echo "sanitizer report in $1" >&2
		return 1
	fi
}

multifd_setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
}

multifd_teardown() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || :; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || :; done
}

recv_bg() {
	# the last receiver's "listening on" must not be read as this one's:
	# the redirection below truncates only once the job runs
	rm -f "$T/recv.err"
	"$MIGBOX" multifd-recv "$@" 2>"$T/recv.err" &
	RECV_PID=$!
	PIDS+=("$RECV_PID")
}

send_bg() {
	local input=$1
	shift
	"$MIGBOX" multifd-send "$@" <"$input" 2>"$T/send.err" &
	SEND_PID=$!
	PIDS+=("$SEND_PID")
}

# bg_wait PID NAME VAR: waits for a background applet (60 s at most, then
# it is killed: 137) and sets VAR to its exit status; its stderr
# $T/NAME.err goes to the test's output, and a sanitizer report in it
# fails the test whatever the status.
bg_wait() {
	local status=0
	wait_for 60 bash -c "! kill -0 $1 2>/dev/null" || kill -9 "$1"
	wait "$1" || status=$?
	printf -v "$3" '%s' "$status"
	sed "s/^/$2: /" "$T/$2.err" >&2
	no_sanitizer_report "$T/$2.err"
}

recv_port() {
	wait_for 10 grep -q 'listening on ' "$T/recv.err" 2>/dev/null || { cat "$T/recv.err" >&2; return 1; }
	sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/recv.err" | head -n 1
}

recv_wait() {
	bg_wait "$RECV_PID" recv RECV_STATUS
}

send_wait() {
	bg_wait "$SEND_PID" send SEND_STATUS
}

send_fg() {
	local input=$1
	shift
	SEND_STATUS=0
	timeout -s KILL 60 "$MIGBOX" multifd-send "$@" <"$input" 2>"$T/send.err" || SEND_STATUS=$?
	sed 's/^/send: /' "$T/send.err" >&2
	no_sanitizer_report "$T/send.err"
}

transfer() {
	local input=$1 sopts=$2 ropts=$3 listen=${4:-127.0.0.1:0} host=${5:-127.0.0.1} port
	rm -f "$T/out"
	# shellcheck disable=SC2086
	recv_bg $ropts --timeout 20 -o "$T/out" "$listen"
	port=$(recv_port)
	# shellcheck disable=SC2086
	send_fg "$input" $sopts --timeout 20 "$host:$port"
	recv_wait
	if [[ $SEND_STATUS != 0 || $RECV_STATUS != 0 ]]; then
		echo "send exit $SEND_STATUS, recv exit $RECV_STATUS" >&2
		return 1
	fi
}

same_digests() {
	diff <(digests "$1") <(digests "$2")
}

no_complete_output() {
	if [[ -e $1 ]] || compgen -G "$1.tmp.*" >/dev/null; then
		echo "$1 or a temporary of it exists:" >&2
		ls -la "$(dirname "$1")" >&2
		return 1
	fi
}

slow_input() {
	head -c "$2" "$1"
	wait_for 60 test -e "$T/go"
	tail -c +$(($2 + 1)) "$1"
}

# output_size PID: bytes in the output of a process: its unnamed -o file
# (an O_TMPFILE in $T), or its stdout.
output_size() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		if [[ $(readlink "$fd") == "$T/"*' (deleted)' ]]; then
			stat -L -c %s "$fd"
			return
		fi
	done
	stat -L -c %s "/proc/$1/fd/1"
}

transfer_fails() {
	local input=$1 send_opts=$2 recv_opts=$3 port
	# shellcheck disable=SC2086
	recv_bg $recv_opts -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	# shellcheck disable=SC2086
	send_fg "$input" $send_opts "127.0.0.1:$port"
	recv_wait
}
