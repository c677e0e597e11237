/* The GRU layer (src/layers/gru.c): PyTorch parity (nn.GRU forward,
 * truncated BPTT gradients, stacked levels, carried state) and finite
 * differences through whole sequences. */
#include "rnn_check.h"

int main(void) {
    rnn_parity("rnn_gru.safetensors");
    rnn_gradcheck("input 3\ngru 5\ndense 4\nloss softmax_xent\n", 6, 2, 0, 0);
    rnn_gradcheck("input 3\ngru 5\ndense 4\nloss softmax_xent\n", 7, 3, 1, 0);
    rnn_gradcheck("input 3\ngru 4 layers=2\ndense 3\nloss softmax_xent\n", 4, 2, 1, 0);
    rnn_gradcheck("input 2\ngru 4 layers=2 dropout=0.4\ndense 3\nloss softmax_xent\n", 3, 3, 1, 1);
    rnn_gradcheck("input 1\nembedding 6 3\ngru 5\ndense 6\nloss softmax_xent\n", 5, 2, 1, 0);
    rnn_threads("input 3\ngru 6 layers=2\ndense 3\nloss softmax_xent\n");
    rnn_single_steps("input 3\ngru 6\nloss mse\n", 4);
    rnn_chunking("input 3\ngru 4 layers=2\ndense 3\nloss softmax_xent\n");
    return check_report();
}
