/* CIFAR-10 binary batches (sn_cifar_load_file). Byte 0 of the input picks
 * the options (bit 0: grey, bits 1..3: record limit, 0 = all); the rest is
 * the file. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int grey = data[0] & 1, limit = (data[0] >> 1) & 7;
    const char *path = sn_fuzz_path("cifar");
    if (!sn_fuzz_write(path, data + 1, size - 1)) return 0;
    sn_error err;
    sn_dataset d;
    if (sn_cifar_load_file(path, limit, grey, &d, &err) == SN_OK) {
        for (int i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes) abort();
        for (size_t i = 0; i < (size_t)d.n * d.sample_size; i++)
            if (!(d.x[i] >= 0 && d.x[i] <= 1)) abort();
        sn_dataset_free(&d);
    }
    unlink(path);
    return 0;
}
