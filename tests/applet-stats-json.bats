#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# Every applet's --stats-json, real outputs of success and failure, against
# doc/stats-json.schema.json (tests/lib/validate-stats, Debian's
# python3-jsonschema), and stream-dump --json and postcopy-serve --probe
# --json too: each document names its definition by applet and report. No
# field outside the schema may appear, so a new field fails here until the
# schema (the documentation) has it. Schema version 2: the version, report
# and field order of every document, pvrdma-mux's outcome, equal
# sync_points at both multifd ends. vfio-dump --info --json needs a device:
# tests/vm-vfio.bats checks it.
# rdma-send/rdma-recv can only fail on a host without RDMA: their success
# files are made in the VM (tests/vm/scenarios/rdma.sh), not checked here.
load helpers
load stream-builder
load lib/multifd
load lib/fakedest
load lib/mux

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
SCHEMA=$TOP/doc/stats-json.schema.json
VALIDATE=$TOP/tests/lib/validate-stats

setup() {
	multifd_setup
	mux_setup
	peer_pid=
}

teardown() {
	stop_fake_dest
	mux_teardown
	multifd_teardown
}

# valid FILE...: each file follows the schema; if not, the errors and the
# file.
valid() {
	local out f
	if ! out=$("$VALIDATE" "$@" 2>&1); then
		echo "$out" >&2
		for f; do [[ ! -f $f ]] || sed 's/^/  /' "$f" >&2; done
		return 1
	fi
}

# opens_with FILE APPLET REPORT: the document opens with applet, then
# schema_version 2, then report; a --stats-json file (report "stats") goes
# on with ok, error (exactly when ok is false), seconds and endpoint.
opens_with() {
	jq -e --arg a "$2" --arg r "$3" '
		keys_unsorted as $k
		| .applet == $a and .schema_version == 2 and .report == $r
		and $k[:3] == ["applet", "schema_version", "report"]
		and (if $r != "stats" then true
		     elif .ok then $k[3:6] == ["ok", "seconds", "endpoint"]
		     else $k[3:7] == ["ok", "error", "seconds", "endpoint"] end)' "$1" >/dev/null ||
		{ echo "$1 does not open as $2's $3 of schema version 2:" >&2; head -c 400 "$1" >&2; return 1; }
}

# spoil N JQ-FILTER EXPECTED: $T/bad.N is the real $T/s.json changed by
# the filter; validate-stats must say EXPECTED of it (in $want).
spoil() {
	jq "$2" "$T/s.json" >"$T/bad.$1"
	want+=("$T/bad.$1: $3")
}

@test "the schema is JSON Schema 2020-12, names every key the C code writes, and doc/stats-json.md is made from it" {
	/usr/bin/python3 -c 'import json, sys
from jsonschema import Draft202012Validator
Draft202012Validator.check_schema(json.load(open(sys.argv[1])))' "$SCHEMA"
	# the keys written with a literal name, by the applets the schema covers
	sed -n 's/.*jw_key([a-z&]*, "\([A-Za-z0-9_]*\)").*/\1/p' "$TOP"/applets/{multifd_send,multifd_recv,rdma_send,rdma_recv,postcopy_serve,pvrdma_mux,stream_dump,vfio_dump}.c \
		"$TOP"/libcommon/{transfer,json}.c | sort -u >"$T/written"
	[[ $(wc -l <"$T/written") -gt 100 ]]
	jq -r '[.. | objects | .properties? // empty | keys[]] | unique[]' "$SCHEMA" >"$T/documented"
	comm -23 "$T/written" "$T/documented" >"$T/missing"
	[[ ! -s $T/missing ]] || { echo "written but not in the schema:" >&2; cat "$T/missing" >&2; false; }
	diff -u "$TOP/doc/stats-json.md" <("$TOP/doc/gen-stats-json-md")
}

@test "the validator rejects an unknown field, a wrong type, a missing field, error beside ok true, an unknown applet, another schema version or report, a duplicate key" {
	port=$(free_port)
	gen -s 1 -b pc.ram:1M -o "$T/in"
	send_fg "$T/in" -c 2 --timeout 1 --stats-json "$T/s.json" "127.0.0.1:$port"
	[[ $SEND_STATUS == 1 ]]
	valid "$T/s.json"
	want=()
	spoil 1 '.frames_lost = 0' "\$: Additional properties are not allowed ('frames_lost' was unexpected)"
	spoil 2 '.per_channel[1].syncs = "0"' "\$.per_channel[1].syncs: '0' is not of type 'integer'"
	# a receiver's per-channel peer is no sender's field
	spoil 3 '.per_channel[0].peer = "127.0.0.1:1"' "\$.per_channel[0]: Additional properties are not allowed ('peer' was unexpected)"
	spoil 4 'del(.seconds)' "\$: 'seconds' is a required property"
	spoil 5 '.channels = 0' "\$.channels: 0 is less than the minimum of 1"
	spoil 6 '.ok = true' "\$: must not match {\"required\": [\"error\"]}"
	spoil 7 'del(.error)' "\$: 'error' is a required property"
	spoil 8 '.applet = "multifd-sender"' "\$.applet: 'multifd-sender' is not one of"
	spoil 9 '{applet: "multifd-send", schema_version: 2}' "\$: 'report' is a required property"
	sed '0,/"ok": false,/s//"ok": false, "ok": false,/' "$T/s.json" >"$T/bad.10"
	want+=("$T/bad.10: key 'ok' twice in one object")
	spoil 11 '.schema_version = 1' "\$.schema_version: 2 was expected"
	spoil 12 'del(.schema_version)' "\$: 'schema_version' is a required property"
	# a sender's file is no report of another kind
	spoil 13 '.report = "dump"' "\$.report: 'stats' was expected"
	spoil 14 '{schema_version: 2, report: "stats"}' "\$: 'applet' is a required property"
	run "$VALIDATE" "$T"/bad.{1..14}
	assert_fails_with 1 "${want[@]}"
	# one complaint each, nothing else
	[[ $(grep -c '' <<<"$output") -eq 14 ]]
}

@test "multifd-send and multifd-recv: success, none/zstd/zlib, one to four channels" {
	local opts
	gen -s 2 -b pc.ram:4M -i 2 -r 20 -o "$T/in"
	# sender's options | receiver's
	for opts in "-c 4 -z zstd|-c 4 -z zstd" "-c 1|-c 1" "-c 2 -z zlib -l 9|-c 2 -z zlib"; do
		rm -f "$T/s.json" "$T/r.json"
		transfer "$T/in" "${opts%|*} --stats-json $T/s.json" "${opts#*|} --stats-json $T/r.json"
		valid "$T/s.json" "$T/r.json"
		opens_with "$T/s.json" multifd-send stats
		opens_with "$T/r.json" multifd-recv stats
		jq -e '.ok and .applet == "multifd-send" and .pages > 0' "$T/s.json" >/dev/null
		jq -e '.ok and .applet == "multifd-recv" and (.per_channel | all(.peer != ""))' "$T/r.json" >/dev/null
	done
	mb stream-dump --json --digest "$T/out" >"$T/dump.json"
	valid "$T/dump.json"
}

@test "multifd-send and multifd-recv count the same sync_points, and every channel's syncs is it: --sync section, --sync round, extra sync points" {
	local input mode eos extra
	gen -s 12 -b pc.ram:2M -i 3 -r 20 --section-pages 100 -o "$T/gen"
	# page 0 three times, page 1 twice in one epoch: 2 extra sync points
	{
		sb_valid_head
		sb_page 0 pc.ram a; sb_page 4096 "" d; sb_page 0 "" b; sb_page 4096 "" e; sb_page 0 "" c
		sb_valid_tail
	} >"$T/resent"
	for input in gen resent; do
		eos=$(mb stream-dump --json "$T/$input" | jq .ram_records.eos)
		for mode in section round; do
			rm -f "$T/s.json" "$T/r.json"
			transfer "$T/$input" "-c 3 --sync $mode --stats-json $T/s.json" "-c 3 --stats-json $T/r.json"
			same_digests "$T/$input" "$T/out"
			valid "$T/s.json" "$T/r.json"
			extra=$(jq .extra_sync_points "$T/s.json")
			[[ $extra == $([[ $input == resent ]] && echo 2 || echo 0) ]]
			jq -e --arg m "$mode" '.ok and .sync_mode == $m' "$T/s.json" "$T/r.json" >/dev/null
			# both ends' sync_points and all six channels' syncs: one number,
			# the input's EOS records and the extra sync points
			[[ $(jq -s -c '[.[] | .sync_points, .per_channel[].syncs] | unique' "$T/s.json" "$T/r.json") == "[$((eos + extra))]" ]]
		done
	done
}

@test "multifd-send and multifd-recv: failures write the error: nothing listening, nobody connecting, a compression mismatch" {
	gen -s 3 -b pc.ram:4M -o "$T/in"
	port=$(free_port)
	send_fg "$T/in" -c 2 --timeout 1 --stats-json "$T/s1.json" "127.0.0.1:$port"
	[[ $SEND_STATUS == 1 ]]
	recv_bg -c 2 --timeout 1 --stats-json "$T/r1.json" -o "$T/out" 127.0.0.1:0
	recv_wait
	[[ $RECV_STATUS == 1 ]]
	recv_bg -c 2 -z zstd --timeout 20 --stats-json "$T/r2.json" -o "$T/out" 127.0.0.1:0
	port=$(recv_port)
	send_fg "$T/in" -c 2 -z zlib --timeout 20 --stats-json "$T/s2.json" "127.0.0.1:$port"
	recv_wait
	[[ $SEND_STATUS == 1 && $RECV_STATUS == 1 ]]
	valid "$T"/s1.json "$T"/r1.json "$T"/s2.json "$T"/r2.json
	[[ $(jq -r .error "$T/s1.json") == *'cannot connect'* ]]
	[[ $(jq -r .error "$T/r1.json") == *'timed out'* ]]
	[[ $(jq -r .error "$T/r2.json") == *'compression flag'* ]]
	[[ $(jq -r .ok "$T/s2.json") == false ]]
}

@test "rdma-send and rdma-recv: the failure without a reachable RDMA peer writes the error" {
	local addr=192.0.2.1:4444
	# a host with RDMA: nothing listens on this address
	[[ ! -e /dev/infiniband/rdma_cm ]] || addr=203.0.113.7:4444
	gen -s 4 -b pc.ram:64K -o "$T/in"
	run timeout 60 "$MIGBOX" rdma-send --timeout 1 --stats-json "$T/s.json" "$addr" <"$T/in"
	assert_fails_with 1 'rdma-send: '
	run timeout 60 "$MIGBOX" rdma-recv --timeout 1 --stats-json "$T/r.json" -o "$T/out" "$addr"
	assert_fails_with 1 'rdma-recv: '
	valid "$T/s.json" "$T/r.json"
	jq -e '.applet == "rdma-send" and .ok == false and .endpoint == "'"$addr"'"' "$T/s.json" >/dev/null
	jq -e '.applet == "rdma-recv" and .ok == false and (.error | length) > 0' "$T/r.json" >/dev/null
	# the names say which end's records they count; pages is the sender's
	# alone (the receiver cannot see RDMA WRITEs)
	jq -e 'has("input_page_records") and has("input_zero_records") and has("pages")
		and (has("zero_pages") | not)' "$T/s.json" >/dev/null
	jq -e 'has("output_page_records") and has("output_zero_records")
		and (has("pages") or has("zero_pages") | not)' "$T/r.json" >/dev/null
}

# PONG 1, 2, 3 on the return path (the guest would run); a request for
# page 2 of pc.ram (REQ_PAGES_ID)
PONGS=000200040000000100020004000000020002000400000003
REQ_PAGE_2=000300130000000000002000000010000670632e72616d

@test "postcopy-serve: success (SHUT 0 after every page), no SHUT, nothing listening, a stream refused before connecting" {
	mb stream-gen -b pc.ram:64K --devices 2 -o "$T/in"
	# PONGs as the PINGs come, the request once the guest runs
	fake_dest play "$REQ_PAGE_2"
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 5 --stats-json "$T/ok.json" "127.0.0.1:$port" <"$T/in"
	assert_ok
	valid "$T/ok.json"
	jq -e '.ok and .requests == 1 and .pages_total == 16 and .completed_ms > 0' "$T/ok.json" >/dev/null
	opens_with "$T/ok.json" postcopy-serve stats
	# what the destination got: a stream with commands
	wait_for 10 test -e "$T/got.1"
	mb stream-dump --json "$T/got.1" >"$T/dump.json"
	valid "$T/dump.json"
	jq -e '.valid and ([.commands[].name] | index("PACKAGED") != null)' "$T/dump.json" >/dev/null
	fake_dest hold "$PONGS"
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 1 --stats-json "$T/noshut.json" "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 '(--timeout)'
	port=$(free_port)
	run timeout 20 "$MIGBOX" postcopy-serve --timeout 1 --stats-json "$T/refused.json" "127.0.0.1:$port" <"$T/in"
	assert_fails_with 1 'cannot connect'
	mb stream-gen -b pc.ram:64K --devices 0 -o "$T/nodev"
	run timeout 20 "$MIGBOX" postcopy-serve --stats-json "$T/nodev.json" "127.0.0.1:$port" <"$T/nodev"
	assert_fails_with 1 'no device state'
	valid "$T/noshut.json" "$T/refused.json" "$T/nodev.json"
	jq -e '.ok == false and .running_ms > 0 and .completed_ms == 0' "$T/noshut.json" >/dev/null
	jq -e '.ok == false and .peer == "" and .connected_ms == 0' "$T/refused.json" >/dev/null
}

@test "pvrdma-mux: the figures on SIGUSR1 while serving (final false, ok), at SIGTERM (final, ok false: it dies of it), after a failed start (ok false, the message it printed)" {
	mux_start
	client a
	to a reg ::ffff:10.1.0.2
	expect a 1 'RESP REG 0'
	to fabric mad ::ffff:10.1.0.9 10 00000777 0 ::ffff:10.1.0.2
	expect a 2 'MAD 0010 ::ffff:10.1.0.2 256 00000000'
	usr1_stats
	valid "$T/stats.json"
	opens_with "$T/stats.json" pvrdma-mux stats
	[[ $(stat_of '.clients, .requests.reg, .answers.ok, .mads_routed') == $'1\n1\n1\n1' ]]
	jq -e --arg sock "$SOCK" '.ok and .final == false and .endpoint == $sock and .seconds > 0' \
		"$T/stats.json" >/dev/null
	kill -TERM "$MUX_PID"
	status=0
	wait "$MUX_PID" || status=$?
	MUX_PID=
	[[ $status -eq 143 ]]
	valid "$T/stats.json"
	opens_with "$T/stats.json" pvrdma-mux stats
	jq -e '.final and .ok == false and .error == "interrupted by SIGTERM" and .requests.reg == 1' \
		"$T/stats.json" >/dev/null
	run mb pvrdma-mux -d nosuchdev0 -s "$T/x" --stats-json "$T/fail.json"
	assert_fails_with 1 'no RDMA port nosuchdev0:1'
	valid "$T/fail.json"
	opens_with "$T/fail.json" pvrdma-mux stats
	[[ "pvrdma-mux: $(jq -r .error "$T/fail.json")" == "$output" ]]
	jq -e --arg sock "$T/x-nosuchdev0-1" '.final and .device == "nosuchdev0" and .endpoint == $sock' \
		"$T/fail.json" >/dev/null
}

@test "pvrdma-mux: quit (the console's input ends) exits 0, and its last file says ok, final" {
	peer_start fabric fabric "$T/fab.sock"
	wait_log "$T/fabric.log" LISTENING
	run mb pvrdma-mux -d rxe0 -s "$T/m" --test-port "$T/fab.sock" --console --stats-json "$T/quit.json" </dev/null
	assert_ok
	valid "$T/quit.json"
	opens_with "$T/quit.json" pvrdma-mux stats
	jq -e --arg sock "$SOCK" '.ok and .final and .endpoint == $sock' "$T/quit.json" >/dev/null
}

@test "pvrdma-mux: each client's MAD is counted once by its fate, mads_from_clients their sum; answers in lower case" {
	mux_start
	two_clients ::ffff:10.1.0.2 ::ffff:10.1.0.3
	# sent, twice
	to a mad ::ffff:10.1.0.2 10 000000aa 0 ::ffff:10.1.0.9
	expect a 2 'RESP MAD 0'
	to a mad ::ffff:10.1.0.2 13 000000ab 0
	expect a 3 'RESP MAD 0'
	# a's comm id, a GID b did not register: EACCES
	to b mad ::ffff:10.1.0.3 10 000000aa 0 ::ffff:10.1.0.9
	expect b 2 'RESP MAD 3'
	to b mad ::ffff:10.1.0.7 10 000000bc 0 ::ffff:10.1.0.9
	expect b 3 'RESP MAD 3'
	# no bytes, more than 256: EINVAL
	to a badlen ::ffff:10.1.0.2 0
	expect a 4 'RESP MAD 1'
	to a badlen ::ffff:10.1.0.2 300
	expect a 5 'RESP MAD 1'
	usr1_stats
	valid "$T/stats.json"
	[[ $(stat_of '[.mads_from_clients, .mads_sent, .mads_send_failed, .mads_refused_not_its_gid,
		.mads_refused_comm_id_taken, .mads_refused_bad_length] | @tsv') == $'6\t2\t0\t1\t1\t2' ]]
	jq -e '.mads_from_clients == .mads_sent + .mads_send_failed + .mads_refused_not_its_gid
		+ .mads_refused_comm_id_taken + .mads_refused_bad_length and .mads_from_clients == .requests.mad' \
		"$T/stats.json" >/dev/null
	# REG twice and MAD twice OK, two MADs EACCES, two EINVAL
	[[ $(stat_of '.answers | [.ok, .einval, .eexist, .eacces, .enotfound] | @tsv') == $'4\t2\t0\t2\t0' ]]
	[[ $(grep -c '^SENT' "$T/fabric.log") == 2 ]]
}

@test "every document has schema_version 2 and its report, after applet: each applet's --stats-json (failures here), stream-dump --json (a valid and an invalid stream), postcopy-serve --probe --json" {
	local addr=192.0.2.1:4444
	[[ ! -e /dev/infiniband/rdma_cm ]] || addr=203.0.113.7:4444
	gen -s 13 -b pc.ram:64K -o "$T/in"
	port=$(free_port)
	send_fg "$T/in" -c 2 --timeout 1 --stats-json "$T/multifd-send.json" "127.0.0.1:$port"
	recv_bg -c 2 --timeout 1 --stats-json "$T/multifd-recv.json" -o "$T/out" 127.0.0.1:0
	recv_wait
	timeout 60 "$MIGBOX" rdma-send --timeout 1 --stats-json "$T/rdma-send.json" "$addr" <"$T/in" 2>/dev/null || :
	timeout 60 "$MIGBOX" rdma-recv --timeout 1 --stats-json "$T/rdma-recv.json" -o "$T/out" "$addr" 2>/dev/null || :
	timeout 20 "$MIGBOX" postcopy-serve --timeout 1 --stats-json "$T/postcopy-serve.json" "127.0.0.1:$port" \
		<"$T/in" 2>/dev/null || :
	"$MIGBOX" pvrdma-mux -d nosuchdev0 -s "$T/x" --stats-json "$T/pvrdma-mux.json" 2>/dev/null || :
	for a in multifd-send multifd-recv rdma-send rdma-recv postcopy-serve pvrdma-mux; do
		opens_with "$T/$a.json" "$a" stats
		valid "$T/$a.json"
		jq -e '.ok == false' "$T/$a.json" >/dev/null
	done
	mb stream-dump --json "$T/in" >"$T/dump.json"
	head -c 100 "$T/in" >"$T/cut"
	"$MIGBOX" stream-dump --json "$T/cut" >"$T/cut.json" 2>/dev/null || :
	"$MIGBOX" postcopy-serve --probe --json >"$T/probe.json" || :
	opens_with "$T/dump.json" stream-dump dump
	opens_with "$T/cut.json" stream-dump dump
	opens_with "$T/probe.json" postcopy-serve probe
	valid "$T"/{dump,cut,probe}.json
	jq -e '.valid == false' "$T/cut.json" >/dev/null
	# applet and report name the definition: a dump is no --stats-json file
	jq '.report = "stats"' "$T/dump.json" >"$T/bad.1"
	jq '.report = "dump"' "$T/probe.json" >"$T/bad.2"
	run "$VALIDATE" "$T"/bad.{1,2}
	assert_fails_with 1 "$T/bad.1: \$.report: 'dump' was expected" "$T/bad.2: \$.report: 'dump' is not one of ['stats', 'probe']"
}

@test "stream-dump --json (valid, digests, --map, vfio, no vmdesc, malformed, stdin) and postcopy-serve --probe --json follow their definitions" {
	gen -s 5 -b pc.ram:1M -i 2 --vfio 0000:00:05.0/vfio:3000 --devices 3 \
		--uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8 -o "$T/a.mig"
	gen -s 5 -b pc.ram:64K --no-vmdesc -o "$T/b.mig"
	head -c 1000 "$T/a.mig" >"$T/cut.mig"
	mb stream-dump --json --digest "$T/a.mig" >"$T/a.json"
	mb stream-dump --json "$T/b.mig" >"$T/b.json"
	status=0
	mb stream-dump --json "$T/cut.mig" >"$T/cut.json" 2>"$T/cut.err" || status=$?
	[[ $status -eq 1 ]]
	mb stream-dump --json - <"$T/b.mig" >"$T/stdin.json"
	mb stream-dump --json --map --width 40 "$T/a.mig" >"$T/map.json"
	valid "$T"/{a,b,cut,stdin,map}.json
	jq -e '.ram_blocks[0].map | (.cells | length) as $n | (.never + .zero + .once + .resent) as $p | $n <= 40 and $n * .pages_per_cell >= $p and ($n - 1) * .pages_per_cell < $p' "$T/map.json" >/dev/null
	jq -e '.valid and .vmdesc.devices == 3 and (.sections | any(.kind == "vfio")) and .state_digest' "$T/a.json" >/dev/null
	jq -e '.valid == false and .vmdesc == null and (.error | test("truncated"))' "$T/cut.json" >/dev/null
	status=0
	mb postcopy-serve --probe --json >"$T/probe.json" || status=$?
	[[ $status -le 1 ]]
	valid "$T/probe.json"
	[[ $(jq -r .usable "$T/probe.json") == $([[ $status -eq 0 ]] && echo true || echo false) ]]
}
