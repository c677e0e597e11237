#!/usr/bin/env bash
# Every reader against malformed files: tests/bad-inputs/cases.txt lists the
# commands, the exit status each must give and a phrase its message must
# contain. Each command runs in an empty folder holding only in/ (a link to
# tests/bad-inputs); afterwards the folder must be empty again (no run folder,
# no half-written file), and stderr must be a short message that names a file
# under in/, without a sanitizer report or a crash. Nothing may be written
# into tests/bad-inputs either.
# usage: test_bad_inputs.sh SCRATCHNET SOURCE_DIR
set -u
sn=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
cases=$src/tests/bad-inputs/cases.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
n=0

bad() {
    fail=$((fail + 1))
    echo "FAIL: line $lineno: $*" >&2
    sed 's/^/    | /' "$tmp/err" | head -n 20 >&2
}

touch "$tmp/stamp"
sleep 1 # files written from now on are newer than the stamp
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case "$line" in '' | '#'*) continue ;; esac
    status=$(printf '%s' "$line" | cut -d'|' -f1 | tr -d ' ')
    phrase=$(printf '%s' "$line" | cut -d'|' -f2 | sed 's/^ //; s/ $//')
    command=$(printf '%s' "$line" | cut -d'|' -f3- | sed 's/^ //')
    command=${command//\$SRC/$src}
    n=$((n + 1))
    dir=$tmp/case$n
    mkdir "$dir"
    ln -s "$src/tests/bad-inputs" "$dir/in"
    read -r -a args <<<"$command"
    (cd "$dir" && exec timeout 120 "$sn" "${args[@]}") >"$tmp/out" 2>"$tmp/err"
    got=$?
    leftover=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name in)
    leftover+=$(find "$src/tests/bad-inputs/" -newer "$tmp/stamp")
    lines=$(wc -l <"$tmp/err")
    if [ "$got" -ne "$status" ]; then
        bad "scratchnet $command: exit status $got, expected $status"
    elif ! grep -q -F -- "$phrase" "$tmp/err"; then
        bad "scratchnet $command: the message lacks \"$phrase\""
    elif grep -q -E 'Sanitizer|runtime error|Segmentation|Aborted|core dumped|Assertion' "$tmp/err"; then
        bad "scratchnet $command: crash or sanitizer report"
    elif [ "$status" -eq 1 ] && [ "$lines" -gt 3 ]; then
        bad "scratchnet $command: $lines lines on stderr, expected a short message"
    elif [ "$status" -eq 1 ] && ! grep -q -F 'in/' "$tmp/err"; then
        bad "scratchnet $command: the message names no input file"
    elif [ "$status" -eq 2 ] && ! head -n 1 "$tmp/err" | grep -q -F -- "$phrase"; then
        bad "scratchnet $command: the first line lacks \"$phrase\""
    elif [ -n "$leftover" ]; then
        bad "scratchnet $command: left behind: $leftover"
    else
        pass=$((pass + 1))
    fi
    rm -rf "$dir"
done <"$cases"

echo "bad inputs: $pass of $n cases passed"
[ "$n" -ge 40 ] || {
    echo "FAIL: only $n cases in $cases" >&2
    fail=$((fail + 1))
}
[ "$fail" -eq 0 ]
