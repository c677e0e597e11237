/* A text model from C: the spec's [text] section says how to read the
 * corpus, its layers write `vocab` for the vocabulary size; the model is
 * built once the vocabulary is known, trained, and asked for a sample.
 *
 *   cc text.c $(pkg-config --cflags --libs scratchnet) -o text
 *   ./text [SPEC [CORPUS [EPOCHS]]]    (examples/text/char-lstm.net, data/moby-dick.txt) */
#include <scratchnet.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *spec_path = argc > 1 ? argv[1] : "examples/text/char-lstm.net";
    const char *corpus_path = argc > 2 ? argv[2] : "data/moby-dick.txt";
    sn_error err;
    sn_text_spec ts;
    char *spec = NULL, *corpus = NULL, *sample = NULL;
    size_t spec_len, len, n = 0;
    int *ids = NULL;
    sn_vocab *v = NULL;
    sn_model *m = NULL;
    sn_status s = sn_text_read_file(spec_path, &spec, &spec_len, &err);
    if (s == SN_OK) s = sn_text_spec_parse(spec, spec_path, &ts, &err); /* [text] */
    if (s == SN_OK) s = sn_text_read_file(corpus_path, &corpus, &len, &err);
    if (s == SN_OK) s = sn_vocab_build(corpus, len, ts.level, ts.words, &v, &err);
    if (s == SN_OK) s = sn_vocab_encode(v, corpus, len, &ids, &n, &err);
    if (s == SN_OK) s = sn_text_model_from_spec(spec, spec_path, 0, sn_vocab_size(v), &m, &err);
    if (s == SN_OK && ts.minutes > 0) sn_model_config(m)->max_seconds = 60 * ts.minutes;
    if (s == SN_OK && argc > 3) sn_model_config(m)->epochs = atoi(argv[3]);
    /* the last `val` of the text is the validation set, as the CLI holds out */
    size_t nval = (size_t)(ts.val * (double)n + 0.5);
    ts.o.sample_every = 0;
    double loss = 0;
    if (s == SN_OK)
        s = sn_text_train(m, v, ids, n - nval, nval ? ids + n - nval : NULL, nval, &ts.o, NULL,
                          "history.csv", &err);
    if (s == SN_OK && nval)
        s = sn_text_evaluate(m, ids + n - nval, nval, ts.o.seq_len, 1, &loss, &err);
    sn_sample_options so = {.length = 200, .temperature = 0.8f, .seed = 1};
    if (s == SN_OK) s = sn_text_generate(m, v, ts.o.prime, &so, &sample, &err);
    if (s == SN_OK) s = sn_text_model_save(m, v, "text-model.safetensors", 0, NULL, NULL, &err);
    if (s == SN_OK)
        printf("vocabulary %d, validation loss %.4f nats/token\n%s\n", sn_vocab_size(v), loss,
               sample);
    else
        fprintf(stderr, "%s\n", err.msg);
    sn_free(sample);
    sn_model_free(m);
    sn_free(ids);
    sn_vocab_free(v);
    sn_free(corpus);
    sn_free(spec);
    return s == SN_OK ? 0 : 1;
}
