/* Max and average pooling over NCHW batches (see conv.h for the window
 * geometry). Every image plane [H, W] of every sample is independent: the
 * N·C planes are cut into contiguous ranges, chunks of sn_parallel, and no
 * value depends on the thread count. The 2x2 max pooling that keeps its
 * window positions works on vectors of up to 16 outputs of a row, or of
 * two planes' rows when they hold 8 or fewer (the second convolution of a
 * small image: 5 outputs a row would leave 11 of 16 lanes idle). */
#include "core/threads.h"
#include "kernels/pool.h"
#include "kernels/pool_simd.h"
#include "scratchnet.h"

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Below this many input values one thread does the whole batch. */
#define POOL_MT_MIN (1 << 15)

/* Window rows [*a0, *a1) of output row i that fall inside the image. */
static void rows_in(const sn_conv_geom *g, int i, int *y0, int *a0, int *a1) {
    *y0 = i * g->sh - g->ph;
    *a0 = *y0 < 0 ? -*y0 : 0;
    *a1 = g->H - *y0 < g->kh ? g->H - *y0 : g->kh;
}

static void cols_in(const sn_conv_geom *g, int j, int *x0, int *b0, int *b1) {
    *x0 = j * g->sw - g->pw;
    *b0 = *x0 < 0 ? -*x0 : 0;
    *b1 = g->W - *x0 < g->kw ? g->W - *x0 : g->kw;
}

/* The larger of a and b; NaN if either is NaN. */
static inline float fmax_nan(float a, float b) {
    return b > a || b != b ? b : a;
}

/* x == m, or both NaN (bitwise operators: no branches). */
static inline int same(float x, float m) {
    return (x == m) | ((x != x) & (m != m));
}

static int is_2x2(const sn_conv_geom *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

#if defined(__AVX512F__)
/* The 2x2, stride 2 case with AVX-512, 16 outputs of a row at a time: the
 * two input rows are split into even and odd columns (a = r0[2j],
 * b = r0[2j+1], c = r1[2j], d = r1[2j+1]), the same comparisons as the
 * scalar code below are made on whole vectors, and the four gradient
 * vectors are interleaved back. */
static const int even_idx[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int odd_idx[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
static const int lo_idx[16] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int hi_idx[16] = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

static inline __mmask16 lanes(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n < 0 ? 0 : n)) - 1);
}

/* Even and odd columns of the 2n values at r. */
static inline void split2(const float *r, int n, __m512 *even, __m512 *odd) {
    __m512 lo = _mm512_maskz_loadu_ps(lanes(2 * n), r);
    __m512 hi = _mm512_maskz_loadu_ps(lanes(2 * n - 16), r + 16);
    *even = _mm512_permutex2var_ps(lo, _mm512_loadu_si512(even_idx), hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_loadu_si512(odd_idx), hi);
}

/* The maxima of n 2x2 windows whose rows start at r0 and r1, in the order
 * the windows are read (top left, top right, bottom left, bottom right; the
 * first of equal values is kept, a NaN wins); a..d get the four values. */
static inline __m512 window_max(const float *r0, const float *r1, int n, __m512 *a, __m512 *b,
                                __m512 *c, __m512 *d) {
    split2(r0, n, a, b);
    split2(r1, n, c, d);
    __m512 m = _mm512_mask_mov_ps(*a, beats(*b, *a), *b);
    m = _mm512_mask_mov_ps(m, beats(*c, m), *c);
    return _mm512_mask_mov_ps(m, beats(*d, m), *d);
}

static void maxpool2_plane(const sn_conv_geom *g, const float *x, float *y) {
    for (int i = 0; i < g->OH; i++) {
        const float *r0 = x + (size_t)(2 * i) * g->W, *r1 = r0 + g->W;
        for (int j = 0; j < g->OW; j += 16) {
            int n = g->OW - j < 16 ? g->OW - j : 16;
            __m512 a, b, c, d;
            __m512 m = window_max(r0 + 2 * j, r1 + 2 * j, n, &a, &b, &c, &d);
            _mm512_mask_storeu_ps(y + (size_t)i * g->OW + j, lanes(n), m);
        }
    }
}

static void maxpool2_plane_backward(const sn_conv_geom *g, const float *x, const float *y,
                                    const float *dy, float *dx) {
    const __m512i lo_i = _mm512_loadu_si512(lo_idx), hi_i = _mm512_loadu_si512(hi_idx);
    for (int i = 0; i < g->OH; i++) {
        const float *r0 = x + (size_t)(2 * i) * g->W, *r1 = r0 + g->W;
        float *d0 = dx + (size_t)(2 * i) * g->W, *d1 = d0 + g->W;
        for (int j = 0; j < g->OW; j += 16) {
            int n = g->OW - j < 16 ? g->OW - j : 16;
            __m512 a, b, c, d;
            split2(r0 + 2 * j, n, &a, &b);
            split2(r1 + 2 * j, n, &c, &d);
            __m512 m = _mm512_maskz_loadu_ps(lanes(n), y + (size_t)i * g->OW + j);
            __m512 gr = _mm512_maskz_loadu_ps(lanes(n), dy + (size_t)i * g->OW + j);
            __mmask16 e0 = same_v(a, m), e1 = (__mmask16)(~e0 & same_v(b, m));
            __mmask16 e2 = (__mmask16)(~(e0 | e1) & same_v(c, m));
            __mmask16 e3 = (__mmask16)(~(e0 | e1 | e2) & same_v(d, m));
            __m512 ga = _mm512_maskz_mov_ps(e0, gr), gb = _mm512_maskz_mov_ps(e1, gr);
            __m512 gc = _mm512_maskz_mov_ps(e2, gr), gd = _mm512_maskz_mov_ps(e3, gr);
            _mm512_mask_storeu_ps(d0 + 2 * j, lanes(2 * n), _mm512_permutex2var_ps(ga, lo_i, gb));
            _mm512_mask_storeu_ps(d0 + 2 * j + 16, lanes(2 * n - 16),
                                  _mm512_permutex2var_ps(ga, hi_i, gb));
            _mm512_mask_storeu_ps(d1 + 2 * j, lanes(2 * n), _mm512_permutex2var_ps(gc, lo_i, gd));
            _mm512_mask_storeu_ps(d1 + 2 * j + 16, lanes(2 * n - 16),
                                  _mm512_permutex2var_ps(gc, hi_i, gd));
        }
        if (g->W % 2) d0[g->W - 1] = d1[g->W - 1] = 0.0f;
    }
    if (g->H % 2) memset(dx + (size_t)(g->H - 1) * g->W, 0, sizeof(float) * g->W);
}

/* maxpool2_plane that also writes arg (pool.h): the window position that
 * maxpool2_plane_backward picks, + 4 where the maximum is > 0. */
static void maxpool2_plane_arg(const sn_conv_geom *g, const float *x, float *y,
                               unsigned char *arg) {
    for (int i = 0; i < g->OH; i++) {
        const float *r0 = x + (size_t)(2 * i) * g->W, *r1 = r0 + g->W;
        for (int j = 0; j < g->OW; j += 16) {
            int n = g->OW - j < 16 ? g->OW - j : 16;
            __m512 a, b, c, d, m;
            split2(r0 + 2 * j, n, &a, &b);
            split2(r1 + 2 * j, n, &c, &d);
            __m512i k = max_arg(a, b, c, d, &m);
            _mm512_mask_storeu_ps(y + (size_t)i * g->OW + j, lanes(n), m);
            _mm512_mask_cvtepi32_storeu_epi8(arg + (size_t)i * g->OW + j, lanes(n), k);
        }
    }
}

/* The backward of max_arg's codes: q[u] = gr in the lanes whose window had
 * its maximum at position u (code & 3), else 0; returns the lanes whose
 * maximum was > 0 (code & 4). */
static inline __attribute__((always_inline)) __mmask16 route_arg(__m512i k, __m512 gr,
                                                                 __m512 q[4]) {
    __m512i sel = _mm512_and_si512(k, _mm512_set1_epi32(3));
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++)
        q[u] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(sel, _mm512_set1_epi32(u)), gr);
    return _mm512_test_epi32_mask(k, _mm512_set1_epi32(4));
}

/* From arg: dx as maxpool2_plane_backward writes it (unless dx is NULL),
 * and dxr = dx where the maximum is > 0, else 0. */
static void maxpool2_plane_relu_backward(const sn_conv_geom *g, const unsigned char *arg,
                                         const float *dy, float *dx, float *dxr) {
    const __m512i lo_i = _mm512_loadu_si512(lo_idx), hi_i = _mm512_loadu_si512(hi_idx);
    for (int i = 0; i < g->OH; i++) {
        float *d0 = dx + (size_t)(2 * i) * g->W, *d1 = d0 + g->W;
        float *q0 = dxr + (size_t)(2 * i) * g->W, *q1 = q0 + g->W;
        for (int j = 0; j < g->OW; j += 16) {
            int n = g->OW - j < 16 ? g->OW - j : 16;
            __m512i k =
                _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lanes(n), arg + (size_t)i * g->OW + j));
            __m512 gr = _mm512_maskz_loadu_ps(lanes(n), dy + (size_t)i * g->OW + j);
            __m512 q[4];
            __mmask16 pos = route_arg(k, gr, q);
            __m512 ga = q[0], gb = q[1], gc = q[2], gd = q[3];
            __mmask16 lo = lanes(2 * n), hi = lanes(2 * n - 16);
            if (dx) {
                _mm512_mask_storeu_ps(d0 + 2 * j, lo, _mm512_permutex2var_ps(ga, lo_i, gb));
                _mm512_mask_storeu_ps(d0 + 2 * j + 16, hi, _mm512_permutex2var_ps(ga, hi_i, gb));
                _mm512_mask_storeu_ps(d1 + 2 * j, lo, _mm512_permutex2var_ps(gc, lo_i, gd));
                _mm512_mask_storeu_ps(d1 + 2 * j + 16, hi, _mm512_permutex2var_ps(gc, hi_i, gd));
            }
            ga = _mm512_maskz_mov_ps(pos, ga), gb = _mm512_maskz_mov_ps(pos, gb);
            gc = _mm512_maskz_mov_ps(pos, gc), gd = _mm512_maskz_mov_ps(pos, gd);
            _mm512_mask_storeu_ps(q0 + 2 * j, lo, _mm512_permutex2var_ps(ga, lo_i, gb));
            _mm512_mask_storeu_ps(q0 + 2 * j + 16, hi, _mm512_permutex2var_ps(ga, hi_i, gb));
            _mm512_mask_storeu_ps(q1 + 2 * j, lo, _mm512_permutex2var_ps(gc, lo_i, gd));
            _mm512_mask_storeu_ps(q1 + 2 * j + 16, hi, _mm512_permutex2var_ps(gc, hi_i, gd));
        }
        if (g->W % 2) {
            q0[g->W - 1] = q1[g->W - 1] = 0.0f;
            if (dx) d0[g->W - 1] = d1[g->W - 1] = 0.0f;
        }
    }
    if (g->H % 2) {
        if (dx) memset(dx + (size_t)(g->H - 1) * g->W, 0, sizeof(float) * g->W);
        memset(dxr + (size_t)(g->H - 1) * g->W, 0, sizeof(float) * g->W);
    }
}

/* The two above for two planes at once, when a row holds at most 8 outputs
 * (OW <= 8): lanes 0..7 work on plane x, lanes 8..15 on the plane after it
 * (planes `in` floats apart, outputs `out` apart), with the same operations
 * lane by lane; split2 of a row pair with the two planes' rows as its two
 * halves gives each plane's even and odd columns, and the interleaving
 * permutations give each plane's row of gradients. */
static void maxpool2_pair_arg(const sn_conv_geom *g, size_t in, size_t out, const float *x,
                              float *y, unsigned char *arg) {
    const __m512i ev = _mm512_loadu_si512(even_idx), od = _mm512_loadu_si512(odd_idx);
    const int n = g->OW, W = g->W;
    const __mmask16 row = lanes(2 * n), lo = lanes(n), hi = (__mmask16)(lanes(n) << 8);
    for (int i = 0; i < g->OH; i++) {
        const float *r0 = x + (size_t)(2 * i) * W, *r1 = r0 + W;
        __m512 t0 = _mm512_maskz_loadu_ps(row, r0), t1 = _mm512_maskz_loadu_ps(row, r0 + in);
        __m512 u0 = _mm512_maskz_loadu_ps(row, r1), u1 = _mm512_maskz_loadu_ps(row, r1 + in);
        __m512 a = _mm512_permutex2var_ps(t0, ev, t1), b = _mm512_permutex2var_ps(t0, od, t1);
        __m512 c = _mm512_permutex2var_ps(u0, ev, u1), d = _mm512_permutex2var_ps(u0, od, u1);
        __m512 m;
        __m512i k = max_arg(a, b, c, d, &m);
        const size_t o = (size_t)i * n;
        _mm512_mask_storeu_ps(y + o, lo, m);
        _mm512_mask_storeu_ps(y + out + o - 8, hi, m);
        _mm512_mask_cvtepi32_storeu_epi8(arg + o, lo, k);
        _mm512_mask_cvtepi32_storeu_epi8(arg + out + o - 8, hi, k);
    }
}

static void maxpool2_pair_relu_backward(const sn_conv_geom *g, size_t in, size_t out,
                                        const unsigned char *arg, const float *dy, float *dx,
                                        float *dxr) {
    const __m512i lo_i = _mm512_loadu_si512(lo_idx), hi_i = _mm512_loadu_si512(hi_idx);
    const int n = g->OW, W = g->W;
    const __mmask16 row = lanes(2 * n), lo = lanes(n), hi = (__mmask16)(lanes(n) << 8);
    for (int i = 0; i < g->OH; i++) {
        const size_t o = (size_t)i * n;
        __m128i kb = _mm_maskz_loadu_epi8(lo, arg + o);
        kb = _mm_mask_loadu_epi8(kb, hi, arg + out + o - 8);
        __m512i k = _mm512_cvtepu8_epi32(kb);
        __m512 gr = _mm512_maskz_loadu_ps(lo, dy + o);
        gr = _mm512_mask_loadu_ps(gr, hi, dy + out + o - 8);
        __m512 q[4];
        __mmask16 pos = route_arg(k, gr, q);
        __m512 ga = q[0], gb = q[1], gc = q[2], gd = q[3];
        const size_t r0 = (size_t)(2 * i) * W, r1 = r0 + W;
        if (dx) { /* lo_i: plane x's rows, hi_i: the next plane's */
            _mm512_mask_storeu_ps(dx + r0, row, _mm512_permutex2var_ps(ga, lo_i, gb));
            _mm512_mask_storeu_ps(dx + in + r0, row, _mm512_permutex2var_ps(ga, hi_i, gb));
            _mm512_mask_storeu_ps(dx + r1, row, _mm512_permutex2var_ps(gc, lo_i, gd));
            _mm512_mask_storeu_ps(dx + in + r1, row, _mm512_permutex2var_ps(gc, hi_i, gd));
        }
        ga = _mm512_maskz_mov_ps(pos, ga), gb = _mm512_maskz_mov_ps(pos, gb);
        gc = _mm512_maskz_mov_ps(pos, gc), gd = _mm512_maskz_mov_ps(pos, gd);
        _mm512_mask_storeu_ps(dxr + r0, row, _mm512_permutex2var_ps(ga, lo_i, gb));
        _mm512_mask_storeu_ps(dxr + in + r0, row, _mm512_permutex2var_ps(ga, hi_i, gb));
        _mm512_mask_storeu_ps(dxr + r1, row, _mm512_permutex2var_ps(gc, lo_i, gd));
        _mm512_mask_storeu_ps(dxr + in + r1, row, _mm512_permutex2var_ps(gc, hi_i, gd));
        if (W % 2)
            for (int q = 0; q < 2; q++) {
                float *z = dxr + q * in;
                z[r0 + W - 1] = z[r1 + W - 1] = 0.0f;
                if (dx) dx[q * in + r0 + W - 1] = dx[q * in + r1 + W - 1] = 0.0f;
            }
    }
    if (g->H % 2)
        for (int q = 0; q < 2; q++) {
            if (dx) memset(dx + q * in + (size_t)(g->H - 1) * W, 0, sizeof(float) * W);
            memset(dxr + q * in + (size_t)(g->H - 1) * W, 0, sizeof(float) * W);
        }
}

#else
/* The scalar versions of the two above. */
static void maxpool2_plane_arg_scalar(const sn_conv_geom *g, const float *x, float *y,
                                      unsigned char *arg) {
    for (int i = 0; i < g->OH; i++) {
        const float *r0 = x + (size_t)(2 * i) * g->W, *r1 = r0 + g->W;
        for (int j = 0; j < g->OW; j++) {
            float m = fmax_nan(fmax_nan(r0[2 * j], r1[2 * j]), /* as maxpool_plane */
                               fmax_nan(r0[2 * j + 1], r1[2 * j + 1]));
            int k = same(r0[2 * j], m)       ? 0
                    : same(r0[2 * j + 1], m) ? 1
                    : same(r1[2 * j], m)     ? 2
                                             : 3;
            y[(size_t)i * g->OW + j] = m;
            arg[(size_t)i * g->OW + j] = (unsigned char)(k + (m > 0 ? 4 : 0));
        }
    }
}

static void maxpool2_plane_relu_backward_scalar(const sn_conv_geom *g, const unsigned char *arg,
                                                const float *dy, float *dx, float *dxr) {
    if (dx) memset(dx, 0, sizeof(float) * g->H * g->W);
    memset(dxr, 0, sizeof(float) * g->H * g->W);
    for (int i = 0; i < g->OH; i++)
        for (int j = 0; j < g->OW; j++) {
            int k = arg[(size_t)i * g->OW + j];
            size_t p = (size_t)(2 * i + ((k >> 1) & 1)) * g->W + 2 * j + (k & 1);
            float d = dy[(size_t)i * g->OW + j];
            if (dx) dx[p] = d;
            if (k & 4) dxr[p] = d;
        }
}
#endif

static void maxpool2_plane_arg_any(const sn_conv_geom *g, const float *x, float *y,
                                   unsigned char *arg) {
#if defined(__AVX512F__)
    maxpool2_plane_arg(g, x, y, arg);
#else
    maxpool2_plane_arg_scalar(g, x, y, arg);
#endif
}

static void maxpool2_plane_relu_backward_any(const sn_conv_geom *g, const unsigned char *arg,
                                             const float *dy, float *dx, float *dxr) {
#if defined(__AVX512F__)
    maxpool2_plane_relu_backward(g, arg, dy, dx, dxr);
#else
    maxpool2_plane_relu_backward_scalar(g, arg, dy, dx, dxr);
#endif
}

/* One plane: y[OH, OW] from x[H, W]. */
static void maxpool_plane(const sn_conv_geom *g, const float *x, float *y) {
    if (is_2x2(g)) { /* the common case, in a loop the compiler vectorizes */
#if defined(__AVX512F__)
        maxpool2_plane(g, x, y);
        return;
#endif
        for (int i = 0; i < g->OH; i++) {
            const float *r0 = x + (size_t)(2 * i) * g->W, *r1 = r0 + g->W;
            float *out = y + (size_t)i * g->OW;
            for (int j = 0; j < g->OW; j++)
                out[j] = fmax_nan(fmax_nan(r0[2 * j], r1[2 * j]),
                                  fmax_nan(r0[2 * j + 1], r1[2 * j + 1]));
        }
        return;
    }
    for (int i = 0; i < g->OH; i++) {
        int y0, a0, a1;
        rows_in(g, i, &y0, &a0, &a1);
        for (int j = 0; j < g->OW; j++) {
            int x0, b0, b1;
            cols_in(g, j, &x0, &b0, &b1);
            float m = x[(size_t)(y0 + a0) * g->W + x0 + b0];
            for (int a = a0; a < a1; a++) {
                const float *r = x + (size_t)(y0 + a) * g->W + x0;
                for (int b = b0; b < b1; b++) m = fmax_nan(m, r[b]);
            }
            y[(size_t)i * g->OW + j] = m;
        }
    }
}

static void maxpool_plane_backward(const sn_conv_geom *g, const float *x, const float *y,
                                   const float *dy, float *dx) {
    if (is_2x2(g)) { /* every position written once, without branches */
#if defined(__AVX512F__)
        maxpool2_plane_backward(g, x, y, dy, dx);
        return;
#endif
        for (int i = 0; i < g->OH; i++) {
            const float *r0 = x + (size_t)(2 * i) * g->W, *r1 = r0 + g->W;
            float *d0 = dx + (size_t)(2 * i) * g->W, *d1 = d0 + g->W;
            const float *yi = y + (size_t)i * g->OW, *gi = dy + (size_t)i * g->OW;
            for (int j = 0; j < g->OW; j++) {
                float m = yi[j], d = gi[j];
                int e0 = same(r0[2 * j], m), e1 = (e0 ^ 1) & same(r0[2 * j + 1], m);
                int e2 = ((e0 | e1) ^ 1) & same(r1[2 * j], m);
                int e3 = ((e0 | e1 | e2) ^ 1) & same(r1[2 * j + 1], m);
                d0[2 * j] = e0 ? d : 0.0f;
                d0[2 * j + 1] = e1 ? d : 0.0f;
                d1[2 * j] = e2 ? d : 0.0f;
                d1[2 * j + 1] = e3 ? d : 0.0f;
            }
            if (g->W % 2) d0[g->W - 1] = d1[g->W - 1] = 0.0f;
        }
        if (g->H % 2) memset(dx + (size_t)(g->H - 1) * g->W, 0, sizeof(float) * g->W);
        return;
    }
    memset(dx, 0, sizeof(float) * g->H * g->W);
    for (int i = 0; i < g->OH; i++) {
        int y0, a0, a1;
        rows_in(g, i, &y0, &a0, &a1);
        for (int j = 0; j < g->OW; j++) {
            int x0, b0, b1;
            cols_in(g, j, &x0, &b0, &b1);
            float m = y[(size_t)i * g->OW + j];
            int found = 0;
            for (int a = a0; a < a1 && !found; a++) {
                const float *r = x + (size_t)(y0 + a) * g->W + x0;
                for (int b = b0; b < b1; b++) {
                    if (same(r[b], m)) {
                        dx[(size_t)(y0 + a) * g->W + x0 + b] += dy[(size_t)i * g->OW + j];
                        found = 1;
                        break;
                    }
                }
            }
        }
    }
}

static void avgpool_plane(const sn_conv_geom *g, const float *x, float *y) {
    const float inv = 1.0f / (float)(g->kh * g->kw);
    for (int i = 0; i < g->OH; i++) {
        int y0, a0, a1;
        rows_in(g, i, &y0, &a0, &a1);
        for (int j = 0; j < g->OW; j++) {
            int x0, b0, b1;
            cols_in(g, j, &x0, &b0, &b1);
            float s = 0.0f;
            for (int a = a0; a < a1; a++) {
                const float *r = x + (size_t)(y0 + a) * g->W + x0;
                for (int b = b0; b < b1; b++) s += r[b];
            }
            y[(size_t)i * g->OW + j] = s * inv;
        }
    }
}

static void avgpool_plane_backward(const sn_conv_geom *g, const float *dy, float *dx) {
    const float inv = 1.0f / (float)(g->kh * g->kw);
    memset(dx, 0, sizeof(float) * g->H * g->W);
    for (int i = 0; i < g->OH; i++) {
        int y0, a0, a1;
        rows_in(g, i, &y0, &a0, &a1);
        for (int j = 0; j < g->OW; j++) {
            int x0, b0, b1;
            cols_in(g, j, &x0, &b0, &b1);
            float d = dy[(size_t)i * g->OW + j] * inv;
            for (int a = a0; a < a1; a++) {
                float *r = dx + (size_t)(y0 + a) * g->W + x0;
                for (int b = b0; b < b1; b++) r[b] += d;
            }
        }
    }
}

enum { MAX_FWD, MAX_BWD, AVG_FWD, AVG_BWD, MAX_RELU_BWD };

typedef struct {
    const sn_conv_geom *g;
    int kind;
    long planes, per_chunk;
    const float *x, *y, *dy;
    float *out, *out2;
    const unsigned char *arg_in;
    unsigned char *arg; /* MAX_FWD: also the window positions (2x2 only) */
} pool_job;

static void pool_chunk(void *ctx, int c) {
    const pool_job *j = ctx;
    const sn_conv_geom *g = j->g;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
    long p1 = (c + 1) * j->per_chunk < j->planes ? (c + 1) * j->per_chunk : j->planes;
    long p = c * j->per_chunk;
#if defined(__AVX512F__)
    /* rows of at most 8 outputs: two planes at a time */
    if (is_2x2(g) && g->OW <= 8 && (j->kind == MAX_RELU_BWD || (j->kind == MAX_FWD && j->arg))) {
        for (; p + 2 <= p1; p += 2) {
            if (j->kind == MAX_FWD)
                maxpool2_pair_arg(g, in, out, j->x + in * p, j->out + out * p, j->arg + out * p);
            else
                maxpool2_pair_relu_backward(g, in, out, j->arg_in + out * p, j->dy + out * p,
                                            j->out ? j->out + in * p : NULL, j->out2 + in * p);
        }
    }
#endif
    for (; p < p1; p++) {
        switch (j->kind) {
        case MAX_FWD:
            if (j->arg)
                maxpool2_plane_arg_any(g, j->x + in * p, j->out + out * p, j->arg + out * p);
            else
                maxpool_plane(g, j->x + in * p, j->out + out * p);
            break;
        case MAX_RELU_BWD:
            maxpool2_plane_relu_backward_any(g, j->arg_in + out * p, j->dy + out * p,
                                             j->out ? j->out + in * p : NULL, j->out2 + in * p);
            break;
        case MAX_BWD:
            maxpool_plane_backward(g, j->x + in * p, j->y + out * p, j->dy + out * p,
                                   j->out + in * p);
            break;
        case AVG_FWD:
            avgpool_plane(g, j->x + in * p, j->out + out * p);
            break;
        default:
            avgpool_plane_backward(g, j->dy + out * p, j->out + in * p);
            break;
        }
    }
}

/* Planes in up to 4 chunks per thread (the spare chunks go to whichever
 * thread is free first); one chunk below POOL_MT_MIN input values. */
static void pool_run(pool_job *j, int N) {
    j->planes = (long)N * j->g->C;
    long chunks = j->planes * (long)j->g->H * j->g->W >= POOL_MT_MIN ? 4L * sn_get_threads() : 1;
    if (chunks > j->planes) chunks = j->planes;
    if (chunks < 1) return;
    j->per_chunk = (j->planes + chunks - 1) / chunks;
    sn_parallel((int)((j->planes + j->per_chunk - 1) / j->per_chunk), pool_chunk, j);
}

void sn_maxpool_forward(const sn_conv_geom *g, int N, const float *x, float *y) {
    pool_job j = {.g = g, .kind = MAX_FWD, .x = x, .out = y};
    pool_run(&j, N);
}

void sn_maxpool_backward(const sn_conv_geom *g, int N, const float *x, const float *y,
                         const float *dy, float *dx) {
    pool_job j = {.g = g, .kind = MAX_BWD, .x = x, .y = y, .dy = dy, .out = dx};
    pool_run(&j, N);
}

int sn_maxpool_keeps_arg(const sn_conv_geom *g) {
    return is_2x2(g);
}

void sn_maxpool_forward_arg(const sn_conv_geom *g, int N, const float *x, float *y,
                            unsigned char *arg) {
    pool_job j = {.g = g, .kind = MAX_FWD, .x = x, .out = y, .arg = arg};
    pool_run(&j, N);
}

void sn_maxpool_relu_backward(const sn_conv_geom *g, int N, const unsigned char *arg,
                              const float *dy, float *dx, float *dxr) {
    pool_job j = {.g = g, .kind = MAX_RELU_BWD, .arg_in = arg, .dy = dy, .out = dx, .out2 = dxr};
    pool_run(&j, N);
}

void sn_avgpool_forward(const sn_conv_geom *g, int N, const float *x, float *y) {
    pool_job j = {.g = g, .kind = AVG_FWD, .x = x, .out = y};
    pool_run(&j, N);
}

void sn_avgpool_backward(const sn_conv_geom *g, int N, const float *dy, float *dx) {
    pool_job j = {.g = g, .kind = AVG_BWD, .dy = dy, .out = dx};
    pool_run(&j, N);
}
