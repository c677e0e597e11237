#include "core/error.h"

#include <string.h>

static int shape_size(int ndim, const int *shape, size_t *size) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !sn_mul_ok(n, (size_t)shape[i], &n)) return 0;
    }
    *size = n;
    return 1;
}

sn_status sn_tensor_alloc(sn_tensor *t, int ndim, const int *shape, sn_error *err) {
    memset(t, 0, sizeof *t);
    if (ndim < 1 || ndim > SN_MAX_DIMS)
        return sn_fail(err, SN_ERR_ARG, "tensor: %d dimensions (1 to %d allowed)", ndim,
                       SN_MAX_DIMS);
    size_t size;
    if (!shape_size(ndim, shape, &size))
        return sn_fail(err, SN_ERR_NOMEM, "tensor: shape overflows or is negative");
    t->data = sn_alloc(size, sizeof(float));
    if (!t->data) return sn_fail(err, SN_ERR_NOMEM, "tensor: cannot allocate %zu floats", size);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    t->size = size;
    t->owns = 1;
    return SN_OK;
}

void sn_tensor_free(sn_tensor *t) {
    if (t->owns) sn_free(t->data);
    memset(t, 0, sizeof *t);
}

sn_tensor sn_tensor_view(float *data, int ndim, const int *shape) {
    sn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.ndim = ndim;
    t.size = 1;
    for (int i = 0; i < ndim; i++) {
        t.shape[i] = shape[i];
        t.size *= (size_t)shape[i];
    }
    return t;
}
