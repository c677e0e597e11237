/* Numeric CSV (sn_csv_load), then what the command line does with a loaded
 * set: feature statistics, standardization and a stratified split. Bytes 0
 * and 1 of the input pick the options, the rest is the file:
 *   byte 0  bits 0-1 header (0 detect, 1 none, 2 first row, 3 detect),
 *           bit 2 features_only, bits 3-4 delimiter (, ; tab space)
 *   byte 1  < 0x80: label column (byte1 & 7) - 1 (-1: the last column);
 *           else 1 + (byte1 & 3) target columns from (byte1 >> 2) & 7 on. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    static const int headers[4] = {-1, 0, 1, -1};
    static const char delims[4] = {',', ';', '\t', ' '};
    sn_csv_options o;
    memset(&o, 0, sizeof o);
    o.header = headers[data[0] & 3];
    o.features_only = (data[0] >> 2) & 1;
    o.delimiter = delims[(data[0] >> 3) & 3];
    o.label_col = -1;
    if (data[1] < 0x80) {
        o.label_col = (data[1] & 7) - 1;
    } else {
        o.num_target_cols = 1 + (data[1] & 3);
        for (int t = 0; t < o.num_target_cols; t++) o.target_cols[t] = ((data[1] >> 2) & 7) + t;
    }
    const char *path = sn_fuzz_path("csv");
    if (!sn_fuzz_write(path, data + 2, size - 2)) return 0;
    sn_error err;
    sn_dataset d, train, val;
    if (sn_csv_load(path, &o, &d, &err) == SN_OK) {
        if (d.n <= 0 || d.sample_size == 0) abort();
        for (int i = 0; d.labels && i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes) abort();
        float *mean = calloc(d.sample_size, sizeof(float));
        float *std = calloc(d.sample_size, sizeof(float));
        if (mean && std && sn_dataset_feature_stats(&d, mean, std, &err) == SN_OK)
            sn_dataset_standardize(&d, mean, std);
        free(mean);
        free(std);
        if (sn_dataset_split(&d, 0.25, d.labels != NULL, 7, &train, &val, &err) == SN_OK) {
            if (train.n + val.n != d.n) abort();
            sn_dataset_free(&train);
            sn_dataset_free(&val);
        }
        sn_dataset_free(&d);
    }
    unlink(path);
    return 0;
}
