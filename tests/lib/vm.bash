# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/vm.bash - reading what a tests/vm/run scenario printed.

# shellcheck source=build.bash
source "${BASH_SOURCE[0]%/*}/build.bash"

# vm_case_passed OUT CASE TAG...: shows CASE's lines of the VM output OUT
# (PASS, FAIL and the scenario's TAG lines) and succeeds if CASE passed;
# otherwise prints the whole output, which tells why.
vm_case_passed() {
	local out=$1 name=$2 tags

	shift 2
	tags=$(IFS='|'; echo "PASS|FAIL${*:+|$*}")
	grep -E "^($tags) $name[: ]|^(PASS|FAIL) $name\$" "$out" || true
	grep -qx "PASS $name" "$out" || { echo "--- whole VM output:"; cat "$out"; return 1; }
}
