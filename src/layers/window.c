/* Window arguments of conv2d and the pooling layers (see window.h). */
#include "layers/window.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MAX (1 << 20)

static int parse_int(const char *s, char **end, long *v) {
    errno = 0;
    *v = strtol(s, end, 10);
    return *end != s && errno == 0 && s[0] >= '0' && s[0] <= '9';
}

sn_status sn_window_pair(const sn_layer_args *a, const char *what, const char *s, int lo, int *h,
                         int *w, sn_error *err) {
    char *end;
    long x, y;
    int ok = parse_int(s, &end, &x);
    if (ok && *end == 'x')
        ok = parse_int(end + 1, &end, &y);
    else
        y = x;
    if (!ok || *end || x < lo || y < lo || x > WINDOW_MAX || y > WINDOW_MAX)
        return sn_fail(err, SN_ERR_FORMAT, "%s: %s must be N or HxW with integers >= %d, got '%s'",
                       a->kind, what, lo, s);
    *h = (int)x;
    *w = (int)y;
    return SN_OK;
}

/* Output size along one dimension for explicit padding; < 1 when the window
 * does not fit. */
static long out_size(long in, long k, long s, long p) {
    long span = in + 2 * p - k;
    return span < 0 ? 0 : span / s + 1;
}

sn_status sn_window_geom(sn_layer_args *a, int kh, int kw, int def_stride, int allow_same,
                         sn_conv_geom *g, int *same, sn_error *err) {
    memset(g, 0, sizeof *g);
    *same = 0;
    if (a->in_ndim != 3) {
        char got[48];
        int k = 0;
        for (int i = 0; i < a->in_ndim; i++)
            k += snprintf(got + k, sizeof got - (size_t)k, i ? "x%d" : "%d", a->in_shape[i]);
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s needs a CxHxW input (e.g. 'input 1x28x28'), got %s (put it before "
                       "flatten and dense)",
                       a->kind, got);
    }
    g->C = a->in_shape[0], g->H = a->in_shape[1], g->W = a->in_shape[2];
    g->kh = kh, g->kw = kw;
    g->sh = def_stride ? def_stride : kh;
    g->sw = def_stride ? def_stride : kw;
    const char *st = sn_args_opt_str(a, "stride", NULL), *pd = sn_args_opt_str(a, "pad", "0");
    sn_status s = SN_OK;
    if (st) s = sn_window_pair(a, "stride", st, 1, &g->sh, &g->sw, err);
    if (s != SN_OK) return s;
    if (strcmp(pd, "same") == 0) {
        if (!allow_same)
            return sn_fail(err, SN_ERR_FORMAT, "%s: pad=same is not available, give pad=P",
                           a->kind);
        *same = 1;
        g->OH = (g->H + g->sh - 1) / g->sh;
        g->OW = (g->W + g->sw - 1) / g->sw;
        long th = (long)(g->OH - 1) * g->sh + kh - g->H, tw = (long)(g->OW - 1) * g->sw + kw - g->W;
        g->ph = th > 0 ? (int)(th / 2) : 0;
        g->pw = tw > 0 ? (int)(tw / 2) : 0;
        return SN_OK;
    }
    s = sn_window_pair(a, allow_same ? "pad (N, HxW or same)" : "pad", pd, 0, &g->ph, &g->pw, err);
    if (s != SN_OK) return s;
    if (!allow_same && (2 * g->ph > kh || 2 * g->pw > kw))
        return sn_fail(err, SN_ERR_FORMAT, "%s: pad %dx%d is more than half the %dx%d window",
                       a->kind, g->ph, g->pw, kh, kw);
    long oh = out_size(g->H, kh, g->sh, g->ph), ow = out_size(g->W, kw, g->sw, g->pw);
    if (oh < 1 || ow < 1)
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s: the %dx%d window does not fit the %dx%dx%d input with padding %dx%d",
                       a->kind, kh, kw, g->C, g->H, g->W, g->ph, g->pw);
    g->OH = (int)oh;
    g->OW = (int)ow;
    return SN_OK;
}

void sn_window_desc(const sn_conv_geom *g, int same, int def_stride, char *buf, size_t len) {
    int k = snprintf(buf, len, "%dx%d", g->kh, g->kw);
    int dsh = def_stride ? def_stride : g->kh, dsw = def_stride ? def_stride : g->kw;
    if ((g->sh != dsh || g->sw != dsw) && k < (int)len)
        k += snprintf(buf + k, len - (size_t)k, " stride=%dx%d", g->sh, g->sw);
    if (same && k < (int)len)
        snprintf(buf + k, len - (size_t)k, " pad=same");
    else if ((g->ph || g->pw) && k < (int)len)
        snprintf(buf + k, len - (size_t)k, " pad=%dx%d", g->ph, g->pw);
}
