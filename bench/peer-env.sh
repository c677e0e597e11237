# shellcheck shell=bash
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

# The peer's three thread settings, best of which the whole-process
# benchmarks (cli.sh, text.sh) quote: 1 = 1 thread, OPENBLAS_NUM_THREADS=1;
# 1-blas2 = 1 thread, OPENBLAS_NUM_THREADS=2; 2 = 2 threads.
# shellcheck disable=SC2034 # used by the scripts that source this file
peer_configs="1 1-blas2 2"
# peer_run CONFIG CMD...: runs CMD (a command or shell function) for
# PyTorch at CONFIG with OMP_WAIT_POLICY=passive, each argument {threads}
# replaced by the thread count to give torch.set_num_threads.
peer_run() {
    local threads=1 blas=1 cfg=$1
    shift
    case $cfg in
    1) ;;
    1-blas2) blas=2 ;;
    2) threads=2 blas=2 ;;
    *)
        echo "peer-env.sh: unknown config $cfg" >&2
        return 1
        ;;
    esac
    local args=("${@//\{threads\}/$threads}")
    OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=$blas "${args[@]}"
}
peer_legend() {
    echo "== summary (pytorch configs: 1 = 1 thread, OPENBLAS_NUM_THREADS=1; 1-blas2 = 1 thread,"
    echo "   OPENBLAS_NUM_THREADS=2; 2 = 2 threads; all OMP_WAIT_POLICY=passive)"
}
