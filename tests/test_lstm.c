/* The LSTM layer (src/layers/lstm.c): PyTorch parity (nn.LSTM forward,
 * truncated BPTT gradients, stacked levels, carried state), finite
 * differences through whole sequences, the forget-gate bias option, and the
 * embedding layer in front of it. */
#include "rnn_check.h"

static void test_forget_bias(void) {
    const char *specs[] = {"input 3\nlstm 4 layers=2\nloss mse\n",
                           "input 3\nlstm 4 forget_bias=2.5\nloss mse\n"};
    float want[] = {1.0f, 2.5f};
    for (int s = 0; s < 2; s++) {
        sn_model *m = NULL;
        sn_error err = {0};
        CHECK(sn_model_from_spec(specs[s], "fb", 1, &m, &err) == SN_OK);
        if (!m) continue;
        sn_layer *l = m->layers[0];
        for (int k = 0; 4 * k < l->nparams; k++) {
            const float *bih = l->params[4 * k + 2].value.data;
            const float *bhh = l->params[4 * k + 3].value.data;
            for (int j = 0; j < 16; j++) {
                if (j >= 4 && j < 8) {
                    CHECK(bih[j] == want[s] && bhh[j] == 0.0f);
                } else {
                    CHECK(fabsf(bih[j]) <= 0.5f && bih[j] != 0.0f); /* U(-1/√H, 1/√H) */
                }
            }
        }
        sn_model_free(m);
    }
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\nlstm 4 forget_bias=none\nloss mse\n", "fb", 1, &m, &err) ==
          SN_OK);
    if (m) CHECK(m->layers[0]->params[2].value.data[5] != 1.0f);
    sn_model_free(m);
    CHECK(sn_model_from_spec("input 3\nlstm 4 forget_bias=x\nloss mse\n", "fb", 1, &m, &err) !=
          SN_OK);
    printf("  %s\n", err.msg);
}

/* A batch of 4 parameters per level, named as PyTorch's state_dict. */
static void test_param_names(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\nlstm 4 layers=2\nloss mse\n", "names", 1, &m, &err) ==
          SN_OK);
    if (!m) return;
    const char *want[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                          "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
    CHECK(m->layers[0]->nparams == 8);
    for (int p = 0; p < 8 && p < m->layers[0]->nparams; p++)
        CHECK(strcmp(m->layers[0]->params[p].name, want[p]) == 0);
    CHECK(m->layers[0]->params[0].value.shape[0] == 16 &&
          m->layers[0]->params[0].value.shape[1] == 3);
    CHECK(m->layers[0]->params[4].value.shape[1] == 4);
    sn_model_free(m);
}

int main(void) {
    rnn_parity("rnn_lstm.safetensors");
    rnn_gradcheck("input 3\nlstm 5\ndense 4\nloss softmax_xent\n", 6, 2, 0, 0);
    rnn_gradcheck("input 3\nlstm 5\ndense 4\nloss softmax_xent\n", 7, 3, 1, 0);
    rnn_gradcheck("input 3\nlstm 4 layers=2\ndense 3\nloss softmax_xent\n", 4, 2, 1, 0);
    rnn_gradcheck("input 2\nlstm 4 layers=3 dropout=0.25\ndense 3\nloss softmax_xent\n", 3, 2, 1,
                  1);
    rnn_gradcheck("input 1\nembedding 5 3\nlstm 6\ndense 5\nloss softmax_xent\n", 5, 2, 1, 0);
    rnn_gradcheck("input 1\nembedding 5 3\nlstm 4\ndropout 0.3\nlstm 4\ndense 5\n"
                  "loss softmax_xent\n",
                  4, 2, 1, 1);
    rnn_threads("input 3\nlstm 6 layers=2\ndense 3\nloss softmax_xent\n");
    /* 4·272² recurrent weights: in panels, steps split by units (5 panels,
     * the last 16 units wide) */
    rnn_threads("input 3\nlstm 272\ndense 3\nloss softmax_xent\n");
    rnn_threads_x("input 5\nlstm 48\ndense 5\nloss softmax_xent\n", 1);
    rnn_single_steps("input 3\nlstm 272\nloss mse\n", 1, 0);
    rnn_single_steps("input 3\nlstm 272\nloss mse\n", 5, 0);
    rnn_single_steps("input 3\nlstm 6\nloss mse\n", 4, 0);
    rnn_single_steps("input 7\nlstm 272\nloss mse\n", 5, 1);
    rnn_single_steps("input 7\nlstm 6\nloss mse\n", 4, 1);
    rnn_single_steps("input 7\nlstm 272\nloss mse\n", 5, 2);
    rnn_single_steps("input 7\nlstm 6\nloss mse\n", 4, 2);
    /* one-hot, but too few rows for the transposed W_ih in the work space */
    rnn_single_steps("input 64\nlstm 6\nloss mse\n", 1, 1);
    rnn_chunking("input 3\nlstm 4 layers=2\ndense 3\nloss softmax_xent\n");
    test_forget_bias();
    test_param_names();
    return check_report();
}
