/* Text model files: sn_model_save's layout (tensors "<layer>.<param>",
 * __metadata__ "format" and "spec") plus the vocabulary in
 * __metadata__["vocab"] (sn_vocab_serialize's form), so that a model and
 * the tokens its outputs stand for travel in one file. */
#include "model/model.h"
#include "model/safetensors.h"

#include <stdio.h>
#include <string.h>

#define MAX_META 16

sn_status sn_text_model_save(const sn_model *m, const sn_vocab *v, const char *path, int nextra,
                             const char *const *extra_keys, const char *const *extra_values,
                             sn_error *err) {
    static char names[SN_MAX_LAYERS * SN_MAX_PARAMS][40];
    const char *name_ptrs[SN_MAX_LAYERS * SN_MAX_PARAMS];
    const sn_tensor *tensors[SN_MAX_LAYERS * SN_MAX_PARAMS];
    if (nextra < 0 || nextra > MAX_META - 3)
        return sn_fail(err, SN_ERR_ARG, "%s: too many metadata entries", path);
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            snprintf(names[n], sizeof names[n], "%d.%s", i, m->layers[i]->params[p].name);
            name_ptrs[n] = names[n];
            tensors[n++] = &m->layers[i]->params[p].value;
        }
    }
    char *vocab = NULL;
    sn_status s = sn_vocab_serialize(v, &vocab, err);
    if (s != SN_OK) return s;
    const char *keys[MAX_META] = {"format", "spec", "vocab"};
    const char *vals[MAX_META] = {"scratchnet-1", m->spec, vocab};
    for (int i = 0; i < nextra; i++) keys[3 + i] = extra_keys[i], vals[3 + i] = extra_values[i];
    s = sn_st_save(path, n, name_ptrs, tensors, 3 + nextra, keys, vals, err);
    sn_free(vocab);
    return s;
}

sn_status sn_text_model_load(const char *path, sn_model **m, sn_vocab **v, sn_error *err) {
    *m = NULL;
    *v = NULL;
    sn_st_file f;
    sn_status s = sn_st_load(path, &f, err);
    if (s != SN_OK) return s;
    const char *vocab = sn_st_meta(&f, "vocab");
    if (!vocab)
        s = sn_fail(err, SN_ERR_FORMAT,
                    "%s: no __metadata__ \"vocab\": not a text model (train one with "
                    "'scratchnet train SPEC --text FILE')",
                    path);
    if (s == SN_OK && (s = sn_vocab_parse(vocab, v, err)) != SN_OK) sn_wrap(err, "%s", path);
    sn_st_free(&f);
    if (s == SN_OK) s = sn_model_load(path, m, err);
    if (s == SN_OK && sn_model_output_size(*m) != sn_vocab_size(*v))
        s = sn_fail(err, SN_ERR_FORMAT, "%s: the model has %d outputs, its vocabulary %d tokens",
                    path, sn_model_output_size(*m), sn_vocab_size(*v));
    if (s != SN_OK) {
        sn_model_free(*m);
        sn_vocab_free(*v);
        *m = NULL;
        *v = NULL;
    }
    return s;
}
