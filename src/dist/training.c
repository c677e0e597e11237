/* The training loop's data-parallel hooks (sn_train_dist, scratchnet.h) on
 * the distributed layer. The loop calls reduce_gradients after backward,
 * before the guard, so every rank's guard sees the same gradients and loss
 * and makes the same decision; reduce_sums after each epoch (evaluation
 * sums, correct answers); grads_ready, which the loop installs on the model
 * for the run, as each layer's backward ends (its buckets start early). */
#include "dist/dist.h"
#include "model/model.h"

struct sn_dist_training {
    sn_train_dist hooks;
    sn_model *m;
    sn_dist_reducer *r;
    long check_every, steps;
    int buffers; /* the model has buffers (running statistics) */
    /* stop requests: this rank's (polled at every step), every rank's
     * (gathered once one asks), the agreed one (0: none) */
    int (*local_stop)(void *ctx);
    void *local_ctx;
    int *codes, stop;
};

static int stopped_together;

int sn_dist_stopped_together(void) {
    return stopped_together;
}

/* One rank or more asked to stop (the sum said so): every rank learns
 * every rank's request and takes the lowest rank's. */
static sn_status agree_stop(sn_dist_training *t, int mine, sn_error *err) {
    sn_status s = sn_dist_allgather(&mine, sizeof mine, t->codes, err);
    for (int r = 0; s == SN_OK && r < t->hooks.size && !t->stop; r++) t->stop = t->codes[r];
    if (s == SN_OK && !t->stop) t->stop = 1; /* asked, then took it back: still a stop */
    if (s == SN_OK) stopped_together = t->stop;
    return s;
}

/* g and loss: this rank's means over `rows` of the batch's `global` rows,
 * into the whole batch's (the reducer weighted g by rows/global already,
 * from sn_dist_set_share). */
static sn_status reduce_gradients(void *ctx, sn_model *m, double *loss, int rows, int global,
                                  sn_error *err) {
    sn_dist_training *t = ctx;
    /* the loss, and how many ranks ask to stop, in one sum */
    int mine = !t->stop && t->local_stop ? t->local_stop(t->local_ctx) : 0;
    double v[2] = {global > 0 ? *loss * rows / global : 0, mine != 0};
    sn_status s = sn_dist_reducer_finish(t->r, err);
    if (s == SN_OK) s = sn_dist_take_error(err);
    if (s == SN_OK) s = sn_dist_sum_f64(v, 2, err);
    if (s == SN_OK && v[1] > 0) s = agree_stop(t, mine, err);
    if (s == SN_OK && t->buffers) s = sn_dist_bcast_buffers(m, err);
    t->steps++;
    if (s == SN_OK && t->check_every > 0 && t->steps % t->check_every == 0)
        s = sn_dist_check_weights(m, t->steps, err);
    *loss = v[0];
    return s;
}

/* A layer's gradients are written: start reducing its buckets. */
static void grads_ready(void *ctx, int layer) {
    sn_dist_grads_ready(((sn_dist_training *)ctx)->r, layer);
}

static sn_status reduce_sums(void *ctx, double *v, int n, sn_error *err) {
    (void)ctx;
    return sn_dist_sum_f64(v, n, err);
}

sn_status sn_dist_training_new(sn_model *m, size_t bucket_bytes, int transport, long check_every,
                               sn_dist_training **out, sn_error *err) {
    *out = NULL;
    sn_dist_training *t = sn_alloc(1, sizeof *t);
    if (!t) return sn_fail(err, SN_ERR_NOMEM, "data-parallel training: out of memory");
    sn_status s = sn_dist_reducer_new(m, bucket_bytes, transport, &t->r, err);
    if (s != SN_OK) {
        sn_free(t);
        return s;
    }
    t->codes = sn_alloc((size_t)sn_dist_size(), sizeof *t->codes);
    if (!t->codes) {
        sn_dist_training_free(t);
        return sn_fail(err, SN_ERR_NOMEM, "data-parallel training: out of memory");
    }
    t->m = m;
    t->check_every = check_every;
    for (int i = 0; i < m->nparams; i++) t->buffers |= m->params[i]->buffer;
    t->hooks = (sn_train_dist){.ctx = t,
                               .rank = sn_dist_rank(),
                               .size = sn_dist_size(),
                               .reduce_gradients = reduce_gradients,
                               .reduce_sums = reduce_sums,
                               .grads_ready = grads_ready};
    *out = t;
    return SN_OK;
}

const sn_train_dist *sn_dist_training_hooks(const sn_dist_training *t) {
    return &t->hooks;
}

void sn_dist_training_free(sn_dist_training *t) {
    if (!t) return;
    sn_dist_reducer_free(t->r);
    sn_free(t->codes);
    sn_free(t);
}

void sn_dist_training_set_stop(sn_dist_training *t, int (*local)(void *ctx), void *ctx) {
    t->local_stop = local;
    t->local_ctx = ctx;
}

int sn_dist_training_stop(void *t) {
    return ((sn_dist_training *)t)->stop;
}
