/* The model: an ordered list of layers, one loss, and the workspace. */
#ifndef SN_MODEL_MODEL_H
#define SN_MODEL_MODEL_H

#include "layers/layer.h"
#include "losses/loss.h"

struct sn_model {
    int nlayers;
    sn_layer *layers[SN_MAX_LAYERS];
    int in_ndim, in_shape[3];
    sn_loss_kind loss;
    sn_train_config cfg;
    char *spec; /* the spec text the model was built from */
    sn_rng rng; /* initialization, then dropout and other training noise */
    /* how inputs are prepared (data/pipeline.h): applied by sn_model_forward,
     * saved with the weights; NULL: nothing recorded */
    struct sn_preprocess *pre;

    /* Workspace for batches of up to max_batch samples:
     * act[0] is the input, act[i + 1] the output of layer i;
     * grad[i] = dL/d act[i]. All sized [max_batch, shape]. */
    int max_batch;
    int batch; /* n of the last forward pass */
    sn_tensor act[SN_MAX_LAYERS + 1], grad[SN_MAX_LAYERS + 1];
    sn_tensor out_view; /* act[nlayers] with shape [batch, K] */
    int input_grad;     /* 1: backward also computes grad[0] = dL/dx */
    /* 1: layers run in one pass (layer.h: fuse) still fill every act[i]
     * and grad[i] inside it; 0 (the default): only what backward reads, the
     * others are left as they were. sn_model_replay fills them after the
     * fact. */
    int keep_all;
    sn_rng rng_forward; /* rng when the last forward pass began */
    /* Called by sn_model_backward once layer i has written its parameters'
     * gradients (i from the last layer down), e.g. sn_dist_grads_ready to
     * start their all-reduce while the layers below run. NULL: none. */
    void (*grads_ready)(void *ctx, int layer);
    void *grads_ready_ctx;

    /* All parameters of all layers in order. */
    int nparams;
    sn_param *params[SN_MAX_LAYERS * SN_MAX_PARAMS];
    /* The parameter stamp: every path that writes or may write parameter
     * values moves it (sn_model_params_changed), before the next forward
     * pass; the layers see it through their params_gen. */
    unsigned long params_gen;
};

/* Adds one layer from a spec line's words ("dense", "128", "init=he") after
 * the current last layer; used by the spec parser and by C callers. */
sn_status sn_model_add_words(sn_model *m, int nwords, char **words, sn_error *err);

/* Runs the last forward pass again on act[0] (already prepared: no copy,
 * no preprocessing) with keep_all = 1, so that every act[i] holds what it
 * computed, from the same generator state (dropout draws the same masks).
 * It updates what a forward pass updates (batch norm's running statistics in
 * training mode, the recurrent layers' final state): callers put those back
 * when it matters. */
void sn_model_replay(sn_model *m, int train);

/* sn_gradcheck_run (include/scratchnet.h) in evaluation mode, reduced to worst[i] = param[i] (0 for
 * layers without parameters) and worst_input = input[0]. */
sn_status sn_gradcheck(sn_model *m, const float *x, int n, const int *labels, const float *targets,
                       float h, int samples, double *worst, double *worst_input, sn_error *err);

#endif
