#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# pvrdma-mux with real CM MADs: two throwaway VMs on one link, Soft-RoCE on
# each (tests/vm/scenarios/pvrdma-mad.sh). On one, the mux owns rxe0's CM
# class and a QEMU-side client (tests/vm/tools/mux-client.c) registers the
# VM's GID; on the other, the kernel's rdma_cm (under rdma-send) sends a
# real CM REQ: the mux routes it to the client, the client's REJ goes back
# out through the mux, and the initiator sees REJECTED. The same for SIDR:
# udaddy's SIDR_REQ is routed by the GID in its private data, the client's
# SIDR_REP (status 2) comes back, and udaddy sees UNREACHABLE.

load lib/build

setup_file()
{
	local top=$BATS_TEST_DIRNAME/.. a=$((40000 + RANDOM % 20000)) b rc=0
	b=$((a + 1))
	build_test_program static "$BATS_FILE_TMPDIR/mux-client" "$top/tests/vm/tools/mux-client.c" ||
		{ echo "cannot build mux-client" >&2; return 1; }
	RXE_PROVIDER=$(readlink -f /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so)
	[ -f "$RXE_PROVIDER" ] && [ -x /usr/bin/udaddy ] ||
		{ echo "no udaddy or rxe provider: run ./install-deps (rdmacm-utils, ibverbs-providers)" >&2; return 1; }
	export OUT_A=$BATS_FILE_TMPDIR/vm-a.out OUT_B=$BATS_FILE_TMPDIR/vm-b.out
	{ "$top/tests/vm/run" --timeout 300 --smp 2 --add "$BATS_FILE_TMPDIR/mux-client:/bin/mux-client" \
		--net "udp=127.0.0.1:$a,localaddr=127.0.0.1:$b,52:54:00:00:00:01" \
		pvrdma-mad mux 192.0.2.1 >"$OUT_A" 2>&1 || rc=$?; echo "rc=$rc" >>"$OUT_A"; } &
	{ "$top/tests/vm/run" --timeout 300 --smp 2 --add-bin /usr/bin/udaddy \
		--add "$RXE_PROVIDER:$RXE_PROVIDER" --add /etc/libibverbs.d/rxe.driver:/etc/libibverbs.d/rxe.driver \
		--net "udp=127.0.0.1:$b,localaddr=127.0.0.1:$a,52:54:00:00:00:02" \
		pvrdma-mad req 192.0.2.2 192.0.2.1 >"$OUT_B" 2>&1 || rc=$?; echo "rc=$rc" >>"$OUT_B"; } &
	wait
}

@test "pvrdma-mux refuses to start while the kernel's ib_cm owns the CM class, naming the modules" {
	grep -q "^busy: pvrdma-mux: cannot register for CM MADs (class 0x07) on rxe0:1: .*modprobe -r rdma_ucm rdma_cm iw_cm ib_cm" "$OUT_A" ||
		{ cat "$OUT_A"; false; }
}

@test "a real CM REQ from another host reaches the client owning the GID; its REJ goes back; the initiator is REJECTED" {
	cat "$OUT_A" "$OUT_B"
	grep -qx 'PASS pvrdma-mad-mux' "$OUT_A"
	grep -qx 'PASS pvrdma-mad-req' "$OUT_B"
	grep -qx 'client: REG err 0' "$OUT_A"
	grep -Eq '^client: REQ comm 0x[0-9a-f]{8} from ::ffff:192\.0\.2\.2, 256 bytes$' "$OUT_A"
	grep -qx 'client: REJ err 0' "$OUT_A"
	grep -Eqx 'client: REJ sent [1-9][0-9]*' "$OUT_A"
	grep -Eq '^rejected: .*RDMA_CM_EVENT_REJECTED \(status 28\): the peer refused the connection' "$OUT_B"
	grep -Eq '^mux: pvrdma-mux: in REQ 0x0010 client 0: .*by GID' "$OUT_A"
	grep -Eq '^mux: pvrdma-mux: out REJ 0x0012 client 0: .*sent$' "$OUT_A"
}

@test "a real SIDR_REQ (udaddy) is routed by the GID in its private data; the client's SIDR_REP comes back; udaddy is UNREACHABLE" {
	cat "$OUT_A" "$OUT_B"
	grep -Eq '^client: SIDR_REQ id 0x[0-9a-f]{8} from ::ffff:192\.0\.2\.2, 256 bytes$' "$OUT_A"
	grep -qx 'client: SIDR_REP err 0' "$OUT_A"
	grep -Eqx 'client: SIDR_REP sent [1-9][0-9]*' "$OUT_A"
	grep -Eq '^mux: pvrdma-mux: in SIDR_REQ 0x0017 client 0: .*by GID \(::ffff\)' "$OUT_A"
	grep -Eq '^mux: pvrdma-mux: out SIDR_REP 0x0018 client 0: .*sent$' "$OUT_A"
	grep -qx 'sidr: udaddy: event: RDMA_CM_EVENT_UNREACHABLE, error: 2' "$OUT_B"
}

@test "a MAD whose GRH leaves from another guest's GID on the port (its gid_index, read from sysfs) is refused" {
	grep -qx 'client: foreign err 3' "$OUT_A" || { cat "$OUT_A"; false; }
	grep -Eq "^mux: pvrdma-mux: client 0: a MAD sent from the port's GID index [0-9]+ \(::ffff:192\.0\.2\.3\), which it did not register: refused$" "$OUT_A"
}

@test "the mux counted what it routed and sent (its --stats-json follows the schema), and SIGTERM ended it; both VMs succeeded" {
	grep -q '"mads_routed":[1-9]' "$OUT_A" || { cat "$OUT_A"; false; }
	grep -q '"mads_sent":[1-9]' "$OUT_A"
	sed -n 's/^stats: //p' "$OUT_A" >"$BATS_TEST_TMPDIR/mux.json"
	"$BATS_TEST_DIRNAME/lib/validate-stats" "$BATS_TEST_TMPDIR/mux.json"
	# the file written at SIGTERM (the scenario took its spaces out); every
	# client's MAD is counted by its fate, the foreign-GID one refused
	jq -e '.final and .ok == false and .error == "interruptedbySIGTERM" and .answers.ok >= 1
		and .mads_refused_not_its_gid >= 1 and .mads_from_clients == .mads_sent + .mads_send_failed
		+ .mads_refused_not_its_gid + .mads_refused_comm_id_taken + .mads_refused_bad_length' \
		"$BATS_TEST_TMPDIR/mux.json"
	grep -qx 'mux exit 143' "$OUT_A"
	grep -qx 'rc=0' "$OUT_A"
	grep -qx 'rc=0' "$OUT_B"
}
