#!/usr/bin/env bats
# libcommon's limits that no applet option reaches, as small C programs in
# tests/unit/ built here against the library sources (with ASan/UBSan) and
# run: each prints TAP, and a "not ok" line fails its test.
load helpers

# unit NAME SOURCES...: build tests/unit/NAME.c with SOURCES (libcommon/),
# run it, show its output
unit() {
	local top=$BATS_TEST_DIRNAME/.. name=$1 bin=$BATS_TEST_TMPDIR/$1
	shift
	"${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined -I"$top/include" -D_GNU_SOURCE -pthread \
		-o "$bin" "$top/tests/unit/$name.c" "${@/#/$top/libcommon/}"
	run "$bin"
	echo "$output"
	assert_ok
	[[ $output != *'not ok'* && $output == *'1..'* ]]
}

@test "session: a socket or condition variable past the tables is refused (-1, ENOSPC), not dropped" {
	unit session-limits session.c
}
