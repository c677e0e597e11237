#!/usr/bin/env bash
# `cmake --install` puts the header, both libraries, the CLI and a pkg-config
# file under a prefix; the C example from README.md and examples/c/text.c
# compile and link against that installation through pkg-config (static and
# shared) and run to their printed results: the README's example trains the
# Fashion-MNIST MLP for one epoch on a small generated set of Fashion-MNIST's
# shape and must reach 80 % test accuracy; the text example trains
# examples/text/char-lstm.net on a small generated corpus.
# usage: test_install.sh SCRATCHNET SOURCE_DIR
set -u
build=$(dirname "$1")
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; fi; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/log" 2>&1
check test $? -eq 0
lib=$(ls -d "$tmp"/prefix/lib* | head -1)
check test -f "$tmp/prefix/include/scratchnet.h"
check test -f "$lib/libscratchnet.a"
check test -e "$lib/libscratchnet.so"
check test -x "$tmp/prefix/bin/scratchnet"
check test -f "$lib/pkgconfig/scratchnet.pc"

# The README's C example: its first block between ```c and ```.
awk '/^```c$/ && !done {on = 1; next} /^```$/ && on {on = 0; done = 1} on' "$src/README.md" >"$tmp/app.c"
check test -s "$tmp/app.c"
export PKG_CONFIG_PATH="$lib/pkgconfig"
# The compiler the library was built with (its OpenMP runtime must match).
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
omp=$(sed -n 's/^Libs.private: -lz -lm //p' "$lib/pkgconfig/scratchnet.pc")
# A sanitizer build's library needs the sanitizer runtimes in the program too;
# its unoptimized trainings are slow: each example then runs once, not per link.
apps="app_shared app_static"
texts="text_shared text_static"
if grep -q '^SN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
    omp="$omp -fsanitize=address,undefined"
    apps=app_shared
    texts=text_static
fi
if command -v pkg-config >/dev/null 2>&1; then
    for app in app text; do
        c="$tmp/app.c"
        [ $app = text ] && c="$src/examples/c/text.c"
        "$cc" -std=c11 -Wall -Wextra -Werror "$c" -o "$tmp/${app}_static" \
            $(pkg-config --cflags scratchnet) "$lib/libscratchnet.a" -lz -lm $omp 2>>"$tmp/cc.log"
        check test $? -eq 0
        "$cc" -std=c11 -Wall -Wextra -Werror "$c" -o "$tmp/${app}_shared" \
            $(pkg-config --cflags --libs scratchnet) $omp -Wl,-rpath,"$lib" 2>>"$tmp/cc.log"
        check test $? -eq 0
    done
    [ "$fail" -eq 0 ] || cat "$tmp/cc.log" >&2
    # The shared build without its rpath finds the library through
    # LD_LIBRARY_PATH, as README.md says.
    "$cc" -std=c11 "$tmp/app.c" -o "$tmp/app_plain" $(pkg-config --cflags --libs scratchnet) $omp \
        2>>"$tmp/cc.log"
    check test $? -eq 0

    # Without data the example fails cleanly with the missing file named.
    mkdir -p "$tmp/nodata"
    (cd "$tmp/nodata" && "$tmp/app_shared" >"$tmp/out" 2>&1)
    check test $? -eq 1
    check grep -q "fashion-mlp.net" "$tmp/out"

    # A folder laid out as the repository: examples/ and data/fashion-mnist.
    run="$tmp/run"
    mkdir -p "$run/data"
    ln -s "$src/examples" "$run/examples"
    # 3,000 + 500 28x28 images in Fashion-MNIST's files, ten classes: a bright
    # 7x7 block whose place is the class, on noise (the real set takes minutes).
    mkdir -p "$run/data/fashion-mnist"
    /usr/bin/python3 - "$run/data/fashion-mnist" <<'PY'
import os, random, struct, sys
d = sys.argv[1]
random.seed(7)
for prefix, n in (("train", 3000), ("t10k", 500)):
    imgs, labs = bytearray(), bytearray()
    for i in range(n):
        c = random.randrange(10)
        r0, c0 = 3 + 7 * (c // 5), 1 + 5 * (c % 5)
        px = bytearray(random.randrange(60) for _ in range(784))
        for r in range(r0, r0 + 7):
            for col in range(c0, c0 + 7):
                px[28 * r + col] = 200 + random.randrange(56)
        imgs += px
        labs.append(c)
    open(os.path.join(d, prefix + "-images-idx3-ubyte"), "wb").write(
        struct.pack(">IIII", 0x803, n, 28, 28) + imgs)
    open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "wb").write(
        struct.pack(">II", 0x801, n) + labs)
PY
    for app in $apps; do
        (cd "$run" && OMP_NUM_THREADS=2 "$tmp/$app" 1 >"$tmp/out" 2>&1)
        check test $? -eq 0
        acc=$(sed -n 's/^test accuracy \([0-9.]*\) %$/\1/p' "$tmp/out")
        if awk -v a="${acc:-0}" 'BEGIN {exit !(a > 80)}'; then ok_=1; else ok_=0; fi
        check test "$ok_" -eq 1
        [ "$ok_" -eq 1 ] || echo "$app: $(cat "$tmp/out")" >&2
        check test -s "$run/model.safetensors"
        rm -f "$run/model.safetensors"
    done
    # without rpath: found through LD_LIBRARY_PATH (the loader would exit 127)
    (cd "$tmp/nodata" && LD_LIBRARY_PATH="$lib" "$tmp/app_plain" >"$tmp/out" 2>&1)
    check test $? -eq 1
    check grep -q "fashion-mlp.net" "$tmp/out"

    # The text example on a small corpus: the model learns (validation loss
    # below the uniform guess, ln of the vocabulary) and writes a sample.
    for i in $(seq 400); do echo "the whale swam past the ship and the sailors sang $((i % 7))."; done \
        >"$run/corpus.txt"
    for app in $texts; do
        (cd "$run" && OMP_NUM_THREADS=2 "$tmp/$app" examples/text/char-lstm.net corpus.txt 2 \
            >"$tmp/out" 2>&1)
        check test $? -eq 0
        line=$(head -1 "$tmp/out")
        if echo "$line" | awk '{v = $2 + 0; l = $5 + 0; exit !(v > 2 && l > 0 && l < log(v))}'; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "FAIL: $app: $(head -c 600 "$tmp/out")" >&2
        fi
        check test "$(wc -l <"$tmp/out")" -ge 2
        check test -s "$run/text-model.safetensors"
    done
    "$tmp/prefix/bin/scratchnet" generate "$run/text-model.safetensors" --length 20 --seed 1 \
        >"$tmp/out" 2>&1
    check test $? -eq 0
else
    echo "pkg-config not installed: compiling with explicit flags" >&2
    "$cc" -std=c11 -Wall -Wextra -Werror "$tmp/app.c" -I"$tmp/prefix/include" "$lib/libscratchnet.a" \
        -lz -lm $omp -o "$tmp/app_static"
    check test $? -eq 0
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
