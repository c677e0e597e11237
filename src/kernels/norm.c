/* Per-channel loops for batch normalization. The
 * [N, C] layout (S = 1) runs along rows so the compiler vectorizes across
 * channels; the [N, C, S] layout runs along each channel's S values. */
#include "kernels/norm.h"

void sn_channel_moments(const float *x, int N, int C, int S, float *mean, float *var, double *acc) {
    const double inv_m = 1.0 / ((double)N * S);
    for (int c = 0; c < C; c++) acc[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C * S;
        if (S == 1) {
            for (int c = 0; c < C; c++) acc[c] += xn[c];
        } else {
            for (int c = 0; c < C; c++) {
                const float *xc = xn + (size_t)c * S;
                float s = 0; /* a short partial sum, then into double */
                for (int i = 0; i < S; i++) s += xc[i];
                acc[c] += s;
            }
        }
    }
    for (int c = 0; c < C; c++) mean[c] = (float)(acc[c] * inv_m), acc[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C * S;
        if (S == 1) {
            for (int c = 0; c < C; c++) {
                double d = (double)xn[c] - mean[c];
                acc[c] += d * d;
            }
        } else {
            for (int c = 0; c < C; c++) {
                const float *xc = xn + (size_t)c * S;
                const float mc = mean[c];
                float s = 0;
                for (int i = 0; i < S; i++) s += (xc[i] - mc) * (xc[i] - mc);
                acc[c] += s;
            }
        }
    }
    for (int c = 0; c < C; c++) var[c] = (float)(acc[c] * inv_m);
}

void sn_channel_affine(const float *x, float *y, int N, int C, int S, const float *a,
                       const float *b) {
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C * S;
        float *yn = y + (size_t)n * C * S;
        if (S == 1) {
            for (int c = 0; c < C; c++) yn[c] = a[c] * xn[c] + b[c];
        } else {
            for (int c = 0; c < C; c++) {
                const float ac = a[c], bc = b[c];
                const float *xc = xn + (size_t)c * S;
                float *yc = yn + (size_t)c * S;
                for (int i = 0; i < S; i++) yc[i] = ac * xc[i] + bc;
            }
        }
    }
}

void sn_channel_dot(const float *x, const float *dy, int N, int C, int S, const float *m,
                    float *sum_dy, float *sum_dyx, double *acc) {
    double *a1 = acc, *a2 = acc + C;
    for (int c = 0; c < C; c++) a1[c] = 0, a2[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C * S, *gn = dy + (size_t)n * C * S;
        if (S == 1) {
            for (int c = 0; c < C; c++) {
                a1[c] += gn[c];
                a2[c] += (double)gn[c] * ((double)xn[c] - m[c]);
            }
        } else {
            for (int c = 0; c < C; c++) {
                const float *xc = xn + (size_t)c * S, *gc = gn + (size_t)c * S;
                const float mc = m[c];
                float s1 = 0, s2 = 0;
                for (int i = 0; i < S; i++) {
                    s1 += gc[i];
                    s2 += gc[i] * (xc[i] - mc);
                }
                a1[c] += s1;
                a2[c] += s2;
            }
        }
    }
    for (int c = 0; c < C; c++) sum_dy[c] = (float)a1[c], sum_dyx[c] = (float)a2[c];
}

void sn_channel_affine2(const float *dy, const float *x, float *dx, int N, int C, int S,
                        const float *a, const float *b, const float *m, const float *d) {
    for (int n = 0; n < N; n++) {
        const float *gn = dy + (size_t)n * C * S, *xn = x + (size_t)n * C * S;
        float *dn = dx + (size_t)n * C * S;
        if (S == 1) {
            for (int c = 0; c < C; c++) dn[c] = a[c] * gn[c] + b[c] * (xn[c] - m[c]) + d[c];
        } else {
            for (int c = 0; c < C; c++) {
                const float ac = a[c], bc = b[c], mc = m[c], dc = d[c];
                const float *gc = gn + (size_t)c * S, *xc = xn + (size_t)c * S;
                float *oc = dn + (size_t)c * S;
                for (int i = 0; i < S; i++) oc[i] = ac * gc[i] + bc * (xc[i] - mc) + dc;
            }
        }
    }
}
