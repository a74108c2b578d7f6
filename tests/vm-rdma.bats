#!/usr/bin/env bats
# rdma-recv and rdma-send on Soft-RoCE inside the throwaway VM, against a
# real QEMU 7.2 that runs inside the VM too. One boot runs every case
# (tests/vm/scenarios/rdma.sh); each test asserts its own case.

setup_file()
{
	local top=$BATS_TEST_DIRNAME/.. rc=0 qemu_args=()
	export RDMA_OUT=$BATS_FILE_TMPDIR/rdma.out
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "qemu-system-x86_64 not installed: run ./install-deps" >&2; return 1; }
	# QEMU with its libraries, TCG module, firmware, and the rxe provider
	# (QEMU links rdma-core dynamically)
	qemu_args=(--add-bin /usr/bin/qemu-system-x86_64)
	for f in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so /usr/share/seabios/bios-256k.bin \
		/usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot_dma.bin \
		/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so /etc/libibverbs.d/rxe.driver; do
		qemu_args+=(--add "$(readlink -f "$f"):$f")
	done
	"$top/tests/vm/run" --timeout 600 --mem 2048 "${qemu_args[@]}" \
		rdma qemu_to_recv qemu_to_recv_pin send_to_recv send_to_recv_pin \
		saved_to_qemu saved_to_qemu_pin > "$RDMA_OUT" 2>&1 || rc=$?
	echo "rc=$rc" >> "$RDMA_OUT"
}

# passed CASE: its lines are in the output and it passed
passed()
{
	grep -E "^(PASS|FAIL|info|stderr) $1[: ]|^(PASS|FAIL) $1$" "$RDMA_OUT" || true
	grep -qx "PASS $1" "$RDMA_OUT" || { echo "--- whole VM output:"; cat "$RDMA_OUT"; return 1; }
}

@test "rdma: QEMU source -> rdma-recv -o: the pattern's digest, and a fresh QEMU loads it" {
	passed qemu_to_recv
}

@test "rdma: the same with rdma-pin-all on the source" {
	passed qemu_to_recv_pin
}

@test "rdma: rdma-send | rdma-recv, a stream-gen stream of 4 blocks and 3 passes: same digests" {
	passed send_to_recv
}

@test "rdma: the same with --pin-all" {
	passed send_to_recv_pin
}

@test "rdma: a QEMU-saved stream -> rdma-send -> QEMU -incoming rdma: the pattern's RAM" {
	passed saved_to_qemu
}

@test "rdma: the same with --pin-all" {
	passed saved_to_qemu_pin
}

@test "rdma: the VM run as a whole succeeded" {
	grep -qx 'rc=0' "$RDMA_OUT" || { cat "$RDMA_OUT"; false; }
}
