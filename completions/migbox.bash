# SPDX-License-Identifier: GPL-3.0-or-later
# bash completion for migbox and its applet links. Applet names come from
# `migbox --list`, each applet's options and what their arguments take from
# `migbox --options APPLET`: the applet's option table is the one source.

# _migbox_table BIN APPLET: "-x --name ARGKIND" per option (see --options).
_migbox_table()
{
	"$1" --options "$2" 2>/dev/null
}

_migbox()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd=${COMP_WORDS[0]##*/} bin applet short long kind opt=
	COMPREPLY=()

	if [[ $cmd == migbox ]]; then
		bin=${COMP_WORDS[0]}
		if ((COMP_CWORD == 1)); then
			COMPREPLY=($(compgen -W "$("$bin" --list 2>/dev/null) --list --install --man --options --help --version" -- "$cur"))
			return
		fi
		applet=${COMP_WORDS[1]}
		case $applet in
		--install) COMPREPLY=($(compgen -d -- "$cur")); return ;;
		--man|--options) COMPREPLY=($(compgen -W "$("$bin" --list 2>/dev/null)" -- "$cur")); return ;;
		esac
	else
		bin=migbox
		applet=$cmd
	fi
	# --name=VALUE: bash splits the word at '='
	if [[ $cur == = ]]; then
		opt=$prev cur=
	elif [[ $prev == = ]]; then
		opt=${COMP_WORDS[COMP_CWORD-2]}
	elif [[ $prev == -* ]]; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		while read -r short long kind; do
			[[ $opt == "$short" || $opt == "$long" ]] || continue
			case $kind in
			-) ;;
			@file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
			@group) COMPREPLY=($(compgen -g -- "$cur")); return ;;
			@dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
			@value) return ;;
			*) COMPREPLY=($(compgen -W "${kind//,/ }" -- "$cur")); return ;;
			esac
		done < <(_migbox_table "$bin" "$applet")
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_migbox_table "$bin" "$applet" | awk '{ print $2 }')" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _migbox migbox stream-dump stream-gen multifd-send multifd-recv \
	vfio-dump vfio-load rdma-send rdma-recv postcopy-serve pvrdma-mux
