#!/usr/bin/env bats
# libcommon's limits that no applet option reaches, as small C programs in
# tests/unit/ built here against the library sources (with ASan/UBSan) and
# run: each prints TAP, and a "not ok" line fails its test.
load helpers

# unit NAME SOURCES... [-lLIB...]: build tests/unit/NAME.c with SOURCES
# (of libcommon/) and the libraries, run it, show its output
unit() {
	local top=$BATS_TEST_DIRNAME/.. name=$1 bin=$BATS_TEST_TMPDIR/$1 a args=()
	shift
	for a; do
		if [[ $a == -* ]]; then args+=("$a"); else args+=("$top/libcommon/$a"); fi
	done
	"${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined -I"$top/include" -D_GNU_SOURCE -pthread \
		-o "$bin" "$top/tests/unit/$name.c" "${args[@]}"
	run "$bin"
	echo "$output"
	assert_ok
	[[ $output != *'not ok'* && $output == *'1..'* ]]
}

@test "session: a socket or condition variable past the tables is refused (-1, ENOSPC), not dropped" {
	unit session-limits session.c
}

@test "rdma codec: range checks exact at the edges of 64 bits (block lengths near 2^64, ends at 2^64); page ranges marked word-wise" {
	unit rdma-wire-ranges rdma_wire.c ram.c pagemap.c error.c -lxxhash
}
