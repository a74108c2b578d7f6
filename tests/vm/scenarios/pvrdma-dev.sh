# pvrdma-dev: QEMU 7.2's pvrdma device against a stand-in for the RDMA-CM
# MAD multiplexer (mux-stub, which answers every request with OK), the
# plumbing the pvrdma-mux tests stand on (tests/vm-pvrdma.bats runs it
# with --nested and mux-stub in /bin).
#
# usage: pvrdma-dev CASE...
#   connect   QEMU with -device pvrdma and no guest connects to $MUX_SOCK,
#             sends nothing, and exits 0 on "quit", closing the socket
#   nested    a nested guest with vmw_pvrdma shows vmw_pvrdma0 in
#             ibv_devices, and the stub logged a REG for each of its GIDs
#
# Prints "PASS CASE", "FAIL CASE: why" or "SKIP CASE: why" (the nested
# guest died before its /init both times: nested TCG) per case, "info CASE: ..." for
# timings, "guest CASE: ..." and "mux CASE: ..." for what the nested guest
# printed and what the stub logged; exits 1 if any case failed.

. /scenarios/lib.sh
set +e

failed=0 skipped=0
fail() { echo "FAIL $case: $*"; failed=1; }
info() { echo "info $case: $*"; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'; }

setup_rxe
: >/tmp/mux.out
mux-stub "$MUX_SOCK" /tmp/mux.log >/tmp/mux.out 2>&1 &
mux=$!
wait_for 5 grep -q listening /tmp/mux.out || die "mux-stub did not listen: $(cat /tmp/mux.out)"

# mux_lines: the stub's log since the case began
mux_lines() {
	tail -n +"$((mux_mark + 1))" /tmp/mux.log
}

connected() {
	mux_lines | grep -q '^connect '
}

closed() {
	mux_lines | grep -q '^eof '
}

connect() {
	local t0 pid rc

	rm -f /tmp/c.mon
	mkfifo /tmp/c.mon
	t0=$(uptime_s)
	pvrdma_qemu c 64 52:54:00:00:02:01 none -S -monitor stdio
	pid=$(cat /tmp/c.pid)
	exec 9>/tmp/c.mon	# QEMU reads its monitor from the FIFO
	wait_for 20 connected || { fail "QEMU did not connect in 20 s: $(cat /tmp/c.qemu)"; }
	info "QEMU connected $(since "$t0") s after it started"
	# no guest driver: nothing is sent
	wait_for 2 sh -c "tail -n +$((mux_mark + 1)) /tmp/mux.log | grep -q REQ" &&
		fail "QEMU sent a request without a guest: $(mux_lines | tr '\n' '|')"
	t0=$(uptime_s)
	nested_gone c && { fail "QEMU died: $(tr '\n' '|' </tmp/c.qemu)"; return; }
	echo quit >&9
	wait_for 20 nested_gone c || { kill -9 "$pid"; fail "QEMU still runs 20 s after quit"; }
	wait "$pid"
	rc=$?
	exec 9>&-
	info "QEMU exited with status $rc $(since "$t0") s after quit; it said: $(tr '\n' '|' </tmp/c.qemu)"
	[ "$rc" = 0 ] || fail "QEMU exit status $rc"
	wait_for 5 closed || fail "the stub saw no EOF: $(mux_lines | tr '\n' '|')"
	mux_lines | sed "s/^/mux $case: /"
}

nested() {
	local t0 rc g missing=''

	t0=$(uptime_s)
	nested_run g1 300 --udp 47261:47262 --mac 52:54:00:00:01:01 -- pvrdma-guest 10.1.0.1 \
		>/tmp/g1.out 2>&1
	rc=$?
	info "nested guest: status $rc, $(since "$t0") s from QEMU start to its exit (one retry included if any)"
	[ -e /tmp/g1.serial.first ] &&
		info "first boot died early: $(tail -n 12 /tmp/g1.serial.first | tr '\n' '|')"
	sed "s/^/guest $case: /" /tmp/g1.out
	mux_lines | sed "s/^/mux $case: /"
	if [ "$rc" = 125 ] && [ -e /tmp/g1.serial.first ] && ! grep -q MIGBOX-VM-START /tmp/g1.serial; then
		echo "SKIP $case: the nested guest died before its /init in both boots:" \
			"$(grep -m1 -o 'Oops: .*' /tmp/g1.serial.first); $(grep -m1 -o 'Oops: .*' /tmp/g1.serial)"
		skipped=1
		return
	fi
	[ "$rc" = 0 ] || { fail "the nested guest's scenario: status $rc"; return; }
	grep -q '^ibv_devices: .*vmw_pvrdma0' /tmp/g1.out || fail "no vmw_pvrdma0 in ibv_devices"
	grep -q '^gid ' /tmp/g1.out || fail "the guest printed no GID"
	for g in $(awk '$1 == "gid" { print $3 }' /tmp/g1.out); do
		mux_lines | grep -q "REQ REG $g\$" || missing="$missing $g"
	done
	[ -z "$missing" ] || fail "no REG in the stub's log for:$missing"
	mux_lines | grep -q '^connect ' || fail "QEMU never connected"
}

for case in "$@"; do
	mux_mark=$(wc -l </tmp/mux.log)
	case $case in
	connect|nested) "$case" ;;
	*) fail "no such case" ;;
	esac
	[ "$failed" = 1 ] || [ "$skipped" = 1 ] || echo "PASS $case"
	failed_any=$((${failed_any:-0} | failed))
	failed=0 skipped=0
done
kill "$mux"
exit "${failed_any:-0}"
