/* Batch normalization (Ioffe & Szegedy 2015), PyTorch's BatchNorm1d/2d.
 *
 *   x: [N, C, S]   γ, β, running mean μ_r, running variance σ²_r: [C]   y: x's shape
 *
 * A dense layer's output [N, F] is normalized per feature (C = F, S = 1); an
 * image batch [N, C, H, W] per channel (S = H·W); [N, C, L] per channel too.
 * Each channel c has M = N·S values.
 *
 * training:  μ = (1/M) Σ x        σ² = (1/M) Σ (x − μ)²         (biased)
 *            x̂ = (x − μ) / sqrt(σ² + ε)       y = γ x̂ + β
 *            μ_r ← (1 − m) μ_r + m μ          σ²_r ← (1 − m) σ²_r + m σ² M/(M − 1)
 *            (the running variance is unbiased; with M = 1 it takes σ² = 0)
 * evaluation: x̂ = (x − μ_r) / sqrt(σ²_r + ε)   y = γ x̂ + β
 *
 * backward (training), with s = 1/sqrt(σ² + ε); μ and σ² depend on x:
 *   dβ = Σ dy      dγ = Σ dy x̂
 *   dx = (γ s / M) (M dy − dβ − x̂ dγ)
 *      = γ s dy − (γ s² dγ / M)(x − μ) − γ s dβ / M
 * backward (evaluation), s = 1/sqrt(σ²_r + ε); y is affine in x:
 *   dx = γ s dy,  and, for gradient checks, the derivatives of the same
 *   function with respect to the statistics: dμ_r = −γ s dβ,
 *   dσ²_r = −½ γ s² dγ (optimizers skip these buffers).
 *
 * Synchronized (`sync=1`, PyTorch's SyncBatchNorm) in data-parallel training:
 * the statistics are those of the global batch, M = Σ_r M_r values per
 * channel over the ranks r. Each rank sends its count M_r, M_r μ_r, its
 * Σ (x − μ_r)² and M_r μ_r² (one all-reduce of 3C + 1 doubles) and every
 * rank combines them exactly (Chan et al.): μ = Σ M_r μ_r / M,
 * M σ² = Σ [Σ (x − μ_r)²] + Σ M_r μ_r² − M μ². In backward, dx needs the
 * global Σ dy and Σ dy (x − μ): a second all-reduce of 2C doubles. A rank's
 * dy is the gradient of its own mean loss, 1/w_r times its part of the
 * global one (w_r = n_r / N, dist.h), so it sends w_r times its sums and
 * scales the global sums back by 1/w_r; dγ and dβ stay this rank's own
 * (the gradient reducer sums them). With one process it computes what
 * `batchnorm` does, the variance through the combination above.
 *
 * Parameters (PyTorch's state_dict names): weight γ (init 1), bias β (init 0),
 * running_mean (0), running_var (1). Spec: `batchnorm [momentum=0.1]
 * [eps=1e-5] [sync=0|1]`. The loops are in src/kernels/norm.c. */
#include "dist/dist.h"
#include "kernels/norm.h"
#include "kernels/pool.h"
#include "layers/layer.h"
#include "layers/window.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct batchnorm {
    sn_layer base;
    int C, S;
    float momentum, eps;
    int sync;  /* statistics over all ranks */
    int train; /* mode of the last forward pass */
    double M;  /* values per channel the batch statistics came from */
    /* [C] each: the statistics the last forward used (batch or running),
     * s = 1/sqrt(var + ε), and per-channel coefficients. */
    float *mean, *var, *invstd, *a, *b, *d, *sum_dy, *sum_dyx;
    double *acc; /* [2C], then with sync=1 [3C + 1] to all-reduce */
} batchnorm;

enum { GAMMA, BETA, RMEAN, RVAR };

/* The global batch's mean and variance into bn->mean, bn->var; returns M. */
static double sync_moments(batchnorm *bn, const float *x, int N) {
    const int C = bn->C;
    const double Mr = (double)N * bn->S;
    double *v = bn->acc + 2 * C; /* [M_r | M_r μ_r | Σ (x − μ_r)² | M_r μ_r²] */
    for (int i = 0; i < 3 * C + 1; i++) v[i] = 0;
    if (N > 0) {
        sn_channel_moments(x, N, C, bn->S, bn->mean, bn->var, bn->acc);
        v[0] = Mr;
        for (int c = 0; c < C; c++) {
            double mu = bn->mean[c];
            v[1 + c] = Mr * mu, v[1 + C + c] = bn->acc[c], v[1 + 2 * C + c] = Mr * mu * mu;
        }
    }
    sn_dist_layer_sum(v, 3 * C + 1);
    const double M = v[0] > 0 ? v[0] : 1;
    for (int c = 0; c < C; c++) {
        double mu = v[1 + c] / M, m2 = v[1 + C + c] + v[1 + 2 * C + c] - M * mu * mu;
        bn->mean[c] = (float)mu;
        bn->var[c] = (float)(m2 > 0 ? m2 / M : 0);
    }
    return v[0];
}

/* The statistics of the forward pass (updating the running ones when
 * training) and the coefficients a, b of y = a x + b. */
static void batchnorm_prepare(sn_layer *l, const sn_tensor *x, int train) {
    batchnorm *bn = (batchnorm *)l;
    int N = x->shape[0], C = bn->C, S = bn->S;
    const float *g = l->params[GAMMA].value.data, *be = l->params[BETA].value.data;
    float *rm = l->params[RMEAN].value.data, *rv = l->params[RVAR].value.data;
    bn->train = train;
    if (train) {
        double M = (double)N * S;
        if (bn->sync)
            M = sync_moments(bn, x->data, N);
        else
            sn_channel_moments(x->data, N, C, S, bn->mean, bn->var, bn->acc);
        bn->M = M;
        double unbias = M > 1 ? M / (M - 1) : 0.0;
        for (int c = 0; c < C; c++) {
            rm[c] = (1 - bn->momentum) * rm[c] + bn->momentum * bn->mean[c];
            rv[c] = (float)((1 - bn->momentum) * rv[c] + bn->momentum * bn->var[c] * unbias);
        }
    } else {
        for (int c = 0; c < C; c++) bn->mean[c] = rm[c], bn->var[c] = rv[c];
    }
    /* y = a x + b with a = γ s, b = β − γ s μ */
    for (int c = 0; c < C; c++) {
        bn->invstd[c] = (float)(1.0 / sqrt((double)bn->var[c] + bn->eps));
        bn->a[c] = g[c] * bn->invstd[c];
        bn->b[c] = be[c] - bn->a[c] * bn->mean[c];
    }
}

static void batchnorm_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    batchnorm *bn = (batchnorm *)l;
    batchnorm_prepare(l, x, train);
    sn_channel_affine(x->data, y->data, x->shape[0], bn->C, bn->S, bn->a, bn->b);
}

static void batchnorm_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                               const sn_tensor *dy, sn_tensor *dx) {
    (void)y;
    batchnorm *bn = (batchnorm *)l;
    int N = x->shape[0], C = bn->C, S = bn->S;
    const float *g = l->params[GAMMA].value.data;
    float *dg = l->params[GAMMA].grad.data, *db = l->params[BETA].grad.data;
    float *drm = l->params[RMEAN].grad.data, *drv = l->params[RVAR].grad.data;
    /* Σ dy and Σ dy (x − μ), then dγ = s Σ dy (x − μ), dβ = Σ dy. */
    sn_channel_dot(x->data, dy->data, N, C, S, bn->mean, bn->sum_dy, bn->sum_dyx, bn->acc);
    const float M = bn->train ? (float)bn->M : (float)N * (float)S;
    /* dγ, dβ of the global batch (in this rank's scale) for dx: the same
     * sums unless synchronized */
    float *gdb = bn->sum_dy, *gdg = bn->sum_dyx;
    if (bn->sync && bn->train) {
        const double w = sn_dist_batch_weight();
        double *v = bn->acc + 2 * C;
        for (int i = 0; i < 2 * C; i++) v[i] = w * bn->acc[i];
        sn_dist_layer_sum(v, 2 * C);
        for (int c = 0; c < C; c++) {
            gdb[c] = w > 0 ? (float)(v[c] / w) : 0;
            gdg[c] = w > 0 ? (float)(v[C + c] / w) * bn->invstd[c] : 0;
        }
    } else {
        for (int c = 0; c < C; c++) gdg[c] = bn->sum_dyx[c] * bn->invstd[c];
    }
    for (int c = 0; c < C; c++) {
        float s = bn->invstd[c];
        db[c] = (float)bn->acc[c];
        dg[c] = (float)bn->acc[C + c] * s;
        bn->a[c] = g[c] * s;
        if (bn->train) {
            bn->b[c] = -g[c] * s * s * gdg[c] / M;
            bn->d[c] = -g[c] * s * gdb[c] / M;
            drm[c] = drv[c] = 0;
        } else {
            bn->b[c] = bn->d[c] = 0;
            drm[c] = -g[c] * s * db[c];
            drv[c] = -0.5f * g[c] * s * s * dg[c];
        }
    }
    if (dx) sn_channel_affine2(dy->data, x->data, dx->data, N, C, S, bn->a, bn->b, bn->mean, bn->d);
}

/* A ReLU and a 2x2 max pooling after an image batch norm run in one pass
 * over each sample with the normalization (layer.h: fuse): y = a x + b,
 * r = max(y, 0), p = maxpool(r) with its window positions, and backward
 * dL/dr and dL/dy from those positions alone (kernels/pool.h), then batch
 * norm's own backward; y, r and dL/dr are written out only when kept. Without
 * the positions (a batch the pooling has no room for) the layers run one by
 * one. */
static int batchnorm_fuse(const sn_layer *l, sn_layer *const *next, int avail) {
    const batchnorm *bn = (const batchnorm *)l;
    if (bn->S == 1 || avail < 2 || strcmp(next[0]->ops->kind, "relu") != 0) return 0;
    const sn_conv_geom *pg = sn_maxpool_geom(next[1]);
    return pg && sn_maxpool_keeps_arg(pg) ? 2 : 0;
}

static void batchnorm_forward_fused(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                                    int train, int keep) {
    (void)k;
    batchnorm *bn = (batchnorm *)l;
    unsigned char *arg = sn_maxpool_arg_fill(next[1], act[0].shape[0]);
    if (!arg) {
        batchnorm_forward(l, &act[0], (sn_tensor *)&act[1], train);
        for (int u = 0; u < 2; u++)
            next[u]->ops->forward(next[u], &act[u + 1], (sn_tensor *)&act[u + 2], train);
        return;
    }
    batchnorm_prepare(l, &act[0], train);
    sn_channel_affine_relu_pool(act[0].data, act[1].data, keep ? act[2].data : NULL, act[3].data,
                                arg, act[0].shape[0], bn->C, bn->S, bn->a, bn->b,
                                sn_maxpool_geom(next[1]));
}

static void batchnorm_backward_fused(sn_layer *l, sn_layer *const *next, int k,
                                     const sn_tensor *act, const sn_tensor *grad, int want_dx,
                                     int keep) {
    (void)k;
    const unsigned char *arg = sn_maxpool_arg(next[1], act[0].shape[0]);
    sn_tensor *dx = want_dx ? (sn_tensor *)&grad[0] : NULL;
    if (!arg) {
        for (int u = 1; u >= 0; u--)
            next[u]->ops->backward(next[u], &act[u + 1], &act[u + 2], &grad[u + 2],
                                   (sn_tensor *)&grad[u + 1]);
    } else {
        sn_maxpool_relu_backward(sn_maxpool_geom(next[1]), act[0].shape[0], arg, grad[3].data,
                                 keep ? grad[2].data : NULL, grad[1].data);
    }
    batchnorm_backward(l, &act[0], &act[1], &grad[1], dx);
}

static void batchnorm_free(sn_layer *l) {
    batchnorm *bn = (batchnorm *)l;
    sn_free(bn->mean);
    sn_free(bn->acc);
}

static const sn_layer_ops batchnorm_ops = {.kind = "batchnorm",
                                           .forward = batchnorm_forward,
                                           .backward = batchnorm_backward,
                                           .free = batchnorm_free,
                                           .fuse = batchnorm_fuse,
                                           .forward_fused = batchnorm_forward_fused,
                                           .backward_fused = batchnorm_backward_fused};

sn_status sn_batchnorm_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    float momentum = 0.1f, eps = 1e-5f;
    int sync = 0;
    sn_status s = sn_args_opt_float(a, "momentum", &momentum, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "eps", &eps, err);
    if (s == SN_OK) s = sn_args_opt_int(a, "sync", &sync, err);
    if (s == SN_OK && sync != 0 && sync != 1)
        s = sn_fail(err, SN_ERR_FORMAT, "batchnorm: sync must be 0 or 1, got %d", sync);
    if (s == SN_OK) s = sn_args_done(a, 0, err);
    if (s != SN_OK) return s;
    if (!(momentum >= 0 && momentum <= 1))
        return sn_fail(err, SN_ERR_FORMAT, "batchnorm: momentum must be in [0, 1], got %g",
                       (double)momentum);
    if (!(eps > 0)) return sn_fail(err, SN_ERR_FORMAT, "batchnorm: eps must be > 0");
    size_t total = sn_shape_size(a->in_ndim, a->in_shape);
    if (a->in_ndim < 1 || total == 0 || total > (1u << 30))
        return sn_fail(err, SN_ERR_SHAPE, "batchnorm: input of %zu values per sample", total);

    batchnorm *bn = sn_layer_alloc(sizeof *bn, &batchnorm_ops, a);
    if (!bn) return sn_fail(err, SN_ERR_NOMEM, "batchnorm: out of memory");
    bn->C = a->in_shape[0];
    bn->S = (int)(total / (size_t)bn->C);
    bn->momentum = momentum;
    bn->eps = eps;
    bn->sync = sync;
    int C = bn->C;
    bn->mean = sn_alloc((size_t)C * 8, sizeof(float));
    bn->acc = sn_alloc((size_t)C * (sync ? 5 : 2) + 1, sizeof(double));
    if (!bn->mean || !bn->acc) s = sn_fail(err, SN_ERR_NOMEM, "batchnorm: out of memory");
    if (s == SN_OK) {
        float *p = bn->mean;
        bn->var = p + C, bn->invstd = p + 2 * C, bn->a = p + 3 * C, bn->b = p + 4 * C;
        bn->d = p + 5 * C, bn->sum_dy = p + 6 * C, bn->sum_dyx = p + 7 * C;
    }
    const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4 && s == SN_OK; i++) {
        s = sn_layer_add_param(&bn->base, names[i], 1, &C, 0, err);
        if (s == SN_OK) bn->base.params[i].buffer = i >= RMEAN;
    }
    if (s != SN_OK) {
        sn_layer_free(&bn->base);
        return s;
    }
    for (int c = 0; c < C; c++) {
        bn->base.params[GAMMA].value.data[c] = 1.0f;
        bn->base.params[RVAR].value.data[c] = 1.0f;
    }
    snprintf(bn->base.desc, sizeof bn->base.desc, "batchnorm %d%s momentum=%g eps=%g%s", C,
             bn->S > 1 ? " channels" : "", (double)momentum, (double)eps, sync ? " sync=1" : "");
    *out = &bn->base;
    return SN_OK;
}
