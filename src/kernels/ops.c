/* Small vectorizable loops shared by layers and optimizers. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Large arrays go in chunks of sn_parallel of at least OPS_CHUNK values:
 * rows for sn_add_row_vector, column ranges (each still summed over rows in
 * row order) for sn_sum_rows, so the bits do not depend on the chunking. */
enum { OPS_CHUNK = 1 << 16, OPS_MAX_CHUNKS = 64 };

static int ops_chunks_of(size_t values, size_t per_chunk, int most) {
    size_t c = values / per_chunk;
    if (c > (size_t)sn_get_threads()) c = (size_t)sn_get_threads();
    if (c > OPS_MAX_CHUNKS) c = OPS_MAX_CHUNKS;
    if (c > (size_t)most) c = (size_t)most;
    return c < 1 ? 1 : (int)c;
}

static int ops_chunks(size_t values, int most) {
    return ops_chunks_of(values, OPS_CHUNK, most);
}

typedef struct {
    const float *x;
    float *y;
    int rows, cols, chunks;
} rows_job;

static void add_row_vector_chunk(void *ctx, int c) {
    const rows_job *j = ctx;
    int n0 = (int)((long)j->rows * c / j->chunks), n1 = (int)((long)j->rows * (c + 1) / j->chunks);
    for (int n = n0; n < n1; n++) {
        float *yr = j->y + (size_t)n * j->cols;
        for (int k = 0; k < j->cols; k++) yr[k] += j->x[k];
    }
}

void sn_add_row_vector(float *y, const float *b, int rows, int cols) {
    rows_job j = {b, y, rows, cols, ops_chunks((size_t)rows * cols, rows)};
    if (j.chunks == 1)
        add_row_vector_chunk(&j, 0);
    else
        sn_parallel(j.chunks, add_row_vector_chunk, &j);
}

/* Columns [k0, k1), 16 apart at least so that chunks do not share a line. */
static void sum_rows_chunk(void *ctx, int c) {
    const rows_job *j = ctx;
    int units = (j->cols + 15) / 16;
    int k0 = (int)((long)units * c / j->chunks) * 16,
        k1 = (int)((long)units * (c + 1) / j->chunks) * 16;
    if (k1 > j->cols) k1 = j->cols;
    float *s = j->y;
    for (int k = k0; k < k1; k++) s[k] = 0.0f;
    for (int n = 0; n < j->rows; n++) {
        const float *xr = j->x + (size_t)n * j->cols;
        for (int k = k0; k < k1; k++) s[k] += xr[k];
    }
}

void sn_sum_rows(const float *x, float *s, int rows, int cols) {
    rows_job j = {x, s, rows, cols, ops_chunks((size_t)rows * cols, (cols + 15) / 16)};
    if (j.chunks == 1)
        sum_rows_chunk(&j, 0);
    else
        sn_parallel(j.chunks, sum_rows_chunk, &j);
}

void sn_axpy(size_t n, float a, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

int sn_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* In blocks of 32 × 32, so that both the reads and the writes stay in cache;
 * large matrices in chunks of sn_parallel, each a band of 32-row blocks. */
enum { TB = 32, TRANSPOSE_CHUNK = 1 << 14 /* values per chunk, at least */ };

typedef struct {
    const float *a;
    float *at;
    int rows, cols, ld, chunks;
} transpose_job;

static void transpose_chunk(void *ctx, int c) {
    const transpose_job *j = ctx;
    int blocks = (j->rows + TB - 1) / TB;
    int b0 = (int)((long)blocks * c / j->chunks), b1 = (int)((long)blocks * (c + 1) / j->chunks);
    int rows = j->rows, cols = j->cols;
    for (int r0 = b0 * TB; r0 < b1 * TB && r0 < rows; r0 += TB)
        for (int c0 = 0; c0 < cols; c0 += TB)
            for (int r = r0; r < r0 + TB && r < rows; r++)
                for (int k = c0; k < c0 + TB && k < cols; k++)
                    j->at[(size_t)k * j->ld + r] = j->a[(size_t)r * cols + k];
}

void sn_transpose(const float *a, int rows, int cols, float *at) {
    sn_transpose_ld(a, rows, cols, at, rows);
}

void sn_transpose_ld(const float *a, int rows, int cols, float *at, int ld) {
    transpose_job j = {a, at, rows, cols, ld, 1};
    size_t chunks = (size_t)rows * cols / TRANSPOSE_CHUNK;
    int blocks = (rows + TB - 1) / TB;
    j.chunks = chunks < 1 ? 1 : chunks > (size_t)blocks ? blocks : (int)chunks;
    if (j.chunks == 1)
        transpose_chunk(&j, 0);
    else
        sn_parallel(j.chunks, transpose_chunk, &j);
}

typedef struct {
    float *dst;
    const float *src;
    const int *idx;
    int n, chunks;
    size_t row;
} gather_job;

/* A batch gathered by a team is written past the cache (non-temporal
 * stores, then a store fence) where the CPU has them and the rows are
 * 64-byte aligned: every thread then reads the whole batch (the first
 * layer's products are cut by output units), so at the next step's gather
 * the other cores still hold copies of its lines, and a plain store into
 * such a line waits for the copy to be dropped. On a 2-core Zen 5 virtual
 * machine the gather of 128 Fashion-MNIST images took 30 us a step with
 * plain stores, 17 us streamed, and an Adam epoch of bench/mlp went from
 * 0.207-0.211 s to 0.199-0.203 s. The values are the same either way. */
#if defined(__AVX512F__)
static int streamed(const float *dst, size_t row) {
    return sn_in_parallel() && ((uintptr_t)dst & 63) == 0 && row % 16 == 0;
}
#endif

static void gather_chunk(void *ctx, int c) {
    const gather_job *j = ctx;
    int i0 = (int)((long)j->n * c / j->chunks), i1 = (int)((long)j->n * (c + 1) / j->chunks);
#if defined(__AVX512F__)
    if (streamed(j->dst, j->row)) {
        for (int i = i0; i < i1; i++) {
            float *d = j->dst + (size_t)i * j->row;
            const float *s = j->src + (size_t)j->idx[i] * j->row;
            for (size_t k = 0; k < j->row; k += 16) _mm512_stream_ps(d + k, _mm512_loadu_ps(s + k));
        }
        _mm_sfence(); /* before the job's end tells the other threads */
        return;
    }
#endif
    for (int i = i0; i < i1; i++)
        memcpy(j->dst + (size_t)i * j->row, j->src + (size_t)j->idx[i] * j->row,
               j->row * sizeof(float));
}

void sn_gather_rows(float *dst, const float *src, const int *idx, int n, size_t row) {
    /* rows picked at random from a large set: slow copies, smaller chunks */
    gather_job j = {dst, src, idx, n, ops_chunks_of((size_t)n * row, 1 << 13, n), row};
    if (j.chunks == 1)
        gather_chunk(&j, 0);
    else
        sn_parallel(j.chunks, gather_chunk, &j);
}

/* ---- 8-bit pixels ---------------------------------------------------------
 *
 * A batch of images picked at random from a data set of 8-bit pixels held
 * as floats reads four bytes per pixel from all over tens of megabytes (a
 * batch of 128 Fashion-MNIST images: 401 KB, one row of 3136 bytes per
 * random place); from the pixels' bytes it reads a quarter of that, from a
 * copy that stays in the cache. The float of byte k is k / 255 rounded to
 * float, as the readers compute it; the quotient is rebuilt from the
 * reciprocal by one correction step,
 *
 *   q = k · r,   e = k − 255 q (exact: fma),   q' = q + e · r   (fma)
 *
 * with r = 1/255 rounded, which vectorizes, unlike a division. That q' is
 * (float)k / 255.0f for all 256 bytes is checked before any byte is used
 * (sn_pixels_to_bytes), so the floats are those of the float gather. */
static inline float pixel_value(unsigned char b) {
    const float r = 1.0f / 255.0f;
    float k = (float)b;
    float q = k * r;
    float e = fmaf(-q, 255.0f, k);
    return fmaf(e, r, q);
}

static uint32_t float_bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* The byte of one value, or -1 when it is not the float of a byte. Out of
 * [0, 1] or NaN, the value is clamped before its conversion to an integer
 * (no undefined conversion) and then fails the comparison of bits. */
static int pixel_byte(float v) {
    float c = v * 255.0f + 0.5f;
    c = c > 0.0f ? c : 0.0f;
    c = c < 255.0f ? c : 255.0f;
    unsigned char k = (unsigned char)(int)c;
    return float_bits(pixel_value(k)) == float_bits(v) ? k : -1;
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
/* The same 16 values at a time (a pass over Fashion-MNIST's 47 million
 * values: a few tens of milliseconds, not a few hundred); returns how many
 * it did, all good, or SIZE_MAX when one is not a byte's float. The integer
 * conversion of NaN or of a value out of range gives INT_MIN or a large
 * number, clamped to [0, 255]; which byte is tried does not matter, only
 * that the bits of its float are compared. */
static size_t pixel_bytes_x16(const float *x, size_t n, unsigned char *out) {
    const __m512 r = _mm512_set1_ps(1.0f / 255.0f), b = _mm512_set1_ps(255.0f);
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512i lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(255);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512i k = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v, b), half));
        k = _mm512_max_epi32(_mm512_min_epi32(k, hi), lo);
        __m512 kf = _mm512_cvtepi32_ps(k), q = _mm512_mul_ps(kf, r);
        __m512 w = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, b, kf), r, q); /* pixel_value */
        if (_mm512_cmpneq_epi32_mask(_mm512_castps_si512(w), _mm512_castps_si512(v)))
            return SIZE_MAX;
        _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtepi32_epi8(k));
    }
    return i;
}
#endif

int sn_pixels_to_bytes(const float *x, size_t n, unsigned char *out) {
    for (int k = 0; k < 256; k++)
        if (float_bits(pixel_value((unsigned char)k)) != float_bits((float)k / 255.0f)) return 0;
    size_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    if ((i = pixel_bytes_x16(x, n, out)) == SIZE_MAX) return 0;
#endif
    for (; i < n; i++) {
        int k = pixel_byte(x[i]);
        if (k < 0) return 0;
        out[i] = (unsigned char)k;
    }
    return 1;
}

typedef struct {
    float *dst;
    const unsigned char *src;
    const int *idx;
    int n, chunks;
    size_t row;
} gather_bytes_job;

/* A row of 784 bytes is only 13 cache lines, too short for the hardware
 * prefetcher to get ahead of the copy; its lines are asked for BYTES_AHEAD
 * rows before it is copied, so that several rows are on their way at once
 * (a batch of 128 images picked at random, after 4 MB of other data went
 * through the cache: 47 us without, 33 us with, on one core). A prefetch
 * changes no value. */
#define BYTES_AHEAD 3

static void row_prefetch(const gather_bytes_job *j, int i) {
#if defined(__GNUC__) || defined(__clang__)
    const unsigned char *p = j->src + (size_t)j->idx[i] * j->row;
    for (size_t o = 0; o < j->row; o += 64) __builtin_prefetch(p + o, 0, 3);
    __builtin_prefetch(p + j->row - 1, 0, 3);
#else
    (void)j, (void)i;
#endif
}

static void gather_bytes_chunk(void *ctx, int c) {
    const gather_bytes_job *j = ctx;
    int i0 = (int)((long)j->n * c / j->chunks), i1 = (int)((long)j->n * (c + 1) / j->chunks);
#if defined(__AVX512F__)
    int stream = streamed(j->dst, j->row); /* see gather_chunk */
#endif
    for (int i = i0; i < i1 && i < i0 + BYTES_AHEAD; i++) row_prefetch(j, i);
    for (int i = i0; i < i1; i++) {
        if (i + BYTES_AHEAD < i1) row_prefetch(j, i + BYTES_AHEAD);
        float *restrict d = j->dst + (size_t)i * j->row;
        const unsigned char *restrict s = j->src + (size_t)j->idx[i] * j->row;
#if defined(__AVX512F__)
        if (stream) { /* pixel_value, 16 at a time */
            const __m512 r = _mm512_set1_ps(1.0f / 255.0f), b = _mm512_set1_ps(255.0f);
            for (size_t k = 0; k < j->row; k += 16) {
                __m512 v = _mm512_cvtepi32_ps(
                    _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(s + k))));
                __m512 q = _mm512_mul_ps(v, r);
                __m512 e = _mm512_fnmadd_ps(q, b, v);
                _mm512_stream_ps(d + k, _mm512_fmadd_ps(e, r, q));
            }
            continue;
        }
#endif
        for (size_t k = 0; k < j->row; k++) d[k] = pixel_value(s[k]);
    }
#if defined(__AVX512F__)
    if (stream) _mm_sfence();
#endif
}

/* Cut into chunks as sn_gather_rows (sn_preprocess_apply relies on it). */
void sn_gather_rows_bytes(float *dst, const unsigned char *src, const int *idx, int n, size_t row) {
    gather_bytes_job j = {dst, src, idx, n, ops_chunks_of((size_t)n * row, 1 << 13, n), row};
    if (j.chunks == 1)
        gather_bytes_chunk(&j, 0);
    else
        sn_parallel(j.chunks, gather_bytes_chunk, &j);
}
