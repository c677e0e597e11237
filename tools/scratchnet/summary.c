/* scratchnet summary SPEC|MODEL */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet summary SPEC|MODEL.safetensors|RUN_DIR\n"
    "\n"
    "Prints the model's layers, their output shapes and parameter counts, with\n"
    "totals: parameters, their size as float32, the activations one sample\n"
    "needs, and the whole memory training takes with the spec's batch size\n"
    "(parameters, gradients, optimizer state, activations, scratch such as\n"
    "im2col buffers), which training checks against --max-memory. Reads a spec\n"
    "file, or the spec stored in saved weights (a run folder's model.safetensors).\n";

static int has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *const opts[] = {NULL};
const cli_verb cli_verb_summary = {"summary", usage, opts, 1, 1};

int cmd_summary(cli_opts *o) {
    sn_error err = {0};
    sn_model *m = NULL;
    char path[4200];
    cli_model_path(o->positional[0], path, sizeof path);
    sn_status s = has_suffix(path, ".safetensors") ? sn_model_load(path, &m, &err)
                                                   : sn_model_from_file(path, 0, &m, &err);
    if (s != SN_OK) {
        fprintf(stderr, "scratchnet summary: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    char text[16384];
    sn_model_summary(m, text, sizeof text);
    fputs(text, stdout);
    size_t np = sn_model_num_params(m), acts = 0;
    int nlayers = sn_model_num_layers(m);
    for (int i = 0; i < nlayers; i++) {
        sn_layer_info l;
        sn_model_layer(m, i, &l, NULL);
        acts += l.out_size;
    }
    printf("layers: %d\n", nlayers);
    printf("parameters: %zu (%.2f MiB as float32)\n", np, (double)np * 4 / (1 << 20));
    printf("activations per sample: %zu values (%.2f KiB as float32)\n", acts,
           (double)acts * 4 / 1024);
    /* everything training takes, im2col and recurrent scratch included */
    int batch = sn_model_config(m)->batch;
    sn_memory mem;
    sn_model_memory(m, batch, &mem);
    char t[32], p[32], g[32], op[32], a[32], sc[32];
    sn_format_bytes(mem.total, t, sizeof t);
    sn_format_bytes(mem.params, p, sizeof p);
    sn_format_bytes(mem.grads, g, sizeof g);
    sn_format_bytes(mem.optimizer, op, sizeof op);
    sn_format_bytes(mem.activations, a, sizeof a);
    sn_format_bytes(mem.scratch, sc, sizeof sc);
    printf("memory to train with batch %d: %s (parameters %s, gradients %s, optimizer %s, "
           "activations %s, scratch %s)\n",
           batch, t, p, g, op, a, sc);
    sn_model_free(m);
    return 0;
}
