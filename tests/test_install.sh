#!/usr/bin/env bash
# `cmake --install` puts the header, both libraries, the CLI and a pkg-config
# file under a prefix, and the C example from README.md compiles and links
# against that installation through pkg-config (static and shared).
# usage: test_install.sh SCRATCHNET SOURCE_DIR
set -u
build=$(dirname "$1")
src=$2
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

# The README's C example, extracted between ```c and ```.
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$src/README.md" >"$tmp/app.c"
check test -s "$tmp/app.c"
export PKG_CONFIG_PATH="$lib/pkgconfig"
# The compiler the library was built with (its OpenMP runtime must match).
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
omp=$(sed -n 's/^Libs.private: -lz -lm //p' "$lib/pkgconfig/scratchnet.pc")
# A sanitizer build's library needs the sanitizer runtimes in the program too.
grep -q '^SN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && omp="$omp -fsanitize=address,undefined"
if command -v pkg-config >/dev/null 2>&1; then
    "$cc" -std=c11 -Wall -Wextra -Werror "$tmp/app.c" -o "$tmp/app_static" \
        $(pkg-config --cflags scratchnet) "$lib/libscratchnet.a" -lz -lm $omp 2>"$tmp/cc.log"
    check test $? -eq 0
    "$cc" -std=c11 -Wall -Wextra -Werror "$tmp/app.c" -o "$tmp/app_shared" \
        $(pkg-config --cflags --libs scratchnet) $omp -Wl,-rpath,"$lib" 2>>"$tmp/cc.log"
    check test $? -eq 0
    # Without data the example must fail cleanly with the missing file named.
    (cd "$tmp" && ./app_shared >"$tmp/out" 2>&1)
    check test $? -eq 1
    check grep -q "fashion-mlp.net" "$tmp/out"
    [ "$fail" -eq 0 ] || cat "$tmp/cc.log" >&2
else
    echo "pkg-config not installed: compiling with explicit flags" >&2
    "$cc" -std=c11 -Wall -Wextra -Werror "$tmp/app.c" -I"$tmp/prefix/include" "$lib/libscratchnet.a" \
        -lz -lm $omp -o "$tmp/app_static"
    check test $? -eq 0
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
