/* Per-channel loops for batch normalization. The
 * [N, C] layout (S = 1) runs along rows so the compiler vectorizes across
 * channels; the [N, C, S] layout runs along each channel's S values.
 *
 * [N, C, S] with S > 1: the channels are cut into contiguous ranges, one
 * chunk of sn_parallel each, and the elementwise loops into ranges of
 * planes; every value and every sum is computed as the plain loops below
 * them say, in the same order, whatever the split. The sum over a plane's
 * S values is one chain of float additions in i order; NS planes (samples
 * of one channel) are summed side by side, so that the chains overlap, and
 * then added into the double accumulator in sample order. */
#include "kernels/norm.h"

#include "core/threads.h"
#include "kernels/act.h"
#include "kernels/pool.h"

/* planes summed side by side */
#define NS 8
/* below this many values one thread does all */
#define NORM_MT_MIN (1 << 15)

static int norm_chunks(int N, int C, int S, int units) {
    if ((double)N * C * S < NORM_MT_MIN) return 1;
    int t = sn_get_threads();
    if (units > 4 * t) units = 4 * t; /* a few per thread: a late one catches up */
    return units < 1 ? 1 : units;
}

typedef struct {
    const float *x, *dy;
    float *out;
    int N, C, S, chunks;
    const float *a, *b, *m, *d;
    float *mean, *var, *sum_dy, *sum_dyx;
    double *acc;
} norm_job;

static void range(int total, int chunks, int t, int *lo, int *hi) {
    *lo = (int)((long)total * t / chunks);
    *hi = (int)((long)total * (t + 1) / chunks);
}

/* Σ over each of a channel's planes: s[k] = the chain sum of plane n + k. */
static void moments_chunk(void *ctx, int t) {
    const norm_job *j = ctx;
    const int N = j->N, C = j->C, S = j->S;
    const double inv_m = 1.0 / ((double)N * S);
    int c0, c1;
    range(C, j->chunks, t, &c0, &c1);
    for (int c = c0; c < c1; c++) {
        double acc = 0;
        int n = 0;
        for (; n + NS <= N; n += NS) {
            const float *xc[NS];
            float s[NS];
            for (int k = 0; k < NS; k++) {
                xc[k] = j->x + ((size_t)(n + k) * C + c) * S;
                s[k] = 0;
            }
            for (int i = 0; i < S; i++)
                for (int k = 0; k < NS; k++) s[k] += xc[k][i];
            for (int k = 0; k < NS; k++) acc += s[k];
        }
        for (; n < N; n++) {
            const float *xc = j->x + ((size_t)n * C + c) * S;
            float s = 0;
            for (int i = 0; i < S; i++) s += xc[i];
            acc += s;
        }
        const float mc = j->mean[c] = (float)(acc * inv_m);
        acc = 0;
        for (n = 0; n + NS <= N; n += NS) {
            const float *xc[NS];
            float s[NS];
            for (int k = 0; k < NS; k++) {
                xc[k] = j->x + ((size_t)(n + k) * C + c) * S;
                s[k] = 0;
            }
            for (int i = 0; i < S; i++)
                for (int k = 0; k < NS; k++) s[k] += (xc[k][i] - mc) * (xc[k][i] - mc);
            for (int k = 0; k < NS; k++) acc += s[k];
        }
        for (; n < N; n++) {
            const float *xc = j->x + ((size_t)n * C + c) * S;
            float s = 0;
            for (int i = 0; i < S; i++) s += (xc[i] - mc) * (xc[i] - mc);
            acc += s;
        }
        j->acc[c] = acc;
        j->var[c] = (float)(acc * inv_m);
    }
}

void sn_channel_moments(const float *x, int N, int C, int S, float *mean, float *var, double *acc) {
    const double inv_m = 1.0 / ((double)N * S);
    if (S > 1) {
        norm_job j = {.x = x, .N = N, .C = C, .S = S, .mean = mean, .var = var, .acc = acc};
        j.chunks = norm_chunks(N, C, S, C);
        sn_parallel(j.chunks, moments_chunk, &j);
        return;
    }
    for (int c = 0; c < C; c++) acc[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C;
        for (int c = 0; c < C; c++) acc[c] += xn[c];
    }
    for (int c = 0; c < C; c++) mean[c] = (float)(acc[c] * inv_m), acc[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            double d = (double)xn[c] - mean[c];
            acc[c] += d * d;
        }
    }
    for (int c = 0; c < C; c++) var[c] = (float)(acc[c] * inv_m);
}

/* planes [p0, p1) of y = a·x + b */
static void affine_chunk(void *ctx, int t) {
    const norm_job *j = ctx;
    const int C = j->C, S = j->S;
    int p0, p1;
    range(j->N * C, j->chunks, t, &p0, &p1);
    for (int p = p0; p < p1; p++) {
        const int c = p % C;
        const float ac = j->a[c], bc = j->b[c];
        const float *xc = j->x + (size_t)p * S;
        float *yc = j->out + (size_t)p * S;
        for (int i = 0; i < S; i++) yc[i] = ac * xc[i] + bc;
    }
}

void sn_channel_affine(const float *x, float *y, int N, int C, int S, const float *a,
                       const float *b) {
    if (S > 1) {
        norm_job j = {.x = x, .out = y, .N = N, .C = C, .S = S, .a = a, .b = b};
        j.chunks = norm_chunks(N, C, S, N * C);
        sn_parallel(j.chunks, affine_chunk, &j);
        return;
    }
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C;
        float *yn = y + (size_t)n * C;
        for (int c = 0; c < C; c++) yn[c] = a[c] * xn[c] + b[c];
    }
}

static void dot_chunk(void *ctx, int t) {
    const norm_job *j = ctx;
    const int N = j->N, C = j->C, S = j->S;
    int c0, c1;
    range(C, j->chunks, t, &c0, &c1);
    for (int c = c0; c < c1; c++) {
        const float mc = j->m[c];
        double a1 = 0, a2 = 0;
        int n = 0;
        for (; n + NS <= N; n += NS) {
            const float *xc[NS], *gc[NS];
            float s1[NS], s2[NS];
            for (int k = 0; k < NS; k++) {
                xc[k] = j->x + ((size_t)(n + k) * C + c) * S;
                gc[k] = j->dy + ((size_t)(n + k) * C + c) * S;
                s1[k] = s2[k] = 0;
            }
            for (int i = 0; i < S; i++)
                for (int k = 0; k < NS; k++) {
                    s1[k] += gc[k][i];
                    s2[k] += gc[k][i] * (xc[k][i] - mc);
                }
            for (int k = 0; k < NS; k++) {
                a1 += s1[k];
                a2 += s2[k];
            }
        }
        for (; n < N; n++) {
            const float *xc = j->x + ((size_t)n * C + c) * S, *gc = j->dy + ((size_t)n * C + c) * S;
            float s1 = 0, s2 = 0;
            for (int i = 0; i < S; i++) {
                s1 += gc[i];
                s2 += gc[i] * (xc[i] - mc);
            }
            a1 += s1;
            a2 += s2;
        }
        j->acc[c] = a1;
        j->acc[C + c] = a2;
        j->sum_dy[c] = (float)a1;
        j->sum_dyx[c] = (float)a2;
    }
}

void sn_channel_dot(const float *x, const float *dy, int N, int C, int S, const float *m,
                    float *sum_dy, float *sum_dyx, double *acc) {
    if (S > 1) {
        norm_job j = {.x = x,
                      .dy = dy,
                      .N = N,
                      .C = C,
                      .S = S,
                      .m = m,
                      .sum_dy = sum_dy,
                      .sum_dyx = sum_dyx,
                      .acc = acc};
        j.chunks = norm_chunks(N, C, S, C);
        sn_parallel(j.chunks, dot_chunk, &j);
        return;
    }
    double *a1 = acc, *a2 = acc + C;
    for (int c = 0; c < C; c++) a1[c] = 0, a2[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C, *gn = dy + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            a1[c] += gn[c];
            a2[c] += (double)gn[c] * ((double)xn[c] - m[c]);
        }
    }
    for (int c = 0; c < C; c++) sum_dy[c] = (float)a1[c], sum_dyx[c] = (float)a2[c];
}

/* planes [p0, p1) of dx = a·dy + b·(x − m) + d */
static void affine2_chunk(void *ctx, int t) {
    const norm_job *j = ctx;
    const int C = j->C, S = j->S;
    int p0, p1;
    range(j->N * C, j->chunks, t, &p0, &p1);
    for (int p = p0; p < p1; p++) {
        const int c = p % C;
        const float ac = j->a[c], bc = j->b[c], mc = j->m[c], dc = j->d[c];
        const float *gc = j->dy + (size_t)p * S, *xc = j->x + (size_t)p * S;
        float *oc = j->out + (size_t)p * S;
        for (int i = 0; i < S; i++) oc[i] = ac * gc[i] + bc * (xc[i] - mc) + dc;
    }
}

void sn_channel_affine2(const float *dy, const float *x, float *dx, int N, int C, int S,
                        const float *a, const float *b, const float *m, const float *d) {
    if (S > 1) {
        norm_job j = {
            .x = x, .dy = dy, .out = dx, .N = N, .C = C, .S = S, .a = a, .b = b, .m = m, .d = d};
        j.chunks = norm_chunks(N, C, S, N * C);
        sn_parallel(j.chunks, affine2_chunk, &j);
        return;
    }
    for (int n = 0; n < N; n++) {
        const float *gn = dy + (size_t)n * C, *xn = x + (size_t)n * C;
        float *dn = dx + (size_t)n * C;
        for (int c = 0; c < C; c++) dn[c] = a[c] * gn[c] + b[c] * (xn[c] - m[c]) + d[c];
    }
}

typedef struct {
    const float *x;
    float *y, *r, *p;
    unsigned char *arg;
    int N, C, S, chunks;
    const float *a, *b;
    const sn_conv_geom *pool;
} fused_job;

/* samples [n0, n1): affine, ReLU, pooling, each while the sample is in the cache */
static void affine_relu_pool_chunk(void *ctx, int t) {
    const fused_job *j = ctx;
    const int C = j->C, S = j->S;
    const size_t in = (size_t)C * S, out = (size_t)C * j->pool->OH * j->pool->OW;
    int n0, n1;
    range(j->N, j->chunks, t, &n0, &n1);
    for (int n = n0; n < n1; n++) {
        /* not kept: y and r of every sample in the first sample's place */
        float *yn = j->y + in * (j->r ? n : n0), *rn = j->r ? j->r + in * n : yn;
        for (int c = 0; c < C; c++) {
            const float ac = j->a[c], bc = j->b[c];
            const float *xc = j->x + in * n + (size_t)c * S;
            float *yc = yn + (size_t)c * S;
            for (int i = 0; i < S; i++) yc[i] = ac * xc[i] + bc;
        }
        sn_act_forward(SN_ACT_RELU, 0.0f, yn, rn, in);
        sn_maxpool_forward_arg(j->pool, 1, rn, j->p + out * n, j->arg + out * n);
    }
}

void sn_channel_affine_relu_pool(const float *x, float *y, float *r, float *p, unsigned char *arg,
                                 int N, int C, int S, const float *a, const float *b,
                                 const sn_conv_geom *pool) {
    fused_job j = {.x = x,
                   .y = y,
                   .r = r,
                   .p = p,
                   .arg = arg,
                   .N = N,
                   .C = C,
                   .S = S,
                   .a = a,
                   .b = b,
                   .pool = pool};
    j.chunks = norm_chunks(N, C, S, N);
    sn_parallel(j.chunks, affine_relu_pool_chunk, &j);
}
