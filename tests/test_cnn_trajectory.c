/* Trajectory parity: a small CNN (two convolutions, max and average pooling,
 * dense) starts from weights PyTorch exported (a Sequential's state_dict as
 * safetensors, loaded with sn_model_load_weights) and takes 100 Adam steps
 * on the same fixed batches; the loss before every step must be within
 * 1e-4 (relative) of PyTorch's. tests/parity/gen_cnn.py writes the
 * fixtures; PyTorch ran in float64, so its losses are the exact trajectory.
 * Runs with 1 and with 2 threads. */
#include "fixture.h"
#include "model/model.h"
#include "optim/optim.h"

#include <stdlib.h>

static void run(const sn_st_file *f, int threads) {
    const char *spec = sn_st_meta(f, "spec"), *steps_s = sn_st_meta(f, "steps");
    const sn_st_entry *x = sn_st_find(f, "x"), *lab = sn_st_find(f, "labels"),
                      *ref = sn_st_find(f, "losses");
    CHECK(spec && steps_s && x && lab && ref);
    if (!spec || !steps_s || !x || !lab || !ref) return;
    int steps = atoi(steps_s), nb = x->shape[0], n = x->shape[1];
    CHECK(x->ndim == 3);
    CHECK(ref->size == (size_t)steps && lab->size == (size_t)nb * n);

    sn_set_threads(threads);
    sn_model *m = NULL;
    sn_optimizer *opt = NULL;
    sn_error err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/cnn_trajectory_init.safetensors",
             SN_SOURCE_DIR);
    CHECK(sn_model_from_spec(spec, "trajectory", 1, &m, &err) == SN_OK);
    CHECK(m && sn_model_load_weights(m, path, &err) == SN_OK);
    CHECK(m && sn_model_reserve(m, n, &err) == SN_OK);
    CHECK(m && sn_optimizer_new(m, sn_model_config(m), &opt, &err) == SN_OK);
    if (!opt) {
        fprintf(stderr, "%s\n", err.msg);
        sn_model_free(m);
        return;
    }
    size_t per = sn_model_input_size(m);
    CHECK(x->size == (size_t)nb * n * per);
    int *labels = malloc((size_t)nb * n * sizeof(int));
    for (int i = 0; i < nb * n; i++) labels[i] = (int)lab->data[i];
    double worst = 0, first = 0, last = 0;
    int worst_step = 0;
    for (int t = 0; t < steps; t++) {
        int b = t % nb;
        sn_model_forward(m, x->data + (size_t)b * n * per, n, 1, NULL);
        double loss = 0;
        sn_model_backward(m, labels + b * n, NULL, &loss, NULL);
        sn_optimizer_step(opt);
        if (t == 0) first = loss;
        last = loss;
        double e = fabs(loss - ref->data[t]) / fabs(ref->data[t]);
        if (!(e <= worst)) worst = e, worst_step = t;
    }
    printf("%d threads: loss %.5f -> %.5f (PyTorch %.5f -> %.5f); worst relative difference "
           "%.2e at step %d\n",
           threads, first, last, ref->data[0], ref->data[steps - 1], worst, worst_step + 1);
    CHECK(worst <= 1e-4);
    /* The model did learn: the reference loss fell. */
    CHECK(ref->data[steps - 1] < 0.5 * ref->data[0]);
    free(labels);
    sn_optimizer_free(opt);
    sn_model_free(m);
}

int main(void) {
    sn_st_file f;
    if (!fixture_open(&f, "cnn_trajectory.safetensors")) return check_report();
    run(&f, 1);
    run(&f, 2);
    sn_st_free(&f);
    return check_report();
}
