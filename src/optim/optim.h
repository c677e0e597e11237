/* Optimizers: one file per update rule, this header and optim.c tie them
 * to the model's parameter list. Formulas follow PyTorch's torch.optim. */
#ifndef SN_OPTIM_OPTIM_H
#define SN_OPTIM_OPTIM_H

#include "layers/layer.h"

typedef enum sn_optim_kind { SN_OPT_SGD, SN_OPT_ADAM } sn_optim_kind;

struct sn_optimizer {
    sn_optim_kind kind;
    sn_train_config cfg;
    long step; /* updates done so far */
    int nparams;
    sn_param **params; /* the model's parameters */
    sn_tensor *state1; /* per parameter: SGD velocity, Adam first moment m */
    sn_tensor *state2; /* per parameter: Adam second moment v */
};

/* SGD on n values (PyTorch's torch.optim.SGD, dampening 0):
 *   g ← g + λ·w                            (weight_decay λ)
 *   v ← μ·v + g                            (v = g on the first step)
 *   w ← w − lr·(g + μ·v)   (Nesterov)   or   w ← w − lr·v */
void sn_sgd_update(const sn_train_config *c, float lr, long step, float *w, const float *g,
                   float *v, size_t n);

/* Adam (Kingma & Ba 2015, as torch.optim.Adam), step t = 1, 2, ...:
 *   g ← g + λ·w
 *   m ← β1·m + (1 − β1)·g        v ← β2·v + (1 − β2)·g²
 *   w ← w − lr · (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε) */
void sn_adam_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                    float *v, size_t n);

#endif
