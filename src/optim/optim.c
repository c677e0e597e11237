/* Optimizer state and the step over all parameters, with the 1/t decay
 * lr_t = lr / (1 + decay·t) of the learning rate. */
#include "model/model.h"
#include "optim/optim.h"

#include <string.h>

void sn_optimizer_free(sn_optimizer *o) {
    if (!o) return;
    for (int i = 0; i < o->nparams; i++) {
        if (o->state1) sn_tensor_free(&o->state1[i]);
        if (o->state2) sn_tensor_free(&o->state2[i]);
    }
    sn_free(o->state1);
    sn_free(o->state2);
    sn_free(o->params);
    sn_free(o);
}

sn_status sn_optimizer_new(sn_model *m, const sn_train_config *c, sn_optimizer **out,
                           sn_error *err) {
    *out = NULL;
    sn_optim_kind kind;
    if (strcmp(c->optimizer, "sgd") == 0)
        kind = SN_OPT_SGD;
    else if (strcmp(c->optimizer, "adam") == 0)
        kind = SN_OPT_ADAM;
    else
        return sn_fail(err, SN_ERR_ARG, "unknown optimizer '%s' (expected sgd or adam)",
                       c->optimizer);
    sn_optimizer *o = sn_alloc(1, sizeof *o);
    if (!o) return sn_fail(err, SN_ERR_NOMEM, "optimizer: out of memory");
    o->kind = kind;
    o->cfg = *c;
    o->nparams = m->nparams;
    int n = m->nparams ? m->nparams : 1;
    o->params = sn_alloc((size_t)n, sizeof *o->params);
    o->state1 = sn_alloc((size_t)n, sizeof *o->state1);
    o->state2 = sn_alloc((size_t)n, sizeof *o->state2);
    sn_status s = o->params && o->state1 && o->state2
                      ? SN_OK
                      : sn_fail(err, SN_ERR_NOMEM, "optimizer: out of memory");
    for (int i = 0; s == SN_OK && i < m->nparams; i++) {
        sn_tensor *w = &m->params[i]->value;
        o->params[i] = m->params[i];
        s = sn_tensor_alloc(&o->state1[i], w->ndim, w->shape, err);
        if (s == SN_OK && kind == SN_OPT_ADAM)
            s = sn_tensor_alloc(&o->state2[i], w->ndim, w->shape, err);
    }
    if (s != SN_OK) {
        sn_optimizer_free(o);
        return s;
    }
    *out = o;
    return SN_OK;
}

float sn_optimizer_lr(const sn_optimizer *o) {
    return o->cfg.lr / (1.0f + o->cfg.decay * (float)o->step);
}

void sn_optimizer_step(sn_optimizer *o) {
    float lr = sn_optimizer_lr(o);
    for (int i = 0; i < o->nparams; i++) {
        sn_param *p = o->params[i];
        switch (o->kind) {
        case SN_OPT_SGD:
            sn_sgd_update(&o->cfg, lr, o->step, p->value.data, p->grad.data, o->state1[i].data,
                          p->value.size);
            break;
        case SN_OPT_ADAM:
            sn_adam_update(&o->cfg, lr, o->step + 1, p->value.data, p->grad.data, o->state1[i].data,
                           o->state2[i].data, p->value.size);
            break;
        }
    }
    o->step++;
}
