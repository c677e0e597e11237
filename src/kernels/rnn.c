/* Pointwise kernels of the recurrent cells (see rnn.h for the equations). */
#include "kernels/rnn.h"

#include "kernels/fastmath.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <string.h>

int sn_rnn_chunks(int N) {
    int nt = sn_get_threads();
    if (nt <= 1 || N <= 4) return 1;
    int rows = (N + 2 * nt - 1) / (2 * nt);
    if (rows < 4) rows = 4;
    return (N + rows - 1) / rows;
}

void sn_rnn_rows(int N, int chunks, int c, int *n0, int *n1) {
    int rows = (N + chunks - 1) / chunks;
    *n0 = c * rows < N ? c * rows : N;
    *n1 = (c + 1) * rows < N ? (c + 1) * rows : N;
}

/* The token of a one-hot row, or -1. */
static int hot_index(const float *x, int V) {
    int hot = -1;
    for (int k = 0; k < V; k++) {
        if (x[k] == 1.0f && hot < 0)
            hot = k;
        else if (x[k] != 0.0f)
            return -1;
    }
    return hot;
}

static int all_onehot(const float *x, int rows, int V) {
    for (int r = 0; r < rows; r++)
        if (hot_index(x + (size_t)r * V, V) < 0) return 0;
    return 1;
}

int sn_onehot_project(const float *x, int rows, int V, const float *W, int G, float *y, float *work,
                      size_t work_floats) {
    if (rows <= 0 || !all_onehot(x, rows, V)) return 0;
    if (work && work_floats >= (size_t)V * G) {
        /* [V, G]: each token's column as a row. + 0.0f turns a −0 into +0,
         * as the GEMM's sum (from +0) does. */
        sn_transpose(W, G, V, work);
        for (int r = 0; r < rows; r++) {
            const float *w = work + (size_t)hot_index(x + (size_t)r * V, V) * G;
            float *yr = y + (size_t)r * G;
            for (int j = 0; j < G; j++) yr[j] = w[j] + 0.0f;
        }
        return 1;
    }
    for (int r = 0; r < rows; r++) {
        const float *w = W + hot_index(x + (size_t)r * V, V);
        float *yr = y + (size_t)r * G;
        for (int j = 0; j < G; j++) yr[j] = w[(size_t)j * V] + 0.0f;
    }
    return 1;
}

int sn_onehot_weight_grad(const float *x, int rows, int V, const float *da, int G, float *dW,
                          float *work, size_t work_floats) {
    if (rows <= 0 || work_floats < (size_t)V * G || !all_onehot(x, rows, V)) return 0;
    int kb = sn_sgemm_k_block(rows);
    for (int r0 = 0; r0 < rows; r0 += kb) {
        int r1 = r0 + kb < rows ? r0 + kb : rows;
        memset(work, 0, sizeof(float) * V * G); /* [V, G]: this block's sums per token */
        for (int r = r0; r < r1; r++) {
            float *s = work + (size_t)hot_index(x + (size_t)r * V, V) * G;
            const float *d = da + (size_t)r * G;
            for (int j = 0; j < G; j++) s[j] += d[j];
        }
        for (int j = 0; j < G; j++)
            for (int k = 0; k < V; k++) {
                float b = work[(size_t)k * G + j];
                dW[(size_t)j * V + k] = r0 == 0 ? b : dW[(size_t)j * V + k] + b;
            }
    }
    return 1;
}

void sn_rnn_act(float *y, size_t n, int relu) {
    if (relu)
        for (size_t i = 0; i < n; i++) y[i] = y[i] < 0 ? 0.0f : y[i];
    else
        for (size_t i = 0; i < n; i++) y[i] = tanh1(y[i]);
}

void sn_rnn_act_backward(const float *y, const float *dy, const float *dh, float *da, size_t n,
                         int relu) {
    for (size_t i = 0; i < n; i++) {
        float d = dy[i] + dh[i];
        da[i] = relu ? (y[i] > 0 ? d : 0.0f) : d * (1.0f - y[i] * y[i]);
    }
}

/* One stream's row of each step function below. The restrict parameters
 * (distinct gate blocks and arrays) let the loops vectorize. */
static void lstm_row_forward(int H, float *restrict i, float *restrict f, float *restrict g,
                             float *restrict o, const float *restrict cp, float *restrict c,
                             float *restrict tc, float *restrict h) {
    for (int j = 0; j < H; j++) {
        i[j] = sigmoid1(i[j]), f[j] = sigmoid1(f[j]), g[j] = tanh1(g[j]), o[j] = sigmoid1(o[j]);
        c[j] = f[j] * cp[j] + i[j] * g[j];
        tc[j] = tanh1(c[j]);
        h[j] = o[j] * tc[j];
    }
}

void sn_lstm_step_forward(int N, int H, float *g, const float *c_prev, float *c, float *tc,
                          float *h) {
    for (int n = 0; n < N; n++) {
        float *gn = g + (size_t)n * 4 * H;
        size_t o = (size_t)n * H;
        lstm_row_forward(H, gn, gn + H, gn + 2 * H, gn + 3 * H, c_prev + o, c + o, tc + o, h + o);
    }
}

static void lstm_row_backward(int H, const float *restrict i, const float *restrict f,
                              const float *restrict g, const float *restrict o,
                              const float *restrict cp, const float *restrict tc,
                              const float *restrict dy, const float *restrict dh_next,
                              float *restrict dc, float *restrict di, float *restrict df,
                              float *restrict dg, float *restrict dout) {
    for (int j = 0; j < H; j++) {
        float dh = dy[j] + dh_next[j];
        float dct = dc[j] + dh * o[j] * (1.0f - tc[j] * tc[j]);
        di[j] = dct * g[j] * i[j] * (1.0f - i[j]);
        df[j] = dct * cp[j] * f[j] * (1.0f - f[j]);
        dg[j] = dct * i[j] * (1.0f - g[j] * g[j]);
        dout[j] = dh * tc[j] * o[j] * (1.0f - o[j]);
        dc[j] = dct * f[j];
    }
}

void sn_lstm_step_backward(int N, int H, const float *g, const float *c_prev, const float *tc,
                           const float *dy, const float *dh_next, float *dc, float *dg) {
    for (int n = 0; n < N; n++) {
        const float *gn = g + (size_t)n * 4 * H;
        float *dn = dg + (size_t)n * 4 * H;
        size_t o = (size_t)n * H;
        lstm_row_backward(H, gn, gn + H, gn + 2 * H, gn + 3 * H, c_prev + o, tc + o, dy + o,
                          dh_next + o, dc + o, dn, dn + H, dn + 2 * H, dn + 3 * H);
    }
}

static void gru_row_forward(int H, float *restrict r, float *restrict z, float *restrict n,
                            const float *restrict ur, const float *restrict uz,
                            const float *restrict un, float *restrict hn,
                            const float *restrict h_prev, float *restrict h) {
    for (int j = 0; j < H; j++) {
        r[j] = sigmoid1(r[j] + ur[j]);
        z[j] = sigmoid1(z[j] + uz[j]);
        n[j] = tanh1(n[j] + r[j] * un[j]);
        hn[j] = un[j];
        h[j] = (1.0f - z[j]) * n[j] + z[j] * h_prev[j];
    }
}

void sn_gru_step_forward(int N, int H, float *g, const float *hp, float *hn, const float *h_prev,
                         float *h) {
    for (int k = 0; k < N; k++) {
        float *gk = g + (size_t)k * 3 * H;
        const float *uk = hp + (size_t)k * 3 * H;
        size_t o = (size_t)k * H;
        gru_row_forward(H, gk, gk + H, gk + 2 * H, uk, uk + H, uk + 2 * H, hn + o, h_prev + o,
                        h + o);
    }
}

static void gru_row_backward(int H, const float *restrict r, const float *restrict z,
                             const float *restrict n, const float *restrict un,
                             const float *restrict h_prev, const float *restrict dy,
                             float *restrict dh, float *restrict xr, float *restrict xz,
                             float *restrict xn, float *restrict hr, float *restrict hz,
                             float *restrict hnd) {
    for (int j = 0; j < H; j++) {
        float d = dy[j] + dh[j];
        float dn = d * (1.0f - z[j]) * (1.0f - n[j] * n[j]);
        float dz = d * (h_prev[j] - n[j]) * z[j] * (1.0f - z[j]);
        float dr = dn * un[j] * r[j] * (1.0f - r[j]);
        xr[j] = dr, hr[j] = dr;
        xz[j] = dz, hz[j] = dz;
        xn[j] = dn, hnd[j] = dn * r[j];
        dh[j] = d * z[j];
    }
}

void sn_gru_step_backward(int N, int H, const float *g, const float *hn, const float *h_prev,
                          const float *dy, float *dh, float *dgx, float *dgh) {
    for (int k = 0; k < N; k++) {
        const float *gk = g + (size_t)k * 3 * H;
        float *xk = dgx + (size_t)k * 3 * H, *hk = dgh + (size_t)k * 3 * H;
        size_t o = (size_t)k * H;
        gru_row_backward(H, gk, gk + H, gk + 2 * H, hn + o, h_prev + o, dy + o, dh + o, xk, xk + H,
                         xk + 2 * H, hk, hk + H, hk + 2 * H);
    }
}
