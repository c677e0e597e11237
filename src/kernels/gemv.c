/* One sample through a dense layer: y = W x + b, W [out, in] row-major.
 *
 * Two kernels. A step given W's transposed copy (sn_dense_step Wt, made by
 * the dense layer from its weights and made again whenever the model's
 * parameter stamp moves) takes the rows of that copy for the inputs that
 * are not zero only, and about half of them are zero in the MLP (see "the
 * transposed copy" below): one thread reads about half of W. Without a
 * copy (no AVX-512 build has one; weights that are not finite get none),
 * the dot-product kernel:
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
 * weights or more (with the copy, an eighth counted: SN_GEMV_T_SCALE) have
 * their outputs split into near-equal ranges of whole 8-row groups (with
 * the copy, of panels or 16-output vectors), one per thread, and the
 * layers up to the last split one are the phases of one sn_parallel_phases
 * call (src/core/threads.h): a single hand-off, then a barrier between
 * layers instead of a hand-off each (a plain sn_parallel job when only the
 * first is split); the small layers after it run on the calling thread.
 * Each output is computed by one thread alone, so the result does not
 * depend on the thread count.
 * Each thread applies the ReLU to its own outputs once they are all made
 * (a pass over a few hundred floats in L1), with the relu layer's formula
 * (x < 0 ? 0 : x), so its bits are that layer's. Storing it with each
 * group of 8 instead was measured slower, by 0.06 us at 1 thread.
 *
 * Both kernels order the sum differently from sn_sgemm's (k in order, 16
 * strands and a tree per output here; one chain per output with the copy),
 * so the result equals the batched forward's within rounding, not bit for
 * bit. Without AVX-512 the layer is the GEMM. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"
#include "scratchnet.h"

#include <stdint.h>
#include <string.h>

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
/* A step with the transposed copy counts for an eighth of its weights in
 * the two thresholds above, so the MLP's 784 x 256 layer (200k weights)
 * stays on the calling thread: the copy's rows of the nonzero inputs take
 * it about 3.5 us on one core, and split between two threads the MLP took
 * 4.8-5.0 us at the median against 4.6 us unsplit (under load, and as much
 * with the bench at nice -15); with 784-1024-1024-10 (7 MB, read from L3)
 * the split gained nothing either. */
#ifndef SN_GEMV_T_SCALE
#define SN_GEMV_T_SCALE 8
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
        __mmask16 m = sn_mask16(in - k);
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
        __mmask16 m = sn_mask16(j1 - j);
        __m512 v = _mm512_maskz_loadu_ps(m, y + j);
        _mm512_mask_storeu_ps(relu + j, m,
                              _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLT_UQ), v));
    }
}

/* ---- the transposed copy: inputs that are zero skip their row ---------
 *
 * With Wt = Wᵀ ([in, ld], ld = out rounded up to 16, the padding zero,
 * stored in panels: T_PW below), y = b + Σ_k x[k] Wt[k, :] is one
 * multiply-add of a whole row per input, and an input that is zero (+0 or
 * -0) contributes nothing: its row is not read. After a ReLU about half
 * the inputs are zero (and about half of a Fashion-MNIST image's pixels),
 * so about half of W is read.
 *
 * The sum, per output j: acc = +0; for each k in order with x[k] != 0 (NaN
 * counts as nonzero), acc = fma(x[k], W[j, k], acc); then y[j] = acc + b[j].
 * One chain per output, in the order of k, whatever the thread count or
 * the grouping of outputs. For finite weights it is the same chain over
 * every k, zero terms included: fma(±0, w, acc) = acc + (±0) = acc for any
 * acc but -0, and acc, which starts at +0, becomes -0 only when an fma's
 * exact result is negative and at most 2^-150 in magnitude (it underflows
 * to -0); even then the two chains differ only in the sign of a zero (an
 * fma of a nonzero term gives both chains the same value from +0 or -0,
 * unless that value is itself a zero). A copy is made only of finite weights
 * (sn_dense_t_build); 0 · inf = NaN must reach y as in the GEMM, so W
 * holding an infinity or a NaN keeps the dot-product kernel.
 *
 * The nonzero inputs of each block of T_BLOCK are gathered first into a
 * list of indices (compress, no branch per input), so that the loop over
 * them has no unpredictable branch. Up to T_MAXV vectors of 16 outputs go
 * in one pass over the list, one accumulator each: the MLP's first layer
 * is one pass of 16, a row of 1 KB per nonzero input, and its speed is
 * L2's (about 120 GB/s here: 8.6 ns a row). Software prefetching of the
 * rows a few inputs ahead was measured slower (4.9 against 4.55 us). An
 * output layer of fewer than 16 units took as long with the dot-product
 * kernel as with one accumulator here, so every layer takes the copy. */
#define T_BLOCK 256
#define T_MAXV  16
/* The copy is stored in panels of T_PW outputs: panel p, outputs
 * [p T_PW, p T_PW + wp) with wp = min(T_PW, ld - p T_PW), holds
 * Wt[k, p T_PW + j] at p T_PW in + k wp + j, so a pass reads rows of its
 * panel that lie one after the other, and threads split a wide layer by
 * whole panels, each reading its own contiguous part (two passes of 8
 * vectors over every other 512 bytes of 1 KB rows took the MLP's first
 * layer 4.5 us where one pass of 16 took 3.15; panels of 128 outputs, each
 * a pass of 8, were 2% slower than one pass of 16 at one thread). */
#define T_PW 256

/* y[0 : n] = b + Σ x[k] Wt[k, 0 : n] as above, n <= 16·V, Wt's rows ld
 * floats apart. */
static inline __attribute__((always_inline)) void t_pass(const int V, int in, const float *x,
                                                         const float *Wt, size_t ld, const float *b,
                                                         float *y, int n) {
    __m512 acc[T_MAXV];
#pragma GCC unroll 16
    for (int v = 0; v < V; v++) acc[v] = _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int idx[T_BLOCK + 16];
    for (int k0 = 0; k0 < in; k0 += T_BLOCK) {
        int kn = in - k0 < T_BLOCK ? in - k0 : T_BLOCK, nz = 0;
        for (int k = 0; k < kn; k += 16) {
            __mmask16 m = sn_mask16(kn - k);
            __m512 xv = _mm512_maskz_loadu_ps(m, x + k0 + k);
            __mmask16 keep = _mm512_mask_cmp_ps_mask(m, xv, zero, _CMP_NEQ_UQ);
            __m512i kv = _mm512_add_epi32(_mm512_set1_epi32(k0 + k), iota);
            _mm512_storeu_si512((void *)(idx + nz), _mm512_maskz_compress_epi32(keep, kv));
            nz += __builtin_popcount(keep);
        }
        for (int i = 0; i < nz; i++) {
            const int k = idx[i];
            const __m512 xb = _mm512_set1_ps(x[k]);
            const float *w = Wt + (size_t)k * ld;
#pragma GCC unroll 16
            for (int v = 0; v < V; v++)
                acc[v] = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w + 16 * v), acc[v]);
        }
    }
#pragma GCC unroll 16
    for (int v = 0; v < V; v++) {
        int left = n - 16 * v;
        __mmask16 m = sn_mask16(left);
        __m512 s = acc[v];
        if (b) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, b + 16 * v));
        _mm512_mask_storeu_ps(y + 16 * v, m, s);
    }
}

#define T_PASS(V)                                                                                  \
    static void t_pass_##V(int in, const float *x, const float *Wt, size_t ld, const float *b,     \
                           float *y, int n) {                                                      \
        t_pass(V, in, x, Wt, ld, b, y, n);                                                         \
    }
T_PASS(16)
T_PASS(8)
T_PASS(4)
T_PASS(2)
T_PASS(1)
#undef T_PASS

/* Outputs j0 .. j1-1 (j0 a multiple of 16) of a step with its copy, panel
 * by panel, in passes of 16, 8, 4, 2 or 1 vectors. */
static void t_rows(const sn_dense_step *s, int j0, int j1) {
    const int ld = (s->out + 15) / 16 * 16;
    for (int j = j0; j < j1;) {
        int p0 = j / T_PW * T_PW, wp = ld - p0 < T_PW ? ld - p0 : T_PW;
        int end = j1 < p0 + wp ? j1 : p0 + wp; /* this panel's part of the range */
        int nv = (end - j + 15) / 16, V = nv >= 16  ? 16
                                          : nv >= 8 ? 8
                                          : nv >= 4 ? 4
                                          : nv >= 2 ? 2
                                                    : 1;
        int n = end - j < 16 * V ? end - j : 16 * V;
        const float *b = s->b ? s->b + j : NULL;
        const float *Wt = s->Wt + (size_t)p0 * s->in + (j - p0);
        switch (V) {
        case 16:
            t_pass_16(s->in, s->x, Wt, (size_t)wp, b, s->y + j, n);
            break;
        case 8:
            t_pass_8(s->in, s->x, Wt, (size_t)wp, b, s->y + j, n);
            break;
        case 4:
            t_pass_4(s->in, s->x, Wt, (size_t)wp, b, s->y + j, n);
            break;
        case 2:
            t_pass_2(s->in, s->x, Wt, (size_t)wp, b, s->y + j, n);
            break;
        default:
            t_pass_1(s->in, s->x, Wt, (size_t)wp, b, s->y + j, n);
            break;
        }
        j += n;
    }
}

size_t sn_dense_t_floats(int in, int out) {
    if (in <= 0 || out <= 0) return 0;
    return (size_t)in * (size_t)((out + 15) / 16 * 16);
}

/* Made again on the first one-sample pass after each parameter change:
 * 0.12 ms for the MLP's three layers (0.72 ms element by element, W read
 * a row at a time and Wt written a column at a time). */
int sn_dense_t_build(int in, int out, const float *W, float *Wt) {
    const size_t ld = (size_t)(out + 15) / 16 * 16, n = (size_t)in * out;
    /* an infinity or a NaN: every exponent bit set */
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, W + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    /* in tiles of 16 x 16, whose 16 rows of W stay in L1 while their
     * columns are written out as rows of Wt */
    for (int j0 = 0; j0 < out; j0 += 16) {
        int j1 = out - j0 < 16 ? out : j0 + 16, p0 = j0 / T_PW * T_PW;
        size_t wp = ld - (size_t)p0 < T_PW ? ld - (size_t)p0 : T_PW;
        float *P = Wt + (size_t)p0 * in - p0; /* P[k wp + j]: panel p0's (k, j) */
        for (int k0 = 0; k0 < in; k0 += 16) {
            int k1 = in - k0 < 16 ? in : k0 + 16;
            for (int k = k0; k < k1; k++) {
                for (int j = j0; j < j1; j++) P[k * wp + j] = W[(size_t)j * in + k];
                for (int j = j1; j < j0 + 16; j++) P[k * wp + j] = 0.0f; /* the padding */
            }
        }
    }
    return !bad;
}

/* Outputs j0 .. j1-1 of one step, then their ReLU. */
static void step_rows(const sn_dense_step *s, int j0, int j1) {
    const int in = s->in;
    const float *x = s->x, *b = s->b;
    float *y = s->y;
    if (s->Wt) {
        t_rows(s, j0, j1);
        if (s->relu) relu_range(y, s->relu, j0, j1);
        return;
    }
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

/* Part c of `chunks` of a step: near-equal ranges of whole 8-row groups,
 * or with the copy of whole panels when there are enough, else of whole
 * 16-output vectors. */
static void step_part(const sn_dense_step *s, int c, int chunks) {
    int g = !s->Wt ? 8 : (s->out + T_PW - 1) / T_PW >= chunks ? T_PW : 16;
    int groups = (s->out + g - 1) / g;
    int j0 = (int)((long)groups * c / chunks) * g;
    int j1 = (int)((long)groups * (c + 1) / chunks) * g;
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
        double total = 0, w[32];
        for (int i = 0; i < n && i < 32; i++) {
            w[i] = (double)s[i].in * s[i].out / (s[i].Wt ? SN_GEMV_T_SCALE : 1);
            total += w[i];
        }
        if (total >= SN_GEMV_MT_MIN) {
            chunks = sn_get_threads() < GEMV_MAX_CHUNKS ? sn_get_threads() : GEMV_MAX_CHUNKS;
            for (int i = 0; i < n && i < 32; i++)
                if (w[i] >= SN_GEMV_SPLIT_MIN && s[i].out > 8) {
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
    sn_dense_step s = {in, out, x, W, b, y, NULL, NULL};
    sn_dense_chain_one(1, &s);
}
#else
size_t sn_dense_t_floats(int in, int out) {
    (void)in, (void)out;
    return 0; /* the GEMM has no use for a copy */
}

int sn_dense_t_build(int in, int out, const float *W, float *Wt) {
    (void)in, (void)out, (void)W, (void)Wt;
    return 0;
}

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
