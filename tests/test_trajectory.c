/* Trajectory parity with PyTorch: the 20-32-16-4 ReLU MLP of
 * tests/parity/gen_trajectory.py, started from PyTorch's initial weights
 * (loaded with sn_model_load_weights), trained on the same fixed sequence
 * of 300 mini-batches with SGD + momentum and, separately, with Adam. The
 * loss of every step must match PyTorch's (trained in float64) within 1e-4
 * relative; PyTorch's own float32 training strays by 2e-6 (SGD) and 4e-7
 * (Adam) at most, so 1e-4 leaves room for a different summation order but
 * not for a different update rule. The weights after 300 steps must match
 * within 1e-4 (norm-wise, per tensor). */
#include "fixture.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#define STEPS     300
#define LOSS_TOL  1e-4
#define FINAL_TOL 1e-4

static void run(const sn_st_file *f, const char *opt) {
    char spec[1024], key[64], path[1024];
    snprintf(key, sizeof key, "%s.train", opt);
    const char *base = sn_st_meta(f, "spec"), *line = sn_st_meta(f, key);
    const sn_st_entry *x = sn_st_find(f, "x"), *lab = sn_st_find(f, "labels");
    const sn_st_entry *order = sn_st_find(f, "order"), *ref = fixture_find(f, "%s.loss", opt);
    if (!base || !line || !x || !lab || !order || !ref || ref->size != STEPS || order->ndim != 2 ||
        order->shape[0] != STEPS) {
        fprintf(stderr, "traj_run.safetensors: malformed (%s)\n", opt);
        CHECK(0);
        return;
    }
    snprintf(spec, sizeof spec, "%s[train]\n%s\n", base, line);
    sn_model *m = NULL;
    sn_optimizer *o = NULL;
    sn_error err = {0};
    int B = order->shape[1], D = x->shape[1];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/traj_init.safetensors", SN_SOURCE_DIR);
    sn_status s = sn_model_from_spec(spec, "trajectory", 1, &m, &err);
    if (s == SN_OK) s = sn_model_load_weights(m, path, &err);
    if (s == SN_OK) s = sn_model_reserve(m, B, &err);
    if (s == SN_OK) s = sn_optimizer_new(m, sn_model_config(m), &o, &err);
    if (s != SN_OK || (size_t)D != sn_model_input_size(m)) {
        fprintf(stderr, "%s: %s\n", opt, err.msg);
        CHECK(0);
        sn_model_free(m);
        return;
    }
    float *xb = malloc((size_t)B * (size_t)D * sizeof(float));
    int *yb = malloc((size_t)B * sizeof(int));
    double worst = 0, first = 0, last = 0;
    int worst_step = 0, bad = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < B; i++) {
            int k = (int)order->data[step * B + i];
            memcpy(xb + (size_t)i * D, x->data + (size_t)k * D, (size_t)D * sizeof(float));
            yb[i] = (int)lab->data[k];
        }
        sn_model_forward(m, xb, B, 1, NULL);
        double loss = 0;
        sn_model_backward(m, yb, NULL, &loss, NULL);
        sn_optimizer_step(o);
        double e = fabs(loss - ref->data[step]) / fabs((double)ref->data[step]);
        if (!(e <= LOSS_TOL) && bad++ < 5)
            fprintf(stderr, "%s step %d: loss %.8g, PyTorch %.8g (relative error %.2e)\n", opt,
                    step + 1, loss, (double)ref->data[step], e);
        if (e > worst || isnan(e)) worst = e, worst_step = step + 1;
        if (step == 0) first = loss;
        last = loss;
    }
    CHECK(bad == 0);
    printf("%-4s loss %.4f -> %.4f over %d steps; largest relative error of a step's loss "
           "%.2e (step %d)\n",
           opt, first, last, STEPS, worst, worst_step);
    /* The weights at the end. */
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            const sn_param *par = &m->layers[i]->params[p];
            const sn_st_entry *r = fixture_find(f, "%s.%d.%s", opt, i, par->name);
            double e = r && r->size == par->value.size
                           ? fixture_err_norm(par->value.data, r->data, r->size)
                           : INFINITY;
            printf("     final %d.%-6s norm-wise error %.2e\n", i, par->name, e);
            CHECK(e <= FINAL_TOL);
        }
    }
    free(xb);
    free(yb);
    sn_optimizer_free(o);
    sn_model_free(m);
}

int main(void) {
    sn_st_file f;
    if (!fixture_open(&f, "traj_run.safetensors")) return check_report();
    run(&f, "sgd");
    run(&f, "adam");
    sn_st_free(&f);
    return check_report();
}
