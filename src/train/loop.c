/* The training loop (loop.h): epochs × batches from a batch source. One step:
 *
 *   forward, loss and backward          (data loss, gradients)
 *   [data-parallel: gradients and loss reduced over the ranks]
 *   guard: loss and g finite, not exploding (else stop or skip: guard.h)
 *   g += ∂R/∂θ                          (L1/L2 penalties R, reported apart)
 *   clip g by value, then by global norm
 *   lr = schedule(epoch, step)          (then the optimizer's own 1/t decay)
 *   optimizer update, then the source's after-step (text: carry the state)
 *
 * After each epoch: evaluation (by the source), the plateau schedule sees
 * its monitored value, early stopping its own (one rule: a loss must fall
 * by more than min_delta, an accuracy rise by more than min_delta; after
 * `patience` epochs without, training stops), the best epoch's weights are
 * copied when they are to be restored, a history row is written and the
 * hooks are called. A checkpoint is written every N steps, every N epochs,
 * at the end and on a stop request; the time budget (cfg.max_seconds) is
 * checked after every batch and counts a resumed training's earlier runs
 * (data-parallel: the ranks' clocks differ, so they stop after the batch at
 * which any of them ran out).
 * Everything a step needs is allocated before the first epoch; a step
 * itself allocates nothing. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "train/loop.h"

#include "optim/optim.h"
#include "train/checkpoint.h"
#include "train/guard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct loop {
    sn_model *m;
    const sn_train_config *c;
    const sn_batch_source *src;
    const sn_train_hooks *hooks;
    const sn_train_dist *dist;
    const sn_checkpoint_options *ckopt; /* as given (stop requests) */
    const sn_checkpoint_options *cko;   /* NULL unless writing checkpoints */
    sn_optimizer *opt;
    sn_guard guard;
    sn_schedule sched;
    sn_ckpt ck;
    sn_rng shuffle;
    FILE *hist;
    const char *hist_path;
    sn_tensor snap[SN_MAX_LAYERS * SN_MAX_PARAMS]; /* the best epoch's weights */
    int early, track, restore, acc_mode, penalty;
    double best; /* early stopping: best monitored value, epochs since */
    int since_best, have_best, best_epoch;
    sn_epoch_stats kept; /* the stats of the epoch whose weights are kept */
    double t_start;      /* the start, moved back by a resumed training's time */
    int out_of_time;
    /* the epoch in progress */
    double t0, sum, reg_sum, count, count0;
    long correct;
    float last_lr;
} loop;

sn_status sn_loop_reduce(const sn_train_hooks *hooks, double *v, int n, sn_error *err) {
    const sn_train_dist *d = hooks ? hooks->dist : NULL;
    if (!d || d->size <= 1 || !d->reduce_sums) return SN_OK;
    return d->reduce_sums(d->ctx, v, n, err);
}

/* ---- history ------------------------------------------------------------- */

static sn_status history_open(loop *L, sn_error *err) {
    if (!L->hist_path) return SN_OK;
    L->hist = fopen(L->hist_path, "w");
    if (!L->hist)
        return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", L->hist_path, strerror(errno));
    if (fputs(L->src->history_header, L->hist) < 0 || fputc('\n', L->hist) == EOF ||
        (L->ck.history && fputs(L->ck.history, L->hist) < 0) || fflush(L->hist) != 0)
        return sn_fail(err, SN_ERR_IO, "%s: write error: %s", L->hist_path, strerror(errno));
    return SN_OK;
}

/* One row into the history file and, when checkpointing, into the rows a
 * checkpoint keeps. */
static sn_status history_row(loop *L, const sn_epoch_stats *e, sn_error *err) {
    char row[512];
    L->src->history_row(e, row, sizeof row - 1);
    size_t n = strlen(row);
    row[n] = '\n', row[n + 1] = 0;
    if (L->hist && (fputs(row, L->hist) < 0 || fflush(L->hist) != 0))
        return sn_fail(err, SN_ERR_IO, "%s: write error: %s", L->hist_path, strerror(errno));
    return L->cko ? sn_ckpt_history_add(&L->ck, row, err) : SN_OK;
}

/* ---- monitored values and the best epoch ---------------------------------- */

/* The value an epoch reports for "val_loss", "val_acc", "train_loss" or
 * "train_acc". */
static double monitored(const sn_epoch_stats *e, const char *name) {
    if (strcmp(name, "val_acc") == 0) return e->val_acc;
    if (strcmp(name, "train_loss") == 0) return e->train_loss;
    if (strcmp(name, "train_acc") == 0) return e->train_acc;
    return e->val_loss;
}

/* A monitored value must exist: val_* needs a validation set, *_acc labels. */
static sn_status check_monitor(const loop *L, const char *what, const char *name, sn_error *err) {
    if (strcmp(name, "val_loss") && strcmp(name, "val_acc") && strcmp(name, "train_loss") &&
        strcmp(name, "train_acc"))
        return sn_fail(err, SN_ERR_ARG,
                       "%s: unknown monitor '%s' (expected val_loss, val_acc, train_loss or "
                       "train_acc)",
                       what, name);
    if (strncmp(name, "val_", 4) == 0 && !L->src->has_val)
        return sn_fail(err, SN_ERR_ARG,
                       "%s monitors %s but there is no validation set (%s, or "
                       "monitor=train_loss)",
                       what, name, L->src->val_hint);
    if (strstr(name, "_acc") && !L->src->labels)
        return sn_fail(err, SN_ERR_ARG, "%s monitors %s but the data has no class labels", what,
                       name);
    return SN_OK;
}

/* Copies every parameter into (restore = 0) or out of the snapshot. */
static void snapshot_copy(loop *L, int restore) {
    if (restore) sn_model_params_changed(L->m);
    for (int i = 0; i < L->m->nparams; i++) {
        sn_tensor *w = &L->m->params[i]->value;
        if (restore)
            memcpy(w->data, L->snap[i].data, w->size * sizeof(float));
        else
            memcpy(L->snap[i].data, w->data, w->size * sizeof(float));
    }
}

/* Early stopping's look at epoch e: returns 1 when patience ran out. Sets
 * e->kept_epoch. */
static int watch_best(loop *L, sn_epoch_stats *e) {
    int out = 0;
    if (L->track) {
        const sn_train_config *c = L->c;
        double v = monitored(e, c->monitor);
        int better = L->acc_mode ? v > L->best + c->min_delta : v < L->best - c->min_delta;
        if (better) {
            L->best = v;
            L->since_best = 0;
            L->have_best = 1;
            L->best_epoch = e->epoch;
            if (L->restore) snapshot_copy(L, 0);
        } else if (++L->since_best >= c->patience && L->early) {
            out = 1;
        }
    }
    e->kept_epoch = L->restore && L->have_best ? L->best_epoch : e->epoch;
    return out;
}

/* ---- checkpoints ------------------------------------------------------------ */

/* Writes a checkpoint at (epoch, batch done) when o is set; then, with
 * halt, returns SN_ERR_INTERRUPTED. */
static sn_status point(loop *L, int epoch, int batch, int finished, int halt, sn_error *err) {
    sn_ckpt *k = &L->ck;
    k->epoch = epoch, k->batch = batch, k->finished = finished;
    k->sum = L->sum, k->reg_sum = L->reg_sum, k->count = L->count, k->correct = L->correct;
    k->last_lr = L->last_lr, k->best = L->best, k->since_best = L->since_best;
    k->have_best = L->have_best, k->best_epoch = L->best_epoch, k->kept = L->kept;
    k->elapsed = now_seconds() - L->t_start;
    /* mid-epoch, a data-parallel source gathers what the file needs from
     * every rank (every rank comes here at the same steps) */
    int gather = batch > 0 && L->src->checkpoint_state && L->dist && L->dist->size > 1;
    sn_status s = gather ? L->src->checkpoint_state(L->src->ctx, L->m, 0, err) : SN_OK;
    if (s == SN_OK)
        s = sn_ckpt_point(L->cko, L->m, L->opt, &L->sched, k, L->restore ? L->snap : NULL, halt,
                          err);
    if (gather) L->src->checkpoint_state(L->src->ctx, L->m, 1, NULL);
    return s;
}

static sn_status resume(loop *L, sn_error *err) {
    sn_status s = sn_ckpt_load(L->ckopt->resume, L->m, L->opt, &L->sched, &L->ck,
                               L->restore ? L->snap : NULL, err);
    if (s != SN_OK) return s;
    const sn_ckpt *k = &L->ck;
    L->shuffle = k->shuffle, L->best = k->best, L->since_best = k->since_best;
    L->have_best = k->have_best, L->best_epoch = k->best_epoch, L->kept = k->kept;
    L->t_start -= k->elapsed;
    return SN_OK;
}

/* ---- setup ------------------------------------------------------------------ */

static int has_penalty(const sn_model *m) {
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer && (m->params[i]->l1 != 0 || m->params[i]->l2 != 0)) return 1;
    return 0;
}

static sn_status setup(loop *L, sn_error *err) {
    const sn_train_config *c = L->c;
    sn_model *m = L->m;
    L->early = c->patience > 0;
    L->track = L->early || L->src->keep_best;
    L->restore = L->track && (!L->early || c->restore_best);
    L->acc_mode = strstr(c->monitor, "_acc") != NULL;
    L->penalty = has_penalty(m);
    L->best = L->acc_mode ? -INFINITY : INFINITY;
    L->kept.epoch = 0;
    sn_rng_seed(&L->shuffle, c->seed, 0x5aff1e);
    L->cko = L->ckopt && L->ckopt->path ? L->ckopt : NULL;
    L->ck = (sn_ckpt){.trainer = L->src->trainer,
                      .epoch = 1,
                      .nbatches = L->src->nbatches,
                      .samples = L->src->samples,
                      .guard = &L->guard};
    sn_status s = L->track ? check_monitor(L, "early_stop", c->monitor, err) : SN_OK;
    if (s == SN_OK) s = sn_schedule_init(&L->sched, c, L->src->nbatches, err);
    if (s == SN_OK && strcmp(L->sched.c.kind, "plateau") == 0)
        s = check_monitor(L, "schedule plateau", L->sched.c.monitor, err);
    if (s == SN_OK) s = sn_optimizer_new(m, c, &L->opt, err);
    if (s == SN_OK) s = sn_guard_init(&L->guard, m, c, err);
    for (int i = 0; s == SN_OK && L->restore && i < m->nparams; i++)
        s = sn_tensor_alloc(&L->snap[i], m->params[i]->value.ndim, m->params[i]->value.shape, err);
    L->t_start = now_seconds();
    if (s == SN_OK && L->ckopt && L->ckopt->resume) s = resume(L, err);
    if (s == SN_OK) s = history_open(L, err);
    return s;
}

static void teardown(loop *L) {
    for (int i = 0; i < L->m->nparams; i++) sn_tensor_free(&L->snap[i]);
    sn_ckpt_free(&L->ck);
    sn_optimizer_free(L->opt);
    sn_guard_free(&L->guard);
}

/* ---- one epoch ---------------------------------------------------------------- */

/* One batch: forward, backward, the guard, and the update unless refused
 * (*refused set). Fails when the guard stops training. */
static sn_status step(loop *L, int epoch, int b, int *refused, sn_error *err) {
    sn_model *m = L->m;
    const sn_train_config *c = L->c;
    const int *lab = NULL;
    const float *tgt = NULL;
    int global = 0;
    int rows = L->src->batch(L->src->ctx, m, b, &lab, &tgt, &global);
    sn_optimizer_set_lr(L->opt, sn_schedule_lr(&L->sched, epoch - 1, L->opt->step));
    sn_guard_begin(&L->guard);
    double loss = 0;
    sn_status s = sn_model_forward(m, m->act[0].data, rows, 1, err);
    if (s == SN_OK) s = sn_model_backward(m, lab, tgt, &loss, err);
    if (s == SN_OK && L->dist && L->dist->size > 1 && L->dist->reduce_gradients)
        s = L->dist->reduce_gradients(L->dist->ctx, m, &loss, rows, global, err);
    if (s != SN_OK) return s;
    *refused = sn_guard_check(&L->guard, loss, epoch, b + 1, L->opt->step + 1,
                              sn_optimizer_lr(L->opt), err) != SN_OK;
    if (*refused) return sn_guard_skip(&L->guard, global) ? SN_OK : SN_ERR_NUMERIC;
    if (L->penalty) L->reg_sum += sn_model_regularize(m) * global;
    if (c->clip_value > 0) sn_clip_grad_value(m, c->clip_value);
    if (c->clip_norm > 0) sn_clip_grad_norm(m, c->clip_norm);
    if (lab && L->src->labels) L->correct += sn_model_correct(m, lab);
    L->sum += loss * global;
    L->count += global;
    L->last_lr = sn_optimizer_lr(L->opt);
    sn_optimizer_step(L->opt);
    if (L->src->after_step) L->src->after_step(L->src->ctx, m);
    const sn_train_hooks *h = L->hooks;
    if (h && h->on_batch)
        h->on_batch(h->ctx, epoch, b + 1, L->src->nbatches, L->sum / L->count,
                    L->src->labels ? (double)L->correct / L->count : NAN,
                    (L->count - L->count0) / (now_seconds() - L->t0 + 1e-9));
    return SN_OK;
}

/* The batches of epoch `epoch` from batch `first` on. */
static sn_status run_batches(loop *L, int epoch, int first, sn_error *err) {
    const int nb = L->src->nbatches;
    const double budget = L->c->max_seconds;
    for (int b = first; b < nb; b++) {
        int refused = 0;
        sn_status s = step(L, epoch, b, &refused, err);
        if (s != SN_OK) return s;
        /* after every batch, a skipped one too; every_steps counts
         * optimizer steps (a skipped batch is none); also where this rank
         * writes nothing: every rank of a data-parallel training takes part */
        int halt = sn_ckpt_stop_requested(L->ckopt);
        long every = L->ckopt ? L->ckopt->every_steps : 0;
        if (halt || (!refused && every > 0 && L->opt->step % every == 0))
            if ((s = point(L, epoch, b + 1, 0, halt, err)) != SN_OK) return s;
        if (budget > 0) { /* data-parallel: every rank's clock, one decision */
            double out = now_seconds() - L->t_start >= budget;
            if ((s = sn_loop_reduce(L->hooks, &out, 1, err)) != SN_OK) return s;
            if (out > 0) {
                L->out_of_time = b + 1 < nb || epoch < L->c->epochs;
                break;
            }
        }
    }
    return SN_OK;
}

/* The statistics of the epoch just trained, evaluation included. */
static sn_status epoch_stats(loop *L, int epoch, sn_epoch_stats *e, sn_error *err) {
    double train_seconds = now_seconds() - L->t0;
    double sums[2] = {(double)L->correct, 0};
    sn_status s = sn_loop_reduce(L->hooks, sums, 1, err);
    if (s != SN_OK) return s;
    *e = (sn_epoch_stats){.epoch = epoch,
                          .step = L->opt->step,
                          .train_loss = L->sum / L->count,
                          .train_acc = L->src->labels ? sums[0] / L->count : NAN,
                          .skipped = sn_guard_skipped(&L->guard, epoch),
                          .val_loss = NAN,
                          .val_acc = NAN,
                          .test_loss = NAN,
                          .test_acc = NAN,
                          .lr = L->last_lr,
                          .reg_loss = L->reg_sum / L->count,
                          .samples_per_s = (L->count - L->count0) / (train_seconds + 1e-9),
                          .partial = L->out_of_time};
    s = L->src->evaluate(L->src->ctx, L->m, L->hooks, e, err);
    if (s != SN_OK) return s;
    sn_schedule_observe(&L->sched, monitored(e, L->sched.c.monitor));
    return SN_OK;
}

/* After epoch `epoch`'s batches: statistics, early stopping, history,
 * hooks, checkpoint. *stop: training ends here. */
static sn_status epoch_end(loop *L, int epoch, int *stop, sn_error *err) {
    sn_epoch_stats e;
    sn_status s = sn_guard_epoch_end(&L->guard, epoch, err);
    if (s == SN_OK) s = epoch_stats(L, epoch, &e, err);
    if (s != SN_OK) return s;
    int patience_out = watch_best(L, &e);
    e.seconds = now_seconds() - L->t0;
    e.elapsed = now_seconds() - L->t_start;
    e.cpu_seconds = cpu_seconds();
    if (e.kept_epoch == epoch) L->kept = e;
    if ((s = history_row(L, &e, err)) != SN_OK) return s;
    const sn_train_hooks *h = L->hooks;
    *stop = (h && h->on_epoch ? h->on_epoch(h->ctx, &e) : 0) || patience_out;
    const int epochs = L->c->epochs;
    int halt = !*stop && epoch < epochs && !L->out_of_time && sn_ckpt_stop_requested(L->ckopt);
    L->sum = L->reg_sum = L->count = 0, L->correct = 0;
    L->ck.shuffle = L->shuffle;
    if (halt || sn_ckpt_due(L->cko, epoch, epochs, *stop || L->out_of_time))
        /* out of time mid-epoch: that epoch is over (as the history says) */
        s = point(L, epoch + 1, 0, *stop, halt, err);
    return s;
}

sn_status sn_loop_run(sn_model *m, const sn_batch_source *src, const sn_train_hooks *hooks,
                      const char *history_csv, const sn_checkpoint_options *ckopt, sn_error *err) {
    loop *L = sn_alloc(1, sizeof *L);
    if (!L) return sn_fail(err, SN_ERR_NOMEM, "training: out of memory");
    L->m = m, L->c = &m->cfg, L->src = src, L->hooks = hooks, L->ckopt = ckopt;
    L->dist = hooks ? hooks->dist : NULL;
    L->hist_path = history_csv;
    /* the transport's per-layer hook, for this training only */
    void (*ready)(void *, int) = m->grads_ready;
    void *ready_ctx = m->grads_ready_ctx;
    if (L->dist && L->dist->size > 1 && L->dist->grads_ready)
        m->grads_ready = L->dist->grads_ready, m->grads_ready_ctx = L->dist->ctx;
    sn_status s = setup(L, err);
    int resume_batch = L->ck.batch;
    const double budget = L->c->max_seconds;
    /* a resumed run whose earlier runs spent the budget trains no more; a
     * new one trains at least one batch, however long its setup took */
    if (s == SN_OK && budget > 0 && L->ckopt && L->ckopt->resume) {
        double spent = now_seconds() - L->t_start >= budget;
        s = sn_loop_reduce(hooks, &spent, 1, err);
        if (spent > 0) L->ck.finished = 1;
    }
    for (int epoch = L->ck.epoch; s == SN_OK && !L->ck.finished && epoch <= L->c->epochs; epoch++) {
        L->t0 = now_seconds();
        L->last_lr = sn_optimizer_lr(L->opt);
        if (resume_batch > 0) { /* the epoch's sums so far, from the checkpoint */
            L->sum = L->ck.sum, L->reg_sum = L->ck.reg_sum, L->count = L->ck.count;
            L->correct = L->ck.correct, L->last_lr = L->ck.last_lr;
        }
        L->count0 = L->count;       /* not timed here */
        L->ck.shuffle = L->shuffle; /* the state this epoch's shuffle starts from */
        src->epoch_begin(src->ctx, m, &L->shuffle, resume_batch > 0);
        int first = resume_batch, stop = 0;
        resume_batch = 0;
        s = run_batches(L, epoch, first, err);
        if (s == SN_OK) s = epoch_end(L, epoch, &stop, err);
        if (stop || L->out_of_time) break;
    }
    if (s == SN_OK && L->restore && L->have_best) snapshot_copy(L, 1);
    if (L->hist && fclose(L->hist) != 0 && s == SN_OK)
        s = sn_fail(err, SN_ERR_IO, "%s: write error: %s", history_csv, strerror(errno));
    if (s == SN_OK && hooks && hooks->on_end && L->kept.epoch > 0)
        hooks->on_end(hooks->ctx, &L->kept);
    m->grads_ready = ready, m->grads_ready_ctx = ready_ctx;
    teardown(L);
    sn_free(L);
    return s;
}
