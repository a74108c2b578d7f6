#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# vfio-dump / vfio-load on the host: usage and missing devices. The real
# device tests run in the VM (tests/vm-vfio.bats).
load helpers

@test "usage errors exit 2" {
	run mb vfio-dump
	assert_fails_with 2 "one DEVICE expected"
	run mb vfio-dump --rounds 3 x
	assert_fails_with 2 "--rounds goes with --precopy"
	run mb vfio-dump --json x
	assert_fails_with 2 "--json goes with --info"
	run mb vfio-load
	assert_fails_with 2 "one DEVICE expected"
	run mb vfio-load a b
	assert_fails_with 2 "one DEVICE expected"
}

@test "a device that does not exist: exit 1 naming where it was looked for" {
	run mb vfio-dump --info 0000:7f:1f.7
	assert_fails_with 1 "no such device" "/sys/bus/pci/devices/0000:7f:1f.7"
	run bash -c "'$MIGBOX' vfio-load 5e4f0c1a-0000-4000-8000-000000000000 < /dev/null"
	assert_fails_with 1 "no such device" "/sys/bus/mdev/devices/5e4f0c1a-0000-4000-8000-000000000000"
	run mb vfio-dump --info ../etc
	assert_fails_with 1 "not a PCI address or an mdev UUID"
}

@test "a short PCI address is completed with domain 0000" {
	run mb vfio-dump --info 7f:1f.7
	assert_fails_with 1 "/sys/bus/pci/devices/0000:7f:1f.7"
}
