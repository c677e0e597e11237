/* The worked examples of docs/by-hand/ reproduced by the library, every
 * printed number to its printed digit. The expected strings come from
 * tests/byhand_values.h, which docs/by-hand/compute.py writes together with
 * the documents from exact arithmetic (fractions and 50-digit decimals),
 * never from this library; each string must also still appear in its
 * document.
 *
 * "To the printed digit": a number printed with d decimals is met when the
 * library's value v is within half a unit of the last digit, 0.5·10^-d, plus
 * four float32 roundings of v (a value exactly on a rounding boundary may
 * land on either side); an integer must be met to the float32 roundings. */
#include "byhand_values.h"
#include "check.h"
#include "kernels/act.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "optim/optim.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static char *docs[5];
static int nchecked;

static char *read_doc(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/by-hand/%s", SN_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        CHECK(0);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc((size_t)n + 1, 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) CHECK(0);
    fclose(f);
    return s;
}

/* printed: the document's string ("−0.224968", U+2212 minus). */
static void printed(int doc, const char *name, const char *s, double v) {
    char ascii[64];
    size_t k = 0;
    for (const char *p = s; *p && k + 1 < sizeof ascii; p++) {
        if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x88 &&
            (unsigned char)p[2] == 0x92) {
            ascii[k++] = '-';
            p += 2;
        } else {
            ascii[k++] = *p;
        }
    }
    ascii[k] = 0;
    double want = strtod(ascii, NULL);
    const char *dot = strchr(ascii, '.');
    int decimals = dot ? (int)strlen(dot + 1) : 0;
    double tol = (decimals ? 0.5 * pow(10, -decimals) : 0) +
                 4 * FLT_EPSILON * (fabs(want) > 1 ? fabs(want) : 1);
    int in_doc = docs[doc] && strstr(docs[doc], s) != NULL;
    if (!in_doc) fprintf(stderr, "%s = %s no longer appears in document %d\n", name, s, doc);
    CHECK(in_doc);
    if (!(fabs(v - want) <= tol))
        fprintf(stderr, "%s: the library gives %.9g, the document prints %s\n", name, v, s);
    CHECK(fabs(v - want) <= tol);
    nchecked++;
}
#define P(doc, NAME, value) printed(doc, #NAME, NAME, (double)(value))

static sn_model *build(const char *spec) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "by-hand", 1, &m, &err) != SN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(0);
    }
    return m;
}

static void set(sn_tensor *t, const float *v) {
    memcpy(t->data, v, t->size * sizeof(float));
}

/* ---- 1. a single ReLU neuron ------------------------------------------------ */

static void relu_neuron(void) {
    sn_model *m = build("input 3\ndense 1\nrelu\nloss mse\n");
    if (!m) return;
    m->keep_all = 1; /* z and dL/dz, inside the dense+ReLU pass, are read below */
    sn_error err = {0};
    sn_model_reserve(m, 1, &err);
    float x[3] = {1, -2, 3}, w[3] = {-3, -1, 2}, b = 1, t = 5.5f, zero = 0;
    set(&m->params[0]->value, w);
    /* Each product wᵢxᵢ: the neuron with only input i and no bias. */
    set(&m->params[1]->value, &zero);
    const char *prods[3] = {BH1_P1, BH1_P2, BH1_P3};
    for (int i = 0; i < 3; i++) {
        float xi[3] = {0, 0, 0};
        xi[i] = x[i];
        sn_model_forward(m, xi, 1, 0, NULL);
        printed(1, "w_i x_i", prods[i], m->act[1].data[0]);
    }
    set(&m->params[1]->value, &b);
    m->input_grad = 1;
    sn_model_forward(m, x, 1, 1, NULL);
    P(1, BH1_Z, m->act[1].data[0]);
    P(1, BH1_Y, m->act[2].data[0]);
    /* t = y − ½: L = ¼ and dL/dy = 1, so dL/dθ = ∂y/∂θ. */
    double loss = 0;
    sn_model_backward(m, NULL, &t, &loss, NULL);
    P(1, BH1_LOSS, loss);
    P(1, BH1_DZ, m->grad[1].data[0]);
    const float *dw = m->params[0]->grad.data, *dx = m->grad[0].data;
    P(1, BH1_DW1, dw[0]);
    P(1, BH1_DW2, dw[1]);
    P(1, BH1_DW3, dw[2]);
    P(1, BH1_DX1, dx[0]);
    P(1, BH1_DX2, dx[1]);
    P(1, BH1_DX3, dx[2]);
    P(1, BH1_DB, m->params[1]->grad.data[0]);
    /* The nudge of w₁ to −2.999. */
    m->params[0]->value.data[0] = -2.999f;
    sn_model_forward(m, x, 1, 0, NULL);
    P(1, BH1_ZNUDGE, m->act[1].data[0]);
    /* The dead neuron: b = −7, every gradient 0. */
    set(&m->params[0]->value, w);
    m->params[1]->value.data[0] = -7;
    sn_model_forward(m, x, 1, 1, NULL);
    P(1, BH1_ZDEAD, m->act[1].data[0]);
    CHECK(m->act[2].data[0] == 0);
    sn_model_backward(m, NULL, &t, NULL, NULL);
    int dead = m->params[1]->grad.data[0] == 0;
    for (int i = 0; i < 3; i++) dead &= dw[i] == 0 && dx[i] == 0;
    CHECK(dead);
    sn_model_free(m);
}

/* ---- 2. the 2-2-1 sigmoid network and one gradient-descent step ------------ */

static void sigmoid_mlp(void) {
    sn_model *m = build("input 2\ndense 2\nsigmoid\ndense 1\nsigmoid\nloss mse\n"
                        "[train]\noptimizer sgd lr=0.5\n");
    if (!m) return;
    sn_error err = {0};
    sn_model_reserve(m, 1, &err);
    const float x[2] = {0.5f, -1.0f}, W1[4] = {0.1f, 0.4f, -0.3f, 0.2f}, b1[2] = {0.1f, -0.1f};
    const float W2[2] = {0.5f, -0.6f}, b2 = 0.2f, t = 1.0f, one[2] = {1, 1};
    set(&m->params[0]->value, W1);
    set(&m->params[1]->value, b1);
    set(&m->params[2]->value, W2);
    set(&m->params[3]->value, &b2);
    m->input_grad = 1;
    sn_model_forward(m, x, 1, 1, NULL);
    /* act: [0] x, [1] z¹, [2] h, [3] z², [4] ŷ; grad[i] = dL/d act[i]. */
    P(2, BH2_Z1_0, m->act[1].data[0]);
    P(2, BH2_Z1_1, m->act[1].data[1]);
    P(2, BH2_H_0, m->act[2].data[0]);
    P(2, BH2_H_1, m->act[2].data[1]);
    P(2, BH2_Z2, m->act[3].data[0]);
    P(2, BH2_Y, m->act[4].data[0]);
    double loss = 0;
    sn_model_backward(m, NULL, &t, &loss, NULL);
    P(2, BH2_L, loss);
    P(2, BH2_DY, m->grad[4].data[0]);
    float s[2]; /* σ' from the sigmoid kernel's backward with dy = 1 */
    sn_act_backward(SN_ACT_SIGMOID, 0, NULL, m->act[4].data, one, s, 1);
    P(2, BH2_SY, s[0]);
    P(2, BH2_D2, m->grad[3].data[0]);
    P(2, BH2_DW2_0, m->params[2]->grad.data[0]);
    P(2, BH2_DW2_1, m->params[2]->grad.data[1]);
    P(2, BH2_DB2, m->params[3]->grad.data[0]);
    P(2, BH2_DH_0, m->grad[2].data[0]);
    P(2, BH2_DH_1, m->grad[2].data[1]);
    sn_act_backward(SN_ACT_SIGMOID, 0, NULL, m->act[2].data, one, s, 2);
    P(2, BH2_SH_0, s[0]);
    P(2, BH2_SH_1, s[1]);
    P(2, BH2_D1_0, m->grad[1].data[0]);
    P(2, BH2_D1_1, m->grad[1].data[1]);
    const float *dW1 = m->params[0]->grad.data;
    P(2, BH2_DW1_00, dW1[0]);
    P(2, BH2_DW1_01, dW1[1]);
    P(2, BH2_DW1_10, dW1[2]);
    P(2, BH2_DW1_11, dW1[3]);
    P(2, BH2_DB1_0, m->params[1]->grad.data[0]);
    P(2, BH2_DB1_1, m->params[1]->grad.data[1]);
    P(2, BH2_DX_0, m->grad[0].data[0]);
    P(2, BH2_DX_1, m->grad[0].data[1]);

    sn_optimizer *o = NULL;
    CHECK(sn_optimizer_new(m, sn_model_config(m), &o, &err) == SN_OK);
    if (o) {
        sn_optimizer_step(o);
        const float *nW1 = m->params[0]->value.data;
        P(2, BH2_NW1_00, nW1[0]);
        P(2, BH2_NW1_01, nW1[1]);
        P(2, BH2_NW1_10, nW1[2]);
        P(2, BH2_NW1_11, nW1[3]);
        P(2, BH2_NB1_0, m->params[1]->value.data[0]);
        P(2, BH2_NB1_1, m->params[1]->value.data[1]);
        P(2, BH2_NW2_0, m->params[2]->value.data[0]);
        P(2, BH2_NW2_1, m->params[2]->value.data[1]);
        P(2, BH2_NB2, m->params[3]->value.data[0]);
        sn_model_forward(m, x, 1, 0, NULL);
        P(2, BH2_NZ1_0, m->act[1].data[0]);
        P(2, BH2_NZ1_1, m->act[1].data[1]);
        P(2, BH2_NH_0, m->act[2].data[0]);
        P(2, BH2_NH_1, m->act[2].data[1]);
        P(2, BH2_NZ2, m->act[3].data[0]);
        P(2, BH2_NY, m->act[4].data[0]);
        P(2, BH2_NL, sn_model_loss(m, NULL, &t));
        sn_optimizer_free(o);
    }
    sn_model_free(m);
}

/* ---- 3. softmax + cross-entropy, both routes ------------------------------ */

static void softmax_xent(void) {
    sn_model *m = build("input 3\nsoftmax\nloss mse\n");
    if (!m) return;
    sn_error err = {0};
    sn_model_reserve(m, 1, &err);
    float z[3] = {0.5f, 2.0f, -1.0f};
    int label = 0;
    sn_model_forward(m, z, 1, 0, NULL);
    const float *p = m->act[1].data;
    sn_layer *sm = m->layers[0];
    sn_tensor zt = sn_tensor_view(z, 2, (int[]){1, 3}), pt = m->act[1];
    P(3, BH3_P0, p[0]);
    P(3, BH3_P1, p[1]);
    P(3, BH3_P2, p[2]);

    /* Route 2: the fused loss gives L and p − y. */
    float g2[3];
    sn_tensor g2t = sn_tensor_view(g2, 2, (int[]){1, 3});
    double L = sn_loss(SN_LOSS_SOFTMAX_XENT, &zt, &label, NULL, &g2t);
    P(3, BH3_L, L);
    P(3, BH3_R2_0, g2[0]);
    P(3, BH3_R2_1, g2[1]);
    P(3, BH3_R2_2, g2[2]);
    /* S and e^(zᵢ) from the library's L = log S − z₀ and pᵢ = e^(zᵢ) / S. */
    double S = exp(L + z[0]);
    P(3, BH3_S, S);
    P(3, BH3_E0, p[0] * S);
    P(3, BH3_E1, p[1] * S);
    P(3, BH3_E2, p[2] * S);

    /* Route 1: the softmax layer's backward applied to unit vectors gives
     * the rows of J, applied to ∂L/∂p = (−1/p₀, 0, 0) the gradient. */
    const char *J[3][3] = {
        {BH3_J00, BH3_J01, BH3_J02}, {BH3_J10, BH3_J11, BH3_J12}, {BH3_J20, BH3_J21, BH3_J22}};
    float dy[3], dz[3];
    sn_tensor dyt = sn_tensor_view(dy, 2, (int[]){1, 3}),
              dzt = sn_tensor_view(dz, 2, (int[]){1, 3});
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++) dy[k] = k == i ? 1.0f : 0.0f;
        sm->ops->backward(sm, &zt, &pt, &dyt, &dzt);
        for (int j = 0; j < 3; j++) printed(3, "J", J[i][j], dz[j]);
    }
    dy[0] = -1.0f / p[0];
    dy[1] = dy[2] = 0;
    P(3, BH3_DP0, dy[0]);
    sm->ops->backward(sm, &zt, &pt, &dyt, &dzt);
    P(3, BH3_R1_0, dz[0]);
    P(3, BH3_R1_1, dz[1]);
    P(3, BH3_R1_2, dz[2]);
    sn_model_free(m);
}

/* ---- 4. the two-step tanh RNN through time --------------------------------- */

/* c[1, n] (+)= a[1, k] b[n, k]ᵀ and friends, by the library's GEMM. */
static void gemm(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc) {
    sn_sgemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

static void rnn_kernels(void) {
    const float xs[2] = {1.0f, -0.5f}, Wx[2] = {0.5f, -0.3f}; /* W_x: [2, 1] */
    const float Wh[4] = {0.1f, 0.4f, -0.2f, 0.3f}, bh[2] = {0.0f, 0.1f};
    const float Wy[2] = {0.7f, -0.5f}, by = 0.0f, t = 0.3f, one[2] = {1, 1};
    float h0[2] = {0, 0}, a1[2], h1[2], r1[2], a2[2], h2[2], y;
    /* a₁ = W_x x₁ + W_h h₀ + b, as row vectors: a = x W_xᵀ + h W_hᵀ + b */
    gemm(0, 1, 1, 2, 1, &xs[0], 1, Wx, 1, 0.0f, a1, 2);
    gemm(0, 1, 1, 2, 2, h0, 2, Wh, 2, 1.0f, a1, 2);
    sn_add_row_vector(a1, bh, 1, 2);
    sn_act_forward(SN_ACT_TANH, 0, a1, h1, 2);
    gemm(0, 1, 1, 2, 2, h1, 2, Wh, 2, 0.0f, r1, 2);
    gemm(0, 1, 1, 2, 1, &xs[1], 1, Wx, 1, 0.0f, a2, 2);
    sn_axpy(2, 1.0f, r1, a2);
    sn_add_row_vector(a2, bh, 1, 2);
    sn_act_forward(SN_ACT_TANH, 0, a2, h2, 2);
    gemm(0, 1, 1, 1, 2, h2, 2, Wy, 2, 0.0f, &y, 1);
    y += by;
    P(4, BH4_A1_0, a1[0]);
    P(4, BH4_A1_1, a1[1]);
    P(4, BH4_H1_0, h1[0]);
    P(4, BH4_H1_1, h1[1]);
    P(4, BH4_WH1_0, r1[0]);
    P(4, BH4_WH1_1, r1[1]);
    P(4, BH4_A2_0, a2[0]);
    P(4, BH4_A2_1, a2[1]);
    P(4, BH4_H2_0, h2[0]);
    P(4, BH4_H2_1, h2[1]);
    P(4, BH4_Y, y);

    /* L and dL/dy = 2(y − t) by the MSE loss. */
    float dy;
    sn_tensor yt = sn_tensor_view(&y, 2, (int[]){1, 1}),
              dyt = sn_tensor_view(&dy, 2, (int[]){1, 1});
    P(4, BH4_L, sn_loss(SN_LOSS_MSE, &yt, NULL, &t, &dyt));
    P(4, BH4_DY, dy);
    float dWy[2], dh2[2], g2[2], da2[2], dh1[2], g1[2], da1[2];
    float dWx1[2], dWx2[2], dWx[2], dWh[4], db[2], dx1, dx2;
    gemm(1, 0, 1, 2, 1, &dy, 1, h2, 2, 0.0f, dWy, 2); /* dW_y = dyᵀ h₂ */
    gemm(0, 0, 1, 2, 1, &dy, 1, Wy, 2, 0.0f, dh2, 2); /* ∂L/∂h₂ = dy W_y */
    sn_act_backward(SN_ACT_TANH, 0, NULL, h2, one, g2, 2);
    sn_act_backward(SN_ACT_TANH, 0, NULL, h2, dh2, da2, 2);
    gemm(0, 0, 1, 2, 2, da2, 2, Wh, 2, 0.0f, dh1, 2); /* W_hᵀ δ₂ as δ₂ W_h */
    sn_act_backward(SN_ACT_TANH, 0, NULL, h1, one, g1, 2);
    sn_act_backward(SN_ACT_TANH, 0, NULL, h1, dh1, da1, 2);
    gemm(1, 0, 2, 1, 1, da2, 2, &xs[1], 1, 0.0f, dWx2, 1); /* δ₂ᵀ x₂ */
    gemm(1, 0, 2, 1, 1, da1, 2, &xs[0], 1, 0.0f, dWx1, 1);
    memcpy(dWx, dWx2, sizeof dWx);
    gemm(1, 0, 2, 1, 1, da1, 2, &xs[0], 1, 1.0f, dWx, 1); /* accumulated over steps */
    gemm(1, 0, 2, 2, 1, da2, 2, h1, 2, 0.0f, dWh, 2);     /* δ₂ᵀ h₁ */
    gemm(1, 0, 2, 2, 1, da1, 2, h0, 2, 1.0f, dWh, 2);     /* + δ₁ᵀ h₀ = 0 */
    memcpy(db, da2, sizeof db);
    sn_axpy(2, 1.0f, da1, db);
    gemm(0, 0, 1, 1, 2, da1, 2, Wx, 1, 0.0f, &dx1, 1);
    gemm(0, 0, 1, 1, 2, da2, 2, Wx, 1, 0.0f, &dx2, 1);
    P(4, BH4_DWY_0, dWy[0]);
    P(4, BH4_DWY_1, dWy[1]);
    P(4, BH4_DBY, dy);
    P(4, BH4_DH2_0, dh2[0]);
    P(4, BH4_DH2_1, dh2[1]);
    P(4, BH4_G2_0, g2[0]);
    P(4, BH4_G2_1, g2[1]);
    P(4, BH4_DA2_0, da2[0]);
    P(4, BH4_DA2_1, da2[1]);
    P(4, BH4_DH1_0, dh1[0]);
    P(4, BH4_DH1_1, dh1[1]);
    P(4, BH4_G1_0, g1[0]);
    P(4, BH4_G1_1, g1[1]);
    P(4, BH4_DA1_0, da1[0]);
    P(4, BH4_DA1_1, da1[1]);
    P(4, BH4_DWX2_0, dWx2[0]);
    P(4, BH4_DWX2_1, dWx2[1]);
    P(4, BH4_DWX1_0, dWx1[0]);
    P(4, BH4_DWX1_1, dWx1[1]);
    P(4, BH4_DWX_0, dWx[0]);
    P(4, BH4_DWX_1, dWx[1]);
    P(4, BH4_DB_0, db[0]);
    P(4, BH4_DB_1, db[1]);
    P(4, BH4_DWH_00, dWh[0]);
    P(4, BH4_DWH_01, dWh[1]);
    P(4, BH4_DWH_10, dWh[2]);
    P(4, BH4_DWH_11, dWh[3]);
    P(4, BH4_DX1, dx1);
    P(4, BH4_DX2, dx2);
}

/* The same network as a model with the recurrent layer, over the sequence
 * (x₁, x₂): one stream, T = 2 rows. */
static sn_param *param(sn_layer *l, const char *name) {
    for (int i = 0; i < l->nparams; i++)
        if (strcmp(l->params[i].name, name) == 0) return &l->params[i];
    fprintf(stderr, "no parameter %s in %s\n", name, l->desc);
    CHECK(0);
    return NULL;
}

static void rnn_layer(void) {
    sn_model *m = build("input 1\nrnn 2\ndense 1\nloss mse\n");
    if (!m) return;
    sn_error err = {0};
    sn_model_set_seq_len(m, 2, NULL);
    CHECK(sn_model_reserve(m, 2, &err) == SN_OK);
    const float xs[2] = {1.0f, -0.5f}, Wx[2] = {0.5f, -0.3f}, Wh[4] = {0.1f, 0.4f, -0.2f, 0.3f};
    const float bh[2] = {0.0f, 0.1f}, zero[2] = {0, 0}, Wy[2] = {0.7f, -0.5f}, by = 0;
    sn_param *p[6] = {param(m->layers[0], "weight_ih_l0"), param(m->layers[0], "weight_hh_l0"),
                      param(m->layers[0], "bias_ih_l0"),   param(m->layers[0], "bias_hh_l0"),
                      param(m->layers[1], "weight"),       param(m->layers[1], "bias")};
    for (int i = 0; i < 6; i++)
        if (!p[i]) {
            sn_model_free(m);
            return;
        }
    set(&p[0]->value, Wx);
    set(&p[1]->value, Wh);
    set(&p[2]->value, bh);
    set(&p[3]->value, zero);
    set(&p[4]->value, Wy);
    set(&p[5]->value, &by);
    m->input_grad = 1;
    sn_model_forward(m, xs, 2, 1, NULL);
    const float *h = m->act[1].data; /* row t: h_(t+1) */
    P(4, BH4_H1_0, h[0]);
    P(4, BH4_H1_1, h[1]);
    P(4, BH4_H2_0, h[2]);
    P(4, BH4_H2_1, h[3]);
    P(4, BH4_Y, m->act[2].data[1]);
    /* Step 1's target equals its output: its loss term and gradient vanish. */
    const float targets[2] = {(float)BH4_Y1_EXACT, 0.3f};
    double L = 0;
    sn_model_backward(m, NULL, targets, &L, NULL);
    P(4, BH4_L, 2 * L);
    const float *gx = p[0]->grad.data, *gh = p[1]->grad.data;
    P(4, BH4_DWX_0, 2 * gx[0]);
    P(4, BH4_DWX_1, 2 * gx[1]);
    P(4, BH4_DWH_00, 2 * gh[0]);
    P(4, BH4_DWH_01, 2 * gh[1]);
    P(4, BH4_DWH_10, 2 * gh[2]);
    P(4, BH4_DWH_11, 2 * gh[3]);
    P(4, BH4_DB_0, 2 * p[2]->grad.data[0]);
    P(4, BH4_DB_1, 2 * p[2]->grad.data[1]);
    P(4, BH4_DB_0, 2 * p[3]->grad.data[0]);
    P(4, BH4_DB_1, 2 * p[3]->grad.data[1]);
    P(4, BH4_DWY_0, 2 * p[4]->grad.data[0]);
    P(4, BH4_DWY_1, 2 * p[4]->grad.data[1]);
    P(4, BH4_DBY, 2 * p[5]->grad.data[0]);
    P(4, BH4_DX1, 2 * m->grad[0].data[0]);
    P(4, BH4_DX2, 2 * m->grad[0].data[1]);
    sn_model_free(m);
}

int main(void) {
    const char *names[5] = {NULL, "01-relu-neuron.md", "02-sigmoid-mlp.md", "03-softmax-xent.md",
                            "04-rnn-bptt.md"};
    for (int i = 1; i < 5; i++) docs[i] = read_doc(names[i]);
    relu_neuron();
    sigmoid_mlp();
    softmax_xent();
    rnn_kernels();
    rnn_layer();
    printf("%d printed numbers reproduced\n", nchecked);
    for (int i = 1; i < 5; i++) free(docs[i]);
    return check_report();
}
