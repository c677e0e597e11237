/* Vanilla (Elman) recurrent layer, PyTorch's nn.RNN.
 *
 *   x_t: [N, I]   h_t: [N, H]   W_ih: [H, I]   W_hh: [H, H]   b_ih, b_hh: [H]
 *
 *   forward, t = 0 .. T−1:
 *     a_t = x_t W_ihᵀ + b_ih + h_(t−1) W_hhᵀ + b_hh      h_t = f(a_t)      y_t = h_t
 *     f = tanh (default) or relu
 *
 *   backward, t = T−1 .. 0, with dh = 0 after the last step:
 *     da_t = (dy_t + dh) ⊙ f'(a_t)       f' = 1 − h_t² (tanh), [h_t > 0] (relu)
 *     dh = da_t W_hh                     (into step t − 1)
 *   then over all steps at once:
 *     dW_ih = Σ_t da_tᵀ x_t   dW_hh = Σ_t da_tᵀ h_(t−1)   db_ih = db_hh = Σ_t Σ_n da_t
 *     dx_t = da_t W_ih
 *
 * (The original's h_t = tanh(U x_t + W h_(t−1) + b) is this with U = W_ih,
 * W = W_hh, b = b_ih + b_hh.) Nothing is cached but the outputs h_t; the
 * level's cache (one row of H floats per row, the least a cell gets) holds
 * the last two steps of a sweep split by streams (forward_slice).
 *
 * Spec: `rnn H [layers=L] [dropout=P] [act=tanh|relu]`; stacking and the
 * carried state: recurrent.h. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "kernels/rnn.h"
#include "layers/recurrent.h"

#include <stdio.h>
#include <string.h>

/* Slice s runs whole steps of its own streams on a thread of the team
 * (sn_rnn_run_steps split by streams). */
static int own_streams(const sn_rnn_slice *s) {
    return s->u0 == 0 && s->u1 == s->v->H && sn_in_parallel();
}

/* The streams of a thread's slice, step t, in the level's cache: [2][N, H],
 * the last two steps (an RNN caches nothing else). */
static float *step_rows(const sn_rnn_slice *s, int t) {
    return s->v->cache + (size_t)(t & 1) * s->v->N * s->v->H + (size_t)s->n0 * s->v->H;
}

/* Step s->t for the streams and hidden units of slice s (s->arg: relu).
 * Split by streams over a team, a thread's step is made in its step rows,
 * which only it touches, then copied into y, and the next step reads h_t
 * from the step rows. The other threads read y between two forward passes
 * (the next layer's products, the weight gradients), and a store into a
 * line another core still holds waits for that copy to be dropped: the
 * product's stores into y stalled its loads, where one copy's stores
 * stream out of the way. On a 2-core Zen 5 virtual machine, a 64-step sweep
 * of the RNN-256 with 16 streams a thread took 0.81-0.86 ms forward in y,
 * 0.77-0.82 in the step rows; 0.73-0.76 and 0.68-0.69 backward, where da is
 * made the same way; one thread alone on 16 streams, 0.66 and 0.58. */
static void forward_slice(const sn_rnn_slice *s) {
    const sn_rnn_level *v = s->v;
    int t = s->t, H = v->H, n = s->n1 - s->n0, w = s->u1 - s->u0;
    size_t NH = (size_t)v->N * H, o = (size_t)s->n0 * H;
    float *a = v->y + t * NH + o;
    if (own_streams(s)) {
        float *p = step_rows(s, t);
        const float *h_prev = t ? step_rows(s, t - 1) : v->h0 + o;
        if (!v->tok) memcpy(p, a, (size_t)n * H * sizeof(float)); /* the input term */
        sn_rnn_slice_product(s, 1, H, h_prev, H, 1.0f, p, H, 1);
        sn_rnn_act(p, (size_t)n * H, s->arg);
        memcpy(a, p, (size_t)n * H * sizeof(float));
        return;
    }
    const float *h_prev = (t ? v->y + (t - 1) * NH : v->h0) + o;
    sn_rnn_slice_product(s, 1, H, h_prev, H, 1.0f, a, H, 1);
    for (int r = 0; r < n; r++) sn_rnn_act(a + (size_t)r * H + s->u0, (size_t)w, s->arg);
}

static void rnn_forward(const sn_rnn_level *v, int relu) {
    int T = v->T, N = v->N, H = v->H, I = v->I, R = T * N;
    size_t NH = (size_t)N * H;
    float *b = v->scratch; /* b_ih + b_hh, added once; after it, work space */
    for (int j = 0; j < H; j++) b[j] = v->b_ih->value.data[j] + v->b_hh->value.data[j];
    sn_rnn_level fv = *v; /* with a one-hot x: the projection made step by step */
    if (!sn_rnn_onehot_input(&fv, b, b + H, (size_t)R * 2 * H - H) &&
        !sn_rnn_distinct_input(&fv, b, b + H, (size_t)R * 2 * H - H) &&
        !sn_onehot_project_bias(v->x, R, I, v->w_ih->value.data, H, b, v->y, b + H,
                                (size_t)R * 2 * H - H)) {
        sn_sgemm(0, 1, R, H, I, 1.0f, v->x, I, v->w_ih->value.data, I, 0.0f, v->y, H);
        sn_add_row_vector(v->y, b, R, H);
    }
    if (T == 1) { /* one step (sampling): W_hh as it is, not worth its panels */
        sn_sgemm(0, 1, N, H, H, 1.0f, v->h0, H, v->w_hh->value.data, H, 1.0f, v->y, H);
        sn_rnn_act(v->y, NH, relu);
    } else {
        sn_rnn_run_steps(&fv, NULL, relu, 0, forward_slice);
    }
    memcpy(v->hT, v->y + (T - 1) * NH, NH * sizeof(float));
}

/* Backward step s->t for the streams and hidden units of slice s: da_t
 * from dh, the gradient reaching h_t from step t + 1 (dh = da_(t+1) W_hh,
 * computed here for these streams and units). Split by streams over a
 * team, da_t is made in the step rows and copied into da, as forward does
 * y (the weight gradients read all of da on every thread). */
static void backward_slice(const sn_rnn_slice *s) {
    const sn_rnn_level *v = s->v;
    int t = s->t, T = v->T, H = v->H, R = T * v->N, n = s->n1 - s->n0;
    int u0 = s->u0, w = s->u1 - s->u0;
    size_t NH = (size_t)v->N * H, o = (size_t)s->n0 * H;
    float *da = v->scratch, *dh = da + (size_t)R * H + o;
    int own = own_streams(s);
    if (t == T - 1)
        for (int r = 0; r < n; r++) memset(dh + (size_t)r * H + u0, 0, (size_t)w * sizeof(float));
    else
        sn_rnn_slice_product(s, 1, H, own ? step_rows(s, t + 1) : da + (t + 1) * NH + o, H, 0.0f,
                             dh, H, 0);
    if (own) {
        float *p = step_rows(s, t);
        sn_rnn_act_backward(v->y + t * NH + o, s->dy + t * NH + o, dh, p, (size_t)n * H, s->arg);
        memcpy(da + t * NH + o, p, (size_t)n * H * sizeof(float));
        return;
    }
    for (int r = 0; r < n; r++) {
        size_t at = t * NH + o + (size_t)r * H + u0;
        sn_rnn_act_backward(v->y + at, s->dy + at, dh + (size_t)r * H + u0, da + at, (size_t)w,
                            s->arg);
    }
}

/* One buffer da serves as dgx and dgh: both biases sit outside the activation. */
static void rnn_backward(const sn_rnn_level *v, const float *dy, float *dx, int relu) {
    int R = v->T * v->N, H = v->H;
    size_t NH = (size_t)v->N * H;
    float *da = v->scratch, *work = da + (size_t)R * H + NH; /* after da, dh */
    sn_rnn_run_steps(v, dy, relu, 1, backward_slice);
    sn_rnn_weight_grads(v, da, da, work, (size_t)R * H - NH, dx);
}

static void tanh_forward(const sn_rnn_level *v) {
    rnn_forward(v, 0);
}
static void tanh_backward(const sn_rnn_level *v, const float *dy, float *dx) {
    rnn_backward(v, dy, dx, 0);
}
static void relu_forward(const sn_rnn_level *v) {
    rnn_forward(v, 1);
}
static void relu_backward(const sn_rnn_level *v, const float *dy, float *dx) {
    rnn_backward(v, dy, dx, 1);
}

static const sn_rnn_cell tanh_cell = {"rnn", 1, 0, 0, 2, 1, tanh_forward, tanh_backward};
static const sn_rnn_cell relu_cell = {"rnn", 1, 0, 0, 2, 1, relu_forward, relu_backward};
static const sn_layer_ops rnn_ops = SN_RECURRENT_OPS("rnn");

sn_status sn_rnn_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    const char *act = sn_args_opt_str(a, "act", "tanh");
    int relu = strcmp(act, "relu") == 0;
    if (!relu && strcmp(act, "tanh") != 0)
        return sn_fail(err, SN_ERR_FORMAT, "rnn: act must be tanh or relu, got '%s'", act);
    sn_recurrent *r;
    sn_status s = sn_recurrent_create(a, relu ? &relu_cell : &tanh_cell, &rnn_ops, &r, err);
    if (s != SN_OK) return s;
    size_t len = strlen(r->base.desc);
    if (relu) snprintf(r->base.desc + len, sizeof r->base.desc - len, " act=relu");
    *out = &r->base;
    return SN_OK;
}
