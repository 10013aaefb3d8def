#!/bin/bash
# `make install` and what it installs: the binary and its lkvm name, the man
# page and the bash completion. The man page is checked against the binary
# (every command of `coho --help` and every long option of `coho run --help`
# is an item of it, with an argument when the option takes one), so it
# cannot fall behind; the completion is run as bash would run it.
# Usage: tests/cli/install.sh COHO [LABEL]   (COHO: the build `make install` installs)
set -uo pipefail
coho=$(realpath "$1")
label=${2:-install}
root=$(cd "$(dirname "$0")/../.." && pwd)
man_src=$root/docs/coho.1
comp_src=$root/scripts/coho.bash-completion
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip() { echo "skip - $*"; }

# --- make install into an empty DESTDIR -------------------------------------
dest=$work/dest
mkdir "$dest"
prefix=/usr/local
if ${MAKE:-make} -C "$root" --no-print-directory install DESTDIR="$dest" PREFIX="$prefix" \
	>"$work/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=$prefix"
else
	not_ok "make install DESTDIR=... PREFIX=$prefix failed: $(tail -n 1 "$work/install.log")"
fi
p=$dest$prefix
bin=$p/bin man1=$p/share/man/man1 comp=$p/share/bash-completion/completions

# mode PATH: octal permission bits of a file (not following a symlink).
mode() { stat -c %a "$1" 2>/dev/null; }
# is_link PATH TARGET: PATH is a symlink whose text is exactly TARGET and which resolves.
is_link() { [ -L "$1" ] && [ "$(readlink "$1")" = "$2" ] && [ -e "$1" ]; }

expected=$(printf '%s\n' "$prefix/bin/coho" "$prefix/bin/lkvm" \
	"$prefix/share/bash-completion/completions/coho" \
	"$prefix/share/bash-completion/completions/lkvm" \
	"$prefix/share/man/man1/coho.1" "$prefix/share/man/man1/lkvm.1" | sort)
got=$(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort)
if [ "$got" = "$expected" ]; then
	ok "installs exactly the expected files"
else
	not_ok "installs other files than expected: $(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
fi
check "bin/coho: a regular file, mode 755 (got $(mode "$bin/coho"))" \
	bash -c '[ -f "$1" ] && [ ! -L "$1" ] && [ "$(stat -c %a "$1")" = 755 ]' _ "$bin/coho"
check "bin/coho is the binary that was built" cmp -s "$coho" "$bin/coho"
check "bin/lkvm: a relative symlink to coho (got '$(readlink "$bin/lkvm")')" is_link "$bin/lkvm" coho
check "man1/coho.1: mode 644 (got $(mode "$man1/coho.1")), same as docs/coho.1" \
	bash -c '[ "$(stat -c %a "$1")" = 644 ] && cmp -s "$1" "$2"' _ "$man1/coho.1" "$man_src"
check "man1/lkvm.1: a symlink to coho.1 (got '$(readlink "$man1/lkvm.1")')" \
	is_link "$man1/lkvm.1" coho.1
check "completions/coho: mode 644 (got $(mode "$comp/coho")), same as scripts/coho.bash-completion" \
	bash -c '[ "$(stat -c %a "$1")" = 644 ] && cmp -s "$1" "$2"' _ "$comp/coho" "$comp_src"
check "completions/lkvm: a symlink to coho (got '$(readlink "$comp/lkvm")')" is_link "$comp/lkvm" coho
"$bin/lkvm" --help >"$work/lkvm-help.txt" 2>&1
rc=$?
check "installed lkvm --help: exit 0 (got $rc) and the command list" \
	bash -c '[ "$1" -eq 0 ] && grep -q "^usage: coho" "$2" && grep -qE "^ +run " "$2"' _ "$rc" \
	"$work/lkvm-help.txt"

# --- the man page renders without warnings -----------------------------------
if command -v groff >/dev/null; then
	groff -man -Tutf8 -ww -z "$man_src" >"$work/groff.err" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$work/groff.err" ]; then
		ok "man page: groff -ww renders it without warnings"
	else
		not_ok "man page: groff -ww (rc $rc): $(head -n 1 "$work/groff.err")"
	fi
else
	skip "man page rendering: groff is not installed (scripts/deps.sh installs groff-base)"
fi
if command -v man >/dev/null; then
	MANWIDTH=80 man --warnings -E UTF-8 -l "$man1/lkvm.1" >"$work/man.txt" 2>"$work/man.err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$work/man.err" ] && grep -q "coho run" "$work/man.txt"; then
		ok "man page: man --warnings shows the installed lkvm.1 without warnings"
	else
		not_ok "man page: man --warnings on the installed lkvm.1 (rc $rc): $(head -n 1 "$work/man.err")"
	fi
else
	skip "man --warnings: man is not installed"
fi

# --- the man page is in step with the binary ----------------------------------
# The tags of the .TP items of one section (.SH NAME) of the man page, as text:
# font escapes dropped, \- made -, the arguments of .B/.BR/... joined as troff does.
man_tags() {
	awk -v want="$1" '
	function args(s, out, i, c, q, cur, n) {
		n = 0; cur = ""; q = 0; have = 0
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\"") { q = !q; have = 1; continue }
			if (c == " " && !q) { if (have) out[++n] = cur; cur = ""; have = 0; continue }
			cur = cur c; have = 1
		}
		if (have) out[++n] = cur
		return n
	}
	function text(line, m, rest, a, n, i, s) {
		if (line !~ /^\./) return line
		m = line; sub(/ .*/, "", m); m = substr(m, 2)
		rest = line; if (!sub(/^[^ ]* /, "", rest)) rest = ""
		n = args(rest, a); s = ""
		for (i = 1; i <= n; i++)
			s = s ((length(m) == 2 || i == 1) ? "" : " ") a[i]
		return s
	}
	/^\.\\"/ { next }
	/^\.SH / { sec = $0; sub(/^\.SH +/, "", sec); gsub(/"/, "", sec); next }
	sec != want { tp = 0; next }
	/^\.TP/ { tp = 1; next }
	tp { t = text($0); gsub(/\\f[BIRP]/, "", t); gsub(/\\-/, "-", t); print t; tp = 0 }
	' "$man_src"
}
man_tags OPTIONS >"$work/option-tags.txt"
man_tags COMMANDS >"$work/command-tags.txt"
check "man page: an OPTIONS section with items" [ -s "$work/option-tags.txt" ]
check "man page: a COMMANDS section with items" [ -s "$work/command-tags.txt" ]

"$coho" run --help >"$work/run-help.txt" 2>&1
rc=$?
check "coho run --help: exit 0 (got $rc)" [ "$rc" -eq 0 ]
opts=$(grep -oE -- '--[a-z0-9][a-z0-9-]*' "$work/run-help.txt" | sort -u)
check "coho run --help lists long options" [ -n "$opts" ]
for o in $opts; do
	# Whether --help shows it with an argument: "--opt ARG", not "--opt   help text".
	line=$(grep -E -- "^ +(-[A-Za-z0-9], )?$o( |$)" "$work/run-help.txt" | head -n 1)
	if [ -z "$line" ]; then
		want=""
	elif grep -qE -- "$o [^ ]" <<<"$line"; then
		want=" with its argument"
	else
		want=" as a flag"
	fi
	tag=$(grep -E -- "(^|[ ,])$o([ ,=]|$)" "$work/option-tags.txt" | head -n 1)
	if [ -z "$tag" ]; then
		not_ok "man page: $o of coho run --help is not an item of OPTIONS"
	elif [ "$want" = " with its argument" ] && ! grep -qE -- "$o( [^ -]|=)" <<<"$tag"; then
		not_ok "man page: $o takes an argument but its item '$tag' shows none"
	elif [ "$want" = " as a flag" ] && grep -qE -- "$o( [^ -]|=)" <<<"$tag"; then
		not_ok "man page: $o takes no argument but its item '$tag' shows one"
	else
		ok "man page documents $o$want"
	fi
done

"$coho" --help >"$work/help.txt" 2>&1
rc=$?
cmds=$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && NF { print $1 }' "$work/help.txt")
check "coho --help: exit 0 (got $rc) and a command list" bash -c '[ "$1" -eq 0 ] && [ -n "$2" ]' _ "$rc" "$cmds"
for c in $cmds; do
	check "man page: command '$c' of coho --help is an item of COMMANDS" \
		grep -qE "^coho $c( |,|$)" "$work/command-tags.txt"
done
# Every command of coho --help or of the man page has its own `coho help COMMAND`.
for c in $( (echo "$cmds" && sed -nE 's/^coho ([a-z]+).*/\1/p' "$work/command-tags.txt") | sort -u); do
	"$coho" help "$c" >"$work/help-cmd.txt" 2>&1
	rc=$?
	check "coho help $c: exit 0 (got $rc) and a usage line" \
		bash -c '[ "$1" -eq 0 ] && grep -q "^usage: coho" "$2"' _ "$rc" "$work/help-cmd.txt"
done

# --- bash completion ------------------------------------------------------------
check "completion: bash -n passes" bash -n "$comp/coho"
# complete SCRIPT WORD...: what bash's completion for WORD... offers (the last
# WORD being completed), one per line, sorted.
complete_words() {
	local script=$1
	shift
	# shellcheck disable=SC2016
	bash --norc --noprofile -c '
		. "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		spec=$(complete -p "${1##*/}" 2>/dev/null) || exit 1
		fn=${spec#*-F }
		fn=${fn%% *}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' _ "$script" "$@" 2>&1 | sed '/^$/d' | sort
}
got=$(complete_words "$comp/coho" "$bin/coho" "")
check "completion: 'coho ' offers run" grep -qx run <<<"$got"
check "completion: 'coho ' offers every command of coho --help" \
	[ "$got" = "$(sort <<<"$cmds")" ]
got=$(complete_words "$comp/lkvm" "$bin/lkvm" r)
check "completion: 'lkvm r' offers run (got: $(echo $got))" grep -qx run <<<"$got"
got=$(complete_words "$comp/coho" "$bin/coho" run --con)
check "completion: 'coho run --con' offers --console (got: $(echo $got))" grep -qx -- --console <<<"$got"
check "completion: 'coho run --con' offers only --con* options" \
	bash -c '[ -n "$1" ] && ! grep -qv -- "^--con" <<<"$1"' _ "$got"
got=$(complete_words "$comp/coho" "$bin/coho" run --)
supported=$(grep -vF '(not supported yet)' "$work/run-help.txt" |
	grep -oE -- '^ +(-[A-Za-z0-9], )?--[a-z0-9][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' | sort -u)
rejected=$(grep -F '(not supported yet)' "$work/run-help.txt" | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
check "completion: 'coho run --' offers exactly the supported options of coho run --help" \
	[ "$got" = "$supported" ]
check "completion: 'coho run --' offers no rejected option" \
	bash -c '[ -z "$(comm -12 <(echo "$1") <(echo "$2"))" ]' _ "$got" "$rejected"
# The values offered for an option are those its --help argument lists (a|b|c).
for o in --console --irqchip --virtio-transport; do
	want=$(grep -oE -- "$o [a-z0-9|-]+" "$work/run-help.txt" | head -n 1 | cut -d' ' -f2 | tr '|' '\n' | sort)
	got=$(complete_words "$comp/coho" "$bin/coho" run "$o" "")
	check "completion: '$o ' offers $(echo $want) (got: $(echo $got))" \
		bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$want" "$got"
done
got=$(complete_words "$comp/coho" "$bin/coho" run --console = v)
check "completion: '--console=v' offers virtio (got: $(echo $got))" [ "$got" = virtio ]
mkdir "$work/files" && : >"$work/files/kernel-Image" && : >"$work/files/other"
got=$(cd "$work/files" && complete_words "$comp/coho" "$bin/coho" run -k kern)
check "completion: 'coho run -k kern' offers the file kernel-Image (got: $(echo $got))" \
	[ "$got" = kernel-Image ]
got=$(cd "$work/files" && complete_words "$comp/coho" "$bin/coho" run --dump-dtb o)
check "completion: 'coho run --dump-dtb o' offers the file other (got: $(echo $got))" [ "$got" = other ]
# --name: a stand-in coho whose `list` has two guests (the real one needs KVM).
cat >"$work/coho" <<EOF
#!/bin/sh
if [ "\$1" = list ]; then
	printf 'NAME      PID    STATE\nweb       4242   running\nbuild-7   4343   paused\n'
	exit 0
fi
exec "$coho" "\$@"
EOF
chmod +x "$work/coho"
for c in stop pause resume debug; do
	got=$(complete_words "$comp/coho" "$work/coho" "$c" --name "")
	check "completion: 'coho $c --name ' offers the guests of coho list (got: $(echo $got))" \
		[ "$got" = "$(printf 'build-7\nweb')" ]
done
got=$(complete_words "$comp/coho" "$work/coho" stop --name w)
check "completion: 'coho stop --name w' offers web (got: $(echo $got))" [ "$got" = web ]

echo "$label: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
