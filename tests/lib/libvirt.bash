# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/libvirt.bash - a private libvirt daemon and its domains, for
# tests: `load lib/libvirt` after `load helpers` and `load lib/linux-guest`.
#
# Debian 12's libvirt-daemon has the monolithic libvirtd, and libvirtd run
# by root is always the system daemon (/etc/libvirt, /run/libvirt,
# /var/lib/libvirt, ...); it has no session mode for root. So the daemon
# runs in a mount namespace of its own (unshare) where those directories
# are directories of the test, bind-mounted over the host's (/run and
# /var get an overlay first, so that their mount points exist without
# being made on the host), and /etc/passwd names the user libvirt 9.0
# resolves before it reads qemu.conf (libvirt-qemu: the test's QEMUs still
# run as root). Nothing of the host's libvirt is read or written, no
# service is started, and libvirt_stop leaves nothing behind.
#
#   libvirt_start DIR      start libvirtd with its state in DIR (made
#                          here, not under /var or /run), export
#                          LIBVIRT_DEFAULT_URI for virsh, wait until it
#                          answers; `migbox` (MIGBOX) is on its QEMUs' PATH
#   libvirt_restart        end the daemon and start it again, as after a
#                          change of $LIBVIRT_DIR/etc/qemu.conf
#   libvirt_stop           destroy and undefine every domain, end the
#                          daemon (and any QEMU it left), remove DIR
#   libvirt_guest_body NAME SERIAL
#                          the inside of a <domain> for the Linux guest of
#                          lib/linux-guest (TCG, $LIBVIRT_GUEST_MB MiB,
#                          RAM in a shared file, console into SERIAL, no
#                          disk, no network)
#   libvirt_guest_xml NAME SERIAL
#                          that guest's whole domain XML
#   libvirt_idle_xml NAME [XML...]
#                          a domain with nothing to boot (64 MiB, SeaBIOS
#                          finds no disk and waits), the XML elements given
#                          added (the qemu: namespace is declared)
#   libvirt_qmp DOM CMD [ARGS-JSON]
#                          one QMP command through virsh
#                          qemu-monitor-command; prints its "return"
#   libvirt_migrate_status DOM
#                          query-migrate's status ("none" before any)
#   libvirt_wait_migration DOM [SECONDS]
#                          until DOM's migration is completed; fails on
#                          failed/cancelled, a QEMU that has gone, or time
#   libvirt_ram_file DOM   the file that holds DOM's RAM (pc.ram)
#   libvirt_domain_log DOM the domain's log (QEMU's command line, taints)
#   libvirt_qemu_pid DOM   the pid of DOM's QEMU
#
# The qemu.conf the daemon reads ($LIBVIRT_DIR/etc/qemu.conf) keeps
# libvirt's defaults (the seccomp sandbox on) but for what a test host
# needs, each line saying why.
#
# Needs: libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients,
# qemu-system-x86, util-linux (unshare, mount), jq (./install-deps); root.

LIBVIRT_GUEST_MB=${LIBVIRT_GUEST_MB:-128}
LIBVIRT_START_TIMEOUT=${LIBVIRT_START_TIMEOUT:-90}	# s: the first connection probes QEMU (7 s here)

_libvirt_fail() {
	printf 'libvirt.bash: %s\n' "$*" >&2
	return 1
}

# libvirt_need_tools: every program the daemon and the tests use.
libvirt_need_tools() {
	local t
	for t in libvirtd virsh unshare mount qemu-system-x86_64 jq socat ss; do
		command -v "$t" >/dev/null ||
			{ _libvirt_fail "$t not installed: run ./install-deps"; return 1; }
	done
	compgen -G '/usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so' >/dev/null ||
		{ _libvirt_fail "libvirt's QEMU driver is not installed (libvirt-daemon-driver-qemu): run ./install-deps"; return 1; }
	[[ $(id -u) == 0 ]] || { _libvirt_fail 'the private libvirtd needs root (mount namespace)'; return 1; }
}

_libvirt_qemu_conf() {
	cat <<EOF
# libvirt's defaults but for these lines; seccomp_sandbox stays 1.
# QEMU as root: no libvirt-qemu user on the host (libvirt-daemon-system
# would make one). A root QEMU may open userfaultfd (postcopy) whatever
# vm.unprivileged_userfaultfd says.
user = "root"
group = "root"
# RAM in shared files the tests can compare (<memoryBacking> file), on
# tmpfs: userfaultfd needs shmem for shared RAM.
memory_backing_dir = "$1"
# The host's cgroups stay untouched.
cgroup_controllers = [ ]
# No virtlogd: libvirtd writes the domain logs itself.
stdio_handler = "file"
EOF
}

libvirt_start() {
	local dir=$1 shm
	[[ -n $dir ]] || { _libvirt_fail 'libvirt_start DIR'; return 1; }
	libvirt_need_tools || return 1
	dir=$(realpath -m "$dir")
	case $dir/ in
	/var/* | /run/* | /etc/libvirt/*) _libvirt_fail "$dir: the daemon's namespace hides it (give a directory elsewhere, e.g. under /tmp)"; return 1 ;;
	esac
	mkdir -p "$dir"/{etc,run,lib,log,cache,bin} || return 1
	shm=$(mktemp -d /dev/shm/migbox-libvirt.XXXXXX) || return 1
	printf '%s\n' "$shm" >"$dir/shm"
	LIBVIRT_DIR=$dir
	_libvirt_qemu_conf "$shm" >"$dir/etc/qemu.conf"
	echo 'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"' >"$dir/etc/libvirtd.conf"
	{
		cat /etc/passwd
		getent passwd libvirt-qemu >/dev/null ||
			echo 'libvirt-qemu:x:64055:64055:libvirt (migbox tests):/nonexistent:/usr/sbin/nologin'
	} >"$dir/passwd"
	{
		cat /etc/group
		getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:'
	} >"$dir/group"
	[[ -z ${MIGBOX:-} ]] || ln -sf "$MIGBOX" "$dir/bin/migbox"
	export LIBVIRT_DIR
	export LIBVIRT_DEFAULT_URI="qemu+unix:///system?socket=$dir/run/libvirt-sock"
	_libvirt_launch
}

# _libvirt_launch: libvirtd in a new mount namespace, on $LIBVIRT_DIR; its
# PATH, and so its QEMUs' (exec: URIs), starts with $LIBVIRT_DIR/bin.
_libvirt_launch() {
	local dir=$LIBVIRT_DIR
	mkdir -p "$dir/ovl" || return 1
	# --daemon returns once the daemon listens; --timeout ends a daemon
	# whose test never stopped it, once it has no domain and no client.
	# No fd of ours (bats waits on fd 3) stays open in it.
	# shellcheck disable=SC2016 # the script's own variables
	if ! PATH=$dir/bin:$PATH unshare --mount --propagation private -- sh -ec '
		d=$1 o=$1/ovl
		# the overlays write only their mount points: on a tmpfs of the
		# namespace, whatever file system holds DIR
		mount -t tmpfs tmpfs "$o"
		for m in run var; do
			mkdir "$o/$m" "$o/$m.work"
			mount -t overlay overlay -o "lowerdir=/$m,upperdir=$o/$m,workdir=$o/$m.work" "/$m"
		done
		mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
		mount --bind "$d/etc" /etc/libvirt
		mount --bind "$d/passwd" /etc/passwd
		mount --bind "$d/group" /etc/group
		mount --bind "$d/run" /run/libvirt
		mount --bind "$d/lib" /var/lib/libvirt
		mount --bind "$d/log" /var/log/libvirt
		mount --bind "$d/cache" /var/cache/libvirt
		exec libvirtd --daemon --pid-file "$d/libvirtd.pid" --timeout 600
	' sh "$dir" </dev/null >"$dir/start.log" 2>&1 3>&-; then
		_libvirt_fail "libvirtd did not start in a mount namespace of its own (unshare, mount: root with CAP_SYS_ADMIN): $(cat "$dir/start.log")"
		return 1
	fi
	if ! wait_until "$LIBVIRT_START_TIMEOUT" _libvirt_answers; then
		_libvirt_fail "libvirtd does not answer after ${LIBVIRT_START_TIMEOUT}s: $(virsh version 2>&1)"
		tail -n 5 "$dir/log/libvirtd.log" >&2
		return 1
	fi
}

_libvirt_answers() {
	virsh version >/dev/null 2>&1
}

# _libvirt_pid_of FILE NAME: the pid in FILE, if that process still runs NAME.
_libvirt_pid_of() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	[[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$2"* ]] && echo "$pid"
	return 0
}

_libvirt_none_alive() {
	local pid
	for pid; do [[ ! -d /proc/$pid ]] || return 1; done
}

# _libvirt_kill PID...: TERM, then KILL after 5 s.
_libvirt_kill() {
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null
	wait_until 5 _libvirt_none_alive "$@" || kill -KILL "$@" 2>/dev/null
	return 0
}

libvirt_restart() {
	local pid
	pid=$(_libvirt_pid_of "$LIBVIRT_DIR/libvirtd.pid" libvirtd)
	[[ -z $pid ]] || _libvirt_kill "$pid"
	_libvirt_launch
}

libvirt_stop() {
	local dir=${LIBVIRT_DIR:-} d f pid
	local -a pids=()
	[[ -n $dir && -d $dir ]] || return 0
	if [[ -n $(_libvirt_pid_of "$dir/libvirtd.pid" libvirtd) ]]; then
		for d in $(virsh list --all --name 2>/dev/null); do
			virsh destroy "$d" >/dev/null 2>&1
			virsh undefine "$d" >/dev/null 2>&1
		done
	fi
	pid=$(_libvirt_pid_of "$dir/libvirtd.pid" libvirtd)
	[[ -z $pid ]] || pids+=("$pid")
	for f in "$dir"/run/qemu/*.pid; do
		pid=$(_libvirt_pid_of "$f" qemu-system)
		[[ -z $pid ]] || pids+=("$pid")
	done
	_libvirt_kill "${pids[@]}"
	rm -rf "$(cat "$dir/shm" 2>/dev/null || echo /nonexistent)" "$dir"
	unset LIBVIRT_DIR LIBVIRT_DEFAULT_URI
}

libvirt_guest_body() {
	local name=$1 serial=$2 kernel
	kernel=$(linux_guest_kernel) || return 1
	[[ -n ${LINUX_GUEST_INITRD:-} && -f $LINUX_GUEST_INITRD ]] ||
		{ _libvirt_fail 'set LINUX_GUEST_INITRD to a file made by linux_guest_initramfs'; return 1; }
	cat <<EOF
  <name>$name</name>
  <memory unit='MiB'>$LIBVIRT_GUEST_MB</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='file'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$LINUX_GUEST_INITRD</initrd>
    <cmdline>$LINUX_GUEST_APPEND</cmdline>
  </os>
  <devices>
    <serial type='file'>
      <source path='$serial'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
EOF
}

libvirt_guest_xml() {
	echo "<domain type='qemu'>"
	libvirt_guest_body "$@" || return 1
	echo '</domain>'
}

libvirt_idle_xml() {
	local name=$1
	shift
	cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><controller type='usb' model='none'/><memballoon model='none'/></devices>
EOF
	printf '  %s\n' "$@"
	echo '</domain>'
}

libvirt_qmp() {
	local dom=$1 cmd out
	cmd=$(jq -cn --arg e "$2" --argjson a "${3:-null}" \
		'{execute: $e} + if $a == null then {} else {arguments: $a} end') ||
		{ _libvirt_fail "libvirt_qmp $dom $2: arguments not JSON: ${3:-}"; return 1; }
	out=$(virsh qemu-monitor-command "$dom" "$cmd" 2>&1) ||
		{ _libvirt_fail "$dom: $2: $out"; return 1; }
	jq -ce '.return' <<<"$out" 2>/dev/null ||
		{ _libvirt_fail "$dom: $2: $out"; return 1; }
}

libvirt_migrate_status() {
	libvirt_qmp "$1" query-migrate | jq -r '.status // "none"'
}

# _libvirt_migration_ended DOM: query-migrate's status (in _lv_status, its
# answer in _lv_out) is final, or QEMU no longer answers (gone).
_libvirt_migration_ended() {
	_lv_out=$(libvirt_qmp "$1" query-migrate) || { _lv_status=gone; return 0; }
	_lv_status=$(jq -r '.status // "none"' <<<"$_lv_out")
	[[ $_lv_status == completed || $_lv_status == failed || $_lv_status == cancelled ]]
}

libvirt_wait_migration() {
	local dom=$1 timeout=${2:-120}
	WAIT_INTERVAL=0.1 wait_until "$timeout" _libvirt_migration_ended "$dom" ||
		{ _libvirt_fail "$dom: migration not completed after ${timeout}s: $_lv_status"; return 1; }
	case $_lv_status in
	completed) return 0 ;;
	gone) _libvirt_fail "$dom: migration: no answer ($(virsh domstate --reason "$dom" 2>&1))" ;;
	*) _libvirt_fail "$dom: migration $_lv_status: $(jq -r '."error-desc" // "(no error-desc)"' <<<"$_lv_out")" ;;
	esac
	return 1
}

libvirt_ram_file() {
	libvirt_qmp "$1" qom-get '{"path":"/objects/pc.ram","property":"mem-path"}' | jq -r .
}

libvirt_domain_log() {
	printf '%s/log/qemu/%s.log\n' "$LIBVIRT_DIR" "$1"
}

libvirt_qemu_pid() {
	_libvirt_pid_of "$LIBVIRT_DIR/run/qemu/$1.pid" qemu-system
}
