# Shared by the shell tests (sourced, not run; ctest runs only tests/*.sh):
# a temporary folder removed on exit (kept when KEEP is set; background jobs
# still running are killed), pass/fail counters, the checks and test data.
#   . "$(dirname "$0")/lib/harness.sh"
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
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
    elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$tmp/err"; then
        bad "$*: stderr lacks '$pattern': $(head -c 400 "$tmp/err")"
    else
        ok
    fi
}

# check MESSAGE command...: the command must succeed.
check() {
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}

# spiral N SEED: two interleaved spirals of N points (N even), CSV with a
# header "x,y,label", on stdout.
spiral() {
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); print "x,y,label";
      for (i = 0; i < n; i++) { c = i % 2; t = 0.5 + (i / 2) / (n / 2) * 10; a = t + c * 3.14159265;
        printf "%.5f,%.5f,%d\n", t * cos(a) / 10 + 0.02 * (rand() - 0.5),
                                 t * sin(a) / 10 + 0.02 * (rand() - 0.5), c } }'
}

# finish: the counts; the script's status is non-zero when a check failed.
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
