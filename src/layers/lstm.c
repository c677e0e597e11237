/* Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget
 * gate of Gers et al. 2000), PyTorch's nn.LSTM.
 *
 *   x_t: [N, I]   h_t, c_t: [N, H]   W_ih: [4H, I]   W_hh: [4H, H]   b_ih, b_hh: [4H]
 *   gate blocks in rows of W and b: i (input), f (forget), g (candidate), o (output)
 *
 *   forward, t = 0 .. T−1:
 *     a_t = x_t W_ihᵀ + b_ih + h_(t−1) W_hhᵀ + b_hh           [N, 4H] = [a_i a_f a_g a_o]
 *     i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
 *     c_t = f ⊙ c_(t−1) + i ⊙ g        h_t = o ⊙ tanh(c_t)     y_t = h_t
 *
 *   backward, t = T−1 .. 0, with dh = dc = 0 after the last step:
 *     dh_t = dy_t + dh              dc_t = dc + dh_t ⊙ o ⊙ (1 − tanh²c_t)
 *     da_i = dc_t ⊙ g ⊙ i(1 − i)     da_f = dc_t ⊙ c_(t−1) ⊙ f(1 − f)
 *     da_g = dc_t ⊙ i ⊙ (1 − g²)     da_o = dh_t ⊙ tanh c_t ⊙ o(1 − o)
 *     dc = dc_t ⊙ f                  dh = da_t W_hh            (into step t − 1)
 *   then over all steps at once:
 *     dW_ih = Σ_t da_tᵀ x_t   dW_hh = Σ_t da_tᵀ h_(t−1)   db_ih = db_hh = Σ_t Σ_n da_t
 *     dx_t = da_t W_ih
 *
 * The input projection x W_ihᵀ of all T·N rows is one matrix product before
 * the time loop (for a one-hot x, a gather of W_ih's columns, made step by
 * step just before each step's recurrent product, sn_rnn_onehot_input);
 * only h_(t−1) W_hhᵀ (and in backward da_t W_hh) is done step by step, over
 * all streams, a range of hidden units per thread (sn_rnn_run_steps). Cached
 * per row: the activated gates [4H], c_t and tanh c_t.
 *
 * Spec: `lstm H [layers=L] [dropout=P] [forget_bias=B]`: the forget-gate
 * bias starts at B (b_ih's f block = B, b_hh's = 0; default 1, which keeps
 * the memory open early in training, Jozefowicz et al. 2015); forget_bias=none
 * keeps PyTorch's random bias. Stacking and the carried state: recurrent.h. */
#include "kernels/kernels.h"
#include "kernels/rnn.h"
#include "layers/recurrent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Step s->t for the streams and hidden units of slice s. */
static void forward_slice(const sn_rnn_slice *s) {
    const sn_rnn_level *v = s->v;
    int t = s->t, N = v->N, H = v->H, G = 4 * H, R = v->T * N, n = s->n1 - s->n0;
    size_t NH = (size_t)N * H, o = (size_t)t * NH + (size_t)s->n0 * H;
    float *gates = v->cache, *c = gates + (size_t)R * G, *tc = c + (size_t)R * H;
    float *g = gates + ((size_t)t * N + s->n0) * G;
    const float *h_prev = (t ? v->y + (t - 1) * NH : v->h0) + (size_t)s->n0 * H;
    const float *c_prev = (t ? c + (t - 1) * NH : v->c0) + (size_t)s->n0 * H;
    sn_rnn_slice_product(s, 4, H, h_prev, H, 1.0f, g, G, 1);
    sn_lstm_step_forward(n, H, s->u0, s->u1, g, c_prev, c + o, tc + o, v->y + o);
}

static void lstm_forward(const sn_rnn_level *v) {
    int T = v->T, N = v->N, H = v->H, I = v->I, G = 4 * H, R = T * N;
    size_t NH = (size_t)N * H;
    float *gates = v->cache, *c = gates + (size_t)R * G, *tc = c + (size_t)R * H;
    float *b = v->scratch; /* b_ih + b_hh, added once; after it, work space */
    for (int j = 0; j < G; j++) b[j] = v->b_ih->value.data[j] + v->b_hh->value.data[j];
    sn_rnn_level fv = *v; /* with a one-hot x: the projection made step by step */
    if (!sn_rnn_onehot_input(&fv, b, b + G, (size_t)R * 6 * H - G) &&
        !sn_rnn_distinct_input(&fv, b, b + G, (size_t)R * 6 * H - G) &&
        !sn_onehot_project_bias(v->x, R, I, v->w_ih->value.data, G, b, gates, b + G,
                                (size_t)R * 6 * H - G)) {
        sn_sgemm(0, 1, R, G, I, 1.0f, v->x, I, v->w_ih->value.data, I, 0.0f, gates, G);
        sn_add_row_vector(gates, b, R, G);
    }
    if (T == 1) { /* one step (sampling): W_hh as it is, not worth its panels */
        sn_sgemm(0, 1, N, G, H, 1.0f, v->h0, H, v->w_hh->value.data, H, 1.0f, gates, G);
        sn_lstm_step_forward(N, H, 0, H, gates, v->c0, c, tc, v->y);
    } else {
        sn_rnn_run_steps(&fv, NULL, 0, 0, forward_slice);
    }
    memcpy(v->hT, v->y + (T - 1) * NH, NH * sizeof(float));
    memcpy(v->cT, c + (T - 1) * NH, NH * sizeof(float));
}

/* Backward step s->t for the streams and hidden units of slice s: da_t
 * from dh, the gradient reaching h_t from step t + 1 (dh = da_(t+1) W_hh,
 * computed here for these streams and units). */
static void backward_slice(const sn_rnn_slice *s) {
    const sn_rnn_level *v = s->v;
    int t = s->t, T = v->T, N = v->N, H = v->H, G = 4 * H, R = T * N, n = s->n1 - s->n0;
    int u0 = s->u0, u1 = s->u1;
    size_t NH = (size_t)N * H, o = (size_t)s->n0 * H, to = (size_t)t * NH + o;
    const float *gates = v->cache, *c = gates + (size_t)R * G, *tc = c + (size_t)R * H;
    float *da = v->scratch, *dh = da + (size_t)R * G + o, *dc = da + (size_t)R * G + NH + o;
    if (t == T - 1) {
        for (int r = 0; r < n; r++) {
            memset(dh + (size_t)r * H + u0, 0, (size_t)(u1 - u0) * sizeof(float));
            memset(dc + (size_t)r * H + u0, 0, (size_t)(u1 - u0) * sizeof(float));
        }
    } else {
        sn_rnn_slice_product(s, 1, G, da + ((size_t)(t + 1) * N + s->n0) * G, G, 0.0f, dh, H, 0);
    }
    const float *c_prev = (t ? c + (t - 1) * NH : v->c0) + o;
    size_t g0 = ((size_t)t * N + s->n0) * G;
    sn_lstm_step_backward(n, H, u0, u1, gates + g0, c_prev, tc + to, s->dy + to, dh, dc, da + g0);
}

/* One buffer da serves as dgx and dgh: both biases sit outside the gates. */
static void lstm_backward(const sn_rnn_level *v, const float *dy, float *dx) {
    int R = v->T * v->N, H = v->H, G = 4 * H;
    size_t NH = (size_t)v->N * H;
    float *da = v->scratch, *work = da + (size_t)R * G + 2 * NH; /* after da, dh, dc */
    sn_rnn_run_steps(v, dy, 0, 1, backward_slice);
    sn_rnn_weight_grads(v, da, da, work, (size_t)R * 2 * H - 2 * NH, dx);
}

static const sn_rnn_cell lstm_cell = {"lstm", 4, 1, 6, 6, 1, lstm_forward, lstm_backward};
static const sn_layer_ops lstm_ops = SN_RECURRENT_OPS("lstm");

sn_status sn_lstm_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    const char *fb = sn_args_opt_str(a, "forget_bias", "1");
    float forget_bias = 0.0f;
    int keep_random = strcmp(fb, "none") == 0;
    if (!keep_random) {
        char *end;
        forget_bias = strtof(fb, &end);
        if (end == fb || *end || !isfinite(forget_bias))
            return sn_fail(err, SN_ERR_FORMAT,
                           "lstm: forget_bias must be a number or none, got '%s'", fb);
    }
    sn_recurrent *r;
    sn_status s = sn_recurrent_create(a, &lstm_cell, &lstm_ops, &r, err);
    if (s != SN_OK) return s;
    for (int k = 0; k < r->levels && !keep_random; k++) {
        float *b_ih = r->base.params[4 * k + 2].value.data,
              *b_hh = r->base.params[4 * k + 3].value.data;
        for (int j = r->H; j < 2 * r->H; j++) b_ih[j] = forget_bias, b_hh[j] = 0.0f;
    }
    size_t len = strlen(r->base.desc);
    if (!keep_random && forget_bias != 1.0f)
        snprintf(r->base.desc + len, sizeof r->base.desc - len, " forget_bias=%g",
                 (double)forget_bias);
    *out = &r->base;
    return SN_OK;
}
