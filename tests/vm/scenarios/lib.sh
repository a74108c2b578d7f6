# SPDX-License-Identifier: GPL-3.0-or-later
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
#   uptime_s               seconds since boot, for timings ("12.34")
#
# QEMU 7.2 pvrdma (tests/vm/run --qemu, and --nested for the guests):
#   pvrdma_qemu NAME MEM-MB MAC NETDEV [QEMU-ARGS...]
#                          QEMU in the background (pid in /tmp/NAME.pid, its
#                          output in /tmp/NAME.qemu, its stdin the FIFO
#                          /tmp/NAME.mon if there is one) with a vmxnet3 on
#                          00:10.0 (MAC, on -netdev NETDEV,id=n0 unless
#                          NETDEV is "none") and a pvrdma on 00:10.1 over
#                          $RXE_DEV, whose MAD chardev connects to $MUX_SOCK
#   nested_start NAME [--mem MB] [--udp LOCAL:PEER] [--mac MAC]
#                [--add FILE:GUESTPATH]... -- SCENARIO ARGS...
#                          boot a nested guest (this kernel, under PVH) whose
#                          /init runs /scenarios/SCENARIO.sh ARGS... as this
#                          VM's does; the vmxnet3 is on a UDP socket netdev
#                          (127.0.0.1:LOCAL, sending to PEER: two guests with
#                          mirrored ports share a link); serial console in
#                          /tmp/NAME.console
#   nested_wait NAME SECS  wait until QEMU exits (the guest powers off) and
#                          print the scenario's output; returns its status,
#                          124 after SECS (QEMU is killed), 125 when the guest
#                          died without one
#   nested_run NAME SECS ARGS...
#                          nested_start NAME ARGS... and nested_wait, booting
#                          once more when the guest died before its scenario
#                          started (nested TCG without -icount died early in
#                          one boot of two: a GPF in text_poke_early)
#   nested_wait_all SECS NAME...
#                          wait for guests started together, booting each
#                          once more if it died before its scenario started;
#                          a guest's output goes to /tmp/NAME.out, its status
#                          to /tmp/NAME.rc (as nested_wait's), the first
#                          boot's console of a retried guest to
#                          /tmp/NAME.serial.first; returns 0 if all were 0

set -eu

VM_NAME=${0##*/}
VM_NAME=${VM_NAME%.sh}
RXE_DEV=rxe0
RXE_NETDEV=dummy0
RXE_ADDR=192.0.2.1
MTTY_TYPES=/sys/class/mdev_bus/mtty/mdev_supported_types
MUX_SOCK=/run/rdmacm-mux-$RXE_DEV-1

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

uptime_s()
{
	cut -d' ' -f1 /proc/uptime
}

# Single-quote a word for sh.
sh_quote()
{
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

pvrdma_qemu()
{
	local name=$1 mem=$2 mac=$3 netdev=$4 nic in=/dev/null

	shift 4
	[ -p "/tmp/$name.mon" ] && in=/tmp/$name.mon
	nic=vmxnet3,addr=10.0,multifunction=on,mac=$mac,romfile=
	if [ "$netdev" != none ]; then
		nic=$nic,netdev=n0
		set -- -netdev "$netdev,id=n0" "$@"
	fi
	# QEMU 7.2 wants the guest RAM shared, a vmxnet3 on function 0 of the
	# pvrdma's slot and an ibdev that exists (else it segfaults).
	# romfile=: no efi-vmxnet3.rom in the VM. netdev= of pvrdma is the
	# name of the host interface behind ibdev, for its QMP events only.
	qemu-system-x86_64 -accel tcg -cpu qemu64,+rdrand -m "$mem" -smp 1 \
		-object "memory-backend-ram,id=mem,size=${mem}M,share=on" -numa node,memdev=mem \
		-nodefaults -no-user-config -display none -no-reboot \
		-device "$nic" \
		-chardev "socket,path=$MUX_SOCK,id=mads" \
		-device "pvrdma,addr=10.1,ibdev=$RXE_DEV,netdev=$RXE_NETDEV,mad-chardev=mads" \
		"$@" <"$in" >"/tmp/$name.qemu" 2>&1 &
	echo $! >"/tmp/$name.pid"
}

nested_start()
{
	local name=$1 mem=512 udp='' mac=52:54:00:00:01:01 job a

	shift
	# for nested_restart
	for a in "$@"; do
		printf ' %s' "$(sh_quote "$a")"
	done >"/tmp/$name.args"
	while [ $# -gt 0 ]; do
		case $1 in
		--mem) mem=$2; shift 2 ;;
		--udp) udp=$2; shift 2 ;;
		--mac) mac=$2; shift 2 ;;
		--add) job="${job:+$job }$2"; shift 2 ;;
		--) shift; break ;;
		*) die "nested_start: unknown option $1" ;;
		esac
	done
	[ $# -ge 1 ] || die "nested_start: no scenario"
	[ -f /nested/vmlinux ] && [ -f /nested/base.cpio ] ||
		die "nested_start: no /nested/vmlinux or /nested/base.cpio: run the VM with --nested"
	[ -n "$udp" ] || udp=47261:47262

	# The guest's job: the scenarios and what /init is to run, as the
	# host's tests/vm/run writes it, in a second archive after the base.
	rm -rf "/tmp/$name.job"
	mkdir -p "/tmp/$name.job/etc/vm" "/tmp/$name.job/scenarios"
	cp /scenarios/*.sh "/tmp/$name.job/scenarios/"
	for a in ${job:-}; do
		mkdir -p "/tmp/$name.job/$(dirname "${a#*:}")"
		cp -a "${a%%:*}" "/tmp/$name.job/${a#*:}" || die "nested_start: --add $a failed"
	done
	{
		printf 'VM_SCENARIO=%s\nset --' "$(sh_quote "$1")"
		shift
		for a in "$@"; do
			printf ' %s' "$(sh_quote "$a")"
		done
		echo
	} >"/tmp/$name.job/etc/vm/scenario"
	(cd "/tmp/$name.job" && find . -mindepth 1 | sort | cpio -o -H newc 2>/dev/null) \
		>"/tmp/$name.job.cpio" || die "nested_start: cpio of the job failed"
	cat /nested/base.cpio "/tmp/$name.job.cpio" >"/tmp/$name.initrd"

	rm -f "/tmp/$name.console"
	# -icount: the guest's clock follows the instructions it runs (16 ns
	# each), not the wall clock. Nested TCG runs it some 50 times slower
	# than a real CPU; on the wall clock it took that many more timer
	# interrupts per instruction and died early in one boot of two (a GPF
	# in text_poke_early, a double fault), where with -icount none of the
	# boots tried did.
	pvrdma_qemu "$name" "$mem" "$mac" \
		"socket,udp=127.0.0.1:${udp#*:},localaddr=127.0.0.1:${udp%%:*}" \
		-serial "file:/tmp/$name.console" \
		-kernel /nested/vmlinux -initrd "/tmp/$name.initrd" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off" \
		-icount shift=4,sleep=on
}

nested_gone()
{
	local pid

	pid=$(cat "/tmp/$1.pid")
	# a zombie is gone too: the shell may not have reaped it yet
	[ ! -r "/proc/$pid/stat" ] || [ "$(cut -d' ' -f3 "/proc/$pid/stat")" = Z ]
}

# nested_died_early NAME: the guest (gone) never started its scenario
nested_died_early()
{
	! grep -q MIGBOX-VM-START "/tmp/$1.console" 2>/dev/null
}

nested_restart()
{
	cp "/tmp/$1.console" "/tmp/$1.serial.first" 2>/dev/null
	log "nested guest $1 died before its scenario: $(tr -d '\r' <"/tmp/$1.console" |
		grep -m1 -o 'general protection.*\|Kernel panic.*\|double fault.*'); booting it again"
	eval "nested_start $(sh_quote "$1") $(cat "/tmp/$1.args")"
}

# nested_result NAME: reap the guest (gone), print its scenario's output
# and return its status
nested_result()
{
	local name=$1 rc

	wait "$(cat "/tmp/$name.pid")" 2>/dev/null
	tr -d '\r' <"/tmp/$name.console" >"/tmp/$name.serial" 2>/dev/null
	awk '/MIGBOX-VM-EXIT=/ { sub(/MIGBOX-VM-EXIT=.*/, ""); if ($0 != "") print; exit }
	     on { print } $0 == "MIGBOX-VM-START" { on = 1 }' "/tmp/$name.serial"
	rc=$(sed -n 's/.*MIGBOX-VM-EXIT=\([0-9]*\).*/\1/p' "/tmp/$name.serial" | head -n 1)
	if [ -z "$rc" ]; then
		log "nested guest $name: no exit status; QEMU: $(tr '\n' '|' <"/tmp/$name.qemu")"
		log "nested guest $name: console tail: $(tail -n 8 "/tmp/$name.serial" | tr '\n' '|')"
		return 125
	fi
	return "$rc"
}

nested_kill()
{
	kill -9 "$(cat "/tmp/$1.pid")" 2>/dev/null
	wait "$(cat "/tmp/$1.pid")" 2>/dev/null
	log "nested guest $1: still running, killed"
}

nested_wait()
{
	local name=$1 secs=$2

	if ! wait_for "$secs" nested_gone "$name"; then
		nested_kill "$name"
		return 124
	fi
	nested_result "$name"
}

nested_run()
{
	local name=$1 secs=$2 rc

	shift 2
	nested_start "$name" "$@"
	nested_wait "$name" "$secs"
	rc=$?
	if [ "$rc" = 125 ] && nested_died_early "$name"; then
		nested_restart "$name"
		nested_wait "$name" "$secs"
		rc=$?
	fi
	return "$rc"
}

# nested_pending NAME...: poll once; reap the guests that are gone (their
# status into /tmp/NAME.rc), restarting a first early death; true while
# one runs
nested_pending()
{
	local name rc busy=1

	for name in "$@"; do
		[ -e "/tmp/$name.rc" ] && continue
		nested_gone "$name" || { busy=0; continue; }
		if nested_died_early "$name" && [ ! -e "/tmp/$name.serial.first" ]; then
			nested_restart "$name"
			busy=0
			continue
		fi
		nested_result "$name" >"/tmp/$name.out"
		echo $? >"/tmp/$name.rc"
	done
	return "$busy"
}

nested_wait_all()
{
	local secs=$1 name rc=0

	shift
	for name in "$@"; do
		rm -f "/tmp/$name.rc" "/tmp/$name.out" "/tmp/$name.serial.first"
	done
	# once a second: each poll forks, and the guests need the CPU
	while [ "$secs" -gt 0 ] && nested_pending "$@"; do
		sleep 1
		secs=$((secs - 1))
	done
	for name in "$@"; do
		if [ ! -e "/tmp/$name.rc" ]; then
			nested_kill "$name"
			echo 124 >"/tmp/$name.rc"
		fi
		[ "$(cat "/tmp/$name.rc")" = 0 ] || rc=1
	done
	return "$rc"
}
