#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# rdma-recv (and rdma-send once built) on a host without RDMA: the command
# line, and a clear failure where no RDMA device is. The protocol itself is
# tested against real QEMU on Soft-RoCE in the VM (vm-rdma.bats).
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "rdma-recv: --help, man page, bad arguments exit 2" {
	run mb rdma-recv --help
	assert_ok
	[[ $output == *'usage: rdma-recv'*'--output'*'--timeout'*'--stats-json'* ]]
	"$MIGBOX" --man rdma-recv | grep -q '^\.SH OPTIONS'
	run mb rdma-recv
	assert_fails_with 2 'expected one HOST:PORT to listen on'
	run mb rdma-recv :4444
	assert_fails_with 2 'a host is needed'
	run mb rdma-recv --timeout 0 -o "$T/o" 192.0.2.1:4444
	assert_fails_with 2 '--timeout 0: expected seconds, 1..86400'
	run mb rdma-recv -c 2 192.0.2.1:4444
	assert_fails_with 2 'bad option'
}

@test "rdma-recv: no RDMA here is exit 1 saying so, and no output file" {
	if [[ -e /dev/infiniband/rdma_cm ]]; then
		# a host with RDMA: nothing listens on this address
		run mb rdma-recv --timeout 1 -o "$T/out" 203.0.113.7:4444
		assert_fails_with 1 'rdma-recv: '
	else
		run mb rdma-recv --timeout 1 -o "$T/out" 192.0.2.1:4444
		assert_fails_with 1 'rdma-recv: rdma_create_event_channel: No such device (is rdma_ucm loaded?)'
	fi
	[[ ! -e $T/out ]]
}

@test "rdma-send: --help, man page, bad arguments exit 2" {
	run mb rdma-send --help
	assert_ok
	[[ $output == *'usage: rdma-send'*'--pin-all'*'--timeout'*'--stats-json'* ]]
	"$MIGBOX" --man rdma-send | grep -q '^\.SH OPTIONS'
	run mb rdma-send </dev/null
	assert_fails_with 2 'expected one HOST:PORT'
	run mb rdma-send :4444 </dev/null
	assert_fails_with 2 'a host is needed'
	run mb rdma-send -z zstd 192.0.2.1:4444 </dev/null
	assert_fails_with 2 'bad option'
}

@test "rdma-send: no RDMA here is exit 1 saying so" {
	mb stream-gen -b r:64K -o "$T/in"
	if [[ -e /dev/infiniband/rdma_cm ]]; then
		run mb rdma-send --timeout 1 203.0.113.7:4444 <"$T/in"
		assert_fails_with 1 'rdma-send: '
	else
		run mb rdma-send --timeout 1 192.0.2.1:4444 <"$T/in"
		assert_fails_with 1 'rdma-send: rdma_create_event_channel: No such device (is rdma_ucm loaded?)'
	fi
}

@test "rdma-recv --max-ram: a size, in the usage, offered by completion; a bad one is exit 2" {
	run mb rdma-recv --help
	assert_ok
	[[ $output == *'--max-ram SIZE'*"this machine's memory"* ]]
	run mb rdma-recv --max-ram 0 -o "$T/o" 192.0.2.1:4444
	assert_fails_with 2 'rdma-recv: --max-ram 0: expected a size like 16G'
	run mb rdma-recv --max-ram 12Q -o "$T/o" 192.0.2.1:4444
	assert_fails_with 2 'rdma-recv: --max-ram 12Q: expected a size like 16G'
	run bash -c "
		source '$BATS_TEST_DIRNAME/../completions/migbox.bash'
		migbox() { '$MIGBOX' \"\$@\"; }
		COMP_WORDS=(migbox rdma-recv --max); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\""
	assert_ok
	[[ $output == --max-ram ]]
	[[ ! -e $T/o ]]
}
