/* The model: forward through the layers, loss, backward in reverse order.
 *
 *   act[0] = x,  act[i+1] = layer_i(act[i])               (forward)
 *   grad[L] = dLoss/d act[L]                               (loss)
 *   grad[i] = layer_i.backward(grad[i+1]), params' grads    (backward)
 */
#include "model/model.h"

#include "data/pipeline.h"
#include "optim/optim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_model_free(sn_model *m) {
    if (!m) return;
    for (int i = 0; i < m->nlayers; i++) sn_layer_free(m->layers[i]);
    for (int i = 0; i <= SN_MAX_LAYERS; i++) {
        sn_tensor_free(&m->act[i]);
        sn_tensor_free(&m->grad[i]);
    }
    sn_free(m->spec);
    sn_preprocess_free(m->pre);
    sn_free(m);
}

/* Shape of act[i] for one sample. */
static void act_shape(const sn_model *m, int i, int *ndim, int *shape) {
    if (i == 0) {
        *ndim = m->in_ndim;
        memcpy(shape, m->in_shape, 3 * sizeof(int));
    } else {
        *ndim = m->layers[i - 1]->out_ndim;
        memcpy(shape, m->layers[i - 1]->out_shape, 3 * sizeof(int));
    }
}

/* ---- memory ------------------------------------------------------------------ */

static size_t memory_limit; /* 0: what /proc/meminfo says is available */

void sn_set_memory_limit(size_t bytes) {
    memory_limit = bytes;
}

size_t sn_memory_limit(void) {
    if (memory_limit) return memory_limit;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib && kib < SIZE_MAX / 1024 ? (size_t)kib * 1024 : SIZE_MAX;
}

void sn_format_bytes(size_t n, char *buf, size_t len) {
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 6) v /= 1024, u++;
    if (u == 0)
        snprintf(buf, len, "%zu B", n);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
}

/* a + b·c, saturating */
static size_t add_mul(size_t a, size_t b, size_t c) {
    size_t bc;
    if (!sn_mul_ok(b, c, &bc) || a > SIZE_MAX - bc) return SIZE_MAX;
    return a + bc;
}

/* Sums what sn_model_reserve(m, max_batch) and then sn_optimizer_new would
 * allocate to what the model holds already. */
void sn_model_memory(const sn_model *m, int max_batch, sn_memory *out) {
    memset(out, 0, sizeof *out);
    size_t B = (size_t)(max_batch < 1 ? 1 : max_batch), trained = 0;
    for (int i = 0; i < m->nparams; i++) {
        out->params = add_mul(out->params, m->params[i]->value.size, sizeof(float));
        if (!m->params[i]->buffer) trained += m->params[i]->value.size;
    }
    out->grads = out->params;
    out->optimizer = add_mul(0, trained, (size_t)sn_optimizer_state_per_param(&m->cfg) * 4);
    for (int i = 0; i <= m->nlayers; i++) {                    /* act[i] and grad[i], [B, shape] */
        if (i > 0 && m->layers[i - 1]->ops->reshape) continue; /* act[i - 1]'s storage */
        int ndim, shape[4];
        act_shape(m, i, &ndim, shape);
        size_t n = add_mul(0, sn_shape_size(ndim, shape), B);
        out->activations = add_mul(out->activations, n, 2 * sizeof(float));
    }
    for (int i = 0; i < m->nlayers; i++) {
        const sn_layer *l = m->layers[i];
        if (l->reserve_bytes)
            out->scratch = add_mul(out->scratch, l->reserve_bytes(l, max_batch), 1);
    }
    size_t parts[5] = {out->params, out->grads, out->optimizer, out->activations, out->scratch};
    for (int i = 0; i < 5; i++) out->total = add_mul(out->total, parts[i], 1);
}

sn_status sn_model_reserve(sn_model *m, int max_batch, sn_error *err) {
    if (max_batch < 1) return sn_fail(err, SN_ERR_ARG, "batch size %d < 1", max_batch);
    if (max_batch <= m->max_batch) return SN_OK;
    /* the whole figure first: nothing is taken for a model that cannot fit */
    sn_memory mem;
    sn_model_memory(m, max_batch, &mem);
    size_t limit = sn_memory_limit();
    if (mem.total > limit) {
        char t[32], l[32], a[32], s[32], p[32];
        sn_format_bytes(mem.total, t, sizeof t);
        sn_format_bytes(limit, l, sizeof l);
        sn_format_bytes(mem.activations, a, sizeof a);
        sn_format_bytes(mem.scratch, s, sizeof s);
        sn_format_bytes(mem.params + mem.grads + mem.optimizer, p, sizeof p);
        return sn_fail(err, SN_ERR_NOMEM,
                       "the model needs %s for a batch of %d (parameters, gradients and optimizer "
                       "state %s, activations %s, scratch %s), more than the %s %s",
                       t, max_batch, p, a, s, l,
                       memory_limit ? "allowed (--max-memory)" : "of memory available");
    }
    m->batch = 0; /* the buffers of the last forward pass are gone */
    for (int i = 0; i <= m->nlayers; i++) {
        int ndim, shape[4];
        act_shape(m, i, &ndim, shape + 1);
        shape[0] = max_batch;
        sn_tensor_free(&m->act[i]);
        sn_tensor_free(&m->grad[i]);
        if (i > 0 && m->layers[i - 1]->ops->reshape) {
            /* the input's values under another shape: its storage, no copy */
            m->act[i] = sn_tensor_view(m->act[i - 1].data, ndim + 1, shape);
            m->grad[i] = sn_tensor_view(m->grad[i - 1].data, ndim + 1, shape);
            continue;
        }
        sn_status s = sn_tensor_alloc(&m->act[i], ndim + 1, shape, err);
        if (s == SN_OK) s = sn_tensor_alloc(&m->grad[i], ndim + 1, shape, err);
        if (s != SN_OK) {
            m->max_batch = 0;
            return sn_wrap(err, "workspace for batch %d", max_batch);
        }
    }
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer *l = m->layers[i];
        if (l->reserve && l->reserve(l, max_batch, err) != SN_OK) {
            m->max_batch = 0;
            return sn_wrap(err, "layer %d (%s)", i, l->desc);
        }
    }
    m->max_batch = max_batch;
    return SN_OK;
}

/* act[i] or grad[i] seen as a tensor of n samples. */
static sn_tensor batch_view(const sn_tensor *t, int n) {
    sn_tensor v = *t;
    v.owns = 0;
    v.size = v.size / (size_t)v.shape[0] * (size_t)n;
    v.shape[0] = n;
    return v;
}

/* The O(1)-per-layer checks of a forward pass of n rows. */
static sn_status check_rows(const sn_model *m, int n, sn_error *err) {
    if (m->max_batch < 1)
        return sn_fail(err, SN_ERR_ARG,
                       "forward pass before any batch was reserved (sn_model_reserve)");
    if (n < 1 || n > m->max_batch)
        return sn_fail(err, SN_ERR_ARG,
                       "forward pass of %d rows: the model is reserved for 1 to %d", n,
                       m->max_batch);
    for (int i = 0; i < m->nlayers; i++) {
        const sn_layer *l = m->layers[i];
        int T = l->seq_len > 0 ? l->seq_len : 1;
        if (l->ops->carry_state && n % T != 0)
            return sn_fail(err, SN_ERR_ARG,
                           "forward pass of %d rows: layer %d (%s) takes sequences of %d steps, "
                           "and %d is not a multiple of %d",
                           n, i, l->desc, T, n, T);
    }
    return SN_OK;
}

/* How many layers after layer i it runs in its own pass (layer.h: fuse). */
static int fused(const sn_model *m, int i) {
    const sn_layer *l = m->layers[i];
    if (!l->ops->fuse) return 0;
    int avail = m->nlayers - i - 1, k = l->ops->fuse(l, m->layers + i + 1, avail);
    if (k > avail) k = avail;
    return k < 0 ? 0 : k > SN_MAX_FUSED ? SN_MAX_FUSED : k;
}

/* Layers 0 .. L−1 on act[0] (n rows). */
static void run_layers(sn_model *m, int n, int train) {
    m->rng_forward = m->rng;
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer *l = m->layers[i];
        if (n == 1 && !train && l->ops->forward_one) { /* one sample: layers i .. i+k */
            i += l->ops->forward_one(l, m->layers + i + 1, m->nlayers - i - 1, m->act + i);
            continue;
        }
        int k = fused(m, i);
        if (k > 0) { /* layers i .. i+k in one pass */
            sn_tensor a[SN_MAX_FUSED + 2];
            for (int u = 0; u <= k + 1; u++) a[u] = batch_view(&m->act[i + u], n);
            l->ops->forward_fused(l, m->layers + i + 1, k, a, train, m->keep_all);
            i += k;
            continue;
        }
        sn_tensor a = batch_view(&m->act[i], n), y = batch_view(&m->act[i + 1], n);
        l->ops->forward(l, &a, &y, train);
    }
    m->out_view = batch_view(&m->act[m->nlayers], n);
}

sn_status sn_model_forward(sn_model *m, const float *x, int n, int train, sn_error *err) {
    sn_status s = check_rows(m, n, err);
    if (s != SN_OK) return s;
    m->batch = n;
    if (train) sn_model_params_changed(m); /* a training step's writes follow */
    sn_tensor in = batch_view(&m->act[0], n);
    if (x != in.data) memcpy(in.data, x, in.size * sizeof(float));
    sn_preprocess_apply(m->pre, in.data, n);
    run_layers(m, n, train);
    return SN_OK;
}

void sn_model_replay(sn_model *m, int train) {
    if (m->batch < 1) return;
    sn_rng now = m->rng;
    int keep = m->keep_all;
    m->rng = m->rng_forward;
    m->keep_all = 1;
    run_layers(m, m->batch, train);
    m->keep_all = keep;
    m->rng = now;
}

const sn_tensor *sn_model_output(const sn_model *m) {
    return &m->out_view;
}

double sn_model_loss(sn_model *m, const int *labels, const float *targets) {
    return sn_loss(m->loss, &m->out_view, labels, targets, NULL);
}

sn_status sn_model_backward(sn_model *m, const int *labels, const float *targets, double *loss_out,
                            sn_error *err) {
    int n = m->batch, L = m->nlayers;
    if (n < 1) return sn_fail(err, SN_ERR_ARG, "backward pass without a forward pass before it");
    sn_tensor dout = batch_view(&m->grad[L], n);
    double loss = sn_loss(m->loss, &m->out_view, labels, targets, &dout);
    /* Below the lowest layer with parameters no gradient is needed (e.g.
     * onehot before a recurrent layer), unless dL/dx itself is wanted. */
    int lowest = 0;
    if (!m->input_grad)
        while (lowest < L - 1 && m->layers[lowest]->nparams == 0) lowest++;
    int start[SN_MAX_LAYERS]; /* the first layer of the pass forward ran layer i in */
    for (int i = 0; i < L; i++) {
        int k = fused(m, i);
        for (int u = 0; u <= k; u++) start[i + u] = i;
        i += k;
    }
    for (int i = L - 1; i >= lowest; i--) {
        int first = start[i];
        if (first < i && first >= lowest) { /* layers first .. i in one pass */
            sn_layer *l = m->layers[first];
            int k = i - first;
            sn_tensor a[SN_MAX_FUSED + 2], d[SN_MAX_FUSED + 2];
            for (int u = 0; u <= k + 1; u++) {
                a[u] = batch_view(&m->act[first + u], n);
                d[u] = batch_view(&m->grad[first + u], n);
            }
            l->ops->backward_fused(l, m->layers + first + 1, k, a, d,
                                   first > lowest || m->input_grad, m->keep_all);
            for (; i >= first; i--)
                if (m->grads_ready) m->grads_ready(m->grads_ready_ctx, i);
            i++; /* the loop's i-- moves on to first - 1 */
            continue;
        }
        sn_tensor x = batch_view(&m->act[i], n), y = batch_view(&m->act[i + 1], n);
        sn_tensor dy = batch_view(&m->grad[i + 1], n), dx = batch_view(&m->grad[i], n);
        m->layers[i]->ops->backward(m->layers[i], &x, &y, &dy,
                                    i > lowest || m->input_grad ? &dx : NULL);
        if (m->grads_ready) m->grads_ready(m->grads_ready_ctx, i);
    }
    if (loss_out) *loss_out = loss;
    return SN_OK;
}

int sn_model_correct(const sn_model *m, const int *labels) {
    return sn_loss_correct(m->loss, &m->out_view, labels);
}

sn_status sn_model_predict(sn_model *m, const float *x, int n, float *out, sn_error *err) {
    sn_status s = sn_model_forward(m, x, n, 0, err);
    if (s != SN_OK) return s;
    sn_tensor o = sn_tensor_view(out, 2, m->out_view.shape);
    sn_loss_output(m->loss, &m->out_view, &o);
    return SN_OK;
}

int sn_model_is_recurrent(const sn_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i]->ops->reset_state) return 1;
    return 0;
}

sn_status sn_model_set_seq_len(sn_model *m, int T, sn_error *err) {
    if (T < 1) return sn_fail(err, SN_ERR_ARG, "sequence length %d < 1", T);
    for (int i = 0; i < m->nlayers; i++) m->layers[i]->seq_len = T;
    return SN_OK;
}

void sn_model_reset_state(sn_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i]->ops->reset_state) m->layers[i]->ops->reset_state(m->layers[i]);
}

void sn_model_carry_state(sn_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i]->ops->carry_state) m->layers[i]->ops->carry_state(m->layers[i]);
}

sn_train_config *sn_model_config(sn_model *m) {
    return &m->cfg;
}
const char *sn_model_spec(const sn_model *m) {
    return m->spec;
}
int sn_model_num_layers(const sn_model *m) {
    return m->nlayers;
}
size_t sn_model_input_size(const sn_model *m) {
    return sn_shape_size(m->in_ndim, m->in_shape);
}

int sn_model_output_size(const sn_model *m) {
    const sn_layer *l = m->layers[m->nlayers - 1];
    return (int)sn_shape_size(l->out_ndim, l->out_shape);
}

size_t sn_model_num_params(const sn_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer) n += m->params[i]->value.size; /* trained ones, as PyTorch */
    return n;
}

static void shape_str(char *buf, size_t len, int ndim, const int *shape) {
    int k = 0;
    for (int i = 0; i < ndim && k < (int)len; i++)
        k += snprintf(buf + k, len - (size_t)k, i ? "x%d" : "%d", shape[i]);
}

void sn_model_summary(const sn_model *m, char *buf, size_t len) {
    size_t k = 0;
    char sh[48];
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (k < len) k += (size_t)snprintf(buf + k, len - k, __VA_ARGS__);                         \
    } while (0)
    PUT("%-4s %-36s %-14s %12s\n", "#", "layer", "output", "parameters");
    shape_str(sh, sizeof sh, m->in_ndim, m->in_shape);
    PUT("%-4s %-36s %-14s %12d\n", "-", "input", sh, 0);
    for (int i = 0; i < m->nlayers; i++) {
        const sn_layer *l = m->layers[i];
        size_t np = 0;
        for (int p = 0; p < l->nparams; p++)
            if (!l->params[p].buffer) np += l->params[p].value.size;
        shape_str(sh, sizeof sh, l->out_ndim, l->out_shape);
        PUT("%-4d %-36s %-14s %12zu\n", i, l->desc, sh, np);
    }
    PUT("loss %s; %zu parameters in total\n", sn_loss_name(m->loss), sn_model_num_params(m));
#undef PUT
}
