/* The layer interface.
 *
 * A layer maps a batch x: [N, in...] to y: [N, out...]. The model owns x, y
 * and their gradients (allocated once for the largest batch); a layer owns its
 * parameters, their gradients and whatever it caches for backward. Shapes
 * below are per sample (without the batch dimension N).
 *
 *   forward:  y = f(x)                          (train != 0: training mode)
 *   backward: given dy = dL/dy, set dL/dθ for every parameter θ (overwriting)
 *             and, when dx != NULL, dx = dL/dx.
 *
 * Layers are created from one spec line ("dense 128 init=he"): the kind's
 * constructor reads its arguments through the sn_args helpers below. */
#ifndef SN_LAYERS_LAYER_H
#define SN_LAYERS_LAYER_H

#include "core/error.h"
#include "kernels/act.h"

#define SN_MAX_PARAMS 16 /* a stacked recurrent layer: 4 per level, up to 4 levels */
#define SN_MAX_ARGS   12

typedef struct sn_layer sn_layer;

/* A trainable tensor and its gradient. `decay` is 1 for weights (L1/L2 and
 * weight decay apply) and 0 for biases and norm scales. A `buffer` (batch
 * norm's running statistics) is state saved with the weights but not
 * trained: optimizers, regularizers and clipping skip it. l1, l2: the
 * penalty l1·Σ|θ| + l2·Σθ² this tensor adds to the loss (spec keys l1=, l2=,
 * l1_bias=, l2_bias=). */
typedef struct sn_param {
    char name[24];
    sn_tensor value, grad;
    int decay;
    int buffer;
    float l1, l2;
} sn_param;

/* One piece of the state a layer carries from batch to batch, as a
 * checkpoint stores it ("rnn.<layer>.<name>"): [levels, streams, width]
 * floats, level k's streams·width values at data + k·stride. */
typedef struct sn_layer_state {
    const char *name; /* "h", "c" */
    int levels, streams, width;
    int max_streams; /* what the buffers hold: a restore may bring at most this many */
    float *data;
    size_t stride;
} sn_layer_state;

#define SN_MAX_STATES 2

typedef struct sn_layer_ops {
    const char *kind;
    void (*forward)(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train);
    void (*backward)(sn_layer *l, const sn_tensor *x, const sn_tensor *y, const sn_tensor *dy,
                     sn_tensor *dx);
    void (*free)(sn_layer *l); /* frees the layer's own extras; may be NULL */
    /* Layers that carry state across batches (the recurrent ones; NULL for
     * the others). They see a batch of rows = T·N, time-major (row t·N + s
     * is step t of stream s, T = the layer's seq_len, 0 meaning 1) and keep
     * a state per stream:
     *   reset_state    zeroes it;
     *   carry_state    makes the final state of the last forward pass the
     *                  initial state of the next (truncated BPTT);
     *   state          describes it for checkpoints: fills up to
     *                  SN_MAX_STATES pieces and returns how many (streams
     *                  0: the state is zero);
     *   restore_state  after `streams` streams were written into the
     *                  pieces' data, makes them the initial state (0: zero). */
    void (*reset_state)(sn_layer *l);
    void (*carry_state)(sn_layer *l);
    int (*state)(sn_layer *l, sn_layer_state *out);
    void (*restore_state)(sn_layer *l, int streams);
    /* Layers that can run the layers after them in the same pass (NULL for
     * the others): fuse returns how many of the `avail` layers at next[0..]
     * it takes along (0: none, at most SN_MAX_FUSED). Then the model calls
     * forward_fused and backward_fused (with the same next) instead of the k + 1 layers' own
     * forward and backward, with act[0..k+1] and grad[0..k+1] the model's
     * tensors from this layer's input on. They fill act[k + 1] (and dx =
     * grad[0] when want_dx) with the values the layers one by one would
     * give, bit for bit; the tensors inside the group, act[1 .. k] and
     * grad[1 .. k], they fill likewise when `keep` is 1, and with keep 0
     * only as far as their own backward pass reads them (a pass that keeps
     * what backward needs in the cache or in a smaller form need not write
     * them to memory at all); with keep 0 backward_fused may also overwrite
     * grad[k + 1], the gradient it is given. backward_fused gets the keep of
     * the forward pass before it. */
    int (*fuse)(const sn_layer *l, sn_layer *const *next, int avail);
    void (*forward_fused)(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                          int train, int keep);
    void (*backward_fused)(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                           const sn_tensor *grad, int want_dx, int keep);
    /* Optional (NULL for the others): runs this layer on one sample in
     * evaluation mode together with layers after it that it can take along,
     * and returns how many of the `avail` layers at next[0..] it ran (0:
     * itself only). act[0..k+1] are the model's tensors from this layer's
     * input on; every one is filled as the layers' own forward passes on one
     * sample would fill it, bit for bit. */
    int (*forward_one)(sn_layer *l, sn_layer *const *next, int avail, const sn_tensor *act);
    /* Nonzero for a layer whose output is its input's values in the same
     * order under another shape (flatten): the model then gives its output
     * and output gradient the storage of its input and input gradient, and
     * forward and backward, which copy only between different buffers, do
     * nothing. */
    int reshape;
} sn_layer_ops;

#define SN_MAX_FUSED 2

struct sn_layer {
    const sn_layer_ops *ops;
    /* Optional (NULL: none needed): sizes the layer's scratch space for
     * batches of up to max_batch samples; sn_model_reserve calls it, so that
     * forward and backward allocate nothing. Set by the constructor. */
    sn_status (*reserve)(sn_layer *l, int max_batch, sn_error *err);
    /* With reserve: the bytes reserve(l, max_batch) would allocate
     * (SIZE_MAX on overflow), so that sn_model_reserve can weigh a model's
     * whole memory before taking any of it. */
    size_t (*reserve_bytes)(const sn_layer *l, int max_batch);
    int in_ndim, in_shape[3];
    int out_ndim, out_shape[3];
    int nparams;
    sn_param params[SN_MAX_PARAMS];
    char desc[96]; /* e.g. "dense 784->128 init=he_uniform" */
    int seq_len;   /* T of the layers that carry state (sn_layer_ops) */
    /* The model's parameter stamp (sn_model params_gen): it moves whenever
     * any parameter value may have changed, so that a layer keeping a copy
     * derived from its weights (dense: a transposed one) knows when to make
     * it again. Set when the layer is added to a model; NULL outside one
     * (then no such copy may be used). */
    const unsigned long *params_gen;
};

/* ---- spec-line arguments --------------------------------------------------- */

/* One parsed spec line: positional words and key=value options, plus the
 * input shape and the model's RNG (for initialization). */
typedef struct sn_layer_args {
    const char *kind;
    int npos;
    const char *pos[SN_MAX_ARGS];
    int nopt;
    const char *keys[SN_MAX_ARGS], *vals[SN_MAX_ARGS];
    int used[SN_MAX_ARGS];
    int in_ndim, in_shape[3];
    sn_rng *rng;
} sn_layer_args;

/* Positional argument i as a number; error if missing (when required) or
 * malformed. `what` names it in messages ("units"). */
sn_status sn_args_pos_int(const sn_layer_args *a, int i, const char *what, int *v, sn_error *err);
sn_status sn_args_pos_float(const sn_layer_args *a, int i, const char *what, float *v,
                            sn_error *err);
/* Option key=value; *v keeps its default when the option is absent. */
sn_status sn_args_opt_float(sn_layer_args *a, const char *key, float *v, sn_error *err);
sn_status sn_args_opt_int(sn_layer_args *a, const char *key, int *v, sn_error *err);
const char *sn_args_opt_str(sn_layer_args *a, const char *key, const char *def);
/* Errors on extra positional words or unknown options. */
sn_status sn_args_done(const sn_layer_args *a, int max_pos, sn_error *err);

/* Nonzero when l is an elementwise activation layer (not softmax); then
 * *act and *alpha say which function (kernels/act.h). For layers that run
 * the activation after them in their own pass. */
int sn_activation_elementwise(const sn_layer *l, sn_act *act, float *alpha);

/* Number of values per sample of a shape. */
size_t sn_shape_size(int ndim, const int *shape);

/* Allocates a layer struct of `size` bytes (a struct starting with sn_layer)
 * and a parameter's value and gradient tensors. */
void *sn_layer_alloc(size_t size, const sn_layer_ops *ops, const sn_layer_args *a);
sn_status sn_layer_add_param(sn_layer *l, const char *name, int ndim, const int *shape, int decay,
                             sn_error *err);
void sn_layer_free(sn_layer *l);

/* ---- weight initialization ------------------------------------------------- */

typedef enum sn_init {
    SN_INIT_HE_UNIFORM,     /* U(-b, b), b = sqrt(6 / fan_in) */
    SN_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
    SN_INIT_XAVIER_UNIFORM, /* U(-b, b), b = sqrt(6 / (fan_in + fan_out)) */
    SN_INIT_XAVIER_NORMAL,  /* N(0, 2 / (fan_in + fan_out)) */
    SN_INIT_NORMAL,         /* N(0, scale²) */
    SN_INIT_UNIFORM,        /* U(-scale, scale) */
    SN_INIT_ZEROS,
    SN_INIT_CONSTANT, /* every value = scale */
} sn_init;

/* Parses "he", "he_uniform", "he_normal", "xavier", "glorot", ... */
sn_status sn_init_parse(const char *s, sn_init *out, sn_error *err);
const char *sn_init_name(sn_init i);
void sn_init_fill(sn_tensor *t, sn_init kind, int fan_in, int fan_out, float scale, sn_rng *rng);

/* ---- the registry of layer kinds ------------------------------------------- */

typedef sn_status (*sn_layer_ctor)(sn_layer_args *a, sn_layer **out, sn_error *err);
/* The constructor for a kind name, or NULL. */
sn_layer_ctor sn_layer_find(const char *kind);
/* Comma-separated list of known kinds, for error messages. */
const char *sn_layer_kinds(void);

#endif
