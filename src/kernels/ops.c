/* Small vectorizable loops shared by layers and optimizers. */
#include "core/threads.h"
#include "kernels/kernels.h"

void sn_add_row_vector(float *y, const float *b, int rows, int cols) {
    for (int n = 0; n < rows; n++) {
        float *yr = y + (size_t)n * cols;
        for (int j = 0; j < cols; j++) yr[j] += b[j];
    }
}

void sn_sum_rows(const float *x, float *s, int rows, int cols) {
    for (int j = 0; j < cols; j++) s[j] = 0.0f;
    for (int n = 0; n < rows; n++) {
        const float *xr = x + (size_t)n * cols;
        for (int j = 0; j < cols; j++) s[j] += xr[j];
    }
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
enum { TB = 32, TRANSPOSE_CHUNK = 1 << 16 /* values per chunk, at least */ };

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
