/* Gated recurrent unit (Cho et al. 2014), PyTorch's nn.GRU.
 *
 *   x_t: [N, I]   h_t: [N, H]   W_ih: [3H, I]   W_hh: [3H, H]   b_ih, b_hh: [3H]
 *   gate blocks in rows of W and b: r (reset), z (update), n (candidate)
 *
 *   forward, t = 0 .. T−1:
 *     [x_r x_z x_n] = x_t W_ihᵀ + b_ih        [u_r u_z u_n] = h_(t−1) W_hhᵀ + b_hh
 *     r = σ(x_r + u_r)   z = σ(x_z + u_z)   n = tanh(x_n + r ⊙ u_n)
 *     h_t = (1 − z) ⊙ n + z ⊙ h_(t−1)          y_t = h_t
 *
 *   backward, t = T−1 .. 0, with dh = 0 after the last step:
 *     d = dy_t + dh
 *     dx_n = d ⊙ (1 − z) ⊙ (1 − n²)              du_n = dx_n ⊙ r
 *     dx_z = du_z = d ⊙ (h_(t−1) − n) ⊙ z(1 − z)
 *     dx_r = du_r = dx_n ⊙ u_n ⊙ r(1 − r)
 *     dh = d ⊙ z + du_t W_hh                     (into step t − 1)
 *   then over all steps at once:
 *     dW_ih = Σ_t dx_tᵀ x_t   db_ih = Σ dx_t   dW_hh = Σ_t du_tᵀ h_(t−1)   db_hh = Σ du_t
 *     dx_t = dx_t W_ih   (the gradient of the input; dx_t above is of the projection)
 *
 * Unlike the LSTM, b_hh's n block sits inside r ⊙ (·), so the two biases
 * have different gradients. Cached per row: r, z, n [3H] and u_n [H].
 *
 * Spec: `gru H [layers=L] [dropout=P]`; stacking and state: recurrent.h. */
#include "kernels/kernels.h"
#include "kernels/rnn.h"
#include "layers/recurrent.h"

#include <string.h>

/* The time loop for the streams of span p. */
static void forward_rows(const sn_rnn_span *p) {
    const sn_rnn_level *v = p->v;
    int T = v->T, N = v->N, H = v->H, G = 3 * H, R = T * N, n = p->n;
    size_t NH = p->NH, o = p->o;
    float *gates = v->cache, *un = gates + (size_t)R * G, *u = v->scratch + (size_t)p->n0 * G;
    for (int t = 0; t < T; t++) {
        const float *h_prev = t ? v->y + (t - 1) * NH : v->h0;
        for (int k = 0; k < n; k++)
            memcpy(u + (size_t)k * G, v->b_hh->value.data, (size_t)G * sizeof(float));
        sn_sgemm(0, 0, n, G, H, 1.0f, h_prev + o, H, v->whh_t, G, 1.0f, u, G);
        sn_gru_step_forward(n, H, gates + ((size_t)t * N + p->n0) * G, u, un + t * NH + o,
                            h_prev + o, v->y + t * NH + o);
    }
}

static void gru_forward(const sn_rnn_level *v) {
    int T = v->T, N = v->N, H = v->H, I = v->I, G = 3 * H, R = T * N;
    size_t NH = (size_t)N * H;
    float *gates = v->cache, *work = v->scratch + (size_t)N * G; /* after u */
    if (!sn_onehot_project_bias(v->x, R, I, v->w_ih->value.data, G, v->b_ih->value.data, gates,
                                work, (size_t)R * 7 * H - (size_t)N * G)) {
        sn_sgemm(0, 1, R, G, I, 1.0f, v->x, I, v->w_ih->value.data, I, 0.0f, gates, G);
        sn_add_row_vector(gates, v->b_ih->value.data, R, G);
    }
    sn_transpose(v->w_hh->value.data, G, H, v->whh_t);
    sn_rnn_run_spans(v, NULL, 0, forward_rows);
    memcpy(v->hT, v->y + (T - 1) * NH, NH * sizeof(float));
}

/* The backward time loop for the streams of span p: dgx and dgh of every step. */
static void backward_rows(const sn_rnn_span *p) {
    const sn_rnn_level *v = p->v;
    int T = v->T, N = v->N, H = v->H, G = 3 * H, R = T * N, n = p->n;
    size_t NH = p->NH, o = p->o;
    const float *gates = v->cache, *un = gates + (size_t)R * G;
    float *dgx = v->scratch, *dgh = dgx + (size_t)R * G, *dh = dgh + (size_t)R * G + o;
    memset(dh, 0, (size_t)n * H * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const float *h_prev = t ? v->y + (t - 1) * NH : v->h0;
        size_t g0 = ((size_t)t * N + p->n0) * G;
        sn_gru_step_backward(n, H, gates + g0, un + t * NH + o, h_prev + o, p->dy + t * NH + o, dh,
                             dgx + g0, dgh + g0);
        if (t > 0) sn_sgemm(0, 0, n, H, G, 1.0f, dgh + g0, G, v->w_hh->value.data, H, 1.0f, dh, H);
    }
}

static void gru_backward(const sn_rnn_level *v, const float *dy, float *dx) {
    int R = v->T * v->N, G = 3 * v->H;
    size_t NH = (size_t)v->N * v->H;
    float *dgx = v->scratch, *dgh = dgx + (size_t)R * G, *work = dgh + (size_t)R * G + NH;
    sn_rnn_run_spans(v, dy, 0, backward_rows);
    sn_rnn_weight_grads(v, dgx, dgh, work, (size_t)R * v->H - NH, dx);
}

static const sn_rnn_cell gru_cell = {"gru", 3, 0, 4, 7, 0, gru_forward, gru_backward};
static const sn_layer_ops gru_ops = SN_RECURRENT_OPS("gru");

sn_status sn_gru_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    sn_recurrent *r;
    sn_status s = sn_recurrent_create(a, &gru_cell, &gru_ops, &r, err);
    if (s == SN_OK) *out = &r->base;
    return s;
}
