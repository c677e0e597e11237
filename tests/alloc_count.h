/* Counting replacements of the C library's allocation functions, for the
 * tests that prove a training step allocates nothing (the program's own
 * definitions take precedence over libc's). Include it from exactly one file
 * of a test program, after defining _GNU_SOURCE (for dl_iterate_phdr), and
 * call alloc_count_init() first. Under AddressSanitizer, which replaces these
 * functions itself, SN_NO_INTERPOSE is defined and nothing is replaced: the
 * test then checks nothing. `allocations` counts our allocations;
 * omp_allocs and omp_frees those of clang's OpenMP runtime (see below). */
#ifndef SN_TESTS_ALLOC_COUNT_H
#define SN_TESTS_ALLOC_COUNT_H

#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SN_NO_INTERPOSE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SN_NO_INTERPOSE 1
#endif
#endif

#ifndef SN_NO_INTERPOSE
#include <link.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static long allocations;

/* clang's OpenMP runtime (libomp; not gcc's libgomp) allocates a dispatch
 * buffer for every parallel region that runs serialized (an if() clause
 * that is false) and frees it when the region ends: its own bookkeeping,
 * not ours. Calls whose return address lies in libomp's segments are counted
 * apart (omp_allocs, omp_frees) and must balance from batch to batch; every
 * other allocation counts, libgomp's included. */
static uintptr_t omp_lo[8], omp_hi[8];
static int omp_nseg;
static long omp_allocs, omp_frees;

static int find_libomp(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size, (void)data;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libomp.so", 9) != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum && omp_nseg < 8; i++) {
        if (info->dlpi_phdr[i].p_type != PT_LOAD) continue;
        omp_lo[omp_nseg] = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
        omp_hi[omp_nseg] = omp_lo[omp_nseg] + info->dlpi_phdr[i].p_memsz;
        omp_nseg++;
    }
    return 1;
}

static int from_libomp(void *return_address) {
    uintptr_t a = (uintptr_t)return_address;
    for (int i = 0; i < omp_nseg; i++)
        if (a >= omp_lo[i] && a < omp_hi[i]) return 1;
    return 0;
}

#define COUNT() (from_libomp(__builtin_return_address(0)) ? omp_allocs++ : allocations++)

void *malloc(size_t n) {
    COUNT();
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t s) {
    COUNT();
    return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n) {
    COUNT();
    return __libc_realloc(p, n);
}
void free(void *p) {
    if (p && from_libomp(__builtin_return_address(0))) omp_frees++;
    __libc_free(p);
}
int posix_memalign(void **p, size_t align, size_t n) {
    COUNT();
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12;
}
void *aligned_alloc(size_t align, size_t n) {
    COUNT();
    return __libc_memalign(align, n);
}

static void alloc_count_init(void) {
    dl_iterate_phdr(find_libomp, NULL);
}
#endif /* SN_NO_INTERPOSE */

#endif
