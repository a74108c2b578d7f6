# SPDX-License-Identifier: GPL-3.0-or-later
# host_mirror: the Debian mirror the host's apt uses (deb822 or one-line
# sources), for the trees tests/qemu10/fetch and tests/trixie/run build
# with mmdebstrap: a host behind a local mirror builds from it too.
host_mirror() {
	local m
	m=$(grep -hs -A3 '^Types:.*deb' /etc/apt/sources.list.d/*.sources |
		sed -n 's/^URIs: *\([^ ]*debian\/*\)$/\1/p' | head -n 1)
	[[ -n $m ]] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
		awk '$2 ~ /debian\/?$/ && $2 !~ /security/ { print $2; exit }')
	echo "${m:-http://deb.debian.org/debian}"
}
