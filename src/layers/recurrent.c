/* The recurrent-layer driver shared by rnn.c, lstm.c and gru.c: levels
 * stacked with dropout between them, the carried state, buffers (see
 * recurrent.h). The cell files do the math of one level.
 *
 *   forward:  in_0 = x;  in_k = m_k ⊙ out_(k−1) (training with dropout, mask
 *             m_k), else out_(k−1);  out_k = cell(in_k, h0_k, c0_k);  y = out_(L−1)
 *   backward: d out_(L−1) = dy;  level k gives d in_k;  d out_(k−1) = m_k ⊙ d in_k
 *
 * The dropout masks are not stored: each is a hash of a key drawn from the
 * model's generator and the value's index (sn_dropout_mask_hash, as the
 * dropout layer does), so backward regenerates it from the key. */
#include "layers/recurrent.h"

#include "core/threads.h"
#include "kernels/dropout.h"
#include "kernels/kernels.h"
#include "kernels/rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

/* Up to STREAM_MAX_WEIGHTS recurrent weights (1 MiB, an LSTM of 256 units:
 * half a core's L2 on the Xeon this was chosen on, all of it on a Zen 5),
 * each thread runs the whole time loop for its own streams and keeps all of
 * W_hh in its cache: no hand-off between steps, and no thread reads what
 * another wrote in the step before. Above it, W_hh is kept in panels and
 * steps are split by units (sn_rnn_run_steps): one thread's product reads
 * each weight once per step for all streams, and two threads share the
 * weights between their caches. (For 64 steps of 32 streams on 2 threads,
 * the LSTM-256 products alone took 13 % less time split by streams than by
 * units, forward and backward; the LSTM-512's took more.) */
#ifndef STREAM_MAX_WEIGHTS
#define STREAM_MAX_WEIGHTS (1 << 18)
#endif

/* level k's piece of a [levels][stride] buffer */
static float *part(float *buf, int k, size_t stride) {
    return buf ? buf + (size_t)k * stride : NULL;
}

/* The view of level k for a pass of T steps of N streams; x and y are
 * filled in by the caller. */
static sn_rnn_level level_view(sn_recurrent *r, int k, int T, int N) {
    size_t H = (size_t)r->H, rows = (size_t)r->max_rows, G = (size_t)r->cell->gates;
    sn_rnn_level v;
    memset(&v, 0, sizeof v);
    v.k = k;
    v.I = k == 0 ? r->I : r->H;
    v.H = r->H;
    v.T = T;
    v.N = N;
    v.h0 = part(r->h0, k, rows * H);
    v.c0 = part(r->c0, k, rows * H);
    v.hT = part(r->hT, k, rows * H);
    v.cT = part(r->cT, k, rows * H);
    v.cache = part(r->cache, k, rows * H * (size_t)r->cell->cache_per_row);
    v.scratch = r->scratch;
    v.whh_t = part(r->whh_t, k, G * H * H);
    v.whh_p = r->whh_p;
    v.w_ih = &r->base.params[4 * k + 0];
    v.w_hh = &r->base.params[4 * k + 1];
    v.b_ih = &r->base.params[4 * k + 2];
    v.b_hh = &r->base.params[4 * k + 3];
    v.tok = k == 0 && r->tok_ok ? r->tok : NULL;
    v.ids = k == 0 && !r->tok_ok ? r->tok : NULL;
    return v;
}

static int dropping(const sn_recurrent *r) {
    return r->train && r->dropout > 0 && r->levels > 1;
}

/* The input of level k > 0 in the last forward pass. */
static float *level_input(sn_recurrent *r, int k) {
    size_t stride = (size_t)r->max_rows * r->H;
    return dropping(r) ? part(r->dropped, k - 1, stride) : part(r->seq, k - 1, stride);
}

void sn_recurrent_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    sn_recurrent *r = (sn_recurrent *)l;
    int R = x->shape[0], T = l->seq_len > 0 ? l->seq_len : 1;
    if (R % T != 0) T = 1;
    int N = R / T;
    size_t stride = (size_t)r->max_rows * r->H, NH = (size_t)N * r->H;
    r->T = T, r->N = N, r->train = train;
    if (r->state_n != N) {
        for (int k = 0; k < r->levels; k++) {
            memset(part(r->h0, k, stride), 0, NH * sizeof(float));
            if (r->c0) memset(part(r->c0, k, stride), 0, NH * sizeof(float));
        }
        r->state_n = N;
    }
    /* the tokens of a one-hot x, for the stepped cells' forward and backward */
    r->tok_ok = r->tok && r->cell->stepped && sn_onehot_tokens(x->data, R, r->I, r->tok);
    for (int k = 0; k < r->levels; k++) {
        sn_rnn_level v = level_view(r, k, T, N);
        v.x = x->data;
        if (k > 0 && dropping(r)) {
            uint64_t hi = sn_rng_u32(r->rng); /* two statements: a fixed draw order */
            r->drop_key[k] = hi << 32 | sn_rng_u32(r->rng);
            sn_dropout_mask_hash(r->drop_key[k], r->drop, 1.0f / (1.0f - r->dropout),
                                 part(r->seq, k - 1, stride), level_input(r, k), (size_t)R * r->H);
        }
        if (k > 0) v.x = level_input(r, k);
        v.y = k == r->levels - 1 ? y->data : part(r->seq, k, stride);
        r->cell->forward(&v);
    }
}

void sn_recurrent_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y, const sn_tensor *dy,
                           sn_tensor *dx) {
    sn_recurrent *r = (sn_recurrent *)l;
    size_t stride = (size_t)r->max_rows * r->H, RH = (size_t)r->T * r->N * r->H;
    const float *dout = dy->data;
    for (int k = r->levels - 1; k >= 0; k--) {
        sn_rnn_level v = level_view(r, k, r->T, r->N);
        v.x = k == 0 ? x->data : level_input(r, k);
        v.y = k == r->levels - 1 ? y->data : part(r->seq, k, stride);
        float *din = k == 0 ? (dx ? dx->data : NULL) : r->dseq[k % 2];
        r->cell->backward(&v, dout, din);
        if (k > 0 && dropping(r)) {
            sn_dropout_mask_hash(r->drop_key[k], r->drop, 1.0f / (1.0f - r->dropout), din, din, RH);
        }
        dout = din;
    }
}

void sn_recurrent_reset_state(sn_layer *l) {
    ((sn_recurrent *)l)->state_n = 0;
}

void sn_recurrent_carry_state(sn_layer *l) {
    sn_recurrent *r = (sn_recurrent *)l;
    size_t stride = (size_t)r->max_rows * r->H, NH = (size_t)r->N * r->H;
    for (int k = 0; k < r->levels && r->N > 0; k++) {
        memcpy(part(r->h0, k, stride), part(r->hT, k, stride), NH * sizeof(float));
        if (r->c0) memcpy(part(r->c0, k, stride), part(r->cT, k, stride), NH * sizeof(float));
    }
    r->state_n = r->N;
}

int sn_recurrent_state(sn_layer *l, sn_layer_state *out) {
    sn_recurrent *r = (sn_recurrent *)l;
    size_t stride = (size_t)r->max_rows * r->H;
    for (int c = 0; c < (r->c0 ? 2 : 1); c++)
        out[c] = (sn_layer_state){.name = c ? "c" : "h",
                                  .levels = r->levels,
                                  .streams = r->state_n,
                                  .width = r->H,
                                  .max_streams = r->max_rows,
                                  .data = c ? r->c0 : r->h0,
                                  .stride = stride};
    return r->c0 ? 2 : 1;
}

void sn_recurrent_restore_state(sn_layer *l, int streams) {
    ((sn_recurrent *)l)->state_n = streams;
}

static void free_buffers(sn_recurrent *r) {
    float **bufs[] = {&r->h0,      &r->c0,      &r->hT,      &r->cT,    &r->seq,
                      &r->dropped, &r->dseq[0], &r->dseq[1], &r->cache, &r->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        sn_free(*bufs[i]);
        *bufs[i] = NULL;
    }
    sn_free(r->tok);
    r->tok = NULL;
    r->tok_ok = 0;
}

void sn_recurrent_free(sn_layer *l) {
    sn_recurrent *r = (sn_recurrent *)l;
    free_buffers(r);
    sn_free(r->whh_t);
    sn_free(r->whh_p);
}

/* a · b · c · d floats, or 0 on overflow */
static size_t count4(size_t a, size_t b, size_t c, size_t d) {
    size_t ab, abc, abcd;
    if (!sn_mul_ok(a, b, &ab) || !sn_mul_ok(ab, c, &abc) || !sn_mul_ok(abc, d, &abcd)) return 0;
    return abcd;
}

/* What recurrent_reserve allocates for max_rows rows, in bytes. */
static size_t recurrent_reserve_bytes(const sn_layer *l, int max_rows) {
    const sn_recurrent *r = (const sn_recurrent *)l;
    if (max_rows <= r->max_rows) return 0;
    size_t L = (size_t)r->levels, rows = (size_t)max_rows, H = (size_t)r->H;
    size_t state = count4(L, rows, H, 1), between = count4(L - 1, rows, H, 1);
    size_t cache =
        count4(L, rows, H, (size_t)(r->cell->cache_per_row ? r->cell->cache_per_row : 1));
    size_t scratch = count4(rows, H, (size_t)r->cell->scratch_per_row, 1);
    size_t dseq = count4(rows, H, 1, 1);
    if (!state || !cache || !scratch || !dseq) return SIZE_MAX;
    size_t tok = r->cell->stepped ? rows * sizeof(int) : 0;
    size_t parts[5] = {(r->cell->has_cell ? 4 : 2), 1, 1, 0, 0}, total = 0;
    parts[3] = L > 1 ? 1 + (r->dropout > 0) : 0; /* seq, dropped: `between` floats each */
    parts[4] = L > 1 ? 2 : 0;                    /* dseq[0], dseq[1] */
    size_t sizes[5] = {state, cache, scratch, between, dseq};
    for (int i = 0; i < 5; i++) {
        size_t n;
        if (!sn_mul_ok(parts[i], sizes[i], &n) || !sn_mul_ok(n, sizeof(float), &n) ||
            total > SIZE_MAX - n)
            return SIZE_MAX;
        total += n;
    }
    return total > SIZE_MAX - tok ? SIZE_MAX : total + tok;
}

static sn_status recurrent_reserve(sn_layer *l, int max_rows, sn_error *err) {
    sn_recurrent *r = (sn_recurrent *)l;
    if (max_rows <= r->max_rows) return SN_OK;
    free_buffers(r);
    r->max_rows = 0;
    r->state_n = 0;
    size_t L = (size_t)r->levels, rows = (size_t)max_rows, H = (size_t)r->H;
    size_t state = count4(L, rows, H, 1), between = count4(L - 1, rows, H, 1);
    size_t cache =
        count4(L, rows, H, (size_t)(r->cell->cache_per_row ? r->cell->cache_per_row : 1));
    size_t scratch = count4(rows, H, (size_t)r->cell->scratch_per_row, 1);
    int ok = state && cache && scratch;
    if (ok) {
        r->h0 = sn_alloc(state, sizeof(float));
        r->hT = sn_alloc(state, sizeof(float));
        r->cache = sn_alloc(cache, sizeof(float));
        r->scratch = sn_alloc(scratch, sizeof(float));
        ok = r->h0 && r->hT && r->cache && r->scratch;
        if (ok && r->cell->stepped) ok = (r->tok = sn_alloc(rows, sizeof(int))) != NULL;
    }
    if (ok && r->cell->has_cell) {
        r->c0 = sn_alloc(state, sizeof(float));
        r->cT = sn_alloc(state, sizeof(float));
        ok = r->c0 && r->cT;
    }
    if (ok && L > 1) {
        r->seq = sn_alloc(between, sizeof(float));
        r->dseq[0] = sn_alloc(rows * H, sizeof(float));
        r->dseq[1] = sn_alloc(rows * H, sizeof(float));
        ok = r->seq && r->dseq[0] && r->dseq[1];
        if (ok && r->dropout > 0) ok = (r->dropped = sn_alloc(between, sizeof(float))) != NULL;
    }
    if (!ok) {
        free_buffers(r);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory for %d rows of %d units",
                       r->cell->kind, max_rows, r->H);
    }
    r->max_rows = max_rows;
    return SN_OK;
}

sn_status sn_recurrent_create(sn_layer_args *a, const sn_rnn_cell *cell, const sn_layer_ops *ops,
                              sn_recurrent **out, sn_error *err) {
    int H, levels = 1;
    float p = 0.0f;
    sn_status s = sn_args_pos_int(a, 0, "number of hidden units", &H, err);
    if (s == SN_OK) s = sn_args_opt_int(a, "layers", &levels, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "dropout", &p, err);
    if (s == SN_OK) s = sn_args_done(a, 1, err);
    if (s != SN_OK) return s;
    if (levels < 1 || levels > SN_RNN_MAX_LEVELS)
        return sn_fail(err, SN_ERR_FORMAT, "%s: layers must be 1 to %d, got %d", cell->kind,
                       SN_RNN_MAX_LEVELS, levels);
    if (!(p >= 0 && p < 1))
        return sn_fail(err, SN_ERR_FORMAT, "%s: dropout must be in [0, 1), got %g", cell->kind,
                       (double)p);
    size_t in = sn_shape_size(a->in_ndim, a->in_shape);
    size_t G = (size_t)cell->gates;
    if (in > (1u << 24) || H > (1 << 16))
        return sn_fail(err, SN_ERR_SHAPE, "%s: input (%zu) or hidden size (%d) too large",
                       cell->kind, in, H);
    if (p > 0 && !a->rng) return sn_fail(err, SN_ERR_ARG, "%s: no random generator", cell->kind);

    sn_recurrent *r = sn_layer_alloc(sizeof *r, ops, a);
    if (!r) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", cell->kind);
    r->cell = cell;
    r->I = (int)in;
    r->H = H;
    r->levels = levels;
    r->dropout = p;
    r->drop = (uint32_t)fmin(round(ldexp((double)p, 32)), 4294967295.0);
    r->rng = a->rng;
    r->base.out_ndim = 1;
    r->base.out_shape[0] = H;
    r->base.reserve = recurrent_reserve;
    r->base.reserve_bytes = recurrent_reserve_bytes;
    r->whh_t = sn_alloc(count4((size_t)levels, G, (size_t)H, (size_t)H), sizeof(float));
    size_t panels = count4(1, G, (size_t)H, (size_t)H);
    if (cell->stepped && panels > STREAM_MAX_WEIGHTS) r->whh_p = sn_alloc(panels, sizeof(float));
    if (!r->whh_t || (cell->stepped && panels > STREAM_MAX_WEIGHTS && !r->whh_p))
        s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", cell->kind);
    /* PyTorch's initialization: every weight and bias U(−1/√H, 1/√H). */
    float bound = 1.0f / sqrtf((float)H);
    for (int k = 0; s == SN_OK && k < levels; k++) {
        const char *names[4] = {"weight_ih_l%d", "weight_hh_l%d", "bias_ih_l%d", "bias_hh_l%d"};
        int shapes[4][2] = {
            {(int)G * H, k == 0 ? (int)in : H}, {(int)G * H, H}, {(int)G * H, 0}, {(int)G * H, 0}};
        for (int j = 0; s == SN_OK && j < 4; j++) {
            char name[24];
            snprintf(name, sizeof name, names[j], k);
            s = sn_layer_add_param(&r->base, name, j < 2 ? 2 : 1, shapes[j], j < 2, err);
            if (s == SN_OK)
                sn_init_fill(&r->base.params[r->base.nparams - 1].value, SN_INIT_UNIFORM, 0, 0,
                             bound, a->rng);
        }
    }
    if (s != SN_OK) {
        sn_layer_free(&r->base);
        return s;
    }
    int len = snprintf(r->base.desc, sizeof r->base.desc, "%s %zu->%d", cell->kind, in, H);
    if (levels > 1 && len < (int)sizeof r->base.desc)
        len +=
            snprintf(r->base.desc + len, sizeof r->base.desc - (size_t)len, " layers=%d", levels);
    if (p > 0 && len < (int)sizeof r->base.desc)
        snprintf(r->base.desc + len, sizeof r->base.desc - (size_t)len, " dropout=%g", (double)p);
    *out = r;
    return SN_OK;
}

/* ---- what the cells share ----------------------------------------------------- */

typedef struct span_job {
    const sn_rnn_level *v;
    const float *dy;
    int chunks, arg;
    void (*fn)(const sn_rnn_span *s);
} span_job;

static void run_span(void *ctx, int chunk) {
    const span_job *j = ctx;
    int n0, n1, N = j->v->N, H = j->v->H;
    sn_rnn_rows(N, j->chunks, chunk, &n0, &n1);
    sn_rnn_span s = {j->v, j->dy, n0, n1 - n0, (size_t)n0 * H, (size_t)N * H, j->arg};
    j->fn(&s);
}

void sn_rnn_run_spans(const sn_rnn_level *v, const float *dy, int arg,
                      void (*fn)(const sn_rnn_span *s)) {
    span_job job = {v, dy, sn_rnn_chunks(v->N), arg, fn};
    sn_parallel(job.chunks, run_span, &job);
}

typedef struct step_job {
    const sn_rnn_level *v;
    const float *dy, *B;
    int t, arg, backward, panels, chunks;
    void (*fn)(const sn_rnn_slice *s);
} step_job;

/* Chunk `chunk` of step j->t: a range of whole panels of units. */
static void run_units(void *ctx, int chunk) {
    const step_job *j = ctx;
    int p0 = (int)((long)j->panels * chunk / j->chunks);
    int p1 = (int)((long)j->panels * (chunk + 1) / j->chunks);
    int u1 = p1 * SN_RNN_PANEL < j->v->H ? p1 * SN_RNN_PANEL : j->v->H;
    sn_rnn_slice s = {j->v, j->dy, j->t, 0, j->v->N, p0 * SN_RNN_PANEL, u1, j->arg, j->B};
    j->fn(&s);
}

/* Chunk `chunk` of the whole loop: a range of streams, every step. */
static void run_streams(void *ctx, int chunk) {
    const step_job *j = ctx;
    int n0, n1, T = j->v->T;
    sn_rnn_rows(j->v->N, j->chunks, chunk, &n0, &n1);
    for (int i = 0; i < T; i++) {
        int t = j->backward ? T - 1 - i : i;
        sn_rnn_slice s = {j->v, j->dy, t, n0, n1, 0, j->v->H, j->arg, j->B};
        j->fn(&s);
    }
}

/* Splitting a step by units costs a hand-off per step (about a
 * microsecond): it needs STEP_MT_MIN multiply-adds per step. */
#define STEP_MT_MIN (1 << 17)

void sn_rnn_run_steps(const sn_rnn_level *v, const float *dy, int arg, int backward,
                      void (*fn)(const sn_rnn_slice *s)) {
    int H = v->H, GH = v->w_hh->value.shape[0], G = GH / H;
    size_t weights = (size_t)v->w_hh->value.size;
    const float *W = v->w_hh->value.data;
    step_job job = {
        v, dy, NULL, 0, arg, backward, (H + SN_RNN_PANEL - 1) / SN_RNN_PANEL, sn_get_threads(), fn};
    if (weights <= STREAM_MAX_WEIGHTS) {
        /* B in panels too, in whh_t: W_hhᵀ for forward; W_hh for backward,
         * which overwrites it (forward packs it again) */
        if (!backward)
            sn_rnn_pack(W, 1, G, H, H, v->whh_t);
        else if (v->T > 1)
            sn_rnn_pack(W, 0, 1, H, GH, v->whh_t);
        job.B = v->whh_t;
        job.chunks = sn_rnn_chunks(v->N);
        sn_parallel(job.chunks, run_streams, &job);
        return;
    }
    if (job.chunks > job.panels) job.chunks = job.panels;
    if ((double)v->N * (double)weights < STEP_MT_MIN) job.chunks = 1;
    if (backward) {
        if (v->T > 1) sn_rnn_pack(W, 0, 1, H, GH, v->whh_p); /* B = W_hh */
        job.B = v->whh_p;
    } else {
        sn_rnn_pack(W, 1, G, H, H, v->whh_t); /* B = W_hhᵀ */
        job.B = v->whh_t;
    }
    for (int i = 0; i < v->T; i++) {
        job.t = backward ? v->T - 1 - i : i;
        if (job.chunks == 1)
            run_units(&job, 0);
        else
            sn_parallel(job.chunks, run_units, &job);
    }
}

void sn_rnn_slice_product(const sn_rnn_slice *s, int G, int K, const float *A, int lda, float beta,
                          float *C, int ldc, int input) {
    const sn_rnn_level *v = s->v;
    sn_rnn_input in, *inp = NULL;
    if (input && v->tok) {
        in = (sn_rnn_input){v->w_ih_t, v->bias_sum, v->tok + (size_t)s->t * v->N + s->n0,
                            v->w_ih_ld};
        inp = &in;
    }
    sn_rnn_panel_product(s->n1 - s->n0, G, v->H, K, s->u0, s->u1, A, lda, s->B, beta, C, ldc, inp,
                         s->t & 1);
}

int sn_rnn_onehot_input(sn_rnn_level *v, const float *bias, float *work, size_t work_len) {
    int GH = v->w_ih->value.shape[0], I = v->I, ld = GH + 16;
    if (!v->tok || v->T < 2 || work_len < (size_t)I * GH) {
        v->tok = NULL; /* the caller projects all rows first: no slice adds its piece */
        return 0;
    }
    if (work_len < (size_t)I * ld) ld = GH;
    sn_transpose_ld(v->w_ih->value.data, GH, I, work, ld);
    v->w_ih_t = work;
    v->w_ih_ld = ld;
    v->bias_sum = bias;
    return 1;
}

/* A hash of a row's bits, in 8 lanes (lane l takes the values l, l + 8,
 * ...), so the loop vectorizes; equal rows are then found by comparing
 * whole rows. */
static uint32_t row_hash(const float *x, int I) {
    uint32_t h[8], b[8];
    for (int l = 0; l < 8; l++) h[l] = 2166136261u + (uint32_t)l;
    int i = 0;
    for (; i + 8 <= I; i += 8) {
        memcpy(b, x + i, sizeof b);
        for (int l = 0; l < 8; l++) h[l] = (h[l] ^ b[l]) * 16777619u;
    }
    for (int l = 0; i + l < I; l++) {
        memcpy(&b[l], x + i + l, sizeof b[l]);
        h[l] = (h[l] ^ b[l]) * 16777619u;
    }
    uint32_t r = 0;
    for (int l = 0; l < 8; l++) r = (r ^ h[l] ^ (h[l] >> 15)) * 2246822519u;
    return r ^ (r >> 13);
}

int sn_rnn_distinct_input(sn_rnn_level *v, const float *bias, float *work, size_t work_len) {
    int R = v->T * v->N, I = v->I, GH = v->w_ih->value.shape[0], most = R / 2;
    size_t S = 1;
    while (S < 2 * (size_t)R) S *= 2;
    /* work: hash [S] and first [most] ints, then the distinct rows [most, I]
     * and their products [most, G·H] */
    size_t need = S + (size_t)most + (size_t)most * ((size_t)I + (size_t)GH);
    if (!v->ids || v->T < 2 || most < 1 || work_len < need) return 0;
    int *hash = (int *)work, *first = hash + S, U = 0;
    memset(hash, 0xff, S * sizeof(int)); /* −1: empty */
    for (int r = 0; r < R; r++) {
        const float *xr = v->x + (size_t)r * I;
        size_t at = row_hash(xr, I) & (S - 1);
        while (hash[at] >= 0 &&
               memcmp(v->x + (size_t)first[hash[at]] * I, xr, (size_t)I * sizeof(float)) != 0)
            at = (at + 1) & (S - 1);
        if (hash[at] < 0) {
            if (U == most) return 0; /* too many distinct rows to be worth it */
            first[U] = r;
            hash[at] = U++;
        }
        v->ids[r] = hash[at];
    }
    float *rows = work + S + most, *table = rows + (size_t)most * I;
    for (int u = 0; u < U; u++)
        memcpy(rows + (size_t)u * I, v->x + (size_t)first[u] * I, (size_t)I * sizeof(float));
    sn_sgemm(0, 1, U, GH, I, 1.0f, rows, I, v->w_ih->value.data, I, 0.0f, table, GH);
    v->tok = v->ids;
    v->w_ih_t = table;
    v->w_ih_ld = GH;
    v->bias_sum = bias;
    return 1;
}

/* dW_ih and db_ih from dgx: a sum of rows by token for a one-hot x, else
 * the GEMM and a column sum. */
static void ih_grad(const sn_rnn_level *v, const float *dgx, float *work, size_t work_len) {
    int I = v->I, G = v->w_hh->value.shape[0], R = v->T * v->N;
    if (sn_onehot_weight_bias_grad(v->x, v->tok, R, I, dgx, G, v->w_ih->grad.data,
                                   v->b_ih->grad.data, work, work_len))
        return;
    sn_sgemm(1, 0, G, I, R, 1.0f, dgx, G, v->x, I, 0.0f, v->w_ih->grad.data, I);
    sn_sum_rows(dgx, v->b_ih->grad.data, R, G);
}

/* Rows [m0, m1) of dW_hh = Σ_t dgh_tᵀ h_(t−1): C's rows are the same sums
 * (over K in the same blocks) however C is cut, so a piece has the bits of
 * the whole product. */
static void hh_grad_rows(const sn_rnn_level *v, const float *dgh, int m0, int m1) {
    int T = v->T, N = v->N, H = v->H, G = v->w_hh->value.shape[0];
    float *dW = v->w_hh->grad.data + (size_t)m0 * H;
    if (m1 <= m0) return;
    sn_sgemm(1, 0, m1 - m0, H, N, 1.0f, dgh + m0, G, v->h0, H, 0.0f, dW, H);
    if (T > 1)
        sn_sgemm(1, 0, m1 - m0, H, (T - 1) * N, 1.0f, dgh + (size_t)N * G + m0, G, v->y, H, 1.0f,
                 dW, H);
}

/* With a one-hot x on a team, the input weights' gradient (a pass over da
 * that reads it as fast as memory gives it, where threads sharing it by
 * columns each read half of every row, most of them from the other core's
 * cache, and together took longer than one thread alone) runs on thread 0
 * beside the recurrent weights' product, whose rows are shared so that all
 * threads end together: thread 0 takes m1 of them, the others the rest. A
 * value of the pass costs about ONEHOT_COST multiply-adds of the product
 * (measured on a Zen 5: 17 for the RNN-256, 29 for the LSTM-256 on one
 * thread, more beside another thread). */
#define ONEHOT_COST 32
typedef struct {
    const sn_rnn_level *v;
    const float *dgx, *dgh;
    float *work;
    size_t work_len;
    int chunks, m1;
} grads_job;

static void grads_chunk(void *ctx, int c) {
    const grads_job *j = ctx;
    const sn_rnn_level *v = j->v;
    int G = v->w_hh->value.shape[0];
    if (c == 0) { /* the one-hot pass (grads_in_team made sure it applies) */
        ih_grad(v, j->dgx, j->work, j->work_len);
        hh_grad_rows(v, j->dgh, 0, j->m1);
        return;
    }
    int rest = G - j->m1, n = j->chunks - 1;
    hh_grad_rows(v, j->dgh, j->m1 + (int)((long)rest * (c - 1) / n),
                 j->m1 + (int)((long)rest * c / n));
}

static int grads_in_team(const sn_rnn_level *v, size_t work_len, grads_job *j) {
    int nt = sn_get_threads(), H = v->H, G = v->w_hh->value.shape[0], R = v->T * v->N;
    if (!v->tok || nt < 2 || sn_in_parallel() || R < 1 || work_len < (size_t)v->I * (size_t)G ||
        (double)R * G * H < (double)(1 << 20))
        return 0;
    if (nt > G / 8) nt = G / 8;
    if (nt < 2) return 0;
    /* thread 0: the pass (R·G·ONEHOT_COST) and m1·R·H; the others (G − m1)·R·H / (nt − 1) */
    long m1 = (long)G * (H - (long)(nt - 1) * ONEHOT_COST) / ((long)nt * H);
    j->m1 = m1 < 0 ? 0 : (int)(m1 / 8 * 8);
    j->chunks = nt;
    return 1;
}

void sn_rnn_weight_grads(const sn_rnn_level *v, const float *dgx, const float *dgh, float *work,
                         size_t work_len, float *dx) {
    int I = v->I, G = v->w_hh->value.shape[0], R = v->T * v->N;
    grads_job j = {v, dgx, dgh, work, work_len, 1, 0};
    if (grads_in_team(v, work_len, &j)) {
        sn_parallel(j.chunks, grads_chunk, &j);
    } else {
        ih_grad(v, dgx, work, work_len);
        hh_grad_rows(v, dgh, 0, G);
    }
    if (dgh == dgx)
        memcpy(v->b_hh->grad.data, v->b_ih->grad.data, (size_t)G * sizeof(float));
    else
        sn_sum_rows(dgh, v->b_hh->grad.data, R, G);
    if (dx) sn_sgemm(0, 0, R, I, G, 1.0f, dgx, G, v->w_ih->value.data, I, 0.0f, dx, I);
}
