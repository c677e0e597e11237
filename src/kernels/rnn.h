/* Pointwise kernels of the recurrent cells: one time step of N streams, after
 * the matrix products (which go through sn_sgemm). Gate blocks are laid out
 * as in PyTorch, each H wide, one row [G·H] per stream:
 *   LSTM  [i f g o]      GRU  [r z n]
 * σ and tanh use the same range-reduced polynomial e^x as src/kernels/act.c
 * (a few float ulps); everything is branch-free so the loops vectorize. The
 * equations are in docs/rnn.md. */
#ifndef SN_KERNELS_RNN_H
#define SN_KERNELS_RNN_H

#include <stddef.h>

/* Streams are independent through time, so a recurrent layer runs its whole
 * time loop for a range of streams per chunk of sn_parallel: one hand-off
 * per sequence instead of one or two per step, and every product and step
 * function is the same row by row as over all N streams at once (K is
 * never split), so results do not depend on the split. sn_rnn_chunks(N):
 * how many ranges (1 on one thread; else one per thread, of at least 4
 * streams each: a step's product over 16 streams runs ~30% faster per
 * multiply-add than over 8); sn_rnn_rows: the c-th of them, [*n0, *n1). */
int sn_rnn_chunks(int N);
void sn_rnn_rows(int N, int chunks, int c, int *n0, int *n1);

/* One-hot inputs (a character-level model's x): when every row of
 * x: [rows, V] is exact zeros but one exact 1, the input projection
 * y = x Wᵀ (W: [G, V]) is a gather of W's columns, and the weight gradient
 * dW = daᵀ x a sum of da's rows per token. These give sn_sgemm's exact bits
 * (a product by 0 adds nothing, by 1 adds the value; the sums run in the
 * GEMM's K blocks, sn_sgemm_k_block). Each returns 0, having written
 * nothing useful, when some row of x is not one-hot (or the work space is
 * too small); the caller then runs the GEMM.
 *   sn_onehot_project: y[r, :] = W[:, v_r]; work: V·G floats or NULL.
 *   sn_onehot_project_bias: the same followed by sn_add_row_vector(y,
 *   bias) (the same bits), in one pass.
 *   sn_onehot_weight_grad: dW[G, V] = Σ_r da[r, :]ᵀ x[r, :] (overwritten);
 *   work: V·G floats (2·V·G floats save a pass over dW per K block).
 *   sn_onehot_weight_bias_grad: the same, and when db is not NULL also
 *   db[G] = Σ_r da[r, :] with the bits of sn_sum_rows(da, db, rows, G), in
 *   the same pass over da; when tok is not NULL it holds the tokens of x
 *   (sn_onehot_tokens), and x is not read. */
int sn_onehot_project(const float *x, int rows, int V, const float *W, int G, float *y, float *work,
                      size_t work_floats);
int sn_onehot_project_bias(const float *x, int rows, int V, const float *W, int G,
                           const float *bias, float *y, float *work, size_t work_floats);
int sn_onehot_weight_grad(const float *x, int rows, int V, const float *da, int G, float *dW,
                          float *work, size_t work_floats);
/* The input projection in pieces, for a caller that makes it step by step:
 *   sn_onehot_tokens: whether every row of x is one-hot (as above); if so
 *   tok[r] = the index of row r's 1.
 *   sn_onehot_gather_bias: columns [c0, c1) of rows of sn_onehot_project_bias
 *   (the same bits): y[r, c] = W[c, tok[r]] + bias[c], from WT = Wᵀ [V, G];
 *   y rows ldy apart. */
int sn_onehot_tokens(const float *x, int rows, int V, int *tok);
void sn_onehot_gather_bias(const int *tok, int rows, const float *WT, int G, const float *bias,
                           int c0, int c1, float *y, int ldy);
int sn_onehot_weight_bias_grad(const float *x, const int *tok, int rows, int V, const float *da,
                               int G, float *dW, float *db, float *work, size_t work_floats);

/* y = f(y) in place over n values, f = tanh (relu == 0) or max(·, 0). */
void sn_rnn_act(float *y, size_t n, int relu);

/* da = (dy + dh) ⊙ f'(y), from the output y = f(a): 1 − y² (tanh) or
 * [y > 0] (relu). Over n values. */
void sn_rnn_act_backward(const float *y, const float *dy, const float *dh, float *da, size_t n,
                         int relu);

/* The recurrent product of one step, split by hidden units. Its B matrix
 * [K, G·H] (G gate blocks H wide: W_hhᵀ in forward, K = H; W_hh itself in
 * backward, G = 1, K = G_cell·H) is kept in panels of SN_RNN_PANEL units:
 * for each panel of units [u, u + w) (w = SN_RNN_PANEL but for the last),
 * for each gate block q, the [K, w] block B[:, q·H + u .. + w) in strips of
 * SN_RNN_STRIP columns (the last may be narrower), each strip [K, ws] as
 * rows of ws floats, one after the other. A thread's units are then one
 * contiguous stretch of memory, read in order, and each strip is a whole
 * product (sn_rnn_product) that keeps it in L1 (at K = 256, 32 KiB in
 * consecutive lines, which no cache set holds more of than it can; rows
 * of a wider B, 256 bytes or more apart, crowd a few sets and miss).
 * Every value is summed as sn_sgemm sums it on the unpacked B (K is never
 * split), so results do not depend on the panels nor on how units are
 * shared out.
 *   sn_rnn_pack: P from W, which is [G·H, K] (trans: B = Wᵀ) or [K, G·H]
 *   (B = W); G·H·K floats, in parallel chunks of panels.
 *   sn_rnn_panel_product: C[:, q·H + u] = beta·C + A B[:, q·H + u] for the
 *   units u in [u0, u1) (u0 a multiple of SN_RNN_PANEL) of every gate
 *   block; A: [M, K] rows lda apart, C: rows ldc apart. With reverse, the
 *   strips are taken in the opposite order (last panel, last gate, last
 *   strip first; each strip's K blocks still in order, so no bit changes):
 *   steps that alternate the order start on the strips the step before
 *   ended on, which are still in cache when a thread's B is larger than
 *   its L2 (4·512·512 floats, 4 MiB, against 2 MiB). */
#define SN_RNN_PANEL 64
#define SN_RNN_STRIP 32
/* A forward step's input term, for a one-hot x: row r of C (row r of the
 * product) takes the value that sn_onehot_gather_bias writes,
 *   C[r, c] = (w[tok[r]·ldw + c] + 0) + bias[c]
 * (w = W_ihᵀ from column 0 of the product on), before the product is
 * added: made in the product's last pass over C instead of in a pass of
 * its own. */
typedef struct sn_rnn_input {
    const float *w, *bias;
    const int *tok;
    int ldw;
} sn_rnn_input;

/* C = beta·C + A B (A: [M, K], B: [K, N], rows lda, ldb, ldc apart) with the
 * bits of sn_sgemm(0, 0, M, N, K, 1, ...), in a kernel for the few rows of
 * one step's product (tiles of up to 12 rows by 32 columns that read B
 * from L1 while every row passes over it); with in (not NULL), C is first
 * set to the input term. */
void sn_rnn_product(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc, const sn_rnn_input *in);
void sn_rnn_pack(const float *W, int trans, int G, int H, int K, float *P);
/* (in: as for sn_rnn_product, its w and bias for column 0 of C) */
void sn_rnn_panel_product(int M, int G, int H, int K, int u0, int u1, const float *A, int lda,
                          const float *P, float beta, float *C, int ldc, const sn_rnn_input *in,
                          int reverse);

/* LSTM step over the hidden units [u0, u1) of N streams. g: [N, 4H]
 * pre-activations in, activations i f g o out; c_prev, c, tc, h: [N, H]:
 *   i = σ(g_i)  f = σ(g_f)  ĝ = tanh(g_g)  o = σ(g_o)
 *   c = f ⊙ c_prev + i ⊙ ĝ    tc = tanh(c)    h = o ⊙ tc */
void sn_lstm_step_forward(int N, int H, int u0, int u1, float *g, const float *c_prev, float *c,
                          float *tc, float *h);

/* LSTM step backward over the hidden units [u0, u1). g: [N, 4H] the
 * activations of the forward step; dy, dh_next: [N, H] the gradients
 * reaching h_t from above and from step t+1; dc: [N, H] in: dL/dc_t from
 * step t+1, out: dL/dc_(t−1) through c; dg: [N, 4H] out: the gradients of
 * the pre-activations:
 *   dh = dy + dh_next          dc_t = dc + dh ⊙ o ⊙ (1 − tc²)
 *   dg_i = dc_t ⊙ ĝ ⊙ i(1 − i)    dg_f = dc_t ⊙ c_prev ⊙ f(1 − f)
 *   dg_g = dc_t ⊙ i ⊙ (1 − ĝ²)    dg_o = dh ⊙ tc ⊙ o(1 − o)
 *   dc ← dc_t ⊙ f */
void sn_lstm_step_backward(int N, int H, int u0, int u1, const float *g, const float *c_prev,
                           const float *tc, const float *dy, const float *dh_next, float *dc,
                           float *dg);

/* GRU step. g: [N, 3H] in: x W_ihᵀ + b_ih, out: activations r z n;
 * hp: [N, 3H] h_prev W_hhᵀ + b_hh; hn: [N, H] out: its n block (kept for
 * backward); h_prev, h: [N, H]:
 *   r = σ(g_r + hp_r)   z = σ(g_z + hp_z)   n = tanh(g_n + r ⊙ hp_n)
 *   h = (1 − z) ⊙ n + z ⊙ h_prev */
void sn_gru_step_forward(int N, int H, float *g, const float *hp, float *hn, const float *h_prev,
                         float *h);

/* GRU step backward. g: [N, 3H] activations r z n; hn, h_prev: as in
 * forward; dy: [N, H]; dh: [N, H] in: dL/dh_t from step t+1 (added to dy),
 * out: z ⊙ (dy + dh), the part of dL/dh_(t−1) that bypasses W_hh; dgx,
 * dgh: [N, 3H] out: gradients of x W_ihᵀ + b_ih and of h W_hhᵀ + b_hh:
 *   d = dy + dh    dn = d ⊙ (1 − z) ⊙ (1 − n²)    dz = d ⊙ (h_prev − n) ⊙ z(1 − z)
 *   dr = dn ⊙ hn ⊙ r(1 − r)
 *   dgx = [dr dz dn]    dgh = [dr dz dn ⊙ r] */
void sn_gru_step_backward(int N, int H, const float *g, const float *hn, const float *h_prev,
                          const float *dy, float *dh, float *dgx, float *dgh);

#endif
