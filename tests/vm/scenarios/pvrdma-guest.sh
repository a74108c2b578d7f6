# SPDX-License-Identifier: GPL-3.0-or-later
# pvrdma-guest: runs inside a nested pvrdma guest (lib.sh's nested_start),
# not in the test VM itself.
#
# usage: pvrdma-guest ADDR [--retry SECS] [CMD [ARGS...]]
#
# Puts ADDR/24 on eth0 (the vmxnet3, function 0 of the pvrdma), waits for
# vmw_pvrdma0 to show the GID of ADDR (::ffff:ADDR), prints
#	ibv_devices: LINE          ibv_devices' output, a line each
#	gid N HEX                  each non-zero GID of port 1, 32 hex digits
#	                           in wire order
#	port STATE                 port 1's state
# then runs CMD ARGS... if given (udaddy, ...) and exits with its status;
# with --retry, once a second until it succeeds or SECS have passed,
# printing "tries N" and the output of the last try only.

. /scenarios/lib.sh

[ $# -ge 1 ] || die "usage: pvrdma-guest ADDR [--retry SECS] [CMD [ARGS...]]"
addr=$1 retry=''
shift
if [ "${1:-}" = --retry ]; then
	retry=$2
	shift 2
fi
DEV=/sys/class/infiniband/vmw_pvrdma0

wait_for 30 test -d "$DEV" ||
	die "no vmw_pvrdma0: $(ls /sys/class/infiniband 2>&1); $(dmesg | grep -i pvrdma | tail -n 5 | tr '\n' '|')"
ip link set eth0 up || die "no eth0 (vmxnet3)"
ip addr add "$addr/24" dev eth0 || die "ip addr add $addr failed"

# ::ffff:a.b.c.d as the 32 hex digits of the GID
want=00000000000000000000ffff$(echo "$addr" | awk -F. '{ printf "%02x%02x%02x%02x", $1, $2, $3, $4 }')

gids()
{
	local f g

	for f in "$DEV"/ports/1/gids/*; do
		g=$(tr -d ':' <"$f" 2>/dev/null) || continue
		case $g in
		''|00000000000000000000000000000000) ;;
		*) echo "gid ${f##*/} $g" ;;
		esac
	done
}

has_addr_gid()
{
	gids | grep -q " $want$"
}

wait_for 30 has_addr_gid || die "no GID $want on vmw_pvrdma0 after 30 s: $(gids | tr '\n' '|')"
ibv_devices | sed 's/^/ibv_devices: /'
gids | sort -n -k2
echo "port $(cat "$DEV/ports/1/state")"
[ $# -gt 0 ] || exit 0
[ -n "$retry" ] || exec "$@"
end=$(($(cut -d. -f1 /proc/uptime) + retry)) tries=0
while :; do
	tries=$((tries + 1))
	"$@" >/tmp/try.out 2>&1 && { rc=0; break; }
	rc=$?
	[ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ] || break
	sleep 1
done
echo "tries $tries"
cat /tmp/try.out
exit "$rc"
