#!/usr/bin/env bash
# `cmake --install` (and `make install PREFIX=...`) put the CLI, its manual
# page scratchnet(1) and bash/zsh completions under a prefix. The page and
# the completions come from the binary's own help texts and option lists:
# the page renders and holds each verb's --help text; the bash completion
# sources and completes verbs and options.
# usage: test_man_completion.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
build=$(dirname "$sn")
. "$(dirname "$0")/lib/harness.sh"

cmake --install "$build" --prefix "$tmp/p" >"$tmp/log" 2>&1 && ok || bad "cmake --install: $(cat "$tmp/log")"
man1="$tmp/p/share/man/man1/scratchnet.1"
bashc="$tmp/p/share/bash-completion/completions/scratchnet"
zshc="$tmp/p/share/zsh/site-functions/_scratchnet"
for f in "$tmp/p/bin/scratchnet" "$man1" "$bashc" "$zshc"; do
    [ -s "$f" ] && ok || bad "not installed: $f"
done
"$tmp/p/bin/scratchnet" --version >"$tmp/out" 2>&1 && grep -q "^scratchnet " "$tmp/out" && ok ||
    bad "installed --version: $(cat "$tmp/out")"

# The page renders, without warnings, and holds every verb's --help text.
if command -v man >/dev/null 2>&1; then
    MANWIDTH=100 man -l "$man1" >"$tmp/man.txt" 2>"$tmp/man.err" && ok || bad "man -l failed"
    [ -s "$tmp/man.err" ] && bad "man -l warns: $(head -5 "$tmp/man.err")" || ok
    grep -q "SYNOPSIS" "$tmp/man.txt" && ok || bad "the page has no SYNOPSIS"
    for v in train eval predict report plot summary sweep gradcheck generate checkpoint import-weights; do
        # an option line of the verb's --help appears in the page as printed
        line=$("$sn" $v --help | grep -m1 -E '^  -' | sed 's/  */ /g; s/^ //')
        tr -s ' ' <"$tmp/man.txt" | grep -qF -- "$line" && ok || bad "the page lacks $v's '$line'"
    done
else
    echo "man not installed: page rendering not checked" >&2
fi

# bash: the completion sources and completes a verb and an option.
out=$(bash -c '
    . "$1"
    COMP_WORDS=(scratchnet tr); COMP_CWORD=1; _scratchnet; echo "verbs: ${COMPREPLY[*]}"
    COMP_WORDS=(scratchnet train x.net --epo); COMP_CWORD=3; _scratchnet; echo "opts: ${COMPREPLY[*]}"
    COMP_WORDS=(scratchnet predict m --for); COMP_CWORD=3; _scratchnet; echo "predict: ${COMPREPLY[*]}"
' _ "$bashc" 2>&1)
echo "$out" | grep -qx "verbs: train" && ok || bad "bash completion of 'tr': $out"
echo "$out" | grep -qx "opts: --epochs" && ok || bad "bash completion of 'train --epo': $out"
echo "$out" | grep -qx "predict: --format" && ok || bad "bash completion of 'predict --for': $out"
if command -v zsh >/dev/null 2>&1; then
    zsh -n "$zshc" && ok || bad "the zsh completion does not parse"
fi
# Every option the completion offers for train is one train accepts.
for o in $(bash -c '. "$1"; COMP_WORDS=(scratchnet train --); COMP_CWORD=2; _scratchnet; echo "${COMPREPLY[*]}"' _ "$bashc"); do
    [ "$o" = --help ] && continue
    # (a table option, or a text option, which applies with --text)
    "$sn" train x.net "$o" 2>&1 | grep -q "unknown option\|does not apply" &&
        "$sn" train x.net --text t "$o" 2>&1 | grep -q "unknown option\|does not apply" &&
        bad "completion offers $o" || ok
done

# make install PREFIX=... runs the same installation (checked without running
# it: a real run would rebuild the binary other tests are using).
if [ -f "$src/Makefile" ] && command -v make >/dev/null 2>&1; then
    make -n -C "$src" --no-print-directory install BUILD="$build" PREFIX="$tmp/q" >"$tmp/log" 2>&1
    grep -qF "cmake --install $build --prefix $tmp/q" "$tmp/log" && ok ||
        bad "make install PREFIX=...: $(cat "$tmp/log")"
fi
finish
