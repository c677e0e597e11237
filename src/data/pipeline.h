/* The input pipeline a model carries (pipeline.c): how its training inputs
 * were prepared, applied again to every input it is given and saved with it.
 * Public entry points are in scratchnet.h ("the input pipeline"). */
#ifndef SN_DATA_PIPELINE_H
#define SN_DATA_PIPELINE_H

#include "model/safetensors.h"
#include "scratchnet.h"

typedef struct sn_preprocess {
    int fitted;        /* 1 once sn_model_fit_input (or a loaded file) set it */
    size_t size;       /* values per sample */
    float *mean, *std; /* [size]: x' = (x − mean) / std; NULL: no standardization */
    int has_range;     /* lo, hi: the smallest and largest training input (raw) */
    float lo, hi;
    int pixels;   /* the training inputs were 8-bit pixels scaled to [0, 1] */
    int nclasses; /* class names (NULL: none) */
    char **classes;
} sn_preprocess;

void sn_preprocess_free(sn_preprocess *p);

/* x[0 .. n·size) standardized in place (no-op without statistics). */
void sn_preprocess_apply(const sn_preprocess *p, float *x, int n);

/* Tensors and metadata for sn_model_save: appends up to 2 tensors
 * (preprocess.mean, preprocess.std) to names/tensors and up to 3 pairs
 * (input.range, input.scale, classes) to keys/values, counting in *n and
 * *nmeta. The strings live in `buf` (len bytes; class names beyond it are
 * refused). */
#define SN_PREPROCESS_MAX_TENSORS 2
#define SN_PREPROCESS_MAX_META    3
sn_status sn_preprocess_describe(const sn_preprocess *p, const char **names,
                                 const sn_tensor **tensors, sn_tensor *views, int *n,
                                 const char **keys, const char **values, int *nmeta, char *buf,
                                 size_t len, sn_error *err);

/* The bytes sn_preprocess_describe needs in `buf`. */
size_t sn_preprocess_text_size(const sn_preprocess *p);

/* Reads what sn_preprocess_describe wrote from a loaded file into m
 * (replacing m's); checks sizes against m's input. All or nothing: on
 * failure m is unchanged. */
sn_status sn_preprocess_read(sn_model *m, const sn_st_file *f, const char *path, sn_error *err);

/* 1 for the names of tensors sn_preprocess_describe writes. */
int sn_preprocess_is_tensor(const char *name);

/* What sn_train does before training (trainer.c): with val == NULL and
 * cfg.val_split > 0, *train split into the owned sets *own_train and
 * *own_val (then *train and *val point at them); the model's input pipeline
 * fitted to the training part unless it has one. Free the owned sets with
 * sn_dataset_free (they are zero when unused). */
sn_status sn_train_prepare(sn_model *m, const sn_dataset **train, const sn_dataset **val,
                           sn_dataset *own_train, sn_dataset *own_val, sn_error *err);

#endif
