/* Shared helpers of the libFuzzer targets (fuzz/fuzz_*.c).
 *
 * Each target defines SN_FUZZ_ENTRY (by default LLVMFuzzerTestOneInput) and
 * calls one reader of the library on the input, then frees everything it got
 * back. Readers that take a path get the input through a per-process file in
 * $TMPDIR (or /dev/shm when it exists), rewritten each iteration and removed
 * afterwards. tests/test_fuzz_regress.c includes the same files with other
 * entry names and replays fuzz/corpus/<target>/ through them in a normal
 * build. */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#include "scratchnet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under AddressSanitizer: an allocation larger than 1 GiB returns NULL (as on
 * a machine without that memory) instead of aborting, so the readers' NOMEM
 * paths run. Smaller but still large allocations are caught by libFuzzer's
 * -malloc_limit_mb (make fuzz sets it): a small file that makes a reader
 * allocate hundreds of MiB is a finding. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

/* A path for this process's scratch file `tag` (or folder). */
static inline const char *sn_fuzz_path(const char *tag) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    const char *dir = getenv("TMPDIR");
    struct stat st;
    if (!dir || !*dir)
        dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(p, sizeof buf[0], "%s/sn-fuzz-%ld-%s", dir, (long)getpid(), tag);
    return p;
}

/* Writes data[0..size) to path; 0 on failure (the iteration is skipped). */
static inline int sn_fuzz_write(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* A NUL-terminated copy of the input (malloc'ed). */
static inline char *sn_fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return NULL;
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* Whether a spec text asks only for a small model: every number at most
 * 1024 and every AxBxC shape at most 65536 values. A spec may legitimately
 * ask for a model of many GiB, which would only measure the machine. */
static inline int sn_fuzz_small_spec(const char *s) {
    long prod = 1;
    for (const char *p = s; *p;) {
        if (*p < '0' || *p > '9') {
            if (*p != 'x') prod = 1;
            p++;
            continue;
        }
        long v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > 1024) return 0;
        }
        prod *= v ? v : 1;
        if (prod > 65536) return 0;
    }
    return 1;
}

/* Runs a forward and backward pass of batch 2 (zero inputs: valid token ids
 * for embedding and onehot, label 0) through a small model. */
static inline void sn_fuzz_exercise_model(sn_model *m) {
    if (sn_model_num_params(m) > 65536 || sn_model_input_size(m) > 65536) return;
    sn_error err;
    /* a tall convolution over a small input can still ask for hundreds of
     * MiB of im2col scratch: the budget refuses it before it is taken */
    sn_set_memory_limit((size_t)64 << 20);
    sn_status s = sn_model_reserve(m, 2, &err);
    sn_set_memory_limit(0);
    if (s != SN_OK) return;
    if (sn_model_is_recurrent(m)) sn_model_set_seq_len(m, 2, NULL);
    float *x = calloc(2 * sn_model_input_size(m), sizeof(float));
    int labels[2] = {0, 0};
    if (x) {
        sn_model_forward(m, x, 2, 1, NULL);
        sn_model_backward(m, labels, NULL, NULL, NULL);
    }
    free(x);
}

#endif
