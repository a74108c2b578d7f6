#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# rdma-recv and rdma-send on Soft-RoCE inside the throwaway VM, against
# real QEMUs 7.2 and 10.0 that run inside the VM too (10.0 from
# tests/qemu10/fetch, staged by tests/vm/run --qemu10). One boot runs every
# case (tests/vm/scenarios/rdma.sh); each test asserts its own case.

load lib/vm

setup_file()
{
	local top=$BATS_TEST_DIRNAME/.. rc=0 qemu_args=()
	export RDMA_OUT=$BATS_FILE_TMPDIR/rdma.out
	# QEMU with its libraries, TCG module, firmware, and the rxe provider
	# (QEMU links rdma-core dynamically)
	# rdma-peer: a misbehaving peer for the fault cases
	build_test_program static "$BATS_FILE_TMPDIR/rdma-peer" "$top/tests/vm/tools/rdma-peer.c" \
		-Wl,--start-group $(pkg-config --static --libs librdmacm libibverbs) -Wl,--end-group \
		-lxxhash ||
		{ echo "cannot build rdma-peer" >&2; return 1; }
	build_test_program static "$BATS_FILE_TMPDIR/vfio-regs" "$top/tests/vm/tools/vfio-regs.c" ||
		{ echo "cannot build vfio-regs" >&2; return 1; }
	# a stream whose block list claims 64 TiB: one page at its end
	(
		source "$top/tests/stream-builder.bash"
		big=$((64 << 40))
		sb_header; sb_config pc-i440fx-7.2; sb_start 2 ram 0 4; sb_mem_size pc.ram $big
		sb_eos; sb_footer 2; sb_part 2; sb_page $((big - 4096)) pc.ram h; sb_eos; sb_footer 2
		sb_end 2; sb_eos; sb_footer 2; sb_eof
	) > "$BATS_FILE_TMPDIR/huge.mig"
	qemu_args=(--add "$BATS_FILE_TMPDIR/huge.mig:/data/huge.mig" --add-bin /usr/bin/qemu-system-x86_64 --add "$BATS_FILE_TMPDIR/rdma-peer:/bin/rdma-peer"
		--add "$BATS_FILE_TMPDIR/vfio-regs:/bin/vfio-regs")
	for f in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so /usr/share/seabios/bios-256k.bin \
		/usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot_dma.bin \
		/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so /etc/libibverbs.d/rxe.driver; do
		qemu_args+=(--add "$(readlink -f "$f"):$f")
	done
	"$top/tests/vm/run" --timeout 1200 --mem 3072 --qemu10 "${qemu_args[@]}" \
		rdma qemu_to_recv qemu_to_recv_pin send_to_recv send_to_recv_pin \
		saved_to_qemu saved_to_qemu_pin \
		qemu_to_recv@10 qemu_to_recv_pin@10 saved_to_qemu@10 saved_to_qemu_pin@10 mixes big vfio_pipe relay nothing_listening recv_version recv_capability \
		recv_badlen recv_unknown recv_outside recv_stall recv_huge recv_huge_pin recv_max_ram send_version send_mismatch \
		send_error send_stall truncated_stdin kill_recv kill_send sigterm_recv \
		> "$RDMA_OUT" 2>&1 || rc=$?
	echo "rc=$rc" >> "$RDMA_OUT"
}

# passed CASE: its lines are in the output and it passed
passed() { vm_case_passed "$RDMA_OUT" "$1" info stderr; }

@test "rdma: QEMU source -> rdma-recv -o: the pattern's digest, and a fresh QEMU loads it" {
	passed qemu_to_recv
}

@test "rdma: QEMU source with rdma-pin-all -> rdma-recv: the pattern, loadable" {
	passed qemu_to_recv_pin
}

@test "rdma: rdma-send | rdma-recv, a stream-gen stream of 4 blocks and 3 passes: same digests" {
	passed send_to_recv
}

@test "rdma: rdma-send --pin-all | rdma-recv: same digests" {
	passed send_to_recv_pin
}

@test "rdma: a QEMU-saved stream -> rdma-send -> QEMU -incoming rdma: the pattern's RAM" {
	passed saved_to_qemu
}

@test "rdma: rdma-send --pin-all -> QEMU: the pattern's RAM" {
	passed saved_to_qemu_pin
}

# The QEMU cases again, against QEMU 10.0 with its own machine type
@test "rdma (QEMU 10.0): QEMU source -> rdma-recv -o: the pattern's digest, and a fresh QEMU loads it" {
	passed qemu_to_recv@10
}

@test "rdma (QEMU 10.0): QEMU source with rdma-pin-all -> rdma-recv: the pattern, loadable" {
	passed qemu_to_recv_pin@10
}

@test "rdma (QEMU 10.0): a QEMU-saved stream -> rdma-send -> QEMU -incoming rdma: the pattern's RAM" {
	passed saved_to_qemu@10
}

@test "rdma (QEMU 10.0): rdma-send --pin-all -> QEMU: the pattern's RAM" {
	passed saved_to_qemu_pin@10
}

@test "rdma: every content mix (zero, random, text, one repeated byte) arrives intact" {
	passed mixes
}

@test "rdma: 272 MiB of RAM in 3 passes with re-sent pages arrives intact" {
	passed big
}

@test "rdma: vfio-dump A | rdma-send ... rdma-recv | vfio-load B moves the device state" {
	passed vfio_pipe
}

@test "rdma: multifd-send -> multifd-recv | rdma-send -> rdma-recv, a relay" {
	passed relay
}

@test "rdma fault: nothing listening: rdma-send exits 1, refused" {
	passed nothing_listening
}

@test "rdma fault: a source with protocol version 2 is refused by rdma-recv" {
	passed recv_version
}

@test "rdma fault: a source asking for an unknown capability is refused by rdma-recv" {
	passed recv_capability
}

@test "rdma fault: a control message whose length runs past the buffer" {
	passed recv_badlen
}

@test "rdma fault: a control message of an unknown type" {
	passed recv_unknown
}

@test "rdma fault: a registration outside every block" {
	passed recv_outside
}

@test "rdma fault: a source that stalls trips rdma-recv's --timeout" {
	passed recv_stall
}

@test "rdma fault: a source claiming 64 TiB of RAM is refused at its block list (--max-ram defaults to this machine's memory), in 1 GiB of address space" {
	passed recv_huge
}

@test "rdma fault: the same source with --pin-all: refused before anything is pinned" {
	passed recv_huge_pin
}

@test "rdma fault: a 48 MiB source past rdma-recv --max-ram 16M: refused naming block, size and limit" {
	passed recv_max_ram
}

@test "rdma fault: a destination that answers with protocol version 2" {
	passed send_version
}

@test "rdma fault: a destination whose block list does not match the stream" {
	passed send_mismatch
}

@test "rdma fault: a destination that sends ERROR" {
	passed send_error
}

@test "rdma fault: a destination that stalls trips rdma-send's --timeout" {
	passed send_stall
}

@test "rdma fault: truncated stdin: rdma-send exits 1, rdma-recv hears ERROR, no output" {
	passed truncated_stdin
}

@test "rdma fault: rdma-recv killed mid-transfer: rdma-send exits 1" {
	passed kill_recv
}

@test "rdma fault: rdma-send killed mid-transfer: rdma-recv exits 1, no output" {
	passed kill_send
}

@test "rdma: SIGTERM on rdma-recv mid-transfer: death by SIGTERM, ERROR to the source, no output" {
	passed sigterm_recv
}

@test "rdma: the --stats-json files of rdma-recv (from QEMU, from rdma-send) and rdma-send (to rdma-recv) follow doc/stats-json.schema.json; the sender's pages are its input's records, both ends count the same COMPRESS" {
	local n=0 line
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s\n' "${line#stats-json *: }" >"$BATS_TEST_TMPDIR/stats$n.json"
	done < <(grep '^stats-json ' "$RDMA_OUT")
	grep -h '"applet": *"rdma-recv"' "$BATS_TEST_TMPDIR"/stats*.json | grep -q '"ok": *true'
	grep -h '"applet": *"rdma-send"' "$BATS_TEST_TMPDIR"/stats*.json | grep -q '"ok": *true'
	"$BATS_TEST_DIRNAME/lib/validate-stats" "$BATS_TEST_TMPDIR"/stats*.json
	# every page record of rdma-send's input went by WRITE or COMPRESS
	jq -se '[.[] | select(.applet == "rdma-send" and .ok)
		| .pages == .input_page_records + .input_zero_records and .pages > 0]
		| length > 0 and all' "$BATS_TEST_TMPDIR"/stats*.json >/dev/null
	# rdma-send | rdma-recv: of rdma-send's pages, the receiver sees the
	# COMPRESS ones (its WRITEs are one-sided), and counts the same bytes
	for c in send_to_recv send_to_recv_pin; do
		jq -en --argjson s "$(sed -n "s/^stats-json $c: //p" "$RDMA_OUT")" \
			--argjson r "$(sed -n "s/^stats-json $c recv: //p" "$RDMA_OUT")" \
			'$s.ok and $r.ok and $s.compress_bytes == $r.compress_bytes
			and $s.compress_messages == $r.compress_messages and ($r | has("pages") | not)
			and $r.output_page_records > 0' >/dev/null
	done
}

@test "rdma: the VM run as a whole succeeded" {
	grep -qx 'rc=0' "$RDMA_OUT" || { cat "$RDMA_OUT"; false; }
}
