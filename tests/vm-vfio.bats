#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# vfio-dump / vfio-load against the kernel's VFIO migration v2 uAPI on real
# mtty mdevs, inside the throwaway VM (tests/vm/run). One boot runs every
# case (tests/vm/scenarios/vfio.sh); each test asserts its own case.

load lib/vm

setup_file()
{
	local top=$BATS_TEST_DIRNAME/..
	export VFIO_OUT=$BATS_FILE_TMPDIR/vfio.out
	# vfio-regs: a static test tool that reads and writes the UART registers
	build_test_program static "$BATS_FILE_TMPDIR/vfio-regs" "$top/tests/vm/tools/vfio-regs.c" ||
		{ echo "cannot build vfio-regs" >&2; return 1; }
	local rc=0
	"$top/tests/vm/run" --timeout 240 --add "$BATS_FILE_TMPDIR/vfio-regs:/bin/vfio-regs" \
		vfio info precopy qemu10 pipe file passthrough multifd garbage truncated toolong \
		wrongdevice truncated_every sigpipe sigterm busy nodevice nomigration \
		> "$VFIO_OUT" 2>&1 || rc=$?
	echo "rc=$rc" >> "$VFIO_OUT"
}

# passed CASE: its lines are in the output and it passed
passed() { vm_case_passed "$VFIO_OUT" "$1" state stderr time info dump; }

@test "vfio: --info reports mtty's migration flags, state and data size; --json follows doc/stats-json.schema.json" {
	passed info
	grep -q '^info: migration flags 0x7: STOP_COPY P2P PRE_COPY$' "$VFIO_OUT"
	sed -n 's/^info-json: //p' "$VFIO_OUT" >"$BATS_TEST_TMPDIR/info.json"
	"$BATS_TEST_DIRNAME/lib/validate-stats" "$BATS_TEST_TMPDIR/info.json"
	jq -e '.applet == "vfio-dump" and .schema_version == 2 and .report == "info"
		and .flags == 7 and .stop_copy and .pre_copy and .data_size == 60' "$BATS_TEST_TMPDIR/info.json"
}

@test "vfio: --precopy dump (START, PART, END; 96 bytes) loads into another device" {
	passed precopy
}

@test "vfio: that dump framed as QEMU 10.0 does (DEV_INIT_DATA_SENT, an iteration of END_OF_STATE alone) loads too" {
	passed qemu10
}

@test "vfio: vfio-dump A | vfio-load B moves the UART registers and FIFO" {
	passed pipe
	grep -q '^state pipe: port 0: ier 04 lcr 03 mcr 0b scr 5a fifo 68 65 6c 6c 6f|port 1: ier 00 lcr 1b mcr 00 scr a5 fifo 01 02 03|$' "$VFIO_OUT"
}

@test "vfio: through a file, which stream-dump reads" {
	passed file
}

@test "vfio: through stream-dump --pass-through" {
	passed passthrough
}

@test "vfio: vfio-dump A | multifd-send ... multifd-recv | vfio-load B" {
	passed multifd
}

@test "vfio: garbage on stdin: exit 1, device still usable" {
	passed garbage
}

@test "vfio: truncated state: exit 1, device back to RUNNING and usable" {
	passed truncated
}

@test "vfio: state too long for the device: exit 1, rolled back to the device's own state" {
	passed toolong
}

@test "vfio: a 2-port state into a 1-port device: exit 1, the device as it was, RUNNING" {
	passed wrongdevice
}

@test "vfio: a dump cut at every offset is refused, the target unchanged after each" {
	passed truncated_every
	grep -q '^info truncated_every: [0-9]* cuts refused, B unchanged after each$' "$VFIO_OUT"
}

@test "vfio: vfio-dump | multifd-send with the sender gone: EPIPE, exit 1, device RUNNING as it was" {
	passed sigpipe
}

@test "vfio: SIGTERM while vfio-load waits for its stream: death by SIGTERM, device untouched" {
	passed sigterm
}

@test "vfio: a device open elsewhere (EBUSY): exit 1 saying so" {
	passed busy
}

@test "vfio: a device that does not exist: exit 1 saying so" {
	passed nodevice
}

@test "vfio: a device without migration support: exit 1 saying so" {
	passed nomigration
}

@test "vfio: the VM run as a whole succeeded" {
	grep -qx 'rc=0' "$VFIO_OUT" || { cat "$VFIO_OUT"; false; }
}
