/* Sampling text from a sequence model, one token at a time:
 *
 *   feed the prime's tokens (or one start token) from a zero state
 *   repeat: p = softmax(z / τ) over the last output z (restricted to the k
 *           most likely tokens with top-k; τ = 0 takes the most likely),
 *           draw a token from p with the seeded generator, feed it back in
 *
 * Each step is a forward pass of T = 1 step of N = 1 stream with the state
 * carried, so the model sees the whole history. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The token fed when there is no prime: a paragraph mark, a newline or a
 * space when the vocabulary has one, else token 0. */
static int start_token(const sn_vocab *v) {
    const char *tries[] = {"\n\n", "\n", ".", " "};
    for (int i = 0; i < 4; i++) {
        int id = sn_vocab_find(v, tries[i], strlen(tries[i]));
        if (id >= 0) return id;
    }
    return 0;
}

static int desc_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* One draw from the logits z[0..K) (see the top of the file); z[skip] is
 * never drawn unless it is all there is (skip < 0: none skipped). */
static int draw(const float *z, int K, int skip, const sn_sample_options *o, sn_rng *rng, double *p,
                float *sorted) {
    float threshold = -INFINITY, zmax = -INFINITY;
    int best = skip == 0 && K > 1 ? 1 : 0;
    for (int k = 0; k < K; k++) {
        if (k == skip && K > 1) continue;
        if (z[k] > z[best]) best = k;
    }
    if (!(o->temperature > 0)) return best;
    if (o->top_k > 0 && o->top_k < K) {
        int n = 0;
        for (int k = 0; k < K; k++)
            if (k != skip) sorted[n++] = z[k];
        qsort(sorted, (size_t)n, sizeof(float), desc_float);
        threshold = sorted[(o->top_k < n ? o->top_k : n) - 1];
    }
    zmax = z[best];
    double sum = 0;
    for (int k = 0; k < K; k++) {
        int allowed = (k != skip || K == 1) && z[k] >= threshold;
        p[k] = allowed ? exp((double)(z[k] - zmax) / o->temperature) : 0.0;
        sum += p[k];
    }
    double u = sn_rng_uniform(rng) * sum, acc = 0;
    for (int k = 0; k < K; k++) {
        acc += p[k];
        if (u < acc) return k;
    }
    return best;
}

sn_status sn_text_generate(sn_model *m, const sn_vocab *v, const char *prime,
                           const sn_sample_options *o, char **out, sn_error *err) {
    return sn_text_generate_n(m, v, prime, o, out, NULL, err);
}

sn_status sn_text_generate_n(sn_model *m, const sn_vocab *v, const char *prime,
                             const sn_sample_options *o, char **out, size_t *len, sn_error *err) {
    *out = NULL;
    int K = sn_model_output_size(m);
    if (!v) return sn_fail(err, SN_ERR_ARG, "generation needs the model's vocabulary");
    if (sn_model_input_size(m) != 1 || K != sn_vocab_size(v))
        return sn_fail(err, SN_ERR_SHAPE,
                       "the model (input %zu values, %d outputs) does not fit the vocabulary of %d "
                       "tokens",
                       sn_model_input_size(m), K, sn_vocab_size(v));
    if (o->length < 0 || o->length > (1 << 26) || o->top_k < 0 || !(o->temperature >= 0))
        return sn_fail(err, SN_ERR_ARG, "generation: bad length, top-k or temperature");
    int *pids = NULL, *ids = NULL;
    size_t np = 0;
    sn_status s = SN_OK;
    if (prime && *prime) s = sn_vocab_encode(v, prime, strlen(prime), &pids, &np, err);
    if (s != SN_OK) return sn_wrap(err, "prime");
    double *p = sn_alloc((size_t)K, sizeof(double));
    float *sorted = sn_alloc((size_t)K, sizeof(float));
    ids = sn_alloc(np + (size_t)o->length + 1, sizeof(int));
    if (!p || !sorted || !ids) s = sn_fail(err, SN_ERR_NOMEM, "generation: out of memory");
    if (s == SN_OK) s = sn_model_reserve(m, 1, err);
    if (s == SN_OK) {
        sn_rng rng;
        sn_rng_seed(&rng, o->seed, 0x7e47);
        int skip = sn_vocab_level(v) == SN_TEXT_WORD && !o->allow_unk ? 0 : -1;
        size_t n = 0;
        s = sn_model_set_seq_len(m, 1, err);
        sn_model_reset_state(m);
        const sn_tensor *y = sn_model_output(m);
        for (size_t i = 0; s == SN_OK && i < (np ? np : 1); i++) {
            float x = (float)(np ? pids[i] : start_token(v));
            if (np) ids[n++] = pids[i];
            s = sn_model_forward(m, &x, 1, 0, err);
            sn_model_carry_state(m);
        }
        for (int i = 0; s == SN_OK && i < o->length; i++) {
            int id = draw(y->data, K, skip, o, &rng, p, sorted);
            ids[n++] = id;
            if (i + 1 == o->length) break;
            float x = (float)id;
            s = sn_model_forward(m, &x, 1, 0, err);
            sn_model_carry_state(m);
        }
        sn_model_reset_state(m);
        if (s == SN_OK) s = sn_vocab_decode_n(v, ids, n, out, len, err);
    }
    sn_free(pids);
    sn_free(ids);
    sn_free(p);
    sn_free(sorted);
    return s;
}
