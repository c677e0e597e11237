/* Checkpoint files: sn_checkpoint_verify, the whole check that
 * `scratchnet checkpoint` and a resume make (checksums, format, every
 * metadata field, the model its spec builds, every tensor against it), on
 * the input written to a file. The memory the embedded spec's model may take
 * is capped at 64 MiB (sn_set_memory_limit), below -malloc_limit_mb. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    sn_set_threads(1);
    sn_set_memory_limit((size_t)64 << 20);
    const char *path = sn_fuzz_path("checkpoint");
    if (!sn_fuzz_write(path, data, size)) return 0;
    sn_checkpoint_info info;
    sn_error err;
    if (sn_checkpoint_verify(path, &info, &err) == SN_OK &&
        (info.batch < 0 || info.batch > info.nbatches || info.epoch < 1))
        abort(); /* a verified checkpoint stands somewhere real */
    remove(path);
    sn_set_memory_limit(0);
    return 0;
}
