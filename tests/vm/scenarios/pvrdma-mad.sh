# SPDX-License-Identifier: GPL-3.0-or-later
# pvrdma-mad: one of two VMs on one link (tests/vm/run --net), Soft-RoCE on
# eth0: real CM MADs through pvrdma-mux.
#
# usage: pvrdma-mad mux ADDR       pvrdma-mux on rxe0 (the kernel's ib_cm
#                                  unloaded) with mux-client as the QEMU
#                                  side owning ::ffff:ADDR: it answers the
#                                  REQs routed to it with a REJ, the
#                                  SIDR_REQs with a SIDR_REP (rejected);
#                                  first it tries a MAD from ADDR+2 (put on
#                                  eth0 as another guest's GID)
#        pvrdma-mad req ADDR PEER  rdma-send to PEER (its kernel's rdma_cm
#                                  sends a real REQ) until it is REJECTED,
#                                  then udaddy -s PEER (a real SIDR_REQ,
#                                  RDMA_PS_UDP) until it is UNREACHABLE
#                                  with the client's status 2
#
# Prints "PASS pvrdma-mad-ROLE" or "FAIL pvrdma-mad-ROLE: why", and the
# mux's log and figures as "mux: " and "stats: " lines.

. /scenarios/lib.sh
set +e

role=$1 addr=$2 peer=${3:-}
fail() { echo "FAIL pvrdma-mad-$role: $*"; exit 1; }

ip link set eth0 up || fail "no eth0"
ip addr add "$addr/24" dev eth0 || fail "ip addr add $addr failed"
rdma link add rxe0 type rxe netdev eth0 || fail "rdma link add on eth0 failed"
wait_for 5 rxe_active || fail "rxe0 on eth0 is not ACTIVE"

# the sysfs index of rxe0's GID ::ffff:ADDR (default: this VM's address)
gid_index() {
	local hex want f a=${1:-$addr}
	hex=$(echo "$a" | awk -F. '{ printf "%02x%02x:%02x%02x", $1, $2, $3, $4 }')
	want="0000:0000:0000:0000:0000:ffff:$hex"
	for f in /sys/class/infiniband/rxe0/ports/1/gids/*; do
		[ "$(cat "$f" 2>/dev/null)" = "$want" ] && { echo "${f##*/}"; return 0; }
	done
	return 1
}

case $role in
mux)
	# the kernel's CM owns the CM class while loaded: the mux cannot start
	migbox pvrdma-mux -d rxe0 -s /tmp/mux 2> /tmp/busy.err
	grep -q 'the kernel.s ib_cm owns them' /tmp/busy.err ||
		fail "with ib_cm loaded: $(tr '\n' '|' < /tmp/busy.err)"
	echo "busy: $(cat /tmp/busy.err)"
	for m in rdma_ucm rdma_cm iw_cm ib_cm; do
		rmmod "$m" 2>/dev/null
	done
	grep -q '^ib_cm ' /proc/modules && fail "ib_cm still loaded"
	wait_for 10 gid_index > /dev/null || fail "no GID ::ffff:$addr on rxe0"
	idx=$(gid_index)
	# another guest's GID on the same port (as libvirt would add it), for
	# a GRH this client may not use
	other=${addr%.*}.$((${addr##*.} + 2))
	ip addr add "$other/24" dev eth0 || fail "ip addr add $other failed"
	wait_for 10 gid_index "$other" > /dev/null || fail "no GID ::ffff:$other on rxe0"
	foreign=$(gid_index "$other")
	migbox pvrdma-mux -d rxe0 -s /tmp/mux --trace -v --stats-json /tmp/mux.json 2> /tmp/mux.log &
	mux=$!
	wait_for 10 test -S /tmp/mux-rxe0-1 || fail "no mux socket: $(tr '\n' '|' < /tmp/mux.log)"
	mux-client /tmp/mux-rxe0-1 "::ffff:$addr" "$idx" 120 15 "$foreign" > /tmp/client.out 2>&1
	rc=$?
	sed 's/^/client: /' /tmp/client.out
	# mux-client answered every REQ and SIDR_REQ until none came for 15 s:
	# the peer has seen both refusals by now
	kill -TERM $mux
	wait $mux
	echo "mux exit $?"
	sed 's/^/mux: /' /tmp/mux.log
	tr -d '\n ' < /tmp/mux.json | sed 's/^/stats: /'
	echo
	[ $rc -eq 0 ] || fail "mux-client exited $rc"
	;;
req)
	migbox stream-gen -s 3 -b pc.ram:1M -o /tmp/in.mig
	tries=0
	# REJECTED with status 28 (consumer reject) is the client's REJ; the
	# peer's own ib_cm, before it is unloaded there, rejects with 8
	# (invalid service id)
	until grep -q 'REJECTED (status 28)' /tmp/send.err 2>/dev/null; do
		migbox rdma-send --timeout 5 "$peer:4444" < /tmp/in.mig 2> /tmp/send.err &&
			fail "rdma-send succeeded: nobody listens there"
		tries=$((tries + 1))
		[ $tries -lt 25 ] || fail "never REJECTED: $(tr '\n' '|' < /tmp/send.err)"
	done
	echo "rejected: $(grep 'REJECTED (status 28)' /tmp/send.err | head -n 1)"
	# SIDR: the peer's mux routes the SIDR_REQ by the GID in its private
	# data; the client's SIDR_REP (status 2) comes back through the mux
	tries=0
	until grep -q 'UNREACHABLE, error: 2$' /tmp/udaddy.out 2>/dev/null; do
		timeout 20 udaddy -s "$peer" > /tmp/udaddy.out 2>&1 &&
			fail "udaddy succeeded: $(tr '\n' '|' < /tmp/udaddy.out)"
		tries=$((tries + 1))
		[ $tries -lt 5 ] || fail "udaddy never UNREACHABLE with status 2: $(tr '\n' '|' < /tmp/udaddy.out)"
	done
	echo "sidr: $(grep 'UNREACHABLE' /tmp/udaddy.out | head -n 1)"
	;;
*)
	die "unknown role $role"
	;;
esac
echo "PASS pvrdma-mad-$role"
