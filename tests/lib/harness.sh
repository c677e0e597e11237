# Shared by the shell tests (sourced, not run; ctest runs only tests/*.sh):
# a temporary folder removed on exit, pass/fail counters and the checks.
#   . "$(dirname "$0")/lib/harness.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
}

# expect CODE PATTERN -- command...: the exit status is CODE and stderr holds
# PATTERN (a fixed string; empty: anything). stdout is left in $tmp/out,
# stderr in $tmp/err.
expect() {
    local code=$1 pattern=$2
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -ne "$code" ]; then
        bad "$* exited $got, expected $code; stderr: $(head -c 400 "$tmp/err")"
    elif [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err"; then
        bad "$*: stderr lacks '$pattern': $(head -c 400 "$tmp/err")"
    else
        ok
    fi
}

# finish: the counts; the script's status is non-zero when a check failed.
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
