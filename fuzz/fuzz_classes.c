/* Class-name files: sn_class_names_load with an explicit file (byte 0 of the
 * input gives K = 1 + (byte0 & 63)), and sn_cifar_class_names on a folder
 * whose batches.meta.txt is the same text. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int K = 1 + (data[0] & 63);
    const char *dir = sn_fuzz_path("classes");
    char path[600];
    snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
    mkdir(dir, 0700);
    if (!sn_fuzz_write(path, data + 1, size - 1)) return 0;
    sn_error err;
    char **names = NULL;
    if (sn_class_names_load(NULL, path, NULL, K, &names, &err) == SN_OK) {
        for (int i = 0; i < K; i++)
            if (!names[i] || !names[i][0]) abort();
        sn_class_names_free(names, K);
    }
    char cifar[10][32];
    if (sn_cifar_class_names(dir, cifar, &err) == SN_OK) {
        for (int i = 0; i < 10; i++)
            if (!cifar[i][0] || strlen(cifar[i]) > 31) abort();
    }
    unlink(path);
    rmdir(dir);
    return 0;
}
