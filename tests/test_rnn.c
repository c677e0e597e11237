/* The vanilla recurrent layer (src/layers/rnn.c) and the driver shared by
 * all recurrent layers (src/layers/recurrent.c): PyTorch parity, finite
 * differences through whole sequences, carried state, and two steps worked
 * out here in double precision. */
#include "rnn_check.h"

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
    /* 528² recurrent weights: split by units, 17 panels of them (the last
     * 16 units wide) */
    rnn_threads("input 3\nrnn 528 act=relu\ndense 3\nloss softmax_xent\n");
    rnn_single_steps("input 3\nrnn 528\nloss mse\n", 1);
    rnn_single_steps("input 3\nrnn 6\nloss mse\n", 4);
    rnn_chunking("input 3\nrnn 4 layers=2\ndense 3\nloss softmax_xent\n");
    test_spec_errors();
    return check_report();
}
