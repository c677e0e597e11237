#!/usr/bin/env bash
# The gradient all-reduce's transports (--allreduce auto|shm|mpi,
# docs/distributed.md) across "nodes": SN_DIST_RANKS_PER_NODE=2 makes ranks
# 0-1 and 2-3 two nodes on this machine, so 4 ranks take the hierarchical
# path (shared memory in each node, MPI_Iallreduce across them):
#   - tests/mpi/test_dist.c's transport tests on 4 ranks as 2 nodes of 2,
#     and on 3 ranks as nodes of 2 and 1 (shm falls back to MPI);
#   - an MLP with synchronized batch norm and dropout on 4 ranks as 2 nodes,
#     with --allreduce shm and with --allreduce mpi: the weights are within
#     1e-5 of one process's, and the two transports' within 1e-5 of each
#     other;
#   - a bad --allreduce or SN_DIST_RANKS_PER_NODE: a clear error, non-zero
#     status; ranks given different --allreduce stop before training.
# usage: nodes.sh BUILD_DIR SOURCE_DIR   (MPIEXEC, MPIEXEC_FLAGS from ctest)
set -u
src=$(cd "$2" && pwd)
. "$src/tests/lib/mpi.sh"
cmpw="$src/tests/mpi/compare_weights.py"
fashion_subset fm 600 200 || exit 1
cat >mlp.net <<'EOF2'
input 1x28x28
flatten
dense 32
batchnorm sync=1
relu
dropout 0.2
dense 10
loss softmax_xent
[train]
optimizer sgd lr=0.05 momentum=0.9
batch 50
epochs 2
val_split 0.1
seed 3
EOF2

export SN_DIST_RANKS_PER_NODE=2
mpi -x SN_DIST_RANKS_PER_NODE -np 4 "$build/mpi_test_dist" transports >t4.out 2>&1
check "transports on 4 ranks as 2 nodes of 2" test $? -eq 0
mpi -x SN_DIST_RANKS_PER_NODE -np 3 "$build/mpi_test_dist" transports >t3.out 2>&1
check "transports on 3 ranks as nodes of 2 and 1" test $? -eq 0

"$sn" train mlp.net --data fm --threads 1 --quiet --out one >one.out 2>&1
check "1 process" test $? -eq 0
for t in shm mpi; do
    mpi -x SN_DIST_RANKS_PER_NODE -np 4 "$sn" train mlp.net --data fm --threads 1 --quiet \
        --allreduce $t --out four-$t >four-$t.out 2>&1
    check "4 ranks as 2 nodes, --allreduce $t" test $? -eq 0
    check "4 ranks, --allreduce $t: weights within 1e-5 of 1 process" \
        "$py" "$cmpw" four-$t/model.safetensors one/model.safetensors 1e-5
done
check "4 ranks: shm and mpi weights within 1e-5" \
    "$py" "$cmpw" four-shm/model.safetensors four-mpi/model.safetensors 1e-5
unset SN_DIST_RANKS_PER_NODE

expect 2 "--allreduce: 'ring' is not one of auto|shm|mpi" -- \
    "$sn" train mlp.net --data fm --allreduce ring --out bad1
check "a bad --allreduce writes nothing" test ! -e bad1
SN_DIST_RANKS_PER_NODE=two mpi -x SN_DIST_RANKS_PER_NODE -np 2 "$sn" train mlp.net --data fm \
    --quiet --out bad2 >bad2.out 2>&1
check "a bad SN_DIST_RANKS_PER_NODE: non-zero status" test $? -ne 0
check "... and says what" grep -q "SN_DIST_RANKS_PER_NODE=two: expected a whole number" bad2.out
mpi -np 1 "$sn" train mlp.net --data fm --quiet --allreduce shm --out bad3 : \
    -np 1 "$sn" train mlp.net --data fm --quiet --allreduce mpi --out bad3 >bad3.out 2>&1
check "ranks with different --allreduce: non-zero status" test $? -ne 0
check "... named as differing options" grep -q "rank 1 differs from rank 0: options" bad3.out
check "nothing trained" test ! -e bad3/history.csv
[ $fail -eq 0 ] || { for f in *.out; do echo "== $f"; tail -5 "$f"; done; }
finish
