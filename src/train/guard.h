/* The training guard: numeric checks between backward and the optimizer
 * update, so that a non-finite or exploding step never reaches the weights.
 *
 * After each backward pass (before L1/L2 penalties and clipping) the guard
 * refuses the step when
 *   1. the loss is NaN or ±inf, or any gradient value is;
 *   2. the global gradient norm ‖g‖₂ = sqrt(Σ over trained parameters of Σ g²)
 *      exceeds cfg.max_grad_norm (0: off);
 *   3. the loss exceeds cfg.max_loss_ratio × L_ref (0: off), L_ref the
 *      largest loss of the first SN_GUARD_REF_STEPS steps the guard let
 *      through in this training: the loss level of the model training
 *      started from, robust to one lucky batch (a batch of one sample may
 *      have a loss near 0); a reference of 0 disables the rule.
 * The gradient is checked before clipping because clipping hides what went
 * wrong: clipping by value turns ±inf into ±c, clipping by norm turns a
 * gradient holding an inf into NaN and zeros. The penalties add
 * l1·sign(θ) + 2·l2·θ, finite while θ is, and θ stays finite because no
 * refused step is ever applied.
 *
 * A refused step stops training (SN_ERR_NUMERIC, the message naming epoch,
 * batch, optimizer step and the layer and parameter at fault) or, with
 * cfg.skip_nonfinite, is skipped: no update, gradients zeroed, running
 * statistics (batch norm) put back as they were before the forward pass,
 * recurrent state reset, the batch's loss left out of the epoch's mean and
 * counted in `skipped`. An epoch whose every batch was skipped stops
 * training. A check costs one pass over the gradients, no allocation: the
 * gradients are cut into blocks of SN_GUARD_BLOCK values, the blocks'
 * float sums of squares taken by the thread team, and a parameter's Σ g² is
 * the sum of its blocks' in block order, in double (the same whatever the
 * thread count). */
#ifndef SN_TRAIN_GUARD_H
#define SN_TRAIN_GUARD_H

#include "model/model.h"

#define SN_GUARD_REF_STEPS 10
#define SN_GUARD_BLOCK     16384

/* A block of a trained parameter's gradient. */
typedef struct sn_guard_block {
    const sn_param *q;
    size_t off, n;
} sn_guard_block;

typedef struct sn_guard {
    sn_model *m;
    int skip;             /* cfg.skip_nonfinite */
    double max_grad_norm; /* 0: off */
    double max_loss_ratio;
    double ref_loss;  /* L_ref; NaN until the first step passes */
    int ref_steps;    /* steps that went into ref_loss */
    double grad_norm; /* ‖g‖₂ of the last checked step */
    /* copies of the buffers: [0, nsaved) from before the forward pass
     * (skip mode), [nsaved, 2·nsaved) while a trace runs the pass again */
    float *saved;
    size_t nsaved;
    sn_guard_block *blocks; /* the trained parameters' blocks, layer by layer */
    float *part;            /* Σ g² of each block */
    int nblocks;
    int *first;        /* first[i·SN_MAX_PARAMS + p]: parameter p of layer i's first block */
    int epoch;         /* of the counters below */
    int skipped;       /* batches skipped in `epoch` */
    long skipped_rows; /* their samples (rows) */
    int checked;       /* batches checked in `epoch` */
    char last[sizeof(((sn_error *)0)->msg)]; /* why the last batch was refused */
} sn_guard;

/* Reads c's guard settings; allocates room for m's buffers. */
sn_status sn_guard_init(sn_guard *g, sn_model *m, const sn_train_config *c, sn_error *err);
void sn_guard_free(sn_guard *g);

/* Before the forward pass of a training step: in skip mode, remembers the
 * buffers (batch-norm running statistics) the forward pass updates. */
void sn_guard_begin(sn_guard *g);

/* After backward: SN_OK when the step may be applied; else SN_ERR_NUMERIC
 * with err saying "epoch E, batch B (step S): ..." and what was wrong. batch
 * is 1-based within the epoch, step the 1-based optimizer step this batch
 * would be, lr its learning rate (for the hint). */
sn_status sn_guard_check(sn_guard *g, double loss, int epoch, int batch, long step, float lr,
                         sn_error *err);

/* After a refused step: in skip mode discards it (zeroes the gradients,
 * puts the buffers back, resets recurrent state), counts `rows` skipped
 * samples and returns 1; returns 0 when training must stop. */
int sn_guard_skip(sn_guard *g, long rows);

/* After the last batch of an epoch: SN_ERR_NUMERIC when every batch was
 * skipped (nothing is learning), else SN_OK. */
sn_status sn_guard_epoch_end(sn_guard *g, int epoch, sn_error *err);

/* Batches skipped and samples (rows) they held in epoch `epoch`. */
int sn_guard_skipped(const sn_guard *g, int epoch);
long sn_guard_skipped_rows(const sn_guard *g, int epoch);

#endif
