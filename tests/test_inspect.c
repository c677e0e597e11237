/* The public inspection API (sn_model_layer, sn_model_param,
 * sn_model_loss_name, sn_model_input_shape) and sn_gradcheck_run, through
 * include/scratchnet.h alone: every figure it reports is computed here from
 * the spec's numbers. */
#include "check.h"
#include "scratchnet.h"

#include <stdlib.h>
#include <string.h>

/* A CNN whose shapes and parameter counts follow from its lines:
 * 1x8x8 -conv 4 3-> 4x6x6 -maxpool 2-> 4x3x3 -flatten-> 36 -dense 10-> 10. */
static void test_layers(void) {
    const int C = 1, H = 8, F = 4, k = 3, pool = 2, units = 10;
    char spec[256];
    snprintf(spec, sizeof spec,
             "input %dx%dx%d\nconv2d %d %d\nrelu\nmaxpool %d\nflatten\ndense %d\nbatchnorm\n"
             "loss softmax_xent\n",
             C, H, H, F, k, pool, units);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "cnn", 1, &m, &err) == SN_OK);
    if (!m) return;
    const int conv_hw = H - k + 1, pool_hw = conv_hw / pool, flat = F * pool_hw * pool_hw;
    const char *kinds[] = {"conv2d", "relu", "maxpool", "flatten", "dense", "batchnorm"};
    const int ndims[] = {3, 3, 3, 1, 1, 1};
    const int shapes[][3] = {{F, conv_hw, conv_hw},
                             {F, conv_hw, conv_hw},
                             {F, pool_hw, pool_hw},
                             {flat},
                             {units},
                             {units}};
    const size_t params[] = {(size_t)F * C * k * k + F, 0, 0, 0, (size_t)flat * units + units,
                             2 * (size_t)units};
    const int tensors[] = {2, 0, 0, 0, 2, 4};
    CHECK(sn_model_num_layers(m) == 6);
    size_t total = 0;
    for (int i = 0; i < 6; i++) {
        sn_layer_info l;
        CHECK(sn_model_layer(m, i, &l, &err) == SN_OK);
        CHECK(strcmp(l.kind, kinds[i]) == 0);
        CHECK(strncmp(l.desc, kinds[i], strlen(kinds[i])) == 0);
        CHECK(l.ndim == ndims[i]);
        size_t size = 1;
        for (int d = 0; d < ndims[i]; d++) {
            CHECK(l.shape[d] == shapes[i][d]);
            size *= (size_t)shapes[i][d];
        }
        CHECK(l.out_size == size);
        CHECK(l.num_params == params[i]);
        CHECK(l.ntensors == tensors[i]);
        total += params[i];
    }
    CHECK(sn_model_num_params(m) == total);
    int in[3];
    CHECK(sn_model_input_shape(m, in) == 3 && in[0] == C && in[1] == H && in[2] == H);
    CHECK(strcmp(sn_model_loss_name(m), "softmax_xent") == 0);

    /* Tensors: conv2d's weight [F, C, k, k], batch norm's buffers. */
    sn_param_info p;
    CHECK(sn_model_param(m, 0, 0, &p, &err) == SN_OK);
    CHECK(strcmp(p.name, "weight") == 0 && p.value->ndim == 4 && p.value->shape[0] == F &&
          p.value->shape[1] == C && p.value->shape[2] == k && p.value->shape[3] == k);
    CHECK(!p.buffer && p.grad && p.grad->size == p.value->size);
    CHECK(sn_model_param(m, 5, 2, &p, &err) == SN_OK);
    CHECK(strcmp(p.name, "running_mean") == 0 && p.buffer && !p.grad &&
          p.value->size == (size_t)units);

    /* Out of range: refused, saying so. */
    sn_layer_info l;
    CHECK(sn_model_layer(m, 6, &l, &err) == SN_ERR_ARG && strstr(err.msg, "0..5"));
    CHECK(sn_model_layer(m, -1, &l, &err) == SN_ERR_ARG);
    CHECK(sn_model_param(m, 1, 0, &p, &err) == SN_ERR_ARG && strstr(err.msg, "relu"));
    CHECK(sn_model_param(m, 0, 2, &p, &err) == SN_ERR_ARG);
    sn_model_free(m);
}

/* Parameters written through sn_model_param drive the forward pass, and the
 * gradient it hands back is the one of the loss: for y = W x + b under MSE
 * (the mean over N·K of (y − t)²), dL/db_k = 2/(N·K) Σ_n (y_nk − t_nk). */
static void test_param_values(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\ndense 2\nloss mse\n", "lin", 1, &m, &err) == SN_OK);
    if (!m) return;
    const float W[2][3] = {{1, -2, 0.5f}, {0, 3, -1}}, b[2] = {0.25f, -0.5f};
    const float x[2][3] = {{1, 2, 3}, {-1, 0, 2}}, t[2][2] = {{0, 1}, {2, -1}};
    sn_param_info w, bias;
    CHECK(sn_model_param(m, 0, 0, &w, &err) == SN_OK && strcmp(w.name, "weight") == 0);
    CHECK(sn_model_param(m, 0, 1, &bias, &err) == SN_OK && strcmp(bias.name, "bias") == 0);
    memcpy(w.value->data, W, sizeof W);
    memcpy(bias.value->data, b, sizeof b);
    CHECK(sn_model_reserve(m, 2, &err) == SN_OK);
    CHECK(sn_model_forward(m, &x[0][0], 2, 1, &err) == SN_OK);
    double loss = 0;
    CHECK(sn_model_backward(m, NULL, &t[0][0], &loss, &err) == SN_OK);
    const float *y = sn_model_output(m)->data;
    double want_loss = 0, db[2] = {0, 0};
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 2; k++) {
            double yk = b[k];
            for (int j = 0; j < 3; j++) yk += (double)W[k][j] * x[n][j];
            CHECK_NEAR(y[n * 2 + k], yk, 1e-6);
            want_loss += (yk - t[n][k]) * (yk - t[n][k]) / 4;
            db[k] += 2 * (yk - t[n][k]) / 4;
        }
    CHECK_NEAR(loss, want_loss, 1e-6);
    CHECK_NEAR(bias.grad->data[0], db[0], 1e-6);
    CHECK_NEAR(bias.grad->data[1], db[1], 1e-6);
    sn_model_free(m);
}

/* sn_gradcheck_run from the public header: a correct model passes, layers
 * without parameters report -1. */
static void test_gradcheck(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 4\ndense 5\ntanh\ndense 3\nloss softmax_xent\n", "gc", 2, &m,
                             &err) == SN_OK);
    if (!m) return;
    sn_rng r;
    sn_rng_seed(&r, 5, 0);
    float x[3 * 4];
    int labels[3];
    for (int i = 0; i < 12; i++) x[i] = sn_rng_normal(&r);
    for (int i = 0; i < 3; i++) labels[i] = (int)sn_rng_below(&r, 3);
    sn_gradcheck_result g;
    CHECK(sn_gradcheck_run(m, x, 3, labels, NULL, 1e-2f, 64, 0, &g, &err) == SN_OK);
    CHECK(g.worst < 1e-2);
    CHECK(g.param[0] >= 0 && g.param[1] == -1 && g.param[2] >= 0);
    sn_model_free(m);
}

int main(void) {
    test_layers();
    test_param_values();
    test_gradcheck();
    return check_report();
}
