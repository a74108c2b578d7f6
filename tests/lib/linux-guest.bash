# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/linux-guest.bash - a small Linux guest for tests against real QEMU
#
# Load from bats after lib/qemu (`load lib/qemu`, `load lib/linux-guest`).
# The guest is Debian's kernel from the test VM's cache (tests/vm/fetch
# builds it, once per kernel version) and a tiny initramfs: busybox-static
# and an /init that writes a 16 MiB file of deterministic pseudo-random
# bytes into a tmpfs, prints "SUM <md5 of it>", then "TICK 1", "TICK 2", ...
# every 0.2 s forever, and "SUM <md5>" again after every 10th TICK. Its
# serial console goes to a file, so what a restored guest prints after it
# resumes shows that it carried on where it stopped and its RAM survived.
#
#   linux_guest_kernel           ensure the kernel cache; print vmlinux's path
#   linux_guest_initramfs FILE   write the initramfs (newc cpio) to FILE
#   linux_guest_args SERIAL      print the QEMU arguments, one per line, for
#                                the kernel, initramfs, command line and a
#                                serial console into the file SERIAL (the
#                                same on a source and its destination, as
#                                the machine must match)
#   linux_guest_booted SERIAL N  the guest printed its first SUM and N TICKs
#   linux_guest_ticks SERIAL     the numbers of the complete TICK lines
#   linux_guest_sums SERIAL      the digests of the complete SUM lines
#   linux_guest_sums_after SERIAL N  those computed after TICK N+1 or later
#   linux_guest_resumed SERIAL LAST  the TICKs carry on from LAST, no panic
#   linux_guest_wait SERIAL TIMEOUT CONDITION...
#                                poll until the command CONDITION succeeds
#   linux_guest_tail SERIAL      the last lines of the console, for failures
#
# Needs: busybox-static (/bin/busybox), cpio, and for a missing kernel cache
# what tests/vm/fetch needs (apt, network, root).

LINUX_GUEST_VM_CACHE=${MIGBOX_VM_CACHE:-/var/cache/migbox-vm}
LINUX_GUEST_BUSYBOX=${LINUX_GUEST_BUSYBOX:-/bin/busybox}
# quiet: the console holds what /init prints and the kernel's errors only;
# panic=0: a panic stays on the console (the serial file) and QEMU runs on.
LINUX_GUEST_APPEND='console=ttyS0 quiet panic=0 mitigations=off'

_linux_guest_fail() {
	printf 'linux-guest.bash: %s\n' "$*" >&2
	return 1
}

# linux_guest_kernel: the path of an uncompressed vmlinux QEMU boots with
# -kernel (PVH). A missing cache is built by the VM harness's own script.
linux_guest_kernel() {
	local fetch k
	fetch=$(cd "${BASH_SOURCE[0]%/*}/../vm" && pwd)/fetch
	k=$LINUX_GUEST_VM_CACHE/current
	if [[ ! -f $k/stamp || ! -f $k/vmlinux ]]; then
		echo "linux-guest.bash: no kernel in $LINUX_GUEST_VM_CACHE: running tests/vm/fetch" >&2
		MIGBOX_VM_CACHE=$LINUX_GUEST_VM_CACHE "$fetch" >/dev/null ||
			{ _linux_guest_fail "tests/vm/fetch failed: no kernel for the Linux guest"; return 1; }
	fi
	[[ -f $k/vmlinux ]] ||
		{ _linux_guest_fail "tests/vm/fetch left no $k/vmlinux"; return 1; }
	readlink -f "$k/vmlinux"
}

# The guest's /init (busybox sh). The data: a Park-Miller generator from
# seed 20261122 fills a 64 KiB pool of bytes 1..255; page N is the line
# "page N" followed by pool bytes from an offset the generator picks, so
# every page differs and none is zero.
_linux_guest_init() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o size=32m tmpfs /tmp
LC_ALL=C awk 'BEGIN {
	x = 20261122
	while (length(pool) < 65536) {
		chunk = ""
		for (i = 0; i < 1024; i++) {
			x = (x * 16807) % 2147483647
			chunk = chunk sprintf("%c", 1 + x % 255)
		}
		pool = pool chunk
	}
	for (p = 0; p < 4096; p++) {
		hdr = sprintf("page %d\n", p)
		x = (x * 16807) % 2147483647
		printf "%s%s", hdr, substr(pool, x % 61440 + 1, 4096 - length(hdr))
	}
}' >/tmp/data
sum() {
	echo "SUM $(md5sum </tmp/data | cut -d' ' -f1) $(wc -c </tmp/data)"
}
sum
n=0
while :; do
	n=$((n + 1))
	echo "TICK $n"
	[ $((n % 10)) -ne 0 ] || sum
	usleep 200000
done
EOF
}

# linux_guest_initramfs FILE: /init, busybox and the directories, as a
# newc cpio owned by root.
linux_guest_initramfs() {
	local out=$1 stage
	[[ -x $LINUX_GUEST_BUSYBOX ]] ||
		{ _linux_guest_fail "no $LINUX_GUEST_BUSYBOX: install busybox-static (./install-deps)"; return 1; }
	[[ $(LC_ALL=C ldd "$LINUX_GUEST_BUSYBOX" 2>&1 || :) != *"=>"* ]] ||
		{ _linux_guest_fail "$LINUX_GUEST_BUSYBOX is dynamically linked: install busybox-static"; return 1; }
	command -v cpio >/dev/null ||
		{ _linux_guest_fail "cpio not installed: run ./install-deps"; return 1; }
	stage=$(mktemp -d "${out%/*}/initramfs.XXXXXX") || return 1
	mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp"
	cp "$LINUX_GUEST_BUSYBOX" "$stage/bin/busybox"
	_linux_guest_init >"$stage/init"
	chmod 755 "$stage/init"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$out" ||
		{ rm -rf "$stage"; _linux_guest_fail "cpio of $out failed"; return 1; }
	rm -rf "$stage"
}

# linux_guest_args SERIAL: QEMU arguments, one a line (mapfile them).
linux_guest_args() {
	local kernel
	kernel=$(linux_guest_kernel) || return 1
	[[ -n ${LINUX_GUEST_INITRD:-} && -f $LINUX_GUEST_INITRD ]] ||
		{ _linux_guest_fail 'set LINUX_GUEST_INITRD to a file made by linux_guest_initramfs'; return 1; }
	printf '%s\n' -kernel "$kernel" -initrd "$LINUX_GUEST_INITRD" \
		-append "$LINUX_GUEST_APPEND" -serial "file:$1"
}

# linux_guest_booted SERIAL N: the guest printed its first SUM and N TICKs.
linux_guest_booted() {
	[[ -n $(linux_guest_sums "$1") && $(linux_guest_ticks "$1" | wc -l) -ge $2 ]]
}

# linux_guest_ticks SERIAL: the N of every complete "TICK N" line, in order
# (a restored guest may first finish a line its source had begun).
linux_guest_ticks() {
	tr -d '\r' <"$1" 2>/dev/null | sed -n 's/^TICK \([0-9]\{1,\}\)$/\1/p'
}

# linux_guest_sums SERIAL: "MD5 SIZE" of every complete SUM line, in order.
linux_guest_sums() {
	tr -d '\r' <"$1" 2>/dev/null | sed -n 's/^SUM \([0-9a-f]\{32\} [0-9]\{1,\}\)$/\1/p'
}

# linux_guest_sums_after SERIAL N: "MD5 SIZE" of the SUM lines that follow
# a complete "TICK M" line with M > N: their md5sum began after the guest
# printed that TICK, on the QEMU whose console SERIAL is, once N is the last
# TICK of the guest's source plus one (the source may have left one line in
# the kernel's buffer unsent).
linux_guest_sums_after() {
	tr -d '\r' <"$1" 2>/dev/null | awk -v n="$2" '
		/^TICK [0-9]+$/ { fresh = $2 + 0 > n + 0 }
		fresh && /^SUM [0-9a-f]+ [0-9]+$/ && length($2) == 32 { print $2, $3 }'
}

# linux_guest_resumed SERIAL LAST: the console of a guest restored from a
# source whose last complete TICK was LAST shows it carried on: its first
# complete TICK is LAST+1 (LAST+2 when it finished a line the source had
# begun), the others follow one by one, and the kernel did not panic.
linux_guest_resumed() {
	local serial=$1 last=$2 why
	why=$(linux_guest_ticks "$serial" | awk -v last="$last" '
		NR == 1 && ($1 <= last || $1 > last + 2) {
			printf "first TICK is %d, the source stopped after TICK %d", $1, last; exit }
		NR > 1 && $1 != prev + 1 { printf "TICK %d follows TICK %d", $1, prev; exit }
		{ prev = $1 }
		END { if (NR == 0) print "no complete TICK line" }')
	if [[ -z $why ]] && grep -aq 'Kernel panic\|BUG:\|Oops' "$serial"; then
		why=$(grep -a -m1 'Kernel panic\|BUG:\|Oops' "$serial")
	fi
	[[ -z $why ]] && return 0
	_linux_guest_fail "$serial: $why"
	linux_guest_tail "$serial" >&2
	return 1
}

# linux_guest_wait SERIAL TIMEOUT CONDITION...: run CONDITION (a command
# and its arguments) every 0.2 s until it succeeds; after TIMEOUT s fail
# (linux_guest_tail SERIAL shows what the guest printed).
linux_guest_wait() {
	local serial=$1 timeout=$2
	shift 2
	WAIT_INTERVAL=0.2 wait_until "$timeout" _linux_guest_quiet "$@" ||
		{ _linux_guest_fail "$serial: not after ${timeout}s: $*"; return 1; }
}

_linux_guest_quiet() {
	"$@" >/dev/null
}

# linux_guest_tail SERIAL: the console's last lines, indented.
linux_guest_tail() {
	echo "linux-guest.bash: last lines of $1:"
	tr -d '\r' <"$1" 2>/dev/null | tail -n 15 | sed 's/^/    /'
}
