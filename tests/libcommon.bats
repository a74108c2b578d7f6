#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# libcommon's limits that no applet option reaches, as small C programs in
# tests/unit/ built here against the library sources (with ASan/UBSan) and
# run: each prints TAP, and a "not ok" line fails its test.
load helpers

# unit NAME [-lLIB...]: build tests/unit/NAME.c against libcommon (its
# ASan archive) and the libraries, run it, show its output
unit() {
	local name=$1 bin=$BATS_TEST_TMPDIR/$1
	shift
	build_test_program asan "$bin" "$BATS_TEST_DIRNAME/unit/$name.c" "$@"
	run "$bin"
	echo "$output"
	assert_ok
	[[ $output != *'not ok'* && $output == *'1..'* ]]
}

@test "session: a socket or condition variable past the tables is refused (-1, ENOSPC), not dropped" {
	unit session-limits
}

@test "rdma codec: range checks exact at the edges of 64 bits (block lengths near 2^64, ends at 2^64); page ranges marked word-wise" {
	unit rdma-wire-ranges -lxxhash
}

@test "zerocopy: completions out of order, twice, for no send, across the 32-bit wrap; loopback sends complete; a wait ends on the wake fd; ENOBUFS waits for a completion or copies" {
	unit zerocopy
}
