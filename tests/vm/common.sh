# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash disable=SC2034
# tests/vm/common.sh - host-side helpers shared by tests/vm/fetch and tests/vm/run
#
# Sourced, never run. Callers set PROG (the name that prefixes messages)
# and keep STEP naming what they are doing: every failure message names it.

VM_CACHE=${MIGBOX_VM_CACHE:-/var/cache/migbox-vm}
STEP=${STEP:-start}

msg()
{
	printf '%s: %s\n' "$PROG" "$*" >&2
}

die()
{
	printf '%s: %s: %s\n' "$PROG" "$STEP" "$*" >&2
	exit 125
}

# Run apt-get quietly; on failure show what it said. Never reads stdin
# (CI has none).
apt_quiet()
{
	local log rc=0

	log=$(mktemp)
	DEBIAN_FRONTEND=noninteractive apt-get -q -o APT::Sandbox::User=root \
		"$@" >"$log" 2>&1 </dev/null || rc=$?
	((rc == 0)) || tail -n 15 "$log" >&2
	rm -f "$log"
	return $rc
}

# Install the Debian packages named, if any is missing. The package lists
# are refreshed only when an install fails: they may be absent or stale.
need_pkgs()
{
	local missing=() installed p

	installed=" $(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
		awk '$1 == "ii" { printf "%s ", $2 }' || true)"
	for p in "$@"; do
		[[ $installed == *" $p "* ]] || missing+=("$p")
	done
	((${#missing[@]})) || return 0

	msg "installing ${missing[*]}"
	if ! apt_quiet install -y --no-install-recommends "${missing[@]}"; then
		apt_quiet update || die "apt-get update failed (needed to install ${missing[*]})"
		apt_quiet install -y --no-install-recommends "${missing[@]}" ||
			die "apt-get install ${missing[*]} failed"
	fi
}

# The layout of the kernel cache that tests/vm/fetch builds, which
# tests/vm/run reads: bump it when either needs something new there.
CACHE_FORMAT=3
