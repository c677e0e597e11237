/* Optimizers: one file per update rule, this header and optim.c tie them
 * to the model's parameter list. Formulas and defaults follow PyTorch's
 * torch.optim (1.13); each rule's comment says where ε sits.
 *
 * Every rule takes lr_t, the step's learning rate: the schedule's LR divided
 * by (1 + decay·t) for the 1/t decay (t = steps taken before this one).
 * `weight_decay` λ applies to the tensors marked `decay` (weights), not to
 * biases or norm parameters — PyTorch with two parameter groups, the second
 * with weight_decay=0: as g ← g + λ·w for SGD, Adagrad, RMSprop and Adam
 * (PyTorch's L2 form), and decoupled, w ← w − lr_t·λ·w, for AdamW. */
#ifndef SN_OPTIM_OPTIM_H
#define SN_OPTIM_OPTIM_H

#include "layers/layer.h"

typedef enum sn_optim_kind {
    SN_OPT_SGD,
    SN_OPT_ADAGRAD,
    SN_OPT_RMSPROP,
    SN_OPT_ADAM,
    SN_OPT_ADAMW
} sn_optim_kind;

#define SN_OPT_MAX_STATE 3

struct sn_optimizer {
    sn_optim_kind kind;
    sn_train_config cfg;
    float lr;  /* base learning rate (the schedule's), before the 1/t decay */
    long step; /* updates done so far */
    int nparams;
    sn_param **params;         /* the model's trained parameters (buffers excluded) */
    unsigned long *params_gen; /* the model's parameter stamp: each step moves it */
    int nstate;                /* state tensors per parameter */
    const char *state_names[SN_OPT_MAX_STATE];
    sn_tensor *state[SN_OPT_MAX_STATE]; /* state[k][i]: kind k of parameter i */
};

/* SGD on n values (torch.optim.SGD), step = steps taken before this one:
 *   g ← g + λ·w                            (weight_decay λ)
 *   v ← μ·v + (1 − dampening)·g            (v = g on the first step)
 *   w ← w − lr·(g + μ·v)   (Nesterov)   or   w ← w − lr·v
 * With μ = 0: w ← w − lr·g. v: "momentum_buffer". */
void sn_sgd_update(const sn_train_config *c, float lr, long step, float *w, const float *g,
                   float *v, size_t n);

/* Adagrad (Duchi et al. 2011, torch.optim.Adagrad), t = 1, 2, ...:
 *   clr = lr / (1 + (t − 1)·lr_decay)
 *   g ← g + λ·w        s ← s + g²          (s starts at initial_accumulator_value)
 *   w ← w − clr · g / (sqrt(s) + ε)        ε outside the root (default 1e-10)
 * s: "sum". */
void sn_adagrad_update(const sn_train_config *c, float lr, long t, float *w, const float *g,
                       float *s, size_t n);

/* RMSprop (Hinton 2012, torch.optim.RMSprop):
 *   g ← g + λ·w        a ← α·a + (1 − α)·g²              (α default 0.99)
 *   centered:  ḡ ← α·ḡ + (1 − α)·g,   d = sqrt(a − ḡ²) + ε
 *   else:      d = sqrt(a) + ε                            ε outside the root (1e-8)
 *   μ > 0:     b ← μ·b + g / d,   w ← w − lr·b
 *   else:      w ← w − lr · g / d
 * a: "square_avg", b: "momentum_buffer", ḡ: "grad_avg" (NULL when unused). */
void sn_rmsprop_update(const sn_train_config *c, float lr, float *w, const float *g, float *a,
                       float *b, float *gbar, size_t n);

/* Adam (Kingma & Ba 2015, torch.optim.Adam), step t = 1, 2, ...:
 *   g ← g + λ·w
 *   m ← β1·m + (1 − β1)·g        v ← β2·v + (1 − β2)·g²
 *   w ← w − lr · (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε)
 * ε outside the root, after the bias correction (default 1e-8).
 * m: "exp_avg", v: "exp_avg_sq". */
void sn_adam_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                    float *v, size_t n);

/* AdamW (Loshchilov & Hutter 2019, torch.optim.AdamW): first the decoupled
 * decay w ← w·(1 − lr·λ) (λ default 1e-2), then Adam's step without λ in g. */
void sn_adamw_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                     float *v, size_t n);

/* Part `part` of `parts` of a parameter's n values, [*lo, *hi), cut on
 * 16-value bounds: what thread `part` of the team steps (the training
 * guard sums the same parts' gradient blocks on the same threads). */
void sn_optim_part_of(size_t n, int part, int parts, size_t *lo, size_t *hi);

/* Parses an optimizer name; -1 when unknown. */
int sn_optim_parse(const char *name);

/* The state tensors c's optimizer keeps per trained parameter (0 when the
 * name is unknown): what sn_optimizer_new will allocate, for budgets. */
int sn_optimizer_state_per_param(const sn_train_config *c);

#endif
