/* Replays every file of fuzz/corpus/<target>/ (the seeds, and every input
 * that once crashed a reader) through the fuzz targets' own entry points, in
 * a normal build: under the sanitizer build (make sanitize) this repeats
 * what the fuzzers checked, and a reader that crashes, leaks or breaks one
 * of the targets' invariants on a known input fails the suite. */
#include "check.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SN_FUZZ_ENTRY fuzz_idx
#include "../fuzz/fuzz_idx.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_cifar
#include "../fuzz/fuzz_cifar.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_csv
#include "../fuzz/fuzz_csv.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_text
#include "../fuzz/fuzz_text.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_spec
#include "../fuzz/fuzz_spec.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_safetensors
#include "../fuzz/fuzz_safetensors.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_vocab
#include "../fuzz/fuzz_vocab.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_classes
#include "../fuzz/fuzz_classes.c"
#undef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY fuzz_checkpoint
#include "../fuzz/fuzz_checkpoint.c"
#undef SN_FUZZ_ENTRY

static const struct {
    const char *name;
    int (*run)(const uint8_t *, size_t);
} targets[] = {
    {"idx", fuzz_idx},     {"cifar", fuzz_cifar},     {"csv", fuzz_csv},
    {"text", fuzz_text},   {"spec", fuzz_spec},       {"safetensors", fuzz_safetensors},
    {"vocab", fuzz_vocab}, {"classes", fuzz_classes}, {"checkpoint", fuzz_checkpoint},
};

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0) break;
    }
    fclose(f);
    return buf;
}

int main(void) {
    for (size_t t = 0; t < sizeof targets / sizeof *targets; t++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", SN_SOURCE_DIR, targets[t].name);
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        if (!d) continue;
        int files = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            size_t len;
            uint8_t *data = read_whole(path, &len);
            CHECK(data != NULL);
            if (!data) continue;
            targets[t].run(data, len); /* aborts on a broken invariant */
            free(data);
            files++;
        }
        closedir(d);
        printf("%-12s %d files\n", targets[t].name, files);
        CHECK(files >= 5);
    }
    return check_report();
}
