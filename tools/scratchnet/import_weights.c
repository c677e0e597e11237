/* scratchnet import-weights SPEC WEIGHTS.safetensors -o MODEL */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: scratchnet import-weights SPEC WEIGHTS.safetensors -o MODEL.safetensors\n"
    "\n"
    "Builds the model of SPEC, loads the weights of a PyTorch nn.Sequential\n"
    "equivalent to it (its state_dict written with safetensors' save_file) and\n"
    "writes MODEL, a scratchnet model file for eval, predict and summary.\n"
    "Tensors are named \"<i>.weight\", \"<i>.bias\", \"<i>.running_mean\",\n"
    "\"<i>.running_var\", i being the index of the layer's line in SPEC (the\n"
    "input line not counted), as nn.Sequential numbers its modules. Every tensor\n"
    "must be F32 with the shape the layer has; \"<i>.num_batches_tracked\"\n"
    "(BatchNorm's counter) is ignored. A missing, mis-shaped, extra or non-F32\n"
    "tensor is an error naming it, and MODEL is left untouched. MODEL is written\n"
    "to a temporary file and renamed.\n"
    "\n"
    "  -o, --out FILE   the model file to write (required)\n";

static const char *const opts[] = {"--out", NULL};
const cli_verb cli_verb_import_weights = {"import-weights", usage, opts, 2, 2};

int cmd_import_weights(cli_opts *o) {
    if (!o->out) {
        fprintf(stderr, "scratchnet import-weights: -o MODEL is required\n"
                        "see 'scratchnet import-weights --help'\n");
        return EXIT_USAGE;
    }
    const char *spec = o->positional[0], *weights = o->positional[1];
    sn_error err = {0};
    char *text = NULL;
    size_t n = 0;
    sn_status s = sn_text_read_file(spec, &text, &n, &err);
    if (s == SN_OK && sn_spec_has_vocab(text))
        s = sn_fail(&err, SN_ERR_ARG,
                    "%s: a text model's spec (its size depends on the vocabulary, which a "
                    "state_dict does not hold); import-weights takes specs of fixed size",
                    spec);
    sn_model *m = NULL;
    if (s == SN_OK) s = sn_run_build_model(spec, text, -1, 0, &m, &err);
    sn_free(text);
    if (s == SN_OK) s = sn_model_load_weights(m, weights, &err);
    if (s == SN_OK) s = sn_model_save(m, o->out, &err);
    sn_model_free(m);
    if (s != SN_OK) {
        fprintf(stderr, "scratchnet import-weights: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    printf("wrote %s\n", o->out);
    return 0;
}
