/* IDX files (sn_idx_load_images, sn_idx_load_labels), raw or gzip: the same
 * bytes through both readers. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    const char *path = sn_fuzz_path("idx");
    if (!sn_fuzz_write(path, data, size)) return 0;
    sn_error err;
    sn_dataset d;
    if (sn_idx_load_images(path, &d, &err) == SN_OK) {
        if ((size_t)d.n * d.sample_size == 0) abort(); /* a loaded set is never empty */
        sn_dataset_free(&d);
    }
    int *labels = NULL, n = 0, k = 0;
    if (sn_idx_load_labels(path, &labels, &n, &k, &err) == SN_OK) {
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= k) abort();
        sn_free(labels);
    }
    unlink(path);
    return 0;
}
