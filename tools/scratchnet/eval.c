/* scratchnet eval MODEL --data DIR|FILE.csv */
#include "cli.h"

#include <math.h>
#include <stdio.h>

static const char usage[] =
    "usage: scratchnet eval MODEL --data DIR|FILE.csv [options]\n"
    "\n"
    "Loads saved weights (model.safetensors) and prints the loss and accuracy\n"
    "on the test set: the t10k-* IDX files of DIR, or the whole CSV file.\n"
    "\n"
    "  --data DIR|FILE    IDX folder or a numeric CSV\n"
    "  --batch N          evaluation batch size (default 256)\n"
    "  --threads N        threads for the kernels (default: all cores)\n"
    "  --label-col N, --target-cols A,B, --header yes|no|auto   as for train\n";

int cmd_eval(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, usage, 1, 1, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.data) {
        fprintf(stderr, "scratchnet eval: --data is required\n\n%s", usage);
        return EXIT_USAGE;
    }
    sn_set_threads(o.threads);
    sn_error err = {0};
    sn_model *m = NULL;
    sn_dataset none, test;
    double loss, acc;
    sn_status s = sn_model_load(o.positional[0], &m, &err);
    if (s == SN_OK) s = cli_load_data(&o, &none, &test, 0, &err);
    if (s == SN_OK) {
        s = sn_evaluate(m, &test, o.batch > 0 ? (int)o.batch : 256, &loss, &acc, &err);
        sn_dataset_free(&test);
    }
    if (s == SN_OK) {
        printf("samples: %d\n", test.n);
        if (!isnan(acc)) printf("test accuracy: %.2f %%\n", 100 * acc);
        printf("test loss: %.4f\n", loss);
    } else {
        fprintf(stderr, "scratchnet eval: %s\n", err.msg);
    }
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
