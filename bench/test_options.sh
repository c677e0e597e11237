#!/usr/bin/env bash
# The benchmarks' own options: bench_steady's kinds (l2 among them) print a
# positive rate in their unit and refuse bad arguments, and share its three
# positive times; bench_lstm --every K prints one line per block of K
# batches of the measured epoch (the last block may be shorter) and refuses
# a K that is not a positive number.
# bench/peer-env.sh gives the peer OpenBLAS's AVX-512 kernel and its own
# cache size on an AVX-512 CPU whatever the environment exports,
# PEER_OPENBLAS_CORETYPE another kernel, PEER_CONFIGS fewer settings, and
# peer_run each setting's threads; peer_best finds the peer's best setting
# either way and prints each.
# usage: test_options.sh BENCH_STEADY BENCH_LSTM SOURCE_DIR
set -u
steady=$1
lstm=$2
. "$3/tests/lib/harness.sh"

for kind in "fma GFLOP/s" "stream GB/s" "sync GFLOP/s" "l2 GB/s"; do
    k=${kind% *} unit=${kind#* }
    out=$("$steady" "$k" 0.05 2)
    echo "$out" | grep -Eq "^$k [0-9]+\.[0-9]+ ${unit//\//\\/}\$" &&
        awk '{ exit !($2 > 0) }' <<<"$out" && ok || bad "$k: '$out'"
done
expect 2 "usage: bench_steady fma|stream|sync|l2" -- "$steady" l3
expect 2 "seconds must be in" -- "$steady" l2 0
expect 2 "threads must be in" -- "$steady" l2 0.1 0
# share: a line's round trip and two times of a rewrite, all positive
out=$("$steady" share)
echo "$out" | grep -Eq '^share: line round trip [0-9]+ ns; rewriting 1 MiB the other thread read [0-9]+\.[0-9] us, that it did not [0-9]+\.[0-9] us$' &&
    awk '{ exit !($5 > 0 && $14 > 0 && $19 > 0) }' <<<"$out" && ok || bad "share: '$out'"
expect 2 "usage: bench_steady" -- "$steady" share 1

# a corpus of 4 + 5 batches of 64 x 32 characters (warm-up 3, measured 5)
awk 'BEGIN { for (i = 0; i < 700; i++) printf "the whale %d swam on; ", i }' >"$tmp/c.txt"
"$lstm" "$tmp/c.txt" 5 rnn --threads 1 --every 2 >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "--every 2 failed: $(cat "$tmp/err")"
blocks=$(grep -E '^  batches [0-9]+-[0-9]+: tokens_per_s=[0-9]+$' "$tmp/out" | awk '{ print $2 }' | tr '\n' ' ')
[ "$blocks" = "1-2: 3-4: 5-5: " ] && ok || bad "--every 2 over 5 batches gave blocks '$blocks': $(cat "$tmp/out")"
grep -q '^scratchnet rnn threads=1 tokens_per_s=' "$tmp/out" && ok || bad "no summary line: $(cat "$tmp/out")"
"$lstm" "$tmp/c.txt" 5 rnn --threads 1 >"$tmp/out" 2>&1
grep -q 'batches' "$tmp/out" && bad "block lines without --every: $(cat "$tmp/out")" || ok
for e in 0 -3 x 2x ""; do
    expect 2 "--every needs a number of batches >= 1" -- "$lstm" "$tmp/c.txt" 5 rnn --every "$e"
done
expect 2 "--every needs a number of batches >= 1" -- "$lstm" "$tmp/c.txt" 5 rnn --every
pe="$3/bench/peer-env.sh"
peer() { bash -c '. "$1"; shift; eval "$*"' _ "$pe" "$@"; }
want="Haswell 512"
grep -qw avx512f /proc/cpuinfo && want="SkylakeX unset"
out=$(OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 peer 'echo "$OPENBLAS_CORETYPE ${OPENBLAS_L2_SIZE:-unset}"')
[ "$out" = "$want" ] && ok || bad "peer-env.sh over Haswell/512 gave '$out', not '$want'"
out=$(OPENBLAS_CORETYPE=Haswell PEER_OPENBLAS_CORETYPE=Zen peer 'echo "$OPENBLAS_CORETYPE"')
[ "$out" = Zen ] && ok || bad "PEER_OPENBLAS_CORETYPE=Zen gave '$out'"
out=$(peer 'echo "$peer_configs"')
[ "$out" = "1 1-blas2 2" ] && ok || bad "default peer_configs '$out'"
out=$(PEER_CONFIGS="1 2" peer 'echo "$peer_configs"')
[ "$out" = "1 2" ] && ok || bad "PEER_CONFIGS='1 2' gave '$out'"
for c in "1 t=1 blas=1" "1-blas2 t=1 blas=2" "2 t=2 blas=2"; do
    out=$(peer "peer_run ${c%% *} sh -c 'echo t={threads} blas=\$OPENBLAS_NUM_THREADS \$OMP_WAIT_POLICY'")
    [ "$out" = "${c#* } passive" ] && ok || bad "peer_run ${c%% *} gave '$out'"
done
expect 1 "peer-env.sh: unknown config 3" -- peer 'peer_run 3 true'
fig() { case $1 in 1) echo 3.5 ;; 1-blas2) echo 2.25 ;; 2) echo 10 ;; esac; }
export -f fig
for c in "lower 2.25 1-blas2" "higher 10 2"; do
    out=$(peer "peer_best ${c%% *} '%.2f s' fig '{cfg}'; echo \"\$peer_top \$peer_top_cfg\"")
    want=$(printf '  pytorch %-8s %s\n' 1 "3.50 s" 1-blas2 "2.25 s" 2 "10.00 s"; echo "${c#* }")
    [ "$out" = "$want" ] && ok || bad "peer_best ${c%% *} gave '$out', not '$want'"
done
finish
