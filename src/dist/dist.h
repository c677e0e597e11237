/* Data-parallel training: the distributed layer.
 *
 * P processes ("ranks") train one model, as PyTorch's DistributedDataParallel:
 * each rank holds the whole model, takes its share of every global batch,
 * runs forward and backward on it, and the gradients are summed across
 * ranks so that every rank applies the same optimizer step to the same
 * weights. Built with -DSN_MPI=ON this runs on MPI (MPI_COMM_WORLD); the
 * default build compiles the same functions for one process (rank 0 of 1:
 * every collective is the identity), so callers never need #ifdefs.
 *
 * Weighting. A rank with n_r of the global batch's N samples computes the
 * gradient of its own mean loss, g_r = (1/n_r) Σ_{i∈r} ∇ℓ_i. The all-reduce
 * sums w_r·g_r with w_r = n_r / N (sn_dist_set_share), so the result is
 * Σ_r (n_r/N) g_r = (1/N) Σ_i ∇ℓ_i, the single-process mean gradient, also
 * when the shares are uneven. Only float summation order differs.
 *
 * Errors. MPI calls return their errors (MPI_ERRORS_RETURN) and become an
 * sn_status; every wait has a deadline (sn_dist_set_timeout), so a rank that
 * stops answering turns into an error instead of a hang. A caller that gets
 * an error in a run of P > 1 ranks calls sn_dist_abort, which ends every
 * rank with a non-zero status (MPI_Abort). A rank killed outright is seen by
 * mpirun, which ends the others the same way.
 *
 * Threads: only the calling (main) thread talks to MPI (MPI_THREAD_FUNNELED);
 * OpenMP threads inside the kernels never do. */
#ifndef SN_DIST_DIST_H
#define SN_DIST_DIST_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the process group ---------------------------------------------------- */

/* 1 when built with MPI (-DSN_MPI=ON), else 0. */
int sn_dist_available(void);

/* sn_dist_init, sn_dist_finalize, sn_dist_rank, sn_dist_size and
 * sn_dist_abort: include/scratchnet.h. */

/* Seconds a collective may take before it fails (default 600; 0: forever). */
void sn_dist_set_timeout(double seconds);

/* ---- collectives (every rank calls them in the same order) ------------------ */

/* In-place sums across ranks. */
sn_status sn_dist_sum_f64(double *v, int n, sn_error *err);
sn_status sn_dist_sum_f32(float *v, size_t n, sn_error *err);
/* all[r·n + i] = rank r's mine[i], for n bytes per rank. */
sn_status sn_dist_allgather(const void *mine, size_t n, void *all, sn_error *err);
/* Rank root's v to every rank. */
sn_status sn_dist_bcast(void *v, size_t n, int root, sn_error *err);

/* Non-blocking in-place sum of n floats: a request handle in *req. At most
 * SN_DIST_MAX_REQ may be in flight. sn_dist_progress lets MPI move them on
 * (MPI progresses non-blocking collectives only inside MPI calls); wait
 * returns when all n requests are complete (and frees them). */
#define SN_DIST_MAX_REQ 256
sn_status sn_dist_isum_f32(float *v, size_t n, int *req, sn_error *err);
void sn_dist_progress(void);
sn_status sn_dist_wait(const int *req, int n, sn_error *err);

/* ---- the shared-memory all-reduce (node.c) ---------------------------------- */

/* The ranks of a node sum vectors of up to n floats in an MPI-3 shared
 * window (reduce-scatter, then all-gather: node.c says how), and across
 * nodes each local rank's slice with MPI_Iallreduce among the ranks of
 * that local rank (hierarchical). Collective. *out is NULL, and the caller
 * should use MPI_Iallreduce, for one rank, for want = SN_ALLREDUCE_MPI,
 * when the nodes hold different numbers of ranks, and for want =
 * SN_ALLREDUCE_AUTO unless all ranks share one node. The environment
 * variable SN_DIST_RANKS_PER_NODE=N makes ranks r with the same r / N a
 * node (they must share memory: a test of the hierarchical path on one
 * machine). The window stays until sn_dist_finalize (MPI_Win_free is
 * collective, and would hang on a rank whose peer failed). */
typedef struct sn_dist_node sn_dist_node;
sn_status sn_dist_node_new(size_t n, int want, sn_dist_node **out, sn_error *err);
void sn_dist_node_free(sn_dist_node *nd);
int sn_dist_node_ranks(const sn_dist_node *nd); /* ranks on this node */
int sn_dist_node_count(const sn_dist_node *nd); /* nodes */
/* Offsets in the vector that are multiples of SN_DIST_ALIGN floats are
 * 64-byte aligned. */
#define SN_DIST_ALIGN 16
/* This rank's vector (n floats, 64-byte aligned, zeros at first): the same
 * memory in every step, where the caller writes what it sums and finds the
 * sums. The gradient reducer places the parameters' gradients in it. */
float *sn_dist_node_mine(sn_dist_node *nd);
/* Every rank's vector becomes Σ_r w_r·vector_r over its first n floats (at
 * most the window's), each rank giving its own weight w (w = 0: that rank
 * adds exact zeros, whatever its vector holds). Each product is rounded on
 * its own, then the products are added in a fixed order: bitwise the same
 * on every rank and in every run, and for 2 ranks MPI_Allreduce's sum of
 * the products. */
sn_status sn_dist_node_reduce(sn_dist_node *nd, size_t n, float w, sn_error *err);
/* In-place sum of v (n floats, at most the window's) across all ranks. */
sn_status sn_dist_node_sum(sn_dist_node *nd, float *v, size_t n, sn_error *err);
/* "auto", "shm", "mpi" */
const char *sn_dist_allreduce_name(int transport);

/* ---- the share of a global batch ------------------------------------------- */

/* Rank r of P takes samples [offset, offset + count) = [n·r/P, n·(r+1)/P)
 * of n (shares differ by at most one). */
void sn_dist_share(long n, int rank, int size, long *offset, long *count);

/* The current step's share: rows [offset, offset + n_local) of the global
 * batch's n_global samples (text: streams). The gradient reducer weights
 * this rank's gradients by n_local / n_global, synchronized batch norm reads
 * the weight, dropout the offset (so that a sample's mask is the one it
 * gets in a single process). Default: 0, 1 of 1 (weight 1). */
void sn_dist_set_share(long offset, long n_local, long n_global);
double sn_dist_batch_weight(void);
long sn_dist_share_offset(void);
long sn_dist_share_global(void); /* n_global, 0 before any sn_dist_set_share */

/* ---- the gradient reducer ---------------------------------------------------- */

typedef struct sn_dist_reducer sn_dist_reducer;

/* Groups the model's trained parameters (not buffers) into buckets of up to
 * bucket_bytes (a parameter larger than that gets a bucket of its own), in
 * backward order: the last layer's parameters first. transport
 * (sn_allreduce): how they are summed, shared memory (sn_dist_node_new
 * decides whether it applies) or MPI_Iallreduce per bucket. Collective.
 * Over shared memory the parameters' gradients (p->grad.data) point into
 * the shared window until sn_dist_reducer_free, which puts them back in
 * their own memory with their values: free the reducer before the model. */
sn_status sn_dist_reducer_new(sn_model *m, size_t bucket_bytes, int transport,
                              sn_dist_reducer **out, sn_error *err);
void sn_dist_reducer_free(sn_dist_reducer *r);
/* The backward pass calls this after layer `layer` has written its
 * gradients (layers run from the last down). A bucket whose parameters are
 * all ready is packed (times the batch weight) and its sum started; the
 * buckets already in flight are progressed. Failures are kept and returned
 * by sn_dist_reducer_finish. A void (ctx, layer) callback for the model:
 * pass the reducer as ctx. */
void sn_dist_grads_ready(void *reducer, int layer);
/* Starts the buckets not started yet (all of them when the backward pass
 * never called sn_dist_grads_ready), waits for all, and writes the sums back
 * into the parameters' gradients. Call it before the optimizer step. With
 * one rank it does nothing (the gradients are already the mean). */
sn_status sn_dist_reducer_finish(sn_dist_reducer *r, sn_error *err);
int sn_dist_reducer_buckets(const sn_dist_reducer *r);
/* Buckets started so far in the current step (all of them at the end of a
 * backward pass that called sn_dist_grads_ready after every layer). */
int sn_dist_reducer_started(const sn_dist_reducer *r);
size_t sn_dist_reducer_bucket_floats(const sn_dist_reducer *r, int bucket);
/* The transport in use: SN_ALLREDUCE_SHM or SN_ALLREDUCE_MPI; the nodes of
 * the shared-memory path (0 for MPI). */
int sn_dist_reducer_transport(const sn_dist_reducer *r);
int sn_dist_reducer_nodes(const sn_dist_reducer *r);

/* ---- consistency checks ------------------------------------------------------ */

/* 64-bit FNV-1a of n bytes, continuing from h (start with SN_DIST_HASH0). */
#define SN_DIST_HASH0 14695981039346656037ULL
uint64_t sn_dist_hash(uint64_t h, const void *p, size_t n);

/* One thing every rank must agree on: a name ("spec", "training data"), a
 * hash of it and a short description shown when ranks differ ("60000
 * samples of 784"). */
typedef struct sn_dist_item {
    char name[32];
    char text[64];
    uint64_t hash;
} sn_dist_item;

/* Gathers every rank's items and fails on every rank, before any training,
 * when a rank's differ from rank 0's: "rank 1 differs from rank 0: training
 * data (59999 samples of 784 vs 60000 samples of 784)". */
sn_status sn_dist_check(const sn_dist_item *items, int n, sn_error *err);

/* Fills an item: its name, hash and printf-style description. */
void sn_dist_item_set(sn_dist_item *it, const char *name, uint64_t hash, const char *fmt, ...)
    SN_PRINTF(4, 5);
/* An item for a data set (may be NULL: "none"): its shape and a checksum of
 * its values, labels and targets, e.g. "60000 samples of 1x28x28, checksum
 * 9f3a61c2". */
void sn_dist_item_dataset(sn_dist_item *it, const char *name, const sn_dataset *d);

/* Compares a hash of every trained parameter across ranks (a debug check
 * that the weights stay identical); fails naming the step, the rank and the
 * first parameter that differs. */
sn_status sn_dist_check_weights(const sn_model *m, long step, sn_error *err);

/* Rank 0's buffers (batch norm's running statistics) to every rank, as
 * DistributedDataParallel's broadcast_buffers: without synchronized batch
 * norm each rank's running statistics follow its own share. */
sn_status sn_dist_bcast_buffers(sn_model *m, sn_error *err);

/* ---- the training loop's data-parallel hooks ----------------------------------- */

/* What the training loop (sn_train_hooks.dist) needs to train on all ranks:
 * rank and size, a gradient reducer installed in the model (buckets of
 * bucket_bytes, started during backward, over `transport`), the loss reduced with the
 * gradients, rank 0's buffers given to every rank after each step (as DDP's
 * broadcast_buffers; the checkpoint then holds every rank's state), and
 * every check_every steps (0: never) sn_dist_check_weights. */
typedef struct sn_dist_training sn_dist_training;
sn_status sn_dist_training_new(sn_model *m, size_t bucket_bytes, int transport, long check_every,
                               sn_dist_training **out, sn_error *err);
const sn_train_dist *sn_dist_training_hooks(const sn_dist_training *t);
/* Takes the reducer out of the model and frees everything. */
void sn_dist_training_free(sn_dist_training *t);

/* Stop requests agreed across ranks (a signal reaches one rank, or every
 * rank at slightly different steps). local(ctx) is this rank's request
 * (non-zero, e.g. the signal's number, asks to stop; a signal handler's
 * flag fits), polled at every step; the ranks' requests travel with that
 * step's sum of the loss, so all ranks see a request at the same step.
 * From then on sn_dist_training_stop(t) (an sn_checkpoint_options
 * stop_requested hook with stop_ctx = t) returns on every rank the request
 * of the lowest rank that made one, and so does sn_dist_stopped_together()
 * (scratchnet.h): the ranks end together, with one status, and need no
 * sn_dist_abort. */
void sn_dist_training_set_stop(sn_dist_training *t, int (*local)(void *ctx), void *ctx);
int sn_dist_training_stop(void *t);

/* ---- the recurrent state of text training at checkpoints (state.c) ------------ */

/* Rank r's recurrent layers carry the state of its share of n_global streams
 * (sn_dist_share). Every rank calls gather at a checkpoint: afterwards rank
 * 0's layers hold the state of all n_global streams, each at its place, as
 * a single process's would (what the checkpoint stores); the other ranks'
 * are unchanged. Then share (any rank, no communication): a model whose
 * layers hold all n_global streams (rank 0 after writing the checkpoint,
 * every rank after resuming from one) keeps its own share of them; layers
 * holding another number of streams are left alone. */
sn_status sn_dist_gather_state(sn_model *m, int n_global, sn_error *err);
void sn_dist_share_state(sn_model *m, int n_global);

/* ---- synchronized batch norm -------------------------------------------------- */

/* The sticky error of collectives called where no status can be returned
 * (inside a layer's forward or backward): SN_OK, or the first failure
 * (copied into err and cleared). */
sn_status sn_dist_take_error(sn_error *err);
/* Sum of n doubles across ranks for a layer (failures become the sticky
 * error; the values are then left as they were). */
void sn_dist_layer_sum(double *v, int n);

#endif
