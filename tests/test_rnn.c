/* The vanilla recurrent layer (src/layers/rnn.c) and the driver shared by
 * all recurrent layers (src/layers/recurrent.c): PyTorch parity, finite
 * differences through whole sequences, carried state, and two steps worked
 * out here in double precision. */
#include "rnn_check.h"

#include "kernels/kernels.h"
#include "kernels/rnn.h"

#include <math.h>

/* The one-hot input projection with its bias added in the same pass, against
 * the GEMM and sn_add_row_vector it replaces: the same bits, signed zeros in
 * W and the bias included, with and without work space; and which rows count
 * as one-hot (a −0 is a zero; a NaN, a second 1 or a 1 short of exact are
 * not). */
static void test_onehot_bias(void) {
    enum { V = 89, R = 300, G = 96 };
    int saved = sn_get_threads();
    sn_set_threads(2); /* several chunks */
    sn_rng g;
    sn_rng_seed(&g, 7, 8);
    float *x = calloc((size_t)R * V, sizeof(float)), *W = malloc(sizeof(float) * G * V);
    float *b = malloc(sizeof(float) * G), *work = malloc(sizeof(float) * V * G);
    float *y1 = malloc(sizeof(float) * R * G), *y2 = malloc(sizeof(float) * R * G);
    for (int i = 0; i < G * V; i++) W[i] = sn_rng_normal(&g);
    for (int i = 0; i < G; i++) b[i] = sn_rng_normal(&g);
    for (int k = 0; k < 40; k++) W[sn_rng_below(&g, G * V)] = -0.0f;
    for (int k = 0; k < 5; k++) b[sn_rng_below(&g, G)] = -0.0f;
    for (int r = 0; r < R; r++) x[(size_t)r * V + sn_rng_below(&g, V)] = 1.0f;
    for (int r = 0; r < R; r += 3) /* −0 counts as zero */
        if (x[(size_t)r * V] == 0.0f) x[(size_t)r * V] = -0.0f;
    sn_sgemm(0, 1, R, G, V, 1.0f, x, V, W, V, 0.0f, y1, G);
    sn_add_row_vector(y1, b, R, G);
    for (int with_work = 0; with_work <= 1; with_work++) {
        memset(y2, 0xff, sizeof(float) * R * G);
        CHECK(sn_onehot_project_bias(x, R, V, W, G, b, y2, with_work ? work : NULL,
                                     with_work ? (size_t)V * G : 0));
        CHECK(memcmp(y1, y2, sizeof(float) * R * G) == 0);
    }
    /* not one-hot: a NaN or a second 1 beside the 1, or the 1 a little short */
    float *row = x + (size_t)(R / 2) * V;
    int hot = 0;
    while (row[hot] != 1.0f) hot++;
    float *next = row + (hot + 1) % V;
    float bad[3][2] = {{1.0f, NAN}, {1.0f, 1.0f}, {0.99999994f, 0.0f}};
    for (int k = 0; k < 3; k++) {
        row[hot] = bad[k][0], *next = bad[k][1];
        CHECK(!sn_onehot_project_bias(x, R, V, W, G, b, y2, work, (size_t)V * G));
        row[hot] = 1.0f, *next = 0.0f;
        CHECK(sn_onehot_project_bias(x, R, V, W, G, b, y2, work, (size_t)V * G));
    }
    free(x), free(W), free(b), free(work), free(y1), free(y2);
    sn_set_threads(saved);
}

static void test_onehot_bias_grad_of(int runs) {
    enum { V = 37, R = 1500, G = 200 };
    int saved = sn_get_threads();
    sn_rng g;
    sn_rng_seed(&g, 9, 4);
    float *x = calloc((size_t)R * V, sizeof(float)), *da = malloc(sizeof(float) * R * G);
    float *work = malloc(sizeof(float) * 2 * V * G), *w1 = malloc(sizeof(float) * G * V);
    float *w2 = malloc(sizeof(float) * G * V), *b1 = malloc(sizeof(float) * G);
    float *b2 = malloc(sizeof(float) * G);
    int *tok = malloc(sizeof(int) * R);
    for (int i = 0; i < R * G; i++) da[i] = sn_rng_normal(&g);
    for (int k = 0; k < 9; k++) da[sn_rng_below(&g, R * G)] = -0.0f;
    for (int r = 0; r < R; r++)
        x[(size_t)r * V + (runs ? (r / 100 * 7 + 3) % V : (int)sn_rng_below(&g, V))] = 1.0f;
    CHECK(sn_sgemm_k_block(R) < R); /* more than one block */
    for (int threads = 1; threads <= 2; threads++) {
        sn_set_threads(threads);
        sn_sum_rows(da, b1, R, G);
        sn_sgemm(1, 0, G, V, R, 1.0f, da, G, x, V, 0.0f, w1, V);
        CHECK(sn_onehot_tokens(x, R, V, tok));
        for (int twice = 0; twice <= 1; twice++)
            for (int known = 0; known <= 1; known++) { /* the tokens given, or read from x */
                memset(w2, 0xff, sizeof(float) * G * V);
                memset(b2, 0xff, sizeof(float) * G);
                CHECK(sn_onehot_weight_bias_grad(known ? NULL : x, known ? tok : NULL, R, V, da, G,
                                                 w2, b2, work, (size_t)(1 + twice) * V * G));
                CHECK(memcmp(w1, w2, sizeof(float) * G * V) == 0);
                CHECK(memcmp(b1, b2, sizeof(float) * G) == 0);
            }
        for (int twice = 0; twice <= 1; twice++) {
            memset(w2, 0xff, sizeof(float) * G * V);
            CHECK(sn_onehot_weight_grad(x, R, V, da, G, w2, work, (size_t)(1 + twice) * V * G));
            CHECK(memcmp(w1, w2, sizeof(float) * G * V) == 0);
        }
    }
    x[(size_t)(R / 2) * V] = 0.5f; /* not one-hot: nothing to do */
    CHECK(!sn_onehot_weight_bias_grad(x, NULL, R, V, da, G, w2, b2, work, (size_t)V * G));
    CHECK(!sn_onehot_tokens(x, R, V, tok));
    free(x), free(da), free(work), free(w1), free(w2), free(b1), free(b2), free(tok);
    sn_set_threads(saved);
}

/* The one-hot weight gradient with the bias gradient summed in the same
 * pass: dW with the bits of the GEMM it replaces, db with those of
 * sn_sum_rows, over several K blocks of rows (the blocks added in dW one by
 * one, with V·G floats of work, or in the work space first, with 2·V·G),
 * with the tokens read from x or given (sn_onehot_tokens), on 1 and 2
 * threads; signed zeros in da included. Tokens drawn at random (nearly all
 * in every block), then in runs of 100 rows (most blocks hold a few tokens,
 * some tokens only appear after the first block): a block adds only the
 * tokens it holds. */
static void test_onehot_bias_grad(void) {
    for (int runs = 0; runs <= 1; runs++) test_onehot_bias_grad_of(runs);
}

/* h_1 = tanh(W_ih x_1 + b_ih + W_hh h_0 + b_hh), h_2 likewise, computed
 * here for one stream from the layer's own weights. */
static void test_two_steps_by_hand(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 2\nrnn 3\nloss mse\n", "hand", 1, &m, &err) == SN_OK);
    if (!m) return;
    CHECK(sn_model_reserve(m, 2, &err) == SN_OK);
    sn_model_set_seq_len(m, 2, NULL);
    float x[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    sn_model_forward(m, x, 2, 0, NULL);
    const sn_tensor *y = sn_model_output(m);
    const float *Wih = m->params[0]->value.data, *Whh = m->params[1]->value.data;
    const float *bih = m->params[2]->value.data, *bhh = m->params[3]->value.data;
    double h[3] = {0, 0, 0};
    for (int t = 0; t < 2; t++) {
        double hn[3];
        for (int j = 0; j < 3; j++) {
            double a = bih[j] + bhh[j];
            for (int i = 0; i < 2; i++) a += Wih[j * 2 + i] * x[t * 2 + i];
            for (int i = 0; i < 3; i++) a += Whh[j * 3 + i] * h[i];
            hn[j] = tanh(a);
        }
        for (int j = 0; j < 3; j++) {
            h[j] = hn[j];
            CHECK_NEAR(y->data[t * 3 + j], h[j], 1e-6);
        }
    }
    sn_model_free(m);
}

static void test_spec_errors(void) {
    const char *bad[] = {"input 3\nrnn\nloss mse\n",
                         "input 3\nrnn 0\nloss mse\n",
                         "input 3\nrnn 4 layers=5\nloss mse\n",
                         "input 3\nrnn 4 dropout=1\nloss mse\n",
                         "input 3\nrnn 4 act=sigmoid\nloss mse\n",
                         "input 3\nrnn 4 bogus=1\nloss mse\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_model *m = NULL;
        sn_error err = {0};
        CHECK(sn_model_from_spec(bad[i], "bad.net", 1, &m, &err) != SN_OK);
        CHECK(m == NULL && strstr(err.msg, "bad.net:2:") != NULL);
        printf("  %s\n", err.msg);
    }
}

/* The recurrent product on panels (sn_rnn_panel_product) against sn_sgemm on
 * the matrix it packs, bit for bit: forward's B = W_hhᵀ (several gate blocks)
 * and backward's B = W_hh (K of several GEMM K blocks, one not a multiple of
 * 16), stream counts that leave short row tiles, a last panel narrower than
 * 32 or 64 units, beta 0 and 1, strips in either order, signed zeros, a range of units that
 * leaves the others untouched, and the input term of a one-hot x made in
 * the product (against sn_onehot_gather_bias before sn_sgemm). */
static void test_panel_product(void) {
    struct {
        int trans, G, H, K;
    } cases[] = {{1, 4, 80, 80}, {0, 1, 80, 600}, {1, 3, 100, 100}, {0, 1, 40, 257}};
    int Ms[] = {1, 5, 13, 32, 37};
    sn_rng g;
    sn_rng_seed(&g, 9, 10);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int G = cases[c].G, H = cases[c].H, K = cases[c].K, GH = G * H, trans = cases[c].trans;
        int cols = trans ? K : GH; /* W: [G·H, K] (trans) or [K, G·H] */
        float *W = malloc(sizeof(float) * GH * K), *P = malloc(sizeof(float) * GH * K);
        for (int i = 0; i < GH * K; i++) W[i] = i % 37 == 0 ? -0.0f : sn_rng_normal(&g);
        sn_rnn_pack(W, trans, G, H, K, P);
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
            int M = Ms[mi], lda = K + 3, ldc = GH + 5;
            float *A = malloc(sizeof(float) * M * lda), *C0 = malloc(sizeof(float) * M * ldc);
            float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
            for (int i = 0; i < M * lda; i++) A[i] = i % 29 == 0 ? -0.0f : sn_rng_normal(&g);
            for (int i = 0; i < M * ldc; i++) C0[i] = i % 31 == 0 ? -0.0f : sn_rng_normal(&g);
            for (int bv = 0; bv < 4; bv++) {
                int beta = bv & 1, rev = bv >> 1; /* rev: strips in the opposite order */
                memcpy(C1, C0, sizeof(float) * M * ldc);
                memcpy(C2, C0, sizeof(float) * M * ldc);
                sn_sgemm(0, trans, M, GH, K, 1.0f, A, lda, W, cols, (float)beta, C1, ldc);
                sn_rnn_panel_product(M, G, H, K, 0, H, A, lda, P, (float)beta, C2, ldc, NULL, rev);
                CHECK(memcmp(C1, C2, sizeof(float) * M * ldc) == 0);
                /* units [64, H) only: the first panel's columns keep C0 */
                memcpy(C2, C0, sizeof(float) * M * ldc);
                sn_rnn_panel_product(M, G, H, K, SN_RNN_PANEL, H, A, lda, P, (float)beta, C2, ldc,
                                     NULL, rev);
                int same = 1;
                for (int r = 0; r < M; r++)
                    for (int j = 0; j < ldc; j++) {
                        int u = j < GH ? j % H : -1;
                        const float *want = u >= SN_RNN_PANEL ? C1 : C0;
                        same &= memcmp(&want[(size_t)r * ldc + j], &C2[(size_t)r * ldc + j],
                                       sizeof(float)) == 0;
                    }
                CHECK(same);
                /* with the input term of a one-hot x: the gather, then the product */
                enum { V = 7 };
                float *WT = malloc(sizeof(float) * V * GH), *bias = malloc(sizeof(float) * GH);
                int *tok = malloc(sizeof(int) * M);
                for (int i = 0; i < V * GH; i++) WT[i] = i % 5 == 0 ? -0.0f : sn_rng_normal(&g);
                for (int i = 0; i < GH; i++) bias[i] = i % 3 == 0 ? -0.0f : sn_rng_normal(&g);
                for (int r = 0; r < M; r++) tok[r] = (int)sn_rng_below(&g, V);
                memcpy(C1, C0, sizeof(float) * M * ldc);
                memcpy(C2, C0, sizeof(float) * M * ldc);
                sn_onehot_gather_bias(tok, M, WT, GH, bias, 0, GH, C1, ldc);
                sn_sgemm(0, trans, M, GH, K, 1.0f, A, lda, W, cols, (float)beta, C1, ldc);
                sn_rnn_input in = {WT, bias, tok, GH};
                sn_rnn_panel_product(M, G, H, K, 0, H, A, lda, P, (float)beta, C2, ldc, &in, rev);
                CHECK(memcmp(C1, C2, sizeof(float) * M * ldc) == 0);
                free(WT);
                free(bias);
                free(tok);
            }
            free(A);
            free(C0);
            free(C1);
            free(C2);
        }
        free(W);
        free(P);
    }
}

int main(void) {
    rnn_parity("rnn_rnn.safetensors");
    test_two_steps_by_hand();
    rnn_gradcheck("input 3\nrnn 5\ndense 4\nloss softmax_xent\n", 6, 2, 0, 0);
    rnn_gradcheck("input 3\nrnn 5\ndense 4\nloss softmax_xent\n", 6, 2, 1, 0);
    rnn_gradcheck("input 3\nrnn 4 layers=2\ndense 3\nloss softmax_xent\n", 4, 3, 1, 0);
    rnn_gradcheck("input 3\nrnn 4 layers=3 dropout=0.3\ndense 3\nloss softmax_xent\n", 4, 2, 1, 1);
    rnn_gradcheck("input 2\nrnn 4 act=relu\ndense 3\nloss softmax_xent\n", 5, 2, 1, 0);
    rnn_gradcheck("input 1\nonehot 5\nrnn 6\ndense 5\nloss softmax_xent\n", 5, 2, 1, 0);
    rnn_threads("input 3\nrnn 6 layers=2\ndense 3\nloss softmax_xent\n");
    /* 528² recurrent weights: in panels, steps split by units (9 panels, the
     * last 16 units wide) */
    rnn_threads("input 3\nrnn 528 act=relu\ndense 3\nloss softmax_xent\n");
    rnn_threads_x("input 5\nrnn 96 layers=2\ndense 5\nloss softmax_xent\n", 1);
    rnn_single_steps("input 3\nrnn 528\nloss mse\n", 1, 0);
    rnn_single_steps("input 3\nrnn 6\nloss mse\n", 4, 0);
    rnn_single_steps("input 7\nrnn 528\nloss mse\n", 4, 1);
    rnn_single_steps("input 7\nrnn 6\nloss mse\n", 4, 1);
    rnn_single_steps("input 7\nrnn 528\nloss mse\n", 4, 2);
    rnn_single_steps("input 7\nrnn 6\nloss mse\n", 4, 2);
    /* one-hot, but too few rows for the transposed W_ih in the work space */
    rnn_single_steps("input 64\nrnn 6\nloss mse\n", 1, 1);
    rnn_chunking("input 3\nrnn 4 layers=2\ndense 3\nloss softmax_xent\n");
    test_spec_errors();
    test_onehot_bias();
    test_onehot_bias_grad();
    test_panel_product();
    return check_report();
}
