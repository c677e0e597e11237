/* The kernel interface: every hot loop of the library lives behind these
 * functions. Layer files call only these, never SIMD intrinsics, so that a
 * GPU backend can later provide the same functions. */
#ifndef SN_KERNELS_H
#define SN_KERNELS_H

#include <stddef.h>

/* ---- GEMM -------------------------------------------------------------- */

/* Row-major single-precision matrix multiply:
 *   C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C[M, N]
 * op(A) = A (A stored [M, K], row stride lda) when transA == 0,
 *         Aᵀ (A stored [K, M], row stride lda) when transA != 0; likewise B.
 * beta == 0 means C is overwritten (its old contents may be NaN).
 * Packed, cache-blocked, SIMD micro-kernel, OpenMP with static partitioning:
 * results are bitwise identical for the same thread count. Performs no heap
 * allocation. */
void sn_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* The GEMM sums over K in blocks of this length (the last may be shorter):
 * each element of C is the sum over one block in k order (from +0, one
 * fused multiply-add per k), added to C block after block, the first
 * replacing beta·C when beta == 0. A kernel that must give sn_sgemm's
 * exact bits for a special operand (sn_onehot_weight_grad) sums the same
 * way. */
int sn_sgemm_k_block(int K);

/* The plain triple loop, for tests and as a readable definition. */
void sn_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

/* Name of the micro-kernel chosen at build time: "avx512", "avx2" or "generic". */
const char *sn_sgemm_kernel_name(void);

/* ---- one sample through a dense layer (src/kernels/gemv.c) ------------ */

/* y[j] = Σ_k W[j, k] x[k] + b[j] for j < out, W: [out, in] row-major, b may
 * be NULL. Reads W in place, 8 rows at a time, and splits the rows among
 * the threads for a large layer; allocates nothing. The sums are ordered
 * differently from sn_sgemm's, so y equals the GEMM's within rounding; it
 * does not depend on the thread count. */
void sn_dense_forward_one(int in, int out, const float *x, const float *W, const float *b,
                          float *y);

/* A chain of dense layers on one sample, each optionally followed by a
 * ReLU: for each step in order, y = W x + b as sn_dense_forward_one
 * computes it (the same bits) or, for a step with its transposed copy Wt,
 * by the kernel that skips zero inputs (gemv.c), and where relu is not
 * NULL, relu[j] = y[j] < 0 ? 0 : y[j] (the relu layer's formula) by the
 * thread that made y[j]. A step's x is usually the y or relu of the step
 * before. The threads share the large steps, all
 * in one hand-off to the team with a barrier between steps
 * (sn_parallel_phases); allocates nothing. */
typedef struct {
    int in, out;
    const float *x, *W, *b;
    float *y, *relu;
    /* NULL, or W's transposed copy from sn_dense_t_build (which returned
     * 1): then inputs that are zero skip their row of it, and y is summed
     * in another order (see gemv.c), not as sn_dense_forward_one does. */
    const float *Wt;
} sn_dense_step;
void sn_dense_chain_one(int n, const sn_dense_step *s);

/* The floats of a dense layer's transposed copy ([in, out rounded up to
 * 16]); 0 where the build has no kernel that reads one (no AVX-512). */
size_t sn_dense_t_floats(int in, int out);
/* Writes W's transposed copy into Wt (sn_dense_t_floats(in, out) floats).
 * Returns 1 when every weight is finite, 0 when one is not (an infinity
 * or a NaN): then the copy must not be used, so that 0 · inf gives NaN as
 * in the GEMM. */
int sn_dense_t_build(int in, int out, const float *W, float *Wt);

/* ---- row/column helpers (src/kernels/ops.c) ------------------------------ */

/* y[n, j] += b[j] for a row-major y: [rows, cols]. */
void sn_add_row_vector(float *y, const float *b, int rows, int cols);
/* s[j] = Σ_n x[n, j] for x: [rows, cols] (a column sum, e.g. a bias gradient). */
void sn_sum_rows(const float *x, float *s, int rows, int cols);
/* y = a * x + y over n values. */
void sn_axpy(size_t n, float a, const float *x, float *y);
/* Index of the largest value in x[0..n). */
int sn_argmax(const float *x, int n);
/* at[c, r] = a[r, c] for a: [rows, cols]. */
void sn_transpose(const float *a, int rows, int cols, float *at);
/* The same with at's rows ld >= rows floats apart: at[c·ld + r] = a[r, c]
 * (rows a power of two of bytes apart would put a column's values in the
 * same few L1 sets as they are written). */
void sn_transpose_ld(const float *a, int rows, int cols, float *at, int ld);
/* dst[i, :] = src[idx[i], :] for i < n, rows of `row` floats (a mini-batch
 * gathered from a data set). */
void sn_gather_rows(float *dst, const float *src, const int *idx, int n, size_t row);
/* 8-bit pixels scaled to [0, 1] as the IDX and CIFAR-10 readers scale them,
 * x = (float)k / 255.0f: when every x[i] of n is such a value (bit for bit,
 * so not -0.0f), writes its k to out[i] and returns 1; else returns 0. */
int sn_pixels_to_bytes(const float *x, size_t n, unsigned char *out);
/* sn_gather_rows from the bytes sn_pixels_to_bytes made of src: the same
 * floats, from a quarter of the bytes. */
void sn_gather_rows_bytes(float *dst, const unsigned char *src, const int *idx, int n, size_t row);

#endif
