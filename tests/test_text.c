/* Text corpora and vocabularies (src/data/text.c): the three tokenizers on
 * hand-made texts (UTF-8 code points, bytes, words with <unk>), decoding,
 * serialization, and the clear errors for empty, tiny and malformed input;
 * the stream layout of the text trainer on a corpus too short for it. */
#include "check.h"
#include "core/error.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sn_vocab *build(const char *text, size_t len, sn_text_level level, int words) {
    sn_vocab *v = NULL;
    sn_error err = {0};
    if (sn_vocab_build(text, len, level, words, &v, &err) != SN_OK) {
        fprintf(stderr, "build failed: %s\n", err.msg);
        CHECK(0);
    }
    return v;
}

static int token_is(const sn_vocab *v, int id, const char *want) {
    size_t len;
    const char *t = sn_vocab_token(v, id, &len);
    return t && len == strlen(want) && memcmp(t, want, len) == 0;
}

/* Encodes, checks the ids, decodes and checks the text. */
static void roundtrip(const sn_vocab *v, const char *text, const int *want, size_t nwant,
                      const char *decoded) {
    int *ids = NULL;
    size_t n = 0;
    char *out = NULL;
    sn_error err = {0};
    CHECK(sn_vocab_encode(v, text, strlen(text), &ids, &n, &err) == SN_OK);
    CHECK(n == nwant);
    for (size_t i = 0; i < n && i < nwant; i++) CHECK(ids[i] == want[i]);
    CHECK(sn_vocab_decode(v, ids, n, &out, &err) == SN_OK);
    if (out && strcmp(out, decoded) != 0)
        fprintf(stderr, "decoded '%s', want '%s'\n", out, decoded);
    CHECK(out && strcmp(out, decoded) == 0);
    sn_free(out);
    sn_free(ids);
}

/* Serializes, parses back, compares every token. */
static void serial_roundtrip(const sn_vocab *v) {
    char *s = NULL;
    sn_vocab *back = NULL;
    sn_error err = {0};
    CHECK(sn_vocab_serialize(v, &s, &err) == SN_OK);
    CHECK(sn_vocab_parse(s, &back, &err) == SN_OK);
    if (back) {
        CHECK(sn_vocab_size(back) == sn_vocab_size(v));
        CHECK(sn_vocab_level(back) == sn_vocab_level(v));
        for (int i = 0; i < sn_vocab_size(v); i++) {
            size_t a, b;
            const char *ta = sn_vocab_token(v, i, &a), *tb = sn_vocab_token(back, i, &b);
            CHECK(a == b && memcmp(ta, tb, a) == 0);
            CHECK(sn_vocab_find(back, ta, a) == i);
        }
    }
    sn_vocab_free(back);
    sn_free(s);
}

/* Code points in increasing order: ' ' (U+0020) a b é (U+00E9) — (U+2014)
 * 🐳 (U+1F433); multi-byte characters are one token each. */
static void test_char_level(void) {
    const char *text = "ab\xC3\xA9 \xE2\x80\x94\xF0\x9F\x90\xB3 ba";
    sn_vocab *v = build(text, strlen(text), SN_TEXT_CHAR, 0);
    if (!v) return;
    CHECK(sn_vocab_size(v) == 6);
    const char *want[] = {" ", "a", "b", "\xC3\xA9", "\xE2\x80\x94", "\xF0\x9F\x90\xB3"};
    for (int i = 0; i < 6; i++) CHECK(token_is(v, i, want[i]));
    int ids[] = {3, 5, 0, 2, 1};
    roundtrip(v, "\xC3\xA9\xF0\x9F\x90\xB3 ba", ids, 5, "\xC3\xA9\xF0\x9F\x90\xB3 ba");
    CHECK(sn_vocab_find(v, "\xE2\x80\x94", 3) == 4);
    CHECK(sn_vocab_find(v, "z", 1) == -1);
    serial_roundtrip(v);

    /* A character the vocabulary lacks is named, with its byte offset. */
    int *got = NULL;
    size_t n;
    sn_error err = {0};
    CHECK(sn_vocab_encode(v, "ab\xC3\xBC", 4, &got, &n, &err) == SN_ERR_FORMAT);
    CHECK(got == NULL);
    CHECK(strstr(err.msg, "byte 2") && strstr(err.msg, "U+00FC"));
    printf("  %s\n", err.msg);
    sn_vocab_free(v);
}

/* Invalid UTF-8 is an error at char and word level, with its offset; the
 * byte level takes anything. */
static void test_invalid_utf8(void) {
    const char *bad[] = {"ok\xC3\x28", "ok\xC0\xAF",         "ok\xED\xA0\x80",
                         "ok\xE2\x82", "ok\xF4\x90\x80\x80", "ok\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int level = 0; level < 2; level++) {
            sn_vocab *v = NULL;
            sn_error err = {0};
            sn_text_level l = level ? SN_TEXT_WORD : SN_TEXT_CHAR;
            CHECK(sn_vocab_build(bad[i], strlen(bad[i]), l, 10, &v, &err) == SN_ERR_FORMAT);
            CHECK(v == NULL && strstr(err.msg, "byte 2") && strstr(err.msg, "UTF-8"));
            if (i == 0 && level == 0) printf("  %s\n", err.msg);
        }
    }
    const char bytes[] = {'a', 0, (char)0xFF, '\n', '\\', 'a', (char)0x80};
    sn_vocab *v = build(bytes, sizeof bytes, SN_TEXT_BYTE, 0);
    if (!v) return;
    CHECK(sn_vocab_size(v) == 6); /* 0x00 0x0A 0x5C 0x61 0x80 0xFF */
    int *ids = NULL;
    size_t n = 0;
    sn_error err = {0};
    CHECK(sn_vocab_encode(v, bytes, sizeof bytes, &ids, &n, &err) == SN_OK);
    int want[] = {3, 0, 5, 1, 2, 3, 4};
    CHECK(n == 7);
    for (size_t i = 0; i < n && i < 7; i++) CHECK(ids[i] == want[i]);
    char *out = NULL;
    CHECK(sn_vocab_decode(v, ids, n, &out, &err) == SN_OK);
    CHECK(out && memcmp(out, bytes, sizeof bytes) == 0);
    serial_roundtrip(v);
    sn_free(out);
    sn_free(ids);
    sn_vocab_free(v);
}

/* Words: lower-cased, punctuation split, apostrophes kept inside words,
 * runs of one mark joined, blank lines as paragraph tokens; the K most
 * frequent kept (ties: first seen first) after <unk>. */
static void test_word_level(void) {
    const char *text = "The whale's tale. The WHALE -- said Ahab!\n\n\"Ahab,\" the whale said.";
    sn_vocab *v = build(text, strlen(text), SN_TEXT_WORD, 100);
    if (!v) return;
    /* counts: the 3; twice, in order of first appearance: . whale (WHALE,
     * whale) said ahab "; once: whale's tale -- ! \n\n , */
    const char *want[] = {"<unk>",   "the",  ".",  "whale", "said", "ahab", "\"",
                          "whale's", "tale", "--", "!",     "\n\n", ","};
    CHECK(sn_vocab_size(v) == 13);
    for (int i = 0; i < 13; i++) {
        if (!token_is(v, i, want[i])) fprintf(stderr, "token %d: want '%s'\n", i, want[i]);
        CHECK(token_is(v, i, want[i]));
    }
    serial_roundtrip(v);
    sn_vocab_free(v);

    /* Top 3: <unk>, the, ".", whale; everything else becomes <unk>. */
    v = build(text, strlen(text), SN_TEXT_WORD, 3);
    if (!v) return;
    CHECK(sn_vocab_size(v) == 4);
    int ids[] = {1, 3, 0, 2, 0};
    roundtrip(v, "The Whale ship. Moby", ids, 5, "The whale <unk>. <unk>");
    sn_vocab_free(v);

    /* Decoding: no space before closing or after opening marks, none around
     * hyphens, quotes paired, sentence starts and "i" capitalized. */
    const char *t2 = "well, i said: \"look (there)!\" it's a sperm-whale... yes? i'm sure.\n\nno";
    v = build(t2, strlen(t2), SN_TEXT_WORD, 100);
    if (!v) return;
    int *ids2 = NULL;
    size_t n = 0;
    char *out = NULL;
    sn_error err = {0};
    CHECK(sn_vocab_encode(v, t2, strlen(t2), &ids2, &n, &err) == SN_OK);
    CHECK(sn_vocab_decode(v, ids2, n, &out, &err) == SN_OK);
    const char *want2 =
        "Well, I said: \"look (there)!\" It's a sperm-whale... Yes? I'm sure.\n\nNo";
    if (out && strcmp(out, want2) != 0) fprintf(stderr, "decoded '%s'\n", out);
    CHECK(out && strcmp(out, want2) == 0);
    sn_free(out);
    sn_free(ids2);
    sn_vocab_free(v);

    /* UTF-8 words and marks: é is a letter, É lower-cased, “ ” — are marks. */
    const char *t3 = "\xE2\x80\x9C"
                     "Caf\xC3\x89"
                     "\xE2\x80\x9D"
                     "\xE2\x80\x94"
                     "caf\xC3\xA9";
    v = build(t3, strlen(t3), SN_TEXT_WORD, 100);
    if (!v) return;
    CHECK(sn_vocab_size(v) == 5);
    CHECK(token_is(v, 1, "caf\xC3\xA9")); /* twice */
    CHECK(sn_vocab_find(v, "\xE2\x80\x94", 3) > 0);
    sn_vocab_free(v);
}

static void test_errors(void) {
    sn_vocab *v = NULL;
    sn_error err = {0};
    CHECK(sn_vocab_build("", 0, SN_TEXT_CHAR, 0, &v, &err) == SN_ERR_FORMAT);
    CHECK(v == NULL && strstr(err.msg, "empty"));
    printf("  %s\n", err.msg);
    CHECK(sn_vocab_build("aaaa", 4, SN_TEXT_CHAR, 0, &v, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "one distinct character"));
    printf("  %s\n", err.msg);
    CHECK(sn_vocab_build(" \n\t ", 4, SN_TEXT_WORD, 10, &v, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "no words"));
    printf("  %s\n", err.msg);
    CHECK(sn_vocab_build("a b", 3, SN_TEXT_WORD, 0, &v, &err) == SN_ERR_ARG);
    char *text = NULL;
    size_t len;
    CHECK(sn_text_read_file("/nonexistent/corpus.txt", &text, &len, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/corpus.txt"));
    sn_text_level l;
    CHECK(sn_text_level_parse("chars", &l, &err) == SN_ERR_FORMAT);
    CHECK(sn_text_level_parse("word", &l, &err) == SN_OK && l == SN_TEXT_WORD);

    const char *bad[] = {"",
                         "scratchnet-vocab-1 char 2\na\n",
                         "scratchnet-vocab-1 char 2\nb\na\n",
                         "scratchnet-vocab-1 word 2\nx\nx\n",
                         "scratchnet-vocab-1 char 1\nab\n",
                         "scratchnet-vocab-1 byte 1\n\\xZZ\n",
                         "scratchnet-vocab-1 word 1\na\nextra"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(sn_vocab_parse(bad[i], &v, &err) == SN_ERR_FORMAT);
        CHECK(v == NULL);
    }
    /* A file round trip through sn_text_read_file. */
    char path[] = "/tmp/sn-text-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "h\xC3\xA9llo\n", 7) == 7);
        close(fd);
        CHECK(sn_text_read_file(path, &text, &len, &err) == SN_OK);
        CHECK(len == 7 && text && memcmp(text, "h\xC3\xA9llo\n", 8) == 0);
        sn_free(text);
        unlink(path);
    }
}

/* A corpus too short for the streams is a clear error, not a crash. */
static void test_tiny_corpus_training(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 1\nembedding 3 4\nlstm 5\ndense 3\nloss softmax_xent\n"
                             "[train]\nbatch 8\nepochs 1\n",
                             "tiny", 1, &m, &err) == SN_OK);
    if (!m) return;
    sn_text_options o;
    sn_text_options_default(&o);
    int ids[] = {0, 1, 2, 1, 0};
    CHECK(sn_text_train(m, NULL, ids, 5, NULL, 0, &o, NULL, NULL, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "5 tokens") && strstr(err.msg, "8 streams"));
    printf("  %s\n", err.msg);
    int bad[] = {0, 1, 3, 1, 0};
    m->cfg.batch = 2;
    CHECK(sn_text_train(m, NULL, bad, 5, NULL, 0, &o, NULL, NULL, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "token 2 has id 3"));
    printf("  %s\n", err.msg);
    CHECK(sn_text_train(m, NULL, ids, 5, NULL, 0, &o, NULL, NULL, &err) == SN_OK);
    /* Validation texts of 2 tokens (one stream of one step) and of 1. */
    CHECK(sn_text_train(m, NULL, ids, 5, ids, 2, &o, NULL, NULL, &err) == SN_OK);
    CHECK(sn_text_train(m, NULL, ids, 5, ids, 1, &o, NULL, NULL, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "validation text has 1 token;"));
    printf("  %s\n", err.msg);
    double loss = 0;
    CHECK(sn_text_evaluate(m, ids, 5, 50, 2, &loss, &err) == SN_OK);
    CHECK(loss > 0 && loss < 5);
    CHECK(sn_text_evaluate(m, ids, 1, 50, 2, &loss, &err) == SN_ERR_ARG);
    sn_model_free(m);
    /* A model that does not take token ids is refused. */
    CHECK(sn_model_from_spec("input 3\ndense 3\nloss softmax_xent\n", "notext", 1, &m, &err) ==
          SN_OK);
    if (m) CHECK(sn_text_train(m, NULL, ids, 5, NULL, 0, &o, NULL, NULL, &err) == SN_ERR_SHAPE);
    printf("  %s\n", err.msg);
    sn_model_free(m);
}

/* Sampling from fixed logits: a model whose output is its bias b whatever
 * the input (zero embedding and weights). Token frequencies over many draws
 * must match softmax(b / τ) (within 5 standard deviations), top-k must keep
 * the k largest only, τ = 0 must always take the largest, the same seed the
 * same text. */
static void test_sampling(void) {
    const char *text = "abcd";
    sn_vocab *v = build(text, 4, SN_TEXT_CHAR, 0);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 1\nembedding 4 2\ndense 4\nloss softmax_xent\n", "s", 1, &m,
                             &err) == SN_OK);
    if (!v || !m) return;
    const float bias[4] = {0.5f, -1.0f, 1.5f, 0.0f};
    for (int i = 0; i < m->nparams; i++)
        memset(m->params[i]->value.data, 0, m->params[i]->value.size * sizeof(float));
    memcpy(m->params[2]->value.data, bias, sizeof bias);
    const int draws = 20000;
    for (int mode = 0; mode < 3; mode++) {
        float tau = mode == 1 ? 0.5f : 1.0f;
        int k = mode == 2 ? 2 : 0;
        sn_sample_options o = {draws, tau, k, 0, 7};
        char *out = NULL;
        CHECK(sn_text_generate(m, v, "a", &o, &out, &err) == SN_OK);
        if (!out) continue;
        CHECK(strlen(out) == (size_t)draws + 1 && out[0] == 'a');
        int count[4] = {0};
        for (int i = 1; out[i]; i++) count[out[i] - 'a']++;
        double p[4], sum = 0;
        for (int j = 0; j < 4; j++) {
            int kept = k == 0 || bias[j] >= 0.5f; /* top 2: 1.5 and 0.5 */
            p[j] = kept ? exp(bias[j] / tau) : 0;
            sum += p[j];
        }
        for (int j = 0; j < 4; j++) {
            double want = draws * p[j] / sum, sd = sqrt(draws * (p[j] / sum) * (1 - p[j] / sum));
            if (fabs(count[j] - want) > 5 * sd + 1e-9)
                fprintf(stderr, "tau %g top-k %d: token %d drawn %d times, expected %.0f\n", tau, k,
                        j, count[j], want);
            CHECK(fabs(count[j] - want) <= 5 * sd + 1e-9);
        }
        char *again = NULL;
        CHECK(sn_text_generate(m, v, "a", &o, &again, &err) == SN_OK);
        CHECK(again && strcmp(again, out) == 0);
        sn_free(again);
        sn_free(out);
    }
    sn_sample_options greedy = {50, 0.0f, 0, 0, 3};
    char *out = NULL;
    CHECK(sn_text_generate(m, v, NULL, &greedy, &out, &err) == SN_OK);
    CHECK(out && strspn(out, "c") == 50);
    sn_free(out);
    sn_sample_options bad = {-1, 1.0f, 0, 0, 3};
    CHECK(sn_text_generate(m, v, "a", &bad, &out, &err) == SN_ERR_ARG);
    CHECK(sn_text_generate(m, v, "ax", &greedy, &out, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "prime") && strstr(err.msg, "'x'"));
    printf("  %s\n", err.msg);
    sn_model_free(m);
    sn_vocab_free(v);

    /* Word level: <unk> (id 0) is never drawn, even when most likely. */
    const char *words = "the whale the sea";
    v = build(words, strlen(words), SN_TEXT_WORD, 10);
    CHECK(sn_model_from_spec("input 1\nembedding 4 2\ndense 4\nloss softmax_xent\n", "w", 1, &m,
                             &err) == SN_OK);
    if (!v || !m) return;
    for (int i = 0; i < m->nparams; i++)
        memset(m->params[i]->value.data, 0, m->params[i]->value.size * sizeof(float));
    m->params[2]->value.data[0] = 5.0f;
    sn_sample_options o = {300, 1.0f, 0, 0, 9};
    CHECK(sn_text_generate(m, v, "the", &o, &out, &err) == SN_OK);
    CHECK(out && !strstr(out, "<unk>"));
    sn_free(out);
    o.allow_unk = 1;
    CHECK(sn_text_generate(m, v, "the", &o, &out, &err) == SN_OK);
    CHECK(out && strstr(out, "<unk>"));
    sn_free(out);
    sn_model_free(m);
    sn_vocab_free(v);
}

/* Random bytes (biased towards UTF-8 lead bytes, marks and white space)
 * through every tokenizer and the vocabulary parser: each call succeeds or
 * fails cleanly, and what builds round-trips (run under ASan/UBSan too). */
static void test_random_input(void) {
    sn_rng r;
    sn_rng_seed(&r, 4, 4);
    const char pool[] = " \n\n\t'-\".,aAzZ09\xC3\xA9\xE2\x80\x94\xF0\x9F\x90\xB3\\";
    int built = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char buf[96];
        size_t n = sn_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = sn_rng_below(&r, 4) ? pool[sn_rng_below(&r, sizeof pool - 1)]
                                         : (char)sn_rng_below(&r, 256);
        sn_text_level level = (sn_text_level)(iter % 3);
        sn_vocab *v = NULL;
        sn_error err = {0};
        if (sn_vocab_build(buf, n, level, 1 + iter % 7, &v, &err) != SN_OK) {
            CHECK(v == NULL && err.msg[0]);
        } else {
            built++;
            int *ids = NULL;
            size_t k = 0;
            char *out = NULL, *ser = NULL;
            CHECK(sn_vocab_encode(v, buf, n, &ids, &k, &err) == SN_OK);
            CHECK(sn_vocab_decode(v, ids, k, &out, &err) == SN_OK);
            if (level != SN_TEXT_WORD) CHECK(out && k <= n && memcmp(out, buf, n) == 0);
            CHECK(sn_vocab_serialize(v, &ser, &err) == SN_OK);
            sn_vocab *back = NULL;
            CHECK(sn_vocab_parse(ser, &back, &err) == SN_OK);
            sn_vocab_free(back);
            if (ser && strlen(ser) > 24) { /* a damaged copy parses or fails cleanly */
                ser[sn_rng_below(&r, (uint32_t)strlen(ser))] = (char)(1 + sn_rng_below(&r, 255));
                if (sn_vocab_parse(ser, &back, &err) == SN_OK) sn_vocab_free(back);
            }
            sn_free(ser);
            sn_free(out);
            sn_free(ids);
            sn_vocab_free(v);
        }
        buf[n < sizeof buf ? n : sizeof buf - 1] = 0;
        sn_vocab *p = NULL;
        if (sn_vocab_parse(buf, &p, &err) == SN_OK) sn_vocab_free(p);
    }
    printf("random input: %d of 3000 texts built a vocabulary\n", built);
    CHECK(built > 500);
}

int main(void) {
    test_random_input();
    test_sampling();
    test_char_level();
    test_invalid_utf8();
    test_word_level();
    test_errors();
    test_tiny_corpus_training();
    return check_report();
}
