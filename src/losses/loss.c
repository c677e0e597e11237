/* The loss dispatcher: names, sn_loss, outputs and accuracy counts. Each loss
 * is computed in its own file: mse.c, bce.c (BCE and BCE on logits),
 * softmax_xent.c.
 *
 * Targets: when `targets` is not NULL it is used; otherwise `labels` (one of
 * them must be non-NULL). Labels must be in [0, K) (0 or 1 when K == 1); a
 * label out of range makes the loss and its sample's gradient NaN. */
#include "core/error.h"
#include "kernels/act.h"
#include "kernels/kernels.h"
#include "losses/loss_impl.h"

#include <string.h>

static const struct {
    const char *name;
    sn_loss_kind kind;
} names[] = {
    {"mse", SN_LOSS_MSE},
    {"bce", SN_LOSS_BCE},
    {"bce_logits", SN_LOSS_BCE_LOGITS},
    {"softmax_xent", SN_LOSS_SOFTMAX_XENT},
    {"cross_entropy", SN_LOSS_SOFTMAX_XENT},
};

sn_status sn_loss_parse(const char *s, sn_loss_kind *out, sn_error *err) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].kind;
            return SN_OK;
        }
    }
    return sn_fail(err, SN_ERR_FORMAT,
                   "unknown loss '%s' (expected mse, bce, bce_logits, softmax_xent or "
                   "cross_entropy)",
                   s);
}

const char *sn_loss_name(sn_loss_kind k) {
    switch (k) {
    case SN_LOSS_MSE:
        return "mse";
    case SN_LOSS_BCE:
        return "bce";
    case SN_LOSS_BCE_LOGITS:
        return "bce_logits";
    case SN_LOSS_SOFTMAX_XENT:
        return "softmax_xent";
    }
    return "?";
}

double sn_loss(sn_loss_kind k, const sn_tensor *pred, const int *labels, const float *targets,
               sn_tensor *dpred) {
    if (pred->size == 0) return 0.0;
    switch (k) {
    case SN_LOSS_MSE:
        return sn_loss_mse(pred, labels, targets, dpred);
    case SN_LOSS_BCE:
        return sn_loss_bce(pred, labels, targets, dpred);
    case SN_LOSS_BCE_LOGITS:
        return sn_loss_bce_logits(pred, labels, targets, dpred);
    case SN_LOSS_SOFTMAX_XENT:
        return sn_loss_softmax_xent(pred, labels, targets, dpred);
    }
    return NAN;
}

void sn_loss_output(sn_loss_kind k, const sn_tensor *pred, sn_tensor *out) {
    if (pred->size == 0) return;
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    if (k == SN_LOSS_SOFTMAX_XENT)
        sn_softmax_rows(pred->data, out->data, N, K);
    else if (k == SN_LOSS_BCE_LOGITS)
        sn_act_forward(SN_ACT_SIGMOID, 0.0f, pred->data, out->data, pred->size);
    else if (out->data != pred->data)
        memmove(out->data, pred->data, pred->size * sizeof(float));
}

/* K > 1: argmax. K == 1: class 1 when the output is above 0.5 (MSE, BCE:
 * probabilities) or above 0 (BCE_LOGITS, SOFTMAX_XENT: logits, σ(0) = 0.5). */
int sn_loss_correct(sn_loss_kind k, const sn_tensor *pred, const int *labels) {
    if (pred->size == 0 || !labels) return 0;
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N), correct = 0;
    float threshold = k == SN_LOSS_MSE || k == SN_LOSS_BCE ? 0.5f : 0.0f;
    for (int n = 0; n < N; n++) {
        const float *row = pred->data + (size_t)n * K;
        int guess = K > 1 ? sn_argmax(row, K) : row[0] > threshold;
        correct += guess == labels[n];
    }
    return correct;
}
