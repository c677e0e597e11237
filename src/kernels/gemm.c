/* Single-precision GEMM, row-major: C = alpha * op(A) * op(B) + beta * C.
 *
 * Blocking (Goto / BLIS), loops from the outside in:
 *   jc: C and op(B) in NC-wide column blocks;
 *   pc: K in KC-deep slices; op(B)[KC, NC] is packed into NR-wide micro-panels,
 *       each [KC][NR] contiguous (the block stays in L2);
 *   ic: op(A) in MC-tall row blocks; op(A)[MC, KC] is packed into MR-tall
 *       micro-panels, each [KC][MR] contiguous;
 *   ir, jr: one A micro-panel (stays in L1) times every B micro-panel of the
 *       block, each product an MR x NR tile of C (the micro-kernel).
 * Packed panels are zero-padded to MR / NR. Blocks are cut to near-equal sizes
 * (K = 257 is 129 + 128, not 256 + 1). Small products skip the packing (the
 * AVX-512 kernel reads op(A) and op(B) in place, see DIRECT_A and DIRECT_B),
 * and when neither is packed they use wider tiles (WR x WN). Every output is
 * summed the same way whatever the path and tile: k blocks as above, each
 * from +0 one FMA per k in k order, times alpha, plus beta C.
 *
 * Threads: C is split statically into a tm x tn grid of rectangles on tile
 * boundaries, one chunk of sn_parallel each (src/core/threads.h), each
 * computed by the serial algorithm above with a private set of packing
 * buffers. K is never split, so every element of C is summed in the same
 * order: results are bitwise identical for a given thread count (in fact for
 * any thread count). Products below SN_GEMM_MT_MIN multiply-adds run on the
 * calling thread alone. Packing buffers are static, 64-byte aligned, one set
 * per slot; a call claims free slots atomically, so concurrent calls from
 * different threads are safe. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

/* Block sizes. AVX-512, for a Xeon with 48 KiB L1d and 2 MiB L2 per core
 * (Sapphire Rapids): A micro-panel 12 x 256 floats = 12 KiB (L1), packed B
 * block 256 x 1024 = 1 MiB (L2), packed A block 240 x 256 = 240 KiB. */
#if defined(__AVX512F__)
#define SN_GEMM_KERNEL "avx512"
#define MR             12
#define NR             32
#define KC             256
#define MC             240
#define NC             1024
#elif defined(__AVX2__) && defined(__FMA__)
#define SN_GEMM_KERNEL "avx2"
#define MR             6
#define NR             16
#define KC             256
#define MC             96
#define NC             1024
#else
#define SN_GEMM_KERNEL "generic"
#define MR             4
#define NR             16
#define KC             256
#define MC             64
#define NC             1024
#endif

/* The AVX-512 kernel can read op(B) = B in place (masked loads, stride ldb)
 * instead of a packed copy. That pays when B is reused by few row tiles and
 * fits in L2: M <= DIRECT_B_MAX_M and K * N <= DIRECT_B_MAX_KN floats. */
#if defined(__AVX512F__)
#define DIRECT_B 1
#else
#define DIRECT_B 0
#endif
/* Likewise op(A) = A (row-major) in place, its rows lda apart, when each
 * packed A micro-panel would serve few B micro-panels: N <= DIRECT_A_MAX_N. */
#if defined(__AVX512F__)
#define DIRECT_A 1
#else
#define DIRECT_A 0
#endif
/* How the kernel reads op(A): a packed micro-panel, or A in place when
 * op(A) = A (rows lda apart) or op(A) = Aᵀ (the rows of a tile side by side,
 * k lda apart: a packed micro-panel with stride lda). */
enum { A_PACKED, A_ROWS, A_COLS };
/* Or'ed into the above: op(B) is a packed panel, zero-padded to NR. */
#define B_PADDED 4
#ifndef DIRECT_A_MAX_N
#define DIRECT_A_MAX_N 256
#endif
/* op(A) = Aᵀ in place only when A's rows are short: the kc rows of a tile
 * lie lda apart, and at 2048 floats apart they fall in few L1 sets. */
#ifndef DIRECT_AT_MAX_LDA
#define DIRECT_AT_MAX_LDA 512
#endif
#if defined(__AVX512F__)
#define WIDE 1
#else
#define WIDE 0
#endif
#define WIDE_ANY_N_MAX_K 128
#define DIRECT_B_MAX_M   128
#define DIRECT_B_MAX_KN  (1 << 20)

/* Sets of packing buffers; a product uses at most this many threads. */
#define SN_GEMM_MAX_THREADS 64
/* Below this many multiply-adds (M*N*K) one thread does the whole product.
 * Handing a chunk to a spinning team thread costs well under a microsecond;
 * 2^19 multiply-adds take ~10 us on one core of the machine this was tuned
 * on. */
#ifndef SN_GEMM_MT_MIN
#define SN_GEMM_MT_MIN (1 << 19)
#endif

_Static_assert(MC % MR == 0 && NC % NR == 0, "blocks must hold whole micro-panels");

static _Alignas(64) float pack_a[SN_GEMM_MAX_THREADS][MC * KC];
static _Alignas(64) float pack_b[SN_GEMM_MAX_THREADS][KC * NC];
static atomic_int slot_busy[SN_GEMM_MAX_THREADS];

/* Claims a free set of packing buffers, trying `first` first. */
static int slot_claim(int first) {
    for (;;) {
        for (int i = 0; i < SN_GEMM_MAX_THREADS; i++) {
            int s = (first + i) % SN_GEMM_MAX_THREADS;
            if (!atomic_load_explicit(&slot_busy[s], memory_order_relaxed) &&
                !atomic_exchange_explicit(&slot_busy[s], 1, memory_order_acquire))
                return s;
        }
        sched_yield();
    }
}

static void slot_release(int s) {
    atomic_store_explicit(&slot_busy[s], 0, memory_order_release);
}

const char *sn_sgemm_kernel_name(void) {
    return SN_GEMM_KERNEL;
}

/* ---- reference --------------------------------------------------------- */

void sn_sgemm_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta == 0.0f ? (float)(alpha * s) : (float)(alpha * s + (double)beta * *c);
        }
    }
}

/* ---- packing ----------------------------------------------------------- */

/* dst[k][w] = src[k * ld + w] for w < n, 0 for n <= w < W; k < kc. */
static void pack_copy(const float *src, size_t ld, int n, int W, int kc, float *dst) {
    if (n == W) {
        for (int k = 0; k < kc; k++) memcpy(dst + (size_t)k * W, src + k * ld, sizeof(float) * W);
        return;
    }
#if defined(__AVX512F__)
    /* An edge panel: masked loads (columns past n read as 0) and full
     * stores, W / 16 vectors per k. */
    if (W % 16 == 0 && W <= 64) {
        __mmask16 m[4];
        for (int v = 0; v < W / 16; v++)
            m[v] = n >= 16 * (v + 1) ? 0xFFFF
                   : n > 16 * v      ? (__mmask16)((1u << (n - 16 * v)) - 1)
                                     : 0;
        for (int k = 0; k < kc; k++)
            for (int v = 0; v < W / 16; v++)
                _mm512_storeu_ps(dst + (size_t)k * W + 16 * v,
                                 _mm512_maskz_loadu_ps(m[v], src + k * ld + 16 * v));
        return;
    }
#endif
    for (int k = 0; k < kc; k++) {
        float *d = dst + (size_t)k * W;
        const float *s = src + k * ld;
        for (int w = 0; w < n; w++) d[w] = s[w];
        for (int w = n; w < W; w++) d[w] = 0.0f;
    }
}

/* dst[k][w] = src[w * ld + k] for w < n, 0 for n <= w < W; k < kc.
 * Groups of 4 source rows go through 4 x 8 in-register transposes, while the
 * next 4 rows (if w + 8 <= avail) are prefetched. */
static void pack_transpose(const float *src, size_t ld, int n, int avail, int W, int kc,
                           float *dst) {
    int w = 0;
    (void)avail;
#if defined(__AVX512F__)
    /* 16 rows x 4 k at a time: lane L of v[i] holds row i + 4 L, so one
     * in-lane 4 x 4 transpose (8 shuffles for 64 floats, half as many as
     * below) leaves column k + c of the 16 rows in one vector. */
    for (; w + 16 <= n; w += 16) {
        const float *s = src + w * ld;
        float *d = dst + w;
        int k = 0;
        for (; k + 4 <= kc; k += 4) {
            __m512 v[4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                __m512 x = _mm512_castps128_ps512(_mm_loadu_ps(s + i * ld + k));
                x = _mm512_insertf32x4(x, _mm_loadu_ps(s + (i + 4) * ld + k), 1);
                x = _mm512_insertf32x4(x, _mm_loadu_ps(s + (i + 8) * ld + k), 2);
                v[i] = _mm512_insertf32x4(x, _mm_loadu_ps(s + (i + 12) * ld + k), 3);
            }
            __m512 t0 = _mm512_unpacklo_ps(v[0], v[1]), t1 = _mm512_unpackhi_ps(v[0], v[1]);
            __m512 t2 = _mm512_unpacklo_ps(v[2], v[3]), t3 = _mm512_unpackhi_ps(v[2], v[3]);
            float *dk = d + (size_t)k * W;
            _mm512_storeu_ps(dk, _mm512_shuffle_ps(t0, t2, 0x44));
            _mm512_storeu_ps(dk + W, _mm512_shuffle_ps(t0, t2, 0xEE));
            _mm512_storeu_ps(dk + 2 * W, _mm512_shuffle_ps(t1, t3, 0x44));
            _mm512_storeu_ps(dk + 3 * W, _mm512_shuffle_ps(t1, t3, 0xEE));
        }
        for (; k < kc; k++)
            for (int i = 0; i < 16; i++) d[(size_t)k * W + i] = s[i * ld + k];
    }
#endif
#if defined(__AVX__)
    for (; w + 4 <= n; w += 4) {
        const float *s0 = src + w * ld, *s1 = s0 + ld, *s2 = s1 + ld, *s3 = s2 + ld;
        const float *p = w + 8 <= avail ? s3 + ld : s0;
        float *d = dst + w;
        int k = 0;
        for (; k + 8 <= kc; k += 8) {
            if ((k & 15) == 0) {
                _mm_prefetch((const char *)(p + k), _MM_HINT_T0);
                _mm_prefetch((const char *)(p + ld + k), _MM_HINT_T0);
                _mm_prefetch((const char *)(p + 2 * ld + k), _MM_HINT_T0);
                _mm_prefetch((const char *)(p + 3 * ld + k), _MM_HINT_T0);
            }
            __m256 r0 = _mm256_loadu_ps(s0 + k), r1 = _mm256_loadu_ps(s1 + k);
            __m256 r2 = _mm256_loadu_ps(s2 + k), r3 = _mm256_loadu_ps(s3 + k);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            /* lane 0 holds column k+j, lane 1 column k+4+j */
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            float *dk = d + (size_t)k * W;
            _mm_storeu_ps(dk + 0 * W, _mm256_castps256_ps128(u0));
            _mm_storeu_ps(dk + 1 * W, _mm256_castps256_ps128(u1));
            _mm_storeu_ps(dk + 2 * W, _mm256_castps256_ps128(u2));
            _mm_storeu_ps(dk + 3 * W, _mm256_castps256_ps128(u3));
            _mm_storeu_ps(dk + 4 * W, _mm256_extractf128_ps(u0, 1));
            _mm_storeu_ps(dk + 5 * W, _mm256_extractf128_ps(u1, 1));
            _mm_storeu_ps(dk + 6 * W, _mm256_extractf128_ps(u2, 1));
            _mm_storeu_ps(dk + 7 * W, _mm256_extractf128_ps(u3, 1));
        }
        for (; k < kc; k++) {
            d[(size_t)k * W + 0] = s0[k];
            d[(size_t)k * W + 1] = s1[k];
            d[(size_t)k * W + 2] = s2[k];
            d[(size_t)k * W + 3] = s3[k];
        }
    }
#endif
    for (; w < n; w++) {
        const float *s = src + w * ld;
        for (int k = 0; k < kc; k++) dst[(size_t)k * W + w] = s[k];
    }
    for (; w < W; w++)
        for (int k = 0; k < kc; k++) dst[(size_t)k * W + w] = 0.0f;
}

/* op(A)[i0 : i0+mc, k0 : k0+kc] into MR-tall micro-panels. */
static void pack_a_block(int transA, const float *A, size_t lda, int i0, int k0, int mc, int kc,
                         float *dst) {
    for (int i = 0; i < mc; i += MR) {
        int m = mc - i < MR ? mc - i : MR;
        float *d = dst + (size_t)i * kc;
        if (transA)
            pack_copy(A + (size_t)k0 * lda + i0 + i, lda, m, MR, kc, d);
        else
            pack_transpose(A + (size_t)(i0 + i) * lda + k0, lda, m, mc - i, MR, kc, d);
    }
}

/* op(B)[k0 : k0+kc, j0 : j0+nc] into NR-wide micro-panels. */
static void pack_b_block(int transB, const float *B, size_t ldb, int k0, int j0, int kc, int nc,
                         float *dst) {
    for (int j = 0; j < nc; j += NR) {
        int n = nc - j < NR ? nc - j : NR;
        float *d = dst + (size_t)j * kc;
        if (transB)
            pack_transpose(B + (size_t)(j0 + j) * ldb + k0, ldb, n, nc - j, NR, kc, d);
        else
            pack_copy(B + (size_t)k0 * ldb + j0 + j, ldb, n, NR, kc, d);
    }
}

/* ---- micro-kernels ------------------------------------------------------
 * tile[MR, NR] = sum_k a[k][0:MR] (outer product) b[k][0:NR], then
 * C_tile = alpha * tile + beta * C_tile (beta == 0: C is not read).
 * a: packed A micro-panel [kc][MR]; b: B micro-panel, kc rows of stride ldb
 * (NR when packed, B's own ldb when read in place). */

#if defined(__AVX512F__)
/* op(A) read in place (A_ROWS): the R rows of a tile advance one float per
 * k, each row a line every 16 k, R lines at once that no hardware
 * prefetcher sees coming in time (each row's run in a k block is short:
 * 16 lines for K = 256). Where those rows were just written by another core
 * (a dense layer's input, gathered or made by both threads; a gradient made
 * in bands), each miss waited for that core's cache and the first product
 * to read them ran a third slower. So every 16 k the kernel asks for the
 * line A_ROWS_AHEAD floats ahead in each row (past a row's end, the next
 * block's or nothing: a prefetch never faults). No value changes. */
#define A_ROWS_AHEAD 32

/* An R x 16V tile (R <= 12, V <= 4, R x V <= 24): R x V zmm accumulators;
 * per k, V loads of b and R broadcasts of a feed R x V FMAs. R, V and the
 * other upper-case parameters are constants in each instance, so the
 * accumulators live in registers.
 *   DA: how a is read (A_PACKED, A_ROWS, A_COLS, see tile() below);
 *   PF: prefetch the tile of C first;
 *   FL: 1: n == 16 V (a full tile): plain loads and stores. 0: columns
 *       past n are masked off, so edge tiles need no buffer (masked loads of
 *       b in the loop cost ~5% on a 64 x 64 x 64 product). 2: b is a packed
 *       panel, zero-padded to 16 V columns: plain loads of b, C masked (the
 *       padded columns are summed and dropped).
 * Whatever R, V and the rest, output (r, j) is the same chain: +0, one FMA
 * per k in k order, times alpha, plus beta C; so the bits of C do not depend
 * on the tile shape that produced them. */
static inline __attribute__((always_inline)) void
kernel_rv(const int R, const int V, const int DA, const int PF, const int FL, int kc,
          const float *restrict a, size_t lda, const float *restrict b, size_t ldb,
          float *restrict c, size_t ldc, int n, float alpha_in, float beta_in) {
    /* In the blocked path's tiles (PF) alpha and beta wait in memory: held in
     * registers through the loop, they left GCC one register short of the 24
     * accumulators, 2 of b and a broadcast, and it spilled b to the stack (a
     * third slower). The wide tiles keep them in registers (~5% faster on
     * 128 x 128 x 10). */
    volatile float ab_v[2];
    if (PF) ab_v[0] = alpha_in, ab_v[1] = beta_in;
    __mmask16 m[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
        m[v] = FL == 1 || n >= 16 * (v + 1) ? 0xFFFF
               : n > 16 * v                 ? (__mmask16)((1u << (n - 16 * v)) - 1)
                                            : 0;
    __m512 acc[MR][4];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
    if (PF) {
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + r * ldc + 16 * V - 1), _MM_HINT_T0);
        }
    }
    for (int k = 0; k < kc; k++) {
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            bv[v] = FL ? _mm512_loadu_ps(b + 16 * v) : _mm512_maskz_loadu_ps(m[v], b + 16 * v);
        if (DA == A_PACKED) _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        if (DA == A_ROWS && (k & 15) == 0) {
#pragma GCC unroll 12
            for (int r = 0; r < R; r++)
                _mm_prefetch((const char *)(a + r * lda + A_ROWS_AHEAD), _MM_HINT_T0);
        }
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 ar = _mm512_set1_ps(DA == A_ROWS ? a[r * lda] : a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
        a += DA == A_ROWS ? 1 : DA == A_COLS ? lda : MR;
        b += ldb;
    }
    float alpha = PF ? ab_v[0] : alpha_in, beta = PF ? ab_v[1] : beta_in;
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (alpha != 1.0f) {
#pragma GCC unroll 12
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_mul_ps(va, acc[r][v]);
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        float *cr = c + r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            __m512 x = acc[r][v];
            if (beta != 0.0f) {
                __m512 cv = FL == 1 ? _mm512_loadu_ps(cr + 16 * v)
                                    : _mm512_maskz_loadu_ps(m[v], cr + 16 * v);
                x = _mm512_fmadd_ps(vb, cv, x);
            }
            if (FL == 1)
                _mm512_storeu_ps(cr + 16 * v, x);
            else
                _mm512_mask_storeu_ps(cr + 16 * v, m[v], x);
        }
    }
}

/* Tiles of the blocked path: up to MR x NR. am: how a is read, plus
 * B_PADDED when b is a packed panel (zero-padded to NR, so an edge tile can
 * load whole vectors of b and mask only C). */
#define KERNEL_RV_AM(R, V, FL)                                                                     \
    do {                                                                                           \
        if (am == A_PACKED)                                                                        \
            kernel_rv(R, V, A_PACKED, 1, FL, kc, a, 0, b, ldb, c, ldc, n, alpha, beta);            \
        else if (am == A_ROWS)                                                                     \
            kernel_rv(R, V, A_ROWS, 1, FL, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);            \
        else                                                                                       \
            kernel_rv(R, V, A_COLS, 1, FL, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);            \
    } while (0)
#define KERNEL_R(R)                                                                                \
    static void kernel_##R(int kc, int am, const float *a, size_t lda, const float *b, size_t ldb, \
                           float *c, size_t ldc, int n, float alpha, float beta) {                 \
        int padded = am & B_PADDED;                                                                \
        am &= ~B_PADDED;                                                                           \
        if (n == 32)                                                                               \
            KERNEL_RV_AM(R, 2, 1);                                                                 \
        else if (n > 16 && padded)                                                                 \
            KERNEL_RV_AM(R, 2, 2);                                                                 \
        else if (n > 16)                                                                           \
            KERNEL_RV_AM(R, 2, 0);                                                                 \
        else if (padded)                                                                           \
            KERNEL_RV_AM(R, 1, 2);                                                                 \
        else                                                                                       \
            KERNEL_RV_AM(R, 1, 0);                                                                 \
    }
KERNEL_R(1)
KERNEL_R(2)
KERNEL_R(3)
KERNEL_R(4)
KERNEL_R(5)
KERNEL_R(6)
KERNEL_R(7)
KERNEL_R(8)
KERNEL_R(9)
KERNEL_R(10)
KERNEL_R(11)
KERNEL_R(12)

typedef void (*kernel_fn)(int, int, const float *, size_t, const float *, size_t, float *, size_t,
                          int, float, float);
static const kernel_fn kernels_by_rows[MR + 1] = {
    NULL,     kernel_1, kernel_2, kernel_3,  kernel_4,  kernel_5,  kernel_6,
    kernel_7, kernel_8, kernel_9, kernel_10, kernel_11, kernel_12,
};

/* Wide tiles for small products with op(A) = A and op(B) = B both read in
 * place (nothing packed): R <= WR rows by up to WN = 64 columns, 4 loads of
 * b and R broadcasts of a per 4R FMAs (12 x 32 needs 14 loads per 24 FMAs).
 * C is not prefetched: these products are small, and their C mostly in
 * cache (the prefetches cost more than they saved on 64 x 64 x 64 and on
 * 128 x 128 x 10). */
#define WR 6
#define WN 64
#define KERNEL_W(R)                                                                                \
    static void kernel_w##R(int kc, const float *a, size_t lda, const float *b, size_t ldb,        \
                            float *c, size_t ldc, int n, float alpha, float beta) {                \
        if (n == 64)                                                                               \
            kernel_rv(R, 4, A_ROWS, 0, 1, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);             \
        else if (n > 48)                                                                           \
            kernel_rv(R, 4, A_ROWS, 0, 0, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);             \
        else if (n > 32)                                                                           \
            kernel_rv(R, 3, A_ROWS, 0, 0, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);             \
        else if (n > 16)                                                                           \
            kernel_rv(R, 2, A_ROWS, 0, 0, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);             \
        else                                                                                       \
            kernel_rv(R, 1, A_ROWS, 0, 0, kc, a, lda, b, ldb, c, ldc, n, alpha, beta);             \
    }
KERNEL_W(1)
KERNEL_W(2)
KERNEL_W(3)
KERNEL_W(4)
KERNEL_W(5)
KERNEL_W(6)

typedef void (*kernel_w_fn)(int, const float *, size_t, const float *, size_t, float *, size_t, int,
                            float, float);
static const kernel_w_fn kernels_w_by_rows[WR + 1] = {
    NULL, kernel_w1, kernel_w2, kernel_w3, kernel_w4, kernel_w5, kernel_w6,
};

/* A tile of m <= MR rows and n <= NR columns. am: how a is laid out,
 * A_PACKED (a packed micro-panel), A_ROWS (op(A) = A read in place, rows lda
 * apart) or A_COLS (op(A) = Aᵀ read in place, the m values of one k
 * contiguous and k lda apart). */
static void tile(int kc, int am, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                 size_t ldc, int m, int n, float alpha, float beta) {
    kernels_by_rows[m](kc, am, a, lda, b, ldb, c, ldc, n, alpha, beta);
}
#elif defined(__AVX2__) && defined(__FMA__)
/* 6 x 16 tile: 12 ymm accumulators (6 rows x 2 vectors of 8). */
static void micro_kernel(int kc, const float *restrict a, const float *restrict b, size_t ldb,
                         float *restrict c, size_t ldc, float alpha, float beta) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 ar = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += MR;
        b += ldb;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (beta == 0.0f) {
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(va, acc[r][0]));
            _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(va, acc[r][1]));
        }
    } else {
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            float *cr = c + r * ldc;
            __m256 c0 = _mm256_mul_ps(vb, _mm256_loadu_ps(cr));
            __m256 c1 = _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8));
            _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, acc[r][0], c0));
            _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, acc[r][1], c1));
        }
    }
}
#else
/* 4 x 16 tile in plain C; the compiler vectorizes the inner loop. */
static void micro_kernel(int kc, const float *restrict a, const float *restrict b, size_t ldb,
                         float *restrict c, size_t ldc, float alpha, float beta) {
    float acc[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) acc[r][j] += a[r] * b[j];
        a += MR;
        b += ldb;
    }
    for (int r = 0; r < MR; r++) {
        float *cr = c + r * ldc;
        for (int j = 0; j < NR; j++)
            cr[j] = beta == 0.0f ? alpha * acc[r][j] : alpha * acc[r][j] + beta * cr[j];
    }
}
#endif

#if !defined(__AVX512F__)
/* A tile of m <= MR rows and n <= NR columns; partial tiles are computed in
 * full into a buffer holding the valid part of C, then copied back. */
static void tile(int kc, int am, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                 size_t ldc, int m, int n, float alpha, float beta) {
    (void)am, (void)lda; /* always packed here */
    if (m == MR && n == NR) {
        micro_kernel(kc, a, b, ldb, c, ldc, alpha, beta);
        return;
    }
    _Alignas(64) float t[MR * NR];
    if (beta != 0.0f)
        for (int r = 0; r < m; r++) memcpy(t + r * NR, c + r * ldc, sizeof(float) * n);
    micro_kernel(kc, a, b, ldb, t, NR, alpha, beta);
    for (int r = 0; r < m; r++) memcpy(c + r * ldc, t + r * NR, sizeof(float) * n);
}
#endif

/* ---- driver ------------------------------------------------------------ */

/* Block size <= max (a multiple of unit) cutting n into the fewest blocks. */
static int split(int n, int max, int unit) {
    int blocks = (n + max - 1) / max;
    int b = (n + blocks - 1) / blocks;
    return (b + unit - 1) / unit * unit;
}

/* ---- one row times a transposed B ---------------------------------------
 * c[0, j] = alpha * sum_k a[k] B[j, k] + beta * c[0, j] for M == 1 and
 * op(B) = Bᵀ (a dense layer on one sample: x Wᵀ). The blocked path would
 * first pack all of B into [k][j] panels, a transpose of B on every call that
 * is never reused. Here blocks of 8 rows of B x 4 k are transposed in
 * registers and consumed at once (lane j of an accumulator is output j0 + j),
 * 64 outputs at a time so that 8 independent FMA chains hide the latency.
 * Every output is summed exactly as the blocked path sums it (k blocks of
 * sn_sgemm_k_block(K), each from +0 one fused multiply-add per k in k order,
 * scaled by alpha, then stored or added to beta·C), so the bits do not depend
 * on which path ran. */
#if defined(__AVX512F__) && defined(__AVX512VL__)
/* Eight outputs (rows of B) by 4 k: v[i] = row i, k..k+3 | row i+4, k..k+3
 * (rows past `rows` read as 0, columns past kn not read), transposed to
 * col[c] = B[0..7, k + c]. 256-bit vectors: their in-lane shuffles have more
 * ports than 512-bit ones, and the 128-bit halves come from loads. */
static inline __attribute__((always_inline)) void load_t8x4(const float *b, size_t ldb, int rows,
                                                            __mmask8 km, __m256 col[4]) {
    __m256 v[4];
    for (int i = 0; i < 4; i++) {
        __m128 lo = i < rows ? _mm_maskz_loadu_ps(km, b + i * ldb) : _mm_setzero_ps();
        __m128 hi = i + 4 < rows ? _mm_maskz_loadu_ps(km, b + (i + 4) * ldb) : _mm_setzero_ps();
        v[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    }
    __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    col[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    col[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    col[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    col[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

#define GEMV_G 8 /* groups of 8 outputs in flight: 8 independent FMA chains */

/* c[0 : rows] (rows <= 8 GEMV_G) from B's rows 0 .. rows-1, k in [0, kc):
 * one block of the sum. `full` (a constant in each instance): rows is 64. */
static inline __attribute__((always_inline)) void gemv_panel(const int full, int rows, int kc,
                                                             const float *a, const float *B,
                                                             size_t ldb, float alpha, float beta,
                                                             float *c) {
    __m256 acc[GEMV_G];
#pragma GCC unroll 8
    for (int g = 0; g < GEMV_G; g++) acc[g] = _mm256_setzero_ps();
    if (full) rows = 8 * GEMV_G;
    int k = 0;
    if (full) {
        size_t l3 = 3 * ldb;
        for (; k + 4 <= kc; k += 4) {
            const float *p = B + k;
            __m256 ak[4];
#pragma GCC unroll 4
            for (int kk = 0; kk < 4; kk++) ak[kk] = _mm256_set1_ps(a[k + kk]);
#pragma GCC unroll 8
            for (int g = 0; g < GEMV_G; g++) {
                const float *q = p + 4 * ldb;
                __m256 v0 = _mm256_set_m128(_mm_loadu_ps(q), _mm_loadu_ps(p));
                __m256 v1 = _mm256_set_m128(_mm_loadu_ps(q + ldb), _mm_loadu_ps(p + ldb));
                __m256 v2 = _mm256_set_m128(_mm_loadu_ps(q + 2 * ldb), _mm_loadu_ps(p + 2 * ldb));
                __m256 v3 = _mm256_set_m128(_mm_loadu_ps(q + l3), _mm_loadu_ps(p + l3));
                p = q + 4 * ldb;
                __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
                __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
                acc[g] = _mm256_fmadd_ps(ak[0], _mm256_shuffle_ps(t0, t2, 0x44), acc[g]);
                acc[g] = _mm256_fmadd_ps(ak[1], _mm256_shuffle_ps(t0, t2, 0xEE), acc[g]);
                acc[g] = _mm256_fmadd_ps(ak[2], _mm256_shuffle_ps(t1, t3, 0x44), acc[g]);
                acc[g] = _mm256_fmadd_ps(ak[3], _mm256_shuffle_ps(t1, t3, 0xEE), acc[g]);
            }
        }
    } else {
        for (; k + 4 <= kc; k += 4) {
            for (int g = 0; 8 * g < rows; g++) {
                __m256 col[4];
                load_t8x4(B + k + (size_t)(8 * g) * ldb, ldb, rows - 8 * g, 0xF, col);
#pragma GCC unroll 4
                for (int kk = 0; kk < 4; kk++)
                    acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(a[k + kk]), col[kk], acc[g]);
            }
        }
    }
    if (k < kc) {
        int kn = kc - k;
#pragma GCC unroll 8
        for (int g = 0; g < GEMV_G; g++) {
            if (8 * g >= rows) break;
            __m256 col[4];
            load_t8x4(B + k + (size_t)(8 * g) * ldb, ldb, rows - 8 * g, (__mmask8)((1u << kn) - 1),
                      col);
            for (int kk = 0; kk < kn; kk++)
                acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(a[k + kk]), col[kk], acc[g]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < GEMV_G; g++) {
        if (8 * g >= rows) break;
        int n = rows - 8 * g < 8 ? rows - 8 * g : 8;
        __mmask8 m = (__mmask8)((1u << n) - 1);
        __m256 v = acc[g];
        if (alpha != 1.0f) v = _mm256_mul_ps(_mm256_set1_ps(alpha), v);
        if (beta != 0.0f)
            v = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_maskz_loadu_ps(m, c + 8 * g), v);
        _mm256_mask_storeu_ps(c + 8 * g, m, v);
    }
}

static void gemv_t(int N, int K, float alpha, const float *a, const float *B, size_t ldb,
                   float beta, float *c) {
    int kcs = split(K, KC, 1);
    for (int j0 = 0; j0 < N; j0 += 8 * GEMV_G) {
        int rows = N - j0 < 8 * GEMV_G ? N - j0 : 8 * GEMV_G;
        for (int pc = 0; pc < K; pc += kcs) {
            int kc = K - pc < kcs ? K - pc : kcs;
            float beta_k = pc == 0 ? beta : 1.0f;
            const float *b = B + (size_t)j0 * ldb + pc;
            if (rows == 8 * GEMV_G)
                gemv_panel(1, rows, kc, a + pc, b, ldb, alpha, beta_k, c + j0);
            else
                gemv_panel(0, rows, kc, a + pc, b, ldb, alpha, beta_k, c + j0);
        }
    }
}
#endif

/* One thread's rectangle C[M, N] (A, B, C already offset to it), with a set
 * of packing buffers claimed for the call; `slot` is the preferred set. */
static void gemm_serial(int slot, int transA, int transB, int M, int N, int K, float alpha,
                        const float *A, size_t lda, const float *B, size_t ldb, float beta,
                        float *C, size_t ldc) {
    slot = slot_claim(slot);
    float *pa = pack_a[slot], *pb = pack_b[slot];
    int direct_b = DIRECT_B && !transB && M <= DIRECT_B_MAX_M && (double)K * N <= DIRECT_B_MAX_KN;
    int am = !DIRECT_A || N > DIRECT_A_MAX_N ? A_PACKED
             : !transA                       ? A_ROWS
             : lda <= DIRECT_AT_MAX_LDA      ? A_COLS
                                             : A_PACKED;
    /* Wide tiles when nothing needs packing: op(A) = A, op(B) = B read in
     * place, and N small or K small (6-row tiles stream op(B) twice as often
     * as 12-row ones: 2% slower at 128 x 784 x 256, 20% faster at
     * 32 x 784 x 9). */
    int wide = WIDE && direct_b && !transA && (N <= DIRECT_A_MAX_N || K <= WIDE_ANY_N_MAX_K);
    if (wide) am = A_ROWS;
    /* Blocks of near-equal size: K = 257 is cut 129 + 128, not 256 + 1. */
    int ncs = split(N, NC, NR), kcs = split(K, KC, 1), mcs = split(M, MC, MR);
    for (int jc = 0; jc < N; jc += ncs) {
        int nc = N - jc < ncs ? N - jc : ncs;
        for (int pc = 0; pc < K; pc += kcs) {
            int kc = K - pc < kcs ? K - pc : kcs;
            float beta_k = pc == 0 ? beta : 1.0f;
            const float *bp = pb;
            size_t bk = NR, bj = kc;
            if (direct_b) {
                bp = B + (size_t)pc * ldb + jc;
                bk = ldb;
                bj = 1;
            } else {
                pack_b_block(transB, B, ldb, pc, jc, kc, nc, pb);
            }
            for (int ic = 0; ic < M; ic += mcs) {
                int mc = M - ic < mcs ? M - ic : mcs;
                if (am == A_PACKED) pack_a_block(transA, A, lda, ic, pc, mc, kc, pa);
#if defined(__AVX512F__)
                if (wide) {
                    for (int ir = 0; ir < mc; ir += WR) {
                        int m = mc - ir < WR ? mc - ir : WR;
                        const float *ap = A + (size_t)(ic + ir) * lda + pc;
                        for (int jr = 0; jr < nc; jr += WN) {
                            int n = nc - jr < WN ? nc - jr : WN;
                            kernels_w_by_rows[m](kc, ap, lda, bp + jr, bk,
                                                 C + (size_t)(ic + ir) * ldc + jc + jr, ldc, n,
                                                 alpha, beta_k);
                        }
                    }
                    continue;
                }
#endif
                for (int ir = 0; ir < mc; ir += MR) {
                    int m = mc - ir < MR ? mc - ir : MR;
                    const float *ap = am == A_ROWS   ? A + (size_t)(ic + ir) * lda + pc
                                      : am == A_COLS ? A + (size_t)pc * lda + ic + ir
                                                     : pa + (size_t)ir * kc;
                    for (int jr = 0; jr < nc; jr += NR) {
                        int n = nc - jr < NR ? nc - jr : NR;
                        tile(kc, direct_b ? am : am | B_PADDED, ap, lda, bp + jr * bj, bk,
                             C + (size_t)(ic + ir) * ldc + jc + jr, ldc, m, n, alpha, beta_k);
                    }
                }
            }
        }
    }
    slot_release(slot);
}

int sn_sgemm_k_block(int K) {
    return K > 0 ? split(K, KC, 1) : 1;
}

/* C = beta * C, for K == 0 or alpha == 0. */
static void scale_c(int M, int N, float beta, float *C, size_t ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(c, 0, sizeof(float) * N);
        else if (beta != 1.0f)
            for (int j = 0; j < N; j++) c[j] *= beta;
    }
}

/* Threads on a tm x tn grid (tm * tn <= nt): the grid that minimizes one
 * thread's estimated cost, multiply-adds plus packing with a packed float
 * counted as 16 multiply-adds; on a tie, fewer threads. */
static void choose_grid(int nt, int M, int N, int K, int *tm, int *tn) {
    int tiles_m = (M + MR - 1) / MR, tiles_n = (N + NR - 1) / NR;
    double best = -1.0;
    *tm = 1;
    *tn = 1;
    for (int a = 1; a <= nt && a <= tiles_m; a++) {
        for (int b = 1; a * b <= nt && b <= tiles_n; b++) {
            double m = (double)((tiles_m + a - 1) / a) * MR;
            double n = (double)((tiles_n + b - 1) / b) * NR;
            double passes = (double)(((int)n + NC - 1) / NC);
            double cost = m * n * K + 16.0 * K * (m * passes + n);
            if (best < 0 || cost < best) {
                best = cost;
                *tm = a;
                *tn = b;
            }
        }
    }
}

static int gemm_threads(int M, int N, int K) {
    if (sn_in_parallel()) return 1;
    if ((double)M * N * K < SN_GEMM_MT_MIN) return 1;
    int nt = sn_get_threads();
    if (nt > SN_GEMM_MAX_THREADS) nt = SN_GEMM_MAX_THREADS;
    int tiles = ((M + MR - 1) / MR) * ((N + NR - 1) / NR);
    if (nt > tiles) nt = tiles;
    return nt < 1 ? 1 : nt;
}

/* One product split into a tm x tn grid of rectangles of C. */
typedef struct {
    int transA, transB, M, N, K, tm, tn;
    float alpha, beta;
    const float *A, *B;
    float *C;
    size_t lda, ldb, ldc;
} gemm_job;

static void gemm_chunk(void *ctx, int t) {
    const gemm_job *j = ctx;
    int tiles_m = (j->M + MR - 1) / MR, tiles_n = (j->N + NR - 1) / NR;
    int bi = t / j->tn, bj = t % j->tn;
    int m0 = (int)((long)tiles_m * bi / j->tm) * MR,
        m1 = (int)((long)tiles_m * (bi + 1) / j->tm) * MR;
    int n0 = (int)((long)tiles_n * bj / j->tn) * NR,
        n1 = (int)((long)tiles_n * (bj + 1) / j->tn) * NR;
    if (m1 > j->M) m1 = j->M;
    if (n1 > j->N) n1 = j->N;
    if (m1 <= m0 || n1 <= n0) return;
    const float *a = j->transA ? j->A + m0 : j->A + (size_t)m0 * j->lda;
    const float *b = j->transB ? j->B + (size_t)n0 * j->ldb : j->B + n0;
    gemm_serial(t, j->transA, j->transB, m1 - m0, n1 - n0, j->K, j->alpha, a, j->lda, b, j->ldb,
                j->beta, j->C + (size_t)m0 * j->ldc + n0, j->ldc);
}

void sn_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, (size_t)ldc);
        return;
    }
#if defined(__AVX512F__) && defined(__AVX512VL__)
    if (M == 1 && transB && (!transA || lda == 1)) {
        gemv_t(N, K, alpha, A, B, (size_t)ldb, beta, C);
        return;
    }
#endif
    int nt = gemm_threads(M, N, K);
    if (nt == 1) {
        gemm_serial(sn_thread_index() % SN_GEMM_MAX_THREADS, transA, transB, M, N, K, alpha, A,
                    (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc);
        return;
    }
    gemm_job j = {transA, transB, M, N, K,           1,           1,          alpha,
                  beta,   A,      B, C, (size_t)lda, (size_t)ldb, (size_t)ldc};
    choose_grid(nt, M, N, K, &j.tm, &j.tn);
    sn_parallel(j.tm * j.tn, gemm_chunk, &j);
}
