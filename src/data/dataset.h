/* In-memory data sets and their loaders (one file per format). */
#ifndef SN_DATA_DATASET_H
#define SN_DATA_DATASET_H

#include "scratchnet.h"

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

#endif
