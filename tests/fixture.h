/* Reading the PyTorch parity fixtures (the .safetensors files in
 * tests/parity/fixtures/, written by tests/parity/gen.py) and comparing
 * against them.
 *
 * The two error measures of the suite, a = ours, r = the reference:
 *
 *   element-wise  e = max_i |a_i - r_i| / max(|r_i|, rms(r))
 *                 for float32 element-wise operations (activations, loss
 *                 gradients, optimizer updates): bound 1e-6, a few float32
 *                 roundings. Values much smaller than the tensor's typical
 *                 size are held to the same absolute error as typical ones
 *                 (a relative error of e.g. tanh x near 0 or of a derivative
 *                 near one of its zeros is not what float32 code can bound);
 *   norm-wise     e = ||a - r||_2 / ||r||_2
 *                 for reductions and GEMM (dense layers, softmax, whole
 *                 models, losses): bound 1e-5, since the summation order
 *                 differs from PyTorch's. */
#ifndef SN_TEST_FIXTURE_H
#define SN_TEST_FIXTURE_H

#include "check.h"
#include "core/error.h"
#include "model/safetensors.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FIXTURE_ELEM_BOUND 1e-6
#define FIXTURE_NORM_BOUND 1e-5

/* Opens tests/parity/fixtures/NAME; a failure is a failed check. */
static inline int fixture_open(sn_st_file *f, const char *name) {
    char path[1024];
    sn_error err = {0};
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/%s", SN_SOURCE_DIR, name);
    if (sn_st_load(path, f, &err) != SN_OK) {
        fprintf(stderr, "cannot read fixture (regenerate with `make parity-fixtures`): %s\n",
                err.msg);
        CHECK(0);
        return 0;
    }
    return 1;
}

/* The tensor named by the printf-style format, or NULL. */
static inline const sn_st_entry *fixture_find(const sn_st_file *f, const char *fmt, ...)
    SN_PRINTF(2, 3);
static inline const sn_st_entry *fixture_find(const sn_st_file *f, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return sn_st_find(f, name);
}

/* Element-wise error (see the top of this file). NaN anywhere gives NaN. */
static inline double fixture_err_elem(const float *a, const float *r, size_t n) {
    double ss = 0, worst = 0;
    for (size_t i = 0; i < n; i++) ss += (double)r[i] * r[i];
    double rms = n ? sqrt(ss / (double)n) : 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - r[i]), s = fabs((double)r[i]);
        if (s < rms) s = rms;
        if (s < FLT_MIN) s = FLT_MIN;
        double e = d / s;
        if (isnan(e) || isnan((double)a[i])) return NAN;
        if (e > worst) worst = e;
    }
    return worst;
}

/* Norm-wise error. A reference of all zeros needs an exact zero. */
static inline double fixture_err_norm(const float *a, const float *r, size_t n) {
    double dd = 0, rr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - r[i];
        dd += d * d;
        rr += (double)r[i] * r[i];
    }
    if (rr == 0) return dd == 0 ? 0 : INFINITY;
    return sqrt(dd / rr);
}

/* Compares n values of ours with the reference tensor (whose size must be
 * n) under the element-wise (elem != 0) or norm-wise bound. Returns the
 * error; a missing reference or a size mismatch fails the check. */
static inline double fixture_compare(const char *what, const float *a, size_t n,
                                     const sn_st_entry *r, int elem) {
    if (!r || r->size != n) {
        fprintf(stderr, "%s: reference %s (%zu values, ours %zu)\n", what,
                r ? "has the wrong size" : "missing", r ? r->size : 0, n);
        CHECK(0);
        return INFINITY;
    }
    double e = elem ? fixture_err_elem(a, r->data, n) : fixture_err_norm(a, r->data, n);
    double bound = elem ? FIXTURE_ELEM_BOUND : FIXTURE_NORM_BOUND;
    if (!(e <= bound))
        fprintf(stderr, "%s: %s error %.3g exceeds %.0e\n", what,
                elem ? "element-wise" : "norm-wise", e, bound);
    CHECK(e <= bound);
    return e;
}

#endif
