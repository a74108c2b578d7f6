# SPDX-License-Identifier: GPL-3.0-or-later
# tests/lib/readme-recipe.bash - run a block of README.md as it is written,
# so that a test fails when the README and what it tests drift apart:
# `load lib/readme-recipe`.
#
# A block is the indented code block after a line
# `<!-- $RECIPE_MARK NAME -->` in $README. Its lines are the commands, one
# a line; comment lines are left out. The README's conventions become the
# test's: 127.0.0.1 for `host` and `dsthost`, $PORT for 4444, $W/ for
# /tmp/. A command that ends in two spaces and `# TEXT` must print TEXT.
#
#   readme_block NAME       the block's lines, without their indent
#   recipe_commands NAME    its commands, with the test's host, port, dir
#   run_recipe [--keep-going] NAME [HOOK]
#                           run them in $W, one after the other, in a
#                           subshell (so a block may use fd 3, bats' own,
#                           and cd); each line's output in $R/N.out, its
#                           exit status in $R/N.status (R=$T/recipe.NAME).
#                           Lines ending in `&` run in the background, and
#                           must end well once the last line has run.
#                           After each line, recipe_sync LINE (the test's:
#                           what one waits for before typing the next
#                           line) and HOOK N LINE (the test's checks).
#                           Fails at the first line that fails or prints
#                           other than its comment says (--keep-going:
#                           only at the latter), or whose
#                           `virsh qemu-monitor-command` got an error
#                           answer (virsh exits 0 on those); what failed
#                           goes to stderr and the background lines are
#                           ended.
#   recipe_out TEXT         the output of the last run's line that has TEXT
#   recipe_report           every line of the last run, its exit status and
#                           output, for a failed test's teardown
#
# Set README, RECIPE_MARK, T, W and PORT first.

readme_block() {
	awk -v mark="<!-- $RECIPE_MARK $1 -->" '
		$0 == mark { on = 1; next }
		!on { next }
		/^    / { inblock = 1; print substr($0, 5); next }
		/^[ \t]*$/ { if (inblock) print ""; next }
		{ exit }' "$README"
}

recipe_commands() {
	readme_block "$1" | grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' |
		sed -e "s/dsthost:4444/127.0.0.1:$PORT/g" -e "s/\\bhost:4444/127.0.0.1:$PORT/g" \
			-e "s/4444/$PORT/g" -e "s#/tmp/#$W/#g"
}

run_recipe() {
	local keep=0
	[[ $1 != --keep-going ]] || { keep=1; shift; }
	local name=$1 hook=${2:-}
	local -a lines
	mapfile -t lines < <(recipe_commands "$name")
	((${#lines[@]})) || { echo "$README has no block marked <!-- $RECIPE_MARK $name -->" >&2; return 1; }
	R=$T/recipe.$name
	rm -rf "$R"
	mkdir -p "$R"
	# the background lines are the subshell's children, without bats' fd 3
	(
		exec 3>&-
		set -o pipefail
		cd "$W" || exit 1
		_recipe_lines "$name" "$keep" "$hook" "${lines[@]}" && exit 0
		_recipe_kill_children
		exit 1
	)
}

_recipe_lines() {
	local name=$1 keep=$2 hook=$3 line i=0 rc k
	local -a bg_pids=() bg_lines=()
	shift 3
	for line; do
		i=$((i + 1))
		printf '%s\n' "$line" >"$R/$i.line"
		if [[ $line == *'&' ]]; then
			eval "$line" >"$R/$i.out" 2>&1
			bg_pids+=("$!") bg_lines+=("$i")
		else
			_recipe_line "$name" "$i" "$line" "$keep" || return 1
		fi
		if declare -F recipe_sync >/dev/null; then
			recipe_sync "$line" || { _recipe_failed "$name" "$i" 'what it started is not there'; return 1; }
		fi
		[[ -z $hook ]] || "$hook" "$i" "$line" ||
			{ _recipe_failed "$name" "$i" "the test's check after it failed"; return 1; }
	done
	for k in "${!bg_pids[@]}"; do
		wait_until 120 _recipe_exited "${bg_pids[k]}" ||
			{ _recipe_failed "$name" "${bg_lines[k]}" 'still runs 120 s after the last line'; return 1; }
		rc=0
		wait "${bg_pids[k]}" || rc=$?
		echo "$rc" >"$R/${bg_lines[k]}.status"
		((rc == 0)) || { _recipe_failed "$name" "${bg_lines[k]}" "exited $rc"; return 1; }
	done
}

# _recipe_line NAME N LINE KEEP: one line in the foreground, checked.
_recipe_line() {
	local name=$1 i=$2 line=$3 keep=$4 rc=0 want
	eval "$line" >"$R/$i.out" 2>&1 || rc=$?
	echo "$rc" >"$R/$i.status"
	if ((rc != 0 && !keep)); then
		_recipe_failed "$name" "$i" "exited $rc"
		return 1
	fi
	if ((!keep)) && [[ $line == *qemu-monitor-command* ]] && grep -q '"error":' "$R/$i.out"; then
		_recipe_failed "$name" "$i" 'QEMU answered with an error'
		return 1
	fi
	if [[ $line =~ [[:space:]][[:space:]]#[[:space:]]*(.+)$ ]]; then
		want=${BASH_REMATCH[1]}
		grep -qF -- "$want" "$R/$i.out" ||
			{ _recipe_failed "$name" "$i" "does not print $want"; return 1; }
	fi
}

# _recipe_exited PID: the child PID has ended (gone, or a zombie to wait
# for: kill -0 succeeds on those).
_recipe_exited() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[[ -z $state || $state == Z ]]
}

# _recipe_kill_children: what a failed block left running: every process
# of its background pipelines is a child of the subshell.
_recipe_kill_children() {
	local me=$BASHPID pids
	pids=$(ps -o pid= --ppid "$me")
	# shellcheck disable=SC2086
	[[ -z $pids ]] || kill $pids 2>/dev/null
	wait
}

_recipe_failed() {
	echo "README recipe $1, line $2: $(<"$R/$2.line")"
	echo "  $3"
} >&2

recipe_out() {
	local f
	f=$(grep -lF -- "$1" "$R"/*.line | tail -n 1)
	[[ -n $f ]] || { echo "no line of recipe ${R##*/recipe.} has '$1'" >&2; return 1; }
	cat "${f%.line}.out"
}

recipe_report() {
	local i
	for ((i = 1; i <= 100; i++)); do
		[[ -f $R/$i.line ]] || break
		echo "  \$ $(<"$R/$i.line")  [exit $(cat "$R/$i.status" 2>/dev/null || echo '?')]"
		sed 's/^/    /' "$R/$i.out" 2>/dev/null
	done
}
