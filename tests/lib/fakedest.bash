# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/fakedest.bash - a fake postcopy destination (a perl listener
# that plays the return path from hex bytes), for postcopy-serve tests
# without QEMU: `load lib/fakedest` after `load helpers`. The test's
# teardown calls stop_fake_dest.
#
#   fake_dest MODE [HEX]    a destination; its port in $port, its pid in
#                           $peer_pid
#   stop_fake_dest          ends it

stop_fake_dest() {
	if [[ -n $peer_pid ]]; then
		kill "$peer_pid" 2>/dev/null || true
		wait "$peer_pid" 2>/dev/null || true
		peer_pid=
	fi
}

# fake_dest MODE [HEX]: a destination on 127.0.0.1, port in $port once it
# listens. Each connection N makes $T/accepted.N, then by MODE: "reply"
# writes the bytes HEX, ends its side and reads to EOF, "hold" the same
# without ending its side, "finish" the same as hold until the stream's
# end came (RAM END section, EOS, footer, EOF), then SHUT 0 and the end of
# its side, "close" closes at once, "silent" neither reads nor writes.
# "play" writes FAKE_FIRST (hex) at once if set, answers each PING with
# its PONG, as QEMU does, and once it answered PING 3 (the package is
# loaded: the guest would run) or read POSTCOPY_RESUME (--resume) writes
# HEX, FAKE_REPEAT times (default 1); then as "finish". FAKE_TRUNCATE
# ("FILE SIZE") truncates FILE before the PONG of PING FAKE_TRUNCATE_AT
# (default 3). "play-deaf" the same, but after HEX it reads no more;
# "play-hold" the same as play, but it never says SHUT.
# HEX may be @FILE: the hex in FILE (an argument holds at most 128 KiB).
# What a connection sent ends up in $T/got.N (after its EOF).
# FAKE_PREEMPT (postcopy-preempt): the second connection, accepted right
# after the first as QEMU does, is the preempt channel: "read" records
# what came on it in $T/got-preempt (after its EOF), "close" closes it at
# once (a destination without the capability), "refuse" stops listening
# once the first is accepted.
fake_dest() {
	stop_fake_dest
	rm -f "$T"/port "$T"/accepted.* "$T"/got.* "$T"/got-preempt
	perl -MIO::Socket::INET -e '
		my ($dir, $mode, $hex) = @ARGV;
		if (defined $hex && $hex =~ s/^@//) {
			open(my $h, "<", $hex) or die "$hex: $!";
			local $/;
			$hex = <$h>;
			$hex =~ s/\s+//g;
		}
		my $l = IO::Socket::INET->new(Listen => 8, LocalAddr => "127.0.0.1:0", ReuseAddr => 1)
			or die "listen: $!";
		open(my $p, ">", "$dir/port.tmp") or die; print $p $l->sockport, "\n"; close $p;
		rename("$dir/port.tmp", "$dir/port") or die;
		my $n = 0;
		while (my $c = $l->accept) {
			$n++;
			open(my $a, ">", "$dir/accepted.$n") or die; close $a;
			my $pre = $n == 1 ? $ENV{FAKE_PREEMPT} // "" : "";
			if ($pre eq "refuse") {
				close $l;
			} elsif ($pre) {
				my $pc = $l->accept or die "accept: $!";
				if ($pre eq "read" && !fork()) {
					close $c;
					my ($all, $buf) = ("", "");
					$all .= $buf while sysread($pc, $buf, 65536);
					open(my $g, ">", "$dir/got-preempt.tmp") or die; print $g $all; close $g;
					rename("$dir/got-preempt.tmp", "$dir/got-preempt") or die;
					exit 0;
				}
				close $pc;
			}
			if ($mode eq "close") { close $c; next }
			if ($mode eq "silent") { sleep 3600 }
			my $play = $mode =~ /^play/;
			print $c pack("H*", $hex // "") unless $play;
			print $c pack("H*", $ENV{FAKE_FIRST}) if $play && $ENV{FAKE_FIRST};
			shutdown($c, 1) unless $mode eq "hold" || $mode eq "finish" || $play;
			my ($all, $buf, $shut, $pinged, $played) = ("", "", 0, 0, 0);
			while (sysread($c, $buf, 65536)) {
				$all .= $buf;
				# each PING (08, be16 2, be16 4, be32 value) until HEX was
				# played, or POSTCOPY_RESUME (08, be16 9, be16 0: value 0)
				while ($play && !$played && $pinged < length($all) &&
				       substr($all, $pinged) =~ /\x08\x00(?:\x02\x00\x04(.{4})|\x09\x00\x00)/s) {
					my $v = defined $1 ? unpack("N", $1) : 0;
					$pinged += $+[0];
					if ($ENV{FAKE_TRUNCATE} && $v == ($ENV{FAKE_TRUNCATE_AT} || 3)) {
						my ($f, $size) = split / /, $ENV{FAKE_TRUNCATE};
						truncate($f, $size) or die "truncate $f: $!";
					}
					print $c pack("nnN", 2, 4, $v) if $v;
					next unless $v == 3 || !$v;
					$played = 1;
					print $c pack("H*", $hex // "") x ($ENV{FAKE_REPEAT} || 1);
					sleep 3600 if $mode eq "play-deaf";
				}
				next unless ($mode eq "finish" || ($play && $mode ne "play-hold")) &&
					!$shut && length($all) >= 19;
				next unless substr($all, -19) =~ /^\x03(.{4})\x00{7}\x10\x7e\1\x00\z/s;
				print $c pack("H*", "0001000400000000");
				shutdown($c, 1);
				$shut = 1;
			}
			open(my $g, ">", "$dir/got.$n.tmp") or die; print $g $all; close $g;
			rename("$dir/got.$n.tmp", "$dir/got.$n") or die;
		}' "$T" "$@" 3>&- &
	peer_pid=$!
	wait_for 10 test -e "$T/port"
	port=$(<"$T/port")
}
