#!/usr/bin/env bash
# Faults on 2 ranks end the job with a non-zero status on every rank, never a
# hang (tests/mpi/test_dist.c's fault modes):
#   timeout: rank 1 never joins a sum; rank 0's wait fails after 1 s, says so,
#            and aborts the job (MPI_Abort, status 3);
#   kill:    rank 1 kills itself with SIGKILL before a sum; mpirun ends rank 0;
#   timeout-shm, kill-shm: the same in a step of the shared-memory reducer
#            (rank 0 waits at the window's barrier).
# usage: faults.sh BUILD_DIR SOURCE_DIR   (MPIEXEC, MPIEXEC_FLAGS from ctest)
set -u
build=$1
mpiexec=${MPIEXEC:-mpirun}
flags=${MPIEXEC_FLAGS:---allow-run-as-root --oversubscribe}
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for mode in timeout kill timeout-shm kill-shm; do
    start=$(date +%s)
    # shellcheck disable=SC2086
    timeout 60 "$mpiexec" -np 2 $flags "$build/mpi_test_dist" "$mode" >"$tmp/out" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    if [ $rc -eq 124 ]; then
        echo "FAIL $mode: the job hung (killed after 60 s)"
        fail=1
    elif [ $rc -eq 0 ]; then
        echo "FAIL $mode: exit status 0"
        fail=1
    else
        echo "ok $mode: exit status $rc after ${took} s"
    fi
    if [ "${mode%-shm}" = timeout ] && ! grep -q "rank 0: a collective did not complete within 1 s" "$tmp/out"; then
        echo "FAIL $mode: rank 0 did not report the timeout:"
        cat "$tmp/out"
        fail=1
    fi
    if grep -q "no shared-memory reducer" "$tmp/out"; then
        echo "FAIL $mode: the shared-memory reducer was not set up:"
        cat "$tmp/out"
        fail=1
    fi
    if [ "${mode%-shm}" = timeout ] && [ $took -ge 25 ]; then
        echo "FAIL $mode: rank 1 (sleeping 30 s) was not ended by the abort"
        fail=1
    fi
done
exit $fail
