/* im2col, col2im and the batched convolution built on them (see conv.h).
 *
 * A convolution of one image is one matrix product: im2col lays every
 * receptive field out as a column, so that
 *
 *   y_n[F, OH·OW] = w[F, C·kh·kw] · col_n[C·kh·kw, OH·OW]
 *
 * and its backward pass is two more products and the adjoint of im2col:
 *
 *   dwᵀ += col_n[C·kh·kw, OH·OW] · dy_nᵀ[OH·OW, F]     (dw, transposed)
 *   dcol = wᵀ[C·kh·kw, F] · dy_n[F, OH·OW],    dx_n = col2im(dcol)
 *
 * The batch is cut into one contiguous range of samples per thread (a chunk
 * of sn_parallel, src/core/threads.h); a chunk runs these products one
 * sample at a time in its own scratch (one column matrix of a single image
 * stays in the L2 cache between im2col and the product); sn_sgemm then runs
 * on the thread that runs the chunk. A 1x1 kernel with stride 1 and no padding
 * needs no im2col: col_n is x_n itself.
 *
 * With AVX-512, faster paths replace the plain loops: without padding,
 * im2col_flat writes each row of the column matrix in whole vectors of 16
 * columns, across output rows (one permutation of two loads each); else,
 * with stride 1 along the width, im2col_narrow writes each output row
 * (OW <= 16) as one whole vector; and col2im_rows sums each piece of a dx
 * row in registers instead of adding into memory. They rely on COL_MARGIN
 * floats of slack around the column matrix in the scratch space (and on
 * rows of whole 64-byte lines). sn_im2col and sn_col2im (the public, plain
 * versions) need none. */
#include "core/threads.h"
#include "kernels/act.h"
#include "kernels/conv.h"
#include "kernels/pool.h"
#include "kernels/pool_simd.h"
#include "kernels/simd.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Rounds a float count up to a whole number of 64-byte lines. */
static size_t lines(size_t n) {
    return (n + 15) / 16 * 16;
}

/* Floats of slack the batched convolution keeps before and after its column
 * matrix, so that the fast paths below may read (masked) and write (spill)
 * a little past a row. */
#if defined(__AVX512F__)
#define COL_MARGIN 16
#else
#define COL_MARGIN 0
#endif

/* dst[0..n) = src[0..n) for the short rows of im2col (one output row, often
 * fewer than 32 values): with AVX-512 a row of up to 16 values is one masked
 * load and store. With spill != 0 the last store is unmasked and may write
 * up to 15 floats of garbage past dst[n) (faster than a masked store); the
 * caller writes those positions afterwards or owns them as slack. */
static inline void copy_row(float *restrict dst, const float *restrict src, int n, int spill) {
#if defined(__AVX512F__)
    int j = 0;
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(dst + j, _mm512_loadu_ps(src + j));
    if (j < n) {
        __mmask16 m = sn_mask16(n - j);
        if (spill)
            _mm512_storeu_ps(dst + j, _mm512_maskz_loadu_ps(m, src + j));
        else
            _mm512_mask_storeu_ps(dst + j, m, _mm512_maskz_loadu_ps(m, src + j));
    }
#else
    (void)spill;
    for (int j = 0; j < n; j++) dst[j] = src[j];
#endif
}

static inline void add_row(float *restrict dst, const float *restrict src, int n) {
#if defined(__AVX512F__)
    int j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(dst + j,
                         _mm512_add_ps(_mm512_loadu_ps(dst + j), _mm512_loadu_ps(src + j)));
    if (j < n) {
        __mmask16 m = sn_mask16(n - j);
        __m512 d = _mm512_maskz_loadu_ps(m, dst + j), v = _mm512_maskz_loadu_ps(m, src + j);
        _mm512_mask_storeu_ps(dst + j, m, _mm512_add_ps(d, v));
    }
#else
    for (int j = 0; j < n; j++) dst[j] += src[j];
#endif
}

/* The j range [*j0, *j1) for which input column j·sw - pw + b is inside [0, W). */
static void valid_cols(const sn_conv_geom *g, int b, int *j0, int *j1) {
    int lo = g->pw - b; /* need j·sw >= lo */
    int a0 = lo <= 0 ? 0 : (lo + g->sw - 1) / g->sw;
    int hi = g->W + g->pw - b; /* need j·sw < hi */
    int a1 = hi <= 0 ? 0 : (hi + g->sw - 1) / g->sw;
    if (a1 > g->OW) a1 = g->OW;
    if (a0 > a1) a0 = a1;
    *j0 = a0;
    *j1 = a1;
}

/* im2col; spill: rows may be written with copy_row's spill (col needs
 * COL_MARGIN floats of slack after its end). Rows are written in increasing
 * address order, so a spill is always overwritten by a later row. */
static void im2col_impl(const sn_conv_geom *g, const float *x, float *col, size_t ld, int spill) {
    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
    const int ph = g->ph, pw = g->pw, OH = g->OH, OW = g->OW;
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int a = 0; a < kh; a++) {
            for (int b = 0; b < kw; b++) {
                float *out = col + ((size_t)(c * kh + a) * kw + b) * ld;
                const int off = b - pw; /* input column of output column j: j·sw + off */
                int j0, j1;
                valid_cols(g, b, &j0, &j1);
                for (int i = 0; i < OH; i++, out += OW) {
                    const int y = i * sh - ph + a;
                    if (y < 0 || y >= H) {
                        memset(out, 0, sizeof(float) * OW);
                        continue;
                    }
                    const float *in = xc + (size_t)y * W;
                    for (int j = 0; j < j0; j++) out[j] = 0.0f;
                    if (sw == 1)
                        copy_row(out + j0, in + j0 + off, j1 - j0, spill);
                    else
                        for (int j = j0; j < j1; j++) out[j] = in[j * sw + off];
                    for (int j = j1; j < OW; j++) out[j] = 0.0f;
                }
            }
        }
    }
}

void sn_im2col(const sn_conv_geom *g, const float *x, float *col) {
    im2col_impl(g, x, col, (size_t)g->OH * g->OW, 0);
}

#if defined(__AVX512F__)
/* im2col for sw == 1 and OW <= 16: every output row is one vector, loaded
 * with the lanes outside the image zeroed and stored whole (16 floats, the
 * excess overwritten by the next row or landing in the slack). */
static void im2col_narrow(const sn_conv_geom *g, const float *x, float *col, size_t ld) {
    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, sh = g->sh;
    const int ph = g->ph, pw = g->pw, OH = g->OH, OW = g->OW;
    const __m512 zero = _mm512_setzero_ps();
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int a = 0; a < kh; a++) {
            for (int b = 0; b < kw; b++) {
                float *out = col + ((size_t)(c * kh + a) * kw + b) * ld;
                int j0, j1;
                valid_cols(g, b, &j0, &j1);
                /* lanes j0 .. j1-1 read input columns j0 + b - pw ... */
                const __mmask16 m = (__mmask16)(((1u << j1) - 1) & ~((1u << j0) - 1));
                const __mmask16 n = (__mmask16)((1u << (j1 - j0)) - 1);
                const int first = j0 + b - pw;
                for (int i = 0; i < OH; i++, out += OW) {
                    const int y = i * sh - ph + a;
                    __m512 v = zero;
                    if (y >= 0 && y < H && j1 > j0) {
                        const float *in = xc + (size_t)y * W + first;
                        v = j0 == 0 ? _mm512_maskz_loadu_ps(n, in)
                                    : _mm512_maskz_expandloadu_ps(m, in);
                    }
                    _mm512_storeu_ps(out, v);
                }
            }
        }
    }
}
#endif

/* im2col without padding (no window reaches outside the image), a whole vector of 16 columns of the
 * column matrix at a time, across output rows: column q = i·OW + j of row (c, a, b) reads x[c, a +
 * i·sh, b + j·sw] = xcab[idx(q)] with xcab = x + (c·H + a)·W + b and idx(q) = (q / OW)·sh·W + (q %
 * OW)·sw, the same offsets for every row. Where the 16 offsets of a vector span at most 32 floats,
 * the vector is two (masked) loads and one permutation, and the row is written in whole aligned
 * vectors (the last one's extra lanes land in the row's slack up to ld), instead of one short,
 * unaligned store per output row. The plan holds the offsets; it is made once per batch. */
#if defined(__AVX512F__)
#define FLAT_MAX_V 64
typedef struct flat_plan {
    int nv;                      /* vectors per row: ceil(OH·OW / 16) */
    int start[FLAT_MAX_V];       /* idx of the vector's first column */
    __mmask16 lo[FLAT_MAX_V];    /* lanes loaded from xcab + start */
    __mmask16 hi[FLAT_MAX_V];    /* lanes loaded from xcab + start + 16 */
    int32_t idx[FLAT_MAX_V][16]; /* idx - start, lane by lane (0 past OH·OW) */
    /* shared: 1 when every vector's offsets stay below 32 for b up to
     * kw - 1 as well, so that one load pair serves a whole window row;
     * lo_all, hi_all: the lanes that pair loads */
    int shared;
    __mmask16 lo_all[FLAT_MAX_V], hi_all[FLAT_MAX_V];
} flat_plan;

/* Fills *pl and returns 1 when the flat path applies to g. */
static int flat_plan_make(const sn_conv_geom *g, flat_plan *pl) {
    const int P = g->OH * g->OW;
    /* no padding on any side: every window inside the image */
    if (g->ph != 0 || g->pw != 0 || (g->OH - 1) * g->sh + g->kh > g->H ||
        (g->OW - 1) * g->sw + g->kw > g->W || P > 16 * FLAT_MAX_V)
        return 0;
    pl->nv = (P + 15) / 16;
    pl->shared = 1;
    for (int v = 0; v < pl->nv; v++) {
        int q0 = 16 * v, n = P - q0 < 16 ? P - q0 : 16;
        int start = (q0 / g->OW) * g->sh * g->W + (q0 % g->OW) * g->sw, need = 0;
        for (int l = 0; l < 16; l++) {
            int q = q0 + l, d = 0;
            if (l < n) d = (q / g->OW) * g->sh * g->W + (q % g->OW) * g->sw - start;
            if (d >= 32) return 0;
            pl->idx[v][l] = d;
            if (d + 1 > need) need = d + 1;
        }
        pl->start[v] = start;
        pl->lo[v] = (__mmask16)(need >= 16 ? 0xFFFF : (1u << need) - 1);
        pl->hi[v] = (__mmask16)(need <= 16 ? 0 : (1u << (need - 16)) - 1);
        const int all = need + g->kw - 1; /* floats read for b = 0 .. kw-1 */
        if (all > 32) pl->shared = 0;
        pl->lo_all[v] = (__mmask16)(all >= 16 ? 0xFFFF : (1u << all) - 1);
        pl->hi_all[v] = (__mmask16)(all <= 16 ? 0 : all >= 32 ? 0xFFFF : (1u << (all - 16)) - 1);
    }
    return 1;
}

static void im2col_flat(const sn_conv_geom *g, const flat_plan *pl, const float *x, float *col,
                        size_t ld) {
    const int H = g->H, W = g->W, kh = g->kh, kw = g->kw, nv = pl->nv;
    if (pl->shared) {
        /* the kw rows of one window row (c, a) come from the same input
         * floats, b further on: one load pair and kw permutations, the
         * offsets + b (the same floats the loads from xcab + b would give) */
        const __m512i one = _mm512_set1_epi32(1);
        for (int c = 0; c < g->C; c++)
            for (int a = 0; a < kh; a++) {
                const float *xca = x + ((size_t)c * H + a) * W;
                float *out = col + (size_t)(c * kh + a) * kw * ld;
                for (int v = 0; v < nv; v++) {
                    const float *s = xca + pl->start[v];
                    __m512 lo = _mm512_maskz_loadu_ps(pl->lo_all[v], s);
                    __m512 hi = _mm512_maskz_loadu_ps(pl->hi_all[v], s + 16);
                    __m512i ix = _mm512_loadu_si512(pl->idx[v]);
                    for (int b = 0; b < kw; b++, ix = _mm512_add_epi32(ix, one))
                        _mm512_storeu_ps(out + (size_t)b * ld + 16 * v,
                                         _mm512_permutex2var_ps(lo, ix, hi));
                }
            }
        return;
    }
    for (int c = 0; c < g->C; c++)
        for (int a = 0; a < kh; a++)
            for (int b = 0; b < kw; b++) {
                const float *xcab = x + ((size_t)c * H + a) * W + b;
                float *out = col + ((size_t)(c * kh + a) * kw + b) * ld;
                for (int v = 0; v < nv; v++) {
                    const float *s = xcab + pl->start[v];
                    __m512 lo = _mm512_maskz_loadu_ps(pl->lo[v], s);
                    __m512 hi = _mm512_maskz_loadu_ps(pl->hi[v], s + 16);
                    __m512i ix = _mm512_loadu_si512(pl->idx[v]);
                    _mm512_storeu_ps(out + 16 * v, _mm512_permutex2var_ps(lo, ix, hi));
                }
            }
}
#else
typedef struct flat_plan {
    int nv;
} flat_plan;

static int flat_plan_make(const sn_conv_geom *g, flat_plan *pl) {
    (void)g, (void)pl;
    return 0;
}
#endif

/* im2col into a column matrix whose rows lie ld >= OH·OW floats apart
 * (ld a multiple of 16 when pl is given), with COL_MARGIN floats of slack
 * after it; pl: a plan from flat_plan_make for g, or NULL. */
static void im2col(const sn_conv_geom *g, const flat_plan *pl, const float *x, float *col,
                   size_t ld) {
#if defined(__AVX512F__)
    if (pl) {
        im2col_flat(g, pl, x, col, ld);
        return;
    }
    if (g->sw == 1 && g->OW <= 16) {
        im2col_narrow(g, x, col, ld);
        return;
    }
#else
    (void)pl;
#endif
    im2col_impl(g, x, col, ld, COL_MARGIN >= 16);
}

static void col2im_impl(const sn_conv_geom *g, const float *dcol, size_t ld, float *dx) {
    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
    const int ph = g->ph, pw = g->pw, OH = g->OH, OW = g->OW;
    memset(dx, 0, sizeof(float) * C * H * W);
    for (int c = 0; c < C; c++) {
        float *xc = dx + (size_t)c * H * W;
        for (int a = 0; a < kh; a++) {
            for (int b = 0; b < kw; b++) {
                const float *in = dcol + ((size_t)(c * kh + a) * kw + b) * ld;
                const int off = b - pw;
                int j0, j1;
                valid_cols(g, b, &j0, &j1);
                for (int i = 0; i < OH; i++, in += OW) {
                    const int y = i * sh - ph + a;
                    if (y < 0 || y >= H) continue;
                    float *out = xc + (size_t)y * W;
                    if (sw == 1)
                        add_row(out + j0 + off, in + j0, j1 - j0);
                    else
                        for (int j = j0; j < j1; j++) out[j * sw + off] += in[j];
                }
            }
        }
    }
}

void sn_col2im(const sn_conv_geom *g, const float *dcol, float *dx) {
    col2im_impl(g, dcol, (size_t)g->OH * g->OW, dx);
}

#if defined(__AVX512F__)
/* col2im for sw == 1 and kw <= COL_MARGIN, accumulating each 16-wide piece
 * of a dx row in a register and storing it once (the scatter-add of
 * sn_col2im makes overlapping read-modify-writes that stall the CPU's store
 * forwarding). dx[c, y, x] = Σ over a with y + ph - a = i·sh, 0 <= i < OH,
 * and b with 0 <= j = x + pw - b < OW of dcol[(c, a, b), i·OW + j]. Reads up
 * to COL_MARGIN floats before and after dcol under masks (the lanes outside
 * are never used): the caller's buffer must extend that far. */
static inline __attribute__((always_inline)) void col2im_rows_k(int kh, int kw, int sh,
                                                                const sn_conv_geom *g,
                                                                const float *dcol, size_t ld,
                                                                float *dx) {
    const int H = g->H, W = g->W, ph = g->ph, pw = g->pw;
    const int OH = g->OH, OW = g->OW;
    for (int x0 = 0; x0 < W; x0 += 16) {
        const int lanes = W - x0 < 16 ? W - x0 : 16;
        /* the lanes of b's load, and where it starts in a row of dcol
         * (the same for every channel and row) */
        __mmask16 mb[COL_MARGIN];
        int base[COL_MARGIN];
        for (int b = 0; b < kw; b++) {
            base[b] = x0 + pw - b; /* j of lane 0 */
            const int lo = base[b] < 0 ? -base[b] : 0;
            const int hi = OW - base[b] < lanes ? OW - base[b] : lanes;
            mb[b] = lo >= hi ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
        }
        for (int c = 0; c < g->C; c++) {
            for (int y = 0; y < H; y++) {
                float *out = dx + ((size_t)c * H + y) * W;
                /* two partial sums (even and odd a), so that consecutive
                 * additions do not wait for each other */
                __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
                for (int a = 0; a < kh; a++) {
                    const int t = y + ph - a;
                    int i = t;
                    if (sh != 1) {
                        if (t < 0 || t % sh != 0) continue;
                        i = t / sh;
                    }
                    if (i < 0 || i >= OH) continue;
                    const float *row = dcol + (size_t)(c * kh + a) * kw * ld + (size_t)i * OW;
                    __m512 part = _mm512_setzero_ps();
                    for (int b = 0; b < kw; b++, row += ld)
                        if (mb[b])
                            part = _mm512_add_ps(part, _mm512_maskz_loadu_ps(mb[b], row + base[b]));
                    if (a & 1)
                        odd = _mm512_add_ps(odd, part);
                    else
                        even = _mm512_add_ps(even, part);
                }
                __m512 sum = _mm512_add_ps(even, odd);
                _mm512_mask_storeu_ps(out + x0, (__mmask16)((1u << lanes) - 1), sum);
            }
        }
    }
}

/* The common 3x3 window with stride 1 with constant bounds, so that the
 * loops over a and b unroll (the same additions in the same order). */
static void col2im_rows(const sn_conv_geom *g, const float *dcol, size_t ld, float *dx) {
    if (g->kh == 3 && g->kw == 3 && g->sh == 1)
        col2im_rows_k(3, 3, 1, g, dcol, ld, dx);
    else
        col2im_rows_k(g->kh, g->kw, g->sh, g, dcol, ld, dx);
}
#endif

/* col2im into dx from dcol (rows ld floats apart) with COL_MARGIN
 * readable floats on both sides. */
static void col2im(const sn_conv_geom *g, const float *dcol, size_t ld, float *dx) {
#if defined(__AVX512F__)
    if (g->sw == 1 && g->kw <= COL_MARGIN) {
        col2im_rows(g, dcol, ld, dx);
        return;
    }
#endif
    col2im_impl(g, dcol, ld, dx);
}

/* ---- batched convolution -------------------------------------------------- */

static int is_identity(const sn_conv_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* The distance between the rows of the column matrix in the scratch: OH·OW
 * rounded up to whole 64-byte lines, so that every row starts on one (the
 * products load and store them a line at a time). */
static size_t col_ld(const sn_conv_geom *g) {
    return lines((size_t)g->OH * g->OW);
}

/* Per-thread scratch: the column matrix between margins of COL_MARGIN
 * floats, then the partial dw and db. */
static size_t slot_floats(const sn_conv_geom *g, int F) {
    size_t K = (size_t)g->C * g->kh * g->kw, P = (size_t)g->OH * g->OW;
    return lines(COL_MARGIN) + K * col_ld(g) + lines(COL_MARGIN) + lines((size_t)F * K) +
           lines((size_t)F) + 2 * lines((size_t)F * P);
}

/* The two output-sized buffers of a slot after the partial dw and db, where
 * the passes with a ReLU after the convolution work (sn_conv_fused). */
static float *out_buf(const sn_conv_geom *g, int F, float *slot, int which) {
    size_t K = (size_t)g->C * g->kh * g->kw, P = (size_t)g->OH * g->OW;
    size_t off = lines(COL_MARGIN) + K * col_ld(g) + lines(COL_MARGIN) + lines((size_t)F * K) +
                 lines((size_t)F);
    return slot + off + (size_t)which * lines((size_t)F * P);
}

/* dst[0..n) = src[0..n) for values nothing reads soon (the activations and
 * gradients the fused passes keep only for whoever looks at them later):
 * with AVX-512 non-temporal stores, which skip reading the destination's
 * lines into the cache first. Call stream_done before the data is read. */
static void stream_copy(float *restrict dst, const float *restrict src, size_t n) {
#if defined(__AVX512F__)
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63) != 0; i++) dst[i] = src[i];
    for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
    for (; i < n; i++) dst[i] = src[i];
#else
    memcpy(dst, src, n * sizeof(float));
#endif
}

static void stream_done(void) {
#if defined(__AVX512F__)
    _mm_sfence();
#endif
}

size_t sn_conv_scratch_size(const sn_conv_geom *g, int F, int threads) {
    return slot_floats(g, F) * (size_t)(threads < 1 ? 1 : threads);
}

int sn_conv_threads(int n, int slots) {
    int nt = sn_in_parallel() ? 1 : sn_get_threads();
    if (nt > n) nt = n;
    if (nt > slots) nt = slots;
    return nt < 1 ? 1 : nt;
}

#if defined(__AVX512F__)
/* y < 0 ? 0 : y (sn_act_forward's ReLU: -0 and NaN pass) in one
 * instruction: MAXPS returns its second operand unless the first is
 * greater, so max(+0, y) is +0 exactly where +0 > y, i.e. y < 0. */
static inline __m512 relu_ps(__m512 y) {
    return _mm512_max_ps(_mm512_setzero_ps(), y);
}
#endif

/* A single-channel input (a first layer: K = kh·kw, a product with a short
 * inner dimension and one k block) without im2col: each output row is
 * formed in vectors of 16 pixels from the K shifted input rows, loaded
 * once for all F filters, with the same chain as the product's, +0 and one
 * FMA per k in k order (a tap in the padding multiplies a zero, as its
 * column entry would), then + b[f] as the bias loop adds it, and with
 * relu, r < 0 ? 0 : r (sn_act_forward's ReLU). y: [F, OH·OW]. */
#if defined(__AVX512F__)
#define DIRECT_MAX_K 16
static int direct_c1(const sn_conv_geom *g) {
    return g->C == 1 && g->sw == 1 && g->kh * g->kw <= DIRECT_MAX_K;
}

/* Lane l < cnt (cnt <= 16): x[row][c0 + l] of a one-channel input, zero
 * outside the image and past cnt (a masked load reads no lane outside). */
static inline __m512 c1_load(const sn_conv_geom *g, const float *x, int row, int c0, int cnt) {
    const int lo = c0 < 0 ? -c0 : 0, hi = g->W - c0 < cnt ? g->W - c0 : cnt;
    if (row < 0 || row >= g->H || lo >= hi) return _mm512_setzero_ps();
    const __mmask16 m = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
    return _mm512_maskz_loadu_ps(m, x + (size_t)row * g->W + c0);
}

/* The kh·kw taps of conv output row i, columns j0 .. j0 + cnt - 1 (cnt <= 16)
 * of a one-channel input: v[a·kw + b] lane l = x[i·sh - ph + a][j0 + l + b - pw],
 * zero outside the image and past cnt. */
static inline __attribute__((always_inline)) void c1_taps(const sn_conv_geom *g, const float *x,
                                                          int i, int j0, int cnt, __m512 *v) {
    for (int a = 0; a < g->kh; a++)
        for (int b = 0; b < g->kw; b++)
            v[a * g->kw + b] = c1_load(g, x, i * g->sh - g->ph + a, j0 + b - g->pw, cnt);
}

static void conv_c1_direct(const sn_conv_geom *g, int F, const float *x, const float *w,
                           const float *bias, float *y, int relu) {
    const int K = g->kh * g->kw, OW = g->OW;
    const size_t P = (size_t)g->OH * OW;
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < g->OH; i++) {
        for (int j0 = 0; j0 < OW; j0 += 16) {
            const int n = OW - j0 < 16 ? OW - j0 : 16;
            __m512 v[DIRECT_MAX_K];
            c1_taps(g, x, i, j0, n, v);
            const __mmask16 m = (__mmask16)((1u << n) - 1);
            float *out = y + (size_t)i * OW + j0;
            int f = 0;
            for (; f + 4 <= F; f += 4) {
                const float *w0 = w + (size_t)f * K;
                __m512 a0 = zero, a1 = zero, a2 = zero, a3 = zero;
                for (int k = 0; k < K; k++) {
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(w0[k]), v[k], a0);
                    a1 = _mm512_fmadd_ps(_mm512_set1_ps(w0[K + k]), v[k], a1);
                    a2 = _mm512_fmadd_ps(_mm512_set1_ps(w0[2 * K + k]), v[k], a2);
                    a3 = _mm512_fmadd_ps(_mm512_set1_ps(w0[3 * K + k]), v[k], a3);
                }
                __m512 r[4] = {a0, a1, a2, a3};
                for (int u = 0; u < 4; u++) {
                    __m512 t = _mm512_add_ps(r[u], _mm512_set1_ps(bias[f + u]));
                    if (relu) t = relu_ps(t);
                    _mm512_mask_storeu_ps(out + (size_t)(f + u) * P, m, t);
                }
            }
            for (; f < F; f++) {
                const float *wf = w + (size_t)f * K;
                __m512 acc = zero;
                for (int k = 0; k < K; k++) acc = _mm512_fmadd_ps(_mm512_set1_ps(wf[k]), v[k], acc);
                __m512 t = _mm512_add_ps(acc, _mm512_set1_ps(bias[f]));
                if (relu) t = relu_ps(t);
                _mm512_mask_storeu_ps(out + (size_t)f * P, m, t);
            }
        }
    }
}

/* conv_c1_direct with the ReLU, followed by the 2x2 max pooling that keeps
 * its window positions (pool.h, sn_maxpool_keeps_arg: pg, whose C is F),
 * when only the pooling reads the ReLU's output: each pair of output rows
 * 2q, 2q + 1 is formed in registers, one filter at a time, and pooled there
 * into row q of p: [F, pg->OH, pg->OW] and arg (same layout). A conv row is
 * held as its even and its odd columns (lane l: columns 2l and 2l + 1), so
 * that the four values of window l are lane l of four vectors, as the
 * pooling compares them; the taps are laid out that way once per row pair
 * for all filters. The values are conv_c1_direct's (the same chain per
 * pixel, whatever its lane), and each stored pooling lane compares the four
 * values sn_maxpool_forward_arg compares, so p and arg come out bit for bit
 * as theirs. A conv output row of at most 32 values (16 windows), a kernel
 * of at most C1_KH x C1_KW. */
#define C1_KH 4
#define C1_KW 4
static int c1_pool_fits(const sn_conv_geom *g) {
    return direct_c1(g) && g->OW <= 32 && g->kh <= C1_KH && g->kw <= C1_KW;
}

/* Lane l: x[row][2l + c0] (0 outside the image), from two masked loads. */
static inline __m512 c1_evens(const sn_conv_geom *g, const float *x, int row, int c0) {
    if (row < 0 || row >= g->H) return _mm512_setzero_ps();
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_ps(c1_load(g, x, row, c0, 16), ev, c1_load(g, x, row, c0 + 16, 16));
}

/* kh, kw: the kernel (constants in the common instance). t[r][a][e], lane l:
 * input row (2q + r)·sh - ph + a, column 2l + e - pw, so that tap (a, b) of
 * the even columns of conv row 2q + r is t[r][a][b] and of the odd ones
 * t[r][a][b + 1]. */
static inline __attribute__((always_inline)) void
c1_pool_rows(int kh, int kw, const sn_conv_geom *g, const sn_conv_geom *pg, int F, const float *x,
             const float *w, const float *bias, int q, float *p, unsigned char *arg) {
    const int K = kh * kw, n = pg->OW;
    const size_t lp = (size_t)pg->OH * pg->OW;
    __m512 t[2][C1_KH][C1_KW + 1];
    for (int r = 0; r < 2; r++)
        for (int a = 0; a < kh; a++)
            for (int e = 0; e <= kw; e++)
                t[r][a][e] = c1_evens(g, x, (2 * q + r) * g->sh - g->ph + a, e - g->pw);
    const __mmask16 out = (__mmask16)((1u << n) - 1);
    for (int f = 0; f < F; f++) {
        const float *wf = w + (size_t)f * K;
        /* conv rows 2q (even, odd columns), 2q + 1 (even, odd) */
        __m512 acc[4];
        for (int u = 0; u < 4; u++) acc[u] = _mm512_setzero_ps();
        for (int a = 0; a < kh; a++)
            for (int b = 0; b < kw; b++) {
                const __m512 wk = _mm512_set1_ps(wf[a * kw + b]);
                for (int r = 0; r < 2; r++)
                    for (int o = 0; o < 2; o++)
                        acc[2 * r + o] = _mm512_fmadd_ps(wk, t[r][a][b + o], acc[2 * r + o]);
            }
        const __m512 bf = _mm512_set1_ps(bias[f]);
        __m512 y[4];
        for (int u = 0; u < 4; u++) y[u] = relu_ps(_mm512_add_ps(acc[u], bf));
        __m512 m;
        __m512i kk = max_arg(y[0], y[1], y[2], y[3], &m);
        const size_t o = (size_t)f * lp + (size_t)q * n;
        _mm512_mask_storeu_ps(p + o, out, m);
        _mm512_mask_cvtepi32_storeu_epi8(arg + o, out, kk);
    }
}

static void conv_c1_pool(const sn_conv_geom *g, const sn_conv_geom *pg, int F, const float *x,
                         const float *w, const float *bias, float *p, unsigned char *arg) {
    for (int q = 0; q < pg->OH; q++) {
        if (g->kh == 3 && g->kw == 3)
            c1_pool_rows(3, 3, g, pg, F, x, w, bias, q, p, arg);
        else
            c1_pool_rows(g->kh, g->kw, g, pg, F, x, w, bias, q, p, arg);
    }
}

/* The filter and bias gradients of a first layer pooled in registers
 * (c1_pool_fits, 3x3 kernel), when nothing else is wanted from its backward
 * pass (no dx, neither dr nor dy kept): dy is routed from dp through the
 * pooling's window positions and the ReLU and consumed in registers, never
 * written out. The general path forms dy [F, P] (sn_maxpool_relu_backward),
 * then multiplies col [K, P] by dyᵀ, which packs dyᵀ into panels of [P][F]
 * first; here each output pixel's dy over the filters (a row of dyᵀ) is made
 * directly, from dp and the window positions of its pooling window
 * transposed to [pooled column][filter] once per pooled row (16 x 16
 * transposes in registers), and multiplied at once by the pixel's K taps.
 *
 * The sums are the product's: dwᵀ[k, f] += Σ_p col[k, p] dy[f, p] in the k
 * blocks of sn_sgemm_k_block(P), each from +0 one FMA per pixel in pixel
 * order, then added to dwᵀ (the GEMM's beta = 1: 1·C + block); and
 * db[f] += row_sums' sum: 16 partial sums, p ≡ l (mod 16) into lane l in
 * pixel order, then added lane by lane from +0. Lanes are filters, so every
 * value of dw and db is the same chain of the same operations as before. */
#define C1B_G 32 /* filters per pass: two vectors */

/* Floats of scratch c1_pool_backward needs (its buffer): the padded input
 * plane, dp and the window positions of one pooled row transposed, and the
 * 16 partial sums of every filter's db. */
static size_t c1b_floats(const sn_conv_geom *g, int F) {
    size_t rows = (size_t)(g->OH - 1) * g->sh + g->kh, cols = (size_t)g->OW + g->kw - 1;
    return lines(rows * cols) + 2 * 16 * C1B_G + 16 * (size_t)F;
}

static int c1_pool_backward_fits(const sn_conv_geom *g, int F, const sn_conv_fused *post,
                                 int want_dx) {
    const sn_conv_geom *pg = post ? post->pool : NULL;
    return pg && post->arg && !post->dr && !post->dy && !want_dx && direct_c1(g) && g->kh == 3 &&
           g->kw == 3 && F % 16 == 0 && pg->OW <= 16 &&
           c1b_floats(g, F) <= 2 * lines((size_t)F * g->OH * g->OW);
}

/* r[0..15] (row l: 16 values of filter l) into their transpose (row c: value
 * c of the 16 filters); bit moves only. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    /* r[4i + c], 128-bit lane L: column 4L + c of rows 4i .. 4i + 3 */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
    }
}

/* Filters f0 .. f0 + 16 NV - 1 of one sample. xp: the input plane padded
 * (rows RW floats apart, tap (a, b) of output (i, j) at row i·sh + a,
 * column j + b); dpt, cdt: [16][C1B_G] for one pooled row; dbacc: [16][F]. */
static inline __attribute__((always_inline)) void
c1b_filters(const int NV, const sn_conv_geom *g, const sn_conv_geom *pg, int F, int f0,
            const float *xp, int RW, const unsigned char *arg, const float *dp, float *dwt,
            float *dpt, float *cdt, float *dbacc) {
    const int OH = g->OH, OW = g->OW, P = OH * OW, PH = pg->OH, PW = pg->OW;
    const size_t plane = (size_t)PH * PW;
    const int kb = sn_sgemm_k_block(P);
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __mmask16 cols = (__mmask16)((1u << PW) - 1);
    __m512 acc[9][2];
    for (int k = 0; k < 9; k++)
        for (int u = 0; u < NV; u++) acc[k][u] = zero;
    int p = 0, left = kb; /* pixels left in the k block */
    for (int i = 0; i < OH; i++) {
        const int q = i >> 1, pooled = q < PH;
        if (pooled && !(i & 1))
            for (int u = 0; u < NV; u++) {
                __m512 r[16], c[16];
                const size_t o = (size_t)(f0 + 16 * u) * plane + (size_t)q * PW;
                for (int l = 0; l < 16; l++) {
                    r[l] = _mm512_maskz_loadu_ps(cols, dp + o + l * plane);
                    c[l] = _mm512_castsi512_ps(
                        _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(cols, arg + o + l * plane)));
                }
                transpose16(r);
                transpose16(c);
                for (int l = 0; l < PW; l++) {
                    _mm512_storeu_ps(dpt + l * C1B_G + 16 * u, r[l]);
                    _mm512_storeu_ps(cdt + l * C1B_G + 16 * u, c[l]);
                }
            }
        /* the window position whose input pixel (i, j) is, + 4 (the
         * maximum > 0): dy = dp there, else 0 */
        const __m512i want0 = _mm512_set1_epi32(4 + 2 * (i & 1)),
                      want1 = _mm512_set1_epi32(5 + 2 * (i & 1));
        const float *x0 = xp + (size_t)i * g->sh * RW, *x1 = x0 + RW, *x2 = x1 + RW;
        for (int j = 0; j < OW; j++, p++) {
            __m512 v[2] = {zero, zero};
            const int pj = j >> 1;
            if (pooled && pj < PW) {
                const __m512i want = j & 1 ? want1 : want0;
                for (int u = 0; u < NV; u++) {
                    __m512i code = _mm512_castps_si512(_mm512_loadu_ps(cdt + pj * C1B_G + 16 * u));
                    v[u] = _mm512_maskz_loadu_ps(_mm512_cmpeq_epi32_mask(code, want),
                                                 dpt + pj * C1B_G + 16 * u);
                }
            }
            const float tap[9] = {x0[j],     x0[j + 1], x0[j + 2], x1[j],    x1[j + 1],
                                  x1[j + 2], x2[j],     x2[j + 1], x2[j + 2]};
            for (int k = 0; k < 9; k++) {
                const __m512 t = _mm512_set1_ps(tap[k]);
                for (int u = 0; u < NV; u++) acc[k][u] = _mm512_fmadd_ps(t, v[u], acc[k][u]);
            }
            float *d = dbacc + (size_t)(p & 15) * F + f0;
            for (int u = 0; u < NV; u++)
                _mm512_storeu_ps(d + 16 * u, _mm512_add_ps(_mm512_loadu_ps(d + 16 * u), v[u]));
            if (--left == 0 || p + 1 == P) {
                for (int k = 0; k < 9; k++)
                    for (int u = 0; u < NV; u++) {
                        float *c = dwt + (size_t)k * F + f0 + 16 * u;
                        _mm512_storeu_ps(c, _mm512_fmadd_ps(one, _mm512_loadu_ps(c), acc[k][u]));
                        acc[k][u] = zero;
                    }
                left = kb;
            }
        }
    }
}

/* One sample: dwt [9, F] and dbt [F] accumulate its gradients (see above);
 * buf: c1b_floats(g, F) floats. */
static void c1_pool_backward(const sn_conv_geom *g, const sn_conv_geom *pg, int F, const float *x,
                             const unsigned char *arg, const float *dp, float *dwt, float *dbt,
                             float *buf) {
    const int RH = (g->OH - 1) * g->sh + g->kh, RW = g->OW + g->kw - 1;
    const float *xp = x;
    float *dpt = buf + lines((size_t)RH * RW), *cdt = dpt + 16 * C1B_G, *dbacc = cdt + 16 * C1B_G;
    if (g->ph != 0 || g->pw != 0 || RW != g->W || RH > g->H) { /* x with its zeros around it */
        for (int r = 0; r < RH; r++)
            for (int c = 0; c < RW; c++) {
                const int y = r - g->ph, z = c - g->pw;
                buf[(size_t)r * RW + c] =
                    y >= 0 && y < g->H && z >= 0 && z < g->W ? x[(size_t)y * g->W + z] : 0.0f;
            }
        xp = buf;
    }
    memset(dbacc, 0, sizeof(float) * 16 * (size_t)F);
    for (int f0 = 0; f0 < F; f0 += C1B_G) {
        if (F - f0 >= C1B_G)
            c1b_filters(2, g, pg, F, f0, xp, RW, arg, dp, dwt, dpt, cdt, dbacc);
        else
            c1b_filters(1, g, pg, F, f0, xp, RW, arg, dp, dwt, dpt, cdt, dbacc);
    }
    for (int f0 = 0; f0 < F; f0 += 16) {
        __m512 s = _mm512_setzero_ps();
        for (int l = 0; l < 16; l++)
            s = _mm512_add_ps(s, _mm512_loadu_ps(dbacc + (size_t)l * F + f0));
        _mm512_storeu_ps(dbt + f0, _mm512_add_ps(_mm512_loadu_ps(dbt + f0), s));
    }
}
#else
static int c1_pool_fits(const sn_conv_geom *g) {
    (void)g;
    return 0;
}

static void conv_c1_pool(const sn_conv_geom *g, const sn_conv_geom *pg, int F, const float *x,
                         const float *w, const float *bias, float *p, unsigned char *arg) {
    (void)g, (void)pg, (void)F, (void)x, (void)w, (void)bias, (void)p, (void)arg;
}

static int direct_c1(const sn_conv_geom *g) {
    (void)g;
    return 0;
}

static int c1_pool_backward_fits(const sn_conv_geom *g, int F, const sn_conv_fused *post,
                                 int want_dx) {
    (void)g, (void)F, (void)post, (void)want_dx;
    return 0;
}

static void c1_pool_backward(const sn_conv_geom *g, const sn_conv_geom *pg, int F, const float *x,
                             const unsigned char *arg, const float *dp, float *dwt, float *dbt,
                             float *buf) {
    (void)g, (void)pg, (void)F, (void)x, (void)arg, (void)dp, (void)dwt, (void)dbt, (void)buf;
}

static void conv_c1_direct(const sn_conv_geom *g, int F, const float *x, const float *w,
                           const float *bias, float *y, int relu) {
    (void)g, (void)F, (void)x, (void)w, (void)bias, (void)y, (void)relu;
}
#endif

/* One convolution over a batch cut into `chunks` ranges of samples. */
typedef struct {
    const sn_conv_geom *g;
    int N, F, chunks;
    const float *x, *w, *b, *dy;
    float *y, *dw, *db, *dx, *scratch;
    const sn_conv_fused *post; /* the ReLU and pooling after it, or NULL */
} conv_job;

static void forward_chunk(void *ctx, int t) {
    const conv_job *j = ctx;
    const sn_conv_geom *g = j->g;
    const int F = j->F, K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    const size_t in = (size_t)g->C * g->H * g->W, out = (size_t)F * P;
    float *col = j->scratch + slot_floats(g, F) * (size_t)t + lines(COL_MARGIN);
    int lo = (int)((long)j->N * t / j->chunks), hi = (int)((long)j->N * (t + 1) / j->chunks);
    const sn_conv_fused *post = j->post;
    float *slot = j->scratch + slot_floats(g, F) * (size_t)t;
    const int direct = direct_c1(g);
    /* a first layer whose ReLU output only the pooling reads (its window
     * positions kept): pooled in registers, nothing else written */
    const sn_conv_geom *pool_regs =
        post && post->pool && post->arg && !post->y && !post->r && c1_pool_fits(g) ? post->pool
                                                                                   : NULL;
    flat_plan plan;
    const flat_plan *pl = !direct && !is_identity(g) && flat_plan_make(g, &plan) ? &plan : NULL;
    for (int n = lo; n < hi; n++) {
        const float *xn = j->x + in * n;
        /* with a ReLU after it, y_n and r_n are formed in the slot */
        float *yn = post ? out_buf(g, F, slot, 0) : j->y + out * n;
        float *rn = post && post->y ? out_buf(g, F, slot, 1) : yn;
        if (pool_regs) {
            const size_t pooled = (size_t)F * pool_regs->OH * pool_regs->OW;
            conv_c1_pool(g, pool_regs, F, xn, j->w, j->b, post->p + pooled * n,
                         post->arg + pooled * n);
            continue;
        }
        if (direct) { /* y with the bias, or r in y's place */
            conv_c1_direct(g, F, xn, j->w, j->b, yn, post && !post->y);
            if (post && post->y) sn_act_forward(SN_ACT_RELU, 0.0f, yn, rn, out);
        } else {
            const int ld = is_identity(g) ? P : (int)col_ld(g);
            if (!is_identity(g)) im2col(g, pl, xn, col, (size_t)ld);
            sn_sgemm(0, 0, F, P, K, 1.0f, j->w, K, is_identity(g) ? xn : col, ld, 0.0f, yn, P);
        }
        if (!post && !direct) {
            for (int f = 0; f < F; f++) {
                float *r = yn + (size_t)f * P, bf = j->b[f];
                for (int p = 0; p < P; p++) r[p] += bf;
            }
        }
        if (!post) continue;
        /* y = y + b and r = max(y, 0) in one pass (r < 0 ? 0 : r, as
         * sn_act_forward's ReLU: NaN passes); r overwrites y unless y is
         * kept */
        for (int f = 0; f < F && !direct; f++) {
            float *yf = yn + (size_t)f * P, *rf = rn + (size_t)f * P, bf = j->b[f];
            if (post->y)
                for (int p = 0; p < P; p++) {
                    float t = yf[p] + bf;
                    yf[p] = t;
                    rf[p] = t < 0 ? 0.0f : t;
                }
            else
                for (int p = 0; p < P; p++) {
                    float t = yf[p] + bf;
                    rf[p] = t < 0 ? 0.0f : t;
                }
        }
        const sn_conv_geom *pg = post->pool;
        size_t pooled = pg ? (size_t)pg->C * pg->OH * pg->OW : 0;
        if (pg && post->arg)
            sn_maxpool_forward_arg(pg, 1, rn, post->p + pooled * n, post->arg + pooled * n);
        else if (pg)
            sn_maxpool_forward(pg, 1, rn, post->p + pooled * n);
        if (post->y) stream_copy(post->y + out * n, yn, out);
        if (post->r) stream_copy(post->r + out * n, rn, out);
    }
    if (post) stream_done();
}

void sn_conv2d_forward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                       const float *b, float *y, float *scratch, int slots) {
    conv_job j = {.g = g, .N = N, .F = F, .x = x, .w = w, .b = b, .y = y, .scratch = scratch};
    j.chunks = sn_conv_threads(N, slots);
    sn_parallel(j.chunks, forward_chunk, &j);
}

void sn_conv2d_relu_forward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                            const float *b, const sn_conv_fused *f, float *scratch, int slots) {
    conv_job j = {
        .g = g, .N = N, .F = F, .x = x, .w = w, .b = b, .y = f->y, .scratch = scratch, .post = f};
    j.chunks = sn_conv_threads(N, slots);
    sn_parallel(j.chunks, forward_chunk, &j);
}

/* Σ_p r[p] over P values, in 16 interleaved partial sums (vectorizable)
 * added in a fixed order. */
static float row_sum(const float *r, int P) {
    float acc[16] = {0};
    int p = 0;
    for (; p + 16 <= P; p += 16)
        for (int k = 0; k < 16; k++) acc[k] += r[p + k];
    for (int k = 0; p < P; p++, k++) acc[k] += r[p];
    float s = 0.0f;
    for (int k = 0; k < 16; k++) s += acc[k];
    return s;
}

/* db[f] += row_sum(r + f·P, P) for f < F: with AVX-512 four rows at a time,
 * each in its own chain of the same additions (one vector of partial sums,
 * the tail added under a mask so the other lanes keep their values), so
 * that the rows do not wait for each other's additions. */
static void row_sums(const float *r, int P, int F, float *db) {
    int f = 0;
#if defined(__AVX512F__)
    const __mmask16 tail = (__mmask16)((1u << (P % 16)) - 1);
    for (; f + 4 <= F; f += 4) {
        const float *r0 = r + (size_t)f * P;
        __m512 a[4];
        for (int u = 0; u < 4; u++) a[u] = _mm512_setzero_ps();
        int p = 0;
        for (; p + 16 <= P; p += 16)
            for (int u = 0; u < 4; u++)
                a[u] = _mm512_add_ps(a[u], _mm512_loadu_ps(r0 + (size_t)u * P + p));
        for (int u = 0; u < 4; u++) {
            a[u] = _mm512_mask_add_ps(a[u], tail, a[u],
                                      _mm512_maskz_loadu_ps(tail, r0 + (size_t)u * P + p));
            float acc[16], s = 0.0f;
            _mm512_storeu_ps(acc, a[u]);
            for (int k = 0; k < 16; k++) s += acc[k];
            db[f + u] += s;
        }
    }
#endif
    for (; f < F; f++) db[f] += row_sum(r + (size_t)f * P, P);
}

/* Scratch offsets of one chunk's slot: column matrix, dw_tᵀ [K, F], db_t [F]. */
static size_t col_off(void) {
    return lines(COL_MARGIN);
}
static size_t dw_off(const sn_conv_geom *g) {
    size_t K = (size_t)g->C * g->kh * g->kw;
    return lines(COL_MARGIN) + K * col_ld(g) + lines(COL_MARGIN);
}
static size_t db_off(const sn_conv_geom *g, int F) {
    return dw_off(g) + lines((size_t)F * g->C * g->kh * g->kw);
}

static void backward_chunk(void *ctx, int t) {
    const conv_job *j = ctx;
    const sn_conv_geom *g = j->g;
    const int F = j->F, K = g->C * g->kh * g->kw, P = g->OH * g->OW;
    const size_t in = (size_t)g->C * g->H * g->W, out = (size_t)F * P;
    float *base = j->scratch + slot_floats(g, F) * (size_t)t, *col = base + col_off(),
          *dwt = base + dw_off(g), *dbt = base + db_off(g, F);
    int lo = (int)((long)j->N * t / j->chunks), hi = (int)((long)j->N * (t + 1) / j->chunks);
    memset(dwt, 0, sizeof(float) * F * K);
    memset(dbt, 0, sizeof(float) * F);
    const sn_conv_fused *post = j->post;
    flat_plan plan;
    const flat_plan *pl = !is_identity(g) && flat_plan_make(g, &plan) ? &plan : NULL;
    /* a first layer pooled in registers: dy formed and consumed in registers */
    const int c1b = c1_pool_backward_fits(g, F, post, j->dx != NULL);
    for (int n = lo; n < hi; n++) {
        const float *xn = j->x + in * n, *dyn = j->dy + out * n;
        if (c1b) {
            const sn_conv_geom *pg = post->pool;
            const size_t pooled = (size_t)pg->C * pg->OH * pg->OW * n;
            c1_pool_backward(g, pg, F, xn, post->arg + pooled, post->dp + pooled, dwt, dbt,
                             out_buf(g, F, base, 0));
            continue;
        }
        if (post) { /* dy_n from dp_n (or dr_n) through the pooling and the ReLU, in the slot */
            const sn_conv_geom *pg = post->pool;
            float *drn = pg ? out_buf(g, F, base, 0) : post->dr + out * n;
            float *dyb = out_buf(g, F, base, 1);
            size_t pooled = pg ? (size_t)pg->C * pg->OH * pg->OW * n : 0;
            if (pg && post->arg) { /* dr (when kept) and dy from arg and dp alone */
                sn_maxpool_relu_backward(pg, 1, post->arg + pooled, post->dp + pooled,
                                         post->dr ? drn : NULL, dyb);
            } else {
                if (pg)
                    sn_maxpool_backward(pg, 1, post->r + out * n, post->p + pooled,
                                        post->dp + pooled, drn);
                /* r > 0 exactly where y > 0 (r is y or 0, NaN stays NaN), and
                 * r was just read by the pooling: it is in the cache, y is not */
                sn_act_backward(SN_ACT_RELU, 0.0f, post->r + out * n, NULL, drn, dyb, out);
            }
            if (pg && post->dr) stream_copy(post->dr + out * n, drn, out);
            if (post->dy) stream_copy(post->dy + out * n, dyb, out);
            dyn = dyb;
        }
        const int ld = is_identity(g) ? P : (int)col_ld(g);
        if (!is_identity(g)) im2col(g, pl, xn, col, (size_t)ld);
        /* dw_tᵀ[K, F] += col_n[K, P] · dy_nᵀ[P, F]: the transposed product
         * has the long side (K) as rows, which suits the GEMM's tiles
         * when K is small (a first layer: K = kh·kw). */
        sn_sgemm(0, 1, K, F, P, 1.0f, is_identity(g) ? xn : col, ld, dyn, P, 1.0f, dwt, F);
        row_sums(dyn, P, F, dbt);
        if (!j->dx) continue;
        float *dxn = j->dx + in * n;
        if (is_identity(g)) {
            sn_sgemm(1, 0, K, P, F, 1.0f, j->w, K, dyn, P, 0.0f, dxn, P);
        } else {
            sn_sgemm(1, 0, K, P, F, 1.0f, j->w, K, dyn, P, 0.0f, col, ld);
            col2im(g, col, (size_t)ld, dxn);
        }
    }
    if (post) stream_done();
}

/* dw[f, k] = Σ_t dw_tᵀ[k, f], db = Σ_t db_t, each element summed in chunk
 * order; the elements are cut into `chunks` ranges. */
static void reduce_chunk(void *ctx, int t) {
    const conv_job *j = ctx;
    const sn_conv_geom *g = j->g;
    const int F = j->F, K = g->C * g->kh * g->kw, T = j->chunks;
    const size_t slot = slot_floats(g, F), dwo = dw_off(g), dbo = db_off(g, F);
    size_t total = (size_t)F * K + (size_t)F;
    size_t e0 = total * (size_t)t / (size_t)T, e1 = total * (size_t)(t + 1) / (size_t)T;
    for (size_t e = e0; e < e1; e++) {
        int is_b = e >= (size_t)F * K;
        size_t off =
            is_b ? dbo + (e - (size_t)F * K) : dwo + (e % (size_t)K) * (size_t)F + e / (size_t)K;
        float s = j->scratch[off];
        for (int u = 1; u < T; u++) s += j->scratch[slot * u + off];
        if (is_b)
            j->db[e - (size_t)F * K] = s;
        else
            j->dw[e] = s;
    }
}

void sn_conv2d_backward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                        const float *dy, float *dw, float *db, float *dx, float *scratch,
                        int slots) {
    conv_job j = {.g = g,
                  .N = N,
                  .F = F,
                  .x = x,
                  .w = w,
                  .dy = dy,
                  .dw = dw,
                  .db = db,
                  .dx = dx,
                  .scratch = scratch};
    j.chunks = sn_conv_threads(N, slots);
    sn_parallel(j.chunks, backward_chunk, &j);
    sn_parallel(j.chunks, reduce_chunk, &j);
}

void sn_conv2d_relu_backward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                             const sn_conv_fused *f, float *dw, float *db, float *dx,
                             float *scratch, int slots) {
    conv_job j = {.g = g,
                  .N = N,
                  .F = F,
                  .x = x,
                  .w = w,
                  .dy = f->dy,
                  .dw = dw,
                  .db = db,
                  .dx = dx,
                  .scratch = scratch,
                  .post = f};
    j.chunks = sn_conv_threads(N, slots);
    sn_parallel(j.chunks, backward_chunk, &j);
    sn_parallel(j.chunks, reduce_chunk, &j);
}
