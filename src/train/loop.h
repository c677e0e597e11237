/* The training loop, one for every kind of model (loop.c). What differs
 * between kinds of data is only the batch source:
 *
 *   table (trainer.c)    shuffles the samples each epoch, gathers batches
 *   text (text_trainer.c) walks parallel streams of tokens and carries the
 *                        recurrent state from batch to batch
 *
 * The loop owns everything else: the guarded step (penalties, clipping,
 * schedule and warm-up, optimizer), the epoch's sums, evaluation through
 * the source, the plateau schedule, early stopping and the best epoch's
 * snapshot, checkpoints (by steps, by epochs, on stop requests), the time
 * budget, the history rows and the hooks.
 *
 * Data-parallel training enters through one extension point, hooks->dist
 * (sn_train_dist, scratchnet.h): rank and size pick this rank's share of
 * every batch; grads_ready, which the loop installs as the model's
 * m->grads_ready for the length of a run (and then puts the previous one
 * back), lets the transport start reducing a layer's gradients while the
 * layers below still run backward; reduce_gradients finishes that before
 * the guard; reduce_sums sums the evaluation counts. The model's own
 * grads_ready field is that same hook seen from sn_model_backward: it
 * exists for callers that run backward without this loop (bench/ddp.c,
 * tests/mpi/test_dist.c), and is the mechanism, not a second interface. */
#ifndef SN_TRAIN_LOOP_H
#define SN_TRAIN_LOOP_H

#include "model/model.h"

#include <stddef.h>

typedef struct sn_batch_source {
    void *ctx;
    const char *trainer;  /* "table" | "text": the checkpoint's kind of training */
    int nbatches;         /* batches per epoch */
    long samples;         /* training samples or tokens (checked on resume) */
    int labels;           /* 1: batches have class labels (accuracy is counted) */
    int has_val;          /* 1: evaluate() measures val_loss */
    int keep_best;        /* 1: track and restore the best epoch even without
                             early stopping (cfg.patience = 0) */
    const char *val_hint; /* how to get a validation set, for messages */

    /* The start of an epoch: `shuffle` is the loop's seeded generator (the
     * checkpoint saves it); resumed: the epoch is taken up after batch 0
     * with the state the checkpoint restored. */
    void (*epoch_begin)(void *ctx, sn_model *m, sn_rng *shuffle, int resumed);
    /* Batch b (0-based) into the model's input act[0]; *labels / *targets
     * point at its labels or targets (NULL when none). Returns the rows
     * this process computes; *global_rows: the rows of the whole batch
     * (data-parallel: every rank's share together). */
    int (*batch)(void *ctx, sn_model *m, int b, const int **labels, const float **targets,
                 int *global_rows);
    /* After an applied step (may be NULL): text carries the recurrent state. */
    void (*after_step)(void *ctx, sn_model *m);
    /* Around a mid-epoch checkpoint, on every rank of a data-parallel
     * training (may be NULL): before writing it (done = 0), then after
     * (done = 1). Text gathers every rank's streams' recurrent state into
     * rank 0's model for the file, then gives rank 0 back its own share. */
    sn_status (*checkpoint_state)(void *ctx, sn_model *m, int done, sn_error *err);
    /* After an epoch's training: fills e's val_* and test_* (NaN when
     * absent) and does what else the source does between epochs (text:
     * samples, passed to hooks->on_sample). */
    sn_status (*evaluate)(void *ctx, sn_model *m, const sn_train_hooks *hooks, sn_epoch_stats *e,
                          sn_error *err);
    /* The history's header line and one row (without the newline). */
    const char *history_header;
    void (*history_row)(const sn_epoch_stats *e, char *buf, size_t len);
} sn_batch_source;

/* Trains m with batches from src. The model must be reserved for the
 * source's largest batch. */
sn_status sn_loop_run(sn_model *m, const sn_batch_source *src, const sn_train_hooks *hooks,
                      const char *history_csv, const sn_checkpoint_options *ckopt, sn_error *err);

/* Sums n values over the ranks of hooks->dist (nothing without one). */
sn_status sn_loop_reduce(const sn_train_hooks *hooks, double *v, int n, sn_error *err);

#endif
