/* Convolution kernels over NCHW batches (src/kernels/im2col.c), and the
 * window geometry pooling (pool.h) shares.
 *
 * A window geometry covers convolution and pooling alike: an input image
 * [C, H, W], a kh x kw window moved by (sh, sw), ph rows of zeros above and pw
 * columns of zeros left of the image (rows below / columns right of it follow
 * from the output size). Output pixel (i, j) reads input pixels
 *
 *   (i·sh - ph + a,  j·sw - pw + b),   0 <= a < kh, 0 <= b < kw,
 *
 * and positions outside the image read as zero (convolution, average pooling)
 * or are skipped (max pooling).
 *
 * Threads: the batch is cut into equal contiguous ranges of samples (or of
 * image planes), one per thread, with OpenMP static partitioning; a sample's
 * results never depend on the thread count. Sums over the batch (the filter
 * and bias gradients) are formed per thread and then added in thread order,
 * so they are bitwise reproducible for a given thread count. No function here
 * allocates memory: scratch space comes from sn_conv_scratch_size. */
#ifndef SN_KERNELS_CONV_H
#define SN_KERNELS_CONV_H

#include <stddef.h>

typedef struct sn_conv_geom {
    int C, H, W; /* input channels, height, width */
    int kh, kw;  /* window height, width */
    int sh, sw;  /* strides */
    int ph, pw;  /* zero rows above, zero columns left of the image */
    int OH, OW;  /* output height, width */
} sn_conv_geom;

/* ---- im2col / col2im (one image) ------------------------------------------ */

/* col[(c·kh + a)·kw + b, i·OW + j] = x[c, i·sh - ph + a, j·sw - pw + b]
 * (0 outside the image).  x: [C, H, W]  col: [C·kh·kw, OH·OW] */
void sn_im2col(const sn_conv_geom *g, const float *x, float *col);

/* The adjoint of im2col: every column entry is added back to the pixel it
 * was copied from (entries that came from the padding are dropped).
 * dx is overwritten:  dx[c, y, x] = Σ over all (a, b, i, j) with
 * i·sh - ph + a = y and j·sw - pw + b = x of dcol[(c·kh + a)·kw + b, i·OW + j]. */
void sn_col2im(const sn_conv_geom *g, const float *dcol, float *dx);

/* ---- convolution over a batch ---------------------------------------------- */

/* Floats of scratch space the convolution needs for up to `threads` threads
 * with F filters; pass a buffer of at least this size to the functions below
 * together with the same `threads`. */
size_t sn_conv_scratch_size(const sn_conv_geom *g, int F, int threads);

/* The number of threads the convolution would use now for a batch of n with
 * scratch for `slots` threads: min(sn_get_threads(), n, slots). */
int sn_conv_threads(int n, int slots);

/* y[n, f] = b[f] + Σ_c W[f, c] ⋆ x[n, c]  (cross-correlation, as PyTorch).
 * x: [N, C, H, W]  w: [F, C, kh, kw]  b: [F]  y: [N, F, OH, OW]
 * Per sample: y_n[F, OH·OW] = w[F, C·kh·kw] · im2col(x_n) + b. */
void sn_conv2d_forward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                       const float *b, float *y, float *scratch, int slots);

/* Gradients from dy: [N, F, OH, OW]:
 *   dw[F, C·kh·kw] = Σ_n dy_n · im2col(x_n)ᵀ      db[f] = Σ_n Σ_pixels dy_n[f]
 *   dx_n = col2im(wᵀ · dy_n)                       (skipped when dx == NULL)
 * dw, db and dx are overwritten. */
void sn_conv2d_backward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                        const float *dy, float *dw, float *db, float *dx, float *scratch,
                        int slots);

/* ---- convolution, ReLU and max pooling in one pass ------------------------- */

/* The layers that may follow a convolution, run sample by sample while the
 * sample is still in the cache; every tensor is [N, ...] as the layers one
 * by one would have it, and every value comes out bit for bit as theirs
 * (sn_act_forward / sn_act_backward with SN_ACT_RELU, sn_maxpool_forward /
 * sn_maxpool_backward with `pool`, whose C is the convolution's F).
 *
 *   forward:  y = conv(x)   r = max(y, 0)   p = maxpool(r)   (p: pool != NULL)
 *   backward: dr = maxpool_backward(r, p, dp)   (dr given when pool == NULL)
 *             (or sn_maxpool_relu_backward from arg, which gives dy too)
 *             dy = dr ⊙ (y > 0), then the convolution's gradients from dy */
typedef struct sn_conv_fused {
    /* conv output, ReLU output: y is written unless NULL; r is written
     * unless NULL, which only pooling with arg allows (backward reads r
     * otherwise) */
    float *y, *r;
    const sn_conv_geom *pool; /* NULL: no pooling */
    float *p;                 /* pooled output (pool != NULL) */
    /* forward: filled with pool's window positions (pool.h, arg), or NULL;
     * backward: read instead of r and p, or NULL */
    unsigned char *arg;
    const float *dp; /* backward: dL/dp (pool != NULL) */
    float *dr;       /* dL/dr: written when pool != NULL (unless NULL), else read */
    float *dy;       /* dL/dy: written unless NULL */
} sn_conv_fused;

void sn_conv2d_relu_forward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                            const float *b, const sn_conv_fused *f, float *scratch, int slots);
void sn_conv2d_relu_backward(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                             const sn_conv_fused *f, float *dw, float *db, float *dx,
                             float *scratch, int slots);

#endif
