/* The table batch source of the training loop (loop.h): samples in memory
 * (images, CSV rows), shuffled each epoch by the loop's seeded generator and
 * gathered into mini-batches; validation and test sets evaluated after each
 * epoch. With data-parallel hooks (sn_train_dist), each rank gathers its
 * share of every global batch and evaluates its share of each set. */
#include "data/dataset.h"
#include "data/pipeline.h"
#include "dist/dist.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "train/loop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Copies samples idx[0..n) of d into the model's input buffer and their
 * labels / targets into the given buffers; the inputs from bytes, d->x's
 * pixels as sn_pixels_to_bytes gave them, when not NULL. */
static void gather(const sn_dataset *d, const unsigned char *bytes, const int *idx, int n, float *x,
                   int *labels, float *targets) {
    if (bytes)
        sn_gather_rows_bytes(x, bytes, idx, n, d->sample_size);
    else
        sn_gather_rows(x, d->x, idx, n, d->sample_size);
    for (int i = 0; i < n; i++) {
        size_t s = (size_t)idx[i];
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

/* Mean loss and accuracy of m over d (this rank's share of it, the sums
 * reduced over the ranks). */
static sn_status eval_batches(sn_model *m, const sn_dataset *d, int batch, batch_buf *b, int *idx,
                              const sn_train_hooks *hooks, double *loss, double *acc,
                              sn_error *err) {
    const sn_train_dist *dist = hooks ? hooks->dist : NULL;
    int lo = 0, hi = d->n;
    if (dist && dist->size > 1)
        lo = (int)((long)d->n * dist->rank / dist->size),
        hi = (int)((long)d->n * (dist->rank + 1) / dist->size);
    double sums[3] = {0, 0, hi - lo}; /* loss·n, correct, n */
    for (int i = lo; i < hi; i++) idx[i - lo] = i;
    sn_status s = SN_OK;
    for (int start = 0; s == SN_OK && start < hi - lo; start += batch) {
        int n = hi - lo - start < batch ? hi - lo - start : batch;
        gather(d, NULL, idx + start, n, m->act[0].data, b->labels, b->targets);
        if ((s = sn_model_forward(m, m->act[0].data, n, 0, err)) != SN_OK) return s;
        const int *lab = d->labels ? b->labels : NULL;
        const float *tgt = d->targets ? b->targets : NULL;
        sums[0] += sn_model_loss(m, lab, tgt) * n;
        if (lab) sums[1] += (double)sn_model_correct(m, lab);
    }
    s = sn_loop_reduce(hooks, sums, 3, err);
    *loss = sums[0] / sums[2];
    *acc = d->labels ? sums[1] / sums[2] : NAN;
    return s;
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
    if (s == SN_OK) s = eval_batches(m, d, batch, &b, idx, NULL, loss, acc, err);
    sn_free(idx);
    batch_buf_free(&b);
    return s;
}

/* ---- the batch source ---------------------------------------------------- */

typedef struct table_source {
    const sn_dataset *train, *val, *test;
    int batch;
    batch_buf b;
    int *idx; /* the epoch's order of the training samples; evaluation's too */
    const sn_train_dist *dist;
    unsigned char *bytes; /* the training images' pixels, or NULL (pixel_bytes) */
} table_source;

/* The training set's inputs as bytes when they are 8-bit pixels (the IDX
 * and CIFAR-10 readers' images, checked value by value): each batch is then
 * gathered from a quarter of the memory (kernels/ops.c), with the same
 * floats. Anything else, or no memory for the copy, keeps the floats. */
static unsigned char *pixel_bytes(const sn_dataset *d) {
    size_t n = (size_t)d->n * d->sample_size;
    if (!d->pixels || !d->x || n == 0) return NULL;
    unsigned char *b = sn_alloc(n, 1);
    if (b && !sn_pixels_to_bytes(d->x, n, b)) {
        sn_free(b);
        b = NULL;
    }
    return b;
}

static void table_epoch_begin(void *ctx, sn_model *m, sn_rng *shuffle, int resumed) {
    table_source *t = ctx;
    (void)m, (void)resumed; /* a resumed epoch replays its shuffle */
    for (int i = 0; i < t->train->n; i++) t->idx[i] = i;
    sn_rng_shuffle(shuffle, t->idx, t->train->n);
}

static int table_batch(void *ctx, sn_model *m, int bi, const int **labels, const float **targets,
                       int *global_rows) {
    table_source *t = ctx;
    int start = bi * t->batch, n = t->train->n - start < t->batch ? t->train->n - start : t->batch;
    int lo = 0, hi = n;
    if (t->dist && t->dist->size > 1) /* this rank's share */
        lo = (int)((long)n * t->dist->rank / t->dist->size),
        hi = (int)((long)n * (t->dist->rank + 1) / t->dist->size);
    sn_dist_set_share(lo, hi - lo, n); /* weights, dropout masks: dist.h */
    gather(t->train, t->bytes, t->idx + start + lo, hi - lo, m->act[0].data, t->b.labels,
           t->b.targets);
    *labels = t->train->labels ? t->b.labels : NULL;
    *targets = t->train->targets ? t->b.targets : NULL;
    *global_rows = n;
    return hi - lo;
}

static sn_status table_evaluate(void *ctx, sn_model *m, const sn_train_hooks *hooks,
                                sn_epoch_stats *e, sn_error *err) {
    table_source *t = ctx;
    sn_status s = SN_OK;
    if (t->val)
        s = eval_batches(m, t->val, t->batch, &t->b, t->idx, hooks, &e->val_loss, &e->val_acc, err);
    if (s == SN_OK && t->test)
        s = eval_batches(m, t->test, t->batch, &t->b, t->idx, hooks, &e->test_loss, &e->test_acc,
                         err);
    return s;
}

static void table_history_row(const sn_epoch_stats *e, char *buf, size_t len) {
    snprintf(buf, len, "%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%.6g,%d", e->epoch, e->step,
             e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->test_loss, e->test_acc, e->lr,
             e->seconds, e->reg_loss, e->skipped);
}

sn_status sn_train(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                   const sn_dataset *test, const sn_train_hooks *hooks, const char *history_csv,
                   sn_error *err) {
    return sn_train_checkpointed(m, train, val, test, hooks, history_csv, NULL, err);
}

static sn_status train_loop(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                            const sn_dataset *test, const sn_train_hooks *hooks,
                            const char *history_csv, const sn_checkpoint_options *ckopt,
                            sn_error *err);

/* The validation split and the input pipeline first (data/pipeline.c). */
sn_status sn_train_checkpointed(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                                const sn_dataset *test, const sn_train_hooks *hooks,
                                const char *history_csv, const sn_checkpoint_options *ckopt,
                                sn_error *err) {
    sn_dataset own_train, own_val;
    sn_status s = sn_train_prepare(m, &train, &val, &own_train, &own_val, err);
    if (s == SN_OK) s = train_loop(m, train, val, test, hooks, history_csv, ckopt, err);
    sn_dataset_free(&own_train);
    sn_dataset_free(&own_val);
    return s;
}

static sn_status train_loop(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                            const sn_dataset *test, const sn_train_hooks *hooks,
                            const char *history_csv, const sn_checkpoint_options *ckopt,
                            sn_error *err) {
    const sn_train_config *c = &m->cfg;
    table_source t = {.train = train, .val = val, .test = test};
    t.dist = hooks ? hooks->dist : NULL;
    t.batch = c->batch < train->n ? c->batch : train->n;
    if (t.batch < 1) t.batch = 1;
    int largest = train->n;
    if (val && val->n > largest) largest = val->n;
    if (test && test->n > largest) largest = test->n;

    sn_status s = check_fits(m, train, "training", err);
    if (s == SN_OK && val) s = check_fits(m, val, "validation", err);
    if (s == SN_OK && test) s = check_fits(m, test, "test", err);
    if (s == SN_OK && train->n < 1) s = sn_fail(err, SN_ERR_ARG, "training set is empty");
    if (s == SN_OK) s = sn_model_reserve(m, t.batch, err);
    if (s == SN_OK) s = batch_buf_init(&t.b, m, t.batch, err);
    if (s == SN_OK && !(t.idx = sn_alloc((size_t)largest, sizeof(int))))
        s = sn_fail(err, SN_ERR_NOMEM, "training: out of memory");
    if (s == SN_OK) t.bytes = pixel_bytes(train);
    sn_batch_source src = {.ctx = &t,
                           .trainer = "table",
                           .nbatches = (train->n + t.batch - 1) / t.batch,
                           .samples = train->n,
                           .labels = train->labels != NULL,
                           .has_val = val != NULL,
                           .val_hint = "set val_split",
                           .epoch_begin = table_epoch_begin,
                           .batch = table_batch,
                           .evaluate = table_evaluate,
                           .history_header = "epoch,step,train_loss,train_acc,val_loss,val_acc,"
                                             "test_loss,test_acc,lr,seconds,reg_loss,skipped",
                           .history_row = table_history_row};
    if (s == SN_OK) s = sn_loop_run(m, &src, hooks, history_csv, ckopt, err);
    sn_dist_set_share(0, 0, 0);
    sn_free(t.idx);
    sn_free(t.bytes);
    batch_buf_free(&t.b);
    return s;
}
