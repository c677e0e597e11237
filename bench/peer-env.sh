# shellcheck shell=bash
# Sourced by the benchmarks that time PyTorch, to give the peer its best BLAS.
# Debian's OpenBLAS 0.3.21 does not recognise every AVX-512 CPU and then falls
# back to an older kernel: on a 2-core AVX-512 Xeon a 128x784x256 product in
# PyTorch ran at 14.6 GFLOP/s with its generic "Prescott" kernel and 52.2 with
# its SkylakeX one. Some machine images also export a kernel and a cache size
# of their own (OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=512): on a 2-core
# AMD EPYC (Zen 5) the same product runs at 113 GFLOP/s with those and at 215
# with SkylakeX and OpenBLAS's own cache size. So on a CPU with AVX-512 the
# peer gets the SkylakeX kernel and OpenBLAS's own cache size, whatever the
# environment says; PEER_OPENBLAS_CORETYPE chooses another kernel.
# (scratchnet itself uses no BLAS; this changes only the peer.)
# The PyTorch twins also build their optimizers with foreach=True, PyTorch's
# multi-tensor step: its default one-tensor Adam took 2.07 s of a 2.2 s
# epoch of the 784-256-128-10 MLP on the Zen 5 EPYC (0.71 s with foreach;
# SGD with momentum 0.54 s either way).
if [ -n "${PEER_OPENBLAS_CORETYPE:-}" ]; then
    export OPENBLAS_CORETYPE=$PEER_OPENBLAS_CORETYPE
elif grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
    unset OPENBLAS_L2_SIZE
fi

# The peer's three thread settings, best of which the whole-process
# benchmarks (cli.sh, text.sh) quote: 1 = 1 thread, OPENBLAS_NUM_THREADS=1;
# 1-blas2 = 1 thread, OPENBLAS_NUM_THREADS=2; 2 = 2 threads. PEER_CONFIGS
# names fewer where the peer is slow and its best setting known (its CNN
# epoch with batch norm takes a minute on 2 cores).
# shellcheck disable=SC2034 # used by the scripts that source this file
peer_configs=${PEER_CONFIGS:-"1 1-blas2 2"}
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
# peer_best lower|higher FORMAT CMD...: for each of peer_configs, runs CMD
# (a command or shell function printing one figure) with each argument
# {cfg} replaced by the config, and prints "  pytorch CONFIG FIGURE", the
# figure by printf FORMAT. Sets peer_top and peer_top_cfg to the best figure
# (the lowest or the highest) and its config.
peer_best() {
    local dir=$1 fmt=$2 cfg t
    shift 2
    peer_top='' peer_top_cfg=''
    for cfg in $peer_configs; do
        local args=("${@//\{cfg\}/$cfg}")
        t=$("${args[@]}")
        # shellcheck disable=SC2059 # the format is the caller's
        printf "  pytorch %-8s $fmt\n" "$cfg" "$t"
        if [ -z "$peer_top" ] || awk -v t="$t" -v b="$peer_top" -v d="$dir" \
            'BEGIN { exit !(d == "lower" ? t < b : t > b) }'; then
            # shellcheck disable=SC2034 # read by the scripts that source this file
            peer_top=$t peer_top_cfg=$cfg
        fi
    done
}
peer_legend() {
    echo "== summary (pytorch configs: 1 = 1 thread, OPENBLAS_NUM_THREADS=1; 1-blas2 = 1 thread,"
    echo "   OPENBLAS_NUM_THREADS=2; 2 = 2 threads; all OMP_WAIT_POLICY=passive)"
}
