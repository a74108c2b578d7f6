#!/usr/bin/env bats
# The plumbing the pvrdma-mux tests stand on, without the applet: QEMU 7.2's
# pvrdma device inside the throwaway VM, and a nested guest (QEMU TCG
# inside the TCG VM) with the vmw_pvrdma driver, both against mux-stub, a
# stand-in for the mux that answers every request with OK
# (tests/vm/scenarios/pvrdma-dev.sh). One boot runs both cases.

setup_file()
{
	local top=$BATS_TEST_DIRNAME/.. rc=0
	export PVRDMA_OUT=$BATS_FILE_TMPDIR/pvrdma.out
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "qemu-system-x86_64 not installed: run ./install-deps" >&2; return 1; }
	gcc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$BATS_FILE_TMPDIR/mux-stub" \
		"$top/tests/vm/tools/mux-stub.c" || { echo "cannot build mux-stub" >&2; return 1; }
	# nested TCG: a nested boot takes about a minute; 2 vCPUs, so that
	# the outer VM's own work does not starve the nested guest
	"$top/tests/vm/run" --timeout 900 --mem 3072 --smp 2 --nested \
		--add "$BATS_FILE_TMPDIR/mux-stub:/bin/mux-stub" \
		pvrdma-dev connect nested >"$PVRDMA_OUT" 2>&1 || rc=$?
	echo "rc=$rc" >>"$PVRDMA_OUT"
}

# passed CASE: its lines are in the output and it passed (a nested guest
# that died before its /init twice, a crash of nested TCG, is a skip)
passed()
{
	grep -E "^(PASS|FAIL|SKIP|info|guest|mux) $1[: ]|^(PASS|FAIL) $1$" "$PVRDMA_OUT" || true
	if grep -q "^SKIP $1: " "$PVRDMA_OUT"; then
		skip "$(grep -m1 "^SKIP $1: " "$PVRDMA_OUT" | cut -d' ' -f3-)"
	fi
	grep -qx "PASS $1" "$PVRDMA_OUT" || { echo "--- whole VM output:"; cat "$PVRDMA_OUT"; return 1; }
}

@test "pvrdma: QEMU 7.2 -device pvrdma connects to the mux socket, sends nothing without a guest, exits 0 on quit" {
	passed connect
}

@test "pvrdma: a nested guest shows vmw_pvrdma0 in ibv_devices, and each of its GIDs reached the mux as REG" {
	passed nested
}

@test "pvrdma: the VM run as a whole succeeded" {
	grep -qx 'rc=0' "$PVRDMA_OUT" || { cat "$PVRDMA_OUT"; false; }
}
