#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# The README's "With libvirt" recipes, run as the README writes them,
# against real domains of a libvirtd this file starts for itself
# (tests/lib/libvirt.bash: its own mount namespace, nothing of the host's
# libvirt used or changed; libvirt's seccomp sandbox on). Every block of
# README.md that follows a `<!-- libvirt-recipe NAME -->` mark is read from
# README.md and run line by line (lib/readme-recipe: 127.0.0.1 for host
# and dsthost, a free port for 4444, the test's directory for /tmp; a line
# that ends in `  # TEXT` must print TEXT), so the README and the tests
# cannot drift apart.
#
# The guest is the Linux guest of lib/linux-guest (TCG, 128 MiB, RAM in a
# shared file on tmpfs, console into a file): it keeps a 16 MiB file in
# tmpfs and prints "SUM <md5>" and "TICK n". The domain DOM boots once for
# the file and is the source of every migration, in the order of the
# tests: tcp:, fd:, multifd (whose stream, vm.mig, the destination tests
# load), then exec:, which kills it; then, as the README says, libvirtd
# restarted with seccomp_sandbox = 0 and DOM started again, exec: into a
# file and into multifd-send. A migrated stream must hold the RAM the
# source, paused by the migration, holds (its RAM file's --image-digest);
# a destination domain DST must hold that RAM and its guest carry on:
# TICKs after the source's last, the same SUM of its file.
#
# Needs libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients,
# qemu-system-x86, socat, jq, iproute2, busybox-static, cpio
# (./install-deps), root, and the test VM's kernel cache (tests/vm/fetch
# builds it when it is missing). Nothing is skipped.

load helpers
load lib/linux-guest
load lib/libvirt
load lib/readme-recipe

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}	# s from the start to the first SUM and 5 TICKs (TCG)
GUEST_TIMEOUT=${GUEST_TIMEOUT:-60}	# s for a restored guest to print a SUM
# shellcheck disable=SC2034 # read by lib/readme-recipe
README=$BATS_TEST_DIRNAME/../README.md
# shellcheck disable=SC2034 # read by lib/readme-recipe
RECIPE_MARK=libvirt-recipe

# The README's `migbox`: the binary under test.
migbox() {
	"$MIGBOX" "$@"
}

setup_file() {
	# not under /var or /run, which the daemon's namespace overlays
	LV_ROOT=$(mktemp -d /tmp/migbox-libvirt.XXXXXX)
	export LV_ROOT LINUX_GUEST_INITRD=$LV_ROOT/initrd.cpio SRC_SERIAL=$LV_ROOT/DOM.serial
	if ! start_source; then
		libvirt_stop
		rm -rf "$LV_ROOT"
		return 1
	fi
}

start_source() {
	libvirt_start "$LV_ROOT/daemon" || return 1
	linux_guest_kernel >/dev/null && linux_guest_initramfs "$LINUX_GUEST_INITRD" || return 1
	libvirt_guest_xml DOM "$SRC_SERIAL" >"$LV_ROOT/DOM.xml" || return 1
	virsh define "$LV_ROOT/DOM.xml" >/dev/null && virsh start DOM >/dev/null || return 1
	linux_guest_wait "$SRC_SERIAL" "$BOOT_TIMEOUT" linux_guest_booted "$SRC_SERIAL" 5 ||
		{ linux_guest_tail "$SRC_SERIAL" >&2; return 1; }
	echo "# $(virsh version | sed -n 's/^Using library: //p'), $(virsh version | sed -n 's/^Running hypervisor: //p')" >&3
}

teardown_file() {
	libvirt_stop
	rm -rf "$LV_ROOT"
}

setup() {
	T=$BATS_TEST_TMPDIR
	W=$T/w	# the recipes' working directory
	mkdir -p "$W"
	PORT=$(free_port)
	DST_SERIAL=$T/DST.serial
	R=
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		[[ -z ${R:-} ]] || { echo "the recipe's lines:"; recipe_report; } >&2
		echo "source DOM: $(virsh domstate --reason DOM 2>&1 | head -n 1), query-migrate $(libvirt_qmp DOM query-migrate 2>&1)" >&2
		linux_guest_tail "$SRC_SERIAL" >&2
		if [[ -f $DST_SERIAL ]]; then
			linux_guest_tail "$DST_SERIAL"
			tail -n 5 "$(libvirt_domain_log DST)" | sed 's/^/DST log: /'
		fi >&2
	fi
	# every domain but the source: DST, and the transient ones
	local d
	for d in $(virsh list --all --name); do
		[[ $d == DOM ]] && continue
		virsh destroy "$d" >/dev/null 2>&1
		virsh undefine "$d" >/dev/null 2>&1
	done
	return 0
}

port_listens() {
	[[ -n $(ss -Hltn "sport = :$1") ]]
}

# migration_over DOM: DOM's migration completed, failed or was cancelled,
# or DOM's QEMU is gone.
migration_over() {
	case $(virsh domstate "$1" 2>/dev/null) in
	running | paused) ;;
	*) return 0 ;;
	esac
	[[ $(libvirt_migrate_status "$1" 2>/dev/null) == @(completed|failed|cancelled) ]]
}

# recipe_sync LINE: what one waits for before typing the next line: a
# listener listening, a migration over.
recipe_sync() {
	local line=$1 migrate='qemu-monitor-command ([^ ]+) .*"execute":"migrate",'
	if [[ $line == *'&' && ($line == *TCP-LISTEN:* || $line == *multifd-recv*) ]] ||
		[[ $line == *'"execute":"migrate-incoming"'* ]]; then
		wait_for 20 port_listens "$PORT"
	elif [[ $line =~ $migrate ]]; then
		wait_for 120 migration_over "${BASH_REMATCH[1]}"
	fi
}

# pc.ram's "DIGEST LENGTH" in a --digest listing on stdin
pc_ram_digest() {
	awk '$1 == "ram" && $4 == "pc.ram" { print $2, $3 }'
}

# the RAM the source holds now, digested as stream-dump --digest does
source_ram_digest() {
	local f
	f=$(libvirt_ram_file DOM) || return 1
	migbox stream-dump --image-digest "$f" | awk '{ print $2, $3 }'
}

# A stream of the source's RAM as the source holds it, which the
# migration left paused, as libvirt says.
holds_source_ram() {
	local got want
	got=$(pc_ram_digest)
	want=$(source_ram_digest)
	[[ -n $got && $got == "$want" ]] || { echo "pc.ram: '$got' in the stream, '$want' in the source" >&2; return 1; }
	[[ $(virsh domstate --reason DOM) == 'paused (unknown)' ]]
}

job_type_none() {
	virsh domjobinfo "$1" | grep -qE '^Job type: +None'
}

# resume_source: `virsh resume DOM` runs the source again; a TICK follows.
resume_source() {
	local last
	last=$(linux_guest_ticks "$SRC_SERIAL" | tail -n 1)
	virsh resume DOM >/dev/null
	[[ $(virsh domstate --reason DOM) == 'running (unpaused)' ]]
	linux_guest_wait "$SRC_SERIAL" 30 ticked_past "$SRC_SERIAL" "$last"
}

ticked_past() {
	(($(linux_guest_ticks "$1" | tail -n 1) > $2))
}

# define_dst: DST from the README's XML, its "..." the source's domain
# with another name and console.
define_dst() {
	local body
	body=$(libvirt_guest_body DST "$DST_SERIAL") || return 1
	readme_block dst-xml | BODY=$body awk '$1 == "..." { print ENVIRON["BODY"]; next } { print }' >"$T/DST.xml"
	grep -q '<qemu:arg value=.-incoming./>' "$T/DST.xml" ||
		{ echo "README.md has no dst-xml block with -incoming" >&2; return 1; }
	virsh define "$T/DST.xml" >/dev/null
}

# saved_stream: vm.mig of the multifd test, the source's last TICK and SUM.
saved_stream() {
	[[ -f $LV_ROOT/vm.mig ]] ||
		{ echo "no vm.mig: the multifd recipe's test saves it (run the whole file)" >&2; return 1; }
	ln -s "$LV_ROOT/vm.mig" "$W/vm.mig"
	SRC_LAST=$(<"$LV_ROOT/src.last")
	SRC_SUM=$(<"$LV_ROOT/src.sum")
}

# dst_carried_on: DST's guest went on from the source's last TICK and its
# file, read again after the restore, has the source's SUM.
dst_carried_on() {
	linux_guest_wait "$DST_SERIAL" "$GUEST_TIMEOUT" dst_fresh_sum
	[[ $(dst_fresh_sum) == "$SRC_SUM" ]] ||
		{ echo "DST's SUM $(dst_fresh_sum), the source's $SRC_SUM" >&2; return 1; }
	linux_guest_resumed "$DST_SERIAL" "$SRC_LAST"
}

# the first SUM DST computed wholly after the restore
dst_fresh_sum() {
	linux_guest_sums_after "$DST_SERIAL" $((SRC_LAST + 1)) | head -n 1 | grep .
}

@test "libvirt: every code block of the README's libvirt section is marked, and a test runs each mark" {
	local marks used
	# a block's last line before it, blank lines aside, is its mark
	marks=$(awk '/^## / { on = ($0 == "## With libvirt") } !on { next }
		/^    / && !inblock { inblock = 1
			if (prev !~ /^<!-- libvirt-recipe [a-z-]+ -->$/) { print "UNMARKED " NR; next }
			split(prev, w, " "); print w[3] }
		!/^    / && !/^[ \t]*$/ { inblock = 0; prev = $0 }' "$README" | sort)
	[[ -n $marks && $marks != *UNMARKED* ]] ||
		{ echo "README.md lines of blocks without a mark: $(grep UNMARKED <<<"$marks")" >&2; return 1; }
	used=$(grep -ohE '(run_recipe( --keep-going)?|readme_block) [a-z-]+' "$BATS_TEST_DIRNAME"/libvirt-*.bats |
		awk '{ print $NF }' | sort -u)
	diff <(echo "$marks") <(echo "$used")
}

@test "libvirt: the domain's QEMU runs under libvirt's seccomp sandbox, as the README says" {
	[[ $(virsh domstate DOM) == running ]]
	grep -qF -- '-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' \
		"$(libvirt_domain_log DOM)"
	grep -qF 'spawn=deny' "/proc/$(libvirt_qemu_pid DOM)/cmdline"
}

@test "libvirt recipe tcp: a running domain's stream through tcp: into stream-dump --digest holds the RAM the paused source holds" {
	run_recipe tcp
	libvirt_wait_migration DOM 30
	recipe_out 'stream-dump --digest' | holds_source_ram
	recipe_out 'stream-dump --digest' | grep -q '^state [0-9a-f]\{32\}$'
	job_type_none DOM
	grep -q 'Domain id=[0-9]* is tainted: custom-monitor' "$(libvirt_domain_log DOM)"
}

@test "libvirt recipe fd: after virsh resume, the stream through a fifo (getfd --pass-fds, fd:) into stream-dump -p | multifd-send reaches multifd-recv whole" {
	local recv rc=0
	# paused by the last migration, it migrates again only once it ran
	[[ $(virsh domstate --reason DOM) == 'paused (unknown)' ]]
	run virsh qemu-monitor-command DOM '{"execute":"migrate","arguments":{"uri":"tcp:127.0.0.1:1"}}'
	[[ $output == *"Can't migrate the vm that was paused due to previous migration"* ]]
	resume_source
	# "host": a multifd-recv, the recipe's multifd-send sends it the stream
	"$MIGBOX" multifd-recv -c 8 -o "$T/fd.mig" "127.0.0.1:$PORT" 2>"$T/recv.err" 3>&- &
	recv=$!
	wait_for 20 port_listens "$PORT"
	run_recipe fd
	wait "$recv" || rc=$?
	((rc == 0)) || { cat "$T/recv.err" >&2; return 1; }
	libvirt_wait_migration DOM 30
	migbox stream-dump --digest "$T/fd.mig" | holds_source_ram
	# stream-dump -p checked it on its way (its summary on stderr)
	recipe_out 'stream-dump -p' | grep -q '^stream stdin: QEVM version 3'
	job_type_none DOM
}

@test "libvirt recipe multifd: QEMU's multifd with the domain's uuid into multifd-recv -o vm.mig holds the RAM the paused source holds" {
	resume_source
	run_recipe multifd
	libvirt_wait_migration DOM 30
	migbox stream-dump --digest "$W/vm.mig" | holds_source_ram
	job_type_none DOM
	# for the destination tests: the stream, where the guest stopped
	cp "$W/vm.mig" "$LV_ROOT/vm.mig"
	linux_guest_ticks "$SRC_SERIAL" | tail -n 1 >"$LV_ROOT/src.last"
	linux_guest_sums "$SRC_SERIAL" | head -n 1 >"$LV_ROOT/src.sum"
	[[ -s $LV_ROOT/src.last && -s $LV_ROOT/src.sum ]]
	libvirt_qmp DOM migrate-set-capabilities '{"capabilities":[{"capability":"multifd","state":false}]}' >/dev/null
}

# While DST waits for its stream: libvirt sees no job, the log the taint.
# Loaded and still paused: the source's RAM, page for page.
check_dst_multifd() {
	case $2 in
	*migrate-incoming*)
		job_type_none DST
		grep -q 'Domain id=[0-9]* is tainted: custom-argv' "$(libvirt_domain_log DST)"
		;;
	*query-migrate*)
		[[ $(virsh domstate DST) == paused ]]
		cmp "$(libvirt_ram_file DST)" "$(libvirt_ram_file DOM)"
		;;
	esac
}

@test "libvirt recipe dst-multifd: a domain with -incoming defer in its XML, fed vm.mig by multifd-send with its uuid, completes, resumes and carries on" {
	saved_stream
	define_dst
	run_recipe dst-multifd check_dst_multifd
	[[ $(virsh domstate --reason DST) == 'running (unpaused)' ]]
	dst_carried_on
	job_type_none DST
}

check_dst_postcopy() {
	[[ $2 != *migrate-incoming* ]] || [[ $(virsh domstate --reason DST) == 'paused (starting up)' ]]
}

@test "libvirt recipe dst-postcopy: postcopy-serve restores vm.mig into a domain started without --paused, which runs on and carries on" {
	saved_stream
	define_dst
	run_recipe dst-postcopy check_dst_postcopy
	recipe_out 'postcopy-serve' | grep -q 'left 0'
	libvirt_wait_migration DST 60
	[[ $(virsh domstate DST) == running ]]
	dst_carried_on
	job_type_none DST
}

@test "libvirt: without the domains' uuids multifd-recv refuses QEMU's channels, and QEMU multifd-send's" {
	local rc=0 recv send dst_uuid
	# a source whose uuid multifd-recv was not told: not DOM, as QEMU 7.2
	# may refuse any later migration of a source whose multifd channel
	# was refused ("duplicate yank instance")
	libvirt_idle_xml SRC2 >"$T/SRC2.xml"
	virsh create "$T/SRC2.xml" >/dev/null
	libvirt_qmp SRC2 migrate-set-capabilities '{"capabilities":[{"capability":"multifd","state":true}]}' >/dev/null
	"$MIGBOX" multifd-recv -c 2 -o "$T/x.mig" "127.0.0.1:$PORT" 2>"$T/recv.err" 3>&- &
	recv=$!
	wait_for 20 port_listens "$PORT"
	libvirt_qmp SRC2 migrate "{\"uri\":\"tcp:127.0.0.1:$PORT\"}" >/dev/null
	wait "$recv" || rc=$?
	((rc == 1))
	grep -q "refused: uuid $(virsh domuuid SRC2), expected 00000000-0000-0000-0000-000000000000" "$T/recv.err"
	wait_for 30 migration_over SRC2
	[[ $(libvirt_migrate_status SRC2) == failed ]]
	[[ ! -e $T/x.mig ]]
	# a failed migration leaves the source running
	[[ $(virsh domstate SRC2) == running ]]
	virsh destroy SRC2 >/dev/null
	# a destination sent the all-zero uuid
	saved_stream
	define_dst
	virsh start --paused DST >/dev/null
	dst_uuid=$(virsh domuuid DST)
	[[ $dst_uuid != 00000000-0000-0000-0000-000000000000 ]]
	libvirt_qmp DST migrate-set-capabilities '{"capabilities":[{"capability":"multifd","state":true}]}' >/dev/null
	libvirt_qmp DST migrate-incoming "{\"uri\":\"tcp:0:$PORT\"}" >/dev/null
	wait_for 20 port_listens "$PORT"
	"$MIGBOX" multifd-send -c 2 --timeout 30 "127.0.0.1:$PORT" <"$W/vm.mig" 2>"$T/send.err" 3>&- &
	send=$!
	# QEMU says so in its log, and waits on: the migration cannot end
	wait_for 30 grep -q "received uuid '00000000-0000-0000-0000-000000000000' and expected uuid '$dst_uuid'" \
		"$(libvirt_domain_log DST)"
	[[ $(libvirt_migrate_status DST) != completed ]]
	virsh destroy DST >/dev/null
	rc=0
	wait "$send" || rc=$?
	((rc == 1))
}

@test "libvirt: an unprivileged QEMU refuses postcopy-ram while vm.unprivileged_userfaultfd is 0, as the README says" {
	local sysctl
	sysctl=$(</proc/sys/vm/unprivileged_userfaultfd)
	# QEMU as uid 64055 (Debian's libvirt-qemu), waiting for a migration
	libvirt_idle_xml U \
		"<seclabel type='static' model='dac' relabel='yes'><label>+64055:+64055</label></seclabel>" \
		"<qemu:commandline><qemu:arg value='-incoming'/><qemu:arg value='defer'/></qemu:commandline>" \
		>"$T/U.xml"
	virsh create "$T/U.xml" >/dev/null
	[[ $(stat -c %u "/proc/$(libvirt_qemu_pid U)") == 64055 ]]
	run virsh qemu-monitor-command U '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"postcopy-ram","state":true}]}}'
	virsh destroy U >/dev/null
	echo "# vm.unprivileged_userfaultfd = $sysctl" >&3
	# virsh passes QEMU's answer on, an error included, and exits 0
	if [[ $sysctl == 0 ]]; then
		[[ $output == *'"error":'*'"desc":"Postcopy is not supported"'* ]] || { echo "$output" >&2; return 1; }
	else
		[[ $output == *'"return":{}'* ]] || { echo "$output" >&2; return 1; }
	fi
}

@test "libvirt recipe exec: migrate to an exec: URI under libvirt's default sandbox kills the domain's QEMU: shut off (crashed)" {
	[[ $(virsh domstate DOM) == running ]] || resume_source
	run_recipe --keep-going exec
	[[ $(<"$R/1.status") != 0 ]]
	grep -q 'Unable to read from monitor' "$R/1.out"
	[[ -z $(libvirt_qemu_pid DOM) ]]
	[[ ! -e $W/vm.mig ]]
}

@test "libvirt: with seccomp_sandbox = 0, libvirtd restarted and the domain started again, its QEMU runs with -sandbox off" {
	[[ $(virsh domstate DOM) != running ]] || virsh destroy DOM >/dev/null
	echo 'seccomp_sandbox = 0' >>"$LIBVIRT_DIR/etc/qemu.conf"
	libvirt_restart
	: >"$SRC_SERIAL"
	virsh start DOM >/dev/null
	grep -qF -- '-sandbox off' "$(libvirt_domain_log DOM)"
	echo "# libvirtd restarted, DOM started again: $SECONDS s" >&3
	linux_guest_wait "$SRC_SERIAL" "$BOOT_TIMEOUT" linux_guest_booted "$SRC_SERIAL" 5
}

@test "libvirt recipe exec-file: without the sandbox, exec:migbox stream-dump -q -p > FILE holds the RAM the paused source holds" {
	[[ $(tr '\0' ' ' <"/proc/$(libvirt_qemu_pid DOM)/cmdline") == *' -sandbox off '* ]]
	run_recipe exec-file
	libvirt_wait_migration DOM 30
	migbox stream-dump --digest "$W/vm.mig" | holds_source_ram
}

@test "libvirt recipe exec-multifd: without the sandbox, exec:migbox multifd-send reaches multifd-recv whole" {
	local recv rc=0
	[[ $(virsh domstate DOM) == running ]] || resume_source
	"$MIGBOX" multifd-recv -c 8 -o "$T/exec.mig" "127.0.0.1:$PORT" 2>"$T/recv.err" 3>&- &
	recv=$!
	wait_for 20 port_listens "$PORT"
	run_recipe exec-multifd
	wait "$recv" || rc=$?
	((rc == 0)) || { cat "$T/recv.err" >&2; return 1; }
	libvirt_wait_migration DOM 30
	migbox stream-dump --digest "$T/exec.mig" | holds_source_ram
}

@test "libvirt recipe save: the image virsh save writes (libvirt's header, the XML, the stream) is read by stream-dump as it is, and holds the RAM of the domain it saved" {
	local want
	[[ $(virsh domstate DOM) == running ]] || resume_source
	# paused, so that its RAM stays what is saved
	virsh suspend DOM >/dev/null
	want=$(source_ram_digest)
	[[ -n $want ]]
	run_recipe save
	[[ $(recipe_out 'stream-dump --digest' | pc_ram_digest) == "$want" ]]
	[[ $(head -c 16 "$W/dom.save") == LibvirtQemudSave ]]
	run migbox stream-dump "$W/dom.save"
	[[ $status -eq 0 ]]
	[[ $output == *"libvirt save image: header version 2, "*" bytes of domain XML, the domain was paused; the stream starts @"* ]]
	[[ $(virsh domstate DOM) == 'shut off' ]]
}
