# shellcheck shell=sh disable=SC3043
# tests/vm/scenarios/lib.sh - helpers for scenarios (busybox sh, in the guest)
#
# A scenario is tests/vm/scenarios/NAME.sh, run by the VM's /init as
# "sh /scenarios/NAME.sh ARGS..." in /tmp, with every module of the cache
# already loaded and configfs mounted. It begins with
#
#	. /scenarios/lib.sh
#
# (which sets -eu), prints what the test on the host asserts, and exits
# non-zero after saying why when something is wrong.
#
#   log MSG...             "NAME: MSG" on stderr
#   die MSG...             log, then exit 1
#   ip ARGS...             iproute2's ip (a bare "ip" is busybox's applet)
#   wait_for SECS CMD...   run CMD every 0.1 s until it succeeds; fail after SECS
#   new_uuid               print a random UUID
#   setup_rxe              dummy0 with $RXE_ADDR (192.0.2.1/24) and Soft-RoCE
#                          $RXE_DEV (rxe0) on it, waited for until ACTIVE
#   setup_mtty [-t TYPE] UUID...
#                          create mtty mdevs of TYPE (mtty-2: two ports, or
#                          mtty-1) and print the group node (/dev/vfio/N) of each
#   mdev_group UUID        print the /dev/vfio/N of an existing mdev
#   remove_mdev UUID       remove an mdev
#   vm_export FILE [NAME]  send FILE to the host, where tests/vm/run --out DIR
#                          writes it as DIR/NAME (base64 on the console: keep
#                          it small, and print nothing else meanwhile)

set -eu

VM_NAME=${0##*/}
VM_NAME=${VM_NAME%.sh}
RXE_DEV=rxe0
RXE_NETDEV=dummy0
RXE_ADDR=192.0.2.1
MTTY_TYPES=/sys/class/mdev_bus/mtty/mdev_supported_types

log()
{
	echo "$VM_NAME: $*" >&2
}

die()
{
	log "$@"
	exit 1
}

ip()
{
	/usr/sbin/ip "$@"
}

wait_for()
{
	local tries=$(($1 * 10))

	shift
	until "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

new_uuid()
{
	cat /proc/sys/kernel/random/uuid
}

rxe_active()
{
	rdma link show "$RXE_DEV/1" 2>/dev/null | grep -q ' state ACTIVE '
}

setup_rxe()
{
	# Loading dummy.ko makes dummy0 already (numdummies=1).
	ip link show "$RXE_NETDEV" >/dev/null 2>&1 ||
		ip link add "$RXE_NETDEV" type dummy || die "setup_rxe: ip link add $RXE_NETDEV failed"
	ip addr add "$RXE_ADDR/24" dev "$RXE_NETDEV" || die "setup_rxe: ip addr add failed"
	ip link set "$RXE_NETDEV" up || die "setup_rxe: ip link set up failed"
	rdma link add "$RXE_DEV" type rxe netdev "$RXE_NETDEV" ||
		die "setup_rxe: rdma link add $RXE_DEV failed"
	wait_for 5 rxe_active || die "setup_rxe: $RXE_DEV is not ACTIVE after 5 s: $(rdma link show)"
}

mdev_group()
{
	local link

	link=$(readlink "/sys/bus/mdev/devices/$1/iommu_group") ||
		die "mdev_group: $1 has no iommu_group"
	echo "/dev/vfio/${link##*/}"
}

setup_mtty()
{
	local type=mtty-2 uuid group

	if [ "${1:-}" = -t ]; then
		type=$2
		shift 2
	fi
	[ -d "$MTTY_TYPES/$type" ] ||
		die "setup_mtty: no mdev type $type; have: $(ls "$MTTY_TYPES" 2>/dev/null)"
	for uuid in "$@"; do
		echo "$uuid" >"$MTTY_TYPES/$type/create" ||
			die "setup_mtty: creating mdev $uuid of type $type failed"
		group=$(mdev_group "$uuid")
		wait_for 5 test -c "$group" || die "setup_mtty: $group did not appear"
		echo "$group"
	done
}

remove_mdev()
{
	echo 1 >"/sys/bus/mdev/devices/$1/remove" || die "remove_mdev: removing $1 failed"
}

vm_export()
{
	local name="${2:-${1##*/}}"

	case $name in
	*[!A-Za-z0-9._-]*|'') die "vm_export: bad name '$name'" ;;
	esac
	[ -f "$1" ] || die "vm_export: no file $1"
	echo "MIGBOX-VM-FILE $name"
	base64 "$1"
	echo "MIGBOX-VM-FILE-END"
}
