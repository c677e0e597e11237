/* scratchnet predict MODEL IMAGES */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet predict MODEL INPUTS [options]\n"
    "\n"
    "Prints one line per sample: its index, the predicted class and its\n"
    "probability (tab-separated). INPUTS is an IDX image file (raw or .gz) or\n"
    "a CSV of features (no label column: use --label-col to skip one).\n"
    "\n"
    "  --threads N        threads for the kernels (default: all cores)\n"
    "  --header yes|no|auto  CSV: whether the first row is a header\n";

static int has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int cmd_predict(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, usage, 2, 2, &o);
    if (rc) return rc < 0 ? 0 : rc;
    sn_set_threads(o.threads);
    sn_error err = {0};
    sn_model *m = NULL;
    sn_dataset d = {0};
    float *probs = NULL;
    sn_status s = sn_model_load(o.positional[0], &m, &err);
    if (s == SN_OK) {
        const char *in = o.positional[1];
        if (has_suffix(in, ".csv")) {
            sn_csv_options c = {.header = o.header,
                                .label_col = o.label_col,
                                .delimiter = ',',
                                .features_only = o.label_col < 0};
            s = sn_csv_load(in, &c, &d, &err);
        } else {
            s = sn_idx_load_images(in, &d, &err);
        }
    }
    if (s == SN_OK) s = sn_model_check_input(m, &d, o.positional[1], &err);
    const int batch = 256, K = s == SN_OK ? sn_model_output_size(m) : 0;
    if (s == SN_OK) s = sn_model_reserve(m, batch, &err);
    if (s == SN_OK && !(probs = malloc((size_t)batch * (size_t)K * sizeof(float)))) {
        s = err.code = SN_ERR_NOMEM;
        snprintf(err.msg, sizeof err.msg, "out of memory");
    }
    for (int start = 0; s == SN_OK && start < d.n; start += batch) {
        int n = d.n - start < batch ? d.n - start : batch;
        s = sn_model_predict(m, d.x + (size_t)start * d.sample_size, n, probs, &err);
        for (int i = 0; s == SN_OK && i < n; i++) {
            const float *p = probs + (size_t)i * K;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (p[k] > p[best]) best = k;
            if (K == 1)
                printf("%d\t%d\t%.4f\n", start + i, p[0] >= 0.5f, p[0] >= 0.5f ? p[0] : 1 - p[0]);
            else
                printf("%d\t%d\t%.4f\n", start + i, best, p[best]);
        }
    }
    if (s != SN_OK) fprintf(stderr, "scratchnet predict: %s\n", err.msg);
    free(probs);
    sn_dataset_free(&d);
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
