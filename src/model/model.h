/* The model: an ordered list of layers, one loss, and the workspace. */
#ifndef SN_MODEL_MODEL_H
#define SN_MODEL_MODEL_H

#include "layers/layer.h"
#include "losses/loss.h"

#define SN_MAX_LAYERS 64

struct sn_model {
    int nlayers;
    sn_layer *layers[SN_MAX_LAYERS];
    int in_ndim, in_shape[3];
    sn_loss_kind loss;
    sn_train_config cfg;
    char *spec; /* the spec text the model was built from */
    sn_rng rng; /* initialization, then dropout and other training noise */

    /* Workspace for batches of up to max_batch samples:
     * act[0] is the input, act[i + 1] the output of layer i;
     * grad[i] = dL/d act[i]. All sized [max_batch, shape]. */
    int max_batch;
    int batch; /* n of the last forward pass */
    sn_tensor act[SN_MAX_LAYERS + 1], grad[SN_MAX_LAYERS + 1];
    sn_tensor out_view; /* act[nlayers] with shape [batch, K] */
    int input_grad;     /* 1: backward also computes grad[0] = dL/dx */

    /* All parameters of all layers in order. */
    int nparams;
    sn_param *params[SN_MAX_LAYERS * SN_MAX_PARAMS];
};

/* Adds one layer from a spec line's words ("dense", "128", "init=he") after
 * the current last layer; used by the spec parser and by C callers. */
sn_status sn_model_add_words(sn_model *m, int nwords, char **words, sn_error *err);

/* Finite-difference check of every parameter and of the input: for up to
 * `samples` entries of each tensor, the central difference
 * (L(θ + h) − L(θ − h)) / 2h against the analytic gradient. worst[i] gets
 * layer i's largest relative error |a − n| / max(|a| + |n|, 1e-3) over its
 * parameters, worst_input that of dL/dx. The forward runs in evaluation mode. */
sn_status sn_gradcheck(sn_model *m, const float *x, int n, const int *labels, const float *targets,
                       float h, int samples, double *worst, double *worst_input, sn_error *err);

#endif
