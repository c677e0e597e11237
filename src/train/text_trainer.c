/* The sequence training loop for text models (truncated backpropagation
 * through time over parallel streams).
 *
 * The n tokens are cut into N = cfg.batch streams, stream s being the slice
 * ids[s·S .. s·S + S] with S = ⌊(n − 1) / N⌋ steps (the last n − 1 − N·S
 * tokens are left out). Batch b holds steps t = bT .. bT + T_b − 1 of every
 * stream, time-major (row t·N + s), T_b = min(T, S − bT):
 *
 *   x[t, s] = ids[s·S + bT + t]        label[t, s] = ids[s·S + bT + t + 1]
 *
 * One step (all buffers allocated before the first epoch):
 *   forward (train), mean cross-entropy over the T_b·N tokens, backward
 *   guard: loss and g finite, not exploding (else stop, or skip the batch
 *   and reset the state: guard.h)
 *   g += ∂R/∂θ (L1/L2), clip by value, then by global norm
 *   lr = schedule(epoch, step), optimizer update
 *   carry the recurrent state into the next batch (its gradient stops here)
 * The state is reset at the start of every epoch and of every evaluation. */
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

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sn_text_options_default(sn_text_options *o) {
    memset(o, 0, sizeof *o);
    o->seq_len = 50;
    o->sample_length = 200;
    o->temperature = 0.8f;
    o->keep_best = 1;
}

/* N parallel streams over a token sequence. */
typedef struct streams {
    const int *ids;
    int N;
    size_t S; /* steps per stream */
} streams;

static sn_status streams_init(streams *st, const int *ids, size_t n, int N, const char *what,
                              sn_error *err) {
    if (N < 1) return sn_fail(err, SN_ERR_ARG, "the number of streams (batch) must be >= 1");
    if (n < 2)
        return sn_fail(err, SN_ERR_ARG,
                       "the %s text has %zu token%s; it needs at least 2 (a step and its target)",
                       what, n, n == 1 ? "" : "s");
    if ((n - 1) / (size_t)N < 1)
        return sn_fail(err, SN_ERR_ARG,
                       "the %s text has %zu tokens, too few for %d streams (batch %d) of at "
                       "least one step each; use a longer text or a batch of at most %zu",
                       what, n, N, N, n > 1 ? n - 1 : 0);
    st->ids = ids;
    st->N = N;
    st->S = (n - 1) / (size_t)N;
    return SN_OK;
}

static int nbatches_of(const streams *st, int T) {
    return (int)((st->S + (size_t)T - 1) / (size_t)T);
}

/* Batch b into x (token ids as floats) and labels; returns its T_b. */
static int fill_batch(const streams *st, int b, int T, float *x, int *labels) {
    size_t t0 = (size_t)b * T;
    int Tb = st->S - t0 < (size_t)T ? (int)(st->S - t0) : T, N = st->N;
    for (int t = 0; t < Tb; t++) {
        for (int s = 0; s < N; s++) {
            const int *p = st->ids + (size_t)s * st->S + t0 + (size_t)t;
            x[t * N + s] = (float)p[0];
            labels[t * N + s] = p[1];
        }
    }
    return Tb;
}

/* Mean loss per token over all batches of `st`, from a zero state. */
static double eval_streams(sn_model *m, const streams *st, int T, int *labels) {
    double sum = 0;
    size_t tokens = 0;
    sn_model_reset_state(m);
    for (int b = 0; b < nbatches_of(st, T); b++) {
        int Tb = fill_batch(st, b, T, m->act[0].data, labels), rows = Tb * st->N;
        sn_model_set_seq_len(m, Tb);
        sn_model_forward(m, m->act[0].data, rows, 0);
        sum += sn_model_loss(m, labels, NULL) * rows;
        tokens += (size_t)rows;
        sn_model_carry_state(m);
    }
    sn_model_reset_state(m);
    return sum / (double)tokens;
}

/* The model takes one token id per row and predicts one of K tokens. */
static sn_status check_model(const sn_model *m, const sn_vocab *v, sn_error *err) {
    if (sn_model_input_size(m) != 1)
        return sn_fail(err, SN_ERR_SHAPE,
                       "a text model takes one token id per step ('input 1', then embedding or "
                       "onehot); this one takes %zu values",
                       sn_model_input_size(m));
    if (m->loss != SN_LOSS_SOFTMAX_XENT)
        return sn_fail(err, SN_ERR_ARG, "a text model needs 'loss softmax_xent', not %s",
                       sn_loss_name(m->loss));
    if (v && sn_vocab_size(v) != sn_model_output_size(m))
        return sn_fail(err, SN_ERR_SHAPE, "the model has %d outputs, the vocabulary %d tokens",
                       sn_model_output_size(m), sn_vocab_size(v));
    return SN_OK;
}

static sn_status check_ids(const int *ids, size_t n, int K, const char *what, sn_error *err) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= K)
            return sn_fail(err, SN_ERR_ARG, "%s text: token %zu has id %d, outside 0..%d", what, i,
                           ids[i], K - 1);
    return SN_OK;
}

sn_status sn_text_evaluate(sn_model *m, const int *ids, size_t n, int seq_len, int streams_n,
                           double *loss, sn_error *err) {
    streams st = {0};
    sn_status s = check_model(m, NULL, err);
    if (s == SN_OK) s = check_ids(ids, n, sn_model_output_size(m), "evaluation", err);
    if (s == SN_OK && seq_len < 1) s = sn_fail(err, SN_ERR_ARG, "sequence length must be >= 1");
    if (s == SN_OK) s = streams_init(&st, ids, n, streams_n, "evaluation", err);
    if (s == SN_OK && (size_t)seq_len > st.S) seq_len = (int)st.S;
    if (s == SN_OK) s = sn_model_reserve(m, seq_len * st.N, err);
    int *labels = s == SN_OK ? sn_alloc((size_t)seq_len * st.N, sizeof(int)) : NULL;
    if (s == SN_OK && !labels) s = sn_fail(err, SN_ERR_NOMEM, "evaluation: out of memory");
    if (s == SN_OK) *loss = eval_streams(m, &st, seq_len, labels);
    sn_free(labels);
    return s;
}

static FILE *history_open(const char *path, sn_error *err) {
    FILE *f = fopen(path, "w");
    if (!f) {
        sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "epoch,step,train_loss,train_bits,val_loss,val_bits,val_perplexity,lr,seconds,"
               "tokens_per_s,elapsed,cpu_seconds,skipped\n");
    return f;
}

#define LN2 0.69314718055994531 /* nats per bit */

/* One row into f (may be NULL) and, when checkpointing (k != NULL), into
 * the rows a checkpoint keeps. */
static sn_status history_row(FILE *f, const sn_text_epoch_stats *e, double elapsed, sn_ckpt *k,
                             sn_error *err) {
    char row[512];
    snprintf(row, sizeof row, "%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%.1f,%.1f,%.1f,%d\n",
             e->epoch, e->step, e->train_loss, e->train_loss / LN2, e->val_loss, e->val_loss / LN2,
             exp(e->val_loss), e->lr, e->seconds, e->tokens_per_s, elapsed, e->cpu_seconds,
             e->skipped);
    if (f) {
        fputs(row, f);
        fflush(f);
    }
    return k ? sn_ckpt_history_add(k, row, err) : SN_OK;
}

/* Copies every parameter into (restore = 0) or out of snap. */
static void snapshot(sn_model *m, sn_tensor *snap, int restore) {
    for (int i = 0; i < m->nparams; i++) {
        sn_tensor *w = &m->params[i]->value;
        if (restore)
            memcpy(w->data, snap[i].data, w->size * sizeof(float));
        else
            memcpy(snap[i].data, w->data, w->size * sizeof(float));
    }
}

static int has_penalty(const sn_model *m) {
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer && (m->params[i]->l1 != 0 || m->params[i]->l2 != 0)) return 1;
    return 0;
}

static void sample(sn_model *m, const sn_vocab *v, const sn_text_options *o, int epoch,
                   const sn_text_hooks *h) {
    sn_sample_options so = {o->sample_length, o->temperature, 0, 0, m->cfg.seed + (uint64_t)epoch};
    char *text = NULL;
    sn_error e = {0};
    if (sn_text_generate(m, v, o->prime, &so, &text, &e) == SN_OK)
        h->on_sample(h->ctx, epoch, text);
    else
        h->on_sample(h->ctx, epoch, e.msg);
    sn_free(text);
}

sn_status sn_text_train(sn_model *m, const sn_vocab *v, const int *train, size_t ntrain,
                        const int *val, size_t nval, const sn_text_options *o,
                        const sn_text_hooks *hooks, const char *history_csv, sn_error *err) {
    return sn_text_train_checkpointed(m, v, train, ntrain, val, nval, o, hooks, history_csv, NULL,
                                      err);
}

sn_status sn_text_train_checkpointed(sn_model *m, const sn_vocab *v, const int *train,
                                     size_t ntrain, const int *val, size_t nval,
                                     const sn_text_options *o, const sn_text_hooks *hooks,
                                     const char *history_csv, const sn_checkpoint_options *ckopt,
                                     sn_error *err) {
    const sn_train_config *c = &m->cfg;
    int T = o->seq_len, K = sn_model_output_size(m);
    streams tr = {0}, va = {0};
    sn_optimizer *opt = NULL;
    sn_guard guard = {0};
    sn_schedule sched;
    int *labels = NULL, have_val = val && nval > 0;
    FILE *hist = NULL;
    sn_tensor snap[SN_MAX_LAYERS * SN_MAX_PARAMS];
    memset(snap, 0, sizeof snap);
    const int keep_best = o->keep_best && have_val, early = c->patience > 0;

    sn_status s = check_model(m, v, err);
    if (s == SN_OK && T < 1)
        s = sn_fail(err, SN_ERR_ARG, "sequence length must be >= 1, got %d", T);
    if (s == SN_OK && strstr(c->monitor, "_acc"))
        s = sn_fail(err, SN_ERR_ARG, "text training measures losses only; monitor val_loss");
    if (s == SN_OK) s = check_ids(train, ntrain, K, "training", err);
    if (s == SN_OK && have_val) s = check_ids(val, nval, K, "validation", err);
    if (s == SN_OK) s = streams_init(&tr, train, ntrain, c->batch, "training", err);
    if (s == SN_OK && have_val)
        s = streams_init(&va, val, nval,
                         nval > 1 && (size_t)c->batch > nval - 1 ? (int)(nval - 1) : c->batch,
                         "validation", err);
    const int nb = s == SN_OK ? nbatches_of(&tr, T) : 0;
    if (s == SN_OK) s = sn_schedule_init(&sched, c, nb, err);
    if (s == SN_OK && strstr(sched.c.monitor, "_acc"))
        s = sn_fail(err, SN_ERR_ARG,
                    "text training measures losses only; the plateau schedule "
                    "must monitor val_loss or train_loss");
    if (s == SN_OK) s = sn_model_reserve(m, T * c->batch, err);
    if (s == SN_OK) s = sn_optimizer_new(m, c, &opt, err);
    if (s == SN_OK) s = sn_guard_init(&guard, m, c, err);
    if (s == SN_OK && !(labels = sn_alloc((size_t)T * c->batch, sizeof(int))))
        s = sn_fail(err, SN_ERR_NOMEM, "training: out of memory");
    for (int i = 0; s == SN_OK && keep_best && i < m->nparams; i++)
        s = sn_tensor_alloc(&snap[i], m->params[i]->value.ndim, m->params[i]->value.shape, err);

    const int penalty = has_penalty(m);
    const char *mon = have_val && strcmp(sched.c.monitor, "train_loss") != 0 ? "val" : "train";
    double best = INFINITY, t_start = now_seconds();
    int since_best = 0, out_of_time = 0;
    /* Checkpoints (checkpoint.c): a resumed training takes up the loop at
     * ck.epoch, batch ck.batch, with the recurrent state carried there. */
    const sn_checkpoint_options *cko = ckopt && ckopt->path ? ckopt : NULL;
    sn_ckpt ck = {
        .trainer = "text", .epoch = 1, .nbatches = nb, .samples = (long)ntrain, .guard = &guard};
    if (s == SN_OK && ckopt && ckopt->resume) {
        s = sn_ckpt_load(ckopt->resume, m, opt, &sched, &ck, keep_best ? snap : NULL, err);
        best = ck.best, since_best = ck.since_best;
    }
    if (s == SN_OK && history_csv && !(hist = history_open(history_csv, err))) s = err->code;
    if (hist && ck.history) fputs(ck.history, hist);
    int resume_batch = ck.batch;
    for (int epoch = ck.epoch; s == SN_OK && !ck.finished && epoch <= c->epochs && !out_of_time;
         epoch++) {
        double t0 = now_seconds(), sum = 0;
        size_t tokens = 0;
        float last_lr = sn_optimizer_lr(opt);
        int first = resume_batch;
        size_t tokens0 = 0;   /* the epoch's tokens before a resume (not timed here) */
        if (resume_batch > 0) /* the state carried there was restored */
            sum = ck.sum, tokens = tokens0 = (size_t)ck.count, last_lr = ck.last_lr;
        else
            sn_model_reset_state(m);
        resume_batch = 0;
        for (int b = first; b < nb; b++) {
            int Tb = fill_batch(&tr, b, T, m->act[0].data, labels), rows = Tb * tr.N;
            sn_optimizer_set_lr(opt, sn_schedule_lr(&sched, epoch - 1, sn_optimizer_steps(opt)));
            sn_model_set_seq_len(m, Tb);
            sn_guard_begin(&guard);
            sn_model_forward(m, m->act[0].data, rows, 1);
            double loss = sn_model_backward(m, labels, NULL);
            const int refused =
                sn_guard_check(&guard, loss, epoch, b + 1, sn_optimizer_steps(opt) + 1,
                               sn_optimizer_lr(opt), err) != SN_OK;
            if (refused && !sn_guard_skip(&guard, rows)) {
                s = SN_ERR_NUMERIC;
                break;
            }
            if (!refused) {
                if (penalty) sn_model_regularize(m);
                if (c->clip_value > 0) sn_clip_grad_value(m, c->clip_value);
                if (c->clip_norm > 0) sn_clip_grad_norm(m, c->clip_norm);
                last_lr = sn_optimizer_lr(opt);
                sn_optimizer_step(opt);
                sn_model_carry_state(m);
                sum += loss * rows;
                tokens += (size_t)rows;
                double elapsed = now_seconds() - t0;
                if (hooks && hooks->on_batch)
                    hooks->on_batch(hooks->ctx, epoch, b + 1, nb, sum / (double)tokens,
                                    (double)(tokens - tokens0) / (elapsed + 1e-9));
            }
            /* after every batch, a skipped one too; every_steps counts
             * optimizer steps (a skipped batch is none) */
            int halt = sn_ckpt_stop_requested(ckopt);
            if (halt ||
                (!refused && cko && cko->every_steps > 0 && opt->step % cko->every_steps == 0)) {
                ck.epoch = epoch, ck.batch = b + 1, ck.sum = sum, ck.count = (double)tokens;
                ck.last_lr = last_lr, ck.best = best, ck.since_best = since_best;
                s = sn_ckpt_point(cko, m, opt, &sched, &ck, keep_best ? snap : NULL, halt, err);
                if (s != SN_OK) break;
            }
            if (o->max_seconds > 0 && now_seconds() - t_start >= o->max_seconds) {
                out_of_time = b + 1 < nb || epoch < c->epochs;
                break;
            }
        }
        if (s == SN_OK) s = sn_guard_epoch_end(&guard, epoch, err);
        if (s != SN_OK) break;
        double train_seconds = now_seconds() - t0;
        sn_text_epoch_stats e = {.epoch = epoch,
                                 .step = sn_optimizer_steps(opt),
                                 .train_loss = sum / (double)tokens,
                                 .val_loss = NAN,
                                 .lr = last_lr,
                                 .tokens_per_s =
                                     (double)(tokens - tokens0) / (train_seconds + 1e-9),
                                 .partial = out_of_time,
                                 .skipped = sn_guard_skipped(&guard, epoch)};
        if (have_val) e.val_loss = eval_streams(m, &va, T, labels);
        double watched = mon[0] == 'v' ? e.val_loss : e.train_loss;
        sn_schedule_observe(&sched, watched);
        if (v && hooks && hooks->on_sample && o->sample_every > 0 && epoch % o->sample_every == 0)
            sample(m, v, o, epoch, hooks);
        e.seconds = now_seconds() - t0;
        e.cpu_seconds = cpu_seconds();
        s = history_row(hist, &e, now_seconds() - t_start, cko ? &ck : NULL, err);
        if (s != SN_OK) break;
        int stop = hooks && hooks->on_epoch ? hooks->on_epoch(hooks->ctx, &e) : 0;
        if (watched < best - c->min_delta) {
            best = watched;
            since_best = 0;
            if (keep_best) snapshot(m, snap, 0);
        } else if (early && ++since_best >= c->patience) {
            stop = 1;
        }
        int halt = !stop && epoch < c->epochs && !out_of_time && sn_ckpt_stop_requested(ckopt);
        if (halt || sn_ckpt_due(cko, epoch, c->epochs, stop || out_of_time)) {
            /* out of time mid-epoch: that epoch is over (as the history says) */
            ck.epoch = epoch + 1, ck.batch = 0, ck.finished = stop, ck.sum = ck.count = 0;
            ck.last_lr = last_lr, ck.best = best, ck.since_best = since_best;
            s = sn_ckpt_point(cko, m, opt, &sched, &ck, keep_best ? snap : NULL, halt, err);
        }
        if (stop || s != SN_OK) break;
    }
    if (s == SN_OK && keep_best && isfinite(best)) snapshot(m, snap, 1);
    if (hist && fclose(hist) != 0 && s == SN_OK)
        s = sn_fail(err, SN_ERR_IO, "%s: write error", history_csv);
    for (int i = 0; i < m->nparams; i++) sn_tensor_free(&snap[i]);
    sn_ckpt_free(&ck);
    sn_free(labels);
    sn_optimizer_free(opt);
    sn_guard_free(&guard);
    return s;
}
