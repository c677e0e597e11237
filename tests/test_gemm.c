/* sn_sgemm against sn_sgemm_ref (which sums in double) on random shapes, all
 * transposes, alpha/beta variants, padded leading dimensions, 1 and 2 threads;
 * the same bits whichever path (operands packed or read in place) computes
 * a product;
 * plus degenerate cases, determinism and calls from inside a parallel region;
 * and the one-hot kernels of src/kernels/rnn.c, bit for bit against sn_sgemm. */
#include "check.h"
#include "kernels/kernels.h"
#include "kernels/rnn.h"
#include "scratchnet.h"

#include <stdlib.h>
#include <string.h>

static sn_rng rng;

static float *alloc_fill(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = sn_rng_normal(&rng);
    return p;
}

/* An op(X)[rows, cols] operand stored with leading dimension ld >= its stored
 * row length; the padding holds NaN so a read of it shows up in C. */
typedef struct {
    float *p;
    int ld;
} operand;

static operand make_operand(int trans, int rows, int cols, int pad) {
    int srows = trans ? cols : rows, scols = trans ? rows : cols;
    operand o = {alloc_fill((size_t)srows * (scols + pad)), scols + pad};
    for (int i = 0; i < srows; i++)
        for (int j = scols; j < o.ld; j++) o.p[(size_t)i * o.ld + j] = NAN;
    return o;
}

/* na[i] = ||op(A)[i, :]||, op(A): [M, K]. */
static void row_norms(operand A, int tA, int M, int K, double *na) {
    for (int i = 0; i < M; i++) {
        double s = 0.0;
        for (int k = 0; k < K; k++) {
            double a = tA ? A.p[(size_t)k * A.ld + i] : A.p[(size_t)i * A.ld + k];
            s += a * a;
        }
        na[i] = sqrt(s);
    }
}

/* nb[j] = ||op(B)[:, j]||, op(B): [K, N]. */
static void col_norms(operand B, int tB, int K, int N, double *nb) {
    for (int j = 0; j < N; j++) {
        double s = 0.0;
        for (int k = 0; k < K; k++) {
            double b = tB ? B.p[(size_t)j * B.ld + k] : B.p[(size_t)k * B.ld + j];
            s += b * b;
        }
        nb[j] = sqrt(s);
    }
}

/* Bound on |sn_sgemm - exact|: gamma (|alpha| sum_k |a_ik b_kj| + |beta c_ij|),
 * gamma = (K + 2) 2^-23 (twice the worst case of a float dot product), with
 * sum_k |a_ik b_kj| <= ||a_i|| ||b_j|| (Cauchy-Schwarz). C's padding columns
 * must be untouched. */
static int compare(int M, int N, int K, float alpha, const double *na, const double *nb, float beta,
                   const float *C0, const float *C, const float *R, int ldc) {
    double gamma = (K + 2) * 0x1p-23, worst = 0.0;
    int bad = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            size_t at = (size_t)i * ldc + j;
            double cterm = beta != 0.0f ? fabs(beta * C0[at]) : 0.0;
            double bound = gamma * (fabs(alpha) * na[i] * nb[j] + cterm);
            double err = fabs((double)C[at] - R[at]);
            if (!(err <= bound + 1e-30)) bad++;
            if (err > worst) worst = err;
        }
        for (int j = N; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (memcmp(&C[at], &C0[at], sizeof(float)) != 0) bad++;
        }
    }
    if (bad) fprintf(stderr, "  %d bad elements, max err %g\n", bad, worst);
    return bad == 0;
}

/* One product on 1 and on 2 threads, against one reference. */
static void run_case(int tA, int tB, int M, int N, int K, float alpha, float beta, int pad) {
    operand A = make_operand(tA, M, K, pad), B = make_operand(tB, K, N, pad);
    int ldc = N + pad;
    size_t csize = (size_t)M * ldc;
    float *C0 = alloc_fill(csize), *C = malloc(sizeof(float) * csize);
    float *R = malloc(sizeof(float) * csize);
    double *na = malloc(sizeof(double) * M), *nb = malloc(sizeof(double) * N);
    if (beta == 0.0f)
        for (size_t i = 0; i < csize; i++) C0[i] = NAN; /* must be overwritten */
    memcpy(R, C0, sizeof(float) * csize);
    sn_sgemm_ref(tA, tB, M, N, K, alpha, A.p, A.ld, B.p, B.ld, beta, R, ldc);
    row_norms(A, tA, M, K, na);
    col_norms(B, tB, K, N, nb);
    float *C1 = malloc(sizeof(float) * csize);
    for (int threads = 1; threads <= 2; threads++) {
        sn_set_threads(threads);
        memcpy(C, C0, sizeof(float) * csize);
        sn_sgemm(tA, tB, M, N, K, alpha, A.p, A.ld, B.p, B.ld, beta, C, ldc);
        int ok = compare(M, N, K, alpha, na, nb, beta, C0, C, R, ldc);
        if (!ok)
            fprintf(stderr, "  in tA=%d tB=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d threads=%d\n",
                    tA, tB, M, N, K, alpha, beta, pad, threads);
        CHECK(ok);
        if (threads == 1)
            memcpy(C1, C, sizeof(float) * csize);
        else /* K is never split, so the thread count does not change a bit */
            CHECK(memcmp(C1, C, sizeof(float) * csize) == 0);
    }
    free(A.p), free(B.p), free(C0), free(C), free(C1), free(R), free(na), free(nb);
}

/* Small shapes: every combination of the odd sizes, transposes, alpha, beta. */
static void test_small(void) {
    static const int sizes[] = {1, 3, 17, 33};
    static const float alphas[] = {1.0f, -0.5f}, betas[] = {0.0f, 1.0f, 0.75f};
    for (int t = 0; t < 4; t++)
        for (int m = 0; m < 4; m++)
            for (int n = 0; n < 4; n++)
                for (int k = 0; k < 4; k++)
                    for (int ab = 0; ab < 6; ab++)
                        run_case(t >> 1, t & 1, sizes[m], sizes[n], sizes[k], alphas[ab / 3],
                                 betas[ab % 3], (m + n + k) % 3 == 0 ? 5 : 0);
}

/* Larger shapes: several cache blocks in some dimension (K = 1000 > KC,
 * M >= 255 > MC, N = 2100 > NC even per thread for the AVX-512 kernel),
 * alpha/beta variants. Those of >= 2^22 multiply-adds run on 2 threads. */
static void test_large(void) {
    static const int shapes[][3] = {
        {255, 257, 33},  {257, 255, 255}, {1000, 17, 257}, {33, 1000, 255},
        {17, 33, 1000},  {257, 1000, 3},  {3, 257, 1000},  {255, 33, 1000},
        {1000, 1000, 1}, {33, 2100, 70},  {128, 10, 128},  {10, 128, 128},
    };
    static const float ab[][2] = {{1.0f, 0.0f}, {2.5f, 1.0f}, {-1.0f, 0.75f}, {1.0f, 1.0f}};
    int n = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < n; s++)
        for (int t = 0; t < 4; t++)
            run_case(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], ab[(s + t) % 4][0],
                     ab[(s + t) % 4][1], (s + t) % 2 ? 3 : 0);
}

/* Small products (some of A and B read in place, tiles of their own, a
 * product too small to be shared by threads) on every combination of the
 * sizes 1, 3, 10, 17, 64 and 65, all transposes, the alpha/beta of the
 * library's layers (1/0, 1/1) and a general pair. */
static void test_small_paths(void) {
    static const int sizes[] = {1, 3, 10, 17, 64, 65};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.75f}};
    int c = 0;
    for (int t = 0; t < 4; t++)
        for (int m = 0; m < 6; m++)
            for (int n = 0; n < 6; n++)
                for (int k = 0; k < 6; k++, c++)
                    run_case(t >> 1, t & 1, sizes[m], sizes[n], sizes[k], ab[c % 3][0],
                             ab[c % 3][1], c % 4 == 1 ? 3 : 0);
}

/* The bits of an output depend on K alone, not on the path or tile that
 * computes it: small products read A and B in place, with tiles of their own;
 * the same product as the top-left corner of a larger one (130 more rows and
 * `more_n` more columns: both operands packed, the usual tiles, several
 * threads) must give the same bits, on 1 and 2 threads. Returns 0 if not. */
static int paths_agree(int tA, int tB, int M, int N, int K, int more_n, float alpha, float beta) {
    int M2 = M + 130, N2 = N + more_n, bad = 0;
    /* op(A2)[:M, :] = op(A), op(B2)[:, :N] = op(B), C2[:M, :N] = C */
    int lda = tA ? M : K, ldb = tB ? K : N, lda2 = tA ? M2 : K, ldb2 = tB ? K : N2;
    float *A2 = alloc_fill((size_t)M2 * K), *B2 = alloc_fill((size_t)K * N2);
    float *C2 = alloc_fill((size_t)M2 * N2), *C0 = malloc(sizeof(float) * M * N);
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M; i++)
        for (int p = 0; p < K; p++)
            A[tA ? (size_t)p * lda + i : (size_t)i * lda + p] =
                A2[tA ? (size_t)p * lda2 + i : (size_t)i * lda2 + p];
    for (int p = 0; p < K; p++)
        for (int j = 0; j < N; j++)
            B[tB ? (size_t)j * ldb + p : (size_t)p * ldb + j] =
                B2[tB ? (size_t)j * ldb2 + p : (size_t)p * ldb2 + j];
    for (int i = 0; i < M; i++) memcpy(C0 + (size_t)i * N, C2 + (size_t)i * N2, sizeof(float) * N);
    sn_set_threads(2);
    sn_sgemm(tA, tB, M2, N2, K, alpha, A2, lda2, B2, ldb2, beta, C2, N2);
    for (int threads = 1; threads <= 2; threads++) {
        sn_set_threads(threads);
        memcpy(C, C0, sizeof(float) * M * N);
        sn_sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
        for (int i = 0; i < M; i++)
            if (memcmp(C + (size_t)i * N, C2 + (size_t)i * N2, sizeof(float) * N)) {
                fprintf(stderr, "  paths differ: tA=%d tB=%d M=%d N=%d K=%d threads=%d row %d\n",
                        tA, tB, M, N, K, threads, i);
                bad = 1;
                break;
            }
    }
    free(A2), free(B2), free(C2), free(C0), free(A), free(B), free(C);
    return !bad;
}

/* paths_agree on every combination of the sizes 3, 10, 17, 64, 65 (M) and
 * 1, 3, 10, 17, 64, 65 (N, K), all transposes and alpha/beta pairs; and on
 * wide products read in place (N > 256, K <= 128) against the packed path.
 * M = 1 has its own path, checked in test_one_row. */
static void test_paths_agree(void) {
    static const int sizes[] = {1, 3, 10, 17, 64, 65};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.75f}};
    int c = 0, ok = 1;
    for (int t = 0; t < 4; t++)
        for (int m = 1; m < 6; m++)
            for (int n = 0; n < 6; n++)
                for (int k = 0; k < 6; k++, c++)
                    ok &= paths_agree(t >> 1, t & 1, sizes[m], sizes[n], sizes[k], 260,
                                      ab[c % 3][0], ab[c % 3][1]);
    static const int wide[][3] = {{33, 700, 70}, {64, 300, 128}, {10, 1000, 9}, {65, 257, 129}};
    for (int s = 0; s < 4; s++)
        ok &= paths_agree(0, 0, wide[s][0], wide[s][1], wide[s][2], 0, ab[s % 3][0], ab[s % 3][1]);
    CHECK(ok);
}

/* alpha == 0 or K == 0: C = beta * C and A, B are not read. */
static void test_degenerate(void) {
    float A[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, B[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    float C[4] = {1, 2, 3, 4};
    sn_sgemm(0, 0, 2, 2, 3, 0.0f, A, 3, B, 2, 0.5f, C, 2);
    CHECK(C[0] == 0.5f && C[1] == 1.0f && C[2] == 1.5f && C[3] == 2.0f);
    float D[4] = {NAN, NAN, NAN, NAN};
    sn_sgemm(1, 1, 2, 2, 0, 1.0f, A, 2, B, 1, 0.0f, D, 2);
    CHECK(D[0] == 0.0f && D[1] == 0.0f && D[2] == 0.0f && D[3] == 0.0f);
    sn_sgemm(0, 0, 0, 2, 3, 1.0f, A, 3, B, 2, 0.0f, D, 2); /* M == 0: nothing */
    CHECK(D[0] == 0.0f);
}

/* Same inputs, same thread count: bitwise-identical C. */
static void test_determinism(int threads) {
    const int M = 150, N = 301, K = 270; /* >= 2^22 multiply-adds: threaded */
    sn_set_threads(threads);
    for (int t = 0; t < 4; t++) {
        int tA = t >> 1, tB = t & 1;
        float *A = alloc_fill((size_t)M * K), *B = alloc_fill((size_t)K * N);
        float *C1 = alloc_fill((size_t)M * N), *C2 = malloc(sizeof(float) * M * N);
        memcpy(C2, C1, sizeof(float) * M * N);
        int lda = tA ? M : K, ldb = tB ? K : N;
        sn_sgemm(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, 0.5f, C1, N);
        sn_sgemm(tA, tB, M, N, K, 1.0f, A, lda, B, ldb, 0.5f, C2, N);
        CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0);
        free(A), free(B), free(C1), free(C2);
    }
}

/* Independent products from the threads of a parallel region. */
static void test_inside_parallel(void) {
    enum { P = 4, M = 70, N = 90, K = 110 };
    float *A = alloc_fill((size_t)P * M * K), *B = alloc_fill((size_t)P * K * N);
    float *C = malloc(sizeof(float) * P * M * N), *R = malloc(sizeof(float) * P * M * N);
#ifdef _OPENMP
#pragma omp parallel for num_threads(2) schedule(static)
#endif
    for (int p = 0; p < P; p++)
        sn_sgemm(0, 0, M, N, K, 1.0f, A + (size_t)p * M * K, K, B + (size_t)p * K * N, N, 0.0f,
                 C + (size_t)p * M * N, N);
    int ok = 1;
    for (int p = 0; p < P; p++) {
        sn_sgemm_ref(0, 0, M, N, K, 1.0f, A + (size_t)p * M * K, K, B + (size_t)p * K * N, N, 0.0f,
                     R + (size_t)p * M * N, N);
        for (int i = 0; i < M * N; i++) {
            size_t at = (size_t)p * M * N + i;
            if (!(fabs(C[at] - R[at]) <= 1e-4 * (1.0 + fabs(R[at])))) ok = 0;
        }
    }
    CHECK(ok);
    free(A), free(B), free(C), free(R);
}

/* Input projection and weight gradient of one-hot rows against the GEMMs
 * they replace: the same bits, including signed zeros in W and da, several
 * K blocks, and with and without work space; 0 for a row that is not
 * one-hot. */
static void test_onehot(void) {
    const int V = 89, shapes[][2] = {{1, 16}, {37, 64}, {300, 256}, {1000, 96}};
    sn_set_threads(2); /* the larger shapes run in several chunks */
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int R = shapes[c][0], G = shapes[c][1];
        float *x = calloc((size_t)R * V, sizeof(float)), *W = alloc_fill((size_t)G * V);
        float *da = alloc_fill((size_t)R * G), *work = malloc(sizeof(float) * V * G);
        float *y1 = malloc(sizeof(float) * R * G), *y2 = malloc(sizeof(float) * R * G);
        float *g1 = malloc(sizeof(float) * G * V), *g2 = malloc(sizeof(float) * G * V);
        for (int r = 0; r < R; r++) x[(size_t)r * V + sn_rng_below(&rng, (uint32_t)V)] = 1.0f;
        for (int k = 0; k < 7; k++) W[sn_rng_below(&rng, (uint32_t)(G * V))] = -0.0f;
        for (int k = 0; k < 7; k++) da[sn_rng_below(&rng, (uint32_t)(R * G))] = -0.0f;
        sn_sgemm(0, 1, R, G, V, 1.0f, x, V, W, V, 0.0f, y1, G);
        sn_sgemm(1, 0, G, V, R, 1.0f, da, G, x, V, 0.0f, g1, V);
        for (int with_work = 0; with_work <= 1; with_work++) {
            memset(y2, 0xff, sizeof(float) * R * G);
            CHECK(sn_onehot_project(x, R, V, W, G, y2, with_work ? work : NULL,
                                    with_work ? (size_t)V * G : 0));
            CHECK(memcmp(y1, y2, sizeof(float) * R * G) == 0);
        }
        memset(g2, 0xff, sizeof(float) * G * V);
        CHECK(sn_onehot_weight_grad(x, R, V, da, G, g2, work, (size_t)V * G));
        CHECK(memcmp(g1, g2, sizeof(float) * G * V) == 0);
        CHECK(!sn_onehot_weight_grad(x, R, V, da, G, g2, work, (size_t)V * G - 1));
        x[(size_t)(R - 1) * V] = x[(size_t)(R - 1) * V] == 1.0f ? 0.5f : 1.0f; /* not one-hot */
        CHECK(!sn_onehot_project(x, R, V, W, G, y2, work, (size_t)V * G));
        CHECK(!sn_onehot_weight_grad(x, R, V, da, G, g2, work, (size_t)V * G));
        free(x), free(W), free(da), free(work), free(y1), free(y2), free(g1), free(g2);
    }
}

/* One row times a transposed B (a dense layer on one sample) has its own
 * path: each row of a 3-row product (the blocked path) must come out of it
 * bit for bit, with several K blocks, N not a multiple of 16, padded B,
 * alpha/beta variants and signed zeros. */
static void test_one_row(void) {
    static const int shapes[][2] = {{1, 1},    {10, 128},   {17, 33},  {256, 784},
                                    {65, 257}, {300, 1000}, {129, 16}, {7, 1600}};
    static const float ab[][2] = {{1.0f, 0.0f}, {2.5f, 1.0f}, {-1.0f, 0.75f}, {1.0f, 1.0f}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], K = shapes[s][1], M = 3, ldb = K + (int)(s % 2) * 5;
        float alpha = ab[s % 4][0], beta = ab[s % 4][1];
        float *A = alloc_fill((size_t)M * K), *B = alloc_fill((size_t)N * ldb);
        float *C0 = alloc_fill((size_t)M * N), *C = malloc(sizeof(float) * M * N);
        float *r = malloc(sizeof(float) * N);
        for (int k = 0; k < 5; k++) B[sn_rng_below(&rng, (uint32_t)(N * ldb))] = -0.0f;
        A[sn_rng_below(&rng, (uint32_t)(M * K))] = -0.0f;
        for (int threads = 1; threads <= 2; threads++) {
            sn_set_threads(threads);
            memcpy(C, C0, sizeof(float) * M * N);
            sn_sgemm(0, 1, M, N, K, alpha, A, K, B, ldb, beta, C, N);
            for (int i = 0; i < M; i++) {
                memcpy(r, C0 + (size_t)i * N, sizeof(float) * N);
                sn_sgemm(0, 1, 1, N, K, alpha, A + (size_t)i * K, K, B, ldb, beta, r, N);
                int same = memcmp(r, C + (size_t)i * N, sizeof(float) * N) == 0;
                if (!same) fprintf(stderr, "  one row: N=%d K=%d row %d differs\n", N, K, i);
                CHECK(same);
                /* op(A) = Aᵀ with one column: the same row read with lda 1 */
                memcpy(r, C0 + (size_t)i * N, sizeof(float) * N);
                sn_sgemm(1, 1, 1, N, K, alpha, A + (size_t)i * K, 1, B, ldb, beta, r, N);
                CHECK(memcmp(r, C + (size_t)i * N, sizeof(float) * N) == 0);
            }
        }
        free(A), free(B), free(C0), free(C), free(r);
    }
}

/* sn_transpose and sn_transpose_ld (rows of at 16 floats longer, the gaps
 * left as they were) against the definition, on sizes that are and are not
 * multiples of its 32 x 32 blocks, and large enough to be cut into
 * chunks of sn_parallel (1 and 2 threads). */
static void test_transpose(void) {
    static const int shapes[][2] = {{1, 1}, {3, 70}, {33, 31}, {300, 700}, {1024, 256}, {257, 513}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int R = shapes[s][0], C = shapes[s][1];
        float *a = alloc_fill((size_t)R * C), *at = malloc(sizeof(float) * (R + 16) * C);
        const unsigned char gap[4] = {0xff, 0xff, 0xff, 0xff};
        for (int threads = 1; threads <= 2; threads++)
            for (int pad = 0; pad <= 16; pad += 16) {
                const int ld = R + pad;
                sn_set_threads(threads);
                memset(at, 0xff, sizeof(float) * ld * C);
                if (pad)
                    sn_transpose_ld(a, R, C, at, ld);
                else
                    sn_transpose(a, R, C, at);
                int ok = 1;
                for (int c = 0; c < C; c++) {
                    for (int r = 0; r < R; r++)
                        if (memcmp(&at[(size_t)c * ld + r], &a[(size_t)r * C + c], sizeof(float)))
                            ok = 0;
                    for (int r = R; r < ld; r++)
                        if (memcmp(&at[(size_t)c * ld + r], gap, sizeof gap)) ok = 0;
                }
                CHECK(ok);
            }
        free(a), free(at);
    }
}

/* sn_add_row_vector and sn_sum_rows against plain loops, bit for bit (the
 * column sums in row order), on shapes large enough to run in chunks, on 1
 * and 2 threads. */
static void test_row_ops(void) {
    static const int shapes[][2] = {{3, 5}, {2048, 256}, {1000, 131}, {70000, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int R = shapes[s][0], C = shapes[s][1];
        float *x = alloc_fill((size_t)R * C), *b = alloc_fill((size_t)C);
        float *y = malloc(sizeof(float) * R * C), *want = malloc(sizeof(float) * R * C);
        float *sum = malloc(sizeof(float) * C), *wsum = malloc(sizeof(float) * C);
        for (int k = 0; k < C; k++) wsum[k] = 0.0f;
        for (int r = 0; r < R; r++)
            for (int k = 0; k < C; k++) {
                want[(size_t)r * C + k] = x[(size_t)r * C + k] + b[k];
                wsum[k] += x[(size_t)r * C + k];
            }
        for (int threads = 1; threads <= 2; threads++) {
            sn_set_threads(threads);
            memcpy(y, x, sizeof(float) * R * C);
            sn_add_row_vector(y, b, R, C);
            CHECK(memcmp(y, want, sizeof(float) * R * C) == 0);
            memset(sum, 0xff, sizeof(float) * C);
            sn_sum_rows(x, sum, R, C);
            CHECK(memcmp(sum, wsum, sizeof(float) * C) == 0);
        }
        free(x), free(b), free(y), free(want), free(sum), free(wsum);
    }
}

/* Room for n floats and one more, 64-byte aligned (a team's gather streams
 * rows into an aligned batch, see ops.c; dst + 1 takes the plain copies). */
static float *alloc_batch(size_t n) {
    size_t bytes = ((n + 1) * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

/* sn_gather_rows against a plain loop of copies, rows picked at random with
 * repeats, on sizes that run in one and in several chunks, 1 and 2 threads,
 * into a batch 64-byte aligned and one that is not. */
static void test_gather(void) {
    static const int shapes[][3] = {{10, 7, 3}, {500, 784, 128}, {60, 3000, 1000}, {70, 32, 900}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], row = shapes[s][1], n = shapes[s][2];
        float *src = alloc_fill((size_t)rows * row), *buf = alloc_batch((size_t)n * row);
        float *want = malloc(sizeof(float) * n * row);
        int *idx = malloc(sizeof(int) * n);
        for (int i = 0; i < n; i++) {
            idx[i] = (int)sn_rng_below(&rng, (uint32_t)rows);
            memcpy(want + (size_t)i * row, src + (size_t)idx[i] * row, sizeof(float) * row);
        }
        for (int threads = 1; threads <= 2; threads++)
            for (int off = 0; off <= 1; off++) {
                float *dst = buf + off;
                sn_set_threads(threads);
                memset(dst, 0xff, sizeof(float) * n * row);
                sn_gather_rows(dst, src, idx, n, (size_t)row);
                CHECK(memcmp(dst, want, sizeof(float) * n * row) == 0);
            }
        free(src), free(buf), free(want), free(idx);
    }
}

/* 8-bit pixels: sn_pixels_to_bytes takes every k / 255.0f and refuses any
 * other float (one bad value in an array of good ones); sn_gather_rows_bytes
 * gives the floats of sn_gather_rows bit for bit, on sizes that run in one
 * and in several chunks, rows of any length, 1 and 2 threads, aligned and
 * not (as test_gather). */
static void test_gather_bytes(void) {
    float all[256];
    unsigned char b[256];
    for (int k = 0; k < 256; k++) all[k] = (float)k / 255.0f;
    memset(b, 0xee, sizeof b);
    CHECK(sn_pixels_to_bytes(all, 256, b) == 1);
    int same = 1;
    for (int k = 0; k < 256; k++) same &= b[k] == k;
    CHECK(same);
    const float bad[] = {-0.0f,
                         0.5f,
                         nextafterf(1.0f, 2.0f),
                         nextafterf(all[77], 1.0f),
                         nextafterf(all[200], 0.0f),
                         -1.0f / 255.0f,
                         2.0f,
                         NAN,
                         INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        float x[256];
        memcpy(x, all, sizeof x);
        x[(i * 37) % 256] = bad[i];
        CHECK(sn_pixels_to_bytes(x, 256, b) == 0);
        memcpy(x, all, sizeof x); /* in the last values, after the whole blocks of 16 */
        x[245] = bad[i];
        CHECK(sn_pixels_to_bytes(x, 250, b) == 0);
        CHECK(sn_pixels_to_bytes(x, 245, b) == 1);
    }
    static const int shapes[][3] = {
        {10, 7, 3}, {500, 784, 128}, {60, 3000, 1000}, {9, 1, 40}, {70, 32, 900}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], row = shapes[s][1], n = shapes[s][2];
        size_t size = (size_t)rows * row;
        float *src = malloc(sizeof(float) * size), *buf = alloc_batch((size_t)n * row);
        float *want = malloc(sizeof(float) * n * row);
        unsigned char *bytes = malloc(size);
        int *idx = malloc(sizeof(int) * n);
        for (size_t i = 0; i < size; i++) src[i] = all[sn_rng_below(&rng, 256)];
        CHECK(sn_pixels_to_bytes(src, size, bytes) == 1);
        for (int i = 0; i < n; i++) idx[i] = (int)sn_rng_below(&rng, (uint32_t)rows);
        sn_gather_rows(want, src, idx, n, (size_t)row);
        for (int threads = 1; threads <= 2; threads++)
            for (int off = 0; off <= 1; off++) {
                float *dst = buf + off;
                sn_set_threads(threads);
                memset(dst, 0xff, sizeof(float) * n * row);
                sn_gather_rows_bytes(dst, bytes, idx, n, (size_t)row);
                CHECK(memcmp(dst, want, sizeof(float) * n * row) == 0);
            }
        free(src), free(buf), free(want), free(bytes), free(idx);
    }
}

int main(void) {
    sn_rng_seed(&rng, 42, 7);
    const char *name = sn_sgemm_kernel_name();
    printf("kernel: %s\n", name);
    CHECK(!strcmp(name, "avx512") || !strcmp(name, "avx2") || !strcmp(name, "generic"));
    test_degenerate();
    test_small();
    test_small_paths();
    test_paths_agree();
    test_large();
    test_determinism(1);
    test_determinism(2);
    test_inside_parallel();
    test_onehot();
    test_one_row();
    test_transpose();
    test_row_ops();
    test_gather();
    test_gather_bytes();
    return check_report();
}
