/* What the recurrent layers (rnn.c, lstm.c, gru.c) share: stacking, dropout
 * between levels, the state carried across batches, caches. The math of one
 * level over a whole sequence is the cell's (one file per cell); the full
 * equations and BPTT derivations are in docs/rnn.md.
 *
 * A batch is R = T·N rows, time-major: row t·N + s is step t of stream s.
 *
 *   x: [T·N, I]   level k: [T·N, I_k] -> [T·N, H]   (I_0 = I, I_k = H)   y: [T·N, H]
 *   input of level k > 0 = dropout(output of level k − 1) when training
 *   state per level: h (and c for the LSTM): [N, H]
 *
 * Parameters, per level k (PyTorch's nn.RNN / nn.LSTM / nn.GRU names and
 * layouts, G gate blocks stacked in rows: RNN 1, GRU 3 (r z n), LSTM 4
 * (i f g o)):
 *   weight_ih_l{k} [G·H, I_k]   weight_hh_l{k} [G·H, H]
 *   bias_ih_l{k}   [G·H]        bias_hh_l{k}   [G·H]
 * initialized U(−1/√H, 1/√H) as PyTorch does.
 *
 * Spec options shared by the three: `KIND H [layers=L] [dropout=P]`. */
#ifndef SN_LAYERS_RECURRENT_H
#define SN_LAYERS_RECURRENT_H

#include "layers/layer.h"

#define SN_RNN_MAX_LEVELS 4

/* One level's view of a forward or backward pass. */
typedef struct sn_rnn_level {
    int k;                /* level index */
    int I, H;             /* input and hidden sizes */
    int T, N;             /* time steps, streams */
    const float *x;       /* [T·N, I] */
    float *y;             /* [T·N, H]: h_t for every step */
    const float *h0, *c0; /* [N, H] initial state (c0: LSTM only) */
    float *hT, *cT;       /* [N, H] final state, written by forward */
    float *cache;         /* cache_per_row · H floats per row, kept for backward */
    float *scratch;       /* scratch_per_row · H floats per row, shared by all levels */
    float *whh_t;         /* [H, G·H]: weight_hhᵀ, refreshed by each forward (in
                           * panels, sn_rnn_run_steps; backward of a level split
                           * by streams packs weight_hh there) */
    float *whh_p;         /* [G·H, H]: weight_hh in panels, for backward */
    sn_param *w_ih, *w_hh, *b_ih, *b_hh;
    /* level 0 of a stepped cell with a one-hot x, else tok is NULL */
    const int *tok; /* [T·N]: the token of each row of x, found by forward
                     * (sn_recurrent_forward) and kept for backward */
    /* forward with a one-hot x (sn_rnn_onehot_input) */
    const float *w_ih_t;   /* [I, G·H]: weight_ihᵀ (or the table of
                            * sn_rnn_distinct_input, tok then its rows) */
    const float *bias_sum; /* [G·H]: the bias added with the projection */
    int w_ih_ld;           /* the rows of w_ih_t lie this many floats apart */
    int *ids;              /* level 0 of a stepped cell whose x is not one-hot:
                            * [T·N] room for sn_rnn_distinct_input, else NULL */
} sn_rnn_level;

/* A cell type. forward: y, hT, cT and the cache from x and the initial state.
 * backward: given dy = dL/dy ([T·N, H], the gradient reaching the outputs
 * from above; none flows in through hT), the level's parameter gradients
 * (overwritten) and, when dx != NULL, dx = dL/dx. */
typedef struct sn_rnn_cell {
    const char *kind;
    int gates;           /* G */
    int has_cell;        /* the LSTM's c */
    int cache_per_row;   /* in units of H floats */
    int scratch_per_row; /* in units of H floats */
    int stepped;         /* runs its time loops through sn_rnn_run_steps (and so
                          * needs whh_p when W_hh is large) */
    void (*forward)(const sn_rnn_level *v);
    void (*backward)(const sn_rnn_level *v, const float *dy, float *dx);
} sn_rnn_cell;

typedef struct sn_recurrent {
    sn_layer base;
    const sn_rnn_cell *cell;
    int I, H, levels;
    float dropout;
    uint32_t drop;                        /* dropout threshold round(p·2³²) */
    sn_rng *rng;                          /* the model's generator */
    uint64_t drop_key[SN_RNN_MAX_LEVELS]; /* dropout mask keys of the last forward */
    int train;                            /* mode of the last forward pass */
    int T, N;                             /* shape of the last forward pass */
    int max_rows;                         /* buffers below sized for this many rows */
    int state_n;                          /* streams the initial state is for (0: zero state) */
    /* [levels][max_rows·H] each; only the first N rows of a level are used */
    float *h0, *c0, *hT, *cT;
    float *seq;     /* outputs of levels 0 .. L−2 */
    float *dropped; /* their dropout, the inputs of levels 1 .. L−1 */
    float *dseq[2]; /* [max_rows·H] each: gradients between levels */
    float *cache;   /* [levels][max_rows · cache_per_row · H] */
    float *scratch; /* [max_rows · scratch_per_row · H] */
    int *tok;       /* [max_rows]: tokens of a one-hot x (stepped cells) */
    int tok_ok;     /* whether tok holds those of the last forward's x */
    float *whh_t;   /* [levels][G·H·H] */
    float *whh_p;   /* [G·H·H]: one level's at a time, refilled by each backward;
                     * NULL unless the cell is stepped and W_hh large enough
                     * for panels (sn_rnn_run_steps) */
} sn_recurrent;

/* The streams [n0, n0 + n) for which one thread runs a level's time loop. */
typedef struct sn_rnn_span {
    const sn_rnn_level *v;
    const float *dy; /* backward: dL/dy [T·N, H] */
    int n0, n;
    size_t o;  /* n0·H: where the span starts in an [N, H] block */
    size_t NH; /* N·H: one step of a time-major sequence */
    int arg;   /* the cell's own (rnn: 1 for relu) */
} sn_rnn_span;

/* Runs fn for every span of level v's streams (sn_rnn_chunks of them, in
 * parallel; the split never changes the result). */
void sn_rnn_run_spans(const sn_rnn_level *v, const float *dy, int arg,
                      void (*fn)(const sn_rnn_span *s));

/* Step t of a level's time loop for the streams [n0, n1) and the hidden
 * units [u0, u1): what one thread computes at a time. */
typedef struct sn_rnn_slice {
    const sn_rnn_level *v;
    const float *dy; /* backward: dL/dy [T·N, H] */
    int t, n0, n1, u0, u1;
    int arg;        /* the cell's own (rnn: 1 for relu) */
    const float *B; /* the recurrent product's right-hand side, in panels
                     * (sn_rnn_pack), see below */
} sn_rnn_slice;

/* Runs level v's time loop, t = 0 .. T−1 (T−1 .. 0 when backward), calling
 * fn for slices that cover every stream and unit of every step, in one of
 * two ways:
 *   - ranges of streams (sn_rnn_chunks of them), each through the whole
 *     loop on one thread: one parallel job per sequence, as the streams are
 *     independent through time; every thread reads all recurrent weights
 *     at every step;
 *   - when the recurrent weights are too large for that to stay in one
 *     core's cache, every step's product takes all streams (each weight
 *     read once per step), and on several threads every step is one
 *     parallel job whose chunks are ranges of hidden units (whole panels):
 *     a thread reads only its share of the weights.
 * Every value is computed as without any split (K is never split), so the
 * way chosen never changes a result. The recurrent product's B, in panels
 * (sn_rnn_pack) either way, is W_hhᵀ [H, G·H] in forward (made in
 * v->whh_t) and W_hh [G·H, H] in backward (in v->whh_p when split by
 * units, else in v->whh_t). */
void sn_rnn_run_steps(const sn_rnn_level *v, const float *dy, int arg, int backward,
                      void (*fn)(const sn_rnn_slice *s));

/* The recurrent product of slice s: for its streams and units,
 *   C = beta·C + A B      A: [n1 − n0, K] rows lda apart, C rows ldc apart
 * with B = s->B: G gate blocks H wide (forward: G = the cell's, K = H;
 * backward: G = 1, K = the cell's G·H); A and C start at stream n0. With
 * input set and v->tok (a forward step, one-hot x), C is first set to its
 * piece of the input projection, the bits of sn_onehot_project_bias:
 * C[n, q·H + u] = x_n W_ihᵀ + bias (sn_rnn_input). */
void sn_rnn_slice_product(const sn_rnn_slice *s, int G, int K, const float *A, int lda, float beta,
                          float *C, int ldc, int input);

/* For a forward pass of T > 1 steps whose x is one-hot (v->tok set):
 * instead of the input projection of all rows before the time loop, each
 * slice's recurrent product makes its own piece (sn_rnn_slice_product with
 * input set) as it writes C. Fills v->w_ih_t in work (I rows of G·H
 * floats, 16 apart from each other when work has room: rows a power of two
 * of bytes apart, a column's values would all fall in the same few L1 sets
 * as they are written) and sets v->bias_sum = bias; returns 0 when v->tok is NULL, T = 1 or work is
 * too small (the caller then projects all rows first), and then sets v->tok
 * to NULL so that no slice adds its piece a second time. */
int sn_rnn_onehot_input(sn_rnn_level *v, const float *bias, float *work, size_t work_len);

/* For a forward pass of T > 1 steps of level 0 whose x has few distinct
 * rows (an embedding's output: one per token of the vocabulary), the
 * product x W_ihᵀ of each distinct row once, into a table in work, and
 * v->tok set to each row's place in it (in v->ids); the slices then add
 * their pieces as for a one-hot x (v->w_ih_t = the table, v->bias_sum =
 * bias). Each product has the bits it has in the GEMM over all rows, and
 * (p + 0) + bias those of the GEMM followed by sn_add_row_vector (the GEMM's
 * sums start from +0 and never give −0). Rows are equal when their bits
 * are. Returns 0, having set nothing, when v->ids is NULL, T = 1, more
 * than half of the rows are distinct, or work is too small. */
int sn_rnn_distinct_input(sn_rnn_level *v, const float *bias, float *work, size_t work_len);

/* The parameter gradients (overwritten) and dx (when not NULL) once the
 * backward time loop has left, for every row, dgx = dL/d(x W_ihᵀ + b_ih) and
 * dgh = dL/d(h_(t−1) W_hhᵀ + b_hh), both [T·N, G·H] (one buffer where they
 * are equal; db_hh is then db_ih):
 *   dW_ih = dgxᵀ x   dW_hh = Σ_t dgh_tᵀ h_(t−1)   db_ih = Σ dgx   db_hh = Σ dgh
 *   dx = dgx W_ih
 * work: `work_len` floats of scratch for a one-hot x (sn_onehot_weight_grad). */
void sn_rnn_weight_grads(const sn_rnn_level *v, const float *dgx, const float *dgh, float *work,
                         size_t work_len, float *dx);

/* Reads `H [layers=L] [dropout=P]` (after the cell has taken its own
 * options), allocates the layer and its parameters, initializes them. */
sn_status sn_recurrent_create(sn_layer_args *a, const sn_rnn_cell *cell, const sn_layer_ops *ops,
                              sn_recurrent **out, sn_error *err);

/* The sn_layer_ops of every recurrent kind. */
void sn_recurrent_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train);
void sn_recurrent_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y, const sn_tensor *dy,
                           sn_tensor *dx);
void sn_recurrent_free(sn_layer *l);
void sn_recurrent_reset_state(sn_layer *l);
void sn_recurrent_carry_state(sn_layer *l);
int sn_recurrent_state(sn_layer *l, sn_layer_state *out);
void sn_recurrent_restore_state(sn_layer *l, int streams);

#define SN_RECURRENT_OPS(name)                                                                     \
    {                                                                                              \
        .kind = name, .forward = sn_recurrent_forward, .backward = sn_recurrent_backward,          \
        .free = sn_recurrent_free, .reset_state = sn_recurrent_reset_state,                        \
        .carry_state = sn_recurrent_carry_state, .state = sn_recurrent_state,                      \
        .restore_state = sn_recurrent_restore_state                                                \
    }

#endif
