/* The training loop that table and text training share (src/train/loop.c):
 *
 * - text training honours early_stop (monitor, min_delta, patience,
 *   restore) exactly as table training does: it stops `patience` epochs
 *   after the best epoch and ends with that epoch's weights (or the last
 *   epoch's with restore=0); every epoch's stats name the epoch whose
 *   weights are kept, and on_end hands over that epoch's stats;
 * - with min_delta > 0 the kept epoch is the one the rule picked, not the
 *   one with the lowest loss;
 * - text history rows carry reg_loss (L1/L2 penalty), like table rows;
 * - a history file that cannot be written ends training with SN_ERR_IO;
 * - the time budget (cfg.max_seconds) cuts an epoch short, for table
 *   training too, and counts the time of a resumed training's earlier run;
 * - data-parallel hooks (sn_train_dist, here a transport of two ranks that
 *   reduces nothing): every step calls grads_ready once per layer, from the
 *   last layer down, with the hooks' ctx, then reduce_gradients; the
 *   model's own grads_ready is put back after training. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "check.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EPOCHS = 60 };

typedef struct record {
    int epochs, kept_epoch[MAX_EPOCHS + 1], end_epoch, batches, partial;
    double value[MAX_EPOCHS + 1], reg_loss;
    float *weights[MAX_EPOCHS + 1];
    sn_model *m;
    const char *monitor;
    double sleep_first; /* seconds to sleep in the first on_batch */
} record;

static size_t total_size(const sn_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->nparams; i++) n += m->params[i]->value.size;
    return n;
}

static void copy_params(const sn_model *m, float *dst) {
    for (int i = 0; i < m->nparams; i++) {
        memcpy(dst, m->params[i]->value.data, m->params[i]->value.size * sizeof(float));
        dst += m->params[i]->value.size;
    }
}

static int on_epoch(void *ctx, const sn_epoch_stats *s) {
    record *r = ctx;
    r->epochs = s->epoch;
    r->partial |= s->partial;
    r->reg_loss = s->reg_loss;
    if (s->epoch > MAX_EPOCHS) return 1;
    r->kept_epoch[s->epoch] = s->kept_epoch;
    r->value[s->epoch] = strcmp(r->monitor, "train_loss") == 0 ? s->train_loss : s->val_loss;
    if (r->m) {
        r->weights[s->epoch] = malloc(total_size(r->m) * sizeof(float));
        copy_params(r->m, r->weights[s->epoch]);
    }
    return 0;
}

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double speed) {
    record *r = ctx;
    (void)epoch, (void)batch, (void)nbatches, (void)loss, (void)acc, (void)speed;
    if (r->batches++ == 0 && r->sleep_first > 0) {
        struct timespec d = {0, (long)(r->sleep_first * 1e9)};
        nanosleep(&d, NULL);
    }
}

static void on_end(void *ctx, const sn_epoch_stats *kept) {
    ((record *)ctx)->end_epoch = kept->epoch;
}

static void record_free(record *r) {
    for (int e = 0; e <= MAX_EPOCHS; e++) free(r->weights[e]);
}

/* A text the model over-fits: its training part repeats a short random
 * pattern, its validation part is other random tokens. */
static void make_text(int *ids, int n, uint64_t seed) {
    sn_rng g;
    sn_rng_seed(&g, seed, 7);
    for (int i = 0; i < n; i++) ids[i] = (int)sn_rng_below(&g, 8);
}

static sn_model *text_model(const char *train_lines) {
    char spec[512];
    snprintf(spec, sizeof spec,
             "input 1\nembedding 8 8\nlstm 24\ndense 8\nloss softmax_xent\n[train]\n"
             "optimizer adam lr=0.004\nbatch 4\nepochs %d\nseed 5\n%s\n",
             MAX_EPOCHS, train_lines);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "loop", 0, &m, &err) == SN_OK);
    return m;
}

/* The epoch the early-stopping rule picks from the recorded values. */
static int best_epoch(const record *r, double min_delta) {
    double bv = INFINITY;
    int best = 0;
    min_delta = (float)min_delta; /* the value the configuration holds */
    for (int e = 1; e <= r->epochs; e++)
        if (r->value[e] < bv - min_delta) bv = r->value[e], best = e;
    return best;
}

/* Text training with an early_stop line: stops patience epochs after the
 * best epoch, and the model ends with the kept epoch's weights. */
static void text_early_stop(const char *line, const char *monitor, double min_delta, int patience,
                            int restore) {
    int train[1200], val[400];
    for (int i = 0; i < 1200; i++) train[i] = (i * 5 + i / 7) % 8; /* learnable */
    make_text(val, 400, 3); /* the same pattern, one token in eight random */
    for (int i = 0; i < 400; i++)
        if (i % 8) val[i] = ((i + 1200) * 5 + (i + 1200) / 7) % 8;
    sn_model *m = text_model(line);
    if (!m) return;
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = 10;
    record r = {0};
    r.m = m, r.monitor = monitor;
    sn_train_hooks h = {.ctx = &r, .on_epoch = on_epoch, .on_end = on_end};
    sn_error err = {0};
    CHECK(sn_text_train(m, NULL, train, 1200, val, 400, &o, &h, NULL, &err) == SN_OK);
    int best = best_epoch(&r, min_delta);
    printf("  text %-48s best epoch %2d, stopped after %d\n", line, best, r.epochs);
    CHECK(best >= 1 && r.epochs < MAX_EPOCHS);
    CHECK(r.epochs == best + patience);
    int kept = restore ? best : r.epochs;
    CHECK(r.kept_epoch[r.epochs] == kept);
    CHECK(r.end_epoch == kept);
    float *now = malloc(total_size(m) * sizeof(float));
    copy_params(m, now);
    CHECK(memcmp(now, r.weights[kept], total_size(m) * sizeof(float)) == 0);
    if (kept != r.epochs)
        CHECK(memcmp(now, r.weights[r.epochs], total_size(m) * sizeof(float)) != 0);
    free(now);
    record_free(&r);
    sn_model_free(m);
}

/* min_delta > 0: later epochs improve, by less than min_delta; the kept
 * epoch is the rule's, not the lowest loss's. */
static void text_min_delta(void) {
    int train[1200], val[400];
    for (int i = 0; i < 1200; i++) train[i] = (i * 5 + i / 7) % 8;
    for (int i = 0; i < 400; i++) val[i] = ((i + 1200) * 5 + (i + 1200) / 7) % 8;
    sn_model *m = text_model("early_stop patience=50 min_delta=0.5");
    if (!m) return;
    m->cfg.epochs = 6;
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = 10;
    record r = {0};
    r.m = m, r.monitor = "val_loss";
    sn_train_hooks h = {.ctx = &r, .on_epoch = on_epoch, .on_end = on_end};
    sn_error err = {0};
    CHECK(sn_text_train(m, NULL, train, 1200, val, 400, &o, &h, NULL, &err) == SN_OK);
    int best = best_epoch(&r, 0.5), lowest = 1;
    for (int e = 2; e <= r.epochs; e++)
        if (r.value[e] < r.value[lowest]) lowest = e;
    printf("  text min_delta=0.5: kept epoch %d, lowest val_loss at epoch %d:", r.end_epoch,
           lowest);
    for (int e = 1; e <= r.epochs; e++) printf(" %.3f", r.value[e]);
    printf("\n");
    CHECK(r.epochs == 6 && best >= 1);
    CHECK(lowest != best); /* the case min_delta decides */
    CHECK(r.end_epoch == best && r.kept_epoch[6] == best);
    float *now = malloc(total_size(m) * sizeof(float));
    copy_params(m, now);
    CHECK(memcmp(now, r.weights[best], total_size(m) * sizeof(float)) == 0);
    free(now);
    record_free(&r);
    sn_model_free(m);
}

/* reg_loss: the text history's last column, and the epoch's stats. */
static void text_reg_loss(void) {
    int ids[800];
    make_text(ids, 800, 9);
    sn_model *m = text_model("l2 0.01");
    if (!m) return;
    m->cfg.epochs = 1;
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = 10;
    record r = {0};
    r.monitor = "val_loss";
    sn_train_hooks h = {.ctx = &r, .on_epoch = on_epoch};
    sn_error err = {0};
    char path[] = "/tmp/sn_loop_hist_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(sn_text_train(m, NULL, ids, 700, ids + 700, 100, &o, &h, path, &err) == SN_OK);
    CHECK(r.reg_loss > 0);
    FILE *f = fopen(path, "r");
    char head[512] = "", row[512] = "";
    CHECK(f && fgets(head, sizeof head, f) && fgets(row, sizeof row, f));
    if (f) fclose(f);
    remove(path);
    CHECK(strstr(head, ",skipped,reg_loss\n") != NULL);
    const char *last = strrchr(row, ',');
    CHECK(last && strtod(last + 1, NULL) > 0);
    CHECK(last && fabs(strtod(last + 1, NULL) - r.reg_loss) <= 1e-5 * r.reg_loss);
    sn_model_free(m);
}

static void make_table(sn_dataset *d, int n) {
    memset(d, 0, sizeof *d);
    d->n = n;
    d->ndim = 1;
    d->shape[0] = 4;
    d->sample_size = 4;
    d->num_classes = 2;
    d->x = sn_alloc((size_t)n * 4, sizeof(float));
    d->labels = sn_alloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        d->labels[i] = i % 2;
        for (int j = 0; j < 4; j++) d->x[i * 4 + j] = (float)((i * 7 + j * 3) % 11) / 11 - 0.5f;
    }
}

/* Writing the history fails: training fails with SN_ERR_IO. */
static void history_write_error(void) {
    if (access("/dev/full", W_OK) != 0) {
        printf("  (no /dev/full: history write errors not tested)\n");
        return;
    }
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 4\ndense 2\nloss softmax_xent\n[train]\nbatch 8\nepochs 2\n",
                             "t", 1, &m, &err) == SN_OK);
    sn_dataset d;
    make_table(&d, 32);
    if (m) {
        CHECK(sn_train(m, &d, NULL, NULL, NULL, "/dev/full", &err) == SN_ERR_IO);
        CHECK(strstr(err.msg, "/dev/full") != NULL);
    }
    sn_dataset_free(&d);
    sn_model_free(m);
    int ids[400];
    make_text(ids, 400, 1);
    m = text_model("");
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = 10;
    if (m) {
        m->cfg.epochs = 1;
        CHECK(sn_text_train(m, NULL, ids, 400, NULL, 0, &o, NULL, "/dev/full", &err) == SN_ERR_IO);
    }
    sn_model_free(m);
}

static int stop_after_first(void *ctx) {
    return ((record *)ctx)->batches >= 1;
}

/* The time budget: cuts table training short; a resumed training counts
 * the time its earlier run used. */
static void time_budget(void) {
    sn_dataset d;
    make_table(&d, 256);
    const char *spec = "input 4\ndense 2\nloss softmax_xent\n[train]\nbatch 8\nepochs 3\n";
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "t", 1, &m, &err) == SN_OK);
    record r = {0};
    r.monitor = "train_loss";
    r.sleep_first = 0.3;
    sn_train_hooks h = {.ctx = &r, .on_batch = on_batch, .on_epoch = on_epoch};
    if (m) { /* 32 batches per epoch; the first takes 0.3 s, the budget 0.2 */
        m->cfg.max_seconds = 0.2;
        CHECK(sn_train(m, &d, NULL, NULL, &h, NULL, &err) == SN_OK);
        CHECK(r.batches == 1 && r.epochs == 1 && r.partial == 1);
    }
    sn_model_free(m);

    /* interrupted after its first batch (0.3 s), then resumed with 0.2 s */
    char ck[] = "/tmp/sn_loop_ck_XXXXXX";
    int fd = mkstemp(ck);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    m = NULL;
    CHECK(sn_model_from_spec(spec, "t", 1, &m, &err) == SN_OK);
    memset(&r, 0, sizeof r);
    r.monitor = "train_loss";
    r.sleep_first = 0.3;
    sn_checkpoint_options o = {.path = ck, .stop_requested = stop_after_first, .stop_ctx = &r};
    if (m)
        CHECK(sn_train_checkpointed(m, &d, NULL, NULL, &h, NULL, &o, &err) == SN_ERR_INTERRUPTED);
    sn_model_free(m);
    m = NULL;
    CHECK(sn_model_from_spec(spec, "t", 1, &m, &err) == SN_OK);
    memset(&r, 0, sizeof r);
    r.monitor = "train_loss";
    o.resume = ck;
    o.stop_requested = NULL;
    if (m) {
        m->cfg.max_seconds = 0.2;
        CHECK(sn_train_checkpointed(m, &d, NULL, NULL, &h, NULL, &o, &err) == SN_OK);
        CHECK(r.batches == 0); /* the budget was spent before the resume */
        m->cfg.max_seconds = 0;
    }
    sn_model_free(m);
    /* without a budget, the resumed training goes on */
    m = NULL;
    CHECK(sn_model_from_spec(spec, "t", 1, &m, &err) == SN_OK);
    memset(&r, 0, sizeof r);
    r.monitor = "train_loss";
    if (m) {
        CHECK(sn_train_checkpointed(m, &d, NULL, NULL, &h, NULL, &o, &err) == SN_OK);
        CHECK(r.batches == 3 * 32 - 1 && r.epochs == 3);
    }
    sn_model_free(m);
    remove(ck);
    sn_dataset_free(&d);
}

/* A transport of two ranks that reduces nothing: it records the order of
 * the calls. */
typedef struct fake_dist {
    int nlayers, next, steps, bad_order, bad_ctx, evals;
} fake_dist;

static void fake_ready(void *ctx, int layer) {
    fake_dist *f = ctx;
    f->bad_order += layer != f->next;
    f->next = layer - 1;
}

static sn_status fake_reduce(void *ctx, sn_model *m, double *loss, int rows, int global,
                             sn_error *err) {
    fake_dist *f = ctx;
    (void)m, (void)loss, (void)err;
    f->bad_order += f->next != -1 || rows * 2 != global;
    f->next = f->nlayers - 1;
    f->steps++;
    return SN_OK;
}

static sn_status fake_sums(void *ctx, double *v, int n, sn_error *err) {
    (void)v, (void)n, (void)err;
    ((fake_dist *)ctx)->evals++;
    return SN_OK;
}

static void other_ready(void *ctx, int layer) {
    (void)ctx, (void)layer;
}

static void dist_hooks(void) {
    sn_dataset d;
    make_table(&d, 64);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 4\ndense 6\nrelu\ndense 2\nloss softmax_xent\n[train]\n"
                             "batch 8\nepochs 2\n",
                             "t", 1, &m, &err) == SN_OK);
    if (m) {
        fake_dist f = {.nlayers = m->nlayers, .next = m->nlayers - 1};
        sn_train_dist dist = {.ctx = &f,
                              .rank = 0,
                              .size = 2,
                              .reduce_gradients = fake_reduce,
                              .reduce_sums = fake_sums,
                              .grads_ready = fake_ready};
        sn_train_hooks h = {.dist = &dist};
        m->grads_ready = other_ready, m->grads_ready_ctx = &d;
        CHECK(sn_train(m, &d, NULL, NULL, &h, NULL, &err) == SN_OK);
        CHECK(f.steps == 2 * 8 && f.bad_order == 0 && f.evals >= 2);
        CHECK(m->grads_ready == other_ready && m->grads_ready_ctx == &d);
    }
    sn_model_free(m);
    sn_dataset_free(&d);
}

int main(void) {
    text_early_stop("early_stop patience=3", "val_loss", 0, 3, 1);
    text_early_stop("early_stop patience=3 restore=0", "val_loss", 0, 3, 0);
    text_early_stop("early_stop patience=2 monitor=train_loss min_delta=0.05", "train_loss", 0.05,
                    2, 1);
    text_min_delta();
    text_reg_loss();
    history_write_error();
    time_budget();
    dist_hooks();
    return check_report();
}
