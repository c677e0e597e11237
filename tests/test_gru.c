/* The GRU layer (src/layers/gru.c): PyTorch parity (nn.GRU forward,
 * truncated BPTT gradients, stacked levels, carried state) and finite
 * differences through whole sequences. */
#include "rnn_check.h"

/* W_hh in panels is for the cells whose steps are split by units (RNN,
 * LSTM) and only above STREAM_MAX_WEIGHTS (2¹⁸) weights: a GRU, whose
 * streams each run their whole time loop, holds no panel buffer at any size. */
static void panel_buffers(void) {
    const char *specs[] = {"input 3\ngru 300\nloss mse\n", "input 3\nlstm 257\nloss mse\n",
                           "input 3\nlstm 256\nloss mse\n", "input 3\nrnn 513\nloss mse\n",
                           "input 3\nrnn 512\nloss mse\n"};
    const int want[] = {0, 1, 0, 1, 0};
    for (int i = 0; i < 5; i++) {
        sn_model *m = NULL;
        sn_error err = {0};
        CHECK(sn_model_from_spec(specs[i], "panels", 1, &m, &err) == SN_OK);
        if (!m) continue;
        const sn_recurrent *r = (const sn_recurrent *)m->layers[0];
        CHECK((r->whh_p != NULL) == want[i]);
        sn_model_free(m);
    }
}

int main(void) {
    panel_buffers();
    rnn_parity("rnn_gru.safetensors");
    rnn_gradcheck("input 3\ngru 5\ndense 4\nloss softmax_xent\n", 6, 2, 0, 0);
    rnn_gradcheck("input 3\ngru 5\ndense 4\nloss softmax_xent\n", 7, 3, 1, 0);
    rnn_gradcheck("input 3\ngru 4 layers=2\ndense 3\nloss softmax_xent\n", 4, 2, 1, 0);
    rnn_gradcheck("input 2\ngru 4 layers=2 dropout=0.4\ndense 3\nloss softmax_xent\n", 3, 3, 1, 1);
    rnn_gradcheck("input 1\nembedding 6 3\ngru 5\ndense 6\nloss softmax_xent\n", 5, 2, 1, 0);
    rnn_threads("input 3\ngru 6 layers=2\ndense 3\nloss softmax_xent\n");
    rnn_threads_x("input 5\ngru 56\ndense 5\nloss softmax_xent\n", 1);
    rnn_single_steps("input 3\ngru 6\nloss mse\n", 4, 0);
    rnn_chunking("input 3\ngru 4 layers=2\ndense 3\nloss softmax_xent\n");
    return check_report();
}
