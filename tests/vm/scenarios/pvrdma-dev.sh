# SPDX-License-Identifier: GPL-3.0-or-later
# pvrdma-dev: QEMU 7.2's pvrdma device against pvrdma-mux on rxe0
# (tests/vm-pvrdma.bats runs it with --nested).
#
# usage: pvrdma-dev CASE...
#   connect   QEMU with -device pvrdma and no guest connects to the mux's
#             socket, sends nothing, and exits 0 on "quit"; the mux saw
#             that QEMU (its pid) come and go, and serves on without it
#   nested    two nested guests with vmw_pvrdma (10.1.0.1 and 10.1.0.2 on
#             one link): each guest's GIDs reach the mux as REG from its
#             QEMU; udaddy's SIDR_REQ from the second guest is routed by
#             the mux to the first's QEMU and the SIDR_REP back; at
#             poweroff every GID is UNREG'd and both QEMUs are forgotten
#
# Prints "PASS CASE" or "FAIL CASE: why" per case, "info CASE: ..." for
# timings, "guest CASE: NAME: ..." and "mux CASE: ..." for what the guests
# printed and what the mux logged; exits 1 if any case failed.

. /scenarios/lib.sh
set +e

MUX_STATS=/tmp/mux.json
failed=0
fail() { echo "FAIL $case: $*"; failed=1; }
info() { echo "info $case: $*"; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'; }

setup_rxe
# the kernel's CM owns the CM class while loaded: pvrdma-mux needs it
for m in rdma_ucm rdma_cm iw_cm ib_cm; do
	rmmod "$m" 2>/dev/null
done
grep -q '^ib_cm ' /proc/modules && die "ib_cm still loaded: $(grep '^ib_cm ' /proc/modules)"
migbox pvrdma-mux -d "$RXE_DEV" -s "${MUX_SOCK%-$RXE_DEV-1}" --trace -v \
	--stats-json "$MUX_STATS" 2>/tmp/mux.log &
mux=$!
wait_for 10 test -S "$MUX_SOCK" || die "pvrdma-mux did not listen: $(tr '\n' '|' </tmp/mux.log)"

# mux_lines: the mux's log since the case began
mux_lines() {
	tail -n +"$((mux_mark + 1))" /tmp/mux.log
}

mux_said() {
	mux_lines | grep -q "$1"
}

mux_alive() {
	kill -0 "$mux" 2>/dev/null
}

# mux_stat KEY: a number from the mux's statistics, written on SIGUSR1
mux_stat() {
	rm -f "$MUX_STATS"
	kill -USR1 "$mux"
	wait_for 5 test -s "$MUX_STATS" || { echo none; return; }
	tr -d ' \n' <"$MUX_STATS" | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2
}

connect() {
	local t0 pid rc

	rm -f /tmp/c.mon
	mkfifo /tmp/c.mon
	t0=$(uptime_s)
	pvrdma_qemu c 64 52:54:00:00:02:01 none -S -monitor stdio
	pid=$(cat /tmp/c.pid)
	exec 9<>/tmp/c.mon	# QEMU reads its monitor from the FIFO; read-write: never blocks
	wait_for 20 mux_said "client [0-9]* (pid $pid) connected" ||
		{ fail "QEMU did not connect in 20 s: $(tr '\n' '|' </tmp/c.qemu)"; return; }
	info "QEMU connected $(since "$t0") s after it started"
	[ "$(mux_stat clients)" = 1 ] || fail "the mux counts $(mux_stat clients) clients, not 1"
	# no guest driver: nothing is sent
	wait_for 2 mux_said "REG\|MAD\|UNREG" && fail "QEMU sent a request without a guest"
	nested_gone c && { fail "QEMU died: $(tr '\n' '|' </tmp/c.qemu)"; return; }
	t0=$(uptime_s)
	echo quit >&9
	wait_for 20 nested_gone c || { kill -9 "$pid"; fail "QEMU still runs 20 s after quit"; }
	wait "$pid"
	rc=$?
	exec 9>&-
	info "QEMU exited with status $rc $(since "$t0") s after quit"
	[ "$rc" = 0 ] || fail "QEMU exit status $rc: $(tr '\n' '|' </tmp/c.qemu)"
	wait_for 5 mux_said "client [0-9]* (pid $pid) disconnected; its 0 GIDs are forgotten" ||
		fail "the mux did not see QEMU go"
	mux_alive || fail "the mux died"
	[ "$(mux_stat clients)" = 0 ] || fail "the mux still counts a client"
	[ "$(mux_stat mads_sent)" = 0 ] || fail "the mux sent MADs"
	mux_lines | sed "s/^/mux $case: /"
}

# client_of NAME: the mux's number for the guest's QEMU (its last boot)
client_of() {
	mux_lines | sed -n "s/.*client \([0-9]*\) (pid $(cat "/tmp/$1.pid")) connected.*/\1/p" | head -n 1
}

# guest_gids_ok NAME ADDR: every GID the guest printed was registered by
# its QEMU and unregistered at its poweroff, ::ffff:ADDR among them, and
# the mux forgot that QEMU with no GID left
guest_gids_ok() {
	local c n regs unregs pid

	pid=$(cat "/tmp/$1.pid")
	c=$(client_of "$1")
	[ -n "$c" ] || { fail "$1: its QEMU (pid $pid) never connected"; return; }
	n=$(grep -c '^gid ' "/tmp/$1.out")
	regs=$(mux_lines | grep -c "client $c: REG .*: OK")
	unregs=$(mux_lines | grep -c "client $c: UNREG .*: OK")
	info "$1: QEMU pid $pid is client $c; $n GIDs in the guest, $regs REG and $unregs UNREG"
	[ "$regs" -ge "$n" ] || fail "$1: $n GIDs in the guest, $regs REG through the mux"
	[ "$unregs" = "$regs" ] || fail "$1: $regs REG, $unregs UNREG"
	mux_said "client $c: REG ::ffff:$2: OK" || fail "$1: no REG ::ffff:$2"
	mux_said "client $c: UNREG ::ffff:$2: OK" || fail "$1: no UNREG ::ffff:$2"
	mux_said "client $c (pid $pid) disconnected; its 0 GIDs are forgotten" ||
		fail "$1: the mux did not see its QEMU go with no GID left"
}

nested() {
	local t0 g

	# rxe0 must own the guests' GIDs (libvirt's job beside a pvrdma guest)
	ip addr add 10.1.0.1/24 dev "$RXE_NETDEV" && ip addr add 10.1.0.2/24 dev "$RXE_NETDEV" ||
		{ fail "ip addr add 10.1.0.x failed"; return; }
	t0=$(uptime_s)
	# g1 serves one udaddy exchange; g2 tries until g1's server listens
	# (before that, g1's kernel refuses the SIDR_REQ). g1's server fails
	# to answer the data it received: "failed to create reply AH" (an AH
	# from the received work completion, which pvrdma over rxe does not
	# make); it prints its status and the case judges.
	nested_start g1 --udp 47261:47262 --mac 52:54:00:00:01:01 -- \
		pvrdma-guest 10.1.0.1 sh -c 'timeout 900 udaddy; echo "udaddy status $?"'
	nested_start g2 --udp 47262:47261 --mac 52:54:00:00:01:02 -- \
		pvrdma-guest 10.1.0.2 --retry 900 timeout 30 udaddy -s 10.1.0.1
	nested_wait_all 1500 g1 g2
	info "both guests done $(since "$t0") s after their QEMUs started"
	for g in g1 g2; do
		[ -e "/tmp/$g.serial.first" ] &&
			info "$g: the first boot died early: $(tail -n 12 "/tmp/$g.serial.first" | tr '\n' '|')"
		sed "s/^/guest $case: $g: /" "/tmp/$g.out"
	done
	mux_lines | sed "s/^/mux $case: /"
	for g in g1 g2; do
		case $(cat "/tmp/$g.rc") in
		0) ;;
		125) fail "guest $g died before its scenario$([ -e "/tmp/$g.serial.first" ] &&
			echo ' in both boots'): $(grep -h -m1 -o 'Oops: .*\|double fault.*\|Kernel panic.*' \
			"/tmp/$g.serial.first" "/tmp/$g.serial" 2>/dev/null | tr '\n' '|')" ;;
		*) fail "guest $g: status $(cat "/tmp/$g.rc")" ;;
		esac
		grep -q '^ibv_devices: .*vmw_pvrdma0' "/tmp/$g.out" || fail "$g: no vmw_pvrdma0 in ibv_devices"
		grep -q '^gid ' "/tmp/$g.out" || fail "$g: the guest printed no GID"
	done
	[ "$failed" = 0 ] || return
	guest_gids_ok g1 10.1.0.1
	guest_gids_ok g2 10.1.0.2
	# the client: SIDR resolved, its datagrams sent, the replies seen
	grep -q '^data transfers complete' /tmp/g2.out || fail "g2's udaddy did not complete"
	# the server: the SIDR_REQ answered (status 0), the client's datagrams
	# received
	grep -q '^receiving data transfers' /tmp/g1.out || fail "g1's udaddy received nothing"
	info "g1's udaddy: $(grep -v '^ibv_devices\|^gid\|^port' /tmp/g1.out | tr '\n' '|')"
	mux_said "out SIDR_REP 0x0018 client $(client_of g1): comm ids 0x[0-9a-f]* 0x00000000, " ||
		fail "g1's QEMU sent no SIDR_REP of status 0"
	mux_said "in SIDR_REQ 0x0017 client $(client_of g1): .*by GID" ||
		fail "no SIDR_REQ routed by GID to g1's QEMU"
	mux_said "in SIDR_REP 0x0018 client $(client_of g2): .*by comm id" ||
		fail "no SIDR_REP routed by comm id to g2's QEMU"
	mux_alive || fail "the mux died"
	[ "$(mux_stat clients)" = 0 ] || fail "the mux still counts a client"
	[ "$(mux_stat gids)" = 0 ] || fail "the mux still holds GIDs"
}

for case in "$@"; do
	mux_mark=$(wc -l </tmp/mux.log)
	case $case in
	connect|nested) "$case" ;;
	*) fail "no such case" ;;
	esac
	[ "$failed" = 1 ] || echo "PASS $case"
	failed_any=$((${failed_any:-0} | failed))
	failed=0
done
kill -TERM "$mux"
wait "$mux"
echo "mux exit $?"
exit "${failed_any:-0}"
