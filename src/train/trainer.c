/* The training loop: epochs × shuffled mini-batches, evaluation, history,
 * early stopping. One step:
 *
 *   forward, loss and backward          (data loss, gradients)
 *   guard: loss and g finite, not exploding (else stop or skip: guard.h)
 *   g += ∂R/∂θ                          (L1/L2 penalties R, reported apart)
 *   clip g by value, then by global norm
 *   lr = schedule(epoch, step)          (then the optimizer's own 1/t decay)
 *   optimizer update
 *
 * After each epoch: validation and test evaluation, the plateau schedule and
 * early stopping see the monitored value, a history row is written.
 * Everything a step needs is allocated before the first epoch; a step itself
 * allocates nothing. */
#include "data/dataset.h"
#include "model/model.h"
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

/* Copies samples idx[0..n) of d into the model's input buffer and their
 * labels / targets into the given buffers. */
static void gather(const sn_dataset *d, const int *idx, int n, float *x, int *labels,
                   float *targets) {
    for (int i = 0; i < n; i++) {
        size_t s = (size_t)idx[i];
        memcpy(x + (size_t)i * d->sample_size, d->x + s * d->sample_size,
               d->sample_size * sizeof(float));
        if (d->labels) labels[i] = d->labels[s];
        if (d->targets)
            memcpy(targets + (size_t)i * d->num_targets, d->targets + s * d->num_targets,
                   (size_t)d->num_targets * sizeof(float));
    }
}

static sn_status check_fits(const sn_model *m, const sn_dataset *d, const char *what,
                            sn_error *err) {
    if (d->sample_size != sn_model_input_size(m))
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s set: samples have %zu values, the model's input takes %zu", what,
                       d->sample_size, sn_model_input_size(m));
    int K = sn_model_output_size(m);
    if (d->labels && K > 1 && d->num_classes > K)
        return sn_fail(err, SN_ERR_SHAPE, "%s set: %d classes, the model has %d outputs", what,
                       d->num_classes, K);
    if (d->labels && K == 1 && d->num_classes > 2)
        return sn_fail(err, SN_ERR_SHAPE, "%s set: %d classes, the model has 1 output", what,
                       d->num_classes);
    if (d->targets && d->num_targets != K)
        return sn_fail(err, SN_ERR_SHAPE, "%s set: %d targets per sample, the model has %d outputs",
                       what, d->num_targets, K);
    if (!d->labels && !d->targets)
        return sn_fail(err, SN_ERR_ARG, "%s set has neither labels nor targets", what);
    return SN_OK;
}

/* Buffers for one batch of labels and targets. */
typedef struct batch_buf {
    int *labels;
    float *targets;
} batch_buf;

static sn_status batch_buf_init(batch_buf *b, const sn_model *m, int batch, sn_error *err) {
    b->labels = sn_alloc((size_t)batch, sizeof(int));
    b->targets = sn_alloc((size_t)batch * (size_t)sn_model_output_size(m), sizeof(float));
    if (!b->labels || !b->targets) return sn_fail(err, SN_ERR_NOMEM, "batch buffers");
    return SN_OK;
}

static void batch_buf_free(batch_buf *b) {
    sn_free(b->labels);
    sn_free(b->targets);
}

static void eval_batches(sn_model *m, const sn_dataset *d, int batch, batch_buf *b, int *idx,
                         double *loss, double *acc) {
    double sum = 0;
    long correct = 0;
    for (int i = 0; i < d->n; i++) idx[i] = i;
    for (int start = 0; start < d->n; start += batch) {
        int n = d->n - start < batch ? d->n - start : batch;
        gather(d, idx + start, n, m->act[0].data, b->labels, b->targets);
        sn_model_forward(m, m->act[0].data, n, 0);
        const int *lab = d->labels ? b->labels : NULL;
        const float *tgt = d->targets ? b->targets : NULL;
        sum += sn_model_loss(m, lab, tgt) * n;
        if (lab) correct += sn_model_correct(m, lab);
    }
    *loss = sum / d->n;
    *acc = d->labels ? (double)correct / d->n : NAN;
}

sn_status sn_evaluate(sn_model *m, const sn_dataset *d, int batch, double *loss, double *acc,
                      sn_error *err) {
    batch_buf b = {0};
    int *idx = NULL;
    sn_status s = check_fits(m, d, "evaluation", err);
    if (s == SN_OK) s = sn_model_reserve(m, batch, err);
    if (s == SN_OK) s = batch_buf_init(&b, m, batch, err);
    if (s == SN_OK && !(idx = sn_alloc((size_t)d->n, sizeof(int))))
        s = sn_fail(err, SN_ERR_NOMEM, "evaluation: out of memory");
    if (s == SN_OK) eval_batches(m, d, batch, &b, idx, loss, acc);
    sn_free(idx);
    batch_buf_free(&b);
    return s;
}

/* Copies of every parameter, for restoring the best weights. */
static sn_status snapshot_alloc(const sn_model *m, sn_tensor *snap, sn_error *err) {
    for (int i = 0; i < m->nparams; i++) {
        const sn_tensor *w = &m->params[i]->value;
        sn_status s = sn_tensor_alloc(&snap[i], w->ndim, w->shape, err);
        if (s != SN_OK) return s;
    }
    return SN_OK;
}

static void snapshot_copy(sn_model *m, sn_tensor *snap, int restore) {
    for (int i = 0; i < m->nparams; i++) {
        sn_tensor *w = &m->params[i]->value;
        if (restore)
            memcpy(w->data, snap[i].data, w->size * sizeof(float));
        else
            memcpy(snap[i].data, w->data, w->size * sizeof(float));
    }
}

static FILE *history_open(const char *path, sn_error *err) {
    FILE *f = fopen(path, "w");
    if (!f) {
        sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "epoch,step,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,lr,seconds,"
               "reg_loss,skipped\n");
    return f;
}

/* One row into f (may be NULL) and, when checkpointing (k != NULL), into
 * the rows a checkpoint keeps. */
static sn_status history_row(FILE *f, const sn_epoch_stats *e, sn_ckpt *k, sn_error *err) {
    char row[512];
    snprintf(row, sizeof row, "%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%.6g,%d\n", e->epoch,
             e->step, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->test_loss,
             e->test_acc, e->lr, e->seconds, e->reg_loss, e->skipped);
    if (f) {
        fputs(row, f);
        fflush(f);
    }
    return k ? sn_ckpt_history_add(k, row, err) : SN_OK;
}

/* The value an epoch reports for "val_loss", "val_acc", "train_loss" or
 * "train_acc". */
static double monitored(const sn_epoch_stats *e, const char *name) {
    if (strcmp(name, "val_acc") == 0) return e->val_acc;
    if (strcmp(name, "train_loss") == 0) return e->train_loss;
    if (strcmp(name, "train_acc") == 0) return e->train_acc;
    return e->val_loss;
}

/* A monitored value must exist: val_* needs a validation set, *_acc labels. */
static sn_status check_monitor(const char *what, const char *name, const sn_dataset *train,
                               const sn_dataset *val, sn_error *err) {
    if (strcmp(name, "val_loss") && strcmp(name, "val_acc") && strcmp(name, "train_loss") &&
        strcmp(name, "train_acc"))
        return sn_fail(err, SN_ERR_ARG,
                       "%s: unknown monitor '%s' (expected val_loss, val_acc, train_loss or "
                       "train_acc)",
                       what, name);
    if (strncmp(name, "val_", 4) == 0 && !val)
        return sn_fail(err, SN_ERR_ARG,
                       "%s monitors %s but there is no validation set (set val_split, or "
                       "monitor=train_loss)",
                       what, name);
    if (strstr(name, "_acc") && !train->labels)
        return sn_fail(err, SN_ERR_ARG, "%s monitors %s but the data has no class labels", what,
                       name);
    return SN_OK;
}

static int has_penalty(const sn_model *m) {
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer && (m->params[i]->l1 != 0 || m->params[i]->l2 != 0)) return 1;
    return 0;
}

sn_status sn_train(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                   const sn_dataset *test, const sn_train_hooks *hooks, const char *history_csv,
                   sn_error *err) {
    return sn_train_checkpointed(m, train, val, test, hooks, history_csv, NULL, err);
}

sn_status sn_train_checkpointed(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                                const sn_dataset *test, const sn_train_hooks *hooks,
                                const char *history_csv, const sn_checkpoint_options *ckopt,
                                sn_error *err) {
    const sn_train_config *c = &m->cfg;
    int batch = c->batch < train->n ? c->batch : train->n;
    if (batch < 1) batch = 1;
    int largest = train->n;
    if (val && val->n > largest) largest = val->n;
    if (test && test->n > largest) largest = test->n;
    sn_optimizer *opt = NULL;
    sn_guard guard = {0};
    batch_buf b = {0};
    int *idx = NULL;
    FILE *hist = NULL;
    sn_tensor snap[SN_MAX_LAYERS * SN_MAX_PARAMS];
    memset(snap, 0, sizeof snap);
    const int early = c->patience > 0, restore = early && c->restore_best;
    const int acc_mode = strstr(c->monitor, "_acc") != NULL, penalty = has_penalty(m);
    const int nbatches = (train->n + batch - 1) / batch;
    sn_schedule sched;

    sn_status s = check_fits(m, train, "training", err);
    if (s == SN_OK && val) s = check_fits(m, val, "validation", err);
    if (s == SN_OK && test) s = check_fits(m, test, "test", err);
    if (s == SN_OK && train->n < 1) s = sn_fail(err, SN_ERR_ARG, "training set is empty");
    if (s == SN_OK && early) s = check_monitor("early_stop", c->monitor, train, val, err);
    if (s == SN_OK) s = sn_schedule_init(&sched, c, nbatches, err);
    if (s == SN_OK && strcmp(sched.c.kind, "plateau") == 0)
        s = check_monitor("schedule plateau", sched.c.monitor, train, val, err);
    if (s == SN_OK) s = sn_model_reserve(m, batch, err);
    if (s == SN_OK) s = sn_optimizer_new(m, c, &opt, err);
    if (s == SN_OK) s = sn_guard_init(&guard, m, c, err);
    if (s == SN_OK) s = batch_buf_init(&b, m, batch, err);
    if (s == SN_OK && !(idx = sn_alloc((size_t)largest, sizeof(int))))
        s = sn_fail(err, SN_ERR_NOMEM, "training: out of memory");
    if (s == SN_OK && restore) s = snapshot_alloc(m, snap, err);

    sn_rng shuffle;
    sn_rng_seed(&shuffle, c->seed, 0x5aff1e);
    double best = acc_mode ? -INFINITY : INFINITY;
    int since_best = 0, have_best = 0;
    /* Checkpoints (checkpoint.c): a resumed training takes up the loop at
     * ck.epoch, batch ck.batch, with the sums of that epoch so far. */
    const sn_checkpoint_options *cko = ckopt && ckopt->path ? ckopt : NULL;
    sn_ckpt ck = {
        .trainer = "table", .epoch = 1, .nbatches = nbatches, .samples = train->n, .guard = &guard};
    if (s == SN_OK && ckopt && ckopt->resume) {
        s = sn_ckpt_load(ckopt->resume, m, opt, &sched, &ck, restore ? snap : NULL, err);
        shuffle = ck.shuffle, best = ck.best, since_best = ck.since_best;
        have_best = ck.have_best;
    }
    if (s == SN_OK && history_csv && !(hist = history_open(history_csv, err))) s = err->code;
    if (hist && ck.history) fputs(ck.history, hist);
    int resume_batch = ck.batch;
    for (int epoch = ck.epoch; s == SN_OK && !ck.finished && epoch <= c->epochs; epoch++) {
        double t0 = now_seconds(), sum = 0, reg_sum = 0;
        float last_lr = sn_optimizer_lr(opt);
        long correct = 0;
        int first = resume_batch;
        if (resume_batch > 0)
            sum = ck.sum, reg_sum = ck.reg_sum, correct = ck.correct, last_lr = ck.last_lr;
        resume_batch = 0;
        ck.shuffle = shuffle; /* the state this epoch's shuffle starts from */
        for (int i = 0; i < train->n; i++) idx[i] = i;
        sn_rng_shuffle(&shuffle, idx, train->n);
        for (int bi = first; bi < nbatches; bi++) {
            int start = bi * batch, n = train->n - start < batch ? train->n - start : batch;
            gather(train, idx + start, n, m->act[0].data, b.labels, b.targets);
            const int *lab = train->labels ? b.labels : NULL;
            const float *tgt = train->targets ? b.targets : NULL;
            sn_optimizer_set_lr(opt, sn_schedule_lr(&sched, epoch - 1, opt->step));
            sn_guard_begin(&guard);
            sn_model_forward(m, m->act[0].data, n, 1);
            double loss = sn_model_backward(m, lab, tgt);
            const int refused = sn_guard_check(&guard, loss, epoch, bi + 1, opt->step + 1,
                                               sn_optimizer_lr(opt), err) != SN_OK;
            if (refused && !sn_guard_skip(&guard, n)) {
                s = SN_ERR_NUMERIC;
                break;
            }
            if (!refused) {
                if (penalty) reg_sum += sn_model_regularize(m) * n;
                if (c->clip_value > 0) sn_clip_grad_value(m, c->clip_value);
                if (c->clip_norm > 0) sn_clip_grad_norm(m, c->clip_norm);
                if (lab) correct += sn_model_correct(m, lab);
                sum += loss * n;
                last_lr = sn_optimizer_lr(opt);
                sn_optimizer_step(opt);
            }
            if (!refused && hooks && hooks->on_batch) {
                int seen = start + n - (int)sn_guard_skipped_rows(&guard, epoch);
                hooks->on_batch(hooks->ctx, epoch, bi + 1, nbatches, sum / seen,
                                lab ? (double)correct / seen : NAN,
                                seen / (now_seconds() - t0 + 1e-9));
            }
            /* after every batch, a skipped one too; every_steps counts
             * optimizer steps (a skipped batch is none) */
            int halt = sn_ckpt_stop_requested(ckopt);
            if (halt ||
                (!refused && cko && cko->every_steps > 0 && opt->step % cko->every_steps == 0)) {
                ck.epoch = epoch, ck.batch = bi + 1, ck.sum = sum, ck.reg_sum = reg_sum;
                ck.correct = correct, ck.last_lr = last_lr, ck.best = best;
                ck.since_best = since_best, ck.have_best = have_best;
                s = sn_ckpt_point(cko, m, opt, &sched, &ck, restore ? snap : NULL, halt, err);
                if (s != SN_OK) break;
            }
        }
        if (s == SN_OK) s = sn_guard_epoch_end(&guard, epoch, err);
        if (s != SN_OK) break;
        const long used = train->n - sn_guard_skipped_rows(&guard, epoch);
        sn_epoch_stats e = {.epoch = epoch,
                            .step = opt->step,
                            .train_loss = sum / used,
                            .train_acc = train->labels ? (double)correct / used : NAN,
                            .skipped = sn_guard_skipped(&guard, epoch),
                            .val_loss = NAN,
                            .val_acc = NAN,
                            .test_loss = NAN,
                            .test_acc = NAN,
                            .lr = last_lr,
                            .reg_loss = reg_sum / used};
        if (val) eval_batches(m, val, batch, &b, idx, &e.val_loss, &e.val_acc);
        if (test) eval_batches(m, test, batch, &b, idx, &e.test_loss, &e.test_acc);
        e.seconds = now_seconds() - t0;
        sn_schedule_observe(&sched, monitored(&e, sched.c.monitor));
        if ((s = history_row(hist, &e, cko ? &ck : NULL, err)) != SN_OK) break;
        int stop = hooks && hooks->on_epoch ? hooks->on_epoch(hooks->ctx, &e) : 0;
        if (early) {
            double v = monitored(&e, c->monitor);
            int better = acc_mode ? v > best + c->min_delta : v < best - c->min_delta;
            if (better) {
                best = v;
                since_best = 0;
                have_best = 1;
                if (restore) snapshot_copy(m, snap, 0);
            } else if (++since_best >= c->patience) {
                stop = 1;
            }
        }
        int halt = !stop && epoch < c->epochs && sn_ckpt_stop_requested(ckopt);
        if (halt || sn_ckpt_due(cko, epoch, c->epochs, stop)) {
            ck.epoch = epoch + 1, ck.batch = 0, ck.finished = stop, ck.shuffle = shuffle;
            ck.sum = ck.reg_sum = 0, ck.correct = 0, ck.last_lr = last_lr, ck.best = best;
            ck.since_best = since_best, ck.have_best = have_best;
            s = sn_ckpt_point(cko, m, opt, &sched, &ck, restore ? snap : NULL, halt, err);
        }
        if (stop || s != SN_OK) break;
    }
    if (s == SN_OK && restore && have_best) snapshot_copy(m, snap, 1);
    if (hist && fclose(hist) != 0 && s == SN_OK)
        s = sn_fail(err, SN_ERR_IO, "%s: write error", history_csv);
    for (int i = 0; i < m->nparams; i++) sn_tensor_free(&snap[i]);
    sn_ckpt_free(&ck);
    sn_free(idx);
    batch_buf_free(&b);
    sn_optimizer_free(opt);
    sn_guard_free(&guard);
    return s;
}
