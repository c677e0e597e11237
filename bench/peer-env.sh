# Sourced by the benchmarks that time PyTorch, to give the peer its best BLAS.
# Debian's OpenBLAS 0.3.21 does not recognise every AVX-512 Xeon and then
# falls back to its generic "Prescott" kernel: on the 2-core Xeon these
# benchmarks were written on, a 128x784x256 product in PyTorch runs at
# 14.6 GFLOP/s with it and 52.2 with OpenBLAS's SkylakeX kernel. Unless the
# user has chosen a kernel, take the AVX-512 one where the CPU has AVX-512.
# (scratchnet itself uses no BLAS; this changes only the peer.)
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
