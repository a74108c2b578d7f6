# SPDX-License-Identifier: GPL-3.0-or-later
# rdma2: one of two VMs on one link (tests/vm/run --net): Soft-RoCE on
# eth0, and rdma-recv or rdma-send across the link.
#
# usage: rdma2 recv ADDR      rdma-recv on ADDR:4444, then the output's digests
#        rdma2 send ADDR PEER  stream-gen's digests, then rdma-send to PEER:4444
#
# Prints "digest LINE" lines and "PASS rdma2-ROLE" or "FAIL rdma2-ROLE: why".

. /scenarios/lib.sh
set +e

role=$1 addr=$2 peer=${3:-}
ip link set eth0 up || die "no eth0"
ip addr add "$addr/24" dev eth0 || die "ip addr add $addr failed"
rdma link add rxe0 type rxe netdev eth0 || die "rdma link add on eth0 failed"
wait_for 5 rxe_active || die "rxe0 on eth0 is not ACTIVE"

fail() { echo "FAIL rdma2-$role: $*"; exit 1; }

# the static migbox carries its providers: this VM has no others
[ ! -e /etc/libibverbs.d ] && ! ls /usr/lib/x86_64-linux-gnu/libibverbs 2>/dev/null | grep -q . ||
	fail "rdma-core provider files in the VM: the test would not show that migbox needs none"
echo "info rdma2-$role: no /etc/libibverbs.d, no provider library"

case $role in
recv)
	migbox rdma-recv --timeout 120 -o /tmp/out.mig "$addr:4444" 2> /tmp/recv.err ||
		fail "rdma-recv: $(tr '\n' '|' < /tmp/recv.err)"
	migbox stream-dump --digest /tmp/out.mig | sed 's/^/digest /'
	;;
send)
	migbox stream-gen -s 5 -b pc.ram:64M -b vga:8M -i 2 -r 25 -o /tmp/in.mig
	migbox stream-dump --digest /tmp/in.mig | sed 's/^/digest /'
	# the other VM may still be booting: try until it listens
	tries=0
	until migbox rdma-send --timeout 60 "$peer:4444" < /tmp/in.mig 2> /tmp/send.err; do
		grep -q 'REJECTED\|UNREACHABLE\|ADDR_ERROR\|timed out' /tmp/send.err ||
			fail "rdma-send: $(tr '\n' '|' < /tmp/send.err)"
		tries=$((tries + 1))
		[ $tries -lt 120 ] || fail "no listener on $peer after 60 s: $(tr '\n' '|' < /tmp/send.err)"
		sleep 0.5
	done
	;;
*)
	die "unknown role $role"
	;;
esac
echo "PASS rdma2-$role"
