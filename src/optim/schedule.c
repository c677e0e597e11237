/* Learning-rate schedules, PyTorch's torch.optim.lr_scheduler in closed form
 * (the formulas are in include/scratchnet.h, sn_schedule_config). The trainer
 * asks for the LR before every step and reports each epoch's monitored value
 * (for reduce-on-plateau). Plateau, as ReduceLROnPlateau(mode, factor,
 * patience, threshold, threshold_mode, cooldown, min_lr, eps=1e-8):
 *
 *   better(v)  min, rel: v < best·(1 − thr)   min, abs: v < best − thr
 *              max, rel: v > best·(1 + thr)   max, abs: v > best + thr
 *   each epoch: better → best = v, bad = 0; else bad += 1
 *               in cooldown → cooldown −= 1, bad = 0
 *               bad > patience → lr = max(lr·factor, min_lr) (if it drops by
 *               more than 1e-8), cooldown = its setting, bad = 0 */
#include "core/error.h"

#include <math.h>
#include <string.h>

static int is_kind(const sn_schedule *s, const char *k) {
    return strcmp(s->c.kind, k) == 0;
}

sn_status sn_schedule_init(sn_schedule *s, const sn_train_config *c, int steps_per_epoch,
                           sn_error *err) {
    memset(s, 0, sizeof *s);
    s->c = c->schedule;
    s->lr0 = c->lr;
    sn_schedule_config *k = &s->c;
    if (k->kind[0] == 0) strcpy(k->kind, "none");
    if (is_kind(s, "step") && k->step_size < 1)
        return sn_fail(err, SN_ERR_ARG, "schedule step: step_size must be >= 1");
    if (is_kind(s, "multistep")) {
        if (k->nmilestones < 1)
            return sn_fail(err, SN_ERR_ARG, "schedule multistep: give milestones=E1,E2,...");
        for (int i = 1; i < k->nmilestones; i++)
            if (k->milestones[i] <= k->milestones[i - 1])
                return sn_fail(err, SN_ERR_ARG, "schedule multistep: milestones must increase");
    }
    if ((is_kind(s, "step") || is_kind(s, "multistep") || is_kind(s, "exponential")) &&
        !(k->gamma > 0))
        return sn_fail(err, SN_ERR_ARG, "schedule %s: gamma must be > 0", k->kind);
    if (is_kind(s, "cosine")) {
        if (k->t_max == 0) k->t_max = c->epochs;
        if (k->t_max < 1) return sn_fail(err, SN_ERR_ARG, "schedule cosine: t_max must be >= 1");
    }
    if (is_kind(s, "linear") && (!(k->start_factor > 0 && k->start_factor <= 1) ||
                                 !(k->end_factor >= 0 && k->end_factor <= 1) || k->total_iters < 1))
        return sn_fail(err, SN_ERR_ARG,
                       "schedule linear: need 0 < start_factor <= 1, 0 <= end_factor <= 1, "
                       "total_iters >= 1");
    if (is_kind(s, "plateau")) {
        if (!(k->factor > 0 && k->factor < 1))
            return sn_fail(err, SN_ERR_ARG, "schedule plateau: factor must be in (0, 1)");
        if (k->patience < 0 || k->cooldown < 0 || !(k->threshold >= 0) || !(k->min_lr >= 0))
            return sn_fail(err, SN_ERR_ARG, "schedule plateau: negative setting");
        size_t n = strlen(k->monitor);
        s->mode_max = n > 4 && strcmp(k->monitor + n - 4, "_acc") == 0;
        s->best = s->mode_max ? -INFINITY : INFINITY;
        s->plateau_lr = c->lr;
    }
    if (!is_kind(s, "none") && !is_kind(s, "step") && !is_kind(s, "multistep") &&
        !is_kind(s, "exponential") && !is_kind(s, "cosine") && !is_kind(s, "linear") &&
        !is_kind(s, "plateau"))
        return sn_fail(err, SN_ERR_ARG,
                       "unknown schedule '%s' (expected step, multistep, exponential, cosine, "
                       "linear or plateau)",
                       k->kind);
    if (k->warmup_steps < 0 || k->warmup_epochs < 0 ||
        !(k->warmup_start > 0 && k->warmup_start <= 1))
        return sn_fail(err, SN_ERR_ARG, "warmup: need steps or epochs >= 0, 0 < start <= 1");
    s->warmup = k->warmup_steps ? k->warmup_steps : k->warmup_epochs * steps_per_epoch;
    return SN_OK;
}

float sn_schedule_lr(const sn_schedule *s, int epoch, long step) {
    const sn_schedule_config *k = &s->c;
    double lr = s->lr0, e = epoch;
    if (is_kind(s, "step")) {
        lr *= pow(k->gamma, epoch / k->step_size);
    } else if (is_kind(s, "multistep")) {
        int passed = 0;
        while (passed < k->nmilestones && k->milestones[passed] <= epoch) passed++;
        lr *= pow(k->gamma, passed);
    } else if (is_kind(s, "exponential")) {
        lr *= pow(k->gamma, e);
    } else if (is_kind(s, "cosine")) {
        lr = k->eta_min + (lr - k->eta_min) * (1 + cos(3.14159265358979323846 * e / k->t_max)) / 2;
    } else if (is_kind(s, "linear")) {
        double t = e < k->total_iters ? e : k->total_iters;
        lr *= k->start_factor + (k->end_factor - k->start_factor) * t / k->total_iters;
    } else if (is_kind(s, "plateau")) {
        lr = s->plateau_lr;
    }
    if (s->warmup > 0) {
        double t = step < s->warmup ? (double)step : (double)s->warmup;
        lr *= k->warmup_start + (1 - k->warmup_start) * t / s->warmup;
    }
    return (float)lr;
}

void sn_schedule_observe(sn_schedule *s, double v) {
    const sn_schedule_config *k = &s->c;
    if (!is_kind(s, "plateau")) return;
    double thr = k->threshold, b = s->best;
    int better;
    if (s->mode_max)
        better = k->threshold_abs ? v > b + thr : v > b * (1 + thr);
    else
        better = k->threshold_abs ? v < b - thr : v < b * (1 - thr);
    if (better) {
        s->best = v;
        s->bad_epochs = 0;
    } else {
        s->bad_epochs++;
    }
    if (s->cooldown_left > 0) {
        s->cooldown_left--;
        s->bad_epochs = 0;
    }
    if (s->bad_epochs > k->patience) {
        double lower = (double)s->plateau_lr * k->factor;
        if (lower < k->min_lr) lower = k->min_lr;
        if (s->plateau_lr - lower > 1e-8) s->plateau_lr = (float)lower;
        s->cooldown_left = k->cooldown;
        s->bad_epochs = 0;
    }
}
