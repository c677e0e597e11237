/* A text model's vocabulary (sn_vocab_parse, the __metadata__["vocab"]
 * string): parse; a parsed vocabulary must serialize to a string that
 * parses to the same tokens, and encode and decode the input itself. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    char *s = sn_fuzz_cstr(data, size);
    if (!s) return 0;
    sn_error err;
    sn_vocab *v = NULL, *w = NULL;
    if (sn_vocab_parse(s, &v, &err) == SN_OK) {
        char *ser = NULL;
        if (sn_vocab_serialize(v, &ser, &err) != SN_OK) abort();
        if (sn_vocab_parse(ser, &w, &err) != SN_OK || sn_vocab_size(w) != sn_vocab_size(v)) abort();
        for (int i = 0; i < sn_vocab_size(v); i++) {
            size_t a, b;
            const char *ta = sn_vocab_token(v, i, &a), *tb = sn_vocab_token(w, i, &b);
            if (!ta || !tb || a != b || memcmp(ta, tb, a) != 0) abort();
            if (sn_vocab_find(v, ta, a) != i) abort();
        }
        int *ids = NULL;
        size_t n = 0;
        char *back = NULL;
        if (sn_vocab_encode(v, s, strlen(s), &ids, &n, &err) == SN_OK) {
            for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= sn_vocab_size(v)) abort();
            if (sn_vocab_decode(v, ids, n, &back, &err) != SN_OK) abort();
        }
        sn_free(ids);
        sn_free(back);
        sn_free(ser);
        sn_vocab_free(w);
        sn_vocab_free(v);
    }
    free(s);
    return 0;
}
