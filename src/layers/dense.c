/* Dense (fully connected) layer.
 *
 *   x: [N, in]   W: [out, in]   b: [out]   y: [N, out]
 *
 *   forward:   y = x Wᵀ + b            y[n,o] = Σ_i x[n,i] W[o,i] + b[o]
 *   backward:  dW = dyᵀ x              dW[o,i] = Σ_n dy[n,o] x[n,i]
 *              db = Σ_n dy[n, :]
 *              dx = dy W               dx[n,i] = Σ_o dy[n,o] W[o,i]
 *
 * An input with more than one dimension per sample is read as its flattened
 * vector (in = C·H·W). Spec: `dense UNITS [init=he|xavier|...] [scale=S]
 * [bias=B]`; the default init is He uniform, PyTorch-style bounds. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "core/alloc.h"
#include "layers/layer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Products under this many multiply-adds run on one thread (as in gemm.c). */
#define SN_DENSE_MT_MIN (1 << 19)

/* wt: W's transposed copy for one sample in evaluation mode
 * (sn_dense_t_build), allocated by reserve (NULL where the kernels have no
 * use for one); made from W at wt_gen, the model's parameter stamp then
 * (layer.h: params_gen); wt_ok: made, and W was finite. */
typedef struct dense {
    sn_layer base;
    int in, out;
    float *wt;
    unsigned long wt_gen;
    int wt_made, wt_ok;
} dense;

/* The transposed copy of W, made again first when the model's parameter
 * stamp moved since it was made; NULL when there is none or W holds a
 * value that is not finite (then the dot-product kernel runs). */
static const float *dense_wt(dense *d) {
    const unsigned long *gen = d->base.params_gen;
    if (!d->wt || !gen) return NULL;
    if (!d->wt_made || d->wt_gen != *gen) {
        d->wt_ok = sn_dense_t_build(d->in, d->out, d->base.params[0].value.data, d->wt);
        d->wt_gen = *gen;
        d->wt_made = 1;
    }
    return d->wt_ok ? d->wt : NULL;
}

/* ---- small products on the thread team ---------------------------------------
 *
 * A product under the size at which the GEMM takes the thread team (a
 * classifier's last layer: 128 x 128 x 10) runs on the calling thread, all
 * of it serial work between a training step's parallel products. Here it is
 * cut into one part per thread: forward, part c computes rows of y (samples)
 * and adds the bias to them; backward, part c computes a band of dW's rows
 * (output units) with their bias gradients, and rows of dx (samples). Every
 * value is summed in the same order as by the whole product (the GEMM's sums
 * do not depend on how C is cut, see gemm.c; db[k] goes over the samples in
 * order, as sn_sum_rows), so the bits are those of the serial pass. Below
 * SMALL_MIN multiply-adds, or under SMALL_ROWS samples a part, the hand-off
 * costs more than it saves. */
#define SMALL_MIN  (1 << 15)
#define SMALL_ROWS 16

static int small_parts(int N, int in, int out) {
    double work = (double)N * in * out;
    if (work >= (double)SN_DENSE_MT_MIN || work < (double)SMALL_MIN || sn_in_parallel()) return 1;
    int nt = sn_get_threads(), most = N / SMALL_ROWS;
    if (nt > most) nt = most;
    return nt < 1 ? 1 : nt;
}

typedef struct {
    const dense *d;
    int N, parts;
    const float *x, *W, *b, *dy;
    float *y, *dW, *db, *dx;
} small_job;

/* [*lo, *hi) of n, part c of parts */
static void small_cut(int n, int c, int parts, int *lo, int *hi) {
    *lo = (int)((long)n * c / parts);
    *hi = (int)((long)n * (c + 1) / parts);
}

static void small_forward(void *ctx, int c) {
    const small_job *j = ctx;
    int in = j->d->in, out = j->d->out, n0, n1;
    small_cut(j->N, c, j->parts, &n0, &n1);
    if (n1 <= n0) return;
    float *y = j->y + (size_t)n0 * out;
    sn_sgemm(0, 1, n1 - n0, out, in, 1.0f, j->x + (size_t)n0 * in, in, j->W, in, 0.0f, y, out);
    sn_add_row_vector(y, j->b, n1 - n0, out);
}

static void small_backward(void *ctx, int c) {
    const small_job *j = ctx;
    int in = j->d->in, out = j->d->out, N = j->N, u0, u1, n0, n1;
    small_cut(out, c, j->parts, &u0, &u1);
    if (u1 > u0) {
        sn_sgemm(1, 0, u1 - u0, in, N, 1.0f, j->dy + u0, out, j->x, in, 0.0f,
                 j->dW + (size_t)u0 * in, in);
        for (int k = u0; k < u1; k++) j->db[k] = 0.0f;
        for (int n = 0; n < N; n++)
            for (int k = u0; k < u1; k++) j->db[k] += j->dy[(size_t)n * out + k];
    }
    small_cut(N, c, j->parts, &n0, &n1);
    if (j->dx && n1 > n0)
        sn_sgemm(0, 0, n1 - n0, in, out, 1.0f, j->dy + (size_t)n0 * out, out, j->W, in, 0.0f,
                 j->dx + (size_t)n0 * in, in);
}

/* One sample in evaluation (inference) mode takes a kernel for one sample
 * (src/kernels/gemv.c): with the transposed copy, the rows of the inputs
 * that are not zero; without, dot products reading W in place, row by row.
 * Either orders its sums differently, so the output equals the batched
 * one within rounding. Training always takes the GEMM, whose bits do not
 * depend on the batch size. */
static void dense_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    dense *d = (dense *)l;
    int N = x->shape[0];
    const sn_tensor *W = &l->params[0].value, *b = &l->params[1].value;
    if (N == 1 && !train) {
        sn_dense_step s = {d->in, d->out, x->data, W->data, b->data, y->data, NULL, dense_wt(d)};
        sn_dense_chain_one(1, &s);
        return;
    }
    small_job j = {.d = d,
                   .N = N,
                   .parts = small_parts(N, d->in, d->out),
                   .x = x->data,
                   .W = W->data,
                   .b = b->data,
                   .y = y->data};
    if (j.parts > 1) {
        sn_parallel(j.parts, small_forward, &j);
        return;
    }
    sn_sgemm(0, 1, N, d->out, d->in, 1.0f, x->data, d->in, W->data, d->in, 0.0f, y->data, d->out);
    sn_add_row_vector(y->data, b->data, N, d->out);
}

static const sn_layer_ops dense_ops;

/* One sample in evaluation mode, with the dense layers after this one, each
 * followed or not by a relu layer, in one chain (sn_dense_chain_one): the
 * threads share the large layers in a single hand-off, and each ReLU is
 * applied as its outputs are made. The values are those of the layers' own
 * batch-1 forward passes, bit for bit. */
#define CHAIN_MAX 8
static int dense_forward_one(sn_layer *l, sn_layer *const *next, int avail, const sn_tensor *act) {
    sn_dense_step s[CHAIN_MAX];
    int n = 0, u = 0; /* steps; layers taken after l */
    sn_layer *cur = l;
    for (;;) {
        const dense *d = (const dense *)cur;
        sn_dense_step *st = &s[n++];
        *st = (sn_dense_step){d->in,
                              d->out,
                              act[u].data,
                              cur->params[0].value.data,
                              cur->params[1].value.data,
                              act[u + 1].data,
                              NULL,
                              dense_wt((dense *)cur)};
        if (u < avail && strcmp(next[u]->ops->kind, "relu") == 0) {
            st->relu = act[u + 2].data;
            u++;
        }
        if (n == CHAIN_MAX || u >= avail || next[u]->ops != &dense_ops) break;
        cur = next[u++];
    }
    sn_dense_chain_one(n, s);
    return u;
}

static void dense_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y, const sn_tensor *dy,
                           sn_tensor *dx) {
    (void)y;
    dense *d = (dense *)l;
    int N = x->shape[0];
    sn_param *W = &l->params[0], *b = &l->params[1];
    small_job j = {.d = d,
                   .N = N,
                   .parts = small_parts(N, d->in, d->out),
                   .x = x->data,
                   .W = W->value.data,
                   .dy = dy->data,
                   .dW = W->grad.data,
                   .db = b->grad.data,
                   .dx = dx ? dx->data : NULL};
    if (j.parts > 1) {
        sn_parallel(j.parts, small_backward, &j);
        return;
    }
    sn_sgemm(1, 0, d->out, d->in, N, 1.0f, dy->data, d->out, x->data, d->in, 0.0f, W->grad.data,
             d->in);
    sn_sum_rows(dy->data, b->grad.data, N, d->out);
    if (dx)
        sn_sgemm(0, 0, N, d->in, d->out, 1.0f, dy->data, d->out, W->value.data, d->in, 0.0f,
                 dx->data, d->in);
}

/* ---- with the activation after it, in one pass ------------------------------
 *
 * An elementwise activation right after the layer (r = f(y)) runs in the
 * layer's own pass: the output units are cut into bands, one chunk of the
 * thread team each (core/threads.h), and a chunk computes its band of y, adds
 * the bias and applies f while the band is still in its core's cache;
 * backward, a chunk computes its band of dy = dr ⊙ f'(y), the bias gradient
 * of those units and their rows of dW, which need no other band. Each value
 * is computed by the same operations in the same order as by the separate
 * layers (the product's sums never depend on how C is cut, see gemm.c), so
 * the bits are the same; what goes is the serial elementwise passes over
 * the batch and two of the thread team's hand-offs per layer. */

/* Bands of the output units: none (1) under the product size at which the
 * GEMM itself would use one thread, else up to BANDS_PER_THREAD per thread,
 * on 32-unit bounds. Thread t's range of bands (core/threads.h) is still the
 * t-th contiguous part of the units, the rows of W that it stepped in the
 * optimizer; several bands a thread let a thread that finishes early take
 * the last band of a late one (another process, or the host, took its core
 * for a while), where with one band each it could only wait: the two
 * threads' times for the same half of a product differ by tens of
 * microseconds from step to step. A band of 32 units costs the GEMM no more
 * per multiply-add than a band of 128. */
#define BANDS_PER_THREAD 4
static int dense_bands(int N, int in, int out) {
    int nt = sn_in_parallel() ? 1 : sn_get_threads();
    if ((double)N * in * out < (double)SN_DENSE_MT_MIN || nt < 2) return 1;
    int most = (out + 31) / 32, want = nt * BANDS_PER_THREAD;
    return want < most ? want : most;
}

typedef struct {
    const dense *d;
    int N, bands;
    sn_act act;
    float alpha;
    const float *x, *W, *b, *dr;
    float *y, *r, *dy, *dW, *db;
} dense_job;

/* ReLU without keep: act[1] (y) is left unwritten, the product's output
 * going to r and the bias and ReLU applied there in place, and backward
 * reads r where ReLU' reads y: r > 0 exactly where y > 0 (r = y < 0 ? 0 :
 * y; a NaN is neither), so dy is the same. Backward makes dy in place of
 * dr (grad[2]) and leaves grad[1] unwritten. Two buffers of the batch's
 * outputs fewer to write and to hold in the cache (each thread's core
 * holds its bands of them, its parameters' values, gradients and optimizer
 * state, and the whole input: about the 2 MiB of L2 per core of the Xeon
 * where this took 3% off a 2-thread epoch of the SGD MLP of bench/). */
static int relu_only(const dense_job *j, int keep) {
    return j->act == SN_ACT_RELU && !keep;
}

static void band_of(const dense_job *j, int c, int *u0, int *u1) {
    int units = (j->d->out + 31) / 32;
    *u0 = (int)((long)units * c / j->bands) * 32;
    *u1 = (int)((long)units * (c + 1) / j->bands) * 32;
    if (*u1 > j->d->out) *u1 = j->d->out;
}

static void forward_band(void *ctx, int c) {
    const dense_job *j = ctx;
    int in = j->d->in, out = j->d->out, u0, u1;
    band_of(j, c, &u0, &u1);
    if (u1 <= u0) return;
    /* The band of r was last read by the next layer on every thread; asking
     * for its lines for writing now lets the other cores' copies be dropped
     * while the product runs, not while the activation waits for them. */
    for (int n = 0; n < j->N; n++)
        for (int k = u0; k < u1; k += 16) __builtin_prefetch(j->r + (size_t)n * out + k, 1);
    sn_sgemm(0, 1, j->N, u1 - u0, in, 1.0f, j->x, in, j->W + (size_t)u0 * in, in, 0.0f, j->y + u0,
             out);
    sn_act_bias_forward(j->act, j->alpha, j->y + u0, j->b + u0, j->r + u0, j->N, u1 - u0,
                        (size_t)out);
}

static void backward_band(void *ctx, int c) {
    const dense_job *j = ctx;
    int in = j->d->in, out = j->d->out, u0, u1;
    band_of(j, c, &u0, &u1);
    if (u1 <= u0) return;
    sn_act_backward_sum(j->act, j->alpha, j->y + u0, j->r + u0, j->dr + u0, j->dy + u0, j->db + u0,
                        j->N, u1 - u0, (size_t)out);
    sn_sgemm(1, 0, u1 - u0, in, j->N, 1.0f, j->dy + u0, out, j->x, in, 0.0f,
             j->dW + (size_t)u0 * in, in);
}

static int dense_fuse(const sn_layer *l, sn_layer *const *next, int avail) {
    (void)l;
    sn_act act;
    float alpha;
    return avail >= 1 && sn_activation_elementwise(next[0], &act, &alpha) ? 1 : 0;
}

/* act[0] = x, act[1] = y (before the activation; see relu_only), act[2] = r = f(y). */
static void dense_forward_fused(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                                int train, int keep) {
    (void)k;
    dense *d = (dense *)l;
    int N = act[0].shape[0];
    if (N == 1 && !train) { /* the batch-1 path of dense_forward */
        dense_forward(l, &act[0], (sn_tensor *)&act[1], train);
        next[0]->ops->forward(next[0], &act[1], (sn_tensor *)&act[2], train);
        return;
    }
    dense_job j = {.d = d,
                   .N = N,
                   .bands = dense_bands(N, d->in, d->out),
                   .x = act[0].data,
                   .W = l->params[0].value.data,
                   .b = l->params[1].value.data,
                   .y = act[1].data,
                   .r = act[2].data};
    sn_activation_elementwise(next[0], &j.act, &j.alpha);
    if (relu_only(&j, keep)) j.y = j.r;
    if (j.bands == 1)
        forward_band(&j, 0);
    else
        sn_parallel(j.bands, forward_band, &j);
}

/* grad[2] = dL/dr given; grad[1] = dL/dy, the parameters' gradients and,
 * when want_dx, grad[0] = dL/dx. */
static void dense_backward_fused(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                                 const sn_tensor *grad, int want_dx, int keep) {
    (void)k; /* grad[1] is written unless relu_only: the products read dy */
    dense *d = (dense *)l;
    int N = act[0].shape[0];
    dense_job j = {.d = d,
                   .N = N,
                   .bands = dense_bands(N, d->in, d->out),
                   .x = act[0].data,
                   .y = act[1].data,
                   .r = act[2].data,
                   .dr = grad[2].data,
                   .dy = grad[1].data,
                   .dW = l->params[0].grad.data,
                   .db = l->params[1].grad.data};
    sn_activation_elementwise(next[0], &j.act, &j.alpha);
    if (relu_only(&j, keep)) j.y = j.r, j.dy = grad[2].data;
    if (j.bands == 1)
        backward_band(&j, 0);
    else
        sn_parallel(j.bands, backward_band, &j);
    if (want_dx)
        sn_sgemm(0, 0, N, d->in, d->out, 1.0f, j.dy, d->out, l->params[0].value.data, d->in, 0.0f,
                 grad[0].data, d->in);
}

/* The transposed copy's bytes: room for it is taken once, with the
 * workspace, whatever the batch. */
static size_t dense_reserve_bytes(const sn_layer *l, int max_batch) {
    (void)max_batch;
    const dense *d = (const dense *)l;
    size_t n = sn_dense_t_floats(d->in, d->out), bytes;
    return sn_mul_ok(n, sizeof(float), &bytes) ? bytes : SIZE_MAX;
}

static sn_status dense_reserve(sn_layer *l, int max_batch, sn_error *err) {
    (void)max_batch;
    dense *d = (dense *)l;
    size_t n = sn_dense_t_floats(d->in, d->out);
    if (d->wt || n == 0) return SN_OK;
    d->wt = sn_alloc(n, sizeof(float));
    if (!d->wt) return sn_fail(err, SN_ERR_NOMEM, "dense: out of memory for W's transposed copy");
    d->wt_made = 0;
    return SN_OK;
}

static void dense_free(sn_layer *l) {
    sn_free(((dense *)l)->wt);
}

static const sn_layer_ops dense_ops = {.kind = "dense",
                                       .forward = dense_forward,
                                       .backward = dense_backward,
                                       .free = dense_free,
                                       .fuse = dense_fuse,
                                       .forward_fused = dense_forward_fused,
                                       .backward_fused = dense_backward_fused,
                                       .forward_one = dense_forward_one};

sn_status sn_dense_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int units;
    float scale = 0.01f, bias = 0.0f;
    sn_init init = SN_INIT_HE_UNIFORM;
    sn_status s = sn_args_pos_int(a, 0, "number of units", &units, err);
    if (s == SN_OK) s = sn_init_parse(sn_args_opt_str(a, "init", "he"), &init, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "scale", &scale, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "bias", &bias, err);
    if (s == SN_OK) s = sn_args_done(a, 1, err);
    if (s != SN_OK) return s;
    size_t in = sn_shape_size(a->in_ndim, a->in_shape);
    if (in > (1u << 30)) return sn_fail(err, SN_ERR_SHAPE, "dense: input too large");

    dense *d = sn_layer_alloc(sizeof *d, &dense_ops, a);
    if (!d) return sn_fail(err, SN_ERR_NOMEM, "dense: out of memory");
    d->in = (int)in;
    d->out = units;
    d->base.reserve = dense_reserve;
    d->base.reserve_bytes = dense_reserve_bytes;
    d->base.out_ndim = 1;
    d->base.out_shape[0] = units;
    int wshape[2] = {units, d->in};
    s = sn_layer_add_param(&d->base, "weight", 2, wshape, 1, err);
    if (s == SN_OK) s = sn_layer_add_param(&d->base, "bias", 1, &units, 0, err);
    if (s != SN_OK) {
        sn_layer_free(&d->base);
        return s;
    }
    sn_init_fill(&d->base.params[0].value, init, d->in, units, scale, a->rng);
    sn_init_fill(&d->base.params[1].value, SN_INIT_CONSTANT, d->in, units, bias, a->rng);
    snprintf(d->base.desc, sizeof d->base.desc, "dense %d->%d init=%s", d->in, units,
             sn_init_name(init));
    *out = &d->base;
    return SN_OK;
}
