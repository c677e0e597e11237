/* PCG32 random numbers (XSH-RR variant) and derived distributions. */
#include "scratchnet.h"

#include <math.h>

static const uint64_t PCG_MULT = 6364136223846793005ULL;

uint32_t sn_rng_u32(sn_rng *r) {
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

/* Seeding as in the reference pcg32_srandom_r. */
void sn_rng_seed(sn_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    r->has_spare = 0;
    r->spare = 0;
    sn_rng_u32(r);
    r->state += seed;
    sn_rng_u32(r);
}

float sn_rng_uniform(sn_rng *r) {
    return (float)(sn_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

/* Lemire-style rejection: discard the values below 2^32 mod n. */
uint32_t sn_rng_below(sn_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = sn_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

/* Marsaglia polar method: u, v uniform in (-1, 1), s = u² + v² in (0, 1);
 * u·sqrt(-2 ln s / s) and v·sqrt(-2 ln s / s) are independent N(0, 1). */
float sn_rng_normal(sn_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * ((sn_rng_u32(r) >> 5) * (1.0 / 134217728.0)) - 1.0;
        v = 2.0 * ((sn_rng_u32(r) >> 5) * (1.0 / 134217728.0)) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = (float)(v * m);
    r->has_spare = 1;
    return (float)(u * m);
}

void sn_rng_shuffle(sn_rng *r, int *idx, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sn_rng_below(r, (uint32_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
