# SPDX-License-Identifier: GPL-3.0-or-later
# rdma-bench: one rxe link, the same bytes four ways (bench/rdma.sh):
# perftest's ib_write_bw, rdma-send -> rdma-recv, QEMU -> QEMU RDMA
# migration, multifd-send -> multifd-recv over TCP on the same netdev.
#
# usage: rdma-bench MIB
#
# Prints "bench NAME BYTES SECONDS CPU_SRC CPU_DST" lines (CPU in seconds,
# user+system of each side), and "FAIL ..." if a run failed.

. /scenarios/lib.sh
set +e

MIB=${1:-256}
ADDR=$RXE_ADDR
HZ=100
setup_rxe

uptime_s() { cut -d' ' -f1 /proc/uptime; }
# cpu PID: user+system seconds of a live process
cpu() { awk -v hz=$HZ '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# run_cpu OUTVAR CMD...: runs CMD, sets OUTVAR to its user+system seconds
run_cpu() {
	local var=$1 t
	shift
	t=$( { busybox time -f '%U %S' "$@" 2>&1 1>&3 3>&- | tail -n 1; } 3>&1 )
	eval "$var=\$(echo \$t | awk '{ print \$1 + \$2 }')"
}

# --- ib_write_bw: MIB writes of 1 MiB ---
ib_write_bw -d rxe0 -R -F -s 1048576 -n "$MIB" > /tmp/ibs.out 2>&1 &
srv=$!
sleep 1
t0=$(uptime_s)
ib_write_bw -d rxe0 -R -F -s 1048576 -n "$MIB" "$ADDR" > /tmp/ibc.out 2>&1 || echo "FAIL ib_write_bw: $(tail -n 3 /tmp/ibc.out)"
t1=$(uptime_s)
wait $srv
bw=$(awk '$1 == 1048576 { print $4 }' /tmp/ibc.out | tail -n 1)
echo "bench ib_write_bw $((MIB << 20)) $(awk "BEGIN { print ($MIB * 1.048576) / ($bw > 0 ? $bw : 1) }") - - (average $bw MB/s, wall $(awk "BEGIN { print $t1 - $t0 }") s with set-up)"

# --- a guest's RAM, saved by QEMU: the stream for migbox ---
head -c $((MIB << 20)) /dev/urandom > /tmp/pattern.img
mkfifo /tmp/q.mon
qemu-system-x86_64 -accel tcg -M pc -m "$MIB" -nodefaults -display none -S -monitor stdio \
	-object memory-backend-file,id=m,size=${MIB}M,mem-path=/tmp/pattern.img,share=off \
	-machine memory-backend=m < /tmp/q.mon > /tmp/q.log 2>&1 &
qpid=$!
exec 9<> /tmp/q.mon
echo "migrate -d exec:cat>/tmp/saved.mig" >&9
until grep -q 'Migration status: completed' /tmp/q.log; do echo "info migrate" >&9; sleep 0.5; done
echo quit >&9
wait $qpid
exec 9>&-
bytes=$(wc -c < /tmp/saved.mig)

# --- rdma-send -> rdma-recv ---
busybox time -o /tmp/rr.cpu -f '%U %S' migbox rdma-recv --timeout 120 "$ADDR:4444" > /dev/null 2> /tmp/rr.err &
rpid=$!
wait_for 10 grep -q 'listening on' /tmp/rr.err
t0=$(uptime_s)
run_cpu send_cpu migbox rdma-send --timeout 120 "$ADDR:4444" < /tmp/saved.mig || echo "FAIL rdma-send"
t1=$(uptime_s)
wait $rpid || echo "FAIL rdma-recv: $(cat /tmp/rr.err)"
rcpu=$(awk '{ print $1 + $2 }' /tmp/rr.cpu)
echo "bench rdma-send $bytes $(awk "BEGIN { print $t1 - $t0 }") $send_cpu $rcpu"

# --- QEMU -> QEMU over RDMA ---
rm -f /tmp/q.mon /tmp/d.mon
mkfifo /tmp/q.mon /tmp/d.mon
truncate -s ${MIB}M /tmp/dst.img
qemu-system-x86_64 -accel tcg -M pc -m "$MIB" -nodefaults -display none -S -monitor stdio \
	-object memory-backend-file,id=m,size=${MIB}M,mem-path=/tmp/dst.img,share=on \
	-machine memory-backend=m -incoming "rdma:$ADDR:4445" < /tmp/d.mon > /tmp/d.log 2>&1 &
dpid=$!
exec 8<> /tmp/d.mon
qemu-system-x86_64 -accel tcg -M pc -m "$MIB" -nodefaults -display none -S -monitor stdio \
	-object memory-backend-file,id=m,size=${MIB}M,mem-path=/tmp/pattern.img,share=off \
	-machine memory-backend=m < /tmp/q.mon > /tmp/q.log 2>&1 &
qpid=$!
exec 9<> /tmp/q.mon
sleep 2
c0s=$(cpu $qpid) c0d=$(cpu $dpid)
echo "migrate -d rdma:$ADDR:4445" >&9
until grep -q 'Migration status: \(completed\|failed\)' /tmp/q.log; do echo "info migrate" >&9; sleep 0.5; done
c1s=$(cpu $qpid) c1d=$(cpu $dpid)
grep -q 'Migration status: completed' /tmp/q.log || echo "FAIL QEMU -> QEMU: $(grep -i error /tmp/q.log | tail -n 2)"
ms=$(grep -o 'total time: [0-9]* ms' /tmp/q.log | tail -n 1 | grep -o '[0-9]*')
echo "bench qemu-rdma $bytes $(awk "BEGIN { print $ms / 1000 }") $(awk "BEGIN { print $c1s - $c0s }") $(awk "BEGIN { print $c1d - $c0d }")"
echo quit >&9
echo quit >&8
wait $qpid $dpid
exec 8>&- 9>&-
cmp -s /tmp/dst.img /tmp/pattern.img || echo "FAIL QEMU -> QEMU: the RAM differs"
rm -f /tmp/dst.img

# --- multifd over TCP on the same netdev ---
for c in 2; do
	busybox time -o /tmp/mr.cpu -f '%U %S' migbox multifd-recv -c $c --timeout 120 "$ADDR:5555" \
		> /dev/null 2> /tmp/mr.err &
	rpid=$!
	wait_for 10 grep -q 'listening on' /tmp/mr.err
	t0=$(uptime_s)
	run_cpu send_cpu migbox multifd-send -c $c --timeout 120 "$ADDR:5555" < /tmp/saved.mig ||
		echo "FAIL multifd-send"
	t1=$(uptime_s)
	wait $rpid || echo "FAIL multifd-recv: $(cat /tmp/mr.err)"
	rcpu=$(awk '{ print $1 + $2 }' /tmp/mr.cpu)
	echo "bench multifd-c$c $bytes $(awk "BEGIN { print $t1 - $t0 }") $send_cpu $rcpu"
done
