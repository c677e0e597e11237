/* A data set named by one path, as `scratchnet train --data` takes it: a
 * CIFAR-10 binary folder, a folder of IDX files, or a numeric CSV. */
#include "core/error.h"
#include "data/dataset.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A folder of the CIFAR-10 binary version, or one holding cifar-10-batches-bin/. */
static int is_cifar_dir(const char *dir) {
    static const char *probes[] = {"data_batch_1.bin", "test_batch.bin",
                                   "cifar-10-batches-bin/test_batch.bin"};
    char path[4200];
    struct stat st;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, probes[i]);
        if (stat(path, &st) == 0) return is_dir(dir);
    }
    return 0;
}

sn_status sn_data_load(const char *path, const sn_data_options *o, sn_dataset *train,
                       sn_dataset *test, sn_error *err) {
    if (!path || !test) return sn_fail(err, SN_ERR_ARG, "sn_data_load: NULL argument");
    sn_data_options none;
    memset(&none, 0, sizeof none);
    none.csv.header = -1;
    none.csv.label_col = -1;
    if (!o) o = &none;
    if (train) memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    sn_status s;
    if (is_cifar_dir(path)) { /* CIFAR-10 binary: data_batch_*.bin, test_batch.bin */
        s = train ? sn_cifar_load_dir(path, "train", o->cifar_per_file, o->grey, train, err)
                  : SN_OK;
        if (s == SN_OK) s = sn_cifar_load_dir(path, "test", o->cifar_per_file, o->grey, test, err);
    } else if (o->grey || o->cifar_per_file) {
        s = sn_fail(err, SN_ERR_ARG,
                    "--grey and --cifar-per-file apply to CIFAR-10 folders (data_batch_1.bin ... "
                    "test_batch.bin); %s is not one",
                    path);
    } else if (is_dir(path)) {
        s = train ? sn_idx_load_dir(path, "train", train, err) : SN_OK;
        if (s == SN_OK) s = sn_idx_load_dir(path, "t10k", test, err);
    } else {
        s = sn_csv_load(path, &o->csv, train ? train : test, err);
        if (s == SN_OK && o->test && train) s = sn_csv_load(o->test, &o->csv, test, err);
    }
    if (s != SN_OK) {
        if (train) sn_dataset_free(train);
        sn_dataset_free(test);
    }
    return s;
}

/* The first label of d outside 0..K-1, named after `file` (and `part` for
 * a folder holding several sets). */
static sn_status check_labels(const sn_dataset *d, int K, const char *file, const char *part,
                              sn_error *err) {
    for (int i = 0; d && d->labels && i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= K)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s%s: sample %d: label %d out of range (the model has %d classes, "
                           "0..%d)",
                           file, is_dir(file) ? part : "", i, d->labels[i], K, K - 1);
    return SN_OK;
}

sn_status sn_data_check_labels(const sn_model *m, const char *path, const char *test_path,
                               const sn_dataset *train, const sn_dataset *test, sn_error *err) {
    int K = sn_model_num_classes(m);
    if (!path) path = "data";
    sn_status s = check_labels(train, K, path, " (training labels)", err);
    if (s == SN_OK)
        s = check_labels(test, K, test_path && train && train->n ? test_path : path,
                         " (test labels)", err);
    return s;
}
