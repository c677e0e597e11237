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
} sn_status;

typedef struct sn_error {
    sn_status code;
    char msg[512];
} sn_error;

/* Name of a status code, e.g. "format error". */
const char *sn_status_name(sn_status s);

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

/* Training hyper-parameters: the spec's [train] section, overridable by the
 * caller (the CLI's flags) before training. */
typedef struct sn_train_config {
    char optimizer[16]; /* "sgd" or "adam" */
    float lr;           /* base learning rate */
    float momentum;     /* SGD momentum μ (0 = none) */
    int nesterov;       /* SGD Nesterov momentum */
    float decay;        /* 1/t decay: lr_t = lr / (1 + decay·t), t = step */
    float beta1, beta2; /* Adam */
    float eps;          /* Adam ε (added to sqrt(v̂), as PyTorch) */
    float weight_decay; /* L2 penalty added to the gradient (as PyTorch's) */
    int batch;          /* mini-batch size */
    int epochs;
    float val_split; /* fraction of the training set held out (0 = none) */
    int patience;    /* early stopping: epochs without improvement (0 = off) */
    float min_delta; /* early stopping: smallest improvement that counts */
    uint64_t seed;   /* initialization, shuffling and split */
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
 * Written to a temporary file, flushed and renamed. */
sn_status sn_model_save(const sn_model *m, const char *path, sn_error *err);
sn_status sn_model_load(const char *path, sn_model **out, sn_error *err);
/* Loads weights saved by PyTorch (a Sequential's state_dict as safetensors,
 * or ours) into an existing model; names and shapes must match exactly. */
sn_status sn_model_load_weights(sn_model *m, const char *path, sn_error *err);

/* Allocates activations and gradients for batches of up to max_batch
 * samples. Forward, backward and optimizer steps then allocate nothing. */
sn_status sn_model_reserve(sn_model *m, int max_batch, sn_error *err);

/* x: [n, input shape] (n <= the reserved batch). Returns the output [n, K]. */
const sn_tensor *sn_model_forward(sn_model *m, const float *x, int n, int train);
/* After sn_model_forward(train=1): the mean loss of the batch; fills every
 * parameter's gradient. labels: [n] or NULL; targets: [n, K] or NULL. */
double sn_model_backward(sn_model *m, const int *labels, const float *targets);
/* Loss of the last forward pass without computing gradients. */
double sn_model_loss(sn_model *m, const int *labels, const float *targets);
/* Number of correct predictions in the last forward pass. */
int sn_model_correct(const sn_model *m, const int *labels);
/* Eval-mode forward and class probabilities (or regression outputs) into
 * out: [n, K]. */
void sn_model_predict(sn_model *m, const float *x, int n, float *out);

sn_train_config *sn_model_config(sn_model *m);
const char *sn_model_spec(const sn_model *m);
int sn_model_num_layers(const sn_model *m);
/* Per-sample input size and output size K. */
size_t sn_model_input_size(const sn_model *m);
int sn_model_output_size(const sn_model *m);
/* Writes a table of layers, output shapes and parameter counts into buf. */
void sn_model_summary(const sn_model *m, char *buf, size_t len);
size_t sn_model_num_params(const sn_model *m);

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
void sn_optimizer_free(sn_optimizer *o);

/* ---- training ---------------------------------------------------------- */

typedef struct sn_dataset sn_dataset; /* see "data sets" below */

/* What one epoch measured. Loss is the mean data loss per sample; accuracy
 * a fraction in [0, 1] (classification only). Missing sets give NaN. */
typedef struct sn_epoch_stats {
    int epoch; /* 1-based */
    long step; /* optimizer steps so far */
    double train_loss, train_acc;
    double val_loss, val_acc;
    double test_loss, test_acc;
    double lr;      /* learning rate at the end of the epoch */
    double seconds; /* wall time of the epoch (training and evaluation) */
} sn_epoch_stats;

/* Hooks the training loop calls; any may be NULL. The CLI's progress bar
 * and per-epoch lines are such hooks: the library itself prints nothing. */
typedef struct sn_train_hooks {
    void *ctx;
    void (*on_batch)(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double samples_per_s);
    /* Returns non-zero to stop training after this epoch. */
    int (*on_epoch)(void *ctx, const sn_epoch_stats *s);
} sn_train_hooks;

/* Trains m on `train` for cfg.epochs epochs of shuffled mini-batches (seeded
 * by cfg.seed), evaluating `val` and `test` (either may be NULL) after each
 * epoch. With cfg.patience > 0 and a validation set, stops when the
 * validation loss has not improved by cfg.min_delta for that many epochs
 * and restores the best weights. `history_csv` (or NULL) receives one row
 * per epoch. A non-finite loss stops training with SN_ERR_NUMERIC. */
sn_status sn_train(sn_model *m, const sn_dataset *train, const sn_dataset *val,
                   const sn_dataset *test, const sn_train_hooks *hooks, const char *history_csv,
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
} sn_dataset;

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

/* ---- transforms and splits ---------------------------------------------- */

/* Per-feature mean and standard deviation of d (std of 0 is taken as 1). */
sn_status sn_dataset_feature_stats(const sn_dataset *d, float *mean, float *std, sn_error *err);
/* x = (x - mean) / std, per feature. */
void sn_dataset_standardize(sn_dataset *d, const float *mean, const float *std);

/* Moves the last `frac` of a seeded random permutation of `all` into `val`,
 * the rest into `train` (copies; `all` is left untouched). With
 * stratified != 0 (labels needed) each class is split in the same proportion
 * (round(frac * class count) of each class goes to `val`). Both parts keep
 * the samples in their original order. */
sn_status sn_dataset_split(const sn_dataset *all, double frac, int stratified, uint64_t seed,
                           sn_dataset *train, sn_dataset *val, sn_error *err);

/* ---- threads ----------------------------------------------------------- */

/* Number of threads the kernels use (OpenMP); n <= 0 means all cores. */
void sn_set_threads(int n);
int sn_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif
