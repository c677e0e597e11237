/* Reading a model's structure from outside: its layers, their shapes and
 * tensors, its loss (the public sn_model_layer, sn_model_param, ...). */
#include "core/error.h"
#include "model/model.h"

static sn_status layer_index(const sn_model *m, int i, sn_error *err) {
    if (i < 0 || i >= m->nlayers)
        return sn_fail(err, SN_ERR_ARG, "layer %d: the model has layers 0..%d", i, m->nlayers - 1);
    return SN_OK;
}

sn_status sn_model_layer(const sn_model *m, int i, sn_layer_info *out, sn_error *err) {
    sn_status s = layer_index(m, i, err);
    if (s != SN_OK) return s;
    const sn_layer *l = m->layers[i];
    *out = (sn_layer_info){.kind = l->ops->kind,
                           .desc = l->desc,
                           .ndim = l->out_ndim,
                           .out_size = 1,
                           .ntensors = l->nparams};
    for (int d = 0; d < l->out_ndim; d++) {
        out->shape[d] = l->out_shape[d];
        out->out_size *= (size_t)l->out_shape[d];
    }
    for (int p = 0; p < l->nparams; p++)
        if (!l->params[p].buffer) out->num_params += l->params[p].value.size;
    return SN_OK;
}

sn_status sn_model_param(sn_model *m, int i, int j, sn_param_info *out, sn_error *err) {
    sn_status s = layer_index(m, i, err);
    if (s != SN_OK) return s;
    sn_layer *l = m->layers[i];
    if (j < 0 || j >= l->nparams)
        return sn_fail(err, SN_ERR_ARG, "layer %d (%s) has %d tensors, not %d", i, l->desc,
                       l->nparams, j + 1);
    sn_param *p = &l->params[j];
    *out = (sn_param_info){p->name, &p->value, p->buffer ? NULL : &p->grad, p->buffer};
    sn_model_params_changed(m); /* the caller may write the values */
    return SN_OK;
}

void sn_model_params_changed(sn_model *m) {
    m->params_gen++;
}

const char *sn_model_loss_name(const sn_model *m) {
    return sn_loss_name(m->loss);
}

int sn_model_input_shape(const sn_model *m, int shape[3]) {
    for (int d = 0; d < m->in_ndim; d++) shape[d] = m->in_shape[d];
    return m->in_ndim;
}
