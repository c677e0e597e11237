/* Optimizer state and the step over all trained parameters, with the 1/t
 * decay lr_t = lr / (1 + decay·t) of the learning rate for every rule. The
 * state lives in plain tensors with PyTorch's names, so that checkpoints can
 * save and restore it. */
#include "core/threads.h"
#include "model/model.h"
#include "optim/optim.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    sn_optim_kind kind;
} names[] = {{"sgd", SN_OPT_SGD},
             {"adagrad", SN_OPT_ADAGRAD},
             {"rmsprop", SN_OPT_RMSPROP},
             {"adam", SN_OPT_ADAM},
             {"adamw", SN_OPT_ADAMW}};

int sn_optim_parse(const char *name) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) return (int)names[i].kind;
    return -1;
}

void sn_optimizer_free(sn_optimizer *o) {
    if (!o) return;
    for (int k = 0; k < SN_OPT_MAX_STATE; k++) {
        for (int i = 0; o->state[k] && i < o->nparams; i++) sn_tensor_free(&o->state[k][i]);
        sn_free(o->state[k]);
    }
    sn_free(o->params);
    sn_free(o);
}

/* The state tensors each rule keeps, by PyTorch's names. */
static int state_kinds(const sn_train_config *c, sn_optim_kind kind, const char **out) {
    int n = 0;
    switch (kind) {
    case SN_OPT_SGD:
        if (c->momentum != 0.0f) out[n++] = "momentum_buffer";
        break;
    case SN_OPT_ADAGRAD:
        out[n++] = "sum";
        break;
    case SN_OPT_RMSPROP:
        out[n++] = "square_avg";
        if (c->momentum > 0.0f) out[n++] = "momentum_buffer";
        if (c->centered) out[n++] = "grad_avg";
        break;
    case SN_OPT_ADAM:
    case SN_OPT_ADAMW:
        out[n++] = "exp_avg";
        out[n++] = "exp_avg_sq";
        break;
    }
    return n;
}

int sn_optimizer_state_per_param(const sn_train_config *c) {
    const char *names[SN_OPT_MAX_STATE + 2];
    int kind = sn_optim_parse(c->optimizer);
    return kind < 0 ? 0 : state_kinds(c, (sn_optim_kind)kind, names);
}

static sn_status check_config(const sn_train_config *c, sn_error *err) {
    if (!(c->lr >= 0)) return sn_fail(err, SN_ERR_ARG, "optimizer: lr must be >= 0");
    if (!(c->momentum >= 0 && c->momentum < 1))
        return sn_fail(err, SN_ERR_ARG, "optimizer: momentum must be in [0, 1)");
    if (!(c->decay >= 0 && c->lr_decay >= 0 && c->weight_decay >= 0))
        return sn_fail(err, SN_ERR_ARG, "optimizer: decay rates must be >= 0");
    if (!(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1))
        return sn_fail(err, SN_ERR_ARG, "optimizer: betas must be in [0, 1)");
    if (!(c->eps >= 0) || !(c->alpha >= 0 && c->alpha <= 1) || !(c->dampening >= 0))
        return sn_fail(err, SN_ERR_ARG, "optimizer: eps, alpha or dampening out of range");
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        return sn_fail(err, SN_ERR_ARG, "optimizer: Nesterov needs momentum > 0 and dampening 0");
    return SN_OK;
}

sn_status sn_optimizer_new(sn_model *m, const sn_train_config *c, sn_optimizer **out,
                           sn_error *err) {
    *out = NULL;
    int kind = sn_optim_parse(c->optimizer);
    if (kind < 0)
        return sn_fail(err, SN_ERR_ARG,
                       "unknown optimizer '%s' (expected sgd, adagrad, rmsprop, adam or adamw)",
                       c->optimizer);
    sn_status s = check_config(c, err);
    if (s != SN_OK) return s;
    sn_optimizer *o = sn_alloc(1, sizeof *o);
    if (!o) return sn_fail(err, SN_ERR_NOMEM, "optimizer: out of memory");
    o->kind = (sn_optim_kind)kind;
    o->cfg = *c;
    o->lr = c->lr;
    o->nstate = state_kinds(c, o->kind, o->state_names);
    o->params_gen = &m->params_gen;
    int n = m->nparams ? m->nparams : 1;
    o->params = sn_alloc((size_t)n, sizeof *o->params);
    s = o->params ? SN_OK : sn_fail(err, SN_ERR_NOMEM, "optimizer: out of memory");
    for (int i = 0; s == SN_OK && i < m->nparams; i++)
        if (!m->params[i]->buffer) o->params[o->nparams++] = m->params[i];
    for (int k = 0; s == SN_OK && k < o->nstate; k++) {
        o->state[k] = sn_alloc((size_t)n, sizeof(sn_tensor));
        if (!o->state[k]) s = sn_fail(err, SN_ERR_NOMEM, "optimizer: out of memory");
        for (int i = 0; s == SN_OK && i < o->nparams; i++) {
            sn_tensor *w = &o->params[i]->value;
            s = sn_tensor_alloc(&o->state[k][i], w->ndim, w->shape, err);
            if (s == SN_OK && o->kind == SN_OPT_ADAGRAD)
                for (size_t j = 0; j < w->size; j++)
                    o->state[k][i].data[j] = c->initial_accumulator_value;
        }
    }
    if (s != SN_OK) {
        sn_optimizer_free(o);
        return s;
    }
    *out = o;
    return SN_OK;
}

float sn_optimizer_lr(const sn_optimizer *o) {
    return o->lr / (1.0f + o->cfg.decay * (float)o->step);
}

void sn_optimizer_set_lr(sn_optimizer *o, float lr) {
    o->lr = lr;
}

long sn_optimizer_steps(const sn_optimizer *o) {
    return o->step;
}

void sn_optimizer_set_steps(sn_optimizer *o, long steps) {
    o->step = steps;
}

int sn_optimizer_num_state(const sn_optimizer *o) {
    return o->nstate * o->nparams;
}

sn_tensor *sn_optimizer_state(sn_optimizer *o, int i, char *name, size_t len) {
    if (i < 0 || i >= o->nstate * o->nparams) return NULL;
    int p = i / o->nstate, k = i % o->nstate;
    if (name) snprintf(name, len, "state.%d.%s", p, o->state_names[k]);
    return &o->state[k][p];
}

/* The step is element by element, so no value depends on how the
 * parameters are cut. Each parameter is cut into one contiguous part per
 * thread (on 16-value bounds) and each part into blocks of at most
 * STEP_BLOCK values; the chunks handed to the thread team
 * (src/core/threads.h) are the blocks of part 0 of every parameter, then
 * those of part 1, and so on, as many for every part. The team runs chunk c
 * of C on thread c·T/C when that thread keeps up, so thread t steps the t-th
 * part of every parameter: for a dense layer, the rows of the weights (its
 * band of output units) that the same thread reads in the next forward
 * product and whose gradients it has just computed, so they stay in its
 * core's cache. Models under STEP_MT_MIN values step on the calling thread. */
#define STEP_BLOCK  ((size_t)16384)
#define STEP_MT_MIN ((size_t)65536)

typedef struct {
    sn_optimizer *o;
    float lr;
    long t;
    const sn_train_config *nowd;
    int parts, per_part; /* parts (threads) and chunks per part */
} step_job;

/* Values [lo, lo + n) of parameter i. */
static void step_range(const step_job *j, int i, size_t lo, size_t n) {
    sn_optimizer *o = j->o;
    sn_param *p = o->params[i];
    const sn_train_config *c = p->decay ? &o->cfg : j->nowd;
    float *w = p->value.data + lo, *s0 = o->nstate > 0 ? o->state[0][i].data + lo : NULL;
    float *s1 = o->nstate > 1 ? o->state[1][i].data + lo : NULL;
    const float *g = p->grad.data + lo;
    const float lr = j->lr;
    const long t = j->t;
    switch (o->kind) {
    case SN_OPT_SGD:
        sn_sgd_update(c, lr, o->step, w, g, s0, n);
        break;
    case SN_OPT_ADAGRAD:
        sn_adagrad_update(c, lr, t, w, g, s0, n);
        break;
    case SN_OPT_RMSPROP: {
        float *b = c->momentum > 0 ? s1 : NULL;
        float *gbar = c->centered ? o->state[o->nstate - 1][i].data + lo : NULL;
        sn_rmsprop_update(c, lr, w, g, s0, b, gbar, n);
        break;
    }
    case SN_OPT_ADAM:
        sn_adam_update(c, lr, t, w, g, s0, s1, n);
        break;
    case SN_OPT_ADAMW:
        sn_adamw_update(c, lr, t, w, g, s0, s1, n);
        break;
    }
}

void sn_optim_part_of(size_t n, int part, int parts, size_t *lo, size_t *hi) {
    *lo = part == 0 ? 0 : (n * (size_t)part / (size_t)parts) & ~(size_t)15;
    *hi = part == parts - 1 ? n : (n * (size_t)(part + 1) / (size_t)parts) & ~(size_t)15;
}

/* Blocks of any part of parameter p (a part is at most n/parts + 16 long). */
static size_t part_blocks(const sn_param *p, int parts) {
    size_t most = p->value.size / (size_t)parts + 16;
    return (most + STEP_BLOCK - 1) / STEP_BLOCK;
}

static void step_chunk(void *ctx, int chunk) {
    const step_job *j = ctx;
    int part = chunk / j->per_part;
    size_t c = (size_t)(chunk % j->per_part);
    for (int i = 0; i < j->o->nparams; i++) {
        size_t blocks = part_blocks(j->o->params[i], j->parts);
        if (c < blocks) {
            size_t lo, hi;
            sn_optim_part_of(j->o->params[i]->value.size, part, j->parts, &lo, &hi);
            lo += c * STEP_BLOCK;
            if (lo < hi) step_range(j, i, lo, hi - lo < STEP_BLOCK ? hi - lo : STEP_BLOCK);
            return;
        }
        c -= blocks;
    }
}

void sn_optimizer_step(sn_optimizer *o) {
    sn_train_config nowd = o->cfg; /* for tensors without weight decay (biases, norms) */
    nowd.weight_decay = 0.0f;
    step_job j = {o, sn_optimizer_lr(o), o->step + 1, &nowd, sn_get_threads(), 0};
    ++*o->params_gen;
    size_t total = 0, blocks = 0;
    for (int i = 0; i < o->nparams; i++) {
        total += o->params[i]->value.size;
        blocks += part_blocks(o->params[i], j.parts);
    }
    j.per_part = (int)blocks;
    if (total >= STEP_MT_MIN && j.parts > 1 && blocks * (size_t)j.parts <= SN_MAX_CHUNKS)
        sn_parallel((int)blocks * j.parts, step_chunk, &j);
    else
        for (int i = 0; i < o->nparams; i++) step_range(&j, i, 0, o->params[i]->value.size);
    o->step++;
}
