/* The allocator every buffer of the library comes from: 64-byte aligned
 * (a cache line, the widest SIMD load), zero-filled, with the size's
 * overflow checked. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sn_mul_ok(size_t n, size_t size, size_t *out) {
    if (size != 0 && n > SIZE_MAX / size) return 0;
    *out = n * size;
    return 1;
}

void *sn_alloc(size_t n, size_t size) {
    size_t bytes;
    if (!sn_mul_ok(n, size, &bytes)) return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes == 0) bytes = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    memset(p, 0, bytes);
    return p;
}

void sn_free(void *p) {
    free(p);
}
