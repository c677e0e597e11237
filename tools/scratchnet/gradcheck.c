/* scratchnet gradcheck SPEC: analytic gradients against central differences
 * on random inputs and targets (sn_gradcheck_run). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet gradcheck SPEC|MODEL.safetensors|RUN_DIR [options]\n"
    "\n"
    "Checks every layer's backward pass: draws random inputs of the spec's input\n"
    "shape (N(0, 1); token ids for embedding/onehot inputs) and random targets\n"
    "for its loss, and compares the analytic gradient of the loss with the\n"
    "central difference (L(v + h) - L(v - h)) / 2h for every parameter, every\n"
    "layer's input and the model's output. Prints the worst relative error\n"
    "|a - n| / max(|a| + |n|, 1e-4 max(1, |L|) / h) per layer.\n"
    "A wrong backward in layer k shows in its parameters and in the input\n"
    "gradients of layers k, k-1, ..., 0: the highest failing layer is the culprit.\n"
    "\n"
    "  --seed N       random weights, inputs and targets (default 1)\n"
    "  --batch N      samples (default 4; for recurrent models, sequences)\n"
    "  --tol X        largest error that passes (default 1e-2)\n"
    "  --step H       the difference step h (default 1e-2)\n"
    "  --samples N    entries checked per tensor, evenly spread (default 64)\n"
    "  --seq-len T    time steps per sequence for recurrent models (default 4)\n"
    "  --train        forward passes in training mode (batch statistics, dropout\n"
    "                 masks held fixed) instead of evaluation mode\n"
    "\n"
    "Why 1e-2: the forward pass runs in float32, whose rounding of the loss\n"
    "(about 1e-7 |L|) turns into noise of about 1e-7 |L| / h in the quotient,\n"
    "and the central difference itself is off by O(h^2). Correct layers measure\n"
    "about 1e-3 or less at h = 1e-2; a gradient 5 % off measures 2.4e-2, a\n"
    "flipped sign 1. Exit status: 0 all within --tol, 1 some error above it\n"
    "(or the spec cannot be built), 2 usage error.\n";

static const char *const opts[] = {"--seed",    "--batch", "--tol",     "--step", "--samples",
                                   "--seq-len", "--train", "--threads", NULL};
const cli_verb cli_verb_gradcheck = {"gradcheck", usage, opts, 1, 1};

/* Inputs: N(0, 1), or token ids below V when the first layer reads ids
 * (onehot V, embedding V D). */
static void draw_inputs(sn_model *m, float *x, size_t count, sn_rng *r) {
    sn_layer_info l;
    sn_param_info p;
    uint32_t V = 0;
    sn_model_layer(m, 0, &l, NULL);
    if (strcmp(l.kind, "onehot") == 0) V = (uint32_t)l.shape[0];
    if (strcmp(l.kind, "embedding") == 0 && sn_model_param(m, 0, 0, &p, NULL) == SN_OK)
        V = (uint32_t)p.value->shape[0];
    for (size_t i = 0; i < count; i++) x[i] = V ? (float)sn_rng_below(r, V) : sn_rng_normal(r);
}

/* Targets the loss accepts: labels for softmax_xent and 1-output BCE,
 * probabilities in [0.05, 0.95] for BCE, N(0, 1) values for MSE. */
static void draw_targets(const sn_model *m, int n, int **labels, float **targets, sn_rng *r) {
    int K = sn_model_output_size(m), mse = strcmp(sn_model_loss_name(m), "mse") == 0;
    if (strcmp(sn_model_loss_name(m), "softmax_xent") == 0 || (K == 1 && !mse)) {
        for (int i = 0; i < n; i++) (*labels)[i] = (int)sn_rng_below(r, K > 1 ? (uint32_t)K : 2);
        *targets = NULL;
        return;
    }
    for (size_t i = 0; i < (size_t)n * (size_t)K; i++)
        (*targets)[i] = mse ? sn_rng_normal(r) : 0.05f + 0.9f * sn_rng_uniform(r);
    *labels = NULL;
}

static const char *layer_desc(const sn_model *m, int i) {
    sn_layer_info l;
    return sn_model_layer(m, i, &l, NULL) == SN_OK ? l.desc : "?";
}

static void print_value(double e, double tol) {
    if (e < 0)
        printf("  %10s   ", "-");
    else
        printf("  %10.2e%s", e, e > tol || e != e ? " !!" : "   ");
}

int cmd_gradcheck(cli_opts *o) {
    struct {
        double tol, step;
        long samples, seq_len;
        int train;
    } g = {o->tol > 0 ? o->tol : 1e-2, o->step > 0 ? o->step : 1e-2,
           o->samples > 0 ? o->samples : 64, o->seq_len > 0 ? o->seq_len : 4, o->train_mode};
    uint64_t seed = o->seed >= 0 ? (uint64_t)o->seed : 1;
    int n = o->batch > 0 ? (int)o->batch : 4;
    if (n > 4096) {
        fprintf(stderr, "scratchnet gradcheck: --batch %d: at most 4096 samples\n", n);
        return EXIT_USAGE;
    }
    sn_set_threads((int)o->threads);
    sn_error err = {0};
    sn_model *m = NULL;
    char path[4200];
    cli_model_path(o->positional[0], path, sizeof path);
    size_t len = strlen(path);
    sn_status s = len > 12 && strcmp(path + len - 12, ".safetensors") == 0
                      ? sn_model_load(path, &m, &err)
                      : sn_run_build_model(path, NULL, (long)seed, 0, &m, &err);
    if (s != SN_OK) {
        fprintf(stderr, "scratchnet gradcheck: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    int recurrent = sn_model_is_recurrent(m), rows = n;
    if (recurrent) {
        sn_model_set_seq_len(m, (int)g.seq_len, NULL); /* >= 1 (parsed) */
        rows = n * (int)g.seq_len;
    }
    size_t in = sn_model_input_size(m) * (size_t)rows;
    float *x = malloc(in * sizeof(float));
    float *t = malloc((size_t)rows * (size_t)sn_model_output_size(m) * sizeof(float));
    int *labels = malloc((size_t)rows * sizeof(int));
    int *lab = labels;
    float *tgt = t;
    sn_gradcheck_result r;
    if (!x || !t || !labels) {
        s = sn_fail(&err, SN_ERR_NOMEM, "out of memory");
    } else {
        sn_rng rng;
        sn_rng_seed(&rng, seed, 0x9c);
        draw_inputs(m, x, in, &rng);
        draw_targets(m, rows, &lab, &tgt, &rng);
        s = sn_gradcheck_run(m, x, rows, lab, tgt, (float)g.step, (int)g.samples, g.train, &r,
                             &err);
    }
    if (s != SN_OK) {
        fprintf(stderr, "scratchnet gradcheck: %s\n", err.msg);
    } else {
        printf("gradcheck %s: %d %s, seed %llu, %s mode, h %g, up to %ld entries per tensor\n",
               path, n, recurrent ? "sequences" : "samples", (unsigned long long)seed,
               g.train ? "training" : "evaluation", g.step, g.samples);
        if (recurrent) printf("sequences of %ld steps\n", g.seq_len);
        printf("%-4s %-36s  %10s     %10s\n", "#", "layer", "parameters", "input");
        int nlayers = sn_model_num_layers(m);
        for (int l = 0; l < nlayers; l++) {
            printf("%-4d %-36s", l, layer_desc(m, l));
            print_value(r.param[l], g.tol);
            print_value(r.input[l], g.tol);
            printf("\n");
        }
        printf("%-4s %-36s  %10s   ", "loss", sn_model_loss_name(m), "");
        print_value(r.output, g.tol);
        printf("  (gradient of the output)\n");
        if (r.kinks)
            printf("%ld entries skipped: they sit on a kink (e.g. a ReLU output of 0 tied in a "
                   "max-pool window), where no derivative exists\n",
                   r.kinks);
        int bad = !(r.worst <= g.tol);
        if (bad) {
            /* The highest layer with a bad input gradient or parameters. */
            int culprit = -1;
            for (int l = nlayers - 1; l >= 0 && culprit < 0; l--)
                if (!(r.param[l] <= g.tol) || !(r.input[l] <= g.tol)) culprit = l;
            if (!(r.output <= g.tol))
                printf("FAILED: worst error %.3g > %g in the loss's gradient (%s)\n", r.worst,
                       g.tol, sn_model_loss_name(m));
            else
                printf("FAILED: worst error %.3g > %g; the first wrong backward from the top is "
                       "layer %d (%s)\n",
                       r.worst, g.tol, culprit, layer_desc(m, culprit));
        } else {
            printf("ok: worst error %.2e <= %g\n", r.worst, g.tol);
        }
        s = bad ? SN_ERR_NUMERIC : SN_OK;
    }
    free(x);
    free(t);
    free(labels);
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
