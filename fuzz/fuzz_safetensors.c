/* safetensors files: the header and tensors (sn_st_parse from memory, and
 * sn_st_load from a file, which must agree), loading the weights into a
 * small fixed model (sn_model_load_weights), and when the file embeds a spec
 * of a small model, sn_model_load and sn_text_model_load. */
#include "fuzz_common.h"
#include "model/safetensors.h"

#ifndef SN_FUZZ_ENTRY
#define SN_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* input 4 / dense 3 / relu / dense 2: tensors 0.weight [3,4], 0.bias [3],
 * 2.weight [2,3], 2.bias [2]. */
static sn_model *st_small_model(void) {
    static sn_model *m;
    sn_error err;
    if (!m && sn_model_from_spec("input 4\ndense 3\nrelu\ndense 2\nloss softmax_xent\n", "small", 1,
                                 &m, &err) != SN_OK)
        abort();
    return m;
}

int SN_FUZZ_ENTRY(const uint8_t *data, size_t size);
int SN_FUZZ_ENTRY(const uint8_t *data, size_t size) {
    sn_set_threads(1);
    sn_error err;
    sn_st_file f;
    int parsed = sn_st_parse(data, size, "fuzz", &f, &err) == SN_OK;
    int small_spec = 0;
    if (parsed) {
        double sum = 0;
        for (int i = 0; i < f.n; i++) {
            const sn_st_entry *e = &f.entries[i];
            size_t count = 1;
            for (int d = 0; d < e->ndim; d++) count *= (size_t)e->shape[d];
            if (count != e->size || sn_st_find(&f, e->name) == NULL) abort();
            for (size_t k = 0; k < e->size; k++) sum += e->data[k];
        }
        for (int i = 0; i < f.nmeta; i++)
            if (sn_st_meta(&f, f.meta_keys[i]) == NULL) abort();
        const char *spec = sn_st_meta(&f, "spec");
        small_spec = spec && sn_fuzz_small_spec(spec);
        (void)sum;
    }
    const char *path = sn_fuzz_path("st");
    if (!sn_fuzz_write(path, data, size)) {
        if (parsed) sn_st_free(&f);
        return 0;
    }
    sn_st_file g;
    int loaded = sn_st_load(path, &g, &err) == SN_OK;
    if (loaded != parsed || (loaded && (g.n != f.n || g.nmeta != f.nmeta))) abort();
    if (loaded) sn_st_free(&g);
    if (parsed) sn_st_free(&f);

    sn_model_load_weights(st_small_model(), path, &err);
    if (small_spec) {
        sn_model *m = NULL;
        if (sn_model_load(path, &m, &err) == SN_OK) {
            sn_fuzz_exercise_model(m);
            sn_model_free(m);
        }
        sn_vocab *v = NULL;
        if (sn_text_model_load(path, &m, &v, &err) == SN_OK) {
            sn_model_free(m);
            sn_vocab_free(v);
        }
    }
    unlink(path);
    return 0;
}
