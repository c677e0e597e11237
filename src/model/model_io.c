/* Saving and loading a model's weights as safetensors. Tensor names are
 * "<layer index>.<param>" ("1.weight", "1.bias"), the keys of a PyTorch
 * nn.Sequential's state_dict; the spec text is __metadata__["spec"]. */
#include "model/model.h"
#include "model/safetensors.h"

#include <stdio.h>
#include <string.h>

static void param_name(char *buf, size_t len, int layer, const char *param) {
    snprintf(buf, len, "%d.%s", layer, param);
}

sn_status sn_model_save(const sn_model *m, const char *path, sn_error *err) {
    char names[SN_MAX_LAYERS * SN_MAX_PARAMS][40];
    const char *name_ptrs[SN_MAX_LAYERS * SN_MAX_PARAMS];
    const sn_tensor *tensors[SN_MAX_LAYERS * SN_MAX_PARAMS];
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            param_name(names[n], sizeof names[n], i, m->layers[i]->params[p].name);
            name_ptrs[n] = names[n];
            tensors[n] = &m->layers[i]->params[p].value;
            n++;
        }
    }
    const char *keys[] = {"format", "spec"};
    const char *vals[] = {"scratchnet-1", m->spec};
    return sn_st_save(path, n, name_ptrs, tensors, 2, keys, vals, err);
}

/* "[3, 4]" */
static void shape_text(char *buf, size_t len, int ndim, const int *shape) {
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, d ? ", %d" : "%d", shape[d]);
    if (k < len) snprintf(buf + k, len - k, "]");
}

/* Copies every parameter of m from f, checking names and shapes. */
static sn_status copy_weights(sn_model *m, const sn_st_file *f, const char *path, sn_error *err) {
    int matched = 0;
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            sn_tensor *t = &m->layers[i]->params[p].value;
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
            memcpy(t->data, e->data, t->size * sizeof(float));
            matched++;
        }
    }
    for (int k = 0; matched != f->n && k < f->n; k++) {
        int known = 0;
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
    if (matched != f->n)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: %d tensors in the file, the model has %d parameters", path, f->n,
                       matched);
    return SN_OK;
}

sn_status sn_model_load_weights(sn_model *m, const char *path, sn_error *err) {
    sn_st_file f;
    sn_status s = sn_st_load(path, &f, err);
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
