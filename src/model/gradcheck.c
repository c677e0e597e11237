/* Gradient checking by central differences: the independent test of every
 * backward pass.
 *
 * One forward and backward pass gives the analytic gradients: of the loss
 * with respect to every parameter, to every layer's input act[i] (grad[i];
 * act[0] is the model input) and to the output act[L] (the loss's own
 * gradient). Each checked entry v of one of these tensors is then nudged:
 *
 *   numeric = (L(v + h) − L(v − h)) / 2h          error O(h²) + O(ε_float·|L| / h)
 *   error   = |analytic − numeric| / max(|analytic| + |numeric|, F)
 *   F       = 1e-4 · max(1, |L|) / h                (1e-2 at h = 1e-2, |L| <= 1)
 *
 * The floor F: the float32 forward pass rounds L by about 1e-7·|L| at each
 * evaluation, which the quotient turns into noise of about 1e-7·|L| / h.
 * Gradients far above that are measured relatively; near it, F keeps that
 * noise to about 1e-3 of the error instead of letting it dominate
 * (measured: with h = 1e-2 the worst error of correct gradients stays near
 * 3e-3, a gradient 5 % off gives 2.4e-2).
 *
 * Nudging a value of act[i] or of layer i's parameters changes only layers
 * i.. L−1, so only those are run again. Layers are visited from the last to
 * the first: act[i] then still holds the values of the unperturbed pass.
 *
 * Kinks (ReLU at 0, max pooling ties) make the central difference wrong
 * when v ± h straddles one; an entry whose error exceeds 1e-3 is measured
 * again with h/10 and keeps the smaller error (a wrong gradient stays wrong at
 * every step size, a kink within h of v rarely lies within h/10). Where v
 * sits on a kink (a ReLU output of exactly 0 tied with others in a max-pool
 * window), no step helps: there the one-sided slopes (L(v + h) − L) / h and
 * (L − L(v − h)) / h differ by more than half their magnitudes at both step
 * sizes, the function has no derivative to compare with, and the entry is
 * skipped and counted in `kinks`. At a smooth point both slopes approach the
 * same derivative, so a wrong analytic gradient is never excused this way.
 *
 * In training mode the generator state each layer started from in the
 * analytic pass is restored before it runs again, so dropout draws the same
 * mask every time. Buffers (batch norm's running statistics) are checked in
 * evaluation mode, where the output depends on them; training-mode forward
 * passes update them instead, so there they are skipped, and they are put
 * back as they were at the end. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gc {
    sn_model *m;
    int n, train, samples;
    const int *labels;
    const float *targets;
    float h;
    double floor; /* F above */
    double L0;    /* the loss of the unperturbed pass */
    long kinks;
    sn_rng rng_at[SN_MAX_LAYERS]; /* m->rng when layer i began the analytic pass */
} gc;

/* act[i] or grad[i] seen as a tensor of n samples. */
static sn_tensor view(const sn_tensor *t, int n) {
    sn_tensor v = *t;
    v.owns = 0;
    v.size = v.size / (size_t)v.shape[0] * (size_t)n;
    v.shape[0] = n;
    return v;
}

/* The loss after running layers first .. L−1 on act[first]. */
static double loss_from(gc *g, int first, int record) {
    sn_model *m = g->m;
    for (int i = first; i < m->nlayers; i++) {
        if (record)
            g->rng_at[i] = m->rng;
        else
            m->rng = g->rng_at[i];
        sn_tensor a = view(&m->act[i], g->n), y = view(&m->act[i + 1], g->n);
        m->layers[i]->ops->forward(m->layers[i], &a, &y, g->train);
    }
    m->batch = g->n;
    m->out_view = view(&m->act[m->nlayers], g->n);
    return sn_model_loss(m, g->labels, g->targets);
}

static double rel_err(double a, double num, double floor) {
    double d = fabs(a) + fabs(num);
    return fabs(a - num) / (d > floor ? d : floor);
}

/* The central difference at v with step h (the steps actually taken in
 * float32); *kink: whether the one-sided slopes disagree as at a kink. */
static double numeric(gc *g, float *v, int first, float h, int *kink) {
    float keep = *v;
    /* v may be a weight: the parameter stamp moves with each value */
    *v = keep + h;
    sn_model_params_changed(g->m);
    double hu = (double)*v - keep, up = loss_from(g, first, 0);
    *v = keep - h;
    sn_model_params_changed(g->m);
    double hd = keep - (double)*v, down = loss_from(g, first, 0);
    *v = keep;
    sn_model_params_changed(g->m);
    if (hu == 0 || hd == 0) { /* |v| so large that v ± h rounds to v */
        *kink = 0;
        return 0;
    }
    double fwd = (up - g->L0) / hu, bwd = (g->L0 - down) / hd;
    *kink = fabs(fwd - bwd) > 0.5 * (fabs(fwd) + fabs(bwd));
    return (up - down) / (hu + hd);
}

/* Worst error over up to g->samples evenly spread entries of v (size
 * values) against the analytic gradient a; nudging v changes layers
 * first.. only. */
static double check_tensor(gc *g, float *v, const float *a, size_t size, int first) {
    double worst = 0;
    size_t stride = size > (size_t)g->samples ? size / (size_t)g->samples : 1;
    for (size_t i = 0; i < size; i += stride) {
        int kink, kink2;
        double e = rel_err(a[i], numeric(g, &v[i], first, g->h, &kink), g->floor);
        if (e > 1e-3) {
            double e2 = rel_err(a[i], numeric(g, &v[i], first, g->h / 10, &kink2), g->floor);
            e = e2 < e ? e2 : e;
            if (e > 1e-3 && kink && kink2) {
                g->kinks++;
                continue;
            }
        }
        if (isnan(e)) return NAN;
        if (e > worst) worst = e;
    }
    return worst;
}

/* Copies every buffer's values into (save != 0) or out of `keep`. */
static size_t buffers(sn_model *m, float *keep, int save) {
    size_t k = 0;
    for (int i = 0; i < m->nparams; i++) {
        sn_tensor *t = &m->params[i]->value;
        if (!m->params[i]->buffer) continue;
        if (keep && save) memcpy(keep + k, t->data, t->size * sizeof(float));
        if (keep && !save) {
            memcpy(t->data, keep + k, t->size * sizeof(float));
            sn_model_params_changed(m);
        }
        k += t->size;
    }
    return k;
}

sn_status sn_gradcheck_run(sn_model *m, const float *x, int n, const int *labels,
                           const float *targets, float h, int samples, int train,
                           sn_gradcheck_result *r, sn_error *err) {
    if (n < 1 || samples < 1 || !(h > 0))
        return sn_fail(err, SN_ERR_ARG, "gradcheck: need n >= 1, samples >= 1, h > 0");
    if (!labels && !targets) return sn_fail(err, SN_ERR_ARG, "gradcheck: no labels or targets");
    sn_status s = sn_model_reserve(m, n, err);
    if (s != SN_OK) return s;
    int L = m->nlayers;
    gc *g = calloc(1, sizeof *g);
    /* Analytic gradients, kept aside: grad[0..L] then every parameter's. */
    size_t total = 0, nbuf = buffers(m, NULL, 0);
    for (int i = 0; i <= L; i++) total += view(&m->grad[i], n).size;
    for (int i = 0; i < m->nparams; i++) total += m->params[i]->grad.size;
    float *keep = malloc((total + nbuf + 1) * sizeof(float));
    if (!g || !keep) {
        free(g);
        free(keep);
        return sn_fail(err, SN_ERR_NOMEM, "gradcheck: out of memory");
    }
    *g = (gc){.m = m,
              .n = n,
              .train = train,
              .samples = samples,
              .labels = labels,
              .targets = targets,
              .h = h};
    float *bufs = keep + total;
    buffers(m, bufs, 1);
    sn_rng rng0 = m->rng;

    int had_input_grad = m->input_grad, had_keep = m->keep_all;
    m->input_grad = 1;
    m->keep_all = 1; /* backward fills grad[i] inside fused passes too */
    memcpy(view(&m->act[0], n).data, x, view(&m->act[0], n).size * sizeof(float));
    g->L0 = loss_from(g, 0, 1);
    g->floor = 1e-4 * (fabs(g->L0) > 1 ? fabs(g->L0) : 1) / h;
    sn_model_backward(m, labels, targets, NULL, NULL); /* after loss_from's forward */
    m->input_grad = had_input_grad;
    m->keep_all = had_keep;
    float *dact[SN_MAX_LAYERS + 1], *dpar[SN_MAX_LAYERS * SN_MAX_PARAMS], *p = keep;
    for (int i = 0; i <= L; i++) {
        sn_tensor t = view(&m->grad[i], n);
        memcpy(dact[i] = p, t.data, t.size * sizeof(float));
        p += t.size;
    }
    for (int i = 0; i < m->nparams; i++) {
        memcpy(dpar[i] = p, m->params[i]->grad.data, m->params[i]->grad.size * sizeof(float));
        p += m->params[i]->grad.size;
    }

    memset(r, 0, sizeof *r);
    /* The loss's own gradient: nudge the output act[L], run no layer. */
    sn_tensor out = view(&m->act[L], n);
    r->output = check_tensor(g, out.data, dact[L], out.size, L);
    r->worst = r->output;
    r->worst_layer = -1;
    int pi = m->nparams;
    for (int l = L - 1; l >= 0; l--) {
        const sn_layer *ly = m->layers[l];
        r->param[l] = -1; /* no trained parameters */
        pi -= ly->nparams;
        for (int q = 0; q < ly->nparams; q++) {
            sn_param *par = m->params[pi + q];
            if (par->buffer && train) continue;
            double e = check_tensor(g, par->value.data, dpar[pi + q], par->value.size, l);
            if (e > r->param[l] || isnan(e)) r->param[l] = e;
        }
        sn_tensor in = view(&m->act[l], n);
        r->input[l] = check_tensor(g, in.data, dact[l], in.size, l);
        double e = r->param[l] > r->input[l] || isnan(r->param[l]) ? r->param[l] : r->input[l];
        if (e > r->worst || isnan(e)) {
            r->worst = e;
            r->worst_layer = l;
        }
    }
    r->kinks = g->kinks;
    buffers(m, bufs, 0);
    m->rng = rng0;
    free(keep);
    free(g);
    return SN_OK;
}

sn_status sn_gradcheck(sn_model *m, const float *x, int n, const int *labels, const float *targets,
                       float h, int samples, double *worst, double *worst_input, sn_error *err) {
    sn_gradcheck_result r;
    sn_status s = sn_gradcheck_run(m, x, n, labels, targets, h, samples, 0, &r, err);
    if (s != SN_OK) return s;
    for (int l = 0; l < m->nlayers; l++) worst[l] = r.param[l] < 0 ? 0 : r.param[l];
    *worst_input = r.input[0];
    return SN_OK;
}
