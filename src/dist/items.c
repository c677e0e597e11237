/* Items of the start-up check: what ranks must agree on, described. */
#include "dist/dist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sn_dist_item_set(sn_dist_item *it, const char *name, uint64_t hash, const char *fmt, ...) {
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->text, sizeof it->text, fmt, ap);
    va_end(ap);
    it->hash = hash;
}

void sn_dist_item_dataset(sn_dist_item *it, const char *name, const sn_dataset *d) {
    if (!d) {
        sn_dist_item_set(it, name, 0, "none");
        return;
    }
    uint64_t h = SN_DIST_HASH0;
    h = sn_dist_hash(h, &d->n, sizeof d->n);
    h = sn_dist_hash(h, &d->sample_size, sizeof d->sample_size);
    h = sn_dist_hash(h, d->x, (size_t)d->n * d->sample_size * sizeof(float));
    if (d->labels) h = sn_dist_hash(h, d->labels, (size_t)d->n * sizeof(int));
    if (d->targets)
        h = sn_dist_hash(h, d->targets, (size_t)d->n * (size_t)d->num_targets * sizeof(float));
    char shape[48] = "";
    int k = 0;
    for (int i = 0; i < d->ndim && k < (int)sizeof shape; i++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, i ? "x%d" : "%d", d->shape[i]);
    if (d->ndim == 0) snprintf(shape, sizeof shape, "%zu", d->sample_size);
    sn_dist_item_set(it, name, h, "%d samples of %s, checksum %08x", d->n, shape,
                     (unsigned)(h >> 32));
}
