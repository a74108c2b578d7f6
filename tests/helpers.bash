# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by every bats file: `load helpers`.
# MIGBOX: the binary under test (make check points it at the normal, the
# ASan/UBSan, or the static build).
: "${MIGBOX:=$BATS_TEST_DIRNAME/../migbox}"
export MIGBOX

# shellcheck source=lib/wait.bash
source "${BASH_SOURCE[0]%/*}/lib/wait.bash"
# shellcheck source=lib/build.bash
source "${BASH_SOURCE[0]%/*}/lib/build.bash"

if [[ ! -x $MIGBOX ]]; then
	echo "migbox binary $MIGBOX is missing: run make first" >&2
	exit 1
fi

# Run migbox APPLET ... (bats' run: sets $status, $output).
mb() {
	"$MIGBOX" "$@"
}

# Assert that the last `run` failed with status $1 and that its output
# contains every further argument.
assert_fails_with() {
	local want=$1 s
	shift
	if [[ $status -ne $want ]]; then
		echo "expected exit status $want, got $status; output:" >&2
		echo "$output" >&2
		return 1
	fi
	for s in "$@"; do
		if [[ $output != *"$s"* ]]; then
			echo "output lacks '$s':" >&2
			echo "$output" >&2
			return 1
		fi
	done
}

assert_ok() {
	if [[ $status -ne 0 ]]; then
		echo "expected success, got exit status $status; output:" >&2
		echo "$output" >&2
		return 1
	fi
}

# Digest lines of a stream (or of stdin with -), for comparing streams.
digests() {
	"$MIGBOX" stream-dump --digest "$1"
}
