/* Shared layer plumbing: argument parsing, parameter allocation, init. */
#include "layers/layer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sn_shape_size(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

static int parse_long(const char *s, long *v) {
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return end != s && *end == 0 && errno == 0;
}

static int parse_float(const char *s, float *v) {
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != 0 || errno != 0 || !isfinite(d) || fabs(d) > 3.4e38) return 0;
    *v = (float)d;
    return 1;
}

sn_status sn_args_pos_int(const sn_layer_args *a, int i, const char *what, int *v, sn_error *err) {
    long x;
    if (i >= a->npos) return sn_fail(err, SN_ERR_FORMAT, "%s: missing %s", a->kind, what);
    if (!parse_long(a->pos[i], &x) || x <= 0 || x > (1L << 30))
        return sn_fail(err, SN_ERR_FORMAT, "%s: %s must be a positive integer, got '%s'", a->kind,
                       what, a->pos[i]);
    *v = (int)x;
    return SN_OK;
}

sn_status sn_args_pos_float(const sn_layer_args *a, int i, const char *what, float *v,
                            sn_error *err) {
    if (i >= a->npos) return sn_fail(err, SN_ERR_FORMAT, "%s: missing %s", a->kind, what);
    if (!parse_float(a->pos[i], v))
        return sn_fail(err, SN_ERR_FORMAT, "%s: %s must be a number, got '%s'", a->kind, what,
                       a->pos[i]);
    return SN_OK;
}

static const char *take_opt(sn_layer_args *a, const char *key) {
    for (int i = 0; i < a->nopt; i++) {
        if (strcmp(a->keys[i], key) == 0) {
            a->used[i] = 1;
            return a->vals[i];
        }
    }
    return NULL;
}

sn_status sn_args_opt_float(sn_layer_args *a, const char *key, float *v, sn_error *err) {
    const char *s = take_opt(a, key);
    if (s && !parse_float(s, v))
        return sn_fail(err, SN_ERR_FORMAT, "%s: %s must be a number, got '%s'", a->kind, key, s);
    return SN_OK;
}

sn_status sn_args_opt_int(sn_layer_args *a, const char *key, int *v, sn_error *err) {
    const char *s = take_opt(a, key);
    long x;
    if (s && (!parse_long(s, &x) || x < -(1L << 30) || x > (1L << 30)))
        return sn_fail(err, SN_ERR_FORMAT, "%s: %s must be an integer, got '%s'", a->kind, key, s);
    if (s) *v = (int)x;
    return SN_OK;
}

const char *sn_args_opt_str(sn_layer_args *a, const char *key, const char *def) {
    const char *s = take_opt(a, key);
    return s ? s : def;
}

sn_status sn_args_done(const sn_layer_args *a, int max_pos, sn_error *err) {
    if (a->npos > max_pos)
        return sn_fail(err, SN_ERR_FORMAT, "%s: unexpected argument '%s'", a->kind,
                       a->pos[max_pos]);
    for (int i = 0; i < a->nopt; i++)
        if (!a->used[i])
            return sn_fail(err, SN_ERR_FORMAT, "%s: unknown option '%s'", a->kind, a->keys[i]);
    return SN_OK;
}

void *sn_layer_alloc(size_t size, const sn_layer_ops *ops, const sn_layer_args *a) {
    sn_layer *l = sn_alloc(1, size);
    if (!l) return NULL;
    l->ops = ops;
    l->in_ndim = a->in_ndim;
    memcpy(l->in_shape, a->in_shape, sizeof l->in_shape);
    l->out_ndim = a->in_ndim;
    memcpy(l->out_shape, a->in_shape, sizeof l->out_shape);
    return l;
}

sn_status sn_layer_add_param(sn_layer *l, const char *name, int ndim, const int *shape, int decay,
                             sn_error *err) {
    if (l->nparams >= SN_MAX_PARAMS) return sn_fail(err, SN_ERR_ARG, "too many parameters");
    sn_param *p = &l->params[l->nparams];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->decay = decay;
    sn_status s = sn_tensor_alloc(&p->value, ndim, shape, err);
    if (s == SN_OK) s = sn_tensor_alloc(&p->grad, ndim, shape, err);
    if (s != SN_OK) {
        sn_tensor_free(&p->value);
        return s;
    }
    l->nparams++;
    return SN_OK;
}

void sn_layer_free(sn_layer *l) {
    if (!l) return;
    if (l->ops->free) l->ops->free(l);
    for (int i = 0; i < l->nparams; i++) {
        sn_tensor_free(&l->params[i].value);
        sn_tensor_free(&l->params[i].grad);
    }
    sn_free(l);
}

static const struct {
    const char *name;
    sn_init init;
} init_names[] = {
    {"he", SN_INIT_HE_UNIFORM},
    {"he_uniform", SN_INIT_HE_UNIFORM},
    {"kaiming", SN_INIT_HE_UNIFORM},
    {"kaiming_uniform", SN_INIT_HE_UNIFORM},
    {"he_normal", SN_INIT_HE_NORMAL},
    {"kaiming_normal", SN_INIT_HE_NORMAL},
    {"xavier", SN_INIT_XAVIER_UNIFORM},
    {"glorot", SN_INIT_XAVIER_UNIFORM},
    {"xavier_uniform", SN_INIT_XAVIER_UNIFORM},
    {"glorot_uniform", SN_INIT_XAVIER_UNIFORM},
    {"xavier_normal", SN_INIT_XAVIER_NORMAL},
    {"glorot_normal", SN_INIT_XAVIER_NORMAL},
    {"normal", SN_INIT_NORMAL},
    {"uniform", SN_INIT_UNIFORM},
    {"zeros", SN_INIT_ZEROS},
    {"constant", SN_INIT_CONSTANT},
};

sn_status sn_init_parse(const char *s, sn_init *out, sn_error *err) {
    for (size_t i = 0; i < sizeof init_names / sizeof init_names[0]; i++) {
        if (strcmp(s, init_names[i].name) == 0) {
            *out = init_names[i].init;
            return SN_OK;
        }
    }
    return sn_fail(err, SN_ERR_FORMAT,
                   "unknown init '%s' (expected he, he_normal, xavier, xavier_normal, normal, "
                   "uniform, zeros or constant)",
                   s);
}

const char *sn_init_name(sn_init i) {
    switch (i) {
    case SN_INIT_HE_UNIFORM:
        return "he_uniform";
    case SN_INIT_HE_NORMAL:
        return "he_normal";
    case SN_INIT_XAVIER_UNIFORM:
        return "xavier_uniform";
    case SN_INIT_XAVIER_NORMAL:
        return "xavier_normal";
    case SN_INIT_NORMAL:
        return "normal";
    case SN_INIT_UNIFORM:
        return "uniform";
    case SN_INIT_ZEROS:
        return "zeros";
    case SN_INIT_CONSTANT:
        return "constant";
    }
    return "?";
}

void sn_init_fill(sn_tensor *t, sn_init kind, int fan_in, int fan_out, float scale, sn_rng *rng) {
    double bound = 0, sd = 0;
    switch (kind) {
    case SN_INIT_HE_UNIFORM:
        bound = sqrt(6.0 / fan_in);
        break;
    case SN_INIT_HE_NORMAL:
        sd = sqrt(2.0 / fan_in);
        break;
    case SN_INIT_XAVIER_UNIFORM:
        bound = sqrt(6.0 / (fan_in + fan_out));
        break;
    case SN_INIT_XAVIER_NORMAL:
        sd = sqrt(2.0 / (fan_in + fan_out));
        break;
    case SN_INIT_NORMAL:
        sd = scale;
        break;
    case SN_INIT_UNIFORM:
        bound = scale;
        break;
    case SN_INIT_ZEROS:
        break;
    case SN_INIT_CONSTANT:
        break;
    }
    for (size_t i = 0; i < t->size; i++) {
        if (kind == SN_INIT_CONSTANT)
            t->data[i] = scale;
        else if (bound > 0)
            t->data[i] = (float)(bound * (2.0 * sn_rng_uniform(rng) - 1.0));
        else if (sd > 0)
            t->data[i] = (float)(sd * sn_rng_normal(rng));
        else
            t->data[i] = 0.0f;
    }
}
