# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/build.bash - test programs built against libcommon.
#
#   build_test_program FLAVOUR OUT SOURCE [CC FLAGS AND LIBS...]
#       compiles SOURCE (a tests/ C file) into OUT, linked with libcommon as
#       the archive of FLAVOUR: "static" (for the test VM: -static -O2, every
#       rdma-core provider) or "asan" (ASan/UBSan, for unit programs). The
#       archive is made by make when missing or stale. The program links
#       the libcommon files it uses, whatever files they are split into.
#       Prints the compiler's errors and fails on any.

build_test_program() {
	local flavour=$1 out=$2 src=$3 top
	shift 3
	top=$(cd "${BASH_SOURCE[0]%/*}/../.." && pwd)
	local -a flags=(-std=gnu11 -D_GNU_SOURCE -I"$top/include" -pthread)
	case $flavour in
	static) flags+=(-static -O2 -DRDMA_STATIC_PROVIDERS=all) ;;
	asan) flags+=(-g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=undefined) ;;
	*) echo "build_test_program: flavour static or asan, not '$flavour'" >&2; return 2 ;;
	esac
	make -s -C "$top" "build/$flavour/libcommon.a" >&2 ||
		{ echo "build_test_program: cannot make build/$flavour/libcommon.a" >&2; return 1; }
	"${CC:-cc}" "${flags[@]}" -o "$out" "$src" "$top/build/$flavour/libcommon.a" "$@" \
		2> >(grep -vE "in statically linked applications requires at runtime|: in function .*:$" >&2)
}
