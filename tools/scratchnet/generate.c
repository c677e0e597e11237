/* scratchnet generate MODEL [--prime TEXT] [--length N] [--temperature T]
 *                    [--top-k K] [--seed S]: text from a trained text model. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet generate MODEL [options]\n"
    "\n"
    "Samples text from a text model ('scratchnet train SPEC --text FILE'): the\n"
    "prime is fed in, then each sampled token is fed back. The same model,\n"
    "options and seed give the same text. Prints the prime and the sample.\n"
    "\n"
    "  --prime TEXT        text to start from (default: a paragraph or line start)\n"
    "  --length N          tokens to generate (default 500)\n"
    "  --temperature T     softmax temperature; lower is more conservative,\n"
    "                      0 always takes the most likely token (default 0.8)\n"
    "  --top-k K           sample among the K most likely tokens only (default: all)\n"
    "  --seed S            random seed (default 1)\n"
    "  --allow-unk         word level: let <unk> be sampled\n"
    "  --threads N         threads for the kernels (default: all cores)\n";

static int number(const char *flag, const char *s, double lo, double hi, int integer, double *v) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno || !(x >= lo && x <= hi) || (integer && x != floor(x))) {
        fprintf(stderr, "scratchnet generate: %s: '%s' is not %s in [%g, %g]\n", flag, s,
                integer ? "an integer" : "a number", lo, hi);
        return 0;
    }
    *v = x;
    return 1;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prime = NULL;
    sn_sample_options o = {500, 0.8f, 0, 0, 1};
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        double x;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (f[0] != '-') {
            if (model) {
                fprintf(stderr, "scratchnet generate: unexpected argument '%s'\n\n%s", f, usage);
                return EXIT_USAGE;
            }
            model = f;
            continue;
        }
        if (strcmp(f, "--allow-unk") == 0) {
            o.allow_unk = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "scratchnet generate: %s needs a value\n\n%s", f, usage);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (strcmp(f, "--prime") == 0) {
            prime = v;
        } else if (strcmp(f, "--length") == 0) {
            if (!number(f, v, 0, 1 << 24, 1, &x)) return EXIT_USAGE;
            o.length = (int)x;
        } else if (strcmp(f, "--temperature") == 0) {
            if (!number(f, v, 0, 100, 0, &x)) return EXIT_USAGE;
            o.temperature = (float)x;
        } else if (strcmp(f, "--top-k") == 0) {
            if (!number(f, v, 0, 1 << 24, 1, &x)) return EXIT_USAGE;
            o.top_k = (int)x;
        } else if (strcmp(f, "--seed") == 0) {
            if (!number(f, v, 0, 1.8e19, 1, &x)) return EXIT_USAGE;
            o.seed = (uint64_t)x;
        } else if (strcmp(f, "--threads") == 0) {
            if (!number(f, v, 0, 1024, 1, &x)) return EXIT_USAGE;
            threads = cli_cap_threads((int)x);
        } else {
            fprintf(stderr, "scratchnet generate: unknown option '%s'\n\n%s", f, usage);
            return EXIT_USAGE;
        }
    }
    if (!model) {
        fprintf(stderr, "scratchnet generate: missing MODEL\n\n%s", usage);
        return EXIT_USAGE;
    }
    sn_set_threads(threads);
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
