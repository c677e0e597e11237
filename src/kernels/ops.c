/* Small vectorizable loops shared by layers and optimizers. */
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

/* In blocks of 32 × 32, so that both the reads and the writes stay in cache. */
void sn_transpose(const float *a, int rows, int cols, float *at) {
    enum { B = 32 };
    for (int r0 = 0; r0 < rows; r0 += B)
        for (int c0 = 0; c0 < cols; c0 += B)
            for (int r = r0; r < r0 + B && r < rows; r++)
                for (int c = c0; c < c0 + B && c < cols; c++)
                    at[(size_t)c * rows + r] = a[(size_t)r * cols + c];
}
