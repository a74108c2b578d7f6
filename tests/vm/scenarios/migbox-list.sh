# SPDX-License-Identifier: GPL-3.0-or-later
# migbox-list: the static migbox runs in the VM and lists its applets
#
# usage: migbox-list

. /scenarios/lib.sh

list=$(migbox --list) || die "migbox --list failed"
echo "$list"
echo "$list" | grep -qx stream-dump || die "migbox --list names no stream-dump"
