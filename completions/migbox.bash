# bash completion for migbox and its applet links. Applet names come from
# `migbox --list`, options from each applet's --help: the applet table is
# the one source.
_migbox_options()
{
	local bin=$1 applet=$2
	"$bin" "$applet" --help 2>/dev/null |
		grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*'
}

_migbox()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd=${COMP_WORDS[0]##*/} bin applet
	COMPREPLY=()

	if [[ $cmd == migbox ]]; then
		bin=${COMP_WORDS[0]}
		if ((COMP_CWORD == 1)); then
			COMPREPLY=($(compgen -W "$("$bin" --list 2>/dev/null) --list --install --man --help --version" -- "$cur"))
			return
		fi
		applet=${COMP_WORDS[1]}
	else
		bin=migbox
		applet=$cmd
	fi
	# --color=WHEN: bash splits the word at '='
	if [[ $prev == = && ${COMP_WORDS[COMP_CWORD-2]} == --color ]] ||
	   [[ $cur == = && $prev == --color ]]; then
		[[ $cur == = ]] && cur=
		COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
		return
	fi
	case $prev in
	-o|--output|--image-digest|--stats-json|--install|--test-port)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--socket-group)
		COMPREPLY=($(compgen -g -- "$cur"))
		return
		;;
	--test-gids)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	-z|--compress)
		COMPREPLY=($(compgen -W "none zlib zstd" -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_migbox_options "$bin" "$applet")" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _migbox migbox stream-dump stream-gen multifd-send multifd-recv \
	vfio-dump vfio-load rdma-send rdma-recv postcopy-serve pvrdma-mux
