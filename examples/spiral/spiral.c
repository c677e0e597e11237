/* Trains the book's spiral network once per optimizer spec and prints a
 * table: optimizer, the final learning rate, the loss and accuracy on the
 * training set after the last update, and the accuracy on a fresh draw.
 *
 * usage: spiral [--book] [--seeds N] [SPEC.net ...]
 *   (default)   data and initial weights from scratchnet's generator, seed 1
 *               (the fresh draw: seed 2)
 *   --book      the book's own draw and initial weights (NumPy, seed 0), from
 *               book_draw.csv and book_init.safetensors (book_draw.py)
 *   --seeds N   N runs per spec, seeds 1..N for data, weights and shuffling
 *               (fresh draw 1000 + seed): median and the 10 %–90 % range;
 *               with --book only the shuffling (hence the summation order of
 *               the full-batch gradient) changes from run to run
 * Specs default to the five of this folder; run from the repository root. */
#include "spiral.h"

#include <stdio.h>

#define BOOK_INIT "examples/spiral/book_init.safetensors"

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "median [p10, p90]" of v[0..n), sorted in place. */
static void spread(char *buf, size_t len, double *v, int n, const char *fmt) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    char a[16], b[16], c[16];
    snprintf(a, sizeof a, fmt, med);
    snprintf(b, sizeof b, fmt, v[(int)(0.1 * (n - 1) + 0.5)]);
    snprintf(c, sizeof c, fmt, v[(int)(0.9 * (n - 1) + 0.5)]);
    snprintf(buf, len, "%s [%s, %s]", a, b, c);
}

int main(int argc, char **argv) {
    const char *defaults[] = {"examples/spiral/sgd.net", "examples/spiral/sgd_momentum.net",
                              "examples/spiral/adagrad.net", "examples/spiral/rmsprop.net",
                              "examples/spiral/adam.net"};
    const char *specs[64];
    int n = 0, book = 0, seeds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--book") == 0)
            book = 1;
        else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
            seeds = atoi(argv[++i]);
        else if (n < 64)
            specs[n++] = argv[i];
    }
    if (n == 0)
        for (n = 0; n < 5; n++) specs[n] = defaults[n];
    sn_set_threads(1);
    sn_error err = {0};
    sn_dataset train, fresh;
    memset(&train, 0, sizeof train);
    if (book) {
        sn_csv_options o = {.header = 1, .label_col = 2};
        if (sn_csv_load("examples/spiral/book_draw.csv", &o, &train, &err) != SN_OK) {
            fprintf(stderr, "spiral: %s\n", err.msg);
            return 1;
        }
    }
    if (seeds > 0)
        printf("%-18s %-8s %-26s %-26s %-26s\n", "spec", "optim", "loss median [p10, p90]",
               "accuracy", "fresh accuracy");
    else
        printf("%-18s %-8s %9s %8s %9s %9s\n", "spec", "optim", "final lr", "loss", "accuracy",
               "fresh acc");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *base = strrchr(specs[i], '/') ? strrchr(specs[i], '/') + 1 : specs[i];
        spiral_result r;
        if (seeds > 0) {
            double loss[256], acc[256], fr[256];
            int k = seeds < 256 ? seeds : 256;
            for (int s = 1; s <= k && rc == 0; s++) {
                if (!book) spiral_generate(&train, 100, 3, (uint64_t)s);
                spiral_generate(&fresh, 100, 3, 1000 + (uint64_t)s);
                rc = spiral_run(specs[i], (uint64_t)s, book ? BOOK_INIT : NULL, 0, &train, &fresh,
                                &r, &err) != SN_OK;
                loss[s - 1] = r.loss, acc[s - 1] = r.acc, fr[s - 1] = r.fresh_acc;
                if (!book) spiral_free(&train);
                spiral_free(&fresh);
            }
            char a[64], b[64], c[64];
            spread(a, sizeof a, loss, k, "%.3f");
            spread(b, sizeof b, acc, k, "%.3f");
            spread(c, sizeof c, fr, k, "%.3f");
            if (!rc) printf("%-18s %-8s %-26s %-26s %-26s\n", base, r.optimizer, a, b, c);
        } else {
            if (!book) spiral_generate(&train, 100, 3, 1);
            spiral_generate(&fresh, 100, 3, 2);
            rc = spiral_run(specs[i], 0, book ? BOOK_INIT : NULL, 0, &train, &fresh, &r, &err) !=
                 SN_OK;
            if (!rc)
                printf("%-18s %-8s %9.4g %8.4f %9.3f %9.3f\n", base, r.optimizer, r.lr, r.loss,
                       r.acc, r.fresh_acc);
            if (!book) spiral_free(&train);
            spiral_free(&fresh);
        }
        fflush(stdout);
    }
    if (rc) fprintf(stderr, "spiral: %s\n", err.msg);
    if (book) sn_dataset_free(&train);
    return rc;
}
