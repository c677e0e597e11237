/* One sample through a dense layer: y = W x + b, W [out, in] row-major.
 *
 * Output j is the dot product of W's row j, contiguous in memory, with x, so
 * W is read once, in its own layout, with no transposition and no copy.
 * Rows go 8 at a time (more streams read L2 no faster): one 512-bit
 * accumulator per row, 16 inputs per step (lane l of row r's accumulator
 * sums W[r, k] x[k] over k = l mod 16, one fused multiply-add per step, k in
 * order; a last partial step reads masked, zero-filled lanes). The 8
 * accumulators are then reduced and transposed together in a tree that is
 * the same for every row: in each 128-bit quarter of 4 lanes,
 * (l0 + l2) + (l1 + l3), then (Q0 + Q1) + (Q2 + Q3) over the quarters. The
 * bias is added last. A group of fewer than 8 rows runs the same arithmetic
 * with empty rows, so an output does not depend on how rows are grouped.
 *
 * A chain of layers (sn_dense_chain_one: a model's dense layers, each
 * followed or not by a ReLU) runs as one job of the team: when the chain
 * holds at least SN_GEMV_MT_MIN weights, its layers of SN_GEMV_SPLIT_MIN
 * weights or more have their outputs split into near-equal ranges of whole
 * 8-row groups, one per thread, and the layers up to the last split one are
 * the phases of one sn_parallel_phases call (src/core/threads.h): a single
 * hand-off, then a barrier between layers instead of a hand-off each (a
 * plain sn_parallel job when only the first is split); the small layers
 * after it run on the calling thread. Each output is computed
 * by one thread alone, so the result does not depend on the thread count.
 * Each thread applies the ReLU to its own outputs once they are all made
 * (a pass over a few hundred floats in L1), with the relu layer's formula
 * (x < 0 ? 0 : x), so its bits are that layer's. Storing it with each
 * group of 8 instead was measured slower, by 0.06 us at 1 thread.
 *
 * The sum is ordered differently from sn_sgemm's (k in order, one chain per
 * output), so the result equals the batched forward's within rounding, not
 * bit for bit. Without AVX-512 the layer is the GEMM. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Below this many weights (multiply-adds) in all, one thread does the whole
 * chain. One core streams W from L2 at about 130 GB/s (2 us for 64k
 * weights); handing work to a spinning team thread and seeing it done costs
 * about half a microsecond (some five cache-line transfers between cores),
 * and nothing is gained when the other core is busy with another process,
 * so a lone 256 x 128 layer (1 us) stays on the calling thread. */
#ifndef SN_GEMV_MT_MIN
#define SN_GEMV_MT_MIN (1 << 16)
#endif
/* In a chain, a step of this many weights or more is split among the
 * threads, at the price of a barrier before the next split step. Not the
 * MLP's 256 x 128 layer (1 us alone): split, each half took 0.8-0.9 us
 * (its inputs, half of them made on the other core, cross between the
 * cores), plus 0.25 us at the barrier, and the MLP's 2-thread call was
 * slower (6.8 us against 6.6 us, fastest tenth, quiet moments). */
#ifndef SN_GEMV_SPLIT_MIN
#define SN_GEMV_SPLIT_MIN (1 << 16)
#endif
#define GEMV_MAX_CHUNKS 64

#if defined(__AVX512F__)
/* r[i] = the sum of a[i]'s 16 lanes, i < 8, by the tree above. */
static inline __attribute__((always_inline)) __m256 reduce8(const __m512 a[8]) {
    __m512 s[4], v[2];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* per quarter: row 2i in lanes 0, 2, row 2i+1 in 1, 3 */
        s[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                             _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* per quarter: rows 4i .. 4i+3 in lanes 0 .. 3 */
        v[i] = _mm512_add_ps(_mm512_shuffle_ps(s[2 * i], s[2 * i + 1], 0x44),
                             _mm512_shuffle_ps(s[2 * i], s[2 * i + 1], 0xEE));
    /* quarters: rows 0-3 (q0 + q1), (q2 + q3), rows 4-7 (q0 + q1), (q2 + q3) */
    __m512 q = _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], 0x88),
                             _mm512_shuffle_f32x4(v[0], v[1], 0xDD));
    q = _mm512_add_ps(_mm512_shuffle_f32x4(q, q, 0x88), _mm512_shuffle_f32x4(q, q, 0xDD));
    return _mm512_castps512_ps256(q);
}

/* y[0 : R] = W[0 : R, :] x + b[0 : R] for R (a constant in each instance) of
 * 8, 4, 2 or 1 rows, W's rows `in` floats apart. */
static inline __attribute__((always_inline)) void rows_r(const int R, int in, const float *x,
                                                         const float *W, const float *b, float *y) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
    const size_t ld = (size_t)in;
    int k = 0;
    for (; k + 16 <= in; k += 16) {
        __m512 xv = _mm512_loadu_ps(x + k);
        const float *w = W + k;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w + r * ld), xv, acc[r]);
    }
    if (k < in) {
        __mmask16 m = (__mmask16)((1u << (in - k)) - 1);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
        const float *w = W + k;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + r * ld), xv, acc[r]);
    }
    __m256 s = reduce8(acc);
    __mmask8 m = (__mmask8)((1u << R) - 1);
    if (b) s = _mm256_add_ps(s, _mm256_maskz_loadu_ps(m, b));
    _mm256_mask_storeu_ps(y, m, s);
}

static void rows_8(int in, const float *x, const float *W, const float *b, float *y) {
    rows_r(8, in, x, W, b, y);
}
static void rows_4(int in, const float *x, const float *W, const float *b, float *y) {
    rows_r(4, in, x, W, b, y);
}
static void rows_2(int in, const float *x, const float *W, const float *b, float *y) {
    rows_r(2, in, x, W, b, y);
}
static void rows_1(int in, const float *x, const float *W, const float *b, float *y) {
    rows_r(1, in, x, W, b, y);
}

/* relu[j] = y[j] < 0 ? 0 : y[j] for j0 <= j < j1, as the relu layer: NaN
 * and -0 pass through. */
static void relu_range(const float *y, float *relu, int j0, int j1) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = j0; j < j1; j += 16) {
        __mmask16 m = j1 - j >= 16 ? 0xFFFF : (__mmask16)((1u << (j1 - j)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, y + j);
        _mm512_mask_storeu_ps(relu + j, m,
                              _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLT_UQ), v));
    }
}

/* Outputs j0 .. j1-1 of one step, then their ReLU. */
static void step_rows(const sn_dense_step *s, int j0, int j1) {
    const int in = s->in;
    const float *x = s->x, *b = s->b;
    float *y = s->y;
#define ROWS(R, j) rows_##R(in, x, s->W + (size_t)(j)*in, b ? b + (j) : NULL, y + (j))
    int j = j0;
    for (; j + 8 <= j1; j += 8) ROWS(8, j);
    if (j + 4 <= j1) {
        ROWS(4, j);
        j += 4;
    }
    if (j + 2 <= j1) {
        ROWS(2, j);
        j += 2;
    }
    if (j < j1) ROWS(1, j);
#undef ROWS
    if (s->relu) relu_range(y, s->relu, j0, j1);
}

/* Part c of `chunks` of a step: near-equal ranges of whole 8-row groups. */
static void step_part(const sn_dense_step *s, int c, int chunks) {
    int groups = (s->out + 7) / 8;
    int j0 = (int)((long)groups * c / chunks) * 8;
    int j1 = (int)((long)groups * (c + 1) / chunks) * 8;
    if (j1 > s->out) j1 = s->out;
    step_rows(s, j0, j1);
}

typedef struct {
    const sn_dense_step *s;
    int chunks;
    unsigned split; /* bit i: step i is split among the chunks; else chunk 0 runs it */
} chain_job;

static void chain_phase(void *ctx, int p, int c) {
    const chain_job *g = ctx;
    if (g->split >> p & 1)
        step_part(&g->s[p], c, g->chunks);
    else if (c == 0)
        step_rows(&g->s[p], 0, g->s[p].out);
}

static void chain_first(void *ctx, int c) {
    chain_phase(ctx, 0, c);
}

static void step_bias_only(const sn_dense_step *s) {
    for (int j = 0; j < s->out; j++) {
        s->y[j] = s->b ? s->b[j] : 0.0f;
        if (s->relu) s->relu[j] = s->y[j] < 0 ? 0.0f : s->y[j];
    }
}

void sn_dense_chain_one(int n, const sn_dense_step *s) {
    /* the phases: steps 0 .. phases-1, up to the last one split */
    int phases = 0, chunks = 1;
    unsigned split = 0;
    if (n > 0 && !sn_in_parallel() && sn_get_threads() > 1) {
        double total = 0;
        for (int i = 0; i < n && i < 32; i++) total += (double)s[i].in * s[i].out;
        if (total >= SN_GEMV_MT_MIN) {
            chunks = sn_get_threads() < GEMV_MAX_CHUNKS ? sn_get_threads() : GEMV_MAX_CHUNKS;
            for (int i = 0; i < n && i < 32; i++)
                if ((double)s[i].in * s[i].out >= SN_GEMV_SPLIT_MIN && s[i].out > 8) {
                    split |= 1u << i;
                    phases = i + 1;
                }
        }
    }
    for (int i = 0; i < phases; i++)
        if (s[i].in <= 0) phases = 0; /* degenerate: no threads */
    if (phases > 0) {
        chain_job g = {s, chunks, split};
        if (phases == 1) /* no barrier needed: a plain job */
            sn_parallel(chunks, chain_first, &g);
        else
            sn_parallel_phases(phases, chunks, chain_phase, &g);
    }
    for (int i = phases; i < n; i++) {
        if (s[i].out <= 0) continue;
        if (s[i].in <= 0)
            step_bias_only(&s[i]);
        else
            step_rows(&s[i], 0, s[i].out);
    }
}

void sn_dense_forward_one(int in, int out, const float *x, const float *W, const float *b,
                          float *y) {
    sn_dense_step s = {in, out, x, W, b, y, NULL};
    sn_dense_chain_one(1, &s);
}
#else
void sn_dense_forward_one(int in, int out, const float *x, const float *W, const float *b,
                          float *y) {
    sn_sgemm(0, 1, 1, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    if (b) sn_add_row_vector(y, b, 1, out);
}

void sn_dense_chain_one(int n, const sn_dense_step *s) {
    for (int i = 0; i < n; i++) {
        if (s[i].out <= 0) continue;
        sn_dense_forward_one(s[i].in, s[i].out, s[i].x, s[i].W, s[i].b, s[i].y);
        if (s[i].relu)
            for (int j = 0; j < s[i].out; j++) s[i].relu[j] = s[i].y[j] < 0 ? 0.0f : s[i].y[j];
    }
}
#endif
