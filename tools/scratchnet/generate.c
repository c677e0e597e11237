/* scratchnet generate MODEL|RUN_DIR [options]: text from a trained text model. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet generate MODEL|RUN_DIR [options]\n"
    "\n"
    "Samples text from a text model ('scratchnet train SPEC --text FILE'): the\n"
    "prime is fed in, then each sampled token is fed back. The same model,\n"
    "options and seed give the same text. Prints the prime and the sample.\n"
    "\n"
    "  --prime TEXT        text to start from (default: a paragraph or line start)\n"
    "  --sample-length N   tokens to generate (default 500; also --length)\n"
    "  --temperature T     softmax temperature; lower is more conservative,\n"
    "                      0 always takes the most likely token (default 0.8)\n"
    "  --top-k K           sample among the K most likely tokens only (default: all)\n"
    "  --seed S            random seed (default 1)\n"
    "  --allow-unk         word level: let <unk> be sampled\n"
    "  --threads N         threads for the kernels (default: all cores)\n";

static const char *const opts[] = {"--prime", "--sample-length", "--temperature", "--top-k",
                                   "--seed",  "--allow-unk",     "--threads",     NULL};
const cli_verb cli_verb_generate = {"generate", usage, opts, 1, 1};

int cmd_generate(cli_opts *a) {
    sn_sample_options o = {500, 0.8f, 0, 0, 1};
    if (a->sample_length >= 0) o.length = (int)a->sample_length;
    if (a->temperature >= 0) o.temperature = (float)a->temperature;
    if (a->top_k >= 0) o.top_k = (int)a->top_k;
    if (a->seed >= 0) o.seed = (uint64_t)a->seed;
    o.allow_unk = a->allow_unk;
    const char *prime = a->prime;
    char model[4200];
    cli_model_path(a->positional[0], model, sizeof model);
    int threads = (int)a->threads;
    sn_set_threads(threads < 0 ? 0 : threads);
    sn_error err = {0};
    sn_model *m = NULL;
    sn_vocab *v = NULL;
    char *text = NULL;
    size_t len = 0;
    sn_status s = sn_text_model_load(model, &m, &v, &err);
    if (s == SN_OK) s = sn_text_generate_n(m, v, prime, &o, &text, &len, &err);
    if (s == SN_OK) {
        fwrite(text, 1, len, stdout); /* bytes: byte-level text may hold NULs */
        putchar('\n');
    } else {
        fprintf(stderr, "scratchnet generate: %s\n", err.msg);
    }
    sn_free(text);
    sn_vocab_free(v);
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
