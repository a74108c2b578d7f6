#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# pvrdma-mux on the host, no RDMA: its real UNIX socket with test clients
# that speak QEMU's side byte for byte (tests/lib/muxpeer.pl client), and
# --test-port in place of the umad port, fed by a test fabric (muxpeer.pl
# fabric). Every error code, messages in pieces, non-requests, disconnects,
# every routing rule, expiry, the limits, the socket file, signals.

load helpers
load lib/multifd	# wait_for
load lib/mux

setup() {
	mux_setup
	TMUX_SERVER=
}

teardown() {
	[[ -z ${TMUX_SERVER:-} ]] || tmux -L "$TMUX_SERVER" kill-server 2>/dev/null || :
	mux_teardown
}

@test "pvrdma-mux: usage errors exit 2 and name the problem" {
	run mb pvrdma-mux
	assert_fails_with 2 '-d DEV is required'
	run mb pvrdma-mux -d rxe0 -p 0
	assert_fails_with 2 '-p 0: a port number from 1 to 255'
	run mb pvrdma-mux -d rxe0 extra
	assert_fails_with 2 "unexpected argument 'extra'"
	run mb pvrdma-mux -d ../rxe0
	assert_fails_with 2 'a device name, not a path'
	run mb pvrdma-mux -d rxe0 -s "/tmp/$(printf 'x%.0s' {1..120})"
	assert_fails_with 2 'longer than a UNIX socket takes'
	run mb pvrdma-mux --help
	assert_ok
	[[ $output == *'usage: pvrdma-mux -d DEV [-s PATH] [-p PORT]'* && $output == *'Unlike QEMU'* ]]
}

@test "pvrdma-mux: an RDMA port that does not exist: exit 1 naming it" {
	run mb pvrdma-mux -d nosuchdev0 -s "$T/m"
	assert_fails_with 1 'no RDMA port nosuchdev0:1'
	[[ ! -e $T/m-nosuchdev0-1 ]]
}

@test "pvrdma-mux: REG and UNREG answer OK, EEXIST, EACCES, ENOTFOUND, EINVAL as QEMU's mux does" {
	mux_start
	client a
	client b
	to a reg fe80::5054:ff:fe00:102
	expect a 1 'RESP REG 0'
	to a reg fe80::5054:ff:fe00:102
	expect a 2 'RESP REG 2'
	to b reg fe80::5054:ff:fe00:102
	expect b 1 'RESP REG 3'
	# the owner is checked on UNREG (QEMU's mux let anyone remove it)
	to b unreg fe80::5054:ff:fe00:102
	expect b 2 'RESP UNREG 3'
	to a unreg fe80::5054:ff:fe00:102
	expect a 3 'RESP UNREG 0'
	to a unreg fe80::5054:ff:fe00:102
	expect a 4 'RESP UNREG 4'
	# an op code that is none of REG, UNREG, MAD
	to a raw 0 7
	expect a 5 'RESP 7 1'
	# a MAD request of no bytes or of more than 256
	to a badlen fe80::1 0
	expect a 6 'RESP MAD 1'
	to a badlen fe80::1 300
	expect a 7 'RESP MAD 1'
	usr1_stats
	[[ $(stat_of '.requests.reg, .requests.unreg, .requests.invalid, .answers.eacces') == $'3\n3\n1\n2' ]]
}

@test "pvrdma-mux: a message in pieces is put together; a non-request closes only its client" {
	mux_start
	client a
	client b
	to a pieces fe80::a
	expect a 1 'RESP REG 0'
	to b raw 1 0
	expect b 1 'EOF'
	wait_log "$T/mux.log" 'client 1 .* sent a non-request; closed'
	to a reg fe80::b
	expect a 2 'RESP REG 0'
}

@test "pvrdma-mux: REQ goes to the owner of its destination GID, SIDR_REQ too, through ::ffff when registered so" {
	mux_start
	client a
	client b
	to a reg fe80::5054:ff:fe00:102
	expect a 1 'RESP REG 0'
	to b reg ::ffff:10.1.0.2
	expect b 1 'RESP REG 0'
	# REQ: destination GID's low half at data+80
	to fabric mad ::ffff:10.1.0.9 10 00000777 0 fe80::5054:ff:fe00:102
	expect a 2 'MAD 0010 ::5054:ff:fe00:102 256 00000000'
	# SIDR_REQ: at data+44, here an IPv4-compatible GID that only matches
	# as ::ffff:10.1.0.2
	to fabric mad ::ffff:10.1.0.9 17 00000778 0 ::10.1.0.2
	expect b 2 'MAD 0017 ::ffff:10.1.0.2 256 00000000'
	# nobody's GID: dropped, said in the trace
	to fabric mad ::ffff:10.1.0.9 10 00000779 0 fe80::99
	wait_log "$T/mux.log" 'in REQ 0x0010 .*no client registered its destination GID'
	# a header-only MAD is a send handed back: not routed, not a drop
	to fabric hdronly
	usr1_stats
	[[ $(stat_of '.mads_received, .mads_routed, .mads_dropped, .send_completions') == $'4\n2\n1\n1' ]]
	[[ $(wc -l <"$T/a.log") -eq 2 && $(wc -l <"$T/b.log") -eq 2 ]]
}

@test "pvrdma-mux: replies go back by comm id: REP, REJ, RTU, MRA, LAP, APR, DREQ, DREP, SIDR_REP" {
	mux_start
	two_clients ::ffff:10.1.0.2 ::ffff:10.1.0.3
	# a's REQ with its comm id 0x1234 goes out, and is learned
	to a mad ::ffff:10.1.0.2 10 00001234 0 ::ffff:10.1.0.9
	expect a 2 'RESP MAD 0'
	wait_log "$T/fabric.log" '^SENT 0010 00001234 00000000 256 ::ffff:10.1.0.2$'
	# b's SIDR_REQ with request id 0x55
	to b mad ::ffff:10.1.0.3 17 00000055 0 ::ffff:10.1.0.9
	expect b 2 'RESP MAD 0'
	n=2
	for attr in 13 12 14 11 19 1a 15 16; do
		# the remote comm id (data+4) is a's
		to fabric mad ::ffff:10.1.0.9 "$attr" 00009999 00001234
		n=$((n + 1))
		expect a "$n" "MAD 00$attr ::ffff:10.1.0.2 256 00001234"
	done
	# SIDR_REP carries the request id at data+0
	to fabric mad ::ffff:10.1.0.9 18 00000055 0
	expect b 3 'MAD 0018 ::ffff:10.1.0.3 256 00000000'
	# an unknown comm id is dropped
	to fabric mad ::ffff:10.1.0.9 13 00009999 00004321
	wait_log "$T/mux.log" 'in REP 0x0013 .*unknown or expired comm id'
}

# expired_once: the figures now say one comm id expired.
expired_once() {
	usr1_stats && [[ $(stat_of .commids_expired) == 1 ]]
}

@test "pvrdma-mux: a comm id unused for --commid-ttl is forgotten" {
	mux_start --commid-ttl 1
	client a
	to a reg ::ffff:10.1.0.2
	expect a 1 'RESP REG 0'
	to a mad ::ffff:10.1.0.2 10 000000aa 0 ::ffff:10.1.0.9
	expect a 2 'RESP MAD 0'
	to fabric mad ::ffff:10.1.0.9 13 00000001 000000aa
	expect a 3 'MAD 0013 ::ffff:10.1.0.2 256 000000aa'
	wait_log "$T/mux.log" 'in REP' 5
	# a few seconds without a MAD of that connection
	usr1_stats
	[[ $(stat_of .commids) == 1 ]]
	wait_for 10 expired_once
	[[ $(stat_of '.commids, .commids_expired') == $'0\n1' ]]
	to fabric mad ::ffff:10.1.0.9 15 00000001 000000aa
	wait_log "$T/mux.log" 'in DREQ 0x0015 .*unknown or expired comm id'
}

@test "pvrdma-mux: a client's GIDs and comm ids are forgotten when it disconnects" {
	mux_start
	client a
	to a reg ::ffff:10.1.0.2
	expect a 1 'RESP REG 0'
	to a mad ::ffff:10.1.0.2 10 000000bb 0 ::ffff:10.1.0.9
	expect a 2 'RESP MAD 0'
	to a close
	wait_log "$T/mux.log" 'client 0 \(pid [0-9]+\) disconnected; its 1 GIDs are forgotten'
	client b
	to b reg ::ffff:10.1.0.2
	expect b 1 'RESP REG 0'
	to fabric mad ::ffff:10.1.0.9 13 00000001 000000bb
	wait_log "$T/mux.log" 'in REP 0x0013 .*unknown or expired comm id'
}

@test "pvrdma-mux: limits: clients, GIDs; each said in the log" {
	mux_start --max-clients 1 --max-gids 2
	client a
	to a reg fe80::1
	to a reg fe80::2
	to a reg fe80::3
	expect a 3 'RESP REG 1'
	wait_log "$T/mux.log" 'the GID table is full \(2\)'
	peer_start b client "$SOCK"
	expect b 1 'EOF'
	wait_log "$T/mux.log" '1 clients already \(--max-clients\): a new one refused'
	to a unreg fe80::1
	expect a 4 'RESP UNREG 0'
	to a reg fe80::3
	expect a 5 'RESP REG 0'
}

@test "pvrdma-mux: a client that stops reading is dropped --queue-timeout after its queue fills; the MADs behind are not lost" {
	mux_start --queue 4 --queue-timeout 1
	two_clients ::ffff:10.1.0.2 ::ffff:10.1.0.3
	to a stall
	expect a 2 'STALLED'
	# far more than a socket buffer and the queue hold, then one for b
	to fabric many 3000 ::ffff:10.1.0.9 10 00000001 0 ::ffff:10.1.0.2
	to fabric mad ::ffff:10.1.0.9 10 00000002 0 ::ffff:10.1.0.3
	wait_log "$T/mux.log" 'client 0 .*does not read: its queue has been full for 1 s \(--queue-timeout\); closed' 30
	expect b 2 'MAD 0010 ::ffff:10.1.0.3 256 00000000'
	to b reg fe80::b
	expect b 3 'RESP REG 0'
	usr1_stats
	[[ $(stat_of '.clients, .clients_dropped_queue_full, .port_waits') == $'1\n1\n1' ]]
}

# port_waiting: the figures say the port waited for a client once.
port_waiting() {
	usr1_stats && [[ $(stat_of .port_waits) == 1 ]]
}

@test "pvrdma-mux: while the port waits for a client that does not read, the others' requests are answered" {
	mux_start --queue 4 --queue-timeout 3600
	two_clients ::ffff:10.1.0.2 ::ffff:10.1.0.3
	to a stall
	expect a 2 'STALLED'
	to fabric many 3000 ::ffff:10.1.0.9 10 00000001 0 ::ffff:10.1.0.2
	to fabric mad ::ffff:10.1.0.9 10 00000002 0 ::ffff:10.1.0.3
	wait_for 30 port_waiting
	to b reg fe80::b
	expect b 2 'RESP REG 0'
	# a goes away: what waited for it is dropped, b's MAD comes
	kill "${PEER_PIDS[1]}"
	expect b 3 'MAD 0010 ::ffff:10.1.0.3 256 00000000'
	wait_log "$T/mux.log" 'client 0 \(pid [0-9]+\) (disconnected|cannot be written to)'
	usr1_stats
	[[ $(stat_of '.clients, .clients_dropped_queue_full') == $'1\n0' ]]
}

@test "pvrdma-mux: a stale socket file is replaced, a live mux is not, a non-socket is refused" {
	mux_start
	run mb pvrdma-mux -d rxe0 -s "$T/m" --test-port "$T/fab.sock"
	assert_fails_with 1 "$SOCK is in use: another mux serves rxe0:1"
	kill -KILL "$MUX_PID"
	wait "$MUX_PID" || :
	MUX_PID=
	[[ -S $SOCK ]]
	# the same fabric is gone with its connection: a new one
	mv "$T/mux.log" "$T/mux1.log"
	kill "${PEER_PIDS[0]}" 2>/dev/null || :
	rm -f "$T/fabric.in"
	mux_start
	grep -q "$SOCK: a stale socket file (nothing listens): replaced" "$T/mux.log"
	touch "$T/x-rxe0-1"
	run mb pvrdma-mux -d rxe0 -s "$T/x" --test-port "$T/fab.sock"
	assert_fails_with 1 "$T/x-rxe0-1 exists and is not a socket"
}

@test "pvrdma-mux: SIGTERM sends what was answered, removes the socket, writes the stats, dies of it" {
	mux_start
	client a
	to a reg fe80::1
	expect a 1 'RESP REG 0'
	kill -TERM "$MUX_PID"
	status=0
	wait "$MUX_PID" || status=$?
	MUX_PID=
	[[ $status -eq 143 ]]
	[[ ! -e $SOCK ]]
	grep -q 'pvrdma-mux: interrupted by SIGTERM' "$T/mux.log"
	[[ $(stat_of '.requests.reg, .gids, .clients') == $'1\n1\n1' ]]
	expect a 2 'EOF'
}

# pane: what the console's terminal shows now.
pane() {
	tmux -L "$TMUX_SERVER" capture-pane -p -t mux -S -200
}

pane_shows() {
	pane | grep -Eq -- "$1"
}

# pane_count REGEX N: the terminal shows N lines matching it.
pane_count() {
	(($(pane | grep -Ec -- "$1") == $2))
}

# wait_pane REGEX: until the terminal shows a line matching it.
wait_pane() {
	wait_for 10 pane_shows "$1" || { pane >&2; return 1; }
}

@test "pvrdma-mux --console in a real terminal: commands, completion, history, drop; quit exits 0" {
	command -v tmux >/dev/null || { echo 'tmux not installed: run ./install-deps' >&2; return 1; }
	TMUX_SERVER=migbox-$$-$BATS_TEST_NUMBER
	peer_start fabric fabric "$T/fab.sock"
	wait_log "$T/fabric.log" LISTENING
	tmux -L "$TMUX_SERVER" new-session -d -s mux -x 160 -y 60 \
		"'$MIGBOX' pvrdma-mux -d rxe0 -s '$T/m' --test-port '$T/fab.sock' --console -v 2>'$T/mux.log'; echo \$? >'$T/exit'; sleep 60"
	wait_log "$T/fabric.log" CONNECTED
	wait_pane '^pvrdma-mux> ?$'
	client a
	to a reg ::ffff:10.1.0.2
	expect a 1 'RESP REG 0'
	tmux -L "$TMUX_SERVER" send-keys -t mux 'gids' Enter
	wait_pane '^ +::ffff:10\.1\.0\.2 +client 0$'
	# completion of a command, then of trace's argument
	tmux -L "$TMUX_SERVER" send-keys -t mux 'cli' Tab Enter
	wait_pane '^pvrdma-mux> clients$'
	wait_pane '^ +client 0 +pid [0-9]+ +requests 1 '
	tmux -L "$TMUX_SERVER" send-keys -t mux 'trace of' Tab Enter
	wait_pane '^trace is off$'
	# history: the last command again
	tmux -L "$TMUX_SERVER" send-keys -t mux Up Enter
	[[ $(pane | grep -c '^trace is off$') -ge 1 ]]
	wait_for 10 pane_count '^pvrdma-mux> trace off$' 2 || { pane >&2; false; }
	tmux -L "$TMUX_SERVER" send-keys -t mux 'stats' Enter
	wait_pane '^requests REG 1 UNREG 0 MAD 0 invalid 0$'
	tmux -L "$TMUX_SERVER" send-keys -t mux 'frob' Enter
	wait_pane '^frob: no such command \(help lists them\)$'
	tmux -L "$TMUX_SERVER" send-keys -t mux 'drop 0' Enter
	expect a 2 'EOF'
	tmux -L "$TMUX_SERVER" send-keys -t mux 'gids' Enter
	wait_pane '^0 GIDs \(at most 4096\)$'
	tmux -L "$TMUX_SERVER" send-keys -t mux 'quit' Enter
	wait_log "$T/exit" '^0$'
	[[ ! -e $SOCK ]]
	tmux -L "$TMUX_SERVER" kill-server
}

@test "pvrdma-mux: a burst 25 times --queue reaches a client that reads promptly, which is kept" {
	mux_start --queue 4
	client a
	to a reg ::ffff:10.1.0.2
	expect a 1 'RESP REG 0'
	# more than the queue, less than its socket takes
	to fabric many 100 ::ffff:10.1.0.9 10 00000001 0 ::ffff:10.1.0.2
	wait_for 30 has_lines "$T/a.log" 101
	[[ $(grep -c '^MAD 0010 ::ffff:10.1.0.2 256 ' "$T/a.log") == 100 ]]
	! grep -q 'queue is full' "$T/mux.log"
	to a reg fe80::a
	expect a 102 'RESP REG 0'
	usr1_stats
	[[ $(stat_of '.clients, .clients_dropped_queue_full, .mads_routed') == $'1\n0\n100' ]]
}

# all_or_eof FILE N: FILE has N lines, or the connection it logs ended.
all_or_eof() {
	has_lines "$1" "$2" || grep -q '^EOF$' "$1"
}

@test "pvrdma-mux: a burst far beyond --queue and the socket's buffer reaches a client that reads promptly, which is kept" {
	mux_start --queue 2
	client a
	to a reg ::ffff:10.1.0.2
	expect a 1 'RESP REG 0'
	# 3000 x 360 bytes: more than the client's socket holds, so the mux
	# must wait for the client to read instead of judging it dead
	to fabric many 3000 ::ffff:10.1.0.9 10 00000001 0 ::ffff:10.1.0.2
	wait_log "$T/fabric.log" '^INJECTED 3000$' 60
	wait_for 60 all_or_eof "$T/a.log" 3001
	[[ $(grep -c '^MAD 0010 ::ffff:10.1.0.2 256 ' "$T/a.log") == 3000 ]]
	! grep -q 'does not read' "$T/mux.log"
	to a reg fe80::a
	expect a 3002 'RESP REG 0'
	usr1_stats
	[[ $(stat_of '.clients, .clients_dropped_queue_full, .mads_routed, .mads_dropped') == $'1\n0\n3000\n0' ]]
}

@test "pvrdma-mux: one client cannot take every GID or comm id: per-client shares" {
	mux_start --max-gids-per-client 2 --max-commids-per-client 1
	client a
	client b
	to a reg ::ffff:10.1.0.2
	to a reg ::ffff:10.1.0.3
	to a reg ::ffff:10.1.0.4
	expect a 3 'RESP REG 1'
	wait_log "$T/mux.log" 'client 0 has 2 GIDs \(--max-gids-per-client\): registration refused'
	to b reg ::ffff:10.1.0.4
	expect b 1 'RESP REG 0'
	# a's second connection's comm id is past its share: sent, not learned
	to a mad ::ffff:10.1.0.2 10 000000a1 0 ::ffff:10.1.0.9
	expect a 4 'RESP MAD 0'
	to a mad ::ffff:10.1.0.2 10 000000a2 0 ::ffff:10.1.0.9
	expect a 5 'RESP MAD 0'
	wait_log "$T/mux.log" "client 0's share is full"
	to b mad ::ffff:10.1.0.4 10 000000b1 0 ::ffff:10.1.0.9
	expect b 2 'RESP MAD 0'
	to fabric mad ::ffff:10.1.0.9 13 00000001 000000b1
	expect b 3 'MAD 0013 ::ffff:10.1.0.4 256 000000b1'
	to fabric mad ::ffff:10.1.0.9 13 00000001 000000a2
	wait_log "$T/mux.log" 'in REP 0x0013 .*unknown or expired comm id'
	usr1_stats
	[[ $(stat_of '.gids, .commids') == $'3\n2' ]]
}

@test "pvrdma-mux: a client stalled inside a message is dropped after --message-timeout; an idle one is kept" {
	mux_start --message-timeout 1
	client a
	client b
	to a reg fe80::a
	expect a 1 'RESP REG 0'
	# 100 of the 360 bytes of a REG, then nothing
	to b bytes "$(printf '%0200d' 0)"
	wait_log "$T/mux.log" 'client 1: 100 of 360 bytes of a message 1 s after its first \(--message-timeout\)' 10
	expect b 1 'EOF'
	# a, idle meanwhile, is served
	to a reg fe80::b
	expect a 2 'RESP REG 0'
	usr1_stats
	[[ $(stat_of '.clients, .clients_dropped_stalled') == $'1\n1' ]]
}

# connections N: one process opens N connections to the mux and says for
# each whether the mux closed it within 2 s ("closed") or not ("open").
connections() {
	perl -MIO::Socket::UNIX -MIO::Select -e '
		my @s = map { IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!" } 1 .. $ARGV[1];
		select(undef, undef, undef, 2);
		for my $s (@s) {
			my $r = IO::Select->new($s)->can_read(0) ? sysread($s, my $b, 1) : undef;
			print defined $r && $r == 0 ? "closed\n" : "open\n";
		}' "$SOCK" "$1"
}

@test "pvrdma-mux: one process cannot take every client slot (--max-clients-per-pid)" {
	mux_start --max-clients-per-pid 2
	[[ $(connections 3 | sort | uniq -c | tr -s ' ') == $' 1 closed\n 2 open' ]]
	wait_log "$T/mux.log" 'process [0-9]+ has 2 clients already \(--max-clients-per-pid\): a new one refused'
	client a
	to a reg fe80::a
	expect a 1 'RESP REG 0'
}

@test "pvrdma-mux: a comm id stays its first owner's; a MAD from a GID the client did not register is refused" {
	mux_start
	two_clients ::ffff:10.1.0.2 ::ffff:10.1.0.3
	to a mad ::ffff:10.1.0.2 10 000000aa 0 ::ffff:10.1.0.9
	expect a 2 'RESP MAD 0'
	# b reuses a's comm id: EACCES (3), not sent
	to b mad ::ffff:10.1.0.3 10 000000aa 0 ::ffff:10.1.0.9
	expect b 2 'RESP MAD 3'
	wait_log "$T/mux.log" "client 1: a MAD with another client's comm id: refused"
	to fabric mad ::ffff:10.1.0.9 13 00000001 000000aa
	expect a 3 'MAD 0013 ::ffff:10.1.0.2 256 000000aa'
	# b sends from a's GID, and from one nobody registered
	to b mad ::ffff:10.1.0.2 10 000000bb 0 ::ffff:10.1.0.9
	expect b 3 'RESP MAD 3'
	to b mad ::ffff:10.1.0.7 10 000000bc 0 ::ffff:10.1.0.9
	expect b 4 'RESP MAD 3'
	wait_log "$T/mux.log" 'client 1: a MAD from GID ::ffff:10.1.0.7, which it did not register: refused'
	# the fabric saw a's REQ only
	[[ $(grep -c '^SENT' "$T/fabric.log") == 1 ]]
	usr1_stats
	[[ $(stat_of '.mads_sent, .mads_refused_not_its_gid, .mads_refused_comm_id_taken') == $'1\n2\n1' ]]
}

@test "pvrdma-mux: a MAD whose GRH leaves from a port GID (gid_index) the client did not register is refused" {
	mkdir "$T/gids"
	echo 0000:0000:0000:0000:0000:ffff:0a01:0002 >"$T/gids/0"
	echo 0000:0000:0000:0000:0000:ffff:0a01:0003 >"$T/gids/1"
	echo 0000:0000:0000:0000:0000:0000:0000:0000 >"$T/gids/2"
	mux_start --test-gids "$T/gids"
	two_clients ::ffff:10.1.0.2 ::ffff:10.1.0.3
	# a's GID as its sgid and at the GRH's index 0: sent
	to a madgrh 0 ::ffff:10.1.0.2 10 000000a1 0 ::ffff:10.1.0.9
	expect a 2 'RESP MAD 0'
	# a's GID as its sgid, but the GRH from index 1, b's GID
	to a madgrh 1 ::ffff:10.1.0.2 10 000000a2 0 ::ffff:10.1.0.9
	expect a 3 'RESP MAD 3'
	wait_log "$T/mux.log" "client 0: a MAD sent from the port's GID index 1 \(::ffff:10\.1\.0\.3\), which it did not register: refused"
	# an empty entry, and one the table does not have
	to a madgrh 2 ::ffff:10.1.0.2 10 000000a3 0 ::ffff:10.1.0.9
	expect a 4 'RESP MAD 3'
	to a madgrh 9 ::ffff:10.1.0.2 10 000000a4 0 ::ffff:10.1.0.9
	expect a 5 'RESP MAD 3'
	wait_log "$T/mux.log" "client 0: a MAD sent from the port's GID index 9 \(no GID there\)"
	[[ $(grep -c '^SENT' "$T/fabric.log") == 1 ]]
	usr1_stats
	[[ $(stat_of '.mads_sent, .mads_refused_not_its_gid') == $'1\n3' ]]
	run mb pvrdma-mux -d rxe0 --test-gids "$T/gids"
	assert_fails_with 2 '--test-gids goes with --test-port'
}

@test "pvrdma-mux: the socket is 0660 whatever the umask (000 here)" {
	umask 000
	mux_start
	[[ $(stat -c %a "$SOCK") == 660 ]]
}

@test "pvrdma-mux: the socket is 0660 whatever the umask (077 here)" {
	umask 077
	mux_start
	[[ $(stat -c %a "$SOCK") == 660 ]]
}

@test "pvrdma-mux: --socket-mode and --socket-group set the socket's access (umask 077 here)" {
	umask 077
	mux_start --socket-mode 0640 --socket-group daemon
	[[ $(stat -c '%a %G' "$SOCK") == '640 daemon' ]]
	run mb pvrdma-mux -d rxe0 -s "$T/x" --test-port "$T/none" --socket-mode 0999
	assert_fails_with 2 '--socket-mode 0999: octal permissions, 0 to 0777'
	run mb pvrdma-mux -d rxe0 -s "$T/x" --test-port "$T/fab.sock" --socket-group no-such-group-here
	assert_fails_with 1 '--socket-group no-such-group-here: no such group'
}

@test "pvrdma-mux: a socket path swapped for a symlink right after bind is refused; what the symlink names keeps its mode and group" {
	cc -shared -fPIC -o "$T/swap.so" "$BATS_TEST_DIRNAME/lib/swap-after-bind.c" -ldl
	peer_start fabric fabric "$T/fab.sock"
	wait_log "$T/fabric.log" LISTENING
	echo secret >"$T/target"
	chmod 0600 "$T/target"
	before=$(stat -c '%a %G' "$T/target")
	# timeout: a mux that does not notice serves on
	run env SWAP_PATH="$SOCK" SWAP_TARGET="$T/target" LD_PRELOAD="$T/swap.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		timeout 10 "$MIGBOX" pvrdma-mux -d rxe0 -s "$T/m" --test-port "$T/fab.sock" --socket-group daemon
	[[ $(stat -c '%a %G' "$T/target") == "$before" ]]
	assert_fails_with 1 "$SOCK is no longer the socket bound there (replaced meanwhile?): not serving on it"
	[[ -L $SOCK ]]
}
