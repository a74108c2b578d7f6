# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/wait.bash - waiting for a state with a deadline, and a free
# port. helpers.bash, lib/multifd.bash and lib/qemu.bash source it; so do
# demo/demo.sh and bench/ through them. Every wait in the tests goes
# through wait_for: none waits without a deadline.
#
#   wait_for SECONDS CMD...   runs CMD until it succeeds; after SECONDS it
#                             says so on stderr and fails
#   wait_until SECONDS CMD... the same, silent: the caller says what failed
#   free_port                 a loopback TCP port nothing listens on (for a
#                             while: the kernel hands out ports in turn)

# WAIT_INTERVAL: seconds between two tries (a condition that costs more,
# such as one that asks QEMU, may set it higher around its call).
WAIT_INTERVAL=${WAIT_INTERVAL:-0.05}

wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep "$WAIT_INTERVAL"
	done
}

wait_for() {
	local seconds=$1
	shift
	wait_until "$seconds" "$@" && return 0
	echo "wait_for: still not true after ${seconds} s: $*" >&2
	return 1
}

free_port() {
	perl -MIO::Socket::INET -e \
		'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport, "\n"'
}
