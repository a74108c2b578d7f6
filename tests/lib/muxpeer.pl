#!/usr/bin/perl
# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/muxpeer.pl - the two peers of pvrdma-mux, for tests: QEMU's
# side (a client of the mux socket, byte-exact 360-byte RdmaCmMuxMsg) and
# the fabric (the other end of --test-port: one ib_user_mad per packet).
# Both read commands, one per line, from stdin and log what happens, one
# line each, to stdout (flushed), so a test drives them through FIFOs and
# polls their logs.
#
#   muxpeer.pl client SOCKET
#     reg GID | unreg GID      REG/UNREG, then "RESP REG|UNREG ERR"
#     mad GID ATTR LOCAL REMOTE [DGID [LEN]]
#                              a CM MAD from GID (hex attr, comm ids), then
#                              "RESP MAD ERR"; DGID goes where REQ (data+80)
#                              and SIDR_REQ (data+44) carry it
#     madgrh INDEX GID ATTR LOCAL REMOTE [DGID [LEN]]
#                              the same with a GRH from the port's GID
#                              INDEX, as QEMU sends it
#     raw TYPE OP [GID]        a message with any msg_type/op_code
#     pieces GID               a REG written in three pieces
#     badlen GID N             a MAD request whose umad_len says N
#     stall                    stop reading (and everything else)
#     bytes HEX                raw bytes, nothing awaited
#     close                    close the connection
#   Unsolicited messages: "MAD ATTR IFID LEN COMM" (IFID as a GID ::x).
#   The end of the connection: "EOF".
#
#   muxpeer.pl fabric PATH
#     mad SRCGID ATTR LOCAL REMOTE [DGID [LEN]]   a MAD arrives at the port
#     many N SRCGID ATTR LOCAL REMOTE [DGID]       N of them at once
#     hdronly                  a header-only MAD (a send handed back)
#   Each MAD the mux sends: "SENT ATTR LOCAL REMOTE LEN ADDRGID".
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM SOCK_SEQPACKET inet_pton AF_INET6 inet_ntop);

$| = 1;
my ($mode, $path) = @ARGV;
die "usage: muxpeer.pl client|fabric PATH\n" unless $mode && $path;

sub gid { my $g = inet_pton(AF_INET6, $_[0]) or die "bad GID $_[0]\n"; $g }

# A CM MAD: common header (base 1, class 7, version 2, method SEND 3,
# attr id at 16) then comm ids at data+0 and +4, the GID's low half at
# data+80 (REQ) or data+44 (SIDR_REQ).
sub cm_mad {
	my ($attr, $local, $remote, $dgid, $len) = @_;
	my $mad = pack('CCCC', 1, 7, 2, 3) . ("\0" x 12) . pack('n', hex $attr) . ("\0" x 6);
	my $data = pack('NN', hex $local, hex $remote) . ("\0" x 224);
	if (defined $dgid && $dgid ne '-') {
		my $at = hex($attr) == 0x10 ? 80 : 44;
		substr($data, $at, 8) = substr(gid($dgid), 8, 8);
	}
	$mad = substr($mad . $data, 0, $len // 256);
	return $mad;
}

# struct ib_user_mad's 64 bytes: agent_id, status, timeout, retries, length,
# then ib_mad_addr (qpn at 20, grh_present at 30, gid_index 31, hop_limit
# 32, gid at 36); a GRH when a gid_index is given.
sub umad_hdr {
	my ($gid, $index) = @_;
	my $grh = defined $index ? 1 : 0;
	return pack('LLLLL', 0, 0, 0, 0, 0) . pack('N', 1) . pack('Nn', 0, 0)
		. pack('C6', 0, 0, $grh, $index // 0, $grh ? 0xff : 0, 0) . $gid . ("\0" x 12);
}

sub msg {
	my ($type, $op, $gid, $mad, $addr, $index) = @_;
	$mad //= '';
	my $m = pack('LL', $type, $op) . $gid . pack('LL', 0, 0) . pack('l', length $mad)
		. umad_hdr($addr // ("\0" x 16), $index) . $mad;
	return $m . ("\0" x (360 - length $m));
}

sub show_gid { inet_ntop(AF_INET6, $_[0]) }

# The next command lines from stdin: sysread, as select() cannot see what
# a buffered <STDIN> already holds. Undef at its end.
my $stdin_buf = '';
sub stdin_lines {
	my $n = sysread(STDIN, my $chunk, 4096);
	return undef unless $n;
	$stdin_buf .= $chunk;
	my @lines;
	push @lines, $1 while $stdin_buf =~ s/^([^\n]*)\n//;
	return \@lines;
}

if ($mode eq 'client') {
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
		or die "connect $path: $!\n";
	my $buf = '';
	my $eof = 0;
	# reads until one whole message; prints unsolicited MADs as they come
	my $read_msg = sub {
		my ($want_resp, $timeout) = @_;
		my $sel = IO::Select->new($s);
		while (1) {
			while (length $buf >= 360) {
				my $m = substr($buf, 0, 360, '');
				my ($type, $op) = unpack('LL', $m);
				my $err = unpack('L', substr($m, 24, 4));
				if ($type == 1) {
					return sprintf('RESP %s %d', (qw(REG UNREG MAD))[$op] // $op,
						       unpack('l', pack('L', $err)));
				}
				my $len = unpack('l', substr($m, 32, 4));
				my $mad = substr($m, 100, 256);
				printf "MAD %04x %s %d %08x\n", unpack('n', substr($mad, 16, 2)),
					show_gid("\0" x 8 . substr($m, 16, 8)), $len,
					unpack('N', substr($mad, 28, 4));
			}
			return undef unless $want_resp || $sel->can_read(0);
			return undef if $eof;
			$sel->can_read($timeout // 10) or return 'TIMEOUT';
			my $n = sysread($s, my $chunk, 4096);
			if (!$n) { $eof = 1; print "EOF\n"; return 'EOF' }
			$buf .= $chunk;
		}
	};
	my $in = IO::Select->new(\*STDIN, $s);
	while (1) {
		for my $fh ($in->can_read(1)) {
			if ($fh == $s) {
				my $n = sysread($s, my $chunk, 4096);
				if (!$n) { print "EOF\n" unless $eof; exit 0 }
				$buf .= $chunk;
				$read_msg->(0);
				next;
			}
			my $lines = stdin_lines();
			exit 0 unless defined $lines;
			for my $line (@$lines) {
			my @a = split ' ', $line;
			next unless @a;
			my $c = shift @a;
			my $r;
			if ($c eq 'reg' || $c eq 'unreg') {
				syswrite($s, msg(0, $c eq 'reg' ? 0 : 1, gid($a[0])));
				$r = $read_msg->(1);
			} elsif ($c eq 'mad' || $c eq 'madgrh') {
				my $index = $c eq 'madgrh' ? shift @a : undef;
				my ($g, $attr, $l, $rm, $dg, $len) = @a;
				my $mad = cm_mad($attr, $l, $rm, $dg, $len);
				syswrite($s, msg(0, 2, gid($g), $mad, gid($g), $index));
				$r = $read_msg->(1);
			} elsif ($c eq 'raw') {
				syswrite($s, msg($a[0], $a[1], gid($a[2] // '::')));
				$r = $read_msg->(1, 3);
			} elsif ($c eq 'pieces') {
				my $m = msg(0, 0, gid($a[0]));
				for my $p (substr($m, 0, 7), substr($m, 7, 200), substr($m, 207)) {
					syswrite($s, $p);
					select(undef, undef, undef, 0.2);
				}
				$r = $read_msg->(1);
			} elsif ($c eq 'badlen') {
				my $m = msg(0, 2, gid($a[0]), cm_mad('10', 1, 0));
				substr($m, 32, 4) = pack('l', $a[1]);
				syswrite($s, $m);
				$r = $read_msg->(1);
			} elsif ($c eq 'stall') {
				print "STALLED\n";
				sleep 3600;
			} elsif ($c eq 'bytes') {
				syswrite($s, pack('H*', $a[0]));
			} elsif ($c eq 'close') {
				close $s;
				print "CLOSED\n";
				exit 0;
			}
			print "$r\n" if defined $r;
			}
		}
	}
} elsif ($mode eq 'fabric') {
	unlink $path;
	my $l = IO::Socket::UNIX->new(Type => SOCK_SEQPACKET, Local => $path, Listen => 1)
		or die "listen $path: $!\n";
	print "LISTENING\n";
	my $s = $l->accept or die "accept: $!\n";
	print "CONNECTED\n";
	my $in = IO::Select->new(\*STDIN, $s);
	while (1) {
		for my $fh ($in->can_read(1)) {
			if ($fh == $s) {
				my $n = sysrecv($s);
				exit 0 unless defined $n;
				next;
			}
			my $lines = stdin_lines();
			exit 0 unless defined $lines;
			for my $line (@$lines) {
			my @a = split ' ', $line;
			next unless @a;
			my $c = shift @a;
			if ($c eq 'mad') {
				my ($src, $attr, $l, $r, $dg, $len) = @a;
				send($s, umad_hdr(gid($src)) . cm_mad($attr, $l, $r, $dg, $len), 0);
			} elsif ($c eq 'many') {
				my ($n, $src, $attr, $l, $r, $dg) = @a;
				for my $i (1 .. $n) {
					send($s, umad_hdr(gid($src)) . cm_mad($attr, $l, $r, $dg), 0);
				}
				print "INJECTED $n\n";
			} elsif ($c eq 'hdronly') {
				send($s, umad_hdr("\0" x 16) . cm_mad('10', 0, 0, '-', 24), 0);
			}
			}
		}
	}

	sub sysrecv {
		my ($sock) = @_;
		my $p;
		defined(recv($sock, $p, 4096, 0)) or return undef;
		if (!length $p) { print "EOF\n"; return undef }
		my $mad = substr($p, 64);
		printf "SENT %04x %08x %08x %d %s\n", unpack('n', substr($mad, 16, 2)),
			unpack('N', substr($mad, 24, 4)), unpack('N', substr($mad, 28, 4)),
			length $mad, show_gid(substr($p, 36, 16));
		return length $p;
	}
} else {
	die "usage: muxpeer.pl client|fabric PATH\n";
}
