# SPDX-License-Identifier: GPL-3.0-or-later
# selftest: exercises the harness itself (tests/vm-harness.bats)
#
# usage: selftest MODE [ARGS...]
#   args ARGS...        print each argument on a line between < and >
#   cat FILE            print FILE
#   export FILE NAME    send FILE back with vm_export
#   exit N              exit with status N
#   flood N             print N numbered lines, then "flood done"
#   sleep SECONDS       sleep (for the time limit)
#   run CMD [ARGS...]   run a command
#   panic               crash the kernel
#   uptime              print the guest's uptime

. /scenarios/lib.sh

[ $# -ge 1 ] || die "usage: selftest MODE [ARGS...]"
mode=$1
shift
case $mode in
args) for a in "$@"; do echo "<$a>"; done ;;
cat) cat "$1" ;;
export) vm_export "$1" "$2" ;;
exit) echo "exiting with $1"; exit "$1" ;;
flood) seq 1 "$1"; echo "flood done" ;;
sleep) sleep "$1" ;;
run) "$@" ;;
panic) echo c >/proc/sysrq-trigger ;;
uptime) cat /proc/uptime ;;
*) die "unknown mode $mode" ;;
esac
