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
# "play" answers each PING with its PONG, as QEMU does, and once it
# answered PING 3 (the package is loaded: the guest would run) writes HEX,
# FAKE_REPEAT times (default 1), after truncating FAKE_TRUNCATE ("FILE
# SIZE") if set; then as "finish". "play-deaf" the same, but after HEX it
# reads no more.
# What a connection sent ends up in $T/got.N (after its EOF).
fake_dest() {
	stop_fake_dest
	rm -f "$T"/port "$T"/accepted.* "$T"/got.*
	perl -MIO::Socket::INET -e '
		my ($dir, $mode, $hex) = @ARGV;
		my $l = IO::Socket::INET->new(Listen => 8, LocalAddr => "127.0.0.1:0", ReuseAddr => 1)
			or die "listen: $!";
		open(my $p, ">", "$dir/port.tmp") or die; print $p $l->sockport, "\n"; close $p;
		rename("$dir/port.tmp", "$dir/port") or die;
		my $n = 0;
		while (my $c = $l->accept) {
			$n++;
			open(my $a, ">", "$dir/accepted.$n") or die; close $a;
			if ($mode eq "close") { close $c; next }
			if ($mode eq "silent") { sleep 3600 }
			my $play = $mode =~ /^play/;
			print $c pack("H*", $hex // "") unless $play;
			shutdown($c, 1) unless $mode eq "hold" || $mode eq "finish" || $play;
			my ($all, $buf, $shut, $pinged) = ("", "", 0, 0);
			while (sysread($c, $buf, 65536)) {
				$all .= $buf;
				# each PING: 08, be16 2, be16 4, be32 value
				while ($play && $pinged < length($all) &&
				       substr($all, $pinged) =~ /\x08\x00\x02\x00\x04(.{4})/s) {
					my $v = unpack("N", $1);
					$pinged += $+[0];
					print $c pack("nnN", 2, 4, $v);
					next unless $v == 3;
					if ($ENV{FAKE_TRUNCATE}) {
						my ($f, $size) = split / /, $ENV{FAKE_TRUNCATE};
						truncate($f, $size) or die "truncate $f: $!";
					}
					print $c pack("H*", $hex // "") x ($ENV{FAKE_REPEAT} || 1);
					sleep 3600 if $mode eq "play-deaf";
				}
				next unless ($mode eq "finish" || $play) && !$shut && length($all) >= 19;
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
