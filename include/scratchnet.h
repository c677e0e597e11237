/* scratchnet — neural networks from scratch in C11.
 *
 * The public API. Every function that can fail returns an sn_status and, when
 * `err` is not NULL, fills it with a message saying what went wrong and where
 * (file, line, byte offset, layer index). Library functions never print, exit
 * or abort. */
#ifndef SCRATCHNET_H
#define SCRATCHNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------- */

typedef enum sn_status {
    SN_OK = 0,
    SN_ERR_IO,      /* a file could not be opened, read or written */
    SN_ERR_FORMAT,  /* a file's content is malformed */
    SN_ERR_NOMEM,   /* an allocation failed or its size overflowed */
    SN_ERR_ARG,     /* a caller passed an invalid argument */
    SN_ERR_SHAPE,   /* tensor shapes do not fit together */
    SN_ERR_NUMERIC, /* a non-finite loss or gradient */
    /* training stopped on request (sn_checkpoint_options.stop_requested) */
    SN_ERR_INTERRUPTED,
} sn_status;

typedef struct sn_error {
    sn_status code;
    char msg[512];
} sn_error;

/* Name of a status code, e.g. "format error". */
const char *sn_status_name(sn_status s);

/* Fills `err` (if not NULL) with code and a printf-style message; returns
 * code. For the caller's own functions and callbacks (sn_train_dist's) to
 * report errors as the library does. */
sn_status sn_fail(sn_error *err, sn_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- tensors ----------------------------------------------------------- */

#define SN_MAX_DIMS 4

/* A float32 row-major tensor of up to 4 dimensions. Storage is 64-byte
 * aligned when the tensor owns it. Images are NCHW; sequences [T, N, F]. */
typedef struct sn_tensor {
    float *data;
    int ndim;
    int shape[SN_MAX_DIMS];
    size_t size; /* product of shape */
    int owns;    /* 1 when sn_tensor_free must release data */
} sn_tensor;

/* Allocates a zero-filled tensor; checks the size for overflow. */
sn_status sn_tensor_alloc(sn_tensor *t, int ndim, const int *shape, sn_error *err);
void sn_tensor_free(sn_tensor *t);
/* A tensor that borrows `data` (not freed by sn_tensor_free). */
sn_tensor sn_tensor_view(float *data, int ndim, const int *shape);

/* ---- random numbers ---------------------------------------------------- */

/* PCG32 (O'Neill 2014, "PCG: A Family of Simple Fast Space-Efficient
 * Statistically Good Algorithms"): 64-bit LCG state, XSH-RR output. Normal
 * samples by the Marsaglia polar method, one spare cached. */
typedef struct sn_rng {
    uint64_t state, inc;
    int has_spare;
    float spare;
} sn_rng;

void sn_rng_seed(sn_rng *r, uint64_t seed, uint64_t stream);
uint32_t sn_rng_u32(sn_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float sn_rng_uniform(sn_rng *r);
/* Uniform integer in [0, n), without modulo bias. */
uint32_t sn_rng_below(sn_rng *r, uint32_t n);
/* Standard normal N(0, 1). */
float sn_rng_normal(sn_rng *r);
/* Fisher–Yates shuffle of idx[0..n). */
void sn_rng_shuffle(sn_rng *r, int *idx, int n);

/* ---- models ------------------------------------------------------------ */

typedef struct sn_model sn_model;

/* A learning-rate schedule (spec: `schedule KIND key=value ...` and
 * `warmup ...` in [train]). Epoch e counts the epochs completed (0 for the
 * first), as PyTorch's scheduler.step() after each epoch; lr0 is the base
 * learning rate. Formulas are PyTorch's (torch.optim.lr_scheduler):
 *   step         lr0 · γ^⌊e / step_size⌋                          StepLR
 *   multistep    lr0 · γ^(number of milestones <= e)              MultiStepLR
 *   exponential  lr0 · γ^e                                        ExponentialLR
 *   cosine       η_min + (lr0 − η_min)(1 + cos(π e / T_max)) / 2  CosineAnnealingLR
 *   linear       lr0 · (f0 + (f1 − f0) · min(e, T) / T)           LinearLR
 *   plateau      ×factor when the monitored value has not improved for more
 *                than `patience` epochs                           ReduceLROnPlateau
 * A warm-up multiplies any of them by f_w + (1 − f_w) · min(k, W) / W at
 * optimizer step k (0-based), W = warm-up steps (LinearLR stepped per batch).
 * The optimizer's 1/t `decay` applies on top: lr / (1 + decay · k). */
typedef struct sn_schedule_config {
    char kind[16];      /* "none", "step", "multistep", "exponential", "cosine",
                           "linear" or "plateau" */
    float gamma;        /* step, multistep, exponential: factor (default 0.1) */
    int step_size;      /* step: epochs between decays */
    int milestones[16]; /* multistep: epochs (increasing) */
    int nmilestones;
    int t_max;          /* cosine: half period in epochs (default: epochs) */
    float eta_min;      /* cosine: lowest LR (default 0) */
    float start_factor; /* linear: f0 (default 1/3) */
    float end_factor;   /* linear: f1 (default 1) */
    int total_iters;    /* linear: T (default 5) */
    float factor;       /* plateau: LR multiplier (default 0.1) */
    int patience;       /* plateau: epochs without improvement tolerated (10) */
    float threshold;    /* plateau: improvement needed (1e-4) */
    int threshold_abs;  /* plateau: 1 = absolute threshold, 0 = relative */
    int cooldown;       /* plateau: epochs to wait after a reduction (0) */
    float min_lr;       /* plateau: lower bound (0) */
    char monitor[16];   /* plateau: val_loss (default), val_acc, train_loss, train_acc */
    int warmup_steps;   /* linear warm-up length in optimizer steps (0 = none) */
    int warmup_epochs;  /* ... or in epochs (used when warmup_steps is 0) */
    float warmup_start; /* warm-up start factor f_w (default 0.01) */
} sn_schedule_config;

/* Training hyper-parameters: the spec's [train] section, overridable by the
 * caller (the CLI's flags) before training. Optimizers follow PyTorch's
 * torch.optim formulas and defaults (see src/optim/optim.h). */
typedef struct sn_train_config {
    char optimizer[16]; /* "sgd", "adagrad", "rmsprop", "adam" or "adamw" */
    float lr;           /* base learning rate */
    float momentum;     /* SGD and RMSprop momentum μ (0 = none) */
    int nesterov;       /* SGD Nesterov momentum */
    float decay;        /* 1/t decay, every optimizer: lr_t = lr / (1 + decay·t), t = step */
    float beta1, beta2; /* Adam, AdamW */
    float eps;          /* ε of Adam/AdamW/RMSprop/Adagrad, added to the square root */
    float weight_decay; /* λ: L2 added to the gradient (g += λw), or decoupled for
                           AdamW (w −= lr·λ·w); weights only, not biases or norms */
    int batch;          /* mini-batch size */
    int epochs;
    float val_split; /* fraction of the training set held out (0 = none) */
    int patience;    /* early stopping: epochs without improvement (0 = off) */
    float min_delta; /* early stopping: smallest improvement that counts */
    uint64_t seed;   /* initialization, shuffling and split */

    float dampening; /* SGD dampening (0) */
    float alpha;     /* RMSprop smoothing constant α (ρ), default 0.99 */
    int centered;    /* RMSprop: divide by the centered second moment */
    float lr_decay;  /* Adagrad: lr / (1 + (t − 1)·lr_decay) */
    /* Adagrad: the starting value of Σg² (0) */
    float initial_accumulator_value;
    float l1, l2;     /* default L1/L2 penalty of every weight tensor (spec lines
                         may set their own with l1= l2= l1_bias= l2_bias=) */
    float clip_value; /* clip every gradient to [−c, c] (0 = off) */
    float clip_norm;  /* rescale gradients to a global L2 norm <= c (0 = off) */
    /* The guard, before penalties and clipping (src/train/guard.h): a NaN or
     * inf loss or gradient, a gradient norm above max_grad_norm (default 1e6)
     * or a loss above max_loss_ratio (default 1e4) times the largest of the
     * first 10 steps' stops training with SN_ERR_NUMERIC, or with
     * skip_nonfinite skips the batch (no update; counted in the epoch's
     * `skipped`). 0: rule off. */
    int skip_nonfinite;
    float max_grad_norm;
    float max_loss_ratio;
    char monitor[16]; /* early stopping: val_loss (default), val_acc, train_loss,
                         train_acc */
    int restore_best; /* early stopping: restore the best epoch's weights (1) */
    sn_schedule_config schedule;
    /* Time budget: stop training after this much wall time (0: no limit),
     * counted over every run of a resumed training. The epoch it ends is
     * cut short (sn_epoch_stats.partial). May change on resume. */
    double max_seconds;
    int standardize; /* scale each input feature to mean 0, std 1 with the training
                        part's statistics, recorded in the model (see "the input
                        pipeline") */
} sn_train_config;

/* Builds a model from spec text; `name` (a file path) prefixes error
 * messages as "name:line: ...". Parameters are initialized with the RNG
 * seeded by `seed` (0: the spec's [train] seed, default 42). */
sn_status sn_model_from_spec(const char *text, const char *name, uint64_t seed, sn_model **out,
                             sn_error *err);
sn_status sn_model_from_file(const char *path, uint64_t seed, sn_model **out, sn_error *err);
void sn_model_free(sn_model *m);

/* Weights in safetensors format ("<layer index>.weight", "<i>.bias", the
 * names of a PyTorch nn.Sequential), the spec text in __metadata__["spec"].
 * Written to a temporary file, flushed and renamed. sn_model_load builds
 * the model from the embedded spec; on failure *out is NULL. */
sn_status sn_model_save(const sn_model *m, const char *path, sn_error *err);
sn_status sn_model_load(const char *path, sn_model **out, sn_error *err);
/* Loads weights saved by PyTorch (a Sequential's state_dict as safetensors,
 * or ours) into an existing model; names and shapes must match exactly.
 * BatchNorm's "<i>.num_batches_tracked" (I64 in PyTorch) is ignored; any
 * other tensor that is not F32 is refused, naming it (SN_ERR_FORMAT).
 * All or nothing: a load that fails (a missing, extra, misshapen or non-F32
 * tensor, a truncated file, bad input-pipeline metadata, out of memory)
 * changes nothing in m, neither parameter values nor input pipeline. */
sn_status sn_model_load_weights(sn_model *m, const char *path, sn_error *err);

/* Allocates activations and gradients for batches of up to max_batch
 * samples. Forward, backward and optimizer steps then allocate nothing. */
sn_status sn_model_reserve(sn_model *m, int max_batch, sn_error *err);

/* Forward pass of x: [n, input shape] (1 <= n <= the reserved batch; with
 * recurrent layers n a multiple of the sequence length, sn_model_set_seq_len).
 * Misuse (no batch reserved, n out of range) is refused with SN_ERR_ARG and
 * a message, before anything is computed. The output: sn_model_output. */
sn_status sn_model_forward(sn_model *m, const float *x, int n, int train, sn_error *err);
/* The output [n, K] of the last forward pass. */
const sn_tensor *sn_model_output(const sn_model *m);
/* After sn_model_forward (train=1 for training): *loss (may be NULL) = the
 * mean loss of the batch; fills every parameter's gradient. labels: [n] or
 * NULL; targets: [n, K] or NULL. SN_ERR_ARG when no forward pass came
 * before (since the last reserve). */
sn_status sn_model_backward(sn_model *m, const int *labels, const float *targets, double *loss,
                            sn_error *err);
/* Loss of the last forward pass without computing gradients. */
double sn_model_loss(sn_model *m, const int *labels, const float *targets);
/* Number of correct predictions in the last forward pass. */
int sn_model_correct(const sn_model *m, const int *labels);
/* Eval-mode forward and class probabilities (or regression outputs) into
 * out: [n, K]; refuses what sn_model_forward refuses. */
sn_status sn_model_predict(sn_model *m, const float *x, int n, float *out, sn_error *err);

sn_train_config *sn_model_config(sn_model *m);
/* The configuration as text, one "key value" line for every [train] key (a
 * run's run.txt): the keys are the names a checkpoint's "config" field uses
 * (lr, schedule, plateau_patience, clip_value, warmup_steps, ...; one table
 * in src/train/config.c), booleans are yes/no, floats have the fewest digits
 * that read back to the same float. Writes at most len bytes, NUL-terminated,
 * and returns the length of the whole text (as snprintf). */
size_t sn_train_config_lines(const sn_train_config *c, char *buf, size_t len);
const char *sn_model_spec(const sn_model *m);
int sn_model_num_layers(const sn_model *m);
/* Per-sample input size and output size K. */
size_t sn_model_input_size(const sn_model *m);
int sn_model_output_size(const sn_model *m);
/* Writes a table of layers, output shapes and parameter counts into buf. */
void sn_model_summary(const sn_model *m, char *buf, size_t len);
size_t sn_model_num_params(const sn_model *m);

/* ---- inspecting a model ------------------------------------------------ */

#define SN_MAX_LAYERS 64 /* layers a model may have */

/* Layer i of a model (0 <= i < sn_model_num_layers; counted from 0 after
 * the spec's input line, as weight names "<i>.weight" count them). */
typedef struct sn_layer_info {
    const char *kind;   /* the spec word: "dense", "conv2d", "relu", ... */
    const char *desc;   /* "dense 784->512 init=he", as sn_model_summary and
                           error messages name the layer */
    int ndim, shape[3]; /* its output's shape per sample (per step for
                           sequence models) */
    size_t out_size;    /* the product of shape */
    int ntensors;       /* its tensors: trained parameters and buffers */
    size_t num_params;  /* values of its trained parameters (buffers such as
                           running statistics not counted, as PyTorch) */
} sn_layer_info;
/* SN_ERR_ARG when i is out of range. Strings live as long as the model. */
sn_status sn_model_layer(const sn_model *m, int i, sn_layer_info *out, sn_error *err);

/* Tensor j (0 <= j < ntensors) of layer i: name as in weight files without
 * the layer index ("weight", "bias", "running_mean", "weight_ih_l0"),
 * value, gradient (the last backward pass's; NULL for a buffer) and
 * whether it is a buffer (not trained). Values may be read and written:
 * writes made before the next forward pass are seen by it. A value pointer
 * kept and written through after a forward pass needs
 * sn_model_params_changed before the next one (a one-sample evaluation
 * pass may read a copy of the dense weights, made again only when told). */
typedef struct sn_param_info {
    const char *name;
    sn_tensor *value, *grad;
    int buffer;
} sn_param_info;
sn_status sn_model_param(sn_model *m, int i, int j, sn_param_info *out, sn_error *err);
/* Tells the model that parameter values may have changed (see
 * sn_model_param); the library's own writers (optimizer steps, weight and
 * checkpoint loads, restores) call it themselves. */
void sn_model_params_changed(sn_model *m);

/* The loss's spec word: "mse", "bce", "bce_logits" or "softmax_xent". */
const char *sn_model_loss_name(const sn_model *m);
/* The per-sample input shape (of the spec's `input` line) into shape[0..3);
 * returns its number of dimensions. */
int sn_model_input_shape(const sn_model *m, int shape[3]);

/* ---- gradient check ------------------------------------------------------ */

/* What sn_gradcheck_run measured: largest relative errors
 * |a − n| / max(|a| + |n|, 1e-4 · max(1, |L|) / h) between analytic gradients
 * a and central differences n (the floor is float32 round-off of the loss L,
 * see src/model/gradcheck.c). A wrong backward in layer k shows in param[k]
 * and in input[j] for every j <= k (the error flows down), never in
 * input[j > k]: the highest layer with a large input[] error is the culprit. */
typedef struct sn_gradcheck_result {
    double param[SN_MAX_LAYERS]; /* over layer i's parameters; -1: none */
    double input[SN_MAX_LAYERS]; /* dL/d(input of layer i); input[0] is dL/dx */
    double output;               /* dL/d(model output): the loss's own gradient */
    double worst;                /* the largest of all the above */
    int worst_layer;             /* its layer, -1 for the output */
    long kinks;                  /* entries skipped: no derivative there (a ReLU
                                    output of 0, a tie in a max-pool window) */
} sn_gradcheck_result;

/* Finite-difference check of the n samples x (rows: for sequence models
 * T·N, sn_model_set_seq_len) with labels or targets: for up to `samples`
 * evenly spread entries of every parameter and of every layer's input and
 * output, the central difference (L(v + h) − L(v − h)) / 2h against the
 * analytic gradient. train != 0 runs the forward passes in training mode
 * (dropout masks held fixed). The model's parameters, buffers and generator
 * are left as they were. */
sn_status sn_gradcheck_run(sn_model *m, const float *x, int n, const int *labels,
                           const float *targets, float h, int samples, int train,
                           sn_gradcheck_result *r, sn_error *err);

/* Sequence models (layers rnn, lstm, gru; see docs/rnn.md). A batch of N
 * streams of T time steps is n = T·N rows, time-major: row t·N + s is step t
 * of stream s; per-step layers (embedding, dense, activations, the loss) see
 * T·N independent rows. Recurrent layers keep a state per stream: each
 * forward pass starts from it (zero after a reset) and carry_state makes the
 * last pass's final state the next one's start (truncated BPTT: gradients
 * stop at the batch boundary). A batch whose N differs from the state's
 * starts from zero. */
int sn_model_is_recurrent(const sn_model *m);
/* Time steps T >= 1 of the next forward passes (n must be a multiple of T;
 * SN_ERR_ARG for T < 1). */
sn_status sn_model_set_seq_len(sn_model *m, int T, sn_error *err);
void sn_model_reset_state(sn_model *m);
void sn_model_carry_state(sn_model *m);

/* ---- optimizers -------------------------------------------------------- */

typedef struct sn_optimizer sn_optimizer;

/* An optimizer over all of m's parameters, configured by c (c->optimizer
 * names it). Its state (momenta) is allocated here, once. */
sn_status sn_optimizer_new(sn_model *m, const sn_train_config *c, sn_optimizer **out,
                           sn_error *err);
/* One update from the gradients the last sn_model_backward left. */
void sn_optimizer_step(sn_optimizer *o);
/* The learning rate the next step will use. */
float sn_optimizer_lr(const sn_optimizer *o);
/* Sets the base learning rate (before the 1/t decay); schedules call it. */
void sn_optimizer_set_lr(sn_optimizer *o, float lr);
/* Number of steps taken (PyTorch's per-parameter "step"); settable so that
 * a restored checkpoint continues its bias corrections and decay. */
long sn_optimizer_steps(const sn_optimizer *o);
void sn_optimizer_set_steps(sn_optimizer *o, long steps);
/* The optimizer's state as named tensors, for checkpoints: i in
 * [0, sn_optimizer_num_state(o)); the name is "state.<p>.<kind>" with p the
 * index of the trained parameter (buffers such as batch-norm running
 * statistics are not counted) and kind PyTorch's name: momentum_buffer
 * (SGD, RMSprop), sum (Adagrad), square_avg and grad_avg (RMSprop),
 * exp_avg and exp_avg_sq (Adam, AdamW). Returns NULL when i is out of range. */
int sn_optimizer_num_state(const sn_optimizer *o);
sn_tensor *sn_optimizer_state(sn_optimizer *o, int i, char *name, size_t len);
void sn_optimizer_free(sn_optimizer *o);

/* ---- gradient clipping and regularization ------------------------------ */

/* Adds every parameter's L1/L2 penalty (sn_param l1, l2) to its gradient,
 * g += l1·sign(θ) + 2·l2·θ, and returns the penalty Σ l1|θ| + l2 θ². */
double sn_model_regularize(sn_model *m);
/* Clamps every gradient value to [−c, c]. */
void sn_clip_grad_value(sn_model *m, float c);
/* PyTorch's clip_grad_norm_: with the global norm n = sqrt(Σ g²) over all
 * gradients, multiplies them by min(1, c / (n + 1e-6)). Returns n. */
double sn_clip_grad_norm(sn_model *m, float c);

/* ---- learning-rate schedules ------------------------------------------- */

/* A schedule's configuration and state (plateau bookkeeping). */
typedef struct sn_schedule {
    sn_schedule_config c;
    float lr0;         /* base learning rate */
    int warmup;        /* warm-up length in steps (0 = none) */
    int mode_max;      /* plateau: 1 when a larger monitored value is better */
    float plateau_lr;  /* plateau: the current LR */
    double best;       /* plateau: best monitored value */
    int bad_epochs;    /* plateau: epochs since it improved */
    int cooldown_left; /* plateau */
} sn_schedule;

/* Checks and fills in defaults of c->schedule (t_max defaults to c->epochs)
 * for training with `steps_per_epoch` batches per epoch. */
sn_status sn_schedule_init(sn_schedule *s, const sn_train_config *c, int steps_per_epoch,
                           sn_error *err);
/* The learning rate of the optimizer step `step` (0-based, counted over the
 * whole training) taken during epoch index `epoch` (0-based), before the
 * optimizer's own 1/t decay. */
float sn_schedule_lr(const sn_schedule *s, int epoch, long step);
/* Reports an epoch's monitored value (plateau; the others ignore it). */
void sn_schedule_observe(sn_schedule *s, double value);

/* ---- checkpoints -------------------------------------------------------- */

/* A checkpoint is one safetensors file holding everything a training needs
 * to go on exactly as if it had never stopped: parameters and buffers
 * ("<layer>.<name>", as in weight files), the optimizer's state
 * ("optimizer.state.<p>.<kind>"), the best epoch's weights ("best.*", when
 * they are kept), recurrent layers' carried state ("rnn.<layer>.h" / ".c",
 * [levels, streams, H]) and, in __metadata__, the spec, the configuration,
 * the position (epoch, batch), the generators' states, the schedule's and
 * early stopping's bookkeeping, the epoch's sums so far and the history
 * rows. Integers are written in decimal, floating-point values in C's
 * hexadecimal notation (%a): everything round-trips exactly, so that a
 * resumed training ends with bitwise the same weights as an uninterrupted
 * one (same seed, same thread count). The file is written to
 * "<path>.tmp", synced, renamed over `path` and the folder synced: the
 * previous checkpoint stays whole until the new one is. */
typedef struct sn_checkpoint_options {
    const char *path; /* the checkpoint written during training (NULL: none) */
    int every_epochs; /* write one after every this many epochs (0: not by epochs) */
    /* ... and every this many optimizer steps, mid-epoch (0: no). A batch the
     * guard skips (cfg.skip_nonfinite) is no step: it neither counts nor
     * writes a checkpoint. */
    long every_steps;
    const char *resume; /* continue the training saved in this checkpoint (NULL:
                           start afresh); the model, data and configuration
                           must be those it was made with (checked: shapes,
                           configuration but epochs and skip_nonfinite,
                           batches per epoch). The guard's running state
                           (the epoch's skipped count, the loss reference of
                           max_loss_ratio) is restored. skip_nonfinite may
                           change: it decides only what becomes of a batch
                           the guard refuses, never how an applied step is
                           computed, and a training without it refused no
                           batch before its checkpoint; so a training the
                           guard stopped, resumed from its last checkpoint
                           with skip_nonfinite, ends as one that skipped
                           from the start. max_grad_norm and max_loss_ratio
                           may not change: they decide which steps apply. */
    /* Extra __metadata__ pairs stored with every checkpoint (the caller's
     * own settings); the values are read at each write, so they may change. */
    int nmeta;
    const char *const *meta_keys;
    const char *const *meta_values;
    int delay_ms; /* testing: pause between writing "<path>.tmp" and renaming it */
    /* Polled after every batch, one the guard skipped too, and at the end of
     * every epoch (a signal handler's flag fits); may be NULL.
     * Non-zero stops training there: the checkpoint is written (when path is
     * set) and training returns SN_ERR_INTERRUPTED saying where it stopped. */
    int (*stop_requested)(void *ctx);
    void *stop_ctx;
} sn_checkpoint_options;

/* What a checkpoint says about where its training stands. */
typedef struct sn_checkpoint_info {
    char trainer[8]; /* "table" (sn_train) or "text" (sn_text_train) */
    int epoch;       /* the epoch in progress (1-based) */
    int batch;       /* its batches done, of nbatches */
    int nbatches;
    long step;    /* optimizer steps done */
    int finished; /* 1: early stopping had ended the training */
} sn_checkpoint_info;

/* Reads the checkpoint at `path` and checks it whole: the checksums of its
 * tensors and metadata, its format, every metadata value, and every tensor's
 * name, shape and finiteness against the model its spec builds. Errors name
 * the file and the tensor or key at fault. */
sn_status sn_checkpoint_verify(const char *path, sn_checkpoint_info *info, sn_error *err);

/* ---- training ---------------------------------------------------------- */

typedef struct sn_dataset sn_dataset; /* see "data sets" below */

/* What one epoch measured, for every kind of training. Loss is the mean
 * data loss per sample (text: per token, in nats); accuracy a fraction in
 * [0, 1] (classification only). Missing sets give NaN. */
typedef struct sn_epoch_stats {
    int epoch; /* 1-based */
    long step; /* optimizer steps so far */
    double train_loss, train_acc;
    double val_loss, val_acc;
    double test_loss, test_acc;
    double lr;      /* learning rate of the epoch's last step */
    double seconds; /* wall time of the epoch (training and evaluation) */
    /* mean L1/L2 penalty over the epoch's steps (not in train_loss) */
    double reg_loss;
    int skipped;          /* batches the guard skipped (cfg.skip_nonfinite); train_loss
                             and train_acc are over the others */
    double samples_per_s; /* training samples (text: tokens) per second */
    double elapsed;       /* wall seconds since the training started (a resumed
                             training's earlier runs included) */
    double cpu_seconds;   /* CPU time of the process so far (all threads) */
    int partial;          /* 1: the time budget (cfg.max_seconds) cut the epoch short */
    /* The epoch whose weights the model holds at the end of training if it
     * ended now: the best epoch so far when the best weights are restored
     * (early stopping with restore, or a text training's keep_best), else
     * this epoch. */
    int kept_epoch;
} sn_epoch_stats;

/* Data-parallel training (an extension point: the library has no transport
 * of its own). With size > 1, the table trainer takes rank `rank`'s share
 * of every global batch (rows [start + n·rank/size, start + n·(rank+1)/size)
 * of the same seeded shuffle on every rank); after backward, before the
 * guard, reduce_gradients must turn this rank's mean gradient and loss over
 * `rows` rows into those of the whole batch of `global_rows` rows, the
 * same on every rank (e.g. scale by rows / global_rows and all-reduce by
 * sum); reduce_sums sums n values over the ranks (evaluation sums: loss·n,
 * correct answers, n). grads_ready, during backward, says that layer
 * `layer` (from the last down) has written its parameters' gradients, so
 * that their reduction can start while the layers below still compute
 * (overlap); reduce_gradients then finishes it. Any callback may be NULL. */
typedef struct sn_train_dist {
    void *ctx;
    int rank, size;
    sn_status (*reduce_gradients)(void *ctx, sn_model *m, double *loss, int rows, int global_rows,
                                  sn_error *err);
    sn_status (*reduce_sums)(void *ctx, double *v, int n, sn_error *err);
    void (*grads_ready)(void *ctx, int layer);
} sn_train_dist;

/* Hooks the training loops call; any may be NULL. The CLI's progress bar
 * and per-epoch lines are such hooks: the library itself prints nothing. */
typedef struct sn_train_hooks {
    void *ctx;
    /* After every applied step: the epoch's running mean loss and accuracy
     * (NaN without labels) and its speed so far. */
    void (*on_batch)(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double samples_per_s);
    /* Returns non-zero to stop training after this epoch. */
    int (*on_epoch)(void *ctx, const sn_epoch_stats *s);
    /* Text training: a sample generated after `epoch` (sn_text_options), len
     * bytes (it may hold NUL bytes; text[len] is 0). Data-parallel: on rank
     * 0 only (the other ranks generate none). */
    void (*on_sample)(void *ctx, int epoch, const char *text, size_t len);
    /* Once training has ended (not after an error or interruption): the
     * statistics of the epoch whose weights the model now holds. */
    void (*on_end)(void *ctx, const sn_epoch_stats *kept);
    const sn_train_dist *dist; /* NULL: one process */
} sn_train_hooks;

/* Trains m on `train` for cfg.epochs epochs of shuffled mini-batches (seeded
 * by cfg.seed), evaluating `val` and `test` (either may be NULL) after each
 * epoch. Each step: forward, backward, L1/L2 penalties, gradient clipping,
 * the scheduled learning rate, the optimizer update. With cfg.patience > 0,
 * stops when cfg.monitor (a loss: lower by more than cfg.min_delta; an
 * accuracy: higher by more than min_delta) has not improved for that many
 * epochs, and (cfg.restore_best) puts back the weights, running statistics
 * included, of the best epoch. Monitoring a val_* value needs `val`.
 * `history_csv` (or NULL) receives one row per epoch; a failed write of it
 * ends training with SN_ERR_IO. cfg.max_seconds > 0 ends training after the
 * batch that exceeds that much wall time. A non-finite or exploding step
 * (see cfg.skip_nonfinite) stops training with SN_ERR_NUMERIC before it
 * reaches the weights. Text training (sn_text_train) runs the same loop. */
sn_status sn_train(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                   const sn_dataset *test, const sn_train_hooks *hooks, const char *history_csv,
                   sn_error *err);
/* sn_train with checkpoints, resuming and stop requests (ck may be NULL).
 * A resumed training rewrites history_csv with the checkpoint's rows first. */
sn_status sn_train_checkpointed(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                                const sn_dataset *test, const sn_train_hooks *hooks,
                                const char *history_csv, const sn_checkpoint_options *ck,
                                sn_error *err);

/* Mean loss and accuracy of m over d, in eval mode, batches of `batch`. */
sn_status sn_evaluate(sn_model *m, const sn_dataset *d, int batch, double *loss, double *acc,
                      sn_error *err);

/* ---- data sets ------------------------------------------------------- */

/* n samples, each a float32 array of `sample_size` values with per-sample
 * shape shape[0..ndim) (e.g. 1x28x28 for IDX images, F for CSV rows).
 * Classification sets have labels (0 .. num_classes-1); regression sets have
 * targets (num_targets floats per sample). One of the two is non-NULL. */
typedef struct sn_dataset {
    int n;
    int ndim;
    int shape[3];
    size_t sample_size;
    float *x;        /* [n, sample_size], sn_alloc'ed */
    int *labels;     /* [n] or NULL */
    int num_classes; /* > 0 when labels != NULL */
    float *targets;  /* [n, num_targets] or NULL */
    int num_targets;
    int pixels; /* 1: x holds 8-bit pixels scaled to [0, 1] (the IDX and CIFAR-10
                   readers set it) */
} sn_dataset;

/* A data set of n zero-filled samples of shape shape[0..ndim) (ndim 1 to 3),
 * with n labels (all 0) when num_classes > 0, or n·num_targets targets
 * when num_targets > 0 (else neither); release it with sn_dataset_free. */
sn_status sn_dataset_alloc(sn_dataset *d, int n, int ndim, const int *shape, int num_classes,
                           int num_targets, sn_error *err);
void sn_dataset_free(sn_dataset *d);

/* ---- IDX (MNIST, EMNIST, Fashion-MNIST) --------------------------------- */

/* Reads an IDX file of unsigned bytes (magic 0x00000801 labels, 0x00000803
 * images), raw or gzip-compressed (detected by content, read through zlib).
 * Images are scaled to [0, 1]. Validates magic, dimensions, sizes. */
sn_status sn_idx_load_images(const char *path, sn_dataset *out, sn_error *err);
sn_status sn_idx_load_labels(const char *path, int **labels, int *n, int *num_classes,
                             sn_error *err);

/* Loads `split` ("train" or "t10k") from a folder with the standard names
 * (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, ... each optionally
 * with `.gz`); checks image and label counts agree. */
sn_status sn_idx_load_dir(const char *dir, const char *split, sn_dataset *out, sn_error *err);

/* ---- CIFAR-10 (binary version) ------------------------------------------ */

/* Reads one file of the CIFAR-10 binary version: 3073-byte records, each a
 * label byte (0-9) and a 32x32 image as three 1024-byte planes R, G, B, rows
 * top to bottom. Takes the first `limit` records (limit <= 0: all). Pixels
 * are scaled to [0, 1]; samples are 3x32x32, or with grey != 0 1x32x32 of
 * luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601). The file must be a
 * whole, non-zero number of records; errors name the file, the record and
 * its byte offset. */
sn_status sn_cifar_load_file(const char *path, int limit, int grey, sn_dataset *out, sn_error *err);

/* Loads `split` from the folder of the binary version (cifar-10-batches-bin,
 * or a folder holding it): "train" is data_batch_1.bin ... data_batch_5.bin
 * in order, "test" is test_batch.bin; per_file_limit (<= 0: all) applies to
 * each file, grey as above. num_classes is 10. */
sn_status sn_cifar_load_dir(const char *dir, const char *split, int per_file_limit, int grey,
                            sn_dataset *out, sn_error *err);

/* The 10 class names of batches.meta.txt in that folder (one per line,
 * blank lines ignored, at most 31 bytes each), in label order. */
sn_status sn_cifar_class_names(const char *dir, char names[10][32], sn_error *err);

/* ---- CSV ---------------------------------------------------------------- */

typedef struct sn_csv_options {
    int header;          /* 1: first row is a header, 0: none, -1: detect */
    int label_col;       /* column holding an integer class label, -1: none */
    int target_cols[16]; /* columns holding regression targets */
    int num_target_cols; /* 0 with label_col == -1 means: last column is the label */
    char delimiter;      /* ',' by default (0 means ',') */
    int features_only;   /* 1: every column is a feature (no labels, no targets) */
} sn_csv_options;

/* Numeric CSV: every non-label, non-target column is a feature. Errors name
 * file, line and column. Columns in the options count from 0; opt == NULL
 * means: detect a header, ',' delimiter, last column is the label. */
sn_status sn_csv_load(const char *path, const sn_csv_options *opt, sn_dataset *out, sn_error *err);

/* ---- one path: IDX, CIFAR-10 or CSV -------------------------------------- */

/* How sn_data_load reads what it finds. */
typedef struct sn_data_options {
    sn_csv_options csv; /* for a CSV (all zero: no header, label_col 0; set
                           header = -1, label_col = -1 for the defaults) */
    const char *test;   /* CSV: the test set's file (NULL: none) */
    int cifar_per_file; /* CIFAR-10: images read from each batch file (0: all) */
    int grey;           /* CIFAR-10: 1x32x32 luma instead of 3x32x32 */
} sn_data_options;

/* The data at `path`, as `scratchnet train --data` reads it: a CIFAR-10
 * binary folder (data_batch_1.bin ... into *train, test_batch.bin into
 * *test), a folder of IDX files (train-* and t10k-*, see sn_idx_load_dir),
 * or a numeric CSV file (into *train; o->test, when set, into *test). With
 * train == NULL only the test set is read (a CSV at `path` is then the test
 * set). o == NULL: CSV defaults, every image. grey and cifar_per_file on
 * anything but a CIFAR-10 folder are an error. */
sn_status sn_data_load(const char *path, const sn_data_options *o, sn_dataset *train,
                       sn_dataset *test, sn_error *err);

/* Checks that every class label of train and test (either may be NULL or
 * empty), as sn_data_load read them from `path` (and a CSV test set from
 * test_path), is one of m's classes, 0 .. sn_model_num_classes − 1. The
 * error (SN_ERR_FORMAT) names the file, for a folder the set ("training
 * labels", "test labels"), the sample and its label. */
sn_status sn_data_check_labels(const sn_model *m, const char *path, const char *test_path,
                               const sn_dataset *train, const sn_dataset *test, sn_error *err);

/* ---- transforms and splits ---------------------------------------------- */

/* Per-feature mean and standard deviation of d (std of 0 is taken as 1). */
sn_status sn_dataset_feature_stats(const sn_dataset *d, float *mean, float *std, sn_error *err);
/* x = (x - mean) / std, per feature. */
void sn_dataset_standardize(sn_dataset *d, const float *mean, const float *std);

/* ---- the input pipeline ------------------------------------------------- */

/* A model carries what was done to its training inputs, does it again to
 * every input it is given (sn_model_forward, hence sn_evaluate,
 * sn_model_predict, sn_evaluate_metrics) and saves it with its weights
 * (sn_model_save; sn_model_load and sn_model_load_weights read it back):
 *   - standardization (cfg.standardize, spec `standardize yes`): x' =
 *     (x − mean) / std per feature with the training part's statistics;
 *     tensors "preprocess.mean" and "preprocess.std" ([input size]);
 *   - the range of the training inputs: __metadata__ "input.range" = "LO HI";
 *   - pixel scaling: "input.scale" = "1/255" when the training inputs were
 *     8-bit pixels the IDX or CIFAR-10 reader scaled to [0, 1];
 *   - class names: "classes", one per line in label order.
 * Inputs are given to the model as loaded (raw): never standardize them
 * yourself. sn_train fits the pipeline to its training set (after the
 * validation split) when the model has none yet; a model that has one (a
 * loaded model being trained further) keeps it. */

/* The validation split sn_train makes when it is given no validation set
 * and cfg.val_split > 0: sn_dataset_split(all, cfg.val_split, stratified
 * when `all` has labels, cfg.seed). Both parts are copies. */
sn_status sn_train_split(const sn_model *m, const sn_dataset *all, sn_dataset *train,
                         sn_dataset *val, sn_error *err);
/* Fits the model's input pipeline to a training set (replacing what it
 * had): its statistics when cfg.standardize, its range, its pixel scaling. */
sn_status sn_model_fit_input(sn_model *m, const sn_dataset *train, sn_error *err);
/* Checks that d is data the model can take: its values per sample (and its
 * image shape), and values within the training inputs' range widened by the
 * range's width on each side (raw 0-255 pixels given to a model trained on
 * [0, 1] are refused; so are pixels scaled to [0, 1] given to a model trained
 * on unscaled values). `name` (the file) starts the message. */
sn_status sn_model_check_input(const sn_model *m, const sn_dataset *d, const char *name,
                               sn_error *err);
/* Records K class names with the model (K: sn_model_num_classes; copied). */
sn_status sn_model_set_class_names(sn_model *m, char *const *names, int K, sn_error *err);
/* The recorded names (sn_model_num_classes of them), or NULL. */
char *const *sn_model_class_names(const sn_model *m);
/* 1 when the model standardizes its inputs. */
int sn_model_standardizes(const sn_model *m);

/* Moves the last `frac` of a seeded random permutation of `all` into `val`,
 * the rest into `train` (copies; `all` is left untouched). With
 * stratified != 0 (labels needed) each class is split in the same proportion
 * (round(frac * class count) of each class goes to `val`). Both parts keep
 * the samples in their original order. */
sn_status sn_dataset_split(const sn_dataset *all, double frac, int stratified, uint64_t seed,
                           sn_dataset *train, sn_dataset *val, sn_error *err);

/* ---- metrics ----------------------------------------------------------- */

/* Classification metrics with scikit-learn's definitions (sklearn.metrics
 * with labels = 0..K-1 and zero_division = 0): a class never predicted has
 * precision 0, a class without samples recall 0, F1 is 0 when precision +
 * recall is 0. Macro averages weigh the K classes equally (classes absent
 * from the data included); weighted averages weigh them by support. */
typedef struct sn_metrics {
    int num_classes;                 /* K */
    long n;                          /* samples */
    long *confusion;                 /* [K, K]: row = true class, column = predicted class */
    long *support;                   /* [K]: samples per true class (row sums) */
    double *precision, *recall, *f1; /* [K] */
    double accuracy;
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    int top_k;             /* k of top_k_accuracy (0: not computed) */
    double top_k_accuracy; /* NaN when not computed */
    double mean_xent;      /* mean cross-entropy (log loss); NaN when not computed */
} sn_metrics;

/* Allocates m for K classes, all counts zero, NaN scores. */
sn_status sn_metrics_init(sn_metrics *m, int K, sn_error *err);
void sn_metrics_free(sn_metrics *m);
/* Counts n (true, predicted) pairs into m->confusion (adding to what is
 * there) and recomputes every score; labels outside [0, K) are an error. */
sn_status sn_metrics_add(sn_metrics *m, const int *y_true, const int *y_pred, int n, sn_error *err);
/* Recomputes support, accuracy, precision, recall, F1 and their averages
 * from m->confusion. */
void sn_metrics_update(sn_metrics *m);

/* Fraction of samples whose true class is among the k highest of their K
 * scores (sklearn.metrics.top_k_accuracy_score: among equal scores the
 * higher class index ranks first). scores: [n, K]. */
double sn_top_k_accuracy(const float *scores, const int *labels, int n, int K, int k);
/* Mean cross-entropy −(1/n) Σ log p[i, label_i] of probabilities [n, K]
 * (sklearn.metrics.log_loss for float32 input: each p clipped to
 * [ε, 1 − ε], ε = FLT_EPSILON, each row renormalized to sum 1). */
double sn_mean_cross_entropy(const float *probs, const int *labels, int n, int K);

/* Runs m over d in evaluation mode (batches of `batch`) and fills `out`
 * (sn_metrics_init'ed here, K = the model's classes; a single sigmoid
 * output counts as 2 classes): confusion matrix, scores, cross-entropy and,
 * when 0 < top_k < K, top-k accuracy. probs ([n, K]) and pred ([n]) receive
 * the class probabilities and predicted classes when not NULL. */
sn_status sn_evaluate_metrics(sn_model *m, const sn_dataset *d, int batch, int top_k,
                              sn_metrics *out, float *probs, int *pred, sn_error *err);
/* Number of classes sn_evaluate_metrics uses for m (K, or 2 for one output). */
int sn_model_num_classes(const sn_model *m);

/* x += std · z, z ~ N(0, 1) drawn from r, for x[0..n); then clipped to
 * [0, 1] when clip != 0 (pixel intensities). */
void sn_add_gaussian_noise(float *x, size_t n, float std, sn_rng *r, int clip);

/* ---- class names --------------------------------------------------------- */

/* Fashion-MNIST's ten classes, in label order. */
extern const char *const sn_fashion_mnist_classes[10];

/* Names for K classes of the data at data_path (a folder or a file), first
 * found of:
 *   1. `file` (not NULL): one name per line, exactly K lines;
 *   2. data_path/classes.txt, when data_path is a folder (same format);
 *   3. data_path/batches.meta.txt or data_path/cifar-10-batches-bin/
 *      batches.meta.txt (CIFAR-10's binary distribution);
 *   4. Fashion-MNIST's names, when K == 10, d's samples have 784 values
 *      (1x28x28) and the last component of data_path contains "fashion" (any
 *      case): MNIST has the same shapes, so the shape alone cannot tell them
 *      apart;
 *   5. the label numbers "0", "1", ...
 * d may be NULL (rule 4 then checks only K). *out gets K strings; release
 * them with sn_class_names_free. */
sn_status sn_class_names_load(const char *data_path, const char *file, const sn_dataset *d, int K,
                              char ***out, sn_error *err);
void sn_class_names_free(char **names, int K);

/* ---- reports ------------------------------------------------------------- */

/* Writes into run_dir what a report shows about m on the test set d:
 * metrics.csv (metric,value), per_class.csv (class,name,precision,recall,
 * f1,support), confusion.csv (rows: true class, columns: predicted),
 * classes.txt and misclassified.safetensors (up to `max_images` of the most
 * confidently misclassified samples: "x", "index", "true", "pred", "prob").
 * names: K class names or NULL. Every file is written whole or not at all. */
sn_status sn_run_write_eval(const char *run_dir, sn_model *m, const sn_dataset *d,
                            char *const *names, int max_images, sn_error *err);

/* sn_run_write_eval for run_dir/model.safetensors on the test set at `data`
 * (read as sn_data_load reads it with o, which may be NULL; it must have
 * class labels), with the class names of sn_class_names_load(data,
 * classes, ...) and 40 images. */
sn_status sn_run_evaluate(const char *run_dir, const char *data, const sn_data_options *o,
                          const char *classes, sn_error *err);

/* What a run folder's run.txt records about the data its model was trained
 * and tested on, for evaluating it again (strings "" when not recorded). */
typedef struct sn_run_data {
    char data[1024];       /* the test set ("test"), else the data set ("data") */
    char classes[1024];    /* the class-names file training was given */
    char target_cols[256]; /* CSV regression targets, "3,4" */
    int label_col;         /* CSV label column (-1: not recorded) */
    int header;            /* CSV header: 1 yes, 0 no, -1 auto or not recorded */
    int text;              /* 1: a text run (its measure is the validation loss) */
    int regression;        /* 1: a regression run (no class metrics) */
} sn_run_data;
/* Reads run_dir/run.txt; SN_ERR_IO when there is none. */
sn_status sn_run_data_read(const char *run_dir, sn_run_data *out, sn_error *err);

/* Noise robustness: m's accuracy, macro F1 and cross-entropy on d (with
 * labels) at each noise level σ of `levels`, every input value x made
 * x + σ·z with z ~ N(0, 1) drawn from `seed` (the same z, scaled, at every
 * level) and, when clip, clipped to [0, 1] as pixel intensities. */
typedef struct sn_noise_options {
    const double *levels; /* σ, each >= 0 */
    int nlevels;
    uint64_t seed;
    int clip;
    int batch; /* evaluation batch (0: 256) */
} sn_noise_options;
typedef struct sn_noise_level {
    double std, accuracy, macro_f1, cross_entropy;
} sn_noise_level;
/* Fills out[0..o->nlevels). */
sn_status sn_evaluate_noise(sn_model *m, const sn_dataset *d, const sn_noise_options *o,
                            sn_noise_level *out, sn_error *err);
/* Writes run_dir/robustness.csv (std,accuracy,macro_f1,cross_entropy,
 * clipped,seed; one row per level), which sn_report_write charts. */
sn_status sn_run_write_robustness(const char *run_dir, const sn_noise_options *o,
                                  const sn_noise_level *r, sn_error *err);

/* Writes run_dir/report.html (or out_path when not NULL): one
 * self-contained page with inline SVG charts, from what run_dir holds:
 * history.csv, summary.txt, spec.net, run.txt, the files of
 * sn_run_write_eval and robustness.csv. Missing files leave their section
 * out. */
sn_status sn_report_write(const char *run_dir, const char *out_path, sn_error *err);

/* Writes an SVG line chart of the numeric columns `columns` (comma-separated;
 * NULL: every *_loss column) of a CSV with a header (such as history.csv)
 * against its first column. title may be NULL. */
sn_status sn_plot_csv(const char *csv_path, const char *columns, const char *title,
                      const char *svg_path, sn_error *err);

/* ---- training runs: the run folder (src/run/) ---------------------------- */

/* A training run trains a spec's model on a data set (or a text corpus)
 * into a run folder, as `scratchnet train` does, and writes the folder:
 * spec.net, summary.txt, run.txt ("key value" lines: what was trained, on
 * what, how, when), history.csv, model.safetensors, checkpoint.safetensors
 * (with checkpoints), the test set's metrics (sn_run_write_eval), text runs'
 * samples.txt, and report.html. The folder is kept true:
 *   - one run at a time writes it: an exclusive flock(2) on RUN_DIR/.lock
 *     (holding the PID) from start to end; a second run is refused at once
 *     with SN_ERR_IO, naming that PID;
 *   - temporary files of writers killed half-way (NAME.tmp, NAME.tmp.PID of
 *     a process that is gone) are removed;
 *   - a new run into a folder holding another run's files is refused with
 *     SN_ERR_ARG; with `force` those files are moved aside
 *     (RUN_DIR/.replaced/), deleted when the new run succeeds (or stops on
 *     request with its checkpoint) and put back when it fails; the files of
 *     a run that failed before it had a model or checkpoint are replaced
 *     without `force`;
 *   - a resume checks that the spec's network and the data are the
 *     checkpoint's (CRC-32 of the data as loaded, or of the text) and that
 *     the checkpoint's run is not over.
 * With an MPI build under mpirun, every rank trains and rank 0 alone writes
 * the folder (docs/distributed.md). Nothing is printed: progress goes to
 * the hooks. */
typedef struct sn_run_result sn_run_result;

typedef struct sn_run_options {
    const char *run_dir;       /* the run folder (NULL: runs/<spec name>-<date>-<time>,
                                  see sn_run_result.run_dir); at most SN_RUN_MAX_DIR bytes */
    const char *spec_path;     /* the spec file: what run.txt names and errors cite */
    const char *spec_text;     /* its text (NULL: read from spec_path) */
    int resume;                /* 1: continue RUN_DIR/checkpoint.safetensors */
    int resume_changed_inputs; /* resume although the network or data differ */
    int force;                 /* replace the run the folder holds */
    /* Overrides of the spec's [train] section; unset: -1 (seed: 0 is a
     * seed; epochs, batch, lr, minutes: values <= 0 are unset too; a text
     * run's val_split, the fraction of the text held out: at most 0.9). */
    long seed, epochs, batch;
    double lr, val_split, minutes;
    int standardize, skip_nonfinite; /* 1 turns the setting on */
    /* Table runs: the data at `data`, read with data_options (sn_data_load)
     * once the model is built, or, when `train` is set, the training and
     * test sets as loaded (test may be NULL or empty), `data` and
     * data_options naming them. run.txt records them, and `classes` (the
     * class names file, see sn_class_names_load), so that reports and
     * `eval RUN_DIR` read the same data again (sn_run_data_read). */
    const char *data;
    sn_data_options data_options;
    const sn_dataset *train, *test;
    const char *classes;
    /* Text runs (when `text` is set): the corpus file, and overrides of the
     * spec's [text] section (sn_text_spec; unset: NULL or -1). */
    const char *text, *level, *prime;
    long words, seq_len, sample_every, sample_length;
    double temperature;
    /* Checkpoints (sn_checkpoint_options): every_epochs, every_steps,
     * delay_ms, stop_requested and stop_ctx as there. `record` is the
     * caller's description of the run (the CLI: its options), stored in
     * every checkpoint and given back by sn_run_recorded; a table run
     * without it writes no checkpoints. */
    long checkpoint_every, checkpoint_steps;
    int checkpoint_delay_ms;
    const char *record;
    int (*stop_requested)(void *ctx);
    void *stop_ctx;
    /* Data-parallel runs: all-reduce buckets of bucket_kb KiB (<= 0: 256);
     * compare the ranks' weights every check_weights steps (<= 0: never);
     * the gradient all-reduce's transport (sn_allreduce; 0: auto). */
    long bucket_kb, check_weights;
    int allreduce;
    const char *command; /* the command line run.txt records (NULL: none) */
    /* Progress: the training hooks (called on every rank), and with
     * hooks.ctx: on_start once the folder is ready, just before training
     * (r holds what the run is about to train), on_note for a warning or a
     * remark about the folder (a resume on another number of ranks, the
     * previous run's files put back after a failure). Any may be NULL. */
    sn_train_hooks hooks;
    void (*on_start)(void *ctx, const sn_run_result *r);
    void (*on_note)(void *ctx, const char *text);
} sn_run_options;

#define SN_RUN_MAX_DIR 1000

/* What a run trained and measured. Before training (on_start): the run
 * folder, the ranks, the sizes, the configuration in force and the model's
 * summary; after it, the results. */
struct sn_run_result {
    char run_dir[1024];
    int rank, ranks;          /* this process's rank of `ranks` (0 of 1 without MPI) */
    int text;                 /* 1: a text run */
    long ntrain, nval, ntest; /* samples (text: tokens) */
    int vocab_size;           /* text */
    const char *level;        /* text: "char", "byte" or "word" */
    double val_fraction;      /* text: the last fraction held out */
    sn_train_config config;   /* the [train] settings in force */
    int threads;
    char summary[8192]; /* sn_model_summary */
    /* after training */
    int kept_epoch;              /* the epoch whose weights the model holds */
    double train_loss, val_loss; /* text: of the kept epoch (NaN: none) */
    double test_loss, test_acc;  /* table: on the test set (NaN: none) */
    double test_macro_f1;        /* classification with a test set (NaN: none) */
    double minutes;              /* text: training time */
    /* The results in words, a line each: text runs the kept epoch's losses
     * in nats per token and bits, and the validation perplexity (as
     * summary.txt ends); table runs the test set's accuracy, loss and macro
     * F1 ("" without a test set). */
    char result[512];
};

/* The options unset: numbers -1, pointers NULL, flags 0; data_options the
 * CSV defaults (header detected, the last column the label). */
void sn_run_options_default(sn_run_options *o);
/* The model a training run starts from (sn_run_train builds it so): the
 * spec `text` (NULL: the file at `path`, which errors name), initialized
 * with the RNG seeded by `seed`: a negative one, the spec's [train] seed
 * (default 42); any other value is the seed, 0 included (unlike sn_model_from_spec's 0,
 * the spec's; the model's spec then ends with "[train]\nseed 0").
 * vocab_size > 0: a text spec, its `vocab` that size (sn_text_model_from_spec). */
sn_status sn_run_build_model(const char *path, const char *text, long seed, int vocab_size,
                             sn_model **m, sn_error *err);
/* Trains and writes the run folder (see above). r is filled as far as the
 * run got. SN_ERR_INTERRUPTED: stop_requested stopped it; its checkpoint is
 * written and a resume continues it. */
sn_status sn_run_train(const sn_run_options *o, sn_run_result *r, sn_error *err);
/* What RUN_DIR's checkpoint holds for a resume: the `record` of the run that
 * wrote it (sn_free it) and whether it is a text run. */
sn_status sn_run_recorded(const char *run_dir, char **record, int *text, sn_error *err);
/* A list of arguments as a `record`: one a line, each backslash in them
 * doubled and each newline written as a backslash and n (sn_free it; NULL:
 * out of memory). */
char *sn_run_record_join(int n, const char *const *args);
/* RUN_DIR's record (sn_run_recorded) split back into the arguments it was
 * joined from: (*args)[0..*n), NULL after them, in one block (sn_free it). */
sn_status sn_run_recorded_args(const char *run_dir, int *n, char ***args, int *text, sn_error *err);
/* sn_checkpoint_verify, and whether the run that wrote the checkpoint is
 * over: *done 2 when early stopping ended it, 1 when all its epochs are done
 * (a resume must ask for more), else 0. */
sn_status sn_run_checkpoint_verify(const char *path, sn_checkpoint_info *info, int *done,
                                   sn_error *err);

/* ---- sweeps (docs/sweep.md) ---------------------------------------------- */

/* A sweep file read and expanded into its configurations: every spec it
 * names crossed with every combination of its grid's values. Paths in the
 * file are taken relative to its folder. */
typedef struct sn_sweep sn_sweep;
sn_status sn_sweep_load(const char *file, sn_sweep **out, sn_error *err);
void sn_sweep_free(sn_sweep *sw);
/* The file's "name" (default: the file's name), "out", "data", "test" and
 * "classes" lines; NULL when absent. */
const char *sn_sweep_get(const sn_sweep *sw, const char *key);
int sn_sweep_count(const sn_sweep *sw);
/* Configuration i: its label ("lr=1e-3 epochs=2"), its run folder's name
 * ("01_lr=1e-3_epochs=2"), its spec file, and its spec text: the spec file
 * with a [train] section holding the sweep's values (sn_free it). */
const char *sn_sweep_label(const sn_sweep *sw, int i);
const char *sn_sweep_dir(const sn_sweep *sw, int i);
const char *sn_sweep_spec_path(const sn_sweep *sw, int i);
sn_status sn_sweep_spec_text(const sn_sweep *sw, int i, char **text, sn_error *err);
/* Creates sweep_dir (and its parents) and copies the sweep file to
 * sweep_dir/sweep.txt. */
sn_status sn_sweep_start(const sn_sweep *sw, const char *sweep_dir, sn_error *err);
/* Records how configuration i's training went (error: NULL when it
 * succeeded), reads its run folder sweep_dir/DIR (history.csv, metrics.csv)
 * and rewrites sweep_dir/comparison.csv and comparison.html: a table sorted
 * by the sweep's metric and every run's curves overlaid, in the run report's
 * style. */
sn_status sn_sweep_record(sn_sweep *sw, int i, const char *error, const char *sweep_dir,
                          sn_error *err);
/* The configuration ranked r (0: the best) by the sort metric: its index;
 * *value its metric, *failed whether its training failed, *metric the
 * metric's name. */
int sn_sweep_ranked(const sn_sweep *sw, int r, double *value, int *failed, const char **metric);

/* ---- text: vocabularies, sequence training, generation (docs/rnn.md) ---- */

typedef enum sn_text_level {
    SN_TEXT_CHAR, /* UTF-8 code points */
    SN_TEXT_BYTE, /* bytes (any file) */
    SN_TEXT_WORD, /* lower-cased words and punctuation marks, the K most frequent */
} sn_text_level;

/* A token vocabulary: ids 0 .. size−1. Char and byte level: every code point
 * (byte) of the corpus, in increasing order. Word level: id 0 is "<unk>",
 * then the max_words most frequent tokens (ties: first occurrence first). A
 * word token is a run of letters and digits (ASCII, and any non-ASCII code
 * point but the quotes, dashes and ellipsis of U+2013..U+2026 and « »),
 * apostrophes inside it included ("don't", "whale's"); ASCII and Latin-1
 * capitals are lower-cased. Every other mark is a token of its own, a run
 * of the same mark one token ("--", "..."); a blank line is the paragraph
 * token "\n\n"; other white space and NUL bytes only separate. */
typedef struct sn_vocab sn_vocab;

/* Releases the buffers the functions below hand out (texts, token ids). */
void sn_free(void *p);

/* Parses "char", "byte" or "word". */
sn_status sn_text_level_parse(const char *s, sn_text_level *out, sn_error *err);
const char *sn_text_level_name(sn_text_level l);

/* Reads a whole text file (at most 1 GiB) into *text (NUL-terminated,
 * sn_free it); *len excludes the NUL. */
sn_status sn_text_read_file(const char *path, char **text, size_t *len, sn_error *err);

/* The vocabulary of a corpus of len bytes. Errors: an empty corpus, invalid
 * UTF-8 at char level (with its byte offset), fewer than 2 distinct tokens. */
sn_status sn_vocab_build(const char *text, size_t len, sn_text_level level, int max_words,
                         sn_vocab **out, sn_error *err);
void sn_vocab_free(sn_vocab *v);
int sn_vocab_size(const sn_vocab *v);
sn_text_level sn_vocab_level(const sn_vocab *v);
/* Token id's text (byte level: one byte, *len 1); NULL when out of range. */
const char *sn_vocab_token(const sn_vocab *v, int id, size_t *len);
/* The id of the token whose text is token[0..len), or −1. */
int sn_vocab_find(const sn_vocab *v, const char *token, size_t len);
/* Token ids of a text into *ids (sn_free it), *n of them. Word level:
 * words outside the vocabulary become <unk> (id 0). Char and byte level: a
 * code point (byte) outside the vocabulary is an error that names it and
 * its byte offset; so is invalid UTF-8 at char level. */
sn_status sn_vocab_encode(const sn_vocab *v, const char *text, size_t len, int **ids, size_t *n,
                          sn_error *err);
/* The text of n token ids into *out (NUL-terminated, sn_free it). Word
 * level joins tokens with spaces, none before closing or after opening
 * marks, none around hyphens, and capitalizes sentence starts and "i". */
sn_status sn_vocab_decode(const sn_vocab *v, const int *ids, size_t n, char **out, sn_error *err);
/* The same, with the length in bytes in *len: byte-level text may hold NUL
 * bytes, which end the C string early. */
sn_status sn_vocab_decode_n(const sn_vocab *v, const int *ids, size_t n, char **out, size_t *len,
                            sn_error *err);
/* A one-string form (valid UTF-8, for safetensors __metadata__) and back. */
sn_status sn_vocab_serialize(const sn_vocab *v, char **out, sn_error *err);
sn_status sn_vocab_parse(const char *s, sn_vocab **out, sn_error *err);

/* How sn_text_train cuts the token stream: N = cfg.batch parallel streams
 * (contiguous slices of the text), batches of T = seq_len steps of all
 * streams, the state carried from batch to batch of an epoch (truncated
 * BPTT) and reset at each epoch's start; each step's target is the next
 * token. One epoch is a full pass over the training tokens. Losses are the
 * mean cross-entropy per token, in nats (bits = nats / ln 2). */
typedef struct sn_text_options {
    int seq_len;       /* T (default 50) */
    int sample_every;  /* epochs between samples passed to on_sample (0: none) */
    int sample_length; /* tokens per sample (default 200) */
    float temperature; /* of the samples (default 0.8) */
    const char *prime; /* text the samples start from (NULL: none) */
    int keep_best;     /* with validation: end with the best epoch's weights by
                          cfg.monitor and cfg.min_delta, even without early
                          stopping (default 1) */
} sn_text_options;

/* Defaults of the above. */
void sn_text_options_default(sn_text_options *o);

/* The data settings of a text spec's [text] section (keys as named; each
 * also a flag of 'scratchnet train SPEC --text FILE'):
 *   level char|byte|word   tokens (default char)
 *   words K                word level: the K most frequent words (5000)
 *   seq T                  o.seq_len (50)
 *   val F                  the last fraction F of the text is the validation
 *                          set (0.1)
 *   minutes M              training time budget: cfg.max_seconds = 60·M
 *                          (0: none)
 *   sample_every N, sample_length N, temperature X   o's (1, 200, 0.8)
 *   prime TEXT             the rest of the line; o.prime points at `prime`
 *                          (NULL when empty)
 * A text spec's layers may write `vocab` for the vocabulary size: build the
 * model with sn_text_model_from_spec once the vocabulary is known.
 * sn_model_from_spec accepts a [text] section (checked, then ignored) but
 * not `vocab`. */
typedef struct sn_text_spec {
    sn_text_level level;
    int words;
    double val;
    double minutes;
    sn_text_options o;
    char prime[512];
} sn_text_spec;

/* The defaults above. */
void sn_text_spec_default(sn_text_spec *t);
/* Reads the [text] section of spec text (defaults for what it does not
 * set; none: all defaults). Errors name "name:line: [text]". */
sn_status sn_text_spec_parse(const char *spec, const char *name, sn_text_spec *t, sn_error *err);
/* sn_model_from_spec of a text spec: the [text] lines blanked (line numbers
 * stay right) and every whole word `vocab` replaced by vocab_size; that
 * text becomes the model's spec (sn_model_spec, saved in its file). */
sn_status sn_text_model_from_spec(const char *spec, const char *name, uint64_t seed, int vocab_size,
                                  sn_model **out, sn_error *err);
/* 1 when spec text holds the whole word `vocab` (comments included): a text
 * spec, whose size waits for a vocabulary (sn_text_model_from_spec). */
int sn_spec_has_vocab(const char *spec);

/* Trains a sequence model (token-id input: `input 1`, then `embedding` or
 * `onehot`, recurrent layers, a dense output of size(v), softmax_xent) on
 * train[0..ntrain) and evaluates val[0..nval) (val may be NULL) after every
 * epoch, with the model's [train] configuration: optimizer, schedule,
 * clipping (clip value= / norm=), epochs, batch = streams, seed, early
 * stopping (as sn_train: monitor val_loss or train_loss, min_delta,
 * patience, restore), the time budget (max_seconds). It runs the same loop
 * as sn_train. `v` (may be NULL) decodes the samples passed to
 * hooks->on_sample. history_csv (or NULL) gets one row per epoch: epoch,
 * step, train_loss, train_bits, val_loss, val_bits, val_perplexity, lr,
 * seconds, tokens_per_s, elapsed (wall seconds since the start), cpu_seconds,
 * skipped (batches the guard skipped, see skip_nonfinite), reg_loss. A
 * training step allocates nothing. */
sn_status sn_text_train(sn_model *m, const sn_vocab *v, const int *train, size_t ntrain,
                        const int *val, size_t nval, const sn_text_options *o,
                        const sn_train_hooks *hooks, const char *history_csv, sn_error *err);
/* The same with checkpoints (ck may be NULL; see sn_train_checkpointed). A
 * checkpoint taken mid-epoch holds the recurrent state carried into the
 * next batch. */
sn_status sn_text_train_checkpointed(sn_model *m, const sn_vocab *v, const int *train,
                                     size_t ntrain, const int *val, size_t nval,
                                     const sn_text_options *o, const sn_train_hooks *hooks,
                                     const char *history_csv, const sn_checkpoint_options *ck,
                                     sn_error *err);

/* Mean loss per token (nats) of m on ids[0..n): `streams` streams of
 * seq_len steps, state carried, starting from zero. */
sn_status sn_text_evaluate(sn_model *m, const int *ids, size_t n, int seq_len, int streams,
                           double *loss, sn_error *err);

/* Sampling options of sn_text_generate. */
typedef struct sn_sample_options {
    int length;        /* tokens to generate */
    float temperature; /* softmax(z / temperature); 0 = always the most likely token */
    int top_k;         /* sample among the k most likely tokens only (0: all) */
    int allow_unk;     /* word level: 0 never samples <unk> */
    uint64_t seed;
} sn_sample_options;

/* Feeds the prime's tokens (none: a start token, the paragraph mark or
 * newline when the vocabulary has one) through m from a zero state, then
 * samples o->length tokens, each fed back in. *out (sn_free it) is the
 * decoded prime followed by the sample. Deterministic for a fixed seed and
 * model. */
sn_status sn_text_generate(sn_model *m, const sn_vocab *v, const char *prime,
                           const sn_sample_options *o, char **out, sn_error *err);
/* The same, with the length of *out in bytes in *len (byte-level text may
 * hold NUL bytes: write len bytes, not a C string). */
sn_status sn_text_generate_n(sn_model *m, const sn_vocab *v, const char *prime,
                             const sn_sample_options *o, char **out, size_t *len, sn_error *err);

/* A text model file: the weights and spec as sn_model_save writes them,
 * plus the vocabulary in __metadata__["vocab"] (and `extra` key/value
 * metadata pairs, may be 0). sn_text_model_load gives both back (on
 * failure neither: *m and *v are NULL). */
sn_status sn_text_model_save(const sn_model *m, const sn_vocab *v, const char *path, int nextra,
                             const char *const *extra_keys, const char *const *extra_values,
                             sn_error *err);
sn_status sn_text_model_load(const char *path, sn_model **m, sn_vocab **v, sn_error *err);

/* ---- threads ----------------------------------------------------------- */

/* Number of threads the kernels use; n <= 0 means every CPU the process may
 * run on. Until it is called: OMP_NUM_THREADS when set, else every CPU.
 * Results are bitwise identical for a given count. The team waits for work
 * spinning briefly, then asleep, and runs alone for a while when another
 * process keeps a thread from running (src/core/threads.h); no environment
 * variable needs setting. */
void sn_set_threads(int n);
int sn_get_threads(void);

/* ---- processes of a data-parallel run (docs/distributed.md) ------------ */

/* The transport of the gradient all-reduce. */
typedef enum sn_allreduce {
    SN_ALLREDUCE_AUTO = 0, /* SHM when all ranks share one node, else MPI */
    SN_ALLREDUCE_SHM,      /* an MPI-3 shared-memory window in each node, and
                              hierarchical across nodes (MPI when the nodes
                              hold different numbers of ranks) */
    SN_ALLREDUCE_MPI       /* MPI_Iallreduce of buckets during backward */
} sn_allreduce;

/* Joins the group (MPI_Init_thread) when the program was started by an MPI
 * launcher (mpirun: its environment says so); otherwise, in a build without
 * MPI (-DSN_MPI=ON), or when already initialized, does nothing (one
 * process). argc/argv may be NULL. */
sn_status sn_dist_init(int *argc, char ***argv, sn_error *err);
/* Leaves it (MPI_Finalize, when sn_dist_init initialized MPI). */
void sn_dist_finalize(void);
int sn_dist_rank(void); /* 0 before init and without MPI */
int sn_dist_size(void); /* 1 before init and without MPI */
/* Ends all ranks with exit status `code` (MPI_Abort) when there are several;
 * returns without doing anything otherwise (the caller then exits as usual). */
void sn_dist_abort(int code);
/* 0, or once the ranks of a data-parallel training agreed to stop after
 * the same step (a stop request reached one of them): the request they
 * agreed on, non-zero (the value the stop_requested hook of the lowest rank
 * that asked returned; the CLI's returns the signal's number). The ranks
 * then end together, each with the stop's status, and need no
 * sn_dist_abort. */
int sn_dist_stopped_together(void);

/* ---- memory ------------------------------------------------------------ */

/* The memory a model takes to train on batches of up to max_batch rows
 * (samples; for sequence models T·N), in bytes: parameters and buffers,
 * their gradients, the optimizer's state (its [train] optimizer), the
 * activations and their gradients of every layer, and the layers' scratch
 * space (im2col buffers, recurrent caches). Sums saturate at SIZE_MAX. */
typedef struct sn_memory {
    size_t params, grads, optimizer, activations, scratch, total;
} sn_memory;
void sn_model_memory(const sn_model *m, int max_batch, sn_memory *out);

/* The most memory sn_model_reserve lets a model take (sn_memory.total):
 * bytes > 0 sets it, 0 restores the default, the memory available when the
 * reserve is made (MemAvailable of /proc/meminfo; no limit where that cannot
 * be read). A model over it is refused with SN_ERR_NOMEM and its figures,
 * before anything is allocated. */
void sn_set_memory_limit(size_t bytes);
size_t sn_memory_limit(void); /* the limit now in force (SIZE_MAX: none) */

/* "1.5 GiB", "354.2 KiB", "12 B": n bytes for messages. */
void sn_format_bytes(size_t n, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
