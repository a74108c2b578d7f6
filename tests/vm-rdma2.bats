#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# rdma-send and rdma-recv between two hosts: two throwaway VMs whose
# virtio-net NICs share a QEMU socket netdev, Soft-RoCE on each eth0
# (tests/vm/scenarios/rdma2.sh). 2 vCPUs each: with one, Debian's 6.12 rxe
# over virtio-net crashed in net_rx_action under this load.

setup_file()
{
	local top=$BATS_TEST_DIRNAME/.. a=$((40000 + RANDOM % 20000)) b rc=0
	b=$((a + 1))
	export OUT_A=$BATS_FILE_TMPDIR/vm-a.out OUT_B=$BATS_FILE_TMPDIR/vm-b.out
	{ "$top/tests/vm/run" --timeout 300 --smp 2 \
		--net "udp=127.0.0.1:$a,localaddr=127.0.0.1:$b,52:54:00:00:00:01" \
		rdma2 recv 192.0.2.1 >"$OUT_A" 2>&1 || rc=$?; echo "rc=$rc" >>"$OUT_A"; } &
	{ "$top/tests/vm/run" --timeout 300 --smp 2 \
		--net "udp=127.0.0.1:$b,localaddr=127.0.0.1:$a,52:54:00:00:00:02" \
		rdma2 send 192.0.2.2 192.0.2.1 >"$OUT_B" 2>&1 || rc=$?; echo "rc=$rc" >>"$OUT_B"; } &
	wait
}

@test "rdma across two VMs: rdma-send on one, rdma-recv on the other, same digests; no provider files needed" {
	cat "$OUT_A" "$OUT_B"
	grep -qx 'PASS rdma2-recv' "$OUT_A"
	grep -qx 'PASS rdma2-send' "$OUT_B"
	grep -qx 'info rdma2-recv: no /etc/libibverbs.d, no provider library' "$OUT_A"
	grep -qx 'rc=0' "$OUT_A"
	grep -qx 'rc=0' "$OUT_B"
	[[ $(grep -c '^digest ' "$OUT_B") == 3 ]]
	diff <(grep '^digest ' "$OUT_A") <(grep '^digest ' "$OUT_B")
}
