#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# pvrdma-mux with real QEMU 7.2 pvrdma devices inside the throwaway VM
# (tests/vm/scenarios/pvrdma-dev.sh): QEMU with -device pvrdma and no
# guest, then two nested guests (QEMU TCG inside the TCG VM) with the
# vmw_pvrdma driver whose GIDs register through the mux and whose udaddy
# SIDR exchange it routes. One boot runs both cases (about 8 min: a nested
# guest takes some 5 min to boot).

load lib/vm

setup_file()
{
	local top=$BATS_TEST_DIRNAME/.. rc=0
	export PVRDMA_OUT=$BATS_FILE_TMPDIR/pvrdma.out
	# 2 vCPUs: one for each nested guest
	"$top/tests/vm/run" --timeout 1800 --mem 3072 --smp 2 --nested \
		pvrdma-dev connect nested >"$PVRDMA_OUT" 2>&1 || rc=$?
	echo "rc=$rc" >>"$PVRDMA_OUT"
}

# passed CASE: its lines are in the output and it passed
passed() { vm_case_passed "$PVRDMA_OUT" "$1" info guest mux; }

@test "pvrdma: QEMU 7.2 -device pvrdma connects to pvrdma-mux, sends nothing without a guest, exits 0 on quit; the mux forgets it and serves on" {
	passed connect
}

@test "pvrdma: two nested vmw_pvrdma guests register and unregister their GIDs through pvrdma-mux, and udaddy's SIDR exchange goes through it" {
	passed nested
}

@test "pvrdma: the mux ended on SIGTERM, and the VM run as a whole succeeded" {
	grep -qx 'mux exit 143' "$PVRDMA_OUT" || { cat "$PVRDMA_OUT"; false; }
	grep -qx 'rc=0' "$PVRDMA_OUT"
}
