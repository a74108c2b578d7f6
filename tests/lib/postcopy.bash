# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/postcopy.bash - lazy restores with postcopy-serve into a real
# QEMU 7.2, for tests and benchmarks: `load lib/postcopy` after
# `load lib/qemu` (or `source` both from plain bash; set MIGBOX).
#
#   read_ram_bios OUT       assemble tests/guests/read-ram-bios.S into a
#                           64 KiB -bios image
#   read_ram_sum IMAGE MB   the %ebx that guest ends with over RAM IMAGE
#   pc_dest NAME MB SHM PORT [QEMU ARGS...]
#                           a destination: running (no -S), RAM in the
#                           shared file SHM, postcopy-ram on, listening on
#                           127.0.0.1:PORT
#   serve_bg OUT ARGS...    postcopy-serve ARGS in the background: stderr
#                           in OUT.err, stats in OUT.json, its pid in
#                           $SERVE_PID
#   serve_wait [SECONDS]    waits for it: $SERVE_STATUS (124: it hung)
#   guest_halted NAME       the read-RAM guest ran to its end
#   migrate_status NAME     query-migrate's status
#   run_status NAME         query-status's status
#   serve_teardown          a test's end: the serve killed, every QEMU
#                           stopped, $SHM removed; after a failure the
#                           serve's stderr and stats on stderr
#   stat_of NAME            a figure of the serve's stats ($T/serve.json)
#   halted_while_serving    the read-RAM guest on dst ran to its end while
#                           the serve held its background pages back
#   restored_as_saved IMAGE MB
#                           dst completed with IMAGE as its RAM ($SHM), and
#                           the guest read it (its %ebx)

READ_RAM_BIOS_SRC=${READ_RAM_BIOS_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/guests/read-ram-bios.S}
# where read-ram-bios halts: its image sits at 0xf0000
READ_RAM_HALTED_EIP=000f003b

read_ram_bios() {
	local out=$1
	as --32 -o "$out.o" "$READ_RAM_BIOS_SRC" &&
		objcopy -O binary "$out.o" "$out" &&
		rm -f "$out.o" || {
		echo "postcopy.bash: cannot assemble $READ_RAM_BIOS_SRC (binutils)" >&2
		return 1
	}
	if [[ $(stat -c %s "$out") -ne 65536 ]]; then
		echo "postcopy.bash: $out is not 64 KiB" >&2
		return 1
	fi
}

# The guest adds the byte at every MiB from 1023 MiB down to 0; above the
# RAM it reads nothing (0).
read_ram_sum() {
	perl -e '
		my ($f, $mb) = @ARGV;
		open(my $h, "<:raw", $f) or die "$f: $!\n";
		my ($sum, $b) = (0, "");
		for my $i (0 .. ($mb < 1024 ? $mb : 1024) - 1) {
			seek($h, $i << 20, 0) or die;
			read($h, $b, 1) == 1 or die "$f: short\n";
			$sum += ord($b);
		}
		printf "%08x\n", $sum;' "$1" "$2"
}

pc_dest() {
	local name=$1 mb=$2 shm=$3 port=$4
	shift 4
	rm -f "$shm"
	qemu_start "$name" --run --mem "$mb" --mem-path "$shm" --share on --incoming defer -- "$@" &&
		qmp_migrate_set_caps "$name" postcopy-ram=on ${PC_DEST_CAPS:-} &&
		qmp "$name" migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}" >/dev/null
}

serve_bg() {
	local out=$1
	shift
	SERVE_OUT=$out
	rm -f "$out.json" "$out.status" "$out.pid"
	(
		trap - ERR
		set +eE
		# a background job's stdin would be /dev/null: say which
		"$MIGBOX" postcopy-serve --stats-json "$out.json" "$@" <&0 2>"$out.err" &
		echo $! >"$out.pid"
		wait $!
		echo $? >"$out.status"
	) <&0 3>&- &
	wait_for 10 test -s "$out.pid" || return 1
	SERVE_PID=$(<"$out.pid")
}

serve_wait() {
	if ! wait_until "${1:-120}" test -s "$SERVE_OUT.status"; then
		echo "postcopy-serve still runs after ${1:-120} s; its stderr:" >&2
		cat "$SERVE_OUT.err" >&2
		kill -KILL "$SERVE_PID" 2>/dev/null
		SERVE_STATUS=124
		return 0
	fi
	SERVE_STATUS=$(<"$SERVE_OUT.status")
}

serve_running() {
	[[ ! -s $SERVE_OUT.status ]]
}

guest_halted() {
	local regs
	regs=$(hmp "$1" 'info registers') || return 1
	[[ $regs == *"EIP=$READ_RAM_HALTED_EIP"* && $regs == *HLT=1* ]]
}

guest_ebx() {
	hmp "$1" 'info registers' | sed -n 's/.*EBX=\([0-9a-f]*\).*/\1/p'
}

migrate_status() {
	qmp "$1" query-migrate | jq -r '.status // "none"'
}

run_status() {
	qmp "$1" query-status | jq -r .status
}

serve_teardown() {
	[[ -z ${SERVE_PID:-} ]] || kill -KILL "$SERVE_PID" 2>/dev/null || :
	qemu_stop_all
	rm -f "$SHM"
	if [[ -n ${BATS_TEST_COMPLETED:-} ]]; then
		return 0
	fi
	# the serve's own words, on failure
	[[ ! -f $T/serve.err ]] || sed 's/^/serve: /' "$T/serve.err" >&2
	[[ ! -f $T/serve.json ]] || sed 's/^/stats: /' "$T/serve.json" >&2
}

stat_of() {
	jq -r ".$1" "$T/serve.json"
}

# every page the guest read came on request
halted_while_serving() {
	serve_running || { echo 'postcopy-serve ended before the guest halted' >&2; return 2; }
	[[ $(run_status dst) == running && $(migrate_status dst) == postcopy-active ]] &&
		guest_halted dst
}

restored_as_saved() {
	local image=$1 mb=$2 ebx
	qmp_wait_migration dst 120 >/dev/null
	[[ $(run_status dst) == running ]]
	cmp "$SHM" "$image"
	guest_halted dst
	ebx=$(guest_ebx dst)
	[[ $ebx == "$(read_ram_sum "$image" "$mb")" ]] ||
		{ echo "EBX $ebx, expected $(read_ram_sum "$image" "$mb")" >&2; return 1; }
}
