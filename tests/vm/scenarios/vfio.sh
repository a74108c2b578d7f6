# SPDX-License-Identifier: GPL-3.0-or-later
# vfio: vfio-dump / vfio-load on real mtty mdevs, and their failure modes.
#
# usage: vfio CASE...   (needs /bin/vfio-regs, see tests/vm-vfio.bats)
#
# Prints "PASS CASE" or "FAIL CASE: why" per case, and a "state"
# line of device B after each load. A: mtty-2 holding known UART state;
# B: mtty-2 to load into; C: mtty-1; D: an mdpy display (no migration).
# Exits 1 if any case failed.

. /scenarios/lib.sh
set +e

A=$(new_uuid) B=$(new_uuid) C=$(new_uuid) D=$(new_uuid)
setup_mtty -t mtty-2 "$A" "$B" >/dev/null
setup_mtty -t mtty-1 "$C" >/dev/null
echo "$D" > /sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create ||
	die "cannot create the mdpy mdev"

# The state written into A, and how vfio-regs shows it.
vfio-regs "$A" write 0 3 0x03 && vfio-regs "$A" write 0 1 0x04 &&
vfio-regs "$A" write 0 4 0x0b && vfio-regs "$A" write 0 7 0x5a &&
vfio-regs "$A" write 0 0 0x68 0x65 0x6c 0x6c 0x6f &&
vfio-regs "$A" write 1 3 0x1b && vfio-regs "$A" write 1 7 0xa5 &&
vfio-regs "$A" write 1 0 0x01 0x02 0x03 || die "cannot write A's registers"
EXPECTED="port 0: ier 04 lcr 03 mcr 0b scr 5a fifo 68 65 6c 6c 6f
port 1: ier 00 lcr 1b mcr 00 scr a5 fifo 01 02 03"

failed=0
fail() { echo "FAIL $case: $*"; failed=1; }
# B shows A's state and is RUNNING
b_has_a_state() {
	local got
	got=$(vfio-regs "$B" show)
	echo "state $case: $(echo "$got" | tr '\n' '|')"
	[ "$got" = "$EXPECTED" ] || { fail "B shows '$got'"; return 1; }
	b_running
}
b_running() {
	migbox vfio-dump --info "$B" | grep -q '^state RUNNING$' ||
		{ fail "B is not RUNNING: $(migbox vfio-dump --info "$B" 2>&1)"; return 1; }
}
# cmd must exit 1 with text in its stderr; B stays usable
expect_failure() {
	local text=$1 rc
	shift
	"$@" > /tmp/out 2> /tmp/err
	rc=$?
	echo "stderr $case: $(cat /tmp/err)"
	[ $rc -eq 1 ] || { fail "exit status $rc, expected 1"; return 1; }
	grep -q -- "$text" /tmp/err || { fail "stderr lacks '$text'"; return 1; }
}
b_still_usable() {
	b_running || return 1
	migbox vfio-load "$B" < /tmp/good.mig || { fail "a good load into B failed afterwards"; return 1; }
	b_has_a_state
}
# snapshot DEV FILE: the device's state, read without changing it
snapshot() {
	migbox vfio-dump --resume "$1" > "$2" || fail "cannot snapshot $1"
}
# unchanged DEV FILE: the device holds the state of the snapshot
unchanged() {
	migbox vfio-dump --resume "$1" > /tmp/now.mig || { fail "cannot snapshot $1"; return 1; }
	cmp -s "$2" /tmp/now.mig || { fail "$1 changed"; return 1; }
}
timed() {
	local t0 t1
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$@"
	local rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "time $case: $(awk "BEGIN { print $t1 - $t0 }") s"
	return $rc
}

run_case() {
	case=$1
	case $case in
	info)
		out=$(migbox vfio-dump --info "$A")
		echo "$out" | sed "s/^/info: /"
		echo "$out" | grep -q '^migration flags 0x7: STOP_COPY P2P PRE_COPY$' || fail "flags"
		echo "$out" | grep -q '^state RUNNING$' || fail "state"
		echo "$out" | grep -q '^data size 96 bytes' || fail "data size"
		# the JSON is checked against the schema on the host (vm-vfio.bats)
		json=$(migbox vfio-dump --info --json "$C")
		echo "info-json: $json"
		[ "$(echo "$json" | grep -o '"data_size":[0-9]*')" = '"data_size":60' ] ||
			fail "mtty-1 data size"
		;;
	precopy)
		# first, while A runs: PRE_COPY data, then STOP_COPY; A resumes
		timed sh -c "migbox vfio-dump --precopy --resume '$A' > /tmp/pre.mig" || fail "dump"
		migbox stream-dump /tmp/pre.mig > /tmp/pre.txt || fail "stream-dump"
		sed 's/^/dump: /' /tmp/pre.txt
		grep -q "$A/vfio .* 1 .* 1 .* 1 " /tmp/pre.txt || fail "expected START, one PART, END"
		grep -q "vfio $A/vfio instance 0: 96 bytes of device data" /tmp/pre.txt || fail "96 bytes"
		migbox vfio-dump --info "$A" | grep -q '^state RUNNING$' || fail "A did not resume"
		timed migbox vfio-load "$B" < /tmp/pre.mig || fail "load"
		b_has_a_state
		;;
	qemu10)
		# /tmp/pre.mig (case precopy) as QEMU 10.0 with switchover-ack
		# frames it: the PART ends in DEV_INIT_DATA_SENT, and an
		# iteration with nothing to say has END_OF_STATE alone
		sect=$(migbox stream-dump --sections /tmp/pre.mig | sed -n 's/^  @\([0-9]*\) *\(PART\|END\) .*/\2 \1/p')
		part=$(echo "$sect" | sed -n 's/^PART //p') end=$(echo "$sect" | sed -n 's/^END //p')
		[ -n "$part" ] && [ -n "$end" ] || { fail "no PART or END in /tmp/pre.mig: $sect"; return; }
		{
			head -c $((end - 13)) /tmp/pre.mig
			printf '\377\377\377\377\357\020\000\005'
			tail -c +$((end - 4)) /tmp/pre.mig | head -c 5
			tail -c +$((part + 1)) /tmp/pre.mig | head -c 5
			printf '\377\377\377\377\357\020\000\001'
			tail -c +$((end - 4)) /tmp/pre.mig | head -c 5
			tail -c +$((end + 1)) /tmp/pre.mig
		} > /tmp/q10.mig
		migbox stream-dump /tmp/q10.mig > /tmp/q10.txt || fail "stream-dump: $(cat /tmp/q10.txt)"
		sed 's/^/dump: /' /tmp/q10.txt
		grep -q "$A/vfio .* 1 .* 2 .* 1 " /tmp/q10.txt || fail "expected START, two PARTs, END"
		# B holds A's state from the case before: change it first
		vfio-regs "$B" write 0 7 0x11 && vfio-regs "$B" write 1 7 0x22 || fail "cannot write B"
		timed migbox vfio-load "$B" < /tmp/q10.mig || fail "load"
		b_has_a_state
		;;
	pipe)
		migbox vfio-dump "$A" | migbox vfio-load "$B" || fail "pipeline"
		b_has_a_state
		migbox vfio-dump --info "$A" | grep -q '^state STOP$' || fail "A is not STOP after the dump"
		;;
	file)
		timed sh -c "migbox vfio-dump '$A' > /tmp/good.mig" || fail "dump"
		migbox stream-dump /tmp/good.mig | grep -q "vfio $A/vfio instance 0: 96 bytes" || fail "stream-dump"
		timed migbox vfio-load "$B" < /tmp/good.mig || fail "load"
		b_has_a_state
		;;
	passthrough)
		migbox vfio-dump "$A" | migbox stream-dump -p -q | migbox vfio-load "$B" || fail "pipeline"
		b_has_a_state
		;;
	multifd)
		# across the multifd transport, over loopback inside the VM
		sh -c "set -o pipefail; migbox multifd-recv -c 2 --timeout 20 127.0.0.1:4444 |
			migbox vfio-load '$B'" 2> /tmp/recv.err &
		recv=$!
		sleep 1
		timed sh -c "set -o pipefail; migbox vfio-dump '$A' |
			migbox multifd-send -c 2 --timeout 20 127.0.0.1:4444" || fail "vfio-dump | multifd-send"
		wait $recv || fail "multifd-recv | vfio-load: $(cat /tmp/recv.err)"
		b_has_a_state
		;;
	garbage)
		head -c 4096 /dev/urandom > /tmp/garbage
		expect_failure "bad magic" migbox vfio-load "$B" < /tmp/garbage
		b_still_usable
		;;
	truncated)
		size=$(wc -c < /tmp/good.mig)
		head -c $((size - 40)) /tmp/good.mig > /tmp/cut.mig
		expect_failure "stream truncated" migbox vfio-load "$B" < /tmp/cut.mig
		b_still_usable
		;;
	toolong)
		migbox stream-gen -b r:4K --devices 0 --vfio "$B/vfio:8192" > /tmp/long.mig
		snapshot "$B" /tmp/before.mig
		expect_failure "refused the state data\|did not accept" migbox vfio-load "$B" < /tmp/long.mig
		grep -q "is back in its previous state (RUNNING)" /tmp/err || fail "no word of the rollback"
		unchanged "$B" /tmp/before.mig
		b_still_usable
		;;
	wrongdevice)
		# a two-port state into a one-port device: refused, C as it was
		snapshot "$C" /tmp/before.mig
		expect_failure "$C" migbox vfio-load "$C" < /tmp/good.mig
		unchanged "$C" /tmp/before.mig
		migbox vfio-dump --info "$C" | grep -q '^state RUNNING$' || fail "C is not RUNNING"
		;;
	truncated_every)
		# a dump cut at every offset: refused before B is touched
		size=$(wc -c < /tmp/good.mig)
		snapshot "$B" /tmp/before.mig
		n=0
		while [ $n -lt "$size" ]; do
			head -c $n /tmp/good.mig > /tmp/cut.mig
			if migbox vfio-load "$B" < /tmp/cut.mig 2> /tmp/err; then
				fail "a dump cut at $n of $size bytes loaded"
				break
			fi
			grep -q "stream truncated\|no vfio section\|has no END section" /tmp/err ||
				{ fail "cut at $n: $(cat /tmp/err)"; break; }
			unchanged "$B" /tmp/before.mig || { fail "cut at $n changed B"; break; }
			n=$((n + 1))
		done
		echo "info truncated_every: $size cuts refused, B unchanged after each"
		b_running
		;;
	sigpipe)
		# the reader is gone when vfio-dump writes: EPIPE, not SIGPIPE;
		# A back to RUNNING with its state
		snapshot "$A" /tmp/a-before.mig
		{ sleep 3; migbox vfio-dump "$A"; echo $? > /tmp/dump.rc; } 2> /tmp/dump.err |
			migbox multifd-send -c 2 --timeout 1 127.0.0.1:9 2> /tmp/send.err
		echo "stderr $case: $(cat /tmp/dump.err) / $(cat /tmp/send.err)"
		[ "$(cat /tmp/dump.rc)" = 1 ] || fail "vfio-dump exit status $(cat /tmp/dump.rc), expected 1"
		grep -q "writing the stream: Broken pipe" /tmp/dump.err || fail "no broken pipe message"
		migbox vfio-dump --info "$A" | grep -q '^state RUNNING$' || fail "A is not RUNNING"
		unchanged "$A" /tmp/a-before.mig
		;;
	sigterm)
		# vfio-load waiting for its stream is ended by SIGTERM: B untouched
		snapshot "$B" /tmp/before.mig
		mkfifo /tmp/stalled
		{ head -c 40 /tmp/good.mig; sleep 30; } > /tmp/stalled &
		writer=$!
		migbox vfio-load "$B" < /tmp/stalled 2> /tmp/err &
		loader=$!
		# it opens the device (signals handled from then on), then reads
		wait_for 10 sh -c "ls -l /proc/$loader/fd | grep -q /dev/vfio/" ||
			fail "vfio-load did not open the device"
		kill -TERM $loader
		wait $loader
		rc=$?
		echo "stderr $case: $(cat /tmp/err)"
		kill $writer 2>/dev/null
		[ $rc = 143 ] || fail "exit status $rc, expected 143 (SIGTERM)"
		grep -q "interrupted by SIGTERM" /tmp/err || fail "no word of the signal"
		unchanged "$B" /tmp/before.mig
		b_running
		;;
	busy)
		vfio-regs "$B" hold 10 & holder=$!
		sleep 1
		expect_failure "open elsewhere" migbox vfio-load "$B" < /tmp/good.mig
		expect_failure "open elsewhere" migbox vfio-dump --info "$B"
		kill $holder; wait $holder 2>/dev/null
		b_still_usable
		;;
	nodevice)
		expect_failure "no such device" migbox vfio-load 00000000-0000-0000-0000-000000000000 < /tmp/good.mig
		expect_failure "no such device" migbox vfio-dump 0000:7f:1f.7
		;;
	nomigration)
		expect_failure "does not support VFIO migration" migbox vfio-dump "$D"
		expect_failure "does not support VFIO migration" migbox vfio-load "$D" < /tmp/good.mig
		;;
	*)
		fail "no such case"
		;;
	esac
	[ "$failed" = 1 ] || echo "PASS $case"
	failed_any=$((${failed_any:-0} | failed))
	failed=0
}

for c in "$@"; do
	run_case "$c"
done
exit "${failed_any:-0}"
