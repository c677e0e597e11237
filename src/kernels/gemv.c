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
 * Threads: outputs are split into near-equal ranges of whole 8-row groups,
 * one chunk of sn_parallel each (src/core/threads.h), when the layer holds
 * at least SN_GEMV_MT_MIN weights; each output is computed by one thread
 * alone, so the result does not depend on the thread count. With two
 * cores, each reads only its half of W, which then stays in its own L2.
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

/* Below this many weights (multiply-adds) one thread does the whole layer.
 * One core streams W from L2 at about 130 GB/s (2 us for 64k weights);
 * handing a chunk to a spinning team thread and seeing it done costs about
 * half a microsecond (some five cache-line transfers between cores), and
 * nothing is gained when the other core is busy with another process, so
 * a 256 x 128 layer (1 us) stays on the calling thread. */
#ifndef SN_GEMV_MT_MIN
#define SN_GEMV_MT_MIN (1 << 16)
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

/* Outputs j0 .. j1-1. */
static void gemv_rows(int in, int j0, int j1, const float *x, const float *W, const float *b,
                      float *y) {
    int j = j0;
    for (; j + 8 <= j1; j += 8) rows_8(in, x, W + (size_t)j * in, b ? b + j : NULL, y + j);
    if (j + 4 <= j1) {
        rows_4(in, x, W + (size_t)j * in, b ? b + j : NULL, y + j);
        j += 4;
    }
    if (j + 2 <= j1) {
        rows_2(in, x, W + (size_t)j * in, b ? b + j : NULL, y + j);
        j += 2;
    }
    if (j < j1) rows_1(in, x, W + (size_t)j * in, b ? b + j : NULL, y + j);
}

typedef struct {
    int in, out, chunks;
    const float *x, *W, *b;
    float *y;
} gemv_job;

static void gemv_chunk(void *ctx, int c) {
    const gemv_job *g = ctx;
    int groups = (g->out + 7) / 8;
    int j0 = (int)((long)groups * c / g->chunks) * 8;
    int j1 = (int)((long)groups * (c + 1) / g->chunks) * 8;
    if (j1 > g->out) j1 = g->out;
    gemv_rows(g->in, j0, j1, g->x, g->W, g->b, g->y);
}

void sn_dense_forward_one(int in, int out, const float *x, const float *W, const float *b,
                          float *y) {
    if (out <= 0) return;
    if (in <= 0) {
        for (int j = 0; j < out; j++) y[j] = b ? b[j] : 0.0f;
        return;
    }
    int chunks = 1;
    if ((double)in * out >= SN_GEMV_MT_MIN && !sn_in_parallel()) {
        chunks = sn_get_threads();
        int groups = (out + 7) / 8;
        if (chunks > groups) chunks = groups;
        if (chunks > GEMV_MAX_CHUNKS) chunks = GEMV_MAX_CHUNKS;
    }
    gemv_job g = {in, out, chunks, x, W, b, y};
    if (chunks <= 1)
        gemv_chunk(&g, 0);
    else
        sn_parallel(chunks, gemv_chunk, &g);
}
#else
void sn_dense_forward_one(int in, int out, const float *x, const float *W, const float *b,
                          float *y) {
    sn_sgemm(0, 1, 1, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    if (b) sn_add_row_vector(y, b, 1, out);
}
#endif
