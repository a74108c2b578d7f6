# tests/lib/wait.bash - waiting for a state with a deadline. helpers.bash
# and lib/multifd.bash source it; so do demo/demo.sh and bench/ through
# lib/multifd.bash.

# wait_for SECONDS CMD...: runs CMD until it succeeds; fails after SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		if ((SECONDS >= end)); then
			echo "wait_for: still not true after the deadline: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}
