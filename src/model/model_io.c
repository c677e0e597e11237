/* Saving and loading a model's weights as safetensors. Tensor names are
 * "<layer index>.<param>" ("1.weight", "1.bias"), the keys of a PyTorch
 * nn.Sequential's state_dict; the spec text is __metadata__["spec"]; the
 * input pipeline (data/pipeline.c) adds "preprocess.*" tensors and "input.*"
 * and "classes" metadata. */
#include "data/pipeline.h"
#include "model/model.h"
#include "model/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void param_name(char *buf, size_t len, int layer, const char *param) {
    snprintf(buf, len, "%d.%s", layer, param);
}

sn_status sn_model_save(const sn_model *m, const char *path, sn_error *err) {
    enum { MAXT = SN_MAX_LAYERS * SN_MAX_PARAMS + SN_PREPROCESS_MAX_TENSORS };
    char names[MAXT][40];
    const char *name_ptrs[MAXT];
    const sn_tensor *tensors[MAXT];
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            param_name(names[n], sizeof names[n], i, m->layers[i]->params[p].name);
            name_ptrs[n] = names[n];
            tensors[n] = &m->layers[i]->params[p].value;
            n++;
        }
    }
    const char *keys[2 + SN_PREPROCESS_MAX_META] = {"format", "spec"};
    const char *vals[2 + SN_PREPROCESS_MAX_META] = {"scratchnet-1", m->spec};
    int nmeta = 2;
    sn_tensor views[SN_PREPROCESS_MAX_TENSORS];
    size_t len = sn_preprocess_text_size(m->pre);
    char *text = malloc(len); /* the range and class names */
    if (!text) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    sn_status s = sn_preprocess_describe(m->pre, name_ptrs, tensors, views, &n, keys, vals, &nmeta,
                                         text, len, err);
    if (s == SN_OK) s = sn_st_save(path, n, name_ptrs, tensors, nmeta, keys, vals, err);
    free(text);
    return s;
}

/* "[3, 4]" */
static void shape_text(char *buf, size_t len, int ndim, const int *shape) {
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, d ? ", %d" : "%d", shape[d]);
    if (k < len) snprintf(buf + k, len - k, "]");
}

/* PyTorch's BatchNorm counter ("<i>.num_batches_tracked", I64), which
 * inference does not use. */
static int is_batch_counter(const char *name) {
    static const char suffix[] = ".num_batches_tracked";
    size_t n = strlen(name), k = sizeof suffix - 1;
    return n > k && strcmp(name + n - k, suffix) == 0;
}

/* The file's tensor for each parameter of m, in order, checking names,
 * dtypes and shapes; writes nothing. Tensors of other dtypes than F32 (only
 * sn_st_load_any gives them) are refused by name, unless they are BatchNorm
 * counters, which are ignored. */
static sn_status match_weights(const sn_model *m, const sn_st_file *f, const char *path,
                               const sn_st_entry **src, sn_error *err) {
    int matched = 0, ignored = 0;
    for (int k = 0; k < f->n; k++) {
        const sn_st_entry *e = &f->entries[k];
        if (is_batch_counter(e->name))
            ignored++;
        else if (!e->data)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s: tensor '%s' has dtype %s; weights must be F32 (save the model "
                           "with .float() first)",
                           path, e->name, e->dtype);
    }
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            const sn_tensor *t = &m->layers[i]->params[p].value;
            char pname[40];
            param_name(pname, sizeof pname, i, m->layers[i]->params[p].name);
            const sn_st_entry *e = sn_st_find(f, pname);
            if (!e)
                return sn_fail(err, SN_ERR_FORMAT, "%s: tensor '%s' missing (layer %d, %s)", path,
                               pname, i, m->layers[i]->desc);
            int same = e->ndim == t->ndim && e->size == t->size;
            for (int d = 0; same && d < t->ndim; d++) same = e->shape[d] == t->shape[d];
            if (!same) {
                char found[64], expected[64];
                shape_text(found, sizeof found, e->ndim, e->shape);
                shape_text(expected, sizeof expected, t->ndim, t->shape);
                return sn_fail(err, SN_ERR_SHAPE,
                               "%s: tensor '%s' has shape %s; layer %d (%s) expects %s", path,
                               pname, found, i, m->layers[i]->desc, expected);
            }
            src[matched++] = e;
        }
    }
    int others = ignored; /* the input pipeline's tensors, BatchNorm counters */
    for (int k = 0; k < f->n; k++) others += sn_preprocess_is_tensor(f->entries[k].name);
    for (int k = 0; matched + others != f->n && k < f->n; k++) {
        int known =
            sn_preprocess_is_tensor(f->entries[k].name) || is_batch_counter(f->entries[k].name);
        for (int i = 0; !known && i < m->nlayers; i++) {
            for (int p = 0; !known && p < m->layers[i]->nparams; p++) {
                char pname[40];
                param_name(pname, sizeof pname, i, m->layers[i]->params[p].name);
                known = strcmp(pname, f->entries[k].name) == 0;
            }
        }
        if (!known)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s: tensor '%s' is not a parameter of the model (%d tensors in the "
                           "file, the model has %d parameters)",
                           path, f->entries[k].name, f->n, matched);
    }
    if (matched + others != f->n)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: %d tensors in the file, the model has %d parameters", path, f->n,
                       matched);
    return SN_OK;
}

/* Copies every parameter of m from f, and the input pipeline's tensors and
 * metadata; all or nothing: everything that can fail (the file's bytes
 * were read and its offsets checked by sn_st_load) is checked before the
 * first value is written. */
static sn_status copy_weights(sn_model *m, const sn_st_file *f, const char *path, sn_error *err) {
    const sn_st_entry *src[SN_MAX_LAYERS * SN_MAX_PARAMS];
    sn_status s = match_weights(m, f, path, src, err);
    if (s == SN_OK) s = sn_preprocess_read(m, f, path, err); /* itself all or nothing */
    if (s != SN_OK) return s;
    sn_model_params_changed(m); /* the values are written below */
    int k = 0;
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            sn_tensor *t = &m->layers[i]->params[p].value;
            memcpy(t->data, src[k++]->data, t->size * sizeof(float));
        }
    }
    return SN_OK;
}

sn_status sn_model_load_weights(sn_model *m, const char *path, sn_error *err) {
    sn_st_file f;
    sn_status s = sn_st_load_any(path, &f, err);
    if (s != SN_OK) return s;
    s = copy_weights(m, &f, path, err);
    sn_st_free(&f);
    return s;
}

sn_status sn_model_load(const char *path, sn_model **out, sn_error *err) {
    *out = NULL;
    sn_st_file f;
    sn_status s = sn_st_load(path, &f, err);
    if (s != SN_OK) return s;
    const char *spec = sn_st_meta(&f, "spec");
    sn_model *m = NULL;
    if (!spec) {
        s = sn_fail(err, SN_ERR_FORMAT,
                    "%s: no __metadata__ \"spec\" (not a scratchnet model; build the model from "
                    "its spec and load the weights with sn_model_load_weights)",
                    path);
    } else {
        char name[512];
        snprintf(name, sizeof name, "%s (embedded spec)", path);
        s = sn_model_from_spec(spec, name, 0, &m, err);
    }
    if (s == SN_OK) s = copy_weights(m, &f, path, err);
    sn_st_free(&f);
    if (s != SN_OK) {
        sn_model_free(m);
        return s;
    }
    *out = m;
    return SN_OK;
}
