#!/usr/bin/env bash
# Installs what building scratchnet needs when it is missing (Debian/Ubuntu):
# a C compiler, make, CMake >= 3.20, zlib's and libpng's headers. OpenMP comes with gcc.
# With --bench also OpenBLAS (the GEMM benchmark's reference) and PyTorch
# (the training benchmarks' peer). With --report also what tests/test_report.sh
# uses to render report.html (optional: without it the test skips the
# screenshot): Chromium, Python 3 and Pillow. With --clang clang and Python 3
# (make clang: the suite built by clang, its training compared with gcc's). With --fuzz clang and
# libclang-rt (make fuzz); with --memcheck valgrind (make memcheck); with
# --mpi Open MPI (make mpi: data-parallel training, docs/distributed.md).
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
[ -f /usr/include/png.h ] || need+=(libpng-dev) # PNG input of scratchnet predict
if [ "${1:-}" = "--bench" ]; then
    # OpenBLAS itself, not any cblas.h: without it PyTorch runs on the
    # reference BLAS (30x slower) and every ratio against it is void.
    ls /usr/lib/*/openblas*/libopenblas*.so* /usr/lib/*/libopenblas.so* >/dev/null 2>&1 ||
        need+=(libopenblas-dev)
    /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
fi
if [ "${1:-}" = "--report" ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    [ -x /usr/bin/python3 ] || need+=(python3)
    /usr/bin/python3 -c 'import PIL' >/dev/null 2>&1 || need+=(python3-pil)
fi
if [ "${1:-}" = "--clang" ]; then # make clang
    command -v clang >/dev/null 2>&1 || need+=(clang)
    [ -x /usr/bin/python3 ] || need+=(python3)
fi
if [ "${1:-}" = "--fuzz" ]; then # make fuzz: clang and its libFuzzer/sanitizer runtimes
    command -v clang >/dev/null 2>&1 || need+=(clang)
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
        need+=(libclang-rt-14-dev)
fi
if [ "${1:-}" = "--memcheck" ]; then # make memcheck
    command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
fi
if [ "${1:-}" = "--mpi" ]; then # make mpi
    command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
    ls /usr/lib/*/openmpi/include/mpi.h >/dev/null 2>&1 || need+=(libopenmpi-dev)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: not root; please install: ${need[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq "${need[@]}"
}
