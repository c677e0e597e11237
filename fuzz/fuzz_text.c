/* Text corpora: sn_text_read_file, then at char, byte and word level the
 * vocabulary (sn_vocab_build), the token ids of the corpus and their text
 * back. Byte 0 of the input gives the word level's max_words (1..256); the
 * rest is the corpus. Char and byte level must give the corpus back exactly (when it
 * holds no NUL byte),
 * and every vocabulary must survive serialize and parse. */
#include "fuzz_common.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* serialize(parse(serialize(v))) == serialize(v). */
static void text_check_roundtrip(const sn_vocab *v) {
    sn_error err;
    char *s = NULL, *s2 = NULL;
    sn_vocab *w = NULL;
    if (sn_vocab_serialize(v, &s, &err) != SN_OK) return;
    if (sn_vocab_parse(s, &w, &err) != SN_OK) abort();
    if (sn_vocab_size(w) != sn_vocab_size(v) || sn_vocab_serialize(w, &s2, &err) != SN_OK ||
        strcmp(s, s2) != 0)
        abort();
    sn_free(s);
    sn_free(s2);
    sn_vocab_free(w);
}

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int max_words = 1 + data[0];
    const char *path = sn_fuzz_path("text");
    if (!sn_fuzz_write(path, data + 1, size - 1)) return 0;
    sn_error err;
    char *text = NULL;
    size_t len = 0;
    if (sn_text_read_file(path, &text, &len, &err) != SN_OK) {
        unlink(path);
        return 0;
    }
    if (len != size - 1 || memcmp(text, data + 1, len) != 0) abort();
    static const sn_text_level levels[3] = {SN_TEXT_CHAR, SN_TEXT_BYTE, SN_TEXT_WORD};
    for (int l = 0; l < 3; l++) {
        sn_vocab *v = NULL;
        if (sn_vocab_build(text, len, levels[l], max_words, &v, &err) != SN_OK) continue;
        int *ids = NULL;
        size_t n = 0;
        char *back = NULL;
        if (sn_vocab_encode(v, text, len, &ids, &n, &err) != SN_OK) abort();
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= sn_vocab_size(v)) abort();
        if (sn_vocab_decode(v, ids, n, &back, &err) != SN_OK) abort();
        if (levels[l] != SN_TEXT_WORD && strlen(text) == len &&
            (strlen(back) != len || memcmp(back, text, len) != 0))
            abort();
        text_check_roundtrip(v);
        sn_free(ids);
        sn_free(back);
        sn_vocab_free(v);
    }
    sn_free(text);
    unlink(path);
    return 0;
}
