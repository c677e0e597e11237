/* Checkpoints of the training loops (sn_train, sn_text_train): what the
 * file holds is described in include/scratchnet.h ("checkpoints"). */
#ifndef SN_TRAIN_CHECKPOINT_H
#define SN_TRAIN_CHECKPOINT_H

#include "model/model.h"
#include "optim/optim.h"
#include "train/guard.h"

/* Where a training loop stands between two steps and what it has summed so
 * far: everything besides the model, the optimizer and the schedule that an
 * exact continuation needs. */
typedef struct sn_ckpt {
    const char *trainer; /* "table" or "text" */
    int epoch;           /* the epoch in progress, 1-based */
    int batch;           /* its batches done, 0 .. nbatches */
    int nbatches;        /* batches per epoch (must match on resume) */
    long samples;        /* training samples or tokens (must match on resume) */
    int finished;        /* 1: early stopping or a hook ended the training */
    sn_rng shuffle;      /* the shuffling generator before `epoch`'s shuffle */
    /* the epoch's sums so far: loss·n, penalty·n, samples or tokens, correct */
    double sum, reg_sum, count;
    long correct;
    float last_lr;
    double best; /* early stopping: best monitored value, epochs since, found */
    int since_best, have_best;
    int best_epoch;      /* the epoch of `best` */
    sn_epoch_stats kept; /* the statistics of the epoch whose weights are kept
                            (epoch 0: none yet) */
    double elapsed;      /* wall seconds of training so far (the time budget) */
    char *history;       /* the history rows so far (CSV lines, no header) */
    size_t history_len, history_cap;
    /* the training's guard: its running state (the epoch's counters, the
     * loss reference) is saved, and restored on load; NULL: saved as a
     * fresh guard's, not restored */
    sn_guard *guard;
} sn_ckpt;

/* Appends one history row (allocates: call it only when checkpointing). */
sn_status sn_ckpt_history_add(sn_ckpt *k, const char *row, sn_error *err);
void sn_ckpt_free(sn_ckpt *k);

/* Writes the checkpoint o->path: m's parameters and buffers, recurrent
 * state, opt's state, sched's bookkeeping, k, and best[0 .. m->nparams)
 * (the kept best weights; NULL: none). */
sn_status sn_ckpt_save(const sn_checkpoint_options *o, const sn_model *m, sn_optimizer *opt,
                       const sn_schedule *sched, const sn_ckpt *k, const sn_tensor *best,
                       sn_error *err);

/* Restores all of the above from `path` into a model, optimizer and
 * schedule built and reserved as for the saved training. k->trainer,
 * k->nbatches and k->samples are what the caller expects (checked); the
 * rest of k is filled (k->history allocated). Everything is checked before
 * anything is changed: on error m, opt and sched are untouched. */
sn_status sn_ckpt_load(const char *path, sn_model *m, sn_optimizer *opt, sn_schedule *sched,
                       sn_ckpt *k, sn_tensor *best, sn_error *err);

/* The message and status of a training stopped by request at k. */
sn_status sn_ckpt_interrupted(const sn_checkpoint_options *o, const sn_ckpt *k, long step,
                              sn_error *err);

/* Saves k when o != NULL, then returns SN_ERR_INTERRUPTED when halt != 0. */
sn_status sn_ckpt_point(const sn_checkpoint_options *o, const sn_model *m, sn_optimizer *opt,
                        const sn_schedule *sched, const sn_ckpt *k, const sn_tensor *best, int halt,
                        sn_error *err);

/* Whether a checkpoint is due after epoch `epoch` of `epochs`: every
 * o->every_epochs epochs and, when checkpointing at all, after the last
 * epoch and when training stops early (stop != 0). o may be NULL. */
int sn_ckpt_due(const sn_checkpoint_options *o, int epoch, int epochs, int stop);

/* o's stop_requested hook (0 when o or the hook is NULL). */
int sn_ckpt_stop_requested(const sn_checkpoint_options *o);

#endif
