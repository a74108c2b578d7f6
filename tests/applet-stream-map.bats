#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-3.0-or-later
# stream-dump --map: the bars and counts of crafted layouts, scaling, width,
# colour, pipes, --json, bad input, hostile block sizes, and a real terminal
# (tmux) of a known width.
load helpers
load stream-builder
load lib/multifd	# wait_for

setup() {
	T=$BATS_TEST_TMPDIR
	TMUX_SERVER=
	unset COLUMNS NO_COLOR
}

teardown() {
	[[ -z $TMUX_SERVER ]] || tmux -L "$TMUX_SERVER" kill-server 2>/dev/null || :
}

# A stream with the one 16-page block pc.ram and the page records given
# as "p OFFSET" (a PAGE) or "z OFFSET" (a ZERO), in order.
layout() {
	local r
	sb_header; sb_config pc-i440fx-7.2
	sb_start 2 ram 0 4; sb_mem_size pc.ram 65536; sb_eos; sb_footer 2
	sb_part 2
	for r; do
		case $r in
		p*) sb_page $((${r#p } * 4096)) pc.ram a ;;
		z*) sb_zero $((${r#z } * 4096)) pc.ram ;;
		esac
	done
	sb_eos; sb_footer 2
	sb_end 2; sb_eos; sb_footer 2
	sb_eof
}

# The bar lines of block $1 in a text map on stdin.
bar_of() {
	awk -v b="$1:" '$1 == b {on = 1; next} on && /^  never / {exit} on {print}'
}

# Cells: 0-1 once never, 2-3 zero never, 4-5 re-sent once, 6-7 never,
# 8-9 zero once, 10-11 zero zero, 12-13 re-sent never, 14-15 once once.
scale_layout() {
	layout "p 0" "z 2" "p 4" "p 4" "p 5" "z 8" "p 9" "z 10" "z 11" \
		"z 12" "p 12" "p 14" "p 15"
}

@test "--map: the exact bar and counts of a crafted block, one cell a page" {
	layout "p 0" "z 1" "p 2" "p 2" "z 3" "p 3" > "$T/s"
	run mb stream-dump --map --width 16 "$T/s"
	assert_ok
	[[ ${lines[0]} == "map of $T/s: 1 RAM block, page size 4096" ]]
	[[ ${lines[1]} == "legend: . never sent  0 zero page  # sent once  % re-sent" ]]
	[[ ${lines[2]} == "pc.ram: 64.00 KiB, 16 pages, 1 cell = 1 page" ]]
	[[ ${lines[3]} == "#0%%............" ]]
	[[ ${lines[4]} == "  never 12  zero 1  once 1  re-sent 2  re-sends 2" ]]
	[[ ${#lines[@]} -eq 5 ]]
}

@test "--map --rare: a cell shows the rarest class (in its block) of its pages, so one page of it is never outvoted" {
	scale_layout > "$T/s"
	# block: never 5, zero 4, once 5, re-sent 2
	run mb stream-dump --map --rare --width 4 "$T/s"
	assert_ok
	[[ $(bar_of pc.ram <<<"$output") == "0%0%" ]]
	run mb stream-dump --map --rare --width 8 "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "#0%.00%#" ]]
	# the majority map of the same: the re-sent pages drown
	run mb stream-dump --map --width 4 "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "..0#" ]]
	run mb stream-dump --map --rare --json --width 4 "$T/s"
	jq -e '.ram_blocks[0].map | .cell_rule == "rare" and .cells == "0%0%"' <<<"$output"
	run mb stream-dump --rare "$T/s"
	assert_fails_with 2 "add --map"
	# one re-sent page among 16 in one cell: majority hides it, --rare not
	layout "p 0" "p 1" "p 2" "p 3" "p 4" "p 5" "p 6" "p 7" "p 8" "p 9" "p 10" "p 11" \
		"p 12" "p 13" "p 14" "p 15" "p 9" > "$T/one"
	run mb stream-dump --map --width 1 "$T/one"
	[[ $(bar_of pc.ram <<<"$output") == "#" ]]
	run mb stream-dump --map --rare --width 1 "$T/one"
	[[ $(bar_of pc.ram <<<"$output") == "%" ]]
}

@test "--map: a page sent five times stays re-sent (the per-page count saturates)" {
	layout "p 1" "z 1" "p 1" "p 1" "p 1" "z 2" "z 2" "z 2" "z 2" > "$T/s"
	run mb stream-dump --map --width 16 "$T/s"
	assert_ok
	[[ $(bar_of pc.ram <<<"$output") == ".%%............." ]]
	[[ $output == *"  never 14  zero 0  once 0  re-sent 2  re-sends 7"* ]]
}

@test "--map scales: N pages a cell, the class most of them have, a tie to the later class" {
	scale_layout > "$T/s"
	run mb stream-dump --map --width 8 "$T/s"
	assert_ok
	[[ $output == *"pc.ram: 64.00 KiB, 16 pages, 1 cell = 2 pages"* ]]
	[[ $(bar_of pc.ram <<<"$output") == "#0%.#0%#" ]]
	[[ $output == *"  never 5  zero 4  once 5  re-sent 2  re-sends 2"* ]]
	run mb stream-dump --map --width 4 "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "..0#" ]]
	# 16 pages in at most 3 cells: 6 a cell, the last one shorter
	run mb stream-dump --map --width 3 "$T/s"
	[[ $output == *"1 cell = 6 pages"* ]]
	[[ $(bar_of pc.ram <<<"$output") == "#0#" ]]
	# 5 columns cannot take 16 pages in whole cells of 3 or 4 evenly: 4 cells of 4
	run mb stream-dump --map --width 5 "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "..0#" ]]
	# --rows: the finer scale over several lines
	run mb stream-dump --map --width 4 --rows 2 "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == $'#0%.\n#0%#' ]]
	run mb stream-dump --map --width 4 --rows 9 "$T/s"
	[[ $output == *"1 cell = 1 page"* ]]
	[[ $(bar_of pc.ram <<<"$output") == $'#.0.\n%#..\n0#00\n%.##' ]]
}

@test "--map: blocks of a generated stream, their counts agree with the records" {
	mb stream-gen -s 3 -b pc.ram:2M -b rom:64K -b zero:1M -i 4 -r 30 > "$T/s"
	run mb stream-dump --map --json "$T/s"
	assert_ok
	# every page is sent by the first pass: none never; the rest adds up
	[[ $(jq -c '[.ram_blocks[] | .map.never]' <<<"$output") == "[0,0,0]" ]]
	jq -e '.ram_blocks[] | (.length / 4096) as $pages
		| .map.zero + .map.once + .map.resent == $pages
		and .map.resends == .page_records + .zero_records - $pages
		and .map.resent > 0 and .map.resends >= .map.resent' <<<"$output"
	mb stream-gen -b pc.ram:1M -m zero=1 > "$T/z"
	run mb stream-dump --map --width 64 "$T/z"
	[[ $(bar_of pc.ram <<<"$output") == "$(printf '0%.0s' {1..64})" ]]
	[[ $output == *"1 cell = 4 pages"*"  never 0  zero 256  once 0  re-sent 0  re-sends 0"* ]]
}

@test "--map width: --width, else \$COLUMNS, else 80 when not a terminal" {
	mb stream-gen -b pc.ram:64M -m text=1 > "$T/s"
	run mb stream-dump --map "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "$(printf '#%.0s' {1..80})" ]]
	COLUMNS=50 run mb stream-dump --map "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "$(printf '#%.0s' {1..50})" ]]
	COLUMNS=50 run mb stream-dump --map --width 33 "$T/s"
	[[ $(bar_of pc.ram <<<"$output" | tr -d '\n' | wc -c) == 33 ]]
	for bad in abc 0 -5 99999; do
		COLUMNS=$bad run mb stream-dump --map "$T/s"
		[[ $(bar_of pc.ram <<<"$output" | tr -d '\n' | wc -c) == 80 ]]
	done
}

@test "--map colours: none into a pipe or with NO_COLOR, --color=always wins" {
	scale_layout > "$T/s"
	esc=$'\e'
	run mb stream-dump --map --width 8 "$T/s"
	[[ $output != *"$esc"* ]]
	run mb stream-dump --map --width 8 --color=always "$T/s"
	[[ $(bar_of pc.ram <<<"$output") == "${esc}[32m#${esc}[0m${esc}[36m0${esc}[0m${esc}[1;31m%${esc}[0m${esc}[90m.${esc}[0m${esc}[32m#${esc}[0m${esc}[36m0${esc}[0m${esc}[1;31m%${esc}[0m${esc}[32m#${esc}[0m" ]]
	[[ ${lines[1]} == *"${esc}[90m.${esc}[0m never sent"* ]]
	run mb stream-dump --map --width 8 --color "$T/s"
	[[ $output == *"${esc}[36m0"* ]]
	NO_COLOR=1 run mb stream-dump --map --width 8 --color=always "$T/s"
	[[ $output == *"${esc}[36m0"* ]]
	NO_COLOR=1 run mb stream-dump --map --width 8 --color=auto "$T/s"
	[[ $output != *"$esc"* ]]
	run mb stream-dump --map --width 8 --color=never "$T/s"
	[[ $output != *"$esc"* ]]
	[[ $(bar_of pc.ram <<<"$output") == "#0%.#0%#" ]]
}

@test "--map reads a pipe; with -p it passes the stream through and draws on stderr" {
	scale_layout > "$T/s"
	run bash -c "cat '$T/s' | '$MIGBOX' stream-dump --map --width 8"
	assert_ok
	[[ ${lines[0]} == "map of stdin: 1 RAM block, page size 4096" ]]
	[[ $(bar_of pc.ram <<<"$output") == "#0%.#0%#" ]]
	run bash -c "cat '$T/s' | '$MIGBOX' stream-dump -p --map --width 8 - 2>'$T/err' | cmp - '$T/s'"
	assert_ok
	[[ $(bar_of pc.ram < "$T/err") == "#0%.#0%#" ]]
}

@test "--map composes: --digest after the map, --json with the cells, --sections" {
	scale_layout > "$T/s"
	run mb stream-dump --map --digest --width 8 "$T/s"
	assert_ok
	[[ $(bar_of pc.ram <<<"$output") == "#0%.#0%#" ]]
	[[ $(grep -v '^ram \|^state ' <<<"$output" | wc -l) == 5 ]]
	[[ $(grep '^ram \|^state ' <<<"$output") == "$(mb stream-dump --digest "$T/s")" ]]
	run mb stream-dump --map --json --width 8 "$T/s"
	assert_ok
	[[ $(jq -c '.ram_blocks[0].map' <<<"$output") == \
		'{"never":5,"zero":4,"once":5,"resent":2,"resends":2,"pages_per_cell":2,"cell_rule":"majority","cells":"#0%.#0%#"}' ]]
	run mb stream-dump --json "$T/s"
	[[ $(jq '.ram_blocks[0] | has("map")' <<<"$output") == false ]]
	run mb stream-dump --map --sections --width 8 "$T/s"
	[[ ${lines[0]} == "sections of $T/s:" ]]
	[[ $output == *"START    2 ram"*"map of $T/s"*"#0%.#0%#"* ]]
}

@test "--map on a malformed stream: exit 1 with offset and reason, no map; --json has the map so far" {
	scale_layout > "$T/s"
	head -c 20000 "$T/s" > "$T/cut"
	run mb stream-dump --map --width 8 "$T/cut"
	assert_fails_with 1 "$T/cut: offset " "stream truncated"
	[[ $output != *"map of"* && $output != *"legend"* ]]
	run bash -c "'$MIGBOX' stream-dump --map --json --width 8 '$T/cut' 2>/dev/null"
	[[ $status -eq 1 ]]
	[[ $(jq -r .valid <<<"$output") == false ]]
	# cut inside the page at 9: pages 0 to 8 were read
	[[ $(jq -c '.ram_blocks[0].map | [.zero, .once, .resent]' <<<"$output") == "[2,2,1]" ]]
	# cut inside the block list: the block read so far has no map
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; be64 $((131072 | 4)); str8 a; be64 65536; str8 b; } > "$T/cut"
	run mb stream-dump --map --width 8 "$T/cut"
	assert_fails_with 1 "offset 52: stream truncated: expected RAM block name and length"
	[[ $output != *"map of"* ]]
	run bash -c "'$MIGBOX' stream-dump --map --json '$T/cut' 2>/dev/null"
	[[ $status -eq 1 ]]
	[[ $(jq -c '[.ram_blocks[] | [.name, has("map")]]' <<<"$output") == '[["a",false]]' ]]
}

@test "--map usage errors exit 2 and say what is wrong" {
	scale_layout > "$T/s"
	for bad in "--width 0" "--width 4097" "--width x" "--rows 0" "--rows 1025"; do
		run mb stream-dump --map $bad "$T/s"
		assert_fails_with 2 "${bad% *} takes 1.." "not '${bad#* }'"
	done
	run mb stream-dump --map --color=blue "$T/s"
	assert_fails_with 2 "--color takes auto, always or never, not 'blue'"
	run mb stream-dump --width 80 "$T/s"
	assert_fails_with 2 "add --map"
	run mb stream-dump --map -q "$T/s"
	assert_fails_with 2 "--quiet"
}

@test "--map of a stream without RAM" {
	{ sb_header; sb_config pc; sb_full 3 timer 0 2; printf 'devicebytes'; sb_footer 3; sb_eof; } > "$T/s"
	run mb stream-dump --map "$T/s"
	assert_ok
	[[ $output == "map of $T/s: no RAM blocks" ]]
}

@test "--map of a block claiming 2^62 bytes costs what the stream carried" {
	big=$((1 << 62))
	{ sb_header; sb_config pc; sb_start 2 ram 0 4; sb_mem_size huge $big; sb_eos; sb_footer 2
	  sb_part 2; sb_page 0 huge a; sb_zero $((big / 2)) huge
	  sb_page $((big - 4096)) huge b; sb_page $((big - 4096)) "" c
	  sb_eos; sb_footer 2; sb_end 2; sb_eos; sb_footer 2; sb_eof; } > "$T/s"
	run mb stream-dump --map --width 4 "$T/s"
	assert_ok
	[[ $output == *"huge: "*", 1125899906842624 pages, 1 cell = 281474976710656 pages"* ]]
	[[ $(bar_of huge <<<"$output") == "...." ]]
	[[ $output == *"  never 1125899906842621  zero 1  once 1  re-sent 1  re-sends 1"* ]]
	# the most cells a block can have: still one pass over what was sent
	run mb stream-dump --map --width 4096 --rows 1024 "$T/s"
	assert_ok
	[[ $(bar_of huge <<<"$output" | wc -l) == 1024 ]]
}

# pane: what the terminal shows (-e: with its colour escapes).
pane() {
	tmux -L "$TMUX_SERVER" capture-pane -p "$@" -t map
}

# in_terminal COLS ENV...: stream-dump --map of $T/s in a tmux pane COLS
# wide, ENV set; waits until it exited 0.
in_terminal() {
	local cols=$1
	shift
	rm -f "$T/exit"
	if [[ -z $TMUX_SERVER ]]; then
		TMUX_SERVER=migbox-map-$$-$BATS_TEST_NUMBER
		tmux -L "$TMUX_SERVER" new-session -d -s map -x "$cols" -y 40 "sleep 60"
	fi
	tmux -L "$TMUX_SERVER" resize-window -t map -x "$cols" -y 40
	tmux -L "$TMUX_SERVER" respawn-pane -k -t map \
		"env $* '$MIGBOX' stream-dump --map '$T/s'; echo \$? >'$T/exit'; sleep 60"
	wait_for 10 test -s "$T/exit" || { pane >&2; return 1; }
	[[ $(cat "$T/exit") == 0 ]] || { pane >&2; return 1; }
}

@test "--map in a real terminal: the bar fills 100, then 60 columns, in colour; NO_COLOR plain" {
	command -v tmux >/dev/null || { echo 'tmux not installed: run ./install-deps' >&2; return 1; }
	mb stream-gen -b pc.ram:64M -b rom:64K -i 2 -r 30 > "$T/s"
	esc=$'\e'
	# the terminal's width wins over $COLUMNS
	in_terminal 100 COLUMNS=37
	bar=$(pane | bar_of pc.ram)
	[[ ${#bar} -eq 100 && $bar =~ ^[.0#%]+$ ]] || { pane >&2; false; }
	[[ $(pane | grep -c '1 cell = 164 pages') == 1 ]]
	# the legend and the bars in colour (as tmux re-renders them)
	[[ $(pane -e | grep '^legend') == *"${esc}[90m."*"${esc}[36m0"*"${esc}[32m#"*"${esc}[31m%"* ]] || { pane -e >&2; false; }
	[[ $(pane -e | bar_of pc.ram) == *"${esc}[32m#"* ]]
	in_terminal 60
	bar=$(pane | bar_of pc.ram)
	[[ ${#bar} -eq 60 && $bar =~ ^[.0#%]+$ ]] || { pane >&2; false; }
	[[ $(pane | grep -c '1 cell = 274 pages') == 1 ]]
	[[ $(pane -e) == *"${esc}["*"m"* ]]
	in_terminal 60 NO_COLOR=1
	[[ $(pane | bar_of pc.ram) == "$bar" ]]
	[[ $(pane -e) != *"$esc"* ]] || { pane -e | cat -v >&2; false; }
}

@test "bash completion offers --map, --width, --rows, --color and its values" {
	run bash -c "
		source '$BATS_TEST_DIRNAME/../completions/migbox.bash'
		migbox() { '$MIGBOX' \"\$@\"; }
		COMP_WORDS=(migbox stream-dump --ma); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(stream-dump --wi); COMP_CWORD=1; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(stream-dump --col); COMP_CWORD=1; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(stream-dump --color = al); COMP_CWORD=3; _migbox; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(stream-dump --color =); COMP_CWORD=2; _migbox; echo \"\${COMPREPLY[*]}\""
	assert_ok
	[[ ${lines[0]} == --map ]]
	[[ ${lines[1]} == --width ]]
	[[ ${lines[2]} == --color ]]
	[[ ${lines[3]} == always ]]
	[[ ${lines[4]} == "auto always never" ]]
}
