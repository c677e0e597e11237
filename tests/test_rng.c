/* PCG32 against the reference implementation's published demo output, and
 * the statistics of the derived distributions. */
#include "check.h"
#include "scratchnet.h"

#include <stdlib.h>

int main(void) {
    /* pcg32-global-demo (pcg-c-basic) with pcg32_srandom_r(&rng, 42, 54):
     * "0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293 0xbfa4784b 0xcbed606e". */
    const uint32_t expect[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    sn_rng r;
    sn_rng_seed(&r, 42, 54);
    for (int i = 0; i < 6; i++) CHECK(sn_rng_u32(&r) == expect[i]);

    /* Normal samples: mean 0, variance 1 within 4 standard errors. */
    sn_rng_seed(&r, 7, 1);
    const int n = 200000;
    double sum = 0, sq = 0, below = 0;
    for (int i = 0; i < n; i++) {
        double z = sn_rng_normal(&r);
        sum += z;
        sq += z * z;
        below += z < 1.0;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    CHECK(fabs(mean) < 4.0 / sqrt(n));
    CHECK(fabs(var - 1.0) < 4.0 * sqrt(2.0 / n));
    CHECK(fabs(below / n - 0.8413447460685429) < 0.004); /* Φ(1) */

    /* Uniform in [0, 1), below(n) in range and unbiased-looking. */
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        float u = sn_rng_uniform(&r);
        CHECK(u >= 0.0f && u < 1.0f);
        uint32_t k = sn_rng_below(&r, 7);
        if (k < 7) counts[k]++;
    }
    for (int k = 0; k < 7; k++) CHECK(abs(counts[k] - 10000) < 400);

    /* Shuffle is a permutation and depends on the seed. */
    int a[100], b[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) a[i] = b[i] = i;
    sn_rng_seed(&r, 1, 0);
    sn_rng_shuffle(&r, a, 100);
    sn_rng_seed(&r, 2, 0);
    sn_rng_shuffle(&r, b, 100);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        seen[a[i]]++;
        differ += a[i] != b[i];
    }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1);
    CHECK(differ > 50);
    return check_report();
}
