/* Activation kernels (see act.h for the functions and their equations).
 *
 * Every loop body is branch-free straight-line float code so that the
 * compiler vectorizes it; instead of libm (whose calls do not vectorize), the
 * transcendental functions are built from two approximations below:
 *
 *   exp_parts(x)   e^x = s (1 + q) for x <= 0, s a power of two; it gives
 *                  exp_neg (e^x), expm1_neg (e^x - 1), and from those σ, tanh
 *   erfc_pos(u, e) erfc(u) for u >= 0, given e = e^(-u²); it gives Φ for GELU
 *
 * Measured against double-precision libm (tests/test_activations.c), every
 * function is within 3e-7 · max(1, |f(x)|). In the far negative tails of the
 * GELUs (x < -5, |f(x)| < 1e-5) e^(-x²/2) is taken of an argument rounded to
 * float, so the relative error there grows like 1.5e-7 · x². */
#include "kernels/act.h"

#include "core/threads.h"
#include "kernels/fastmath.h"
#include "kernels/simd.h"

/* ---- erfc, for the GELUs ---------------------------------------------------- */

/* erfc(u) for u >= 0 as e^-u² · t · P(t), t = 1 / (1 + u/2): the same form as
 * Abramowitz & Stegun 7.1.26, with P a degree-8 polynomial fitted for this
 * library (weighted least squares, iterated towards minimax relative error, on
 * u in [0, 9.4]; max relative error of the fit about 4e-8). */
static inline float erfc_pos(float u, float e_minus_u2) {
    float t = 1.0f / (1.0f + 0.5f * u);
    float p = -5.884665419e-02f;
    p = p * t + 2.834864350e-01f;
    p = p * t - 4.849363797e-01f;
    p = p * t + 2.754645076e-01f;
    p = p * t - 2.482196408e-02f;
    p = p * t + 2.019182344e-01f;
    p = p * t + 2.432996898e-01f;
    p = p * t + 2.823481011e-01f;
    p = p * t + 2.820879881e-01f;
    return e_minus_u2 * t * p;
}

#define INV_SQRT2      0.70710678118654752f /* 1/√2 */
#define INV_SQRT_2PI   0.39894228040143268f /* 1/√(2π) */
#define SQRT_2_OVER_PI 0.79788456080286536f /* √(2/π) */
#define GELU_TANH_A    0.044715f

/* ---- forward loops: y = f(x) --------------------------------------------- */

static void sigmoid_fwd(float alpha, const float *x, float *y, size_t n) {
    (void)alpha;
    for (size_t i = 0; i < n; i++) y[i] = sigmoid1(x[i]);
}

static void tanh_fwd(float alpha, const float *x, float *y, size_t n) {
    (void)alpha;
    for (size_t i = 0; i < n; i++) y[i] = tanh1(x[i]);
}

/* x < 0 ? 0 : x rather than x > 0 ? x : 0, so that NaN passes through. */
static void relu_fwd(float alpha, const float *x, float *y, size_t n) {
    (void)alpha;
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0.0f : x[i];
}

static void leaky_fwd(float alpha, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
}

static void silu_fwd(float alpha, const float *x, float *y, size_t n) {
    (void)alpha;
    for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoid1(x[i]);
}

/* Φ(x) = ½ erfc(-x/√2): for x < 0 that is ½ erfc(|x|/√2), accurate even where
 * Φ is tiny; for x >= 0 it is 1 - ½ erfc(|x|/√2). */
static void gelu_fwd(float alpha, const float *x, float *y, size_t n) {
    (void)alpha;
    for (size_t i = 0; i < n; i++) {
        float u = (x[i] < 0 ? -x[i] : x[i]) * INV_SQRT2;
        float h = 0.5f * erfc_pos(u, exp_neg(-u * u));
        y[i] = x[i] * (x[i] < 0 ? h : 1.0f - h);
    }
}

/* ½(1 + tanh v) = σ(2v): computing σ(2v) avoids the cancellation 1 + tanh v
 * for very negative x. */
static void gelu_tanh_fwd(float alpha, const float *x, float *y, size_t n) {
    (void)alpha;
    for (size_t i = 0; i < n; i++) {
        float v = SQRT_2_OVER_PI * (x[i] + GELU_TANH_A * x[i] * x[i] * x[i]);
        y[i] = x[i] * sigmoid1(2.0f * v);
    }
}

/* ---- backward loops: dx = dy ⊙ f'(x) ------------------------------------- */

/* σ'(x) = σ(x)(1 - σ(x)) = y(1 - y) */
static void sigmoid_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                        size_t n) {
    (void)alpha, (void)x;
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

/* tanh'(x) = 1 - tanh²(x) = 1 - y² */
static void tanh_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                     size_t n) {
    (void)alpha, (void)x;
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

static void relu_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                     size_t n) {
    (void)alpha, (void)y;
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0f;
}

static void leaky_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                      size_t n) {
    (void)y;
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i];
}

/* d/dx xσ(x) = σ + xσ(1 - σ) = σ(1 + x(1 - σ)) */
static void silu_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                     size_t n) {
    (void)alpha, (void)y;
    for (size_t i = 0; i < n; i++) {
        float c, s = sigmoid2(x[i], &c);
        dx[i] = dy[i] * s * (1.0f + x[i] * c);
    }
}

/* d/dx xΦ(x) = Φ(x) + x φ(x),  φ(x) = e^(-x²/2) / √(2π) = e^(-u²) / √(2π) */
static void gelu_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                     size_t n) {
    (void)alpha, (void)y;
    for (size_t i = 0; i < n; i++) {
        float u = (x[i] < 0 ? -x[i] : x[i]) * INV_SQRT2;
        float e = exp_neg(-u * u);
        float h = 0.5f * erfc_pos(u, e);
        float cdf = x[i] < 0 ? h : 1.0f - h;
        dx[i] = dy[i] * (cdf + x[i] * INV_SQRT_2PI * e);
    }
}

/* y = x s, s = σ(2v), v = c(x + a x³):
 *   y' = s + x · s(1 - s) · 2c(1 + 3a x²)
 * s(1 - s) is 0 in float for |x| > ~10; the select then skips the product,
 * which for huge |x| would be 0 · ∞. */
static void gelu_tanh_bwd(float alpha, const float *x, const float *y, const float *dy, float *dx,
                          size_t n) {
    (void)alpha, (void)y;
    for (size_t i = 0; i < n; i++) {
        float x2 = x[i] * x[i];
        float c, s = sigmoid2(2.0f * SQRT_2_OVER_PI * (x[i] + GELU_TANH_A * x2 * x[i]), &c);
        float ds = s * c;
        float dv2 = 2.0f * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_A * x2);
        dx[i] = dy[i] * (s + (ds > 0 ? x[i] * ds * dv2 : 0.0f));
    }
}

/* ---- dispatch, split across threads ----------------------------------------- */

typedef void (*fwd_fn)(float, const float *, float *, size_t);
typedef void (*bwd_fn)(float, const float *, const float *, const float *, float *, size_t);

static const fwd_fn fwd_fns[] = {sigmoid_fwd, tanh_fwd, relu_fwd,     leaky_fwd,
                                 silu_fwd,    gelu_fwd, gelu_tanh_fwd};
static const bwd_fn bwd_fns[] = {sigmoid_bwd, tanh_bwd, relu_bwd,     leaky_bwd,
                                 silu_bwd,    gelu_bwd, gelu_tanh_bwd};

/* Values per chunk of sn_parallel; arrays up to two chunks stay on the
 * calling thread (threads cost more than they save there). */
#define BLOCK ((size_t)16384)

/* Chunks of BLOCK values (of a multiple of BLOCK past SN_MAX_CHUNKS blocks);
 * 1 for arrays up to two blocks. */
static size_t block_len(size_t n, int *chunks) {
    size_t nb = (n + BLOCK - 1) / BLOCK;
    if (nb <= 2) {
        *chunks = 1;
        return n;
    }
    size_t len = BLOCK * ((nb + SN_MAX_CHUNKS - 1) / SN_MAX_CHUNKS);
    *chunks = (int)((n + len - 1) / len);
    return len;
}

typedef struct {
    sn_act k;
    float alpha;
    const float *x, *y, *dy;
    float *out;
    size_t n, len;
} act_job;

static void forward_chunk(void *ctx, int c) {
    const act_job *j = ctx;
    size_t lo = (size_t)c * j->len, len = j->n - lo < j->len ? j->n - lo : j->len;
    fwd_fns[j->k](j->alpha, j->x + lo, j->out + lo, len);
}

static void backward_chunk(void *ctx, int c) {
    const act_job *j = ctx;
    size_t lo = (size_t)c * j->len, len = j->n - lo < j->len ? j->n - lo : j->len;
    bwd_fns[j->k](j->alpha, j->x ? j->x + lo : NULL, j->y ? j->y + lo : NULL, j->dy + lo,
                  j->out + lo, len);
}

void sn_act_forward(sn_act k, float alpha, const float *x, float *y, size_t n) {
    int chunks;
    act_job j = {.k = k, .alpha = alpha, .x = x, .out = y, .n = n};
    j.len = block_len(n, &chunks);
    if (chunks == 1) /* directly: a dense layer's band calls this for every row */
        fwd_fns[k](alpha, x, y, n);
    else
        sn_parallel(chunks, forward_chunk, &j);
}

/* x or y may be NULL when the kind does not read it (see act.h). */
void sn_act_backward(sn_act k, float alpha, const float *x, const float *y, const float *dy,
                     float *dx, size_t n) {
    int chunks;
    act_job j = {.k = k, .alpha = alpha, .x = x, .y = y, .dy = dy, .out = dx, .n = n};
    j.len = block_len(n, &chunks);
    if (chunks == 1)
        bwd_fns[k](alpha, x, y, dy, dx, n);
    else
        sn_parallel(chunks, backward_chunk, &j);
}

/* ---- a dense layer's band of output units ------------------------------------
 *
 * The same operations as y += b row by row, then sn_act_forward (or
 * sn_act_backward, then db += dx row by row), in one pass over the band: a
 * band is a few tens of units wide, so a call per row cost more than the
 * arithmetic. ReLU, the common case, goes 16 columns at a time down the
 * rows (AVX-512; the bias, or db's sums, stay in a register); the other
 * kinds call their row loops directly. */
#if defined(__AVX512F__)
static void relu_bias_forward(float *y, const float *b, float *r, int rows, int cols, size_t ld) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
        __mmask16 m = sn_mask16(cols - j);
        __m512 bj = _mm512_maskz_loadu_ps(m, b + j);
        for (int n = 0; n < rows; n++) {
            float *yn = y + (size_t)n * ld + j;
            __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yn), bj);
            _mm512_mask_storeu_ps(yn, m, v);
            /* v < 0 ? 0 : v, as relu_fwd (a NaN passes) */
            __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
            _mm512_mask_storeu_ps(r + (size_t)n * ld + j, m, _mm512_mask_mov_ps(v, neg, zero));
        }
    }
}

static void relu_backward_sum(const float *x, const float *dy, float *dx, float *db, int rows,
                              int cols, size_t ld) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
        __mmask16 m = sn_mask16(cols - j);
        __m512 sum = zero;
        for (int n = 0; n < rows; n++) {
            size_t o = (size_t)n * ld + j;
            /* x > 0 ? dy : 0, as relu_bwd */
            __mmask16 pos = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, x + o), zero, _CMP_GT_OQ);
            __m512 d = _mm512_maskz_loadu_ps(pos & m, dy + o);
            _mm512_mask_storeu_ps(dx + o, m, d);
            sum = _mm512_add_ps(sum, d);
        }
        _mm512_mask_storeu_ps(db + j, m, sum);
    }
}
#endif

void sn_act_bias_forward(sn_act k, float alpha, float *y, const float *b, float *r, int rows,
                         int cols, size_t ld) {
#if defined(__AVX512F__)
    if (k == SN_ACT_RELU) {
        relu_bias_forward(y, b, r, rows, cols, ld);
        return;
    }
#endif
    for (int n = 0; n < rows; n++) {
        float *yn = y + (size_t)n * ld;
        for (int j = 0; j < cols; j++) yn[j] += b[j];
        fwd_fns[k](alpha, yn, r + (size_t)n * ld, (size_t)cols);
    }
}

void sn_act_backward_sum(sn_act k, float alpha, const float *x, const float *y, const float *dy,
                         float *dx, float *db, int rows, int cols, size_t ld) {
#if defined(__AVX512F__)
    if (k == SN_ACT_RELU) {
        relu_backward_sum(x, dy, dx, db, rows, cols, ld);
        return;
    }
#endif
    for (int j = 0; j < cols; j++) db[j] = 0.0f;
    for (int n = 0; n < rows; n++) {
        size_t o = (size_t)n * ld;
        bwd_fns[k](alpha, x + o, y + o, dy + o, dx + o, (size_t)cols);
        for (int j = 0; j < cols; j++) db[j] += dx[o + j];
    }
}

/* ---- softmax ------------------------------------------------------------------ */

/* y[j] = e^(x[j] - m) */
static void exp_shifted(const float *x, float m, float *y, int cols) {
    for (int j = 0; j < cols; j++) y[j] = exp_neg(x[j] - m);
}

static void softmax_row(const float *x, float *y, int cols) {
    float m = x[0];
    for (int j = 1; j < cols; j++) m = x[j] > m ? x[j] : m;
    exp_shifted(x, m, y, cols);
    double sum = 0; /* >= 1: the max's own term is e^0 */
    for (int j = 0; j < cols; j++) sum += y[j];
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < cols; j++) y[j] *= inv;
}

static void softmax_backward_row(const float *y, const float *dy, float *dx, int cols) {
    double dot = 0;
    for (int j = 0; j < cols; j++) dot += (double)dy[j] * y[j];
    float d = (float)dot;
    for (int j = 0; j < cols; j++) dx[j] = y[j] * (dy[j] - d);
}

typedef struct {
    const float *x, *y, *dy;
    float *out;
    int rows, cols, per_chunk;
} rows_job;

static void softmax_chunk(void *ctx, int c) {
    const rows_job *j = ctx;
    int r1 = (c + 1) * j->per_chunk < j->rows ? (c + 1) * j->per_chunk : j->rows;
    for (int r = c * j->per_chunk; r < r1; r++)
        softmax_row(j->x + (size_t)r * j->cols, j->out + (size_t)r * j->cols, j->cols);
}

static void softmax_backward_chunk(void *ctx, int c) {
    const rows_job *j = ctx;
    int r1 = (c + 1) * j->per_chunk < j->rows ? (c + 1) * j->per_chunk : j->rows;
    for (int r = c * j->per_chunk; r < r1; r++) {
        size_t o = (size_t)r * j->cols;
        softmax_backward_row(j->y + o, j->dy + o, j->out + o, j->cols);
    }
}

/* Rows in chunks of about BLOCK values. */
static int rows_chunks(rows_job *j) {
    int chunks;
    size_t len = block_len((size_t)j->rows * j->cols, &chunks);
    j->per_chunk = chunks == 1 ? j->rows : (int)((len + j->cols - 1) / j->cols);
    return (j->rows + j->per_chunk - 1) / j->per_chunk;
}

void sn_softmax_rows(const float *x, float *y, int rows, int cols) {
    if (cols <= 0 || rows <= 0) return;
    rows_job j = {.x = x, .out = y, .rows = rows, .cols = cols};
    sn_parallel(rows_chunks(&j), softmax_chunk, &j);
}

void sn_softmax_backward_rows(const float *y, const float *dy, float *dx, int rows, int cols) {
    if (cols <= 0 || rows <= 0) return;
    rows_job j = {.y = y, .dy = dy, .out = dx, .rows = rows, .cols = cols};
    sn_parallel(rows_chunks(&j), softmax_backward_chunk, &j);
}
