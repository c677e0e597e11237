/* Model spec text (sn_model_from_spec): parse, and when the spec asks for a
 * small model, one forward and backward pass through it. Sweep files are
 * read by the command line only, not by the library. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    char *text = sn_fuzz_cstr(data, size);
    if (!text || !sn_fuzz_small_spec(text)) {
        free(text);
        return 0;
    }
    sn_set_threads(1);
    sn_model *m = NULL;
    sn_error err;
    if (sn_model_from_spec(text, "fuzz.net", 0, &m, &err) == SN_OK) {
        char summary[4096];
        sn_model_summary(m, summary, sizeof summary);
        sn_fuzz_exercise_model(m);
        sn_model_free(m);
    }
    free(text);
    return 0;
}
