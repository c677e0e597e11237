/* Noise robustness: a model's accuracy, macro F1 and cross-entropy on a
 * test set with Gaussian noise added to every input value,
 *
 *   x' = x + σ·z,  z ~ N(0, 1) drawn once (seeded) and scaled for every σ,
 *   x' = min(max(x', 0), 1)   when clipping (pixel intensities),
 *
 * and the run folder's robustness.csv, which report.html charts:
 *
 *   std,accuracy,macro_f1,cross_entropy,clipped,seed
 */
#include "core/error.h"
#include "report/report.h"

#include <stdio.h>
#include <string.h>

sn_status sn_evaluate_noise(sn_model *m, const sn_dataset *d, const sn_noise_options *o,
                            sn_noise_level *out, sn_error *err) {
    if (!d->labels) return sn_fail(err, SN_ERR_ARG, "noise robustness needs class labels");
    size_t count = (size_t)d->n * d->sample_size;
    sn_dataset noisy = *d;
    noisy.x = sn_alloc(count ? count : 1, sizeof(float));
    if (!noisy.x) return sn_fail(err, SN_ERR_NOMEM, "out of memory");
    sn_status s = SN_OK;
    for (int i = 0; s == SN_OK && i < o->nlevels; i++) {
        memcpy(noisy.x, d->x, count * sizeof(float));
        if (o->levels[i] > 0) {
            sn_rng r;
            sn_rng_seed(&r, o->seed, 0x401e); /* the same z at every level */
            sn_add_gaussian_noise(noisy.x, count, (float)o->levels[i], &r, o->clip);
        }
        sn_metrics mt;
        s = sn_evaluate_metrics(m, &noisy, o->batch > 0 ? o->batch : 256, 0, &mt, NULL, NULL, err);
        if (s != SN_OK) break;
        out[i] = (sn_noise_level){o->levels[i], mt.accuracy, mt.macro_f1, mt.mean_xent};
        sn_metrics_free(&mt);
    }
    sn_free(noisy.x);
    return s;
}

sn_status sn_run_write_robustness(const char *run_dir, const sn_noise_options *o,
                                  const sn_noise_level *r, sn_error *err) {
    sn_buf csv = {0};
    char path[4200];
    sn_buf_puts(&csv, "std,accuracy,macro_f1,cross_entropy,clipped,seed\n");
    for (int i = 0; i < o->nlevels; i++)
        sn_buf_printf(&csv, "%g,%.6g,%.6g,%.6g,%d,%llu\n", r[i].std, r[i].accuracy, r[i].macro_f1,
                      r[i].cross_entropy, o->clip != 0, (unsigned long long)o->seed);
    snprintf(path, sizeof path, "%s/robustness.csv", run_dir);
    sn_status s = sn_buf_write_file(&csv, path, err);
    sn_buf_free(&csv);
    return s;
}
