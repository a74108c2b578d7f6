#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# tests/vm-basic.bats - the throwaway test VM has what the VM tests need:
# the static migbox, Soft-RoCE and an mtty mediated device.
#
# Each test boots one VM (about 4 s under TCG) through tests/vm/run, which
# needs migbox-static ("make static") and fetches the kernel on first use.

setup_file()
{
	export VM_RUN="$BATS_TEST_DIRNAME/vm/run"
}

# vm SCENARIO [ARGS...]: boot, run the scenario, keep its output in
# $output (printed too, so that bats shows it when a test fails).
vm()
{
	run "$VM_RUN" "$@"
	echo "$output"
}

@test "vm: the static migbox runs and lists its applets" {
	vm migbox-list
	[ "$status" -eq 0 ]
	grep -qx 'stream-dump' <<<"$output"
}

@test "vm: Soft-RoCE rxe0 is ACTIVE on dummy0" {
	vm rxe
	[ "$status" -eq 0 ]
	grep -Eq '^link rxe0/1 state ACTIVE physical_state LINK_UP netdev dummy0' <<<"$output"
	grep -q 'inet 192\.0\.2\.1/24' <<<"$output"
	grep -q 'uverbs0' <<<"$output"
}

@test "vm: an mtty mdev made from a UUID has its VFIO group" {
	local uuid
	uuid=$(cat /proc/sys/kernel/random/uuid)
	vm mtty "$uuid"
	[ "$status" -eq 0 ]
	grep -Eqx "mdev $uuid type mtty-2 group /dev/vfio/[0-9]+" <<<"$output"
	# mtty: STOP_COPY | P2P | PRE_COPY, 96 bytes of state for two ports
	grep -qx 'migration flags 0x7: STOP_COPY P2P PRE_COPY' <<<"$output"
	grep -qx 'state RUNNING' <<<"$output"
	grep -q '^data size 96 bytes' <<<"$output"
}
