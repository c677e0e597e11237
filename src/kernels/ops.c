/* Small vectorizable loops shared by layers and optimizers. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <string.h>

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
    int rows, cols, chunks;
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
                    j->at[(size_t)k * rows + r] = j->a[(size_t)r * cols + k];
}

void sn_transpose(const float *a, int rows, int cols, float *at) {
    transpose_job j = {a, at, rows, cols, 1};
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

static void gather_chunk(void *ctx, int c) {
    const gather_job *j = ctx;
    int i0 = (int)((long)j->n * c / j->chunks), i1 = (int)((long)j->n * (c + 1) / j->chunks);
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
