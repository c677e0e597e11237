#!/usr/bin/env bash
# One option parser for every verb: --opt value and --opt=value, aliases,
# one-line errors with a suggestion, values checked before any data is read,
# the same names across verbs, run folders wherever a model is taken.
# usage: test_options.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"
or="$src/examples/or"

# A misspelled option: one line naming it with a suggestion, then where to
# look; not the whole help.
expect 2 "unknown option '--epoch'; did you mean '--epochs'?" -- "$sn" train x.net --epoch 3
grep -q "see 'scratchnet train --help'" "$tmp/err" && ok || bad "no pointer to --help"
[ "$(wc -l <"$tmp/err")" -eq 2 ] && ok || bad "a misspelled option printed $(wc -l <"$tmp/err") lines"
expect 2 "did you mean '--noise-seed'?" -- "$sn" eval m --noise-sed 3
expect 2 "unknown option '--zzzzzz'" -- "$sn" eval m --zzzzzz
grep -q "did you mean" "$tmp/err" && bad "a suggestion for a word that is not near any" || ok
# an option of another verb
expect 2 "'--noise' does not apply" -- "$sn" train x.net --noise 0.1
expect 2 "--quiet takes no value" -- "$sn" train x.net --quiet=yes

# Impossible values are refused before anything is read (the data and the
# spec do not exist: the complaint must be about the value).
for bad_opt in "--epochs 0" "--epochs=0" "--batch 0" "--lr 0" "--val-split 1" "--threads -1" \
    "--header maybe" "--seed -1" "--seed 1.5"; do
    # shellcheck disable=SC2086
    expect 2 "${bad_opt%%[ =]*}" -- "$sn" train "$tmp/none.net" --data "$tmp/none" ${bad_opt}
    grep -q "none" "$tmp/err" && bad "$bad_opt: data or spec read first: $(cat "$tmp/err")" || ok
done
expect 2 "'maybe' is not one of yes|no|auto" -- "$sn" train x.net --data d --header maybe
expect 2 "is not one of char|byte|word" -- "$sn" train x.net --text t --level letters

# --opt=value is --opt value; -o is --out; --seed 0 is a seed.
"$sn" train "$or/or.net" --data="$or/or.csv" --epochs=50 -o "$tmp/a" --quiet >/dev/null 2>"$tmp/err" &&
    ok || bad "--opt=value: $(cat "$tmp/err")"
"$sn" train "$or/or.net" --data "$or/or.csv" --epochs 50 --out "$tmp/b" --quiet >/dev/null 2>&1
cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors" && ok || bad "--opt=value trained differently"
grep -q "^epochs 50$" "$tmp/a/run.txt" && ok || bad "--epochs=50 not applied"
for d in s0 s0b; do
    "$sn" train "$or/or.net" --data "$or/or.csv" --epochs 5 --seed 0 --out "$tmp/$d" --quiet \
        >/dev/null 2>"$tmp/err" && ok || bad "--seed 0 refused: $(cat "$tmp/err")"
done
grep -q "^seed 0$" "$tmp/s0/run.txt" && ok || bad "run.txt of --seed 0: $(grep seed "$tmp/s0/run.txt")"
cmp -s "$tmp/s0/model.safetensors" "$tmp/s0b/model.safetensors" && ok || bad "--seed 0 twice: different weights"
"$sn" train "$or/or.net" --data "$or/or.csv" --epochs 5 --out "$tmp/s42" --quiet >/dev/null 2>&1
"$sn" train "$or/or.net" --data "$or/or.csv" --epochs 5 --seed 1 --out "$tmp/s42b" --quiet >/dev/null 2>&1
cmp -s "$tmp/s42/model.safetensors" "$tmp/s42b/model.safetensors" && ok || bad "--seed 1 is not the spec's seed 1"
cmp -s "$tmp/s0/model.safetensors" "$tmp/s42/model.safetensors" && bad "--seed 0 = the default seed" || ok

# A run folder wherever a model is taken; eval finds its data in run.txt.
expect 0 "" -- "$sn" summary "$tmp/a"
grep -q "parameters" "$tmp/out" && ok || bad "summary RUN_DIR: $(cat "$tmp/out")"
expect 0 "" -- "$sn" eval "$tmp/a"
grep -q "samples: 4" "$tmp/out" && ok || bad "eval RUN_DIR without --data: $(cat "$tmp/out")"
expect 0 "" -- "$sn" predict "$tmp/a" "$or/or.csv" --label-col 2
[ "$(wc -l <"$tmp/out")" -ge 4 ] && ok || bad "predict RUN_DIR: $(cat "$tmp/out")"
expect 0 "" -- "$sn" gradcheck "$tmp/a"

# --help: the text options are in train's; no printf escapes leak.
expect 0 "" -- "$sn" train --help
for o in --text --level --seq-len --sample-length --val-split -o; do
    grep -q -- "$o" "$tmp/out" && ok || bad "train --help lacks $o"
done
for v in train eval predict report plot summary sweep gradcheck generate checkpoint; do
    "$sn" $v --help >"$tmp/out" 2>&1 || bad "$v --help failed"
    grep -q "%%" "$tmp/out" && bad "$v --help prints %%" || ok
done

# --version, and run.txt says which build ran which command; a resumed run
# keeps its first command and start time.
expect 0 "" -- "$sn" --version
grep -Eq "^scratchnet [0-9]+\.[0-9]+\.[0-9]+" "$tmp/out" && ok || bad "--version: $(cat "$tmp/out")"
ver=$(cut -d' ' -f2 "$tmp/out")
grep -qx "version $ver" "$tmp/a/run.txt" && ok || bad "run.txt lacks 'version $ver'"
# built from a git checkout: --version and run.txt name the same commit, one
# the checkout has
commit=$(sed -n 's/.*(commit \(.*\))$/\1/p' "$tmp/out")
if git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
    git -C "$src" cat-file -e "${commit%-dirty}^{commit}" 2>/dev/null && ok || bad "--version's commit: '$commit'"
    grep -qx "commit $commit" "$tmp/a/run.txt" && ok || bad "run.txt: $(grep commit "$tmp/a/run.txt"), --version: $commit"
fi
grep -qxF "command $sn train $or/or.net --data=$or/or.csv --epochs=50 -o $tmp/a --quiet" "$tmp/a/run.txt" &&
    ok || bad "run.txt: $(grep command "$tmp/a/run.txt")"
"$sn" train "$or/or.net" --data "$or/or.csv" --epochs 3 --checkpoint-every 1 --out "$tmp/c" --quiet \
    >/dev/null 2>&1
first=$(grep "^started" "$tmp/c/run.txt")
sleep 1.1
"$sn" train --resume "$tmp/c" --epochs 5 --quiet >/dev/null 2>"$tmp/err" || bad "resume: $(cat "$tmp/err")"
[ "$(grep "^started" "$tmp/c/run.txt")" = "$first" ] && ok || bad "resume changed run.txt's $first"
grep -q "^command .* --epochs 3 --checkpoint-every 1" "$tmp/c/run.txt" && ok || bad "resume lost the command"
grep -q "^resumed .* by $sn train --resume $tmp/c --epochs 5" "$tmp/c/run.txt" && ok || bad "no resumed line"

finish
