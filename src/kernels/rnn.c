/* Pointwise kernels of the recurrent cells (see rnn.h for the equations). */
#include "kernels/rnn.h"
#include "core/threads.h"

#include "kernels/fastmath.h"
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

int sn_rnn_chunks(int N) {
    int nt = sn_get_threads();
    if (nt <= 1 || N <= 4) return 1;
    int rows = (N + nt - 1) / nt;
    if (rows < 4) rows = 4;
    return (N + rows - 1) / rows;
}

void sn_rnn_rows(int N, int chunks, int c, int *n0, int *n1) {
    int rows = (N + chunks - 1) / chunks;
    *n0 = c * rows < N ? c * rows : N;
    *n1 = (c + 1) * rows < N ? (c + 1) * rows : N;
}

/* Whether a row is one-hot: exactly one value is nonzero, and it is an
 * exact 1 (−0 counts as zero, NaN as nonzero). Counted without branches,
 * so the loop vectorizes. */
static int is_hot(const float *x, int V) {
    int nonzero = 0, ones = 0;
    for (int k = 0; k < V; k++) {
        nonzero += x[k] != 0.0f;
        ones += x[k] == 1.0f;
    }
    return nonzero == 1 && ones == 1;
}

/* The one-hot kernels run in chunks of sn_parallel, one per thread: rows
 * for the projection, column ranges for the weight gradient. Each output
 * value is computed as in a serial loop (a copy; a sum over rows in row
 * order), so neither the chunking nor the thread count changes a bit. */
#define ONEHOT_CHUNK_VALUES 16384 /* copied or summed values per chunk, at least */
#define ONEHOT_COLS         64    /* weight-gradient columns per chunk, at least */

#define SN_ONEHOT_MAX_CHUNKS 64
#define ONEHOT_LIST_MAX      1024 /* vocabularies up to this size list a block's tokens */

static int value_chunks(size_t values, int most) {
    size_t c = values / ONEHOT_CHUNK_VALUES;
    if (c > (size_t)sn_get_threads()) c = (size_t)sn_get_threads();
    if (c > SN_ONEHOT_MAX_CHUNKS) c = SN_ONEHOT_MAX_CHUNKS;
    if (c > (size_t)most) c = (size_t)most;
    return c < 1 ? 1 : (int)c;
}

/* The token of a one-hot row: the index of its only nonzero (summed without
 * branches, so the loop vectorizes). */
static int hot_of(const float *x, int V) {
    int k = 0;
    for (int i = 0; i < V; i++) k += x[i] != 0.0f ? i : 0;
    return k;
}

typedef struct {
    const float *x;
    int *tok; /* the rows' tokens, or NULL: only check */
    int rows, V, chunks;
    int ok[SN_ONEHOT_MAX_CHUNKS];
} scan_job;

static void scan_chunk(void *ctx, int c) {
    scan_job *j = ctx;
    int r0 = (int)((long)j->rows * c / j->chunks), r1 = (int)((long)j->rows * (c + 1) / j->chunks);
    j->ok[c] = 1;
    for (int r = r0; r < r1; r++) {
        const float *xr = j->x + (size_t)r * j->V;
        if (!is_hot(xr, j->V)) {
            j->ok[c] = 0;
            return;
        }
        if (j->tok) j->tok[r] = hot_of(xr, j->V);
    }
}

/* Whether every row of x is one-hot (rows checked in parallel chunks), and
 * when tok is not NULL the rows' tokens in it. */
static int scan_onehot(const float *x, int rows, int V, int *tok) {
    scan_job j = {x, tok, rows, V, value_chunks((size_t)rows * V, rows), {0}};
    if (j.chunks == 1)
        scan_chunk(&j, 0);
    else
        sn_parallel(j.chunks, scan_chunk, &j);
    for (int c = 0; c < j.chunks; c++)
        if (!j.ok[c]) return 0;
    return 1;
}

static int all_onehot(const float *x, int rows, int V) {
    return scan_onehot(x, rows, V, NULL);
}

typedef struct {
    const float *x, *W, *da, *bias;
    float *y, *dW, *db, *work;
    int rows, V, G, chunks, transposed, r0, r1;
    int kb;         /* weight gradient: rows per K block */
    float *acc;     /* weight gradient: [V, G] sum of the blocks so far, or NULL */
    const int *tok; /* weight gradient: the tokens of x's rows, or NULL (from x) */
} onehot_job;

static void project_chunk(void *ctx, int c) {
    const onehot_job *j = ctx;
    int V = j->V, G = j->G;
    int r0 = (int)((long)j->rows * c / j->chunks), r1 = (int)((long)j->rows * (c + 1) / j->chunks);
    for (int r = r0; r < r1; r++) {
        int hot = hot_of(j->x + (size_t)r * V, V);
        float *yr = j->y + (size_t)r * G;
        if (j->transposed && j->bias) {
            /* as the GEMM's result (below), then the bias added to it */
            const float *w = j->work + (size_t)hot * G, *b = j->bias;
            for (int k = 0; k < G; k++) yr[k] = (w[k] + 0.0f) + b[k];
        } else if (j->transposed) {
            /* + 0.0f turns a −0 into +0, as the GEMM's sum (from +0) does */
            const float *w = j->work + (size_t)hot * G;
            for (int k = 0; k < G; k++) yr[k] = w[k] + 0.0f;
        } else if (j->bias) {
            const float *w = j->W + hot, *b = j->bias;
            for (int k = 0; k < G; k++) yr[k] = (w[(size_t)k * V] + 0.0f) + b[k];
        } else {
            const float *w = j->W + hot;
            for (int k = 0; k < G; k++) yr[k] = w[(size_t)k * V] + 0.0f;
        }
    }
}

int sn_onehot_project_bias(const float *x, int rows, int V, const float *W, int G,
                           const float *bias, float *y, float *work, size_t work_floats) {
    if (rows <= 0 || !all_onehot(x, rows, V)) return 0;
    onehot_job j = {x, W, NULL, bias, y, NULL, NULL, work, rows, V, G, 1, 0, 0, 0, 0, NULL, NULL};
    if (work && work_floats >= (size_t)V * G) {
        sn_transpose(W, G, V, work); /* [V, G]: each token's column as a row */
        j.transposed = 1;
    }
    j.chunks = value_chunks((size_t)rows * G, rows);
    if (j.chunks == 1)
        project_chunk(&j, 0);
    else
        sn_parallel(j.chunks, project_chunk, &j);
    return 1;
}

int sn_onehot_project(const float *x, int rows, int V, const float *W, int G, float *y, float *work,
                      size_t work_floats) {
    return sn_onehot_project_bias(x, rows, V, W, G, NULL, y, work, work_floats);
}

int sn_onehot_tokens(const float *x, int rows, int V, int *tok) {
    return rows > 0 && scan_onehot(x, rows, V, tok);
}

void sn_onehot_gather_bias(const int *tok, int rows, const float *WT, int G, const float *bias,
                           int c0, int c1, float *y, int ldy) {
    for (int r = 0; r < rows; r++) {
        const float *restrict w = WT + (size_t)tok[r] * G;
        float *restrict yr = y + (size_t)r * ldy;
        for (int k = c0; k < c1; k++) yr[k] = (w[k] + 0.0f) + bias[k]; /* as project_chunk */
    }
}

/* dW[q, k] (+)= b[k, q] for the columns q in [c0, c1), 16 at a time: a read
 * of one cache line of b feeds 16 rows of dW, each written in k order. */
static void add_transposed(const onehot_job *j, const float *b, int c0, int c1, int store) {
    int V = j->V, G = j->G;
    for (int q0 = c0; q0 < c1; q0 += 16) {
        int q1 = q0 + 16 < c1 ? q0 + 16 : c1;
        for (int k = 0; k < V; k++) {
            const float *bk = b + (size_t)k * G;
            float *d = j->dW + k;
            if (store)
                for (int q = q0; q < q1; q++) d[(size_t)q * V] = bk[q];
            else
                for (int q = q0; q < q1; q++) d[(size_t)q * V] += bk[q];
        }
    }
}

/* Columns [c0, c1) of dW (and of db), block of rows by block of rows (K
 * blocks of kb rows): each block's sum from +0, the blocks added in order,
 * as the GEMM does. With acc, the blocks are added up in acc [V, G] (the
 * first summed there directly) and dW written once at the end; without, each
 * block is added into dW as it comes. db runs on over the blocks: from +0,
 * each row added in row order, as sn_sum_rows sums a column. */
static void weight_grad_chunk(void *ctx, int c) {
    const onehot_job *j = ctx;
    int V = j->V, G = j->G;
    int c0 = (int)((long)G * c / j->chunks), c1 = (int)((long)G * (c + 1) / j->chunks);
    size_t w = (size_t)(c1 - c0) * sizeof(float);
    if (j->db)
        for (int q = c0; q < c1; q++) j->db[q] = 0.0f;
    /* With acc, tokens and few of them: each block after the first zeroes,
     * sums and adds to acc only the rows of the tokens it holds. Another
     * row of its sum would be +0, and acc + (+0) is acc: acc is never −0, as
     * it starts from a sum from +0 (x + y is −0 only when both are). */
    int listed = j->acc && j->tok && V <= ONEHOT_LIST_MAX;
    int seen[ONEHOT_LIST_MAX], list[ONEHOT_LIST_MAX]; /* block number where last seen */
    if (listed) memset(seen, 0, (size_t)V * sizeof seen[0]);
    for (int r0 = 0, b = 1; r0 < j->rows; r0 += j->kb, b++) {
        int r1 = r0 + j->kb < j->rows ? r0 + j->kb : j->rows, n = 0;
        float *sum = j->acc && r0 == 0 ? j->acc : j->work;
        if (listed && r0 > 0) {
            for (int r = r0; r < r1; r++)
                if (seen[j->tok[r]] != b) seen[j->tok[r]] = b, list[n++] = j->tok[r];
            for (int i = 0; i < n; i++) memset(sum + (size_t)list[i] * G + c0, 0, w);
        } else {
            for (int k = 0; k < V; k++) memset(sum + (size_t)k * G + c0, 0, w);
        }
        for (int r = r0; r < r1; r++) {
            int hot = j->tok ? j->tok[r] : hot_of(j->x + (size_t)r * V, V);
            float *restrict s = sum + (size_t)hot * G;
            const float *restrict d = j->da + (size_t)r * G;
            if (j->db) {
                float *restrict b = j->db;
                for (int q = c0; q < c1; q++) s[q] += d[q], b[q] += d[q];
            } else {
                for (int q = c0; q < c1; q++) s[q] += d[q];
            }
        }
        if (!j->acc) {
            add_transposed(j, j->work, c0, c1, r0 == 0);
        } else if (r0 > 0) {
            for (int i = 0; i < (listed ? n : V); i++) {
                int k = listed ? list[i] : i;
                float *restrict a = j->acc + (size_t)k * G;
                const float *restrict bk = j->work + (size_t)k * G;
                for (int q = c0; q < c1; q++) a[q] += bk[q];
            }
        }
    }
    if (j->acc) add_transposed(j, j->acc, c0, c1, 1);
}

/* The chunks own column ranges through all the K blocks: one parallel job. */
int sn_onehot_weight_bias_grad(const float *x, const int *tok, int rows, int V, const float *da,
                               int G, float *dW, float *db, float *work, size_t work_floats) {
    size_t VG = (size_t)V * G;
    if (rows <= 0 || work_floats < VG || (!tok && !all_onehot(x, rows, V))) return 0;
    onehot_job j = {x, NULL, da, NULL, NULL, dW, db, work, rows, V, G, 1, 0, 0, 0, 0, NULL, tok};
    j.kb = sn_sgemm_k_block(rows);
    if (j.kb < rows && work_floats / 2 >= VG) j.acc = work + VG;
    j.chunks = value_chunks((size_t)rows * G, G / ONEHOT_COLS);
    if (j.chunks == 1)
        weight_grad_chunk(&j, 0);
    else
        sn_parallel(j.chunks, weight_grad_chunk, &j);
    return 1;
}

int sn_onehot_weight_grad(const float *x, int rows, int V, const float *da, int G, float *dW,
                          float *work, size_t work_floats) {
    return sn_onehot_weight_bias_grad(x, NULL, rows, V, da, G, dW, NULL, work, work_floats);
}

void sn_rnn_act(float *y, size_t n, int relu) {
    if (relu)
        for (size_t i = 0; i < n; i++) y[i] = y[i] < 0 ? 0.0f : y[i];
    else
        for (size_t i = 0; i < n; i++) y[i] = tanh1(y[i]);
}

void sn_rnn_act_backward(const float *y, const float *dy, const float *dh, float *da, size_t n,
                         int relu) {
    for (size_t i = 0; i < n; i++) {
        float d = dy[i] + dh[i];
        da[i] = relu ? (y[i] > 0 ? d : 0.0f) : d * (1.0f - y[i] * y[i]);
    }
}

/* Panel p of units: where it starts in the panel layout, and its width. */
static size_t panel_at(int G, int K, int u) {
    return (size_t)K * G * u; /* the panels before u are all full */
}

static int panel_width(int H, int u) {
    return H - u < SN_RNN_PANEL ? H - u : SN_RNN_PANEL;
}

typedef struct {
    const float *W;
    float *P;
    int trans, G, H, K, panels, chunks;
} pack_job;

/* b[k, i] = a[i, k] for a: [w, K] (rows K apart), b: [K, w], in tiles of
 * TILE × TILE: a tile's reads and writes stay in a few cache lines, where a
 * whole column of b at a time would touch a new line per value. */
#define TILE 32
static void pack_transposed(const float *a, int K, int w, float *b) {
    for (int k0 = 0; k0 < K; k0 += TILE) {
        int k1 = k0 + TILE < K ? k0 + TILE : K;
        for (int i0 = 0; i0 < w; i0 += TILE) {
            int i1 = i0 + TILE < w ? i0 + TILE : w;
            for (int k = k0; k < k1; k++)
                for (int i = i0; i < i1; i++) b[(size_t)k * w + i] = a[(size_t)i * K + k];
        }
    }
}

/* b[k, :] = a[k·lda .. + w) for k < K: rows of at most a strip (32
 * floats), copied in a loop the compiler unrolls into vector moves rather
 * than a call to memcpy per 128 bytes. */
static void copy_rows(const float *restrict a, int lda, int K, int w, float *restrict b) {
    for (int k = 0; k < K; k++)
        for (int i = 0; i < w; i++) b[(size_t)k * w + i] = a[(size_t)k * lda + i];
}

static void pack_chunk(void *ctx, int c) {
    const pack_job *j = ctx;
    int G = j->G, H = j->H, K = j->K, GH = G * H;
    int p0 = (int)((long)j->panels * c / j->chunks),
        p1 = (int)((long)j->panels * (c + 1) / j->chunks);
    for (int p = p0; p < p1; p++) {
        int u = p * SN_RNN_PANEL, w = panel_width(H, u);
        for (int q = 0; q < G; q++)
            for (int j0 = 0; j0 < w; j0 += SN_RNN_STRIP) {
                int ws = w - j0 < SN_RNN_STRIP ? w - j0 : SN_RNN_STRIP, col = q * H + u + j0;
                float *b = j->P + panel_at(G, K, u) + (size_t)K * (w * q + j0);
                if (j->trans) /* b[k, i] = W[col + i, k], W: [G·H, K] */
                    pack_transposed(j->W + (size_t)col * K, K, ws, b);
                else /* b[k, :] = W[k, col .. col + ws), W: [K, G·H] */
                    copy_rows(j->W + col, GH, K, ws, b);
            }
    }
}

void sn_rnn_pack(const float *W, int trans, int G, int H, int K, float *P) {
    pack_job j = {W, P, trans, G, H, K, (H + SN_RNN_PANEL - 1) / SN_RNN_PANEL, 1};
    size_t values = (size_t)G * H * K;
    /* a chunk copies 16k values or more (64 KiB, several microseconds
     * against a hand-off's one): the 256 × 256 W_hh of an RNN is shared too */
    int chunks = (int)(values / (1 << 14)), nt = sn_get_threads();
    if (chunks > nt) chunks = nt;
    if (chunks > j.panels) chunks = j.panels;
    j.chunks = chunks < 1 ? 1 : chunks;
    if (j.chunks == 1)
        pack_chunk(&j, 0);
    else
        sn_parallel(j.chunks, pack_chunk, &j);
}

#if defined(__AVX512F__)
/* Rows [0, R) (R <= PANEL_ROWS) by columns [0, n) (n <= 32: two vectors) of
 * C = beta·C + A B over one K block of kc: per k, 2 loads of b and R
 * broadcasts of a feed 2R FMAs. Each value is sn_sgemm's chain: +0, one FMA
 * per k in k order, then beta·C added by one FMA when beta != 0 (C is not
 * read when it is 0). With tok (not NULL), C's value there is the input
 * term (w[tok[r]·ldw + j] + 0) + bias[j] instead, as sn_onehot_gather_bias
 * would have written it. FL: n == 32, no masks. */
#define PANEL_ROWS 12
typedef struct {
    const float *w, *bias;
    const int *tok;
    int ldw;
} tile_input;

static inline __attribute__((always_inline)) void panel_tile(const int R, const int FL, int kc,
                                                             const float *restrict a, int lda,
                                                             const float *restrict b, int ldb,
                                                             float *restrict c, int ldc, int n,
                                                             float beta, const tile_input *in) {
    __mmask16 m0 = FL || n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = FL || n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    __m512 acc[PANEL_ROWS][2];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b0 = FL ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(m0, b);
        __m512 b1 = FL ? _mm512_loadu_ps(b + 16) : _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 ar = _mm512_set1_ps(a[(size_t)r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
        b += ldb;
    }
    __m512 vb = _mm512_set1_ps(beta), zero = _mm512_setzero_ps(), ib0 = zero, ib1 = zero;
    if (in) {
        ib0 = FL ? _mm512_loadu_ps(in->bias) : _mm512_maskz_loadu_ps(m0, in->bias);
        ib1 = FL ? _mm512_loadu_ps(in->bias + 16) : _mm512_maskz_loadu_ps(m1, in->bias + 16);
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        float *cr = c + (size_t)r * ldc;
        __m512 x0 = acc[r][0], x1 = acc[r][1];
        if (beta != 0.0f) {
            __m512 c0, c1;
            if (in) {
                const float *w = in->w + (size_t)in->tok[r] * in->ldw;
                c0 = FL ? _mm512_loadu_ps(w) : _mm512_maskz_loadu_ps(m0, w);
                c1 = FL ? _mm512_loadu_ps(w + 16) : _mm512_maskz_loadu_ps(m1, w + 16);
                c0 = _mm512_add_ps(_mm512_add_ps(c0, zero), ib0);
                c1 = _mm512_add_ps(_mm512_add_ps(c1, zero), ib1);
            } else {
                c0 = FL ? _mm512_loadu_ps(cr) : _mm512_maskz_loadu_ps(m0, cr);
                c1 = FL ? _mm512_loadu_ps(cr + 16) : _mm512_maskz_loadu_ps(m1, cr + 16);
            }
            x0 = _mm512_fmadd_ps(vb, c0, x0);
            x1 = _mm512_fmadd_ps(vb, c1, x1);
        }
        if (FL) {
            _mm512_storeu_ps(cr, x0);
            _mm512_storeu_ps(cr + 16, x1);
        } else {
            _mm512_mask_storeu_ps(cr, m0, x0);
            _mm512_mask_storeu_ps(cr + 16, m1, x1);
        }
    }
}

#define PANEL_TILE(R)                                                                              \
    static void panel_tile_##R(int kc, const float *a, int lda, const float *b, int ldb, float *c, \
                               int ldc, int n, float beta, const tile_input *in) {                 \
        if (n == 32)                                                                               \
            panel_tile(R, 1, kc, a, lda, b, ldb, c, ldc, n, beta, in);                             \
        else                                                                                       \
            panel_tile(R, 0, kc, a, lda, b, ldb, c, ldc, n, beta, in);                             \
    }
PANEL_TILE(1)
PANEL_TILE(2)
PANEL_TILE(3)
PANEL_TILE(4)
PANEL_TILE(5)
PANEL_TILE(6)
PANEL_TILE(7)
PANEL_TILE(8)
PANEL_TILE(9)
PANEL_TILE(10)
PANEL_TILE(11)
PANEL_TILE(12)

typedef void (*panel_tile_fn)(int, const float *, int, const float *, int, float *, int, int, float,
                              const tile_input *);
static const panel_tile_fn panel_tiles[PANEL_ROWS + 1] = {
    NULL,          panel_tile_1,  panel_tile_2,  panel_tile_3, panel_tile_4,
    panel_tile_5,  panel_tile_6,  panel_tile_7,  panel_tile_8, panel_tile_9,
    panel_tile_10, panel_tile_11, panel_tile_12,
};

/* Column halves of 32 go outer and near-equal tiles of rows inner, so a
 * half of one K block of B (32 KiB at a K block of 256) stays in L1 while
 * every row of A passes over it. The input term, if any, stands for C in
 * the first K block. */
static void product(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc, const sn_rnn_input *in) {
    int kb = sn_sgemm_k_block(K), tiles = (M + PANEL_ROWS - 1) / PANEL_ROWS;
    for (int k0 = 0; k0 < K; k0 += kb) {
        int kc = K - k0 < kb ? K - k0 : kb;
        float bk = k0 == 0 ? beta : 1.0f;
        for (int j = 0; j < N; j += 32) {
            int n = N - j < 32 ? N - j : 32;
            for (int t = 0; t < tiles; t++) {
                int r0 = (int)((long)M * t / tiles), r1 = (int)((long)M * (t + 1) / tiles);
                tile_input ti, *tip = NULL;
                if (in && k0 == 0) {
                    ti = (tile_input){in->w + j, in->bias + j, in->tok + r0, in->ldw};
                    tip = &ti;
                }
                panel_tiles[r1 - r0](kc, A + (size_t)r0 * lda + k0, lda, B + (size_t)k0 * ldb + j,
                                     ldb, C + (size_t)r0 * ldc + j, ldc, n, bk, tip);
            }
        }
    }
}
#endif

void sn_rnn_product(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc, const sn_rnn_input *in) {
#if defined(__AVX512F__)
    if (M > 0 && N > 0 && K > 0) {
        product(M, N, K, A, lda, B, ldb, beta, C, ldc, in);
        return;
    }
#endif
    if (in) sn_onehot_gather_bias(in->tok, M, in->w, in->ldw, in->bias, 0, N, C, ldc);
    sn_sgemm(0, 0, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void sn_rnn_panel_product(int M, int G, int H, int K, int u0, int u1, const float *A, int lda,
                          const float *P, float beta, float *C, int ldc, const sn_rnn_input *in,
                          int reverse) {
    int np = (u1 - u0 + SN_RNN_PANEL - 1) / SN_RNN_PANEL;
    for (int pi = 0; pi < np; pi++) {
        int u = u0 + (reverse ? np - 1 - pi : pi) * SN_RNN_PANEL, w = panel_width(H, u);
        int ns = (w + SN_RNN_STRIP - 1) / SN_RNN_STRIP;
        const float *b = P + panel_at(G, K, u);
        for (int qi = 0; qi < G; qi++)
            for (int si = 0; si < ns; si++) {
                int q = reverse ? G - 1 - qi : qi, j0 = (reverse ? ns - 1 - si : si) * SN_RNN_STRIP;
                int ws = w - j0 < SN_RNN_STRIP ? w - j0 : SN_RNN_STRIP, col = q * H + u + j0;
                sn_rnn_input at, *ap = NULL;
                if (in) {
                    at = (sn_rnn_input){in->w + col, in->bias + col, in->tok, in->ldw};
                    ap = &at;
                }
                sn_rnn_product(M, ws, K, A, lda, b + (size_t)K * (w * q + j0), ws, beta, C + col,
                               ldc, ap);
            }
    }
}

/* One stream's row of each step function below. The restrict parameters
 * (distinct gate blocks and arrays) let the loops vectorize. */
static void lstm_row_forward(int H, float *restrict i, float *restrict f, float *restrict g,
                             float *restrict o, const float *restrict cp, float *restrict c,
                             float *restrict tc, float *restrict h) {
    /* two loops: the four gates' independent activations, then the cell,
     * whose tanh waits for three of them; one loop of both made each value
     * a long chain of dependent operations (18 % slower in cache, H = 256) */
    for (int j = 0; j < H; j++)
        i[j] = sigmoid1(i[j]), f[j] = sigmoid1(f[j]), g[j] = tanh1(g[j]), o[j] = sigmoid1(o[j]);
    for (int j = 0; j < H; j++) {
        c[j] = f[j] * cp[j] + i[j] * g[j];
        tc[j] = tanh1(c[j]);
        h[j] = o[j] * tc[j];
    }
}

void sn_lstm_step_forward(int N, int H, int u0, int u1, float *g, const float *c_prev, float *c,
                          float *tc, float *h) {
    for (int n = 0; n < N; n++) {
        float *gn = g + (size_t)n * 4 * H + u0;
        size_t o = (size_t)n * H + u0;
        lstm_row_forward(u1 - u0, gn, gn + H, gn + 2 * H, gn + 3 * H, c_prev + o, c + o, tc + o,
                         h + o);
    }
}

static void lstm_row_backward(int H, const float *restrict i, const float *restrict f,
                              const float *restrict g, const float *restrict o,
                              const float *restrict cp, const float *restrict tc,
                              const float *restrict dy, const float *restrict dh_next,
                              float *restrict dc, float *restrict di, float *restrict df,
                              float *restrict dg, float *restrict dout) {
    for (int j = 0; j < H; j++) {
        float dh = dy[j] + dh_next[j];
        float dct = dc[j] + dh * o[j] * (1.0f - tc[j] * tc[j]);
        di[j] = dct * g[j] * i[j] * (1.0f - i[j]);
        df[j] = dct * cp[j] * f[j] * (1.0f - f[j]);
        dg[j] = dct * i[j] * (1.0f - g[j] * g[j]);
        dout[j] = dh * tc[j] * o[j] * (1.0f - o[j]);
        dc[j] = dct * f[j];
    }
}

void sn_lstm_step_backward(int N, int H, int u0, int u1, const float *g, const float *c_prev,
                           const float *tc, const float *dy, const float *dh_next, float *dc,
                           float *dg) {
    for (int n = 0; n < N; n++) {
        const float *gn = g + (size_t)n * 4 * H + u0;
        float *dn = dg + (size_t)n * 4 * H + u0;
        size_t o = (size_t)n * H + u0;
        lstm_row_backward(u1 - u0, gn, gn + H, gn + 2 * H, gn + 3 * H, c_prev + o, tc + o, dy + o,
                          dh_next + o, dc + o, dn, dn + H, dn + 2 * H, dn + 3 * H);
    }
}

static void gru_row_forward(int H, float *restrict r, float *restrict z, float *restrict n,
                            const float *restrict ur, const float *restrict uz,
                            const float *restrict un, float *restrict hn,
                            const float *restrict h_prev, float *restrict h) {
    for (int j = 0; j < H; j++) {
        r[j] = sigmoid1(r[j] + ur[j]);
        z[j] = sigmoid1(z[j] + uz[j]);
        n[j] = tanh1(n[j] + r[j] * un[j]);
        hn[j] = un[j];
        h[j] = (1.0f - z[j]) * n[j] + z[j] * h_prev[j];
    }
}

void sn_gru_step_forward(int N, int H, float *g, const float *hp, float *hn, const float *h_prev,
                         float *h) {
    for (int k = 0; k < N; k++) {
        float *gk = g + (size_t)k * 3 * H;
        const float *uk = hp + (size_t)k * 3 * H;
        size_t o = (size_t)k * H;
        gru_row_forward(H, gk, gk + H, gk + 2 * H, uk, uk + H, uk + 2 * H, hn + o, h_prev + o,
                        h + o);
    }
}

static void gru_row_backward(int H, const float *restrict r, const float *restrict z,
                             const float *restrict n, const float *restrict un,
                             const float *restrict h_prev, const float *restrict dy,
                             float *restrict dh, float *restrict xr, float *restrict xz,
                             float *restrict xn, float *restrict hr, float *restrict hz,
                             float *restrict hnd) {
    for (int j = 0; j < H; j++) {
        float d = dy[j] + dh[j];
        float dn = d * (1.0f - z[j]) * (1.0f - n[j] * n[j]);
        float dz = d * (h_prev[j] - n[j]) * z[j] * (1.0f - z[j]);
        float dr = dn * un[j] * r[j] * (1.0f - r[j]);
        xr[j] = dr, hr[j] = dr;
        xz[j] = dz, hz[j] = dz;
        xn[j] = dn, hnd[j] = dn * r[j];
        dh[j] = d * z[j];
    }
}

void sn_gru_step_backward(int N, int H, const float *g, const float *hn, const float *h_prev,
                          const float *dy, float *dh, float *dgx, float *dgh) {
    for (int k = 0; k < N; k++) {
        const float *gk = g + (size_t)k * 3 * H;
        float *xk = dgx + (size_t)k * 3 * H, *hk = dgh + (size_t)k * 3 * H;
        size_t o = (size_t)k * H;
        gru_row_backward(H, gk, gk + H, gk + 2 * H, hn + o, h_prev + o, dy + o, dh + o, xk, xk + H,
                         xk + 2 * H, hk, hk + H, hk + 2 * H);
    }
}
