/* Losses. Each takes the network's output for a batch and the batch's
 * targets and returns the mean loss; when dpred is not NULL it also writes
 * dL/dpred for that mean (so the 1/N is already inside the gradient).
 *
 *   pred:    [N, K]     the last layer's output
 *   labels:  [N]        class indices (classification), or NULL
 *   targets: [N, K]     real-valued targets (regression), or NULL
 *
 * When only labels are given, MSE and BCE compare against one-hot(labels)
 * (K > 1) or against the label itself as 0/1 (K == 1). */
#ifndef SN_LOSSES_LOSS_H
#define SN_LOSSES_LOSS_H

#include "scratchnet.h"

typedef enum sn_loss_kind {
    SN_LOSS_MSE,          /* mean over N·K of (p - t)²                          */
    SN_LOSS_BCE,          /* binary cross-entropy on probabilities p in (0, 1)  */
    SN_LOSS_BCE_LOGITS,   /* binary cross-entropy on logits z (p = σ(z))        */
    SN_LOSS_SOFTMAX_XENT, /* softmax + categorical cross-entropy on logits      */
} sn_loss_kind;

/* Parses "mse", "bce", "bce_logits", "softmax_xent" (alias "cross_entropy"). */
sn_status sn_loss_parse(const char *s, sn_loss_kind *out, sn_error *err);
const char *sn_loss_name(sn_loss_kind k);

/* Mean loss over the batch; dpred (same shape as pred) may be NULL. Never
 * returns NaN for finite inputs (log-sum-exp, clamped logs). */
double sn_loss(sn_loss_kind k, const sn_tensor *pred, const int *labels, const float *targets,
               sn_tensor *dpred);

/* The network's output turned into what a user reads: class probabilities
 * (softmax for SOFTMAX_XENT, σ for BCE_LOGITS, unchanged otherwise), in place
 * into out: [N, K]. */
void sn_loss_output(sn_loss_kind k, const sn_tensor *pred, sn_tensor *out);

/* Number of samples whose predicted class equals the label: argmax over K
 * when K > 1; for K == 1 the output thresholded at 0.5 (probabilities) or 0
 * (logits). */
int sn_loss_correct(sn_loss_kind k, const sn_tensor *pred, const int *labels);

#endif
